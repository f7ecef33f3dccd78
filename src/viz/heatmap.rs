//! A heatmap of cells (columns × rows) drawn as one nearest-filtered texture, with axes, tick labels and a
//! hover tooltip naming column, row and value.

use egui::{
    Align2, Color32, ColorImage, FontId, Pos2, Rect, Sense, Stroke, TextureOptions, Ui, Vec2, pos2,
    vec2,
};

use super::colormap::{Cell, ColorRange, ZERO_COLOR};

/// How cells become colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coloring {
    /// log10 magnitudes on the sequential map, with the special colours of [`ColorRange::color`].
    Log(ColorRange),
    /// Dead (exact zero) versus alive: the dead-unit map.
    DeadAlive,
}

/// Colour of a live unit on the dead-unit map.
pub const ALIVE_COLOR: Color32 = Color32::from_rgb(120, 190, 120);

impl Coloring {
    /// The colour of one cell.
    pub fn color(&self, cell: Cell) -> Color32 {
        match self {
            Coloring::Log(range) => range.color(cell),
            Coloring::DeadAlive => match cell {
                Cell::Zero => ZERO_COLOR,
                Cell::Log10(_) => ALIVE_COLOR,
                other => ColorRange { lo: 0.0, hi: 1.0 }.color(other),
            },
        }
    }
}

/// The data of a heatmap: `cols × rows` cells, column `c` drawn left to right, row 0 at the bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    /// Number of columns (x).
    pub cols: usize,
    /// Number of rows (y).
    pub rows: usize,
    /// Cells, column-major: `cells[c * rows + r]`.
    pub cells: Vec<Cell>,
    /// What a column is, e.g. `layer` or `step` (hover text).
    pub x_name: String,
    /// What a row is, e.g. `unit` or `layer`.
    pub y_name: String,
    /// x axis title.
    pub x_label: String,
    /// y axis title.
    pub y_label: String,
    /// The label value of each column (layer index, step number).
    pub x_values: Vec<u64>,
    /// The label value of each row.
    pub y_values: Vec<u64>,
    /// Columns marked with a red tick above the map (e.g. steps where gradient clipping fired).
    pub x_marks: Vec<usize>,
    /// What clicking a column opens, as the hover text says it (empty: clicks do nothing); the clicked
    /// column's value is kept for the app ([`take_clicked_column`]).
    pub click_hint: String,
}

/// The id under which a click on a heatmap column is remembered.
fn click_id() -> egui::Id {
    egui::Id::unique("gradscope heatmap column click")
}

/// The column value (layer, time step) of the heatmap column the user clicked since the last call, if
/// any.
pub fn take_clicked_column(ctx: &egui::Context) -> Option<u64> {
    ctx.data_mut(|d| d.remove_temp::<u64>(click_id()))
}

impl Heatmap {
    /// The cell at column `c`, row `r`.
    pub fn get(&self, c: usize, r: usize) -> Cell {
        self.cells
            .get(c * self.rows + r)
            .copied()
            .unwrap_or(Cell::Empty)
    }

    fn image(&self, coloring: &Coloring) -> ColorImage {
        let (w, h) = (self.cols.max(1), self.rows.max(1));
        let mut pixels = vec![Color32::TRANSPARENT; w * h];
        for c in 0..self.cols {
            for r in 0..self.rows {
                // row 0 at the bottom of the picture
                pixels[(h - 1 - r) * w + c] = coloring.color(self.get(c, r));
            }
        }
        ColorImage::new([w, h], pixels)
    }
}

/// Space around the cells for ticks and axis titles.
const LEFT_MARGIN: f32 = 58.0;
const BOTTOM_MARGIN: f32 = 40.0;
const TOP_MARGIN: f32 = 6.0;
/// Colour of the column marks (clipping fired).
pub const MARK_COLOR: Color32 = Color32::from_rgb(220, 30, 30);

/// "Nice" tick positions (indices into `values`) for `n` cells over `length` points, at least `min_gap` apart.
fn ticks(values: &[u64], length: f32, min_gap: f32) -> Vec<usize> {
    let n = values.len();
    if n == 0 {
        return Vec::new();
    }
    let per_cell = length / n as f32;
    let span = values[n - 1].saturating_sub(values[0]).max(1);
    let per_unit = per_cell * (n.max(2) - 1) as f32 / span as f32;
    let mut step: u64 = 1;
    for cand in [
        1u64, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000,
        100_000,
    ] {
        step = cand;
        if per_unit * cand as f32 >= min_gap {
            break;
        }
    }
    let mut out: Vec<usize> = (0..n).filter(|&i| values[i].is_multiple_of(step)).collect();
    // label the first column too (layer 1) when there is room before the first multiple
    match out.first() {
        None => out.push(0),
        Some(&i) if i > 0 && i as f32 * per_cell >= min_gap => out.insert(0, 0),
        Some(_) => {}
    }
    out
}

