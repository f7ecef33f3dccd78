// The MLP with LayerNorm or BatchNorm on every hidden pre-activation (equations in docs/DESIGN.md
// §Equations): z_l = a_{l-1} W_lᵀ + b_l, ẑ_l = norm(z_l), u_l = γ_l ⊙ ẑ_l + β_l, a_l = f(u_l)
// (+ a_{l-1}: residual, l >= 2). LayerNorm averages each row over its units, BatchNorm each unit over the
// batch, so the batch is coupled: one workgroup carries the whole batch through the layers l_from..=l_to
// (a chunk, as in stack.wgsl: a chunk starts from what is in memory), with barriers between the phases of
// a layer. It never waits on another workgroup.
//
// Layers are 1-based; W_l from stack_common.wgsl (w_rec_at; layer 1 at w_in). A LayerNorm layer's tensors
// are w_l, b_l, gamma_l, beta_l (b_l at bias_at(l)); a BatchNorm layer's w_l, gamma_l, beta_l (the batch
// mean would cancel a bias), so there bias_at(l) is γ_l.
// Regions, each [L][B][W]: z at z_off, a at c_off, ẑ at res_off, ĝ = ∂L/∂a (scaled) at g_off, δ = ∂L/∂z
// (scaled) at a_off, ∂L/∂u (scaled) at top_off. Per layer and group (row for LayerNorm, unit for
// BatchNorm): (mean, 1/√(var + ε)) at part_off + 2(G·(l-1) + group), G = max(B, W); the backward's two
// group means at part_off + 2·G·L + 2·group. p.mode: 1 LayerNorm, 2 BatchNorm.
//
// The backward keeps one power-of-two scale per (layer, slice): ĝ_l is the incoming error divided by 2^e,
// e the frexp exponent of its largest magnitude in the slice, so S_l = S_{l+1} + e (S_{L+1} = 0), at
// sscale_off + l·slices + slice; every scaled value of layer l stands for 2^S_l times itself. normed_stats
// brings the slices to the layer's largest scale and writes it to aux_off + l.

const NW: u32 = 256u;
const NORM_EPS: f32 = 1e-5;
const MODE_LAYER: u32 = 1u;

var<workgroup> nmax: array<atomic<u32>, 2>;

fn n_groups() -> u32 {
    return max(p.m, p.n);
}

// (group, size) of a norm: a row of W units (LayerNorm) or a unit over B rows (BatchNorm)
fn group_size() -> u32 {
    if (p.mode == MODE_LAYER) {
        return p.n;
    }
    return p.m;
}

fn group_count() -> u32 {
    if (p.mode == MODE_LAYER) {
        return p.m;
    }
    return p.n;
}

// Offset (within a [B][W] block) of value i of group g.
fn group_at(g: u32, i: u32) -> u32 {
    if (p.mode == MODE_LAYER) {
        return g * p.n + i;
    }
    return i * p.n + g;
}

// The group of entry (b, u).
fn group_of(b: u32, u: u32) -> u32 {
    if (p.mode == MODE_LAYER) {
        return b;
    }
    return u;
}

fn has_bias() -> bool {
    return p.mode == MODE_LAYER;
}

fn gamma_at(l: u32) -> u32 {
    return bias_at(l) + select(0u, p.n, has_bias());
}

fn beta_at(l: u32) -> u32 {
    return gamma_at(l) + p.n;
}

fn stat_at(l: u32, g: u32) -> u32 {
    return p.part_off + 2u * (n_groups() * (l - 1u) + g);
}

// The rows [r0, r0 + nr) this workgroup owns: a slice of p.rows rows (LayerNorm: rows are independent),
// all of them for BatchNorm (p.rows = B, one workgroup).
fn slice_of(wid: u32) -> vec2<u32> {
    let r0 = wid * p.rows;
    return vec2<u32>(r0, min(p.rows, p.m - r0));
}

// The groups a workgroup normalizes: its rows (LayerNorm) or every unit (BatchNorm); the k-th one.
fn slice_groups(nr: u32) -> u32 {
    if (p.mode == MODE_LAYER) {
        return nr;
    }
    return p.n;
}

