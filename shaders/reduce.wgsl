// Reductions after the backward pass.
// layer_stats: one workgroup per layer l (wid.x): sums the weight-gradient partials
//   mem[part_off + l*m .. + m] and the per-unit partials mem[upart_off + l*4n ..] (n units) into the layer's
//   record mem[c_off + 8l ..] = [log2 scale, Σ acc², Σ ŝ², Σ a², #saturated, #dead, 0, 0]
//   (log2 scale of layer l+1 is mem[aux_off + l + 1]; layers are 1-based in the scales array).
//   Workgroup 0 also counts the step, mem[step_off] += 1, unless step_off is NONE (gradient without update).
// sumsq_partial: Σ g² over mem[a_off .. a_off + count] in 256 workgroups -> mem[part_off + wg].
// sumsq_final: one workgroup: mem[c_off] = sqrt(Σ mem[part_off .. part_off + 256]), also at aux2_off unless NONE.

var<workgroup> red: array<f32, 256>;

fn reduce_sum(t: u32, v: f32) -> f32 {
    red[t] = v;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(256)
fn layer_stats(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let l = wid.x;
    var acc = 0.0;
    for (var i = t; i < p.m; i += 256u) { acc += mem[p.part_off + l * p.m + i]; }
    var vals: array<f32, 4>;
    for (var q = 0u; q < 4u; q++) { vals[q] = 0.0; }
    for (var u = t; u < p.n; u += 256u) {
        let base = p.upart_off + (l * p.n + u) * 4u;
        for (var q = 0u; q < 4u; q++) { vals[q] += mem[base + q]; }
    }
    let gw = reduce_sum(t, acc);
    let s0 = reduce_sum(t, vals[0]);
    let s1 = reduce_sum(t, vals[1]);
    let s2 = reduce_sum(t, vals[2]);
    let s3 = reduce_sum(t, vals[3]);
    if (t == 0u) {
        let o = p.c_off + 8u * l;
        mem[o] = mem[p.aux_off + l + 1u];
        mem[o + 1u] = gw;
        mem[o + 2u] = s0;
        mem[o + 3u] = s1;
        mem[o + 4u] = s2;
        mem[o + 5u] = s3;
        if (l == 0u && p.step_off != NONE) {
            mem[p.step_off] += 1.0;
        }
    }
}

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    var acc = 0.0;
    for (var i = wid.x * 256u + t; i < p.count; i += 256u * 256u) {
        let g = mem[p.a_off + i];
        acc += g * g;
    }
    let total = reduce_sum(t, acc);
    if (t == 0u) {
        mem[p.part_off + wid.x] = total;
    }
}

@compute @workgroup_size(256)
fn sumsq_final(@builtin(local_invocation_index) t: u32) {
    let total = reduce_sum(t, mem[p.part_off + t]);
    if (t == 0u) {
        mem[p.c_off] = sqrt(total);
        if (p.aux2_off != NONE) {
            mem[p.aux2_off] = sqrt(total);
        }
    }
}
