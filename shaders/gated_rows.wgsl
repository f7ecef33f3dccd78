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

// Row b of step t (1-based) in a per-step region of rows `width` wide.
fn row_of_step(region: u32, t: u32, b: u32, width: u32) -> u32 {
    return region + ((t - 1u) * p.m + b) * width;
}

// m[g][c] = ld(base + (js[g] + c) · stride + k) for the sixteen (g, c): the same in every lane, so each lane
// of an 8-lane subgroup loads two of them and the lanes swap them.
fn gate_values(base: u32, js: vec4<u32>, stride: u32, k: u32) -> mat4x4<f32> {
    var m = mat4x4<f32>();
    if (LANES != 8u) {
        for (var g = 0u; g < 4u; g++) {
            let o = nb + base + js[g] * stride + k;
            m[g] = vec4<f32>(ld(o), ld(o + stride), ld(o + 2u * stride), ld(o + 3u * stride));
        }
        return m;
    }
    // lane g + 4q holds gate g's units 2q and 2q + 1
    let o = nb + base + (js[lane_id & 3u] + 2u * (lane_id >> 2u)) * stride + k;
    let v = vec4<f32>(ld(o), ld(o + stride), 0.0, 0.0);
    for (var g = 0u; g < 4u; g++) {
        let lo = lane_share4(v, g);
        let hi = lane_share4(v, g + 4u);
        m[g] = vec4<f32>(lo.x, lo.y, hi.x, hi.y);
    }
    return m;
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
    let hprev = row_of_step(p.c_off, prev, b, h);
    let pre = nb + row_of_step(p.z_off, t, b, gh);
    let aux = nb + row_of_step(p.res_off, t, b, h);
    let out = nb + row_of_step(p.c_off, t, b, h);
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
                c_prev = ld4(nb + row_of_step(p.res_off, prev, b, h) + u0);
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
        let top = row_of_step(p.c_off, p.layers, b, p.n);
        for (var o = 0u; o < p.d_out; o++) {
            st(nb + p.add_off + b * p.d_out + o, ld(nb + p.b_head + o) + dot4(top, 1u, p.w_head + o * p.n, 1u, p.n));
        }
    }
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
    let g_row = nb + row_of_step(p.g_off, t, b, h);
    let c_row = nb + row_of_step(p.top_off, t, b, h);
    let above = min(t + 1u, p.layers);
    let pre_above = nb + row_of_step(p.z_off, above, b, gh);
    var mx = 0.0;
    for (var u0 = 0u; u0 < h; u0 += 16u) {
        let js = slot_units(u0, h);
        var g: mat4x4<f32>;
        if (top) {
            g = bwd_slots(vec4<u32>(p.b_off + b * p.d_out), p.w_head, h, p.d_out, js, last, false);
        } else {
            g = bwd_slots(vec4<u32>(row_of_step(p.a_off, above, b, gh)), p.w_rec, h, gh, js, last, true);
        }
        for (var s = 0u; s < 4u; s++) {
            let u = js[s];
            var cin = vec4<f32>(0.0);
            if (!top) {
                let keep = sig4(ld4(pre_above + h + u));
                if (lstm) {
                    cin = ld4(nb + row_of_step(p.top_off, above, b, h) + u) * keep;
                } else {
                    g[s] += ld4(nb + row_of_step(p.g_off, above, b, h) + u) * keep;
                }
            }
            if (live) {
                st4(g_row + u, g[s]);
                st4(c_row + u, cin);
            }
            mx = abs_max(abs_max(mx, g[s], 3u), cin, 3u);
        }
    }
    var e = 0;
    if (mx > 0.0 && mx <= 3.4e38) {
        e = frexp(mx).exp;
    }
    var s_above = 0.0;
    if (!top) {
        s_above = ld(nb + p.sscale_off + above * p.m + b);
    }
    let pre = nb + row_of_step(p.z_off, t, b, gh);
    let so = nb + row_of_step(p.a_off, t, b, gh);
    let aux = nb + row_of_step(p.res_off, t, b, h);
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
            let c_before = select(vec4<f32>(0.0), ld4(nb + row_of_step(p.res_off, prev, b, h) + u0), t >= 2u);
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
            let hp = select(vec4<f32>(0.0), ld4(nb + row_of_step(p.c_off, prev, b, h) + u0), t >= 2u);
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
