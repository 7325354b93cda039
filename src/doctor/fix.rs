//! `doctor --fix`: the repairs that are safe to repeat, each undoing one kind of drift from the receipt. Each is
//! a small plan of init's own steps (units: guarded write + start + health wait; openclaw.json: the prepared CST
//! patch; the model: the verified fetch) run by init's executor, so a repair is never a second implementation.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::{Check, Probe};
use crate::error::{Error, Result};
use crate::install::{self, Env, FileKind, Guard, Plan, Purpose, Step};
use crate::openclaw::file as openclaw_file;
use crate::output::Printer;
use crate::profile::ServiceKind;
use crate::render::service;

/// A repair `--fix` can make. Declared in the order they are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Repair {
    /// Delete the damaged model file and download it again (verified against the lock).
    Redownload,
    /// `chmod 600` the API key file.
    ChmodKey,
    /// Render the units again from the receipt (the drifted file is backed up) and restart.
    Rerender,
    /// Patch openclaw.json again from the receipt.
    Repatch,
    /// Restart the service (daemon-reload, enable, restart).
    Restart,
}

/// What `--fix` did, or with `--dry-run` would do.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Applied {
    pub repair: Repair,
    pub description: String,
    /// `planned` (`--dry-run`), `done` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The repairs the failed and warned checks call for, deduplicated and in order. A restart follows a new model
/// or key under a service manager; a re-render already restarts.
pub fn wanted(checks: &[Check], probe: &Probe) -> Vec<Repair> {
    let mut repairs: Vec<Repair> = checks
        .iter()
        .filter(|c| matches!(c.status, super::Status::Fail | super::Status::Warn))
        .filter_map(|c| c.repair)
        .collect();
    // A server another tool runs: clawlocal owns only its openclaw.json edit.
    if probe.backend.is_some() {
        repairs.retain(|r| *r == Repair::Repatch);
        repairs.dedup();
        return repairs;
    }
    let service = probe.receipt.as_ref().is_some_and(|r| r.service != ServiceKind::None);
    if service && repairs.contains(&Repair::Redownload) {
        repairs.push(Repair::Restart);
    }
    if !service {
        repairs.retain(|r| !matches!(r, Repair::Restart | Repair::Rerender));
    }
    repairs.sort();
    repairs.dedup();
    if repairs.contains(&Repair::Rerender) {
        repairs.retain(|r| *r != Repair::Restart);
    }
    repairs
}