fn slice_group(r0: u32, k: u32) -> u32 {
    if (p.mode == MODE_LAYER) {
        return r0 + k;
    }
    return k;
}

// A 4 x 4 block of row-times-weight sums: out[q][c] = Σ_{k<n} ld(u + (b0 + q) us + k) · ld(v + (j0 + c) vu + k vk)
// (rows past b_last and units past j_last repeat the last: computed, never stored), each summed as dot4
// sums (stack_common.wgsl: four running sums over k mod 4, then the rest), so the values are dot4's. Four
// rows and four units per invocation: 32 loads for 64 multiply-adds, where a value per invocation took
// eight for four (lavapipe runs every load at a varying address as a loop over the lanes).
fn block_dot(u: u32, us: u32, b0: u32, b_last: u32, v: u32, vu: u32, vk: u32, j0: u32, j_last: u32, n: u32) -> mat4x4<f32> {
    let rows = nb + u + min(vec4<u32>(b0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(b_last)) * us;
    let units = nb + v + min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(j_last)) * vu;
    // row q's sums for the four units, each a vec4 over k mod 4
    var s0 = mat4x4<f32>();
    var s1 = mat4x4<f32>();
    var s2 = mat4x4<f32>();
    var s3 = mat4x4<f32>();
    var k = 0u;
    for (; k + 4u <= n; k += 4u) {
        let c = mat4x4<f32>(k_run(units.x + k * vk, vk), k_run(units.y + k * vk, vk), k_run(units.z + k * vk, vk),
                            k_run(units.w + k * vk, vk));
        s0 = fma_units(s0, k_run(rows.x + k, 1u), c);
        s1 = fma_units(s1, k_run(rows.y + k, 1u), c);
        s2 = fma_units(s2, k_run(rows.z + k, 1u), c);
        s3 = fma_units(s3, k_run(rows.w + k, 1u), c);
    }
    var out = mat4x4<f32>(sum_runs(s0), sum_runs(s1), sum_runs(s2), sum_runs(s3));
    for (; k < n; k++) {
        let x = vec4<f32>(mem[rows.x + k], mem[rows.y + k], mem[rows.z + k], mem[rows.w + k]);
        let o = k * vk;
        let c = vec4<f32>(mem[units.x + o], mem[units.y + o], mem[units.z + o], mem[units.w + o]);
        out = mat4x4<f32>(fma(vec4<f32>(x.x), c, out[0]), fma(vec4<f32>(x.y), c, out[1]), fma(vec4<f32>(x.z), c, out[2]),
                          fma(vec4<f32>(x.w), c, out[3]));
    }
    return out;
}

// mem[i], mem[i + stride], mem[i + 2 stride], mem[i + 3 stride]
fn k_run(i: u32, stride: u32) -> vec4<f32> {
    return vec4<f32>(mem[i], mem[i + stride], mem[i + 2u * stride], mem[i + 3u * stride]);
}

// s[c] + x ⊙ c[c] for the four units
fn fma_units(s: mat4x4<f32>, x: vec4<f32>, c: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(fma(x, c[0], s[0]), fma(x, c[1], s[1]), fma(x, c[2], s[2]), fma(x, c[3], s[3]));
}

// each unit's four running sums added up as dot4 adds them
fn sum_runs(s: mat4x4<f32>) -> vec4<f32> {
    return vec4<f32>((s[0].x + s[0].y) + (s[0].z + s[0].w), (s[1].x + s[1].y) + (s[1].z + s[1].w),
                     (s[2].x + s[2].y) + (s[2].z + s[2].w), (s[3].x + s[3].y) + (s[3].z + s[3].w));
}

