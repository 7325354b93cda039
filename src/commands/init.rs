//! `clawlocal init`: select → pull → engine → API key → units → OpenClaw patch → receipt → start and wait
//! healthy. Each step reports created / updated / unchanged / skipped, so a second identical run changes nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::plan::{Ask, decide};
use crate::cli::{GlobalArgs, InitArgs};
use crate::doctor;
use crate::engine::{self, args::Placement};
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::hub::HubConfig;
use crate::layout;
use crate::openclaw::file::{self as openclaw_file, Options};
use crate::output::Printer;
use crate::plan;
use crate::receipt::{self, Receipt};
use crate::render::{self, UnitSpec, service, service::Status};

#[derive(Debug, Serialize)]
pub struct Done {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    pub status: Status,
}

fn done(kind: &'static str, path: Option<&Path>, status: Status) -> Done {
    Done { kind, path: path.map(Path::to_path_buf), status }
}

pub fn run(args: &InitArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout =
        layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), args.openclaw_config.as_deref())?;
    let ask =
        Ask { profile: &args.profile, choice: &args.choice, service: args.service, port: args.port, role: args.role };
    let decision = decide(&ask, &layout, host, global, printer)?;
    let selection = decision.selection()?.clone();
    let opts = decision.options;
    for w in &decision.outcome.warnings {
        printer.warn(w);
    }
    // Every check that needs no download comes first: the engine and its flags, the service manager, the port,
    // what the hardened unit can see. A plan that cannot run stops here, before a byte is fetched or written.
    let previous = Receipt::load(&layout.receipt_file())?;
    let (engine_path, source) = engine::find(host, args.engine.as_deref(), &layout)?;
    let engine = engine::probe(host, &engine_path, source)?;
    let server = engine::args::server_args(&decision.profile, &selection, engine.features);
    let key_file = layout.api_key_file();
    let key = render::checked("the API key file", &layout.in_image(&key_file).to_string_lossy())?;
    // The flags do not depend on the model's path, so the check runs before the download.
    engine.check(&server.argv(Placement {
        model: "model.gguf",
        host: "127.0.0.1",
        port: opts.port,
        api_key_file: Some(&key),
    }))?;
    let target = render::target_for(opts.service, layout.scope);
    let will_start = target.is_some() && layout.root.is_none() && !args.no_start;
    preflight(host, &layout, target, will_start, &engine.path, opts.port, previous.as_ref())?;

    if args.dry_run {
        let actions = with_diffs(
            plan::actions(&selection, &decision.profile, &layout, opts),
            &decision,
            &selection,
            &layout,
            args,
            host,
            printer,
        );
        if printer.json {
            printer.document(&json!({"ok": true, "dry_run": true, "actions": actions}));
        } else {
            printer.data(&format!("`clawlocal init` would (nothing was changed):\n{}", describe(&actions, true)));
        }
        return Ok(Exit::Success);
    }
    // On a terminal, the plan is shown and the question asked once; --yes, --json or no terminal go straight on.
    if !args.yes && !printer.json {
        let actions = plan::actions(&selection, &decision.profile, &layout, opts);
        let question = format!("`clawlocal init` will:\n{}\nGo ahead?", describe(&actions, false));
        if printer.confirm(&question) == Some(false) {
            return Err(Error::failure("init cancelled; nothing was changed")
                .with_hint("`clawlocal init --dry-run` shows every file change first"));
        }
    }
    let mut actions = Vec::new();

    // The model, verified, and pinned in the lock.
    let lock_before = std::fs::read(layout.lock_file()).ok();
    let hf_spec = args.choice.model.clone().filter(|m| m.starts_with("hf:"));
    let want = match &hf_spec {
        Some(spec) => super::pull::wanted(spec, None)?,
        None => super::pull::wanted(&selection.model, Some(&selection.quant))?,
    };
    let pulled = super::pull::pull(&want, &layout, HubConfig::from_env(host, global.offline), false, printer)?;
    let fetched = if pulled.downloaded_bytes > 0 { Status::Created } else { Status::Unchanged };
    actions.push(done("download", Some(&pulled.path), fetched));

    // The exact arguments the engine will run with.
    let model = render::checked("the model path", &layout.in_image(&pulled.path).to_string_lossy())?;
    let serve_args =
        server.argv(Placement { model: &model, host: "127.0.0.1", port: opts.port, api_key_file: Some(&key) });
    engine.check(&serve_args)?;
    actions.push(done("engine", Some(&engine.path), Status::Unchanged));

    // Everything init is about to write is known now: the units, rendered, and the receipt that records them.
    let repo_dir = layout.repo_cache(&pulled.repo);
    let spec = UnitSpec {
        engine: &engine.path,
        server: &server,
        model: &pulled.path,
        repo_dir: &repo_dir,
        port: opts.port,
        api_key_file: &key_file,
        profile: &decision.profile,
        layout: &layout,
    };
    let rendered = render::for_service(opts.service, &spec)?;
    let model_name = format!("{} (local)", selection.name);
    let receipt_file = layout.receipt_file();
    let receipt_before = std::fs::read(&receipt_file).ok();
    let mut receipt = Receipt {
        version: receipt::RECEIPT_VERSION,
        profile: decision.profile.name.clone(),
        hardware: decision.profile.clone(),
        scope: layout.scope,
        service: opts.service,
        port: opts.port,
        role: opts.role,
        model: receipt::Model {
            id: selection.model_id.clone(),
            name: model_name.clone(),
            spec: want.spec.clone(),
            repo: pulled.repo.clone(),
            commit: pulled.revision.clone(),
            file: pulled.file.clone(),
            path: layout.in_image(&pulled.path),
            sha256: pulled.sha256.clone(),
            size: pulled.size,
            context: selection.context,
            estimate_bytes: selection.estimate.total_bytes,
        },
        engine: receipt::Engine {
            path: layout.in_image(&engine.path),
            source: engine.source.to_string(),
            version: engine.version.clone(),
        },
        server: server.clone(),
        serve: receipt::Command { program: layout.in_image(&engine.path), args: serve_args },
        api_key_file: layout.in_image(&key_file),
        units: rendered.iter().map(|r| layout.in_image(&r.path)).collect(),
        openclaw_config: layout.in_image(&layout.openclaw_config),
        // Once clawlocal created something, later runs that find it keep the claim. A key in clawlocal's own format
        // is clawlocal's even when the run that made it was killed before its receipt.
        created: receipt::Created {
            key_file: !key_file.exists()
                || previous.as_ref().is_some_and(|p| p.created.key_file)
                || std::fs::read_to_string(&key_file).is_ok_and(|k| is_generated_key(&k)),
            model_blob: crate::hub::cache::RepoCache::new(&layout.hub_cache, &pulled.repo)
                .downloaded_by_clawlocal(&pulled.sha256),
        },
        complete: false,
        files: Vec::new(),
    };
    // Written before the first change (unless a finished receipt already says the same), so that an init killed
    // from here on leaves a record that uninstall replays.
    if !previous.as_ref().is_some_and(|p| p.complete && p.same_install(&receipt)) {
        receipt.save(&receipt_file)?;
    }

    let key_status = ensure_key(&key_file)?;
    actions.push(done("api-key", Some(&key_file), key_status));

    // A swap: the previous, finished install ran another model or other arguments. The new one proves it loads
    // before OpenClaw is pointed at it; on failure the previous setup is put back and keeps running.
    let swap = previous
        .as_ref()
        .filter(|p| p.complete && (p.model.sha256 != receipt.model.sha256 || p.serve != receipt.serve));
    let health_timeout = Duration::from_secs(args.health_timeout);
    if let Some(old) = swap.filter(|_| !will_start) {
        // No manager restarts it here, so a trial run on a spare port is the proof.
        match service::trial(host, &engine.path, &receipt.serve.args, &layout.log_dir, health_timeout) {
            Ok(took) => printer.note(&format!(
                "the new model {} loaded in a trial run ({:.1}s); switching from {}",
                receipt.model.id,
                took.as_secs_f64(),
                old.model.id
            )),
            Err(why) => {
                put_back(&receipt_file, receipt_before.as_deref())?;
                return Err(Error::failure(format!(
                    "the new model {} did not load, so nothing was switched: OpenClaw still uses clawlocal/{}\n{why}",
                    receipt.model.id, old.model.id
                ))
                .with_hint("the log above names the cause; the model stays in the Hugging Face cache"));
            }
        }
    }

    // Units (what they held before is kept in memory for a swap that has to go back).
    let units_before: Vec<(PathBuf, Option<Vec<u8>>)> =
        rendered.iter().map(|r| (r.path.clone(), std::fs::read(&r.path).ok())).collect();
    let mut unit_changed = false;
    for r in &rendered {
        let (status, backup) = service::write(r, &layout)?;
        if let Some(b) = backup {
            printer.detail(&format!("the previous {} is kept at {}", r.path.display(), b.display()));
        }
        unit_changed |= status != Status::Unchanged;
        actions.push(done("unit", Some(&r.path), status));
    }

    // Start and wait until it answers; only then is OpenClaw pointed at it.
    let mut started = false;
    match target {
        Some(target) if will_start => {
            let commands = service::activation(target, &layout, unit_changed, host.uid());
            service::activate(host, &commands)?;
            let ours = service::Ours { key: super::openclaw::read_key(&key_file).ok(), alias: server.alias.clone() };
            if let Err(why) = service::wait_ours(opts.port, &ours, health_timeout) {
                let why = match crate::ports::holder(host, opts.port).filter(|h| h.runs(&engine.path) != Some(true)) {
                    Some(h) if h.pid.is_some() => format!("{why}; port {} is held by {h}", opts.port),
                    _ => why,
                };
                let tail = service::log_tail(host, target, &layout).unwrap_or_else(|| "(no log found)".into());
                let back = match swap {
                    Some(old) => {
                        put_back(&receipt_file, receipt_before.as_deref())?;
                        let key = ours.key.clone();
                        format!("\n{}", go_back(host, target, &layout, &units_before, old, key, health_timeout))
                    }
                    None => String::new(),
                };
                return Err(Error::failure(format!(
                    "the engine did not come up: {why}{back}\n--- last log lines ---\n{tail}"
                ))
                .with_hint("`clawlocal doctor` checks each step; the log above usually names the cause"));
            }
            started = true;
            actions.push(done("start", None, if unit_changed { Status::Updated } else { Status::Unchanged }));
        }
        _ => actions.push(done("start", None, Status::Skipped)),
    }

    // OpenClaw.
    let patch = super::openclaw::local_spec(
        &selection.model_id,
        &model_name,
        selection.context,
        opts.port,
        opts.role,
        super::openclaw::read_key(&key_file)?,
    );
    let records = super::openclaw::records_path(&layout);
    let patched = openclaw_file::patch_file(
        host,
        &layout.openclaw_config,
        patch,
        &Options { records: &records, dry_run: false },
    )?;
    for w in &patched.warnings {
        printer.warn(w);
    }
    actions.push(done("openclaw-config", Some(&patched.file), status_of(patched.status)));

    // Lock (written by the pull) and the finished receipt, with what each file holds now.
    let lock_after = std::fs::read(layout.lock_file()).ok();
    let lock_status = match (&lock_before, &lock_after) {
        (None, Some(_)) => Status::Created,
        (a, b) if a == b => Status::Unchanged,
        _ => Status::Updated,
    };
    actions.push(done("lock", Some(&layout.lock_file()), lock_status));
    receipt.openclaw_config = layout.in_image(&patched.config);
    receipt.complete = true;
    receipt.files = recorded_files(&layout, &pulled, lock_after.as_deref(), &key_file, &rendered, &patched.file);
    receipt.save(&receipt_file)?;
    let receipt_status = match receipt_before {
        None => Status::Created,
        Some(before) if std::fs::read(&receipt_file).is_ok_and(|now| now == before) => Status::Unchanged,
        Some(_) => Status::Updated,
    };
    actions.push(done("receipt", Some(&receipt_file), receipt_status));

    // A short doctor over what this run set up: without the server layer and the manager's state when no engine
    // was started (`--no-start`, or `clawlocal serve` runs it), and not at all for an image (`--root`), whose paths are not this host's.
    let report = layout.root.is_none().then(|| {
        let opts = doctor::Options { deep: false, chat_timeout: Duration::from_secs(60) };
        let mut probe = doctor::Probe::new(host, &layout, opts);
        let not_started: &[&str] = &["server", "service.enabled", "service.active", "service.restarts"];
        let leave_out = if started { &[][..] } else { not_started };
        doctor::report(doctor::run_all_but(&mut probe, leave_out), Vec::new())
    });
    let ok = report.as_ref().is_none_or(|r| r.ok);

    let model_ref = format!("clawlocal/{}", selection.model_id);
    if printer.json {
        printer.document(&json!({
            "ok": ok,
            "doctor": report,
            "model": selection.model_id,
            "model_ref": model_ref,
            "model_path": pulled.path,
            "lock": layout.lock_file(),
            "receipt": layout.receipt_file(),
            "openclaw_config": patched.file,
            "units": rendered,
            "port": opts.port,
            "actions": actions,
        }));
    } else {
        let rows: Vec<Vec<String>> = actions
            .iter()
            .map(|a| {
                let path = a.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
                vec![a.status.as_str().to_string(), a.kind.to_string(), path]
            })
            .collect();
        let next = if opts.service == crate::profile::ServiceKind::None {
            "\nRun `clawlocal serve` to start the engine (no service unit was installed)."
        } else {
            ""
        };
        let checked =
            report.as_ref().map(|r| format!("\n{}", super::doctor::render_short(r, printer))).unwrap_or_default();
        printer.data(&format!(
            "{}\nOpenClaw uses {model_ref} ({}) at {} as {}.{next}{checked}",
            super::table(&rows).trim_end(),
            selection.model,
            plan::base_url(opts.port),
            opts.role.as_str()
        ));
    }
    if !ok {
        printer
            .warn("init finished, but doctor found a problem in the chain (above); `clawlocal doctor` has the details");
        return Ok(Exit::Failure);
    }
    Ok(Exit::Success)
}

