//! The trainability map: a grid of nets around the current one, two settings swept, each cell coloured by
//! its gradient ratio ‖δ_1‖/‖δ_L‖ (or loss, or non-finite fraction), under the mean-field order-to-chaos
//! line and the depth-scale band. Clicking a cell opens that net in the other views.

use super::common::{FigureData, title};
use crate::sweep::{Metric, SweepResult, SweepSpec};
use crate::viz::trainability::TrainabilityMap;
use crate::viz::{Body, Figure, View};

/// What the empty view says before the first sweep.
pub const NO_SWEEP: &str = "No sweep yet. Choose the two axes at the top of the side panel (Trainability map) and press Run sweep: every net of the grid trains at once on the GPU, and the map shows where gradients vanish (blue), explode (red) or survive (white), under the mean-field χ₁ = 1 line.";

/// The figure.
pub fn figure(data: &FigureData<'_>) -> Figure {
    let Some(result) = data.sweep.result else {
        return Figure {
            title: title(View::Trainability, data.cfg),
            subtitle: "a grid of networks trained at once".into(),
            notes: data.sweep.status.map(str::to_string).into_iter().collect(),
            body: Body::Empty(NO_SWEEP.into()),
            caption: super::common::caption(data),
        };
    };
    let mut notes: Vec<String> = data.sweep.status.map(str::to_string).into_iter().collect();
    let exploded = result
        .cells
        .iter()
        .filter(|c| c.nonfinite_fraction > 0.0)
        .count();
    if exploded > 0 {
        notes.push(format!(
            "NaN or Inf appeared in {exploded} of {} nets: their gradients exploded (hover a cell for its numbers)",
            result.cells.len()
        ));
    }

    Figure {
        title: title(View::Trainability, &result.base),
        subtitle: subtitle(result),
        notes,
        body: Body::Trainability(Box::new(TrainabilityMap {
            result: result.clone(),
            marker: marker(&result.spec, data.cfg, result),
            selected: data.sweep.selected,
        })),
        caption: caption(result),
    }
}

/// What the map plots, over what, and how it was measured.
pub fn subtitle(result: &SweepResult) -> String {
    let spec = &result.spec;
    let when = if spec.steps == 0 {
        "at init".to_string()
    } else {
        format!("after {} steps", spec.steps)
    };
    let what = match spec.metric {
        Metric::GradRatio => "gradient ratio ||δ_1||/||δ_L|| (input over output layer)",
        Metric::Loss => "loss relative to the initial loss",
        Metric::Nonfinite => "fraction of NaN/Inf values",
    };
    // the adapter's short name: the rest is in the caption
    let adapter = result.adapter.split(" (").next().unwrap_or(&result.adapter);
    format!(
        "{what} {when}, over {} × {}: {} nets in {} population engine{} on {adapter}, {:.1} s",
        spec.x.param.name(),
        spec.y.param.name(),
        result.cells.len(),
        result.engines,
        if result.engines == 1 { "" } else { "s" },
        result.seconds,
    )
}

/// Where the current configuration lies in the grid, if both swept settings of `cfg` are inside it and
/// every other setting equals the sweep's base.
pub fn marker(
    spec: &SweepSpec,
    cfg: &crate::model::NetConfig,
    result: &SweepResult,
) -> Option<[f64; 2]> {
    let x = spec.x.param.get(cfg);
    let y = spec.y.param.get(cfg);
    let back = spec.y.param.set(
        &spec.x.param.set(cfg, spec.x.param.get(&result.base)),
        spec.y.param.get(&result.base),
    );
    (back == result.base).then_some([x, y])
}

/// The sweep and its base configuration, enough to run it again.
pub fn caption(result: &SweepResult) -> String {
    let spec = &result.spec;
    let json = super::common::config_json(&result.base)
        .replace(",\"", ", \"")
        .replace("\":", "\": ");
    let theory = if result.theory.note.is_empty() {
        String::new()
    } else {
        format!("{}\n", result.theory.note)
    };
    format!(
        "{theory}gradscope {} · sweep --x {} --y {} --steps {} --metric {} · {} · base config:\n{json}",
        env!("CARGO_PKG_VERSION"),
        spec.x,
        spec.y,
        spec.steps,
        spec.metric.name(),
        result.adapter
    )
}
