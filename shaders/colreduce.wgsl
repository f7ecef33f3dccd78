// Column reductions over the batch, one thread per unit n of a layer (time step):
//   bias gradient  mem[g_off + n] (=|+=) 2^scale · Σ_b ŝ[b, n]
//   RNN input-weight gradient (when res_off != NONE)  mem[res_off + n*d_in + k] (=|+=) 2^scale · Σ_b ŝ[b,n] x[b,k]
//   with FLAG_STATS: mean_b |ŝ[b,n]| into mem[ust_off + n], and per-unit partials into mem[upart_off + 4n ..]:
//     Σ_b ŝ², Σ_b a², #saturated, dead (1 if f'(z[b,n]) == 0 for every b)
// ŝ at a_off, z at z_off, the layer output a at c_off, all with row stride ldc; p.m = batch, p.n = units.

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = gid.x;
    if (n >= p.n) {
        return;
    }
    let scale = i32(mem[p.aux_off + p.scale_idx]);
    let stats = (p.flags & FLAG_STATS) != 0u;
    let acc = (p.flags & FLAG_ACCUMULATE) != 0u;
    var sum = 0.0;
    var sum_abs = 0.0;
    var sum_sq = 0.0;
    var act_sq = 0.0;
    var saturated = 0.0;
    var live = false;
    let sat_below = SATURATION_THRESHOLD * act_peak(p.act);
    for (var b = 0u; b < p.m; b++) {
        let s = mem[p.a_off + b * p.ldc + n];
        sum += s;
        if (stats) {
            sum_abs += abs(s);
            sum_sq += s * s;
            let a = mem[p.c_off + b * p.ldc + n];
            act_sq += a * a;
            let d = act_df(mem[p.z_off + b * p.ldc + n], p.act);
            if (abs(d) < sat_below) { saturated += 1.0; }
            if (d != 0.0) { live = true; }
        }
    }
    let db = ldexp(sum, scale);
    if (acc) { mem[p.g_off + n] += db; } else { mem[p.g_off + n] = db; }
    if (p.res_off != NONE) {
        for (var k = 0u; k < p.d_in; k++) {
            var dot = 0.0;
            for (var b = 0u; b < p.m; b++) {
                dot += mem[p.a_off + b * p.ldc + n] * mem[p.x_off + b * p.d_in + k];
            }
            let o = p.res_off + n * p.d_in + k;
            if (acc) { mem[o] += ldexp(dot, scale); } else { mem[o] = ldexp(dot, scale); }
        }
    }
    if (stats) {
        mem[p.ust_off + n] = sum_abs / f32(p.m);
        let u = p.upart_off + 4u * n;
        mem[u] = sum_sq;
        mem[u + 1u] = act_sq;
        mem[u + 2u] = saturated;
        mem[u + 3u] = select(1.0, 0.0, live);
    }
}
