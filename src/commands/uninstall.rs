//! `clawlocal uninstall [--purge] [--yes]`: undo init from its receipt, backwards — stop and remove the units,
//! unpatch openclaw.json (byte-identical when nothing else changed it since), remove the key file init created,
//! clawlocal's own engine install and the state (receipt, lock, records, backups, caches). `--purge` also
//! removes the model blob, but only one clawlocal downloaded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::cli::{GlobalArgs, UninstallArgs};
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::layout::{self, Layout, Scope};
use crate::openclaw::file::{self as openclaw_file, Options};
use crate::output::Printer;
use crate::profile::ServiceKind;
use crate::receipt::Receipt;

#[derive(Debug, Serialize)]
struct Undone {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<PathBuf>,
    /// `removed`, `restored`, `updated` (openclaw.json others changed since: only clawlocal's parts went),
    /// `stopped`, `kept` (with the reason in `note`) or `skipped`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn undone(kind: &'static str, path: Option<&Path>, status: &'static str, note: Option<String>) -> Undone {
    Undone { kind, path: path.map(Path::to_path_buf), status, note }
}

pub fn run(args: &UninstallArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let Some(receipt) = Receipt::load(&layout.receipt_file())? else {
        return leftovers(args, &layout, printer);
    };
    if !args.yes {
        let question = format!(
            "Remove clawlocal's setup ({} via {}, provider clawlocal in {}){}?",
            receipt.model.id,
            receipt.service.as_str(),
            receipt.openclaw_config.display(),
            if args.purge { " and the model it downloaded" } else { "" }
        );
        match printer.confirm(&question) {
            Some(true) => {}
            Some(false) => return Err(Error::failure("uninstall cancelled; nothing was changed")),
            None => {
                return Err(Error::usage("uninstall needs --yes when it cannot ask (no terminal)")
                    .with_hint("clawlocal uninstall --yes [--purge]"));
            }
        }
    }
    let mut actions = Vec::new();
    stop_and_remove_units(&receipt, &layout, host, printer, &mut actions)?;
    unpatch(&receipt, &layout, host, printer, &mut actions)?;

    // Every path in the receipt is the image's: with `--root` it lies under the root, never on this host.
    let key_file = layout.on_host(&receipt.api_key_file);
    crate::fsutil::remove_stray_temps(&key_file);
    if receipt.created.key_file {
        actions.push(remove_file("api-key", &key_file)?);
    } else {
        actions.push(undone("api-key", Some(&key_file), "kept", Some("it existed before init".into())));
    }
    remove_empty_dir(&layout.config_dir);

    if receipt.engine.source == "installed" {
        actions.push(remove_tree("engine", &layout.engine_dir)?);
    }

    if args.purge {
        let m = &receipt.model;
        let claimed = receipt.created.model_blob;
        actions.push(purge_model(&layout, &m.repo, &m.commit, &layout.on_host(&m.path), &m.sha256, claimed)?);
        // Models an earlier init used before a swap, still pinned in the lock, when clawlocal downloaded them.
        actions.extend(purge_locked(&layout, Some(&m.sha256))?);
    } else {
        let path = layout.on_host(&receipt.model.path);
        actions.push(undone("model", Some(&path), "kept", Some("--purge removes it".into())));
    }

    // State last: the receipt is what a failed uninstall would need to run again.
    remove_state(&layout, &mut actions)?;
    actions.push(remove_file("receipt", &layout.receipt_file())?);
    remove_empty_dir(&layout.state_dir);
    finish(&actions, printer);
    Ok(Exit::Success)
}

/// No receipt: nothing was installed, or an init was stopped before it wrote one (after its download). What such
/// an init leaves is the lock, and with `--purge` the models it names that clawlocal downloaded.
fn leftovers(args: &UninstallArgs, layout: &Layout, printer: &Printer) -> Result<Exit> {
    let mut actions = Vec::new();
    if args.purge {
        actions.extend(purge_locked(layout, None)?);
    }
    // An init killed while OpenClaw judged its candidate (before the receipt) leaves the candidate beside the config.
    let config = &layout.openclaw_config;
    for candidate in openclaw_file::candidate_files(config, config) {
        crate::fsutil::remove_stray_temps(&candidate);
        if candidate.exists() {
            actions.push(remove_file("openclaw-temp", &candidate)?);
        }
    }
    remove_state(layout, &mut actions)?;
    remove_empty_dir(&layout.state_dir);
    if actions.is_empty() {
        let what = format!("nothing to uninstall: no receipt at {}", layout.receipt_file().display());
        if printer.json {
            printer.document(&json!({"ok": true, "actions": [], "note": what}));
        } else {
            printer.note(&what);
        }
    } else {
        finish(&actions, printer);
    }
    Ok(Exit::Success)
}

