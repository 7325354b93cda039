//! uninstall as a plan: the receipt's inverse, newest first — stop the service (or the engine `clawlocal serve`
//! runs), remove the units that are still clawlocal's, take clawlocal's edit out of openclaw.json, remove the key
//! init created and clawlocal's own engine, `--purge` the models it downloaded, then the state, the receipt last.
//! Surveyed first, planned purely, run by the same executor as init (forward only: a failed run is finished by
//! running uninstall again).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::apply::{Done, Env, done};
use super::steps::{Plan, Purpose, Step};
use crate::change::Change;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::hub::cache::RepoCache;
use crate::layout::Layout;
use crate::lockfile::LockFile;
use crate::openclaw::file::{self as openclaw_file, PreparedUnpatch};
use crate::output::Printer;
use crate::receipt::Receipt;

/// What is installed, as uninstall's plan needs it; taken before anything is removed.
#[derive(Debug)]
pub struct Installed {
    pub layout: Layout,
    pub receipt: Receipt,
    pub uid: u32,
    /// Each unit's host path and text now (`None`: gone).
    pub units: Vec<(PathBuf, Option<String>)>,
    pub openclaw: Result<PreparedUnpatch>,
    /// The pid of clawlocal's engine that `clawlocal serve` runs on the receipt's port.
    pub serve_pid: Option<u32>,
    pub lock: Result<LockFile>,
    /// The model blobs (sha256) clawlocal downloaded, of those the receipt and the lock name.
    pub downloaded: Vec<String>,
}

pub fn survey(layout: &Layout, receipt: Receipt, host: &dyn Host) -> Installed {
    let units = receipt
        .units
        .iter()
        .map(|u| layout.on_host(u))
        .map(|p| (p.clone(), std::fs::read_to_string(&p).ok()))
        .collect();
    let config = layout.on_host(&receipt.openclaw_config);
    let openclaw = openclaw_file::prepare_unpatch(host, &config, &crate::openclaw::records_path(layout));
    let serve_pid = (receipt.service == crate::profile::ServiceKind::None && layout.root.is_none())
        .then(|| serve_engine(layout, &receipt, host))
        .flatten();
    let lock = LockFile::load(&layout.lock_file());
    let mut shas: Vec<(String, String)> = vec![(receipt.model.repo.clone(), receipt.model.sha256.clone())];
    if let Ok(lock) = &lock {
        shas.extend(lock.models.iter().flat_map(|m| m.files.iter().map(|f| (m.repo.clone(), f.sha256.clone()))));
    }
    let downloaded = shas
        .into_iter()
        .filter(|(repo, sha)| RepoCache::new(&layout.hub_cache, repo).downloaded_by_clawlocal(sha))
        .map(|(_, sha)| sha)
        .collect();
    Installed { layout: layout.clone(), receipt, uid: host.uid(), units, openclaw, serve_pid, lock, downloaded }
}

/// The engine on the receipt's port when it is clawlocal's: its binary, taking the key and serving the alias.
fn serve_engine(layout: &Layout, receipt: &Receipt, host: &dyn Host) -> Option<u32> {
    let holder = crate::ports::holder(host, receipt.port)?;
    let key = crate::openclaw::read_key(&layout.on_host(&receipt.api_key_file)).ok();
    let ours = crate::render::service::Ours { key, alias: receipt.server.alias.clone() };
    let runs_ours = holder.runs(&layout.on_host(&receipt.engine.path)) == Some(true);
    (runs_ours && crate::render::service::is_ours(receipt.port, &ours).is_ok()).then_some(holder.pid).flatten()
}

