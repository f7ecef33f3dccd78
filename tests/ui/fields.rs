//! Typed values: a number typed into a slider's field that is not a finite number in the field's range
//! ("NaN", "inf", 50 for the gain) is refused; the value keeps what it was and the field says why, until
//! a value that fits is typed. (egui alone clamps what it parses, so "NaN" used to set the gain to 10.)

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use gradscope::app::GradscopeApp;
use gradscope::model::NetConfig;

use crate::common::ui::{app_harness, wait_until};

fn harness() -> Harness<'static, GradscopeApp> {
    let cfg = NetConfig {
        depth: 3,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    };
    let mut h = app_harness(cfg, 1500.0);
    wait_until(&mut h, "the first statistics", |a| {
        a.latest_stats().is_some()
    });
    h
}

/// Types `text` into the number field of the slider `label` as a user does: focus it (it turns into a
/// text field with its text selected), type, press Enter.
fn type_into(h: &mut Harness<'_, GradscopeApp>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::SpinButton, label).focus();
    h.run_steps(1);
    h.get_by_role_and_label(Role::SpinButton, label)
        .type_text(text);
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(2);
}

fn message(h: &Harness<'_, GradscopeApp>, label: &str) -> Option<String> {
    h.query_by_label_contains(&format!("{label}: "))
        .and_then(|n| n.value().or_else(|| n.accesskit_node().label()))
}

#[test]
fn typed_nan_or_out_of_range_gain_is_refused_and_the_field_says_why() {
    let mut h = harness();
    let before = h.state().config().clone();
    for (typed, why) in [
        ("NaN", "\"NaN\" is not a finite number"),
        ("inf", "\"inf\" is not a finite number"),
        ("50", "50 is out of range"),
        ("1.5x", "\"1.5x\" is not a number"),
    ] {
        type_into(&mut h, "Gain", typed);
        assert_eq!(
            h.state().settings().config.gain,
            before.gain,
            "{typed}: the field keeps its value"
        );
        assert_eq!(
            h.state().config(),
            &before,
            "{typed}: the network is unchanged"
        );
        let shown = message(&h, "Gain").unwrap_or_else(|| panic!("{typed}: no reason shown"));
        assert!(
            shown.contains(why) && shown.contains("0.05 to 10") && shown.contains("kept 1"),
            "{shown}"
        );
    }
    assert_eq!(
        h.state().error(),
        None,
        "a refused value is not an app error"
    );

    // a value that fits applies, and the reason goes away
    type_into(&mut h, "Gain", "2.5");
    assert_eq!(h.state().settings().config.gain, 2.5);
    wait_until(&mut h, "the rebuilt network", |a| {
        a.config().gain == 2.5 && a.latest_stats().is_some()
    });
    assert_eq!(message(&h, "Gain"), None);
}

#[test]
fn counts_refuse_nan_and_fractions() {
    let mut h = harness();
    type_into(&mut h, "Depth", "NaN");
    assert_eq!(h.state().config().depth, 3, "not the top of the range");
    assert!(message(&h, "Depth").is_some_and(|m| m.contains("not a finite number")));
    type_into(&mut h, "Depth", "2.5");
    assert_eq!(h.state().config().depth, 3);
    assert!(
        message(&h, "Depth").is_some_and(|m| m.contains("whole number")),
        "{:?}",
        message(&h, "Depth")
    );
    type_into(&mut h, "Depth", "5");
    assert_eq!(h.state().config().depth, 5);
    assert_eq!(message(&h, "Depth"), None);
}
