//! `init --backend K`: OpenClaw pointed at a server the user already runs, as the same plan shape as the
//! bundled engine's — survey (the server asked what it serves, the context contract kept, openclaw.json prepared
//! and judged by OpenClaw) → pure `plan` (journal → the server as found → openclaw.json → receipt) → shown or run
//! by the same executor. No download, no key file, no unit: the receipt records only the edit, so `uninstall`
//! takes exactly that out again.

use std::path::{Path, PathBuf};

use super::steps::{Blocker, FileKind, Guard, Plan, Purpose, Step};
use crate::backends::{self, Kind, Served};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::hub::download::sha256_hex;
use crate::layout::Layout;
use crate::openclaw::file::Prepared;
use crate::openclaw::patch::{Fields, PatchSpec};
use crate::plan::Role;
use crate::receipt::{self, BackendReceipt, BackendServer, Install, KeySource};

/// What `init --backend` is asked for, resolved once from the command line.
#[derive(Debug, Clone)]
pub struct Desired {
    pub kind: Kind,
    /// `--url`; `None`: the kind's default address.
    pub url: Option<String>,
    /// `--model`: the served model id; `None`: the server's only (loaded) one.
    pub model: Option<String>,
    /// `--context`: the window to write (never above what is served).
    pub context: Option<u32>,
    /// `--api-key-file`: the server's key, from a file only its owner reads.
    pub api_key_file: Option<PathBuf>,
    /// `--api-key-env`: written as an env SecretRef; its value (when set here) is used to ask the server.
    pub api_key_env: Option<String>,
    pub role: Role,
}

/// Every fact the plan reads, taken before any change.
#[derive(Debug)]
pub struct World {
    pub layout: Layout,
    pub previous: Result<Option<Install>>,
    /// The server's answers (kind, base URL, version, models with context and tools).
    pub served: Result<Served>,
    /// The provider entry: the model chosen and the context contract kept.
    pub spec: Result<PatchSpec>,
    /// openclaw.json edited and judged by the installed OpenClaw (only once everything cheaper passed).
    pub openclaw: Result<Prepared>,
    /// The key the server takes (masked in what is shown) and where it came from.
    pub key: Option<(String, PathBuf)>,
    receipt_now: Option<Vec<u8>>,
}

impl super::Seen for World {
    fn bytes(&self, path: &Path) -> Option<&[u8]> {
        (path == self.layout.receipt_file()).then_some(self.receipt_now.as_deref()).flatten()
    }
    fn key(&self) -> Option<(String, PathBuf)> {
        self.key.clone()
    }
}

impl World {
    /// The server as found, for the short report and doctor.
    pub fn served(&self) -> Option<&Served> {
        self.served.as_ref().ok()
    }
}

/// The key to ask the server with: the file's (mode 0600), or the env variable's value when it is set here.
fn key_for(d: &Desired, host: &dyn Host) -> Result<Option<String>> {
    match (&d.api_key_file, &d.api_key_env) {
        (Some(file), _) => crate::openclaw::read_key(file).map(Some),
        (None, Some(var)) => Ok(host.env_nonempty(var)),
        (None, None) => Ok(None),
    }
}

/// Look, change nothing: the receipt there is, the server's answers, the entry, openclaw.json prepared.
pub fn survey(d: &Desired, layout: &Layout, host: &dyn Host) -> World {
    let previous = Install::load(&layout.receipt_file());
    let receipt_now = std::fs::read(layout.receipt_file()).ok();
    let key = key_for(d, host);
    let served = key.clone().and_then(|key| {
        let url = d.url.clone().or_else(|| backends::default_address(host, d.kind)).ok_or_else(|| {
            Error::usage(format!("--backend {} has no default address", d.kind))
                .with_hint("pass --url where the server listens, e.g. --url http://127.0.0.1:8000/v1")
        })?;
        let cmdline = |port: u16| backends::local_cmdline(host, port);
        backends::probe::probe(d.kind, &url, key.as_deref(), &cmdline)
    });
    let spec = match (&served, &key) {
        (Ok(s), Ok(k)) => spec_for(d, s, k.clone()),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    };
    // The expensive judge (the OpenClaw CLI) only for a plan whose cheaper facts all hold.
    let openclaw = match (&spec, &previous) {
        (Ok(spec), Ok(_)) => crate::openclaw::file::prepare(
            host,
            &layout.openclaw_config,
            spec.clone(),
            &crate::openclaw::records_path(layout),
        ),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    };
    let origin = d.api_key_file.clone().or_else(|| d.api_key_env.as_ref().map(|v| PathBuf::from(format!("${v}"))));
    let key = key.ok().flatten().zip(origin);
    World { layout: layout.clone(), previous, served, spec, openclaw, key, receipt_now }
}

/// The provider entry for the server: the model, the context it serves (the contract), the key or its marker.
fn spec_for(d: &Desired, served: &Served, key: Option<String>) -> Result<PatchSpec> {
    let model = backends::choose_model(served, d.model.as_deref())?;
    let window = backends::contract(d.kind, model, d.context)?;
    let api_key = key.unwrap_or_else(|| backends::key_marker(d.kind).to_string());
    let mut spec = PatchSpec {
        base_url: served.url.clone(),
        api_key,
        model_id: model.id.clone(),
        model_name: format!("{} ({})", model.id, d.kind.label()),
        context_window: window,
        max_tokens: 4096.min(window / 4),
        role: d.role,
        fields: Fields::BASELINE,
        gateway_mode: None,
        server: Some(d.kind),
        api_key_env: d.api_key_env.clone(),
    };
    // OpenClaw trusts loopback; a server elsewhere on the LAN needs the private-network opt-in.
    spec.fields.allow_private_network = !backends::is_loopback(&served.url);
    Ok(spec)
}

