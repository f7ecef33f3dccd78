//! The chain-rule ledger: a floating panel that writes δ at the clicked layer (time step) as the product
//! the backward pass computed, from the output down (docs/DESIGN.md §Ledger). Each factor is a ratio of
//! measured values from the statistics record, so the product lands on the measured δ and the rows show
//! where the gradient was lost: through the weights or through the activation's slopes.

use egui::{RichText, Ui};

use crate::stats::{Ledger, LedgerFactor};
use crate::viz::colormap::format_pow10;

/// One network's ledger as the panel shows it.
pub struct LedgerShown<'a> {
    /// `A` or `B` in compare mode, empty otherwise.
    pub name: String,
    /// `layer` or `time step`.
    pub layer_name: &'a str,
    /// The ledger, or why there is none.
    pub ledger: Result<Ledger, String>,
    /// The step of the statistics it comes from.
    pub step: Option<u64>,
}

/// A value 10^v as the ledger writes it: plain between 0.001 and 1000, else mantissa·e exponent; `0` for an
/// exact zero and `NaN/Inf` where the gradients are not finite.
pub fn format_value(log10: f64) -> String {
    if log10 == f64::NEG_INFINITY {
        "0".into()
    } else if !log10.is_finite() {
        "NaN/Inf".into()
    } else if (-3.0..3.0).contains(&log10) {
        let v = 10f64.powf(log10);
        let digits = (2 - log10.floor() as i32).clamp(0, 5) as usize;
        format!("{v:.digits$}")
    } else {
        format_pow10(log10)
    }
}

/// The ledger as one line: `rms δ_3 = 2.1e-1 × 0.25 × 0.91 × … = 3.1e-12`, with at most `max_factors`
/// factors written out (the first and last ones, `…` between).
pub fn equation(ledger: &Ledger, layer_name: &str, max_factors: usize) -> String {
    let factors: Vec<String> = ledger
        .rows
        .iter()
        .map(|r| format_value(r.log10_factor))
        .collect();
    let shown = if factors.len() > max_factors.max(2) {
        let head = max_factors.max(2) - 1;
        let mut v: Vec<String> = factors[..head].to_vec();
        v.push("\u{2026}".into());
        v.push(factors[factors.len() - 1].clone());
        v
    } else {
        factors
    };
    let product = ledger.log10_product();
    format!(
        "rms \u{3b4} at {layer_name} {} = {} \u{d7} {} = {}",
        ledger.index,
        format_value(ledger.log10_start),
        shown.join(" \u{d7} "),
        format_value(product)
    )
}

/// What the panel asks the window to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerAction {
    /// Nothing.
    None,
    /// Show the ledger of another layer.
    Select(usize),
    /// Close the panel.
    Close,
}

