//! WGSL sources (`shaders/*.wgsl`) and the pipelines built from them, once per device.

use super::layout::Kernel;

/// Shared bindings, parameter record and activations, prepended to every kernel.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// Every kernel source file: (file name, text).
pub const KERNEL_FILES: &[(&str, &str)] = &[
    ("mem.wgsl", include_str!("../../shaders/mem.wgsl")),
    ("mem4.wgsl", include_str!("../../shaders/mem4.wgsl")),
    (
        "matmul_common.wgsl",
        include_str!("../../shaders/matmul_common.wgsl"),
    ),
    ("matmul.wgsl", include_str!("../../shaders/matmul.wgsl")),
    (
        "matmul_wide.wgsl",
        include_str!("../../shaders/matmul_wide.wgsl"),
    ),
    (
        "matmul_small.wgsl",
        include_str!("../../shaders/matmul_small.wgsl"),
    ),
    (
        "colreduce.wgsl",
        include_str!("../../shaders/colreduce.wgsl"),
    ),
    (
        "colreduce4.wgsl",
        include_str!("../../shaders/colreduce4.wgsl"),
    ),
    ("loss.wgsl", include_str!("../../shaders/loss.wgsl")),
    ("reduce.wgsl", include_str!("../../shaders/reduce.wgsl")),
    ("update.wgsl", include_str!("../../shaders/update.wgsl")),
    ("hist.wgsl", include_str!("../../shaders/hist.wgsl")),
    (
        "stack_common.wgsl",
        include_str!("../../shaders/stack_common.wgsl"),
    ),
    ("stack.wgsl", include_str!("../../shaders/stack.wgsl")),
    ("wgrad.wgsl", include_str!("../../shaders/wgrad.wgsl")),
    (
        "stack_rows.wgsl",
        include_str!("../../shaders/stack_rows.wgsl"),
    ),
    ("gated.wgsl", include_str!("../../shaders/gated.wgsl")),
    (
        "gated_rows.wgsl",
        include_str!("../../shaders/gated_rows.wgsl"),
    ),
    ("normed.wgsl", include_str!("../../shaders/normed.wgsl")),
    ("lanes.wgsl", include_str!("../../shaders/lanes.wgsl")),
    (
        "lanes_off.wgsl",
        include_str!("../../shaders/lanes_off.wgsl"),
    ),
];

/// Module label, its kernel files (concatenated) and the constants prepended to them: one pipeline per
/// matmul tile size.
pub const MODULES: &[(&str, &[&str], &str)] = &[
    (
        "matmul16",
        &["mem.wgsl", "matmul_common.wgsl", "matmul_small.wgsl"],
        "",
    ),
    (
        "matmul32",
        &["mem.wgsl", "matmul_common.wgsl", "matmul.wgsl"],
        "const TILE: u32 = 32u;\nconst TK: u32 = 16u;\n",
    ),
    (
        "matmul64",
        &["mem.wgsl", "matmul_common.wgsl", "matmul.wgsl"],
        "const TILE: u32 = 64u;\nconst TK: u32 = 16u;\n",
    ),
    (
        "matmul128",
        &["mem4.wgsl", "matmul_common.wgsl", "matmul_wide.wgsl"],
        "const TILE: u32 = 128u;\nconst TK: u32 = 8u;\n",
    ),
    (
        "colreduce",
        &["mem.wgsl", "colreduce.wgsl"],
        "const SLICES: u32 = 16u;\n",
    ),
    (
        "colreduce1",
        &["mem.wgsl", "colreduce.wgsl"],
        "const SLICES: u32 = 1u;\n",
    ),
    ("colreduce4", &["mem4.wgsl", "colreduce4.wgsl"], ""),
    ("loss", &["mem.wgsl", "lanes.wgsl", "loss.wgsl"], ""),
    ("reduce", &["mem.wgsl", "lanes.wgsl", "reduce.wgsl"], ""),
    ("reduce4", &["mem4.wgsl", "lanes.wgsl", "reduce.wgsl"], ""),
    ("update4", &["mem4.wgsl", "lanes.wgsl", "update.wgsl"], ""),
    ("hist", &["mem.wgsl", "hist.wgsl"], ""),
    (
        "stack",
        &["mem.wgsl", "stack_common.wgsl", "stack.wgsl"],
        "",
    ),
    ("wgrad", &["mem.wgsl", "lanes.wgsl", "wgrad.wgsl"], ""),
    ("wgrad4", &["mem4.wgsl", "lanes.wgsl", "wgrad.wgsl"], ""),
    (
        "stack_rows",
        &[
            "mem4.wgsl",
            "lanes.wgsl",
            "stack_common.wgsl",
            "stack_rows.wgsl",
        ],
        "const RPI: u32 = 4u;\nconst ROW16: bool = false;\n",
    ),
    (
        "stack_rows1",
        &[
            "mem4.wgsl",
            "lanes.wgsl",
            "stack_common.wgsl",
            "stack_rows.wgsl",
            "gated_rows.wgsl",
        ],
        "const RPI: u32 = 1u;\nconst ROW16: bool = true;\n",
    ),
    (
        "stack_rows2",
        &[
            "mem4.wgsl",
            "lanes.wgsl",
            "stack_common.wgsl",
            "stack_rows.wgsl",
        ],
        "const RPI: u32 = 2u;\nconst ROW16: bool = true;\n",
    ),
    (
        "stack_rows4",
        &[
            "mem4.wgsl",
            "lanes.wgsl",
            "stack_common.wgsl",
            "stack_rows.wgsl",
        ],
        "const RPI: u32 = 4u;\nconst ROW16: bool = true;\n",
    ),
    ("gated", &["mem.wgsl", "lanes.wgsl", "gated.wgsl"], ""),
    ("gated4", &["mem4.wgsl", "lanes.wgsl", "gated.wgsl"], ""),
    (
        "normed",
        &["mem.wgsl", "stack_common.wgsl", "normed.wgsl"],
        "",
    ),
];

