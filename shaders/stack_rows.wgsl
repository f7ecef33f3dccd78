// The fused stack / persistent RNN shaped for CPU adapters (lavapipe): each invocation owns RPI batch rows
// (4, 1 or 2: below), which it carries through the layers (time steps), computing a block of 4 x 4 values at a
// time held in registers (four slots of four units). An invocation reads back only the row values it wrote
// itself, which program order makes visible to it: no barrier at all. The module views the state as vec4s
// (mem4.wgsl): where the width is a multiple of 4 (FLAG_WIDE; FLAG_WIDE_IN for the input x and W_in, d_in a
// multiple of 4) every operand row is read four values per load, so a four-row block step reads 8 vec4s
// for 64 multiply-adds; otherwise the same blocks read scalars, 8 values per 16 multiply-adds. lavapipe
// runs every storage access at a varying address as a loop over the lanes, so the loads, not the
// arithmetic, set the speed; and it runs both sides of every branch (the untaken one masked), so the
// blocks a layer does not have are left out by constants (fwd_layer, bwd_layer), not skipped at run time.
//
// Same operands, equations and parameter record as stack.wgsl (read it first), with these differences:
//   - the power-of-two scale of the backward belongs to a (layer, row) pair: S[l][b] at
//     sscale_off + l * B + b (p.rows is 1 in the record: one row per slice for colreduce's FLAG_RESCALE);
//   - one dispatch covers the layers l_from..=l_to (a chunk: lavapipe ends every loop of an invocation after
//     65535 iterations in all, so the engine splits long stacks (program.rs, loop_costs); a chunk starts
//     from the rows in memory);
//   - rows past the batch (the last invocation's) compute the last row again and store nothing: a divergent
//     early return would put all later work under a partial execution mask.

// RPI, the rows per invocation, and ROW16, whether a block holds sixteen units of one row rather than four
// units of four rows, come from the module's constants (src/gpu/shaders.rs, MODULES): module stack_rows
// has 4 rows of four-unit blocks; stack_rows1, stack_rows2 and stack_rows4 have 1, 2 and 4 rows of
// sixteen-unit blocks (built for lavapipe's 8-lane subgroups, chosen only where the width is a multiple of
// 4). In a four-unit block, slot s (acc[s]) is row 4g + s and every slot holds the same four units; in a
// sixteen-unit block slot s holds units 4s..4s + 3 of one row: a step then reads one vec4 of the row for 64
// multiply-adds, and four times as many invocations share a small batch (more lanes and more CPU threads
// busy). With 2 rows (PAIR) the invocation carries a second row, 2g + 1, laid out as the first, 2g; with 4
// (QUAD) two more, 4g + 2 and 4g + 3. Every row takes each weight value the lanes swap, so a subgroup loads
// every weight once per 8 RPI rows (on lavapipe the loads, not the multiply-adds, set the speed). Each row
// has its own block (Blocks.a..d), Rows (RowSet.a..d) and Above (Aboves.a..d).

// whether an invocation carries a second row of sixteen-unit blocks
const PAIR: bool = ROW16 && RPI >= 2u;
// whether it carries four
const QUAD: bool = ROW16 && RPI == 4u;

// units per block of the unit loop
const BLOCK_UNITS: u32 = select(4u, 16u, ROW16);

// The blocks of an invocation's rows (a: the first row's, or the four rows' of a four-unit block; b: the
// second row's with PAIR; c, d: the third and fourth rows' with QUAD; zeros where absent).
struct Blocks {
    a: mat4x4<f32>,
    b: mat4x4<f32>,
    c: mat4x4<f32>,
    d: mat4x4<f32>,
}

// this invocation's lane in its subgroup: a workgroup of 8 is one subgroup where LANES is 8 (lanes.wgsl)
var<private> lane_id: u32;

// This invocation's rows, clamped into the batch, and which of them are its own to store.
struct Rows {
    b: vec4<u32>,
    live: vec4<bool>,
    // which slots store the row's own values (scales, outputs): every live one with four rows, the first
    // with one
    own: vec4<bool>,
}

// The rows of an invocation, each with its Rows: `a` (the four rows of a four-unit block, or the first row),
// `b` with PAIR, `c` and `d` with QUAD; where absent a copy of `a`, which nothing then reads.
struct RowSet {
    a: Rows,
    b: Rows,
    c: Rows,
    d: Rows,
}

fn rows_of(g: u32) -> RowSet {
    if (!ROW16) {
        let r = RPI * g + vec4<u32>(0u, 1u, 2u, 3u);
        let live = r < vec4<u32>(p.m);
        let rows = Rows(min(r, vec4<u32>(p.m - 1u)), live, live);
        return RowSet(rows, rows, rows, rows);
    }
    let first = one_row(RPI * g);
    var rs = RowSet(first, first, first, first);
    if (PAIR) {
        rs.b = one_row(RPI * g + 1u);
    }
    if (QUAD) {
        rs.c = one_row(RPI * g + 2u);
        rs.d = one_row(RPI * g + 3u);
    }
    return rs;
}

// The batch rows of a block's four rows (fwd_blocks, bwd_blocks): a four-unit block's rows, or the
// invocation's rows of sixteen-unit blocks (a, b, c, d; copies of a where absent).
fn block_rows(rs: RowSet) -> vec4<u32> {
    if (!ROW16) {
        return rs.a.b;
    }
    return vec4<u32>(rs.a.b.x, rs.b.b.x, rs.c.b.x, rs.d.b.x);
}

