// Per-layer histograms (Glorot & Bengio 2010, figures 6 and 7), one workgroup per layer (time step) l =
// wid.x + 1, after layer_stats: counts over the batch and units of
//   f(z_l), z at z_off + (l-1)·B·W, over [p.lr, p.clip) in HIST_BINS bins (bin 0 below, HIST_BINS + 1
//   above; the record is full, so the range rides in the two f32 fields this kernel has no other use for);
//   log10 |δ_l| − log10 rms δ_l over [DELTA_LO, DELTA_HI), from ŝ at a_off + (l-1)·B·W and the layer's
//   Σ ŝ² in its record (c_off + LAYER_RECORD·(l-1) + 2): the ratio needs no scale; exact zeros (ĝ = 0
//   or a slope that is mathematically 0, ĝ at g_off) counted apart, a ŝ that merely underflows below.
// A normalized MLP (p.mode 1 LayerNorm, 2 BatchNorm): z_off holds ẑ and the activation sees
//   u = γ ⊙ ẑ + β, γ_l one vector after the layer's first (b_first, b_rec + (l-2)·w_step; BatchNorm has
//   no bias, so γ is the first); δ mixes units through the norm, so it is zero only where ŝ is exactly 0.
// Out: per layer HIST_RECORD values at part_off + HIST_RECORD·(l-1): [f(z) bins, δ bins, zeros].
// p.m = batch, p.n = units. Keep HIST_BINS, DELTA_LO and DELTA_HI in sync with src/stats.rs.

const HIST_BINS: u32 = 32u;
const HIST_LEN: u32 = 34u;        // HIST_BINS + 2
const HIST_RECORD: u32 = 69u;     // 2 * HIST_LEN + 1
const DELTA_LO: f32 = -6.0;
const DELTA_HI: f32 = 2.0;
const LOG10_OF_2: f32 = 0.30102999566398120;

var<workgroup> counts: array<atomic<u32>, HIST_RECORD>;

fn bin_of(x: f32, lo: f32, hi: f32) -> u32 {
    if (is_nan(x) || x < lo) {
        return 0u;
    }
    if (x >= hi) {
        return HIST_BINS + 1u;
    }
    return 1u + min(u32((x - lo) / (hi - lo) * f32(HIST_BINS)), HIST_BINS - 1u);
}

// What the activation of layer l sees at entry e of its B·W block (z, or γ ⊙ ẑ + β with a norm).
fn act_input(l: u32, e: u32, v: f32) -> f32 {
    if (p.mode == 0u) {
        return v;
    }
    var first = p.b_first;
    if (l > 1u) {
        first = p.b_rec + (l - 2u) * p.w_step;
    }
    let gamma = first + select(0u, p.n, p.mode != 2u);
    let u = e % p.n;
    return mem[nb + gamma + u] * v + mem[nb + gamma + p.n + u];
}

@compute @workgroup_size(64)
fn histograms(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let l = wid.x + 1u;
    for (var i = t; i < HIST_RECORD; i += 64u) {
        atomicStore(&counts[i], 0u);
    }
    workgroupBarrier();
    let n = p.m * p.n;
    let base = (l - 1u) * n;
    let ms = mem[nb + p.c_off + LAYER_RECORD * (l - 1u) + 2u] / f32(n);
    let half_log2_ms = 0.5 * log2(ms);
    for (var e = t; e < n; e += 64u) {
        let z = act_input(l, e, mem[nb + p.z_off + base + e]);
        atomicAdd(&counts[bin_of(act_f(z, net_act()), p.lr, p.clip)], 1u);
        let s = mem[nb + p.a_off + base + e];
        let g = mem[nb + p.g_off + base + e];
        var zero = g == 0.0 || exact_zero_slope(z, net_act());
        if (p.mode != 0u) {
            zero = s == 0.0;
        }
        if (zero) {
            atomicAdd(&counts[2u * HIST_LEN], 1u);
        } else if (s == 0.0) {
            atomicAdd(&counts[HIST_LEN], 1u);
        } else {
            let x = (log2(abs(s)) - half_log2_ms) * LOG10_OF_2;
            atomicAdd(&counts[HIST_LEN + bin_of(x, DELTA_LO, DELTA_HI)], 1u);
        }
    }
    workgroupBarrier();
    for (var i = t; i < HIST_RECORD; i += 64u) {
        mem[nb + p.part_off + HIST_RECORD * (l - 1u) + i] = f32(atomicLoad(&counts[i]));
    }
}
