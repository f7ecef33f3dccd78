//! The colour bar: the sequential map with decade labels (1e-12 ... 1e2), and a legend of the special
//! colours (exact zero, underflow, overflow, NaN/Inf).

use egui::{Align2, Color32, FontId, Rect, Stroke, Ui, pos2, vec2};

use super::colormap::{
    ColorRange, NONFINITE_COLOR, OVERFLOW_COLOR, UNDERFLOW_COLOR, ZERO_COLOR, fraction_color,
    sequential,
};
use super::heatmap::ALIVE_COLOR;

/// Width the colour bar and its legend need.
pub const COLORBAR_WIDTH: f32 = 170.0;

/// One legend entry: a swatch and its meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct LegendItem {
    /// Swatch colour.
    pub color: Color32,
    /// What it means.
    pub text: String,
}

/// The legend entries of a log-magnitude map with range `range`.
pub fn log_legend(range: &ColorRange) -> Vec<LegendItem> {
    let lo = range.lo as i64;
    let hi = range.hi as i64;
    vec![
        LegendItem {
            color: ZERO_COLOR,
            text: "exactly 0 (dead unit)".into(),
        },
        LegendItem {
            color: UNDERFLOW_COLOR,
            text: format!("< 1e{lo} (vanished)"),
        },
        LegendItem {
            color: OVERFLOW_COLOR,
            text: format!("> 1e{hi} (exploding)"),
        },
        LegendItem {
            color: NONFINITE_COLOR,
            text: "NaN / Inf (exploded)".into(),
        },
    ]
}

/// The legend of the dead-unit map.
pub fn dead_alive_legend() -> Vec<LegendItem> {
    vec![
        LegendItem {
            color: ALIVE_COLOR,
            text: "alive (gradient flows)".into(),
        },
        LegendItem {
            color: ZERO_COLOR,
            text: "dead (f' = 0 always)".into(),
        },
        LegendItem {
            color: NONFINITE_COLOR,
            text: "NaN / Inf (exploded)".into(),
        },
    ]
}

/// What the bar shows.
#[derive(Clone, Debug, PartialEq)]
pub enum BarScale {
    /// log10 magnitudes, labelled by decade.
    Log(ColorRange),
    /// Fractions 0..1, labelled in percent.
    Fraction,
    /// No continuous bar, legend only.
    None,
}

/// A tick at fraction `t` from the bottom of a vertical colour `bar`, its label to the right.
pub fn bar_tick(
    painter: &egui::Painter,
    bar: Rect,
    t: f64,
    label: String,
    font: &FontId,
    color: egui::Color32,
) {
    let y = bar.bottom() - (t as f32) * bar.height();
    painter.line_segment(
        [pos2(bar.right(), y), pos2(bar.right() + 4.0, y)],
        Stroke::new(1.0, color),
    );
    painter.text(
        pos2(bar.right() + 6.0, y),
        Align2::LEFT_CENTER,
        label,
        font.clone(),
        color,
    );
}

/// Draws the bar (title on top, decades beside it) and the legend below it into `rect`.
pub fn colorbar_ui(ui: &Ui, rect: Rect, title: &str, scale: &BarScale, legend: &[LegendItem]) {
    let painter = ui.painter_at(rect);
    let text = ui.visuals().text_color();
    let font = FontId::proportional(12.0);
    painter.text(
        pos2(rect.left() + 8.0, rect.top()),
        Align2::LEFT_TOP,
        title,
        FontId::proportional(13.0),
        text,
    );
    let legend_h = legend.len() as f32 * 18.0 + 8.0;
    let bar = Rect::from_min_max(
        pos2(rect.left() + 10.0, rect.top() + 24.0),
        pos2(
            rect.left() + 30.0,
            (rect.bottom() - legend_h - 12.0).max(rect.top() + 60.0),
        ),
    );
    let has_bar = !matches!(scale, BarScale::None);
    if has_bar && bar.height() > 20.0 {
        let segments = 96;
        let seg_h = bar.height() / segments as f32;
        for i in 0..segments {
            let t = (i as f64 + 0.5) / f64::from(segments);
            let color = match scale {
                BarScale::Log(_) => sequential(t),
                _ => fraction_color(t),
            };
            let y1 = bar.bottom() - i as f32 * seg_h;
            painter.rect_filled(
                Rect::from_min_max(pos2(bar.left(), y1 - seg_h - 0.5), pos2(bar.right(), y1)),
                0.0,
                color,
            );
        }
        painter.rect_stroke(
            bar,
            0.0,
            Stroke::new(1.0, ui.visuals().weak_text_color()),
            egui::StrokeKind::Outside,
        );
        let tick = |t: f64, label: String| bar_tick(&painter, bar, t, label, &font, text);
        match scale {
            BarScale::Log(range) => {
                for d in range.decade_ticks(bar.height(), 15.0) {
                    tick(range.normalize(f64::from(d)), format!("1e{d}"));
                }
            }
            BarScale::Fraction => {
                for p in [0, 25, 50, 75, 100] {
                    tick(f64::from(p) / 100.0, format!("{p}%"));
                }
            }
            BarScale::None => {}
        }
    }
    let mut y = if has_bar {
        bar.bottom() + 14.0
    } else {
        rect.top() + 24.0
    };
    for item in legend {
        let swatch = Rect::from_min_size(pos2(rect.left() + 10.0, y), vec2(14.0, 14.0));
        painter.rect_filled(swatch, 2.0, item.color);
        painter.rect_stroke(
            swatch,
            2.0,
            Stroke::new(1.0, ui.visuals().weak_text_color()),
            egui::StrokeKind::Outside,
        );
        painter.text(
            pos2(swatch.right() + 6.0, swatch.center().y),
            Align2::LEFT_CENTER,
            &item.text,
            font.clone(),
            text,
        );
        y += 18.0;
    }
}
