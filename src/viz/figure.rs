//! A complete figure: title, subtitle, notes, body (heatmap with colour bar, line plot, or both) and a
//! caption with the configuration. The window and the PNG export draw figures with this one function.

use egui::{Color32, FontId, Rect, RichText, Ui, UiBuilder, pos2, vec2};
use egui_plot::{Corner, GridInput, GridMark, Legend, Line, Plot, PlotPoints};

use super::colorbar::{BarScale, COLORBAR_WIDTH, LegendItem, colorbar_ui};
use super::colormap::format_pow10;
use super::heatmap::{Coloring, Heatmap, heatmap_ui};

/// One line of a line plot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// `[x, y]` points; y is log10 when the plot is logarithmic.
    pub points: Vec<[f64; 2]>,
    /// Line colour.
    pub color: Color32,
}

/// A line plot (egui_plot); logarithmic axes plot log10 values with ticks written `1e{n}`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePlot {
    /// Plot id (stable across frames).
    pub id: String,
    /// x axis title.
    pub x_label: String,
    /// y axis title.
    pub y_label: String,
    /// Whether y values are log10 (ticks `1e{n}`).
    pub y_log10: bool,
    /// y values always inside the view (e.g. 0 and 1 for fractions).
    pub include_y: Vec<f64>,
    /// Legend in the top left corner (else top right): the corner the lines leave free.
    pub legend_left: bool,
    /// Lines.
    pub series: Vec<Series>,
    /// x positions marked with thin red vertical lines (e.g. steps where gradient clipping fired).
    pub x_marks: Vec<f64>,
}

/// What a figure shows below its title.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// A heatmap with its colour bar and legend.
    Heatmap {
        /// The cells.
        map: Heatmap,
        /// How cells become colours.
        coloring: Coloring,
        /// Colour bar title.
        bar_title: String,
        /// Colour bar scale.
        bar: BarScale,
        /// Legend under the bar.
        legend: Vec<LegendItem>,
    },
    /// A line plot.
    Lines(LinePlot),
    /// Panels side by side, each under its heading (compare mode).
    Panels(Vec<(String, Body)>),
    /// Two bodies stacked; `top_fraction` of the height goes to the first.
    Split(Box<Body>, Box<Body>, f32),
    /// A sweep's trainability map with its theory lines.
    Trainability(Box<super::trainability::TrainabilityMap>),
    /// Nothing to show yet; the text says why.
    Empty(String),
}

/// A figure ready to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Title naming the network (activation, depth, init).
    pub title: String,
    /// What is plotted.
    pub subtitle: String,
    /// Warnings shown in red under the subtitle (e.g. NaN/Inf appeared).
    pub notes: Vec<String>,
    /// The plot.
    pub body: Body,
    /// The reproducible configuration, drawn small at the bottom.
    pub caption: String,
}

/// Legend name of [`LinePlot::x_marks`].
pub const MARKS_NAME: &str = "clipping fired";

/// Draws `figure` into the whole available rect of `ui`.
pub fn figure_ui(ui: &mut Ui, figure: &Figure) {
    let rect = ui.available_rect_before_wrap();
    let text = ui.visuals().text_color();
    let weak = ui.visuals().weak_text_color();
    let painter = ui.painter_at(rect);
    let mut y = rect.top();
    let title = painter.layout(
        figure.title.clone(),
        FontId::proportional(20.0),
        text,
        rect.width(),
    );
    painter.galley(pos2(rect.left(), y), title.clone(), text);
    y += title.size().y + 2.0;
    let subtitle = painter.layout(
        figure.subtitle.clone(),
        FontId::proportional(14.0),
        weak,
        rect.width(),
    );
    painter.galley(pos2(rect.left(), y), subtitle.clone(), weak);
    y += subtitle.size().y + 4.0;
    for note in &figure.notes {
        let g = painter.layout(
            note.clone(),
            FontId::proportional(14.0),
            ui.visuals().error_fg_color,
            rect.width(),
        );
        painter.galley(pos2(rect.left(), y), g.clone(), ui.visuals().error_fg_color);
        y += g.size().y + 2.0;
    }
    let caption = painter.layout(
        figure.caption.clone(),
        FontId::monospace(10.0),
        weak,
        rect.width(),
    );
    let caption_top = rect.bottom() - caption.size().y;
    painter.galley(pos2(rect.left(), caption_top), caption, weak);
    let body = Rect::from_min_max(
        pos2(rect.left(), y + 6.0),
        pos2(rect.right(), caption_top - 6.0),
    );
    body_ui(ui, body, &figure.body);
    ui.allocate_rect(rect, egui::Sense::hover());
}