// Which of block_rows' rows are this invocation's own to store (an absent row's copy is not).
fn block_own(rs: RowSet) -> vec4<bool> {
    if (!ROW16) {
        return rs.a.own;
    }
    return vec4<bool>(rs.a.own.x, PAIR && rs.b.own.x, QUAD && rs.c.own.x, QUAD && rs.d.own.x);
}

// Row r in every slot (clamped into the batch), live and its own in the first where it is in the batch
fn one_row(r: u32) -> Rows {
    let live = r < p.m;
    return Rows(vec4<u32>(min(r, p.m - 1u)), vec4<bool>(live), vec4<bool>(live, false, false, false));
}

// The first unit of each slot of the block at j0 (a slot past the width repeats the last block: the same
// values and the same stores as the slot that owns it).
fn slot_units(j0: u32, w: u32) -> vec4<u32> {
    if (ROW16) {
        return min(vec4<u32>(j0) + vec4<u32>(0u, 4u, 8u, 12u), vec4<u32>((w - 1u) & ~3u));
    }
    return vec4<u32>(j0);
}

// The last unit of each slot, relative to its first (units past it repeat it).
fn slot_last(js: vec4<u32>, w: u32) -> vec4<u32> {
    return min(vec4<u32>(3u), vec4<u32>(w - 1u) - js);
}

// load4 of each slot's units at `at` (one load where the slots share their units)
fn slot_load4(at: u32, js: vec4<u32>, ls: vec4<u32>, wide: bool) -> mat4x4<f32> {
    if (!ROW16) {
        let v = load4(at + js.x, ls.x, wide);
        return mat4x4<f32>(v, v, v, v);
    }
    return mat4x4<f32>(load4(at + js.x, ls.x, wide), load4(at + js.y, ls.y, wide), load4(at + js.z, ls.z, wide),
                       load4(at + js.w, ls.w, wide));
}

// With one row, the four slots' running maxima made the row's (NaN-propagating, as abs_max)
fn row_max(mx: vec4<f32>) -> vec4<f32> {
    if (!ROW16) {
        return mx;
    }
    // each slot by a constant index (lavapipe keeps a vector read at a loop counter's index in memory)
    return vec4<f32>(nan_max(nan_max(nan_max(mx.x, mx.y), mx.z), mx.w));
}

// v where it exceeds r or is NaN, else r
fn nan_max(r: f32, v: f32) -> f32 {
    return select(r, v, v > r || is_nan(v));
}

// ld(i + c) for units c = 0..3 (past `last` the last one again); one load where `wide`.
fn load4(i: u32, last: u32, wide: bool) -> vec4<f32> {
    if (wide) {
        return ld4(i);
    }
    return vec4<f32>(ld(i), ld(i + min(1u, last)), ld(i + min(2u, last)), ld(i + min(3u, last)));
}

// st(i + c, v[c]) for units c = 0..last
fn store4(i: u32, v: vec4<f32>, last: u32, wide: bool) {
    if (wide) {
        st4(i, v);
        return;
    }
    for (var c = 0u; c <= last; c++) {
        st(i + c, v[c]);
    }
}

// One step of fwd_block over k .. k + 3: row r's values there (at uu[r] + k) against unit c's weights
// there (w[c]), added to out[r][c].
fn fwd_step(acc: mat4x4<f32>, uu: vec4<u32>, k: u32, w: mat4x4<f32>) -> mat4x4<f32> {
    let x0 = ld4(uu.x + k);
    let x1 = ld4(uu.y + k);
    let x2 = ld4(uu.z + k);
    let x3 = ld4(uu.w + k);
    return mat4x4<f32>(acc[0] + dots(x0, w), acc[1] + dots(x1, w), acc[2] + dots(x2, w), acc[3] + dots(x3, w));
}

// (x · w[c]) for c = 0..3
fn dots(x: vec4<f32>, w: mat4x4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(x, w[0]), dot(x, w[1]), dot(x, w[2]), dot(x, w[3]));
}

// Four vec4s at i, i + stride, i + 2 stride, i + 3 stride (four weight rows, or four rows of a weight)
fn ld4_rows(i: u32, stride: u32) -> mat4x4<f32> {
    return mat4x4<f32>(ld4(i), ld4(i + stride), ld4(i + 2u * stride), ld4(i + 3u * stride));
}

// lane s's r, in every lane
fn shared_rows(r: mat4x4<f32>, s: u32) -> mat4x4<f32> {
    return mat4x4<f32>(lane_share4(r[0], s), lane_share4(r[1], s), lane_share4(r[2], s), lane_share4(r[3], s));
}

// One step of bwd_block over k .. k + 3: row r's values there (at uu[r] + k) times the weight rows
// k .. k + 3 (w[q]: the four units' weights in row k + q), added to out[r].
fn bwd_step(acc: mat4x4<f32>, uu: vec4<u32>, k: u32, w: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        rows_by(ld4(uu.x + k), w, acc[0]),
        rows_by(ld4(uu.y + k), w, acc[1]),
        rows_by(ld4(uu.z + k), w, acc[2]),
        rows_by(ld4(uu.w + k), w, acc[3]));
}