/// What must hold before init changes anything, checked without a download: the service manager answers, the
/// port is free (or held by clawlocal's own engine, a re-run), and a system unit can see the engine and the
/// model cache through its sandbox.
fn preflight(
    host: &dyn Host,
    layout: &layout::Layout,
    target: Option<render::Target>,
    will_start: bool,
    engine: &Path,
    port: u16,
    previous: Option<&Receipt>,
) -> Result<()> {
    if let Some((target, Err(why))) =
        target.filter(|_| will_start).map(|t| (t, service::manager_usable(host, t, layout)))
    {
        let here = service::managers_here(host, layout);
        let has =
            if here.is_empty() { "none of systemd, docker compose or launchd".to_string() } else { here.join(", ") };
        return Err(Error::usage(format!(
            "--service {} cannot run here: {why}; this host has {has}",
            target.service_name()
        ))
        .with_hint(
            "`clawlocal init --service none` and then `clawlocal serve` (or under your own supervisor) runs the \
                 engine in the foreground; `--service compose` where docker compose runs; `--no-start` writes the \
                 unit without starting it",
        ));
    }
    // `--root` builds an image for another box and `--no-start` starts nothing: the port is not this host's concern.
    let starts_here = layout.root.is_none() && (will_start || target.is_none());
    if let Some(holder) = crate::ports::holder(host, port).filter(|_| starts_here) {
        let ours = holder.runs(engine) == Some(true)
            || previous.filter(|p| p.port == port).is_some_and(|p| {
                let key = super::openclaw::read_key(&p.api_key_file).ok();
                service::is_ours(port, &service::Ours { key, alias: p.server.alias.clone() }).is_ok()
            });
        if !ours {
            let free = crate::ports::next_free(host, port).map_or(String::new(), |p| format!(" ({p} is free)"));
            return Err(Error::usage(format!(
                "port {port} is already in use by {holder}; clawlocal's engine could not bind it"
            ))
            .with_hint(format!(
                "pass another port: `clawlocal init --port <N>`{free}, or stop the program that holds {port}"
            )));
        }
    }
    if target == Some(render::Target::SystemdSystem) {
        render::visible_to_system_unit(layout, "the engine", engine)?;
        render::visible_to_system_unit(layout, "the Hugging Face cache", &layout.hub_cache)?;
    }
    Ok(())
}

