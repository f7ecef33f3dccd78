// The optimizer step over every parameter (flat): params at a_off, gradients at b_off, optimizer slots at
// c_off (momentum velocity or Adam m) and add_off (Adam v), count scalars.
// With FLAG_CLIP, gradients are scaled by min(1, clip / ‖g‖) with ‖g‖ = M · r, (M, r) = mem[aux2_off ..]
// (the overflow-free global norm of reduce.wgsl): the factor is (clip / M) / r, never ‖g‖ itself.
// Adam's step count t = mem[step_off] (layer_stats increments it before this runs).
// Constants: keep in sync with MOMENTUM, ADAM_BETA1, ADAM_BETA2, ADAM_EPS in src/model/config.rs.
const MOMENTUM: f32 = 0.9;
const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    net_enter(gid.z);
    let i = gid.x + gid.y * nwg.x * 256u;
    if (i >= p.count) {
        return;
    }
    var g = mem[nb + p.b_off + i];
    if ((p.flags & FLAG_CLIP) != 0u) {
        let big = mem[nb + p.aux2_off];
        if (big > 0.0) {
            let f = (p.clip / big) / mem[nb + p.aux2_off + 1u];
            if (f < 1.0) {
                g *= f;
            }
        }
    }
    let w = p.a_off + i;
    if (p.optimizer == 0u) {
        mem[nb + w] -= p.lr * g;
    } else if (p.optimizer == 1u) {
        let v = MOMENTUM * mem[nb + p.c_off + i] + g;
        mem[nb + p.c_off + i] = v;
        mem[nb + w] -= p.lr * v;
    } else {
        let t = mem[nb + p.step_off];
        let m = BETA1 * mem[nb + p.c_off + i] + (1.0 - BETA1) * g;
        let v = BETA2 * mem[nb + p.add_off + i] + (1.0 - BETA2) * g * g;
        mem[nb + p.c_off + i] = m;
        mem[nb + p.add_off + i] = v;
        let mh = m / (1.0 - pow(BETA1, t));
        let vh = v / (1.0 - pow(BETA2, t));
        mem[nb + w] -= p.lr * mh / (sqrt(vh) + EPS);
    }
}
