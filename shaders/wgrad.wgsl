// Weight and bias gradients of every layer in one dispatch (MLP: the layer is the grid's z), or of the
// recurrent cell summed over time (RNN, FLAG_RECURRENT: one grid, a loop over the steps), with the per-layer
// (per-step) sums of squares the statistics need. 32 x 32 output tiles over 8 x 8 invocations, each holding
// a 4 x 4 block in registers (as matmul.wgsl), the batch in steps of 16 staged in workgroup memory.
//
// Rows i = 0..W are the layer's units; the columns j run over [a_{l-1} (n_rec) | x_l (n_x) | 1]:
//   G(i, j) = Σ_steps 2^S_t Σ_b ŝ_t[b, i] col_t(b, j),   S_t = mem[aux_off + t] (one scale per layer/step)
//   MLP layer 1: n_rec = 0, n_x = d_in (W_1 and b_1); layer l >= 2: n_rec = W, n_x = 0 (W_l and b_l).
//   RNN: t = l_to..l_from with n_rec = W (h_{t-1}; h_0 = 0) and n_x = d_in: W_h, W_x and b summed over
//   time, in chunks of steps (lavapipe ends an invocation's loops after 65535 iterations in all), later
//   chunks adding into the gradients (FLAG_ACCUMULATE).
// ŝ at a_off, layer outputs a (h) at c_off, x at x_off + (t - 1) x_step; B = p.m, W = p.n.
// Gradient tensors: W_rec at gw_rec (MLP layer l >= 2: + (l - 2) w_step), W_in at gw_in, bias at gb_first
// (MLP layer 1, RNN) or gb_rec + (l - 2) w_step (MLP layer l >= 2).
// Per layer (step) t and workgroup, log2 Σ G_t(i, j)² of the unscaled tile sums over the weight columns
// (MLP: W_l; RNN: W_h, t >= 2) goes to mem[part_off + (t - 1) count + slot], slot = tile = wid.y * tiles +
// wid.x; in main_direct with 8-lane subgroups (lanes.wgsl) one per subgroup instead, slot = 8 tile + lid.y
// (reduce.wgsl, layer_stats, sums the slots of a layer; the others stay at "no term"; the per-row layout
// has room for 8 per tile, src/gpu/layout.rs).

const WT: u32 = 32u;
const WK: u32 = 16u;

// An RNN's steps are split over p.splits workgroups per tile (grid z; the MLP's z is the layer): with
// several splits each writes its sum to mem[split_off + (z W + i) ncols + j] and `wgrad_sum` adds the
// splits into the gradients (a GPU has few tiles for one W_h and many steps to share out).

var<workgroup> sa: array<f32, 512>; // [WK][WT]: ŝ[b, i]
var<workgroup> sb: array<f32, 512>; // [WK][WT]: col(b, j)

// col_t(b, j) of the column layout above (0 outside it)
fn column(b: u32, j: u32, tt: u32, n_rec: u32, n_x: u32) -> f32 {
    if (b >= p.m) {
        return 0.0;
    }
    if (j < n_rec) {
        if (tt >= 2u) {
            return ld(nb + p.c_off + (tt - 2u) * p.m * p.n + b * p.n + j);
        }
        return 0.0;
    }
    if (j < n_rec + n_x) {
        return ld(nb + p.x_off + (tt - 1u) * p.x_step + b * p.d_in + j - n_rec);
    }
    return select(0.0, 1.0, j == n_rec + n_x);
}

// Row r and column c of an invocation's 4 x 4 block within its tile: strided by 8 on GPUs (the staged
// tiles' conflict-free pattern); in the direct variant four consecutive rows (along lid.x) and columns (along
// lid.y), for its vec4 loads.
fn blk_row(lid: vec3<u32>, r: u32, direct: bool) -> u32 {
    return select(lid.y + 8u * r, 4u * lid.x + r, direct);
}

