// The fused stack / persistent RNN shaped for CPU adapters (lavapipe): each invocation owns four batch rows
// (RPI), which it carries through the layers (time steps), and computes four units of those rows at a time,
// a 4 x 4 block held in registers. An invocation reads back only the row values it wrote itself, which program
// order makes visible to it: no barrier at all. The module views the state as vec4s (mem4.wgsl): where the
// width is a multiple of 4 (FLAG_WIDE; FLAG_WIDE_IN for the input x and W_in, d_in a multiple of 4) every
// operand row is read four values per load, so a block step reads 8 vec4s for 64 multiply-adds; otherwise
// the same blocks read scalars, 8 values per 16 multiply-adds. lavapipe runs every storage access at a
// varying address as a loop over the lanes, so the loads, not the arithmetic, set the speed.
//
// Same operands, equations and parameter record as stack.wgsl (read it first), with these differences:
//   - the power-of-two scale of the backward belongs to a (layer, row) pair: S[l][b] at
//     sscale_off + l * B + b (p.rows is 1 in the record: one row per slice for colreduce's FLAG_RESCALE);
//   - one dispatch covers the layers l_from..=l_to (a chunk: lavapipe ends every loop of an invocation after
//     65535 iterations in all, so the engine splits long stacks (program.rs, loop_costs); a chunk starts
//     from the rows in memory);
//   - rows past the batch (the last invocation's) compute the last row again and store nothing: a divergent
//     early return would put all later work under a partial execution mask.

const RPI: u32 = 4u;

// this invocation's lane in its subgroup: a workgroup of 8 is one subgroup where LANES is 8 (lanes.wgsl)
var<private> lane_id: u32;

// This invocation's rows, clamped into the batch, and which of them are its own to store.
struct Rows {
    b: vec4<u32>,
    live: vec4<bool>,
}

fn rows_of(g: u32) -> Rows {
    let r = RPI * g + vec4<u32>(0u, 1u, 2u, 3u);
    return Rows(min(r, vec4<u32>(p.m - 1u)), r < vec4<u32>(p.m));
}

// ld(i + c) for units c = 0..3 (past `last` the last one again); one load where `wide`.
fn load4(i: u32, last: u32, wide: bool) -> vec4<f32> {
    if (wide) {
        return ld4(i);
    }
    return vec4<f32>(ld(i), ld(i + min(1u, last)), ld(i + min(2u, last)), ld(i + min(3u, last)));
}

// st(i + c, v[c]) for units c = 0..last
fn store4(i: u32, v: vec4<f32>, last: u32, wide: bool) {
    if (wide) {
        st4(i, v);
        return;
    }
    for (var c = 0u; c <= last; c++) {
        st(i + c, v[c]);
    }
}

// One step of fwd_block over k .. k + 3: row r's values there (at uu[r] + k) against unit c's weights
// there (w[c]), added to out[r][c].
fn fwd_step(acc: mat4x4<f32>, uu: vec4<u32>, k: u32, w: mat4x4<f32>) -> mat4x4<f32> {
    let x0 = ld4(uu.x + k);
    let x1 = ld4(uu.y + k);
    let x2 = ld4(uu.z + k);
    let x3 = ld4(uu.w + k);
    return mat4x4<f32>(
        acc[0] + vec4<f32>(dot(x0, w[0]), dot(x0, w[1]), dot(x0, w[2]), dot(x0, w[3])),
        acc[1] + vec4<f32>(dot(x1, w[0]), dot(x1, w[1]), dot(x1, w[2]), dot(x1, w[3])),
        acc[2] + vec4<f32>(dot(x2, w[0]), dot(x2, w[1]), dot(x2, w[2]), dot(x2, w[3])),
        acc[3] + vec4<f32>(dot(x3, w[0]), dot(x3, w[1]), dot(x3, w[2]), dot(x3, w[3])));
}

// One step of bwd_block over k .. k + 3: row r's values there (at uu[r] + k) times the weight rows
// k .. k + 3 (w[q]: the four units' weights in row k + q), added to out[r].
fn bwd_step(acc: mat4x4<f32>, uu: vec4<u32>, k: u32, w: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        rows_by(ld4(uu.x + k), w, acc[0]),
        rows_by(ld4(uu.y + k), w, acc[1]),
        rows_by(ld4(uu.z + k), w, acc[2]),
        rows_by(ld4(uu.w + k), w, acc[3]));
}

