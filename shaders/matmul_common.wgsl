// Shared by the matmul variants (matmul.wgsl: register-blocked tiles; matmul_small.wgsl: one output per
// thread for small layers). C = A·B with strided operands, so forward (a Wᵀ), backward-to-input (δ W) and
// weight-gradient (δᵀ a) products all run without transposing anything in memory:
//   A(i, kk) = mem[a_off + i*a_si + kk*a_sk],   B(kk, j) = mem[b_off + kk*b_sk + j*b_sj]
// (read and written through the view's ld/st, so a variant may use either view of the state).
// Epilogues (p.mode):
//   0 forward:  z = acc + add(i,j); store z at z_off (unless NONE); c = f(z) (+ res(i,j) when res_off != NONE);
//     when m_out != NONE, the largest frexp exponent of |f'(z)| of layer m_out into maxes[k_base + m_out]
//   1 backward-to-input: ĝ = (acc [· 2^K_above + res(i,j)]) * 2^-e(m_above); store ĝ at g_off (unless NONE);
//     ŝ = c = ĝ * f'(z(i,j)) * 2^-K_out with f' split as m·2^k (act_slope), so a layer saturated far below
//     the f32 range still has a representable ŝ; atomicMax |ĝ| into maxes[m_out];
//     log2 scale[m_out] = scale[m_above] (− K_above with a residual) + e + K_out (the scale of ŝ)
//   2 weight gradient: c (=|+=) acc * 2^scale[scale_idx]; per-workgroup log2 Σ acc² into mem[part_off + wg]
//     (in the log domain: the scaled gradient of an exploding net squares past the f32 range)
// K_l = slope_shift(l) (common.wgsl); the residual's ĝ has the scale of ŝ minus K, hence the 2^K_above.
// Output C(i, j) = mem[c_off + i*ldc + j]. The variant defines TILE, TK, NT (threads per workgroup).

// One operand as (offset, stride along its output index, stride along k, extent of its output index): A's
// rows i < m, B's columns j < n.
struct Operand { off: u32, s_out: u32, s_k: u32, len: u32 }

fn operand_a() -> Operand {
    return Operand(p.a_off, p.a_si, p.a_sk, p.m);
}

fn operand_b() -> Operand {
    return Operand(p.b_off, p.b_sj, p.b_sk, p.n);
}

// Element (o, kk) of an operand (A(o, kk) or B(kk, o)); zero past the matrix.
fn load_op(q: Operand, o: u32, kk: u32) -> f32 {
    if (o < q.len && kk < p.k) {
        return ld(nb + q.off + o * q.s_out + kk * q.s_k);
    }
    return 0.0;
}

fn load_a(i: u32, kk: u32) -> f32 {
    return load_op(operand_a(), i, kk);
}

fn load_b(kk: u32, j: u32) -> f32 {
    return load_op(operand_b(), j, kk);
}

// The epilogue for one output element; returns acc (weight-gradient mode, for the sum of squares), |ĝ|
// (mode 1) or the biased slope exponent (mode 0). sc = epilogue_scales().
fn epilogue(i: u32, j: u32, v: f32, sc: vec4<i32>) -> f32 {
    let e_above = sc.x;
    let dw_scale = sc.y;
    let o = p.c_off + i * p.ldc + j;
    if (p.mode == 0u) {
        var z = v;
        if (p.add_off != NONE) {
            z += ld(nb + p.add_off + i * p.add_si + j * p.add_sj);
        }
        if (p.z_off != NONE) {
            st(nb + p.z_off + i * p.ldc + j, z);
        }
        var h = act_f(z, net_act());
        if (p.res_off != NONE) {
            h += ld(nb + p.res_off + i * p.ldc + j);
        }
        st(nb + o, h);
        if (p.m_out != NONE) {
            return slope_code(act_slope(z, net_act()));
        }
        return 0.0;
    }
    if (p.mode == 1u) {
        var g = v;
        if (p.res_off != NONE) {
            g = ldexp_safe(g, sc.w) + ld(nb + p.res_off + i * p.ldc + j);
        }
        g = ldexp_safe(g, -e_above);
        if (p.g_off != NONE) {
            st(nb + p.g_off + i * p.ldc + j, g);
        }
        let sl = act_slope(ld(nb + p.z_off + i * p.ldc + j), net_act());
        st(nb + o, ldexp_safe(g * sl.m, sl.k - sc.z));
        return abs(g);
    }
    let grad = ldexp_safe(v, dw_scale);
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        st(nb + o, ld(nb + o) + grad);
    } else {
        st(nb + o, grad);
    }
    return v;
}