fn blk_col(lid: vec3<u32>, c: u32, direct: bool) -> u32 {
    return select(lid.x + 8u * c, 4u * lid.y + c, direct);
}

// GPUs: the batch staged in workgroup memory, 16 rows at a time.
@compute @workgroup_size(8, 8)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    wgrad_tile(lid, wid, t, false);
}

// CPU adapters (lavapipe, built on mem4.wgsl), for widths that are a multiple of 4 (FLAG_WIDE; program.rs
// runs `main` otherwise): the same tiles, each invocation reading its block's operands straight from the
// storage buffer. There every load of a varying address is a loop over the lanes, shared memory or not, so
// staging only added loads and barriers: this reads two vec4s per 16 multiply-adds.
@compute @workgroup_size(8, 8)
fn main_direct(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(local_invocation_index) t: u32) {
    wgrad_tile(lid, wid, t, true);
}

fn wgrad_tile(lid: vec3<u32>, wid: vec3<u32>, t: u32, direct: bool) {
    net_enter(wid.z);
    let recurrent = (p.flags & FLAG_RECURRENT) != 0u;
    let w = p.n;
    let bw = p.m * w;
    let wz = wid.z % p.zn;
    let layer = select(wz + 1u, 0u, recurrent);
    var n_rec = w;
    var n_x = 0u;
    if (recurrent) {
        n_x = p.d_in;
    } else if (layer == 1u) {
        n_rec = 0u;
        n_x = p.d_in;
    }
    let ncols = n_rec + n_x + 1u;
    let i0 = wid.y * WT;
    let j0 = wid.x * WT;
    if (j0 >= ncols) {
        return;
    }
    let part_cols = select(n_rec + n_x, n_rec, recurrent);
    let part_tiles = (part_cols + WT - 1u) / WT;
    // this workgroup's share of the steps (an RNN's split wid.z; an MLP's one layer)
    let n_steps = p.l_to + 1u - p.l_from;
    let per = (n_steps + p.splits - 1u) / p.splits;
    let q0 = select(0u, wz * per, recurrent);
    let q1 = select(1u, min(n_steps, q0 + per), recurrent);
    var tot0 = vec4<f32>(0.0);
    var tot1 = vec4<f32>(0.0);
    var tot2 = vec4<f32>(0.0);
    var tot3 = vec4<f32>(0.0);
    for (var q = q0; q < q1; q++) {
        let tt = select(layer, p.l_to - q, recurrent);
        let s_off = p.a_off + (tt - 1u) * bw;
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        if (direct) {
            // this invocation's block: rows i .. i + 3 (past the layer: computed on clamped rows and never
            // stored) and columns j .. j + 3. The lanes of a SIMD vector run along the rows, so every lane of
            // one takes the same branch below (lavapipe runs the code of both sides of every branch under
            // a mask, but a loop ends at once where no lane is in it, so the side all lanes skip costs
            // little).
            let i = i0 + 4u * lid.x;
            let j = j0 + 4u * lid.y;
            let i4 = nb + s_off + min(i, w - 4u);
            if (j < n_rec) {
                // four columns of a_{l-1}, one load (an RNN's first step has h_0 = 0: no terms)
                let c4 = nb + p.c_off + (max(tt, 2u) - 2u) * bw + j;
                let bn = select(0u, p.m, tt >= 2u);
                if (LANES == 8u) {
                    // the 8 lanes of a subgroup (lid.x) share lid.y and so these columns: lane s loads
                    // them for row b0 + s of the batch, and step s of the inner loop takes them from it
                    for (var b0 = 0u; b0 < bn; b0 += 8u) {
                        let mine = ld4(c4 + min(b0 + lid.x, bn - 1u) * w);
                        let cnt = min(8u, bn - b0);
                        for (var s = 0u; s < cnt; s++) {
                            let a = ld4(i4 + (b0 + s) * w);
                            let c = lane_share4(mine, s);
                            acc0 = fma(vec4<f32>(a.x), c, acc0);
                            acc1 = fma(vec4<f32>(a.y), c, acc1);
                            acc2 = fma(vec4<f32>(a.z), c, acc2);
                            acc3 = fma(vec4<f32>(a.w), c, acc3);
                        }
                    }
                } else {
                    for (var b = 0u; b < bn; b++) {
                        let a = ld4(i4 + b * w);
                        let c = ld4(c4 + b * w);
                        acc0 = fma(vec4<f32>(a.x), c, acc0);
                        acc1 = fma(vec4<f32>(a.y), c, acc1);
                        acc2 = fma(vec4<f32>(a.z), c, acc2);
                        acc3 = fma(vec4<f32>(a.w), c, acc3);
                    }
                }
            } else {
                // the step's input x, the bias column's ones and zeros past them, a column at a time
                for (var c = 0u; c < 4u; c++) {
                    let jc = j + c;
                    var sum = vec4<f32>(0.0);
                    if (jc < n_rec + n_x) {
                        let x = nb + p.x_off + (tt - 1u) * p.x_step + jc - n_rec;
                        for (var b = 0u; b < p.m; b++) {
                            sum = fma(ld4(i4 + b * w), vec4<f32>(ld(x + b * p.d_in)), sum);
                        }
                    } else if (jc == n_rec + n_x) {
                        for (var b = 0u; b < p.m; b++) {
                            sum += ld4(i4 + b * w);
                        }
                    }
                    acc0[c] = sum.x;
                    acc1[c] = sum.y;
                    acc2[c] = sum.z;
                    acc3[c] = sum.w;
                }
            }
        }
        for (var b0 = 0u; b0 < select(p.m, 0u, direct); b0 += WK) {
            for (var r = 0u; r < 8u; r++) {
                let idx = t + 64u * r;
                let bb = idx / WT;
                let ii = idx % WT;
                var sv = 0.0;
                if (b0 + bb < p.m && i0 + ii < w) {
                    sv = ld(nb + s_off + (b0 + bb) * w + i0 + ii);
                }
                sa[idx] = sv;
                sb[idx] = column(b0 + bb, j0 + ii, tt, n_rec, n_x);
            }
            workgroupBarrier();
            for (var kk = 0u; kk < WK; kk++) {
                let ab = kk * WT + lid.y;
                let cb = kk * WT + lid.x;
                let a = vec4<f32>(sa[ab], sa[ab + 8u], sa[ab + 16u], sa[ab + 24u]);
                let c = vec4<f32>(sb[cb], sb[cb + 8u], sb[cb + 16u], sb[cb + 24u]);
                acc0 = fma(vec4<f32>(a.x), c, acc0);
                acc1 = fma(vec4<f32>(a.y), c, acc1);
                acc2 = fma(vec4<f32>(a.z), c, acc2);
                acc3 = fma(vec4<f32>(a.w), c, acc3);
            }
            workgroupBarrier();
        }
        // this step's (layer's) partial sum of squares over the weight columns, unscaled
        if (wid.x < part_tiles && (!recurrent || tt >= 2u)) {
            var sq = vec3<f32>(0.0);
            for (var r = 0u; r < 4u; r++) {
                var row = acc0;
                if (r == 1u) { row = acc1; } else if (r == 2u) { row = acc2; } else if (r == 3u) { row = acc3; }
                let i = i0 + blk_row(lid, r, direct);
                for (var c = 0u; c < 4u; c++) {
                    let j = j0 + blk_col(lid, c, direct);
                    if (i < w && j < part_cols) {
                        sq = sq_add(sq, row[c]);
                    }
                }
            }
            let tile = wid.y * part_tiles + wid.x;
            let slots = nb + p.part_off + (tt - 1u) * p.count;
            if (direct && LANES == 8u) {
                // a slot per subgroup (lid.y), summed across its lanes: no workgroup barrier, which on
                // lavapipe would keep every accumulator of this kernel in memory (it makes the shader a
                // coroutine that suspends at the barrier); layer_stats adds the slots up
                let sum = lane_log2_sum(sq_log2(sq));
                if (lid.x == 0u) {
                    st(slots + LANES * tile + lid.y, sum);
                }
            } else {
                let sum = wg_log2_sum(t, sq_log2(sq), 64u);
                if (t == 0u) {
                    st(slots + tile, sum);
                }
            }
        }
        let sc = i32(ld(nb + p.aux_off + tt));
        tot0 += ldexp_safe4(acc0, sc);
        tot1 += ldexp_safe4(acc1, sc);
        tot2 += ldexp_safe4(acc2, sc);
        tot3 += ldexp_safe4(acc3, sc);
    }
    let accumulate = (p.flags & FLAG_ACCUMULATE) != 0u;
    let to_split = recurrent && p.splits > 1u;
    for (var r = 0u; r < 4u; r++) {
        var row = tot0;
        if (r == 1u) { row = tot1; } else if (r == 2u) { row = tot2; } else if (r == 3u) { row = tot3; }
        let i = i0 + blk_row(lid, r, direct);
        if (direct && !to_split && j0 + blk_col(lid, 3u, true) < n_rec) {
            // four columns of W_rec, consecutive in memory at a multiple of 4 (W is one here, and every
            // region a multiple of 64 values): one vec4 store, where each scalar one is a loop over the lanes
            if (i < w) {
                let o = nb + grad_offset(i, j0 + blk_col(lid, 0u, true), n_rec, n_x, layer, recurrent);
                if (accumulate) {
                    st4(o, ld4(o) + row);
                } else {
                    st4(o, row);
                }
            }
            continue;
        }
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + blk_col(lid, c, direct);
            if (i >= w || j >= ncols) {
                continue;
            }
            if (to_split) {
                st(nb + p.split_off + (wz * w + i) * ncols + j, row[c]);
                continue;
            }
            let o = grad_offset(i, j, n_rec, n_x, layer, recurrent);
            if (accumulate) {
                st(nb + o, ld(nb + o) + row[c]);
            } else {
                st(nb + o, row[c]);
            }
        }
    }
}