fn body_ui(ui: &mut Ui, rect: Rect, body: &Body) {
    if rect.height() < 20.0 || rect.width() < 40.0 {
        return;
    }
    match body {
        Body::Heatmap {
            map,
            coloring,
            bar_title,
            bar,
            legend,
        } => {
            let bar_w = COLORBAR_WIDTH.min(rect.width() * 0.4);
            let map_rect = Rect::from_min_max(rect.min, pos2(rect.right() - bar_w, rect.bottom()));
            let bar_rect = Rect::from_min_max(pos2(rect.right() - bar_w, rect.top()), rect.max);
            heatmap_ui(ui, map_rect, map, coloring);
            colorbar_ui(ui, bar_rect, bar_title, bar, legend);
        }
        Body::Lines(plot) => lines_ui(ui, rect, plot),
        Body::Panels(panels) => {
            let n = panels.len().max(1) as f32;
            let w = rect.width() / n;
            for (i, (heading, panel)) in panels.iter().enumerate() {
                let left = rect.left() + w * i as f32;
                let r =
                    Rect::from_min_max(pos2(left, rect.top()), pos2(left + w - 8.0, rect.bottom()));
                let text = ui.visuals().text_color();
                let g = ui.painter().layout(
                    heading.clone(),
                    FontId::proportional(13.0),
                    text,
                    r.width(),
                );
                let h = g.size().y;
                ui.painter_at(r).galley(r.min, g, text);
                // each panel in its own child: distinct ids for its plot and heatmap texture
                let mut child = ui.new_child(UiBuilder::new().id_salt(("panel", i)).max_rect(r));
                body_ui(
                    &mut child,
                    Rect::from_min_max(pos2(r.left(), r.top() + h + 4.0), r.max),
                    panel,
                );
            }
        }
        Body::Split(top, bottom, fraction) => {
            let mid = rect.top() + rect.height() * fraction.clamp(0.1, 0.9);
            body_ui(
                ui,
                Rect::from_min_max(rect.min, pos2(rect.right(), mid - 4.0)),
                top,
            );
            body_ui(
                ui,
                Rect::from_min_max(pos2(rect.left(), mid + 4.0), rect.max),
                bottom,
            );
        }
        Body::Trainability(map) => super::trainability::trainability_ui(ui, rect, map),
        Body::Empty(why) => {
            // wrapped to the body's width, centred
            let painter = ui.painter_at(rect);
            let galley = painter.layout(
                why.clone(),
                FontId::proportional(16.0),
                ui.visuals().weak_text_color(),
                (rect.width() - 24.0).max(40.0),
            );
            let at = rect.center() - galley.size() / 2.0;
            painter.galley(at, galley, ui.visuals().weak_text_color());
        }
    }
}

/// Tick label for a log10 axis: `1e{n}` on whole decades, `2e{n}`-style in between.
pub fn log_tick_label(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        return format!("1e{}", v.round() as i64);
    }
    let k = v.floor();
    let m = 10f64.powf(v - k);
    if (m - m.round()).abs() < 1e-3 {
        format!("{}e{}", m.round() as i64, k as i64)
    } else {
        format_pow10(v)
    }
}

