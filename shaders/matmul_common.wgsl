// Shared by the matmul variants (matmul.wgsl: register-blocked tiles; matmul_small.wgsl: one output per
// thread for small layers). C = A·B with strided operands, so forward (a Wᵀ), backward-to-input (δ W) and
// weight-gradient (δᵀ a) products all run without transposing anything in memory:
//   A(i, kk) = mem[a_off + i*a_si + kk*a_sk],   B(kk, j) = mem[b_off + kk*b_sk + j*b_sj].
// Epilogues (p.mode):
//   0 forward:  z = acc + add(i,j); store z at z_off (unless NONE); c = f(z) (+ res(i,j) when res_off != NONE)
//   1 backward-to-input: ĝ = (acc + res(i,j)) * 2^-e(m_above); store ĝ at g_off (unless NONE);
//     c = ĝ * f'(z(i,j)); atomicMax |ĝ| into maxes[m_out]; log2 scale[m_out] = scale[m_above] + e
//   2 weight gradient: c (=|+=) acc * 2^scale[scale_idx]; per-workgroup Σ acc² into mem[part_off + wg]
// Output C(i, j) = mem[c_off + i*ldc + j]. The variant defines TILE, TK, NT (threads per workgroup).

var<workgroup> red: array<f32, 256>;

fn load_a(i: u32, kk: u32) -> f32 {
    if (i < p.m && kk < p.k) {
        return mem[p.a_off + i * p.a_si + kk * p.a_sk];
    }
    return 0.0;
}

fn load_b(kk: u32, j: u32) -> f32 {
    if (kk < p.k && j < p.n) {
        return mem[p.b_off + kk * p.b_sk + j * p.b_sj];
    }
    return 0.0;
}

// The epilogue for one output element; returns this element's contribution to Σ acc² (weight-gradient mode).
fn epilogue(i: u32, j: u32, v: f32, e_above: i32, dw_scale: i32) -> f32 {
    let o = p.c_off + i * p.ldc + j;
    if (p.mode == 0u) {
        var z = v;
        if (p.add_off != NONE) {
            z += mem[p.add_off + i * p.add_si + j * p.add_sj];
        }
        if (p.z_off != NONE) {
            mem[p.z_off + i * p.ldc + j] = z;
        }
        var h = act_f(z, p.act);
        if (p.res_off != NONE) {
            h += mem[p.res_off + i * p.ldc + j];
        }
        mem[o] = h;
        return 0.0;
    }
    if (p.mode == 1u) {
        var g = v;
        if (p.res_off != NONE) {
            g += mem[p.res_off + i * p.ldc + j];
        }
        g = ldexp(g, -e_above);
        if (p.g_off != NONE) {
            mem[p.g_off + i * p.ldc + j] = g;
        }
        mem[o] = g * act_df(mem[p.z_off + i * p.ldc + j], p.act);
        return abs(g);
    }
    let grad = ldexp(v, dw_scale);
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        mem[o] += grad;
    } else {
        mem[o] = grad;
    }
    return v * v;
}

// The end of every matmul variant: the workgroup's max |ĝ| into maxes[m_out] and the scale bookkeeping
// (mode 1), or the workgroup's Σ acc² into its partial-sum slot (mode 2). NT threads, t = local index.
fn finish(t: u32, wid: vec3<u32>, nwg: vec3<u32>, sumsq: f32, local_max: f32, e_above: i32) {
    if (p.mode == 1u) {
        atomicMax(&maxes[p.m_out], bitcast<u32>(local_max));
        if (t == 0u && wid.x == 0u && wid.y == 0u) {
            var above = 0.0;
            if (p.m_above != NONE) { above = mem[p.aux_off + p.m_above]; }
            mem[p.aux_off + p.m_out] = above + f32(e_above);
        }
    }
    if (p.mode == 2u && p.part_off != NONE) {
        red[t] = sumsq;
        workgroupBarrier();
        for (var s = NT / 2u; s > 0u; s >>= 1u) {
            if (t < s) { red[t] += red[t + s]; }
            workgroupBarrier();
        }
        if (t == 0u) {
            mem[p.part_off + wid.y * nwg.x + wid.x] = red[0];
        }
    }
}

// Exponent of the rescaling (mode 1) and the log2 scale of the weight gradient (mode 2).
fn epilogue_scales() -> vec2<i32> {
    var e_above = 0;
    var dw_scale = 0;
    if (p.mode == 1u) {
        e_above = scale_exponent(p.m_above);
    }
    if (p.mode == 2u) {
        dw_scale = i32(mem[p.aux_off + p.scale_idx]);
    }
    return vec2<i32>(e_above, dw_scale);
}
