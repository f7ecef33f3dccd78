//! The timeline bar under the figure: scrub every view back through the statistics kept so far, or follow
//! training live; says how much it keeps.

use egui::{RichText, Ui};

/// What the bar shows of a network's timeline.
#[derive(Clone, Copy, Debug)]
pub struct TimelineInfo<'a> {
    /// The steps kept, oldest first.
    pub steps: &'a [u64],
    /// Bytes kept.
    pub bytes: usize,
    /// The bound on them.
    pub budget: usize,
}

/// The bar; edits `scrub` (`None`: live, at the newest step).
pub fn timeline_ui(ui: &mut Ui, info: TimelineInfo<'_>, scrub: &mut Option<u64>) {
    let TimelineInfo {
        steps,
        bytes,
        budget,
    } = info;
    ui.horizontal(|ui| {
        let label = ui.label("Timeline");
        let Some(last) = steps.len().checked_sub(1) else {
            ui.label(RichText::new("no statistics yet").weak());
            return;
        };
        let mut index = match *scrub {
            Some(s) => steps.iter().rposition(|&t| t <= s).unwrap_or(0),
            None => last,
        };
        let width = (ui.available_width() - 420.0).max(120.0);
        ui.spacing_mut().slider_width = width;
        let slider = ui
            .add(egui::Slider::new(&mut index, 0..=last).show_value(false))
            .labelled_by(label.id)
            .on_hover_text(
                "Drag back through training: every view (and an export) shows the statistics of that step; at the right end the views follow training live",
            );
        if slider.changed() {
            *scrub = (index < last).then(|| steps[index]);
        }
        let shown = steps[index.min(last)];
        ui.label(if scrub.is_some() {
            RichText::new(format!("step {shown}")).strong()
        } else {
            RichText::new(format!("step {shown} (live)"))
        });
        if ui
            .add_enabled(scrub.is_some(), egui::Button::new("Live"))
            .on_hover_text("Back to the newest step; the views follow training again")
            .clicked()
        {
            *scrub = None;
        }
        ui.label(
            RichText::new(format!(
                "{} steps kept, {:.1} of {} MiB (older steps thin out)",
                steps.len(),
                bytes as f64 / (1024.0 * 1024.0),
                budget >> 20
            ))
            .weak(),
        );
    });
}