/// Put a clawlocal file back as it was before this run (absent when it was absent).
fn put_back(path: &Path, before: Option<&[u8]>) -> Result<()> {
    match before {
        Some(bytes) => crate::fsutil::write_atomic_as(path, bytes, Some(0o644), None),
        None => std::fs::remove_file(path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| Error::io(format!("cannot remove {}", path.display()), &e)),
    }
}

/// A swap whose new engine did not come up: the previous unit files back, the service restarted on them, and
/// `/health` waited for. Says what became of the previous setup.
fn go_back(
    host: &dyn Host,
    target: render::Target,
    layout: &layout::Layout,
    units_before: &[(PathBuf, Option<Vec<u8>>)],
    old: &Receipt,
    key: Option<String>,
    timeout: Duration,
) -> String {
    for (path, before) in units_before {
        if let Err(e) = put_back(path, before.as_deref()) {
            return format!("and the previous unit could not be put back: {}", e.message);
        }
    }
    let commands = service::activation(target, layout, true, host.uid());
    if let Err(e) = service::activate(host, &commands) {
        return format!("the previous units are back, but restarting them failed: {}", e.message);
    }
    match service::wait_ours(old.port, &service::Ours { key, alias: old.server.alias.clone() }, timeout) {
        Ok(_) => format!("the previous setup ({}) is back and answering; openclaw.json was not touched", old.model.id),
        Err(why) => format!("the previous units are back, but the engine does not answer: {why}"),
    }
}

