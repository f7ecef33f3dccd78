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
    k_base: u32,
    // the fused stack / persistent RNN (stack.wgsl), the batched weight gradients (wgrad.wgsl) and the head
    // gradients of the loss kernel
    rows: u32, layers: u32, d_out: u32, w_in: u32,
    w_rec: u32, w_step: u32, b_first: u32, b_rec: u32,
    w_head: u32, b_head: u32, x_step: u32, sscale_off: u32,
    gw_head: u32, gb_head: u32, gw_in: u32, gw_rec: u32,
    gb_first: u32, gb_rec: u32, top_off: u32,
    // the layers (time steps) l_from..=l_to a chunk of a fused kernel covers (1-based)
    l_from: u32, l_to: u32,
    // wgrad.wgsl: an RNN's steps split over `splits` workgroups per tile (grid z), partial sums at split_off
    splits: u32, split_off: u32,
    // a population of nets of one shape (src/gpu/population.rs): net n's state starts at n * net_stride in
    // `mem` and n * max_stride in `maxes`; the grid's z holds zn workgroups per net (net = wid.z / zn), so
    // a kernel's own z index is wid.z % zn. One net: both strides 0, zn the dispatch's z count.
    net_stride: u32, max_stride: u32, zn: u32,
}

// Binding 0 holds all f32 state of one network (parameters, gradients, optimizer slots, data, activations,
// scaled errors, partial sums and the statistics block; offsets in src/gpu/layout.rs). Each module views it
// through mem.wgsl (`mem`, f32s) or mem4.wgsl (`mem4`, vec4s); both give ld/st/ld4/st4.
// Per layer, the bit pattern of max |ĝ_l| (positive floats order like their bits), for rescaling; from
// index p.k_base on, per layer, the largest frexp exponent of |f'(z_l)| (biased by SLOPE_EXP_BIAS, 0 = none).
@group(0) @binding(1) var<storage, read_write> maxes: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> p: Params;

const NONE: u32 = 0xffffffffu;

// This invocation's net: where its state starts in `mem` (nb) and in `maxes` (mb). Every entry point
// calls net_enter first; every access adds the base.
var<private> nb: u32;
var<private> mb: u32;

// Sets the net bases from the workgroup's z index (see `Params.zn`).
fn net_enter(z: u32) {
    let net = z / p.zn;
    nb = net * p.net_stride;
    mb = net * p.max_stride;
}

// The activation of the nets a dispatch runs: the record's `act`, unless the pipeline was built for one
// activation (ACT_FIXED, on CPU adapters: see `Pipelines::specialize`). lavapipe evaluates every case of a
// switch, whatever the value, so there a pipeline per activation evaluates one activation instead of all.
override ACT_FIXED: u32 = 0xffffffffu;

fn net_act() -> u32 {
    if (ACT_FIXED != NONE) {
        return ACT_FIXED;
    }
    return p.act;
}

// Offset of row b of step (layer) t, 1-based, in a per-step region of [B][width] blocks (the gated cells'
// regions: gated.wgsl, gated_rows.wgsl).
fn step_row(region: u32, t: u32, b: u32, width: u32) -> u32 {
    return region + ((t - 1u) * p.m + b) * width;
}

// flags bits
const FLAG_ACCUMULATE: u32 = 1u;   // add into the output instead of overwriting it
const FLAG_STATS: u32 = 2u;        // colreduce: also compute the per-unit statistics
const FLAG_CLIP: u32 = 4u;         // update: clip by the global norm
const FLAG_RESIDUAL: u32 = 8u;     // stack: a_l = f(z_l) + a_{l-1} for l >= 2
const FLAG_RECURRENT: u32 = 16u;   // stack, wgrad: an RNN (input every step, one shared weight)
const FLAG_HEAD: u32 = 32u;        // loss: also the head's weight and bias gradients
const FLAG_RESCALE: u32 = 64u;
const FLAG_WIDE: u32 = 128u;      // stack_rows, wgrad main_direct, gated: rows and weights allow vec4 loads
const FLAG_WIDE_IN: u32 = 256u;   // stack_rows: so do the input x and W_in (d_in a multiple of 4)
const FLAG_BIAS: u32 = 512u;      // colreduce4: also an MLP's bias gradients; wgrad main_direct: not them
const FLAG_COUNT: u32 = 1024u;    // loss: also count the training step (a bare step's; layer_stats does not run)
const FLAG_BARE: u32 = 2048u;     // stack_rows backward: a bare step's (ĝ stored only where read)
// The statistics block's shapes (src/gpu/layout.rs): f32 values per layer record, and per-unit partials
// per unit: [Σ ŝ², log2 Σ a², #saturated, dead, log2 Σ ĝ², log2 Σ |f'|].
const LAYER_RECORD: u32 = 12u;
const UPART: u32 = 6u;     // colreduce: per-(layer, slice) scales brought to one per layer

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

