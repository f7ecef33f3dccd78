// The optimizer step over every parameter (flat): params at a_off, gradients at b_off, optimizer slots at
// c_off (momentum velocity or Adam m) and add_off (Adam v), count scalars.
// With FLAG_CLIP, gradients are scaled by min(1, clip / ‖g‖) with ‖g‖ = M · r, (M, r) = mem[aux2_off ..]
// (the overflow-free global norm of reduce.wgsl): the factor is (clip / M) / r, never ‖g‖ itself.
// Adam's step count t = mem[step_off] (layer_stats increments it before this runs).
// update_norms: per weight matrix j (grid y), the update this gradient makes, by the same optimizer_step
// as main, without applying it: [log2 Σ ΔW², log2 Σ W²] (W before the update) at part_off + 2j. Matrix j
// starts at bitcast<u32>(mem[res_off + 2j]) in the parameter vector, bitcast<u32>(mem[res_off + 2j + 1])
// values long. With mode 1 the step is not counted yet (a gradient without update): t + 1.
// Constants: keep in sync with MOMENTUM, ADAM_BETA1, ADAM_BETA2, ADAM_EPS in src/model/config.rs.
const MOMENTUM: f32 = 0.9;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

// The clipping factor min(1, clip / ‖g‖) (1 without FLAG_CLIP).
fn clip_factor() -> f32 {
    if ((p.flags & FLAG_CLIP) != 0u) {
        let big = mem[nb + p.aux2_off];
        if (big > 0.0) {
            let f = (p.clip / big) / mem[nb + p.aux2_off + 1u];
            if (f < 1.0) {
                return f;
            }
        }
    }
    return 1.0;
}

// One parameter's step with gradient g at Adam step t: (ΔW, new slot 1, new slot 2).
fn optimizer_step(i: u32, g: f32, t: f32) -> vec3<f32> {
    if (p.optimizer == 0u) {
        return vec3<f32>(-p.lr * g, 0.0, 0.0);
    } else if (p.optimizer == 1u) {
        let v = MOMENTUM * mem[nb + p.c_off + i] + g;
        return vec3<f32>(-p.lr * v, v, 0.0);
    }
    let m = BETA1 * mem[nb + p.c_off + i] + (1.0 - BETA1) * g;
    let v = BETA2 * mem[nb + p.add_off + i] + (1.0 - BETA2) * g * g;
    let mh = m / (1.0 - pow(BETA1, t));
    let vh = v / (1.0 - pow(BETA2, t));
    return vec3<f32>(-p.lr * mh / (sqrt(vh) + EPS), m, v);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    net_enter(gid.z);
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.count) {
        return;
    }
    let g = mem[nb + p.b_off + i] * clip_factor();
    let step = optimizer_step(i, g, mem[nb + p.step_off]);
    if (p.optimizer == 1u) {
        mem[nb + p.c_off + i] = step.y;
    } else if (p.optimizer == 2u) {
        mem[nb + p.c_off + i] = step.y;
        mem[nb + p.add_off + i] = step.z;
    }
    mem[nb + p.a_off + i] += step.x;
}

// update_norms' per-invocation log2 Σ step² and log2 Σ w²
var<workgroup> nred: array<vec2<f32>, 256>;

@compute @workgroup_size(256)
fn update_norms(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let j = wid.y;
    let start = bitcast<u32>(mem[nb + p.res_off + 2u * j]);
    let len = bitcast<u32>(mem[nb + p.res_off + 2u * j + 1u]);
    let f = clip_factor();
    let steps = mem[nb + p.step_off] + f32(p.mode);
    var dsq = vec3<f32>(0.0);
    var wsq = vec3<f32>(0.0);
    for (var e = t; e < len; e += 256u) {
        let i = start + e;
        let step = optimizer_step(i, mem[nb + p.b_off + i] * f, steps);
        dsq = sq_add(dsq, step.x);
        wsq = sq_add(wsq, mem[nb + p.a_off + i]);
    }
    // both sums at once, in two levels like wg_log2_sum: invocation i < 16 adds the 16 terms from 16·i
    // into the first of them, then invocation 0 adds those (three barriers for the pair)
    nred[t] = vec2<f32>(sq_log2(dsq), sq_log2(wsq));
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
        mem[nb + p.part_off + 2u * j] = lsum_log2(sd);
        mem[nb + p.part_off + 2u * j + 1u] = lsum_log2(sw);
    }
}
