// The fused stack / persistent RNN shaped for CPU adapters (lavapipe): one invocation per batch row, which it
// carries through the layers (time steps) in a private array. Every weight load is then the same address
// across the invocations of a SIMD vector (a scalar load, broadcast), the row is indexed by loop counters,
// and the multiply-adds vectorise across rows; the only per-invocation memory traffic is the row's own z, a,
// ĝ, ŝ. No invocation ever reads another's values: no barrier at all.
//
// Same operands, equations and parameter record as stack.wgsl (read it first), with these differences:
//   - the power-of-two scale of the backward belongs to a (layer, row) pair: S[l][b] at
//     sscale_off + l * B + b (p.rows is 1 in the record, so stack_rescale reads it as one row per slice);
//   - one dispatch covers the layers l_from..=l_to (a chunk: lavapipe ends every loop of an invocation after
//     65535 iterations in all, so the engine splits long stacks; a chunk starts from the rows in memory);
//   - at most MAX_W units, MAX_IN inputs and MAX_OUT outputs (the engine takes another path beyond);
//   - inner loops go four at a time over rows padded with zeros (fewer loop iterations, see above).

const MAX_W: u32 = 260u;
const MAX_IN: u32 = 16u;
const MAX_OUT: u32 = 16u;

fn r_w_rec_at(l: u32) -> u32 {
    return p.w_rec + (l - 2u) * p.w_step;
}

fn r_bias_at(l: u32) -> u32 {
    if (l == 1u) {
        return p.b_first;
    }
    return p.b_rec + (l - 2u) * p.w_step;
}

// mem[o] if k < n, else 0 (so a padded row's zeros never meet a neighbour's NaN)
fn load_if(o: u32, k: u32, n: u32) -> f32 {
    return select(0.0, mem[o], k < n);
}

// Σ_k v[at + k] · mem[row + k] over k < n, four at a time (v is zero-padded past n).
fn dot_row(v: ptr<function, array<f32, 520>>, at: u32, row: u32, n: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    for (var k = 0u; k < n; k += 4u) {
        let a = vec4<f32>((*v)[at + k], (*v)[at + k + 1u], (*v)[at + k + 2u], (*v)[at + k + 3u]);
        let m = vec4<f32>(load_if(row + k, k, n), load_if(row + k + 1u, k + 1u, n),
                          load_if(row + k + 2u, k + 2u, n), load_if(row + k + 3u, k + 3u, n));
        acc = fma(a, m, acc);
    }
    return (acc.x + acc.y) + (acc.z + acc.w);
}

// Σ_k v[at + k] · mem[col + k * stride] over k < n, four at a time.
fn dot_col(v: ptr<function, array<f32, 520>>, at: u32, col: u32, stride: u32, n: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    for (var k = 0u; k < n; k += 4u) {
        let a = vec4<f32>((*v)[at + k], (*v)[at + k + 1u], (*v)[at + k + 2u], (*v)[at + k + 3u]);
        let m = vec4<f32>(load_if(col + k * stride, k, n), load_if(col + (k + 1u) * stride, k + 1u, n),
                          load_if(col + (k + 2u) * stride, k + 2u, n),
                          load_if(col + (k + 3u) * stride, k + 3u, n));
        acc = fma(a, m, acc);
    }
    return (acc.x + acc.y) + (acc.z + acc.w);
}