// (σ(x), σ(-x)) from one exponential: with e = e^-|x|, σ(|x|) = 1 / (1 + e) and σ(-|x|) = e / (1 + e), the
// same values bit for bit as the two-sided textbook forms. One exp instead of one per branch side matters
// on lavapipe, which evaluates both sides of every branch (docs/DESIGN.md, "What a load costs").
fn sigmoid_pair(x: f32) -> vec2<f32> {
    let e = exp(-abs(x));
    let hi = 1.0 / (1.0 + e);
    let lo = e / (1.0 + e);
    let pos = x >= 0.0;
    return vec2<f32>(select(lo, hi, pos), select(hi, lo, pos));
}

fn sigmoid(x: f32) -> f32 {
    return sigmoid_pair(x).x;
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
        case 2u: { return select(x, 0.0, x <= 0.0); } // NaN stays NaN (max(NaN, 0) may give 0)
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
        case 0u: { let s = sigmoid_pair(x); return s.x * s.y; }
        case 1u: { let s = sigmoid_pair(2.0 * x); return 4.0 * s.x * s.y; }
        case 2u: { return select(0.0, 1.0, x > 0.0); }
        case 3u: { return select(LEAKY_SLOPE, 1.0, x > 0.0); }
        case 4u: { return select(exp(x), 1.0, x > 0.0); }
        case 5u: {
            // beyond |x| = 10 the slope is 1 to f32 precision on the right, and below 2^-100 on the left
            // (act_slope takes the tail form); the guard also keeps x² from overflowing into 0 · ∞
            if (x > 10.0) { return 1.0; }
            if (x < -10.0) { return 0.0; }
            // 0.5 (1 + tanh u) = σ(2u) and 0.5 (1 - tanh² u) = 2 σ(2u) σ(-2u)
            let u = GELU_C * (x + GELU_A * x * x * x);
            let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
            let s = sigmoid_pair(2.0 * u);
            return s.x + x * 2.0 * s.x * s.y * du;
        }
        case 6u: { let s = sigmoid_pair(x); return s.x + x * s.x * s.y; }
        case 7u: { return sigmoid(x); }
        default: { return 1.0; }
    }
}

// Whether f'(x) is mathematically exactly 0: only ReLU's non-positive side (a dead unit). Every other slope
// is positive however far it underflows the float range; NaN is never an exact zero.
fn exact_zero_slope(x: f32, act: u32) -> bool {
    return act == ACT_RELU && x <= 0.0;
}

// NaN test on the bits (robust where a compiler assumes x == x).
fn is_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

const LOG2E: f32 = 1.4426950408889634;
// Below 2^-100, act_slope switches to the closed-form tails (Activation::slope in src/model/activation.rs).
const TAIL_SLOPE: f32 = 7.888609e-31;
// Largest |log2 f'| reported (MAX_SLOPE_EXP2 in src/model/activation.rs).
const MAX_SLOPE_EXP2: f32 = 1048576.0;
// Bias of the slope exponents stored in `maxes` (0 means "no nonzero slope seen").
const SLOPE_EXP_BIAS: i32 = 4194304;

// f'(x) = m * 2^k, finite and accurate far below the f32 range of f'(x) itself.
struct Slope {
    m: f32,
    k: i32,
}

