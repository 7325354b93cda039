//! Run a plan exactly: each step in order, its guard checked first (a file changed since the survey stops the
//! run instead of being clobbered), the receipt journaled before the first change, and on a failure what the
//! run did undone in reverse: files back to their bytes before, a started service stopped, or for a swap the
//! previous setup restarted and waited for. A fetched model stays in the cache (content-addressed; a re-run
//! resumes or reuses it).

use std::path::PathBuf;

use serde::Serialize;

use super::steps::{FileKind, Guard, Plan, Step};
use super::{Desired, World};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::hub::client::Client;
use crate::output::Printer;
use crate::render::service::{self, Ours, Status};
use crate::render::{Rendered, Target};

/// One step as it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub status: Status,
}

#[derive(Debug)]
pub struct Applied {
    pub actions: Vec<Done>,
    pub units: Vec<Rendered>,
    pub started: bool,
    pub openclaw_file: PathBuf,
    pub model_path: PathBuf,
}

/// What to do to take a step back.
enum Undo {
    /// Put the file back as it was (absent when it was absent).
    Restore { path: PathBuf, before: Option<Vec<u8>> },
    /// The service was (re)started.
    Started(Target),
}

pub fn apply(plan: &Plan, d: &Desired, w: &World, host: &dyn Host, printer: &Printer) -> Result<Applied> {
    if let Some(b) = plan.blockers.first() {
        return Err(b.error.clone());
    }
    let mut applied = Applied {
        actions: Vec::new(),
        units: Vec::new(),
        started: false,
        openclaw_file: PathBuf::new(),
        model_path: PathBuf::new(),
    };
    let mut undo = Vec::new();
    for step in &plan.steps {
        if let Err(e) = run(step, d, w, host, printer, &mut applied, &mut undo) {
            return Err(roll_back(plan, step, e, undo, d, w, host));
        }
    }
    if !plan.steps.iter().any(|s| matches!(s, Step::Start { .. })) {
        applied.actions.push(Done { kind: "start", path: None, status: Status::Skipped });
    }
    Ok(applied)
}

fn done(kind: &'static str, path: Option<&std::path::Path>, status: Status) -> Done {
    Done { kind, path: path.map(std::path::Path::to_path_buf), status }
}

fn run(
    step: &Step,
    d: &Desired,
    w: &World,
    host: &dyn Host,
    printer: &Printer,
    applied: &mut Applied,
    undo: &mut Vec<Undo>,
) -> Result<()> {
    match step {
        Step::Journal { path, contents, guard } => {
            write_guarded(path, contents, 0o644, guard, undo)?;
        }
        Step::Fetch { want, resolution, path, .. } => {
            let client = Client::new(d.hub.clone());
            let files = crate::hub::pull::fetch(want, resolution, &w.layout, &client, printer)?;
            let fetched = files.iter().map(|f| f.downloaded_bytes).sum::<u64>();
            applied.model_path = path.clone();
            applied.actions.push(done(
                "download",
                Some(path),
                if fetched > 0 { Status::Created } else { Status::Unchanged },
            ));
        }
        Step::Engine { path, .. } => {
            if !path.is_file() {
                return Err(Error::usage(format!("{} is gone since clawlocal probed it", path.display())));
            }
            applied.actions.push(done("engine", Some(path), Status::Unchanged));
        }
        Step::Write { kind, path, contents, mode, guard, target } => {
            let status = match (kind, target) {
                (FileKind::Unit, Some(target)) => {
                    let rendered = Rendered {
                        target: *target,
                        path: path.clone(),
                        text: String::from_utf8_lossy(contents).into_owned(),
                    };
                    check_guard(path, guard)?;
                    let before = std::fs::read(path).ok();
                    let (status, backup) = service::write(&rendered, &w.layout)?;
                    if let Some(b) = backup {
                        printer.detail(&format!("the previous {} is kept at {}", path.display(), b.display()));
                    }
                    if status != Status::Unchanged {
                        undo.push(Undo::Restore { path: path.clone(), before });
                    }
                    applied.units.push(rendered);
                    status
                }
                // The lock keeps pinning a fetched model, which stays in the cache after a failure, so that
                // `uninstall --purge` still finds it: its write is not taken back.
                (FileKind::Lock, _) => write_guarded(path, contents, *mode, guard, &mut Vec::new())?,
                _ => write_guarded(path, contents, *mode, guard, undo)?,
            };
            applied.actions.push(done(kind.as_str(), Some(path), status));
        }
        Step::Trial { program, args, from, to } => {
            let took = service::trial(host, program, args, &w.layout.log_dir, d.health_timeout).map_err(|why| {
                Error::failure(format!(
                    "the new model {to} did not load, so nothing was switched: OpenClaw still uses clawlocal/{from}\n{why}"
                ))
                .with_hint("the log above names the cause; the model stays in the Hugging Face cache")
            })?;
            printer.note(&format!(
                "the new model {to} loaded in a trial run ({:.1}s); switching from {from}",
                took.as_secs_f64()
            ));
            applied.actions.push(done("trial", None, Status::Unchanged));
        }
        Step::Start { target, commands, restart } => {
            undo.push(Undo::Started(*target));
            service::activate(host, commands)?;
            applied.actions.push(done("start", None, if *restart { Status::Updated } else { Status::Unchanged }));
        }
        Step::WaitHealthy { port, alias, key } => {
            let ours = Ours { key: Some(key.clone()), alias: alias.clone() };
            service::wait_ours(*port, &ours, d.health_timeout).map_err(|why| {
                let why = match crate::ports::holder(host, *port).filter(|h| h.pid.is_some() && !engine_holds(w, h)) {
                    Some(h) => format!("{why}; port {port} is held by {h}"),
                    None => why,
                };
                Error::failure(format!("the engine did not come up: {why}"))
                    .with_hint("`clawlocal doctor` checks each step; the log below usually names the cause")
            })?;
            applied.started = true;
            applied.actions.push(done("health", None, Status::Unchanged));
        }
        Step::Openclaw(prepared) => {
            let outcome = crate::openclaw::file::commit(prepared)?;
            for warning in &outcome.warnings {
                printer.warn(warning);
            }
            if outcome.status != "unchanged" {
                undo.push(Undo::Restore {
                    path: outcome.file.clone(),
                    before: prepared.before.clone().map(String::into_bytes),
                });
            }
            applied.openclaw_file = outcome.file.clone();
            let status = match outcome.status {
                "created" => Status::Created,
                "unchanged" => Status::Unchanged,
                _ => Status::Updated,
            };
            applied.actions.push(done("openclaw-config", Some(&outcome.file), status));
        }
    }
    Ok(())
}