/// The plan for `d` over `w`. Pure.
pub fn plan(d: &Desired, w: &World) -> Plan {
    let mut steps = Vec::new();
    let mut blockers = Vec::new();
    let mut block = |steps: &Vec<Step>, e: Error| blockers.push(Blocker { step: steps.len(), error: e });
    match &w.previous {
        Ok(Some(Install::Engine(r))) => block(
            &steps,
            Error::usage(format!(
                "clawlocal's own engine is installed here (model {}, port {}); OpenClaw uses it",
                r.model.id, r.port
            ))
            .with_hint("`clawlocal uninstall` takes it out first; then run this again"),
        ),
        Ok(Some(Install::Backend(b))) if w.spec.as_ref().is_ok_and(|s| s.provider_id() != b.backend.provider) => block(
            &steps,
            Error::usage(format!(
                "OpenClaw is pointed at {} at {} now (provider `{}`)",
                b.backend.kind.label(),
                b.backend.url,
                b.backend.provider
            ))
            .with_hint("`clawlocal uninstall` takes that out first; then run this again"),
        ),
        Err(e) => block(&steps, e.clone()),
        _ => {}
    }
    let (served, spec, openclaw) = match (&w.served, &w.spec, &w.openclaw) {
        (Ok(s), Ok(spec), Ok(o)) => (s, spec, o),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            block(&steps, e.clone());
            return Plan { steps, blockers, swap: None, receipt: None, target: None, purpose: Purpose::Init };
        }
    };
    let finished = receipt_for(d, w, served, spec, Some(openclaw));
    let receipt_path = w.layout.receipt_file();
    let same = matches!(&w.previous, Ok(Some(Install::Backend(p))) if p.complete && p.same_install(&finished));
    let mut receipt_guard = Guard::of(w.receipt_now.as_deref());
    if !same {
        let pending = bytes(&receipt_for(d, w, served, spec, None));
        receipt_guard = Guard::of(Some(&pending));
        steps.push(Step::Journal {
            path: receipt_path.clone(),
            contents: pending,
            guard: Guard::of(w.receipt_now.as_deref()),
        });
    }
    steps.push(Step::Backend {
        kind: d.kind,
        url: served.url.clone(),
        version: served.version.clone(),
        model: spec.model_id.clone(),
        context: spec.context_window,
        key: w.key.as_ref().map(|(k, _)| k.clone()),
    });
    steps.push(Step::Openclaw(Box::new(openclaw.clone())));
    steps.push(Step::Write {
        kind: FileKind::Receipt,
        path: receipt_path,
        contents: bytes(&finished),
        mode: 0o644,
        guard: receipt_guard,
        target: None,
    });
    Plan { steps, blockers, swap: None, receipt: None, target: None, purpose: Purpose::Init }
}

fn bytes(r: &BackendReceipt) -> Vec<u8> {
    (serde_json::to_string_pretty(r).expect("the receipt serialises") + "\n").into_bytes()
}

/// The receipt: pending (no `openclaw` yet: the journal) or finished, with openclaw.json's final sha256.
fn receipt_for(
    d: &Desired,
    w: &World,
    served: &Served,
    spec: &PatchSpec,
    openclaw: Option<&Prepared>,
) -> BackendReceipt {
    let layout = &w.layout;
    let key = match (&d.api_key_env, &d.api_key_file) {
        (Some(var), _) => KeySource::Env(var.clone()),
        (None, Some(file)) => KeySource::File(layout.in_image(file)),
        (None, None) => KeySource::Marker(spec.api_key.clone()),
    };
    let files = openclaw
        .map(|p| {
            vec![receipt::FileRecord {
                kind: "openclaw-config".into(),
                path: layout.in_image(&p.file),
                sha256: sha256_hex(p.after.as_bytes()),
            }]
        })
        .unwrap_or_default();
    BackendReceipt {
        version: receipt::RECEIPT_VERSION,
        backend: BackendServer {
            kind: d.kind,
            url: served.url.clone(),
            version: served.version.clone(),
            model: spec.model_id.clone(),
            context: spec.context_window,
            provider: spec.provider_id().to_string(),
            key,
        },
        scope: layout.scope,
        role: d.role,
        openclaw_config: layout.in_image(&layout.openclaw_config),
        complete: openclaw.is_some(),
        files,
    }
}

/// The server still answers with the model (the apply-time look of the `backend` step).
pub fn still_serves(kind: Kind, url: &str, model: &str, key: Option<&str>, host: &dyn Host) -> Result<()> {
    let cmdline = |port: u16| backends::local_cmdline(host, port);
    let served = backends::probe::probe(kind, url, key, &cmdline)?;
    if served.models.iter().any(|m| m.id == model) {
        return Ok(());
    }
    Err(Error::failure(format!("{} at {url} no longer serves {model}", kind.label()))
        .with_hint("`clawlocal backends` lists what it serves now"))
}