/// Draws the heatmap with its axes into `rect`; hovering a cell shows column, row and value.
pub fn heatmap_ui(ui: &mut Ui, rect: Rect, map: &Heatmap, coloring: &Coloring) {
    let cells_rect = Rect::from_min_max(
        pos2(rect.left() + LEFT_MARGIN, rect.top() + TOP_MARGIN),
        pos2(rect.right() - 16.0, rect.bottom() - BOTTOM_MARGIN),
    );
    if cells_rect.width() < 4.0 || cells_rect.height() < 4.0 || map.cols == 0 || map.rows == 0 {
        return;
    }
    let id = ui.scope_id().with(("heatmap", &map.x_label, &map.y_label));
    let sense = if map.click_hint.is_empty() {
        Sense::hover()
    } else {
        Sense::click()
    };
    let response = ui.interact(cells_rect, id, sense);
    let texture = ui.ctx().load_texture_cached(
        "gradscope heatmap",
        id,
        map.image(coloring),
        TextureOptions::NEAREST,
    );
    let painter = ui.painter_at(rect);
    let visuals = ui.visuals().clone();
    let text_color = visuals.text_color();
    painter.image(
        texture.id(),
        cells_rect,
        Rect::from_min_max(Pos2::ZERO, pos2(1.0, 1.0)),
        Color32::WHITE,
    );
    painter.rect_stroke(
        cells_rect,
        0.0,
        Stroke::new(1.0, visuals.weak_text_color()),
        egui::StrokeKind::Outside,
    );

    let font = FontId::proportional(12.0);
    let cell_w = cells_rect.width() / map.cols as f32;
    for &c in &map.x_marks {
        let x = cells_rect.left() + (c as f32 + 0.5) * cell_w;
        let top = cells_rect.top();
        painter.add(egui::Shape::convex_polygon(
            vec![
                pos2(x - 3.0, top - TOP_MARGIN),
                pos2(x + 3.0, top - TOP_MARGIN),
                pos2(x, top),
            ],
            MARK_COLOR,
            Stroke::NONE,
        ));
    }
    let cell_h = cells_rect.height() / map.rows as f32;
    for i in ticks(&map.x_values, cells_rect.width(), 36.0) {
        let x = cells_rect.left() + (i as f32 + 0.5) * cell_w;
        painter.line_segment(
            [
                pos2(x, cells_rect.bottom()),
                pos2(x, cells_rect.bottom() + 4.0),
            ],
            Stroke::new(1.0, text_color),
        );
        painter.text(
            pos2(x, cells_rect.bottom() + 5.0),
            Align2::CENTER_TOP,
            map.x_values[i].to_string(),
            font.clone(),
            text_color,
        );
    }
    for i in ticks(&map.y_values, cells_rect.height(), 18.0) {
        let y = cells_rect.bottom() - (i as f32 + 0.5) * cell_h;
        painter.line_segment(
            [pos2(cells_rect.left() - 4.0, y), pos2(cells_rect.left(), y)],
            Stroke::new(1.0, text_color),
        );
        painter.text(
            pos2(cells_rect.left() - 6.0, y),
            Align2::RIGHT_CENTER,
            map.y_values[i].to_string(),
            font.clone(),
            text_color,
        );
    }
    let title_font = FontId::proportional(14.0);
    painter.text(
        pos2(cells_rect.center().x, rect.bottom() - 2.0),
        Align2::CENTER_BOTTOM,
        &map.x_label,
        title_font.clone(),
        text_color,
    );
    let galley = painter.layout_no_wrap(map.y_label.clone(), title_font, text_color);
    let pos = pos2(
        rect.left() + 2.0,
        cells_rect.center().y + galley.size().x / 2.0,
    );
    painter.add(
        egui::epaint::TextShape::new(pos, galley, text_color)
            .with_angle(-std::f32::consts::FRAC_PI_2),
    );

    if let Some(p) = response.hover_pos() {
        let c = (((p.x - cells_rect.left()) / cell_w) as usize).min(map.cols - 1);
        let r = (((cells_rect.bottom() - p.y) / cell_h) as usize).min(map.rows - 1);
        let column = map.x_values.get(c).copied().unwrap_or(c as u64 + 1);
        let mut text = format!(
            "{} {}, {} {}\n{}",
            map.x_name,
            column,
            map.y_name,
            map.y_values.get(r).copied().unwrap_or(r as u64 + 1),
            map.get(c, r).describe()
        );
        if !map.click_hint.is_empty() {
            text.push_str(&format!("\nclick: {}", map.click_hint));
            if response.clicked() {
                ui.ctx().data_mut(|d| d.insert_temp(click_id(), column));
            }
        }
        let cell = Rect::from_min_size(
            pos2(
                cells_rect.left() + c as f32 * cell_w,
                cells_rect.bottom() - (r + 1) as f32 * cell_h,
            ),
            vec2(cell_w, cell_h),
        );
        painter.rect_stroke(
            cell,
            0.0,
            Stroke::new(1.5, text_color),
            egui::StrokeKind::Middle,
        );
        response.on_hover_ui_at_pointer(|ui| {
            ui.label(text);
        });
    }
}

/// The smallest rect a heatmap needs to be readable.
pub fn min_size() -> Vec2 {
    vec2(LEFT_MARGIN + 60.0, BOTTOM_MARGIN + TOP_MARGIN + 40.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_sparse_and_include_multiples() {
        let values: Vec<u64> = (1..=20).collect();
        let t = ticks(&values, 600.0, 36.0);
        assert!(t.contains(&19), "{t:?}"); // layer 20
        assert!(t.len() >= 5 && t[0] <= 1, "{t:?}");
        let values: Vec<u64> = (1..=1000).collect();
        let t = ticks(&values, 600.0, 36.0);
        assert!(t.len() <= 17, "{t:?}");
    }
}
