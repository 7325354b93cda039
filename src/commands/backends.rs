//! `clawlocal backends`: which model servers answer here, on every kind's default address (and the `--url`s
//! given), with their models, each model's served context and tool support.

use crate::backends::{self, Kind, Served};
use crate::cli::BackendsArgs;
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::output::Printer;

pub fn run(args: &BackendsArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let key = args.api_key_file.as_deref().map(crate::openclaw::read_key).transpose()?;
    let mut addresses: Vec<(String, Option<Kind>)> =
        Kind::ALL.iter().filter_map(|k| Some((backends::default_address(host, *k)?, Some(*k)))).collect();
    addresses.extend(args.url.iter().map(|u| (u.clone(), None)));
    // Several kinds share a default port (vLLM and tinygrad on 8000): each address is asked once.
    let mut origins: Vec<(String, Option<Kind>)> = Vec::new();
    for (a, kind) in addresses {
        let origin = a.trim_end_matches('/').trim_end_matches("/v1").to_string();
        match origins.iter_mut().find(|(o, _)| *o == origin) {
            // Shared by two kinds: the address tells neither.
            Some(seen) => seen.1 = None,
            None => origins.push((origin, kind)),
        }
    }
    let cmdline = |port: u16| backends::local_cmdline(host, port);
    let (found, silent): (Vec<Option<Served>>, Vec<String>) = {
        let answers: Vec<(String, Option<Served>)> = origins
            .iter()
            .map(|(o, kind)| (o.clone(), backends::probe::detect(o, key.as_deref(), &cmdline, *kind)))
            .collect();
        let silent = answers.iter().filter(|(_, s)| s.is_none()).map(|(o, _)| o.clone()).collect();
        (answers.into_iter().map(|(_, s)| s).collect(), silent)
    };
    let found: Vec<Served> = found.into_iter().flatten().collect();
    if printer.json {
        printer.document(&serde_json::json!({ "backends": found, "not_answering": silent }));
        return Ok(Exit::Success);
    }
    if found.is_empty() {
        let asked: Vec<&str> = origins.iter().map(|(o, _)| o.as_str()).collect();
        printer.data(&format!("no model server answers at {}", asked.join(", ")));
        return Ok(Exit::Success);
    }
    for s in &found {
        let version = s.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        printer.data(&format!("{}{version} at {}", s.kind.label(), s.url));
        for m in &s.models {
            printer.data(&format!("  {}", describe(m)));
        }
        if s.models.is_empty() {
            printer.data("  (no models)");
        }
        for w in &s.warnings {
            printer.data(&format!("  ! {w}"));
        }
    }
    Ok(Exit::Success)
}

/// `qwen3:8b  context 4096 (trained 40960)  tools  loaded`.
fn describe(m: &backends::ServedModel) -> String {
    let context = match (m.context, m.trained_context) {
        (Some(c), Some(t)) => format!("context {c} (trained {t})"),
        (Some(c), None) => format!("context {c}"),
        (None, Some(t)) => format!("context per request (trained {t})"),
        (None, None) => "context not reported".into(),
    };
    let tools = match m.tools {
        Some(true) => "  tools",
        Some(false) => "  no tools",
        None => "",
    };
    let loaded = match m.loaded {
        Some(true) => "  loaded",
        Some(false) => "  not loaded",
        None => "",
    };
    format!("{:<32} {context}{tools}{loaded}", m.id)
}
