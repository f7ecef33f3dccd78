// The gated cells' forward and backward (LSTM, GRU; the record, regions and equations of gated.wgsl) shaped
// for CPU adapters as stack_rows.wgsl shapes the vanilla RNN: one invocation per batch row, carried through
// the steps l_from..=l_to of the chunk. An invocation reads back only the rows it wrote itself, which
// program order makes visible to it, so neither kernel has a barrier: on lavapipe a barrier in a step loop
// made every step several times slower however little it did (docs/DESIGN.md, Performance). A block is
// four units of every gate: slot g holds gate g's units u0..u0+3, so a unit's gates share a column and the
// cell update is four units wide. The weights, the same in every lane, come through fwd_slots / bwd_slots
// (stack_rows.wgsl: loaded once per subgroup and swapped between lanes where LANES is 8).
// Needs H a multiple of 4 (every row of every region and every weight row starts on a vec4; the engine
// chooses these kernels only then). Rows past the batch (the last subgroup's) compute the last row again
// and store nothing.

// The first unit of each gate's block at u0 (a GRU's fourth slot repeats its third gate).
fn gate_slots(u0: u32) -> vec4<u32> {
    let h = p.n;
    return vec4<u32>(u0, h + u0, 2u * h + u0, min(3u, p.k - 1u) * h + u0);
}

fn sig4(v: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(sigmoid(v.x), sigmoid(v.y), sigmoid(v.z), sigmoid(v.w));
}

// σ'(v) per component, in a form that stays nonzero far into the tails
fn dsig4(v: vec4<f32>) -> vec4<f32> {
    return sig4(v) * sig4(-v);
}

fn act4(v: vec4<f32>) -> vec4<f32> {
    let a = net_act();
    return vec4<f32>(act_f(v.x, a), act_f(v.y, a), act_f(v.z, a), act_f(v.w, a));
}

fn act_d4(v: vec4<f32>) -> vec4<f32> {
    let a = net_act();
    return vec4<f32>(act_df(v.x, a), act_df(v.y, a), act_df(v.z, a), act_df(v.w, a));
}

// Step t of row b: the blocks' pre-activations, the cell state and h_t (`recur`: t ≥ 2, a constant where
// the kernel calls it, so step 1 carries no recurrent block).
fn rows_cell_step(t: u32, b: u32, live: bool, recur: bool) {
    let h = p.n;
    let gh = p.k * h;
    let lstm = p.mode == 1u;
    let xrow = p.x_off + (t - 1u) * p.x_step + b * p.d_in;
    let prev = max(t, 2u) - 1u;
    let hprev = step_row(p.c_off, prev, b, h);
    let pre = nb + step_row(p.z_off, t, b, gh);
    let aux = nb + step_row(p.res_off, t, b, h);
    let out = nb + step_row(p.c_off, t, b, h);
    for (var u0 = 0u; u0 < h; u0 += 4u) {
        let js = gate_slots(u0);
        var xa = gate_values(p.b_first, js, 1u, 0u);
        for (var k = 0u; k < p.d_in; k++) {
            xa += gate_values(p.w_in, js, p.d_in, k) * ld(nb + xrow + k);
        }
        var ha = mat4x4<f32>();
        if (recur) {
            ha = fwd_slots(vec4<u32>(hprev), p.w_rec, h, h, js, vec4<u32>(3u), true);
        }
        if (lstm) {
            let a = xa + ha;
            var c_prev = vec4<f32>(0.0);
            if (recur) {
                c_prev = ld4(nb + step_row(p.res_off, prev, b, h) + u0);
            }
            let c = sig4(a[1]) * c_prev + sig4(a[0]) * act4(a[2]);
            if (live) {
                st4(pre + u0, a[0]);
                st4(pre + h + u0, a[1]);
                st4(pre + 2u * h + u0, a[2]);
                st4(pre + 3u * h + u0, a[3]);
                st4(aux + u0, c);
                st4(out + u0, sig4(a[3]) * act4(c));
            }
        } else {
            let ar = xa[0] + ha[0];
            let az = xa[1] + ha[1];
            let z = sig4(az);
            let an = xa[2] + sig4(ar) * ha[2];
            var hp = vec4<f32>(0.0);
            if (recur) {
                hp = ld4(nb + hprev + u0);
            }
            if (live) {
                st4(pre + u0, ar);
                st4(pre + h + u0, az);
                st4(pre + 2u * h + u0, an);
                st4(aux + u0, ha[2]);
                st4(out + u0, (1.0 - z) * act4(an) + z * hp);
            }
        }
    }
}

