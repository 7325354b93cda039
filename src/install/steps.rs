//! The plan: ordered, typed steps with every file's final bytes and every command, each write guarded by the
//! state the survey saw. `plan()` is pure: the same desire and world give the same plan, and a precondition
//! that fails is a [`Blocker`] found here, before a byte is fetched or written.

use std::path::PathBuf;

use super::{Desired, World};
use crate::engine::args::{Placement, ServerArgs};
use crate::error::Error;
use crate::hub::client::Resolution;
use crate::hub::download::sha256_hex;
use crate::hub::pull::Wanted;
use crate::openclaw::file::Prepared;
use crate::receipt::{self, Receipt};
use crate::render::{self, Rendered, Target, UnitSpec};

/// The files init writes besides openclaw.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Lock,
    ApiKey,
    Unit,
    Receipt,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lock => "lock",
            Self::ApiKey => "api-key",
            Self::Unit => "unit",
            Self::Receipt => "receipt",
        }
    }
}

/// The state a file must still be in when its step runs: what the survey saw. A file changed since is not
/// clobbered; the run stops there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    Absent,
    Sha256(String),
}

impl Guard {
    pub fn of(bytes: Option<&[u8]>) -> Self {
        bytes.map_or(Self::Absent, |b| Self::Sha256(sha256_hex(b)))
    }
    pub fn holds(&self, bytes: Option<&[u8]>) -> bool {
        *self == Self::of(bytes)
    }
}

#[derive(Debug, Clone)]
pub enum Step {
    /// The receipt written before the first change, marked unfinished: a run killed from here on leaves a record
    /// uninstall replays and doctor names.
    Journal {
        path: PathBuf,
        contents: Vec<u8>,
        guard: Guard,
    },
    /// Download (or find in the cache) every file of the model, sha256-verified while streaming.
    Fetch {
        want: Wanted,
        resolution: Resolution,
        path: PathBuf,
        cached: bool,
        bytes: u64,
    },
    /// No llama-server anywhere: install the release archive (sha256 verified while streaming, unpacked into its
    /// own folder, its binary asked for its build and every flag the unit passes before it takes the name).
    InstallEngine {
        request: crate::engine::install::Request,
        path: PathBuf,
        argv: Vec<String>,
    },
    /// The probed llama-server, checked to take every flag the unit passes.
    Engine {
        path: PathBuf,
        version: String,
    },
    Write {
        kind: FileKind,
        path: PathBuf,
        contents: Vec<u8>,
        mode: u32,
        guard: Guard,
        target: Option<Target>,
    },
    /// A swap no service manager restarts: the new model proves it loads on a spare port first.
    Trial {
        program: PathBuf,
        args: Vec<String>,
        from: String,
        to: String,
        /// What the engine's measured peak is judged against (None when the model lives in VRAM).
        fit: Option<super::fit::FitCheck>,
    },
    /// Enable and (re)start the service.
    Start {
        target: Target,
        commands: Vec<Vec<String>>,
        restart: bool,
    },
    /// Until `/health` answers and `/v1/models` serves the alias to this key: the engine is clawlocal's and up.
    WaitHealthy {
        /// The manager that started it: where the engine's process is found to measure it.
        target: Target,
        port: u16,
        alias: String,
        key: String,
        /// Judge the engine's measured peak (a model this run starts, in RAM): over the budget, OpenClaw is not
        /// pointed at it and the run is taken back.
        fit: Option<super::fit::FitCheck>,
    },
    /// openclaw.json as prepared (and judged by OpenClaw) in the survey.
    Openclaw(Box<Prepared>),
    /// `init --backend`: the server the user runs, as the survey found it; asked again that it still serves the
    /// model right before openclaw.json is pointed at it.
    Backend {
        kind: crate::backends::Kind,
        url: String,
        version: Option<String>,
        model: String,
        context: u32,
        key: Option<String>,
    },
    /// Set a file's mode (`doctor --fix`: a key file others could read).
    Chmod {
        kind: &'static str,
        path: PathBuf,
        mode: u32,
    },