@compute @workgroup_size(256)
fn normed_forward(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let w = p.n;
    let sl = slice_of(wid.x);
    let r0 = sl.x;
    let nw = sl.y * w;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    for (var l = p.l_from; l <= p.l_to; l++) {
        let zl = layer_at(p.z_off, l);
        let bl = bias_at(l);
        // z_l, a block of 4 rows x 4 units per invocation (block_dot)
        var fan = w;
        var src = layer_at(p.c_off, l - 1u);
        var wl = w_rec_at(l);
        if (l == 1u) {
            fan = p.d_in;
            src = p.x_off;
            wl = p.w_in;
        }
        let units4 = (w + 3u) / 4u;
        for (var blk = t; blk < ((sl.y + 3u) / 4u) * units4; blk += NW) {
            let b0 = r0 + 4u * (blk / units4);
            let j0 = 4u * (blk % units4);
            let z = block_dot(src, fan, b0, r0 + sl.y - 1u, wl, fan, 1u, j0, w - 1u, fan);
            for (var q = 0u; q < 4u; q++) {
                for (var c = 0u; c < 4u; c++) {
                    let b = b0 + q;
                    let j = j0 + c;
                    if (b < r0 + sl.y && j < w) {
                        var bias = 0.0;
                        if (has_bias()) {
                            bias = mem[nb + bl + j];
                        }
                        mem[nb + zl + b * w + j] = bias + z[q][c];
                    }
                }
            }
        }
        storageBarrier();
        // each group's mean and 1/√(var + ε) (two passes: the variance of the deviations)
        let n = group_size();
        for (var k = t; k < slice_groups(sl.y); k += NW) {
            let g = slice_group(r0, k);
            var s = 0.0;
            for (var i = 0u; i < n; i++) {
                s += mem[nb + zl + group_at(g, i)];
            }
            let mean = s / f32(n);
            var v = 0.0;
            for (var i = 0u; i < n; i++) {
                let d = mem[nb + zl + group_at(g, i)] - mean;
                v += d * d;
            }
            let o = stat_at(l, g);
            mem[nb + o] = mean;
            mem[nb + o + 1u] = inverseSqrt(v / f32(n) + NORM_EPS);
        }
        storageBarrier();
        // ẑ, u = γ ẑ + β, a = f(u) (+ a_{l-1})
        for (var idx = t; idx < nw; idx += NW) {
            let b = r0 + idx / w;
            let j = idx % w;
            let e = b * w + j;
            let o = stat_at(l, group_of(b, j));
            let zh = (mem[nb + zl + e] - mem[nb + o]) * mem[nb + o + 1u];
            mem[nb + layer_at(p.res_off, l) + e] = zh;
            var a = act_f(mem[nb + gamma_at(l) + j] * zh + mem[nb + beta_at(l) + j], net_act());
            if (residual && l >= 2u) {
                a += mem[nb + layer_at(p.c_off, l - 1u) + e];
            }
            mem[nb + layer_at(p.c_off, l) + e] = a;
        }
        storageBarrier();
    }
    if (p.l_to == p.layers) {
        let top = layer_at(p.c_off, p.layers);
        for (var idx = t; idx < sl.y * p.d_out; idx += NW) {
            let b = r0 + idx / p.d_out;
            let o = idx % p.d_out;
            mem[nb + p.add_off + b * p.d_out + o] =
                mem[nb + p.b_head + o] + dot4(top + b * w, 1u, p.w_head + o * w, 1u, w);
        }
    }
}

