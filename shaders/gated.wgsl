// The gated recurrent cells (LSTM, GRU; equations and gate order in docs/DESIGN.md §Equations): a
// persistent forward and backward over the unrolled steps, the per-step statistics, and the weight
// gradients summed over time.
//
// Forward and backward: one workgroup owns p.rows batch rows and carries them through the steps
// l_from..=l_to (a chunk: lavapipe ends an invocation's loops after 65535 iterations in all, so the engine
// splits long sequences; a chunk starts from what the previous one left in memory). Invocation q of the
// workgroup (64 invocations) owns the (row, unit) pairs q, q + 64, ...: a unit's gates need only that unit's pre-activations,
// so the cell update is local, and between steps a storage barrier makes each row's new state visible to
// the workgroup. No workgroup waits on another.
//
// The record (p) fields, repurposed for these kernels:
//   m = B, n = H, k = G (blocks: 4 LSTM, 3 GRU), mode = 1 LSTM / 2 GRU, d_in, d_out, layers = T, rows
//   w_in = W_x [G·H, d_in], w_rec = W_h [G·H, H], b_first = b [G·H], w_head = W_out [d_out, H], b_head
//   x_off, x_step = B·d_in: the inputs of step t at x_off + (t-1)·x_step
//   z_off: pre-activations [T][B][G·H]; c_off: h_t [T][B][H]; res_off: LSTM c_t / GRU h_{t-1} W_hnᵀ [T][B][H]
//   g_off: ĝ = ∂L/∂h_t [T][B][H]; a_off: â, the blocks' errors as W_h sees them [T][B][G·H];
//   top_off: LSTM ĉ = ∂L/∂c_t / GRU the candidate's error as W_x and b see it (â_n without r) [T][B][H]
//   b_off: ∂L/∂ŷ [B][d_out]; add_off: ŷ [B][d_out]; sscale_off: the backward's log2 scale per (step, row),
//   S[t][b] at sscale_off + t·B + b (true value = 2^S · scaled value)
//   aux_off: the per-step scale (after gated_stats: one per step) at aux_off + t
// The backward divides each row's incoming errors (∂L/∂h and ∂L/∂c from the step above) by the power of
// two of their largest magnitude, so they stay near 1 however far the true values fall.

const GW: u32 = 64u;
const MODE_LSTM: u32 = 1u;
const MODE_GRU: u32 = 2u;
// |a| beyond which a sigmoid gate is saturated (σ'(a) < 5% of σ'(0) = 1/4)
const SIGMOID_SATURATED_BEYOND: f32 = 4.356544;

// [parity][row]: the bit patterns of each row's largest incoming |error| (non-negative floats order like
// their bits, NaN above all), two slots so that one step's slot is cleared while the other is in use
var<workgroup> rowmax: array<atomic<u32>, 128>;

fn dsig(x: f32) -> f32 {
    return sigmoid(x) * sigmoid(-x);
}

// Σ_k mem[u + k] · mem[v + k·sv], k < n, four at a time
fn gdot(u: u32, v: u32, sv: u32, n: u32) -> f32 {
    var acc = vec4<f32>(0.0);
    var k = 0u;
    for (; k + 4u <= n; k += 4u) {
        acc = fma(vec4<f32>(ld(nb + u + k), ld(nb + u + k + 1u), ld(nb + u + k + 2u), ld(nb + u + k + 3u)),
                  vec4<f32>(ld(nb + v + k * sv), ld(nb + v + (k + 1u) * sv), ld(nb + v + (k + 2u) * sv),
                            ld(nb + v + (k + 3u) * sv)), acc);
    }
    var r = (acc.x + acc.y) + (acc.z + acc.w);
    for (; k < n; k++) {
        r = fma(ld(nb + u + k), ld(nb + v + k * sv), r);
    }
    return r;
}

