//! Datasets and initial parameters, both drawn on the CPU from the seed so every engine starts from the
//! same bits.

use super::init::{Init, SeededRng, normal, rng_for};
use super::{Arch, LossKind, NetConfig, Task};

/// Input dimension of the teacher task.
pub const TEACHER_D_IN: usize = 16;
/// Output dimension of the teacher task.
pub const TEACHER_D_OUT: usize = 4;
/// Hidden units of the teacher net.
pub const TEACHER_HIDDEN: usize = 32;
/// Classes (arms) of the spiral task.
pub const SPIRAL_CLASSES: usize = 3;

// Independent random streams derived from the seed.
const STREAM_DATA: u64 = 1;
const STREAM_TEACHER: u64 = 2;
const STREAM_HEAD: u64 = 3;
const STREAM_LAYER: u64 = 1000;
const STREAM_BIAS: u64 = 1_000_000;

/// The training data: one fixed batch.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Inputs: `B x d_in` (MLP) or `T x B x d_in` (RNN), row-major.
    pub x: Vec<f32>,
    /// Targets `B x d_out`; classification targets are one-hot rows.
    pub y: Vec<f32>,
    /// Input features per sample (per time step for the RNN).
    pub d_in: usize,
    /// Outputs per sample.
    pub d_out: usize,
    /// Samples.
    pub batch: usize,
    /// Time steps (1 for the MLP).
    pub steps: usize,
    /// The loss.
    pub loss: LossKind,
}

impl Dataset {
    /// Draws the dataset of `cfg` (call [`NetConfig::validate`] first).
    pub fn generate(cfg: &NetConfig) -> Dataset {
        let mut rng = rng_for(cfg.seed, STREAM_DATA);
        let b = cfg.batch;
        let (d_in, d_out) = (cfg.d_in(), cfg.d_out());
        let steps = if cfg.arch == Arch::Rnn { cfg.depth } else { 1 };
        let mut x = vec![0f32; steps * b * d_in];
        let mut y = vec![0f32; b * d_out];
        match cfg.task {
            Task::Teacher => {
                x.iter_mut().for_each(|v| *v = normal(&mut rng) as f32);
                let mut trng = rng_for(cfg.seed, STREAM_TEACHER);
                let w1 = Init::LecunNormal.sample(TEACHER_HIDDEN, d_in, 1.0, &mut trng);
                let w2 = Init::LecunNormal.sample(d_out, TEACHER_HIDDEN, 1.0, &mut trng);
                for s in 0..b {
                    let hid: Vec<f64> = (0..TEACHER_HIDDEN)
                        .map(|j| {
                            (0..d_in)
                                .map(|k| w1[j * d_in + k] * f64::from(x[s * d_in + k]))
                                .sum::<f64>()
                                .tanh()
                        })
                        .collect();
                    for o in 0..d_out {
                        y[s * d_out + o] = (0..TEACHER_HIDDEN)
                            .map(|j| w2[o * TEACHER_HIDDEN + j] * hid[j])
                            .sum::<f64>() as f32;
                    }
                }
            }
            Task::Spiral => {
                // Three arms; sample s is in class s % 3 at radius growing along its arm.
                let per_class = b.div_ceil(SPIRAL_CLASSES).max(1);
                for s in 0..b {
                    let class = s % SPIRAL_CLASSES;
                    let r = (s / SPIRAL_CLASSES) as f64 / per_class as f64;
                    let theta = class as f64 * 4.0 + r * 4.0 + 0.2 * normal(&mut rng);
                    x[s * 2] = (r * theta.sin()) as f32;
                    x[s * 2 + 1] = (r * theta.cos()) as f32;
                    y[s * d_out + class] = 1.0;
                }
            }
            Task::Adding => {
                // x_t = (value in [0,1), marker); one marker in each half of the sequence.
                let t = steps;
                for s in 0..b {
                    for step in 0..t {
                        x[(step * b + s) * 2] = rand::Rng::random_range(&mut rng, 0.0..1.0);
                    }
                    let first = uniform_index(&mut rng, t.div_ceil(2));
                    let second = if t >= 2 {
                        t / 2 + uniform_index(&mut rng, t - t / 2)
                    } else {
                        first
                    };
                    let mut sum = 0f32;
                    for pos in [first, second] {
                        let i = (pos * b + s) * 2;
                        if x[i + 1] == 0.0 {
                            x[i + 1] = 1.0;
                            sum += x[i];
                        }
                    }
                    y[s] = sum;
                }
            }
            Task::Memory => {
                // The first input is the sign to remember; later inputs are noise.
                for s in 0..b {
                    let positive = rand::Rng::random_bool(&mut rng, 0.5);
                    x[s] = if positive { 1.0 } else { -1.0 };
                    for step in 1..steps {
                        x[step * b + s] = (0.2 * normal(&mut rng)) as f32;
                    }
                    y[s * 2 + usize::from(positive)] = 1.0;
                }
            }
        }
        Dataset {
            x,
            y,
            d_in,
            d_out,
            batch: b,
            steps,
            loss: cfg.loss(),
        }
    }
}

