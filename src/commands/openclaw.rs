//! `clawlocal openclaw patch|unpatch`: the OpenClaw step of init and uninstall, by hand.

use crate::cli::{GlobalArgs, OpenclawCommand, PatchArgs};
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::layout::{self, Layout};
use crate::openclaw::file::{self, Options, Outcome};
use crate::openclaw::patch::{Fields, PatchSpec};
use crate::openclaw::{read_key, records_path};
use crate::output::Printer;

/// OpenClaw refuses smaller windows (`CONTEXT_WINDOW_HARD_MIN_TOKENS`).
pub const MIN_CONTEXT: u32 = 16_000;
/// What goes into `apiKey` when llama-server runs without a key: a non-marker dummy, which every OpenClaw
/// version sends as a Bearer token and llama-server ignores (an ALL-CAPS value would be read as an env var name).
pub const NO_KEY: &str = "clawlocal-no-key";

pub fn run(cmd: &OpenclawCommand, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let config = match cmd {
        OpenclawCommand::Patch(args) => args.config.as_deref(),
        OpenclawCommand::Unpatch { config, .. } => config.as_deref(),
    };
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), config)?;
    let records = records_path(&layout);
    let outcome = match cmd {
        OpenclawCommand::Patch(args) => {
            let (spec, warnings) = spec(args, &layout, host)?;
            for w in &warnings {
                printer.warn(w);
            }
            file::patch_file(
                host,
                &layout.openclaw_config,
                spec,
                &Options { records: &records, dry_run: args.dry_run },
            )?
        }
        OpenclawCommand::Unpatch { dry_run, .. } => {
            file::unpatch_file(host, &layout.openclaw_config, &Options { records: &records, dry_run: *dry_run })?
        }
    };
    report(&outcome, printer);
    Ok(Exit::Success)
}

/// What to write, and what the server's answers warned of.
fn spec(args: &PatchArgs, layout: &Layout, host: &dyn Host) -> Result<(PatchSpec, Vec<String>)> {
    if let Some(kind) = args.backend {
        return server_spec(kind, args, host);
    }
    let url = args.base_url.as_deref().unwrap_or_default().trim_end_matches('/');
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err(Error::usage(format!("--base-url {url:?} is not an http(s) URL"))
            .with_hint("pass llama-server's endpoint, e.g. --base-url http://127.0.0.1:8765/v1"));
    }
    if !url.ends_with("/v1") {
        return Err(Error::usage(format!("--base-url {url} does not end in /v1"))
            .with_hint("OpenClaw's openai-completions API appends /chat/completions to the base URL: use …/v1"));
    }
    let model_id = args.model_id.clone().unwrap_or_default();
    let context_window = args.context_window.unwrap_or_default();
    if context_window < MIN_CONTEXT {
        return Err(Error::usage(format!(
            "--context-window {context_window} is below OpenClaw's minimum of {MIN_CONTEXT} tokens"
        ))
        .with_hint("run llama-server with a larger -c (clawlocal plan picks one that fits) and pass that"));
    }
    let api_key = match args.api_key_file.clone().or_else(|| Some(layout.api_key_file()).filter(|p| p.exists())) {
        Some(path) => read_key(&path)?,
        None => NO_KEY.to_string(),
    };
    Ok((finish(args, url.to_string(), api_key, model_id, context_window, None)?, Vec::new()))
}

/// `--backend K`: the server asked what it serves, the model chosen, and the context contract kept (never above
/// what it serves, never below OpenClaw's minimum) before anything is written.
fn server_spec(kind: crate::backends::Kind, args: &PatchArgs, host: &dyn Host) -> Result<(PatchSpec, Vec<String>)> {
    use crate::backends;
    let given = args.base_url.clone().or_else(|| backends::default_address(host, kind));
    let Some(url) = given else {
        return Err(Error::usage(format!("--backend {kind} has no default address: pass --base-url")));
    };
    let key = args.api_key_file.as_deref().map(read_key).transpose()?;
    let cmdline = |port: u16| backends::local_cmdline(host, port);
    let served = backends::probe::probe(kind, &url, key.as_deref(), &cmdline)?;
    let model = backends::choose_model(&served, args.model_id.as_deref())?;
    let window = backends::contract(kind, model, args.context_window)?;
    let api_key = key.unwrap_or_else(|| backends::key_marker(kind).to_string());
    let mut spec = finish(args, served.url.clone(), api_key, model.id.clone(), window, Some(kind))?;
    // OpenClaw trusts loopback; a server elsewhere on the LAN needs the private-network opt-in.
    spec.fields.allow_private_network = !backends::is_loopback(&served.url);
    Ok((spec, served.warnings))
}

fn finish(
    args: &PatchArgs,
    base_url: String,
    api_key: String,
    model_id: String,
    context_window: u32,
    server: Option<crate::backends::Kind>,
) -> Result<PatchSpec> {
    if model_id.trim().is_empty() || model_id.chars().any(char::is_control) {
        return Err(Error::usage("--model-id must be a non-empty name without control characters"));
    }
    let max_tokens = args.max_tokens.unwrap_or_else(|| 4096.min(context_window / 4));
    if max_tokens == 0 || max_tokens >= context_window {
        return Err(Error::usage(format!("--max-tokens {max_tokens} must be between 1 and the context window")));
    }
    if let Some(var) = args.api_key_env.as_deref().filter(|v| {
        !(v.starts_with(|c: char| c.is_ascii_uppercase())
            && v.len() <= 128
            && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
    }) {
        return Err(Error::usage(format!(
            "--api-key-env {var:?} is not an environment variable name OpenClaw reads (A-Z, 0-9, _)"
        )));
    }
    // OpenClaw trusts loopback only: a LAN host or a cluster Service needs the private-network opt-in.
    let fields = Fields { allow_private_network: !crate::backends::is_loopback(&base_url), ..Fields::BASELINE };
    Ok(PatchSpec {
        base_url,
        api_key,
        model_name: args.model_name.clone().unwrap_or_else(|| format!("{model_id} (local)")),
        model_id,
        context_window,
        max_tokens,
        role: args.role.map_or(crate::plan::Role::Fallback, Into::into),
        fields,
        gateway_mode: args.gateway_mode.clone(),
        server,
        api_key_env: args.api_key_env.clone(),
    })
}

fn report(outcome: &Outcome, printer: &Printer) {
    for w in &outcome.warnings {
        printer.warn(w);
    }
    if printer.json {
        printer.document(&serde_json::to_value(outcome).expect("the outcome serialises"));
        return;
    }
    if let Some(diff) = &outcome.diff {
        printer.data(if diff.is_empty() { "no change\n" } else { diff });
        return;
    }
    let mut line = format!("{} {}", outcome.status, outcome.file.display());
    if let Some(b) = &outcome.backup {
        line.push_str(&format!(" (backup: {})", b.display()));
    }
    printer.data(&line);
    if outcome.validated_by_openclaw {
        printer.detail("openclaw config validate accepted the result before it was written");
    }
}