// Σ_k mem[hrow + k] · W_h[g·H + u, k] for the blocks g = 0..3 at once (blocks past p.k repeat the last):
// each load of the row feeds every block, four columns at a time (one vec4 load each where H is a multiple
// of 4: FLAG_WIDE, and the module's view of the state is mem4.wgsl).
fn gates_dot(hrow: u32, u: u32, h: u32) -> vec4<f32> {
    let r0 = nb + p.w_rec + u * h;
    let r1 = nb + p.w_rec + (min(1u, p.k - 1u) * h + u) * h;
    let r2 = nb + p.w_rec + (min(2u, p.k - 1u) * h + u) * h;
    let r3 = nb + p.w_rec + (min(3u, p.k - 1u) * h + u) * h;
    let hr = nb + hrow;
    var acc = vec4<f32>(0.0);
    var k = 0u;
    if ((p.flags & FLAG_WIDE) != 0u) {
        for (; k < h; k += 4u) {
            let x = ld4(hr + k);
            acc += vec4<f32>(dot(x, ld4(r0 + k)), dot(x, ld4(r1 + k)), dot(x, ld4(r2 + k)), dot(x, ld4(r3 + k)));
        }
        return acc;
    }
    for (; k + 4u <= h; k += 4u) {
        let x = vec4<f32>(ld(hr + k), ld(hr + k + 1u), ld(hr + k + 2u), ld(hr + k + 3u));
        acc.x += dot(x, vec4<f32>(ld(r0 + k), ld(r0 + k + 1u), ld(r0 + k + 2u), ld(r0 + k + 3u)));
        acc.y += dot(x, vec4<f32>(ld(r1 + k), ld(r1 + k + 1u), ld(r1 + k + 2u), ld(r1 + k + 3u)));
        acc.z += dot(x, vec4<f32>(ld(r2 + k), ld(r2 + k + 1u), ld(r2 + k + 2u), ld(r2 + k + 3u)));
        acc.w += dot(x, vec4<f32>(ld(r3 + k), ld(r3 + k + 1u), ld(r3 + k + 2u), ld(r3 + k + 3u)));
    }
    for (; k < h; k++) {
        acc = fma(vec4<f32>(ld(hr + k)), vec4<f32>(ld(r0 + k), ld(r1 + k), ld(r2 + k), ld(r3 + k)), acc);
    }
    return acc;
}

@compute @workgroup_size(64)
fn gated_forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let h = p.n;
    let gh = p.k * h;
    let pairs = p.rows * h;
    let b0 = wid.x * p.rows;
    let lstm = p.mode == MODE_LSTM;
    for (var t = p.l_from; t <= p.l_to; t++) {
        for (var q = lid; q < pairs; q += GW) {
            let b = b0 + q / h;
            let u = q % h;
            if (b >= p.m) {
                continue;
            }
            let xrow = p.x_off + (t - 1u) * p.x_step + b * p.d_in;
            let pre = step_row(p.z_off, t, b, gh);
            var hprev = 0u;
            if (t >= 2u) {
                hprev = step_row(p.c_off, t - 1u, b, h);
            }
            // each block's input part (with the bias) and recurrent part
            var xa = vec4<f32>(0.0);
            for (var g = 0u; g < p.k; g++) {
                let j = g * h + u;
                // as a vector (xa[g] at a loop counter's index would keep xa in memory on lavapipe)
                let v = ld(nb + p.b_first + j) + gdot(xrow, p.w_in + j * p.d_in, 1u, p.d_in);
                xa = select(xa, vec4<f32>(v), vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(g));
            }
            var ha = vec4<f32>(0.0);
            if (t >= 2u) {
                ha = gates_dot(hprev, u, h);
            }
            let at = step_row(p.res_off, t, b, h) + u;
            let ho = step_row(p.c_off, t, b, h) + u;
            if (lstm) {
                let a = xa + ha;
                for (var g = 0u; g < 4u; g++) {
                    st(nb + pre + g * h + u, a[g]);
                }
                var c_prev = 0.0;
                if (t >= 2u) {
                    c_prev = ld(nb + step_row(p.res_off, t - 1u, b, h) + u);
                }
                let c = sigmoid(a[1]) * c_prev + sigmoid(a[0]) * act_f(a[2], net_act());
                st(nb + at, c);
                st(nb + ho, sigmoid(a[3]) * act_f(c, net_act()));
            } else {
                let ar = xa[0] + ha[0];
                let az = xa[1] + ha[1];
                let r = sigmoid(ar);
                let z = sigmoid(az);
                let an = xa[2] + r * ha[2];
                st(nb + pre + u, ar);
                st(nb + pre + h + u, az);
                st(nb + pre + 2u * h + u, an);
                st(nb + at, ha[2]);
                var hp = 0.0;
                if (t >= 2u) {
                    hp = ld(nb + hprev + u);
                }
                st(nb + ho, (1.0 - z) * act_f(an, net_act()) + z * hp);
            }
        }
        storageBarrier();
    }
    if (p.l_to == p.layers) {
        for (var q = lid; q < p.rows * p.d_out; q += GW) {
            let b = b0 + q / p.d_out;
            let o = q % p.d_out;
            if (b < p.m) {
                let top = step_row(p.c_off, p.layers, b, h);
                st(nb + p.add_off + b * p.d_out + o, ld(nb + p.b_head + o) + gdot(top, p.w_head + o * h, 1u, h));
            }
        }
    }
}