@compute @workgroup_size(256)
fn normed_backward(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let w = p.n;
    let sl = slice_of(wid.x);
    let r0 = sl.x;
    let nw = sl.y * w;
    let slices = (p.m + p.rows - 1u) / p.rows;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    let red = p.part_off + 2u * n_groups() * p.layers;
    for (var l = p.l_to; l >= p.l_from; l--) {
        let slot = l & 1u;
        if (t == 0u) {
            atomicStore(&nmax[slot], 0u);
        }
        workgroupBarrier();
        let gl = layer_at(p.g_off, l);
        // the incoming error ∂L/∂a_l, at this slice's scale of layer l + 1, and its largest magnitude
        var local = 0.0;
        // a block of 4 rows x 4 units per invocation (block_dot): the error above times W_{l+1} (the
        // head's W at the top), whose column j holds unit j's weights
        var fan = w;
        var src = layer_at(p.a_off, l + 1u);
        var wa = w_rec_at(l + 1u);
        if (l == p.layers) {
            fan = p.d_out;
            src = p.b_off;
            wa = p.w_head;
        }
        let units4 = (w + 3u) / 4u;
        for (var blk = t; blk < ((sl.y + 3u) / 4u) * units4; blk += NW) {
            let b0 = r0 + 4u * (blk / units4);
            let j0 = 4u * (blk % units4);
            let gb = block_dot(src, fan, b0, r0 + sl.y - 1u, wa, 1u, w, j0, w - 1u, fan);
            for (var q = 0u; q < 4u; q++) {
                for (var c = 0u; c < 4u; c++) {
                    let b = b0 + q;
                    let j = j0 + c;
                    if (b < r0 + sl.y && j < w) {
                        let e = b * w + j;
                        var g = gb[q][c];
                        if (residual && l < p.layers) {
                            g += mem[nb + layer_at(p.g_off, l + 1u) + e];
                        }
                        mem[nb + gl + e] = g;
                        if (abs(g) > local || is_nan(g)) {
                            local = abs(g);
                        }
                    }
                }
            }
        }
        if (is_nan(local)) {
            local = f32_nan();
        }
        atomicMax(&nmax[slot], bitcast<u32>(local));
        workgroupBarrier();
        let mx = bitcast<f32>(atomicLoad(&nmax[slot]));
        var ex = 0;
        if (mx > 0.0 && mx <= 3.4e38) {
            ex = frexp(mx).exp;
        }
        var s_above = 0.0;
        if (l < p.layers) {
            s_above = mem[nb + p.sscale_off + (l + 1u) * slices + wid.x];
        }
        // ĝ, ∂L/∂u = ĝ f'(u), ∂L/∂ẑ = γ ∂L/∂u (into the δ region for now)
        for (var idx = t; idx < nw; idx += NW) {
            let j = idx % w;
            let e = (r0 + idx / w) * w + j;
            let g = ldexp_safe(mem[nb + gl + e], -ex);
            mem[nb + gl + e] = g;
            let zh = mem[nb + layer_at(p.res_off, l) + e];
            let gamma = mem[nb + gamma_at(l) + j];
            let du = g * act_df(gamma * zh + mem[nb + beta_at(l) + j], net_act());
            mem[nb + layer_at(p.top_off, l) + e] = du;
            mem[nb + layer_at(p.a_off, l) + e] = du * gamma;
        }
        storageBarrier();
        // per group: mean ∂L/∂ẑ and mean ∂L/∂ẑ ⊙ ẑ
        let n = group_size();
        let dl = layer_at(p.a_off, l);
        let zhl = layer_at(p.res_off, l);
        for (var k = t; k < slice_groups(sl.y); k += NW) {
            let g = slice_group(r0, k);
            var m1 = 0.0;
            var m2 = 0.0;
            for (var i = 0u; i < n; i++) {
                let q = group_at(g, i);
                m1 += mem[nb + dl + q];
                m2 += mem[nb + dl + q] * mem[nb + zhl + q];
            }
            mem[nb + red + 2u * g] = m1 / f32(n);
            mem[nb + red + 2u * g + 1u] = m2 / f32(n);
        }
        storageBarrier();
        // δ = 1/σ (∂L/∂ẑ − mean − ẑ ⊙ mean2)
        for (var idx = t; idx < nw; idx += NW) {
            let b = r0 + idx / w;
            let j = idx % w;
            let e = b * w + j;
            let g = group_of(b, j);
            let o = stat_at(l, g);
            mem[nb + dl + e] = mem[nb + o + 1u]
                * (mem[nb + dl + e] - mem[nb + red + 2u * g] - mem[nb + zhl + e] * mem[nb + red + 2u * g + 1u]);
        }
        if (t == 0u) {
            mem[nb + p.sscale_off + l * slices + wid.x] = s_above + f32(ex);
        }
        storageBarrier();
        if (l == 1u) {
            break;
        }
    }
}

// One workgroup of 64 per layer (wid.x + 1): per unit, the statistics colreduce.wgsl gives the other paths
// (log2 mean_b |δ| at ust_off + (l-1)·W + u; [Σ δ², log2 Σ a², #saturated (slope of u), dead] at
// upart_off + UPART((l-1)·W + u), with log2 Σ ĝ² and log2 Σ |f'(u)|), and the gradients of b_l (LayerNorm), γ_l and β_l in true units.
@compute @workgroup_size(64)
fn normed_stats(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    layer_sums(t, wid, true);
}

