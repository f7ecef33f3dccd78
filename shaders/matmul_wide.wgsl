// The matmul for wide layers (see matmul_common.wgsl for the operands and epilogues), on the vec4 view of
// the state. TILE (output tile edge) and TK (depth of a K step) are prepended by src/gpu/shaders.rs.
// TX x TX threads (TX = TILE / 8) each own an 8 x 8 block of the tile: rows 4·ty + r and TILE/2 + 4·ty + r,
// columns 4·tx + c and TILE/2 + 4·tx + c (r, c < 4), held in sixteen vec4 accumulators. Per K step:
//   - each thread's share of the next K tile is fetched from memory into registers (vec4 loads where the
//     operand is contiguous and aligned, bounds-checked scalars elsewhere) before the current tile is
//     multiplied, so the loads overlap the arithmetic;
//   - the shared tiles are k-major rows of vec4s padded by one vec4, so a thread reads its four rows (or
//     columns) as one vec4 and the transposing stores of a k-contiguous operand fall in distinct banks.
const TX: u32 = TILE / 8u;
const NT: u32 = TX * TX;
// vec4s of one operand's K tile each thread fetches
const LOADS4: u32 = TILE * TK / (4u * NT);
// a shared row: TILE values as vec4s, one vec4 of padding
const SR: u32 = TILE / 4u + 1u;

var<workgroup> As: array<vec4<f32>, TK * SR>; // [k][i / 4]
var<workgroup> Bs: array<vec4<f32>, TK * SR>; // [k][j / 4]

// Whether the operand's contiguous direction can be read as aligned vec4s: its offset and its other stride
// are multiples of 4 (every net's base is a multiple of 64 values).
fn vec4_ok(q: Operand) -> bool {
    if (q.off % 4u != 0u) { return false; }
    if (q.s_k == 1u) { return q.s_out % 4u == 0u; }
    return q.s_out == 1u && q.s_k % 4u == 0u;
}

// Chunk c of an operand's K tile at k0, for the output indices from o0: along k (4 consecutive k of one
// output index) where the operand is k-contiguous, else along the output index (4 consecutive ones of one
// k). Zero past the matrix.
fn fetch(q: Operand, c: u32, o0: u32, k0: u32, vec: bool) -> vec4<f32> {
    if (q.s_k == 1u) {
        let o = o0 + c / (TK / 4u);
        let kk = k0 + (c % (TK / 4u)) * 4u;
        if (vec && o < q.len && kk + 3u < p.k) {
            return ld4(nb + q.off + o * q.s_out + kk);
        }
        return vec4<f32>(load_op(q, o, kk), load_op(q, o, kk + 1u), load_op(q, o, kk + 2u),
                         load_op(q, o, kk + 3u));
    }
    let kk = k0 + c / (TILE / 4u);
    let o = o0 + (c % (TILE / 4u)) * 4u;
    if (vec && kk < p.k && o + 3u < q.len) {
        return ld4(nb + q.off + o + kk * q.s_k);
    }
    return vec4<f32>(load_op(q, o, kk), load_op(q, o + 1u, kk), load_op(q, o + 2u, kk),
                     load_op(q, o + 3u, kk));
}

// Stores a fetched chunk into a k-major shared tile (transposing a chunk along k). One per tile: naga takes
// no pointer to workgroup memory as an argument.
fn put_a(along_k: bool, c: u32, v: vec4<f32>) {
    if (along_k) {
        let i = c / (TK / 4u);
        let kq = (c % (TK / 4u)) * 4u;
        for (var q = 0u; q < 4u; q++) {
            As[(kq + q) * SR + i / 4u][i % 4u] = v[q];
        }
    } else {
        As[(c / (TILE / 4u)) * SR + c % (TILE / 4u)] = v;
    }
}

fn put_b(along_k: bool, c: u32, v: vec4<f32>) {
    if (along_k) {
        let j = c / (TK / 4u);
        let kq = (c % (TK / 4u)) * 4u;
        for (var q = 0u; q < 4u; q++) {
            Bs[(kq + q) * SR + j / 4u][j % 4u] = v[q];
        }
    } else {
        Bs[(c / (TILE / 4u)) * SR + c % (TILE / 4u)] = v;
    }
}

@compute @workgroup_size(TX, TX)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32, @builtin(num_workgroups) nwg: vec3<u32>) {
    net_enter(wid.z);
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let qa = operand_a();
    let qb = operand_b();
    let va = vec4_ok(qa);
    let vb = vec4_ok(qb);
    // acc[4 * h + r]: row (h / 2) * TILE/2 + 4·ty + r, columns (h % 2) * TILE/2 + 4·tx + (0..4)
    // (zero-initialised, as every function variable)
    var acc: array<vec4<f32>, 16>;
    var ra: array<vec4<f32>, LOADS4>;
    var rb: array<vec4<f32>, LOADS4>;
    for (var r = 0u; r < LOADS4; r++) {
        ra[r] = fetch(qa, t + NT * r, row0, 0u, va);
        rb[r] = fetch(qb, t + NT * r, col0, 0u, vb);
    }
    let ktiles = (p.k + TK - 1u) / TK;
    for (var kt = 0u; kt < ktiles; kt++) {
        for (var r = 0u; r < LOADS4; r++) {
            put_a(qa.s_k == 1u, t + NT * r, ra[r]);
            put_b(qb.s_k == 1u, t + NT * r, rb[r]);
        }
        workgroupBarrier();
        if (kt + 1u < ktiles) {
            let k1 = (kt + 1u) * TK;
            for (var r = 0u; r < LOADS4; r++) {
                ra[r] = fetch(qa, t + NT * r, row0, k1, va);
                rb[r] = fetch(qb, t + NT * r, col0, k1, vb);
            }
        }
        for (var kk = 0u; kk < TK; kk++) {
            let a0 = As[kk * SR + lid.y];
            let a1 = As[kk * SR + TX + lid.y];
            let b0 = Bs[kk * SR + lid.x];
            let b1 = Bs[kk * SR + TX + lid.x];
            for (var r = 0u; r < 4u; r++) {
                acc[r] = fma(vec4<f32>(a0[r]), b0, acc[r]);
                acc[4u + r] = fma(vec4<f32>(a0[r]), b1, acc[4u + r]);
                acc[8u + r] = fma(vec4<f32>(a1[r]), b0, acc[8u + r]);
                acc[12u + r] = fma(vec4<f32>(a1[r]), b1, acc[12u + r]);
            }
        }
        workgroupBarrier();
    }

    let sc = epilogue_scales();
    // the thread's Σ acc² or largest |ĝ| / slope code (see `output`)
    var sq = vec3<f32>(0.0);
    var local_max = 0.0;
    for (var h = 0u; h < 4u; h++) {
        for (var r = 0u; r < 4u; r++) {
            let i = row0 + (h / 2u) * (TILE / 2u) + 4u * lid.y + r;
            let row = acc[4u * h + r];
            for (var c = 0u; c < 4u; c++) {
                let j = col0 + (h % 2u) * (TILE / 2u) + 4u * lid.x + c;
                output(i, j, row[c], sc, &sq, &local_max);
            }
        }
    }

    finish(t, wid, nwg, sq, local_max, sc);
}
