//! Property-based tests (proptest) over the three ways text gets into gradscope: CLI arguments (the clap
//! parser and config resolution, in-process), preset TOML, and figure metadata (the config string and the
//! PNG text chunk that carries it). None may panic, and whatever they accept must be a valid config that
//! survives a round trip through the config string. Over 100k generated cases per run, in seconds.
//!
//! The seed is fixed so CI is reproducible; set `PROPTEST_RNG_SEED` to explore other inputs.

use clap::{CommandFactory, FromArgMatches, Parser};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};

use gradscope::app::share::{config_from_png_bytes, config_string, parse_config};
use gradscope::cli::{ConfigArgs, parse_steps, report_steps};
use gradscope::model::{BUILTIN_PRESETS, NetConfig, Preset};

/// Cases per property; the total is over 100k.
const CLI_CASES: u32 = 40_000;
const TOML_CASES: u32 = 35_000;
const CONFIG_STRING_CASES: u32 = 30_000;
const PNG_CASES: u32 = 5_000;

fn runner(cases: u32) -> TestRunner {
    let mut config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x6772_6164_7363_6f70);
    }
    TestRunner::new(config)
}

/// What `gradscope stats` and `app` parse: the CONFIG flags plus the step flags and `--from-figure`.
#[derive(Parser, Debug)]
#[command(name = "gradscope")]
struct FuzzCli {
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(long, value_parser = parse_steps)]
    steps: Option<u64>,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    every: Option<u64>,
    #[arg(long)]
    from_figure: Option<std::path::PathBuf>,
}

/// Every long flag of [`FuzzCli`], derived from the parser.
fn flags() -> Vec<String> {
    FuzzCli::command()
        .get_arguments()
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

/// Values a user might type, valid or not.
fn cli_value() -> impl Strategy<Value = String> {
    let names: Vec<String> = BUILTIN_PRESETS.iter().map(|(n, _)| n.to_string()).collect();
    prop_oneof![
        (0u64..3000).prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|x| x.to_string()),
        (-20.0f64..20.0).prop_map(|x| format!("{x}")),
        prop::sample::select(vec![
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "1e309",
            "-0",
            "0",
            "",
            " 3",
            "0x10",
            "1_000",
            "mlp",
            "rnn",
            "relu",
            "sigmoid",
            "tanh",
            "gelu",
            "he-normal",
            "xavier-normal",
            "sgd",
            "adam",
            "momentum",
            "teacher",
            "spiral",
            "adding",
            "memory",
            "gpu",
            "cpu",
            "vulkan",
            "4294967296",
            "18446744073709551616",
            "１２",
            "--depth",
            "-",
        ])
        .prop_map(str::to_string),
        prop::sample::select(names),
        "[a-z\\-]{0,12}",
        "\\PC{0,10}",
    ]
}

/// An argument vector: flags (some with values, some without, some unknown) in any order.
fn cli_argv(flags: Vec<String>) -> impl Strategy<Value = Vec<String>> {
    let flag = prop_oneof![
        9 => prop::sample::select(flags),
        1 => "--[a-z\\-]{1,10}",
    ];
    prop::collection::vec((flag, prop::option::weighted(0.85, cli_value())), 0..7).prop_map(
        |pairs| {
            let mut argv = vec!["gradscope".to_string()];
            for (flag, value) in pairs {
                // a value that is not a known preset or path never names a real file here
                argv.push(flag);
                argv.extend(value);
            }
            argv
        },
    )
}