    // The steps of uninstall, the receipt's inverse (`super::undo`).
    /// Stop and disable the service; a manager that does not answer is warned about, and its files still go.
    Stop {
        target: Target,
        command: Vec<String>,
    },
    /// SIGTERM the engine `clawlocal serve` runs (the survey found it clawlocal's) and wait for its port to close.
    StopServe {
        pid: u32,
        port: u16,
    },
    /// Remove a file clawlocal made (and the temp files a killed write of it left).
    Remove {
        kind: &'static str,
        path: PathBuf,
    },
    /// Remove a folder clawlocal made, with everything in it.
    RemoveTree {
        kind: &'static str,
        path: PathBuf,
    },
    /// Leave a file in place, and say why (edited since init, not clawlocal's, there before init).
    Keep {
        kind: &'static str,
        path: PathBuf,
        why: String,
    },
    /// Take clawlocal's edit out of openclaw.json, as prepared from its record.
    Unpatch(Box<crate::openclaw::file::PreparedUnpatch>),
    /// A model blob clawlocal downloaded: the blob, its snapshot entry, refs and locks, then empty folders.
    Purge {
        repo: String,
        commit: String,
        path: PathBuf,
        sha256: String,
    },
    /// Tell the manager its units changed (`systemctl daemon-reload`); its failure does not matter.
    Reload {
        command: Vec<String>,
    },
    /// Remove these folders when they are empty (clawlocal's own).
    Tidy {
        dirs: Vec<PathBuf>,
    },
}

/// What a plan is for: how its executor treats a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Undo what ran, in reverse (a swap ends with the previous setup running).
    Init,
    /// Forward only: the receipt goes last, so a second run finishes what a failed one left.
    Uninstall,
    /// One repair of `doctor --fix`: forward only; doctor checks everything again afterwards.
    Repair,
}

impl Step {
    /// The contract's word for the step (the `kind` of `--json` actions).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Journal { .. } => "journal",
            Self::Fetch { .. } => "download",
            Self::Engine { .. } => "engine",
            Self::InstallEngine { .. } => "engine-install",
            Self::Write { kind, .. } => kind.as_str(),
            Self::Trial { .. } => "trial",
            Self::Start { .. } => "start",
            Self::WaitHealthy { .. } => "health",
            Self::Openclaw(_) | Self::Unpatch(_) => "openclaw-config",
            Self::Backend { .. } => "backend",
            Self::Chmod { kind, .. } => kind,
            Self::Stop { .. } | Self::Reload { .. } => "service",
            Self::StopServe { .. } => "engine",
            Self::Remove { kind, .. } | Self::RemoveTree { kind, .. } | Self::Keep { kind, .. } => kind,
            Self::Purge { .. } => "model",
            Self::Tidy { .. } => "tidy",
        }
    }

    /// One of uninstall's steps (run by `super::undo::run`).
    pub fn is_undo(&self) -> bool {
        matches!(
            self,
            Self::Stop { .. }
                | Self::StopServe { .. }
                | Self::Remove { .. }
                | Self::RemoveTree { .. }
                | Self::Keep { .. }
                | Self::Unpatch(_)
                | Self::Purge { .. }
                | Self::Reload { .. }
                | Self::Tidy { .. }
        )
    }
}

/// A precondition that does not hold: the run would stop at `step` (0-based) with `error`.
#[derive(Debug, Clone)]
pub struct Blocker {
    pub step: usize,
    pub error: Error,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub blockers: Vec<Blocker>,
    /// The finished install this one replaces (another model or other arguments): a failure puts it back.
    pub swap: Option<Receipt>,
    /// The receipt as the run leaves it.
    pub receipt: Option<Receipt>,
    /// Where the engine's service runs (none for `--service none`).
    pub target: Option<Target>,
    pub purpose: Purpose,
}

impl Plan {
    pub fn runnable(&self) -> bool {
        self.blockers.is_empty()
    }
}

/// Collects steps, and blockers at the step they stop.
struct Builder {
    steps: Vec<Step>,
    blockers: Vec<Blocker>,
}

impl Builder {
    fn block(&mut self, error: Error) {
        self.blockers.push(Blocker { step: self.steps.len(), error });
    }
    /// The value, or a blocker here.
    fn need<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        r.map_err(|e| self.block(e)).ok()
    }
}

