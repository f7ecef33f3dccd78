// Column reductions over the batch for one layer (time step): a workgroup of 16 units x 16 batch slices,
// each thread summing every 16th sample of its unit, then a shared-memory sum over the slices:
//   bias gradient  mem[g_off + n] (=|+=) 2^scale · Σ_b ŝ[b, n]
//   RNN input-weight gradient (when res_off != NONE)  mem[res_off + n*d_in + k] (=|+=) 2^scale · Σ_b ŝ[b,n] x[b,k]
//   with FLAG_STATS: mean_b |ŝ[b,n]| into mem[ust_off + n], and per-unit partials into mem[upart_off + 4n ..]:
//     Σ_b ŝ², Σ_b a², #saturated, dead (1 if f'(z[b,n]) == 0 for every b)
// ŝ at a_off, z at z_off, the layer output a at c_off, all with row stride ldc; p.m = batch, p.n = units.
// At most MAX_D_IN input features for the RNN input weights (the tasks have 1 or 2).

const UNITS: u32 = 16u;
const SLICES: u32 = 16u;
const MAX_D_IN: u32 = 4u;
const NVALS: u32 = 6u + MAX_D_IN;

var<workgroup> part: array<f32, 2560>; // [NVALS][SLICES][UNITS]

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n = wid.x * UNITS + lid.x;
    let valid = n < p.n;
    let stats = (p.flags & FLAG_STATS) != 0u;
    let d_in = select(0u, min(p.d_in, MAX_D_IN), p.res_off != NONE);
    var v: array<f32, 10>;
    for (var q = 0u; q < NVALS; q++) { v[q] = 0.0; }
    let sat_below = SATURATION_THRESHOLD * act_peak(p.act);
    if (valid) {
        for (var b = lid.y; b < p.m; b += SLICES) {
            let s = mem[p.a_off + b * p.ldc + n];
            v[0] += s;
            if (stats) {
                v[1] += abs(s);
                v[2] += s * s;
                let a = mem[p.c_off + b * p.ldc + n];
                v[3] += a * a;
                let d = act_df(mem[p.z_off + b * p.ldc + n], p.act);
                if (abs(d) < sat_below) { v[4] += 1.0; }
                if (d != 0.0) { v[5] += 1.0; }
            }
            for (var k = 0u; k < d_in; k++) {
                v[6u + k] += s * mem[p.x_off + b * p.d_in + k];
            }
        }
    }
    for (var q = 0u; q < NVALS; q++) {
        part[(q * SLICES + lid.y) * UNITS + lid.x] = v[q];
    }
    workgroupBarrier();
    if (lid.y != 0u || !valid) {
        return;
    }
    for (var q = 0u; q < NVALS; q++) {
        var total = 0.0;
        for (var y = 0u; y < SLICES; y++) { total += part[(q * SLICES + y) * UNITS + lid.x]; }
        v[q] = total;
    }
    let scale = i32(mem[p.aux_off + p.scale_idx]);
    let acc = (p.flags & FLAG_ACCUMULATE) != 0u;
    let db = ldexp(v[0], scale);
    if (acc) { mem[p.g_off + n] += db; } else { mem[p.g_off + n] = db; }
    for (var k = 0u; k < d_in; k++) {
        let o = p.res_off + n * p.d_in + k;
        let g = ldexp(v[6u + k], scale);
        if (acc) { mem[o] += g; } else { mem[o] = g; }
    }
    if (stats) {
        mem[p.ust_off + n] = v[1] / f32(p.m);
        let u = p.upart_off + 4u * n;
        mem[u] = v[2];
        mem[u + 1u] = v[3];
        mem[u + 2u] = v[4];
        mem[u + 3u] = select(1.0, 0.0, v[5] > 0.0);
    }
}