// normed_stats without the statistics, for a step whose statistics nobody reads (docs/DESIGN.md, Bare
// steps): the layer's scale, the rescale and the gradients of b_l, γ_l and β_l.
@compute @workgroup_size(64)
fn normed_stats_bare(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    layer_sums(t, wid, false);
}

// normed_stats' work; `stats` (a constant where called: the compiler drops the statistics without it)
fn layer_sums(t: u32, wid: vec3<u32>, stats: bool) {
    net_enter(wid.z);
    let l = wid.x + 1u;
    let w = p.n;
    // the layer's scale: the largest slice's; every slice brought to it (written back, for the weight
    // gradients and the read-back)
    let slices = (p.m + p.rows - 1u) / p.rows;
    let srow = p.sscale_off + l * slices;
    var top = mem[nb + srow];
    for (var r = 1u; r < slices; r++) {
        top = max(top, mem[nb + srow + r]);
    }
    if (slices > 1u) {
        for (var e = t; e < p.m * w; e += 64u) {
            let d = i32(mem[nb + srow + (e / w) / p.rows] - top);
            if (d != 0) {
                let go = layer_at(p.g_off, l) + e;
                let so = layer_at(p.a_off, l) + e;
                let uo = layer_at(p.top_off, l) + e;
                mem[nb + go] = scale_down_pow2(mem[nb + go], d);
                mem[nb + so] = scale_down_pow2(mem[nb + so], d);
                mem[nb + uo] = scale_down_pow2(mem[nb + uo], d);
            }
        }
        storageBarrier();
    }
    if (t == 0u) {
        mem[nb + p.aux_off + l] = top;
    }
    let sc = i32(top);
    let sat_below = SATURATION_THRESHOLD * act_peak(net_act());
    let bgrad = select(p.gb_rec + (l - 2u) * p.w_step, p.gb_first, l == 1u);
    for (var u = t; u < w; u += 64u) {
        var d2 = 0.0;
        var dl = lsum_new();
        // esum_add states (common.wgsl)
        var act = lsum_new();
        var gsq = lsum_new();
        var slopes = lsum_new();
        var sat = 0.0;
        var live = false;
        var db = 0.0;
        var dgamma = 0.0;
        var dbeta = 0.0;
        let gamma = mem[nb + gamma_at(l) + u];
        let beta = mem[nb + beta_at(l) + u];
        for (var b = 0u; b < p.m; b++) {
            let k = b * w + u;
            let d = mem[nb + layer_at(p.a_off, l) + k];
            db += d;
            let zh = mem[nb + layer_at(p.res_off, l) + k];
            if (stats) {
                d2 += d * d;
                dl = esum_add_abs(dl, d);
                act = esum_add_sq(act, mem[nb + layer_at(p.c_off, l) + k]);
                let uu = gamma * zh + beta;
                let sl = act_slope(uu, net_act());
                gsq = esum_add_sq(gsq, mem[nb + layer_at(p.g_off, l) + k]);
                slopes = esum_add_slope(slopes, sl);
                if (sl.k < 0 || abs(sl.m) < sat_below) {
                    sat += 1.0;
                }
                live = live || !exact_zero_slope(uu, net_act());
            }
            let du = mem[nb + layer_at(p.top_off, l) + k];
            dgamma += du * zh;
            dbeta += du;
        }
        if (stats) {
            var lm = lsum_log2(dl);
            if (lm > NO_TERM && !is_nan(lm)) {
                lm -= log2(f32(p.m));
            } else if (!is_nan(lm)) {
                lm = f32_neg_inf();
            }
            mem[nb + p.ust_off + (l - 1u) * w + u] = lm;
            let o = p.upart_off + UPART * ((l - 1u) * w + u);
            mem[nb + o] = d2;
            mem[nb + o + 1u] = lsum_log2(act);
            mem[nb + o + 2u] = sat;
            mem[nb + o + 3u] = select(1.0, 0.0, live);
            mem[nb + o + 4u] = lsum_log2(gsq);
            mem[nb + o + 5u] = lsum_log2(slopes);
        }
        var ggrad = bgrad;
        if (has_bias()) {
            mem[nb + bgrad + u] = ldexp_safe(db, sc);
            ggrad = bgrad + w;
        }
        mem[nb + ggrad + u] = ldexp_safe(dgamma, sc);
        mem[nb + ggrad + w + u] = ldexp_safe(dbeta, sc);
    }
}

