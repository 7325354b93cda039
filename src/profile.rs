//! Hardware profiles: bundled JSON5 files (embedded), user files checked against the generated schema,
//! and `auto` (this host, via `hardware`). Also the memory budget a profile allows.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::Host;
use crate::size::{ByteSize, GIB, human};

/// One hardware profile. Sizes are bytes or strings like `"8GiB"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The bundled name, the file's stem, or `auto`; set by the loader when absent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Total system memory (RAM; on Apple silicon the unified memory).
    pub memory: ByteSize,
    /// Memory free right now, when known (detected hosts); the budget never exceeds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_available: Option<ByteSize>,
    /// Memory kept for the OS and the OpenClaw gateway [default: max(2 GiB, 25% of memory)].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<ByteSize>,
    /// Physical CPU cores (vCPUs on a VPS); llama-server's thread count.
    #[schemars(range(min = 1, max = 1024))]
    pub cores: u32,
    /// Effective CPU memory bandwidth in GB/s, for the speed estimate [default: 20].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1))]
    pub memory_bandwidth_gbps: Option<f64>,
    /// Effective CPU matrix throughput in GFLOPS, for the speed estimate [default: 60 per core].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1))]
    pub compute_gflops: Option<f64>,
    /// A GPU or Apple silicon; absent means CPU only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<Accelerator>,
    /// Disk space clawlocal may use for models.
    pub disk: ByteSize,
    /// Default service target.
    #[serde(default)]
    pub service: ServiceKind,
    /// Default port for llama-server (bound to 127.0.0.1).
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
}

pub const DEFAULT_PORT: u16 = 8765;
fn default_port() -> u16 {
    DEFAULT_PORT
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accelerator {
    pub kind: AcceleratorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Dedicated memory (CUDA VRAM). Apple silicon shares `memory` and leaves this out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Free dedicated memory right now, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_available: Option<ByteSize>,
    /// Dedicated memory kept free [default: max(1 GiB, 10%), llama.cpp's fit margin].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve: Option<ByteSize>,
    /// Share of unified memory the GPU may use (Metal's working set) [default: 0.75].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.05, max = 1.0))]
    pub usable_fraction: Option<f64>,
    /// Effective memory bandwidth in GB/s [default: 400 CUDA, 100 Metal].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1))]
    pub memory_bandwidth_gbps: Option<f64>,
    /// Effective matrix throughput in GFLOPS [default: 20000 CUDA, 3000 Metal].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0.1))]
    pub compute_gflops: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcceleratorKind {
    Cuda,
    Metal,
    /// A GPU llama.cpp reaches through Vulkan (AMD, Intel): its own VRAM, like a CUDA card.
    Vulkan,
}

impl AcceleratorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cuda => "cuda",
            Self::Metal => "metal",
            Self::Vulkan => "vulkan",
        }
    }

    /// A card with memory of its own (the budget is its VRAM), not unified memory.
    pub fn discrete(self) -> bool {
        matches!(self, Self::Cuda | Self::Vulkan)
    }

    /// The llama.cpp build that serves it.
    pub fn backend(self) -> crate::engine::backend::Backend {
        use crate::engine::backend::Backend;
        match self {
            Self::Cuda => Backend::Cuda,
            Self::Metal => Backend::Metal,
            Self::Vulkan => Backend::Vulkan,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceKind {
    #[default]
    Systemd,
    Launchd,
    Compose,
    None,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Systemd => "systemd",
            Self::Launchd => "launchd",
            Self::Compose => "compose",
            Self::None => "none",
        }
    }
}

/// How much memory a model may use on a profile, and why.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Budget {
    pub bytes: u64,
    /// `ram`, `vram` or `unified`.
    pub kind: &'static str,
    pub explanation: String,
}

/// The device that runs the model, for the speed estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Device {
    pub bandwidth_gbps: f64,
    pub compute_gflops: f64,
    pub cuda: bool,
    /// The model runs on an accelerator (CUDA, Metal, Vulkan), not on the CPU backend.
    pub offloaded: bool,
}

impl Profile {
    pub fn reserve_bytes(&self) -> u64 {
        self.reserve.map_or_else(|| (2 * GIB).max(self.memory.bytes() / 4), ByteSize::bytes)
    }

    pub fn has_accelerator(&self) -> bool {
        self.accelerator.is_some()
    }

    /// The model's weights and KV cache live in RAM (CPU only, or Apple's unified memory), not in a card's VRAM:
    /// then RAM-side growth such as the prompt cache counts against the budget.
    pub fn model_in_ram(&self) -> bool {
        !self.accelerator.as_ref().is_some_and(|a| a.kind.discrete())
    }

