//! Theory beside measurement (issue 5, docs/DESIGN.md §Testing): quadrature against closed forms, the
//! mean-field prediction against wide nets at init, spectral readouts against known eigenvalues, the W_h
//! rescaling, global-norm clipping, and the hidden-layer Jacobian (finite differences, dynamical isometry).

use gradscope::model::init::{orthogonal, rng_for};
use gradscope::model::{Activation, Arch, Init, NetConfig, Params, Task};
use gradscope::reference::jacobian::{
    JacobianError, JacobianSpan, MAX_JACOBIAN_WIDTH, jacobian, jacobian_singular_values,
};
use gradscope::reference::{Reference, clip_global_norm};
use gradscope::theory::mean_field::{
    Regime, derivative_second_moment, mean, measured_geometric_mean_factor, predict, second_moment,
};
use gradscope::theory::quadrature::{GaussHermite, expectation, gaussian_expectation};
use gradscope::theory::spectral::{
    eigenvalues, rescale_to_spectral_radius, singular_values, spectral_decay_line, spectral_norm,
    spectral_radius,
};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

// ---------------------------------------------------------------- quadrature

#[test]
fn gauss_hermite_integrates_polynomials_exactly() {
    let gh = GaussHermite::new(96).unwrap();
    assert_eq!(gh.nodes().len(), 96);
    assert!((gh.weights().iter().sum::<f64>() - 1.0).abs() < 1e-14);
    // E[x^(2k)] = (2k-1)!! for x ~ N(0, 1); odd moments vanish
    let mut double_factorial = 1.0;
    for k in 1..=20 {
        double_factorial *= (2 * k - 1) as f64;
        let even = gh.expect(1.0, |x| x.powi(2 * k));
        assert!(
            rel(even, double_factorial) < 1e-12,
            "E[x^{}] = {even} vs {double_factorial}",
            2 * k
        );
        let odd = gh.expect(1.0, |x| x.powi(2 * k - 1));
        assert!(
            odd.abs() < 1e-9 * double_factorial,
            "E[x^{}] = {odd}",
            2 * k - 1
        );
    }
    // degree 2n - 1 = 9 is exact for a 5-point rule, on any variance: E[z^8] = 105 q^4
    let small = GaussHermite::new(5).unwrap();
    assert!(rel(small.expect(2.5, |z| z.powi(8)), 105.0 * 2.5f64.powi(4)) < 1e-13);
    assert!(GaussHermite::new(0).is_err());
}

#[test]
fn quadrature_matches_closed_forms() {
    for q in [1e-4, 0.3, 1.0, 2.0, 7.0, 100.0, 1e4] {
        // E[z²] = q with every rule
        assert!(
            rel(gaussian_expectation(q, |z| z * z), q) < 1e-12,
            "E[z²] at q {q}"
        );
        assert!(rel(expectation(Activation::Tanh, q, |z| z * z), q) < 1e-12);
        // linear: χ = σ_w² (E[f'²] = 1), E[f²] = q
        assert!(rel(derivative_second_moment(Activation::Linear, q), 1.0) < 1e-12);
        assert!(rel(second_moment(Activation::Linear, q), q) < 1e-12);
        // ReLU: χ = σ_w²/2 exactly, E[f²] = q/2, E[f] = sqrt(q/(2π))
        assert!(
            rel(derivative_second_moment(Activation::Relu, q), 0.5) < 1e-12,
            "relu f'² at q {q}"
        );
        assert!(rel(second_moment(Activation::Relu, q), 0.5 * q) < 1e-12);
        assert!(
            rel(
                mean(Activation::Relu, q),
                (q / (2.0 * std::f64::consts::PI)).sqrt()
            ) < 1e-12
        );
        // leaky ReLU: E[f'²] = (1 + s²)/2
        let s = gradscope::model::LEAKY_SLOPE;
        assert!(
            rel(
                derivative_second_moment(Activation::LeakyRelu, q),
                0.5 * (1.0 + s * s)
            ) < 1e-12
        );
        // ELU: E[f'(z)²] = 1/2 + E[e^{2z} 1{z<0}] = 1/2 + e^{2q} Φ(-2√q) (e^{2q} overflows beyond q ~ 350)
        if q > 100.0 {
            continue;
        }
        let elu = 0.5 + (2.0 * q).exp() * normal_cdf(-2.0 * q.sqrt());
        assert!(
            rel(derivative_second_moment(Activation::Elu, q), elu) < 1e-8,
            "elu at q {q}"
        );
    }
    // a smooth saturating function with a closed form at any width of the Gaussian (the probit, Φ):
    // E[Φ(z)²] = P(X1 <= z, X2 <= z) = 1/4 + arcsin(q/(1+q))/(2π)
    for q in [0.01f64, 0.5, 1.0, 4.0, 100.0] {
        let want = 0.25 + (q / (1.0 + q)).asin() / (2.0 * std::f64::consts::PI);
        assert!(
            rel(gaussian_expectation(q, |z| normal_cdf(z).powi(2)), want) < 1e-10,
            "Φ² at q {q}"
        );
    }
    // tanh: Gauss-Hermite and the composite rule agree where both are accurate
    for q in [0.01, 0.25, 1.0] {
        let a = GaussHermite::standard().expect(q, |z| Activation::Tanh.df(z).powi(2));
        let b = gaussian_expectation(q, |z| Activation::Tanh.df(z).powi(2));
        assert!(rel(a, b) < 1e-8, "tanh at q {q}: {a} vs {b}");
    }
}