// acc + x.x w[0] + x.y w[1] + x.z w[2] + x.w w[3]
fn rows_by(x: vec4<f32>, w: mat4x4<f32>, acc: vec4<f32>) -> vec4<f32> {
    return fma(vec4<f32>(x.x), w[0], fma(vec4<f32>(x.y), w[1], fma(vec4<f32>(x.z), w[2], fma(vec4<f32>(x.w), w[3], acc))));
}

// One step of either block over a single k: row r's value at uu[r] + k times the four units' weights wv.
fn scalar_step(acc: mat4x4<f32>, uu: vec4<u32>, k: u32, wv: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        fma(vec4<f32>(ld(uu.x + k)), wv, acc[0]),
        fma(vec4<f32>(ld(uu.y + k)), wv, acc[1]),
        fma(vec4<f32>(ld(uu.z + k)), wv, acc[2]),
        fma(vec4<f32>(ld(uu.w + k)), wv, acc[3]));
}

// The forward's block: out[r][c] = Σ_{k<n} ld(u[r] + k) · ld(v + c cs + k) (rows u, units' weight rows at
// stride cs; units past `last` repeat the last). Where `wide`, u, v, cs and n are multiples of 4.
fn fwd_block(u: vec4<u32>, v: u32, cs: u32, n: u32, last: u32, wide: bool) -> mat4x4<f32> {
    let v0 = nb + v;
    let v1 = v0 + min(1u, last) * cs;
    let v2 = v0 + min(2u, last) * cs;
    let v3 = v0 + min(3u, last) * cs;
    let uu = u + vec4<u32>(nb);
    var a = mat4x4<f32>();
    if (wide && LANES == 8u) {
        // the weights are the same in every lane (all lanes compute the same units): lane s loads
        // k0 + 4s .. k0 + 4s + 3 of the four weight rows, and step s of the inner loop takes them from it
        for (var k0 = 0u; k0 < n; k0 += 32u) {
            let kl = min(k0 + 4u * lane_id, n - 4u);
            let r0 = ld4(v0 + kl);
            let r1 = ld4(v1 + kl);
            let r2 = ld4(v2 + kl);
            let r3 = ld4(v3 + kl);
            let cnt = min(8u, (n - k0) / 4u);
            for (var s = 0u; s < cnt; s++) {
                let ws = mat4x4<f32>(lane_share4(r0, s), lane_share4(r1, s), lane_share4(r2, s), lane_share4(r3, s));
                a = fwd_step(a, uu, k0 + 4u * s, ws);
            }
        }
    } else if (wide) {
        for (var k = 0u; k < n; k += 4u) {
            a = fwd_step(a, uu, k, mat4x4<f32>(ld4(v0 + k), ld4(v1 + k), ld4(v2 + k), ld4(v3 + k)));
        }
    } else {
        for (var k = 0u; k < n; k++) {
            a = scalar_step(a, uu, k, vec4<f32>(ld(v0 + k), ld(v1 + k), ld(v2 + k), ld(v3 + k)));
        }
    }
    return a;
}

// The backward's block: out[r][c] = Σ_{k<n} ld(u[r] + k) · ld(v + k ks + c) (rows u, the weight's columns
// c at row stride ks; units past `last` repeat the last). Where `wide`, u, v, ks and n are multiples of 4.
fn bwd_block(u: vec4<u32>, v: u32, ks: u32, n: u32, last: u32, wide: bool) -> mat4x4<f32> {
    let v0 = nb + v;
    let uu = u + vec4<u32>(nb);
    var a = mat4x4<f32>();
    if (wide && LANES == 8u) {
        // as fwd_block: lane s loads the weight rows k0 + 4s .. k0 + 4s + 3
        for (var k0 = 0u; k0 < n; k0 += 32u) {
            let o = v0 + min(k0 + 4u * lane_id, n - 4u) * ks;
            let r0 = ld4(o);
            let r1 = ld4(o + ks);
            let r2 = ld4(o + 2u * ks);
            let r3 = ld4(o + 3u * ks);
            let cnt = min(8u, (n - k0) / 4u);
            for (var s = 0u; s < cnt; s++) {
                let ws = mat4x4<f32>(lane_share4(r0, s), lane_share4(r1, s), lane_share4(r2, s), lane_share4(r3, s));
                a = bwd_step(a, uu, k0 + 4u * s, ws);
            }
        }
    } else if (wide) {
        for (var k = 0u; k < n; k += 4u) {
            let o = v0 + k * ks;
            a = bwd_step(a, uu, k, mat4x4<f32>(ld4(o), ld4(o + ks), ld4(o + 2u * ks), ld4(o + 3u * ks)));
        }
    } else {
        for (var k = 0u; k < n; k++) {
            a = scalar_step(a, uu, k, load4(v0 + k * ks, last, false));
        }
    }
    return a;
}