fn engine_holds(w: &World, holder: &crate::ports::Holder) -> bool {
    w.engine.as_ref().is_ok_and(|e| holder.runs(&e.path) == Some(true))
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
) -> Result<Status> {
    check_guard(path, guard)?;
    let before = std::fs::read(path).ok();
    if before.as_deref() == Some(contents) {
        return Ok(Status::Unchanged);
    }
    crate::fsutil::write_atomic_as(path, contents, Some(mode), None)?;
    let status = if before.is_some() { Status::Updated } else { Status::Created };
    undo.push(Undo::Restore { path: path.to_path_buf(), before });
    Ok(status)
}

/// Undo what ran, newest first, and say so in the error. A swap ends with the previous setup running again.
fn roll_back(
    plan: &Plan,
    failed: &Step,
    error: Error,
    undo: Vec<Undo>,
    d: &Desired,
    w: &World,
    host: &dyn Host,
) -> Error {
    let layout = &w.layout;
    let tail = match (failed, plan.target) {
        (Step::WaitHealthy { .. } | Step::Start { .. }, Some(target)) => service::log_tail(host, target, layout)
            .map(|t| format!("\n--- last log lines ---\n{t}"))
            .or_else(|| Some("\n--- last log lines ---\n(no log found)".into())),
        _ => None,
    };
    let mut problems = Vec::new();
    let mut started = None;
    for u in undo.into_iter().rev() {
        match u {
            Undo::Restore { path, before } => {
                if let Err(e) = restore(&path, before.as_deref()) {
                    problems.push(e.message);
                }
            }
            Undo::Started(target) => started = Some(target),
        }
    }
    let back = match (&plan.swap, started) {
        (Some(old), Some(target)) => {
            // The previous units are back on disk: restart on them and wait for the old model.
            let commands = service::activation(target, layout, true, w.uid);
            let ours = Ours { key: Some(w.key_text()), alias: old.server.alias.clone() };
            match service::activate(host, &commands) {
                Err(e) => format!("the previous units are back, but restarting them failed: {}", e.message),
                Ok(()) => match service::wait_ours(old.port, &ours, d.health_timeout) {
                    Ok(_) => format!(
                        "the previous setup ({}) is back and answering; openclaw.json was not touched",
                        old.model.id
                    ),
                    Err(why) => format!("the previous units are back, but the engine does not answer: {why}"),
                },
            }
        }
        (None, Some(target)) => {
            let stop = service::deactivation(target, layout, host.uid());
            let _ = service::activate(host, &[stop]);
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
