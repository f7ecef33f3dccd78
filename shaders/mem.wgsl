// Binding 0 as f32s (see common.wgsl): what most kernels index directly as `mem`, and the accessors that let
// a kernel be written once for either view (mem4.wgsl).
@group(0) @binding(0) var<storage, read_write> mem: array<f32>;

fn ld(i: u32) -> f32 {
    return mem[i];
}

fn st(i: u32, v: f32) {
    mem[i] = v;
}

// mem[i..i + 4] (mem4.wgsl loads them at once where i is a multiple of 4)
fn ld4(i: u32) -> vec4<f32> {
    return vec4<f32>(mem[i], mem[i + 1u], mem[i + 2u], mem[i + 3u]);
}

fn st4(i: u32, v: vec4<f32>) {
    mem[i] = v.x;
    mem[i + 1u] = v.y;
    mem[i + 2u] = v.z;
    mem[i + 3u] = v.w;
}