/// The file that lets a module's kernels share loads across the lanes of a subgroup (subgroup shuffles);
/// modules list it, and devices without [`lane_sharing`] compile [`LANES_OFF`] in its place.
pub const LANES_ON: &str = "lanes.wgsl";
/// The portable stand-in for [`LANES_ON`]: no sharing, no subgroup operations.
pub const LANES_OFF: &str = "lanes_off.wgsl";

/// The subgroup width [`LANES_ON`] is written for (its `LANES`; a test checks the two agree): the
/// per-row layout's room for the weight gradient's partial sums per subgroup follows it.
pub const SUBGROUP_LANES: u32 = 8;

/// The environment variable that turns the sharing of loads across lanes off (`off`) where a device would
/// use it (see [`lane_sharing`]), e.g. to time both.
pub const LANES_ENV: &str = "GRADSCOPE_LANES";

/// Whether a device compiles [`LANES_ON`]: a CPU adapter (lavapipe) with subgroups of exactly 8 lanes.
/// lavapipe runs every storage load at a varying address as a loop over the SIMD lanes, so where the 8
/// lanes of a subgroup need the same values (the weights in the per-row kernels, the columns of a weight
/// gradient tile) one load per lane and a register permute replace eight loads per lane. The kernels rely
/// on a workgroup's invocations filling its subgroups in order, 8 at a time, as lavapipe's SIMD vectors do;
/// a GPU gains nothing from it (its loads are not loops) and keeps the portable modules.
pub fn lane_sharing(info: &wgpu::AdapterInfo, features: wgpu::Features) -> bool {
    cpu_build(info)
        && features.contains(wgpu::Features::SUBGROUP)
        && info.subgroup_min_size == SUBGROUP_LANES
        && info.subgroup_max_size == SUBGROUP_LANES
        && !turned_off(LANES_ENV)
}

/// A CPU adapter in a native build: where the CPU adapters' kernel variants apply.
fn cpu_build(info: &wgpu::AdapterInfo) -> bool {
    cfg!(not(target_arch = "wasm32")) && info.device_type == wgpu::DeviceType::Cpu
}

/// Whether the environment variable `var` says `off`.
fn turned_off(var: &str) -> bool {
    matches!(std::env::var(var).as_deref().map(str::trim), Ok("off"))
}

/// The environment variable that turns off the pipelines built per activation (`off`) where a device
/// would use them (see [`KernelBuild::for_device`]), e.g. to time both.
pub const PER_ACTIVATION_ENV: &str = "GRADSCOPE_PER_ACTIVATION";

/// The pipeline-overridable constant (common.wgsl `ACT_FIXED`) that fixes the activation a pipeline
/// evaluates.
pub const ACT_FIXED: &str = "ACT_FIXED";

