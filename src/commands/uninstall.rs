//! `clawlocal uninstall [--purge] [--yes] [--dry-run]`: the receipt's inverse as a plan (`install::undo`), shown
//! or asked about, then run by the same executor as init: stop and remove the units, unpatch openclaw.json
//! (byte-identical when nothing else changed it since), remove the key init created, clawlocal's own engine and the
//! state (receipt last). `--purge` also removes the model blobs, but only ones clawlocal downloaded.

use std::path::Path;

use crate::cli::{GlobalArgs, UninstallArgs};
use crate::documents::UninstallDocument;
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::install::{self, Done, Env, undo};
use crate::layout::{self, Layout};
use crate::openclaw::file as openclaw_file;
use crate::output::Printer;

pub fn run(args: &UninstallArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let receipt = match crate::receipt::Install::load(&layout.receipt_file())? {
        None => return leftovers(args, &layout, printer),
        Some(crate::receipt::Install::Backend(b)) => return backend(args, &layout, b, host, printer),
        Some(crate::receipt::Install::Engine(r)) => *r,
    };
    let installed = undo::survey(&layout, receipt, host);
    let plan = undo::plan(&installed, args.purge);
    let r = &installed.receipt;
    let question = format!(
        "Remove clawlocal's setup ({} via {}, provider clawlocal in {}){}?",
        r.model.id,
        r.service.as_str(),
        r.openclaw_config.display(),
        if args.purge { " and the model it downloaded" } else { "" }
    );
    let again = if args.purge { "clawlocal uninstall --yes --purge" } else { "clawlocal uninstall --yes" };
    show_or_run(args, &layout, (&plan, &installed), &question, again, host, printer)
}

/// An `init --backend` setup: the same show / ask / run, over its smaller plan.
fn backend(
    args: &UninstallArgs,
    layout: &Layout,
    receipt: crate::receipt::BackendReceipt,
    host: &dyn Host,
    printer: &Printer,
) -> Result<Exit> {
    let installed = undo::survey_backend(layout, receipt, host);
    let plan = undo::plan_backend(&installed);
    let b = &installed.receipt.backend;
    let question = format!(
        "Take provider {} ({} at {}) out of {}? The server itself is left as it is",
        b.provider,
        b.kind.label(),
        b.url,
        installed.receipt.openclaw_config.display()
    );
    show_or_run(args, layout, (&plan, &installed), &question, "clawlocal uninstall --yes", host, printer)
}

/// Show the uninstall plan (`--dry-run`), or ask (`question`; `again` is the command that would not ask) and run it.
fn show_or_run(
    args: &UninstallArgs,
    layout: &Layout,
    (plan, seen): (&install::Plan, &dyn install::Seen),
    question: &str,
    again: &str,
    host: &dyn Host,
    printer: &Printer,
) -> Result<Exit> {
    if args.dry_run {
        if printer.json {
            printer.document(&install::plan_json(plan, seen));
        } else {
            printer.data(&format!(
                "`clawlocal uninstall` would (nothing was changed):\n{}",
                install::describe(plan, seen, true)
            ));
        }
        return Ok(plan.blockers.first().map_or(Exit::Success, |b| b.error.exit));
    }
    if let Some(b) = plan.blockers.first() {
        return Err(b.error.clone());
    }
    if !args.yes {
        match printer.confirm(question) {
            Some(true) => {}
            Some(false) => return Err(Error::failure("uninstall cancelled; nothing was changed")),
            None => {
                return Err(Error::usage("uninstall needs --yes when it cannot ask (no terminal)").with_hint(again));
            }
        }
    }
    let env = Env {
        layout: layout.clone(),
        uid: host.uid(),
        hub: None,
        health_timeout: std::time::Duration::from_secs(60),
        key: None,
        engine: None,
    };
    let applied = install::apply(plan, &env, host, printer)?;
    finish(&applied.actions, printer);
    Ok(Exit::Success)
}

