// The per-row path's per-unit statistics on CPU adapters, four units per invocation (module colreduce4, on
// mem4.wgsl): what colreduce.wgsl computes for the fused and per-row paths (read it first), specialised to
// what the per-row path asks of it — FLAG_STATS and FLAG_RESCALE set, no bias gradient at g_off (NONE; an
// MLP's biases come with FLAG_BIAS, below), no input weights (res_off NONE) — for widths that are a
// multiple of 4. lavapipe runs every storage access
// at a varying address as a loop over the SIMD lanes, one scalar access per lane and component, so a vec4
// costs about what two scalars do: one invocation per unit paid five such loops per value, this about one
// and a half. The arithmetic per value is the same (the lanes are SIMD lanes either way).
//
// `rows4_bare` and `rows4_packed_bare` (a step whose statistics nobody reads: docs/DESIGN.md, Bare steps)
// do only the rescale of ŝ, the layer's scale and the bias gradients.
// Grid (`rows4`): x = ceil(W / 32) workgroups of 8 invocations (invocation i owns units 4i .. 4i + 3 of its
// 32), y = the layer offset (as colreduce.wgsl), z = the net; `rows4_packed` below for narrower layers.
// Outputs per unit n, as colreduce.wgsl: log2 mean_b |ŝ[b, n]| at ust_off + n and the six partials at
// upart_off + UPART n; the rows of a slice below the layer's largest scale are brought to it in place, and
// the layer's scale goes to mem[aux_off + layer]. Only ŝ is written back (the weight gradients and the δ
// read-back take it): after this pass ĝ is read only for its exact zeros (histograms), which a scale would
// keep but an underflow to zero would not.
// With FLAG_BIAS (an MLP: one layer per offset) also the layer's bias gradients 2^scale · Σ_b ŝ[b, n], the
// sum over the rows in order as wgrad.wgsl's bias column took it (which then leaves it out): layer 1's at
// gb_first + n, layer l's after at gb_rec + (l − 2) w_step + n.

// units per workgroup
const CR4_UNITS: u32 = 32u;

// The running per-unit sums over the batch (one per unit of the invocation's four)
struct UnitSums {
    // Σ ŝ²
    s_sq: f32,
    // #saturated, #live (f' not exactly 0), #NaN (ĝ or f')
    n_sat: f32,
    n_live: f32,
    n_nan: f32,
    // esum_add states (common.wgsl) of a², ĝ², |f'| and |ĝ f'| 2^-K (the mean |ŝ|'s terms)
    act: vec3<f32>,
    gsq: vec3<f32>,
    slopes: vec3<f32>,
    mean: vec3<f32>,
}

fn sums_new() -> UnitSums {
    return UnitSums(0.0, 0.0, 0.0, 0.0, lsum_new(), lsum_new(), lsum_new(), lsum_new());
}

// One row's values of a unit added in: ŝ (s), ĝ (g), the layer output (a) and z, the layer's slope shift
fn sums_add(q: UnitSums, s: f32, g: f32, a: f32, z: f32, k_shift: i32, sat_below: f32) -> UnitSums {
    var r = q;
    r.s_sq += s * s;
    r.act = esum_add_sq(r.act, a);
    r.gsq = esum_add_sq(r.gsq, g);
    let sl = act_slope(z, net_act());
    // sl.m split once, for |f'| and for the mean's term
    let ms = split_pow2(sl.m);
    r.slopes = esum_add_term(r.slopes, ms.x, ms.y + f32(sl.k), is_nan(sl.m));
    if (sl.k < 0 || abs(sl.m) < sat_below) { r.n_sat += 1.0; }
    if (!exact_zero_slope(z, net_act())) { r.n_live += 1.0; }
    let nan = is_nan(g) || is_nan(sl.m);
    r.n_nan += select(0.0, 1.0, nan);
    let mg = split_pow2(g);
    let mean = esum_add(r.mean, mg.x * ms.x, mg.y + ms.y + f32(sl.k - k_shift));
    r.mean = select(r.mean, mean, !nan && mg.x != 0.0 && ms.x != 0.0);
    return r;
}

// log2 of the mean |ŝ| over `rows` rows: NaN if any term was NaN, −∞ for an exact zero
fn sums_log2_mean(q: UnitSums, rows: u32) -> f32 {
    if (q.n_nan > 0.0) {
        return f32_nan();
    }
    if (q.mean.x <= NO_TERM) {
        return f32_neg_inf();
    }
    return log2(q.mean.y) + q.mean.x - log2(f32(rows));
}

// The six partials of colreduce.wgsl (UPART) of one unit (its one slice's values: the log-domain sum
// over slices that colreduce.wgsl takes gives a single term back unchanged)
fn sums_parts(q: UnitSums) -> array<f32, 6> {
    return array<f32, 6>(q.s_sq, lsum_log2(q.act), q.n_sat, select(1.0, 0.0, q.n_live > 0.0), lsum_log2(q.gsq),
                         lsum_log2(q.slopes));
}

@compute @workgroup_size(8)
fn rows4(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    // the last invocations of a width that is not a multiple of 32 take the last four units again and
    // store nothing (a divergent early return would put the loop below under a partial mask)
    let n_own = wid.x * CR4_UNITS + 4u * t;
    unit_sums(wid.z, wid.y, min(n_own, p.n - 4u), n_own < p.n, wid.x == 0u && t == 0u, true);
}