/// The inverse of the receipt. Pure.
pub fn plan(i: &Installed, purge: bool) -> Plan {
    let (layout, r) = (&i.layout, &i.receipt);
    let mut steps = Vec::new();
    let mut blockers = Vec::new();
    let target = crate::render::target_for(r.service, r.scope).filter(|_| !r.units.is_empty());
    match (target, i.serve_pid) {
        (Some(target), _) if layout.root.is_none() => {
            steps.push(Step::Stop { target, command: crate::render::service::deactivation(target, layout, i.uid) })
        }
        (None, Some(pid)) => steps.push(Step::StopServe { pid, port: r.port }),
        _ => {}
    }
    for (path, text) in &i.units {
        let recorded = r.recorded_sha256(&layout.in_image(path));
        let edited = |t: &str| recorded.is_some_and(|sha| crate::hub::download::sha256_hex(t.as_bytes()) != sha);
        steps.push(match text {
            Some(t) if edited(t) => {
                keep("unit", path, "edited since init (its sha256 is not the receipt's); remove it yourself")
            }
            Some(t) if t.contains(crate::render::MANAGED_MARK) => Step::Remove { kind: "unit", path: path.clone() },
            Some(_) => keep("unit", path, "no longer clawlocal's (the mark is gone)"),
            None => Step::Keep { kind: "unit", path: path.clone(), why: "already gone".into() },
        });
    }
    if r.service == crate::profile::ServiceKind::Systemd && layout.root.is_none() && !i.units.is_empty() {
        let user: &[&str] = if r.scope == crate::layout::Scope::User { &["--user"] } else { &[] };
        let command = ["systemctl"].iter().chain(user).chain(&["daemon-reload"]).map(|w| w.to_string()).collect();
        steps.push(Step::Reload { command });
    }
    match &i.openclaw {
        Ok(p) => steps.push(Step::Unpatch(Box::new(p.clone()))),
        Err(e) => blockers.push(super::Blocker { step: steps.len(), error: e.clone() }),
    }
    let key = layout.on_host(&r.api_key_file);
    steps.push(if r.created.key_file {
        Step::Remove { kind: "api-key", path: key }
    } else {
        keep("api-key", &key, "it existed before init")
    });
    if r.engine.source == crate::engine::Source::Installed {
        steps.push(Step::RemoveTree { kind: "engine", path: layout.engine_dir.clone() });
    }
    purge_steps(i, purge, &mut steps, &mut blockers);
    for path in [
        layout.lock_file(),
        crate::openclaw::records_path(layout),
        openclaw_file::records_lock_file(&crate::openclaw::records_path(layout)),
        layout.state_dir.join("doctor-cache.json"),
    ] {
        steps.push(Step::Remove { kind: "state", path });
    }
    for dir in [layout.state_dir.join("backups"), layout.log_dir.clone()] {
        steps.push(Step::RemoveTree { kind: "state", path: dir });
    }
    // The receipt last: it is what a failed uninstall needs to run again.
    steps.push(Step::Remove { kind: "receipt", path: layout.receipt_file() });
    steps.push(Step::Tidy { dirs: vec![layout.config_dir.clone(), layout.state_dir.clone()] });
    Plan { steps, blockers, swap: None, receipt: None, target, purpose: Purpose::Uninstall }
}

fn keep(kind: &'static str, path: &Path, why: &str) -> Step {
    Step::Keep { kind, path: path.to_path_buf(), why: why.into() }
}

/// `--purge`: the receipt's model and every model the lock pins, each only when clawlocal downloaded it.
fn purge_steps(i: &Installed, purge: bool, steps: &mut Vec<Step>, blockers: &mut Vec<super::Blocker>) {
    let (layout, m) = (&i.layout, &i.receipt.model);
    let path = layout.on_host(&m.path);
    if !purge {
        steps.push(keep("model", &path, "--purge removes it"));
        return;
    }
    let ours = |sha: &str| i.downloaded.iter().any(|d| d == sha) || (sha == m.sha256 && i.receipt.created.model_blob);
    steps.push(if ours(&m.sha256) {
        Step::Purge { repo: m.repo.clone(), commit: m.commit.clone(), path, sha256: m.sha256.clone() }
    } else {
        keep("model", &path, "clawlocal did not download it (it was in the cache)")
    });
    let lock = match &i.lock {
        Ok(lock) => lock,
        Err(e) => return blockers.push(super::Blocker { step: steps.len(), error: e.clone() }),
    };
    for l in &lock.models {
        for f in l.files.iter().filter(|f| f.sha256 != m.sha256 && i.downloaded.contains(&f.sha256)) {
            let path = layout.repo_cache(&l.repo).join("snapshots").join(&l.commit).join(&f.name);
            steps.push(Step::Purge { repo: l.repo.clone(), commit: l.commit.clone(), path, sha256: f.sha256.clone() });
        }
    }
}