/// How a device's kernels are built: the portable modules, or the CPU adapters' variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelBuild {
    /// Loads shared across the lanes of a subgroup ([`lane_sharing`]).
    pub lanes: bool,
    /// A pipeline per activation for the kernels that evaluate one ([`Pipelines::get_for`]): lavapipe
    /// runs every case of a switch, whatever the value, so the generic kernels evaluate all nine
    /// activations (and their slopes) for every value.
    pub per_activation: bool,
}

impl KernelBuild {
    /// The portable build: no subgroup operations, the activation from the dispatch record.
    pub const PORTABLE: KernelBuild = KernelBuild {
        lanes: false,
        per_activation: false,
    };

    /// What suits a device: on a CPU adapter (native builds) a pipeline per activation, and loads shared
    /// across lanes where [`lane_sharing`] allows; the portable build elsewhere. [`LANES_ENV`] and
    /// [`PER_ACTIVATION_ENV`] set to `off` turn either off.
    pub fn for_device(info: &wgpu::AdapterInfo, features: wgpu::Features) -> KernelBuild {
        KernelBuild {
            lanes: lane_sharing(info, features),
            per_activation: cpu_build(info) && !turned_off(PER_ACTIVATION_ENV),
        }
    }
}

/// Whether a kernel evaluates the activation (its module calls common.wgsl's `net_act`): the kernels
/// [`Pipelines::get_for`] builds per activation.
pub fn uses_activation(k: Kernel) -> bool {
    let (label, _) = kernel_entry(k);
    MODULES
        .iter()
        .find(|(l, _, _)| *l == label)
        .is_some_and(|(_, files, _)| {
            files.iter().any(|f| {
                KERNEL_FILES
                    .iter()
                    .any(|(name, text)| name == f && text.contains("net_act()"))
            })
        })
}

/// The full WGSL source of a module: common.wgsl, the module's constants, then its kernel files, with
/// [`LANES_OFF`] in place of [`LANES_ON`] unless `lanes`.
pub fn module_source(label: &str, lanes: bool) -> Option<String> {
    let (_, files, header) = MODULES.iter().find(|(l, _, _)| *l == label)?;
    let mut src = format!("{COMMON}\n{header}\n");
    for &file in *files {
        let file = if file == LANES_ON && !lanes {
            LANES_OFF
        } else {
            file
        };
        src.push_str(KERNEL_FILES.iter().find(|(f, _)| *f == file)?.1);
        src.push('\n');
    }
    Some(src)
}

/// A fingerprint of every WGSL source of this build (stable within a build and toolchain): the tuner's
/// cached choices belong to the kernels they were measured on.
pub fn kernels_revision() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    COMMON.hash(&mut h);
    KERNEL_FILES.hash(&mut h);
    h.finish()
}

