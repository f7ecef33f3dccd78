//! The statistics record both engines produce, per layer (per time step for the RNN), and its conversion
//! from the scaled domain the engines compute in (docs/DESIGN.md §Numerics).
//!
//! Both engines backpropagate a rescaled copy of the error. The running gradient ĝ (∂L/∂a) is divided at
//! each layer by a power of two (the frexp exponent of the largest |ĝ| of the layer above), and the error
//! ŝ = ĝ ⊙ f'(z) · 2^-K is formed with the slope split as mantissa · 2^exponent, K being the exponent of
//! the layer's largest slope (at most 0). The true values are `δ_l = 2^{s_l} · ŝ_l` with the integer `s_l`
//! carried alongside, so every magnitude is known in the log domain even where the f32 (or f64) value
//! itself would underflow to zero — including units saturated far beyond the float range, whose per-unit
//! mean is accumulated in the log domain.

use serde::Serialize;

pub use crate::model::frexp_exponent;

/// Raw per-layer quantities in the scaled domain, as both engines compute them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawLayer {
    /// `s_l`: true δ_l = 2^s_l · ŝ_l.
    pub log2_scale: f64,
    /// `Σ (ŝ_lᵀ a_{l-1})²`: the squared Frobenius norm of the scaled weight gradient.
    pub grad_w_sumsq_scaled: f64,
    /// `Σ ŝ_l²` over batch and units.
    pub delta_sumsq_scaled: f64,
    /// Per unit, `log2 mean_b |ŝ_l[b, unit]|`, kept in the log domain because saturated units can sit far
    /// below the largest ones of their layer: `-inf` for an exact zero (a dead unit), NaN for NaN.
    pub log2_mean_abs_delta_scaled: Vec<f64>,
    /// `Σ a_l²` over batch and units (a_l: the layer's output, after the residual add).
    pub act_sumsq: f64,
    /// Number of (sample, unit) entries whose |f'(z)| is below the saturation threshold.
    pub saturated_count: f64,
    /// Number of units whose f'(z) is mathematically exactly zero (ReLU, z <= 0) for every sample of the
    /// batch. A slope that merely underflows the float range is saturated, never dead.
    pub dead_units: f64,
    /// Gated cells (LSTM, GRU) only: the gates and the cell path at this time step.
    pub gates: Option<RawGates>,
    /// The chain-rule ledger's sums (MLPs and vanilla RNNs; `None` for gated cells, whose error splits
    /// over their gates).
    pub ledger: Option<RawLedger>,
}

/// Raw sums behind the chain-rule ledger of one layer (time step): the gradient arriving at the layer's
/// output, ĝ = ∂L/∂a_l (scaled), and the activation slopes that turn it into δ_l = ĝ ⊙ f'(z_l).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawLedger {
    /// log2 Σ ĝ² over batch and units (−∞ for an exact zero, NaN for NaN); the true ∂L/∂a_l is
    /// 2^(log2_scale − slope_shift) · ĝ.
    pub log2_grad_out_sumsq_scaled: f64,
    /// K, the layer's slope shift (ŝ = ĝ ⊙ f' · 2^-K): ĝ's scale is the layer's minus K.
    pub slope_shift: f64,
    /// log2 Σ |f'(z)| over batch and units, in true units (−∞ when every slope is exactly 0).
    pub log2_slope_sum: f64,
}

/// Raw per-time-step quantities of a gated cell, beside [`RawLayer`] (same scale `log2_scale`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawGates {
    /// Σ over batch and units of the keep gate (LSTM forget f_t, GRU update z_t).
    pub keep_sum: f64,
    /// Per block (gate order of [`crate::model::Cell::gate_names`]), the number of (sample, unit) entries
    /// whose slope is below 5% of its peak (a sigmoid gate stuck near 0 or 1; the candidate by its
    /// activation).
    pub saturated: Vec<f64>,
    /// LSTM only: Σ ĉ² of the scaled cell error ∂L/∂c_t (true = 2^log2_scale · ĉ); 0 for a GRU.
    pub cell_sumsq_scaled: f64,
    /// LSTM only: per unit, log2 mean_b |ĉ[b, unit]| (−∞ for an exact zero, NaN for NaN); empty for a GRU.
    pub log2_mean_abs_cell_scaled: Vec<f64>,
}