fn describe(repair: Repair, p: &Probe) -> String {
    if let Some(b) = &p.backend {
        return format!(
            "patch {} again: provider {} at {}, model {} (backed up first)",
            b.openclaw_config.display(),
            b.backend.provider,
            b.backend.url,
            b.backend.model
        );
    }
    let r = p.r();
    match repair {
        Repair::Redownload => {
            format!(
                "delete {} and download {} again, verified against sha256 {}",
                r.model.path.display(),
                r.model.spec,
                r.model.sha256
            )
        }
        Repair::ChmodKey => format!("chmod 600 {}", r.api_key_file.display()),
        Repair::Rerender => format!(
            "render {} again from the receipt (the current file is backed up), then restart",
            r.units.iter().map(|u| u.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
        Repair::Repatch => format!(
            "patch {} again: provider clawlocal at {}, model {} (backed up first)",
            r.openclaw_config.display(),
            crate::plan::base_url(r.port),
            r.model.id
        ),
        Repair::Restart => format!("restart the engine: {}", p.restart_command()),
    }
}

/// `--fix --dry-run`: what would be done.
pub fn planned(checks: &[Check], p: &Probe) -> Vec<Applied> {
    wanted(checks, p)
        .into_iter()
        .map(|repair| Applied { repair, description: describe(repair, p), status: "planned", error: None })
        .collect()
}

/// Make the repairs, in order, each as a small plan run by init's executor; one that fails is reported and the
/// rest still run.
pub fn apply(checks: &[Check], p: &Probe, printer: &Printer, offline: bool) -> Vec<Applied> {
    let engine = p.receipt.as_ref().map(|r| p.layout.on_host(&r.engine.path));
    let env = Env {
        layout: p.layout.clone(),
        uid: p.host.uid(),
        hub: Some(crate::hub::HubConfig::from_env(p.host, offline)),
        health_timeout: Duration::from_secs(120),
        key: p.key(),
        engine,
    };
    wanted(checks, p)
        .into_iter()
        .map(|repair| {
            let description = describe(repair, p);
            printer.note(&format!("fixing: {description}"));
            let done = plan(repair, p, &env, printer).and_then(|plan| install::apply(&plan, &env, p.host, printer));
            match done {
                Ok(_) => Applied { repair, description, status: "done", error: None },
                Err(e) => {
                    printer.warn(&format!("could not {description}: {}", e.message));
                    Applied { repair, description, status: "failed", error: Some(e.message) }
                }
            }
        })
        .collect()
}

/// One repair as steps: the same steps init's plan has for that part (fetch, unit write + start + health wait,
/// the prepared openclaw.json edit), so a repair is never a second, weaker implementation.
fn plan(repair: Repair, p: &Probe, env: &Env, printer: &Printer) -> Result<Plan> {
    if let Some(b) = &p.backend {
        return backend_repatch(b, p);
    }
    let r = p.r();
    let layout = p.layout;
    let mut steps = Vec::new();
    // Only a re-render renders; every repair knows the manager from the receipt.
    let target = crate::render::target_for(r.service, r.scope);
    let start = |steps: &mut Vec<Step>| -> Result<()> {
        let Some(target) = target else { return Ok(()) };
        if layout.root.is_some() {
            return Err(Error::usage("--root builds an image: no service manager is called"));
        }
        let commands = service::activation(target, layout, true, env.uid);
        steps.push(Step::Start { target, commands, restart: true });
        let key = env.key.clone().unwrap_or_default();
        steps.push(Step::WaitHealthy { target, port: r.port, alias: r.server.alias.clone(), key, fit: None });
        Ok(())
    };
    match repair {
        Repair::Redownload => {
            // The snapshot entry links to the blob named by its sha256; the blob is what is damaged.
            let path = layout.on_host(&r.model.path);
            let blob = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if blob.starts_with(&layout.hub_cache) && blob.is_file() {
                steps.push(Step::Remove { kind: "model", path: blob });
            }
            let want = r.model.spec.wanted()?;
            let lock = crate::lockfile::LockFile::load(&layout.lock_file())?;
            let cache = crate::hub::cache::RepoCache::new(&layout.hub_cache, &want.hub.repo);
            let client = crate::hub::client::Client::new(env.hub.clone().expect("doctor --fix has a Hub"));
            let resolution =
                crate::hub::pull::resolve(&want, &lock, &layout.lock_file(), &cache, &client, true, printer)?;
            if resolution.files[0].sha256 != r.model.sha256 {
                return Err(Error::failure(format!(
                    "the lock pins {} with sha256 {}, but the receipt pins {}",
                    r.model.file, resolution.files[0].sha256, r.model.sha256
                ))
                .with_hint("run `clawlocal init` again to set up the model the lock now names"));
            }
            let bytes = resolution.files.iter().map(|f| f.size).sum();
            steps.push(Step::Fetch { want, resolution, path, cached: false, bytes });
        }
        Repair::ChmodKey => {
            steps.push(Step::Chmod { kind: "api-key", path: layout.on_host(&r.api_key_file), mode: 0o600 })
        }
        Repair::Rerender => {
            for unit in &super::service::rendered(p)? {
                let now = std::fs::read(&unit.path).ok();
                steps.push(Step::Write {
                    kind: FileKind::Unit,
                    path: unit.path.clone(),
                    contents: unit.text.clone().into_bytes(),
                    mode: 0o644,
                    guard: Guard::of(now.as_deref()),
                    target: Some(unit.target),
                });
            }
            start(&mut steps)?;
        }
        Repair::Restart => start(&mut steps)?,
        Repair::Repatch => {
            let key = crate::openclaw::read_key(&layout.on_host(&r.api_key_file))?;
            let spec = crate::openclaw::local_spec(&r.model.id, &r.model.name, r.model.context, r.port, r.role, key);
            let records = crate::openclaw::records_path(layout);
            let prepared = openclaw_file::prepare(p.host, &layout.on_host(&r.openclaw_config), spec, &records)?;
            steps.push(Step::Openclaw(Box::new(prepared)));
        }
    }
    Ok(Plan { steps, blockers: Vec::new(), swap: None, receipt: None, target, purpose: Purpose::Repair })
}

/// `init --backend`'s own plan again from its receipt: the server asked afresh, openclaw.json prepared anew.
fn backend_repatch(b: &crate::receipt::BackendReceipt, p: &Probe) -> Result<Plan> {
    use crate::receipt::KeySource;
    let (api_key_file, api_key_env) = match &b.backend.key {
        KeySource::Marker(_) => (None, None),
        KeySource::File(f) => (Some(p.layout.on_host(f)), None),
        KeySource::Env(v) => (None, Some(v.clone())),
    };
    let desired = install::backend::Desired {
        kind: b.backend.kind,
        url: Some(b.backend.url.clone()),
        model: Some(b.backend.model.clone()),
        context: Some(b.backend.context),
        api_key_file,
        api_key_env,
        role: b.role,
    };
    let world = install::backend::survey(&desired, p.layout, p.host);
    let plan = install::backend::plan(&desired, &world);
    if let Some(blocker) = plan.blockers.first() {
        return Err(blocker.error.clone());
    }
    Ok(Plan { purpose: Purpose::Repair, ..plan })
}
