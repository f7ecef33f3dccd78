//! Shared test helpers: one GPU context per test binary. A missing adapter fails the test (it never skips).
#![allow(dead_code)]

pub mod ui;

use std::sync::OnceLock;

use gradscope::gpu::{Gpu, GpuContext, GpuOptions};

/// The GPU context every test in this binary shares (lavapipe in CI).
pub fn gpu() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let gpu = Gpu::new(&GpuOptions::default()).unwrap_or_else(|e| {
            panic!(
                "GPU tests need a Vulkan/Metal/DX12 adapter (CI={}): {e}",
                std::env::var("CI").unwrap_or_else(|_| "unset".into())
            )
        });
        eprintln!("GPU tests run on: {}", gpu.describe());
        GpuContext::new(gpu.device, gpu.queue, &gpu.info)
    })
}

/// ‖a - b‖ / ‖b‖ (or ‖a - b‖ when b is zero).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let d: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let n: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    if n > 0.0 { d / n } else { d }
}

/// Runs the gradscope binary with `args`.
pub fn gradscope(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        .output()
        .expect("run gradscope")
}

/// A process's stderr as text.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs gradscope with `args` and asserts the failure is clean: non-zero exit, nothing on stdout, exactly
/// one `error` line on stderr containing `want`, and no panic. Returns stderr.
pub fn assert_clean_failure(args: &[&str], want: &str) -> String {
    let out = gradscope(args);
    assert!(!out.status.success(), "{args:?} should fail");
    let err = stderr(&out);
    assert!(err.contains(want), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    let error_lines = err.lines().filter(|l| l.starts_with("error")).count();
    assert_eq!(error_lines, 1, "{args:?}: {err}");
    err
}