/// Statistics of one layer (MLP) or one time step (RNN). Field names are the JSON's (docs/DESIGN.md §Stats).
///
/// Numbers in JSON: a finite value is a JSON number; NaN and ±∞ are the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"` (never `null`). In the `log10_*` fields `null` means an exact mathematical zero only
/// (e.g. a dead ReLU unit), so `null` and NaN never share a representation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerStats {
    /// 1-based layer index (time step for the RNN), input to output.
    pub index: usize,
    /// ‖∂L/∂W_l‖_F (RNN: this step's contribution to ∂L/∂W_h). 0 where it underflows f64.
    #[serde(serialize_with = "json_num::f64")]
    pub grad_w_norm: f64,
    /// log10 of `grad_w_norm`, finite far below the float range; `None` (null) for an exact zero,
    /// `Some(NaN)` or `Some(±∞)` where the gradient is not finite.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_grad_w_norm: Option<f64>,
    /// sqrt(mean δ²) over batch and units.
    #[serde(serialize_with = "json_num::f64")]
    pub delta_rms: f64,
    /// log10 of `delta_rms`; `None` for an exact zero, `Some(NaN)` for NaN.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_delta_rms: Option<f64>,
    /// Per unit, log10 of mean_b |δ[b, unit]|; `None` for an exact zero (a dead unit), `Some(NaN)` for NaN.
    #[serde(serialize_with = "json_num::opt_vec")]
    pub log10_mean_abs_delta: Vec<Option<f64>>,
    /// sqrt(mean a²) of the layer's output (NaN once activations are NaN).
    #[serde(serialize_with = "json_num::f64")]
    pub act_rms: f64,
    /// Fraction of (sample, unit) entries in saturation (|f'(z)| < 5% of its peak), including slopes
    /// that underflow the float range.
    pub saturated_fraction: f64,
    /// Fraction of units whose f'(z) is mathematically 0 on every sample (dead ReLU units).
    pub dead_fraction: f64,
    /// Gated cells only: the gates and the cell path at this time step (absent for MLPs and vanilla RNNs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gates: Option<GateStats>,
    /// The factors of the chain rule at this layer (absent for gated cells): what arrives at the layer's
    /// output and the slopes that turn it into δ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerStats>,
    /// The distributions of f(z) and log10 |δ| over batch and units, where they were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub histogram: Option<LayerHistogram>,
}

/// Interior bins of each histogram; every histogram also has a bin below its range (first) and one above
/// it (last). Keep in sync with HIST_BINS in shaders/hist.wgsl.
pub const HIST_BINS: usize = 32;
/// The δ histogram's range: log10 |δ| − log10 rms δ of the layer, in decades (`[lo, hi)`).
pub const DELTA_HIST_RANGE: (f64, f64) = (-6.0, 2.0);

/// The range `[lo, hi)` of the histogram of f(z) for an activation: its output range where it is
/// bounded, else (−2, 4).
pub fn act_hist_range(act: crate::model::Activation) -> (f64, f64) {
    use crate::model::Activation;
    match act {
        Activation::Sigmoid => (0.0, 1.0),
        Activation::Tanh => (-1.0, 1.0),
        _ => (-2.0, 4.0),
    }
}

/// The bin of `x` in a histogram over `[lo, hi)`: 0 below (and NaN), `HIST_BINS + 1` at or above `hi`.
pub fn hist_bin(x: f64, lo: f64, hi: f64) -> usize {
    if x.is_nan() || x < lo {
        return 0;
    }
    if x >= hi {
        return HIST_BINS + 1;
    }
    1 + (((x - lo) / (hi - lo) * HIST_BINS as f64) as usize).min(HIST_BINS - 1)
}

/// The centres of the interior bins of a histogram over `[lo, hi)`, in bin order.
pub fn hist_centers(lo: f64, hi: f64) -> impl Iterator<Item = f64> {
    let w = (hi - lo) / HIST_BINS as f64;
    (0..HIST_BINS).map(move |i| lo + (i as f64 + 0.5) * w)
}

