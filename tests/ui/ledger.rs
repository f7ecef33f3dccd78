//! The chain-rule ledger and the update ratio view. Clicking a column of the gradient map opens the ledger of that layer, whose
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

/// The Update ratio view draws, per weight matrix, the ratio the reference computes for the same steps
/// (the app trains on the GPU), with the 1e-3 guide.
#[test]
fn update_ratio_view_draws_the_reference_ratios() {
    use gradscope::reference::Reference;
    use gradscope::viz::Body;
    let cfg = NetConfig {
        depth: 4,
        width: 8,
        batch: 4,
        optimizer: gradscope::model::Optimizer::Momentum,
        ..NetConfig::default()
    };
    let mut h = stepped_harness(cfg.clone(), 3);
    h.state_mut().settings_mut().view = View::UpdateRatio;
    h.run_steps(2);
    let fig = h.state().figure_of(View::UpdateRatio);
    let Body::Lines(plot) = &fig.body else {
        panic!("the update ratio view draws lines: {:?}", fig.body)
    };
    let names = gradscope::model::weight_tensors(&cfg);
    assert_eq!(
        plot.series.len(),
        names.len() + 1,
        "a line per matrix and the guide"
    );
    let guide = plot.series.last().unwrap();
    assert!(guide.points.iter().all(|p| p[1] == -3.0));
    let mut r = Reference::new(&cfg).unwrap();
    for step in 0..=3u64 {
        let want = r.stats();
        for (j, s) in plot.series[..names.len()].iter().enumerate() {
            let p = s
                .points
                .iter()
                .find(|p| p[0] == step as f64)
                .expect("every step");
            let w = want.update_ratio[j].log10_ratio.unwrap();
            assert!(
                (p[1] - w).abs() < 1e-4,
                "step {step} {}: drawn {} vs reference {w}",
                names[j].1,
                p[1]
            );
        }
        r.step();
    }
    assert!(fig.subtitle.contains("After 3 updates"), "{}", fig.subtitle);
}

/// The Histograms view draws, for the layers it picks, the shares of the stored histograms (summing to
/// the share inside each range), with each δ curve placed at its layer's rms.
#[test]
fn histograms_view_draws_the_stored_bins() {
    use gradscope::viz::Body;
    let cfg = NetConfig {
        depth: 5,
        width: 8,
        batch: 4,
        ..NetConfig::default()
    };
    let mut h = stepped_harness(cfg.clone(), 1);
    h.state_mut().settings_mut().view = View::Histograms;
    h.run_steps(2);
    let stats = h.state().run_a().timeline().at(1).unwrap().clone();
    let fig = h.state().figure_of(View::Histograms);
    let Body::Split(top, bottom, _) = &fig.body else {
        panic!("two plots: {:?}", fig.body)
    };
    let (Body::Lines(act), Body::Lines(delta)) = (top.as_ref(), bottom.as_ref()) else {
        panic!("line plots")
    };
    assert_eq!(act.series.len(), 5, "every layer of five");
    let entries = (cfg.batch * cfg.width) as f64;
    for (l, (a, d)) in stats
        .layers
        .iter()
        .zip(act.series.iter().zip(&delta.series))
    {
        let hist = l
            .histogram
            .as_ref()
            .expect("the app's records carry histograms");
        let inside = hist.act[1..hist.act.len() - 1].iter().sum::<u64>() as f64;
        let drawn: f64 = a.points.iter().map(|p| p[1]).sum();
        assert!(
            (drawn - inside / entries).abs() < 1e-12,
            "layer {}",
            l.index
        );
        let n = (cfg.batch * cfg.width) as u64;
        assert_eq!(hist.act.iter().sum::<u64>(), n);
        assert_eq!(hist.delta.iter().sum::<u64>() + hist.delta_zeros, n);
        // the δ bins sit at the layer's rms: the bin centres span [rms − 6, rms + 2)
        let rms = l.log10_delta_rms.unwrap();
        let first = d.points.first().unwrap()[0];
        assert!(
            (first - (rms - 6.0 + 0.125)).abs() < 1e-9,
            "layer {}",
            l.index
        );
    }
}