/// The standard normal CDF Φ(x), from the tail integral (1/√(2π)) ∫_a^{a+12} e^{-t²/2} dt with a = |x| by
/// Simpson's rule on 20000 steps (no cancellation, so Φ(-20) ≈ 2.8e-89 keeps its digits).
fn normal_cdf(x: f64) -> f64 {
    let a = x.abs();
    let n = 20_000;
    let h = 12.0 / n as f64;
    let f = |t: f64| (-0.5 * t * t).exp();
    let mut s = f(a) + f(a + 12.0);
    for i in 1..n {
        s += if i % 2 == 1 { 4.0 } else { 2.0 } * f(a + i as f64 * h);
    }
    let tail = s * h / 3.0 / (2.0 * std::f64::consts::PI).sqrt();
    if x < 0.0 { tail } else { 1.0 - tail }
}

// ---------------------------------------------------------------- mean field vs measurement

const WIDE: usize = 256;
const BATCH: usize = 128;
const DEPTH: usize = 16;
/// The middle layers over which the geometric-mean factor is compared.
const MIDDLE: (usize, usize) = (4, 12);
const SEEDS: [u64; 3] = [1, 2, 3];

fn wide(act: Activation, init: Init, gain: f64, residual: bool) -> NetConfig {
    NetConfig {
        depth: DEPTH,
        width: WIDE,
        batch: BATCH,
        activation: act,
        init,
        gain,
        residual,
        ..NetConfig::default()
    }
}

/// (predicted, measured) geometric-mean factor E[δ_l²]/E[δ_{l+1}²] over the middle layers, the measured
/// one averaged (geometrically) over seeds.
fn predicted_and_measured(cfg: &NetConfig) -> (f64, f64) {
    let pred = predict(cfg)
        .unwrap()
        .geometric_mean_factor(MIDDLE.0, MIDDLE.1)
        .unwrap();
    let mut log_sum = 0.0;
    for seed in SEEDS {
        let stats = Reference::new(&NetConfig {
            seed,
            ..cfg.clone()
        })
        .unwrap()
        .stats();
        log_sum += measured_geometric_mean_factor(&stats, MIDDLE.0, MIDDLE.1)
            .unwrap()
            .log10();
    }
    (pred, 10f64.powf(log_sum / SEEDS.len() as f64))
}

/// Tolerance of measured / predicted per-layer factor for plain wide nets at init (observed within 2%).
const FACTOR_TOLERANCE: f64 = 0.04;

