// Register-blocked matmul (see matmul_common.wgsl for the operands and epilogues).
// TILE (output tile edge) and TK (depth of a K step) are prepended by src/gpu/shaders.rs, one pipeline per
// tile size. TX x TX threads (TX = TILE / 4) each own a 4 x 4 block of the tile, held in four vec4
// accumulators so they stay in registers.
const TX: u32 = TILE / 4u;
const NT: u32 = TX * TX;
const LOADS: u32 = TILE * TK / NT;

var<workgroup> As: array<f32, TK * TILE>; // [TK][TILE]
var<workgroup> Bs: array<f32, TK * TILE>; // [TK][TILE]

@compute @workgroup_size(TX, TX)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
    net_enter(wid.z);
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

    let sc = epilogue_scales();
    // the thread's Σ acc² or largest |ĝ| / slope code (see `output`)
    var sq = vec3<f32>(0.0);
    var local_max = 0.0;
    for (var r = 0u; r < 4u; r++) {
        var row = acc0;
        if (r == 1u) { row = acc1; } else if (r == 2u) { row = acc2; } else if (r == 3u) { row = acc3; }
        let i = row0 + lid.y + TX * r;
        for (var c = 0u; c < 4u; c++) {
            output(i, col0 + lid.x + TX * c, row[c], sc, &sq, &local_max);
        }
    }

    finish(t, wid, nwg, sq, local_max, sc);
}
