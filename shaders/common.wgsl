// Shared by every gradscope kernel: the bindings, the per-dispatch parameter block and the activations.
// Every kernel file is compiled as common.wgsl followed by the kernel file (see src/gpu/shaders.rs).

// Per-dispatch parameters, one 256-byte record per dispatch, selected with a dynamic offset.
// Keep in sync with `Params` in src/gpu/layout.rs (same fields, same order).
struct Params {
    m: u32, n: u32, k: u32, mode: u32,
    a_off: u32, a_si: u32, a_sk: u32, b_off: u32,
    b_sk: u32, b_sj: u32, c_off: u32, ldc: u32,
    add_off: u32, add_si: u32, add_sj: u32, z_off: u32,
    res_off: u32, g_off: u32, act: u32, flags: u32,
    scale_idx: u32, m_above: u32, m_out: u32, part_off: u32,
    x_off: u32, d_in: u32, ust_off: u32, upart_off: u32,
    count: u32, aux_off: u32, aux2_off: u32, loss_kind: u32,
    lr: f32, clip: f32, optimizer: u32, step_off: u32,
}

// All f32 state of one network: parameters, gradients, optimizer slots, data, activations, scaled
// errors, partial sums and the statistics block (offsets in src/gpu/layout.rs).
@group(0) @binding(0) var<storage, read_write> mem: array<f32>;
// Per layer, the bit pattern of max |ĝ_l| (positive floats order like their bits), for rescaling.
@group(0) @binding(1) var<storage, read_write> maxes: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> p: Params;

const NONE: u32 = 0xffffffffu;

// flags bits
const FLAG_ACCUMULATE: u32 = 1u;   // add into the output instead of overwriting it
const FLAG_STATS: u32 = 2u;        // colreduce: also compute the per-unit statistics
const FLAG_CLIP: u32 = 4u;         // update: clip by the global norm

// Activation ids. Keep in sync with Activation::shader_id in src/model/activation.rs, and the formulas
// below with Activation::f / Activation::df there.
const ACT_SIGMOID: u32 = 0u;
const ACT_TANH: u32 = 1u;
const ACT_RELU: u32 = 2u;
const ACT_LEAKY_RELU: u32 = 3u;
const ACT_ELU: u32 = 4u;
const ACT_GELU: u32 = 5u;
const ACT_SILU: u32 = 6u;
const ACT_SOFTPLUS: u32 = 7u;
const ACT_LINEAR: u32 = 8u;

const LEAKY_SLOPE: f32 = 0.01;
const GELU_C: f32 = 0.7978845608028654;
const GELU_A: f32 = 0.044715;
// A unit is saturated where |f'(z)| < SATURATION_THRESHOLD * peak |f'| (model::SATURATION_THRESHOLD).
const SATURATION_THRESHOLD: f32 = 0.05;

fn sigmoid(x: f32) -> f32 {
    if (x >= 0.0) {
        return 1.0 / (1.0 + exp(-x));
    }
    let e = exp(x);
    return e / (1.0 + e);
}

// tanh that stays finite for large |x| on every driver
fn tanh_safe(x: f32) -> f32 {
    return tanh(clamp(x, -15.0, 15.0));
}

// e^x - 1 without cancellation near 0
fn expm1_safe(x: f32) -> f32 {
    if (abs(x) < 1e-2) {
        return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x / 24.0)));
    }
    return exp(x) - 1.0;
}

fn act_f(x: f32, act: u32) -> f32 {
    switch act {
        case 0u: { return sigmoid(x); }
        case 1u: { return tanh_safe(x); }
        case 2u: { return max(x, 0.0); }
        case 3u: { return select(LEAKY_SLOPE * x, x, x > 0.0); }
        case 4u: { return select(expm1_safe(x), x, x > 0.0); }
        case 5u: { return x * sigmoid(2.0 * GELU_C * (x + GELU_A * x * x * x)); }
        case 6u: { return x * sigmoid(x); }
        case 7u: {
            if (x > 20.0) { return x; }
            if (x < -15.0) { return exp(x); }
            return log(1.0 + exp(x));
        }
        default: { return x; }
    }
}

// Derivatives in forms that stay nonzero (and accurate) far into the tails, where the textbook forms
// 1 - tanh², s(1 - s) round to exactly zero in f32: an exact zero must mean a truly dead unit.
fn act_df(x: f32, act: u32) -> f32 {
    switch act {
        case 0u: { return sigmoid(x) * sigmoid(-x); }
        case 1u: { return 4.0 * sigmoid(2.0 * x) * sigmoid(-2.0 * x); }
        case 2u: { return select(0.0, 1.0, x > 0.0); }
        case 3u: { return select(LEAKY_SLOPE, 1.0, x > 0.0); }
        case 4u: { return select(exp(x), 1.0, x > 0.0); }
        case 5u: {
            // 0.5 (1 + tanh u) = σ(2u) and 0.5 (1 - tanh² u) = 2 σ(2u) σ(-2u)
            let u = GELU_C * (x + GELU_A * x * x * x);
            let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
            let sp = sigmoid(2.0 * u);
            let sm = sigmoid(-2.0 * u);
            return sp + x * 2.0 * sp * sm * du;
        }
        case 6u: { let s = sigmoid(x); return s + x * s * sigmoid(-x); }
        case 7u: { return sigmoid(x); }
        default: { return 1.0; }
    }
}

// Peak |f'| per activation (Activation::peak_derivative).
fn act_peak(act: u32) -> f32 {
    switch act {
        case 0u: { return 0.25; }
        case 5u: { return 1.128904; }
        case 6u: { return 1.099839; }
        default: { return 1.0; }
    }
}

// Exponent e of max|ĝ| (max = f * 2^e, f in [0.5, 1)); 0 for an all-zero layer or idx == NONE.
fn scale_exponent(idx: u32) -> i32 {
    if (idx == NONE) {
        return 0;
    }
    let mx = bitcast<f32>(atomicLoad(&maxes[idx]));
    if (mx == 0.0) {
        return 0;
    }
    return frexp(mx).exp;
}
