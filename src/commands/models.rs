//! `clawlocal models [--profile P]`: the catalog, and with a profile the fit verdict per model.

use serde_json::json;

use crate::catalog::{AUTO_QUANTS, Catalog};
use crate::cli::ModelsArgs;
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::output::Printer;
use crate::profile;
use crate::select::{self, Request};
use crate::size::human;

pub fn run(args: &ModelsArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let catalog = Catalog::bundled();
    let profile = args.profile.as_deref().map(|p| profile::resolve(p, host)).transpose()?;
    let outcome = profile.as_ref().map(|p| select::select(p, catalog, &Request::default()));
    let best = outcome.as_ref().map(|o| select::best_per_model(&o.candidates)).unwrap_or_default();
    let verdict = |id: &str| best.iter().find(|c| c.model == id).copied();
    if printer.json {
        let models: Vec<_> = catalog
            .models
            .iter()
            .map(|m| {
                let mut v = json!({
                    "id": m.id, "name": m.name, "params": m.params, "active_params": m.active_params,
                    "context": m.context, "tools": m.tools, "license": m.license,
                    "quants": m.quants.keys().collect::<Vec<_>>(), "recipe": m.recipe, "unverified": m.unverified,
                });
                if let Some(c) = verdict(&m.id) {
                    v["fit"] = json!({
                        "quant": c.quant, "context": c.context, "fits": c.fits, "selected": c.selected,
                        "total_bytes": c.estimate.total_bytes, "reason": c.reason,
                        "generation_tps": c.speed.generation_tps, "prefill_seconds": c.speed.prefill_seconds,
                    });
                }
                v
            })
            .collect();
        let mut doc = json!({ "models": models });
        if let (Some(p), Some(o)) = (&profile, &outcome) {
            doc["profile"] = json!(p.name);
            doc["budget_bytes"] = json!(o.budget.bytes);
        }
        printer.document(&doc);
        return Ok(Exit::Success);
    }
    let mut header = vec!["MODEL", "PARAMS", "CONTEXT", "TOOLS", "QUANTS", "LICENSE"];
    if profile.is_some() {
        header.extend(["FIT", "REASON"]);
    }
    let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
    for m in &catalog.models {
        let quants: Vec<&str> = AUTO_QUANTS.iter().copied().filter(|q| m.quants.contains_key(*q)).collect();
        let params = match m.active_params {
            Some(a) => format!("{:.1}B/{:.1}B", m.params as f64 / 1e9, a as f64 / 1e9),
            None => format!("{:.1}B", m.params as f64 / 1e9),
        };
        let mut row = vec![
            m.id.clone(),
            params,
            m.context.to_string(),
            if m.tools { "yes" } else { "no" }.into(),
            quants.join(","),
            m.license.clone(),
        ];
        if let Some(c) = verdict(&m.id) {
            let fit = if c.selected {
                "selected"
            } else if c.fits {
                "fits"
            } else {
                "no"
            };
            row.push(format!("{fit} {} {}", c.quant, human(c.estimate.total_bytes)));
            row.push(c.reason.clone());
        }
        rows.push(row);
    }
    let mut text = String::new();
    if let (Some(p), Some(o)) = (&profile, &outcome) {
        text.push_str(&format!("Profile {} — budget {} ({})\n\n", p.name, human(o.budget.bytes), o.budget.explanation));
    }
    text.push_str(&super::table(&rows));
    printer.data(&text);
    Ok(Exit::Success)
}
