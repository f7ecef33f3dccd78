// The fused layer stack (MLP) and the persistent recurrent net (RNN): one workgroup owns a slice of p.rows
// batch rows and carries it through every layer (time step) in one dispatch, so the number of dispatches no
// longer grows with depth or time. Between layers a workgroup reads only what it wrote itself, made visible
// by storageBarrier: no workgroup ever waits on another (WGSL has no grid-wide barrier and Vulkan promises no
// forward progress between workgroups).
//
// Layers are 1-based (l = 1..p.layers); each per-layer region holds a B x W block per layer (row stride W =
// p.n, B = p.m). Weights: W_in (p.w_in, W x d_in) feeds layer 1 of an MLP and every step of an RNN;
// W_rec(l) = p.w_rec + (l - 2) p.w_step (W x W) feeds layer l >= 2 from layer l - 1 (an RNN's w_step is 0:
// one W_h); bias(1) = p.b_first, bias(l >= 2) = p.b_rec + (l - 2) p.w_step.
//
// Every kernel covers the layers l_from..=l_to (a chunk; the engine splits long stacks on adapters that
// bound an invocation's loop iterations, see stack_rows.wgsl); a chunk starts from what is in memory.
//
// stack_forward: z_l = bias(l) + [x_l W_inᵀ] + [a_{l-1} W_rec(l)ᵀ],  a_l = f(z_l) (+ a_{l-1}: residual),
//   x_l = x + (l - 1) p.x_step (an MLP's x_step is 0). z at z_off, a at c_off, x at x_off. Then the head
//   ŷ = a_L W_headᵀ + b_head at add_off. Per layer, one atomicMax per workgroup of the largest biased slope
//   exponent into maxes[k_base + l]: the slope shift K_l of the backward (common.wgsl, slope_shift).
// stack_backward: ĝ_L = dy W_head (dy at b_off), and for l < L
//     ĝ_l = (ŝ_{l+1} W_rec(l+1) [· 2^K_{l+1} + ĝ_{l+1}: residual]) · 2^-e_{l+1},   ŝ_l = ĝ_l f'(z_l) 2^-K_l
//   (ĝ at g_off, ŝ at a_off), with e_{l+1} the frexp exponent of max |ĝ_{l+1}| over this slice's rows: the
//   power-of-two scale belongs to a (layer, slice) pair,
//     S[l][r] = S[l+1][r] (- K_{l+1}: residual) + e_{l+1} + K_l,   S[L+1] = 0,
//   so true δ_l = ŝ_l 2^S[l][r]. S goes to mem[sscale_off + l * slices + r]; with one slice it is also the
//   layer's scale, mem[aux_off + l].
// The statistics pass (colreduce.wgsl, FLAG_RESCALE) then brings every slice to the layer's largest scale,
//   so everything downstream (weight gradients, statistics, read-back) sees one scale per layer.

const WG: u32 = 256u;

var<workgroup> wg_code: atomic<u32>;
var<workgroup> wg_max_bits: atomic<u32>;

fn slices() -> u32 {
    return (p.m + p.rows - 1u) / p.rows;
}

@compute @workgroup_size(256)
fn stack_forward(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let w = p.n;
    let r0 = wid.x * p.rows;
    let nr = min(p.rows, p.m - r0);
    let recurrent = (p.flags & FLAG_RECURRENT) != 0u;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    for (var l = p.l_from; l <= p.l_to; l++) {
        if (t == 0u) {
            atomicStore(&wg_code, 0u);
        }
        workgroupBarrier();
        let zl = layer_at(p.z_off, l);
        let al = layer_at(p.c_off, l);
        let input = l == 1u || recurrent;
        let xl = p.x_off + (l - 1u) * p.x_step;
        let bl = bias_at(l);
        var code = 0.0;
        for (var idx = t; idx < nr * w; idx += WG) {
            let b = r0 + idx / w;
            let j = idx % w;
            var z = mem[nb + bl + j];
            if (input) {
                z += dot4(xl + b * p.d_in, 1u, p.w_in + j * p.d_in, 1u, p.d_in);
            }
            if (l >= 2u) {
                z += dot4(layer_at(p.c_off, l - 1u) + b * w, 1u, w_rec_at(l) + j * w, 1u, w);
            }
            let o = b * w + j;
            mem[nb + zl + o] = z;
            var h = act_f(z, net_act());
            if (residual && l >= 2u) {
                h += mem[nb + layer_at(p.c_off, l - 1u) + o];
            }
            mem[nb + al + o] = h;
            code = max(code, slope_code(act_slope(z, net_act())));
        }
        if (code > 0.0) {
            atomicMax(&wg_code, u32(code));
        }
        // this layer's outputs (and the workgroup's slope code) visible to the whole workgroup
        storageBarrier();
        workgroupBarrier();
        if (t == 0u) {
            let c = atomicLoad(&wg_code);
            if (c > 0u) {
                atomicMax(&maxes[mb + p.k_base + l], c);
            }
        }
    }
    if (p.l_to < p.layers) {
        return;
    }
    let top = layer_at(p.c_off, p.layers);
    for (var idx = t; idx < nr * p.d_out; idx += WG) {
        let b = r0 + idx / p.d_out;
        let o = idx % p.d_out;
        mem[nb + p.add_off + b * p.d_out + o] = mem[nb + p.b_head + o] + dot4(top + b * w, 1u, p.w_head + o * w, 1u, w);
    }
}