/// Init's plan for `d` over `w`. Pure.
pub fn plan(d: &Desired, w: &World) -> Plan {
    let mut b = Builder { steps: Vec::new(), blockers: Vec::new() };
    let target = render::target_for(d.options.service, w.layout.scope);
    preconditions(&mut b, d, w, target);
    let previous = b.need(w.previous.clone()).flatten();
    let resolution = b.need(w.resolution.clone());
    let lock = b.need(w.lock.clone());
    let engine = engine_for(&mut b, w);
    let key = b.need(w.key.clone());
    let openclaw = b.need(w.openclaw.clone());
    let (Some(resolution), Some(lock), Some(engine), Some(key), Some(openclaw)) =
        (resolution, lock, engine, key, openclaw)
    else {
        return Plan {
            steps: b.steps,
            blockers: b.blockers,
            swap: None,
            receipt: None,
            target,
            purpose: Purpose::Init,
        };
    };
    let inputs = Inputs { resolution, lock, engine, key, openclaw, previous };
    let parts = parts(&mut b, d, w, inputs);
    push_steps(&mut b, d, w, target, &parts);
    let Parts { swap, finished, .. } = parts;
    Plan { steps: b.steps, blockers: b.blockers, swap, receipt: Some(finished), target, purpose: Purpose::Init }
}

/// The engine found, or the one the plan installs (at its folder under the engine dir, with the release's flags).
fn engine_for(b: &mut Builder, w: &World) -> Option<crate::engine::Engine> {
    match (&w.engine, &w.engine_install) {
        (Err(_), Some(Ok(req))) => {
            let path = w.layout.engine_dir.join(req.folder()).join(crate::engine::BINARY);
            let build = req.release.trim_start_matches('b').parse().unwrap_or(0);
            Some(crate::engine::Engine::planned(&path, build))
        }
        (Err(_), Some(Err(e))) => b.need(Err(e.clone())),
        _ => b.need(w.engine.clone()),
    }
}

/// The survey's facts the plan cannot do without, all present.
struct Inputs {
    resolution: Resolution,
    lock: crate::lockfile::LockFile,
    engine: crate::engine::Engine,
    key: Option<String>,
    openclaw: Prepared,
    previous: Option<Receipt>,
}

/// Everything the steps carry: arguments, rendered units, every file's final bytes, both receipts.
struct Parts {
    inputs: Inputs,
    server: ServerArgs,
    model: PathBuf,
    units: Vec<Rendered>,
    key_bytes: Vec<u8>,
    lock_bytes: Vec<u8>,
    pending: Receipt,
    finished: Receipt,
    swap: Option<Receipt>,
}

/// The arguments (checked against the engine's own `--help`), the units (refusing to replace a file that is not
/// clawlocal's), the key, the lock and the receipts.
fn parts(b: &mut Builder, d: &Desired, w: &World, mut inputs: Inputs) -> Parts {
    let layout = &w.layout;
    if let Some(free) = w.free_disk.filter(|free| !w.cached && *free < d.selection.download_bytes) {
        b.block(
            Error::failure(format!(
                "not enough disk space for the model in {}: {} needed, {} free",
                layout.hub_cache.display(),
                crate::size::human(d.selection.download_bytes),
                crate::size::human(free)
            ))
            .with_hint("free some space, or point HF_HUB_CACHE at a bigger disk"),
        );
    }
    let engine = &inputs.engine;
    let server = crate::engine::args::server_args(&d.profile, &d.selection, engine.features);
    let repo_dir = layout.repo_cache(&d.want.hub.repo);
    let r = &inputs.resolution;
    let model = repo_dir.join("snapshots").join(&r.commit).join(&r.files[0].name);
    let key_file = layout.api_key_file();
    let serve_args = argv(b, &server, layout, &model, d.options.port);
    b.need(engine.check(&serve_args));
    let spec = UnitSpec {
        engine: &engine.path,
        server: &server,
        model: &model,
        repo_dir: &repo_dir,
        port: d.options.port,
        api_key_file: &key_file,
        profile: &d.profile,
        layout,
    };
    let units = b.need(render::for_service(d.options.service, &spec)).unwrap_or_default();
    refuse_foreign_units(b, w, &units);
    let key_bytes = match w.bytes(&key_file) {
        Some(existing) => existing.to_vec(),
        None => inputs.key.clone().map_or_else(|| w.fresh_key.clone(), |k| format!("{k}\n")).into_bytes(),
    };
    inputs.lock.upsert(crate::hub::pull::locked_entry(&d.want, r));
    if let Some(Ok(req)) = w.engine_install.as_ref().filter(|_| w.engine.is_err()) {
        for pin in req.pins() {
            inputs.lock.upsert_engine(pin, crate::engine::backend::PINNED.release);
        }
    }
    let lock_bytes = inputs.lock.text().into_bytes();
    let pending = receipt_for(d, w, &inputs, &server, &serve_args, &model, &units);
    let finished = finished(&pending, w, &lock_bytes, &key_bytes, &units, &inputs.openclaw);
    // A swap: the finished install ran another model or other arguments.
    let swap = inputs
        .previous
        .clone()
        .filter(|p| p.complete && (p.model.sha256 != finished.model.sha256 || p.serve != finished.serve));
    Parts { inputs, server, model, units, key_bytes, lock_bytes, pending, finished, swap }
}

