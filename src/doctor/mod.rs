//! `clawlocal doctor`: the chain from hardware to a real answer, checked in dependency order. A check whose
//! prerequisite did not pass is `skip`; nothing aborts early and the report is rendered once (by the command).
//! Checks only look; repairs live in `fix.rs` and run only with `--fix`.
//!
//! Each check is a plain function over a [`Probe`]: the receipt, the layout, the host seam and the facts earlier
//! checks found (the probed engine, the parsed openclaw.json, the server's `/props`), so later checks reuse them.

mod backend;
pub mod fix;
pub mod local;
mod openclaw;
pub mod server;
pub mod service;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::Serialize;

pub use fix::{Applied, Repair, apply as apply_repairs, planned as planned_repairs};

use crate::error::{Error, Result};
use crate::host::Host;
use crate::layout::{Layout, Scope};
use crate::lockfile::LockFile;
use crate::profile::ServiceKind;
use crate::receipt::Receipt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One line of the report (`doctor --json` → `checks[]`; schema in schemas/doctor.schema.json).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Check {
    /// Stable dotted id: `<layer>.<name>`.
    pub id: String,
    pub title: String,
    pub status: Status,
    /// What the check saw.
    pub detail: String,
    /// A command or edit a person can copy; every `fail` has one.
    pub fix: Option<String>,
    /// What `--fix` would do about it, when it can.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<Repair>,
    pub elapsed_ms: u64,
    /// Whether checks that depend on this one may run (a pass or warn, unless the warn says "not yet").
    #[serde(skip)]
    #[schemars(skip)]
    pub usable: bool,
}

/// The `doctor --json` document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Report {
    /// No check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
    /// With `--fix`: what was repaired (or, with `--dry-run`, would be), before the checks above ran again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<Applied>,
}

/// What a check function returns; the runner adds id, title and timing.
#[derive(Debug, Clone)]
pub struct Outcome {
    status: Status,
    detail: String,
    fix: Option<String>,
    repair: Option<Repair>,
    usable: bool,
}

impl Outcome {
    pub fn pass(detail: impl Into<String>) -> Self {
        Self { status: Status::Pass, detail: detail.into(), fix: None, repair: None, usable: true }
    }
    pub fn warn(detail: impl Into<String>) -> Self {
        Self { status: Status::Warn, detail: detail.into(), fix: None, repair: None, usable: true }
    }
    pub fn fail(detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { status: Status::Fail, detail: detail.into(), fix: Some(fix.into()), repair: None, usable: false }
    }
    pub fn skip(detail: impl Into<String>) -> Self {
        Self { status: Status::Skip, detail: detail.into(), fix: None, repair: None, usable: false }
    }
    #[must_use]
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
    #[must_use]
    pub fn with_repair(mut self, repair: Repair) -> Self {
        self.repair = Some(repair);
        self
    }
    /// A warning that also stops dependants (e.g. the model is still loading).
    #[must_use]
    pub fn blocking(mut self) -> Self {
        self.usable = false;
        self
    }
}

/// A check: id, title, the checks it needs, and the function.
pub struct Def {
    pub id: &'static str,
    pub title: &'static str,
    pub after: &'static [&'static str],
    run: fn(&mut Probe) -> Outcome,
}

const fn def(
    id: &'static str,
    title: &'static str,
    after: &'static [&'static str],
    run: fn(&mut Probe) -> Outcome,
) -> Def {
    Def { id, title, after, run }
}

