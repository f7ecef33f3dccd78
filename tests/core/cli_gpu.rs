//! The command line on the GPU engine: stats, dumps that the reference can recompute, bench, and clean
//! errors for a config over the adapter's limits, an unknown adapter and no adapter.

use crate::common::{assert_clean_failure, gradscope, rel_err, stderr};

#[test]
fn stats_run_on_the_gpu_by_default() {
    let out = gradscope(&[
        "stats", "--depth", "5", "--width", "8", "--batch", "4", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["engine"], "gpu");
    let adapter = v["adapter"].as_str().unwrap();
    println!("adapter: {adapter}");
    assert!(!adapter.is_empty());
    assert_eq!(v["layers"].as_array().unwrap().len(), 5);
}

#[test]
fn gpu_dump_reloads_and_the_reference_recomputes_its_gradients() {
    for extra in [
        &["--arch", "mlp", "--residual", "--task", "spiral"][..],
        &["--arch", "rnn", "--task", "memory"][..],
        &["--arch", "rnn", "--cell", "lstm", "--forget-bias", "0.5"][..],
        &["--arch", "rnn", "--cell", "gru", "--task", "memory"][..],
        &["--arch", "mlp", "--norm", "layer", "--residual"][..],
        &["--arch", "mlp", "--norm", "batch"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("dump");
        let mut args = vec![
            "stats",
            "--depth",
            "5",
            "--width",
            "6",
            "--batch",
            "4",
            "--steps",
            "3",
            "--activation",
            "tanh",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--dump", d.to_str().unwrap()]);
        let out = gradscope(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        let loaded = gradscope::dump::LoadedDump::read(&d).unwrap();
        assert_eq!(loaded.manifest.engine, "gpu");
        assert_eq!(loaded.manifest.updates, 3);
        let engine = loaded.reference().unwrap();
        let pass = engine.pass();
        assert!((pass.loss - loaded.manifest.loss).abs() <= 1e-4 * pass.loss.abs());
        let template = gradscope::model::Params::init(&loaded.manifest.config);
        for (i, t) in template.tensors.iter().enumerate() {
            let dumped = loaded.array(&format!("grad_{}", t.name)).unwrap();
            let e = rel_err(dumped, &pass.grads[i]);
            assert!(e < 1e-4, "{extra:?} grad_{}: relative error {e:e}", t.name);
        }
        // the state errors: δ (∂L/∂h_t for a gated cell) and the LSTM's ∂L/∂c_t
        if loaded.manifest.config.arch == gradscope::model::Arch::Rnn {
            let all: Vec<f64> = pass.deltas.iter().flatten().copied().collect();
            let e = rel_err(loaded.array("delta").unwrap(), &all);
            assert!(e < 1e-4, "{extra:?} delta: relative error {e:e}");
        }
        let cell = loaded.manifest.config.cell;
        if cell == gradscope::model::Cell::Lstm {
            let all: Vec<f64> = pass.cell_deltas.iter().flatten().copied().collect();
            let e = rel_err(loaded.array("cell_delta").unwrap(), &all);
            assert!(e < 1e-4, "{extra:?} cell_delta: relative error {e:e}");
            assert_eq!(
                loaded.manifest.gate_order,
                ["input", "forget", "candidate", "output"]
            );
        } else {
            assert!(loaded.array("cell_delta").is_err());
        }
    }
}

#[test]
fn bad_gpu_input_gives_one_clean_message() {
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "stats", "--depth", "1024", "--width", "1024", "--batch", "4096",
            ],
            "max_",
        ),
        (
            vec!["stats", "--adapter", "no-such-gpu-anywhere"],
            "no GPU adapter matches",
        ),
        #[cfg(target_os = "linux")]
        (vec!["stats", "--backend", "metal"], "no usable GPU adapter"),
    ];
    for (args, want) in cases {
        assert_clean_failure(&args, want);
    }
    // an engine path forced through the environment that does not exist: one clean message naming the
    // variable and what it accepts, nothing trained
    for bad in ["bogus", "fused:0", "fused:x", "fused:70000"] {
        let out = std::process::Command::new(crate::common::bin())
            .args(["stats", "--steps", "1"])
            .env("XDG_RUNTIME_DIR", "/tmp")
            .env("GRADSCOPE_ENGINE", bad)
            .output()
            .expect("run gradscope");
        assert!(!out.status.success(), "GRADSCOPE_ENGINE={bad} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("GRADSCOPE_ENGINE") && err.contains("layered"),
            "{bad}: {err}"
        );
        assert!(!err.contains("panicked"), "{bad}: {err}");
        assert!(out.stdout.is_empty(), "{bad}: printed to stdout");
    }
}

/// Runs `gradscope bench ... --json`, which must succeed, and parses its one JSON object per line.
fn bench_rows(args: &[&str]) -> Vec<serde_json::Value> {
    let out = gradscope(args);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn bench_variants_time_every_variant_of_every_config() {
    let rows = bench_rows(&["bench", "--suite", "quick", "--variants", "--json"]);
    let variants: Vec<&str> = gradscope::bench::VARIANTS.iter().map(|v| v.0).collect();
    let configs = gradscope::bench::configs(gradscope::bench::Suite::Quick).len();
    assert_eq!(rows.len(), configs * variants.len());
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["variant"], variants[i % variants.len()], "{r}");
        assert!(r["skipped"].is_null(), "{r}");
        assert!(r["median_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bench_quick_runs() {
    let rows = bench_rows(&["bench", "--suite", "quick", "--json"]);
    assert_eq!(
        rows.len(),
        gradscope::bench::configs(gradscope::bench::Suite::Quick).len()
    );
    for r in rows {
        assert!(r["skipped"].is_null(), "{r}");
        assert_eq!(r["variant"], "default");
        assert!(r["median_ms"].as_f64().unwrap() > 0.0);
        // the fused stack / persistent RNN: a dispatch count independent of depth and time
        let d = r["dispatches_per_step"].as_u64().unwrap();
        assert!((5..=12).contains(&d), "{r}");
        assert!(r["path"] != "layered" && r["path"] != "", "{r}");
        println!(
            "{} {} ms/step on {}",
            r["config"], r["median_ms"], r["adapter"]
        );
    }
}

/// `bench --profile` times every kernel of a complete step and the kernels that replace some of them in
/// a step whose statistics nobody reads (lavapipe has timestamps; CI runs there).
#[test]
fn bench_profile_times_complete_and_bare_steps() {
    let rows = bench_rows(&["bench", "--suite", "quick", "--profile", "--json"]);
    for b in gradscope::bench::configs(gradscope::bench::Suite::Quick) {
        let kernels: Vec<&serde_json::Value> =
            rows.iter().filter(|r| r["config"] == b.name).collect();
        let has = |k: &str| kernels.iter().any(|r| r["kernel"] == k);
        assert!(has("Loss") && has("LayerStats"), "{}: {kernels:?}", b.name);
        // no clipping in the suite: the bare step's kernels are listed too
        assert!(
            kernels
                .iter()
                .any(|r| r["kernel"].as_str().is_some_and(|k| k.ends_with("Bare"))),
            "{}: {kernels:?}",
            b.name
        );
        for r in kernels {
            assert!(r["ms"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["dispatches"].as_u64().unwrap() >= 1, "{r}");
        }
    }
}

#[test]
fn stats_are_the_same_whether_the_wait_spins_or_sleeps() {
    // on a software adapter the blocking wait polls and yields (gpu::engine::spin_wait);
    // GRADSCOPE_SPIN_WAIT=off sleeps in the driver: the same statistics either way
    let run = |spin: &str| {
        let out = std::process::Command::new(crate::common::bin())
            .args([
                "stats", "--depth", "6", "--width", "8", "--batch", "4", "--steps", "5", "--every",
                "1", "--json",
            ])
            .env("XDG_RUNTIME_DIR", "/tmp")
            .env("GRADSCOPE_TUNE", "off")
            .env("GRADSCOPE_SPIN_WAIT", spin)
            .output()
            .expect("run gradscope");
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let spun = run("on");
    assert_eq!(spun.lines().count(), 6, "{spun}");
    assert_eq!(spun, run("off"));
}
