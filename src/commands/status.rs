//! `clawlocal status`: what is installed where, which versions, and whether it runs — a few lines (or `--json`)
//! from the receipt and one `/health` request. `doctor` is the thorough version.

use std::time::Duration;

use crate::documents::{StatusDocument, StatusEngine, StatusModel, StatusOpenclaw, StatusServer, StatusService};

use crate::cli::GlobalArgs;
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::layout;
use crate::output::Printer;
use crate::size::human;

pub fn run(global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let r = match crate::receipt::Install::load(&layout.receipt_file())? {
        Some(crate::receipt::Install::Backend(b)) => return backend(&layout, &b, printer),
        Some(crate::receipt::Install::Engine(r)) => Some(*r),
        None => None,
    };
    let Some(r) = r else {
        let line =
            format!("not installed (no receipt at {}); `clawlocal init` sets it up", layout.receipt_file().display());
        if printer.json {
            let doc = StatusDocument {
                installed: false,
                receipt: layout.receipt_file(),
                complete: None,
                profile: None,
                scope: None,
                model: None,
                engine: None,
                service: None,
                server: None,
                openclaw: None,
            };
            printer.document(&crate::documents::value(&doc));
        } else {
            printer.data(&line);
        }
        return Ok(Exit::Success);
    };
    let url = crate::plan::Endpoint::new(r.port).origin();
    let health = crate::doctor::server::call(&format!("{url}/health"), None, None, Duration::from_secs(2));
    let running = match &health {
        Ok(reply) if reply.status == 200 => "running",
        Ok(reply) if reply.status == 503 => "loading the model",
        Ok(_) => "another program answers on the port",
        Err(_) => "not running",
    };
    let model_present = std::fs::metadata(layout.on_host(&r.model.path)).is_ok_and(|m| m.len() == r.model.size);
    let patched = std::fs::read_to_string(layout.on_host(&r.openclaw_config))
        .ok()
        .and_then(|t| crate::openclaw::patch::parse_json5(&t, "").ok())
        .is_some_and(|v| v.pointer(&format!("/models/providers/{}", crate::openclaw::patch::PROVIDER)).is_some());
    if printer.json {
        let m = &r.model;
        let doc = StatusDocument {
            installed: true,
            receipt: layout.receipt_file(),
            complete: Some(r.complete),
            profile: Some(r.profile.clone()),
            scope: Some(r.scope),
            model: Some(StatusModel {
                id: m.id.clone(),
                spec: m.spec.to_string(),
                path: m.path.clone(),
                size: m.size,
                context: m.context,
                present: model_present,
            }),
            engine: Some(StatusEngine {
                path: r.engine.path.clone(),
                version: r.engine.version.to_string(),
                source: r.engine.source.to_string(),
            }),
            service: Some(StatusService { kind: r.service.as_str(), units: r.units.clone() }),
            server: Some(StatusServer { url: format!("{url}/v1"), state: running, role: r.role.as_str() }),
            openclaw: Some(StatusOpenclaw {
                config: r.openclaw_config.clone(),
                provider_present: patched,
                model_ref: format!("clawlocal/{}", m.id),
            }),
        };
        printer.document(&crate::documents::value(&doc));
    } else {
        let units = if r.units.is_empty() {
            "no unit (`clawlocal serve` runs it)".to_string()
        } else {
            r.units.iter().map(|u| u.display().to_string()).collect::<Vec<_>>().join(", ")
        };
        let mut rows = vec![
            vec![
                "model".into(),
                format!(
                    "{} ({}, {} context){}",
                    r.model.id,
                    human(r.model.size),
                    r.model.context,
                    if model_present { "" } else { " — file missing or changed" }
                ),
            ],
            vec!["engine".into(), format!("llama.cpp {} at {}", r.engine.version, r.engine.path.display())],
            vec!["service".into(), format!("{}: {units}", r.service.as_str())],
            vec!["server".into(), format!("{url}/v1: {running}")],
            vec![
                "openclaw".into(),
                format!(
                    "clawlocal/{} as {} in {}{}",
                    r.model.id,
                    r.role.as_str(),
                    r.openclaw_config.display(),
                    if patched { "" } else { " — provider missing" }
                ),
            ],
            vec![
                "profile".into(),
                format!("{} ({} scope)", r.profile, if r.scope == layout::Scope::User { "user" } else { "system" }),
            ],
        ];
        if !r.complete {
            rows.insert(
                0,
                vec!["init".into(), "stopped before it finished: run the same `clawlocal init` again".into()],
            );
        }
        printer.data(super::table(&rows).trim_end());
    }
    Ok(Exit::Success)
}

/// An `init --backend` setup: the server (one look at it) and OpenClaw's entry for it.
fn backend(layout: &layout::Layout, b: &crate::receipt::BackendReceipt, printer: &Printer) -> Result<Exit> {
    let s = &b.backend;
    let origin = s.url.trim_end_matches("/v1");
    let route = if s.kind == crate::backends::Kind::Ollama { "/api/version" } else { "/v1/models" };
    let answer = crate::doctor::server::call(&format!("{origin}{route}"), None, None, Duration::from_secs(2));
    let state = match answer {
        Ok(r) if r.status == 200 || r.status == 401 => "answering",
        Ok(_) => "answering with errors",
        Err(_) => "not answering",
    };
    let patched = std::fs::read_to_string(layout.on_host(&b.openclaw_config))
        .ok()
        .and_then(|t| crate::openclaw::patch::parse_json5(&t, "").ok())
        .is_some_and(|v| v.pointer(&format!("/models/providers/{}", s.provider)).is_some());
    if printer.json {
        let doc = StatusDocument {
            installed: true,
            receipt: layout.receipt_file(),
            complete: Some(b.complete),
            profile: None,
            scope: Some(b.scope),
            model: None,
            engine: None,
            service: None,
            server: Some(StatusServer { url: s.url.clone(), state, role: b.role.as_str() }),
            openclaw: Some(StatusOpenclaw {
                config: b.openclaw_config.clone(),
                provider_present: patched,
                model_ref: b.model_ref(),
            }),
        };
        printer.document(&crate::documents::value(&doc));
        return Ok(Exit::Success);
    }
    let version = s.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
    let rows = vec![
        vec!["backend".into(), format!("{}{version} at {}: {state}", s.kind.label(), s.url)],
        vec!["model".into(), format!("{} (contextWindow {})", s.model, s.context)],
        vec![
            "openclaw".into(),
            format!(
                "{} as {} in {}{}",
                b.model_ref(),
                b.role.as_str(),
                b.openclaw_config.display(),
                if patched { "" } else { " — provider missing" }
            ),
        ],
    ];
    printer.data(super::table(&rows).trim_end());
    Ok(Exit::Success)
}