/// A unit file at the path that clawlocal did not write is the user's: never replaced.
fn refuse_foreign_units(b: &mut Builder, w: &World, units: &[Rendered]) {
    for unit in units {
        let now = w.bytes(&unit.path).map(String::from_utf8_lossy);
        let foreign = |t: &str| t != unit.text && !t.lines().take(4).any(|l| l.contains(render::MANAGED_MARK));
        if now.as_deref().is_some_and(foreign) {
            b.block(
                Error::usage(format!(
                    "{} exists and was not written by clawlocal; refusing to replace it",
                    unit.path.display()
                ))
                .with_hint("move it away (or merge your settings into a drop-in) and run again"),
            );
        }
    }
}

/// The finished receipt: the pending one with every file init writes and its final sha256.
fn finished(pending: &Receipt, w: &World, lock: &[u8], key: &[u8], units: &[Rendered], openclaw: &Prepared) -> Receipt {
    let layout = &w.layout;
    let mut files = pending.files.clone();
    let mut record = |kind: &str, path: &std::path::Path, bytes: &[u8]| {
        files.push(receipt::FileRecord { kind: kind.into(), path: layout.in_image(path), sha256: sha256_hex(bytes) });
    };
    record("lock", &layout.lock_file(), lock);
    record("api-key", &layout.api_key_file(), key);
    for u in units {
        record("unit", &u.path, u.text.as_bytes());
    }
    record("openclaw-config", &openclaw.file, openclaw.after.as_bytes());
    Receipt { complete: true, files, ..pending.clone() }
}

pub(super) fn receipt_bytes(r: &Receipt) -> Vec<u8> {
    (serde_json::to_string_pretty(r).expect("the receipt serialises") + "\n").into_bytes()
}