/// Every check, in the order they run (each after what it needs).
pub const CHECKS: &[Def] = &[
    def("host.receipt", "clawlocal's install record", &[], local::receipt),
    def("host.memory", "Memory for the model on this host", &["host.receipt"], local::memory),
    def("host.cpu", "CPU cores for the engine's threads", &["host.receipt"], local::cpu),
    def("host.accelerator", "The accelerator the profile plans for", &["host.receipt"], local::accelerator),
    def("host.disk", "Free disk space", &[], local::disk),
    def("engine.binary", "llama-server present and executable", &["host.receipt"], local::engine_binary),
    def("engine.version", "llama-server version", &["engine.binary"], local::engine_version),
    def("engine.flags", "llama-server accepts every argument", &["engine.version"], local::engine_flags),
    def("engine.backend", "llama-server has the profile's GPU backend", &["engine.version"], local::engine_backend),
    def("model.file", "Model file present, size as locked", &["host.receipt"], local::model_file),
    def("model.gguf", "Model GGUF header", &["model.file"], local::model_gguf),
    def("model.sha256", "Model sha256 as locked (--deep)", &["model.file"], local::model_sha256),
    def("service.unit", "Service unit installed, as clawlocal renders it", &["host.receipt"], service::unit),
    def("service.enabled", "Service enabled at boot/login", &["service.unit"], service::enabled),
    def("service.active", "Service running", &["service.unit"], service::active),
    def("service.restarts", "Service restarts and OOM kills", &["service.unit"], service::restarts),
    def("server.listen", "Engine listening on its loopback port", &["host.receipt"], server::listen),
    def("server.health", "Engine /health", &["server.listen"], server::health),
    def("server.model", "Engine serves the model under its alias", &["server.health"], server::model),
    def("server.context", "Engine context ≥ OpenClaw contextWindow ≥ 16000", &["server.model"], server::context),
    def("server.chat", "A chat completion answers", &["server.model"], server::chat),
    def("server.tools", "A tool call works", &["server.chat"], server::tools),
    def("server.speed", "Measured speed is usable for OpenClaw", &["host.receipt"], server::speed),
    def("openclaw.config", "openclaw.json found and parses", &[], openclaw::config),
    def("openclaw.records", "clawlocal's patch records readable", &[], openclaw::records),
    def("openclaw.schema", "clawlocal's entries match OpenClaw's schema", &["openclaw.config"], openclaw::schema),
    def("openclaw.cli", "`openclaw config validate` accepts the config", &["openclaw.config"], openclaw::cli),
    def("openclaw.provider", "Provider `clawlocal` declared", &["openclaw.config"], openclaw::provider_check),
    def(
        "openclaw.base-url",
        "baseUrl points at the engine",
        &["openclaw.provider", "host.receipt"],
        openclaw::base_url,
    ),
    def("openclaw.api-key", "apiKey is the engine's key", &["openclaw.provider", "host.receipt"], openclaw::api_key),
    def(
        "openclaw.model",
        "Model entry: id = alias, contextWindow",
        &["openclaw.provider", "host.receipt"],
        openclaw::model,
    ),
    def("openclaw.model-ref", "Agents use clawlocal/<id>", &["openclaw.model"], openclaw::model_ref),
    def("openclaw.models-mode", "models.mode keeps hosted providers", &["openclaw.config"], openclaw::models_mode),
    def(
        "openclaw.agent-model",
        "The default agent does not hide the defaults",
        &["openclaw.config"],
        openclaw::agent_model,
    ),
    def(
        "openclaw.agent-models-json",
        "No stale per-agent models.json",
        &["openclaw.provider"],
        openclaw::agent_models_json,
    ),
    def(
        "openclaw.models-list",
        "`openclaw models list` shows the model (--deep)",
        &["openclaw.cli", "openclaw.model"],
        openclaw::models_list,
    ),
    def("openclaw.gateway", "OpenClaw gateway", &["openclaw.config"], openclaw::gateway),
    def("security.bind", "Engine bound to loopback only", &["host.receipt"], local::bind),
    def("security.key-file", "API key file private (0600)", &["host.receipt"], local::key_file),
    def("security.config-file", "openclaw.json private", &["openclaw.config"], openclaw::config_file_mode),
    def("security.hardening", "Service unit sandboxing", &["service.unit"], service::hardening),
];