// acc + x.x w[0] + x.y w[1] + x.z w[2] + x.w w[3]
fn rows_by(x: vec4<f32>, w: mat4x4<f32>, acc: vec4<f32>) -> vec4<f32> {
    return fma(vec4<f32>(x.x), w[0], fma(vec4<f32>(x.y), w[1], fma(vec4<f32>(x.z), w[2], fma(vec4<f32>(x.w), w[3], acc))));
}

// One step of either block over a single k: row r's value at uu[r] + k times the four units' weights wv.
fn scalar_step(acc: mat4x4<f32>, uu: vec4<u32>, k: u32, wv: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        fma(vec4<f32>(ld(uu.x + k)), wv, acc[0]),
        fma(vec4<f32>(ld(uu.y + k)), wv, acc[1]),
        fma(vec4<f32>(ld(uu.z + k)), wv, acc[2]),
        fma(vec4<f32>(ld(uu.w + k)), wv, acc[3]));
}

// The forward's block: out[r][c] = Σ_{k<n} ld(u[r] + k) · ld(v + c cs + k) (rows u, units' weight rows at
// stride cs; units past `last` repeat the last). Where `wide`, u, v, cs and n are multiples of 4.
fn fwd_block(u: vec4<u32>, v: u32, cs: u32, n: u32, last: u32, wide: bool) -> mat4x4<f32> {
    let v0 = nb + v;
    let v1 = v0 + min(1u, last) * cs;
    let v2 = v0 + min(2u, last) * cs;
    let v3 = v0 + min(3u, last) * cs;
    let uu = u + vec4<u32>(nb);
    var a = mat4x4<f32>();
    if (wide && LANES == 8u) {
        // the weights are the same in every lane (all lanes compute the same units): lane s loads
        // k0 + 4s .. k0 + 4s + 3 of the four weight rows, and step s of the inner loop takes them from it
        for (var k0 = 0u; k0 < n; k0 += 32u) {
            let kl = min(k0 + 4u * lane_id, n - 4u);
            let r = mat4x4<f32>(ld4(v0 + kl), ld4(v1 + kl), ld4(v2 + kl), ld4(v3 + kl));
            let cnt = min(8u, (n - k0) / 4u);
            for (var s = 0u; s < cnt; s++) {
                a = fwd_step(a, uu, k0 + 4u * s, shared_rows(r, s));
            }
        }
    } else if (wide) {
        for (var k = 0u; k < n; k += 4u) {
            a = fwd_step(a, uu, k, mat4x4<f32>(ld4(v0 + k), ld4(v1 + k), ld4(v2 + k), ld4(v3 + k)));
        }
    } else {
        for (var k = 0u; k < n; k++) {
            a = scalar_step(a, uu, k, vec4<f32>(ld(v0 + k), ld(v1 + k), ld(v2 + k), ld(v3 + k)));
        }
    }
    return a;
}

// The backward's block: out[r][c] = Σ_{k<n} ld(u[r] + k) · ld(v + k ks + c) (rows u, the weight's columns
// c at row stride ks; units past `last` repeat the last). Where `wide`, u, v, ks and n are multiples of 4.
fn bwd_block(u: vec4<u32>, v: u32, ks: u32, n: u32, last: u32, wide: bool) -> mat4x4<f32> {
    let v0 = nb + v;
    let uu = u + vec4<u32>(nb);
    var a = mat4x4<f32>();
    if (wide && LANES == 8u) {
        // as fwd_block: lane s loads the weight rows k0 + 4s .. k0 + 4s + 3
        for (var k0 = 0u; k0 < n; k0 += 32u) {
            let r = ld4_rows(v0 + min(k0 + 4u * lane_id, n - 4u) * ks, ks);
            let cnt = min(8u, (n - k0) / 4u);
            for (var s = 0u; s < cnt; s++) {
                a = bwd_step(a, uu, k0 + 4u * s, shared_rows(r, s));
            }
        }
    } else if (wide) {
        for (var k = 0u; k < n; k += 4u) {
            a = bwd_step(a, uu, k, ld4_rows(v0 + k * ks, ks));
        }
    } else {
        for (var k = 0u; k < n; k++) {
            a = scalar_step(a, uu, k, load4(v0 + k * ks, last, false));
        }
    }
    return a;
}

// The invocation's rows (u.x; u.y with PAIR, u.z and u.w with QUAD) against sixteen units' weight rows
// (slot s: units js[s]..js[s] + 3, rows at v + unit * cs): out[s][c] = Σ_{k<n} ld(u + k) · ld(v + (js[s] +
// c) cs + k). u, v, cs, n multiples of 4; 8-lane subgroups. Lane s loads k0 + 4s .. k0 + 4s + 3 of the
// sixteen weight rows, step s of the inner loop shares them (with every row).
fn fwd_units(u: vec4<u32>, v: u32, cs: u32, n: u32, js: vec4<u32>) -> Blocks {
    let x = vec4<u32>(nb) + u;
    let w0 = vec4<u32>(nb + v) + js * cs;
    var a = mat4x4<f32>();
    var b = mat4x4<f32>();
    var c = mat4x4<f32>();
    var d = mat4x4<f32>();
    for (var k0 = 0u; k0 < n; k0 += 32u) {
        let o = w0 + vec4<u32>(min(k0 + 4u * lane_id, n - 4u));
        let r0 = ld4_rows(o.x, cs);
        let r1 = ld4_rows(o.y, cs);
        let r2 = ld4_rows(o.z, cs);
        let r3 = ld4_rows(o.w, cs);
        let cnt = min(8u, (n - k0) / 4u);
        for (var s = 0u; s < cnt; s++) {
            let w = Quad(shared_rows(r0, s), shared_rows(r1, s), shared_rows(r2, s), shared_rows(r3, s));
            let k = k0 + 4u * s;
            a = quad_dots(a, ld4(x.x + k), w);
            if (PAIR) {
                b = quad_dots(b, ld4(x.y + k), w);
            }
            if (QUAD) {
                c = quad_dots(c, ld4(x.z + k), w);
                d = quad_dots(d, ld4(x.w + k), w);
            }
        }
    }
    return Blocks(a, b, c, d);
}