fn act_slope(x_in: f32, act: u32) -> Slope {
    let d = act_df(x_in, act);
    if (is_nan(d) || abs(d) >= TAIL_SLOPE || act == ACT_RELU || act == ACT_LEAKY_RELU || act == ACT_LINEAR) {
        return Slope(d, 0);
    }
    // log2 |f'| and its sign from the asymptotic forms (the terms dropped are below 2^-100 relative).
    // Past |x| = 1e7 every tail is beyond the exponent clamp; clamping x first keeps every intermediate
    // finite (no ∞ − ∞, which a compiler that assumes finite math may not even turn into NaN).
    let x = clamp(x_in, -1.0e7, 1.0e7);
    var l2 = 0.0;
    var sg = 1.0;
    switch act {
        case 0u: { l2 = -abs(x) * LOG2E; }                   // σ(x)σ(-x) -> e^-|x|
        case 1u: { l2 = 2.0 - 2.0 * abs(x) * LOG2E; }        // 4σ(2x)σ(-2x) -> 4 e^-2|x|
        case 4u, 7u: { l2 = x * LOG2E; }                     // e^x (ELU, and softplus' σ(x))
        case 6u: {                                           // σ(x)(1 + xσ(-x)) -> e^x (1 + x)
            l2 = x * LOG2E + log2(abs(1.0 + x));
            sg = sign(1.0 + x);
        }
        default: {                                           // GELU: e^{2u} (1 + 2x u')
            let u = GELU_C * x * (1.0 + GELU_A * x * x);
            let du = GELU_C * (1.0 + 3.0 * GELU_A * x * x);
            let f = 1.0 + 2.0 * x * du;
            l2 = 2.0 * u * LOG2E + log2(abs(f));
            sg = sign(f);
        }
    }
    if (is_nan(l2)) {
        l2 = -MAX_SLOPE_EXP2; // overflowed intermediates at |x| ~ 1e13: beyond the clamp anyway
    }
    l2 = clamp(l2, -MAX_SLOPE_EXP2, MAX_SLOPE_EXP2);
    let k = floor(l2);
    return Slope(sg * exp2(l2 - k), i32(k));
}

// The biased frexp exponent of |f'| as an f32 (exact: below 2^24), 0 for a zero or NaN slope.
fn slope_code(s: Slope) -> f32 {
    if (s.m == 0.0 || is_nan(s.m)) {
        return 0.0;
    }
    return f32(frexp(s.m).exp + s.k + SLOPE_EXP_BIAS);
}

// K of a layer: the frexp exponent of its largest |f'(z)| if that is below 1, else 0. ŝ = ĝ f' 2^-K.
fn slope_shift(layer: u32) -> i32 {
    if (layer == NONE) {
        return 0;
    }
    let c = atomicLoad(&maxes[mb + p.k_base + layer]);
    if (c == 0u) {
        return 0;
    }
    return min(0, i32(c) - SLOPE_EXP_BIAS);
}

// x * 2^e for any e: WGSL's ldexp is indeterminate for e > 128, so it is applied in steps of at most 100.
fn ldexp_safe(x: f32, e: i32) -> f32 {
    let c = clamp(e, -300, 300);
    let a = c / 3;
    return ldexp(ldexp(ldexp(x, a), a), c - 2 * a);
}

// ldexp_safe of each component
fn ldexp_safe4(v: vec4<f32>, e: i32) -> vec4<f32> {
    return vec4<f32>(ldexp_safe(v.x, e), ldexp_safe(v.y, e), ldexp_safe(v.z, e), ldexp_safe(v.w, e));
}

// ldexp_safe of every entry of a 4 x 4 block
fn ldexp_safe_mat4(m: mat4x4<f32>, e: i32) -> mat4x4<f32> {
    return mat4x4<f32>(ldexp_safe4(m[0], e), ldexp_safe4(m[1], e), ldexp_safe4(m[2], e), ldexp_safe4(m[3], e));
}

// x * 2^e for e <= 0, as brings a value to a lower common scale: one multiplication where 2^e is a normal
// float, else ldexp_safe (a branch, not a select: select would evaluate both).
fn scale_down_pow2(x: f32, e: i32) -> f32 {
    if (e >= -126) {
        return x * exp2(f32(e));
    }
    return ldexp_safe(x, e);
}

// ---- sums of squares and sums in the log domain, for statistics of any magnitude (an exploding net's
// activations of 1e20 square to Inf in f32; a vanishing one's to 0)

// "no term yet": log2 of an empty sum or of an exact zero
const NO_TERM: f32 = -3.0e38;

// Σx² of values of any magnitude as (max |x|, Σ (x / max)², #NaN).
fn sq_add(st: vec3<f32>, v: f32) -> vec3<f32> {
    if (is_nan(v)) {
        return vec3<f32>(st.x, st.y, st.z + 1.0);
    }
    let x = abs(v);
    let up = x > st.x;
    // the smaller over the larger: one division for both branches (lavapipe evaluates both)
    let r = select(x, st.x, up) / select(st.x, x, up);
    if (up) {
        return vec3<f32>(x, st.y * r * r + 1.0, st.z);
    }
    if (x > 0.0) {
        return vec3<f32>(st.x, st.y + r * r, st.z);
    }
    return st;
}

