// Tiled matrix product C = A·B with strided operands, so forward (a Wᵀ), backward-to-input (δ W) and
// weight-gradient (δᵀ a) products all run without transposing anything in memory:
//   A(i, kk) = mem[a_off + i*a_si + kk*a_sk],   B(kk, j) = mem[b_off + kk*b_sk + j*b_sj].
// Epilogues (p.mode):
//   0 forward:  z = acc + add(i,j); store z at z_off (unless NONE); c = f(z) (+ res(i,j) when res_off != NONE)
//   1 backward-to-input: ĝ = (acc + res(i,j)) * 2^-e(m_above); store ĝ at g_off (unless NONE);
//     c = ĝ * f'(z(i,j)); atomicMax |ĝ| into maxes[m_out]; log2 scale[m_out] = scale[m_above] + e
//   2 weight gradient: c (=|+=) acc * 2^scale[scale_idx]; per-workgroup Σ acc² into mem[part_off + wg]
// Output C(i, j) = mem[c_off + i*ldc + j].

// TILE (output tile edge) and TK (depth of a K step) are prepended by src/gpu/shaders.rs, one pipeline per
// tile size (small tiles give small layers more workgroups). TX x TX threads (TX = TILE / 4) each own a
// 4 x 4 block of the tile, held in four vec4 accumulators so they stay in registers.
const TX: u32 = TILE / 4u;
const NT: u32 = TX * TX;
const LOADS: u32 = TILE * TK / NT;

var<workgroup> As: array<f32, TK * TILE>; // [TK][TILE]
var<workgroup> Bs: array<f32, TK * TILE>; // [TK][TILE]
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

@compute @workgroup_size(TX, TX)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    let a_k_contig = p.a_sk == 1u;
    let b_k_contig = p.b_sk == 1u;
    let ktiles = (p.k + TK - 1u) / TK;
    for (var kt = 0u; kt < ktiles; kt++) {
        let k0 = kt * TK;
        for (var r = 0u; r < LOADS; r++) {
            let idx = t + NT * r;
            var ii: u32; var ka: u32;
            if (a_k_contig) { ka = idx % TK; ii = idx / TK; } else { ii = idx % TILE; ka = idx / TILE; }
            As[ka * TILE + ii] = load_a(row0 + ii, k0 + ka);
            var jj: u32; var kb: u32;
            if (b_k_contig) { kb = idx % TK; jj = idx / TK; } else { jj = idx % TILE; kb = idx / TILE; }
            Bs[kb * TILE + jj] = load_b(k0 + kb, col0 + jj);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let ab = kk * TILE + lid.y;
            let bb = kk * TILE + lid.x;
            let a = vec4<f32>(As[ab], As[ab + TX], As[ab + 2u * TX], As[ab + 3u * TX]);
            let b = vec4<f32>(Bs[bb], Bs[bb + TX], Bs[bb + 2u * TX], Bs[bb + 3u * TX]);
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        workgroupBarrier();
    }

    var e_above = 0;
    var dw_scale = 0;
    if (p.mode == 1u) {
        e_above = scale_exponent(p.m_above);
    }
    if (p.mode == 2u) {
        dw_scale = i32(mem[p.aux_off + p.scale_idx]);
    }
    // Σ acc² (mode 2) or max |ĝ| (mode 1, NaN-propagating: a NaN's bits exceed every finite float's)
    var sumsq = 0.0;
    var local_max = 0.0;
    for (var r = 0u; r < 4u; r++) {
        var row = acc0;
        if (r == 1u) { row = acc1; } else if (r == 2u) { row = acc2; } else if (r == 3u) { row = acc3; }
        let i = row0 + lid.y + TX * r;
        for (var c = 0u; c < 4u; c++) {
            let j = col0 + lid.x + TX * c;
            if (i < p.m && j < p.n) {
                let q = epilogue(i, j, row[c], e_above, dw_scale);
                sumsq += q;
                if (q > local_max || q != q) { local_max = q; }
            }
        }
    }

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