/// What a config must satisfy once accepted: valid, and restored exactly by its config string.
fn check_accepted(cfg: &NetConfig) -> Result<(), TestCaseError> {
    prop_assert!(
        cfg.validate().is_ok(),
        "accepted an invalid config: {cfg:?}"
    );
    let text = config_string(cfg);
    let back = parse_config(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e:#}")))?;
    prop_assert_eq!(&back, cfg);
    let _ = cfg.summary();
    Ok(())
}

#[test]
fn cli_arguments_never_panic() {
    let cmd = FuzzCli::command();
    let accepted = std::cell::Cell::new(0u32);
    runner(CLI_CASES)
        .run(&cli_argv(flags()), |argv| {
            let matches = match cmd.clone().try_get_matches_from(&argv) {
                Ok(m) => m,
                Err(e) => {
                    let _ = e.render().to_string();
                    return Ok(());
                }
            };
            let args = FuzzCli::from_arg_matches(&matches)
                .map_err(|e| TestCaseError::fail(format!("{argv:?}: {e}")))?;
            let given = ConfigArgs::network_flags_given(&matches);
            prop_assert!(
                given.iter().all(|f| argv.contains(f)),
                "{argv:?}: {given:?}"
            );
            if let Some(steps) = args.steps {
                let every = args.every.unwrap_or(1);
                prop_assert_eq!(report_steps(steps, every).next(), Some(0));
            }
            match args.config.resolve() {
                Ok(cfg) => {
                    accepted.set(accepted.get() + 1);
                    check_accepted(&cfg)
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    prop_assert!(!msg.is_empty());
                    Ok(())
                }
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{} of {CLI_CASES} argument vectors accepted",
        accepted.get()
    );
    assert!(
        accepted.get() > 1000,
        "only {} argument vectors were accepted",
        accepted.get()
    );
}

/// A TOML value of any type, including the float specials TOML allows.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..5000).prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| format!("{x:e}")),
        (-10.0f64..10.0).prop_map(|x| format!("{x:?}")),
        prop::sample::select(vec![
            "nan",
            "+inf",
            "-inf",
            "true",
            "false",
            "1e400",
            "-0.0",
            "0",
            "\"relu\"",
            "\"rnn\"",
            "\"adam\"",
            "\"he-normal\"",
            "\"spiral\"",
            "\"adding\"",
            "[]",
            "[1, 2]",
            "{}",
            "\"\"",
            "'x'",
            "1979-05-27",
            "0xff",
            "1_000",
        ])
        .prop_map(str::to_string),
        "\"[a-z\\-]{0,10}\"",
    ]
}

/// Structured preset text: title, description and the two tables with known and unknown keys.
fn structured_preset() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        8 => prop::sample::select(vec![
            "arch", "depth", "width", "activation", "init", "gain", "residual", "bias-std",
            "spectral-radius", "batch", "lr", "optimizer", "clip", "seed", "task",
        ])
        .prop_map(str::to_string),
        1 => "[a-z\\-]{1,10}",
    ];
    let line = (key, toml_value()).prop_map(|(k, v)| format!("{k} = {v}\n"));
    let table = prop::sample::select(vec!["[network]\n", "[training]\n", "[other]\n", ""]);
    (
        prop::option::weighted(0.9, "\\PC{0,20}"),
        prop::option::weighted(0.9, "\\PC{0,60}"),
        prop::collection::vec((table, prop::collection::vec(line, 0..5)), 0..4),
    )
        .prop_map(|(title, description, tables)| {
            let mut text = String::new();
            if let Some(t) = title {
                text.push_str(&format!("title = {:?}\n", t));
            }
            if let Some(d) = description {
                text.push_str(&format!("description = {:?}\n", d));
            }
            for (header, lines) in tables {
                text.push_str(header);
                for l in lines {
                    text.push_str(&l);
                }
            }
            text
        })
}

/// A shipped preset with random edits: characters replaced, inserted or removed.
fn mutated_preset() -> impl Strategy<Value = String> {
    let edit = (any::<prop::sample::Index>(), 0u8..3, "[\\PC\\n]");
    (0..BUILTIN_PRESETS.len(), prop::collection::vec(edit, 1..6)).prop_map(|(i, edits)| {
        let mut chars: Vec<char> = BUILTIN_PRESETS[i].1.chars().collect();
        for (at, op, s) in edits {
            let c = s.chars().next().unwrap_or(' ');
            if chars.is_empty() {
                chars.push(c);
                continue;
            }
            let at = at.index(chars.len());
            match op {
                0 => chars[at] = c,
                1 => chars.insert(at, c),
                _ => {
                    chars.remove(at);
                }
            }
        }
        chars.into_iter().collect()
    })
}

#[test]
fn preset_toml_never_panics() {
    let text = prop_oneof![
        4 => structured_preset(),
        4 => mutated_preset(),
        1 => "\\PC{0,200}",
        1 => "[\\[\\]a-z=\\-\"'0-9., \\n#{}]{0,200}",
    ];
    let accepted = std::cell::Cell::new(0u32);
    runner(TOML_CASES)
        .run(&text, |text| {
            match Preset::parse(&text, "fuzz.toml") {
                Ok(p) => {
                    accepted.set(accepted.get() + 1);
                    check_accepted(&p.config())?;
                }
                Err(e) => prop_assert!(
                    e.to_string().contains("fuzz.toml") || e.to_string().contains("unknown")
                ),
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{} of {TOML_CASES} presets accepted", accepted.get());
    assert!(
        accepted.get() > 1000,
        "only {} presets were accepted",
        accepted.get()
    );
}

/// A JSON value of any type, including ones no config field takes.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (0u64..5000).prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        (-10.0f64..10.0).prop_map(|x| json!(x)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        prop::sample::select(vec![
            "mlp",
            "rnn",
            "relu",
            "tanh",
            "sigmoid",
            "he-normal",
            "adam",
            "spiral",
            "adding",
            "NaN",
            "Infinity",
            "",
        ])
        .prop_map(|s| json!(s)),
        "\\PC{0,10}".prop_map(|s| json!(s)),
        Just(json!([1, 2])),
        Just(json!({"a": 1})),
    ]
}

/// A config string: the default config's JSON with fields replaced, removed or added.
fn structured_config_string() -> impl Strategy<Value = String> {
    let base: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&config_string(&NetConfig::default())).expect("config JSON");
    let mut keys: Vec<String> = base.keys().cloned().collect();
    keys.push("spectral_radius".into());
    keys.push("unknown".into());
    let edit = (
        prop::sample::select(keys),
        prop::option::weighted(0.85, json_value()),
    );
    prop::collection::vec(edit, 0..6).prop_map(move |edits| {
        let mut obj = base.clone();
        for (k, v) in edits {
            match v {
                Some(v) => obj.insert(k, v),
                None => obj.remove(&k),
            };
        }
        serde_json::Value::Object(obj).to_string()
    })
}

