//! `clawlocal init`: the settings from the command line, then the library's one flow — survey, plan, show or apply
//! (`crate::install`) — and a short doctor over what was set up. Each step reports created / updated / unchanged /
//! skipped, so a second identical run changes nothing.

use std::time::Duration;

use super::plan::{Ask, Decision, decide};
use crate::cli::{GlobalArgs, InitArgs};
use crate::doctor;
use crate::documents;
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::hub::HubConfig;
use crate::install::{self, Applied, Desired, Plan, World};
use crate::layout::{self, Layout};
use crate::output::Printer;

pub fn run(args: &InitArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    if let Some(kind) = args.backend.and_then(crate::cli::InitBackend::server) {
        return super::init_backend::run(kind, args, global, host, printer);
    }
    if args.url.is_some() || args.api_key_file.is_some() || args.api_key_env.is_some() {
        return Err(Error::usage("--url, --api-key-file and --api-key-env are for a server --backend")
            .with_hint("e.g. `clawlocal init --backend ollama --url http://127.0.0.1:11434`"));
    }
    let (desired, layout) = settings(args, global, host, printer)?;
    let world = install::survey(&desired, &layout, host, printer)?;
    let plan = install::plan(&desired, &world);
    if args.dry_run {
        return dry_run(&plan, &world, printer);
    }
    blocked_or_declined(&plan, &world, args.yes, printer)?;
    let applied = match engine_first(&plan) {
        // The engine's real build and flags decide the unit's arguments and the receipt: it is installed on its
        // own first, and the rest is planned again over the world with it (the same plan but for those facts).
        Some(install_only) => {
            let installed = install::apply(&install_only, &install::Env::for_init(&desired, &world), host, printer)?;
            let world = install::survey(&desired, &layout, host, printer)?;
            let plan = install::plan(&desired, &world);
            if let Some(b) = plan.blockers.first() {
                return Err(b.error.clone());
            }
            let mut rest = install::apply(&plan, &install::Env::for_init(&desired, &world), host, printer)?;
            rest.actions.splice(0..0, installed.actions);
            rest
        }
        None => install::apply(&plan, &install::Env::for_init(&desired, &world), host, printer)?,
    };
    report(&desired, &layout, &applied, host, printer)
}

/// The plan's engine install, as a plan of its own, with the lock that pins the archive it installs.
fn engine_first(plan: &Plan) -> Option<Plan> {
    let install = plan.steps.iter().find(|s| matches!(s, install::Step::InstallEngine { .. }))?.clone();
    let lock = plan.steps.iter().find(|s| matches!(s, install::Step::Write { kind: install::FileKind::Lock, .. }));
    let steps = std::iter::once(install).chain(lock.cloned()).collect();
    Some(Plan { steps, blockers: Vec::new(), swap: None, receipt: None, ..plan.clone() })
}

/// Arguments, environment and files resolved once into what init is to bring about.
fn settings(args: &InitArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<(Desired, Layout)> {
    let layout =
        layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), args.openclaw_config.as_deref())?;
    let ask =
        Ask { profile: &args.profile, choice: &args.choice, service: args.service, port: args.port, role: args.role };
    let decision: Decision = decide(&ask, &layout, host, global, printer)?;
    let selection = decision.selection()?.clone();
    for w in &decision.outcome.warnings {
        printer.warn(w);
    }
    let want = match args.choice.model.as_deref().filter(|m| m.starts_with("hf:")) {
        Some(spec) => crate::hub::pull::wanted(spec, None)?,
        None => crate::hub::pull::wanted(&selection.model, Some(&selection.quant))?,
    };
    let target = crate::render::target_for(decision.options.service, layout.scope);
    let desired = Desired {
        profile: decision.profile,
        selection,
        options: decision.options,
        want,
        engine: args.engine.clone(),
        install_engine: !args.no_engine_install,
        backend: args.backend.and_then(crate::cli::InitBackend::build).map(Into::into),
        engine_mirror: host.env_nonempty("CLAWLOCAL_ENGINE_MIRROR"),
        locked: args.locked,
        start: target.is_some() && layout.root.is_none() && !args.no_start,
        health_timeout: Duration::from_secs(args.health_timeout),
        hub: HubConfig::from_env(host, global.offline),
    };
    Ok((desired, layout))
}

