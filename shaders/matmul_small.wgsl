// One output per thread, 16 x 16 tiles, for small layers where the register-blocked tiles would leave
// most of the GPU idle (see matmul_common.wgsl for the operands and epilogues).
const NT: u32 = 256u;

var<workgroup> As: array<f32, 256>; // [k][i]
var<workgroup> Bs: array<f32, 256>; // [k][j]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
    net_enter(wid.z);
    let row0 = wid.y * 16u;
    let col0 = wid.x * 16u;
    let a_k_contig = p.a_sk == 1u;
    let b_k_contig = p.b_sk == 1u;
    var acc = 0.0;
    let ktiles = (p.k + 15u) / 16u;
    for (var kt = 0u; kt < ktiles; kt++) {
        let k0 = kt * 16u;
        // consecutive threads read consecutive addresses whichever way the operand is laid out
        if (a_k_contig) {
            As[lid.x * 16u + lid.y] = load_a(row0 + lid.y, k0 + lid.x);
        } else {
            As[lid.y * 16u + lid.x] = load_a(row0 + lid.x, k0 + lid.y);
        }
        if (b_k_contig) {
            Bs[lid.x * 16u + lid.y] = load_b(k0 + lid.x, col0 + lid.y);
        } else {
            Bs[lid.y * 16u + lid.x] = load_b(k0 + lid.y, col0 + lid.x);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk++) {
            acc = fma(As[kk * 16u + lid.y], Bs[kk * 16u + lid.x], acc);
        }
        workgroupBarrier();
    }
    let sc = epilogue_scales();
    let i = row0 + lid.y;
    let j = col0 + lid.x;
    var sq = vec3<f32>(0.0);
    var local_max = 0.0;
    output(i, j, acc, sc, &sq, &local_max);
    finish(t, wid, nwg, sq, local_max, sc);
}
