//! The compare figure: network A and network B side by side, with one shared colour scale (heatmaps) and
//! shared y ranges (line plots), and both configurations in the caption; one export holds both.

use super::common::{FigureData, config_json};
use super::figure;
use crate::model::NetConfig;
use crate::viz::colorbar::log_legend;
use crate::viz::{Body, Cell, ColorRange, Coloring, Figure, RangeMode, View};

fn log_cells(body: &Body) -> Vec<Cell> {
    match body {
        Body::Heatmap {
            map,
            coloring: Coloring::Log(_),
            ..
        } => map.cells.clone(),
        Body::Split(a, b, _) => {
            let mut v = log_cells(a);
            v.extend(log_cells(b));
            v
        }
        _ => Vec::new(),
    }
}

fn set_range(body: &mut Body, range: ColorRange) {
    match body {
        Body::Heatmap {
            coloring: coloring @ Coloring::Log(_),
            bar,
            legend,
            ..
        } => {
            *coloring = Coloring::Log(range);
            *bar = crate::viz::colorbar::BarScale::Log(range);
            *legend = log_legend(&range);
        }
        Body::Split(a, b, _) => {
            set_range(a, range);
            set_range(b, range);
        }
        _ => {}
    }
}

/// The y extent of every line plot in `body`, by plot id.
fn y_extents(body: &Body, out: &mut Vec<(String, f64, f64)>) {
    match body {
        Body::Lines(p) => {
            let ys = p.series.iter().flat_map(|s| s.points.iter().map(|q| q[1]));
            let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(y), hi.max(y))
            });
            if lo.is_finite() && hi.is_finite() {
                out.push((p.id.clone(), lo, hi));
            }
        }
        Body::Split(a, b, _) => {
            y_extents(a, out);
            y_extents(b, out);
        }
        _ => {}
    }
}

fn include_y(body: &mut Body, extents: &[(String, f64, f64)]) {
    match body {
        Body::Lines(p) => {
            for (id, lo, hi) in extents {
                if *id == p.id {
                    p.include_y.extend([*lo, *hi]);
                }
            }
        }
        Body::Split(a, b, _) => {
            include_y(a, extents);
            include_y(b, extents);
        }
        _ => {}
    }
}

/// The compare figure of `view`: A and B side by side with a shared colour scale (heatmaps) and shared
/// y ranges (line plots); the caption holds both configurations.
pub fn figure_ab(view: View, a: &FigureData<'_>, b: &FigureData<'_>) -> Figure {
    let fa = figure(view, a);
    let fb = figure(view, b);
    let (mut body_a, mut body_b) = (fa.body, fb.body);
    let mut cells = log_cells(&body_a);
    cells.extend(log_cells(&body_b));
    if !cells.is_empty() {
        let range = match a.range {
            RangeMode::Auto => ColorRange::resolve(RangeMode::Auto, &cells),
            fixed => ColorRange::resolve(fixed, &cells),
        };
        set_range(&mut body_a, range);
        set_range(&mut body_b, range);
    }
    let mut extents = Vec::new();
    y_extents(&body_a, &mut extents);
    y_extents(&body_b, &mut extents);
    include_y(&mut body_a, &extents);
    include_y(&mut body_b, &extents);
    let short = |cfg: &NetConfig| {
        let mut s = format!("{} + {}", cfg.activation, cfg.init);
        if (cfg.gain - 1.0).abs() > f64::EPSILON {
            s.push_str(&format!(" (gain {})", cfg.gain));
        }
        if cfg.residual {
            s.push_str(", residual");
        }
        if cfg.arch == crate::model::Arch::Rnn {
            s.push_str(&format!(", {}", cfg.cell.name().to_uppercase()));
        }
        if cfg.norm != crate::model::Norm::None {
            s.push_str(&format!(", {}", cfg.norm.label()));
        }
        s
    };
    let mut notes = fa.notes;
    notes.extend(fb.notes.into_iter().map(|n| format!("B: {n}")));
    Figure {
        title: format!("{}: A {} vs B {}", view.label(), short(a.cfg), short(b.cfg)),
        subtitle: format!(
            "same data, seed, depth {} and width {}, trained in lockstep from the same step 0; one shared scale",
            a.cfg.depth, a.cfg.width,
        ),
        notes,
        body: Body::Panels(vec![
            (format!("A: {}\n{}", fa.title, fa.subtitle), body_a),
            (format!("B: {}\n{}", fb.title, fb.subtitle), body_b),
        ]),
        caption: format!(
            "{}\nB config: {}",
            fa.caption,
            config_json(b.cfg)
                .replace(",\"", ", \"")
                .replace("\":", "\": ")
        ),
    }
}