/// One layer's (time step's) distributions (Glorot & Bengio 2010, figures 6 and 7): counts over batch and
/// units, `HIST_BINS + 2` each ([below, the bins over the range, above]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerHistogram {
    /// The range of the f(z) bins (see [`act_hist_range`]).
    pub act_range: (f64, f64),
    /// Counts of f(z_l), the activation's output (before a residual add).
    pub act: Vec<u64>,
    /// Counts of log10 |δ_l| − log10 rms δ_l over [`DELTA_HIST_RANGE`] (exact zeros not among them).
    pub delta: Vec<u64>,
    /// Entries whose δ is exactly zero (dead units' entries among them).
    pub delta_zeros: u64,
}

impl LayerHistogram {
    /// The histogram of values `f(z)` and true δ: the reference's way, in f64.
    pub fn of(act: crate::model::Activation, fz: &[f64], delta: &[f64]) -> LayerHistogram {
        let act_range = act_hist_range(act);
        let mut a = vec![0; HIST_BINS + 2];
        for &v in fz {
            a[hist_bin(v, act_range.0, act_range.1)] += 1;
        }
        // log10 rms δ from the log domain (true δ may be far below the f64 range only as zeros, which
        // the reference's δ never is where the statistics are finite)
        let log2_ms = {
            let mx = delta.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if mx > 0.0 {
                let s: f64 = delta.iter().map(|v| (v / mx).powi(2)).sum();
                2.0 * mx.log2() + (s / delta.len() as f64).log2()
            } else {
                f64::NEG_INFINITY
            }
        };
        let mut d = vec![0; HIST_BINS + 2];
        let mut zeros = 0;
        let (lo, hi) = DELTA_HIST_RANGE;
        for &v in delta {
            if v == 0.0 {
                zeros += 1;
                continue;
            }
            let x = (v.abs().log2() - 0.5 * log2_ms) * std::f64::consts::LOG10_2;
            d[hist_bin(x, lo, hi)] += 1;
        }
        LayerHistogram {
            act_range,
            act: a,
            delta: d,
            delta_zeros: zeros,
        }
    }
}

/// One layer's (time step's) entries in the chain-rule ledger (docs/DESIGN.md §Ledger). With `ĝ_l =
/// ∂L/∂a_l`, the gradient arriving at the layer's output (`W_{l+1}ᵀ δ_{l+1}`, plus the skip path's
/// gradient in a residual net; the head's `W_outᵀ ∂L/∂ŷ` at the top), `δ_l = ĝ_l ⊙ f'(z_l)`, so
/// `rms δ_l / rms δ_{l+1} = (rms ĝ_l / rms δ_{l+1}) · (rms δ_l / rms ĝ_l)`: the weights' gain and the
/// slopes' factor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LedgerStats {
    /// log10 sqrt(mean ĝ_l²) over batch and units; `None` for an exact zero, `Some(NaN)` for NaN.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_grad_out_rms: Option<f64>,
    /// mean |f'(z_l)| over batch and units (the slope with a norm: f' at the normalized input).
    #[serde(serialize_with = "json_num::f64")]
    pub mean_abs_slope: f64,
    /// log10 of `mean_abs_slope`, finite where the mean itself underflows; `None` for an exact zero.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_mean_abs_slope: Option<f64>,
}

/// The gates of an LSTM or GRU at one time step (docs/DESIGN.md §Stats).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GateStats {
    /// Mean over batch and units of the keep gate: LSTM forget gate f_t, GRU update gate z_t.
    #[serde(serialize_with = "json_num::f64")]
    pub keep_mean: f64,
    /// Per gate in the cell's order (LSTM input, forget, candidate, output; GRU reset, update,
    /// candidate), the fraction of entries in saturation (slope below 5% of its peak).
    pub saturated: Vec<f64>,
    /// LSTM only: sqrt(mean (∂L/∂c_t)²) over batch and units, the cell path's error.
    #[serde(serialize_with = "json_num::opt")]
    pub cell_delta_rms: Option<f64>,
    /// LSTM only: log10 of `cell_delta_rms`; `None` for a GRU and for an exact zero.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_cell_delta_rms: Option<f64>,
    /// LSTM only: per unit, log10 mean_b |∂L/∂c_t[b, unit]| (empty for a GRU).
    #[serde(serialize_with = "json_num::opt_vec")]
    pub log10_mean_abs_cell_delta: Vec<Option<f64>>,
}