/// Grid marks of a log10 axis: whole decades (every k-th when many), plus 2x and 5x (or every 1..9x) inside
/// a narrow range, so every label is a round number.
pub fn log_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let span = hi - lo;
    // at most 12 labelled decades, and never closer than 30 points (egui_plot hides y labels closer than
    // 20): base_step_size is the span of grid_spacing.min (8 points by default)
    let per_point = input.base_step_size / 8.0;
    let step = (span / 12.0).max(30.0 * per_point).ceil().max(1.0) as i64;
    let mut marks = Vec::new();
    for k in (lo.floor() as i64)..=(hi.ceil() as i64) {
        if k % step == 0 {
            marks.push(GridMark {
                value: k as f64,
                step_size: step as f64,
            });
        }
        let minor: &[f64] = if span < 1.5 {
            &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
        } else if span < 5.0 {
            &[2.0, 5.0]
        } else {
            &[]
        };
        for m in minor {
            marks.push(GridMark {
                value: k as f64 + m.log10(),
                step_size: if span < 1.5 { 0.1 } else { 0.3 },
            });
        }
    }
    marks.retain(|m| m.value >= lo && m.value <= hi);
    marks
}

fn lines_ui(ui: &mut Ui, rect: Rect, plot: &LinePlot) {
    let LinePlot {
        id,
        x_label,
        y_label,
        y_log10,
        include_y,
        legend_left,
        series,
        x_marks,
    } = plot;
    let y_log10 = *y_log10;
    let mut child = ui.new_child(
        UiBuilder::new()
            .max_rect(rect)
            .layout(egui::Layout::top_down(egui::Align::Min)),
    );
    // x tick labels at full strength from 40 points apart (egui_plot fades them below 80: a plot
    // spanning ten units on 750 points would show its unit ticks nearly blank)
    let mut p = Plot::new(id.as_str())
        .width(rect.width())
        .height(rect.height())
        .custom_x_axes(vec![
            egui_plot::AxisHints::new_x()
                .label(RichText::new(x_label.as_str()).size(14.0))
                .label_spacing(28.0..=40.0),
        ])
        .y_axis_label(RichText::new(y_label.as_str()).size(14.0))
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .legend(
            Legend::default()
                .follow_insertion_order(true)
                .position(if *legend_left {
                    Corner::LeftTop
                } else {
                    Corner::RightTop
                }),
        );
    for &v in include_y {
        p = p.include_y(v);
    }
    if y_log10 {
        p = p
            .y_grid_spacer(log_marks)
            .y_axis_formatter(|mark: GridMark, _range: &std::ops::RangeInclusive<f64>| {
                log_tick_label(mark.value)
            })
            .label_formatter(|hover| {
                Some(match hover {
                    egui_plot::HoverPosition::NearDataPoint {
                        plot_name,
                        position,
                        ..
                    } => {
                        format!(
                            "{plot_name}\nx {:.0}: {}",
                            position.x,
                            log_tick_label(position.y)
                        )
                    }
                    egui_plot::HoverPosition::Elsewhere { position } => {
                        format!("x {:.0}: {}", position.x, log_tick_label(position.y))
                    }
                })
            });
    }
    p.show(&mut child, |plot_ui| {
        for &x in x_marks {
            plot_ui.vline(
                egui_plot::VLine::new(MARKS_NAME, x)
                    .color(super::heatmap::MARK_COLOR.gamma_multiply(0.6))
                    .width(1.0),
            );
        }
        for s in series {
            if s.points.len() == 1 {
                // a line through one point draws nothing: a dot (e.g. the first step of a time plot)
                plot_ui.points(
                    egui_plot::Points::new(s.name.clone(), PlotPoints::new(s.points.clone()))
                        .color(s.color)
                        .radius(3.0),
                );
            } else {
                plot_ui.line(
                    Line::new(s.name.clone(), PlotPoints::new(s.points.clone()))
                        .color(s.color)
                        .width(2.0),
                );
            }
        }
    });
}

/// The figure's size in points for an export of `pixels` at `pixels_per_point`.
pub fn points_for(pixels: [u32; 2], pixels_per_point: f32) -> egui::Vec2 {
    vec2(
        pixels[0] as f32 / pixels_per_point,
        pixels[1] as f32 / pixels_per_point,
    )
}
