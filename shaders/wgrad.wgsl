// Weight and bias gradients of every layer in one dispatch (MLP: the layer is the grid's z), or of the
// recurrent cell summed over time (RNN, FLAG_RECURRENT: one grid, a loop over the steps), with the per-layer
// (per-step) sums of squares the statistics need. 32 x 32 output tiles; on GPUs (`main`) over 8 x 8
// invocations, each holding a 4 x 4 block in registers (as matmul.wgsl), the batch in steps of 16 staged
// in workgroup memory; on CPU adapters (`main_direct`, below) over 8 x 2 holding 4 x 16 each.
//
// Rows i = 0..W are the layer's units; the columns j run over [a_{l-1} (n_rec) | x_l (n_x) | 1]:
//   G(i, j) = Σ_steps 2^S_t Σ_b ŝ_t[b, i] col_t(b, j),   S_t = mem[aux_off + t] (one scale per layer/step)
//   MLP layer 1: n_rec = 0, n_x = d_in (W_1 and b_1); layer l >= 2: n_rec = W, n_x = 0 (W_l and b_l).
//   RNN: t = l_to..l_from with n_rec = W (h_{t-1}; h_0 = 0) and n_x = d_in: W_h, W_x and b summed over
//   time, in chunks of steps (lavapipe ends an invocation's loops after 65535 iterations in all), later
//   chunks adding into the gradients (FLAG_ACCUMULATE).
// ŝ at a_off, layer outputs a (h) at c_off, x at x_off + (t - 1) x_step; B = p.m, W = p.n.
// FLAG_BIAS (an MLP on the per-row path): the bias column is left to colreduce4.wgsl, which reads every ŝ
// anyway (the grid then has no tile for it alone).
// Gradient tensors: W_rec at gw_rec (MLP layer l >= 2: + (l - 2) w_step), W_in at gw_in, bias at gb_first
// (MLP layer 1, RNN) or gb_rec + (l - 2) w_step (MLP layer l >= 2).
// Per layer (step) t and workgroup, log2 Σ G_t(i, j)² of the unscaled tile sums over the weight columns
// (MLP: W_l; RNN: W_h, t >= 2) goes to mem[part_off + (t - 1) count + slot], slot = tile = wid.y * tiles +
// wid.x; in main_direct with 8-lane subgroups (lanes.wgsl) one per subgroup instead, slot = 8 tile + lid.y
// for lid.y = 0, 1 (reduce.wgsl, layer_stats, sums the slots of a layer; the others stay at "no term"; the
// per-row layout has room for 8 per tile, src/gpu/layout.rs).

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

// Row r and column c of an invocation's 4 x 4 block within its tile, strided by 8 (the staged tiles'
// conflict-free pattern).
fn blk_row(lid: vec3<u32>, r: u32) -> u32 {
    return lid.y + 8u * r;
}

fn blk_col(lid: vec3<u32>, c: u32) -> u32 {
    return lid.x + 8u * c;
}

// What a workgroup of either kernel computes: the layer (MLP) or split of the steps (RNN) its grid z names,
// the column layout (above) and its share of the steps q0 .. q1 (an RNN's split; an MLP's one layer).
struct GradJob {
    recurrent: bool,
    wz: u32,
    layer: u32,
    n_rec: u32,
    n_x: u32,
    // the columns of the partial sums of squares: the weights (an RNN's W_h only)
    part_cols: u32,
    q0: u32,
    q1: u32,
    // whether the bias column is this kernel's (FLAG_BIAS: colreduce4.wgsl takes an MLP's biases instead)
    bias: bool,
}

fn grad_job(wid: vec3<u32>) -> GradJob {
    let recurrent = (p.flags & FLAG_RECURRENT) != 0u;
    let wz = wid.z % p.zn;
    let layer = select(wz + 1u, 0u, recurrent);
    var n_rec = p.n;
    var n_x = 0u;
    if (recurrent) {
        n_x = p.d_in;
    } else if (layer == 1u) {
        n_rec = 0u;
        n_x = p.d_in;
    }
    let n_steps = p.l_to + 1u - p.l_from;
    let per = (n_steps + p.splits - 1u) / p.splits;
    let q0 = select(0u, wz * per, recurrent);
    let q1 = select(1u, min(n_steps, q0 + per), recurrent);
    return GradJob(recurrent, wz, layer, n_rec, n_x, select(n_rec + n_x, n_rec, recurrent), q0, q1,
                   (p.flags & FLAG_BIAS) == 0u);
}