/// No receipt: nothing was installed, or an init was stopped before it wrote one (after its download). What such
/// an init leaves is the lock, and with `--purge` the models it names that clawlocal downloaded.
fn leftovers(args: &UninstallArgs, layout: &Layout, printer: &Printer) -> Result<Exit> {
    let mut actions = Vec::new();
    if args.purge {
        actions.extend(purge_locked(layout)?);
    }
    // An init killed while OpenClaw judged its candidate (before the receipt) leaves the candidate beside the config.
    let config = &layout.openclaw_config;
    for candidate in openclaw_file::candidate_files(config, config) {
        crate::fsutil::remove_stray_temps(&candidate);
        if candidate.exists() {
            actions.push(remove_file("openclaw-temp", &candidate)?);
        }
    }
    // Without a receipt nothing says what an init made: the records of `clawlocal openclaw patch` (which
    // `openclaw unpatch` needs) and the lock of `clawlocal pull` stay; `--purge` has used the lock and takes it.
    crate::fsutil::remove_stray_temps(&layout.receipt_file());
    let records = layout.state_dir.join("openclaw-patches.json");
    let kept_records = std::fs::read_to_string(&records).is_ok_and(|t| t.contains("\"file\""));
    for path in
        [layout.state_dir.join("doctor-cache.json")].into_iter().chain(args.purge.then(|| layout.lock_file())).chain(
            (!kept_records)
                .then(|| [records.clone(), openclaw_file::records_lock_file(&records)])
                .into_iter()
                .flatten(),
        )
    {
        crate::fsutil::remove_stray_temps(&path);
        if path.exists() {
            actions.push(remove_file("state", &path)?);
        }
    }
    // clawlocal's logs go; the backups of openclaw.json stay while patches are recorded against them.
    let backups = layout.state_dir.join("backups");
    for dir in [(!kept_records).then_some(backups), Some(layout.log_dir.clone())].into_iter().flatten() {
        if dir.exists() {
            actions.push(remove_tree("state", &dir)?);
        }
    }
    remove_empty_dir(&layout.state_dir);
    if kept_records {
        printer.note(&format!(
            "{} records patches made by `clawlocal openclaw patch`; they stay (undo them with `clawlocal openclaw unpatch`)",
            records.display()
        ));
    }
    if actions.is_empty() {
        let what = format!("nothing to uninstall: no receipt at {}", layout.receipt_file().display());
        if printer.json {
            let doc = UninstallDocument { ok: true, actions: Vec::new(), note: Some(what) };
            printer.document(&crate::documents::value(&doc));
        } else {
            printer.note(&what);
        }
    } else {
        finish(&actions, printer);
    }
    Ok(Exit::Success)
}

/// Every model file the lock pins that clawlocal downloaded.
fn purge_locked(layout: &Layout) -> Result<Vec<Done>> {
    let lock = crate::lockfile::LockFile::load(&layout.lock_file())?;
    let mut actions = Vec::new();
    for m in &lock.models {
        for f in &m.files {
            if crate::hub::cache::RepoCache::new(&layout.hub_cache, &m.repo).downloaded_by_clawlocal(&f.sha256) {
                let path = layout.repo_cache(&m.repo).join("snapshots").join(&m.commit).join(&f.name);
                let blob = undo::purge_model(layout, &m.repo, &m.commit, &path, &f.sha256)?;
                actions.push(undo::removed("model", &blob, Ok(()))?);
            }
        }
    }
    Ok(actions)
}

fn finish(actions: &[Done], printer: &Printer) {
    if printer.json {
        let doc = UninstallDocument { ok: true, actions: actions.to_vec(), note: None };
        printer.document(&crate::documents::value(&doc));
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

fn remove_file(kind: &'static str, path: &Path) -> Result<Done> {
    undo::removed(kind, path, std::fs::remove_file(path))
}

fn remove_tree(kind: &'static str, path: &Path) -> Result<Done> {
    undo::removed(kind, path, std::fs::remove_dir_all(path))
}

/// Remove `dir` when it is empty (clawlocal's own folders); anything in it keeps it.
fn remove_empty_dir(dir: &Path) {
    let _ = std::fs::remove_dir(dir);
}