#[test]
fn mean_field_matches_wide_nets_at_init() {
    let cases = [
        // sigmoid: χ ≈ 0.056 per layer at gain 1 (vanishing), 0.40 at gain 4
        (Activation::Sigmoid, Init::XavierNormal, 1.0),
        (Activation::Sigmoid, Init::XavierNormal, 4.0),
        // tanh at gain 1.5: q settles at q* ≈ 0.79, χ ≈ 1.16 (mildly chaotic, neither dies nor saturates)
        (Activation::Tanh, Init::XavierNormal, 1.5),
        (Activation::Tanh, Init::Orthogonal, 1.5),
        // ReLU: he keeps (χ = 1), xavier halves (χ = 1/2)
        (Activation::Relu, Init::HeNormal, 1.0),
        (Activation::Relu, Init::XavierNormal, 1.0),
    ];
    for (act, init, gain) in cases {
        let cfg = wide(act, init, gain, false);
        let (pred, meas) = predicted_and_measured(&cfg);
        println!(
            "{act} {init} gain {gain}: predicted χ {pred:.4}, measured {meas:.4}, ratio {:.4}",
            meas / pred
        );
        assert!(
            (meas / pred - 1.0).abs() < FACTOR_TOLERANCE,
            "{act} {init} gain {gain}: {meas} vs {pred}"
        );
    }
    // closed forms through the whole prediction
    let relu_he = predict(&wide(Activation::Relu, Init::HeNormal, 1.0, false)).unwrap();
    assert_eq!(relu_he.regime, Regime::Plain);
    assert!(!relu_he.approximate);
    assert!(relu_he.layers.iter().all(|l| rel(l.chi, 1.0) < 1e-12));
    let relu_xavier = predict(&wide(Activation::Relu, Init::XavierNormal, 1.0, false)).unwrap();
    assert!(relu_xavier.layers.iter().all(|l| rel(l.chi, 0.5) < 1e-12));
}

#[test]
fn predicted_line_follows_the_measured_log10_delta_rms() {
    // sigmoid depth 16: the gradient falls ~9 decades from top to bottom; the anchored line stays within
    // 0.15 decades of the measurement on every layer
    let cfg = wide(Activation::Sigmoid, Init::XavierNormal, 1.0, false);
    let stats = Reference::new(&cfg).unwrap().stats();
    let measured: Vec<f64> = stats
        .layers
        .iter()
        .map(|l| l.log10_delta_rms.unwrap())
        .collect();
    let line = predict(&cfg).unwrap().anchored(measured[DEPTH - 1]);
    let span = measured[DEPTH - 1] - measured[0];
    assert!(span > 8.0, "span {span}");
    for (l, (p, m)) in line.iter().zip(&measured).enumerate() {
        let p = p.unwrap();
        assert!(
            (p - m).abs() < 0.15,
            "layer {}: predicted {p:.3}, measured {m:.3}",
            l + 1
        );
    }
}

#[test]
fn residual_variant_matches_tanh_and_sigmoid_and_departs_for_relu() {
    for act in [Activation::Tanh, Activation::Sigmoid] {
        let cfg = wide(act, Init::XavierNormal, 1.0, true);
        assert_eq!(predict(&cfg).unwrap().regime, Regime::Residual);
        let (pred, meas) = predicted_and_measured(&cfg);
        println!("residual {act}: predicted {pred:.4}, measured {meas:.4}");
        assert!(
            (meas / pred - 1.0).abs() < FACTOR_TOLERANCE,
            "residual {act}: {meas} vs {pred}"
        );
    }
    // ReLU + he: the line says 1 + χ = 2 per layer; the growing mean of the activations makes it ~2.3
    let cfg = wide(Activation::Relu, Init::HeNormal, 1.0, true);
    let p = predict(&cfg).unwrap();
    assert!(p.approximate && p.notes.iter().any(|n| n.contains("Residual")));
    let (pred, meas) = predicted_and_measured(&cfg);
    println!("residual relu he: predicted {pred:.4}, measured {meas:.4}");
    assert!(rel(pred, 2.0) < 1e-12);
    assert!(
        meas / pred > 1.05,
        "residual relu departs from the zero-mean line: {meas} vs {pred}"
    );
}

// ---------------------------------------------------------------- spectral readouts