/// The checks of an `init --backend` setup: the server another tool runs and OpenClaw's entry for it.
pub const BACKEND_CHECKS: &[Def] = &[
    def("host.receipt", "clawlocal's install record", &[], local::receipt),
    def("backend.reachable", "The server answers in its own protocol", &["host.receipt"], backend::reachable),
    def("backend.model", "The model is listed (and loaded)", &["backend.reachable"], backend::model),
    def("backend.context", "Served context ≥ OpenClaw contextWindow ≥ 16000", &["backend.model"], backend::context),
    def("backend.chat", "A chat answer", &["backend.model"], backend::chat),
    def("backend.tools", "A tool call, as OpenClaw sends it", &["backend.chat"], backend::tools),
    def("openclaw.config", "openclaw.json found and parses", &[], openclaw::config),
    def("openclaw.records", "clawlocal's patch records readable", &[], openclaw::records),
    def("openclaw.schema", "clawlocal's entries match OpenClaw's schema", &["openclaw.config"], openclaw::schema),
    def("openclaw.cli", "`openclaw config validate` accepts the config", &["openclaw.config"], openclaw::cli),
    def(
        "openclaw.provider",
        "The provider entry this server needs",
        &["openclaw.config", "host.receipt"],
        backend::provider_check,
    ),
    def(
        "openclaw.model",
        "Model entry: id, contextWindow (Ollama: num_ctx)",
        &["openclaw.provider"],
        backend::model_entry,
    ),
    def("openclaw.model-ref", "Agents use the model", &["openclaw.model"], openclaw::model_ref),
    def("openclaw.models-mode", "models.mode keeps hosted providers", &["openclaw.config"], openclaw::models_mode),
    def(
        "openclaw.agent-model",
        "The default agent does not hide the defaults",
        &["openclaw.config"],
        openclaw::agent_model,
    ),
    def("openclaw.gateway", "OpenClaw gateway", &["openclaw.config"], openclaw::gateway),
    def("security.bind", "The server is not reachable from the network", &["host.receipt"], backend::bind),
    def("security.config-file", "openclaw.json private", &["openclaw.config"], openclaw::config_file_mode),
];

/// The checks for what the receipt records: clawlocal's engine, or a server another tool runs.
pub fn table_for(layout: &Layout) -> &'static [Def] {
    match crate::receipt::Install::load(&layout.receipt_file()) {
        Ok(Some(crate::receipt::Install::Backend(_))) => BACKEND_CHECKS,
        _ => CHECKS,
    }
}

/// How doctor runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Re-hash the model and ask the OpenClaw CLI afresh.
    pub deep: bool,
    /// How long the chat and tool probes may take.
    pub chat_timeout: Duration,
}

/// The OpenClaw config as read by `openclaw.config`.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub text: String,
    /// The parsed config with a single-file `models` include resolved.
    pub value: serde_json::Value,
    /// The text of that include, when there is one (part of what the CLI verdict is cached for).
    pub include_text: Option<String>,
}

/// The receipt, where things are, and what earlier checks found.
pub struct Probe<'a> {
    pub host: &'a dyn Host,
    pub layout: &'a Layout,
    pub opts: Options,
    pub receipt: Option<Receipt>,
    /// The record of an `init --backend` setup (then `receipt` is `None` and the table is [`BACKEND_CHECKS`]).
    pub backend: Option<crate::receipt::BackendReceipt>,
    /// What that server answered (`backend.reachable`).
    pub served: Option<crate::backends::Served>,
    /// The checks that apply to what is installed.
    pub table: &'static [Def],
    pub lock: std::result::Result<LockFile, String>,
    this_host: Option<std::result::Result<crate::profile::Profile, String>>,
    pub engine: Option<crate::engine::Engine>,
    pub config: Option<Config>,
    /// What `openclaw.config` found, kept so a check that needs the config earlier (server.context) reads it once.
    config_outcome: Option<Outcome>,
    /// `/props` and `/v1/models` from the running engine.
    pub props: Option<serde_json::Value>,
    pub models: Option<serde_json::Value>,
    openclaw_cli: Option<Option<(String, String)>>,
}

impl<'a> Probe<'a> {
    pub fn new(host: &'a dyn Host, layout: &'a Layout, opts: Options) -> Self {
        Self {
            host,
            layout,
            opts,
            receipt: None,
            backend: None,
            served: None,
            table: table_for(layout),
            lock: Ok(LockFile::default()),
            this_host: None,
            engine: None,
            config: None,
            config_outcome: None,
            props: None,
            models: None,
            openclaw_cli: None,
        }
    }

    /// The receipt; checks that call this run only after `host.receipt` passed.
    fn r(&self) -> &Receipt {
        self.receipt.as_ref().expect("checks that read the receipt run after host.receipt")
    }

    /// This host's hardware, detected once.
    fn this_host(&mut self) -> std::result::Result<&crate::profile::Profile, String> {
        if self.this_host.is_none() {
            self.this_host = Some(crate::hardware::detect(self.host).map_err(|e| e.message));
        }
        self.this_host.as_ref().expect("set above").as_ref().map_err(Clone::clone)
    }