/// The steps, in the order they run.
fn push_steps(b: &mut Builder, d: &Desired, w: &World, target: Option<Target>, p: &Parts) {
    let layout = &w.layout;
    let write = |kind, path: PathBuf, contents: Vec<u8>, mode| Step::Write {
        kind,
        guard: Guard::of(w.bytes(&path)),
        path,
        contents,
        mode,
        target: None,
    };
    let receipt_path = layout.receipt_file();
    let mut receipt_guard = Guard::of(w.bytes(&receipt_path));
    if !previous_same(w, &p.finished) {
        let pending = receipt_bytes(&p.pending);
        receipt_guard = Guard::of(Some(&pending));
        b.steps.push(Step::Journal {
            path: receipt_path.clone(),
            contents: pending,
            guard: Guard::of(w.bytes(&receipt_path)),
        });
    }
    let (r, engine) = (&p.inputs.resolution, &p.inputs.engine);
    // Cheap before the model: the engine (tens of MiB) is installed and proven before gigabytes are fetched.
    if let Some(Ok(request)) = w.engine_install.as_ref().filter(|_| w.engine.is_err()) {
        let argv = p.finished.serve.args.clone();
        b.steps.push(Step::InstallEngine { request: request.clone(), path: engine.path.clone(), argv });
    }
    let bytes = d.selection.download_bytes;
    b.steps.push(Step::Fetch {
        want: d.want.clone(),
        resolution: r.clone(),
        path: p.model.clone(),
        cached: w.cached,
        bytes,
    });
    b.steps.push(write(FileKind::Lock, layout.lock_file(), p.lock_bytes.clone(), 0o644));
    b.steps.push(Step::Engine { path: engine.path.clone(), version: engine.version.to_string() });
    b.steps.push(write(FileKind::ApiKey, layout.api_key_file(), p.key_bytes.clone(), 0o600));
    let fit = fit_check(d, &p.server);
    if let Some(old) = p.swap.as_ref().filter(|_| !d.start) {
        let (from, to) = (old.model.id.clone(), p.finished.model.id.clone());
        b.steps.push(Step::Trial {
            program: engine.path.clone(),
            args: p.finished.serve.args.clone(),
            from,
            to,
            fit: fit.clone(),
        });
    }
    let unit_changed = p.units.iter().any(|u| w.bytes(&u.path) != Some(u.text.as_bytes()));
    // An engine already answering on the port with the same units keeps running: nothing new was loaded to judge.
    let fresh_engine = unit_changed || !matches!(w.port_holder, Some((_, true)));
    for unit in &p.units {
        b.steps.push(unit_write(unit, w));
    }
    if let Some(target) = target.filter(|_| d.start) {
        let commands = render::service::activation(target, layout, unit_changed, w.uid);
        b.steps.push(Step::Start { target, commands, restart: unit_changed });
        b.steps.push(Step::WaitHealthy {
            target,
            port: d.options.port,
            alias: p.server.alias.clone(),
            key: w.key_text(),
            fit: fit.filter(|_| fresh_engine),
        });
    }
    b.steps.push(Step::Openclaw(Box::new(p.inputs.openclaw.clone())));
    let receipt = receipt_bytes(&p.finished);
    let (kind, mode) = (FileKind::Receipt, 0o644);
    b.steps.push(Step::Write { kind, path: receipt_path, contents: receipt, mode, guard: receipt_guard, target: None });
}

/// What the engine's measured peak is judged against, where the model lives in RAM.
fn fit_check(d: &Desired, server: &ServerArgs) -> Option<super::fit::FitCheck> {
    let s = &d.selection;
    d.profile.model_in_ram().then(|| super::fit::FitCheck {
        budget_bytes: s.budget_bytes,
        estimate_at_load_bytes: s.estimate.before_growth(),
        growth_bytes: server.cache_ram_mib * crate::size::MIB + s.estimate.checkpoint_bytes,
        smaller: s.smaller.clone(),
        quant_flag: matches!(d.want.spec, crate::hub::pull::ModelSpec::Catalog { .. }),
    })
}

/// What must hold on this host for the plan to run, each a blocker when it does not.
fn preconditions(b: &mut Builder, d: &Desired, w: &World, target: Option<Target>) {
    if let Some(why) = &w.gpu_missing {
        b.block(
            Error::usage(why.clone())
                .with_hint("pick a profile for this host (`clawlocal profiles list`, or `--profile auto`)"),
        );
    }
    if let (Some(target), Some(Err(why))) = (target, &w.manager) {
        let has = if w.managers_here.is_empty() {
            "none of systemd, docker compose or launchd".to_string()
        } else {
            w.managers_here.join(", ")
        };
        b.block(
            Error::usage(format!("--service {} cannot run here: {why}; this host has {has}", target.service_name()))
                .with_hint(
                    "`clawlocal init --service none` and then `clawlocal serve` (or under your own supervisor) runs \
                     the engine in the foreground; `--service compose` where docker compose runs; `--no-start` \
                     writes the unit without starting it",
                ),
        );
    }
    if let Some((holder, false)) = &w.port_holder {
        let port = d.options.port;
        let free = w.port_free.map_or(String::new(), |p| format!(" ({p} is free)"));
        b.block(
            Error::usage(format!("port {port} is already in use by {holder}; clawlocal's engine could not bind it"))
                .with_hint(format!(
                    "pass another port: `clawlocal init --port <N>`{free}, or stop the program that holds {port}"
                )),
        );
    }
    b.need(w.visible.clone());
}

