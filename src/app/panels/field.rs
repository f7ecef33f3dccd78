//! Number fields that refuse what they cannot hold. A value typed into a slider's (or drag value's) number
//! field must be a finite number within the field's range, and a whole number for counts; anything else
//! ("NaN", "inf", "1e999", 50 for a gain that ends at 10) is refused: the value keeps what it was and the
//! reason is shown under the field until the next accepted edit. (egui on its own clamps what it parses, so
//! "NaN" would become the top of the range.) Typed values apply when the edit ends (Enter or focus lost),
//! not at every keystroke, so typing "128" into Depth builds one network, not three.

use std::cell::{Cell, RefCell};
use std::ops::RangeInclusive;

use egui::emath::Numeric;
use egui::{DragValue, Id, Response, RichText, Slider, SliderClamping, Ui};

/// The number `text` stands for if it fits `range` (and is whole when `integral`), else why not.
pub fn check_typed(text: &str, range: &RangeInclusive<f64>, integral: bool) -> Result<f64, String> {
    // what egui's own parser accepts: spaces anywhere, and the typographic minus
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '\u{2212}' { '-' } else { c })
        .collect();
    let shown = text.trim();
    let value: f64 = cleaned
        .parse()
        .map_err(|_| format!("\"{shown}\" is not a number"))?;
    if !value.is_finite() {
        return Err(format!("\"{shown}\" is not a finite number"));
    }
    if integral && value.fract() != 0.0 {
        return Err(format!("\"{shown}\" is not a whole number"));
    }
    if !range.contains(&value) {
        return Err(format!("{value} is out of range"));
    }
    Ok(value)
}

/// A slider whose typed values are checked with [`check_typed`]; `label` is its text (and names it in the
/// message). Values outside `range` that were set elsewhere (a preset, a CLI flag) are kept as they are.
pub fn checked_slider<Num: Numeric>(
    ui: &mut Ui,
    value: &mut Num,
    range: RangeInclusive<Num>,
    label: &str,
    logarithmic: bool,
) -> Response {
    let bounds = range.start().to_f64()..=range.end().to_f64();
    let old = value.to_f64();
    checked(ui, label, old, bounds, Num::INTEGRAL, |ui, parser| {
        ui.add(
            Slider::new(value, range)
                .logarithmic(logarithmic)
                .text(label)
                .clamping(SliderClamping::Edits)
                .update_while_editing(false)
                .custom_parser(parser),
        )
    })
}

/// A drag value whose typed values are checked with [`check_typed`]; `label` names it in the message (the
/// caller draws its visible label).
pub fn checked_drag_value<Num: Numeric>(
    ui: &mut Ui,
    value: &mut Num,
    range: RangeInclusive<Num>,
    label: &str,
) -> Response {
    let bounds = range.start().to_f64()..=range.end().to_f64();
    let old = value.to_f64();
    checked(ui, label, old, bounds, Num::INTEGRAL, |ui, parser| {
        ui.add(
            DragValue::new(value)
                .range(range)
                .update_while_editing(false)
                .custom_parser(parser),
        )
    })
}

fn refusal_id(label: &str) -> Id {
    Id::unique(("gradscope-refused-value", label))
}

fn checked(
    ui: &mut Ui,
    label: &str,
    old: f64,
    range: RangeInclusive<f64>,
    integral: bool,
    add: impl FnOnce(&mut Ui, &dyn Fn(&str) -> Option<f64>) -> Response,
) -> Response {
    let refused = RefCell::new(None::<String>);
    let accepted = Cell::new(false);
    let parser = |text: &str| match check_typed(text, &range, integral) {
        Ok(v) => {
            accepted.set(true);
            Some(v)
        }
        Err(why) => {
            *refused.borrow_mut() = Some(why);
            None
        }
    };
    let response = add(ui, &parser);
    let id = refusal_id(label);
    if let Some(why) = refused.into_inner() {
        let (lo, hi) = (range.start(), range.end());
        let kind = if integral {
            "a whole number"
        } else {
            "a number"
        };
        let message = format!("{label}: {why}; type {kind} from {lo} to {hi} (kept {old})");
        ui.data_mut(|d| d.insert_temp(id, message));
    } else if accepted.get() || response.changed() {
        ui.data_mut(|d| d.remove::<String>(id));
    }
    if let Some(message) = ui.data(|d| d.get_temp::<String>(id)) {
        ui.label(
            RichText::new(message)
                .small()
                .color(ui.visuals().error_fg_color),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::check_typed;

    #[test]
    fn typed_values_outside_the_field_are_refused_with_a_reason() {
        let gain = 0.05..=10.0;
        assert_eq!(check_typed(" 2.5 ", &gain, false), Ok(2.5));
        assert_eq!(check_typed("10", &gain, false), Ok(10.0));
        for (text, why) in [
            ("NaN", "not a finite number"),
            ("nan", "not a finite number"),
            ("inf", "not a finite number"),
            ("-infinity", "not a finite number"),
            ("1e999", "not a finite number"),
            ("ten", "not a number"),
            ("", "not a number"),
            ("50", "50 is out of range"),
            ("0", "out of range"),
            ("\u{2212}1", "-1 is out of range"),
        ] {
            let err = check_typed(text, &gain, false).expect_err(text);
            assert!(err.contains(why), "{text}: {err}");
        }
        let depth = 1.0..=1024.0;
        assert_eq!(check_typed("1 024", &depth, true), Ok(1024.0));
        assert!(
            check_typed("2.5", &depth, true)
                .expect_err("fraction")
                .contains("whole number")
        );
    }
}