    /// The OpenClaw CLI and its version line, asked once.
    fn openclaw_cli(&mut self) -> Option<(String, String)> {
        if self.openclaw_cli.is_none() {
            self.openclaw_cli = Some(crate::openclaw::file::openclaw_cli(self.host));
        }
        self.openclaw_cli.clone().flatten()
    }

    /// The key the engine requires, read from its file (mode is judged by `security.key-file`).
    fn key(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.layout.on_host(&self.receipt.as_ref()?.api_key_file)).ok()?;
        Some(text.trim().to_string()).filter(|k| !k.is_empty())
    }

    /// `clawlocal <args>` as a person should type it here: with `--scope` when the receipt's scope is not the
    /// default one.
    fn clawlocal(&self, args: &str) -> String {
        match self.receipt.as_ref().map(|r| r.scope).or(self.backend.as_ref().map(|b| b.scope)) {
            Some(scope) if scope != crate::layout::default_scope(self.host) => {
                let s = if scope == Scope::User { "user" } else { "system" };
                format!("clawlocal --scope {s} {args}")
            }
            _ => format!("clawlocal {args}"),
        }
    }

    /// How a person (re)starts the engine under the receipt's service manager.
    fn restart_command(&self) -> String {
        match self.r().service {
            ServiceKind::Systemd => service::systemctl_cmd(self, "restart"),
            ServiceKind::Launchd => {
                let sudo = if self.r().scope == Scope::System { "sudo " } else { "" };
                format!("{sudo}launchctl kickstart -k {}", service::launchd_target(self))
            }
            ServiceKind::Compose => self.layout.compose_command(&["restart"]).join(" "),
            ServiceKind::None => {
                format!(
                    "stop the running engine, then run `{}` (or `clawlocal doctor --fix` with a service)",
                    self.clawlocal("serve")
                )
            }
        }
    }

    /// The repair for "the engine is not running what the receipt says": a restart, where a manager runs it.
    fn restart_repair(&self) -> Option<Repair> {
        (self.r().service != ServiceKind::None).then_some(Repair::Restart)
    }
}

/// `--only ID`: the check itself, or every check of a layer (`server` selects `server.*`).
fn matches(id: &str, only: &str) -> bool {
    let only = only.trim_end_matches('.');
    id == only || id.strip_prefix(only).is_some_and(|rest| rest.starts_with('.'))
}