@compute @workgroup_size(64)
fn gated_backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let h = p.n;
    let gh = p.k * h;
    let pairs = p.rows * h;
    let b0 = wid.x * p.rows;
    let lstm = p.mode == MODE_LSTM;
    for (var i = lid; i < 2u * p.rows; i += GW) {
        atomicStore(&rowmax[i], 0u);
    }
    workgroupBarrier();
    for (var t = p.l_to; t >= p.l_from; t--) {
        let slot = (t & 1u) * p.rows;
        // ---- the errors arriving at step t (at the scale of step t + 1), and each row's largest; an
        // invocation takes four consecutive units of a row, so each load of the row's errors feeds four
        // sums and the weights come four at a time from one row of W_h
        let quads = (h + 3u) / 4u;
        for (var q = lid; q < p.rows * quads; q += GW) {
            let r = q / quads;
            let b = b0 + r;
            let u0 = (q % quads) * 4u;
            if (b >= p.m) {
                continue;
            }
            let c0 = min(u0, h - 1u);
            let c1 = min(u0 + 1u, h - 1u);
            let c2 = min(u0 + 2u, h - 1u);
            let c3 = min(u0 + 3u, h - 1u);
            var g4 = vec4<f32>(0.0);
            if (t == p.layers) {
                let dy = p.b_off + b * p.d_out;
                for (var o = 0u; o < p.d_out; o++) {
                    let wr = p.w_head + o * h;
                    g4 = fma(vec4<f32>(ld(nb + dy + o)),
                             vec4<f32>(ld(nb + wr + c0), ld(nb + wr + c1), ld(nb + wr + c2), ld(nb + wr + c3)), g4);
                }
            } else {
                let srow = step_row(p.a_off, t + 1u, b, gh);
                if ((p.flags & FLAG_WIDE) != 0u) {
                    // four rows of W_h and four errors per iteration, one vec4 load each
                    for (var j = 0u; j < gh; j += 4u) {
                        let s4 = ld4(nb + srow + j);
                        let wr = nb + p.w_rec + j * h + u0;
                        g4 = fma(vec4<f32>(s4.x), ld4(wr), g4);
                        g4 = fma(vec4<f32>(s4.y), ld4(wr + h), g4);
                        g4 = fma(vec4<f32>(s4.z), ld4(wr + 2u * h), g4);
                        g4 = fma(vec4<f32>(s4.w), ld4(wr + 3u * h), g4);
                    }
                } else {
                    for (var j = 0u; j < gh; j++) {
                        let wr = p.w_rec + j * h;
                        g4 = fma(vec4<f32>(ld(nb + srow + j)),
                                 vec4<f32>(ld(nb + wr + c0), ld(nb + wr + c1), ld(nb + wr + c2), ld(nb + wr + c3)), g4);
                    }
                }
            }
            var mx = 0.0;
            for (var i = 0u; i < 4u; i++) {
                let u = u0 + i;
                if (u >= h) {
                    break;
                }
                var g = g4[i];
                var cin = 0.0;
                if (t < p.layers) {
                    let above = step_row(p.z_off, t + 1u, b, gh);
                    if (lstm) {
                        cin = ld(nb + step_row(p.top_off, t + 1u, b, h) + u) * sigmoid(ld(nb + above + h + u));
                    } else {
                        g += ld(nb + step_row(p.g_off, t + 1u, b, h) + u) * sigmoid(ld(nb + above + h + u));
                    }
                }
                st(nb + step_row(p.g_off, t, b, h) + u, g);
                st(nb + step_row(p.top_off, t, b, h) + u, cin);
                let m = max(abs(g), abs(cin));
                if (m > mx || is_nan(g) || is_nan(cin)) {
                    mx = m;
                }
                if (is_nan(g) || is_nan(cin)) {
                    mx = f32_nan();
                }
            }
            atomicMax(&rowmax[slot + r], bitcast<u32>(mx));
        }
        // the incoming errors written above are read by other invocations below
        storageBarrier();
        workgroupBarrier();
        // ---- rescale by the row's power of two, then the blocks' errors
        for (var q = lid; q < pairs; q += GW) {
            let b = b0 + q / h;
            let u = q % h;
            if (b >= p.m) {
                continue;
            }
            let mx = bitcast<f32>(atomicLoad(&rowmax[slot + q / h]));
            var e = 0;
            if (mx > 0.0 && mx <= 3.4e38) {
                e = frexp(mx).exp;
            }
            var s_above = 0.0;
            if (t < p.layers) {
                s_above = ld(nb + p.sscale_off + (t + 1u) * p.m + b);
            }
            let go = step_row(p.g_off, t, b, h) + u;
            let co = step_row(p.top_off, t, b, h) + u;
            let g = ldexp_safe(ld(nb + go), -e);
            let cin = ldexp_safe(ld(nb + co), -e);
            st(nb + go, g);
            let pre = step_row(p.z_off, t, b, gh);
            let so = step_row(p.a_off, t, b, gh);
            if (lstm) {
                let ai = ld(nb + pre + u);
                let af = ld(nb + pre + h + u);
                let ag = ld(nb + pre + 2u * h + u);
                let ao = ld(nb + pre + 3u * h + u);
                let c = ld(nb + step_row(p.res_off, t, b, h) + u);
                var c_before = 0.0;
                if (t >= 2u) {
                    c_before = ld(nb + step_row(p.res_off, t - 1u, b, h) + u);
                }
                let dc = cin + g * sigmoid(ao) * act_df(c, net_act());
                st(nb + co, dc);
                st(nb + so + u, dc * act_f(ag, net_act()) * dsig(ai));
                st(nb + so + h + u, dc * c_before * dsig(af));
                st(nb + so + 2u * h + u, dc * sigmoid(ai) * act_df(ag, net_act()));
                st(nb + so + 3u * h + u, g * act_f(c, net_act()) * dsig(ao));
            } else {
                let ar = ld(nb + pre + u);
                let az = ld(nb + pre + h + u);
                let an = ld(nb + pre + 2u * h + u);
                let z = sigmoid(az);
                var hp = 0.0;
                if (t >= 2u) {
                    hp = ld(nb + step_row(p.c_off, t - 1u, b, h) + u);
                }
                let dn = g * (1.0 - z) * act_df(an, net_act());
                st(nb + co, dn);
                st(nb + so + u, dn * ld(nb + step_row(p.res_off, t, b, h) + u) * dsig(ar));
                st(nb + so + h + u, g * (hp - act_f(an, net_act())) * dsig(az));
                st(nb + so + 2u * h + u, dn * sigmoid(ar));
            }
            if (u == 0u) {
                st(nb + p.sscale_off + t * p.m + b, s_above + f32(e));
            }
        }
        // the other slot serves step t - 1; every read of it (step t + 1) is behind the barrier above
        for (var i = lid; i < p.rows; i += GW) {
            atomicStore(&rowmax[(1u - (t & 1u)) * p.rows + i], 0u);
        }
        storageBarrier();
        workgroupBarrier();
        if (t == 1u) {
            break;
        }
    }
}

