// Loss and ∂L/∂ŷ in one workgroup, and the per-step reset of the rescaling maxima.
//   ŷ at a_off (B x d_out, p.m = B, p.n = d_out), targets y at b_off, ∂L/∂ŷ out at c_off.
//   mse: L = (1/(2B)) Σ (ŷ - y)², ∂L/∂ŷ = (ŷ - y)/B; cross-entropy: L = -(1/B) Σ y·log softmax(ŷ),
//   ∂L/∂ŷ = (softmax(ŷ) - y)/B. Loss kind ids: LossKind::shader_id (0 mse, 1 cross-entropy).
//   The loss goes to mem[aux2_off]; maxes[0..count] are zeroed. With FLAG_COUNT (a bare step without
//   clipping, which runs no layer_stats: src/gpu/program.rs `without_statistics`) the training step is
//   counted here, mem[step_off] += 1, before the update reads the count for Adam.
//   With FLAG_HEAD (the fused path) also the head's gradients, in true units (the head's scale is 0):
//   dW_head[o, j] = Σ_b ∂L/∂ŷ[b, o] a_L[b, j] at gw_head and db_head[o] = Σ_b ∂L/∂ŷ[b, o] at gb_head,
//   a_L at top_off, p.k = W. Where the workgroup is one 8-lane subgroup, `head_grads_lanes` (no barrier).

// The workgroup: 256 invocations, or one subgroup where subgroups are 8 lanes wide (lanes.wgsl), whose
// reduction then takes register shuffles instead of a tree of eight barriers.
const LW: u32 = select(256u, LANES, LANES > 1u);

@compute @workgroup_size(LW)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    if ((p.flags & FLAG_COUNT) != 0u && t == 0u) {
        mem[nb + p.step_off] += 1.0;
    }
    for (var i = t; i < p.count; i += LW) {
        atomicStore(&maxes[mb + i], 0u);
    }
    let inv_b = 1.0 / f32(p.m);
    var loss = 0.0;
    for (var b = t; b < p.m; b += LW) {
        let row = p.a_off + b * p.n;
        let trow = p.b_off + b * p.n;
        let orow = p.c_off + b * p.n;
        if (p.loss_kind == 0u) {
            for (var o = 0u; o < p.n; o++) {
                let d = mem[nb + row + o] - mem[nb + trow + o];
                loss += 0.5 * d * d * inv_b;
                mem[nb + orow + o] = d * inv_b;
            }
        } else {
            var mx = mem[nb + row];
            for (var o = 1u; o < p.n; o++) { mx = max(mx, mem[nb + row + o]); }
            var se = 0.0;
            for (var o = 0u; o < p.n; o++) { se += exp(mem[nb + row + o] - mx); }
            let lse = log(se) + mx;
            for (var o = 0u; o < p.n; o++) {
                let y = mem[nb + trow + o];
                let logp = mem[nb + row + o] - lse;
                loss -= y * logp * inv_b;
                mem[nb + orow + o] = (exp(logp) - y) * inv_b;
            }
        }
    }
    if (LANES > 1u) {
        let total = lane_sum(loss);
        if (t == 0u) {
            mem[nb + p.aux2_off] = total;
        }
    } else {
        red[t] = loss;
        workgroupBarrier();
        for (var s = 128u; s > 0u; s >>= 1u) {
            if (t < s) { red[t] += red[t + s]; }
            workgroupBarrier();
        }
        if (t == 0u) {
            mem[nb + p.aux2_off] = red[0];
        }
    }
    if ((p.flags & FLAG_HEAD) != 0u) {
        if (LANES == 8u) {
            head_grads_lanes(t);
            return;
        }
        // every row's ∂L/∂ŷ visible to the whole workgroup
        storageBarrier();
        for (var idx = t; idx < p.n * p.k; idx += LW) {
            let o = idx / p.k;
            let j = idx % p.k;
            var acc = 0.0;
            for (var b = 0u; b < p.m; b++) {
                acc = fma(mem[nb + p.c_off + b * p.n + o], mem[nb + p.top_off + b * p.k + j], acc);
            }
            mem[nb + p.gw_head + idx] = acc;
        }
        for (var o = t; o < p.n; o += LW) {
            var acc = 0.0;
            for (var b = 0u; b < p.m; b++) {
                acc += mem[nb + p.c_off + b * p.n + o];
            }
            mem[nb + p.gb_head + o] = acc;
        }
    }
}

// The head's gradients where the workgroup is one 8-lane subgroup: lane t owns the columns j = t, t + 8,
// ... of a_L and four outputs at a time; the rows' ∂L/∂ŷ come eight at a time, row b0 + s's from lane s —
// the rows lane s itself formed above (b = s, s + 8, ...), so no barrier — and are swapped between the
// lanes. Each lane then loads one a_L value per row where every (o, j) entry loaded two. The sums run
// over the rows in the same order as the portable loop, with the same fma: the same values.
fn head_grads_lanes(t: u32) {
    for (var o0 = 0u; o0 < p.n; o0 += 4u) {
        let no = min(4u, p.n - o0);
        for (var j0 = 0u; j0 < p.k; j0 += LANES) {
            let j = min(j0 + t, p.k - 1u);
            var acc = vec4<f32>(0.0);
            var bias = vec4<f32>(0.0);
            for (var b0 = 0u; b0 < p.m; b0 += LANES) {
                // only rows this lane formed (past the batch: none, and none is taken)
                let rb = nb + p.c_off + (b0 + t) * p.n + o0;
                var d = vec4<f32>(0.0);
                for (var o = 0u; o < select(0u, no, b0 + t < p.m); o++) {
                    d[o] = mem[rb + o];
                }
                let cnt = min(LANES, p.m - b0);
                for (var s = 0u; s < cnt; s++) {
                    let ds = lane_share4(d, s);
                    acc = fma(ds, vec4<f32>(mem[nb + p.top_off + (b0 + s) * p.k + j]), acc);
                    bias += ds;
                }
            }
            if (j0 + t < p.k) {
                for (var o = 0u; o < no; o++) {
                    mem[nb + p.gw_head + (o0 + o) * p.k + j] = acc[o];
                }
            }
            if (j0 == 0u && t == 0u) {
                for (var o = 0u; o < no; o++) {
                    mem[nb + p.gb_head + o0 + o] = bias[o];
                }
            }
        }
    }
}
