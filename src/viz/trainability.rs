//! The trainability map: a sweep's grid of nets as coloured cells over real-valued axes, the mean-field
//! lines over it, a marker at the current configuration, a colour bar and a legend. Hovering a cell names
//! its settings and measurements; clicking one is remembered for the app ([`take_clicked`]).

use egui::{Align2, Color32, FontId, Id, Pos2, Rect, Sense, Shape, Stroke, Ui, pos2, vec2};

use super::colormap::{NONFINITE_COLOR, ZERO_COLOR, format_pow10};
use crate::sweep::{Metric, SweepCell, SweepResult};

/// What the figure body holds: the sweep, the current configuration's position and the selected cell.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainabilityMap {
    /// The measurements.
    pub result: SweepResult,
    /// The current configuration in grid coordinates (x, y), where it lies on both axes' settings.
    pub marker: Option<[f64; 2]>,
    /// The cell opened in the other views.
    pub selected: Option<(usize, usize)>,
}

/// Colour of the χ₁ = 1 line.
pub const CRITICAL_COLOR: Color32 = Color32::from_rgb(20, 20, 20);
/// Colour of the depth-scale band edges.
pub const BAND_COLOR: Color32 = Color32::from_rgb(60, 60, 60);
/// Colour of the finite-depth mean-field edge.
pub const FINITE_DEPTH_COLOR: Color32 = Color32::from_rgb(120, 40, 160);
/// Colour of the current-configuration marker.
pub const MARKER_COLOR: Color32 = Color32::from_rgb(255, 200, 0);
/// Width of the colour bar and legend column.
const SIDE_WIDTH: f32 = 210.0;
const LEFT_MARGIN: f32 = 64.0;
const BOTTOM_MARGIN: f32 = 44.0;

/// The colour of a metric value: a diverging map centred at 0 for the log10 ratios (blue: vanishing or
/// learning, red: exploding or diverging), light to dark orange for fractions.
pub fn metric_color(metric: Metric, half_range: f64, v: Option<f64>) -> Color32 {
    let Some(v) = v else {
        return ZERO_COLOR;
    };
    if !v.is_finite() {
        return NONFINITE_COLOR;
    }
    let c = match metric {
        Metric::Nonfinite => colorous::ORANGES.eval_continuous(v.clamp(0.0, 1.0)),
        _ => {
            let t = 0.5 - 0.5 * (v / half_range).clamp(-1.0, 1.0);
            colorous::RED_BLUE.eval_continuous(t)
        }
    };
    Color32::from_rgb(c.r, c.g, c.b)
}

/// Half the colour range of a log10 metric: the largest |value|, up to a whole decade, at least 1.
pub fn half_range(result: &SweepResult) -> f64 {
    match result.value_range() {
        Some((lo, hi)) => lo.abs().max(hi.abs()).ceil().clamp(1.0, 60.0),
        None => 1.0,
    }
}