// One workgroup per step t = wid.x + 1: brings every row to the step's largest row scale (written back,
// so the weight gradients and the read-back see one scale per step, at aux_off + t), then per unit
// the statistics colreduce.wgsl gives the other paths: log2 mean_b |ĝ| at ust_off + (t-1)·H + u and
// [Σ ĝ², log2 Σ h², #saturated (every block), dead (candidate slope exactly 0 on every row)] at
// upart_off + UPART((t-1)·H + u) (no ledger sums: a gated cell's error splits over its gates); and the gate record at aux2_off + 8(t-1):
// [Σ keep gate, #saturated per block (4 slots), log2 Σ ĉ² (LSTM; NO_TERM for 0), 0, 0], with the LSTM's per-unit
// log2 mean_b |ĉ| at split_off + (t-1)·H + u.
@compute @workgroup_size(64)
fn gated_stats(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.x + 1u;
    let h = p.n;
    rescale_step(lid, wid);
    storageBarrier();
    var sums = gate_sums_new();
    for (var u = lid; u < h; u += GW) {
        sums = unit_stats(t, u, sums, false, 0.0);
    }
    let keep = sums.keep;
    let sat = sums.sat;
    let csq = sums.csq;
    if (LANES > 1u) {
        // 8-lane subgroups (CPU adapters): each subgroup sums through shuffles, then one barrier and
        // invocation 0 adds the subgroups' sums (the trees below take eight barriers per sum, each a
        // coroutine switch per SIMD group on lavapipe)
        let r = array<f32, 6>(lane_sum(keep), lane_sum(sat[0]), lane_sum(sat[1]), lane_sum(sat[2]),
                              lane_sum(sat[3]), lane_log2_sum(lsum_log2(csq)));
        if (lid % LANES == 0u) {
            for (var q = 0u; q < 6u; q++) {
                gsub[q * GSUBS + lid / LANES] = r[q];
            }
        }
        workgroupBarrier();
        if (lid == 0u) {
            var tot = vec4<f32>(0.0);
            var keep_all = 0.0;
            var cs = lsum_new();
            for (var g = 0u; g < GSUBS; g++) {
                keep_all += gsub[g];
                tot += vec4<f32>(gsub[GSUBS + g], gsub[2u * GSUBS + g], gsub[3u * GSUBS + g], gsub[4u * GSUBS + g]);
                cs = lsum_add(cs, gsub[5u * GSUBS + g]);
            }
            gate_record(t, keep_all, tot, lsum_log2(cs));
        }
        return;
    }
    let keep_all = wg_sum(lid, keep, GW);
    let s0 = wg_sum(lid, sat[0], GW);
    let s1 = wg_sum(lid, sat[1], GW);
    let s2 = wg_sum(lid, sat[2], GW);
    let s3 = wg_sum(lid, sat[3], GW);
    let c_all = wg_log2_sum(lid, lsum_log2(csq), GW);
    if (lid == 0u) {
        gate_record(t, keep_all, vec4<f32>(s0, s1, s2, s3), c_all);
    }
}

