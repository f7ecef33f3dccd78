// The fused stack / persistent RNN shaped for CPU adapters (lavapipe): one invocation per batch row, which it
// carries through the layers (time steps). Every weight load is then the same address across the
// invocations of a SIMD vector (a scalar load, broadcast) and the multiply-adds vectorise across rows; an
// invocation reads back only the row values it wrote itself, which program order makes visible to it (no
// barrier at all). The rows stay in the
// storage buffer rather than in private arrays: lavapipe compiles large dynamically indexed private arrays
// very slowly (tens of seconds) and runs them no faster.
//
// Same operands, equations and parameter record as stack.wgsl (read it first), with these differences:
//   - the power-of-two scale of the backward belongs to a (layer, row) pair: S[l][b] at
//     sscale_off + l * B + b (p.rows is 1 in the record: one row per slice for colreduce's FLAG_RESCALE);
//   - one dispatch covers the layers l_from..=l_to (a chunk: lavapipe ends every loop of an invocation after
//     65535 iterations in all, so the engine splits long stacks; a chunk starts from the rows in memory);
//   - four units at a time share each load of the row (and fewer loop iterations, see above).

// Four dot products sharing the left operand: Σ_k mem[u + k] · mem[v + c cs + k ks] for c = 0..3 (rows
// past `cmax` repeat the last one). One divergent load of this row feeds four multiply-adds.
fn r_dot4(u: u32, v: u32, cs: u32, ks: u32, n: u32, cmax: u32) -> vec4<f32> {
    let v1 = v + min(1u, cmax) * cs;
    let v2 = v + min(2u, cmax) * cs;
    let v3 = v + min(3u, cmax) * cs;
    var acc = vec4<f32>(0.0);
    for (var k = 0u; k < n; k++) {
        let a = mem[nb + u + k];
        acc = fma(vec4<f32>(a), vec4<f32>(mem[nb + v + k * ks], mem[nb + v1 + k * ks], mem[nb + v2 + k * ks],
                                          mem[nb + v3 + k * ks]), acc);
    }
    return acc;
}

@compute @workgroup_size(16)
fn rows_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    net_enter(gid.z);
    // Invocations past the batch compute the last row again and store nothing: a divergent early return
    // would put every later load under divergent control flow, where lavapipe cannot use the scalar
    // (broadcast) load for a uniform address.
    let live = gid.x < p.m;
    let b = min(gid.x, p.m - 1u);
    let w = p.n;
    let bw = p.m * w;
    let recurrent = (p.flags & FLAG_RECURRENT) != 0u;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    for (var l = p.l_from; l <= p.l_to; l++) {
        let input = l == 1u || recurrent;
        let xrow = p.x_off + (l - 1u) * p.x_step + b * p.d_in;
        let prow = p.c_off + (max(l, 2u) - 2u) * bw + b * w;
        let bl = bias_at(l);
        let wr = w_rec_at(max(l, 2u));
        let out = (l - 1u) * bw + b * w;
        var code = 0.0;
        // four units at a time: each load of this row's input feeds four outputs
        for (var j0 = 0u; j0 < w; j0 += 4u) {
            let last = min(3u, w - 1u - j0);
            var z4 = vec4<f32>(0.0);
            if (input) {
                z4 += r_dot4(xrow, p.w_in + j0 * p.d_in, p.d_in, 1u, p.d_in, last);
            }
            if (l >= 2u) {
                z4 += r_dot4(prow, wr + j0 * w, w, 1u, w, last);
            }
            for (var c = 0u; c <= last; c++) {
                let j = j0 + c;
                let z = z4[c] + mem[nb + bl + j];
                var a = act_f(z, p.act);
                if (residual && l >= 2u) {
                    a += mem[nb + prow + j];
                }
                if (live) {
                    mem[nb + p.z_off + out + j] = z;
                    mem[nb + p.c_off + out + j] = a;
                }
                code = max(code, slope_code(act_slope(z, p.act)));
            }
        }
        if (live && code > 0.0) {
            atomicMax(&maxes[mb + p.k_base + l], u32(code));
        }
    }
    if (p.l_to == p.layers) {
        let top = p.c_off + (p.layers - 1u) * bw + b * w;
        for (var o = 0u; o < p.d_out; o++) {
            let y = mem[nb + p.b_head + o] + dot4(top, 1u, p.w_head + o * w, 1u, w);
            if (live) {
                mem[nb + p.add_off + b * p.d_out + o] = y;
            }
        }
    }
}

@compute @workgroup_size(16)
fn rows_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    net_enter(gid.z);
    // past the batch: the last row again, nothing stored (see rows_forward)
    let live = gid.x < p.m;
    let b = min(gid.x, p.m - 1u);
    let w = p.n;
    let bw = p.m * w;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    // the state of the layer above the chunk: its scale, slope shift, and the exponent of its row max |ĝ|
    var s_above = 0.0;
    var e_above = 0;
    var k_above = 0;
    if (p.l_to < p.layers) {
        let la = p.l_to + 1u;
        let row = (la - 1u) * bw + b * w;
        var mx = 0.0;
        for (var k = 0u; k < w; k++) {
            let gk = mem[nb + p.g_off + row + k];
            if (abs(gk) > mx || is_nan(gk)) {
                mx = abs(gk);
            }
        }
        s_above = mem[nb + p.sscale_off + la * p.m + b];
        k_above = slope_shift(la);
        if (mx != 0.0) {
            e_above = frexp(mx).exp;
        }
    }
    for (var l = p.l_to; l >= p.l_from; l--) {
        let top = l == p.layers;
        let k_l = slope_shift(l);
        let wm = w_rec_at(min(l + 1u, max(p.layers, 2u)));
        let out = (l - 1u) * bw + b * w;
        // ŝ and ĝ of the layer above (this row), as this invocation wrote them
        let above = out + bw;
        var local_max = 0.0;
        // four units at a time: each load of the row above feeds four sums
        for (var j0 = 0u; j0 < w; j0 += 4u) {
            let last = min(3u, w - 1u - j0);
            var g4 = vec4<f32>(0.0);
            if (top) {
                g4 = r_dot4(p.b_off + b * p.d_out, p.w_head + j0, 1u, w, p.d_out, last);
            } else {
                g4 = r_dot4(p.a_off + above, wm + j0, 1u, w, w, last);
            }
            for (var c = 0u; c <= last; c++) {
                let j = j0 + c;
                var gj = g4[c];
                if (!top) {
                    if (residual) {
                        gj = ldexp_safe(gj, k_above) + mem[nb + p.g_off + above + j];
                    }
                    gj = ldexp_safe(gj, -e_above);
                }
                let sl = act_slope(mem[nb + p.z_off + out + j], p.act);
                let sj = ldexp_safe(gj * sl.m, sl.k - k_l);
                if (live) {
                    mem[nb + p.g_off + out + j] = gj;
                    mem[nb + p.a_off + out + j] = sj;
                }
                // NaN-propagating maximum
                let ag = abs(gj);
                if (ag > local_max || is_nan(gj)) {
                    local_max = ag;
                }
            }
        }
        var s_l = s_above + f32(e_above) + f32(k_l);
        if (residual && !top) {
            s_l -= f32(k_above);
        }
        if (live) {
            mem[nb + p.sscale_off + l * p.m + b] = s_l;
        }
        e_above = 0;
        if (local_max != 0.0) {
            e_above = frexp(local_max).exp;
        }
        s_above = s_l;
        k_above = k_l;
        if (l == 1u) {
            break;
        }
    }
}
