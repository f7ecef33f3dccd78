//! Adapter and device selection, shared by the CLI, the tests and the window: primary backends only
//! (Vulkan/Metal/DX12; GL lacks compute), `--adapter NAME` / `WGPU_ADAPTER_NAME`, `--backend`, and a
//! preference for discrete, then integrated, then virtual, then software adapters.

/// Environment variable naming the adapter to use (a case-insensitive substring of its name).
pub const ADAPTER_ENV: &str = "WGPU_ADAPTER_NAME";

/// The variable through which Mesa's software drivers (llvmpipe, and lavapipe, the Vulkan driver on
/// machines without a GPU) take their number of worker threads; read once, when the driver loads.
pub const LAVAPIPE_THREADS_ENV: &str = "LP_NUM_THREADS";

/// Worker threads per CPU core that gradscope asks of lavapipe where the user has not chosen.
///
/// lavapipe splits each dispatch's workgroups into one contiguous share per worker thread, handed out
/// once, and wakes every worker for every dispatch, however few workgroups it has. Each wake-up is a
/// thread switch, and on a virtual machine one that may wait for the host, so a thread per core makes
/// the fewest hand-overs: on a 2-core VM whose cores ran evenly (`bench --suite quick`, ten alternating
/// runs, minimum / median ms per step, 1 / 2 threads per core) S-quick 0.48 / 0.75 against 0.74 / 0.93,
/// M-quick 1.95 / 2.61 against 2.57 / 3.07, the default preset as fast or faster; the LSTM and
/// LayerNorm lessons, whose kernels are heavy and few, lost 10-20%. Two per core had won on an
/// earlier VM whose two cores ran unevenly, where a share left on the slow core held up each dispatch
/// (M-quick 6.2 -> 3.8 ms then); `LP_NUM_THREADS` still overrides. DESIGN.md, "lavapipe's threads".
pub const LAVAPIPE_THREADS_PER_CORE: usize = 1;

/// The `LP_NUM_THREADS` value gradscope starts lavapipe with: [`LAVAPIPE_THREADS_PER_CORE`] per core,
/// or `None` where the user set the variable (theirs stands) or the machine has one core.
pub fn lavapipe_threads_default() -> Option<String> {
    if std::env::var_os(LAVAPIPE_THREADS_ENV).is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores > 1).then(|| (LAVAPIPE_THREADS_PER_CORE * cores).to_string())
}

/// lavapipe's worker threads (`LP_NUM_THREADS`, where set to a number) when `info` is lavapipe (Mesa's
/// llvmpipe as a Vulkan device), else `None`.
pub fn lavapipe_threads(info: &wgpu::AdapterInfo) -> Option<u32> {
    let lavapipe = info.device_type == wgpu::DeviceType::Cpu && info.name.contains("llvmpipe");
    if !lavapipe {
        return None;
    }
    std::env::var(LAVAPIPE_THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// What the user asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// Part of the adapter name (overrides [`ADAPTER_ENV`]).
    pub adapter: Option<String>,
    /// Restrict to one backend.
    pub backend: Option<wgpu::Backend>,
}

impl GpuOptions {
    /// The backends to enumerate.
    pub fn backends(&self) -> wgpu::Backends {
        match self.backend {
            Some(wgpu::Backend::Vulkan) => wgpu::Backends::VULKAN,
            Some(wgpu::Backend::Metal) => wgpu::Backends::METAL,
            Some(wgpu::Backend::Dx12) => wgpu::Backends::DX12,
            _ => wgpu::Backends::PRIMARY,
        }
    }

    /// The adapter name filter: the option, else the environment variable.
    pub fn name_filter(&self) -> Option<String> {
        self.adapter
            .clone()
            .or_else(|| std::env::var(ADAPTER_ENV).ok())
            .filter(|s| !s.trim().is_empty())
    }

    /// The instance descriptor for these options.
    pub fn instance_descriptor(&self) -> wgpu::InstanceDescriptor {
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = self.backends();
        desc
    }
}

/// No usable GPU, or the device could not be created.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// No adapter with compute shaders on a primary backend.
    #[error(
        "no usable GPU adapter (Vulkan, Metal or DX12 with compute shaders) was found; adapters seen: {seen}. \
         On Linux without a GPU, install the software Vulkan driver (apt-get install mesa-vulkan-drivers), \
         or use --engine cpu for the CPU reference"
    )]
    NoAdapter {
        /// Every adapter seen, with backend and type.
        seen: String,
    },
    /// The name filter matched nothing.
    #[error("no GPU adapter matches '{name}'; adapters seen: {seen} (run `gradscope adapters`)")]
    UnknownAdapter {
        /// The filter.
        name: String,
        /// Every adapter seen.
        seen: String,
    },
    /// The device request failed.
    #[error("could not open the GPU device on {adapter}: {message}")]
    Device {
        /// Adapter name.
        adapter: String,
        /// The driver's message.
        message: String,
    },
}