@compute @workgroup_size(256)
fn stack_backward(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let w = p.n;
    let r0 = wid.x * p.rows;
    let nr = min(p.rows, p.m - r0);
    let ns = slices();
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    var s_above = 0.0;   // S[l+1][r] (the head's scale is 0)
    var e_above = 0;     // frexp exponent of this slice's max |ĝ_{l+1}| (0 at the head)
    var k_above = 0;     // K_{l+1}
    if (t == 0u) {
        atomicStore(&wg_max_bits, 0u);
    }
    workgroupBarrier();
    if (p.l_to < p.layers) {
        // a chunk below the top starts from the layer above it, as the previous chunk left it
        let la = p.l_to + 1u;
        var mx = 0.0;
        for (var idx = t; idx < nr * w; idx += WG) {
            let gk = mem[nb + layer_at(p.g_off, la) + (r0 + idx / w) * w + idx % w];
            if (abs(gk) > mx || is_nan(gk)) {
                mx = abs(gk);
            }
        }
        if (bitcast<u32>(mx) != 0u) {
            atomicMax(&wg_max_bits, bitcast<u32>(mx));
        }
        s_above = mem[nb + p.sscale_off + la * ns + wid.x];
        k_above = slope_shift(la);
    }
    workgroupBarrier();
    let mx0 = bitcast<f32>(atomicLoad(&wg_max_bits));
    if (mx0 != 0.0) {
        e_above = frexp(mx0).exp;
    }
    workgroupBarrier();
    for (var q = p.layers - p.l_to; q <= p.layers - p.l_from; q++) {
        let l = p.layers - q;
        if (t == 0u) {
            atomicStore(&wg_max_bits, 0u);
        }
        workgroupBarrier();
        let k_l = slope_shift(l);
        let gl = layer_at(p.g_off, l);
        let sl_off = layer_at(p.a_off, l);
        let zl = layer_at(p.z_off, l);
        var local_max = 0.0;
        for (var idx = t; idx < nr * w; idx += WG) {
            let b = r0 + idx / w;
            let j = idx % w;
            var g = 0.0;
            if (q == 0u) {
                g = dot4(p.b_off + b * p.d_out, 1u, p.w_head + j, w, p.d_out);
            } else {
                g = dot4(layer_at(p.a_off, l + 1u) + b * w, 1u, w_rec_at(l + 1u) + j, w, w);
                if (residual) {
                    g = ldexp_safe(g, k_above) + mem[nb + layer_at(p.g_off, l + 1u) + b * w + j];
                }
                g = ldexp_safe(g, -e_above);
            }
            let o = b * w + j;
            mem[nb + gl + o] = g;
            let sl = act_slope(mem[nb + zl + o], net_act());
            mem[nb + sl_off + o] = ldexp_safe(g * sl.m, sl.k - k_l);
            // NaN-propagating: a NaN's bits exceed every finite float's
            let ag = abs(g);
            if (ag > local_max || is_nan(g)) {
                local_max = ag;
            }
        }
        if (bitcast<u32>(local_max) != 0u) {
            atomicMax(&wg_max_bits, bitcast<u32>(local_max));
        }
        var s_l = s_above + f32(e_above) + f32(k_l);
        if (residual && q > 0u) {
            s_l -= f32(k_above);
        }
        if (t == 0u) {
            mem[nb + p.sscale_off + l * ns + wid.x] = s_l;
            if (ns == 1u) {
                mem[nb + p.aux_off + l] = s_l;
            }
        }
        storageBarrier();
        workgroupBarrier();
        let mx = bitcast<f32>(atomicLoad(&wg_max_bits));
        e_above = 0;
        if (mx != 0.0) {
            e_above = frexp(mx).exp;
        }
        s_above = s_l;
        k_above = k_l;
        // every thread has read the maximum before the next layer clears it
        workgroupBarrier();
    }
}