/// Every model file the lock pins that clawlocal downloaded, except the blob `but`.
fn purge_locked(layout: &Layout, but: Option<&str>) -> Result<Vec<Undone>> {
    let lock = crate::lockfile::LockFile::load(&layout.lock_file())?;
    let mut actions = Vec::new();
    for m in &lock.models {
        for f in m.files.iter().filter(|f| Some(f.sha256.as_str()) != but) {
            if crate::hub::cache::RepoCache::new(&layout.hub_cache, &m.repo).downloaded_by_clawlocal(&f.sha256) {
                let path = layout.repo_cache(&m.repo).join("snapshots").join(&m.commit).join(&f.name);
                actions.push(purge_model(layout, &m.repo, &m.commit, &path, &f.sha256, true)?);
            }
        }
    }
    Ok(actions)
}

/// clawlocal's state files other than the receipt: lock, patch records, doctor cache, backups, logs.
fn remove_state(layout: &Layout, actions: &mut Vec<Undone>) -> Result<()> {
    crate::fsutil::remove_stray_temps(&layout.receipt_file());
    for path in
        [layout.lock_file(), layout.state_dir.join("openclaw-patches.json"), layout.state_dir.join("doctor-cache.json")]
    {
        crate::fsutil::remove_stray_temps(&path);
        if path.exists() {
            actions.push(remove_file("state", &path)?);
        }
    }
    for dir in [layout.state_dir.join("backups"), layout.log_dir.clone()] {
        if dir.exists() {
            actions.push(remove_tree("state", &dir)?);
        }
    }
    Ok(())
}

fn finish(actions: &[Undone], printer: &Printer) {
    if printer.json {
        printer.document(&json!({"ok": true, "actions": actions}));
    } else {
        let rows: Vec<Vec<String>> = actions
            .iter()
            .map(|a| {
                let mut path = a.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
                if let Some(n) = &a.note {
                    path.push_str(&format!(" ({n})"));
                }
                vec![a.status.to_string(), a.kind.to_string(), path]
            })
            .collect();
        printer.data(super::table(&rows).trim_end());
    }
}

/// Stop and disable the service, remove unit files that still carry clawlocal's mark, reload the manager.
fn stop_and_remove_units(
    receipt: &Receipt,
    layout: &Layout,
    host: &dyn Host,
    printer: &Printer,
    actions: &mut Vec<Undone>,
) -> Result<()> {
    let Some(target) = crate::render::target_for(receipt.service, receipt.scope).filter(|_| !receipt.units.is_empty())
    else {
        if layout.root.is_none() {
            actions.extend(stop_serve(receipt, layout, host, printer));
        }
        return Ok(());
    };
    let user = receipt.scope == Scope::User;
    let words = crate::render::service::deactivation(target, layout, host.uid());
    let stop: Vec<&str> = words.iter().map(String::as_str).collect();
    if layout.root.is_none() {
        // A manager that cannot be reached (or a service already gone) must not keep the files in place.
        match host.run(stop[0], &stop[1..], Duration::from_secs(120)) {
            Some(out) if out.status == 0 => actions.push(undone("service", None, "stopped", Some(stop.join(" ")))),
            Some(out) => printer.warn(&format!("`{}` failed: {}", stop.join(" "), out.stderr.trim())),
            None => printer.warn(&format!("cannot run `{}`", stop.join(" "))),
        }
    }
    for unit in &receipt.units {
        let path = layout.on_host(unit);
        let recorded = receipt.recorded_sha256(unit);
        let edited = |text: &str| recorded.is_some_and(|sha| crate::hub::download::sha256_hex(text.as_bytes()) != sha);
        match std::fs::read_to_string(&path) {
            Ok(text) if edited(&text) => actions.push(undone(
                "unit",
                Some(&path),
                "kept",
                Some("edited since init (its sha256 is not the receipt's); remove it yourself".into()),
            )),
            Ok(text) if text.contains(crate::render::MANAGED_MARK) => actions.push(remove_file("unit", &path)?),
            Ok(_) => actions.push(undone(
                "unit",
                Some(&path),
                "kept",
                Some("no longer clawlocal's (the mark is gone)".into()),
            )),
            Err(_) => actions.push(undone("unit", Some(&path), "skipped", Some("already gone".into()))),
        }
    }
    if receipt.service == ServiceKind::Systemd && layout.root.is_none() {
        let reload: &[&str] = if user { &["--user", "daemon-reload"] } else { &["daemon-reload"] };
        let _ = host.run("systemctl", reload, Duration::from_secs(60));
    }
    Ok(())
}

