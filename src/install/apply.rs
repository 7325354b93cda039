//! Run a plan exactly: each step in order, its guard checked first (a file changed since the survey stops the
//! run instead of being clobbered), the receipt journaled before the first change, and on a failure what the
//! run did undone in reverse: files back to their bytes before, a started service stopped, or for a swap the
//! previous setup restarted and waited for. A fetched model stays in the cache (content-addressed; a re-run
//! resumes or reuses it).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::steps::{FileKind, Guard, Plan, Purpose, Step};
use super::{Desired, World};
use crate::change::Change;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::hub::HubConfig;
use crate::hub::client::Client;
use crate::layout::Layout;
use crate::output::Printer;
use crate::receipt::Measured;
use crate::render::service::{self, Ours};
use crate::render::{Rendered, Target};
use crate::size::human;

/// One step as it ran.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Done {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub status: Change,
    /// Why, where the status alone does not say (a file kept, a command run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the executor needs besides the plan: where things are, how to reach the Hub, how long to wait.
#[derive(Debug, Clone)]
pub struct Env {
    pub layout: Layout,
    pub uid: u32,
    pub hub: Option<HubConfig>,
    pub health_timeout: Duration,
    /// The key the engine takes (for the health wait and a swap's way back).
    pub key: Option<String>,
    /// The engine binary (a port holder running it is clawlocal's).
    pub engine: Option<PathBuf>,
}

impl Env {
    pub fn for_init(d: &Desired, w: &World) -> Env {
        Env {
            layout: w.layout.clone(),
            uid: w.uid,
            hub: Some(d.hub.clone()),
            health_timeout: d.health_timeout,
            key: Some(w.key_text()),
            engine: w.engine.as_ref().ok().map(|e| e.path.clone()),
        }
    }
}

#[derive(Debug)]
pub struct Applied {
    pub actions: Vec<Done>,
    pub units: Vec<Rendered>,
    pub started: bool,
    pub openclaw_file: PathBuf,
    pub model_path: PathBuf,
    /// The engine's memory measured by a trial run or the service start: goes into the receipt.
    pub measured: Option<Measured>,
}

/// What to do to take a step back.
enum Undo {
    /// Put the file back as it was (absent when it was absent).
    Restore { path: PathBuf, before: Option<Vec<u8>> },
    /// The service was (re)started.
    Started(Target),
}

pub fn apply(plan: &Plan, env: &Env, host: &dyn Host, printer: &Printer) -> Result<Applied> {
    if let Some(b) = plan.blockers.first() {
        return Err(b.error.clone());
    }
    let mut applied = Applied {
        actions: Vec::new(),
        units: Vec::new(),
        started: false,
        openclaw_file: PathBuf::new(),
        model_path: PathBuf::new(),
        measured: None,
    };
    let mut undo = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let ran = if step.is_undo() {
            super::undo::run(step, env, host, printer, &mut applied.actions)
        } else {
            run(step, env, host, printer, &mut applied, &mut undo)
        };
        if let Err(e) = ran {
            return Err(match plan.purpose {
                Purpose::Init => roll_back(plan, step, e, undo, env, host),
                // Forward only: the receipt goes last, so running the command again finishes the job.
                Purpose::Uninstall => Error {
                    message: format!(
                        "{}
uninstall stopped at step {} ({}); the receipt is kept: `clawlocal uninstall` again \
                         finishes it",
                        e.message,
                        i + 1,
                        step.kind()
                    ),
                    ..e
                },
                Purpose::Repair => e,
            });
        }
    }
    // An engine init that starts nothing says so (an `init --backend` has no engine to start).
    let engine_init = plan.steps.iter().any(|s| matches!(s, Step::Fetch { .. }));
    if plan.purpose == Purpose::Init && engine_init && !plan.steps.iter().any(|s| matches!(s, Step::Start { .. })) {
        applied.actions.push(done("start", None, Change::Skipped));
    }
    Ok(applied)
}

pub(super) fn done(kind: &'static str, path: Option<&std::path::Path>, status: Change) -> Done {
    Done { kind, path: path.map(std::path::Path::to_path_buf), status, note: None }
}