#[test]
fn spectral_radius_matches_known_eigenvalues() {
    // rotation-scaling block [[a, -b], [b, a]] (eigenvalues a ± ib) beside a real eigenvalue 0.3
    let (a, b): (f64, f64) = (0.6, 1.2);
    #[rustfmt::skip]
    let m = [
        a, -b, 0.0,
        b,  a, 0.0,
        0.0, 0.0, 0.3,
    ];
    let want = a.hypot(b);
    assert!(rel(spectral_radius(&m, 3).unwrap(), want) < 1e-12);
    let mut ev = eigenvalues(&m, 3).unwrap();
    ev.sort_by(|x, y| x.1.total_cmp(&y.1));
    assert!(
        (ev[0].0 - a).abs() < 1e-12 && (ev[0].1 + b).abs() < 1e-12,
        "{ev:?}"
    );
    assert!(
        (ev[1].0 - 0.3).abs() < 1e-12 && ev[1].1.abs() < 1e-12,
        "{ev:?}"
    );
    // the block rotated into a random basis: same eigenvalues
    let n = 6;
    let q = orthogonal(n, n, &mut rng_for(5, 0));
    let mut d = vec![0.0; n * n];
    let blocks = [(0.3, 0.9), (-0.5, 0.2)];
    for (k, (re, im)) in blocks.iter().enumerate() {
        let i = 2 * k;
        d[i * n + i] = *re;
        d[i * n + i + 1] = -im;
        d[(i + 1) * n + i] = *im;
        d[(i + 1) * n + i + 1] = *re;
    }
    d[4 * n + 4] = -0.7;
    d[5 * n + 5] = 0.1;
    let m = mul(&mul(&q, &d, n), &transpose(&q, n), n);
    assert!(rel(spectral_radius(&m, n).unwrap(), 0.3f64.hypot(0.9)) < 1e-12);
    // upper triangular: the eigenvalues are the diagonal; non-normal, so the norm is far larger
    #[rustfmt::skip]
    let t = [
        0.5, 10.0, 3.0,
        0.0, -0.9,  7.0,
        0.0, 0.0,   0.2,
    ];
    assert!(rel(spectral_radius(&t, 3).unwrap(), 0.9) < 1e-12);
    let norm = spectral_norm(&t, 3).unwrap();
    assert!(norm > 10.0, "{norm}");
    // the norm is the square root of the largest eigenvalue of TᵀT (symmetric, so its radius)
    let tt = mul(&transpose(&t, 3), &t, 3);
    assert!(rel(norm, spectral_radius(&tt, 3).unwrap().sqrt()) < 1e-12);
    // ρ·Q, Q orthogonal: radius = norm = ρ; every |λ| = ρ; f32 input works too
    let rho = 0.93;
    let rq: Vec<f64> = orthogonal(40, 40, &mut rng_for(2, 0))
        .iter()
        .map(|v| rho * v)
        .collect();
    assert!(rel(spectral_radius(&rq, 40).unwrap(), rho) < 1e-12);
    assert!(rel(spectral_norm(&rq, 40).unwrap(), rho) < 1e-12);
    assert!(
        eigenvalues(&rq, 40)
            .unwrap()
            .iter()
            .all(|(re, im)| rel(re.hypot(*im), rho) < 1e-12)
    );
    let rq32: Vec<f32> = rq.iter().map(|&v| v as f32).collect();
    assert!(rel(spectral_radius(&rq32, 40).unwrap(), rho) < 1e-6);
    // errors, not panics
    assert!(spectral_radius(&[1.0, 2.0, 3.0], 2).is_err());
    assert!(spectral_radius(&[f64::NAN], 1).is_err());
    assert_eq!(spectral_radius(&[-2.5], 1).unwrap(), 2.5);
    assert_eq!(
        singular_values(&[3.0, 0.0, 0.0, 0.0, 4.0, 0.0], 2, 3).unwrap(),
        vec![4.0, 3.0]
    );
}

fn mul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            for j in 0..n {
                c[i * n + j] += a[i * n + k] * b[k * n + j];
            }
        }
    }
    c
}

fn transpose(a: &[f64], n: usize) -> Vec<f64> {
    (0..n * n).map(|i| a[(i % n) * n + i / n]).collect()
}

