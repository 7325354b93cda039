//! `doctor --fix`: the repairs that are safe to repeat, each undoing one kind of drift from the receipt. Every
//! write goes through the same code init uses (units: backup + atomic replace; openclaw.json: the CST patch with
//! its backup; the model: the verified download), so a repair is never a second, weaker implementation.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::{Check, Probe};
use crate::error::{Error, Result};
use crate::openclaw::file::{self as openclaw_file, Options};
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

/// Make the repairs, in order; one that fails is reported and the rest still run.
pub fn apply(checks: &[Check], p: &Probe, printer: &Printer, offline: bool) -> Vec<Applied> {
    wanted(checks, p)
        .into_iter()
        .map(|repair| {
            let description = describe(repair, p);
            printer.note(&format!("fixing: {description}"));
            match run(repair, p, printer, offline) {
                Ok(()) => Applied { repair, description, status: "done", error: None },
                Err(e) => {
                    printer.warn(&format!("could not {description}: {}", e.message));
                    Applied { repair, description, status: "failed", error: Some(e.message) }
                }
            }
        })
        .collect()
}

fn run(repair: Repair, p: &Probe, printer: &Printer, offline: bool) -> Result<()> {
    let r = p.r();
    match repair {
        Repair::Redownload => {
            // The snapshot entry links to the blob named by its sha256; the blob is what is damaged.
            let path = p.layout.on_host(&r.model.path);
            let blob = std::fs::canonicalize(&path).unwrap_or(path);
            if blob.starts_with(&p.layout.hub_cache) && blob.is_file() {
                std::fs::remove_file(&blob).map_err(|e| Error::io(format!("cannot remove {}", blob.display()), &e))?;
            }
            // The receipt's spec is `hf:…` (whole) or `<catalog id>:<QUANT>`, as `pull::wanted` wrote it.
            let (model, quant) = match r.model.spec.rsplit_once(':') {
                Some((model, quant)) if !r.model.spec.starts_with("hf:") => (model, Some(quant)),
                _ => (r.model.spec.as_str(), None),
            };
            let want = crate::hub::pull::wanted(model, quant)?;
            let config = crate::hub::HubConfig::from_env(p.host, offline);
            let pulled = crate::hub::pull::pull(&want, p.layout, config, true, printer)?;
            if pulled.sha256 != r.model.sha256 {
                return Err(Error::failure(format!(
                    "downloaded {} with sha256 {}, but the receipt pins {}",
                    r.model.file, pulled.sha256, r.model.sha256
                ))
                .with_hint("run `clawlocal init` again to set up the model the lock now names"));
            }
            Ok(())
        }
        Repair::ChmodKey => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p.layout.on_host(&r.api_key_file), std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(format!("cannot chmod {}", r.api_key_file.display()), &e))
        }
        Repair::Rerender => {
            let rendered = super::service::rendered(p)?;
            for unit in &rendered {
                let (_, backup) = service::write(unit, p.layout)?;
                if let Some(b) = backup {
                    printer.note(&format!("the previous {} is kept at {}", unit.path.display(), b.display()));
                }
            }
            restart(p, rendered.first().map(|u| u.target))
        }
        Repair::Restart => {
            let rendered = super::service::rendered(p)?;
            restart(p, rendered.first().map(|u| u.target))
        }
        Repair::Repatch => {
            let key = crate::openclaw::read_key(&p.layout.on_host(&r.api_key_file))?;
            let spec = crate::openclaw::local_spec(&r.model.id, &r.model.name, r.model.context, r.port, r.role, key);
            let records = crate::openclaw::records_path(p.layout);
            let outcome = openclaw_file::patch_file(
                p.host,
                &p.layout.on_host(&r.openclaw_config),
                spec,
                &Options { records: &records, dry_run: false },
            )?;
            for w in &outcome.warnings {
                printer.warn(w);
            }
            Ok(())
        }
    }
}

/// Enable and restart under the receipt's manager, then wait for `/health`.
fn restart(p: &Probe, target: Option<crate::render::Target>) -> Result<()> {
    let Some(target) = target else { return Ok(()) };
    if p.layout.root.is_some() {
        return Err(Error::usage("--root builds an image: no service manager is called"));
    }
    service::activate(p.host, &service::activation(target, p.layout, true, p.host.uid()))?;
    let ours = service::Ours { key: p.key(), alias: p.r().server.alias.clone() };
    service::wait_ours(p.r().port, &ours, Duration::from_secs(120)).map_err(Error::failure)?;
    Ok(())
}