fn run(
    step: &Step,
    env: &Env,
    host: &dyn Host,
    printer: &Printer,
    applied: &mut Applied,
    undo: &mut Vec<Undo>,
) -> Result<()> {
    let (status, path) = match step {
        Step::Journal { path, contents, guard } => {
            write_guarded(path, contents, 0o644, guard, undo)?;
            return Ok(());
        }
        Step::Fetch { want, resolution, path, .. } => {
            let hub = env.hub.clone().ok_or_else(|| Error::failure("internal error: a fetch without a Hub"))?;
            let files = crate::hub::pull::fetch(want, resolution, &env.layout, &Client::new(hub), printer)?;
            applied.model_path = path.clone();
            let fetched = files.iter().map(|f| f.downloaded_bytes).sum::<u64>();
            (if fetched > 0 { Change::Created } else { Change::Unchanged }, Some(path.clone()))
        }
        Step::InstallEngine { request, path, argv } => {
            let installed = install_engine(request, argv, env, host, printer)?;
            let status = if installed.status == "unchanged" { Change::Unchanged } else { Change::Created };
            (status, Some(path.clone()))
        }
        Step::Engine { path, .. } if !path.is_file() => {
            return Err(Error::usage(format!("{} is gone since clawlocal probed it", path.display())));
        }
        Step::Engine { path, .. } => (Change::Unchanged, Some(path.clone())),
        Step::Write { .. } => (write(step, env, printer, applied, undo)?, path_of(step)),
        Step::Trial { program, args, from, to, fit } => {
            // Verbosity 4 logs llama.cpp's own buffer lines, kept with the measurement.
            let args: Vec<String> = args.iter().cloned().chain(["--log-verbosity".into(), "4".into()]).collect();
            let run = service::trial(host, program, &args, &env.layout.log_dir, env.health_timeout).map_err(|why| {
                Error::failure(format!(
                    "the new model {to} did not load, so nothing was switched: OpenClaw still uses clawlocal/{from}\n{why}"
                ))
                .with_hint("the log above names the cause; the model stays in the Hugging Face cache")
            })?;
            let measured = run.peak_bytes.map(|p| format!(", peak memory {}", human(p))).unwrap_or_default();
            if let (Some(peak), Some(fit)) = (run.peak_bytes, fit)
                && let Some(over) = fit.judge(peak)
            {
                return Err(Error::failure(format!(
                    "the new model {to} {} in a trial run, so nothing was switched: OpenClaw still uses clawlocal/{from}",
                    over.what
                ))
                .with_hint(over.hint));
            }
            applied.measured = run.peak_bytes.map(|peak_bytes| Measured {
                peak_bytes,
                during: "trial".into(),
                buffers: super::fit::buffers_from_log(&run.log),
            });
            printer.note(&format!(
                "the new model {to} loaded in a trial run ({:.1}s{measured}); switching from {from}",
                run.took.as_secs_f64()
            ));
            (Change::Unchanged, None)
        }
        Step::Start { target, commands, restart } => {
            undo.push(Undo::Started(*target));
            service::activate(host, commands)?;
            (if *restart { Change::Updated } else { Change::Unchanged }, None)
        }
        Step::WaitHealthy { target, port, alias, key, fit } => {
            wait_healthy(*port, alias, key, env, host)?;
            applied.started = true;
            // Weights, KV cache and compute buffers are all allocated once it answers. A container's port is held
            // by the runtime's forwarder, so the engine is found through the runtime instead.
            let engine_pid = match target {
                Target::Compose => service::container_engine_pid(host, &env.layout),
                _ => crate::ports::holder(host, *port).filter(|h| engine_holds(env, h)).and_then(|h| h.pid),
            };
            let peak = engine_pid.and_then(|pid| service::peak_of(host, pid));
            if let (Some(peak), Some(fit)) = (peak, fit)
                && let Some(over) = fit.judge(peak)
            {
                return Err(Error::failure(format!(
                    "the model {alias} {} when the service started, so OpenClaw was not pointed at it",
                    over.what
                ))
                .with_hint(over.hint));
            }
            if fit.is_some() {
                applied.measured =
                    peak.map(|peak_bytes| Measured { peak_bytes, during: "service".into(), buffers: None });
            }
            (Change::Unchanged, None)
        }
        Step::Openclaw(prepared) => {
            let outcome = crate::openclaw::file::commit(prepared)?;
            for warning in &outcome.warnings {
                printer.warn(warning);
            }
            if outcome.status != Change::Unchanged {
                let before = prepared.before.clone().map(String::into_bytes);
                undo.push(Undo::Restore { path: outcome.file.clone(), before });
            }
            applied.openclaw_file = outcome.file.clone();
            (outcome.status, Some(outcome.file))
        }
        Step::Backend { kind, url, model, key, .. } => {
            super::backend::still_serves(*kind, url, model, key.as_deref(), host)?;
            (Change::Unchanged, None)
        }
        Step::Chmod { path, mode, .. } => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
                .map_err(|e| Error::io(format!("cannot chmod {}", path.display()), &e))?;
            (Change::Updated, Some(path.clone()))
        }
        _ => return Err(Error::failure(format!("internal error: `{}` is run by install::undo", step.kind()))),
    };
    applied.actions.push(Done { kind: step.kind(), path, status, note: None });
    Ok(())
}

