//! `receipt.json` in the state dir: what `init` installed, where, and the exact command the engine runs with.
//! `serve` runs that command; `status`, `doctor` and `uninstall` read the rest.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::engine::Version;
use crate::engine::args::ServerArgs;
use crate::error::{Error, Result};
use crate::layout::{ImagePath, Scope};
use crate::plan::Role;
use crate::profile::ServiceKind;

pub const RECEIPT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub version: u32,
    pub profile: String,
    /// The resolved profile the selection was made for: doctor compares it with this host and re-renders units
    /// from it without needing the profile file again.
    pub hardware: crate::profile::Profile,
    pub scope: Scope,
    pub service: ServiceKind,
    pub port: u16,
    pub role: Role,
    pub model: Model,
    pub engine: Engine,
    pub server: ServerArgs,
    /// What `clawlocal serve` executes: the unit's ExecStart with the key file at its real path.
    pub serve: Command,
    pub api_key_file: ImagePath,
    pub units: Vec<ImagePath>,
    pub openclaw_config: ImagePath,
    /// What clawlocal itself created, so `uninstall` removes exactly that (and `--purge` never a blob it found).
    #[serde(default)]
    pub created: Created,
    /// False while init is still making its changes: init writes the receipt before the first of them, so a killed
    /// init leaves a record `uninstall` can replay and `doctor` can name.
    #[serde(default = "finished")]
    pub complete: bool,
    /// Every file init wrote or verified, with its sha256 when init finished (uninstall keeps a unit edited since).
    #[serde(default)]
    pub files: Vec<FileRecord>,
    /// The last `clawlocal bench` of this model with these arguments on this box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bench: Option<Bench>,
    /// What the engine really took when init last started this model with these arguments on this box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<Measured>,
}

/// The engine's memory as measured by init right after it loaded the model: the figure the fit was judged by,
/// and doctor's `host.memory` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// Peak resident memory (VmHWM) once `/health` answered.
    pub peak_bytes: u64,
    /// `trial` (a spare-port run before a swap) or `service` (the started unit).
    pub during: String,
    /// llama-server's own buffer lines, where its log had them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffers: Option<Buffers>,
}

/// llama.cpp's reported allocations, in bytes (`… buffer size = N MiB` lines, summed per kind).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffers {
    /// Weights: mapped or read (`CPU_Mapped`, `CPU`, `CUDA0` … model buffers), not the repacked copy.
    pub model_bytes: u64,
    /// `CPU_REPACK` model buffer: weights the CPU backend rearranged for its kernels.
    pub repack_bytes: u64,
    pub kv_bytes: u64,
    /// Compute and output buffers.
    pub compute_bytes: u64,
}

/// `clawlocal bench`'s measurement, from llama-server's own timings (schema: schemas/bench.schema.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bench {
    /// The OpenClaw model id measured.
    pub model: String,
    pub prompt_tokens: u64,
    pub prefill_seconds: f64,
    pub prefill_tokens_per_second: f64,
    pub generated_tokens: u64,
    pub generation_tokens_per_second: f64,
    /// Prefill of OpenClaw's 16,384-token first prompt at the measured rate.
    pub prefill_16k_seconds: f64,
    /// Both at least what OpenClaw needs to be usable (the thresholds the selection uses).
    pub usable: bool,
}

fn finished() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// `model`, `lock`, `api-key`, `unit` or `openclaw-config`.
    pub kind: String,
    pub path: ImagePath,
    pub sha256: String,
}

impl Receipt {
    /// The sha256 init recorded for `path`.
    pub fn recorded_sha256(&self, path: &ImagePath) -> Option<&str> {
        self.files.iter().find(|f| f.path == *path).map(|f| f.sha256.as_str())
    }

    /// The same installation, ignoring the bookkeeping of how far init got.
    pub fn same_install(&self, other: &Receipt) -> bool {
        let strip =
            |r: &Receipt| Receipt { complete: true, files: Vec::new(), bench: None, measured: None, ..r.clone() };
        strip(self) == strip(other)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// init wrote the API key file.
    pub key_file: bool,
    /// clawlocal downloaded the model's blob (a blob already in the cache belongs to whoever fetched it).
    pub model_blob: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    /// The OpenClaw model id and llama-server alias.
    pub id: String,
    /// The display name in openclaw.json.
    pub name: String,
    /// What was asked for: `catalog-id:QUANT` or the `hf:` spec.
    pub spec: crate::hub::pull::ModelSpec,
    pub repo: String,
    pub commit: String,
    pub file: String,
    /// The snapshot entry in the Hub cache.
    pub path: ImagePath,
    pub sha256: String,
    pub size: u64,
    pub context: u32,
    /// The memory estimate (weights + KV cache + overhead) the selection was made with.
    pub estimate_bytes: u64,
    /// Of that, what the engine grows into after it loaded: the prompt cache and the context checkpoints.
    #[serde(default)]
    pub growth_bytes: u64,
}

/// What `receipt.json` records: clawlocal's own engine, or OpenClaw pointed at a server another tool runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Install {
    Engine(Box<Receipt>),
    Backend(BackendReceipt),
}