// GPUs: the batch staged in workgroup memory, 16 rows at a time.
@compute @workgroup_size(8, 8)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_index) t: u32) {
    wgrad_tile(lid, wid, t, true);
}

// main without the per-layer (per-step) partial sums of squares (read only by the layer records; on a
// GPU three workgroup barriers per layer or step), for a step whose statistics nobody reads
// (docs/DESIGN.md, Bare steps)
@compute @workgroup_size(8, 8)
fn main_bare(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(local_invocation_index) t: u32) {
    wgrad_tile(lid, wid, t, false);
}

// main's work; `stats` a constant where called
fn wgrad_tile(lid: vec3<u32>, wid: vec3<u32>, t: u32, stats: bool) {
    net_enter(wid.z);
    let job = grad_job(wid);
    let ncols = job.n_rec + job.n_x + 1u;
    if (wid.x * WT >= ncols) {
        return;
    }
    let w = p.n;
    let bw = p.m * w;
    let i0 = wid.y * WT;
    let j0 = wid.x * WT;
    let part_tiles = (job.part_cols + WT - 1u) / WT;
    var tot0 = vec4<f32>(0.0);
    var tot1 = vec4<f32>(0.0);
    var tot2 = vec4<f32>(0.0);
    var tot3 = vec4<f32>(0.0);
    for (var q = job.q0; q < job.q1; q++) {
        let tt = select(job.layer, p.l_to - q, job.recurrent);
        let s_off = p.a_off + (tt - 1u) * bw;
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        for (var b0 = 0u; b0 < p.m; b0 += WK) {
            for (var r = 0u; r < 8u; r++) {
                let idx = t + 64u * r;
                let bb = idx / WT;
                let ii = idx % WT;
                var sv = 0.0;
                if (b0 + bb < p.m && i0 + ii < w) {
                    sv = ld(nb + s_off + (b0 + bb) * w + i0 + ii);
                }
                sa[idx] = sv;
                sb[idx] = column(b0 + bb, j0 + ii, tt, job.n_rec, job.n_x);
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
        if (stats && wid.x < part_tiles && (!job.recurrent || tt >= 2u)) {
            var sq = vec3<f32>(0.0);
            for (var r = 0u; r < 4u; r++) {
                var row = acc0;
                if (r == 1u) { row = acc1; } else if (r == 2u) { row = acc2; } else if (r == 3u) { row = acc3; }
                let i = i0 + blk_row(lid, r);
                for (var c = 0u; c < 4u; c++) {
                    let j = j0 + blk_col(lid, c);
                    if (i < w && j < job.part_cols) {
                        sq = sq_add(sq, row[c]);
                    }
                }
            }
            let tile = wid.y * part_tiles + wid.x;
            let slots = nb + p.part_off + (tt - 1u) * p.count;
            let sum = wg_log2_sum(t, sq_log2(sq), 64u);
            if (t == 0u) {
                st(slots + tile, sum);
            }
        }
        let sc = i32(ld(nb + p.aux_off + tt));
        tot0 += ldexp_safe4(acc0, sc);
        tot1 += ldexp_safe4(acc1, sc);
        tot2 += ldexp_safe4(acc2, sc);
        tot3 += ldexp_safe4(acc3, sc);
    }
    let accumulate = (p.flags & FLAG_ACCUMULATE) != 0u;
    let to_split = job.recurrent && p.splits > 1u;
    for (var r = 0u; r < 4u; r++) {
        var row = tot0;
        if (r == 1u) { row = tot1; } else if (r == 2u) { row = tot2; } else if (r == 3u) { row = tot3; }
        let i = i0 + blk_row(lid, r);
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + blk_col(lid, c);
            if (i >= w || j >= ncols) {
                continue;
            }
            if (to_split) {
                st(nb + p.split_off + (job.wz * w + i) * ncols + j, row[c]);
                continue;
            }
            let o = grad_offset(i, j, job.n_rec, job.n_x, job.layer, job.recurrent);
            if (accumulate) {
                st(nb + o, ld(nb + o) + row[c]);
            } else {
                st(nb + o, row[c]);
            }
        }
    }
}

// ---- CPU adapters (lavapipe, on mem4.wgsl), for widths that are a multiple of 4 (FLAG_WIDE; program.rs
// runs `main` otherwise): the same 32 x 32 tiles, as 8 x 2 invocations each holding a block of 4 rows x 16
// columns (four 4 x 4 sub-blocks) in registers, its operands read straight from the storage buffer. There
// every load at a varying address is a loop over the SIMD lanes, staged in workgroup memory or not, and
// the loads, not the multiply-adds, set the speed: per row of the batch an invocation reads one vec4 of ŝ
// (its four rows) and takes the sixteen columns of a_{l-1} from the lane that loaded them (lanes.wgsl),
// 64 multiply-adds for about one and a half loads (a 4 x 4 block took 16 for about one).

// acc + a ⊗ c: row r of the 4 x 4 block gains a[r] c
fn outer_add(acc: mat4x4<f32>, a: vec4<f32>, c: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(fma(vec4<f32>(a.x), c, acc[0]), fma(vec4<f32>(a.y), c, acc[1]), fma(vec4<f32>(a.z), c, acc[2]),
                       fma(vec4<f32>(a.w), c, acc[3]));
}

// The sub-block at columns jq .. jq + 3 past the columns of a_{l-1}: the step's input x and the bias
// column's ones, a column at a time (zeros past them); rows at i4 (four units of ŝ, row stride w).
fn x_block(i4: u32, jq: u32, tt: u32, job: GradJob) -> mat4x4<f32> {
    let n_rec = job.n_rec;
    let n_x = job.n_x;
    var out = mat4x4<f32>();
    for (var c = 0u; c < 4u; c++) {
        let jc = jq + c;
        var sum = vec4<f32>(0.0);
        if (jc < n_rec + n_x) {
            let x = nb + p.x_off + (tt - 1u) * p.x_step + jc - n_rec;
            for (var b = 0u; b < p.m; b++) {
                sum = fma(ld4(i4 + b * p.n), vec4<f32>(ld(x + b * p.d_in)), sum);
            }
        } else if (jc == n_rec + n_x && job.bias) {
            for (var b = 0u; b < p.m; b++) {
                sum += ld4(i4 + b * p.n);
            }
        }
        out[0][c] = sum.x;
        out[1][c] = sum.y;
        out[2][c] = sum.z;
        out[3][c] = sum.w;
    }
    return out;
}

// A sub-block with the entries outside the partial sums (rows from w, columns from part_cols) zeroed
fn sq_entries(blk: mat4x4<f32>, i: u32, jq: u32, w: u32, part_cols: u32) -> mat4x4<f32> {
    let cols = vec4<u32>(jq) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(part_cols);
    let rows = vec4<u32>(i) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(w);
    let z = vec4<f32>(0.0);
    return mat4x4<f32>(select(z, blk[0], cols & vec4<bool>(rows.x)), select(z, blk[1], cols & vec4<bool>(rows.y)),
                       select(z, blk[2], cols & vec4<bool>(rows.z)), select(z, blk[3], cols & vec4<bool>(rows.w)));
}

// Running (max |v|, #NaN, #∞) of a sub-block's entries, after m
fn block_max(m: vec3<f32>, blk: mat4x4<f32>) -> vec3<f32> {
    var r = m;
    for (var q = 0u; q < 4u; q++) {
        let v = blk[q];
        // on the bits, as is_nan (a compiler may assume v == v); ∞ as the exponent's all ones
        let bits = bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu);
        let nan = bits > vec4<u32>(0x7f800000u);
        let inf = bits == vec4<u32>(0x7f800000u);
        let a = select(abs(v), vec4<f32>(0.0), nan);
        r.x = max(r.x, max(max(a.x, a.y), max(a.z, a.w)));
        r.y += dot(select(vec4<f32>(0.0), vec4<f32>(1.0), nan), vec4<f32>(1.0));
        r.z += dot(select(vec4<f32>(0.0), vec4<f32>(1.0), inf), vec4<f32>(1.0));
    }
    return r;
}