@compute @workgroup_size(8)
fn gated_rows_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    net_enter(gid.z);
    lane_id = lid;
    let live = gid.x < p.m;
    let b = min(gid.x, p.m - 1u);
    var t = p.l_from;
    if (t == 1u) {
        rows_cell_step(1u, b, live, false);
        t = 2u;
    }
    for (; t <= p.l_to; t++) {
        rows_cell_step(t, b, live, true);
    }
    if (p.l_to == p.layers && live) {
        let top = step_row(p.c_off, p.layers, b, p.n);
        for (var o = 0u; o < p.d_out; o++) {
            st(nb + p.add_off + b * p.d_out + o, ld(nb + p.b_head + o) + dot4(top, 1u, p.w_head + o * p.n, 1u, p.n));
        }
    }
}

// One slot of rows_cell_back's first pass: units u..u + 3 of ∂L/∂h_t (g_in: from the blocks above) and an
// LSTM's ∂L/∂c_t, stored where `live`; returns the running NaN-propagating max magnitude after mx.
fn back_slot(u: u32, g_in: vec4<f32>, b: u32, above: u32, pre_above: u32, g_row: u32, c_row: u32, live: bool,
             top: bool, lstm: bool, mx: f32) -> f32 {
    let h = p.n;
    var g = g_in;
    var cin = vec4<f32>(0.0);
    if (!top) {
        let keep = sig4(ld4(pre_above + h + u));
        if (lstm) {
            cin = ld4(nb + step_row(p.top_off, above, b, h) + u) * keep;
        } else {
            g += ld4(nb + step_row(p.g_off, above, b, h) + u) * keep;
        }
    }
    if (live) {
        st4(g_row + u, g);
        st4(c_row + u, cin);
    }
    return abs_max(abs_max(mx, g, 3u), cin, 3u);
}