/// Module label and entry point of a kernel.
pub fn kernel_entry(kernel: Kernel) -> (&'static str, &'static str) {
    match kernel {
        Kernel::Matmul16 => ("matmul16", "main"),
        Kernel::Matmul32 => ("matmul32", "main"),
        Kernel::Matmul64 => ("matmul64", "main"),
        Kernel::Matmul128 => ("matmul128", "main"),
        Kernel::ColReduce => ("colreduce", "main"),
        Kernel::ColReduceRows => ("colreduce1", "main"),
        Kernel::ColReduceRows4 => ("colreduce4", "rows4"),
        Kernel::ColReduceRows4Packed => ("colreduce4", "rows4_packed"),
        Kernel::ColReduceRows4Bare => ("colreduce4", "rows4_bare"),
        Kernel::ColReduceRows4PackedBare => ("colreduce4", "rows4_packed_bare"),
        Kernel::Loss => ("loss", "main"),
        Kernel::LayerStats => ("reduce", "layer_stats"),
        Kernel::SumsqPartial => ("reduce4", "sumsq_partial"),
        Kernel::Update => ("update4", "main"),
        Kernel::UpdateNorms => ("update4", "update_norms"),
        Kernel::UpdateBare => ("update4", "update_bare"),
        Kernel::Histograms => ("hist", "histograms"),
        Kernel::StackForward => ("stack", "stack_forward"),
        Kernel::StackBackward => ("stack", "stack_backward"),
        Kernel::WeightGrads => ("wgrad", "main"),
        Kernel::WeightGradsBare => ("wgrad", "main_bare"),
        Kernel::WeightGradsDirect => ("wgrad4", "main_direct"),
        Kernel::WeightGradsDirectBare => ("wgrad4", "main_direct_bare"),
        Kernel::WeightGradSum => ("wgrad", "wgrad_sum"),
        Kernel::RowsForward => ("stack_rows", "rows_forward"),
        Kernel::RowsBackward => ("stack_rows", "rows_backward"),
        Kernel::RowsForward1 => ("stack_rows1", "rows_forward"),
        Kernel::RowsBackward1 => ("stack_rows1", "rows_backward"),
        Kernel::RowsForward2 => ("stack_rows2", "rows_forward"),
        Kernel::RowsBackward2 => ("stack_rows2", "rows_backward"),
        Kernel::RowsForward4 => ("stack_rows4", "rows_forward"),
        Kernel::RowsBackward4 => ("stack_rows4", "rows_backward"),
        // the vec4 view where the loads are many and the stores few; a scalar store through it is a
        // read-modify-write of the vec4 on lavapipe, which made gated_stats 10x slower there
        Kernel::GatedForward => ("gated4", "gated_forward"),
        Kernel::GatedBackward => ("gated4", "gated_backward"),
        Kernel::GatedStats => ("gated", "gated_stats"),
        Kernel::GatedStatsBare => ("gated", "gated_stats_bare"),
        Kernel::GatedWgrad => ("gated4", "gated_wgrad"),
        Kernel::GatedRowsForward => ("stack_rows1", "gated_rows_forward"),
        Kernel::GatedRowsBackward => ("stack_rows1", "gated_rows_backward"),
        Kernel::GatedWgradRows => ("stack_rows1", "gated_wgrad_rows"),
        Kernel::GatedWgradRowsBare => ("stack_rows1", "gated_wgrad_rows_bare"),
        Kernel::GatedStatsRows => ("gated", "gated_stats_rows"),
        Kernel::GatedStatsRowsBare => ("gated", "gated_stats_rows_bare"),
        Kernel::NormedForward => ("normed", "normed_forward"),
        Kernel::NormedBackward => ("normed", "normed_backward"),
        Kernel::NormedStats => ("normed", "normed_stats"),
        Kernel::NormedStatsBare => ("normed", "normed_stats_bare"),
        Kernel::NormedWgrad => ("normed", "normed_wgrad"),
        Kernel::NormedWgradBare => ("normed", "normed_wgrad_bare"),
    }
}

/// The bind group layout every kernel shares: the f32 state, the atomic maxima, the parameter record.
pub fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = |binding| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only: false },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("gradscope"),
        entries: &[
            storage(0),
            storage(1),
            wgpu::BindGroupLayoutEntry {
                binding: 2,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(std::mem::size_of::<
                        super::layout::DispatchParams,
                    >() as u64),
                },
                count: None,
            },
        ],
    })
}

/// The environment variable that chooses the shader modules' runtime checks: `on` (naga's bounds and
/// integer-division checks, the default of debug builds) or `off` (trusted modules without them, the
/// default of release builds).
pub const SHADER_CHECKS_ENV: &str = "GRADSCOPE_SHADER_CHECKS";

/// Whether the kernels are compiled with wgpu's runtime checks: in debug builds (so `cargo test` runs the
/// checked kernels) and in the browser, unless [`SHADER_CHECKS_ENV`] says otherwise. Release builds compile
/// trusted modules with [`TRUSTED_CHECKS`].
pub fn shader_checks_on() -> bool {
    match std::env::var(SHADER_CHECKS_ENV).as_deref().map(str::trim) {
        Ok("on") => true,
        Ok("off") => false,
        _ => cfg!(debug_assertions) || cfg!(target_arch = "wasm32"),
    }
}

/// The checks trusted modules keep: naga's loop bound only. Measured on lavapipe (`bench --suite quick`,
/// alternating runs, minimum of five): without bounds and division checks the steps took 96-98% of the
/// checked time, within the noise; without the loop bound too, the LSTM's took 1.6x longer.
pub const TRUSTED_CHECKS: wgpu::ShaderRuntimeChecks = wgpu::ShaderRuntimeChecks {
    force_loop_bounding: true,
    ..wgpu::ShaderRuntimeChecks::unchecked()
};