// NaN and −∞, built at run time: WGSL makes a constant expression whose value is not finite an error
// (browsers' compilers enforce it), so the bits go through a variable.
fn f32_nan() -> f32 {
    var bits = 0x7fc00000u;
    return bitcast<f32>(bits);
}

fn f32_neg_inf() -> f32 {
    var bits = 0xff800000u;
    return bitcast<f32>(bits);
}

// log2 Σx² of an sq_add state: NaN if any value was NaN, NO_TERM for an exact zero.
fn sq_log2(st: vec3<f32>) -> f32 {
    if (st.z > 0.0) {
        return f32_nan();
    }
    if (st.x == 0.0) {
        return NO_TERM;
    }
    return 2.0 * log2(st.x) + log2(st.y);
}

// A sum of 2^l terms as (max l, Σ 2^(l − max), #NaN).
fn lsum_add(st: vec3<f32>, l: f32) -> vec3<f32> {
    if (is_nan(l)) {
        return vec3<f32>(st.x, st.y, st.z + 1.0);
    }
    if (l <= NO_TERM) {
        return st;
    }
    let up = l > st.x;
    // 2^-(larger - smaller): one exp2 for both branches (lavapipe evaluates both)
    let e = exp2(select(l - st.x, st.x - l, up));
    if (up) {
        return vec3<f32>(l, st.y * e + 1.0, st.z);
    }
    return vec3<f32>(st.x, st.y + e, st.z);
}

// log2 of an lsum_add state's sum: NaN if any term was NaN, NO_TERM if there was none.
fn lsum_log2(st: vec3<f32>) -> f32 {
    if (st.z > 0.0) {
        return f32_nan();
    }
    if (st.x <= NO_TERM) {
        return NO_TERM;
    }
    return st.x + log2(st.y);
}

fn lsum_new() -> vec3<f32> {
    return vec3<f32>(NO_TERM, 0.0, 0.0);
}

// ---- sums of values of any magnitude from their binary exponents, for the per-unit statistics that add
// a term per value (colreduce.wgsl, colreduce4.wgsl, gated.wgsl, normed.wgsl). The state is lsum_add's,
// (E, S, #NaN) with the sum S · 2^E, so lsum_log2 reads it (start from lsum_new), but a term comes as a
// mantissa m in [1/4, 1) and an integer exponent e, and the two scale to each other by a power of two
// made from its bits: no log2 or exp2 per value (sq_add's division, lsum_add's exp2 and the log2 of its
// terms were most of those kernels' arithmetic on lavapipe), and the sums are exact to rounding.

// (m, e) with |x| = m · 2^e, m in [1/2, 1): (1, +∞) for an infinity, (0, 0) for zero (x not NaN)
fn split_pow2(x: f32) -> vec2<f32> {
    let raw = bitcast<u32>(abs(x));
    let small = (raw >> 23u) == 0u;
    // a subnormal (where the adapter keeps them) brought up by 2^64 first
    let bits = select(raw, bitcast<u32>(abs(x) * 18446744073709551616.0), small);
    let field = bits >> 23u;
    let m = bitcast<f32>((bits & 0x7fffffu) | 0x3f000000u);
    let e = f32(field) - select(126.0, 190.0, small);
    if (field == 255u) {
        return vec2<f32>(1.0, -f32_neg_inf());
    }
    return vec2<f32>(select(m, 0.0, field == 0u), e);
}

// 2^d for an integer-valued d <= 0 (−∞ included), from its bits: 0 below 2^-126, where the term is far
// below the sum's last bit
fn pow2_down(d: f32) -> f32 {
    return bitcast<f32>(u32(i32(max(d, -127.0)) + 127) << 23u);
}

// The term m · 2^e (m > 0) added to an esum state
fn esum_add(st: vec3<f32>, m: f32, e: f32) -> vec3<f32> {
    let up = e > st.x;
    // (two infinite exponents are equal: a factor of 1, not 2^-(∞ − ∞))
    let f = pow2_down(-select(abs(e - st.x), 0.0, e == st.x));
    if (up) {
        return vec3<f32>(e, st.y * f + m, st.z);
    }
    return vec3<f32>(st.x, st.y + m * f, st.z);
}

// The term m · 2^e added where m != 0 (a zero term is skipped), or the NaN counted where `nan` (the term,
// split from a NaN, is then not added). Selects rather than branches: lavapipe runs both sides of a branch
// anyway.
fn esum_add_term(st: vec3<f32>, m: f32, e: f32, nan: bool) -> vec3<f32> {
    let added = esum_add(st, m, e);
    return select(select(added, st, m == 0.0), vec3<f32>(st.x, st.y, st.z + 1.0), nan);
}

