//! Every WGSL module parses and validates with naga (no GPU needed), every kernel's entry point exists,
//! and no module holds what browsers' WGSL compilers refuse though naga accepts it.

use gradscope::gpu::layout::Kernel;
use gradscope::gpu::shaders::{KERNEL_FILES, LANES_OFF, MODULES, kernel_entry, module_source};
use wgpu::naga;

/// Each kernel runs on the view of the state its file was written for: the vec4 view where loads dominate
/// (a scalar store through it is a read-modify-write on lavapipe), and every module serves some kernel.
#[test]
fn kernels_run_on_their_views_of_the_state_and_every_module_is_used() {
    let view = |k: Kernel| {
        let module = kernel_entry(k).0;
        let (_, files, _) = MODULES.iter().find(|(l, _, _)| *l == module).unwrap();
        files[0]
    };
    for k in [
        Kernel::RowsForward,
        Kernel::RowsBackward,
        Kernel::RowsForward1,
        Kernel::RowsBackward1,
        Kernel::RowsForward2,
        Kernel::RowsBackward2,
        Kernel::RowsForward4,
        Kernel::RowsBackward4,
        Kernel::WeightGradsDirect,
        Kernel::WeightGradsDirectBare,
        Kernel::GatedForward,
        Kernel::GatedBackward,
        Kernel::GatedWgrad,
        Kernel::GatedRowsForward,
        Kernel::GatedRowsBackward,
        Kernel::GatedWgradRows,
        Kernel::GatedWgradRowsBare,
        Kernel::ColReduceRows4,
        Kernel::ColReduceRows4Packed,
        Kernel::ColReduceRows4Bare,
        Kernel::ColReduceRows4PackedBare,
        Kernel::UpdateNorms,
        Kernel::UpdateBare,
        Kernel::SumsqPartial,
    ] {
        assert_eq!(view(k), "mem4.wgsl", "{k:?}");
    }
    for k in [
        Kernel::WeightGrads,
        Kernel::WeightGradsBare,
        Kernel::GatedStats,
        Kernel::GatedStatsBare,
        Kernel::GatedStatsRows,
        Kernel::GatedStatsRowsBare,
        Kernel::ColReduceRows,
    ] {
        assert_eq!(view(k), "mem.wgsl", "{k:?}");
    }
    for (label, files, _) in MODULES {
        assert!(
            ["mem.wgsl", "mem4.wgsl"].contains(&files[0]),
            "{label}: its first file is the view of the state"
        );
        assert!(
            Kernel::ALL.iter().any(|&k| kernel_entry(k).0 == *label),
            "{label}: no kernel runs from it"
        );
    }
}

#[test]
fn every_shader_module_validates() {
    for (label, _, _) in MODULES {
        for lanes in [false, true] {
            validates(label, lanes);
        }
    }
}

/// A module parses and validates; without `lanes` (the portable variant every device compiles) it must
/// not need subgroup operations, with `lanes` it may.
fn validates(label: &str, lanes: bool) {
    let src = module_source(label, lanes).expect("module exists");
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{label} (lanes {lanes}): {}", e.emit_to_string(&src)));
    let mut caps = naga::valid::Capabilities::all();
    if !lanes {
        caps.remove(naga::valid::Capabilities::SUBGROUP);
    }
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{label} (lanes {lanes}): {}", e.emit_to_string(&src)));
}