/// The checks of `table` that `--only` selects, with everything they need. `None`: all of them.
pub fn selection(table: &'static [Def], only: Option<&str>) -> Result<BTreeSet<&'static str>> {
    let Some(only) = only else { return Ok(table.iter().map(|d| d.id).collect()) };
    let only = only.trim_end_matches('.');
    let mut wanted: BTreeSet<&'static str> = table.iter().map(|d| d.id).filter(|id| matches(id, only)).collect();
    if wanted.is_empty() {
        return Err(Error::usage(format!("no doctor check `{only}`")).with_hint(
            "`clawlocal doctor --list-checks` lists them; a layer name (e.g. `server`) selects its checks",
        ));
    }
    // Close over prerequisites: later checks need what earlier ones found.
    for d in table.iter().rev() {
        if wanted.contains(d.id) {
            wanted.extend(d.after.iter().copied());
        }
    }
    Ok(wanted)
}

/// Run the checks in `run` (see [`selection`]) and return those `report` names (`--only`), in order.
pub fn run_checks(probe: &mut Probe, only: Option<&str>) -> Result<Vec<Check>> {
    let run = selection(probe.table, only)?;
    let shown: BTreeSet<&str> = match only {
        None => run.clone(),
        Some(o) => probe.table.iter().map(|d| d.id).filter(|id| matches(id, o)).collect(),
    };
    Ok(run_set(probe, &run, &shown))
}

/// Every check but those `leave_out` names (by id or layer): init's short doctor, which leaves out the server
/// layer when it started no engine.
pub fn run_all_but(probe: &mut Probe, leave_out: &[&str]) -> Vec<Check> {
    let run: BTreeSet<&str> =
        probe.table.iter().map(|d| d.id).filter(|id| !leave_out.iter().any(|l| matches(id, l))).collect();
    run_set(probe, &run, &run)
}

fn run_set(probe: &mut Probe, run: &BTreeSet<&'static str>, shown: &BTreeSet<&str>) -> Vec<Check> {
    let mut results: Vec<Check> = Vec::new();
    // For each result, the failed check that kept it from running (through skipped ones in between).
    let mut failed_cause: Vec<Option<usize>> = Vec::new();
    for d in probe.table.iter().filter(|d| run.contains(d.id)) {
        let started = Instant::now();
        let blocked = d.after.iter().find_map(|dep| results.iter().position(|r| r.id == *dep && !r.usable));
        let cause = blocked.and_then(|i| if results[i].status == Status::Fail { Some(i) } else { failed_cause[i] });
        let outcome = match blocked.map(|i| &results[i]) {
            // A skipped prerequisite's reason is this check's reason too (e.g. `--service none`).
            Some(dep) if dep.status == Status::Skip => Outcome::skip(dep.detail.clone()),
            Some(dep) => Outcome::skip(format!("skipped: {} did not pass", dep.id)),
            None => (d.run)(probe),
        };
        failed_cause.push(cause);
        debug_assert!(outcome.status != Status::Fail || outcome.fix.is_some(), "{} failed without a fix", d.id);
        results.push(Check {
            id: d.id.to_string(),
            title: d.title.to_string(),
            status: outcome.status,
            detail: outcome.detail,
            fix: outcome.fix,
            repair: outcome.repair,
            elapsed_ms: started.elapsed().as_millis() as u64,
            usable: outcome.usable,
        });
    }
    // A check asked for by `--only` that could not run because a prerequisite failed fails itself, and the
    // prerequisite is shown: `doctor --only server.health` must not pass while nothing listens.
    let mut keep: BTreeSet<String> = shown.iter().map(|s| s.to_string()).collect();
    for (i, cause) in failed_cause.iter().enumerate() {
        if let Some(c) =
            cause.filter(|c| !shown.contains(results[*c].id.as_str()) && shown.contains(results[i].id.as_str()))
        {
            let (id, detail, fix) = (results[c].id.clone(), results[c].detail.clone(), results[c].fix.clone());
            let check = &mut results[i];
            check.status = Status::Fail;
            check.detail = format!("cannot run: its prerequisite {id} failed ({detail})");
            check.fix = fix.or_else(|| Some(format!("`clawlocal doctor --only {id}` shows what to fix")));
            keep.insert(id);
        }
    }
    results.retain(|c| keep.contains(&c.id));
    results
}

pub fn report(checks: Vec<Check>, repairs: Vec<Applied>) -> Report {
    Report { ok: !checks.iter().any(|c| c.status == Status::Fail), checks, repairs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_dotted_layers_and_every_prerequisite_runs_earlier() {
        let layers = ["host", "engine", "model", "service", "server", "backend", "openclaw", "security"];
        for table in [CHECKS, BACKEND_CHECKS] {
            let mut seen = Vec::new();
            for d in table {
                let (layer, name) = d.id.split_once('.').expect("dotted");
                assert!(layers.contains(&layer), "{}", d.id);
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
                );
                for dep in d.after {
                    assert!(seen.contains(dep), "{} needs {dep}, which must come before it", d.id);
                }
                assert!(!seen.contains(&d.id), "duplicate {}", d.id);
                seen.push(d.id);
            }
        }
        assert!(CHECKS.len() >= 12 && BACKEND_CHECKS.len() >= 12);
    }

    #[test]
    fn only_selects_a_check_or_a_layer_with_its_prerequisites() {
        let s = selection(CHECKS, Some("server.context")).unwrap();
        for id in ["host.receipt", "server.listen", "server.health", "server.model", "server.context"] {
            assert!(s.contains(id), "{id}");
        }
        assert!(!s.contains("server.chat"));
        let layer = selection(CHECKS, Some("model")).unwrap();
        assert!(layer.contains("model.sha256") && layer.contains("host.receipt") && !layer.contains("server.listen"));
        let err = selection(CHECKS, Some("nope")).unwrap_err();
        assert!(err.message.contains("nope") && err.hint.unwrap().contains("--list-checks"));
    }
}

/// Checks against a scripted host: the manager's answers, /proc files and hardware, without a real system.
#[cfg(test)]
mod fake_host_tests {

    use super::*;
    use crate::engine::args::ServerArgs;
    use crate::engine::{Features, Version};
    use crate::estimate::CacheType;
    use crate::host::FakeHost;
    use crate::plan::Role;
    use crate::receipt::{self, RECEIPT_VERSION};
    use crate::size::GIB;

    fn receipt(service: ServiceKind, scope: Scope, profile: &str, estimate: u64) -> Receipt {
        Receipt {
            version: RECEIPT_VERSION,
            profile: profile.into(),
            hardware: crate::profile::bundled(profile).unwrap(),
            scope,
            service,
            port: 8765,
            role: Role::Fallback,
            model: receipt::Model {
                id: "m-q4_k_m".into(),
                name: "M (local)".into(),
                spec: crate::hub::pull::ModelSpec::Hub("hf:o/r/m.gguf".into()),
                repo: "o/r".into(),
                commit: "c".repeat(40),
                file: "m.gguf".into(),
                path: "/models/m.gguf".into(),
                sha256: "a".repeat(64),
                size: GIB,
                context: 32_768,
                estimate_bytes: estimate,
                growth_bytes: 0,
            },
            engine: receipt::Engine {
                path: "/usr/bin/llama-server".into(),
                source: crate::engine::Source::Path,
                version: Version { version: "b9000".into(), build: 9000, commit: "c".into() },
            },
            server: ServerArgs {
                alias: "m-q4_k_m".into(),
                context: 32_768,
                threads: 4,
                parallel: 1,
                cache: CacheType::F16,
                gpu_margin_mib: None,
                mlock: false,
                cache_ram_mib: 0,
                ctx_checkpoints: None,
                features: Features::PINNED,
            },
            serve: receipt::Command {
                program: "/usr/bin/llama-server".into(),
                args: ["--host", "127.0.0.1", "--port", "8765"].map(String::from).into(),
            },
            api_key_file: "/etc/clawlocal/api-key".into(),
            units: vec!["/etc/systemd/system/clawlocal-llm.service".into()],
            openclaw_config: "/root/.openclaw/openclaw.json".into(),
            created: receipt::Created::default(),
            complete: true,
            files: Vec::new(),
            bench: None,
            measured: None,
        }
    }

    fn layout(host: &FakeHost) -> Layout {
        crate::layout::resolve(host, Some(Scope::System), None, None).unwrap()
    }

    fn outcome(host: &FakeHost, r: Receipt, check: fn(&mut Probe) -> Outcome) -> Outcome {
        let l = layout(host);
        let mut p = Probe::new(host, &l, Options { deep: false, chat_timeout: Duration::from_secs(1) });
        p.receipt = Some(r);
        check(&mut p)
    }

    fn base() -> FakeHost {
        FakeHost::linux().with_env("HOME", "/root")
    }

    #[test]
    fn a_user_unit_on_a_headless_host_without_linger_warns_with_the_command() {
        let user = || receipt(ServiceKind::Systemd, Scope::User, "vps-8gb", GIB);
        let enabled = "systemctl --user is-enabled clawlocal-llm.service";
        let headless = base().with_env("USER", "alice").with_command(enabled, "enabled");
        let off = outcome(&headless, user(), service::enabled);
        assert_eq!(off.status, Status::Warn, "{}", off.detail);
        assert!(off.detail.contains("linger is off for alice"), "{}", off.detail);
        assert_eq!(off.fix.as_deref(), Some("sudo loginctl enable-linger alice"));
        let lingering = headless.clone().with_file("/var/lib/systemd/linger/alice", "");
        assert_eq!(outcome(&lingering, user(), service::enabled).status, Status::Pass);
        let desktop = headless.with_env("WAYLAND_DISPLAY", "wayland-0");
        assert_eq!(outcome(&desktop, user(), service::enabled).status, Status::Pass, "a graphical session keeps it");
    }

    #[test]
    fn systemd_answers_become_pass_fail_or_skip_with_the_command_to_run() {
        let r = || receipt(ServiceKind::Systemd, Scope::System, "vps-8gb", GIB);
        let host = base().with_command("systemctl is-enabled clawlocal-llm.service", "disabled").with_failing_command(
            "systemctl is-active clawlocal-llm.service",
            3,
            "",
        );
        let enabled = outcome(&host, r(), service::enabled);
        assert_eq!(enabled.status, Status::Fail);
        assert_eq!(enabled.fix.as_deref(), Some("sudo systemctl enable clawlocal-llm.service"));
        assert_eq!(enabled.repair, Some(Repair::Restart));
        // `is-active` printed nothing on stdout and nothing on stderr: no answer to judge.
        assert_eq!(outcome(&host, r(), service::active).status, Status::Skip);

        let host = base().with_command("systemctl is-active clawlocal-llm.service", "failed");
        let active = outcome(&host, r(), service::active);
        assert_eq!(
            (active.status, active.fix.as_deref()),
            (Status::Fail, Some("sudo systemctl restart clawlocal-llm.service"))
        );

        let no_bus = base().with_failing_command(
            "systemctl --user is-active clawlocal-llm.service",
            1,
            "Failed to connect to bus: No medium found",
        );
        let skipped = outcome(&no_bus, receipt(ServiceKind::Systemd, Scope::User, "vps-8gb", GIB), service::active);
        assert_eq!(skipped.status, Status::Skip);
        assert!(skipped.detail.contains("Failed to connect to bus"), "{}", skipped.detail);

        let show = "systemctl show -p NRestarts -p Result clawlocal-llm.service";
        let oom = outcome(&base().with_command(show, "NRestarts=3\nResult=oom-kill"), r(), service::restarts);
        assert_eq!(oom.status, Status::Fail);
        assert!(oom.detail.contains("too much memory") && oom.fix.unwrap().contains("init --profile auto"));
        let flaky = outcome(&base().with_command(show, "NRestarts=2\nResult=exit-code"), r(), service::restarts);
        assert_eq!(flaky.status, Status::Warn);
        assert!(flaky.detail.contains("restarted 2 times"), "{}", flaky.detail);
        let calm = outcome(&base().with_command(show, "NRestarts=0\nResult=success"), r(), service::restarts);
        assert_eq!(calm.status, Status::Pass);
        let journal = "journalctl --unit clawlocal-llm.service -n 500 -o cat --no-pager";
        let earlier = base().with_command(show, "NRestarts=1\nResult=success").with_command(
            journal,
            "Started x.\nclawlocal-llm.service: A process of this unit has been killed by the OOM killer.\nStarted x.",
        );
        let out = outcome(&earlier, r(), service::restarts);
        assert_eq!(out.status, Status::Warn);
        assert!(out.detail.contains("1 OOM kill(s)"), "{}", out.detail);
    }

    #[test]
    fn engine_backend_counts_the_layers_the_log_shows_on_the_gpu_and_fails_a_cpu_fallback() {
        let r = || receipt(ServiceKind::Systemd, Scope::System, "gpu-24gb", GIB);
        let devices = "/usr/bin/llama-server --list-devices";
        let journal = "journalctl --unit clawlocal-llm.service -n 2000 -o cat --no-pager";
        let listed = "Available devices:\n  CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB, 23500 MiB free)";
        let on_gpu = base().with_command(devices, listed).with_command(
            journal,
            "load_tensors: offloaded 29/29 layers to GPU\nload_tensors:        CUDA0 model buffer size =  4400.00 MiB",
        );
        let out = outcome(&on_gpu, r(), local::engine_backend);
        assert_eq!(out.status, Status::Pass, "{}", out.detail);
        assert!(
            out.detail.contains("29/29 layers on the GPU") && out.detail.contains("CUDA0 4400 MiB"),
            "{}",
            out.detail
        );
        let fell_back = base().with_command(devices, listed).with_command(
            journal,
            "load_tensors: offloaded 0/29 layers to GPU\nload_tensors: CPU_Mapped model buffer size = 4400.00 MiB",
        );
        let out = outcome(&fell_back, r(), local::engine_backend);
        assert_eq!(out.status, Status::Fail, "{}", out.detail);
        assert!(out.detail.contains("0/29 layers on the GPU") && out.fix.unwrap().contains("nvidia-smi"));
        let no_log = base().with_command(devices, listed);
        let out = outcome(&no_log, r(), local::engine_backend);
        assert_eq!(out.status, Status::Pass);
        assert!(out.detail.contains("no engine log"), "{}", out.detail);
        let cpu_build = base().with_command(devices, "Available devices:\n");
        let out = outcome(&cpu_build, r(), local::engine_backend);
        assert_eq!(out.status, Status::Fail);
        assert!(out.detail.contains("none: a CPU-only build") && out.fix.unwrap().contains("--backend cuda"));
    }

    #[test]
    fn a_listener_on_every_address_fails_the_bind_check() {
        let r = || receipt(ServiceKind::None, Scope::System, "vps-8gb", GIB);
        let header =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        // 8765 = 0x223D; state 0A = LISTEN.
        let any = format!(
            "{header}   0: 00000000:223D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        );
        let out = outcome(&base().with_file("/proc/net/tcp", &any), r(), local::bind);
        assert_eq!(out.status, Status::Fail);
        assert!(out.detail.contains("non-loopback"), "{}", out.detail);
        let lo = format!(
            "{header}   0: 0100007F:223D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n"
        );
        assert_eq!(outcome(&base().with_file("/proc/net/tcp", &lo), r(), local::bind).status, Status::Pass);
        let mut open = r();
        open.serve.args = ["--host", "0.0.0.0", "--port", "8765"].map(String::from).into();
        let out = outcome(&base(), open, local::bind);
        assert_eq!(out.status, Status::Fail);
        assert!(out.detail.contains("--host 0.0.0.0"));
    }

    fn machine(mem_kib: u64) -> FakeHost {
        base()
            .with_file("/proc/meminfo", &format!("MemTotal: {mem_kib} kB\nMemAvailable: {} kB\n", mem_kib / 2))
            .with_file("/proc/cpuinfo", "processor: 0\n\nprocessor: 1\n\n")
    }

    #[test]
    fn the_host_is_judged_against_the_model_and_the_profile() {
        let host = machine(8 * 1024 * 1024);
        let fits = outcome(&host, receipt(ServiceKind::None, Scope::System, "vps-8gb", 3 * GIB), local::memory);
        assert_eq!(fits.status, Status::Pass, "{}", fits.detail);
        let tight = outcome(&host, receipt(ServiceKind::None, Scope::System, "vps-8gb", 7 * GIB), local::memory);
        assert_eq!(tight.status, Status::Warn, "{}", tight.detail);
        let big = outcome(&host, receipt(ServiceKind::None, Scope::System, "vps-32gb", 20 * GIB), local::memory);
        assert_eq!(big.status, Status::Fail);
        assert!(
            big.detail.contains("too big") && big.detail.contains("profile vps-32gb assumes 32.0 GiB"),
            "{}",
            big.detail
        );

        let cores = outcome(&host, receipt(ServiceKind::None, Scope::System, "vps-8gb", GIB), local::cpu);
        assert_eq!(cores.status, Status::Warn, "4 threads on 2 cores: {}", cores.detail);
        let gpu = outcome(&host, receipt(ServiceKind::None, Scope::System, "gpu-24gb", GIB), local::accelerator);
        assert_eq!(gpu.status, Status::Fail);
        assert!(gpu.detail.contains("nvidia-smi") && gpu.fix.unwrap().contains("driver"));
    }

    #[test]
    fn repairs_are_ordered_deduplicated_and_only_where_a_manager_runs_the_engine() {
        let check = |status, repair| Check {
            id: "x.y".into(),
            title: String::new(),
            status,
            detail: String::new(),
            fix: Some("f".into()),
            repair: Some(repair),
            elapsed_ms: 0,
            usable: false,
        };
        let host = base();
        let l = layout(&host);
        let mut p = Probe::new(&host, &l, Options { deep: false, chat_timeout: Duration::from_secs(1) });
        p.receipt = Some(receipt(ServiceKind::Systemd, Scope::System, "vps-8gb", GIB));
        let checks = vec![
            check(Status::Fail, Repair::Repatch),
            check(Status::Fail, Repair::Restart),
            check(Status::Fail, Repair::Redownload),
            check(Status::Fail, Repair::Repatch),
            check(Status::Pass, Repair::ChmodKey),
        ];
        assert_eq!(fix::wanted(&checks, &p), [Repair::Redownload, Repair::Repatch, Repair::Restart]);
        let with_drift = [checks.clone(), vec![check(Status::Fail, Repair::Rerender)]].concat();
        assert_eq!(
            fix::wanted(&with_drift, &p),
            [Repair::Redownload, Repair::Rerender, Repair::Repatch],
            "a re-render restarts"
        );
        p.receipt = Some(receipt(ServiceKind::None, Scope::System, "vps-8gb", GIB));
        assert_eq!(
            fix::wanted(&with_drift, &p),
            [Repair::Redownload, Repair::Repatch],
            "nothing to restart with --service none"
        );
        let planned = planned_repairs(&checks, &p);
        assert!(planned.iter().all(|a| a.status == "planned"));
        assert!(planned[0].description.contains("hf:o/r/m.gguf"), "{}", planned[0].description);
    }
}