/// Draws the ledger of `layer` for each network in `shown`; `depth` bounds the layer picker.
pub fn ledger_ui(
    ui: &mut Ui,
    layer: usize,
    depth: usize,
    shown: &[LedgerShown<'_>],
) -> LedgerAction {
    let mut action = LedgerAction::None;
    let layer_name = shown.first().map_or("layer", |s| s.layer_name);
    ui.horizontal(|ui| {
        let label = ui.label(format!("{layer_name}:"));
        let mut pick = layer;
        ui.add(egui::DragValue::new(&mut pick).range(1..=depth.max(1)))
            .labelled_by(label.id)
            .on_hover_text(format!(
                "The {layer_name} whose δ the ledger writes out (or click a column of the gradient map)"
            ));
        if pick != layer {
            action = LedgerAction::Select(pick);
        }
        if ui
            .button("Close")
            .on_hover_text("Close the ledger")
            .clicked()
        {
            action = LedgerAction::Close;
        }
    });
    ui.label(
        RichText::new(format!(
            "From the output down, each factor is measured: through the weights, rms \u{2202}L/\u{2202}a at \
             a {layer_name} \u{f7} rms \u{3b4} above it; through the slopes, rms \u{3b4} \u{f7} rms \
             \u{2202}L/\u{2202}a, where \u{3b4} = \u{2202}L/\u{2202}a \u{b7} f'(z) unit by unit. Every rms is \
             over the batch and the units."
        ))
        .weak(),
    );
    for s in shown {
        ui.separator();
        let who = if s.name.is_empty() {
            String::new()
        } else {
            format!("network {}: ", s.name)
        };
        let ledger = match &s.ledger {
            Ok(l) => l,
            Err(why) => {
                ui.label(format!("{who}{why}"));
                continue;
            }
        };
        let step = s
            .step
            .map_or(String::new(), |t| format!(" (gradient after {t} updates)"));
        ui.label(RichText::new(format!("{who}{}{step}", equation(ledger, layer_name, 8))).strong());
        if ui
            .small_button("Copy")
            .on_hover_text("Copy the whole product, every factor written out, to the clipboard")
            .clicked()
        {
            ui.ctx().copy_text(equation(ledger, layer_name, usize::MAX));
        }
        table_ui(ui, s, ledger);
        let product = ledger.log10_product();
        ui.label(format!(
            "product {} \u{b7} measured rms \u{3b4} at {layer_name} {}: {}",
            format_value(product),
            ledger.index,
            format_value(ledger.log10_measured)
        ));
    }
    action
}

fn table_ui(ui: &mut Ui, s: &LedgerShown<'_>, ledger: &Ledger) {
    let layer_name = s.layer_name;
    egui::ScrollArea::vertical()
        .id_salt(("ledger rows", &s.name))
        .max_height(360.0)
        .show(ui, |ui| {
            egui::Grid::new(("ledger grid", &s.name))
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for head in [layer_name, "through", "\u{d7} factor", "product", "measured"] {
                        ui.label(RichText::new(head).strong());
                    }
                    ui.end_row();
                    ui.label(
                        ledger
                            .rows
                            .first()
                            .map_or(String::new(), |r| r.layer.to_string()),
                    );
                    ui.label("the head: rms \u{2202}L/\u{2202}a")
                        .on_hover_text("The gradient the output layer sends into the top, W_out^T times the loss gradient at the output");
                    ui.label("");
                    ui.label(format_value(ledger.log10_start));
                    ui.label(format_value(ledger.log10_start));
                    ui.end_row();
                    for row in &ledger.rows {
                        ui.label(row.layer.to_string());
                        let (what, hover) = match row.factor {
                            LedgerFactor::Weights if layer_name == "time step" => (
                                format!("W_h, from step {}", row.layer + 1),
                                format!(
                                    "rms \u{2202}L/\u{2202}h at step {} \u{f7} rms \u{3b4} at step {} \
                                     (the recurrent weights' gain, W_h^T \u{3b4})",
                                    row.layer,
                                    row.layer + 1
                                ),
                            ),
                            LedgerFactor::Weights => (
                                format!("W of {layer_name} {}", row.layer + 1),
                                format!(
                                    "rms \u{2202}L/\u{2202}a at {layer_name} {} \u{f7} rms \u{3b4} at {layer_name} {} \
                                     (the weights' gain; with a residual path, the skip's gradient is added here)",
                                    row.layer,
                                    row.layer + 1
                                ),
                            ),
                            LedgerFactor::Slopes => (
                                format!(
                                    "f'(z), mean |f'| {}",
                                    row.log10_mean_abs_slope.map_or("?".into(), format_value)
                                ),
                                format!(
                                    "rms \u{3b4} \u{f7} rms \u{2202}L/\u{2202}a at {layer_name} {}: the slopes \
                                     weighted by where the gradient is; the plain mean |f'(z)| beside it",
                                    row.layer
                                ),
                            ),
                        };
                        ui.label(what).on_hover_text(hover);
                        let f = ui.label(format_value(row.log10_factor));
                        f.on_hover_text(format!("log10 factor {:.6}", row.log10_factor));
                        ui.label(format_value(row.log10_product)).on_hover_text(format!(
                            "log10 running product {:.6}",
                            row.log10_product
                        ));
                        ui.label(format_value(row.log10_measured)).on_hover_text(format!(
                            "log10 measured {:.6}",
                            row.log10_measured
                        ));
                        ui.end_row();
                    }
                });
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LedgerRow;

    #[test]
    fn values_and_equations_read_as_a_teacher_writes_them() {
        assert_eq!(format_value(0.25f64.log10()), "0.250");
        assert_eq!(format_value(1.83f64.log10()), "1.83");
        assert_eq!(format_value(-12.0 + 3.1f64.log10()), "3.10e-12");
        assert_eq!(format_value(f64::NEG_INFINITY), "0");
        assert_eq!(format_value(f64::NAN), "NaN/Inf");
        let row = |layer, factor, f: f64, p: f64| LedgerRow {
            layer,
            factor,
            log10_factor: f,
            log10_product: p,
            log10_measured: p,
            log10_mean_abs_slope: None,
        };
        let ledger = Ledger {
            index: 2,
            log10_start: -1.0,
            rows: vec![
                row(3, LedgerFactor::Slopes, -0.5, -1.5),
                row(2, LedgerFactor::Weights, 0.1, -1.4),
                row(2, LedgerFactor::Slopes, -0.6, -2.0),
            ],
            log10_measured: -2.0,
        };
        assert_eq!(
            equation(&ledger, "layer", 8),
            "rms \u{3b4} at layer 2 = 0.100 \u{d7} 0.316 \u{d7} 1.26 \u{d7} 0.251 = 0.0100"
        );
        assert_eq!(
            equation(&ledger, "layer", 2),
            "rms \u{3b4} at layer 2 = 0.100 \u{d7} 0.316 \u{d7} \u{2026} \u{d7} 0.251 = 0.0100"
        );
    }
}