fn path_of(step: &Step) -> Option<PathBuf> {
    match step {
        Step::Write { path, .. } => Some(path.clone()),
        _ => None,
    }
}

/// A file write: a unit through the manager-aware writer (refuses a file not clawlocal's, backs a managed one up),
/// every other file guarded and atomic.
fn write(step: &Step, env: &Env, printer: &Printer, applied: &mut Applied, undo: &mut Vec<Undo>) -> Result<Change> {
    let Step::Write { kind, path, contents, mode, guard, target } = step else { unreachable!("a write step") };
    match (kind, target) {
        (FileKind::Unit, Some(target)) => {
            let text = String::from_utf8_lossy(contents).into_owned();
            let rendered = Rendered { target: *target, path: path.clone(), text };
            check_guard(path, guard)?;
            let before = std::fs::read(path).ok();
            let (status, backup) = service::write(&rendered, &env.layout)?;
            if let Some(b) = backup {
                printer.detail(&format!("the previous {} is kept at {}", path.display(), b.display()));
            }
            if status != Change::Unchanged {
                undo.push(Undo::Restore { path: path.clone(), before });
            }
            applied.units.push(rendered);
            Ok(status)
        }
        // The measurement this run took replaces the one the plan carried over.
        (FileKind::Receipt, _) if applied.measured.is_some() => {
            let mut receipt: crate::receipt::Receipt = serde_json::from_slice(contents)
                .map_err(|e| Error::failure(format!("internal error: the planned receipt does not parse: {e}")))?;
            receipt.measured = applied.measured.clone();
            write_guarded(path, &super::steps::receipt_bytes(&receipt), *mode, guard, undo)
        }
        // The lock keeps pinning a fetched model, which stays in the cache after a failure, so that
        // `uninstall --purge` still finds it: its write is not taken back.
        (FileKind::Lock, _) => write_guarded(path, contents, *mode, guard, &mut Vec::new()),
        _ => write_guarded(path, contents, *mode, guard, undo),
    }
}

/// The release archive into the engine dir; the unpacked binary must report the release's build (a build 0 is one
/// made without git history) and take every flag the unit passes before it takes its name.
fn install_engine(
    req: &crate::engine::install::Request,
    argv: &[String],
    env: &Env,
    host: &dyn Host,
    printer: &Printer,
) -> Result<crate::engine::install::Installed> {
    printer.note(&format!("installing llama.cpp {} from {}", req.release, req.url()));
    let check = |binary: &std::path::Path| crate::engine::install::check_unpacked(host, binary, req, argv);
    crate::engine::install::install(req, &env.layout.engine_dir, &check)
}

/// Until the engine on `port` answers as clawlocal's; the error names another program holding the port.
fn wait_healthy(port: u16, alias: &str, key: &str, env: &Env, host: &dyn Host) -> Result<()> {
    let ours = Ours { key: Some(key.to_string()), alias: alias.to_string() };
    service::wait_ours(port, &ours, env.health_timeout).map_err(|why| {
        let why = match crate::ports::holder(host, port).filter(|h| h.pid.is_some() && !engine_holds(env, h)) {
            Some(h) => format!("{why}; port {port} is held by {h}"),
            None => why,
        };
        Error::failure(format!("the engine did not come up: {why}"))
            .with_hint("`clawlocal doctor` checks each step; the log below usually names the cause")
    })?;
    Ok(())
}

fn engine_holds(env: &Env, holder: &crate::ports::Holder) -> bool {
    env.engine.as_ref().is_some_and(|e| holder.runs(e) == Some(true))
}

