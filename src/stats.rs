//! The statistics record both engines produce, per layer (per time step for the RNN), and its conversion
//! from the scaled domain the engines compute in (GUIDE §4).
//!
//! Both engines backpropagate a rescaled copy of the error: at each layer the running gradient ĝ is divided
//! by a power of two 2^e (e = the exponent of its largest magnitude), and the true values are
//! `δ_l = 2^{s_l} · ŝ_l` with the integer `s_l` carried alongside. Every magnitude below is therefore known
//! in the log domain even where the f32 (or f64) value itself would underflow to zero.

use serde::Serialize;

/// Raw per-layer quantities in the scaled domain, as both engines compute them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawLayer {
    /// `s_l`: true δ_l = 2^s_l · ŝ_l.
    pub log2_scale: f64,
    /// `Σ (ŝ_lᵀ a_{l-1})²`: the squared Frobenius norm of the scaled weight gradient.
    pub grad_w_sumsq_scaled: f64,
    /// `Σ ŝ_l²` over batch and units.
    pub delta_sumsq_scaled: f64,
    /// Per unit, `mean_b |ŝ_l[b, unit]|`.
    pub mean_abs_delta_scaled: Vec<f64>,
    /// `Σ a_l²` over batch and units (a_l: the layer's output, after the residual add).
    pub act_sumsq: f64,
    /// Number of (sample, unit) entries whose |f'(z)| is below the saturation threshold.
    pub saturated_count: f64,
    /// Number of units whose f'(z) is exactly zero for every sample of the batch.
    pub dead_units: f64,
}

/// Statistics of one layer (MLP) or one time step (RNN). Field names are the stats JSON's (GUIDE §3).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerStats {
    /// 1-based layer index (time step for the RNN), input to output.
    pub index: usize,
    /// ‖∂L/∂W_l‖_F (RNN: this step's contribution to ∂L/∂W_h). 0 where it underflows f64.
    pub grad_w_norm: f64,
    /// log10 of `grad_w_norm`, finite far below the float range; `None` (null) for an exact zero or NaN.
    pub log10_grad_w_norm: Option<f64>,
    /// sqrt(mean δ²) over batch and units.
    pub delta_rms: f64,
    /// log10 of `delta_rms`; `None` for an exact zero or NaN.
    pub log10_delta_rms: Option<f64>,
    /// Per unit, log10 of mean_b |δ[b, unit]|; `None` for an exact zero (a dead unit) or NaN.
    pub log10_mean_abs_delta: Vec<Option<f64>>,
    /// sqrt(mean a²) of the layer's output.
    pub act_rms: f64,
    /// Fraction of (sample, unit) entries in saturation (|f'(z)| < 5% of its peak).
    pub saturated_fraction: f64,
    /// Fraction of units with f'(z) = 0 on every sample (dead units).
    pub dead_fraction: f64,
}

fn log10_opt(v: f64) -> Option<f64> {
    (v.is_finite() && v > 0.0).then(|| v.log10())
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
                .mean_abs_delta_scaled
                .iter()
                .map(|&m| log10_opt(m).map(|v| v + s10))
                .collect(),
            act_rms: (raw.act_sumsq / entries).sqrt(),
            saturated_fraction: raw.saturated_count / entries,
            dead_fraction: raw.dead_units / width as f64,
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
    /// The loss at this step; `None` (null) if it is NaN or infinite.
    pub loss: Option<f64>,
    /// `"gpu"` or `"cpu"`.
    pub engine: String,
    /// The adapter that computed it (`"cpu reference (f64)"` for the reference).
    pub adapter: String,
    /// Whether the loss or any statistic is NaN or infinite (explosion).
    pub nonfinite: bool,
    /// Global L2 norm of all parameter gradients, before any clipping (`None` if NaN/Inf).
    pub grad_norm: Option<f64>,
    /// Whether global-norm clipping scaled this gradient down (the norm exceeded the threshold).
    pub clipped: bool,
    /// Per layer (per time step), input to output.
    pub layers: Vec<LayerStats>,
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
            loss: loss.is_finite().then_some(loss),
            engine: engine.to_string(),
            adapter: adapter.to_string(),
            nonfinite,
            grad_norm: None,
            clipped: false,
            layers,
        }
    }

    /// Records the global gradient norm (before clipping) and whether clipping at `clip` fired.
    pub fn with_grad_norm(mut self, norm: f64, clip: Option<f64>) -> StepStats {
        self.grad_norm = norm.is_finite().then_some(norm);
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

/// The exponent e of frexp: x = f · 2^e with f in [0.5, 1). For x = 0 (or not finite) returns 0.
pub fn frexp_exponent(x: f64) -> i32 {
    if x == 0.0 || !x.is_finite() {
        return 0;
    }
    let bits = x.abs().to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // subnormal: normalise first
        return frexp_exponent(x * 2f64.powi(64)) - 64;
    }
    biased - 1022
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
            mean_abs_delta_scaled: vec![0.5, 0.0],
            ..Default::default()
        };
        let s = LayerStats::from_raw(1, &raw, 1, 4);
        assert_eq!(s.grad_w_norm, 0.0);
        let want = 0.5f64.log10() - 2000.0 * 2f64.log10();
        assert!((s.log10_grad_w_norm.unwrap() - want).abs() < 1e-9);
        assert_eq!(s.log10_mean_abs_delta[1], None);
    }
}
