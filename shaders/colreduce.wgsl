// Column reductions over the batch for one layer (time step): a workgroup of 16 units x SLICES batch slices,
// each thread summing every SLICES-th sample of its unit, then a shared-memory sum over the slices. SLICES is
// the module's constant (src/gpu/shaders.rs): 16 for GPUs; 1 for CPU adapters (module colreduce1, the
// per-row path), where one invocation per unit sums the whole batch, since there the other 15 would add more
// loads (each finds the layer's largest row scale) than they save:
//   bias gradient  mem[g_off + n] (=|+=) 2^scale · Σ_b ŝ[b, n]
//   RNN input-weight gradient (when res_off != NONE)  mem[res_off + n*d_in + k] (=|+=) 2^scale · Σ_b ŝ[b,n] x[b,k]
//   with FLAG_STATS: log2 mean_b |ŝ[b,n]| into mem[ust_off + n] (−∞ for an exact zero, NaN for NaN),
//     accumulated by binary exponents from ĝ (at b_off) and the split slope, so a unit saturated far below
//     the f32 range keeps its magnitude; and per-unit partials into mem[upart_off + 4n ..]:
//     Σ_b ŝ², log2 Σ_b a² (any magnitude: NaN if any a is NaN, NO_TERM if all are 0), #saturated, dead (1 if f'(z[b,n]) is mathematically 0 for every b: ReLU, z <= 0),
//     log2 Σ_b ĝ² and log2 Σ_b |f'(z)| (both of any magnitude; the chain-rule ledger's factors)
// ŝ at a_off, ĝ at b_off, z at z_off, the layer output a at c_off, all with row stride ldc; p.m = batch,
// p.n = units; the layer's slope shift K is slope_shift(scale_idx).
// Several layers in one dispatch: the grid's y is the layer offset z, every per-layer block moves by
// z * B * W (ŝ, ĝ, z, a), the scale index by z, ust_off by z * W and upart_off by z * UPART * W. g_off == NONE: no
// bias gradient (the fused path takes it from wgrad.wgsl).
// FLAG_RESCALE (the fused paths): ŝ and ĝ arrive with a power-of-two scale per (layer, slice of p.rows
// rows), S[l][r] at sscale_off + l * slices + r; each is first brought to the layer's largest scale
// (times 2^(S[l][r] - max_r S[l][r]), written back for the weight gradients and the read-back), and that
// scale is the layer's, written to mem[aux_off + l]. A slice far below the largest loses only what one f32
// scale per layer cannot hold (docs/DESIGN.md, Numerics).
// At most MAX_D_IN input features for the RNN input weights (the tasks have 1 or 2).

const UNITS: u32 = 16u;
const MAX_D_IN: u32 = 4u;
// 0 Σŝ, 1 max log2|ŝ|, 2 Σŝ², 3 log2 Σa², 4 #saturated, 5 #live, 6 Σ 2^(log2|ŝ| − max), 7 #NaN,
// 8 log2 Σĝ², 9 log2 Σ|f'|, 10.. Σŝx
const NVALS: u32 = 10u + MAX_D_IN;
var<workgroup> part: array<f32, NVALS * SLICES * UNITS>; // [NVALS][SLICES][UNITS]