/// What building a kernel's pipeline later takes: the pipelines per activation are built when a net
/// first needs them.
struct Builder {
    device: wgpu::Device,
    queue: wgpu::Queue,
    layout: wgpu::PipelineLayout,
    modules: Vec<(&'static str, wgpu::ShaderModule)>,
}

impl Builder {
    /// The pipeline of kernel `k`, its activation fixed to `act` if given.
    fn pipeline(&self, k: Kernel, act: Option<u32>) -> wgpu::ComputePipeline {
        let (file, entry) = kernel_entry(k);
        let module = &self
            .modules
            .iter()
            .find(|(f, _)| *f == file)
            .expect("every kernel file is compiled")
            .1;
        let constants = act.map(|a| [(ACT_FIXED, f64::from(a))]);
        self.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&self.layout),
                module,
                entry_point: Some(entry),
                // every kernel writes its workgroup memory before reading it (tiles, reduction arrays;
                // the stack kernels' workgroup atomics are stored before a barrier), so the zero-fill
                // wgpu would add at the start of each workgroup is skipped
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: constants.as_ref().map_or(&[], |c| c.as_slice()),
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            })
    }
}

/// One compute pipeline per kernel, and on CPU adapters one per (kernel, activation) for the kernels
/// that evaluate the activation, each built the first time a dispatch asks for it: a net needs 7-10 of the
/// 37 kernels, and on lavapipe every pipeline is an LLVM compile (building them all at start-up took most
/// of a launch).
pub struct Pipelines {
    /// The shared layout.
    pub bind_group_layout: wgpu::BindGroupLayout,
    build: KernelBuild,
    builder: Builder,
    /// Settle lavapipe's uniform inlining on each pipeline as it is built ([`Pipelines::settle`]): the
    /// pipeline that takes the bind group's first dispatch there.
    settle: Option<wgpu::ComputePipeline>,
    /// The pipelines built so far: (kernel, activation or NONE for the generic one, pipeline).
    built: std::sync::Mutex<Vec<(Kernel, u32, wgpu::ComputePipeline)>>,
}