// Step t of row b's backpropagation through time (`top`: t = T, the errors come from the head; a constant
// where the kernel calls it). First ∂L/∂h_t (and an LSTM's ∂L/∂c_t) arriving from above at the scale of
// step t + 1, stored with the row's largest magnitude; then, divided by that magnitude's power of two, the
// blocks' errors, and the row's log2 scale at sscale_off + t·B + b.
fn rows_cell_back(t: u32, b: u32, live: bool, top: bool) {
    let h = p.n;
    let gh = p.k * h;
    let lstm = p.mode == 1u;
    let last = vec4<u32>(3u);
    let g_row = nb + step_row(p.g_off, t, b, h);
    let c_row = nb + step_row(p.top_off, t, b, h);
    let above = min(t + 1u, p.layers);
    let pre_above = nb + step_row(p.z_off, above, b, gh);
    var mx = 0.0;
    for (var u0 = 0u; u0 < h; u0 += 16u) {
        let js = slot_units(u0, h);
        var g: mat4x4<f32>;
        if (top) {
            g = bwd_slots(vec4<u32>(p.b_off + b * p.d_out), p.w_head, h, p.d_out, js, last, false);
        } else {
            g = bwd_slots(vec4<u32>(step_row(p.a_off, above, b, gh)), p.w_rec, h, gh, js, last, true);
        }
        // slot by slot, each named by a constant (a block indexed by a loop counter lives in memory on
        // lavapipe)
        mx = back_slot(js.x, g[0], b, above, pre_above, g_row, c_row, live, top, lstm, mx);
        mx = back_slot(js.y, g[1], b, above, pre_above, g_row, c_row, live, top, lstm, mx);
        mx = back_slot(js.z, g[2], b, above, pre_above, g_row, c_row, live, top, lstm, mx);
        mx = back_slot(js.w, g[3], b, above, pre_above, g_row, c_row, live, top, lstm, mx);
    }
    var e = 0;
    if (mx > 0.0 && mx <= 3.4e38) {
        e = frexp(mx).exp;
    }
    var s_above = 0.0;
    if (!top) {
        s_above = ld(nb + p.sscale_off + above * p.m + b);
    }
    let pre = nb + step_row(p.z_off, t, b, gh);
    let so = nb + step_row(p.a_off, t, b, gh);
    let aux = nb + step_row(p.res_off, t, b, h);
    let prev = max(t, 2u) - 1u;
    for (var u0 = 0u; u0 < h; u0 += 4u) {
        let g = ldexp_safe4(ld4(g_row + u0), -e);
        let cin = ldexp_safe4(ld4(c_row + u0), -e);
        if (lstm) {
            let ai = ld4(pre + u0);
            let af = ld4(pre + h + u0);
            let ag = ld4(pre + 2u * h + u0);
            let ao = ld4(pre + 3u * h + u0);
            let c = ld4(aux + u0);
            let c_before = select(vec4<f32>(0.0), ld4(nb + step_row(p.res_off, prev, b, h) + u0), t >= 2u);
            let dc = cin + g * sig4(ao) * act_d4(c);
            if (live) {
                st4(g_row + u0, g);
                st4(c_row + u0, dc);
                st4(so + u0, dc * act4(ag) * dsig4(ai));
                st4(so + h + u0, dc * c_before * dsig4(af));
                st4(so + 2u * h + u0, dc * sig4(ai) * act_d4(ag));
                st4(so + 3u * h + u0, g * act4(c) * dsig4(ao));
            }
        } else {
            let ar = ld4(pre + u0);
            let az = ld4(pre + h + u0);
            let an = ld4(pre + 2u * h + u0);
            let z = sig4(az);
            let hp = select(vec4<f32>(0.0), ld4(nb + step_row(p.c_off, prev, b, h) + u0), t >= 2u);
            let dn = g * (1.0 - z) * act_d4(an);
            if (live) {
                st4(g_row + u0, g);
                st4(c_row + u0, dn);
                st4(so + u0, dn * ld4(aux + u0) * dsig4(ar));
                st4(so + h + u0, g * (hp - act4(an)) * dsig4(az));
                st4(so + 2u * h + u0, dn * sig4(ar));
            }
        }
    }
    if (live) {
        st(nb + p.sscale_off + t * p.m + b, s_above + f32(e));
    }
}

@compute @workgroup_size(8)
fn gated_rows_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    net_enter(gid.z);
    lane_id = lid;
    let live = gid.x < p.m;
    let b = min(gid.x, p.m - 1u);
    var t = p.l_to;
    if (t == p.layers) {
        rows_cell_back(t, b, live, true);
        t -= 1u;
    }
    for (; t >= p.l_from && t >= 1u; t--) {
        rows_cell_back(t, b, live, false);
        if (t == 1u) {
            break;
        }
    }
}

// The weight and bias gradients summed over the steps l_from..=l_to, as gated.wgsl's gated_wgrad computes
// them (the same regions, scales and per-step partial sums), shaped for CPU adapters like wgrad.wgsl's
// main_direct: a workgroup is one subgroup of 8 invocations, each a block of 4 rows (of G·H) × 16 columns,
// the 8 of them 32 consecutive rows against the same 16 columns, so at each (step, batch row) the
// columns' values are loaded once per subgroup and swapped between the lanes, and a lane loads only its
// four errors. Grid x: the row blocks of 32; grid y: the column groups of 16, W_h's first (H / 16 rounded
// up), then [W_x | b]'s ((d_in + 1) / 16 rounded up), so a workgroup's side is uniform. The per-step
// log2 Σ (the step's W_h entries)² of a workgroup goes to part_off + (t-1)·count + workgroup.
// A vanilla RNN on the per-row path takes this kernel too, as a cell of one gate (p.k = 1: the error
// rows are ŝ, H per row).

// the eight invocations' partial sums (log2) where a workgroup is not one subgroup (the portable build)
var<workgroup> wsq: array<f32, 8>;

// A block of 4 rows × 16 columns: ri[q] holds row i's columns 4q..4q+3. Every access names its row and
// column vec4 by a constant (the helpers below): on lavapipe a block indexed by a loop counter lives in
// memory, each access a masked gather or scatter, where constant indices keep it in registers.
struct Block16 {
    r0: mat4x4<f32>,
    r1: mat4x4<f32>,
    r2: mat4x4<f32>,
    r3: mat4x4<f32>,
}