// One row's units j0..j0+last of layer l: z (bias added) and a = f(z) (+ the row's previous layer at
// `prev`: residual) stored at `out` where `live`; returns the largest slope code of the four.
fn fwd_row(z: vec4<f32>, live: bool, out: u32, prev: u32, j0: u32, last: u32, res: bool, wide: bool) -> f32 {
    var a = vec4<f32>(act_f(z.x, net_act()), act_f(z.y, net_act()), act_f(z.z, net_act()), act_f(z.w, net_act()));
    if (res) {
        a += load4(nb + prev + j0, last, wide);
    }
    if (live) {
        store4(nb + p.z_off + out + j0, z, last, wide);
        store4(nb + p.c_off + out + j0, a, last, wide);
    }
    var code = 0.0;
    for (var c = 0u; c <= last; c++) {
        code = max(code, slope_code(act_slope(z[c], net_act())));
    }
    return code;
}

@compute @workgroup_size(8)
fn rows_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    net_enter(gid.z);
    lane_id = t;
    let rows = rows_of(gid.x);
    let w = p.n;
    let bw = p.m * w;
    let recurrent = (p.flags & FLAG_RECURRENT) != 0u;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    let wide = (p.flags & FLAG_WIDE) != 0u;
    let wide_in = (p.flags & FLAG_WIDE_IN) != 0u;
    for (var l = p.l_from; l <= p.l_to; l++) {
        let input = l == 1u || recurrent;
        let xrow = p.x_off + (l - 1u) * p.x_step + rows.b * p.d_in;
        let prow = p.c_off + (max(l, 2u) - 2u) * bw + rows.b * w;
        let bl = bias_at(l);
        let wr = w_rec_at(max(l, 2u));
        let out = (l - 1u) * bw + rows.b * w;
        let res = residual && l >= 2u;
        var code = 0.0;
        for (var j0 = 0u; j0 < w; j0 += 4u) {
            let last = min(3u, w - 1u - j0);
            var z = mat4x4<f32>();
            if (input) {
                z += fwd_block(xrow, p.w_in + j0 * p.d_in, p.d_in, p.d_in, last, wide_in);
            }
            if (l >= 2u) {
                z += fwd_block(prow, wr + j0 * w, w, w, last, wide);
            }
            let bias = load4(nb + bl + j0, last, wide);
            code = max(code, fwd_row(z[0] + bias, rows.live.x, out.x, prow.x, j0, last, res, wide));
            code = max(code, fwd_row(z[1] + bias, rows.live.y, out.y, prow.y, j0, last, res, wide));
            code = max(code, fwd_row(z[2] + bias, rows.live.z, out.z, prow.z, j0, last, res, wide));
            code = max(code, fwd_row(z[3] + bias, rows.live.w, out.w, prow.w, j0, last, res, wide));
        }
        if (rows.live.x && code > 0.0) {
            atomicMax(&maxes[mb + p.k_base + l], u32(code));
        }
    }
    if (p.l_to == p.layers) {
        // the head: one output at a time for the four rows (all four "units" are output o's weight row)
        let top = p.c_off + (p.layers - 1u) * bw + rows.b * w;
        for (var o = 0u; o < p.d_out; o++) {
            let y = fwd_block(top, p.w_head + o * w, 0u, w, 0u, wide);
            let hb = ld(nb + p.b_head + o);
            let at = nb + p.add_off + rows.b * p.d_out + o;
            if (rows.live.x) { st(at.x, hb + y[0].x); }
            if (rows.live.y) { st(at.y, hb + y[1].x); }
            if (rows.live.z) { st(at.z, hb + y[2].x); }
            if (rows.live.w) { st(at.w, hb + y[3].x); }
        }
    }
}

// NaN-propagating maximum of |v[c]| over c = 0..last, after m
fn abs_max(m: f32, v: vec4<f32>, last: u32) -> f32 {
    var r = m;
    for (var c = 0u; c <= last; c++) {
        let a = abs(v[c]);
        if (a > r || is_nan(v[c])) {
            r = a;
        }
    }
    return r;
}