/// WGSL makes a constant expression whose value is NaN or infinite an error; naga lets a bitcast of a
/// literal through, browsers (Tint) refuse the module. Such values must be built at run time
/// (`f32_nan()`, `f32_neg_inf()` in common.wgsl).
#[test]
fn no_module_bitcasts_a_literal_to_a_non_finite_f32() {
    for (label, _, _) in MODULES {
        let src = module_source(label, false).expect("module exists");
        for (at, _) in src.match_indices("bitcast<f32>(0x") {
            let digits: String = src[at + "bitcast<f32>(0x".len()..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect();
            let bits = u32::from_str_radix(&digits, 16).expect("a hex literal");
            assert!(
                f32::from_bits(bits).is_finite(),
                "{label}: bitcast<f32>(0x{digits}u) is a non-finite constant, which browsers refuse"
            );
        }
    }
}

#[test]
fn every_kernel_file_is_used_and_every_entry_point_exists() {
    for (file, _) in KERNEL_FILES {
        assert!(
            *file == LANES_OFF || MODULES.iter().any(|(_, files, _)| files.contains(file)),
            "{file} is not built into any module"
        );
    }
    for k in Kernel::ALL {
        let (label, entry) = kernel_entry(k);
        let src = module_source(label, false).expect("module exists");
        let module = naga::front::wgsl::parse_str(&src).expect("parses");
        assert!(
            module.entry_points.iter().any(|e| e.name == entry),
            "{k:?}: no entry point {entry} in {label}"
        );
    }
}

/// The value of a WGSL `const` in a module's source, as f64.
fn wgsl_const(module: &naga::Module, name: &str) -> f64 {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no WGSL constant {name}"));
    match module.global_expressions[c.init] {
        naga::Expression::Literal(l) => match l {
            naga::Literal::F32(v) => f64::from(v),
            naga::Literal::F64(v) | naga::Literal::AbstractFloat(v) => v,
            naga::Literal::U32(v) => f64::from(v),
            naga::Literal::I32(v) => f64::from(v),
            naga::Literal::AbstractInt(v) => v as f64,
            naga::Literal::Bool(v) => f64::from(u8::from(v)),
            other => panic!("{name}: unexpected literal {other:?}"),
        },
        ref other => panic!("{name}: not a literal: {other:?}"),
    }
}

fn parsed(label: &str) -> naga::Module {
    let src = module_source(label, false).expect("module exists");
    naga::front::wgsl::parse_str(&src).expect("parses")
}

/// The Rust definitions and the WGSL constants that mirror them cannot drift apart: ids, flags, thresholds,
/// optimizer constants and the parameter record's fields (names, order and size).
#[test]
fn wgsl_constants_and_records_match_the_rust_definitions() {
    use gradscope::gpu::layout::{
        COLREDUCE_UNITS, DispatchParams, FLAG_ACCUMULATE, FLAG_BARE, FLAG_BIAS, FLAG_CLIP,
        FLAG_COUNT, FLAG_HEAD, FLAG_RECURRENT, FLAG_RESCALE, FLAG_RESIDUAL, FLAG_STATS, FLAG_WIDE,
        FLAG_WIDE_IN, NONE,
    };
    use gradscope::model::{
        ADAM_BETA1, ADAM_BETA2, ADAM_EPS, Activation, LEAKY_SLOPE, MAX_SLOPE_EXP2, MOMENTUM,
        SATURATION_THRESHOLD,
    };
    let common = parsed("loss");
    let f32_eq = |wgsl: f64, rust: f64, name: &str| {
        assert!(
            (wgsl - rust).abs() <= 1e-7 * rust.abs(),
            "{name}: WGSL {wgsl} vs Rust {rust}"
        );
    };
    assert_eq!(wgsl_const(&common, "NONE"), f64::from(NONE));
    assert_eq!(
        wgsl_const(&common, "FLAG_ACCUMULATE"),
        f64::from(FLAG_ACCUMULATE)
    );
    assert_eq!(wgsl_const(&common, "FLAG_STATS"), f64::from(FLAG_STATS));
    assert_eq!(wgsl_const(&common, "FLAG_CLIP"), f64::from(FLAG_CLIP));
    for (name, value) in [
        ("FLAG_RESIDUAL", FLAG_RESIDUAL),
        ("FLAG_RECURRENT", FLAG_RECURRENT),
        ("FLAG_HEAD", FLAG_HEAD),
        ("FLAG_RESCALE", FLAG_RESCALE),
        ("FLAG_WIDE", FLAG_WIDE),
        ("FLAG_WIDE_IN", FLAG_WIDE_IN),
        ("FLAG_BIAS", FLAG_BIAS),
        ("FLAG_COUNT", FLAG_COUNT),
        ("FLAG_BARE", FLAG_BARE),
    ] {
        assert_eq!(wgsl_const(&common, name), f64::from(value), "{name}");
    }
    // the subgroup width lanes.wgsl is written for (the per-row layout's partial-sum slots follow it)
    let lanes =
        naga::front::wgsl::parse_str(&module_source("wgrad4", true).expect("module exists"))
            .expect("parses");
    assert_eq!(
        wgsl_const(&lanes, "LANES"),
        f64::from(gradscope::gpu::shaders::SUBGROUP_LANES)
    );
    // the statistics block's shapes
    use gradscope::gpu::layout::{LAYER_RECORD, UPART};
    assert_eq!(wgsl_const(&common, "LAYER_RECORD"), LAYER_RECORD as f64);
    assert_eq!(wgsl_const(&common, "UPART"), UPART as f64);
    assert_eq!(
        wgsl_const(&parsed("update4"), "NORMS_STRIDE"),
        gradscope::gpu::layout::UPDATE_NORMS_STRIDE as f64
    );
    assert_eq!(
        wgsl_const(&parsed("reduce4"), "GPART_STRIDE"),
        gradscope::gpu::layout::GPART_STRIDE as f64
    );
    // the histograms' bins
    let hist = parsed("hist");
    assert_eq!(
        wgsl_const(&hist, "HIST_BINS"),
        gradscope::stats::HIST_BINS as f64
    );
    assert_eq!(
        wgsl_const(&hist, "HIST_RECORD"),
        gradscope::gpu::layout::HIST_RECORD as f64
    );
    assert_eq!(
        wgsl_const(&hist, "HIST_LEN"),
        (gradscope::stats::HIST_BINS + 2) as f64
    );
    let (lo, hi) = gradscope::stats::DELTA_HIST_RANGE;
    assert_eq!(wgsl_const(&hist, "DELTA_LO"), lo);
    assert_eq!(wgsl_const(&hist, "DELTA_HI"), hi);
    // the flags are distinct bits
    let flags = [
        FLAG_ACCUMULATE,
        FLAG_STATS,
        FLAG_CLIP,
        FLAG_RESIDUAL,
        FLAG_RECURRENT,
        FLAG_HEAD,
        FLAG_RESCALE,
        FLAG_WIDE,
        FLAG_WIDE_IN,
        FLAG_BIAS,
        FLAG_COUNT,
        FLAG_BARE,
    ];
    assert_eq!(
        flags.iter().fold(0, |a, f| a | f).count_ones() as usize,
        flags.len()
    );
    // the per-row and tile constants of the fused kernels
    use gradscope::gpu::program::{
        FOUR_ROWS, ONE_ROW, ROWS_GROUP, ROWS_PER_INVOCATION, RowShape, TWO_ROWS, WGRAD_TILE,
    };
    assert_eq!(wgsl_const(&parsed("wgrad"), "WT"), f64::from(WGRAD_TILE));
    let rows = parsed("stack_rows");
    let fwd = rows
        .entry_points
        .iter()
        .find(|e| e.name == "rows_forward")
        .expect("rows_forward");
    assert_eq!(fwd.workgroup_size, [ROWS_GROUP, 1, 1]);
    // each shape's module: its rows per invocation and its blocks (sixteen units of a row or four of four)
    let shapes = [
        ("stack_rows", ROWS_PER_INVOCATION),
        ("stack_rows1", ONE_ROW),
        ("stack_rows2", TWO_ROWS),
        ("stack_rows4", FOUR_ROWS),
    ];
    assert_eq!(shapes.map(|s| s.1), RowShape::ALL);
    for (module, shape) in shapes {
        let m = parsed(module);
        assert_eq!(wgsl_const(&m, "RPI"), f64::from(shape.rows()), "{module}");
        assert_eq!(
            wgsl_const(&m, "ROW16"),
            f64::from(u8::from(shape.sixteen())),
            "{module}"
        );
    }
    for act in Activation::ALL {
        let name = format!("ACT_{}", act.name().to_uppercase().replace('-', "_"));
        assert_eq!(
            wgsl_const(&common, &name),
            f64::from(act.shader_id()),
            "{name}"
        );
    }
    f32_eq(
        wgsl_const(&common, "LEAKY_SLOPE"),
        LEAKY_SLOPE,
        "LEAKY_SLOPE",
    );
    f32_eq(
        wgsl_const(&common, "SATURATION_THRESHOLD"),
        SATURATION_THRESHOLD,
        "SATURATION_THRESHOLD",
    );
    assert_eq!(wgsl_const(&common, "MAX_SLOPE_EXP2"), MAX_SLOPE_EXP2 as f64);
    let update = parsed("update4");
    f32_eq(wgsl_const(&update, "MOMENTUM"), MOMENTUM, "MOMENTUM");
    f32_eq(wgsl_const(&update, "BETA1"), ADAM_BETA1, "BETA1");
    f32_eq(wgsl_const(&update, "BETA2"), ADAM_BETA2, "BETA2");
    f32_eq(wgsl_const(&update, "EPS"), ADAM_EPS, "EPS");
    let colreduce = parsed("colreduce");
    assert_eq!(wgsl_const(&colreduce, "UNITS"), f64::from(COLREDUCE_UNITS));
    assert_eq!(
        wgsl_const(&parsed("colreduce4"), "CR4_UNITS"),
        f64::from(gradscope::gpu::layout::COLREDUCE4_UNITS)
    );

    // the parameter record: the field names in order (from the Rust struct's Debug output) and the size
    let debug = format!("{:?}", DispatchParams::default());
    let rust_fields: Vec<&str> = debug
        .trim_start_matches("DispatchParams {")
        .trim_end_matches('}')
        .split(',')
        .filter_map(|f| f.split(':').next())
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let (_, ty) = common
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some("Params"))
        .expect("struct Params in common.wgsl");
    let naga::TypeInner::Struct { members, span } = &ty.inner else {
        panic!("Params is not a struct");
    };
    let wgsl_fields: Vec<&str> = members.iter().filter_map(|m| m.name.as_deref()).collect();
    assert_eq!(
        wgsl_fields, rust_fields,
        "Params (WGSL) vs DispatchParams (Rust)"
    );
    assert_eq!(*span as usize, std::mem::size_of::<DispatchParams>());
}