/// `--service none`: the engine `clawlocal serve` runs, when it is clawlocal's (its binary, and it serves the
/// alias to the key), gets SIGTERM and is waited for; another program on the port is left alone.
fn stop_serve(receipt: &Receipt, layout: &Layout, host: &dyn Host, printer: &Printer) -> Option<Undone> {
    let holder = crate::ports::holder(host, receipt.port)?;
    let pid = holder.pid?;
    let key = crate::openclaw::read_key(&layout.on_host(&receipt.api_key_file)).ok();
    let ours = crate::render::service::Ours { key, alias: receipt.server.alias.clone() };
    if holder.runs(&layout.on_host(&receipt.engine.path)) != Some(true)
        || crate::render::service::is_ours(receipt.port, &ours).is_err()
    {
        return None;
    }
    let signalled = rustix::process::Pid::from_raw(pid as i32)
        .map(|p| rustix::process::kill_process(p, rustix::process::Signal::TERM));
    if !matches!(signalled, Some(Ok(()))) {
        printer.warn(&format!("could not stop the engine (pid {pid}) on port {}", receipt.port));
        return None;
    }
    let started = std::time::Instant::now();
    while crate::ports::holder(host, receipt.port).is_some() && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(undone("engine", None, "stopped", Some(format!("pid {pid}, started by `clawlocal serve`"))))
}

fn unpatch(
    receipt: &Receipt,
    layout: &Layout,
    host: &dyn Host,
    printer: &Printer,
    actions: &mut Vec<Undone>,
) -> Result<()> {
    let config = &layout.on_host(&receipt.openclaw_config);
    let records = crate::openclaw::records_path(layout);
    let outcome = openclaw_file::unpatch_file(host, config, &Options { records: &records, dry_run: false })?;
    for w in &outcome.warnings {
        printer.warn(w);
    }
    let status = match outcome.status {
        "restored" => "restored",
        "removed" => "removed",
        "unchanged" => "skipped",
        _ => "updated",
    };
    let note = (status == "updated").then(|| {
        format!(
            "changed since init: only clawlocal's parts were taken out; the copy before is {}",
            outcome.backup.as_ref().map_or("-".into(), |b| b.display().to_string())
        )
    });
    actions.push(undone("openclaw-config", Some(&outcome.file), status, note));
    for backup in &outcome.redundant_backups {
        if backup.exists() {
            actions.push(remove_file("openclaw-backup", backup)?);
        }
    }
    // What a killed init may have left beside it: OpenClaw's candidates and half-written temp files.
    for candidate in openclaw_file::candidate_files(config, &outcome.file) {
        crate::fsutil::remove_stray_temps(&candidate);
        if candidate.exists() {
            actions.push(remove_file("openclaw-temp", &candidate)?);
        }
    }
    crate::fsutil::remove_stray_temps(config);
    crate::fsutil::remove_stray_temps(&outcome.file);
    let lock = openclaw_file::lock_file(&outcome.file);
    if lock.exists() {
        actions.push(remove_file("openclaw-lock", &lock)?);
    }
    Ok(())
}

/// The blob (named by its sha256), its snapshot entry `path` and the repo's refs and locks, then the empty folders;
/// only when clawlocal downloaded it (`claimed` by the receipt, or remembered beside the model).
fn purge_model(layout: &Layout, repo: &str, commit: &str, path: &Path, sha256: &str, claimed: bool) -> Result<Undone> {
    let cache = crate::hub::cache::RepoCache::new(&layout.hub_cache, repo);
    if !claimed && !cache.downloaded_by_clawlocal(sha256) {
        return Ok(undone(
            "model",
            Some(path),
            "kept",
            Some("clawlocal did not download it (it was in the cache)".into()),
        ));
    }
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
    for dir in [
        path.parent().map(Path::to_path_buf),
        Some(repo_dir.join("snapshots")),
        Some(refs),
        Some(repo_dir.join("blobs")),
        Some(repo_dir.clone()),
    ]
    .into_iter()
    .flatten()
    {
        remove_empty_dir(&dir);
    }
    if let Some(locks) = cache.lock_path(sha256).parent() {
        remove_empty_dir(locks);
        remove_empty_dir(&layout.hub_cache.join(".locks"));
    }
    Ok(undone("model", Some(&blob), "removed", None))
}

fn remove_file(kind: &'static str, path: &Path) -> Result<Undone> {
    removed(kind, path, std::fs::remove_file(path))
}

fn remove_tree(kind: &'static str, path: &Path) -> Result<Undone> {
    removed(kind, path, std::fs::remove_dir_all(path))
}

/// What a removal did: `removed`, `skipped` when it was already gone, else an error naming the path.
fn removed(kind: &'static str, path: &Path, result: std::io::Result<()>) -> Result<Undone> {
    match result {
        Ok(()) => Ok(undone(kind, Some(path), "removed", None)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(undone(kind, Some(path), "skipped", Some("already gone".into())))
        }
        Err(e) => Err(Error::io(format!("cannot remove {}", path.display()), &e)),
    }
}

/// Remove `dir` when it is empty (clawlocal's own folders); anything in it keeps it.
fn remove_empty_dir(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}
