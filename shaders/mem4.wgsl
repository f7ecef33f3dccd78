// Binding 0 as vec4s (see common.wgsl), for kernels whose time goes into loads: the per-row stack, the direct
// weight gradients, the optimizer step and the gated cells' forward, backward and weight gradients. lavapipe
// turns every storage-buffer access at a varying address into a loop over the SIMD lanes, one scalar access
// per lane and component, so a vec4 load costs about what two scalar ones do while moving four values
// (docs/DESIGN.md, Performance). A scalar store through this view (`st`) is a read-modify-write of its vec4
// there: kernels that store much keep mem.wgsl. The buffer's length, every region of the layout and every
// per-net stride are multiples of 64 values, so no value is out of this view's reach; ld4/st4 need i to be a
// multiple of 4.
@group(0) @binding(0) var<storage, read_write> mem4: array<vec4<f32>>;

fn ld(i: u32) -> f32 {
    return mem4[i >> 2u][i & 3u];
}

fn st(i: u32, v: f32) {
    mem4[i >> 2u][i & 3u] = v;
}

fn ld4(i: u32) -> vec4<f32> {
    return mem4[i >> 2u];
}

fn st4(i: u32, v: vec4<f32>) {
    mem4[i >> 2u] = v;
}
