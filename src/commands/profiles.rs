//! `clawlocal profiles list|show`.

use serde_json::json;

use crate::cli::ProfilesCommand;
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::output::Printer;
use crate::profile::{self, Profile};
use crate::size::human;

pub fn run(cmd: &ProfilesCommand, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    match cmd {
        ProfilesCommand::List => {
            let profiles: Vec<Profile> = profile::bundled_names().into_iter().filter_map(profile::bundled).collect();
            if printer.json {
                let list: Vec<_> = profiles.iter().map(profile_json).collect();
                printer.document(&json!({ "profiles": list }));
            } else {
                let mut rows = vec![vec![
                    "NAME".into(),
                    "MEMORY".into(),
                    "ACCELERATOR".into(),
                    "BUDGET".into(),
                    "SERVICE".into(),
                    "DESCRIPTION".into(),
                ]];
                for p in &profiles {
                    let accel = p.accelerator.as_ref().map_or("-".to_string(), |a| match a.memory {
                        Some(m) => format!("{} {m}", a.kind.as_str()),
                        None => a.kind.as_str().to_string(),
                    });
                    rows.push(vec![
                        p.name.clone(),
                        p.memory.to_string(),
                        accel,
                        human(p.budget().bytes),
                        p.service.as_str().into(),
                        p.description.clone(),
                    ]);
                }
                printer.data(&super::table(&rows));
            }
        }
        ProfilesCommand::Show { name } => {
            let p = profile::resolve(name, host)?;
            if printer.json {
                printer.document(&profile_json(&p));
            } else {
                let budget = p.budget();
                let device = p.device();
                let text = format!(
                    "{}: {}\n{}\nbudget   {} ({}: {})\nspeed    {:.0} GB/s memory bandwidth, {:.0} GFLOPS (for estimates)\nservice  {} on 127.0.0.1:{}\ndisk     {}\n",
                    p.name,
                    p.description,
                    p.summary(),
                    human(budget.bytes),
                    budget.kind,
                    budget.explanation,
                    device.bandwidth_gbps,
                    device.compute_gflops,
                    p.service.as_str(),
                    p.port,
                    p.disk,
                );
                printer.data(&text);
            }
        }
    }
    Ok(Exit::Success)
}

/// The profile as written, plus the derived budget, for `--json`.
pub fn profile_json(p: &Profile) -> serde_json::Value {
    let mut v = serde_json::to_value(p).expect("profiles serialise");
    let budget = p.budget();
    v["reserve"] = json!(p.reserve_bytes());
    v["budget_bytes"] = json!(budget.bytes);
    v["budget"] = json!(budget);
    v
}