// `rows4` without the statistics, for a training step whose statistics nobody reads (src/gpu/program.rs,
// `without_statistics`): the rescale, the layer's scale and the bias gradients only.
@compute @workgroup_size(8)
fn rows4_bare(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let n_own = wid.x * CR4_UNITS + 4u * t;
    unit_sums(wid.z, wid.y, min(n_own, p.n - 4u), n_own < p.n, wid.x == 0u && t == 0u, false);
}

// Widths below 32 (a multiple of 4): a workgroup's 32 units run on across layers (grid x = ceil(L W / 32),
// y = 1), so that every lane has four; the layer is then per lane, and so are its scale loads.
@compute @workgroup_size(8)
fn rows4_packed(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    packed_sums(wid.z, t, wid.x, true);
}

// `rows4_packed` without the statistics (as `rows4_bare`).
@compute @workgroup_size(8)
fn rows4_packed_bare(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    packed_sums(wid.z, t, wid.x, false);
}

// The units of invocation t of workgroup `group` on the packed grid.
fn packed_sums(net: u32, t: u32, group: u32, stats: bool) {
    let own = group * CR4_UNITS + 4u * t;
    let total = p.layers * p.n;
    let g = min(own, total - 4u);
    let l = g / p.n;
    let n0 = g - l * p.n;
    unit_sums(net, l, n0, own < total, n0 == 0u, stats);
}

// Units n0 .. n0 + 3 of the dispatch's layer offset `lz` (net `net`); `valid`: they are this invocation's to
// store; `first`: it also stores the layer's scale; `stats` (a constant where called, so the compiler drops
// the statistics' code without it): the statistics too, else only the rescale of ŝ (ĝ is then left at its
// rows' scales: only the statistics read it) and the bias gradients.
fn unit_sums(net: u32, lz: u32, n0: u32, valid: bool, first: bool, stats: bool) {
    net_enter(net);
    let zo = lz * p.m * p.ldc;
    let scale_idx = p.scale_idx + lz;
    let sat_below = SATURATION_THRESHOLD * act_peak(net_act());
    let k_shift = slope_shift(scale_idx);
    // the layer's largest slice scale, and each slice's rows brought to it
    let slices = (p.m + p.rows - 1u) / p.rows;
    let sbase = nb + p.sscale_off + scale_idx * slices;
    var top = ld(sbase);
    for (var r = 1u; r < slices; r++) {
        top = max(top, ld(sbase + r));
    }
    if (first && valid) {
        st(nb + p.aux_off + scale_idx, top);
    }
    var u0 = sums_new();
    var u1 = sums_new();
    var u2 = sums_new();
    var u3 = sums_new();
    var bias = vec4<f32>(0.0);
    // the row's slice, counted instead of divided (a division by a run-time value is dear on lavapipe)
    var slice = 0u;
    var in_slice = 0u;
    for (var b = 0u; b < p.m; b++) {
        let at = nb + zo + b * p.ldc + n0;
        var s = ld4(p.a_off + at);
        let d = i32(ld(sbase + slice) - top);
        if (d != 0) {
            s = ldexp_safe4(s, d);
            if (valid) {
                st4(p.a_off + at, s);
            }
        }
        bias += s;
        if (stats) {
            var g = ld4(p.b_off + at);
            if (d != 0) {
                g = ldexp_safe4(g, d);
            }
            let a = ld4(p.c_off + at);
            let z = ld4(p.z_off + at);
            u0 = sums_add(u0, s.x, g.x, a.x, z.x, k_shift, sat_below);
            u1 = sums_add(u1, s.y, g.y, a.y, z.y, k_shift, sat_below);
            u2 = sums_add(u2, s.z, g.z, a.z, z.z, k_shift, sat_below);
            u3 = sums_add(u3, s.w, g.w, a.w, z.w, k_shift, sat_below);
        }
        in_slice += 1u;
        if (in_slice == p.rows) {
            in_slice = 0u;
            slice += 1u;
        }
    }
    if (!valid) {
        return;
    }
    if ((p.flags & FLAG_BIAS) != 0u) {
        var gb = p.gb_first;
        if (scale_idx >= 2u) {
            gb = p.gb_rec + (scale_idx - 2u) * p.w_step;
        }
        st4(nb + gb + n0, ldexp_safe4(bias, i32(top)));
    }
    if (!stats) {
        return;
    }
    st4(nb + p.ust_off + lz * p.n + n0, vec4<f32>(sums_log2_mean(u0, p.m), sums_log2_mean(u1, p.m),
                                                     sums_log2_mean(u2, p.m), sums_log2_mean(u3, p.m)));
    // the four units' partials are 24 consecutive values at a multiple of 4: six vec4 stores
    let q0 = sums_parts(u0);
    let q1 = sums_parts(u1);
    let q2 = sums_parts(u2);
    let q3 = sums_parts(u3);
    let u = nb + p.upart_off + UPART * (lz * p.n + n0);
    st4(u, vec4<f32>(q0[0], q0[1], q0[2], q0[3]));
    st4(u + 4u, vec4<f32>(q0[4], q0[5], q1[0], q1[1]));
    st4(u + 8u, vec4<f32>(q1[2], q1[3], q1[4], q1[5]));
    st4(u + 12u, vec4<f32>(q2[0], q2[1], q2[2], q2[3]));
    st4(u + 16u, vec4<f32>(q2[4], q2[5], q3[0], q3[1]));
    st4(u + 20u, vec4<f32>(q3[2], q3[3], q3[4], q3[5]));
}