/// δ at one layer (time step) as the product of the factors the backward pass applied on the way down
/// from the output (docs/DESIGN.md §Ledger), every value a log10 rms over batch and units (−∞ for an
/// exact zero, NaN once the gradients are not finite). The product is the measured rms δ by construction
/// of the factors: each is a ratio of measured values, so it shows where the gradient was lost.
#[derive(Clone, Debug, PartialEq)]
pub struct Ledger {
    /// The layer (time step) the ledger ends at, 1-based.
    pub index: usize,
    /// log10 rms of ∂L/∂a_L, the gradient the head sends into the top layer (time step).
    pub log10_start: f64,
    /// One row per factor, from the output down.
    pub rows: Vec<LedgerRow>,
    /// log10 rms δ measured at `index`.
    pub log10_measured: f64,
}

impl Ledger {
    /// log10 of the whole product: the last row's running product (the start where there are no rows).
    pub fn log10_product(&self) -> f64 {
        self.rows
            .last()
            .map_or(self.log10_start, |r| r.log10_product)
    }
}

/// What one factor of the ledger is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerFactor {
    /// Through the weights above: rms ∂L/∂a_k / rms δ_{k+1}, with ∂L/∂a_k = W_{k+1}ᵀ δ_{k+1} (plus the
    /// skip path in a residual net; W_h for the RNN).
    Weights,
    /// Through the activation's slopes: rms δ_k / rms ∂L/∂a_k, δ_k = ∂L/∂a_k ⊙ f'(z_k).
    Slopes,
}

/// One factor of a [`Ledger`].
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerRow {
    /// The layer (time step) the factor belongs to, 1-based.
    pub layer: usize,
    /// Weights or slopes.
    pub factor: LedgerFactor,
    /// log10 of the factor.
    pub log10_factor: f64,
    /// log10 of the running product after this factor.
    pub log10_product: f64,
    /// log10 of the measured value the product stands for here (rms ∂L/∂a_k or rms δ_k).
    pub log10_measured: f64,
    /// Slopes rows: log10 mean |f'(z_k)|, the average slope, beside the factor it shapes.
    pub log10_mean_abs_slope: Option<f64>,
}

/// Serializers that give NaN and ±∞ their own JSON representation (serde_json would write `null`); the
/// dump manifest uses them too.
pub mod json_num {
    use serde::Serializer;

    /// A finite number as a JSON number, else `"NaN"`, `"Infinity"` or `"-Infinity"`.
    pub fn f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("Infinity")
        } else {
            s.serialize_str("-Infinity")
        }
    }

    /// `None` as `null`, `Some(v)` as `f64`.
    pub fn opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => f64(v, s),
            None => s.serialize_none(),
        }
    }

    /// A list of [`opt`] values.
    pub fn opt_vec<S: Serializer>(v: &[Option<f64>], s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        struct Item(Option<f64>);
        impl serde::Serialize for Item {
            fn serialize<S2: Serializer>(&self, s: S2) -> Result<S2::Ok, S2::Error> {
                opt(&self.0, s)
            }
        }
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&Item(*x))?;
        }
        seq.end()
    }
}

/// log10 of a non-negative magnitude: `None` for an exact zero, NaN and +∞ passed through as `Some`.
fn log10_opt(v: f64) -> Option<f64> {
    (v != 0.0).then(|| v.log10())
}

/// log10 from a log2 value: `None` for −∞ (an exact zero), NaN passed through.
fn log10_from_log2(v: f64) -> Option<f64> {
    (v != f64::NEG_INFINITY).then_some(v * std::f64::consts::LOG10_2)
}