// The sixteen units' weights (or weight columns) at one step of a block: slot s's four units in q.s
struct Quad {
    s0: mat4x4<f32>,
    s1: mat4x4<f32>,
    s2: mat4x4<f32>,
    s3: mat4x4<f32>,
}

// acc + (x · w.s[c]) in slot s: fwd_units' step for one row
fn quad_dots(acc: mat4x4<f32>, x: vec4<f32>, w: Quad) -> mat4x4<f32> {
    return mat4x4<f32>(acc[0] + dots(x, w.s0), acc[1] + dots(x, w.s1), acc[2] + dots(x, w.s2), acc[3] + dots(x, w.s3));
}

// acc + Σ_q x[q] w.s[q]: bwd_units' step for one row
fn quad_rows_by(acc: mat4x4<f32>, x: vec4<f32>, w: Quad) -> mat4x4<f32> {
    return mat4x4<f32>(rows_by(x, w.s0, acc[0]), rows_by(x, w.s1, acc[1]), rows_by(x, w.s2, acc[2]),
                       rows_by(x, w.s3, acc[3]));
}

// The invocation's rows (u as in fwd_units) against sixteen columns of a weight (slot s: columns js[s]..js[s]
// + 3 at v, row stride ks): out[s][c] = Σ_{k<n} ld(u + k) · ld(v + k ks + js[s] + c). u, v, ks, n multiples
// of 4; 8-lane subgroups. Lane s loads the weight rows k0 + 4s .. k0 + 4s + 3 (sixteen columns), step s of
// the inner loop shares them (with every row).
fn bwd_units(u: vec4<u32>, v: u32, ks: u32, n: u32, js: vec4<u32>) -> Blocks {
    let x = vec4<u32>(nb) + u;
    let v0 = vec4<u32>(nb + v) + js;
    var a = mat4x4<f32>();
    var b = mat4x4<f32>();
    var c = mat4x4<f32>();
    var d = mat4x4<f32>();
    for (var k0 = 0u; k0 < n; k0 += 32u) {
        let o = v0 + vec4<u32>(min(k0 + 4u * lane_id, n - 4u) * ks);
        let r0 = ld4_rows(o.x, ks);
        let r1 = ld4_rows(o.y, ks);
        let r2 = ld4_rows(o.z, ks);
        let r3 = ld4_rows(o.w, ks);
        let cnt = min(8u, (n - k0) / 4u);
        for (var s = 0u; s < cnt; s++) {
            let w = Quad(shared_rows(r0, s), shared_rows(r1, s), shared_rows(r2, s), shared_rows(r3, s));
            let k = k0 + 4u * s;
            a = quad_rows_by(a, ld4(x.x + k), w);
            if (PAIR) {
                b = quad_rows_by(b, ld4(x.y + k), w);
            }
            if (QUAD) {
                c = quad_rows_by(c, ld4(x.z + k), w);
                d = quad_rows_by(d, ld4(x.w + k), w);
            }
        }
    }
    return Blocks(a, b, c, d);
}

// m[g][c] = ld(base + (js[g] + c) · stride + k) for the sixteen (g, c) (g: a slot, or a gated cell's gate):
// the same in every lane, so each lane of an 8-lane subgroup loads two of them and the lanes swap them.
fn gate_values(base: u32, js: vec4<u32>, stride: u32, k: u32) -> mat4x4<f32> {
    // every slot by a constant index (a matrix indexed by a loop counter lives in memory on lavapipe)
    if (LANES != 8u) {
        return mat4x4<f32>(strided4(nb + base + js.x * stride + k, stride), strided4(nb + base + js.y * stride + k, stride),
                           strided4(nb + base + js.z * stride + k, stride), strided4(nb + base + js.w * stride + k, stride));
    }
    // lane g + 4q holds gate g's units 2q and 2q + 1
    let o = nb + base + (js[lane_id & 3u] + 2u * (lane_id >> 2u)) * stride + k;
    let v = vec4<f32>(ld(o), ld(o + stride), 0.0, 0.0);
    return mat4x4<f32>(lane_pair(v, 0u, 4u), lane_pair(v, 1u, 5u), lane_pair(v, 2u, 6u), lane_pair(v, 3u, 7u));
}

// ld(o), ld(o + stride), ld(o + 2 stride), ld(o + 3 stride)
fn strided4(o: u32, stride: u32) -> vec4<f32> {
    return vec4<f32>(ld(o), ld(o + stride), ld(o + 2u * stride), ld(o + 3u * stride));
}