// Σ (v / m)² over a sub-block's entries (inv = 1 / m), after s
fn block_rel_sq(s: f32, blk: mat4x4<f32>, inv: f32) -> f32 {
    var r = s;
    for (var q = 0u; q < 4u; q++) {
        let v = blk[q] * inv;
        r += dot(v, v);
    }
    return r;
}

// The sq_add state (max |v|, Σ (v / max)², #NaN) of the four sub-blocks' entries (zeros where they do
// not count, sq_entries) in two passes over the registers, the largest magnitude first: a multiplication
// per entry where sq_add divides, the same state up to rounding. Infinite entries give (∞, their count).
fn blocks_sq(k0: mat4x4<f32>, k1: mat4x4<f32>, k2: mat4x4<f32>, k3: mat4x4<f32>) -> vec3<f32> {
    var m = block_max(vec3<f32>(0.0), k0);
    m = block_max(m, k1);
    m = block_max(m, k2);
    m = block_max(m, k3);
    let inv = 1.0 / m.x;
    var s = block_rel_sq(0.0, k0, inv);
    s = block_rel_sq(s, k1, inv);
    s = block_rel_sq(s, k2, inv);
    s = block_rel_sq(s, k3, inv);
    if (m.z > 0.0) {
        s = m.z;
    }
    if (m.x == 0.0) {
        s = 0.0;
    }
    return vec3<f32>(m.x, s, m.y);
}