// gated_stats without the statistics, for a training step whose statistics nobody reads (docs/DESIGN.md,
// Bare steps): the step's scale and every row brought to it.
@compute @workgroup_size(64)
fn gated_stats_bare(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    rescale_step(lid, wid);
}

// Step wid.x + 1's scale taken (enter_step) and every (row, unit) of the step brought to it, GW at a time.
fn rescale_step(lid: u32, wid: vec3<u32>) {
    let t = wid.x + 1u;
    let h = p.n;
    let top = enter_step(lid, wid);
    for (var q = lid; q < p.m * h; q += GW) {
        rescale_unit(t, q / h, q % h, top);
    }
}

// The statistics kernels' start: net wid.z entered, and step t = wid.x + 1's largest row scale, which
// invocation 0 stores as the step's scale at aux_off + t.
fn enter_step(lid: u32, wid: vec3<u32>) -> f32 {
    net_enter(wid.z);
    let t = wid.x + 1u;
    let top = step_top(t);
    if (lid == 0u) {
        st(nb + p.aux_off + t, top);
    }
    return top;
}

// The step's largest row scale S[t][b] (the scale every row of step t is brought to).
fn step_top(t: u32) -> f32 {
    let srow = nb + p.sscale_off + t * p.m;
    var top = ld(srow);
    for (var b = 1u; b < p.m; b++) {
        top = max(top, ld(srow + b));
    }
    return top;
}

// A step's gate sums: Σ keep gate, #saturated per block, Σ ĉ² of any magnitude (ĉ shares ĝ's scale and
// may sit far below it; an esum_add state, common.wgsl).
struct GateSums {
    keep: f32,
    sat: vec4<f32>,
    csq: vec3<f32>,
}

fn gate_sums_new() -> GateSums {
    return GateSums(0.0, vec4<f32>(0.0), lsum_new());
}

// Unit u's statistics at step t, stored (see gated_stats), and its share of the gate sums added to `sums`.
// With `rescale` (a constant where called) each row's values of the unit (ĝ, ĉ, the blocks' errors) are
// first brought from the row's scale to the step's, `top`, and written back.
fn unit_stats(t: u32, u: u32, sums: GateSums, rescale: bool, top: f32) -> GateSums {
    let h = p.n;
    let gh = p.k * h;
    let lstm = p.mode == MODE_LSTM;
    let sat_cand = SATURATION_THRESHOLD * act_peak(net_act());
    var r = sums;
    var g2 = 0.0;
    var gl = lsum_new();
    var act = lsum_new();
    var live = false;
    var usat = 0.0;
    var cl = lsum_new();
    for (var b = 0u; b < p.m; b++) {
        let go = nb + step_row(p.g_off, t, b, h) + u;
        let co = nb + step_row(p.top_off, t, b, h) + u;
        if (rescale) {
            rescale_unit(t, b, u, top);
        }
        let g = ld(go);
        g2 += g * g;
        gl = esum_add_abs(gl, g);
        act = esum_add_sq(act, ld(nb + step_row(p.c_off, t, b, h) + u));
        let pre = step_row(p.z_off, t, b, gh);
        for (var k = 0u; k < p.k; k++) {
            let a = ld(nb + pre + k * h + u);
            var s = 0.0;
            if (k == 2u) {
                let sl = act_slope(a, net_act());
                s = select(0.0, 1.0, sl.k < 0 || abs(sl.m) < sat_cand);
                live = live || !exact_zero_slope(a, net_act());
            } else {
                // σ'(a) < 5% of its peak 1/4 exactly where |a| > ln(s/(1 − s)), s(1 − s) = 0.0125
                s = select(0.0, 1.0, abs(a) > SIGMOID_SATURATED_BEYOND);
            }
            // as a vector (r.sat[k] at a loop counter's index would keep r in memory on lavapipe)
            r.sat += select(vec4<f32>(0.0), vec4<f32>(s), vec4<u32>(0u, 1u, 2u, 3u) == vec4<u32>(k));
            usat += s;
        }
        r.keep += sigmoid(ld(nb + pre + h + u));
        if (lstm) {
            let c = ld(co);
            r.csq = esum_add_sq(r.csq, c);
            cl = esum_add_abs(cl, c);
        }
    }
    let lb = log2(f32(p.m));
    st(nb + p.ust_off + (t - 1u) * h + u, mean_log2(gl, lb));
    let o = p.upart_off + UPART * ((t - 1u) * h + u);
    st(nb + o, g2);
    st(nb + o + 1u, lsum_log2(act));
    st(nb + o + 2u, usat);
    st(nb + o + 3u, select(1.0, 0.0, live));
    st(nb + o + 4u, NO_TERM);
    st(nb + o + 5u, NO_TERM);
    if (lstm) {
        st(nb + p.split_off + (t - 1u) * h + u, mean_log2(cl, lb));
    }
    return r;
}