    /// OpenClaw's rule, made explicit: RAM budget = min(available, memory − reserve); a CUDA card's budget is
    /// min(free, VRAM − max(1 GiB, 10%)) and cards are not summed; Metal may use `usable_fraction` of memory.
    pub fn budget(&self) -> Budget {
        let memory = self.memory.bytes();
        let reserve = self.reserve_bytes();
        let mut ram = memory.saturating_sub(reserve);
        let mut ram_why = format!("memory {} − reserve {}", human(memory), human(reserve));
        if let Some(avail) = self.memory_available.map(ByteSize::bytes).filter(|a| *a < ram) {
            ram = avail;
            ram_why = format!(
                "available memory {} (memory {} − reserve {} is more)",
                human(avail),
                human(memory),
                human(reserve)
            );
        }
        match &self.accelerator {
            None => Budget { bytes: ram, kind: "ram", explanation: ram_why },
            Some(acc) if acc.kind == AcceleratorKind::Metal => {
                let fraction = acc.usable_fraction.unwrap_or(0.75);
                let gpu = (memory as f64 * fraction) as u64;
                if gpu < ram {
                    Budget {
                        bytes: gpu,
                        kind: "unified",
                        explanation: format!("{:.0}% of {} usable by Metal", fraction * 100.0, human(memory)),
                    }
                } else {
                    Budget { bytes: ram, kind: "unified", explanation: ram_why }
                }
            }
            Some(acc) => {
                let vram = acc.memory.map_or(0, ByteSize::bytes);
                let reserve = acc.reserve.map_or_else(|| GIB.max(vram / 10), ByteSize::bytes);
                let mut bytes = vram.saturating_sub(reserve);
                let mut why = format!("VRAM {} − reserve {}", human(vram), human(reserve));
                if let Some(free) = acc.memory_available.map(ByteSize::bytes).filter(|f| *f < bytes) {
                    bytes = free;
                    why = format!(
                        "free VRAM {} (VRAM {} − reserve {} is more)",
                        human(free),
                        human(vram),
                        human(reserve)
                    );
                }
                Budget { bytes, kind: "vram", explanation: why }
            }
        }
    }

    /// Bandwidth and compute of whatever runs the model; absent figures take documented defaults.
    pub fn device(&self) -> Device {
        match &self.accelerator {
            Some(acc) => {
                let cuda = acc.kind == AcceleratorKind::Cuda;
                Device {
                    bandwidth_gbps: acc.memory_bandwidth_gbps.unwrap_or(if cuda { 400.0 } else { 100.0 }),
                    compute_gflops: acc.compute_gflops.unwrap_or(if cuda { 20_000.0 } else { 3_000.0 }),
                    cuda,
                    offloaded: true,
                }
            }
            None => Device {
                bandwidth_gbps: self.memory_bandwidth_gbps.unwrap_or(20.0),
                compute_gflops: self.compute_gflops.unwrap_or(60.0 * f64::from(self.cores)),
                cuda: false,
                offloaded: false,
            },
        }
    }

    /// One line for people: `8.0 GiB RAM, 4 cores, CPU only`.
    pub fn summary(&self) -> String {
        let accel = match &self.accelerator {
            None => "CPU only".to_string(),
            Some(a) => {
                let name = a.name.clone().unwrap_or_else(|| match a.kind {
                    AcceleratorKind::Cuda => "NVIDIA GPU".into(),
                    AcceleratorKind::Metal => "Apple silicon (Metal)".into(),
                    AcceleratorKind::Vulkan => "Vulkan GPU".into(),
                });
                match a.memory {
                    Some(m) => format!("{name} {m}"),
                    None => name,
                }
            }
        };
        format!("{} RAM, {} cores, {accel}", self.memory, self.cores)
    }
}

macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../profiles/", $name, ".json5")))),*]
    };
}

/// Bundled profiles, in the order `profiles list` shows them.
pub const BUNDLED: &[(&str, &str)] = bundled!(
    "vps-4gb",
    "vps-8gb",
    "vps-16gb",
    "vps-32gb",
    "gpu-8gb",
    "gpu-12gb",
    "gpu-16gb",
    "gpu-24gb",
    "gpu-48gb",
    "gpu-80gb",
    "vulkan-16gb",
    "mac-8gb",
    "mac-16gb",
    "mac-32gb",
    "mac-64gb",
    "mac-128gb",
);

pub fn bundled_names() -> Vec<&'static str> {
    BUNDLED.iter().map(|(n, _)| *n).collect()
}

pub fn bundled(name: &str) -> Option<Profile> {
    let (name, text) = BUNDLED.iter().find(|(n, _)| *n == name)?;
    let mut profile = parse(text, &format!("bundled profile {name}")).expect("bundled profiles are checked by tests");
    profile.name = (*name).to_string();
    Some(profile)
}

/// A bundled name, `auto`, or a path to a JSON5 file.
pub fn resolve(spec: &str, host: &dyn Host) -> Result<Profile> {
    if spec == "auto" {
        return crate::hardware::detect(host);
    }
    if let Some(profile) = bundled(spec) {
        return Ok(profile);
    }
    let looks_like_path =
        spec.contains('/') || spec.ends_with(".json5") || spec.ends_with(".json") || Path::new(spec).exists();
    if !looks_like_path {
        return Err(Error::usage(format!("unknown profile `{spec}`")).with_hint(format!(
            "bundled profiles: {}; or `auto`, or a path to a JSON5 profile file",
            bundled_names().join(", ")
        )));
    }
    let path = Path::new(spec);
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read profile file {}: {e}", path.display())))?;
    let mut profile = parse(&text, &path.display().to_string())?;
    if profile.name.is_empty() {
        profile.name = path.file_stem().map_or_else(|| spec.to_string(), |s| s.to_string_lossy().into_owned());
    }
    Ok(profile)
}