fn uniform_index(rng: &mut SeededRng, n: usize) -> usize {
    rand::Rng::random_range(rng, 0..n.max(1))
}

/// The weight matrices whose update ratio ‖ΔW‖/‖W‖ the statistics report: (index in the order of
/// [`Params::tensors`], name as in the dump). MLP `w_1 … w_L, w_out`; RNN `w_x, w_h, w_out` (a gated
/// cell's stacked blocks count as one matrix each).
pub fn weight_tensors(cfg: &super::NetConfig) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let head = match cfg.arch {
        Arch::Mlp => {
            let per = 1
                + usize::from(cfg.norm != super::Norm::Batch)
                + 2 * usize::from(cfg.norm != super::Norm::None);
            for l in 1..=cfg.depth {
                out.push((per * (l - 1), format!("w_{l}")));
            }
            per * cfg.depth
        }
        Arch::Rnn => {
            out.push((0, "w_x".to_string()));
            out.push((1, "w_h".to_string()));
            3
        }
    };
    out.push((head, "w_out".to_string()));
    out
}

/// One named parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Name as in the dump (`w_1`, `b_out`, ...).
    pub name: String,
    /// Shape, row-major (`[out, in]` for weights).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl Tensor {
    fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor {
            name: name.into(),
            shape,
            data,
        }
    }
}

/// All trainable parameters, in a fixed order that both engines share:
/// MLP `w_1, b_1, ..., w_L, b_L, w_out, b_out` (with LayerNorm each layer's `gamma_l, beta_l` after its
/// `b_l`; with BatchNorm `w_l, gamma_l, beta_l`: no `b_l`); RNN `w_x, w_h, b, w_out, b_out`.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The tensors in order.
    pub tensors: Vec<Tensor>,
}

