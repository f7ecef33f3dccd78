//! Every WGSL module parses and validates with naga (no GPU needed), and every kernel's entry point exists.

use gradscope::gpu::layout::Kernel;
use gradscope::gpu::shaders::{KERNEL_FILES, MODULES, kernel_entry, module_source};
use wgpu::naga;

#[test]
fn every_shader_module_validates() {
    for (label, _, _) in MODULES {
        let src = module_source(label).expect("module exists");
        let module = naga::front::wgsl::parse_str(&src)
            .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(&src)));
        let mut validator = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        );
        validator
            .validate(&module)
            .unwrap_or_else(|e| panic!("{label}: {}", e.emit_to_string(&src)));
    }
}

#[test]
fn every_kernel_file_is_used_and_every_entry_point_exists() {
    for (file, _) in KERNEL_FILES {
        assert!(
            MODULES.iter().any(|(_, files, _)| files.contains(file)),
            "{file} is not built into any module"
        );
    }
    for k in Kernel::ALL {
        let (label, entry) = kernel_entry(k);
        let src = module_source(label).expect("module exists");
        let module = naga::front::wgsl::parse_str(&src).expect("parses");
        assert!(
            module.entry_points.iter().any(|e| e.name == entry),
            "{k:?}: no entry point {entry} in {label}"
        );
    }
}