/// The plan as numbered lines; with `diffs`, each file's unified diff under its step.
fn describe(actions: &[plan::Action], diffs: bool) -> String {
    let mut out = String::new();
    for (i, a) in actions.iter().enumerate() {
        out.push_str(&format!("  {}. {:<16} {}\n", i + 1, a.kind, a.description));
        if let Some(diff) = a.diff.as_ref().filter(|_| diffs) {
            let body = if diff.is_empty() { "(no change)\n".to_string() } else { diff.clone() };
            for line in body.lines() {
                out.push_str(&format!("       {line}\n"));
            }
        }
    }
    out.trim_end().to_string()
}

/// `--dry-run`: the unit files and openclaw.json as this init would write them, diffed against what is there now.
/// Nothing is downloaded or written: the model's path is the cached snapshot when the commit is known, the key
/// the existing one or a placeholder. A part that cannot be prepared (no engine yet) gets a note instead.
fn with_diffs(
    mut actions: Vec<plan::Action>,
    decision: &super::plan::Decision,
    selection: &crate::select::Selection,
    layout: &layout::Layout,
    args: &InitArgs,
    host: &dyn Host,
    printer: &Printer,
) -> Vec<plan::Action> {
    let opts = decision.options;
    let repo_dir = layout.repo_cache(&selection.repo);
    let cache = crate::hub::cache::RepoCache::new(&layout.hub_cache, &selection.repo);
    let commit = selection.revision.clone().or_else(|| cache.read_ref("main")).unwrap_or_else(|| "<commit>".into());
    let model = repo_dir.join("snapshots").join(commit).join(&selection.file);
    let key_file = layout.api_key_file();
    let units = engine::find(host, args.engine.as_deref(), layout)
        .and_then(|(path, source)| engine::probe(host, &path, source))
        .and_then(|engine| {
            let server = engine::args::server_args(&decision.profile, selection, engine.features);
            let spec = UnitSpec {
                engine: &engine.path,
                server: &server,
                model: &model,
                repo_dir: &repo_dir,
                port: opts.port,
                api_key_file: &key_file,
                profile: &decision.profile,
                layout,
            };
            render::for_service(opts.service, &spec)
        });
    match units {
        Ok(units) => {
            for unit in units {
                let before = std::fs::read_to_string(&unit.path).unwrap_or_default();
                let diff = openclaw_file::diff(&unit.path, &before, &unit.text);
                if let Some(a) = actions.iter_mut().find(|a| a.kind == "unit" && a.path.as_ref() == Some(&unit.path)) {
                    a.diff = Some(diff);
                }
            }
        }
        Err(e) => printer.note(&format!("no unit diff: {}", e.message)),
    }
    // The real key makes the diff exact; it is masked before anything is shown (CI logs keep dry-run output).
    let key = super::openclaw::read_key(&key_file).unwrap_or_else(|_| "<the key init generates>".into());
    let mask = |diff: String| diff.replace(&key, &format!("<the key in {}>", key_file.display()));
    let spec = super::openclaw::local_spec(
        &selection.model_id,
        &format!("{} (local)", selection.name),
        selection.context,
        opts.port,
        opts.role,
        key.clone(),
    );
    let records = super::openclaw::records_path(layout);
    match openclaw_file::patch_file(host, &layout.openclaw_config, spec, &Options { records: &records, dry_run: true })
    {
        Ok(outcome) => {
            if let Some(a) = actions.iter_mut().find(|a| a.kind == "openclaw-config") {
                a.path = Some(outcome.file.clone());
                a.diff = Some(outcome.diff.map(mask).unwrap_or_default());
            }
        }
        Err(e) => printer.warn(&format!("openclaw.json: {}", e.message)),
    }
    actions
}

