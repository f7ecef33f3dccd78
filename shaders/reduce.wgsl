// Reductions after the backward pass.
// layer_stats: one workgroup of 64 invocations (one 8-lane subgroup on CPU adapters, LS) per layer l
//   (wid.x): sums the weight-gradient partials
//   mem[part_off + l*m .. + m] (log2 of workgroup sums) and the per-unit partials mem[upart_off + l*UPART*n ..]
//   (n units) into the layer's record mem[c_off + LAYER_RECORD*l ..] =
//   [log2 scale, log2 Σ acc², Σ ŝ², log2 Σ a², #saturated, #dead, log2 Σ ĝ², K, log2 Σ |f'|]
//   (log2 of 0 is NO_TERM; K the layer's slope shift, so ĝ's scale is the layer's minus K)
//   (log2 scale of layer l+1 is mem[aux_off + l + 1]; layers are 1-based in the scales array).
//   Workgroup 0 also counts the step, mem[step_off] += 1, unless step_off is NONE (gradient without update),
//   and combines sumsq_partial's p.count partials at res_off (dispatched before) into the global norm
//   (M, r), stored at aux2_off (for the update's clip) and at ust_off (the statistics block).
//   Each workgroup also clears its layer's slope-exponent slot maxes[k_base + l + 1] for the next forward.
//   With p.count == 0 (a small gradient: src/gpu/program.rs `norm_in_stats`) no sumsq_partial runs: the
//   grid has one workgroup more than there are layers (p.layers), which sums the squares of the p.k
//   gradients at a_off as sumsq_partial's one workgroup would, stores the pair where it would, combines it
//   as workgroup 0 combines the partials, and counts the step in workgroup 0's place (stats_norm).
// The global norm ‖g‖ over mem[a_off .. a_off + count] without overflow of the squares (a gradient of 1e20
// squares to Inf in f32): as a pair (M, r) with ‖g‖ = M · r, M the largest |g|.
// sumsq_partial: up to 256 workgroups of SQ_WG invocations (as many as the size asks for), each
//   (max |g|, Σ (g / max)²) over its share -> mem[part_off + 2 wg ..].
//   layer_stats' workgroup 0 combines them into (M, r) (global_norm; no dispatch of its own).

// layer_stats runs 64 invocations per workgroup (one workgroup per layer), or one subgroup where subgroups
// are 8 lanes wide (lanes.wgsl, CPU adapters): no workgroup barrier, which on lavapipe turns a kernel into
// a coroutine that keeps its live values in memory (and costs a switch per SIMD group)
const LS: u32 = select(64u, LANES, LANES > 1u);
// layer_stats' seven partial results per invocation (eight slots each), added up one lane per result
var<workgroup> lred: array<f32, 512>;

// Values per sumsq_partial workgroup at its part_off (two used): a vec4 each, since module reduce4 is on
// the vec4 view, where a scalar store rewrites its whole vec4 and two workgroups must not share one. Keep
// in sync with GPART_STRIDE in src/gpu/layout.rs.
const GPART_STRIDE: u32 = 4u;

// The global norm (M, r) from sumsq_partial's `count` partials (max |g|, Σ (g / max)²) at `parts`: M the
// largest partial maximum, r = sqrt(Σ partial sums · (max / M)²), NaN where any partial is. One invocation
// adds them up in order (there are few: one per 64k parameters).
fn global_norm(parts: u32, count: u32) -> vec2<f32> {
    var big = 0.0;
    for (var w = 0u; w < count; w++) {
        big = max(big, ld(nb + parts + GPART_STRIDE * w));
    }
    var total = 0.0;
    for (var w = 0u; w < count; w++) {
        let m_w = ld(nb + parts + GPART_STRIDE * w);
        let s_w = ld(nb + parts + GPART_STRIDE * w + 1u);
        let f = m_w / big;
        total += select(select(0.0, s_w * f * f, m_w > 0.0), s_w, is_nan(s_w));
    }
    return vec2<f32>(big, sqrt(total));
}