// A sub-block's gradients stored (added where FLAG_ACCUMULATE; into the split sums where an RNN's steps
// are split): a row of four W_rec columns is one vec4 store (consecutive at a multiple of 4: W is one,
// and every region a multiple of 64 values), the other columns one at a time.
fn store_block(blk: mat4x4<f32>, i: u32, jq: u32, job: GradJob) {
    let w = p.n;
    let n_rec = job.n_rec;
    let n_x = job.n_x;
    let ncols = n_rec + n_x + 1u;
    let accumulate = (p.flags & FLAG_ACCUMULATE) != 0u;
    let to_split = job.recurrent && p.splits > 1u;
    for (var r = 0u; r < 4u; r++) {
        let ir = i + r;
        if (ir >= w) {
            continue;
        }
        if (!to_split && jq < n_rec) {
            let o = nb + grad_offset(ir, jq, n_rec, n_x, job.layer, job.recurrent);
            if (accumulate) {
                st4(o, ld4(o) + blk[r]);
            } else {
                st4(o, blk[r]);
            }
            continue;
        }
        for (var c = 0u; c < 4u; c++) {
            let j = jq + c;
            if (j >= ncols || (j == n_rec + n_x && !job.bias)) {
                continue;
            }
            if (to_split) {
                st(nb + p.split_off + (job.wz * w + ir) * ncols + j, blk[r][c]);
                continue;
            }
            let o = nb + grad_offset(ir, j, n_rec, n_x, job.layer, job.recurrent);
            if (accumulate) {
                st(o, ld(o) + blk[r][c]);
            } else {
                st(o, blk[r][c]);
            }
        }
    }
}

@compute @workgroup_size(8, 2)
fn main_direct(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
               @builtin(local_invocation_index) t: u32) {
    direct(lid, wid, t, true);
}

// main_direct without the per-layer partial sums of squares (read only by the layer records), for a step
// whose statistics nobody reads (docs/DESIGN.md, Bare steps)
@compute @workgroup_size(8, 2)
fn main_direct_bare(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
                    @builtin(local_invocation_index) t: u32) {
    direct(lid, wid, t, false);
}