/// Run one of uninstall's steps.
pub(super) fn run(step: &Step, env: &Env, host: &dyn Host, printer: &Printer, actions: &mut Vec<Done>) -> Result<()> {
    match step {
        Step::Stop { command, .. } => match host.run(&command[0], &str_args(&command[1..]), Duration::from_secs(120)) {
            // A manager that cannot be reached (or a service already gone) must not keep the files in place.
            Some(out) if out.status == 0 => {
                actions.push(Done { note: Some(command.join(" ")), ..done("service", None, Change::Stopped) })
            }
            Some(out) => printer.warn(&format!("`{}` failed: {}", command.join(" "), out.stderr.trim())),
            None => printer.warn(&format!("cannot run `{}`", command.join(" "))),
        },
        Step::StopServe { pid, port } => {
            if let Some(d) = stop_serve(*pid, *port, host, printer) {
                actions.push(d);
            }
        }
        Step::Remove { kind, path } | Step::RemoveTree { kind, path } => {
            let d = if matches!(step, Step::Remove { .. }) {
                crate::fsutil::remove_stray_temps(path);
                removed(kind, path, std::fs::remove_file(path))?
            } else {
                removed(kind, path, std::fs::remove_dir_all(path))?
            };
            // State files that were never there are not news.
            if !(d.status == Change::Skipped && *kind == "state") {
                actions.push(d);
            }
        }
        Step::Keep { kind, path, why } => {
            let status = if why == "already gone" { Change::Skipped } else { Change::Kept };
            actions.push(Done { note: Some(why.clone()), ..done(kind, Some(path), status) });
        }
        Step::Unpatch(p) => unpatch(p, printer, actions)?,
        Step::Purge { repo, commit, path, sha256 } => {
            actions.push(done("model", Some(&purge_model(&env.layout, repo, commit, path, sha256)?), Change::Removed))
        }
        Step::Reload { command } => {
            let _ = host.run(&command[0], &str_args(&command[1..]), Duration::from_secs(60));
        }
        Step::Tidy { dirs } => {
            for dir in dirs {
                let _ = std::fs::remove_dir(dir);
            }
        }
        _ => return Err(Error::failure(format!("internal error: `{}` is not an uninstall step", step.kind()))),
    }
    Ok(())
}

fn str_args(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

/// SIGTERM the engine `clawlocal serve` runs, and wait for its port to close.
fn stop_serve(pid: u32, port: u16, host: &dyn Host, printer: &Printer) -> Option<Done> {
    let signalled = rustix::process::Pid::from_raw(pid as i32)
        .map(|p| rustix::process::kill_process(p, rustix::process::Signal::TERM));
    if !matches!(signalled, Some(Ok(()))) {
        printer.warn(&format!("could not stop the engine (pid {pid}) on port {port}"));
        return None;
    }
    let started = std::time::Instant::now();
    while crate::ports::holder(host, port).is_some() && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(Done {
        note: Some(format!("pid {pid}, started by `clawlocal serve`")),
        ..done("engine", None, Change::Stopped)
    })
}

/// The prepared unpatch, then what it makes redundant: clawlocal's backups of an exactly restored file, the
/// candidates and temp files a killed patch left, and the config's lock file.
fn unpatch(p: &PreparedUnpatch, printer: &Printer, actions: &mut Vec<Done>) -> Result<()> {
    let outcome = openclaw_file::commit_unpatch(p)?;
    for w in &outcome.warnings {
        printer.warn(w);
    }
    let (status, note) = match outcome.status {
        Change::Unchanged => (Change::Skipped, None),
        Change::Updated => (
            Change::Updated,
            Some(format!(
                "changed since init: only clawlocal's parts were taken out; the copy before is {}",
                outcome.backup.as_ref().map_or("-".into(), |b| b.display().to_string())
            )),
        ),
        other => (other, None),
    };
    actions.push(Done { note, ..done("openclaw-config", Some(&outcome.file), status) });
    for backup in outcome.redundant_backups.iter().filter(|b| b.exists()) {
        actions.push(removed("openclaw-backup", backup, std::fs::remove_file(backup))?);
    }
    for candidate in openclaw_file::candidate_files(&p.config, &outcome.file) {
        crate::fsutil::remove_stray_temps(&candidate);
        if candidate.exists() {
            actions.push(removed("openclaw-temp", &candidate, std::fs::remove_file(&candidate))?);
        }
    }
    crate::fsutil::remove_stray_temps(&p.config);
    crate::fsutil::remove_stray_temps(&outcome.file);
    let lock = openclaw_file::lock_file(&outcome.file);
    if lock.exists() {
        actions.push(removed("openclaw-lock", &lock, std::fs::remove_file(&lock))?);
    }
    Ok(())
}

/// The blob (named by its sha256), its snapshot entry `path` and the repo's refs and locks, then the empty
/// folders. Returns the blob's path.
pub fn purge_model(layout: &Layout, repo: &str, commit: &str, path: &Path, sha256: &str) -> Result<PathBuf> {
    let cache = RepoCache::new(&layout.hub_cache, repo);
    let blob = cache.blob(sha256);
    let repo_dir = layout.repo_cache(repo);
    cache.remove_stray_temps();
    for path in [path, &blob, &cache.incomplete(sha256), &cache.lock_path(sha256)] {
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path).map_err(|e| Error::io(format!("cannot remove {}", path.display()), &e))?;
        }
    }
    cache.unmark_downloaded(sha256)?;
    // Refs that point at the removed snapshot, then every folder left empty.
    let refs = repo_dir.join("refs");
    for name in std::fs::read_dir(&refs).into_iter().flatten().flatten() {
        if std::fs::read_to_string(name.path()).is_ok_and(|c| c.trim() == commit) {
            let _ = std::fs::remove_file(name.path());
        }
    }
    let dirs = [
        path.parent().map(Path::to_path_buf),
        Some(repo_dir.join("snapshots")),
        Some(refs),
        Some(repo_dir.join("blobs")),
    ];
    for dir in dirs.into_iter().flatten().chain([repo_dir.clone()]) {
        let _ = std::fs::remove_dir(dir);
    }
    if let Some(locks) = cache.lock_path(sha256).parent() {
        let _ = std::fs::remove_dir(locks);
        let _ = std::fs::remove_dir(layout.hub_cache.join(".locks"));
    }
    Ok(blob)
}

