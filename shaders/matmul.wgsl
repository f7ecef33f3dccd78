// Tiled matrix product C = A·B with strided operands, so forward (a Wᵀ), backward-to-input (δ W) and
// weight-gradient (δᵀ a) products all run without transposing anything in memory:
//   A(i, kk) = mem[a_off + i*a_si + kk*a_sk],   B(kk, j) = mem[b_off + kk*b_sk + j*b_sj].
// Epilogues (p.mode):
//   0 forward:  z = acc + add(i,j); store z at z_off (unless NONE); c = f(z) (+ res(i,j) when res_off != NONE)
//   1 backward-to-input: ĝ = (acc + res(i,j)) * 2^-e(m_above); store ĝ at g_off (unless NONE);
//     c = ĝ * f'(z(i,j)); atomicMax |ĝ| into maxes[m_out]; log2 scale[m_out] = scale[m_above] + e
//   2 weight gradient: c (=|+=) acc * 2^scale[scale_idx]; per-workgroup Σ acc² into mem[part_off + wg]
// Output C(i, j) = mem[c_off + i*ldc + j].

// TILE (output tile edge), TK (depth of a K step) and RM = TILE / 16 (outputs per thread per dimension) are
// prepended by src/gpu/shaders.rs, one pipeline per tile size (small tiles give small layers more
// workgroups). 16 x 16 threads each own an RM x RM block of the tile.
const LOADS: u32 = TILE * TK / 256u;

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

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var acc: array<f32, RM * RM>;
    for (var q = 0u; q < RM * RM; q++) { acc[q] = 0.0; }
    let a_k_contig = p.a_sk == 1u;
    let b_k_contig = p.b_sk == 1u;
    let ktiles = (p.k + TK - 1u) / TK;
    for (var kt = 0u; kt < ktiles; kt++) {
        let k0 = kt * TK;
        for (var r = 0u; r < LOADS; r++) {
            let idx = t + 256u * r;
            var ii: u32; var ka: u32;
            if (a_k_contig) { ka = idx % TK; ii = idx / TK; } else { ii = idx % TILE; ka = idx / TILE; }
            As[ka * TILE + ii] = load_a(row0 + ii, k0 + ka);
            var jj: u32; var kb: u32;
            if (b_k_contig) { kb = idx % TK; jj = idx / TK; } else { jj = idx % TILE; kb = idx / TILE; }
            Bs[kb * TILE + jj] = load_b(k0 + kb, col0 + jj);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var av: array<f32, RM>;
            var bv: array<f32, RM>;
            for (var r = 0u; r < RM; r++) {
                av[r] = As[kk * TILE + lid.y + 16u * r];
                bv[r] = Bs[kk * TILE + lid.x + 16u * r];
            }
            for (var r = 0u; r < RM; r++) {
                for (var c = 0u; c < RM; c++) {
                    acc[r * RM + c] = fma(av[r], bv[c], acc[r * RM + c]);
                }
            }
        }
        workgroupBarrier();
    }

    var sumsq = 0.0;
    var local_max = 0.0;
    var e_above = 0;
    var dw_scale = 0;
    if (p.mode == 1u) {
        e_above = scale_exponent(p.m_above);
    }
    if (p.mode == 2u) {
        dw_scale = i32(mem[p.aux_off + p.scale_idx]);
    }
    for (var r = 0u; r < RM; r++) {
        for (var c = 0u; c < RM; c++) {
            let i = row0 + lid.y + 16u * r;
            let j = col0 + lid.x + 16u * c;
            if (i >= p.m || j >= p.n) {
                continue;
            }
            let v = acc[r * RM + c];
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
            } else if (p.mode == 1u) {
                var g = v;
                if (p.res_off != NONE) {
                    g += mem[p.res_off + i * p.ldc + j];
                }
                g = ldexp(g, -e_above);
                if (p.g_off != NONE) {
                    mem[p.g_off + i * p.ldc + j] = g;
                }
                mem[o] = g * act_df(mem[p.z_off + i * p.ldc + j], p.act);
                // max, NaN-propagating: a NaN's bits exceed every finite float's
                let ag = abs(g);
                if (ag > local_max || ag != ag) { local_max = ag; }
            } else {
                let grad = ldexp(v, dw_scale);
                if ((p.flags & FLAG_ACCUMULATE) != 0u) {
                    mem[o] += grad;
                } else {
                    mem[o] = grad;
                }
                sumsq += v * v;
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
        for (var s = 128u; s > 0u; s >>= 1u) {
            if (t < s) { red[t] += red[t + s]; }
            workgroupBarrier();
        }
        if (t == 0u) {
            mem[p.part_off + wid.y * nwg.x + wid.x] = red[0];
        }
    }
}