// (lane lo's v.xy, lane hi's v.xy)
fn lane_pair(v: vec4<f32>, lo: u32, hi: u32) -> vec4<f32> {
    let a = lane_share4(v, lo);
    let b = lane_share4(v, hi);
    return vec4<f32>(a.x, a.y, b.x, b.y);
}

// The forward's block for the four slots: out[s][c] = Σ_{k<n} ld(u[s] + k) · ld(v + (js[s] + c) cs + k)
// (units past ls[s] repeat it). One row's blocks (the gated cells' hidden block, gated_rows.wgsl).
fn fwd_slots(u: vec4<u32>, v: u32, cs: u32, n: u32, js: vec4<u32>, ls: vec4<u32>, wide: bool) -> mat4x4<f32> {
    return fwd_blocks(u, v, cs, n, js, ls, wide).a;
}

// The forward's blocks of the invocation's rows, whose blocks share the weights' loads: a four-unit block
// of the rows u (Blocks.a), or sixteen-unit blocks of the rows u.x, u.y (PAIR), u.z and u.w (QUAD).
fn fwd_blocks(u: vec4<u32>, v: u32, cs: u32, n: u32, js: vec4<u32>, ls: vec4<u32>, wide: bool) -> Blocks {
    if (!ROW16) {
        let z = mat4x4<f32>();
        return Blocks(fwd_block(u, v + js.x * cs, cs, n, ls.x, wide), z, z, z);
    }
    if (LANES == 8u && wide) {
        return fwd_units(u, v, cs, n, js);
    }
    if (LANES == 8u) {
        // one row and an input width that is not a multiple of 4 (an RNN's x_t, the spiral's points):
        // the row's x_k once, the sixteen weights at k two a lane (gate_values), summed in k order. One
        // row per invocation runs only where the width is a multiple of 4: every slot has its four units
        // (ls is 3 throughout)
        var a = mat4x4<f32>();
        var b = mat4x4<f32>();
        var c = mat4x4<f32>();
        var d = mat4x4<f32>();
        for (var k = 0u; k < n; k++) {
            let wk = gate_values(v, js, cs, k);
            a = fma_slots(a, ld(nb + u.x + k), wk);
            if (PAIR) {
                b = fma_slots(b, ld(nb + u.y + k), wk);
            }
            if (QUAD) {
                c = fma_slots(c, ld(nb + u.z + k), wk);
                d = fma_slots(d, ld(nb + u.w + k), wk);
            }
        }
        return Blocks(a, b, c, d);
    }
    // elsewhere (the portable build): a four-row block per slot, its rows the invocation's (an absent row
    // repeats the first: more loads; the engine takes sixteen-unit blocks only with lane sharing)
    return slots_blocks(fwd_block(u, v + js.x * cs, cs, n, ls.x, wide), fwd_block(u, v + js.y * cs, cs, n, ls.y, wide),
                        fwd_block(u, v + js.z * cs, cs, n, ls.z, wide), fwd_block(u, v + js.w * cs, cs, n, ls.w, wide));
}

// The rows' sixteen-unit blocks from four four-row blocks k0..k3 (slot s's units: ks[r] is row r's)
fn slots_blocks(k0: mat4x4<f32>, k1: mat4x4<f32>, k2: mat4x4<f32>, k3: mat4x4<f32>) -> Blocks {
    return Blocks(mat4x4<f32>(k0[0], k1[0], k2[0], k3[0]), mat4x4<f32>(k0[1], k1[1], k2[1], k3[1]),
                  mat4x4<f32>(k0[2], k1[2], k2[2], k3[2]), mat4x4<f32>(k0[3], k1[3], k2[3], k3[3]));
}

// acc + x wk, slot by slot
fn fma_slots(acc: mat4x4<f32>, x: f32, wk: mat4x4<f32>) -> mat4x4<f32> {
    let xv = vec4<f32>(x);
    return mat4x4<f32>(fma(xv, wk[0], acc[0]), fma(xv, wk[1], acc[1]), fma(xv, wk[2], acc[2]), fma(xv, wk[3], acc[3]));
}

// The backward's block for the four slots: out[s][c] = Σ_{k<n} ld(u[s] + k) · ld(v + k ks + js[s] + c).
// One row's blocks (the gated cells' backward, gated_rows.wgsl).
fn bwd_slots(u: vec4<u32>, v: u32, ks: u32, n: u32, js: vec4<u32>, ls: vec4<u32>, wide: bool) -> mat4x4<f32> {
    return bwd_blocks(u, v, ks, n, js, ls, wide).a;
}

// The backward's blocks of the invocation's rows u, as fwd_blocks.
fn bwd_blocks(u: vec4<u32>, v: u32, ks: u32, n: u32, js: vec4<u32>, ls: vec4<u32>, wide: bool) -> Blocks {
    if (!ROW16) {
        let z = mat4x4<f32>();
        return Blocks(bwd_block(u, v + js.x, ks, n, ls.x, wide), z, z, z);
    }
    if (LANES == 8u && wide) {
        return bwd_units(u, v, ks, n, js);
    }
    // elsewhere (the head's block, the portable build): as fwd_blocks
    return slots_blocks(bwd_block(u, v + js.x, ks, n, ls.x, wide), bwd_block(u, v + js.y, ks, n, ls.y, wide),
                        bwd_block(u, v + js.z, ks, n, ls.z, wide), bwd_block(u, v + js.w, ks, n, ls.w, wide));
}

