//! Validation messages name the field, value and range; the same seed gives the same bits.

use gradscope::model::{Activation, Arch, Dataset, NetConfig, Params, Preset, Task};

#[test]
fn every_bad_field_is_rejected_by_name() {
    let ok = NetConfig::default();
    assert!(ok.validate().is_ok());
    let cases: Vec<(NetConfig, &str)> = vec![
        (
            NetConfig {
                depth: 0,
                ..ok.clone()
            },
            "depth = 0",
        ),
        (
            NetConfig {
                depth: 1025,
                ..ok.clone()
            },
            "depth = 1025",
        ),
        (
            NetConfig {
                arch: Arch::Rnn,
                task: Task::Adding,
                depth: 2001,
                ..ok.clone()
            },
            "depth = 2001",
        ),
        (
            NetConfig {
                width: 0,
                ..ok.clone()
            },
            "width = 0",
        ),
        (
            NetConfig {
                width: 1025,
                ..ok.clone()
            },
            "width = 1025",
        ),
        (
            NetConfig {
                batch: 0,
                ..ok.clone()
            },
            "batch = 0",
        ),
        (
            NetConfig {
                batch: 4097,
                ..ok.clone()
            },
            "batch = 4097",
        ),
        (
            NetConfig {
                lr: 0.0,
                ..ok.clone()
            },
            "lr = 0",
        ),
        (
            NetConfig {
                lr: -1.0,
                ..ok.clone()
            },
            "lr = -1",
        ),
        (
            NetConfig {
                lr: f64::NAN,
                ..ok.clone()
            },
            "lr = NaN",
        ),
        (
            NetConfig {
                lr: f64::INFINITY,
                ..ok.clone()
            },
            "lr = inf",
        ),
        (
            NetConfig {
                gain: 0.0,
                ..ok.clone()
            },
            "gain = 0",
        ),
        (
            NetConfig {
                gain: f64::NAN,
                ..ok.clone()
            },
            "gain = NaN",
        ),
        (
            NetConfig {
                bias_std: -0.5,
                ..ok.clone()
            },
            "bias-std = -0.5",
        ),
        (
            NetConfig {
                clip: Some(-1.0),
                ..ok.clone()
            },
            "clip = -1",
        ),
        (
            NetConfig {
                task: Task::Adding,
                ..ok.clone()
            },
            "task",
        ),
        (
            NetConfig {
                arch: Arch::Rnn,
                task: Task::Adding,
                residual: true,
                ..ok.clone()
            },
            "residual",
        ),
    ];
    for (cfg, want) in cases {
        let err = cfg.validate().expect_err(want).to_string();
        assert!(
            err.contains(want),
            "message {err:?} should contain {want:?}"
        );
    }
    // depth 2000 is fine for an rnn, 1025 is not for an mlp
    assert!(
        NetConfig {
            arch: Arch::Rnn,
            task: Task::Adding,
            depth: 2000,
            ..ok.clone()
        }
        .validate()
        .is_ok()
    );
}

#[test]
fn same_seed_same_bits_other_seed_other_bits() {
    for preset in ["sigmoid-deep", "spiral", "adding-problem", "rnn-vanishing"] {
        let cfg = Preset::builtin(preset).unwrap().config();
        let (d1, d2) = (Dataset::generate(&cfg), Dataset::generate(&cfg));
        let (p1, p2) = (Params::init(&cfg), Params::init(&cfg));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&d1.x), bits(&d2.x));
        assert_eq!(bits(&d1.y), bits(&d2.y));
        assert_eq!(bits(&p1.flat()), bits(&p2.flat()));
        let other = NetConfig {
            seed: cfg.seed + 1,
            ..cfg.clone()
        };
        assert_ne!(bits(&Params::init(&other).flat()), bits(&p1.flat()));
        // changing the activation keeps data and weights: the comparison is fair
        let relu = NetConfig {
            activation: Activation::Relu,
            ..cfg.clone()
        };
        assert_eq!(bits(&Params::init(&relu).flat()), bits(&p1.flat()));
        assert_eq!(bits(&Dataset::generate(&relu).x), bits(&d1.x));
    }
}

#[test]
fn deeper_net_keeps_the_shallow_nets_first_layers() {
    let a = NetConfig {
        depth: 5,
        ..NetConfig::default()
    };
    let b = NetConfig {
        depth: 9,
        ..NetConfig::default()
    };
    let (pa, pb) = (Params::init(&a), Params::init(&b));
    for name in ["w_1", "w_5", "b_3"] {
        assert_eq!(
            pa.get(name).unwrap().data,
            pb.get(name).unwrap().data,
            "{name}"
        );
    }
}

#[test]
fn tasks_make_sense() {
    // spiral: one-hot targets, three classes
    let cfg = Preset::builtin("spiral").unwrap().config();
    let d = Dataset::generate(&cfg);
    for row in d.y.chunks(3) {
        assert_eq!(row.iter().sum::<f32>(), 1.0);
    }
    // adding: exactly two markers per sequence, target = sum of marked values
    let cfg = NetConfig {
        arch: Arch::Rnn,
        task: Task::Adding,
        depth: 50,
        batch: 16,
        ..NetConfig::default()
    };
    let d = Dataset::generate(&cfg);
    for s in 0..16 {
        let marked: Vec<f32> = (0..50)
            .filter(|t| d.x[(t * 16 + s) * 2 + 1] == 1.0)
            .map(|t| d.x[(t * 16 + s) * 2])
            .collect();
        assert_eq!(marked.len(), 2);
        assert!((marked.iter().sum::<f32>() - d.y[s]).abs() < 1e-6);
    }
    // memory: the target class is the sign of the first input
    let cfg = NetConfig {
        arch: Arch::Rnn,
        task: Task::Memory,
        depth: 20,
        batch: 16,
        ..NetConfig::default()
    };
    let d = Dataset::generate(&cfg);
    for s in 0..16 {
        let positive = d.x[s] > 0.0;
        assert_eq!(d.y[s * 2 + usize::from(positive)], 1.0);
    }
}