// x² added (NaN counted, zero skipped)
fn esum_add_sq(st: vec3<f32>, x: f32) -> vec3<f32> {
    let q = split_pow2(x);
    return esum_add_term(st, q.x * q.x, 2.0 * q.y, is_nan(x));
}

// |f'| = |m| · 2^k of a slope added (NaN counted, zero skipped)
fn esum_add_slope(st: vec3<f32>, sl: Slope) -> vec3<f32> {
    let q = split_pow2(sl.m);
    return esum_add_term(st, q.x, q.y + f32(sl.k), is_nan(sl.m));
}

// |x| added (NaN counted, zero skipped)
fn esum_add_abs(st: vec3<f32>, x: f32) -> vec3<f32> {
    let q = split_pow2(x);
    return esum_add_term(st, q.x, q.y, is_nan(x));
}

// Workgroup reductions over the first n threads (n a power of two, at most 256; every thread calls them).
var<workgroup> red: array<f32, 256>;

fn wg_sum(t: u32, v: f32, n: u32) -> f32 {
    red[t] = v;
    workgroupBarrier();
    for (var s = n / 2u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

// Terms each of the first invocations of wg_log2_sum adds before one adds their sums.
const LOG2_SPAN: u32 = 16u;

// log2 Σ_threads 2^l (NaN if any l is NaN, NO_TERM if every l is), in the log domain, in two levels:
// invocation i < n / LOG2_SPAN adds terms [i·LOG2_SPAN, (i+1)·LOG2_SPAN) into the first of them, then one
// adds those: four barriers instead of a tree of them (a software adapter pays dearly for each), and
// 2·LOG2_SPAN serial terms instead of n.
fn wg_log2_sum(t: u32, l: f32, n: u32) -> f32 {
    red[t] = l;
    workgroupBarrier();
    let first = t * LOG2_SPAN;
    if (first < n) {
        var st = lsum_new();
        for (var i = first; i < min(n, first + LOG2_SPAN); i++) {
            st = lsum_add(st, red[i]);
        }
        red[first] = lsum_log2(st);
    }
    workgroupBarrier();
    if (t == 0u) {
        var st = lsum_new();
        for (var i = 0u; i < n; i += LOG2_SPAN) {
            st = lsum_add(st, red[i]);
        }
        red[0] = lsum_log2(st);
    }
    workgroupBarrier();
    let total = red[0];
    workgroupBarrier();
    return total;
}

// A sum of squares of any magnitude as (largest log2 term m, Σ 2^(term − m)), adding a²; NaN rides in
// the sum. Start from vec2(NO_TERM, 0).
fn sq_pair_add(st: vec2<f32>, a: f32) -> vec2<f32> {
    if (is_nan(a)) {
        return vec2<f32>(st.x, f32_nan());
    }
    if (a == 0.0) {
        return st;
    }
    let l = 2.0 * log2(abs(a));
    let up = l > st.x;
    // one exp2 for both branches (lavapipe evaluates both), as in lsum_add
    let e = exp2(select(l - st.x, st.x - l, up));
    if (up) {
        return vec2<f32>(l, st.y * e + 1.0);
    }
    return vec2<f32>(st.x, st.y + e);
}

var<workgroup> pair_red: array<vec2<f32>, 64>;

// log2 of the sum of the 64 invocations' sq_pair sums (NaN if any is NaN, NO_TERM if all are empty),
// returned to every invocation; every invocation of a 64-wide workgroup calls it.
fn wg64_pair_log2(t: u32, st: vec2<f32>) -> f32 {
    pair_red[t] = st;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s >>= 1u) {
        if (t < s) {
            let a = pair_red[t];
            let b = pair_red[t + s];
            let mx = max(a.x, b.x);
            pair_red[t] = vec2<f32>(mx, a.y * exp2(a.x - mx) + b.y * exp2(b.x - mx));
        }
        workgroupBarrier();
    }
    let total = pair_red[0];
    workgroupBarrier();
    if (is_nan(total.y)) {
        return total.y;
    }
    if (total.x <= NO_TERM) {
        return NO_TERM;
    }
    return total.x + log2(total.y);
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
    let mx = bitcast<f32>(atomicLoad(&maxes[mb + idx]));
    if (mx == 0.0) {
        return 0;
    }
    return frexp(mx).exp;
}
