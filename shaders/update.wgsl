// The optimizer step over every parameter (flat): params at a_off, gradients at b_off, optimizer slots at
// c_off (momentum velocity or Adam m) and add_off (Adam v), count scalars.
// With FLAG_CLIP, gradients are scaled by min(1, clip / ‖g‖) with ‖g‖ = M · r, (M, r) = mem[aux2_off ..]
// (the overflow-free global norm of reduce.wgsl): the factor is (clip / M) / r, never ‖g‖ itself.
// Adam's step count t = mem[step_off] (layer_stats increments it before this runs).
// update_norms: per weight matrix j (grid y; a workgroup of NORMS_WG invocations), the update this
// gradient makes, by the same optimizer_step as main, without applying it: [log2 Σ ΔW², log2 Σ W²] (W
// before the update) at part_off + NORMS_STRIDE j. Matrix j
// starts at bitcast<u32>(mem[res_off + 2j]) in the parameter vector, bitcast<u32>(mem[res_off + 2j + 1])
// values long. With mode 1 the step is not counted yet (a gradient without update): t + 1. With mode 2 it
// is the step (nets whose matrices are small, src/gpu/program.rs `update_in_norms`): workgroup j also
// applies the update to matrix j and to the parameters after it up to the next matrix (biases, gains,
// the head's bias; all that follow the last), workgroup 0 also to those before the first, so `main` does
// not run: one pass over the parameters and one dispatch less.
// The first workgroup of each net of `main` and `update_bare` also clears the layers' slope-exponent
// slots (maxes[k_base + 1 ..= k_base + layers]) for the next forward: layer_stats does it in a complete
// step (again here, harmlessly), and a bare step without clipping runs none (src/gpu/program.rs,
// `without_statistics`). The update runs after every kernel that reads them.
// Constants: keep in sync with MOMENTUM, ADAM_BETA1, ADAM_BETA2, ADAM_EPS in src/model/config.rs.
const MOMENTUM: f32 = 0.9;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

// The clipping factor min(1, clip / ‖g‖) (1 without FLAG_CLIP).
fn clip_factor() -> f32 {
    if ((p.flags & FLAG_CLIP) != 0u) {
        let big = ld(nb + p.aux2_off);
        if (big > 0.0) {
            let f = (p.clip / big) / ld(nb + p.aux2_off + 1u);
            if (f < 1.0) {
                return f;
            }
        }
    }
    return 1.0;
}

// Adam's bias corrections (1 − β1^t, 1 − β2^t) at step t: computed once per invocation, not per parameter
// (lavapipe evaluates every optimizer's branch, so a per-parameter pow cost every optimizer two).
fn bias_corrections(t: f32) -> vec2<f32> {
    return vec2<f32>(1.0 - pow(BETA1, t), 1.0 - pow(BETA2, t));
}

// The optimizer's step for gradients g, from the optimizer slots s1 (velocity or Adam m) and s2 (Adam v)
// and Adam's bias corrections bc (bias_corrections): (ΔW, new s1, new s2) as the columns; four parameters
// at a time.
fn optimizer_step(g: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, bc: vec2<f32>) -> mat3x4<f32> {
    if (p.optimizer == 0u) {
        return mat3x4<f32>(-p.lr * g, vec4<f32>(0.0), vec4<f32>(0.0));
    } else if (p.optimizer == 1u) {
        let v = MOMENTUM * s1 + g;
        return mat3x4<f32>(-p.lr * v, v, vec4<f32>(0.0));
    }
    let m = BETA1 * s1 + (1.0 - BETA1) * g;
    let v = BETA2 * s2 + (1.0 - BETA2) * g * g;
    let mh = m / bc.x;
    let vh = v / bc.y;
    return mat3x4<f32>(-p.lr * mh / (sqrt(vh) + EPS), m, v);
}

// The slope-exponent slots cleared by invocation t of a net's first workgroup, `size` invocations.
fn clear_slope_slots(t: u32, size: u32) {
    for (var l = t; l < p.layers; l += size) {
        atomicStore(&maxes[mb + p.k_base + l + 1u], 0u);
    }
}

// The slots parameter i's step reads (zeros for plain SGD, which has none).
fn slots_at(i: u32) -> mat2x4<f32> {
    var s = mat2x4<f32>();
    if (p.optimizer >= 1u) {
        s[0] = ld4(nb + p.c_off + i);
    }
    if (p.optimizer == 2u) {
        s[1] = ld4(nb + p.add_off + i);
    }
    return s;
}