// One row's units j0..j0+last of layer l: z (bias added) and a = f(z) (+ the row's previous layer at
// `prev`: residual) stored at `out` where `live`; returns the largest slope code of the four.
fn fwd_row(z: vec4<f32>, live: bool, out: u32, prev: u32, j0: u32, last: u32, res: bool, wide: bool) -> f32 {
    var a = vec4<f32>(act_f(z.x, net_act()), act_f(z.y, net_act()), act_f(z.z, net_act()), act_f(z.w, net_act()));
    if (res) {
        a += load4(nb + prev + j0, last, wide);
    }
    if (live) {
        store4(nb + p.z_off + out + j0, z, last, wide);
        store4(nb + p.c_off + out + j0, a, last, wide);
    }
    var code = 0.0;
    for (var c = 0u; c <= last; c++) {
        code = max(code, slope_code(act_slope(z[c], net_act())));
    }
    return code;
}

// Layer (time step) l of the forward for this invocation's rows rs: `input` (the input block x W_in) and
// `hidden` (the previous layer's block) are constants where the kernel calls it, so each call keeps only
// the blocks its layers have (lavapipe runs both sides of a branch, the untaken one masked).
fn fwd_layer(l: u32, rs: RowSet, input: bool, hidden: bool, residual: bool, wide: bool, wide_in: bool) {
    let w = p.n;
    let bw = p.m * w;
    let br = block_rows(rs);
    let x0 = p.x_off + (l - 1u) * p.x_step;
    let p0 = p.c_off + (max(l, 2u) - 2u) * bw;
    let bl = bias_at(l);
    let wr = w_rec_at(max(l, 2u));
    let o0 = (l - 1u) * bw;
    let res = residual && hidden;
    var code = 0.0;
    for (var j0 = 0u; j0 < w; j0 += BLOCK_UNITS) {
        let js = slot_units(j0, w);
        let ls = slot_last(js, w);
        let zero = mat4x4<f32>();
        var z = Blocks(zero, zero, zero, zero);
        if (input) {
            z = blocks_sum(z, fwd_blocks(x0 + br * p.d_in, p.w_in, p.d_in, p.d_in, js, ls, wide_in));
        }
        if (hidden) {
            z = blocks_sum(z, fwd_blocks(p0 + br * w, wr, w, w, js, ls, wide));
        }
        let bias = slot_load4(nb + bl, js, ls, wide);
        code = max(code, fwd_rows(z.a + bias, rs.a, o0 + rs.a.b * w, p0 + rs.a.b * w, js, ls, res, wide));
        if (PAIR) {
            code = max(code, fwd_rows(z.b + bias, rs.b, o0 + rs.b.b * w, p0 + rs.b.b * w, js, ls, res, wide));
        }
        if (QUAD) {
            code = max(code, fwd_rows(z.c + bias, rs.c, o0 + rs.c.b * w, p0 + rs.c.b * w, js, ls, res, wide));
            code = max(code, fwd_rows(z.d + bias, rs.d, o0 + rs.d.b * w, p0 + rs.d.b * w, js, ls, res, wide));
        }
    }
    if (rs.a.live.x && code > 0.0) {
        atomicMax(&maxes[mb + p.k_base + l], u32(code));
    }
}

fn blocks_sum(x: Blocks, y: Blocks) -> Blocks {
    return Blocks(x.a + y.a, x.b + y.b, x.c + y.c, x.d + y.d);
}

// fwd_row for the four slots of a block z; returns the largest slope code.
fn fwd_rows(z: mat4x4<f32>, rows: Rows, out: vec4<u32>, prow: vec4<u32>, js: vec4<u32>, ls: vec4<u32>, res: bool,
            wide: bool) -> f32 {
    let c0 = fwd_row(z[0], rows.live.x, out.x, prow.x, js.x, ls.x, res, wide);
    let c1 = fwd_row(z[1], rows.live.y, out.y, prow.y, js.y, ls.y, res, wide);
    let c2 = fwd_row(z[2], rows.live.z, out.z, prow.z, js.z, ls.z, res, wide);
    let c3 = fwd_row(z[3], rows.live.w, out.w, prow.w, js.w, ls.w, res, wide);
    return max(max(c0, c1), max(c2, c3));
}

@compute @workgroup_size(8)
fn rows_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    net_enter(gid.z);
    lane_id = t;
    let rs = rows_of(gid.x);
    let w = p.n;
    let bw = p.m * w;
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    // sixteen-unit blocks are chosen only where the width is a multiple of 4
    let wide = ROW16 || (p.flags & FLAG_WIDE) != 0u;
    let wide_in = (p.flags & FLAG_WIDE_IN) != 0u;
    // layer 1 has only the input block; later ones the previous layer's, and an RNN's steps the input too
    var l = p.l_from;
    if (l == 1u) {
        fwd_layer(1u, rs, true, false, residual, wide, wide_in);
        l = 2u;
    }
    if ((p.flags & FLAG_RECURRENT) != 0u) {
        for (; l <= p.l_to; l++) {
            fwd_layer(l, rs, true, true, residual, wide, wide_in);
        }
    } else {
        for (; l <= p.l_to; l++) {
            fwd_layer(l, rs, false, true, residual, wide, wide_in);
        }
    }
    if (p.l_to == p.layers) {
        // the head: one output at a time for the block's four rows (all four "units" are output o's weight
        // row); each stored by the invocation that owns it
        let hr = block_rows(rs);
        let own = block_own(rs);
        let top = p.c_off + (p.layers - 1u) * bw + hr * w;
        for (var o = 0u; o < p.d_out; o++) {
            let y = fwd_block(top, p.w_head + o * w, 0u, w, 0u, wide);
            let hb = ld(nb + p.b_head + o);
            let at = nb + p.add_off + hr * p.d_out + o;
            if (own.x) { st(at.x, hb + y[0].x); }
            if (own.y) { st(at.y, hb + y[1].x); }
            if (own.z) { st(at.z, hb + y[2].x); }
            if (own.w) { st(at.w, hb + y[3].x); }
        }
    }
}