// m + s col: a row of a block gains s times the sixteen column values
fn row_outer(m: mat4x4<f32>, s: f32, col: mat4x4<f32>) -> mat4x4<f32> {
    let v = vec4<f32>(s);
    return mat4x4<f32>(fma(v, col[0], m[0]), fma(v, col[1], m[1]), fma(v, col[2], m[2]), fma(v, col[3], m[3]));
}

// blk + e ⊗ col: row i gains e[i] times the sixteen column values
fn block_outer(blk: Block16, e: vec4<f32>, col: mat4x4<f32>) -> Block16 {
    return Block16(row_outer(blk.r0, e.x, col), row_outer(blk.r1, e.y, col), row_outer(blk.r2, e.z, col),
                   row_outer(blk.r3, e.w, col));
}

// total + 2^sc blk
fn block_add_scaled(total: Block16, blk: Block16, sc: i32) -> Block16 {
    return Block16(total.r0 + ldexp_safe_mat4(blk.r0, sc), total.r1 + ldexp_safe_mat4(blk.r1, sc),
                   total.r2 + ldexp_safe_mat4(blk.r2, sc), total.r3 + ldexp_safe_mat4(blk.r3, sc));
}

// Gradient row j's sixteen entries at columns c0.. (ncols of them; zeros past them), as wgrad_load4 reads
fn wgrad_row(j: u32, c0: u32, ncols: u32, input_side: bool) -> mat4x4<f32> {
    return mat4x4<f32>(wgrad_load4(j, c0, ncols, input_side),
                       wgrad_load4(j, c0 + 4u, ncols - min(4u, ncols), input_side),
                       wgrad_load4(j, c0 + 8u, ncols - min(8u, ncols), input_side),
                       wgrad_load4(j, c0 + 12u, ncols - min(12u, ncols), input_side));
}

// The first ncols of gradient row j's sixteen entries at columns c0.., as wgrad_store4 writes them
fn wgrad_row_store(j: u32, c0: u32, ncols: u32, input_side: bool, m: mat4x4<f32>) {
    wgrad_store4(j, c0, ncols, input_side, m[0]);
    wgrad_store4(j, c0 + 4u, ncols - min(4u, ncols), input_side, m[1]);
    wgrad_store4(j, c0 + 8u, ncols - min(8u, ncols), input_side, m[2]);
    wgrad_store4(j, c0 + 12u, ncols - min(12u, ncols), input_side, m[3]);
}

// The 16 column values of row b at step t for this workgroup's columns c0.. (ncols of them; past them
// zeros): h_{t-1} on the recurrent side, x_t and a 1 for the bias on the input side.
fn wgrad_columns(t: u32, b: u32, c0: u32, ncols: u32, input_side: bool) -> mat4x4<f32> {
    var m = mat4x4<f32>();
    if (!input_side) {
        // vec4 q of the group is lane q's (the last whole vec4 repeated past ncols, then zeroed)
        let row = nb + step_row(p.c_off, t - 1u, b, p.n) + c0;
        let nq = ncols / 4u;
        let z = vec4<f32>(0.0);
        if (LANES == 8u) {
            let v = ld4(row + 4u * min(lane_id & 3u, nq - 1u));
            return mat4x4<f32>(select(z, lane_share4(v, 0u), 0u < nq), select(z, lane_share4(v, 1u), 1u < nq),
                               select(z, lane_share4(v, 2u), 2u < nq), select(z, lane_share4(v, 3u), 3u < nq));
        }
        return mat4x4<f32>(select(z, ld4(row), 0u < nq), select(z, ld4(row + 4u * min(1u, nq - 1u)), 1u < nq),
                           select(z, ld4(row + 4u * min(2u, nq - 1u)), 2u < nq),
                           select(z, ld4(row + 4u * min(3u, nq - 1u)), 3u < nq));
    }
    // lane s holds columns 2s and 2s + 1 of the group
    let xr = nb + p.x_off + (t - 1u) * p.x_step + b * p.d_in;
    if (LANES == 8u) {
        let c = 2u * lane_id;
        let v = vec4<f32>(input_column(xr, c0 + c, c < ncols), input_column(xr, c0 + c + 1u, c + 1u < ncols), 0.0, 0.0);
        return mat4x4<f32>(lane_pair(v, 0u, 1u), lane_pair(v, 2u, 3u), lane_pair(v, 4u, 5u), lane_pair(v, 6u, 7u));
    } else {
        for (var q = 0u; q < 4u; q++) {
            for (var c = 0u; c < 4u; c++) {
                m[q][c] = input_column(xr, c0 + 4u * q + c, 4u * q + c < ncols);
            }
        }
    }
    return m;
}

