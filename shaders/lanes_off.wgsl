// No sharing across lanes (adapters without subgroups): see lanes.wgsl.
const LANES: u32 = 1u;

fn lane_share4(v: vec4<f32>, lane: u32) -> vec4<f32> {
    return v;
}
