// Shared by the fused stack kernels (stack.wgsl, stack_rows.wgsl): where a layer's block, weights and bias
// live (the operands are described in stack.wgsl), and a dot product over the storage buffer.

// Offset of layer l's (1-based) B x W block inside a per-layer region.
fn layer_at(region: u32, l: u32) -> u32 {
    return region + (l - 1u) * p.m * p.n;
}

// W_rec(l), l >= 2: the weight from layer l - 1 to layer l (an RNN's w_step is 0: one W_h).
fn w_rec_at(l: u32) -> u32 {
    return p.w_rec + (l - 2u) * p.w_step;
}

// The bias of layer l.
fn bias_at(l: u32) -> u32 {
    if (l == 1u) {
        return p.b_first;
    }
    return p.b_rec + (l - 2u) * p.w_step;
}

// Σ_k ld(u + k su) · ld(v + k sv) over k < n, four at a time (fewer loop iterations: lavapipe ends an
// invocation's loops after 65535 iterations in all, see stack_rows.wgsl).
fn dot4(u: u32, su: u32, v: u32, sv: u32, n: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    var k = 0u;
    for (; k + 4u <= n; k += 4u) {
        let a = vec4<f32>(ld(nb + u + k * su), ld(nb + u + (k + 1u) * su), ld(nb + u + (k + 2u) * su),
                          ld(nb + u + (k + 3u) * su));
        let c = vec4<f32>(ld(nb + v + k * sv), ld(nb + v + (k + 1u) * sv), ld(nb + v + (k + 2u) * sv),
                          ld(nb + v + (k + 3u) * sv));
        acc = fma(a, c, acc);
    }
    var r = (acc.x + acc.y) + (acc.z + acc.w);
    for (; k < n; k++) {
        r = fma(ld(nb + u + k * su), ld(nb + v + k * sv), r);
    }
    return r;
}
