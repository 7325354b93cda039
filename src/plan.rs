//! The list of actions `init` would take for a selection. Pure: what is written where is decided here.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::engine::Features;
use crate::engine::args::{Placement, server_args};
use crate::layout::{Layout, UNIT_NAME};
use crate::profile::{Budget, Profile, ServiceKind};
use crate::select::Candidate;
use crate::select::Selection;
use crate::size::human;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Fallback,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Fallback => "fallback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Action {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub service: ServiceKind,
    pub port: u16,
    pub role: Role,
}

/// Where clawlocal's engine answers: loopback, at its port. The one place its URLs are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
}

impl Endpoint {
    pub fn new(port: u16) -> Self {
        Self { port }
    }
    /// `http://127.0.0.1:<port>`.
    pub fn origin(self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// What OpenClaw's `baseUrl` gets: the OpenAI-compatible root.
    pub fn base_url(self) -> String {
        format!("{}/v1", self.origin())
    }
    pub fn health_url(self) -> String {
        format!("{}/health", self.origin())
    }
    pub fn models_url(self) -> String {
        format!("{}/v1/models", self.origin())
    }
}

pub fn base_url(port: u16) -> String {
    Endpoint::new(port).base_url()
}

pub fn actions(selection: &Selection, profile: &Profile, layout: &Layout, options: Options) -> Vec<Action> {
    let act = |kind, path: Option<PathBuf>, description: String| Action { kind, path, description, diff: None };
    let mut out = Vec::new();
    let shards = if selection.files.len() > 1 { format!(" ({} shards)", selection.files.len()) } else { String::new() };
    let revision = selection.revision.as_deref().unwrap_or("main, resolved to a commit at download time");
    let download_path = match &selection.revision {
        Some(rev) => layout.repo_cache(&selection.repo).join("snapshots").join(rev).join(&selection.file),
        None => layout.repo_cache(&selection.repo),
    };
    out.push(act(
        "download",
        Some(download_path),
        format!(
            "download {}/{}{shards} ({}{}) at revision {revision}, verifying sha256 while streaming",
            selection.repo,
            selection.file,
            human(selection.download_bytes),
            if selection.estimate.weights_source == "hub" { "" } else { ", estimated" },
        ),
    ));
    out.push(act(
        "engine",
        None,
        format!(
            "find llama-server (--engine, CLAWLOCAL_LLAMA_SERVER, {}, PATH) and check its build and flags",
            layout.in_image(&layout.engine_dir).display()
        ),
    ));
    out.push(act(
        "api-key",
        Some(layout.api_key_file()),
        "create a random API key for llama-server, mode 0600 (passed as --api-key-file)".into(),
    ));
    let listen = format!("127.0.0.1:{}", options.port);
    // The engine's real flags are known once it is probed; the pinned release's spelling stands in here.
    let model = layout.repo_cache(&selection.repo).join("…").join(&selection.file);
    let key = layout.in_image(&layout.api_key_file());
    let argv = server_args(profile, selection, Features::PINNED).argv(Placement {
        model: &layout.in_image(&model).to_string_lossy(),
        host: "127.0.0.1",
        port: options.port,
        api_key_file: Some(&key.to_string_lossy()),
    });
    let serve = format!("llama-server {}", argv.join(" "));
    let in_root = layout.root.is_some();
    match options.service {
        ServiceKind::Systemd => {
            out.push(act(
                "unit",
                Some(layout.systemd_unit.clone()),
                format!("install hardened systemd unit {UNIT_NAME} running `{serve}`"),
            ));
        }
        ServiceKind::Launchd => {
            out.push(act(
                "unit",
                Some(layout.launchd_plist.clone()),
                format!("install launchd job ai.clawlocal.llm running `{serve}`"),
            ));
        }
        ServiceKind::Compose => {
            out.push(act(
                "unit",
                Some(layout.compose_file.clone()),
                format!("write compose service clawlocal-llm publishing {listen} only"),
            ));
        }
        ServiceKind::None => {
            out.push(act(
                "unit",
                None,
                "no service unit (--service none): run `clawlocal serve` to start the engine".into(),
            ));
        }
    }
    out.push(act(
        "openclaw-config",
        Some(layout.openclaw_config.clone()),
        format!(
            "add provider `clawlocal` ({}, api openai-completions) with model `{}` (contextWindow {}) as {}, keeping comments and other providers",
            base_url(options.port),
            selection.model_id,
            selection.context,
            options.role.as_str()
        ),
    ));
    if options.service != ServiceKind::None && !in_root {
        out.push(act("start", None, format!("start the service and wait until http://{listen}/health answers")));
    }
    out.push(act(
        "lock",
        Some(layout.lock_file()),
        "pin repo, revision, files, sizes and sha256 in the lock file".into(),
    ));
    out.push(act(
        "receipt",
        Some(layout.receipt_file()),
        "record every file and edit made, for `clawlocal uninstall`".into(),
    ));
    out
}

/// The `plan --json` document (schema: schemas/plan.schema.json).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanDocument {
    /// False when nothing fits; the process then exits 1.
    pub ok: bool,
    /// The resolved profile, with its reserve and budget.
    pub profile: serde_json::Value,
    pub budget: Budget,
    pub selection: Option<Selection>,
    pub candidates: Vec<Candidate>,
    pub actions: Vec<Action>,
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
