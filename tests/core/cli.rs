//! The command line end to end: stats on the CPU reference, presets, dumps, and one clean error per bad input.

use crate::common::{assert_clean_failure, gradscope, stderr};

#[test]
fn stats_json_on_the_reference() {
    let out = gradscope(&[
        "stats", "--engine", "cpu", "--depth", "6", "--width", "8", "--batch", "4", "--steps", "3",
        "--every", "2", "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<u64> = lines.iter().map(|v| v["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![0, 2, 3]);
    let first = &lines[0];
    assert_eq!(first["engine"], "cpu");
    let layers = first["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 6);
    assert_eq!(layers[0]["index"], 1);
    assert_eq!(
        layers[0]["log10_mean_abs_delta"].as_array().unwrap().len(),
        8
    );
    // the default preset is a sigmoid net: the first layer's gradient is smaller than the last's
    let g1 = layers[0]["log10_grad_w_norm"].as_f64().unwrap();
    let g6 = layers[5]["log10_grad_w_norm"].as_f64().unwrap();
    assert!(g1 < g6 - 1.0, "{g1} vs {g6}");
    for key in [
        "grad_w_norm",
        "delta_rms",
        "log10_delta_rms",
        "act_rms",
        "saturated_fraction",
        "dead_fraction",
    ] {
        assert!(layers[0][key].is_number(), "{key}");
    }
}

/// `--json` carries the ledger sums and the update ratios; `--histograms` adds every layer's bins, which
/// count every value once; without `--json` the flag is refused.
#[test]
fn stats_json_carries_ledger_update_ratio_and_histograms() {
    let out = gradscope(&[
        "stats",
        "--engine",
        "cpu",
        "--depth",
        "4",
        "--width",
        "8",
        "--batch",
        "4",
        "--steps",
        "1",
        "--json",
        "--histograms",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let ratios = last["update_ratio"].as_array().unwrap();
    let names: Vec<&str> = ratios
        .iter()
        .map(|u| u["tensor"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["w_1", "w_2", "w_3", "w_4", "w_out"]);
    for u in ratios {
        let (d, w, r) = (
            u["log10_update_norm"].as_f64().unwrap(),
            u["log10_weight_norm"].as_f64().unwrap(),
            u["log10_ratio"].as_f64().unwrap(),
        );
        assert!((d - w - r).abs() < 1e-12);
    }
    for layer in last["layers"].as_array().unwrap() {
        assert!(layer["ledger"]["log10_grad_out_rms"].is_number());
        assert!(layer["ledger"]["mean_abs_slope"].as_f64().unwrap() > 0.0);
        let h = &layer["histogram"];
        let sum = |k: &str| -> u64 {
            h[k].as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().expect("whole counts"))
                .sum()
        };
        assert_eq!(sum("act"), 32);
        assert_eq!(sum("delta") + h["delta_zeros"].as_u64().unwrap(), 32);
    }
    assert_clean_failure(
        &["stats", "--engine", "cpu", "--steps", "1", "--histograms"],
        "--json",
    );
}

#[test]
fn stats_csv_has_a_row_per_layer() {
    let out = gradscope(&[
        "stats", "--engine", "cpu", "--preset", "spiral", "--depth", "3", "--width", "4", "--csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("step,loss,layer"));
    assert_eq!(lines.len(), 1 + 3);
}

#[test]
fn presets_lists_every_preset() {
    let out = gradscope(&["presets"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() >= 10);
    assert!(text.contains("sigmoid-deep") && text.contains("vanishing"));
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    // `gradscope presets | head -1`: the reader closes the pipe; the command stops with status 0 and no
    // panic message, as a Unix filter does
    let mut child = std::process::Command::new(crate::common::bin())
        .args([
            "stats", "--engine", "cpu", "--depth", "4", "--width", "8", "--steps", "200000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn bad_input_gives_one_clean_message_and_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(
        &bad_toml,
        "title = \"x\"\ndescription = \"y\"\n[network]\nwidht = 3\n",
    )
    .unwrap();
    let bad = bad_toml.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["stats", "--engine", "cpu", "--depth", "0"],
            "depth = 0",
        ),
        (
            vec!["stats", "--engine", "cpu", "--depth", "5000"],
            "depth = 5000",
        ),
        (
            vec!["stats", "--engine", "cpu", "--width", "2000"],
            "width = 2000",
        ),
        (vec!["stats", "--engine", "cpu", "--lr", "-1"], "lr = -1"),
        (
            vec!["stats", "--engine", "cpu", "--activation", "swishy"],
            "swishy",
        ),
        (
            vec!["stats", "--engine", "cpu", "--preset", "no-such-preset"],
            "unknown preset",
        ),
        (vec!["stats", "--engine", "cpu", "--preset", bad], "widht"),
        (
            vec![
                "stats", "--engine", "cpu", "--arch", "rnn", "--task", "spiral",
            ],
            "does not fit",
        ),
    ];
    for (args, want) in cases {
        assert_clean_failure(&args, want);
    }
}

#[test]
fn dump_reloads_and_recomputes_on_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("dump");
    let out = gradscope(&[
        "stats",
        "--engine",
        "cpu",
        "--arch",
        "rnn",
        "--depth",
        "6",
        "--width",
        "4",
        "--batch",
        "3",
        "--steps",
        "2",
        "--dump",
        d.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let loaded = gradscope::dump::LoadedDump::read(&d).unwrap();
    assert_eq!(loaded.manifest.updates, 2);
    let engine = loaded.reference().unwrap();
    let pass = engine.pass();
    assert!((pass.loss - loaded.manifest.loss).abs() < 1e-12);
    let names = ["w_x", "w_h", "b", "w_out", "b_out"];
    for (i, n) in names.iter().enumerate() {
        let want = loaded.array(&format!("grad_{n}")).unwrap();
        for (a, b) in pass.grads[i].iter().zip(want) {
            assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{n}");
        }
    }
    assert_eq!(loaded.array("delta").unwrap().len(), 6 * 3 * 4);
}