/// Parse profile text: JSON5 syntax (errors at line:column), then the JSON schema, then the types.
pub fn parse(text: &str, origin: &str) -> Result<Profile> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    crate::openclaw::patch::check_depth(text, origin)?;
    let value: serde_json::Value = json5::from_str(text).map_err(|e| {
        let at = e.position().map(|p| format!(":{}:{}", p.line + 1, p.column + 1)).unwrap_or_default();
        Error::usage(format!("profile {origin}{at}: {e}"))
    })?;
    let schema = serde_json::to_value(schemars::schema_for!(Profile)).expect("schema serialises");
    let validator = jsonschema::validator_for(&schema).expect("the generated profile schema compiles");
    let schema_error =
        validator.iter_errors(&value).next().map(|e| (field_name(&e.instance_path().to_string()), e.to_string()));
    // serde says what is wrong in the words of the field's type; the schema says where. Use both.
    match serde_path_to_error::deserialize::<_, Profile>(&value) {
        Err(e) => {
            let field = e.path().to_string();
            let inner = e.into_inner().to_string();
            let field = if field == "." { schema_error.map(|(f, _)| f).unwrap_or_default() } else { field };
            let field = if field.is_empty() { String::new() } else { format!(" field `{field}`:") };
            Err(Error::usage(format!("profile {origin}:{field} {inner}")))
        }
        Ok(_) if schema_error.is_some() => {
            let (field, message) = schema_error.expect("checked");
            Err(Error::usage(format!("profile {origin}: field `{field}`: {message}")))
        }
        Ok(profile) => Ok(profile),
    }
}

/// `/accelerator/memory` → `accelerator.memory`.
fn field_name(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_profile_parses() {
        for name in bundled_names() {
            let p = bundled(name).unwrap();
            assert_eq!(p.name, name);
            assert!(!p.description.is_empty(), "{name} has no description");
            assert!(p.budget().bytes > 0, "{name} has no budget");
        }
        assert_eq!(bundled_names().len(), 16);
    }

    #[test]
    fn comments_and_trailing_commas_load() {
        let p =
            parse("// my box\n{\n  memory: '8GiB', /* RAM */\n  cores: 2,\n  disk: 21474836480,\n}\n", "mine.json5")
                .unwrap();
        assert_eq!(p.memory, ByteSize::gib(8));
        assert_eq!(p.port, DEFAULT_PORT);
        assert_eq!(p.service, ServiceKind::Systemd);
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = parse("{ memory: 'lots', cores: 2, disk: '10GiB' }", "mine.json5").unwrap_err();
        assert!(err.message.contains("field `memory`"), "{}", err.message);
        assert!(err.message.contains("lots"), "{}", err.message);
        let err = parse("{ memory: '8GiB', cores: 2, disk: '10GiB', colour: 'red' }", "mine.json5").unwrap_err();
        assert!(err.message.contains("colour"), "{}", err.message);
        let err = parse("{ memory: '8GiB', cores: 0, disk: '10GiB' }", "mine.json5").unwrap_err();
        assert!(err.message.contains("cores"), "{}", err.message);
        let err = parse("{ memory: '8GiB', cores: 2, disk: '10GiB', accelerator: { kind: 'tpu' } }", "m").unwrap_err();
        assert!(err.message.contains("accelerator.kind"), "{}", err.message);
        let err = parse("{ memory: '8GiB', cores: 2 }", "mine.json5").unwrap_err();
        assert!(err.message.contains("disk"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse("{\n  memory: '8GiB'\n  cores: 2,\n}", "mine.json5").unwrap_err();
        assert!(err.message.starts_with("profile mine.json5:3:3"), "{}", err.message);
    }

    #[test]
    fn budgets_follow_the_documented_rules() {
        let vps = bundled("vps-8gb").unwrap();
        assert_eq!(vps.budget().bytes, 5 * GIB, "8 GiB − the 3 GiB the VPS guide reserves");
        let vps16 = bundled("vps-16gb").unwrap();
        assert_eq!(vps16.budget().bytes, 12 * GIB, "16 GiB − 25%");
        let gpu = bundled("gpu-24gb").unwrap();
        let b = gpu.budget();
        assert_eq!((b.kind, b.bytes), ("vram", 24 * GIB - 24 * GIB / 10));
        let mac = bundled("mac-16gb").unwrap();
        assert_eq!((mac.budget().kind, mac.budget().bytes), ("unified", 12 * GIB));
        let mut detected = vps.clone();
        detected.memory_available = Some(ByteSize::gib(2));
        assert_eq!(detected.budget().bytes, 2 * GIB, "never more than is free");
    }
}