impl Params {
    /// Draws the initial parameters of `cfg`. Layer l's weights come from their own random stream, so a
    /// deeper net keeps the first layers of a shallower one, and the activation does not change them.
    /// The linear read-out layer always uses LeCun-normal (gain 1): the lesson is in the hidden stack.
    pub fn init(cfg: &NetConfig) -> Params {
        let (w, d_in, d_out) = (cfg.width, cfg.d_in(), cfg.d_out());
        let to32 = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let bias = |n: usize, stream: u64| -> Vec<f32> {
            if cfg.bias_std > 0.0 {
                let mut rng = rng_for(cfg.seed, STREAM_BIAS + stream);
                (0..n)
                    .map(|_| (cfg.bias_std * normal(&mut rng)) as f32)
                    .collect()
            } else {
                vec![0.0; n]
            }
        };
        let mut tensors = Vec::new();
        match cfg.arch {
            Arch::Mlp => {
                for l in 1..=cfg.depth {
                    let fan_in = if l == 1 { d_in } else { w };
                    let mut rng = rng_for(cfg.seed, STREAM_LAYER + l as u64);
                    tensors.push(Tensor::new(
                        format!("w_{l}"),
                        vec![w, fan_in],
                        to32(cfg.init.sample(w, fan_in, cfg.gain, &mut rng)),
                    ));
                    // BatchNorm subtracts each unit's batch mean, which would cancel b_l: its layers
                    // have none (β_l is the shift), as a linear layer before BatchNorm usually has not
                    if cfg.norm != super::Norm::Batch {
                        tensors.push(Tensor::new(format!("b_{l}"), vec![w], bias(w, l as u64)));
                    }
                    if cfg.norm != super::Norm::None {
                        tensors.push(Tensor::new(format!("gamma_{l}"), vec![w], vec![1.0; w]));
                        tensors.push(Tensor::new(format!("beta_{l}"), vec![w], vec![0.0; w]));
                    }
                }
            }
            Arch::Rnn => {
                // a gated cell stacks its blocks (docs/DESIGN.md §Equations) in W_x, W_h and b; each block
                // is drawn as the vanilla W_x (W_h) is, from its own stream (block 0 is the vanilla draw)
                let gates = cfg.cell.gates();
                let mut w_x = Vec::with_capacity(gates * w * d_in);
                let mut w_h = Vec::with_capacity(gates * w * w);
                for gate in 0..gates as u64 {
                    let mut rng = rng_for(cfg.seed, STREAM_LAYER + 1 + 16 * gate);
                    w_x.extend(cfg.init.sample(w, d_in, cfg.gain, &mut rng));
                    let mut rng = rng_for(cfg.seed, STREAM_LAYER + 2 + 16 * gate);
                    let mut block = cfg.init.sample(w, w, cfg.gain, &mut rng);
                    if let Some(rho) = cfg.spectral_radius
                        && let Err(e) =
                            super::spectral::rescale_to_spectral_radius(&mut block, w, rho)
                    {
                        // Only a nilpotent draw (probability 0) or a solver failure gets here.
                        log::warn!(
                            "cannot rescale w_h to spectral radius {rho}: {e}; keeping the init's scale"
                        );
                    }
                    w_h.extend(block);
                }
                tensors.push(Tensor::new("w_x", vec![gates * w, d_in], to32(w_x)));
                tensors.push(Tensor::new("w_h", vec![gates * w, w], to32(w_h)));
                let mut b = bias(gates * w, 1);
                if let Some(keep) = cfg.cell.keep_gate() {
                    b[keep * w..(keep + 1) * w]
                        .iter_mut()
                        .for_each(|v| *v += cfg.forget_bias as f32);
                }
                tensors.push(Tensor::new("b", vec![gates * w], b));
            }
        }
        let mut rng = rng_for(cfg.seed, STREAM_HEAD);
        tensors.push(Tensor::new(
            "w_out",
            vec![d_out, w],
            to32(Init::LecunNormal.sample(d_out, w, 1.0, &mut rng)),
        ));
        tensors.push(Tensor::new("b_out", vec![d_out], vec![0.0; d_out]));
        Params { tensors }
    }

    /// Total number of scalars.
    pub fn len(&self) -> usize {
        self.tensors.iter().map(|t| t.data.len()).sum()
    }

    /// Whether there are no parameters (never true for a valid config).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A tensor by name.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// All values concatenated in order (the GPU's flat layout).
    pub fn flat(&self) -> Vec<f32> {
        self.tensors
            .iter()
            .flat_map(|t| t.data.iter().copied())
            .collect()
    }

    /// Same shapes and names, values taken from `flat` (inverse of [`Params::flat`]).
    pub fn with_flat(&self, flat: &[f32]) -> Params {
        let mut off = 0;
        let tensors = self
            .tensors
            .iter()
            .map(|t| {
                let n = t.data.len();
                let data = flat[off..off + n].to_vec();
                off += n;
                Tensor::new(t.name.clone(), t.shape.clone(), data)
            })
            .collect();
        Params { tensors }
    }
}