// Four parameters per invocation, i .. i + 3 (every region starts on a multiple of 4: module update4 is
// built on mem4.wgsl, one load per four values on lavapipe, as is update_norms: its two sums per matrix
// take a vec4 of their own, and in mode 2 every workgroup's range starts on a vec4, since a scalar store
// there rewrites its whole vec4). An invocation past the end computes the last four
// again and stores only what is its own, rather than returning early: after a divergent return lavapipe
// can no longer load the uniform values (the clip norm, the step count) once for all lanes.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    net_enter(gid.z);
    if (wid.x == 0u && wid.y == 0u) {
        clear_slope_slots(t, 256u);
    }
    let own = 4u * (gid.x + gid.y * nwg.x * 256u);
    let i = min(own, (max(p.count, 1u) - 1u) & ~3u);
    let g = ld4(nb + p.b_off + i) * clip_factor();
    let s = slots_at(i);
    let step = optimizer_step(g, s[0], s[1], bias_corrections(ld(nb + p.step_off)));
    let w = ld4(nb + p.a_off + i) + step[0];
    if (own + 4u <= p.count) {
        store_step4(i, w, step);
    } else if (own < p.count) {
        for (var c = 0u; c < p.count - own; c++) {
            store_step1(i + c, w[c], step, c);
        }
    }
}

// Parameters i .. i + 3 (i a multiple of 4) set to w, their optimizer slots to the step's.
fn store_step4(i: u32, w: vec4<f32>, step: mat3x4<f32>) {
    st4(nb + p.a_off + i, w);
    if (p.optimizer >= 1u) {
        st4(nb + p.c_off + i, step[1]);
    }
    if (p.optimizer == 2u) {
        st4(nb + p.add_off + i, step[2]);
    }
}

// Parameter i set to w, its optimizer slots to component c of the step's.
fn store_step1(i: u32, w: f32, step: mat3x4<f32>, c: u32) {
    st(nb + p.a_off + i, w);
    if (p.optimizer >= 1u) {
        st(nb + p.c_off + i, step[1][c]);
    }
    if (p.optimizer == 2u) {
        st(nb + p.add_off + i, step[2][c]);
    }
}

// Values per matrix at part_off (two used): a vec4 each, since on this vec4 view a scalar store rewrites
// its whole vec4 and two workgroups must not share one. Keep in sync with UPDATE_NORMS_STRIDE in
// src/gpu/layout.rs.
const NORMS_STRIDE: u32 = 4u;

// update_norms' per-invocation log2 Σ step² and log2 Σ w²
var<workgroup> nred: array<vec2<f32>, 256>;

// Where subgroups are 8 lanes wide (lanes.wgsl: CPU adapters) a matrix gets one subgroup and no workgroup
// barrier (on lavapipe a barrier turns the kernel into a coroutine whose live values sit in memory, and
// each of 256 invocations for a small matrix costs more than its element); elsewhere 256 invocations.
const NORMS_WG: u32 = select(256u, LANES, LANES > 1u);

// The running sums of squares (sq_add states) of the update and of the weights over this invocation's
// share of the matrix's parameters start .. start + len: where start and len are multiples of 4 (every
// matrix of a width that is one), four at a time from 4t on, in vec4 loads on the vec4 view (on lavapipe
// each load at a varying address is a loop over the lanes, a vec4 about as dear as a scalar); else every
// NORMS_WG-th from t.
// Without `norms` (a constant where called: update_bare) only the update is applied.
fn norms_partial(t: u32, start: u32, len: u32, f: f32, bc: vec2<f32>, norms: bool) -> mat2x3<f32> {
    let apply = p.mode == 2u;
    var dsq = vec3<f32>(0.0);
    var wsq = vec3<f32>(0.0);
    let quads = select(0u, len / 4u, start % 4u == 0u && len % 4u == 0u);
    for (var e = 4u * t; e < 4u * quads; e += 4u * NORMS_WG) {
        let i = nb + start + e;
        let s = slots_at(start + e);
        let step = optimizer_step(ld4(p.b_off + i) * f, s[0], s[1], bc);
        let wv = ld4(p.a_off + i);
        if (norms) {
            for (var c = 0u; c < 4u; c++) {
                dsq = sq_add(dsq, step[0][c]);
                wsq = sq_add(wsq, wv[c]);
            }
        }
        if (apply) {
            store_step4(start + e, wv + step[0], step);
        }
    }
    // the scalar loop runs where the vec4 one does not
    for (var e = t + select(len, 0u, quads == 0u); e < len; e += NORMS_WG) {
        let i = start + e;
        let step = step_one(i, f, bc);
        let w = ld(nb + p.a_off + i);
        if (norms) {
            dsq = sq_add(dsq, step[0].x);
            wsq = sq_add(wsq, w);
        }
        if (apply) {
            store_step1(i, w + step[0].x, step, 0u);
        }
    }
    return mat2x3<f32>(dsq, wsq);
}