/// The plan, with every file's diff; with blockers it exits non-zero, naming the step it would stop at.
fn dry_run(plan: &Plan, world: &World, printer: &Printer) -> Result<Exit> {
    let exit = plan.blockers.first().map_or(Exit::Success, |b| b.error.exit);
    if printer.json {
        printer.document(&install::plan_json(plan, world));
        return Ok(exit);
    }
    let head = if plan.runnable() {
        "`clawlocal init` would (nothing was changed):"
    } else {
        "`clawlocal init` cannot run as asked (nothing was changed); the plan up to there:"
    };
    printer.data(&format!("{head}\n{}", install::describe(plan, world, true)));
    Ok(exit)
}

/// The table of what was done (or the `--json` document), and a short doctor over it.
fn report(d: &Desired, layout: &Layout, applied: &Applied, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    // Without the server layer and the manager's state when no engine was started (`--no-start`, or `clawlocal
    // serve` runs it), and not at all for an image (`--root`), whose paths are not this host's.
    let doctor = layout.root.is_none().then(|| {
        let opts = doctor::Options { deep: false, chat_timeout: Duration::from_secs(60) };
        let mut probe = doctor::Probe::new(host, layout, opts);
        let not_started: &[&str] = &["server", "service.enabled", "service.active", "service.restarts"];
        doctor::report(doctor::run_all_but(&mut probe, if applied.started { &[] } else { not_started }), Vec::new())
    });
    let ok = doctor.as_ref().is_none_or(|r| r.ok);
    let s = &d.selection;
    let model_ref = format!("clawlocal/{}", s.model_id);
    if printer.json {
        printer.document(&documents::value(&documents::InitDocument {
            ok,
            doctor,
            model: s.model_id.clone(),
            model_ref,
            model_path: applied.model_path.clone(),
            lock: layout.lock_file(),
            receipt: layout.receipt_file(),
            openclaw_config: applied.openclaw_file.clone(),
            units: applied
                .units
                .iter()
                .map(|u| documents::UnitFile { target: u.target, path: u.path.clone() })
                .collect(),
            port: d.options.port,
            backend: None,
            actions: applied.actions.clone(),
        }));
    } else {
        let rows = action_rows(&applied.actions);
        let next = if d.options.service == crate::profile::ServiceKind::None {
            "\nRun `clawlocal serve` to start the engine (no service unit was installed)."
        } else {
            ""
        };
        let checked =
            doctor.as_ref().map(|r| format!("\n{}", super::doctor::render_short(r, printer))).unwrap_or_default();
        printer.data(&format!(
            "{}\nOpenClaw uses {model_ref} ({}) at {} as {}.{next}{checked}",
            super::table(&rows).trim_end(),
            s.model,
            crate::plan::base_url(d.options.port),
            d.options.role.as_str()
        ));
    }
    if !ok {
        printer
            .warn("init finished, but doctor found a problem in the chain (above); `clawlocal doctor` has the details");
        return Ok(Exit::Failure);
    }
    Ok(Exit::Success)
}

/// The plan's first blocker as the error (the others as warnings), or, on a terminal, the plan shown and the
/// question asked once; --yes, --json or no terminal go straight on.
pub(super) fn blocked_or_declined(
    plan: &install::Plan,
    world: &dyn install::Seen,
    yes: bool,
    printer: &Printer,
) -> Result<()> {
    if let Some(b) = plan.blockers.first() {
        for other in &plan.blockers[1..] {
            printer.warn(&format!("also: {}", other.error.message));
        }
        return Err(b.error.clone());
    }
    if !yes && !printer.json {
        let question = format!("`clawlocal init` will:\n{}\nGo ahead?", install::describe(plan, world, false));
        if printer.confirm(&question) == Some(false) {
            return Err(Error::failure("init cancelled; nothing was changed")
                .with_hint("`clawlocal init --dry-run` shows every file change first"));
        }
    }
    Ok(())
}

/// The applied actions as table rows: status, kind, path.
pub(super) fn action_rows(actions: &[install::Done]) -> Vec<Vec<String>> {
    actions
        .iter()
        .map(|a| {
            let path = a.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            vec![a.status.as_str().to_string(), a.kind.to_string(), path]
        })
        .collect()
}