// gated_stats for the per-row kernels (CPU adapters): one workgroup of 8 per step, invocation q owning the
// units q, q + 8, ...; it brings its units' values to the step's scale itself before reading them, so no
// invocation waits for another (no barrier where the workgroup is one 8-lane subgroup: the gate record's
// sums go through shuffles; the portable build sums through workgroup memory).
@compute @workgroup_size(8)
fn gated_stats_rows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.x + 1u;
    let top = enter_step(lid, wid);
    var sums = gate_sums_new();
    for (var u = lid; u < p.n; u += 8u) {
        sums = unit_stats(t, u, sums, true, top);
    }
    let c = lsum_log2(sums.csq);
    if (LANES == 8u) {
        let sat = vec4<f32>(lane_sum(sums.sat.x), lane_sum(sums.sat.y), lane_sum(sums.sat.z), lane_sum(sums.sat.w));
        let keep = lane_sum(sums.keep);
        let c_all = lane_log2_sum(c);
        if (lid == 0u) {
            gate_record(t, keep, sat, c_all);
        }
        return;
    }
    rows_sums[lid] = GateSums(sums.keep, sums.sat, vec3<f32>(c, 0.0, 0.0));
    workgroupBarrier();
    if (lid == 0u) {
        var keep = 0.0;
        var sat = vec4<f32>(0.0);
        var cs = lsum_new();
        for (var q = 0u; q < 8u; q++) {
            keep += rows_sums[q].keep;
            sat += rows_sums[q].sat;
            cs = lsum_add(cs, rows_sums[q].csq.x);
        }
        gate_record(t, keep, sat, lsum_log2(cs));
    }
}

// gated_stats_rows without the statistics, for a training step whose statistics nobody reads
// (src/gpu/program.rs, `without_statistics`): the step's scale, and every row's values (ĝ, ĉ, the blocks'
// errors) brought to it, as unit_stats does before it reads them.
@compute @workgroup_size(8)
fn gated_stats_rows_bare(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let t = wid.x + 1u;
    let top = enter_step(lid, wid);
    for (var u = lid; u < p.n; u += 8u) {
        for (var b = 0u; b < p.m; b++) {
            rescale_unit(t, b, u, top);
        }
    }
}

// Row b's values of unit u at step t (ĝ, ĉ, the blocks' errors) brought from the row's scale to the
// step's, `top`, and written back.
fn rescale_unit(t: u32, b: u32, u: u32, top: f32) {
    let d = i32(ld(nb + p.sscale_off + t * p.m + b) - top);
    if (d != 0) {
        let h = p.n;
        let go = nb + step_row(p.g_off, t, b, h) + u;
        let co = nb + step_row(p.top_off, t, b, h) + u;
        st(go, scale_down_pow2(ld(go), d));
        st(co, scale_down_pow2(ld(co), d));
        let so = nb + step_row(p.a_off, t, b, p.k * h) + u;
        for (var g = 0u; g < p.k; g++) {
            st(so + g * h, scale_down_pow2(ld(so + g * h), d));
        }
    }
}

// gated_stats_rows' eight invocations' sums (the portable build), the log2 Σ ĉ² in csq.x
var<workgroup> rows_sums: array<GateSums, 8>;

// gated_stats' subgroups per workgroup where subgroups are 8 lanes wide, and their sums: [6][GSUBS]
const GSUBS: u32 = GW / LANES;
var<workgroup> gsub: array<f32, 6u * GSUBS>;

// Step t's gate record (one invocation): Σ keep gate, #saturated per block, log2 Σ ĉ², two zeros.
fn gate_record(t: u32, keep_all: f32, sat: vec4<f32>, c_all: f32) {
    let o = p.aux2_off + 8u * (t - 1u);
    st(nb + o, keep_all);
    st(nb + o + 1u, sat[0]);
    st(nb + o + 2u, sat[1]);
    st(nb + o + 3u, sat[2]);
    st(nb + o + 4u, sat[3]);
    st(nb + o + 5u, c_all);
    st(nb + o + 6u, 0.0);
    st(nb + o + 7u, 0.0);
}