@compute @workgroup_size(16)
fn rows_forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    // Invocations past the batch compute the last row again and store nothing: a divergent early return
    // would put every later load under divergent control flow, where lavapipe cannot use the scalar
    // (broadcast) load for a uniform address.
    let live = gid.x < p.m;
    let b = min(gid.x, p.m - 1u);
    let w = p.n;
    let bw = p.m * w;
    let recurrent = (p.flags & FLAG_RECURRENT) != 0u;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    // h: rows of a_{l-1} and a_l in alternating halves (by the parity of l); x: this layer's input row
    var h: array<f32, 520>;
    var x: array<f32, 520>;
    for (var k = 0u; k < 2u * MAX_W; k++) {
        h[k] = 0.0;
    }
    for (var k = 0u; k < MAX_IN + 4u; k++) {
        x[k] = 0.0;
    }
    if (p.l_from >= 2u) {
        let prev = ((p.l_from - 1u) & 1u) * MAX_W;
        let row = p.c_off + (p.l_from - 2u) * bw + b * w;
        for (var k = 0u; k < w; k++) {
            h[prev + k] = mem[row + k];
        }
    }
    for (var l = p.l_from; l <= p.l_to; l++) {
        let cur = (l & 1u) * MAX_W;
        let prev = MAX_W - cur;
        let input = l == 1u || recurrent;
        if (input) {
            let xrow = p.x_off + (l - 1u) * p.x_step + b * p.d_in;
            for (var k = 0u; k < p.d_in; k++) {
                x[k] = mem[xrow + k];
            }
        }
        let bl = r_bias_at(l);
        let wr = r_w_rec_at(max(l, 2u));
        let out = (l - 1u) * bw + b * w;
        var code = 0.0;
        for (var j = 0u; j < w; j++) {
            var z = mem[bl + j];
            if (input) {
                z += dot_row(&x, 0u, p.w_in + j * p.d_in, p.d_in);
            }
            if (l >= 2u) {
                z += dot_row(&h, prev, wr + j * w, w);
            }
            var a = act_f(z, p.act);
            if (residual && l >= 2u) {
                a += h[prev + j];
            }
            h[cur + j] = a;
            if (live) {
                mem[p.z_off + out + j] = z;
                mem[p.c_off + out + j] = a;
            }
            code = max(code, slope_code(act_slope(z, p.act)));
        }
        if (live && code > 0.0) {
            atomicMax(&maxes[p.k_base + l], u32(code));
        }
    }
    if (p.l_to == p.layers) {
        let top = (p.layers & 1u) * MAX_W;
        for (var o = 0u; o < p.d_out; o++) {
            let y = mem[p.b_head + o] + dot_row(&h, top, p.w_head + o * w, w);
            if (live) {
                mem[p.add_off + b * p.d_out + o] = y;
            }
        }
    }
}

@compute @workgroup_size(16)
fn rows_backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    // past the batch: the last row again, nothing stored (see rows_forward)
    let live = gid.x < p.m;
    let b = min(gid.x, p.m - 1u);
    let w = p.n;
    let bw = p.m * w;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    // ŝ and ĝ rows of layers l+1 and l in alternating halves (by the parity of l); dy: ∂L/∂ŷ of this row
    var s: array<f32, 520>;
    var g: array<f32, 520>;
    var dy: array<f32, 520>;
    for (var k = 0u; k < 2u * MAX_W; k++) {
        s[k] = 0.0;
        g[k] = 0.0;
    }
    for (var k = 0u; k < MAX_OUT + 4u; k++) {
        dy[k] = 0.0;
    }
    for (var o = 0u; o < p.d_out; o++) {
        dy[o] = mem[p.b_off + b * p.d_out + o];
    }
    // the state of the layer above the chunk: its scale, slope shift, and the exponent of its row max |ĝ|
    var s_above = 0.0;
    var e_above = 0;
    var k_above = 0;
    if (p.l_to < p.layers) {
        let la = p.l_to + 1u;
        let above = (la & 1u) * MAX_W;
        let row = (la - 1u) * bw + b * w;
        var mx = 0.0;
        for (var k = 0u; k < w; k++) {
            s[above + k] = mem[p.a_off + row + k];
            let gk = mem[p.g_off + row + k];
            g[above + k] = gk;
            if (abs(gk) > mx || is_nan(gk)) {
                mx = abs(gk);
            }
        }
        s_above = mem[p.sscale_off + la * p.m + b];
        k_above = slope_shift(la);
        if (mx != 0.0) {
            e_above = frexp(mx).exp;
        }
    }
    for (var l = p.l_to; l >= p.l_from; l--) {
        let cur = (l & 1u) * MAX_W;
        let above = MAX_W - cur;
        let top = l == p.layers;
        let k_l = slope_shift(l);
        let wm = r_w_rec_at(min(l + 1u, max(p.layers, 2u)));
        let out = (l - 1u) * bw + b * w;
        var local_max = 0.0;
        for (var j = 0u; j < w; j++) {
            var gj = 0.0;
            if (top) {
                gj = dot_col(&dy, 0u, p.w_head + j, w, p.d_out);
            } else {
                gj = dot_col(&s, above, wm + j, w, w);
                if (residual) {
                    gj = ldexp_safe(gj, k_above) + g[above + j];
                }
                gj = ldexp_safe(gj, -e_above);
            }
            g[cur + j] = gj;
            let sl = act_slope(mem[p.z_off + out + j], p.act);
            let sj = ldexp_safe(gj * sl.m, sl.k - k_l);
            s[cur + j] = sj;
            if (live) {
                mem[p.g_off + out + j] = gj;
                mem[p.a_off + out + j] = sj;
            }
            // NaN-propagating maximum
            let ag = abs(gj);
            if (ag > local_max || is_nan(gj)) {
                local_max = ag;
            }
        }
        var s_l = s_above + f32(e_above) + f32(k_l);
        if (residual && !top) {
            s_l -= f32(k_above);
        }
        if (live) {
            mem[p.sscale_off + l * p.m + b] = s_l;
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