// One output through the epilogue (nothing past the matrix), folded into the thread's Σ acc² (mode 2, an
// sq_add state) or its largest |ĝ| or slope code (modes 0 and 1; NaN-propagating: a NaN's bits exceed
// every finite float's).
fn output(i: u32, j: u32, v: f32, sc: vec4<i32>, sq: ptr<function, vec3<f32>>, top: ptr<function, f32>) {
    if (i < p.m && j < p.n) {
        let q = epilogue(i, j, v, sc);
        if (p.mode == 2u) {
            *sq = sq_add(*sq, q);
        } else if (q > *top || q != q) {
            *top = q;
        }
    }
}

// The workgroup's largest slope code (mode 0) or |ĝ| bits (mode 1), gathered on chip so that each
// workgroup makes one global atomic.
var<workgroup> wg_top: atomic<u32>;

// The end of every matmul variant: the workgroup's largest slope exponent into maxes[k_base + m_out]
// (mode 0), its max |ĝ| into maxes[m_out] and the scale bookkeeping (mode 1), or the workgroup's Σ acc²
// into its partial-sum slot as log2 Σ acc² (mode 2; sq is the thread's sq_add state). NT threads; every
// thread calls it (it holds barriers).
fn finish(t: u32, wid: vec3<u32>, nwg: vec3<u32>, sq: vec3<f32>, local_max: f32, sc: vec4<i32>) {
    if (p.mode == 1u || (p.mode == 0u && p.m_out != NONE)) {
        if (t == 0u) {
            atomicStore(&wg_top, 0u);
        }
        workgroupBarrier();
        // slope codes are small non-negative integers; |ĝ| orders like its bits (a NaN's above all)
        var bits = bitcast<u32>(local_max);
        if (p.mode == 0u) {
            bits = u32(local_max);
        }
        atomicMax(&wg_top, bits);
        workgroupBarrier();
        let top = atomicLoad(&wg_top);
        if (t == 0u && p.mode == 0u && top > 0u) {
            atomicMax(&maxes[mb + p.k_base + p.m_out], top);
        }
        if (t == 0u && p.mode == 1u) {
            atomicMax(&maxes[mb + p.m_out], top);
        }
    }
    if (p.mode == 1u) {
        if (t == 0u && wid.x == 0u && wid.y == 0u) {
            var above = 0.0;
            if (p.m_above != NONE) { above = ld(nb + p.aux_off + p.m_above); }
            if (p.res_off != NONE) { above -= f32(sc.w); }
            st(nb + p.aux_off + p.m_out, above + f32(sc.x) + f32(sc.z));
        }
    }
    if (p.mode == 2u && p.part_off != NONE) {
        let total = wg_log2_sum(t, sq_log2(sq), NT);
        if (t == 0u) {
            st(nb + p.part_off + wid.y * nwg.x + wid.x, total);
        }
    }
}

// (x) exponent of the rescaling and (z, w) slope shifts K of this layer and the one above (mode 1);
// (y) the log2 scale of the weight gradient (mode 2).
fn epilogue_scales() -> vec4<i32> {
    var sc = vec4<i32>(0);
    if (p.mode == 1u) {
        sc.x = scale_exponent(p.m_above);
        sc.z = slope_shift(p.m_out);
        sc.w = slope_shift(p.m_above);
    }
    if (p.mode == 2u) {
        sc.y = i32(ld(nb + p.aux_off + p.scale_idx));
    }
    return sc;
}