// The weight gradients of every layer (grid y = layer - 1): one invocation per block of 4 × 4 entries of
// ∂L/∂W_l = 2^S_l δ_lᵀ a_{l-1} (a_0 = x), and per workgroup log2 Σ (its entries at the layer's scale)² at
// ldc + (l-1)·count + workgroup (layer_stats sums them into the layer's ‖∂L/∂W_l‖).
@compute @workgroup_size(64)
fn normed_wgrad(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    weight_grads(t, wid, true);
}

// normed_wgrad without the partial sums of squares (read only by the layer records; they take the
// kernel's workgroup barriers), for a step whose statistics nobody reads (docs/DESIGN.md, Bare steps)
@compute @workgroup_size(64)
fn normed_wgrad_bare(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    weight_grads(t, wid, false);
}

// normed_wgrad's work; `stats` a constant where called
fn weight_grads(t: u32, wid: vec3<u32>, stats: bool) {
    net_enter(wid.z);
    let l = wid.y + 1u;
    let w = p.n;
    var fan = w;
    var src = layer_at(p.c_off, max(l, 2u) - 1u);
    var dst = w_rec_at(max(l, 2u)) - p.w_rec + p.gw_rec;
    if (l == 1u) {
        fan = p.d_in;
        src = p.x_off;
        dst = p.gw_in;
    }
    let cgs = (fan + 3u) / 4u;
    let e = wid.x * 64u + t;
    let valid = e < ((w + 3u) / 4u) * cgs;
    let j0 = (e / cgs) * 4u;
    let c0 = (e % cgs) * 4u;
    // the block's rows as four named accumulators, every index a constant (on lavapipe an array indexed by
    // a loop counter lives in memory: a masked gather or scatter per access)
    var a0 = vec4<f32>(0.0);
    var a1 = vec4<f32>(0.0);
    var a2 = vec4<f32>(0.0);
    var a3 = vec4<f32>(0.0);
    if (valid) {
        let dl = layer_at(p.a_off, l);
        let cl = vec4<u32>(min(vec4<u32>(c0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(fan - 1u)));
        let jl = vec4<u32>(min(vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(w - 1u)));
        for (var b = 0u; b < p.m; b++) {
            let x = nb + src + b * fan;
            let v = vec4<f32>(mem[x + cl.x], mem[x + cl.y], mem[x + cl.z], mem[x + cl.w]);
            let d = nb + dl + b * w;
            a0 = fma(vec4<f32>(mem[d + jl.x]), v, a0);
            a1 = fma(vec4<f32>(mem[d + jl.y]), v, a1);
            a2 = fma(vec4<f32>(mem[d + jl.z]), v, a2);
            a3 = fma(vec4<f32>(mem[d + jl.w]), v, a3);
        }
    }
    let acc = mat4x4<f32>(a0, a1, a2, a3);
    let sc = i32(mem[nb + p.aux_off + l]);
    var sq = vec2<f32>(NO_TERM, 0.0);
    if (valid) {
        for (var i = 0u; i < min(4u, w - j0); i++) {
            for (var q = 0u; q < min(4u, fan - c0); q++) {
                let a = acc[i][q];
                mem[nb + dst + (j0 + i) * fan + c0 + q] = ldexp_safe(a, sc);
                if (stats) {
                    sq = sq_pair_add(sq, a);
                }
            }
        }
    }
    if (stats) {
        let part = wg64_pair_log2(t, sq);
        if (t == 0u) {
            mem[nb + p.ldc + (l - 1u) * p.count + wid.x] = part;
        }
    }
}