@compute @workgroup_size(UNITS, SLICES)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let n = wid.x * UNITS + lid.x;
    let zo = wid.y * p.m * p.ldc;
    let a_off = p.a_off + zo;
    let b_off = p.b_off + zo;
    let c_off = p.c_off + zo;
    let z_off = p.z_off + zo;
    let scale_idx = p.scale_idx + wid.y;
    let ust_off = p.ust_off + wid.y * p.n;
    let upart_off = p.upart_off + UPART * wid.y * p.n;
    let valid = n < p.n;
    let stats = (p.flags & FLAG_STATS) != 0u;
    let d_in = select(0u, min(p.d_in, MAX_D_IN), p.res_off != NONE);
    var v: array<f32, 14>;
    for (var q = 0u; q < NVALS; q++) { v[q] = 0.0; }
    v[1] = NO_TERM;
    let sat_below = SATURATION_THRESHOLD * act_peak(net_act());
    let k_shift = slope_shift(scale_idx);
    // esum_add states (common.wgsl)
    var act = lsum_new();
    var gsq = lsum_new();
    var slopes = lsum_new();
    let rescale = (p.flags & FLAG_RESCALE) != 0u;
    var slices = 1u;
    var sbase = 0u;
    var top = 0.0;
    if (rescale) {
        slices = (p.m + p.rows - 1u) / p.rows;
        sbase = p.sscale_off + scale_idx * slices;
        top = mem[nb + sbase];
        for (var r = 1u; r < slices; r++) {
            top = max(top, mem[nb + sbase + r]);
        }
        if (wid.x == 0u && lid.x == 0u && lid.y == 0u) {
            mem[nb + p.aux_off + scale_idx] = top;
        }
    }
    // the sums over this invocation's rows in scalars and a vector, copied into v after the loop: v is
    // indexed at run-time positions (v[10 + k]), and on lavapipe an array indexed so stays in memory
    var s_sum = 0.0;
    var lm_max = NO_TERM;
    var s_sq = 0.0;
    var n_sat = 0.0;
    var n_live = 0.0;
    var lm_sum = 0.0;
    var n_nan = 0.0;
    var xs = vec4<f32>(0.0);
    if (valid) {
        for (var b = lid.y; b < p.m; b += SLICES) {
            var s = mem[nb + a_off + b * p.ldc + n];
            // ĝ only where it is read (a bias-only reduction, such as the layered head's, has none)
            var g = 0.0;
            if (stats || rescale) {
                g = mem[nb + b_off + b * p.ldc + n];
            }
            if (rescale) {
                let d = i32(mem[nb + sbase + b / p.rows] - top);
                if (d != 0) {
                    s = ldexp_safe(s, d);
                    g = ldexp_safe(g, d);
                    mem[nb + a_off + b * p.ldc + n] = s;
                    mem[nb + b_off + b * p.ldc + n] = g;
                }
            }
            s_sum += s;
            if (stats) {
                s_sq += s * s;
                act = esum_add_sq(act, mem[nb + c_off + b * p.ldc + n]);
                gsq = esum_add_sq(gsq, g);
                let z = mem[nb + z_off + b * p.ldc + n];
                let sl = act_slope(z, net_act());
                // sl.m split once, for |f'| and for the mean's term
                let ms = split_pow2(sl.m);
                slopes = esum_add_term(slopes, ms.x, ms.y + f32(sl.k), is_nan(sl.m));
                if (sl.k < 0 || abs(sl.m) < sat_below) { n_sat += 1.0; }
                if (!exact_zero_slope(z, net_act())) { n_live += 1.0; }
                if (is_nan(g) || is_nan(sl.m)) {
                    n_nan += 1.0;
                } else {
                    // |ĝ f'| 2^-K by its binary exponent (esum_add; (lm_max, lm_sum) is its state)
                    let mg = split_pow2(g);
                    if (mg.x != 0.0 && ms.x != 0.0) {
                        let e = esum_add(vec3<f32>(lm_max, lm_sum, 0.0), mg.x * ms.x,
                                         mg.y + ms.y + f32(sl.k - k_shift));
                        lm_max = e.x;
                        lm_sum = e.y;
                    }
                }
            }
            for (var k = 0u; k < d_in; k++) {
                xs[k] += s * mem[nb + p.x_off + b * p.d_in + k];
            }
        }
    }
    v[0] = s_sum;
    v[1] = lm_max;
    v[2] = s_sq;
    v[4] = n_sat;
    v[5] = n_live;
    v[6] = lm_sum;
    v[7] = n_nan;
    for (var k = 0u; k < MAX_D_IN; k++) { v[10u + k] = xs[k]; }
    v[3] = lsum_log2(act);
    v[8] = lsum_log2(gsq);
    v[9] = lsum_log2(slopes);
    for (var q = 0u; q < NVALS; q++) {
        part[(q * SLICES + lid.y) * UNITS + lid.x] = v[q];
    }
    // with one slice every invocation reads back only what it wrote: no barrier (on lavapipe a barrier
    // makes the shader a coroutine and keeps every value live across it in memory)
    if (SLICES > 1u) {
        workgroupBarrier();
    }
    if (lid.y != 0u || !valid) {
        return;
    }
    for (var q = 0u; q < NVALS; q++) {
        if (q == 1u || q == 3u || q == 6u || q == 8u || q == 9u) { continue; }
        var total = 0.0;
        for (var y = 0u; y < SLICES; y++) { total += part[(q * SLICES + y) * UNITS + lid.x]; }
        v[q] = total;
    }
    // the mean's sum: the largest exponent over slices, then the slices' sums rescaled to it
    var mx = NO_TERM;
    for (var y = 0u; y < SLICES; y++) { mx = max(mx, part[(SLICES + y) * UNITS + lid.x]); }
    var sum = 0.0;
    for (var y = 0u; y < SLICES; y++) {
        let m_y = part[(SLICES + y) * UNITS + lid.x];
        if (m_y > NO_TERM) { sum += part[(6u * SLICES + y) * UNITS + lid.x] * exp2(m_y - mx); }
    }
    var act_sum = lsum_new();
    var g_sum = lsum_new();
    var sl_sum = lsum_new();
    for (var y = 0u; y < SLICES; y++) {
        act_sum = lsum_add(act_sum, part[(3u * SLICES + y) * UNITS + lid.x]);
        g_sum = lsum_add(g_sum, part[(8u * SLICES + y) * UNITS + lid.x]);
        sl_sum = lsum_add(sl_sum, part[(9u * SLICES + y) * UNITS + lid.x]);
    }
    var scale = i32(top);
    if (!rescale) {
        scale = i32(mem[nb + p.aux_off + scale_idx]);
    }
    let acc = (p.flags & FLAG_ACCUMULATE) != 0u;
    let db = ldexp_safe(v[0], scale);
    if (p.g_off != NONE) {
        if (acc) { mem[nb + p.g_off + n] += db; } else { mem[nb + p.g_off + n] = db; }
    }
    for (var k = 0u; k < d_in; k++) {
        let o = p.res_off + n * p.d_in + k;
        let g = ldexp_safe(v[10u + k], scale);
        if (acc) { mem[nb + o] += g; } else { mem[nb + o] = g; }
    }
    if (stats) {
        var log2_mean = log2(sum) + mx - log2(f32(p.m));
        if (v[7] > 0.0) {
            log2_mean = f32_nan();   // NaN
        } else if (mx <= NO_TERM) {
            log2_mean = f32_neg_inf();   // −∞: an exact zero
        }
        mem[nb + ust_off + n] = log2_mean;
        let u = upart_off + UPART * n;
        mem[nb + u] = v[2];
        mem[nb + u + 1u] = lsum_log2(act_sum);
        mem[nb + u + 2u] = v[4];
        mem[nb + u + 3u] = select(1.0, 0.0, v[5] > 0.0);
        mem[nb + u + 4u] = lsum_log2(g_sum);
        mem[nb + u + 5u] = lsum_log2(sl_sum);
    }
}