// log2 of the mean of 2^terms over lb = log2(count) terms: −∞ where every term is an exact zero, NaN
// where any is NaN.
fn mean_log2(st: vec3<f32>, lb: f32) -> f32 {
    if (st.z > 0.0) {
        return f32_nan();
    }
    if (st.x <= NO_TERM) {
        return f32_neg_inf();
    }
    return st.x + log2(st.y) - lb;
}

// The weight and bias gradients summed over the steps l_from..=l_to (FLAG_ACCUMULATE: added to what an
// earlier chunk left). The entries of [W_h | W_x | b] (G·H rows; H, then d_in + 1 columns) are cut into
// blocks of 4 rows × 4 columns, one per invocation (a block never straddles W_h and W_x | b), so that each
// batch row's four errors and four inputs feed sixteen products. Each step's sum over the batch is taken
// at the step's scale (aux_off + t) and added in true units. Per step, each workgroup's log2 Σ (this
// step's W_h entries)² goes to part_off + (t-1)·count + workgroup, the per-step ‖∂L/∂W_h‖ of the
// statistics (with 8-lane subgroups, lanes.wgsl, each subgroup's to part_off + (t-1)·count +
// 8·workgroup + subgroup: Layout::gated_lanes has the room). A GRU's candidate rows of W_x and b read the error without r (at top_off); every other
// entry reads â (at a_off).
@compute @workgroup_size(64)
fn gated_wgrad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    net_enter(wid.z);
    let h = p.n;
    let gh = p.k * h;
    let cg_h = (h + 3u) / 4u;
    let cg = cg_h + (p.d_in + 4u) / 4u;
    let e = wid.x * 64u + lid;
    let valid = e < ((gh + 3u) / 4u) * cg;
    let j0 = (e / cg) * 4u;
    let cgi = e % cg;
    let input_side = cgi >= cg_h;
    var c0 = cgi * 4u;
    var ncols = min(4u, h - min(c0, h));
    if (input_side) {
        c0 = (cgi - cg_h) * 4u;
        ncols = min(4u, p.d_in + 1u - min(c0, p.d_in + 1u));
    }
    let nrows = min(4u, gh - min(j0, gh));
    let gru = p.mode == MODE_GRU;
    // the block's four rows, each named (an array or vector written at a loop counter's index would live
    // in memory on lavapipe, every access a masked gather or scatter)
    var t0 = vec4<f32>(0.0);
    var t1 = vec4<f32>(0.0);
    var t2 = vec4<f32>(0.0);
    var t3 = vec4<f32>(0.0);
    if (valid && (p.flags & FLAG_ACCUMULATE) != 0u) {
        t0 = wgrad_dst_load(min(j0, gh - 1u), c0, ncols, input_side);
        t1 = wgrad_dst_load(min(j0 + 1u, gh - 1u), c0, ncols, input_side);
        t2 = wgrad_dst_load(min(j0 + 2u, gh - 1u), c0, ncols, input_side);
        t3 = wgrad_dst_load(min(j0 + 3u, gh - 1u), c0, ncols, input_side);
    }
    // where H is a multiple of 4, a block of four W_h columns or four error rows is one vec4 load
    let wide = (p.flags & FLAG_WIDE) != 0u;
    let v4 = wide && !input_side;
    let e4 = wide && !(gru && input_side) && j0 + 3u < gh;
    let jr = vec4<u32>(min(j0, gh - 1u), min(j0 + 1u, gh - 1u), min(j0 + 2u, gh - 1u), min(j0 + 3u, gh - 1u));
    // (a GRU's candidate block takes its input-side error from top_off)
    let from_top = gru && input_side;
    let cand = select(vec4<bool>(false), jr >= vec4<u32>(2u * h), from_top);
    for (var t = p.l_from; t <= p.l_to; t++) {
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        if (valid && (input_side || t >= 2u)) {
            for (var b = 0u; b < p.m; b++) {
                var v = vec4<f32>(1.0);
                if (input_side) {
                    // x where the column is an input, 1 in the bias column (and past it: not stored)
                    let xr = nb + p.x_off + (t - 1u) * p.x_step + b * p.d_in;
                    let cq = c0 + vec4<u32>(0u, 1u, 2u, 3u);
                    let xi = xr + min(cq, vec4<u32>(max(p.d_in, 1u) - 1u));
                    v = select(v, vec4<f32>(ld(xi.x), ld(xi.y), ld(xi.z), ld(xi.w)), cq < vec4<u32>(p.d_in));
                } else {
                    let hr = nb + step_row(p.c_off, t - 1u, b, h);
                    if (v4) {
                        v = ld4(hr + c0);
                    } else {
                        v = vec4<f32>(ld(hr + min(c0, h - 1u)), ld(hr + min(c0 + 1u, h - 1u)),
                                      ld(hr + min(c0 + 2u, h - 1u)), ld(hr + min(c0 + 3u, h - 1u)));
                    }
                }
                let sr = nb + step_row(p.a_off, t, b, gh);
                var err: vec4<f32>;
                if (e4) {
                    err = ld4(sr + j0);
                } else {
                    err = vec4<f32>(ld(sr + jr.x), ld(sr + jr.y), ld(sr + jr.z), ld(sr + jr.w));
                    if (from_top) {
                        let cr = nb + step_row(p.top_off, t, b, h) + select(jr, jr - vec4<u32>(2u * h), cand);
                        err = select(err, vec4<f32>(ld(cr.x), ld(cr.y), ld(cr.z), ld(cr.w)), cand);
                    }
                }
                acc0 = fma(vec4<f32>(err.x), v, acc0);
                acc1 = fma(vec4<f32>(err.y), v, acc1);
                acc2 = fma(vec4<f32>(err.z), v, acc2);
                acc3 = fma(vec4<f32>(err.w), v, acc3);
            }
        }
        let sc = i32(ld(nb + p.aux_off + t));
        t0 += ldexp_safe4(acc0, sc);
        t1 += ldexp_safe4(acc1, sc);
        t2 += ldexp_safe4(acc2, sc);
        t3 += ldexp_safe4(acc3, sc);
        // this invocation's W_h entries squared (of any magnitude), row by row, then the workgroup's
        var sq = vec2<f32>(NO_TERM, 0.0);
        if (valid && !input_side) {
            sq = sq_pairs_add(sq, acc0, select(0u, ncols, 0u < nrows));
            sq = sq_pairs_add(sq, acc1, select(0u, ncols, 1u < nrows));
            sq = sq_pairs_add(sq, acc2, select(0u, ncols, 2u < nrows));
            sq = sq_pairs_add(sq, acc3, select(0u, ncols, 3u < nrows));
        }
        if (LANES > 1u) {
            // 8-lane subgroups (CPU adapters): a slot per subgroup, no workgroup barrier inside the loop
            // (on lavapipe it would keep the accumulators in the coroutine frame, in memory)
            let part = lane_pair_log2(sq);
            if (lid % LANES == 0u) {
                st(nb + p.part_off + (t - 1u) * p.count + wid.x * (64u / LANES) + lid / LANES, part);
            }
        } else {
            let part = wg64_pair_log2(lid, sq);
            if (lid == 0u) {
                st(nb + p.part_off + (t - 1u) * p.count + wid.x, part);
            }
        }
    }
    if (valid) {
        wgrad_dst_store(j0, c0, ncols, input_side, t0);
        if (1u < nrows) { wgrad_dst_store(j0 + 1u, c0, ncols, input_side, t1); }
        if (2u < nrows) { wgrad_dst_store(j0 + 2u, c0, ncols, input_side, t2); }
        if (3u < nrows) { wgrad_dst_store(j0 + 3u, c0, ncols, input_side, t3); }
    }
}