#[test]
fn rescale_hits_the_target_radius() {
    for (init, n, rho) in [
        (Init::XavierNormal, 64, 0.9),
        (Init::HeUniform, 100, 1.1),
        (Init::Orthogonal, 32, 0.5),
    ] {
        let mut w = init.sample(n, n, 1.0, &mut rng_for(7, 0));
        let before = rescale_to_spectral_radius(&mut w, n, rho).unwrap();
        assert!(before > 0.0);
        let after = spectral_radius(&w, n).unwrap();
        assert!(rel(after, rho) < 1e-9, "{init}: {after} vs {rho}");
    }
    let mut nilpotent = [0.0, 1.0, 0.0, 0.0];
    assert!(rescale_to_spectral_radius(&mut nilpotent, 2, 1.0).is_err());
    assert!(rescale_to_spectral_radius(&mut [1.0], 1, -1.0).is_err());
}

#[test]
fn rnn_init_rescales_w_h_and_the_linear_rnn_follows_rho_to_the_k() {
    let steps = 120;
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: steps,
        width: 16,
        batch: 8,
        activation: Activation::Linear,
        init: Init::Orthogonal,
        task: Task::Adding,
        spectral_radius: Some(0.9),
        ..NetConfig::default()
    };
    cfg.validate().unwrap();
    let params = Params::init(&cfg);
    let w_h = &params.get("w_h").unwrap().data;
    // rescaled in f64, rounded to f32
    assert!(rel(spectral_radius(w_h, 16).unwrap(), 0.9) < 1e-6);
    // without the option the init scale stays (orthogonal, gain 1: radius 1)
    let plain = Params::init(&NetConfig {
        spectral_radius: None,
        ..cfg.clone()
    });
    assert!(
        rel(
            spectral_radius(&plain.get("w_h").unwrap().data, 16).unwrap(),
            1.0
        ) < 1e-6
    );
    // the spectral line against the measured per-step rms of δ
    let stats = Reference::new(&cfg).unwrap().stats();
    let top = stats.layers[steps - 1].log10_delta_rms.unwrap();
    let line = spectral_decay_line(0.9, steps);
    for (t, p) in line.iter().enumerate() {
        let m = stats.layers[t].log10_delta_rms.unwrap() - top;
        assert!(
            (p.unwrap() - m).abs() < 1e-4,
            "step {}: {p:?} vs {m}",
            t + 1
        );
    }
    // validation names the field; mlp refuses it
    let err = NetConfig {
        spectral_radius: Some(0.0),
        ..cfg.clone()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("spectral-radius"), "{err}");
    let err = NetConfig {
        spectral_radius: Some(f64::NAN),
        ..cfg.clone()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("spectral-radius"), "{err}");
    let err = NetConfig {
        spectral_radius: Some(0.9),
        ..NetConfig::default()
    }
    .validate()
    .unwrap_err();
    assert!(err.to_string().contains("spectral-radius"), "{err}");
}

#[test]
fn rnn_mean_field_uses_the_spectral_radius() {
    let cfg = NetConfig {
        arch: Arch::Rnn,
        depth: 50,
        width: 64,
        activation: Activation::Linear,
        init: Init::XavierNormal,
        task: Task::Adding,
        spectral_radius: Some(0.8),
        ..NetConfig::default()
    };
    let p = predict(&cfg).unwrap();
    assert_eq!(p.regime, Regime::Recurrent);
    // linear: χ = σ_h² = ρ², so the mean-field line is the spectral line
    let line = spectral_decay_line(0.8, 50);
    for (l, s) in p.layers.iter().zip(&line) {
        assert!((l.log10_delta_rel.unwrap() - s.unwrap()).abs() < 1e-9);
    }
}

// ---------------------------------------------------------------- clipping

#[test]
fn clipping_caps_the_global_norm_and_keeps_the_direction() {
    let mut rng = rng_for(11, 0);
    let original: Vec<Vec<f64>> = [7, 1, 30, 4]
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| 3.0 * gradscope::model::init::normal(&mut rng))
                .collect()
        })
        .collect();
    let norm = |g: &[Vec<f64>]| g.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
    let n0 = norm(&original);
    assert!(n0 > 10.0);
    for clip in [1e-6, 0.5, 1.0, 10.0] {
        let mut g = original.clone();
        let before = clip_global_norm(&mut g, clip);
        assert!(rel(before, n0) < 1e-15);
        assert!(rel(norm(&g), clip) < 1e-12, "clip {clip}: {}", norm(&g));
        let dot: f64 = g
            .iter()
            .flatten()
            .zip(original.iter().flatten())
            .map(|(a, b)| a * b)
            .sum();
        let cosine = dot / (norm(&g) * n0);
        assert!((cosine - 1.0).abs() < 1e-12, "clip {clip}: cosine {cosine}");
    }
    // at or below the threshold: untouched, bit for bit ("at": the norm as clip_global_norm measures it,
    // a scaled sum of squares that may differ from n0 in the last bit)
    let at = clip_global_norm(&mut original.clone(), f64::INFINITY);
    for clip in [at, 2.0 * n0, 1e9] {
        let mut g = original.clone();
        clip_global_norm(&mut g, clip);
        assert_eq!(g, original);
    }
}