@compute @workgroup_size(LS)
fn layer_stats(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    if (p.count == 0u && wid.x == p.layers) {
        stats_norm(t);
        return;
    }
    let l = wid.x;
    // log2 Σ acc² from the per-workgroup log2 partials
    var gw = lsum_new();
    for (var i = t; i < p.m; i += LS) { gw = lsum_add(gw, ld(nb + p.part_off + l * p.m + i)); }
    // per unit: [Σ ŝ², log2 Σ a², #saturated, dead]
    var vals: array<f32, 3>;
    for (var q = 0u; q < 3u; q++) { vals[q] = 0.0; }
    var act = lsum_new();
    var gsq = lsum_new();
    var slopes = lsum_new();
    for (var u = t; u < p.n; u += LS) {
        let base = p.upart_off + (l * p.n + u) * UPART;
        vals[0] += ld(nb + base);
        act = lsum_add(act, ld(nb + base + 1u));
        gsq = lsum_add(gsq, ld(nb + base + 4u));
        slopes = lsum_add(slopes, ld(nb + base + 5u));
        vals[1] += ld(nb + base + 2u);
        vals[2] += ld(nb + base + 3u);
    }
    if (LANES > 1u) {
        // one subgroup: the lanes' results through subgroup shuffles
        let r_gw = lane_log2_sum(lsum_log2(gw));
        let r_act = lane_log2_sum(lsum_log2(act));
        let r_gsq = lane_log2_sum(lsum_log2(gsq));
        let r_slopes = lane_log2_sum(lsum_log2(slopes));
        let r_s2 = lane_sum(vals[0]);
        let r_sat = lane_sum(vals[1]);
        let r_dead = lane_sum(vals[2]);
        if (t == 0u) {
            layer_record(l, array<f32, 7>(r_gw, r_act, r_gsq, r_slopes, r_s2, r_sat, r_dead));
        }
        return;
    }
    // every result at once, one invocation per result (the four log-domain sums, then the three plain
    // ones): two barriers where a reduction per result cost thirty, each dear on a software adapter.
    // Invocation r < 7 reads column r and writes slot r of row 0 (its own column) when done.
    let row = t * 8u;
    lred[row] = lsum_log2(gw);
    lred[row + 1u] = lsum_log2(act);
    lred[row + 2u] = lsum_log2(gsq);
    lred[row + 3u] = lsum_log2(slopes);
    lred[row + 4u] = vals[0];
    lred[row + 5u] = vals[1];
    lred[row + 6u] = vals[2];
    workgroupBarrier();
    if (t < 4u) {
        var st = lsum_new();
        for (var i = 0u; i < LS; i++) { st = lsum_add(st, lred[i * 8u + t]); }
        lred[t] = lsum_log2(st);
    } else if (t < 7u) {
        var total = 0.0;
        for (var i = 0u; i < LS; i++) { total += lred[i * 8u + t]; }
        lred[t] = total;
    }
    workgroupBarrier();
    if (t == 0u) {
        layer_record(l, array<f32, 7>(lred[0], lred[1], lred[2], lred[3], lred[4], lred[5], lred[6]));
    }
}

// Layer l's record from its seven sums r = [log2 Σ acc², log2 Σ a², log2 Σ ĝ², log2 Σ |f'|, Σ ŝ², #saturated,
// #dead] (one invocation); layer 0's also counts the step and stores the global norm.
fn layer_record(l: u32, r: array<f32, 7>) {
    let o = p.c_off + LAYER_RECORD * l;
    st(nb + o, ld(nb + p.aux_off + l + 1u));
    st(nb + o + 1u, r[0]);
    st(nb + o + 2u, r[4]);
    st(nb + o + 3u, r[1]);
    st(nb + o + 4u, r[5]);
    st(nb + o + 5u, r[6]);
    st(nb + o + 6u, r[2]);
    st(nb + o + 7u, f32(slope_shift(l + 1u)));
    st(nb + o + 8u, r[3]);
    if (l == 0u && p.count > 0u) {
        count_step_and_norm(p.count);
    }
    atomicStore(&maxes[mb + p.k_base + l + 1u], 0u);
}

// The step counted (mem[step_off] += 1, unless NONE) and the global norm combined from `count` partials at
// res_off, stored at aux2_off (for the update's clip) and ust_off (the statistics block); one invocation.
fn count_step_and_norm(count: u32) {
    if (p.step_off != NONE) {
        st(nb + p.step_off, ld(nb + p.step_off) + 1.0);
    }
    let norm = global_norm(p.res_off, count);
    st(nb + p.aux2_off, norm.x);
    st(nb + p.aux2_off + 1u, norm.y);
    st(nb + p.ust_off, norm.x);
    st(nb + p.ust_off + 1u, norm.y);
}

// layer_stats' extra workgroup (p.count == 0): sumsq_partial's pass over the gradient as one workgroup of
// LS invocations, the same values in the same order where LS is SQ_WG (8-lane subgroups); the pair goes to
// res_off, then count_step_and_norm with that one partial. Scalar loads (this module is on mem.wgsl): the
// gradients it is chosen for are small.
fn stats_norm(t: u32) {
    var acc = vec3<f32>(0.0);
    let quads = p.k / 4u;
    for (var q = t; q < quads; q += LS) {
        for (var c = 0u; c < 4u; c++) {
            acc = sq_add(acc, ld(nb + p.a_off + 4u * q + c));
        }
    }
    for (var i = 4u * quads + t; i < p.k; i += LS) {
        acc = sq_add(acc, ld(nb + p.a_off + i));
    }
    var pair: vec2<f32>;
    if (LANES > 1u) {
        let top = lane_max_sum(acc.xz);
        pair = sq_pair(top, lane_sum(sq_rescaled(acc, top.x)));
    } else {
        let top = ls_max_sum(t, acc.xz);
        pair = sq_pair(top, ls_max_sum(t, vec2<f32>(0.0, sq_rescaled(acc, top.x))).y);
    }
    if (t == 0u) {
        st(nb + p.res_off, pair.x);
        st(nb + p.res_off + 1u, pair.y);
        count_step_and_norm(1u);
    }
}