// NaN-propagating maximum of |v[c]| over c = 0..last, after m
fn abs_max(m: f32, v: vec4<f32>, last: u32) -> f32 {
    var r = m;
    for (var c = 0u; c <= last; c++) {
        let a = abs(v[c]);
        if (a > r || is_nan(v[c])) {
            r = a;
        }
    }
    return r;
}

// One row's units j0..j0+last of layer l in the backward: ĝ from the block's sums g (scaled into this row's
// scale unless `top`: 2^k_above and the residual ĝ above at `above`, then 2^-e_above), ŝ = ĝ f'(z) 2^-K_l;
// both stored at `out` where `live` (ĝ only where `keep_g`). Returns the row's running NaN-propagating max
// |ĝ|, after m.
fn bwd_row(g_in: vec4<f32>, live: bool, out: u32, above: u32, j0: u32, last: u32, top: bool, res: bool,
           k_above: i32, e_above: i32, k_l: i32, m: f32, wide: bool, keep_g: bool) -> f32 {
    var g = g_in;
    if (!top) {
        if (res) {
            g = ldexp_safe4(g, k_above) + load4(nb + p.g_off + above + j0, last, wide);
        }
        g = ldexp_safe4(g, -e_above);
    }
    let z = load4(nb + p.z_off + out + j0, last, wide);
    // component by component, each named by a constant (a vector written at a loop counter's index
    // lives in memory on lavapipe)
    let s = vec4<f32>(slope_scaled(g.x, z.x, k_l), slope_scaled(g.y, z.y, k_l), slope_scaled(g.z, z.z, k_l),
                      slope_scaled(g.w, z.w, k_l));
    if (live) {
        if (keep_g) {
            store4(nb + p.g_off + out + j0, g, last, wide);
        }
        store4(nb + p.a_off + out + j0, s, last, wide);
    }
    return abs_max(m, g, last);
}

// ŝ = ĝ f'(z) 2^-K_l of one unit
fn slope_scaled(g: f32, z: f32, k_l: i32) -> f32 {
    let sl = act_slope(z, net_act());
    return ldexp_safe(g * sl.m, sl.k - k_l);
}

// frexp exponents of four row maxima (0 for a zero row)
fn row_exps(mx: vec4<f32>) -> vec4<i32> {
    return select(vec4<i32>(0), frexp(mx).exp, mx != vec4<f32>(0.0));
}

// The state of the layer above, per row: its scale, the exponent of its row max |ĝ| and its slope shift.
struct Above {
    s: vec4<f32>,
    e: vec4<i32>,
    k: i32,
}

// Layer (time step) l of the backward for this invocation's rows rs, below the states `a` of the layer
// above (one per row); returns layer l's states. `top` (the head's weights above) is a constant where the
// kernel calls it.
fn bwd_layer(l: u32, rs: RowSet, top: bool, residual: bool, wide: bool, a: Aboves) -> Aboves {
    let w = p.n;
    let bw = p.m * w;
    let k_l = slope_shift(l);
    let wm = w_rec_at(min(l + 1u, max(p.layers, 2u)));
    let br = block_rows(rs);
    let o0 = (l - 1u) * bw;
    // ŝ and ĝ of the layer above (these rows) are at o0 + bw, as this invocation wrote them
    let res = residual && !top;
    // ĝ is read by the layer below (a residual net's) and by the next chunk down (`state_above`, layer
    // l_from), and otherwise only by the statistics: a bare step (FLAG_BARE) stores it where it is read
    let keep_g = (p.flags & FLAG_BARE) == 0u || residual || l == p.l_from;
    var mx = mat4x4<f32>();
    for (var j0 = 0u; j0 < w; j0 += BLOCK_UNITS) {
        let js = slot_units(j0, w);
        let ls = slot_last(js, w);
        var g: Blocks;
        if (top) {
            g = bwd_blocks(p.b_off + br * p.d_out, p.w_head, w, p.d_out, js, ls, false);
        } else {
            g = bwd_blocks(p.a_off + o0 + bw + br * w, wm, w, w, js, ls, wide);
        }
        mx[0] = bwd_rows(g.a, rs.a, o0 + rs.a.b * w, js, ls, top, res, a.a, k_l, mx[0], wide, keep_g);
        if (PAIR) {
            mx[1] = bwd_rows(g.b, rs.b, o0 + rs.b.b * w, js, ls, top, res, a.b, k_l, mx[1], wide, keep_g);
        }
        if (QUAD) {
            mx[2] = bwd_rows(g.c, rs.c, o0 + rs.c.b * w, js, ls, top, res, a.c, k_l, mx[2], wide, keep_g);
            mx[3] = bwd_rows(g.d, rs.d, o0 + rs.d.b * w, js, ls, top, res, a.d, k_l, mx[3], wide, keep_g);
        }
    }
    var s = a;
    s.a = layer_state(l, rs.a, a.a, mx[0], k_l, res);
    if (PAIR) {
        s.b = layer_state(l, rs.b, a.b, mx[1], k_l, res);
    }
    if (QUAD) {
        s.c = layer_state(l, rs.c, a.c, mx[2], k_l, res);
        s.d = layer_state(l, rs.d, a.d, mx[3], k_l, res);
    }
    return s;
}

