// No sharing across lanes (adapters without subgroups): see lanes.wgsl.
const LANES: u32 = 1u;

fn lane_share4(v: vec4<f32>, lane: u32) -> vec4<f32> {
    return v;
}

// never called where LANES is 1 (the callers take a workgroup reduction instead)
fn lane_log2_sum(l: f32) -> f32 {
    return l;
}

fn lane_sum(v: f32) -> f32 {
    return v;
}

fn lane_max_sum(v: vec2<f32>) -> vec2<f32> {
    return v;
}

fn lane_pair_log2(st: vec2<f32>) -> f32 {
    return st.x + log2(st.y);
}
