//! The `--json` documents of `init`, `init --dry-run`, `uninstall`, `status`, `render` and errors, as types: each
//! command prints exactly one of these on stdout, and `schemas/*.schema.json` are generated from them (the plan,
//! doctor and pull documents live beside their code).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use crate::change::Change;
use crate::install::Done;
use crate::layout::{ImagePath, Scope};
use crate::render::Target;

/// `init --json` (schema: schemas/init.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct InitDocument {
    /// Init finished and its short doctor found no failure.
    pub ok: bool,
    /// The short doctor over what was set up (absent for `--root`).
    pub doctor: Option<crate::doctor::Report>,
    /// The OpenClaw model id and llama-server alias.
    pub model: String,
    /// `clawlocal/<model>`.
    pub model_ref: String,
    pub model_path: PathBuf,
    pub lock: PathBuf,
    pub receipt: PathBuf,
    pub openclaw_config: PathBuf,
    pub units: Vec<UnitFile>,
    pub port: u16,
    /// `init --backend K`: the server OpenClaw was pointed at (then `model_path` is empty and no units exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<InitBackendDoc>,
    /// Every step as it ran, in order.
    pub actions: Vec<Done>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct InitBackendDoc {
    pub kind: crate::backends::Kind,
    /// The provider's `baseUrl`.
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UnitFile {
    pub target: Target,
    pub path: PathBuf,
}

/// `init --dry-run --json` and `uninstall --dry-run --json` (schema: schemas/dry-run.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DryRunDocument {
    /// The plan can run (no blockers); the process exits non-zero otherwise.
    pub ok: bool,
    pub dry_run: bool,
    /// The steps, in the order they would run.
    pub actions: Vec<PlannedStep>,
    /// What would stop the run, each at its step.
    pub blockers: Vec<BlockerDoc>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlannedStep {
    pub kind: &'static str,
    /// What the step would do to its file: `created`, `updated`, `unchanged`, `removed`, `restored`, `kept`,
    /// `stopped`, `skipped`; `run` for a command.
    pub status: &'static str,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The unified diff of a file the step writes (the API key masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BlockerDoc {
    /// 1-based: the step the run would stop at.
    pub step: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// `uninstall --json` (schema: schemas/uninstall.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct UninstallDocument {
    pub ok: bool,
    pub actions: Vec<Done>,
    /// Set when there was nothing to uninstall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `status --json` (schema: schemas/status.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusDocument {
    pub installed: bool,
    pub receipt: PathBuf,
    /// False while an init has not finished (run it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<StatusModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<StatusEngine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<StatusService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<StatusServer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openclaw: Option<StatusOpenclaw>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusModel {
    pub id: String,
    pub spec: String,
    pub path: ImagePath,
    pub size: u64,
    pub context: u32,
    /// The file is there with the receipt's size.
    pub present: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusEngine {
    pub path: ImagePath,
    pub version: String,
    pub source: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusService {
    pub kind: &'static str,
    pub units: Vec<ImagePath>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusServer {
    pub url: String,
    /// `running`, `loading the model`, `another program answers on the port`, `not running`.
    pub state: &'static str,
    pub role: &'static str,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StatusOpenclaw {
    pub config: ImagePath,
    pub provider_present: bool,
    pub model_ref: String,
}

/// `render --json` (schema: schemas/render.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct RenderDocument {
    pub files: Vec<RenderedFile>,
    pub engine: PathBuf,
    pub model_path: PathBuf,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RenderedFile {
    pub target: Target,
    /// Where it was written (`--out`).
    pub path: PathBuf,
    /// Where it belongs on the box it is for.
    pub installs_to: PathBuf,
    pub status: Change,
}

/// `render --target kubernetes|cloud-init --json` (schema: schemas/render-fleet.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct FleetRenderDocument {
    /// `kubernetes` or `cloud-init`.
    pub target: String,
    pub files: Vec<FleetFileDoc>,
    /// The engine image the manifests run (kubernetes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The model the lock pins: repo, commit and the first file's sha256.
    pub repo: String,
    pub commit: String,
    pub sha256: String,
    /// The clawlocal archive every node installs, and its pinned sha256.
    pub release_url: String,
    pub release_sha256: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FleetFileDoc {
    pub path: PathBuf,
    pub status: Change,
    /// The generated API key file (kubernetes' Secret input, mode 0600): its content is never printed.
    pub holds_key: bool,
}

/// What every command prints under `--json` when it fails, usage errors included (schema:
/// schemas/error.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDocument {
    pub ok: bool,
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    pub message: String,
    pub hint: Option<String>,
    /// 1: the command ran and found failure; 2: usage or environment.
    pub exit_code: i32,
}

/// A document as JSON (every one serialises).
pub fn value(doc: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(doc).expect("documents serialise")
}