/// llama-server's arguments with the model and key at the paths the image sees.
fn argv(
    b: &mut Builder,
    server: &ServerArgs,
    layout: &crate::layout::Layout,
    model: &std::path::Path,
    port: u16,
) -> Vec<String> {
    let model =
        b.need(render::checked("the model path", &layout.in_image(model).to_string_lossy())).unwrap_or_default();
    let key = b
        .need(render::checked("the API key file", &layout.in_image(&layout.api_key_file()).to_string_lossy()))
        .unwrap_or_default();
    server.argv(Placement { model: &model, host: "127.0.0.1", port, api_key_file: Some(&key) })
}

fn unit_write(unit: &Rendered, w: &World) -> Step {
    Step::Write {
        kind: FileKind::Unit,
        path: unit.path.clone(),
        contents: unit.text.clone().into_bytes(),
        mode: 0o644,
        guard: Guard::of(w.bytes(&unit.path)),
        target: Some(unit.target),
    }
}

/// The finished receipt there is already says exactly this install: nothing to journal.
fn previous_same(w: &World, finished: &Receipt) -> bool {
    w.previous.as_ref().ok().and_then(Option::as_ref).is_some_and(|p| p.complete && p.same_install(finished))
}

/// The receipt as the journal writes it (unfinished, only the model's file recorded).
fn receipt_for(
    d: &Desired,
    w: &World,
    inputs: &Inputs,
    server: &ServerArgs,
    serve_args: &[String],
    model: &std::path::Path,
    units: &[Rendered],
) -> Receipt {
    let (engine, resolution, openclaw, previous) =
        (&inputs.engine, &inputs.resolution, &inputs.openclaw, inputs.previous.as_ref());
    let layout = &w.layout;
    let s = &d.selection;
    let key_file = layout.api_key_file();
    let existing_key = w.bytes(&key_file).map(String::from_utf8_lossy);
    // A measurement stays true while the model and its arguments are the same.
    let same = previous.filter(|p| p.model.sha256 == resolution.files[0].sha256 && &p.server == server);
    Receipt {
        version: receipt::RECEIPT_VERSION,
        profile: d.profile.name.clone(),
        hardware: d.profile.clone(),
        scope: layout.scope,
        service: d.options.service,
        port: d.options.port,
        role: d.options.role,
        model: receipt::Model {
            id: s.model_id.clone(),
            name: format!("{} (local)", s.name),
            spec: d.want.spec.clone(),
            repo: d.want.hub.repo.clone(),
            commit: resolution.commit.clone(),
            file: resolution.files[0].name.clone(),
            path: layout.in_image(model),
            sha256: resolution.files[0].sha256.clone(),
            size: resolution.files.iter().map(|f| f.size).sum(),
            context: s.context,
            estimate_bytes: s.estimate.total_bytes,
            growth_bytes: s.estimate.total_bytes - s.estimate.before_growth(),
        },
        engine: receipt::Engine {
            path: layout.in_image(&engine.path),
            source: engine.source,
            version: engine.version.clone(),
        },
        server: server.clone(),
        serve: receipt::Command { program: layout.in_image(&engine.path), args: serve_args.to_vec() },
        api_key_file: layout.in_image(&key_file),
        units: units.iter().map(|u| layout.in_image(&u.path)).collect(),
        openclaw_config: layout.in_image(&openclaw.config),
        // Once clawlocal created something, later runs that find it keep the claim. A key in clawlocal's own format
        // is clawlocal's even when the run that made it was killed before its receipt.
        created: receipt::Created {
            key_file: existing_key.is_none()
                || previous.is_some_and(|p| p.created.key_file)
                || existing_key.is_some_and(|k| super::is_generated_key(&k)),
            model_blob: w.blob_ours || !w.cached,
        },
        complete: false,
        files: vec![receipt::FileRecord {
            kind: "model".into(),
            path: layout.in_image(model),
            sha256: resolution.files[0].sha256.clone(),
        }],
        bench: same.and_then(|p| p.bench.clone()),
        measured: same.and_then(|p| p.measured.clone()),
    }
}