impl LayerStats {
    /// Converts raw scaled quantities into the record, for a layer of `width` units and `batch` samples.
    pub fn from_raw(index: usize, raw: &RawLayer, batch: usize, width: usize) -> LayerStats {
        let s10 = raw.log2_scale * std::f64::consts::LOG10_2;
        let entries = (batch * width) as f64;
        let gw_scaled = raw.grad_w_sumsq_scaled.sqrt();
        let dr_scaled = (raw.delta_sumsq_scaled / entries).sqrt();
        let log10_grad_w_norm = log10_opt(gw_scaled).map(|v| v + s10);
        let log10_delta_rms = log10_opt(dr_scaled).map(|v| v + s10);
        let scale = 2f64.powf(raw.log2_scale);
        LayerStats {
            index,
            grad_w_norm: gw_scaled * scale,
            log10_grad_w_norm,
            delta_rms: dr_scaled * scale,
            log10_delta_rms,
            log10_mean_abs_delta: raw
                .log2_mean_abs_delta_scaled
                .iter()
                .map(|&m| log10_from_log2(m + raw.log2_scale))
                .collect(),
            act_rms: (raw.act_sumsq / entries).sqrt(),
            saturated_fraction: raw.saturated_count
                / (entries * raw.gates.as_ref().map_or(1, |g| g.saturated.len().max(1)) as f64),
            dead_fraction: raw.dead_units / width as f64,
            gates: raw.gates.as_ref().map(|g| GateStats {
                keep_mean: g.keep_sum / entries,
                saturated: g.saturated.iter().map(|c| c / entries).collect(),
                cell_delta_rms: (!g.log2_mean_abs_cell_scaled.is_empty())
                    .then(|| (g.cell_sumsq_scaled / entries).sqrt() * scale),
                log10_cell_delta_rms: if g.log2_mean_abs_cell_scaled.is_empty() {
                    None
                } else {
                    log10_opt((g.cell_sumsq_scaled / entries).sqrt()).map(|v| v + s10)
                },
                log10_mean_abs_cell_delta: g
                    .log2_mean_abs_cell_scaled
                    .iter()
                    .map(|&m| log10_from_log2(m + raw.log2_scale))
                    .collect(),
            }),
            histogram: None,
            ledger: raw.ledger.as_ref().map(|g| {
                let log2_entries = entries.log2();
                let log2_slope_mean = g.log2_slope_sum - log2_entries;
                LedgerStats {
                    log10_grad_out_rms: log10_from_log2(
                        0.5 * (g.log2_grad_out_sumsq_scaled - log2_entries) + raw.log2_scale
                            - g.slope_shift,
                    ),
                    mean_abs_slope: log2_slope_mean.exp2(),
                    log10_mean_abs_slope: log10_from_log2(log2_slope_mean),
                }
            }),
        }
    }

    /// Whether any statistic is NaN or infinite (the gradients exploded).
    pub fn is_nonfinite(&self) -> bool {
        !(self.grad_w_norm.is_finite() && self.delta_rms.is_finite() && self.act_rms.is_finite())
    }
}

/// The statistics of one training step: the gradient computed after `step` updates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepStats {
    /// Updates applied before this gradient was computed.
    pub step: u64,
    /// The loss at this step (NaN or ±∞ once training exploded: `"NaN"` / `"Infinity"` in JSON); `None`
    /// only where no loss was computed.
    #[serde(serialize_with = "json_num::opt")]
    pub loss: Option<f64>,
    /// `"gpu"` or `"cpu"`.
    pub engine: String,
    /// The adapter that computed it (`"cpu reference (f64)"` for the reference).
    pub adapter: String,
    /// Whether the loss or any statistic is NaN or infinite (explosion).
    pub nonfinite: bool,
    /// Global L2 norm of all parameter gradients, before any clipping (NaN or ∞ where the gradient is not
    /// finite); `None` only where it was not computed.
    #[serde(serialize_with = "json_num::opt")]
    pub grad_norm: Option<f64>,
    /// Whether global-norm clipping scaled this gradient down (the norm exceeded the threshold).
    pub clipped: bool,
    /// Per layer (per time step), input to output.
    pub layers: Vec<LayerStats>,
    /// Per weight matrix (`w_1 … w_L, w_out`; RNN `w_x, w_h, w_out`), the update this gradient makes
    /// relative to the weights: empty where it was not computed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub update_ratio: Vec<UpdateRatio>,
}