// The optimizer's step for parameter i alone (its gradient times f, its slots), in the first component of
// each column (optimizer_step on four lanes of the same value).
fn step_one(i: u32, f: f32, bc: vec2<f32>) -> mat3x4<f32> {
    var s1 = 0.0;
    var s2 = 0.0;
    if (p.optimizer >= 1u) {
        s1 = ld(nb + p.c_off + i);
    }
    if (p.optimizer == 2u) {
        s2 = ld(nb + p.add_off + i);
    }
    return optimizer_step(vec4<f32>(ld(nb + p.b_off + i) * f), vec4<f32>(s1), vec4<f32>(s2), bc);
}

// The update applied to parameters lo .. hi (those between the matrices: few), every NORMS_WG-th from t.
fn apply_between(t: u32, lo: u32, hi: u32, f: f32, bc: vec2<f32>) {
    for (var i = lo + t; i < hi; i += NORMS_WG) {
        let step = step_one(i, f, bc);
        store_step1(i, ld(nb + p.a_off + i) + step[0].x, step, 0u);
    }
}

// update_norms' pass over weight matrix j (its share of the parameters between the matrices too, in
// mode 2), returning its invocation's running sums (zeros without `norms`).
fn update_matrix(t: u32, j: u32, norms: bool) -> mat2x3<f32> {
    let start = bitcast<u32>(ld(nb + p.res_off + 2u * j));
    let len = bitcast<u32>(ld(nb + p.res_off + 2u * j + 1u));
    let f = clip_factor();
    let bc = bias_corrections(ld(nb + p.step_off) + select(0.0, 1.0, p.mode == 1u));
    let sums = norms_partial(t, start, len, f, bc, norms);
    if (p.mode == 2u) {
        // the parameters up to the next matrix (to the end after the last), and before the first
        var next = p.count;
        if (j + 1u < p.n) {
            next = bitcast<u32>(ld(nb + p.res_off + 2u * j + 2u));
        }
        apply_between(t, start + len, next, f, bc);
        if (j == 0u) {
            apply_between(t, 0u, start, f, bc);
        }
    }
    return sums;
}

// update_norms in mode 2 without the norms, for a training step whose statistics nobody reads
// (src/gpu/program.rs, `without_statistics`): the update alone, in the same order.
@compute @workgroup_size(NORMS_WG)
fn update_bare(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    if (wid.y == 0u) {
        clear_slope_slots(t, NORMS_WG);
    }
    update_matrix(t, wid.y, false);
}

@compute @workgroup_size(NORMS_WG)
fn update_norms(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let sums = update_matrix(t, wid.y, true);
    let j = wid.y;
    if (LANES > 1u) {
        // one subgroup: the lanes' sums through subgroup shuffles
        let d = lane_log2_sum(sq_log2(sums[0]));
        let w = lane_log2_sum(sq_log2(sums[1]));
        if (t == 0u) {
            st(nb + p.part_off + NORMS_STRIDE * j, d);
            st(nb + p.part_off + NORMS_STRIDE * j + 1u, w);
        }
        return;
    }
    // both sums at once, in two levels like wg_log2_sum: invocation i < 16 adds the 16 terms from 16·i
    // into the first of them, then invocation 0 adds those (three barriers for the pair)
    nred[t] = vec2<f32>(sq_log2(sums[0]), sq_log2(sums[1]));
    workgroupBarrier();
    if (t < 16u) {
        var sd = lsum_new();
        var sw = lsum_new();
        for (var i = 16u * t; i < 16u * t + 16u; i++) {
            sd = lsum_add(sd, nred[i].x);
            sw = lsum_add(sw, nred[i].y);
        }
        nred[16u * t] = vec2<f32>(lsum_log2(sd), lsum_log2(sw));
    }
    workgroupBarrier();
    if (t == 0u) {
        var sd = lsum_new();
        var sw = lsum_new();
        for (var i = 0u; i < 256u; i += 16u) {
            sd = lsum_add(sd, nred[i].x);
            sw = lsum_add(sw, nred[i].y);
        }
        st(nb + p.part_off + NORMS_STRIDE * j, lsum_log2(sd));
        st(nb + p.part_off + NORMS_STRIDE * j + 1u, lsum_log2(sw));
    }
}