#[test]
fn figure_config_strings_never_panic() {
    let text = prop_oneof![
        6 => structured_config_string(),
        2 => "\\PC{0,120}",
        2 => "[{}\\[\\]\":,a-z0-9.\\- ]{0,120}",
    ];
    let accepted = std::cell::Cell::new(0u32);
    runner(CONFIG_STRING_CASES)
        .run(&text, |text| {
            if let Ok(cfg) = parse_config(&text) {
                accepted.set(accepted.get() + 1);
                check_accepted(&cfg)?;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{} of {CONFIG_STRING_CASES} config strings accepted",
        accepted.get()
    );
    assert!(
        accepted.get() > 1000,
        "only {} config strings were accepted",
        accepted.get()
    );
}

/// A 1x1 PNG carrying one text chunk of the given type with arbitrary keyword and payload (valid CRCs,
/// so the decoder reaches the text).
fn png_with_text(kind: u8, keyword: &[u8], payload: &[u8]) -> Vec<u8> {
    use crate::inputs::chunk;
    use std::io::Write;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&1u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    png.extend(chunk(b"IHDR", &ihdr));
    let mut data = keyword.to_vec();
    data.push(0);
    let tag = match kind % 3 {
        0 => b"tEXt",
        1 => b"zTXt",
        _ => b"iTXt",
    };
    data.extend_from_slice(payload);
    png.extend(chunk(tag, &data));
    let mut idat = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    idat.write_all(&[0, 0]).expect("in memory");
    png.extend(chunk(b"IDAT", &idat.finish().expect("in memory")));
    png.extend(chunk(b"IEND", &[]));
    png
}

#[test]
fn figure_text_chunks_never_panic() {
    use std::io::Write;
    let keyword = prop_oneof![
        4 => Just(b"gradscope-config".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..20),
    ];
    // payloads: raw bytes, or a zlib stream of a (structured) config string behind the chunk's header
    let zlib = |s: String| {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(s.as_bytes()).expect("in memory");
        z.finish().expect("in memory")
    };
    let payload = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        (
            prop::collection::vec(any::<u8>(), 0..4),
            structured_config_string()
        )
            .prop_map(move |(header, s)| [header, zlib(s)].concat()),
        (
            prop::collection::vec(any::<u8>(), 0..4),
            structured_config_string()
        )
            .prop_map(|(header, s)| [header, s.into_bytes()].concat()),
    ];
    runner(PNG_CASES)
        .run(
            &(any::<u8>(), keyword, payload),
            |(kind, keyword, payload)| {
                let png = png_with_text(kind, &keyword, &payload);
                if let Ok(cfg) = config_from_png_bytes(&png) {
                    check_accepted(&cfg)?;
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

/// GIF headers followed by generated blocks (comment extensions with and without the config prefix, other
/// extensions, sub-block lengths that run past the end, a frame, garbage): the GIF reader of `--from-figure`
/// never panics, and what it accepts is a valid config.
#[test]
fn gif_comments_never_panic_and_yield_valid_configs() {
    let block = prop_oneof![
        // a comment: maybe the config prefix, then a structured config string or raw bytes, in sub-blocks
        6 => (
            any::<bool>(),
            prop_oneof![
                structured_config_string().prop_map(String::into_bytes),
                prop::collection::vec(any::<u8>(), 0..300),
            ]
        )
            .prop_map(|(prefix, body)| {
                let text = if prefix {
                    [
                        gradscope::viz::offscreen::GIF_CONFIG_PREFIX.as_bytes(),
                        &body,
                    ]
                    .concat()
                } else {
                    body
                };
                let mut out = vec![0x21, 0xFE];
                for chunk in text.chunks(255) {
                    out.push(chunk.len() as u8);
                    out.extend_from_slice(chunk);
                }
                out.push(0);
                out
            }),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => Just(vec![0x2C]),
        1 => Just(vec![0x3B]),
    ];
    let accepted = std::sync::atomic::AtomicUsize::new(0);
    runner(PNG_CASES)
        .run(
            &(any::<u8>(), prop::collection::vec(block, 0..4)),
            |(flags, blocks)| {
                let mut gif = b"GIF89a".to_vec();
                gif.extend_from_slice(&[16, 0, 16, 0, flags, 0, 0]);
                if flags & 0x80 != 0 {
                    gif.extend(std::iter::repeat_n(0u8, 3 << ((flags & 7) + 1)));
                }
                for b in blocks {
                    gif.extend(b);
                }
                if let Ok(cfg) = config_from_png_bytes(&gif) {
                    check_accepted(&cfg)?;
                    accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let accepted = accepted.into_inner();
    println!("{accepted} of {PNG_CASES} generated GIFs carried a config");
    assert!(
        accepted > 100,
        "the generator reaches the accepting path ({accepted})"
    );
}