/// The update ratio of one weight matrix: ‖ΔW‖_F / ‖W‖_F, ΔW the optimizer's update with this gradient
/// (after clipping; momentum and Adam with their state) and W the weights it is applied to
/// (docs/DESIGN.md §Update ratio).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateRatio {
    /// The matrix, as named in the dump (`w_3`, `w_h`, `w_out`).
    pub tensor: String,
    /// log10 ‖ΔW‖_F; `None` for an exact zero update.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_update_norm: Option<f64>,
    /// log10 ‖W‖_F; `None` for all-zero weights.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_weight_norm: Option<f64>,
    /// log10 of the ratio (the rule of thumb: near −3); `None` where either norm is an exact zero.
    #[serde(serialize_with = "json_num::opt")]
    pub log10_ratio: Option<f64>,
}

impl StepStats {
    /// Builds the record from raw layers (ordered input to output).
    pub fn from_raw(
        step: u64,
        loss: f64,
        engine: &str,
        adapter: &str,
        raw: &[RawLayer],
        batch: usize,
        width: usize,
    ) -> StepStats {
        let layers: Vec<LayerStats> = raw
            .iter()
            .enumerate()
            .map(|(i, r)| LayerStats::from_raw(i + 1, r, batch, width))
            .collect();
        let nonfinite = !loss.is_finite() || layers.iter().any(LayerStats::is_nonfinite);
        StepStats {
            step,
            loss: Some(loss),
            engine: engine.to_string(),
            adapter: adapter.to_string(),
            nonfinite,
            grad_norm: None,
            clipped: false,
            layers,
            update_ratio: Vec::new(),
        }
    }

    /// The chain-rule ledger of layer (time step) `index` (1-based): δ there written as the product the
    /// backward pass computed, from the output down. `None` where the record has no ledger (gated cells)
    /// or `index` is out of range.
    pub fn ledger(&self, index: usize) -> Option<Ledger> {
        if index == 0 || index > self.layers.len() {
            return None;
        }
        let lg = |v: Option<f64>| v.unwrap_or(f64::NEG_INFINITY);
        let top = self.layers.last()?;
        let start = lg(top.ledger.as_ref()?.log10_grad_out_rms);
        let mut rows = Vec::new();
        let mut product = start;
        let mut above = start;
        for k in (index..=self.layers.len()).rev() {
            let layer = &self.layers[k - 1];
            let entry = layer.ledger.as_ref()?;
            let grad_out = lg(entry.log10_grad_out_rms);
            if k < self.layers.len() {
                let factor = grad_out - above;
                product += factor;
                rows.push(LedgerRow {
                    layer: k,
                    factor: LedgerFactor::Weights,
                    log10_factor: factor,
                    log10_product: product,
                    log10_measured: grad_out,
                    log10_mean_abs_slope: None,
                });
            }
            let delta = lg(layer.log10_delta_rms);
            let factor = delta - grad_out;
            product += factor;
            rows.push(LedgerRow {
                layer: k,
                factor: LedgerFactor::Slopes,
                log10_factor: factor,
                log10_product: product,
                log10_measured: delta,
                log10_mean_abs_slope: Some(lg(entry.log10_mean_abs_slope)),
            });
            above = delta;
        }
        Some(Ledger {
            index,
            log10_start: start,
            rows,
            log10_measured: lg(self.layers[index - 1].log10_delta_rms),
        })
    }

    /// Attaches per-layer histograms (one per layer, input to output).
    pub fn with_histograms(mut self, hist: Vec<LayerHistogram>) -> StepStats {
        for (l, h) in self.layers.iter_mut().zip(hist) {
            l.histogram = Some(h);
        }
        self
    }

