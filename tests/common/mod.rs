//! Shared test helpers: one GPU context per test binary. A missing adapter fails the test (it never skips).
#![allow(dead_code)]

pub mod ui;

use std::sync::OnceLock;

use gradscope::gpu::shaders::KernelBuild;
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
        let adapter = gpu.describe();
        let ctx = GpuContext::new(gpu.device, gpu.queue, &gpu.info);
        eprintln!(
            "GPU tests run on: {adapter} (kernels: {:?})",
            ctx.pipelines.build()
        );
        ctx
    })
}

/// A second context on the same adapter with the portable kernels (no loads shared across lanes, the
/// activation read from the record: what every device other than a CPU adapter runs), for the tests
/// that compare both builds. Where the shared context is portable too, this is the same kind of context.
pub fn gpu_portable() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| {
        let gpu = Gpu::new(&GpuOptions::default()).expect("the adapter gpu() opened");
        GpuContext::with_build(gpu.device, gpu.queue, &gpu.info, KernelBuild::PORTABLE)
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

/// The gradscope binary under test: this build's, or the one `GRADSCOPE_TEST_BIN` names (to run the CLI
/// tests against another build, e.g. to see a test fail on the code before a fix).
pub fn bin() -> std::path::PathBuf {
    std::env::var_os("GRADSCOPE_TEST_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_gradscope").into(), Into::into)
}

/// Runs the gradscope binary with `args`.
pub fn gradscope(args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        // no tuning runs (nor cache writes) from the tests
        .env("GRADSCOPE_TUNE", "off")
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

/// Runs the gradscope binary with `args` within bounds: killed after `secs` seconds (the test then
/// fails, naming the args), and, where `max_mib` is given, with its address space limited to that many
/// MiB (`ulimit -v`), so an unbounded read aborts instead of exhausting the machine.
pub fn gradscope_within(args: &[&str], secs: u64, max_mib: Option<u64>) -> std::process::Output {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let bin = bin();
    let mut cmd = match max_mib {
        Some(mib) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -v {} && exec \"$@\"", mib * 1024))
                .arg("sh")
                .arg(bin);
            c
        }
        None => Command::new(&bin),
    };
    let mut child = cmd
        .args(args)
        .env("XDG_RUNTIME_DIR", "/tmp")
        .env("GRADSCOPE_TUNE", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gradscope");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for gradscope") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gradscope {args:?} still ran after {secs} s: killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    std::process::Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// [`assert_clean_failure`] for a run within [`gradscope_within`]'s bounds.
pub fn assert_clean_failure_within(
    args: &[&str],
    want: &str,
    secs: u64,
    max_mib: Option<u64>,
) -> String {
    let out = gradscope_within(args, secs, max_mib);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} should fail: {err}");
    assert!(err.contains(want), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    let error_lines = err.lines().filter(|l| l.starts_with("error")).count();
    assert_eq!(error_lines, 1, "{args:?}: {err}");
    err
}