fn check_guard(path: &std::path::Path, guard: &Guard) -> Result<()> {
    let now = std::fs::read(path).ok();
    if guard.holds(now.as_deref()) {
        return Ok(());
    }
    Err(Error::failure(format!("{} changed since clawlocal looked at it; it was not overwritten", path.display()))
        .with_hint("run the command again (`--dry-run` shows the plan against the file as it is now)"))
}

/// Write `contents` when the file is still as surveyed; unchanged bytes are not rewritten.
fn write_guarded(
    path: &std::path::Path,
    contents: &[u8],
    mode: u32,
    guard: &Guard,
    undo: &mut Vec<Undo>,
) -> Result<Change> {
    check_guard(path, guard)?;
    let before = std::fs::read(path).ok();
    if before.as_deref() == Some(contents) {
        return Ok(Change::Unchanged);
    }
    crate::fsutil::write_atomic_as(path, contents, Some(mode), None)?;
    let status = if before.is_some() { Change::Updated } else { Change::Created };
    undo.push(Undo::Restore { path: path.to_path_buf(), before });
    Ok(status)
}

/// Undo what ran, newest first, and say so in the error. A swap ends with the previous setup running again.
fn roll_back(plan: &Plan, failed: &Step, error: Error, undo: Vec<Undo>, env: &Env, host: &dyn Host) -> Error {
    let layout = &env.layout;
    let tail = match (failed, plan.target) {
        (Step::WaitHealthy { .. } | Step::Start { .. }, Some(target)) => service::log_tail(host, target, layout)
            .map(|t| format!("\n--- last log lines ---\n{t}"))
            .or_else(|| Some("\n--- last log lines ---\n(no log found)".into())),
        _ => None,
    };
    let started = undo.iter().find_map(|u| match u {
        Undo::Started(target) => Some(*target),
        Undo::Restore { .. } => None,
    });
    // A first start is stopped while its unit files are still there: `compose -f compose.yaml down` needs the
    // file the restore below removes (systemctl and launchctl stop by name either way).
    let stopped = started.filter(|_| plan.swap.is_none()).map(|target| {
        let stop = service::deactivation(target, layout, host.uid());
        service::activate(host, &[stop])
    });
    let mut problems = Vec::new();
    for u in undo.into_iter().rev() {
        if let Undo::Restore { path, before } = u
            && let Err(e) = restore(&path, before.as_deref())
        {
            problems.push(e.message);
        }
    }
    if let Some(Err(e)) = stopped {
        problems.push(format!("stopping the service failed: {}", e.message));
    }
    let back = match (&plan.swap, started) {
        (Some(old), Some(target)) => {
            // The previous units are back on disk: restart on them and wait for the old model.
            let commands = service::activation(target, layout, true, env.uid);
            let ours = Ours { key: env.key.clone(), alias: old.server.alias.clone() };
            match service::activate(host, &commands) {
                Err(e) => format!("the previous units are back, but restarting them failed: {}", e.message),
                Ok(()) => match service::wait_ours(old.port, &ours, env.health_timeout) {
                    Ok(_) => format!(
                        "the previous setup ({}) is back and answering; openclaw.json was not touched",
                        old.model.id
                    ),
                    Err(why) => format!("the previous units are back, but the engine does not answer: {why}"),
                },
            }
        }
        (None, Some(_)) => {
            "what this init wrote was taken back and the service stopped; the model stays in the cache".into()
        }
        (Some(_), None) => "nothing was switched".into(),
        (None, None) => "what this init wrote was taken back; the model stays in the cache".into(),
    };
    let back = if problems.is_empty() { back } else { format!("{back}; but {}", problems.join("; ")) };
    let message = match failed {
        Step::Trial { .. } => error.message.clone(),
        _ => format!("{}\n{back}", error.message),
    };
    Error { message: format!("{message}{}", tail.unwrap_or_default()), ..error }
}

/// A file back as it was before this run (absent when it was absent).
fn restore(path: &std::path::Path, before: Option<&[u8]>) -> Result<()> {
    match before {
        Some(bytes) => {
            use std::os::unix::fs::MetadataExt;
            let mode = std::fs::metadata(path).map(|m| m.mode() & 0o7777).unwrap_or(0o644);
            crate::fsutil::write_atomic_as(path, bytes, Some(mode), None)
        }
        None => std::fs::remove_file(path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| Error::io(format!("cannot remove {}", path.display()), &e)),
    }
}