    /// Records the update norms: per weight matrix (name, log2 ‖ΔW‖², log2 ‖W‖²), −∞ for an exact zero.
    pub fn with_update_norms(mut self, norms: Vec<(String, f64, f64)>) -> StepStats {
        self.update_ratio = norms
            .into_iter()
            .map(|(tensor, d2, w2)| {
                let (d, w) = (log10_from_log2(0.5 * d2), log10_from_log2(0.5 * w2));
                UpdateRatio {
                    tensor,
                    log10_update_norm: d,
                    log10_weight_norm: w,
                    log10_ratio: d.zip(w).map(|(d, w)| d - w),
                }
            })
            .collect();
        self
    }

    /// Records the global gradient norm (before clipping) and whether clipping at `clip` fired.
    pub fn with_grad_norm(mut self, norm: f64, clip: Option<f64>) -> StepStats {
        self.grad_norm = Some(norm);
        self.clipped = clip.is_some_and(|c| norm > c);
        self.nonfinite |= !norm.is_finite();
        self
    }

    /// The CSV header matching [`StepStats::csv_rows`].
    pub const CSV_HEADER: &'static str = "step,loss,layer,grad_w_norm,log10_grad_w_norm,delta_rms,log10_delta_rms,act_rms,saturated_fraction,dead_fraction";

    /// One CSV row per layer.
    pub fn csv_rows(&self) -> Vec<String> {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
        self.layers
            .iter()
            .map(|l| {
                format!(
                    "{},{},{},{:e},{},{:e},{},{:.6},{:.6},{:.6}",
                    self.step,
                    opt(self.loss),
                    l.index,
                    l.grad_w_norm,
                    opt(l.log10_grad_w_norm),
                    l.delta_rms,
                    opt(l.log10_delta_rms),
                    l.act_rms,
                    l.saturated_fraction,
                    l.dead_fraction
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_exponent_brackets_value() {
        for x in [1.0, 0.5, 0.75, 3.0, 1e-300, 5e-320, 1e300, 0.999_999] {
            let e = frexp_exponent(x);
            let f = x * 2f64.powi(-e / 2) * 2f64.powi(-e - (-e / 2));
            assert!((0.5..1.0).contains(&f), "{x}: e {e} f {f}");
        }
    }

    #[test]
    fn log_stats_survive_underflow() {
        let raw = RawLayer {
            log2_scale: -2000.0,
            grad_w_sumsq_scaled: 0.25,
            delta_sumsq_scaled: 4.0,
            log2_mean_abs_delta_scaled: vec![-1.0, f64::NEG_INFINITY, f64::NAN],
            ..Default::default()
        };
        let s = LayerStats::from_raw(1, &raw, 1, 4);
        assert_eq!(s.grad_w_norm, 0.0);
        let want = 0.5f64.log10() - 2000.0 * 2f64.log10();
        assert!((s.log10_grad_w_norm.unwrap() - want).abs() < 1e-9);
        assert!((s.log10_mean_abs_delta[0].unwrap() - want).abs() < 1e-9);
        assert_eq!(s.log10_mean_abs_delta[1], None);
        assert!(s.log10_mean_abs_delta[2].is_some_and(f64::is_nan));
    }

    #[test]
    fn nan_and_zero_have_different_json() {
        let raw = RawLayer {
            grad_w_sumsq_scaled: f64::NAN,
            delta_sumsq_scaled: 0.0,
            act_sumsq: f64::INFINITY,
            log2_mean_abs_delta_scaled: vec![f64::NAN, f64::NEG_INFINITY],
            ..Default::default()
        };
        let stats = StepStats::from_raw(3, f64::NAN, "cpu", "x", &[raw], 1, 2);
        let json = serde_json::to_value(&stats).expect("serializes");
        assert_eq!(json["loss"], "NaN");
        let layer = &json["layers"][0];
        assert_eq!(layer["grad_w_norm"], "NaN");
        assert_eq!(layer["log10_grad_w_norm"], "NaN");
        assert_eq!(layer["log10_delta_rms"], serde_json::Value::Null);
        assert_eq!(layer["act_rms"], "Infinity");
        assert_eq!(layer["log10_mean_abs_delta"][0], "NaN");
        assert_eq!(layer["log10_mean_abs_delta"][1], serde_json::Value::Null);
        assert!(stats.nonfinite);
    }
}