// ---------------------------------------------------------------- Jacobian

/// An independent f64 forward for one sample: returns the last hidden layer from the given start
/// (x for FromInput, a_1 / h_1 for FromFirstHidden).
fn forward_from(engine: &Reference, sample: usize, span: JacobianSpan, start: &[f64]) -> Vec<f64> {
    let cfg = engine.config();
    let (w, d_in, p) = (cfg.width, engine.data().d_in, engine.params());
    let act = cfg.activation;
    let dense = |m: &[f64], v: &[f64], rows: usize| -> Vec<f64> {
        (0..rows)
            .map(|r| (0..v.len()).map(|k| m[r * v.len() + k] * v[k]).sum())
            .collect()
    };
    match cfg.arch {
        Arch::Mlp => {
            let first = if span == JacobianSpan::FromInput {
                1
            } else {
                2
            };
            let mut a = start.to_vec();
            for l in first..=cfg.depth {
                let z: Vec<f64> = dense(&p[2 * (l - 1)], &a, w)
                    .iter()
                    .zip(&p[2 * (l - 1) + 1])
                    .map(|(z, b)| z + b)
                    .collect();
                let h: Vec<f64> = z.iter().map(|&v| act.f(v)).collect();
                a = if cfg.residual && l >= 2 {
                    h.iter().zip(&a).map(|(h, p)| h + p).collect()
                } else {
                    h
                };
            }
            a
        }
        Arch::Rnn => {
            let b = engine.data().batch;
            let x = |t: usize| -> Vec<f64> {
                let i = ((t - 1) * b + sample) * d_in;
                engine.data().x[i..i + d_in]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect()
            };
            let step = |h: &[f64], x: &[f64]| -> Vec<f64> {
                let zx = dense(&p[0], x, w);
                let zh = dense(&p[1], h, w);
                (0..w).map(|i| act.f(zx[i] + zh[i] + p[2][i])).collect()
            };
            let (mut h, first) = match span {
                JacobianSpan::FromInput => (step(&vec![0.0; w], start), 2),
                JacobianSpan::FromFirstHidden => (start.to_vec(), 2),
            };
            for t in first..=cfg.depth {
                h = step(&h, &x(t));
            }
            h
        }
    }
}

/// The start point of the forward for one sample: x (MLP), x_1 (RNN), or the first hidden layer.
fn start_of(engine: &Reference, sample: usize, span: JacobianSpan) -> Vec<f64> {
    let d_in = engine.data().d_in;
    let x: Vec<f64> = engine.data().x[sample * d_in..(sample + 1) * d_in]
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    match span {
        JacobianSpan::FromInput => x,
        JacobianSpan::FromFirstHidden => {
            // one layer (MLP) or one step from h_0 = 0 (RNN): the forward with depth 1
            let mut cfg1 = engine.config().clone();
            cfg1.depth = 1;
            let one = Reference::from_parts(cfg1, engine.data().clone(), &engine.params_f32());
            forward_from(&one, sample, JacobianSpan::FromInput, &x)
        }
    }
}