/// The receipt's file list: each file init wrote or verified and its sha256 now. What init holds in memory (the
/// model's digest from its verified download, the lock's bytes, the units' text) is not read or hashed again.
fn recorded_files(
    layout: &layout::Layout,
    pulled: &super::pull::PullDocument,
    lock: Option<&[u8]>,
    key_file: &Path,
    units: &[render::Rendered],
    openclaw_config: &Path,
) -> Vec<receipt::FileRecord> {
    use crate::hub::download::{sha256_file, sha256_hex};
    let record = |kind: &str, path: &Path, sha256: Option<String>| {
        sha256.map(|sha256| receipt::FileRecord { kind: kind.into(), path: layout.in_image(path), sha256 })
    };
    let mut files = vec![record("model", &pulled.path, Some(pulled.sha256.clone()))];
    files.push(record("lock", &layout.lock_file(), lock.map(sha256_hex)));
    files.push(record("api-key", key_file, sha256_file(key_file).ok()));
    for unit in units {
        files.push(record("unit", &unit.path, Some(sha256_hex(unit.text.as_bytes()))));
    }
    files.push(record("openclaw-config", openclaw_config, sha256_file(openclaw_config).ok()));
    files.into_iter().flatten().collect()
}

fn status_of(s: &str) -> Status {
    match s {
        "created" => Status::Created,
        "unchanged" => Status::Unchanged,
        _ => Status::Updated,
    }
}