impl Pipelines {
    /// Compiles every kernel file as `build` says (lanes: the device must have [`wgpu::Features::SUBGROUP`]);
    /// the pipelines wait for their first dispatch ([`Pipelines::get_for`]). `settle`: settle lavapipe's
    /// uniform inlining on each pipeline as it is built (software adapters, native builds).
    pub fn new(
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        build: KernelBuild,
        settle: bool,
    ) -> Pipelines {
        let lanes = build.lanes;
        let bind_group_layout = bind_group_layout(device);
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("gradscope"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let checked = shader_checks_on();
        let mut modules = Vec::new();
        for (label, _, _) in MODULES {
            if !Kernel::ALL
                .iter()
                .any(|&k| k.built() && kernel_entry(k).0 == *label)
            {
                continue;
            }
            let src = module_source(label, lanes).unwrap_or_default();
            let desc = wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(src.into()),
            };
            let module = if checked {
                device.create_shader_module(desc)
            } else {
                // SAFETY: the kernels index their buffers and workgroup arrays within bounds and divide by
                // non-zero constants or guarded values; the checked modules (debug builds, and so the test
                // suite `cargo test` runs) and the trusted ones (release builds) pass the same tests, and
                // the loop bound naga adds is kept.
                #[allow(unsafe_code)]
                unsafe {
                    device.create_shader_module_trusted(desc, TRUSTED_CHECKS)
                }
            };
            modules.push((*label, module));
        }
        let settle = settle.then(|| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("gradscope settle"),
                source: wgpu::ShaderSource::Wgsl(
                    "@compute @workgroup_size(1) fn first() {}".into(),
                ),
            });
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some("gradscope settle"),
                layout: Some(&layout),
                module: &module,
                entry_point: Some("first"),
                compilation_options: Default::default(),
                cache: None,
            })
        });
        Pipelines {
            bind_group_layout,
            build,
            builder: Builder {
                device: device.clone(),
                queue: queue.clone(),
                layout,
                modules,
            },
            settle,
            built: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// How the kernels were built.
    pub fn build(&self) -> KernelBuild {
        self.build
    }

    /// The pipeline a dispatch of kernel `k` for nets of activation `act` runs, built (and settled) at
    /// its first request (an engine asks for its dispatches' pipelines when it writes its records, so a
    /// step never compiles): on a build with a pipeline per activation, the one with `act` fixed; else
    /// (and for `NONE`) the kernel's generic one. `act` is `NONE` for a kernel that does not evaluate the
    /// activation (the engine's records say so once, [`uses_activation`], rather than every dispatch of
    /// every step here). The lock is not held while a pipeline compiles, so other engines of the device
    /// (the tuner's candidates, tests in parallel) are not held up by it.
    pub fn get_for(&self, k: Kernel, act: u32) -> wgpu::ComputePipeline {
        let none = super::layout::NONE;
        let key = if self.build.per_activation { act } else { none };
        let find = || {
            self.built
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .find(|(kk, a, _)| *kk == k && *a == key)
                .map(|(_, _, p)| p.clone())
        };
        if let Some(p) = find() {
            return p;
        }
        let p = self.builder.pipeline(k, (key != none).then_some(key));
        if let Some(first) = &self.settle {
            self.settle(first, &p);
        }
        let mut built = self
            .built
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // another thread may have built it meanwhile: every caller then runs the one kept
        if let Some((_, _, kept)) = built.iter().find(|(kk, a, _)| *kk == k && *a == key) {
            return kept.clone();
        }
        built.push((k, key, p.clone()));
        p
    }

    /// Builds every kernel's generic pipeline this build compiles (a test's check that each one builds on
    /// the device; a net builds only the ones it dispatches).
    pub fn build_all(&self) {
        for &k in Kernel::ALL.iter().filter(|k| k.built()) {
            self.get_for(k, super::layout::NONE);
        }
    }

    /// The bind group of one network: its state (`mem`), its maxima and its dispatch records (each
    /// dispatch selects its record with a dynamic offset).
    pub fn bind_group(
        &self,
        device: &wgpu::Device,
        mem: &wgpu::Buffer,
        maxes: &wgpu::Buffer,
        records: &wgpu::Buffer,
    ) -> wgpu::BindGroup {
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("gradscope"),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: mem.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: maxes.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: records,
                        offset: 0,
                        size: wgpu::BufferSize::new(
                            std::mem::size_of::<super::layout::DispatchParams>() as u64,
                        ),
                    }),
                },
            ],
        })
    }

    /// Settles lavapipe's uniform inlining on `pipeline` before any network runs it: one empty dispatch
    /// (no workgroups) of it, after one of `first` (a kernel with no uniforms) has taken the bind group's
    /// uniform buffer (docs/DESIGN.md, "Uniform inlining on lavapipe"). lavapipe decides at a kernel's
    /// first dispatch whether to keep inlining the record's values into it, recompiling it at every later
    /// dispatch; with the sizes of a small net first (a loop it can unroll) it kept doing so, 10-40x slower
    /// steps for the rest of the process, so which net trained first set every later step time. It reads
    /// the values only where the uniform buffer was bound since the last dispatch: after `first`, it
    /// inlines nothing, finds nothing changed, and stops for good. (Settled on its own, with the record's
    /// values read, a per-activation `rows_backward` fell in even with the large sizes below.)
    fn settle(&self, first: &wgpu::ComputePipeline, pipeline: &wgpu::ComputePipeline) {
        use wgpu::util::DeviceExt;
        let (device, queue) = (&self.builder.device, &self.builder.queue);
        let big = 1u32 << 20;
        let mut rec = super::layout::DispatchParams::none();
        for v in [
            &mut rec.m,
            &mut rec.n,
            &mut rec.k,
            &mut rec.count,
            &mut rec.rows,
            &mut rec.layers,
            &mut rec.d_out,
            &mut rec.d_in,
            &mut rec.l_to,
            &mut rec.splits,
            &mut rec.zn,
        ] {
            *v = big;
        }
        rec.l_from = 1;
        let record = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("gradscope settle record"),
            contents: bytemuck::bytes_of(&rec),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let scratch = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: 256,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        };
        let (mem, maxes) = (
            scratch("gradscope settle state"),
            scratch("gradscope settle maxima"),
        );
        let bind_group = self.bind_group(device, &mem, &maxes, &record);
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("gradscope settle"),
        });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("gradscope settle"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &bind_group, &[0]);
            for p in [first, pipeline] {
                pass.set_pipeline(p);
                pass.dispatch_workgroups(0, 0, 0);
            }
        }
        queue.submit([enc.finish()]);
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
    }
}