#[test]
fn jacobian_matches_finite_differences() {
    let mlp = |act, residual| NetConfig {
        depth: 4,
        width: 5,
        batch: 3,
        activation: act,
        init: Init::XavierNormal,
        gain: 1.3,
        residual,
        bias_std: 0.2,
        ..NetConfig::default()
    };
    let rnn = NetConfig {
        arch: Arch::Rnn,
        depth: 5,
        width: 4,
        batch: 3,
        activation: Activation::Tanh,
        task: Task::Adding,
        init: Init::Orthogonal,
        gain: 1.2,
        ..NetConfig::default()
    };
    let configs = [
        mlp(Activation::Tanh, false),
        mlp(Activation::Silu, true),
        mlp(Activation::Sigmoid, false),
        rnn,
    ];
    for cfg in configs {
        let engine = Reference::new(&cfg).unwrap();
        // the test's forward reproduces the engine's: same output through the head
        if cfg.arch == Arch::Mlp {
            let a = forward_from(
                &engine,
                1,
                JacobianSpan::FromInput,
                &start_of(&engine, 1, JacobianSpan::FromInput),
            );
            let out = engine.pass().output;
            let (w_out, b_out) = (
                &engine.params()[2 * cfg.depth],
                &engine.params()[2 * cfg.depth + 1],
            );
            let d_out = b_out.len();
            for o in 0..d_out {
                let y: f64 = (0..cfg.width)
                    .map(|k| w_out[o * cfg.width + k] * a[k])
                    .sum::<f64>()
                    + b_out[o];
                assert!((y - out[d_out + o]).abs() < 1e-12);
            }
        }
        for span in [JacobianSpan::FromInput, JacobianSpan::FromFirstHidden] {
            let sample = 2;
            let j = jacobian(&engine, sample, span).unwrap();
            let start = start_of(&engine, sample, span);
            assert_eq!((j.rows, j.cols), (cfg.width, start.len()));
            let h = 1e-5;
            for c in 0..j.cols {
                let (mut plus, mut minus) = (start.clone(), start.clone());
                plus[c] += h;
                minus[c] -= h;
                let (fp, fm) = (
                    forward_from(&engine, sample, span, &plus),
                    forward_from(&engine, sample, span, &minus),
                );
                for r in 0..j.rows {
                    let fd = (fp[r] - fm[r]) / (2.0 * h);
                    let got = j.data[r * j.cols + c];
                    assert!(
                        (fd - got).abs() < 1e-8 * (1.0 + got.abs()),
                        "{cfg:?} {span:?} [{r},{c}]: {got} vs fd {fd}"
                    );
                }
            }
        }
    }
}

/// Singular values of the depth-31, width-128 net's Jacobian over `span`, at init.
fn spectrum(act: Activation, init: Init, seed: u64, span: JacobianSpan) -> Vec<f64> {
    let cfg = NetConfig {
        depth: 31,
        width: 128,
        batch: 2,
        activation: act,
        init,
        gain: 1.0,
        seed,
        ..NetConfig::default()
    };
    jacobian_singular_values(&Reference::new(&cfg).unwrap(), 0, span).unwrap()
}

#[test]
fn orthogonal_init_keeps_the_jacobian_spectrum_near_one_and_gaussian_nets_spread_it() {
    for seed in [1, 2] {
        // linear + orthogonal: an exact isometry (up to the f32 rounding of the weights)
        let s = spectrum(
            Activation::Linear,
            Init::Orthogonal,
            seed,
            JacobianSpan::FromFirstHidden,
        );
        assert_eq!(s.len(), 128);
        assert!(
            s.iter().all(|v| (v - 1.0).abs() < 1e-4),
            "linear orthogonal: {} .. {}",
            s[0],
            s[127]
        );
        // tanh + orthogonal at gain 1: every singular value within 2 decades, the top half within a factor 2
        let s = spectrum(
            Activation::Tanh,
            Init::Orthogonal,
            seed,
            JacobianSpan::FromFirstHidden,
        );
        let (max, median, min) = (s[0], s[64], s[127]);
        println!("tanh orthogonal seed {seed}: max {max:.3e} median {median:.3e} min {min:.3e}");
        assert!(max < 1.5 && (max / min).log10() < 2.0 && max / median < 2.0);
        // Gaussian weights: the spectrum spreads over many orders of magnitude (ReLU also zeroes the
        // directions of the units that are off for this sample)
        for (act, init) in [
            (Activation::Relu, Init::HeNormal),
            (Activation::Tanh, Init::XavierNormal),
        ] {
            let s = spectrum(act, init, seed, JacobianSpan::FromFirstHidden);
            let (max, median) = (s[0], s[64]);
            println!(
                "{act} {init} seed {seed}: max {max:.3e} median {median:.3e} min {:.3e}",
                s[127]
            );
            assert!(
                (max / median).log10() > 3.0,
                "{act} {init}: max {max} median {median}"
            );
        }
        // from the 16 inputs (full rank): ReLU + he spreads over > 2 decades, tanh + orthogonal < 1
        let from_input = |act, init| spectrum(act, init, seed, JacobianSpan::FromInput);
        let relu = from_input(Activation::Relu, Init::HeNormal);
        let tanh = from_input(Activation::Tanh, Init::Orthogonal);
        let decades = |s: &[f64]| (s[0] / s[s.len() - 1]).log10();
        println!(
            "from input, seed {seed}: relu he {:.2} decades, tanh orthogonal {:.2}",
            decades(&relu),
            decades(&tanh)
        );
        assert!(relu.len() == 16 && decades(&relu) > 2.0 && decades(&tanh) < 1.0);
    }
}

