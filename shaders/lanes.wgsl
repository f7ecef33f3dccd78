// Sharing loads across the lanes of a subgroup (CPU adapters whose device has subgroups, 8 lanes wide):
// lavapipe runs every storage load at a varying address as a loop over the lanes, so where all 8 lanes of a
// subgroup need the same values, each lane loads a different one and the lanes swap them (a register
// permute) instead of each loading all of them.
const LANES: u32 = 8u;

// lane `lane`'s v, in every lane (every lane of the subgroup must be active)
fn lane_share4(v: vec4<f32>, lane: u32) -> vec4<f32> {
    return subgroupShuffle(v, lane);
}

// log2 Σ over the subgroup's 8 lanes of 2^l (as lsum_add: NaN if any is NaN, NO_TERM if every l is), in
// every lane, without a workgroup barrier (every lane of the subgroup must be active)
fn lane_log2_sum(l: f32) -> f32 {
    var st = lsum_new();
    for (var s = 0u; s < LANES; s++) {
        st = lsum_add(st, subgroupShuffle(l, s));
    }
    return lsum_log2(st);
}

// Σ over the subgroup's 8 lanes of v, in every lane (every lane of the subgroup must be active)
fn lane_sum(v: f32) -> f32 {
    var total = 0.0;
    for (var s = 0u; s < LANES; s++) {
        total += subgroupShuffle(v, s);
    }
    return total;
}

// (max of .x, Σ of .y) over the subgroup's 8 lanes, in every lane (every lane must be active)
fn lane_max_sum(v: vec2<f32>) -> vec2<f32> {
    var acc = vec2<f32>(0.0);
    for (var s = 0u; s < LANES; s++) {
        let o = subgroupShuffle(v, s);
        acc = vec2<f32>(max(acc.x, o.x), acc.y + o.y);
    }
    return acc;
}

// log2 of Σ over the subgroup's 8 lanes of the sq_pair_add states st (as wg64_pair_log2: NaN if any lane's
// sum is NaN, NO_TERM if there is no term), in every lane (every lane must be active)
fn lane_pair_log2(st: vec2<f32>) -> f32 {
    var mx = NO_TERM;
    for (var s = 0u; s < LANES; s++) {
        mx = max(mx, subgroupShuffle(st.x, s));
    }
    var total = 0.0;
    for (var s = 0u; s < LANES; s++) {
        let o = subgroupShuffle(st, s);
        total += o.y * exp2(o.x - mx);
    }
    if (is_nan(total)) {
        return total;
    }
    if (mx <= NO_TERM) {
        return NO_TERM;
    }
    return mx + log2(total);
}
