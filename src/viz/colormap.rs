//! Colours of the heatmaps: a perceptually uniform sequential map (viridis) over log10 magnitudes, and
//! distinct colours for what the map must not hide: exact zeros (dead units), values below the colour range
//! (underflow), values above it, and NaN/Inf (explosion).

use egui::Color32;
use serde::{Deserialize, Serialize};

/// Colour of an exact zero: a dead unit (ReLU with f'(z) = 0 on every sample).
pub const ZERO_COLOR: Color32 = Color32::from_rgb(150, 150, 150);
/// Colour of a finite value below the colour range (vanished, possibly below f32's range).
pub const UNDERFLOW_COLOR: Color32 = Color32::from_rgb(0, 0, 0);
/// Colour of a finite value above the colour range (exploding).
pub const OVERFLOW_COLOR: Color32 = Color32::from_rgb(255, 0, 200);
/// Colour of NaN or infinity (the gradients exploded).
pub const NONFINITE_COLOR: Color32 = Color32::from_rgb(230, 20, 20);

/// Default lower end of the fixed colour range, in decades (1e-18).
pub const DEFAULT_LO: i32 = -18;
/// Default upper end of the fixed colour range, in decades (1e2).
pub const DEFAULT_HI: i32 = 2;

/// One cell of a heatmap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    /// log10 of a positive finite magnitude.
    Log10(f64),
    /// Exactly zero (a dead unit).
    Zero,
    /// NaN or infinite.
    NonFinite,
    /// No data (e.g. a step not yet recorded).
    Empty,
}

impl Cell {
    /// From a statistic's `Option<f64>` log10 value: `None` is an exact zero, or NaN/Inf when `nonfinite`.
    pub fn from_log10(v: Option<f64>, nonfinite: bool) -> Cell {
        match v {
            Some(x) if x.is_finite() => Cell::Log10(x),
            Some(_) => Cell::NonFinite,
            None if nonfinite => Cell::NonFinite,
            None => Cell::Zero,
        }
    }

    /// The value in words, for hover text: `3.16e-9`, `exactly 0 (dead unit)`, ...
    pub fn describe(self) -> String {
        match self {
            Cell::Log10(v) => format!("{} (log10 {v:.2})", format_pow10(v)),
            Cell::Zero => "exactly 0 (dead unit)".to_string(),
            Cell::NonFinite => "NaN or Inf (exploded)".to_string(),
            Cell::Empty => "no data".to_string(),
        }
    }
}

/// `10^v` in scientific notation, correct far outside the f64 range (e.g. `3.2e-450`).
pub fn format_pow10(v: f64) -> String {
    let exp = v.floor();
    let mantissa = 10f64.powf(v - exp);
    // 9.999.. rounds to 10.0 in the printed mantissa
    let (mantissa, exp) = if mantissa >= 9.995 {
        (1.0, exp + 1.0)
    } else {
        (mantissa, exp)
    };
    format!("{mantissa:.2}e{exp}")
}

/// Whether the colour range is fixed or follows the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RangeMode {
    /// A fixed range in decades, the same for every setting (comparisons stay honest).
    Fixed {
        /// Lower end, log10.
        lo: i32,
        /// Upper end, log10.
        hi: i32,
    },
    /// From the smallest to the largest finite value shown, rounded out to whole decades.
    Auto,
}

impl Default for RangeMode {
    fn default() -> Self {
        RangeMode::Fixed {
            lo: DEFAULT_LO,
            hi: DEFAULT_HI,
        }
    }
}

/// A resolved colour range in log10 units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColorRange {
    /// log10 of the value at the bottom of the colour map.
    pub lo: f64,
    /// log10 of the value at the top.
    pub hi: f64,
}

impl ColorRange {
    /// Resolves `mode` against the cells that will be shown.
    pub fn resolve(mode: RangeMode, cells: &[Cell]) -> ColorRange {
        match mode {
            RangeMode::Fixed { lo, hi } => {
                let (lo, hi) = (lo.min(hi - 1), hi.max(lo + 1));
                ColorRange {
                    lo: f64::from(lo),
                    hi: f64::from(hi),
                }
            }
            RangeMode::Auto => {
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for c in cells {
                    if let Cell::Log10(v) = c {
                        lo = lo.min(*v);
                        hi = hi.max(*v);
                    }
                }
                if !lo.is_finite() {
                    return ColorRange::resolve(RangeMode::default(), cells);
                }
                let (lo, mut hi) = (lo.floor(), hi.ceil());
                if hi <= lo {
                    hi = lo + 1.0;
                }
                ColorRange { lo, hi }
            }
        }
    }