#[test]
fn jacobian_states_its_limit() {
    let cfg = NetConfig {
        depth: 2,
        width: MAX_JACOBIAN_WIDTH + 1,
        batch: 1,
        ..NetConfig::default()
    };
    let engine = Reference::new(&cfg).unwrap();
    let err = jacobian(&engine, 0, JacobianSpan::FromInput).unwrap_err();
    assert!(matches!(err, JacobianError::TooLarge { .. }));
    assert!(err.to_string().contains("width <= 256"), "{err}");
    let small = Reference::new(&NetConfig {
        depth: 2,
        width: 4,
        batch: 2,
        ..NetConfig::default()
    })
    .unwrap();
    assert!(matches!(
        jacobian(&small, 2, JacobianSpan::FromInput),
        Err(JacobianError::Sample { .. })
    ));
}

#[test]
fn the_order_to_chaos_line_of_tanh() {
    use gradscope::theory::phase::{chi1, critical_sigma_w2, depth_scale_band, phase_point};
    let act = Activation::Tanh;
    // no bias: q* = 0 in the ordered phase, where χ₁ = σ_w²·tanh'(0)² = σ_w²; the line is at σ_w² = 1
    let c0 = critical_sigma_w2(act, 0.0, 0.25, 9.0).unwrap();
    assert!((c0 - 1.0).abs() < 1e-3, "critical σ_w² at σ_b = 0: {c0}");
    assert!((chi1(act, 0.5, 0.0) - 0.5).abs() < 1e-9);
    // a bias moves the line to larger weights (Poole et al. 2016, Fig. 2)
    let mut last = c0;
    for sb in [0.05f64, 0.1, 0.2, 0.3] {
        let c = critical_sigma_w2(act, sb * sb, 0.25, 9.0).unwrap();
        println!("σ_b = {sb}: critical σ_w² = {c:.4}");
        assert!(c > last, "σ_b = {sb}: {c} after {last}");
        last = c;
        let at = phase_point(act, c, sb * sb);
        assert!((at.chi1 - 1.0).abs() < 1e-6);
        // ordered just below (c* = 1, χ_c = χ₁ < 1), chaotic just above (c* < 1)
        let below = phase_point(act, 0.9 * c, sb * sb);
        let above = phase_point(act, 1.2 * c, sb * sb);
        assert_eq!(below.c_star, 1.0);
        assert!(
            below.chi_c < 1.0 && above.chi1 > 1.0 && above.c_star < 1.0,
            "{above:?}"
        );
        assert!(above.chi_c < 1.0 && above.xi_c.is_finite(), "{above:?}");
        // the trainable band of depth 30 straddles the line and narrows with depth
        let (lo, hi) = depth_scale_band(act, sb * sb, 30.0, 6.0, 0.25, 9.0);
        let (lo, hi) = (lo.unwrap(), hi.unwrap());
        assert!(lo < c && c < hi, "{lo} {c} {hi}");
        let (lo2, hi2) = depth_scale_band(act, sb * sb, 120.0, 6.0, 0.25, 9.0);
        assert!(lo2.unwrap() > lo && hi2.unwrap() < hi);
        println!("  depth 30 band: {lo:.3}..{hi:.3}");
    }
}
