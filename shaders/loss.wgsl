// Loss and ∂L/∂ŷ in one workgroup, and the per-step reset of the rescaling maxima.
//   ŷ at a_off (B x d_out, p.m = B, p.n = d_out), targets y at b_off, ∂L/∂ŷ out at c_off.
//   mse: L = (1/(2B)) Σ (ŷ - y)², ∂L/∂ŷ = (ŷ - y)/B; cross-entropy: L = -(1/B) Σ y·log softmax(ŷ),
//   ∂L/∂ŷ = (softmax(ŷ) - y)/B. Loss kind ids: LossKind::shader_id (0 mse, 1 cross-entropy).
//   The loss goes to mem[aux2_off]; maxes[0..count] are zeroed.

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32) {
    for (var i = t; i < p.count; i += 256u) {
        atomicStore(&maxes[i], 0u);
    }
    let inv_b = 1.0 / f32(p.m);
    var loss = 0.0;
    for (var b = t; b < p.m; b += 256u) {
        let row = p.a_off + b * p.n;
        let trow = p.b_off + b * p.n;
        let orow = p.c_off + b * p.n;
        if (p.loss_kind == 0u) {
            for (var o = 0u; o < p.n; o++) {
                let d = mem[row + o] - mem[trow + o];
                loss += 0.5 * d * d * inv_b;
                mem[orow + o] = d * inv_b;
            }
        } else {
            var mx = mem[row];
            for (var o = 1u; o < p.n; o++) { mx = max(mx, mem[row + o]); }
            var se = 0.0;
            for (var o = 0u; o < p.n; o++) { se += exp(mem[row + o] - mx); }
            let lse = log(se) + mx;
            for (var o = 0u; o < p.n; o++) {
                let y = mem[trow + o];
                let logp = mem[row + o] - lse;
                loss -= y * logp * inv_b;
                mem[orow + o] = (exp(logp) - y) * inv_b;
            }
        }
    }
    red[t] = loss;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
        if (t < s) { red[t] += red[t + s]; }
        workgroupBarrier();
    }
    if (t == 0u) {
        mem[p.aux2_off] = red[0];
    }
}