// (max of .x, sum of .y) over layer_stats' LS invocations through workgroup memory (the portable build);
// every invocation calls it and adds the LS pairs itself.
fn ls_max_sum(t: u32, v: vec2<f32>) -> vec2<f32> {
    lred[2u * t] = v.x;
    lred[2u * t + 1u] = v.y;
    workgroupBarrier();
    var acc = vec2<f32>(0.0);
    for (var i = 0u; i < LS; i++) {
        acc = vec2<f32>(max(acc.x, lred[2u * i]), acc.y + lred[2u * i + 1u]);
    }
    workgroupBarrier();
    return acc;
}

// sumsq_partial's per-invocation pairs, added up in two levels (16 invocations add 16 pairs each, then
// every invocation the 16 results): two barriers per reduction where a tree takes eight, each dear on a
// software adapter
var<workgroup> sred: array<vec2<f32>, 256>;

// sumsq_partial's workgroup: 256 invocations, or one subgroup where subgroups are 8 lanes wide (as LS)
const SQ_WG: u32 = select(256u, LANES, LANES > 1u);

// (max of .x, sum of .y) over the workgroup's 256 invocations; every invocation calls it.
fn wg_max_sum(t: u32, v: vec2<f32>) -> vec2<f32> {
    sred[t] = v;
    workgroupBarrier();
    if (t < 16u) {
        var acc = vec2<f32>(0.0);
        for (var i = 16u * t; i < 16u * t + 16u; i++) {
            acc = vec2<f32>(max(acc.x, sred[i].x), acc.y + sred[i].y);
        }
        sred[16u * t] = acc;
    }
    workgroupBarrier();
    var total = vec2<f32>(0.0);
    for (var i = 0u; i < 256u; i += 16u) {
        total = vec2<f32>(max(total.x, sred[i].x), total.y + sred[i].y);
    }
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(SQ_WG)
fn sumsq_partial(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
    net_enter(wid.z);
    let stride = SQ_WG * nwg.x;
    // one pass: each invocation's (max |g|, Σ (g / max)², #NaN), four gradients per load (module reduce4
    // is on the vec4 view; a_off is a multiple of 4), then the last count % 4 one at a time
    var acc = vec3<f32>(0.0);
    let quads = p.count / 4u;
    for (var q = wid.x * SQ_WG + t; q < quads; q += stride) {
        let v = ld4(nb + p.a_off + 4u * q);
        for (var c = 0u; c < 4u; c++) {
            acc = sq_add(acc, v[c]);
        }
    }
    for (var i = 4u * quads + wid.x * SQ_WG + t; i < p.count; i += stride) {
        acc = sq_add(acc, ld(nb + p.a_off + i));
    }
    // the workgroup's maximum (and NaN count), then every sum brought to it: through subgroup shuffles
    // where the workgroup is one subgroup
    var pair: vec2<f32>;
    if (LANES > 1u) {
        let top = lane_max_sum(acc.xz);
        pair = sq_pair(top, lane_sum(sq_rescaled(acc, top.x)));
    } else {
        let top = wg_max_sum(t, acc.xz);
        pair = sq_pair(top, wg_max_sum(t, vec2<f32>(0.0, sq_rescaled(acc, top.x))).y);
    }
    if (t == 0u) {
        st(nb + p.part_off + GPART_STRIDE * wid.x, pair.x);
        st(nb + p.part_off + GPART_STRIDE * wid.x + 1u, pair.y);
    }
}

// An invocation's Σ (g / max)² (its sq_add state acc) brought to the workgroup's largest |g|, `top`
fn sq_rescaled(acc: vec3<f32>, top: f32) -> f32 {
    if (acc.x > 0.0) {
        let f = acc.x / top;
        return acc.y * f * f;
    }
    return 0.0;
}

// A workgroup's partial (max |g|, Σ (g / max)²) from its (max |g|, #NaN) and its rescaled sums' total: a
// NaN gradient makes the sum, and so the norm, NaN
fn sq_pair(top: vec2<f32>, total: f32) -> vec2<f32> {
    return vec2<f32>(top.x, select(total, f32_nan(), top.y > 0.0));
}
