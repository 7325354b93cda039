//! `clawlocal init --backend ollama|lmstudio|vllm|sglang|mlx|litellm|tinygrad|openai`: OpenClaw pointed at a server
//! the user runs, through the same survey → plan → dry run or apply → receipt → short doctor as the bundled engine
//! (`crate::install::backend`). Nothing is downloaded and no unit is written.

use std::time::Duration;

use crate::backends::Kind;
use crate::cli::{GlobalArgs, InitArgs};
use crate::doctor;
use crate::documents;
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::install::{self, backend};
use crate::layout;
use crate::output::Printer;

pub fn run(kind: Kind, args: &InitArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    refuse_engine_flags(kind, args)?;
    let layout =
        layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), args.openclaw_config.as_deref())?;
    let desired = backend::Desired {
        kind,
        url: args.url.clone(),
        model: args.choice.model.clone(),
        context: args.choice.context,
        api_key_file: args.api_key_file.clone(),
        api_key_env: args.api_key_env.clone(),
        role: args.role.map_or(crate::plan::Role::Fallback, Into::into),
    };
    let world = backend::survey(&desired, &layout, host);
    if let Some(served) = world.served() {
        for w in &served.warnings {
            printer.warn(w);
        }
    }
    let plan = backend::plan(&desired, &world);
    if args.dry_run {
        let exit = plan.blockers.first().map_or(Exit::Success, |b| b.error.exit);
        if printer.json {
            printer.document(&install::plan_json(&plan, &world));
        } else {
            let head = if plan.runnable() {
                "`clawlocal init` would (nothing was changed):"
            } else {
                "`clawlocal init` cannot run as asked (nothing was changed); the plan up to there:"
            };
            printer.data(&format!("{head}\n{}", install::describe(&plan, &world, true)));
        }
        return Ok(exit);
    }
    super::init::blocked_or_declined(&plan, &world, args.yes, printer)?;
    let env = install::Env {
        layout: layout.clone(),
        uid: host.uid(),
        hub: None,
        health_timeout: Duration::from_secs(args.health_timeout),
        key: world.key.as_ref().map(|(k, _)| k.clone()),
        engine: None,
    };
    let applied = install::apply(&plan, &env, host, printer)?;
    let spec = world.spec.as_ref().expect("a runnable plan has its entry");
    let doctor = layout.root.is_none().then(|| {
        let opts = doctor::Options { deep: false, chat_timeout: Duration::from_secs(60) };
        let mut probe = doctor::Probe::new(host, &layout, opts);
        doctor::report(doctor::run_all_but(&mut probe, &[]), Vec::new())
    });
    let ok = doctor.as_ref().is_none_or(|r| r.ok);
    if printer.json {
        printer.document(&documents::value(&documents::InitDocument {
            ok,
            doctor,
            model: spec.model_id.clone(),
            model_ref: spec.model_ref(),
            model_path: Default::default(),
            lock: layout.lock_file(),
            receipt: layout.receipt_file(),
            openclaw_config: applied.openclaw_file.clone(),
            units: Vec::new(),
            port: crate::backends::probe::port_of(&spec.base_url).unwrap_or(0),
            backend: Some(documents::InitBackendDoc { kind, url: spec.base_url.clone() }),
            actions: applied.actions.clone(),
        }));
    } else {
        let rows = super::init::action_rows(&applied.actions);
        let checked =
            doctor.as_ref().map(|r| format!("\n{}", super::doctor::render_short(r, printer))).unwrap_or_default();
        printer.data(&format!(
            "{}\nOpenClaw uses {} ({}) at {} as {}.{checked}",
            super::table(&rows).trim_end(),
            spec.model_ref(),
            kind.label(),
            spec.base_url,
            spec.role.as_str()
        ));
    }
    if !ok {
        printer
            .warn("init finished, but doctor found a problem in the chain (above); `clawlocal doctor` has the details");
        return Ok(Exit::Failure);
    }
    Ok(Exit::Success)
}

/// The flags that only mean something for clawlocal's own engine are refused, not ignored.
fn refuse_engine_flags(kind: Kind, args: &InitArgs) -> Result<()> {
    let given = [
        ("--port", args.port.is_some()),
        ("--service", args.service.is_some()),
        ("--engine", args.engine.is_some()),
        ("--no-engine-install", args.no_engine_install),
        ("--no-start", args.no_start),
        ("--locked", args.locked),
        ("--quant", args.choice.quant.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
        return Err(Error::usage(format!(
            "{flag} is for clawlocal's own engine; --backend {kind} points OpenClaw at a server you run"
        ))
        .with_hint(format!(
            "with --backend {kind}: --url, --model ID, --context N, --api-key-file / --api-key-env, --role"
        )));
    }
    if let Some(m) = args.choice.model.as_deref().filter(|m| m.starts_with("hf:")) {
        return Err(Error::usage(format!("--model {m}: with --backend {kind}, --model is the id the server serves"))
            .with_hint("`clawlocal backends` lists the models each server serves"));
    }
    Ok(())
}