impl Install {
    /// None when there is no receipt; an unreadable one, or one of another version, is an error naming the file.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let hint = "run `clawlocal init` again to rewrite it";
        let Some(value) = crate::fsutil::load_json::<serde_json::Value>(path, hint)? else { return Ok(None) };
        let version = value["version"].as_u64().unwrap_or(0);
        if version != u64::from(RECEIPT_VERSION) {
            return Err(Error::usage(format!(
                "{}: receipt version {version} is not supported (this clawlocal writes {RECEIPT_VERSION})",
                path.display(),
            )));
        }
        // The two shapes are told apart by the `backend` object only `init --backend` writes.
        let install = if value.get("backend").is_some() {
            crate::fsutil::load_json::<BackendReceipt>(path, hint)?.map(Install::Backend)
        } else {
            crate::fsutil::load_json::<Receipt>(path, hint)?.map(|r| Install::Engine(Box::new(r)))
        };
        Ok(install)
    }
}

/// `init --backend K`: OpenClaw pointed at a server the user runs. Nothing but openclaw.json (and this record) is
/// written: no model, no key file, no unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendReceipt {
    pub version: u32,
    pub backend: BackendServer,
    pub scope: Scope,
    pub role: Role,
    pub openclaw_config: ImagePath,
    #[serde(default = "finished")]
    pub complete: bool,
    /// openclaw.json's sha256 when init finished.
    #[serde(default)]
    pub files: Vec<FileRecord>,
}

impl BackendReceipt {
    /// The same setup, ignoring how far init got and the server's version.
    pub fn same_install(&self, other: &BackendReceipt) -> bool {
        let strip = |r: &BackendReceipt| {
            let mut r = r.clone();
            r.complete = true;
            r.files.clear();
            r.backend.version = None;
            r
        };
        strip(self) == strip(other)
    }

    /// `<provider>/<model>`: how OpenClaw names the model.
    pub fn model_ref(&self) -> String {
        format!("{}/{}", self.backend.provider, self.backend.model)
    }
}

/// The server OpenClaw was pointed at, as init found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendServer {
    pub kind: crate::backends::Kind,
    /// The base URL written as the provider's `baseUrl`.
    pub url: String,
    /// What the server said its version is, when it says.
    #[serde(default)]
    pub version: Option<String>,
    /// The model id OpenClaw sends.
    pub model: String,
    /// The `contextWindow` written.
    pub context: u32,
    /// The provider id in openclaw.json (`ollama` for Ollama's native API, else `clawlocal`).
    pub provider: String,
    /// Where the provider's `apiKey` comes from.
    pub key: KeySource,
}

/// The `apiKey` written for a backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// The server needs no key: the marker OpenClaw's docs use for it.
    Marker(String),
    /// The key read from this file (mode 0600).
    File(ImagePath),
    /// An env SecretRef to this variable.
    Env(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Engine {
    pub path: ImagePath,
    pub source: crate::engine::Source,
    pub version: Version,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub program: ImagePath,
    pub args: Vec<String>,
}

impl Receipt {
    /// None when there is no receipt (nothing installed); an unreadable one is an error naming the file, and so is
    /// a record of `init --backend` (there is no clawlocal engine to serve, re-plan or check as one).
    pub fn load(path: &Path) -> Result<Option<Self>> {
        match Install::load(path)? {
            None => Ok(None),
            Some(Install::Engine(r)) => Ok(Some(*r)),
            Some(Install::Backend(b)) => Err(Error::usage(format!(
                "{}: OpenClaw is pointed at {} at {} (`clawlocal init --backend {}`); clawlocal runs no engine here",
                path.display(),
                b.backend.kind.label(),
                b.backend.url,
                b.backend.kind
            ))
            .with_hint("`clawlocal uninstall` takes that setup out first; `clawlocal doctor` checks it")),
        }
    }

    /// Write it; true when it changed.
    pub fn save(&self, path: &Path) -> Result<bool> {
        let mut text = serde_json::to_string_pretty(self).expect("the receipt serialises");
        text.push('\n');
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        crate::fsutil::write_atomic_as(path, text.as_bytes(), Some(0o644), None)?;
        Ok(true)
    }
}