    /// Position of `v` (log10) in the range: 0 at `lo`, 1 at `hi` (not clamped).
    pub fn normalize(&self, v: f64) -> f64 {
        (v - self.lo) / (self.hi - self.lo)
    }

    /// The colour of a cell.
    pub fn color(&self, cell: Cell) -> Color32 {
        match cell {
            Cell::Log10(v) => {
                let t = self.normalize(v);
                if t < 0.0 {
                    UNDERFLOW_COLOR
                } else if t > 1.0 {
                    OVERFLOW_COLOR
                } else {
                    sequential(t)
                }
            }
            Cell::Zero => ZERO_COLOR,
            Cell::NonFinite => NONFINITE_COLOR,
            Cell::Empty => Color32::TRANSPARENT,
        }
    }

    /// Decades to label on a colour bar of `height_px` points: every k-th integer so labels do not overlap.
    pub fn decade_ticks(&self, height_px: f32, min_spacing_px: f32) -> Vec<i32> {
        let (lo, hi) = (self.lo.ceil() as i32, self.hi.floor() as i32);
        let span = (self.hi - self.lo).max(1e-9);
        let per_decade = f64::from(height_px) / span;
        let mut step = 1;
        while per_decade * f64::from(step) < f64::from(min_spacing_px) && step < 1000 {
            step += 1;
        }
        (lo..=hi).filter(|d| (d - lo) % step == 0).collect()
    }
}

/// The sequential map (viridis) at `t` in [0, 1].
pub fn sequential(t: f64) -> Color32 {
    let c = colorous::VIRIDIS.eval_continuous(t.clamp(0.0, 1.0));
    Color32::from_rgb(c.r, c.g, c.b)
}

/// A second sequential map (oranges) for fractions 0..1 (saturation), kept apart from gradient colours.
pub fn fraction_color(t: f64) -> Color32 {
    if !t.is_finite() {
        return NONFINITE_COLOR;
    }
    let c = colorous::ORANGES.eval_continuous(t.clamp(0.0, 1.0));
    Color32::from_rgb(c.r, c.g, c.b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values_get_distinct_colours() {
        let r = ColorRange::resolve(RangeMode::default(), &[]);
        let colors = [
            r.color(Cell::Zero),
            r.color(Cell::NonFinite),
            r.color(Cell::Log10(-40.0)),
            r.color(Cell::Log10(10.0)),
            r.color(Cell::Log10(f64::from(DEFAULT_LO))),
            r.color(Cell::Log10(2.0)),
        ];
        for (i, a) in colors.iter().enumerate() {
            for b in &colors[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn auto_range_rounds_to_decades() {
        let r = ColorRange::resolve(
            RangeMode::Auto,
            &[Cell::Log10(-8.3), Cell::Zero, Cell::Log10(-1.2)],
        );
        assert_eq!((r.lo, r.hi), (-9.0, -1.0));
        let r = ColorRange::resolve(RangeMode::Auto, &[Cell::Zero]);
        assert_eq!((r.lo, r.hi), (f64::from(DEFAULT_LO), f64::from(DEFAULT_HI)));
    }

    #[test]
    fn pow10_formats_far_below_f64() {
        assert_eq!(format_pow10(-450.5), "3.16e-451");
        assert_eq!(format_pow10(0.0), "1.00e0");
        assert_eq!(Cell::from_log10(None, true), Cell::NonFinite);
        assert_eq!(Cell::from_log10(None, false), Cell::Zero);
    }

    #[test]
    fn ticks_thin_out_when_crowded() {
        let r = ColorRange { lo: -12.0, hi: 2.0 };
        assert_eq!(r.decade_ticks(1000.0, 14.0).len(), 15);
        let t = r.decade_ticks(100.0, 14.0);
        assert!(t.len() < 15 && t.len() >= 3, "{t:?}");
    }
}