const GENERATED_KEY_PREFIX: &str = "clawlocal-";

/// `clawlocal-` and 48 hex digits: the shape [`ensure_key`] writes, which a key someone else provided does not have.
fn is_generated_key(text: &str) -> bool {
    text.trim_end_matches('\n')
        .strip_prefix(GENERATED_KEY_PREFIX)
        .is_some_and(|hex| hex.len() == 48 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A random key in a 0600 file, created once and then left alone (`read_key` refuses a file others can read).
fn ensure_key(path: &Path) -> Result<Status> {
    if path.exists() {
        super::openclaw::read_key(path)?;
        return Ok(Status::Unchanged);
    }
    let mut bytes = [0u8; 24];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| Error::io("cannot read /dev/urandom for the API key", &e))?;
    let key = format!("{GENERATED_KEY_PREFIX}{}\n", crate::hub::download::hex(&bytes));
    crate::fsutil::write_atomic_as(path, key.as_bytes(), Some(0o600), None)?;
    Ok(Status::Created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_recognised_and_a_provided_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-key");
        assert_eq!(ensure_key(&path).unwrap(), Status::Created);
        assert!(is_generated_key(&std::fs::read_to_string(&path).unwrap()));
        assert!(!is_generated_key("my-own-secret\n"));
        assert!(!is_generated_key("clawlocal-short\n"));
    }
}
