//! The chain-rule ledger: clicking a column of the gradient map opens the ledger of that layer, whose
//! running product lands on the measured δ of the statistics shown (to 1e-6 in log10); it follows the
//! timeline's scrubbed step and its layer picker.

use egui_kittest::kittest::Queryable as _;
use gradscope::model::NetConfig;
use gradscope::stats::LedgerFactor;
use gradscope::viz::View;

use crate::common::ui::stepped_harness;

#[test]
fn clicking_the_gradient_map_opens_the_ledger_of_that_layer() {
    let cfg = NetConfig {
        depth: 6,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    };
    let mut h = stepped_harness(cfg, 2);
    h.state_mut().settings_mut().view = View::GradientMap;
    h.run_steps(2);
    assert_eq!(h.state().ledger_layer(), None);
    // a click in the middle of the map (the central panel's centre)
    let at = egui::pos2(820.0, 800.0);
    h.hover_at(at);
    h.run_steps(1);
    for (pressed, button) in [
        (true, egui::PointerButton::Primary),
        (false, egui::PointerButton::Primary),
    ] {
        h.event(egui::Event::PointerButton {
            pos: at,
            button,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.run_steps(1);
    }
    h.run_steps(2);
    let layer = h.state().ledger_layer().expect("a click opens the ledger");
    assert!((1..=6).contains(&layer), "layer {layer}");
    let title = format!("Chain-rule ledger: \u{3b4} at layer {layer}");
    h.get_by_label(&title);
    let check = |h: &egui_kittest::Harness<'_, gradscope::app::GradscopeApp>, step: u64| {
        let ledgers = h.state().ledgers();
        assert_eq!(ledgers.len(), 1);
        let (_, ledger, shown_step) = &ledgers[0];
        let ledger = ledger.as_ref().expect("a ledger");
        assert_eq!(*shown_step, Some(step));
        let stats = h.state().run_a().timeline().at(step).unwrap().clone();
        let measured = stats.layers[ledger.index - 1].log10_delta_rms.unwrap();
        let product = ledger.rows.last().unwrap().log10_product;
        assert!(
            (product - measured).abs() < 1e-6,
            "product {product} vs measured {measured}"
        );
        // the factors are the measured ratios, slopes and weights alternating from the output down
        assert_eq!(ledger.rows[0].factor, LedgerFactor::Slopes);
        assert_eq!(ledger.rows.len(), 2 * (6 - ledger.index) + 1);
        let start = stats.layers[5]
            .ledger
            .as_ref()
            .unwrap()
            .log10_grad_out_rms
            .unwrap();
        assert!((ledger.log10_start - start).abs() < 1e-12);
    };
    check(&h, 2);
    // scrubbed back, the ledger is that step's
    h.state_mut().scrub(Some(1));
    h.run_steps(2);
    check(&h, 1);
    // another layer from the picker's API, clamped to the depth
    h.state_mut().open_ledger(Some(99));
    h.run_steps(2);
    assert_eq!(h.state().ledger_layer(), Some(6));
    check(&h, 1);
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert_eq!(h.state().ledger_layer(), None);
}