/// About `n` round tick values covering `lo..=hi`.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).abs();
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick label: no needless digits.
fn tick_label(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The id under which a click on a cell is remembered.
fn click_id() -> Id {
    Id::unique("gradscope trainability click")
}

/// The cell (ix, iy) the user clicked since the last call, if any.
pub fn take_clicked(ctx: &egui::Context) -> Option<(usize, usize)> {
    ctx.data_mut(|d| d.remove_temp::<(usize, usize)>(click_id()))
}

/// Hover text of one cell: its settings and every measurement.
pub fn describe_cell(result: &SweepResult, c: &SweepCell) -> String {
    let spec = &result.spec;
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| match v {
        Some(v) if v.is_finite() => f(v),
        Some(_) => "NaN/Inf".to_string(),
        None => "exact 0 at one end".to_string(),
    };
    let ratio = |v: f64| format!("{} (log10 {v:+.2})", format_pow10(v));
    let mut s = format!(
        "{} = {}, {} = {}\n||δ_1||/||δ_L|| at init: {}",
        spec.x.param.name(),
        tick_label(c.x),
        spec.y.param.name(),
        tick_label(c.y),
        opt(c.log10_grad_ratio_init, &ratio)
    );
    if spec.steps > 0 {
        s.push_str(&format!(
            "\n||δ_1||/||δ_L|| after {} steps: {}\nloss {} → {} (× {})\nnon-finite: {:.1}%",
            spec.steps,
            opt(c.log10_grad_ratio, &ratio),
            opt(c.loss_init, &|v| format!("{v:.4}")),
            opt(c.loss, &|v| format!("{v:.4}")),
            opt(c.loss_ratio, &|v| format!("{v:.3}")),
            100.0 * c.nonfinite_fraction
        ));
    }
    s.push_str("\nclick: open this net in the other views");
    s
}

/// Draws the map into `rect`.
pub fn trainability_ui(ui: &mut Ui, rect: Rect, map: &TrainabilityMap) {
    let result = &map.result;
    let spec = &result.spec;
    let side = SIDE_WIDTH.min(rect.width() * 0.35);
    let cells_rect = Rect::from_min_max(
        pos2(rect.left() + LEFT_MARGIN, rect.top() + 6.0),
        pos2(rect.right() - side - 12.0, rect.bottom() - BOTTOM_MARGIN),
    );
    if cells_rect.width() < 20.0 || cells_rect.height() < 20.0 {
        return;
    }
    let (cols, rows) = (spec.x.cells, spec.y.cells);
    // cell centres at the axis values: the axis runs half a cell beyond the first and last value
    let (dx, dy) = (spec.x.step(), spec.y.step());
    let (x0, x1) = (spec.x.from - dx / 2.0, spec.x.to + dx / 2.0);
    let (y0, y1) = (spec.y.from - dy / 2.0, spec.y.to + dy / 2.0);
    let to_screen = |x: f64, y: f64| -> Pos2 {
        pos2(
            cells_rect.left() + ((x - x0) / (x1 - x0)) as f32 * cells_rect.width(),
            cells_rect.bottom() - ((y - y0) / (y1 - y0)) as f32 * cells_rect.height(),
        )
    };
    let half = half_range(result);
    let visuals = ui.visuals().clone();
    let text = visuals.text_color();
    let painter = ui.painter_at(rect);
    let cw = cells_rect.width() / cols as f32;
    let ch = cells_rect.height() / rows as f32;
    let cell_rect = |ix: usize, iy: usize| {
        Rect::from_min_size(
            pos2(
                cells_rect.left() + ix as f32 * cw,
                cells_rect.bottom() - (iy + 1) as f32 * ch,
            ),
            vec2(cw + 0.5, ch + 0.5),
        )
    };
    for c in &result.cells {
        painter.rect_filled(
            cell_rect(c.ix, c.iy),
            0.0,
            metric_color(spec.metric, half, c.value),
        );
    }
    painter.rect_stroke(
        cells_rect,
        0.0,
        Stroke::new(1.0, visuals.weak_text_color()),
        egui::StrokeKind::Outside,
    );
    // theory, clipped to the cells
    let clip = ui.painter_at(cells_rect);
    let line = |points: &[[f64; 2]], dashed: bool, color: Color32| {
        let pts: Vec<Pos2> = points.iter().map(|p| to_screen(p[0], p[1])).collect();
        if pts.len() < 2 {
            return;
        }
        let thin = color == FINITE_DEPTH_COLOR;
        let halo = Stroke::new(if thin { 3.5 } else { 5.0 }, Color32::from_white_alpha(170));
        let stroke = Stroke::new(if thin { 1.5 } else { 2.5 }, color);
        if dashed {
            clip.extend(Shape::dashed_line(&pts, halo, 9.0, 6.0));
            clip.extend(Shape::dashed_line(&pts, stroke, 9.0, 6.0));
        } else {
            clip.add(Shape::line(pts.clone(), halo));
            clip.add(Shape::line(pts, stroke));
        }
    };
    line(&result.theory.finite_depth, false, FINITE_DEPTH_COLOR);
    line(&result.theory.critical, false, CRITICAL_COLOR);
    line(&result.theory.band_ordered, true, BAND_COLOR);
    line(&result.theory.band_chaotic, true, BAND_COLOR);
    if let Some((ix, iy)) = map.selected {
        clip.rect_stroke(
            cell_rect(ix, iy).shrink(1.0),
            0.0,
            Stroke::new(2.5, Color32::WHITE),
            egui::StrokeKind::Inside,
        );
    }
    if let Some([mx, my]) = map.marker {
        let p = to_screen(mx, my);
        if cells_rect.expand(1.0).contains(p) {
            clip.circle(p, 7.0, MARKER_COLOR, Stroke::new(2.0, Color32::BLACK));
        }
    }
    // axes
    let font = FontId::proportional(12.0);
    for v in nice_ticks(spec.x.from, spec.x.to, (cells_rect.width() / 70.0) as usize) {
        let p = to_screen(v, y0);
        painter.line_segment([p, p + vec2(0.0, 4.0)], Stroke::new(1.0, text));
        painter.text(
            p + vec2(0.0, 6.0),
            Align2::CENTER_TOP,
            tick_label(v),
            font.clone(),
            text,
        );
    }
    for v in nice_ticks(
        spec.y.from,
        spec.y.to,
        (cells_rect.height() / 40.0) as usize,
    ) {
        let p = to_screen(x0, v);
        painter.line_segment([p, p - vec2(4.0, 0.0)], Stroke::new(1.0, text));
        painter.text(
            p - vec2(6.0, 0.0),
            Align2::RIGHT_CENTER,
            tick_label(v),
            font.clone(),
            text,
        );
    }
    painter.text(
        pos2(cells_rect.center().x, rect.bottom() - 2.0),
        Align2::CENTER_BOTTOM,
        spec.x.param.label(),
        FontId::proportional(14.0),
        text,
    );
    let y_title = painter.layout_no_wrap(
        spec.y.param.label().into(),
        FontId::proportional(14.0),
        text,
    );
    let at = pos2(rect.left(), cells_rect.center().y + y_title.size().x / 2.0);
    painter.add(
        egui::epaint::TextShape::new(at, y_title, text).with_angle(-std::f32::consts::FRAC_PI_2),
    );
    side_ui(
        ui,
        Rect::from_min_max(pos2(rect.right() - side, rect.top()), rect.max),
        map,
        half,
    );
    // hover and click
    let response = ui.interact(
        cells_rect,
        ui.scope_id().with("trainability cells"),
        Sense::click(),
    );
    if let Some(pos) = response.hover_pos() {
        let ix = (((pos.x - cells_rect.left()) / cw) as usize).min(cols - 1);
        let iy = (((cells_rect.bottom() - pos.y) / ch) as usize).min(rows - 1);
        if let Some(c) = result.cell(ix, iy) {
            painter.rect_stroke(
                cell_rect(ix, iy),
                0.0,
                Stroke::new(1.5, text),
                egui::StrokeKind::Inside,
            );
            response
                .clone()
                .on_hover_text_at_pointer(describe_cell(result, c));
            if response.clicked() {
                ui.ctx().data_mut(|d| d.insert_temp(click_id(), (ix, iy)));
            }
        }
    }
}

/// The colour bar and the legend.
fn side_ui(ui: &Ui, rect: Rect, map: &TrainabilityMap, half: f64) {
    let metric = map.result.spec.metric;
    let painter = ui.painter_at(rect);
    let text = ui.visuals().text_color();
    let weak = ui.visuals().weak_text_color();
    let font = FontId::proportional(12.0);
    let title = painter.layout(
        metric.label().into(),
        FontId::proportional(13.0),
        text,
        rect.width() - 12.0,
    );
    let title_h = title.size().y;
    painter.galley(pos2(rect.left() + 8.0, rect.top()), title, text);
    // the legend's rows: 20 points apart where there is room, closer (to 15) on a small figure, whose bar
    // keeps at least half the column
    let theory = &map.result.theory;
    let rows = 2.0
        + f32::from(!theory.critical.is_empty())
        + f32::from(!(theory.band_ordered.is_empty() && theory.band_chaotic.is_empty()))
        + f32::from(!theory.finite_depth.is_empty())
        + f32::from(map.marker.is_some());
    let top = rect.top() + title_h + 10.0;
    let free = rect.bottom() - top - 14.0;
    let row_h = ((free - 0.5 * rect.height()) / rows).clamp(15.0, 20.0);
    let bar_bottom = (rect.bottom() - 14.0 - rows * row_h).max(top + 0.5 * rect.height().min(free));
    let bar = Rect::from_min_max(
        pos2(rect.left() + 10.0, top),
        pos2(rect.left() + 30.0, bar_bottom),
    );
    let segments = 96;
    let seg_h = bar.height() / segments as f32;
    // bar value at fraction t from the bottom
    let value_at = |t: f64| match metric {
        Metric::Nonfinite => t,
        _ => (2.0 * t - 1.0) * half,
    };
    for i in 0..segments {
        let t = (f64::from(i) + 0.5) / f64::from(segments);
        let y = bar.bottom() - i as f32 * seg_h;
        painter.rect_filled(
            Rect::from_min_max(pos2(bar.left(), y - seg_h - 0.5), pos2(bar.right(), y)),
            0.0,
            metric_color(metric, half, Some(value_at(t))),
        );
    }
    painter.rect_stroke(bar, 0.0, Stroke::new(1.0, weak), egui::StrokeKind::Outside);
    let tick =
        |t: f64, label: String| super::colorbar::bar_tick(&painter, bar, t, label, &font, text);
    match metric {
        Metric::Nonfinite => {
            for p in [0, 25, 50, 75, 100] {
                tick(f64::from(p) / 100.0, format!("{p}%"));
            }
        }
        _ => {
            let (word_lo, word_hi) = if metric == Metric::GradRatio {
                ("vanishing", "exploding")
            } else {
                ("learned", "diverged")
            };
            // whole decades, at least 18 points apart, 0 always among them
            let room = (bar.height() / 18.0).floor().max(2.0) as f64;
            let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
                .into_iter()
                .find(|s| 2.0 * half / s <= room)
                .unwrap_or(100.0);
            let first = (-half / step).ceil() as i64;
            let last = (half / step).floor() as i64;
            for k in first..=last {
                let d = k as f64 * step;
                let label = if k == 0 {
                    "1".to_string()
                } else {
                    format!("1e{d:+}")
                };
                tick((d + half) / (2.0 * half), label);
            }
            painter.text(
                pos2(bar.right() + 60.0, bar.top()),
                Align2::LEFT_TOP,
                word_hi,
                font.clone(),
                weak,
            );
            painter.text(
                pos2(bar.right() + 60.0, bar.bottom()),
                Align2::LEFT_BOTTOM,
                word_lo,
                font.clone(),
                weak,
            );
        }
    }
    let mut y = bar.bottom() + 10.0;
    let row = |y: f32, draw: &dyn Fn(Pos2), label: &str| {
        draw(pos2(rect.left() + 20.0, y + 7.0));
        painter.text(
            pos2(rect.left() + 40.0, y + 7.0),
            Align2::LEFT_CENTER,
            label,
            font.clone(),
            text,
        );
    };
    if !theory.critical.is_empty() {
        row(
            y,
            &|c| {
                painter.line_segment(
                    [c - vec2(12.0, 0.0), c + vec2(12.0, 0.0)],
                    Stroke::new(2.5, CRITICAL_COLOR),
                );
            },
            "χ₁ = 1 (order | chaos)",
        );
        y += row_h;
    }
    if !(theory.band_ordered.is_empty() && theory.band_chaotic.is_empty()) {
        row(
            y,
            &|c| {
                painter.extend(Shape::dashed_line(
                    &[c - vec2(12.0, 0.0), c + vec2(12.0, 0.0)],
                    Stroke::new(2.5, BAND_COLOR),
                    6.0,
                    4.0,
                ));
            },
            "depth = 6·ξ_c (trainable band)",
        );
        y += row_h;
    }
    if !theory.finite_depth.is_empty() {
        let label = format!("ratio 1 at depth {} (mean field)", map.result.base.depth);
        row(
            y,
            &|c| {
                painter.line_segment(
                    [c - vec2(12.0, 0.0), c + vec2(12.0, 0.0)],
                    Stroke::new(1.5, FINITE_DEPTH_COLOR),
                );
            },
            &label,
        );
        y += row_h;
    }
    if map.marker.is_some() {
        row(
            y,
            &|c| {
                painter.circle(c, 6.0, MARKER_COLOR, Stroke::new(2.0, Color32::BLACK));
            },
            "current config",
        );
        y += row_h;
    }
    row(
        y,
        &|c| {
            painter.rect_filled(
                Rect::from_center_size(c, vec2(14.0, 14.0)),
                2.0,
                NONFINITE_COLOR,
            );
        },
        "NaN / Inf",
    );
    y += row_h;
    row(
        y,
        &|c| {
            painter.rect_filled(Rect::from_center_size(c, vec2(14.0, 14.0)), 2.0, ZERO_COLOR);
        },
        "undefined (exact 0)",
    );
}