// Column j of [x | 1] for the row at xr (0 where not `inside`).
fn input_column(xr: u32, j: u32, inside: bool) -> f32 {
    let x = ld(xr + min(j, max(p.d_in, 1u) - 1u));
    return select(0.0, select(1.0, x, j < p.d_in), inside);
}

// (largest log2 term, Σ 2^(term − largest)) of the block's squared entries, as sq_pair_add builds it (NaN
// in the sum if any entry is NaN): scaled by the largest magnitude's power of two, exactly.
fn block_sq_pair(blk: Block16) -> vec2<f32> {
    let m = max(max(row_abs_max(blk.r0), row_abs_max(blk.r1)), max(row_abs_max(blk.r2), row_abs_max(blk.r3)));
    let nan = row_has_nan(blk.r0) || row_has_nan(blk.r1) || row_has_nan(blk.r2) || row_has_nan(blk.r3);
    let mx = max(max(m.x, m.y), max(m.z, m.w));
    if (nan) {
        return vec2<f32>(NO_TERM, f32_nan());
    }
    if (mx == 0.0) {
        return vec2<f32>(NO_TERM, 0.0);
    }
    let e = frexp(mx).exp;
    let s = row_rel_sq(blk.r3, e, row_rel_sq(blk.r2, e, row_rel_sq(blk.r1, e, row_rel_sq(blk.r0, e, 0.0))));
    return vec2<f32>(2.0 * f32(e), s);
}

// max |v| per component over a row's four vec4s (NaN aside: row_has_nan)
fn row_abs_max(m: mat4x4<f32>) -> vec4<f32> {
    return max(max(abs(m[0]), abs(m[1])), max(abs(m[2]), abs(m[3])));
}

fn row_has_nan(m: mat4x4<f32>) -> bool {
    return nan4(m[0]) || nan4(m[1]) || nan4(m[2]) || nan4(m[3]);
}

// whether any component is NaN (on the bits, as is_nan)
fn nan4(v: vec4<f32>) -> bool {
    return any((bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u));
}

// s + Σ (v 2^-e)² over a row's sixteen entries, its vec4s in order
fn row_rel_sq(m: mat4x4<f32>, e: i32, s: f32) -> f32 {
    var r = s;
    let k = vec4<i32>(-e);
    let v0 = ldexp(m[0], k);
    r += dot(v0, v0);
    let v1 = ldexp(m[1], k);
    r += dot(v1, v1);
    let v2 = ldexp(m[2], k);
    r += dot(v2, v2);
    let v3 = ldexp(m[3], k);
    r += dot(v3, v3);
    return r;
}

// log2 of the sum of the workgroup's eight sq_pair states (every invocation calls it; NaN if any is NaN,
// NO_TERM if none has a term): through shuffles where the workgroup is one subgroup, else through
// workgroup memory, each state as its log2 (lanes_off.wgsl's lane_pair_log2).
fn workgroup_pair_log2(lid: u32, st: vec2<f32>) -> f32 {
    if (LANES == 8u) {
        return lane_pair_log2(st);
    }
    wsq[lid] = lane_pair_log2(st);
    workgroupBarrier();
    var total = lsum_new();
    for (var s = 0u; s < 8u; s++) {
        total = lsum_add(total, wsq[s]);
    }
    workgroupBarrier();
    return lsum_log2(total);
}

@compute @workgroup_size(8)
fn gated_wgrad_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                    @builtin(num_workgroups) groups: vec3<u32>) {
    wgrad_rows(wid, lid, groups, true);
}