// sq_pair_add of v's first n components, in order
fn sq_pairs_add(st: vec2<f32>, v: vec4<f32>, n: u32) -> vec2<f32> {
    var s = st;
    for (var q = 0u; q < n; q++) {
        s = sq_pair_add(s, v[q]);
    }
    return s;
}

// Gradient row j's entries at columns c0 .. c0 + ncols - 1 (ncols ≤ 4; zeros past them)
fn wgrad_dst_load(j: u32, c0: u32, ncols: u32, input_side: bool) -> vec4<f32> {
    let q = vec4<u32>(0u, 1u, 2u, 3u);
    let c = vec4<u32>(c0) + min(q, vec4<u32>(max(ncols, 1u) - 1u));
    let v = vec4<f32>(ld(nb + wgrad_dst(j, c.x, input_side)), ld(nb + wgrad_dst(j, c.y, input_side)),
                      ld(nb + wgrad_dst(j, c.z, input_side)), ld(nb + wgrad_dst(j, c.w, input_side)));
    return select(vec4<f32>(0.0), v, q < vec4<u32>(ncols));
}

// v's first ncols components stored at gradient row j's columns c0 ..
fn wgrad_dst_store(j: u32, c0: u32, ncols: u32, input_side: bool, v: vec4<f32>) {
    for (var q = 0u; q < ncols; q++) {
        st(nb + wgrad_dst(j, c0 + q, input_side), v[q]);
    }
}

// Where gradient entry (row j, column c) of [W_h | W_x | b] lives: on the input side c counts W_x's
// columns and then the bias.
fn wgrad_dst(j: u32, c: u32, input_side: bool) -> u32 {
    if (!input_side) {
        return p.gw_rec + j * p.n + c;
    }
    if (c < p.d_in) {
        return p.gw_in + j * p.d_in + c;
    }
    return p.gb_first + j;
}