// Where gradient entry (i, j) of the column layout above goes.
fn grad_offset(i: u32, j: u32, n_rec: u32, n_x: u32, layer: u32, recurrent: bool) -> u32 {
    if (j < n_rec) {
        var o = p.gw_rec + i * p.n + j;
        if (!recurrent) {
            o += (layer - 2u) * p.w_step;
        }
        return o;
    }
    if (j < n_rec + n_x) {
        return p.gw_in + i * p.d_in + j - n_rec;
    }
    if (recurrent || layer == 1u) {
        return p.gb_first + i;
    }
    return p.gb_rec + (layer - 2u) * p.w_step + i;
}

// An RNN's split sums added into its gradients (W_h, W_x, b), one invocation per entry; FLAG_ACCUMULATE
// adds to what earlier chunks of steps left.
@compute @workgroup_size(256)
fn wgrad_sum(@builtin(global_invocation_id) gid: vec3<u32>) {
    net_enter(gid.z);
    let w = p.n;
    let ncols = w + p.d_in + 1u;
    let idx = gid.x;
    if (idx >= w * ncols) {
        return;
    }
    let i = idx / ncols;
    let j = idx % ncols;
    var total = 0.0;
    for (var z = 0u; z < p.splits; z++) {
        total += ld(nb + p.split_off + (z * w + i) * ncols + j);
    }
    let o = grad_offset(i, j, w, p.d_in, 0u, true);
    if ((p.flags & FLAG_ACCUMULATE) != 0u) {
        st(nb + o, ld(nb + o) + total);
    } else {
        st(nb + o, total);
    }
}