// main_direct's work; `stats` (a constant where called: the compiler drops the partial sums without it)
fn direct(lid: vec3<u32>, wid: vec3<u32>, t: u32, stats: bool) {
    net_enter(wid.z);
    let job = grad_job(wid);
    if (wid.x * WT >= job.n_rec + job.n_x + select(0u, 1u, job.bias)) {
        return;
    }
    let w = p.n;
    let bw = p.m * w;
    let i0 = wid.y * WT;
    let j0 = wid.x * WT;
    let part_tiles = (job.part_cols + WT - 1u) / WT;
    // this invocation's rows i .. i + 3 (past the layer: computed on clamped rows, never stored) and
    // columns j .. j + 15. The 8 lanes of a subgroup (lid.x) share lid.y, so every lane of one takes the
    // same side of each branch below on the columns (lavapipe runs both sides of a branch under a mask,
    // but a loop ends at once where no lane is in it).
    let i = i0 + 4u * lid.x;
    let j = j0 + 16u * lid.y;
    let jq = vec4<u32>(j) + vec4<u32>(0u, 4u, 8u, 12u);
    // the columns of a_{l-1} each sub-block reads (clamped into them: a sub-block past them is replaced)
    let cq = min(jq, vec4<u32>(max(job.n_rec, 4u) - 4u));
    var t0 = mat4x4<f32>();
    var t1 = mat4x4<f32>();
    var t2 = mat4x4<f32>();
    var t3 = mat4x4<f32>();
    for (var q = job.q0; q < job.q1; q++) {
        let tt = select(job.layer, p.l_to - q, job.recurrent);
        let i4 = nb + p.a_off + (tt - 1u) * bw + min(i, w - 4u);
        var k0 = mat4x4<f32>();
        var k1 = mat4x4<f32>();
        var k2 = mat4x4<f32>();
        var k3 = mat4x4<f32>();
        // the columns of a_{l-1} (an RNN's first step has h_0 = 0: no terms)
        let bn = select(0u, p.m, j < job.n_rec && tt >= 2u);
        let c4 = nb + p.c_off + (max(tt, 2u) - 2u) * bw;
        if (LANES == 8u) {
            // lane s loads the sixteen columns of row b0 + s; step s of the inner loop takes them from it
            for (var b0 = 0u; b0 < bn; b0 += 8u) {
                let row = c4 + min(b0 + lid.x, bn - 1u) * w;
                let m0 = ld4(row + cq.x);
                let m1 = ld4(row + cq.y);
                let m2 = ld4(row + cq.z);
                let m3 = ld4(row + cq.w);
                let cnt = min(8u, bn - b0);
                for (var s = 0u; s < cnt; s++) {
                    let a = ld4(i4 + (b0 + s) * w);
                    k0 = outer_add(k0, a, lane_share4(m0, s));
                    k1 = outer_add(k1, a, lane_share4(m1, s));
                    k2 = outer_add(k2, a, lane_share4(m2, s));
                    k3 = outer_add(k3, a, lane_share4(m3, s));
                }
            }
        } else {
            for (var b = 0u; b < bn; b++) {
                let a = ld4(i4 + b * w);
                let row = c4 + b * w;
                k0 = outer_add(k0, a, ld4(row + cq.x));
                k1 = outer_add(k1, a, ld4(row + cq.y));
                k2 = outer_add(k2, a, ld4(row + cq.z));
                k3 = outer_add(k3, a, ld4(row + cq.w));
            }
        }
        // sub-blocks past a_{l-1}'s columns (n_rec is a multiple of 4: none straddles it)
        if (jq.x >= job.n_rec) { k0 = x_block(i4, jq.x, tt, job); }
        if (jq.y >= job.n_rec) { k1 = x_block(i4, jq.y, tt, job); }
        if (jq.z >= job.n_rec) { k2 = x_block(i4, jq.z, tt, job); }
        if (jq.w >= job.n_rec) { k3 = x_block(i4, jq.w, tt, job); }
        // this step's (layer's) partial sum of squares over the weight columns, unscaled
        if (stats && wid.x < part_tiles && (!job.recurrent || tt >= 2u)) {
            let sq = blocks_sq(sq_entries(k0, i, jq.x, w, job.part_cols), sq_entries(k1, i, jq.y, w, job.part_cols),
                               sq_entries(k2, i, jq.z, w, job.part_cols), sq_entries(k3, i, jq.w, w, job.part_cols));
            let tile = wid.y * part_tiles + wid.x;
            let slots = nb + p.part_off + (tt - 1u) * p.count;
            if (LANES == 8u) {
                // a slot per subgroup (lid.y), summed across its lanes: no workgroup barrier, which on
                // lavapipe would keep every accumulator of this kernel in memory (it makes the shader a
                // coroutine that suspends at the barrier); layer_stats adds the slots up (the tile's
                // other six slots keep the "no term" the engine wrote at the start)
                let sum = lane_log2_sum(sq_log2(sq));
                if (lid.x == 0u) {
                    st(slots + LANES * tile + lid.y, sum);
                }
            } else {
                let sum = wg_log2_sum(t, sq_log2(sq), 16u);
                if (t == 0u) {
                    st(slots + tile, sum);
                }
            }
        }
        let sc = i32(ld(nb + p.aux_off + tt));
        t0 += ldexp_safe_mat4(k0, sc);
        t1 += ldexp_safe_mat4(k1, sc);
        t2 += ldexp_safe_mat4(k2, sc);
        t3 += ldexp_safe_mat4(k3, sc);
    }
    store_block(t0, i, jq.x, job);
    store_block(t1, i, jq.y, job);
    store_block(t2, i, jq.z, job);
    store_block(t3, i, jq.w, job);
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