/// A one-line description of an adapter: `name (backend, type)`.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    if info.name.trim().is_empty() {
        // browsers do not name their adapter
        return format!(
            "unnamed adapter ({:?}, {:?})",
            info.backend, info.device_type
        );
    }
    format!("{} ({:?}, {:?})", info.name, info.backend, info.device_type)
}

/// `" · N lavapipe threads"` for [`lavapipe_threads`], else nothing: appended to the adapter in
/// `gradscope adapters` and `bench` (with no worker threads lavapipe runs the kernels on the submitting
/// thread).
pub fn threads_text(threads: Option<u32>) -> String {
    let Some(n) = threads else {
        return String::new();
    };
    if n == 0 {
        " · lavapipe without worker threads".to_string()
    } else {
        format!(" · {n} lavapipe threads")
    }
}

fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

fn seen_list(adapters: &[wgpu::Adapter]) -> String {
    if adapters.is_empty() {
        "none".to_string()
    } else {
        adapters
            .iter()
            .map(|a| describe(&a.get_info()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Picks an adapter: compute-capable, on a primary backend, matching the name filter, best type first.
/// The same function serves eframe's `native_adapter_selector`.
pub fn choose_adapter(
    adapters: &[wgpu::Adapter],
    name: Option<&str>,
) -> Result<wgpu::Adapter, GpuError> {
    let usable: Vec<&wgpu::Adapter> = adapters
        .iter()
        .filter(|a| {
            let info = a.get_info();
            matches!(
                info.backend,
                wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12
            ) && a
                .get_downlevel_capabilities()
                .flags
                .contains(wgpu::DownlevelFlags::COMPUTE_SHADERS)
        })
        .collect();
    let candidates: Vec<&wgpu::Adapter> = match name {
        Some(n) => {
            let n = n.to_lowercase();
            let m: Vec<_> = usable
                .into_iter()
                .filter(|a| a.get_info().name.to_lowercase().contains(&n))
                .collect();
            if m.is_empty() {
                return Err(GpuError::UnknownAdapter {
                    name: n,
                    seen: seen_list(adapters),
                });
            }
            m
        }
        None => usable,
    };
    candidates
        .into_iter()
        .min_by_key(|a| rank(a.get_info().device_type))
        .cloned()
        .ok_or_else(|| GpuError::NoAdapter {
            seen: seen_list(adapters),
        })
}

/// Every adapter wgpu sees on the chosen backends.
pub fn list_adapters(opts: &GpuOptions) -> Vec<wgpu::AdapterInfo> {
    let instance = wgpu::Instance::new(opts.instance_descriptor());
    pollster::block_on(instance.enumerate_adapters(opts.backends()))
        .iter()
        .map(wgpu::Adapter::get_info)
        .collect()
}

/// The features gradscope uses where the adapter has them (timestamps for `bench`; subgroups for the
/// CPU adapters' sharing of loads across lanes, `shaders::lane_sharing`).
pub fn wanted_features(adapter: &wgpu::Adapter) -> wgpu::Features {
    adapter.features()
        & (wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS
            | wgpu::Features::SUBGROUP)
}

/// The device descriptor: the adapter's own limits (big nets need big storage buffers).
pub fn device_descriptor(adapter: &wgpu::Adapter) -> wgpu::DeviceDescriptor<'static> {
    wgpu::DeviceDescriptor {
        label: Some("gradscope"),
        required_features: wanted_features(adapter),
        required_limits: adapter.limits(),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    }
}

/// An open device with its queue and adapter description.
pub struct Gpu {
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// The adapter it was opened on.
    pub info: wgpu::AdapterInfo,
}

impl Gpu {
    /// Opens the best adapter for `opts`.
    pub fn new(opts: &GpuOptions) -> Result<Gpu, GpuError> {
        let instance = wgpu::Instance::new(opts.instance_descriptor());
        let adapters = pollster::block_on(instance.enumerate_adapters(opts.backends()));
        let adapter = choose_adapter(&adapters, opts.name_filter().as_deref())?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(
            adapter.request_device(&device_descriptor(&adapter)),
        )
        .map_err(|e| GpuError::Device {
            adapter: describe(&info),
            message: e.to_string(),
        })?;
        Ok(Gpu {
            device,
            queue,
            info,
        })
    }

    /// `name (backend, type)`.
    pub fn describe(&self) -> String {
        describe(&self.info)
    }

    /// Whether this is a software rasterizer (lavapipe, WARP, SwiftShader).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}