// bwd_row for the four slots of a block g (the layer above's rows at out + bw); returns the slots' running
// maxima mx after it.
fn bwd_rows(g: mat4x4<f32>, rows: Rows, out: vec4<u32>, js: vec4<u32>, ls: vec4<u32>, top: bool, res: bool, a: Above,
            k_l: i32, mx: vec4<f32>, wide: bool, keep_g: bool) -> vec4<f32> {
    let above = out + vec4<u32>(p.m * p.n);
    return vec4<f32>(bwd_row(g[0], rows.live.x, out.x, above.x, js.x, ls.x, top, res, a.k, a.e.x, k_l, mx.x, wide, keep_g),
                     bwd_row(g[1], rows.live.y, out.y, above.y, js.y, ls.y, top, res, a.k, a.e.y, k_l, mx.y, wide, keep_g),
                     bwd_row(g[2], rows.live.z, out.z, above.z, js.z, ls.z, top, res, a.k, a.e.z, k_l, mx.z, wide, keep_g),
                     bwd_row(g[3], rows.live.w, out.w, above.w, js.w, ls.w, top, res, a.k, a.e.w, k_l, mx.w, wide, keep_g));
}

// Layer l's state for `rows` from the state `a` above and its slots' maxima |ĝ| mx: its scales (stored for
// the rows the invocation owns), the exponents of its row maxima and its slope shift k_l.
fn layer_state(l: u32, rows: Rows, a: Above, mx: vec4<f32>, k_l: i32, res: bool) -> Above {
    var s_l = a.s + vec4<f32>(a.e) + f32(k_l);
    if (res) {
        s_l -= f32(a.k);
    }
    let sc = nb + p.sscale_off + l * p.m + rows.b;
    if (rows.own.x) { st(sc.x, s_l.x); }
    if (rows.own.y) { st(sc.y, s_l.y); }
    if (rows.own.z) { st(sc.z, s_l.z); }
    if (rows.own.w) { st(sc.w, s_l.w); }
    return Above(s_l, row_exps(row_max(mx)), k_l);
}

// The states of an invocation's rows, as RowSet (a copy of `a` where a row is absent).
struct Aboves {
    a: Above,
    b: Above,
    c: Above,
    d: Above,
}

// The state of layer la (above a chunk) for `rows`: its scales, the exponents of its row maxima |ĝ| (read
// back from the rows' ĝ) and its slope shift.
fn state_above(la: u32, rows: Rows, wide: bool) -> Above {
    let w = p.n;
    let row = p.g_off + (la - 1u) * p.m * w + rows.b * w;
    var mx = vec4<f32>(0.0);
    for (var j0 = 0u; j0 < w; j0 += 4u) {
        let last = min(3u, w - 1u - j0);
        mx.x = abs_max(mx.x, load4(nb + row.x + j0, last, wide), last);
        mx.y = abs_max(mx.y, load4(nb + row.y + j0, last, wide), last);
        mx.z = abs_max(mx.z, load4(nb + row.z + j0, last, wide), last);
        mx.w = abs_max(mx.w, load4(nb + row.w + j0, last, wide), last);
    }
    let sc = nb + p.sscale_off + la * p.m + rows.b;
    return Above(vec4<f32>(ld(sc.x), ld(sc.y), ld(sc.z), ld(sc.w)), row_exps(mx), slope_shift(la));
}

@compute @workgroup_size(8)
fn rows_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    net_enter(gid.z);
    lane_id = t;
    let rs = rows_of(gid.x);
    let residual = (p.flags & FLAG_RESIDUAL) != 0u;
    let wide = ROW16 || (p.flags & FLAG_WIDE) != 0u;
    // the state of the layer above the chunk, per row: its scale and the exponent of its row max |ĝ|; and
    // its slope shift (none above the top layer)
    let none = Above(vec4<f32>(0.0), vec4<i32>(0), 0);
    var above = Aboves(none, none, none, none);
    if (p.l_to < p.layers) {
        let la = p.l_to + 1u;
        above.a = state_above(la, rs.a, wide);
        if (PAIR) {
            above.b = state_above(la, rs.b, wide);
        }
        if (QUAD) {
            above.c = state_above(la, rs.c, wide);
            above.d = state_above(la, rs.d, wide);
        }
    }
    // the top layer (the head's weights) first, on its own: `top` is then a constant in each call
    var l = p.l_to;
    if (l == p.layers) {
        above = bwd_layer(l, rs, true, residual, wide, above);
        l -= 1u;
    }
    for (; l >= p.l_from && l >= 1u; l--) {
        above = bwd_layer(l, rs, false, residual, wide, above);
        if (l == 1u) {
            break;
        }
    }
}