// One row's units j0..j0+last of layer l in the backward: ĝ from the block's sums g (scaled into this row's
// scale unless `top`: 2^k_above and the residual ĝ above at `above`, then 2^-e_above), ŝ = ĝ f'(z) 2^-K_l;
// both stored at `out` where `live`. Returns the row's running NaN-propagating max |ĝ|, after m.
fn bwd_row(g_in: vec4<f32>, live: bool, out: u32, above: u32, j0: u32, last: u32, top: bool, res: bool,
           k_above: i32, e_above: i32, k_l: i32, m: f32, wide: bool) -> f32 {
    var g = g_in;
    if (!top) {
        if (res) {
            g = ldexp_safe4(g, k_above) + load4(nb + p.g_off + above + j0, last, wide);
        }
        g = ldexp_safe4(g, -e_above);
    }
    let z = load4(nb + p.z_off + out + j0, last, wide);
    var s = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
        let sl = act_slope(z[c], net_act());
        s[c] = ldexp_safe(g[c] * sl.m, sl.k - k_l);
    }
    if (live) {
        store4(nb + p.g_off + out + j0, g, last, wide);
        store4(nb + p.a_off + out + j0, s, last, wide);
    }
    return abs_max(m, g, last);
}

// frexp exponents of four row maxima (0 for a zero row)
fn row_exps(mx: vec4<f32>) -> vec4<i32> {
    return select(vec4<i32>(0), frexp(mx).exp, mx != vec4<f32>(0.0));
}

@compute @workgroup_size(8)
fn rows_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    net_enter(gid.z);
    lane_id = t;
    let rows = rows_of(gid.x);
    let w = p.n;
    let bw = p.m * w;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    let wide = (p.flags & FLAG_WIDE) != 0u;
    // the state of the layer above the chunk, per row: its scale and the exponent of its row max |ĝ|; and
    // its slope shift
    var s_above = vec4<f32>(0.0);
    var e_above = vec4<i32>(0);
    var k_above = 0;
    if (p.l_to < p.layers) {
        let la = p.l_to + 1u;
        let row = p.g_off + (la - 1u) * bw + rows.b * w;
        var mx = vec4<f32>(0.0);
        for (var j0 = 0u; j0 < w; j0 += 4u) {
            let last = min(3u, w - 1u - j0);
            mx.x = abs_max(mx.x, load4(nb + row.x + j0, last, wide), last);
            mx.y = abs_max(mx.y, load4(nb + row.y + j0, last, wide), last);
            mx.z = abs_max(mx.z, load4(nb + row.z + j0, last, wide), last);
            mx.w = abs_max(mx.w, load4(nb + row.w + j0, last, wide), last);
        }
        let sc = nb + p.sscale_off + la * p.m + rows.b;
        s_above = vec4<f32>(ld(sc.x), ld(sc.y), ld(sc.z), ld(sc.w));
        k_above = slope_shift(la);
        e_above = row_exps(mx);
    }
    for (var l = p.l_to; l >= p.l_from; l--) {
        let top = l == p.layers;
        let k_l = slope_shift(l);
        let wm = w_rec_at(min(l + 1u, max(p.layers, 2u)));
        let out = (l - 1u) * bw + rows.b * w;
        // ŝ and ĝ of the layer above (these rows), as this invocation wrote them
        let above = out + bw;
        let res = residual && !top;
        var mx = vec4<f32>(0.0);
        for (var j0 = 0u; j0 < w; j0 += 4u) {
            let last = min(3u, w - 1u - j0);
            var g: mat4x4<f32>;
            if (top) {
                g = bwd_block(p.b_off + rows.b * p.d_out, p.w_head + j0, w, p.d_out, last, false);
            } else {
                g = bwd_block(p.a_off + above, wm + j0, w, w, last, wide);
            }
            mx.x = bwd_row(g[0], rows.live.x, out.x, above.x, j0, last, top, res, k_above, e_above.x, k_l, mx.x, wide);
            mx.y = bwd_row(g[1], rows.live.y, out.y, above.y, j0, last, top, res, k_above, e_above.y, k_l, mx.y, wide);
            mx.z = bwd_row(g[2], rows.live.z, out.z, above.z, j0, last, top, res, k_above, e_above.z, k_l, mx.z, wide);
            mx.w = bwd_row(g[3], rows.live.w, out.w, above.w, j0, last, top, res, k_above, e_above.w, k_l, mx.w, wide);
        }
        var s_l = s_above + vec4<f32>(e_above) + f32(k_l);
        if (res) {
            s_l -= f32(k_above);
        }
        let sc = nb + p.sscale_off + l * p.m + rows.b;
        if (rows.live.x) { st(sc.x, s_l.x); }
        if (rows.live.y) { st(sc.y, s_l.y); }
        if (rows.live.z) { st(sc.z, s_l.z); }
        if (rows.live.w) { st(sc.w, s_l.w); }
        e_above = row_exps(mx);
        s_above = s_l;
        k_above = k_l;
        if (l == 1u) {
            break;
        }
    }
}