/// What a removal did: `removed`, `skipped` when it was already gone, else an error naming the path.
pub fn removed(kind: &'static str, path: &Path, result: std::io::Result<()>) -> Result<Done> {
    match result {
        Ok(()) => Ok(done(kind, Some(path), Change::Removed)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Done { note: Some("already gone".into()), ..done(kind, Some(path), Change::Skipped) })
        }
        Err(e) => Err(Error::io(format!("cannot remove {}", path.display()), &e)),
    }
}

/// An `init --backend` setup as uninstall needs it: the receipt and the unpatch prepared from its record.
#[derive(Debug)]
pub struct BackendInstalled {
    pub layout: Layout,
    pub receipt: crate::receipt::BackendReceipt,
    pub openclaw: Result<PreparedUnpatch>,
}

impl super::Seen for BackendInstalled {
    fn bytes(&self, _: &Path) -> Option<&[u8]> {
        None
    }
    fn key(&self) -> Option<(String, PathBuf)> {
        match &self.receipt.backend.key {
            crate::receipt::KeySource::File(f) => {
                let file = self.layout.on_host(f);
                crate::openclaw::read_key(&file).ok().map(|k| (k, file))
            }
            _ => None,
        }
    }
}

pub fn survey_backend(layout: &Layout, receipt: crate::receipt::BackendReceipt, host: &dyn Host) -> BackendInstalled {
    let config = layout.on_host(&receipt.openclaw_config);
    let openclaw = openclaw_file::prepare_unpatch(host, &config, &crate::openclaw::records_path(layout));
    BackendInstalled { layout: layout.clone(), receipt, openclaw }
}

/// The inverse of an `init --backend`: clawlocal's edit out of openclaw.json, then its own state, the receipt last.
/// The server, its models and its settings are the user's and stay as they are. Pure.
pub fn plan_backend(i: &BackendInstalled) -> Plan {
    let layout = &i.layout;
    let mut steps = Vec::new();
    let mut blockers = Vec::new();
    match &i.openclaw {
        Ok(p) => steps.push(Step::Unpatch(Box::new(p.clone()))),
        Err(e) => blockers.push(super::Blocker { step: 0, error: e.clone() }),
    }
    steps.push(Step::Remove { kind: "state", path: layout.state_dir.join("doctor-cache.json") });
    let records_lock = openclaw_file::records_lock_file(&crate::openclaw::records_path(layout));
    steps.push(Step::Remove { kind: "state", path: records_lock });
    steps.push(Step::RemoveTree { kind: "state", path: layout.state_dir.join("backups") });
    steps.push(Step::Remove { kind: "receipt", path: layout.receipt_file() });
    steps.push(Step::Tidy { dirs: vec![layout.config_dir.clone(), layout.state_dir.clone()] });
    Plan { steps, blockers, swap: None, receipt: None, target: None, purpose: Purpose::Uninstall }
}