// gated_wgrad_rows without the per-step partial sums of squares (read only by the layer records, and the
// only barrier of the kernel), for a step whose statistics nobody reads (docs/DESIGN.md, Bare steps)
@compute @workgroup_size(8)
fn gated_wgrad_rows_bare(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32,
                         @builtin(num_workgroups) groups: vec3<u32>) {
    wgrad_rows(wid, lid, groups, false);
}

// gated_wgrad_rows' work; `stats` (a constant where called: the compiler drops the partial sums without it)
fn wgrad_rows(wid: vec3<u32>, lid: u32, groups: vec3<u32>, stats: bool) {
    net_enter(wid.z);
    lane_id = lid;
    let h = p.n;
    let gh = p.k * h;
    let rec_groups = (h + 15u) / 16u;
    let input_side = wid.y >= rec_groups;
    var c0 = wid.y * 16u;
    var ncols = min(16u, h - min(c0, h));
    if (input_side) {
        c0 = (wid.y - rec_groups) * 16u;
        ncols = min(16u, p.d_in + 1u - c0);
    }
    let first = (wid.x * 8u + lid) * 4u;
    let live = first < gh;
    let j0 = min(first, gh - 4u);
    // a GRU's candidate rows (2H..3H, whole blocks: H is a multiple of 4) take their input-side error
    // without r, at top_off
    let cand = p.mode == 2u && input_side && j0 >= 2u * h;
    var total = Block16();
    if ((p.flags & FLAG_ACCUMULATE) != 0u && live) {
        total = Block16(wgrad_row(j0, c0, ncols, input_side), wgrad_row(j0 + 1u, c0, ncols, input_side),
                        wgrad_row(j0 + 2u, c0, ncols, input_side), wgrad_row(j0 + 3u, c0, ncols, input_side));
    }
    for (var t = p.l_from; t <= p.l_to; t++) {
        var acc = Block16();
        if (input_side || t >= 2u) {
            for (var b = 0u; b < p.m; b++) {
                let col = wgrad_columns(t, b, c0, ncols, input_side);
                let at = select(step_row(p.a_off, t, b, gh) + j0, step_row(p.top_off, t, b, h) + j0 - 2u * h, cand);
                let e = ld4(nb + at);
                acc = block_outer(acc, e, col);
            }
        }
        let sc = i32(ld(nb + p.aux_off + t));
        total = block_add_scaled(total, acc, sc);
        if (stats && !input_side) {
            if (!live) {
                acc = Block16();
            }
            let part = workgroup_pair_log2(lid, block_sq_pair(acc));
            if (lid == 0u) {
                st(nb + p.part_off + (t - 1u) * p.count + wid.y * groups.x + wid.x, part);
            }
        }
    }
    if (live) {
        wgrad_row_store(j0, c0, ncols, input_side, total.r0);
        wgrad_row_store(j0 + 1u, c0, ncols, input_side, total.r1);
        wgrad_row_store(j0 + 2u, c0, ncols, input_side, total.r2);
        wgrad_row_store(j0 + 3u, c0, ncols, input_side, total.r3);
    }
}

// Gradient entry (row j, columns c..c + 3) of [W_h | W_x | b], the first n of them (n ≥ 4: all four);
// on the input side c counts W_x's columns, then the bias.
fn wgrad_load4(j: u32, c: u32, n: u32, input_side: bool) -> vec4<f32> {
    if (!input_side) {
        return select(vec4<f32>(0.0), ld4(nb + p.gw_rec + j * p.n + c), n > 0u);
    }
    var v = vec4<f32>(0.0);
    for (var k = 0u; k < min(n, 4u); k++) {
        v[k] = ld(nb + input_grad_at(j, c + k));
    }
    return v;
}

fn wgrad_store4(j: u32, c: u32, n: u32, input_side: bool, v: vec4<f32>) {
    if (!input_side) {
        if (n > 0u) {
            st4(nb + p.gw_rec + j * p.n + c, v);
        }
        return;
    }
    for (var k = 0u; k < min(n, 4u); k++) {
        st(nb + input_grad_at(j, c + k), v[k]);
    }
}

fn input_grad_at(j: u32, c: u32) -> u32 {
    if (c < p.d_in) {
        return p.gw_in + j * p.d_in + c;
    }
    return p.gb_first + j;
}
