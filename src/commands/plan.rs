//! `clawlocal plan`: the selection, every candidate with its reason, and the actions `init` would take.
//! No side effects.

use crate::catalog::Catalog;
use crate::cli::{GlobalArgs, ModelChoice, PlanArgs, ServiceTarget};
use crate::error::{Error, Exit, Result};
use crate::gguf_model;
use crate::host::Host;
use crate::hub::HubConfig;
use crate::layout;
use crate::output::Printer;
use crate::plan::{self, PlanDocument, Role};
use crate::profile::{self, Profile};
use crate::select::{self, Candidate, Request, Selection};
use crate::size::human;

/// What `plan`, `init` and `render` are asked to decide.
pub struct Ask<'a> {
    pub profile: &'a str,
    pub choice: &'a ModelChoice,
    pub service: Option<ServiceTarget>,
    pub port: Option<u16>,
    pub role: Option<crate::cli::Role>,
}

/// The profile, the selection outcome and the options: everything after this is a function of them.
pub struct Decision {
    pub profile: Profile,
    pub request: Request,
    pub outcome: select::Outcome,
    pub options: plan::Options,
}

impl Decision {
    /// The selection, or the error that says why nothing fits.
    pub fn selection(&self) -> Result<&Selection> {
        self.outcome
            .selection
            .as_ref()
            .ok_or_else(|| nothing_fits(&self.profile, &self.request, &self.outcome.candidates))
    }
}

pub fn decide(
    ask: &Ask<'_>,
    layout: &layout::Layout,
    host: &dyn Host,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<Decision> {
    let mut request = Request::from(ask.choice);
    let from_header;
    let catalog = match request.model.clone() {
        Some(spec) if spec.starts_with("hf:") => {
            from_header = hf_model_catalog(&spec, &mut request, layout, host, global, printer)?;
            &from_header
        }
        _ => Catalog::bundled(),
    };
    let min_context = if ask.choice.below_openclaw_minimum { 1 } else { select::OPENCLAW_MIN_CONTEXT };
    select::check_request(catalog, &request, min_context)?;
    let profile = profile::resolve(ask.profile, host)?;
    request.measured = measured_speed(layout, &profile);
    let outcome = select::select(&profile, catalog, &request);
    let options = plan::Options {
        service: ask.service.map_or(profile.service, Into::into),
        port: ask.port.unwrap_or(profile.port),
        role: ask.role.map_or(if profile.has_accelerator() { Role::Primary } else { Role::Fallback }, Into::into),
    };
    Ok(Decision { profile, request, outcome, options })
}

/// The receipt's `clawlocal bench`, when it was measured on this box for the same device figures as `profile`'s
/// (another profile describes another box; `--root` builds an image for one).
fn measured_speed(layout: &layout::Layout, profile: &profile::Profile) -> Option<select::MeasuredSpeed> {
    if layout.root.is_some() {
        return None;
    }
    let Ok(Some(crate::receipt::Install::Engine(r))) = crate::receipt::Install::load(&layout.receipt_file()) else {
        return None;
    };
    let bench = r.bench.as_ref().filter(|_| r.hardware.device() == profile.device())?;
    Some(select::MeasuredSpeed {
        model_id: bench.model.clone(),
        generation_tps: bench.generation_tokens_per_second,
        prefill_16k_seconds: bench.prefill_16k_seconds,
    })
}

pub fn run(args: &PlanArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout =
        layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), args.openclaw_config.as_deref())?;
    let ask =
        Ask { profile: &args.profile, choice: &args.choice, service: args.service, port: args.port, role: args.role };
    let Decision { profile, request, outcome, options } = decide(&ask, &layout, host, global, printer)?;
    let actions = outcome.selection.as_ref().map(|s| plan::actions(s, &profile, &layout, options)).unwrap_or_default();
    let failure = outcome.selection.is_none().then(|| nothing_fits(&profile, &request, &outcome.candidates));
    let doc = PlanDocument {
        ok: failure.is_none(),
        profile: super::profiles::profile_json(&profile),
        budget: outcome.budget,
        selection: outcome.selection,
        candidates: outcome.candidates,
        actions,
        warnings: outcome.warnings,
        error: failure.as_ref().map(|e| e.message.clone()),
    };
    if printer.json {
        printer.document(&serde_json::to_value(&doc).expect("plan serialises"));
        if let Some(err) = &failure {
            printer.note(&format!("error: {}", err.message));
        }
        return Ok(if failure.is_some() { Exit::Failure } else { Exit::Success });
    }
    printer.data(&render(&profile, &doc, printer.verbose, options));
    for w in &doc.warnings {
        printer.warn(w);
    }
    match failure {
        Some(err) => Err(err),
        None => Ok(Exit::Success),
    }
}

/// An `hf:` model judged from its real GGUF header (read by Range, nothing downloaded): a one-model catalog, and
/// the request pointed at it with the file's own quant.
fn hf_model_catalog(
    spec: &str,
    request: &mut Request,
    layout: &layout::Layout,
    host: &dyn Host,
    global: &GlobalArgs,
    printer: &Printer,
) -> Result<Catalog> {
    let want = crate::hub::pull::wanted(spec, request.quant.as_deref())?;
    let (resolution, header) =
        crate::hub::pull::inspect(&want, layout, HubConfig::from_env(host, global.offline), printer)?;
    let model = gguf_model::from_header(&header, spec, &want.hub.repo, &resolution)?;
    request.model = Some(model.id.clone());
    request.quant = model.quants.keys().next().cloned();
    Ok(Catalog { version: 1, models: vec![model] })
}

fn nothing_fits(profile: &Profile, request: &Request, candidates: &[Candidate]) -> Error {
    let what = request
        .model
        .as_deref()
        .map_or_else(|| "no model in the catalog fits".to_string(), |m| format!("model {m} does not fit"));
    let closest = candidates
        .iter()
        .min_by_key(|c| c.estimate.total_bytes)
        .map(|c| format!(" (closest: {} {}: {})", c.model, c.quant, c.reason));
    Error::failure(format!("{what} profile {}{}", profile.name, closest.unwrap_or_default()))
        .with_hint("try --quant Q4_K_M, a smaller --context, a smaller --model, or a profile with more memory")
}

fn render(profile: &Profile, doc: &PlanDocument, verbose: bool, options: plan::Options) -> String {
    let mut out = String::new();
    let b = &doc.budget;
    out.push_str(&format!("Profile   {} — {}\n", profile.name, profile.description));
    out.push_str(&format!("Budget    {} for the model ({}: {})\n", human(b.bytes), b.kind, b.explanation));
    if let Some(s) = &doc.selection {
        let e = &s.estimate;
        out.push_str(&format!(
            "\nSelected  {} {} at context {} (OpenClaw model id `{}`, as {})\n",
            s.model,
            s.quant,
            s.context,
            s.model_id,
            options.role.as_str()
        ));
        out.push_str(&format!(
            "          {} · {}{} · {}{}\n",
            s.repo,
            s.file,
            if s.files.len() > 1 { format!(" (+{} shards)", s.files.len() - 1) } else { String::new() },
            human(s.download_bytes),
            if e.weights_source == "hub" { "" } else { " (estimated)" },
        ));
        let cache = if e.prompt_cache_bytes > 0 {
            format!(" + prompt cache {}", human(e.prompt_cache_bytes))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "Memory    {} of {}: weights {} + KV cache {} ({}) + compute {} + overhead {}{cache}\n",
            human(e.total_bytes),
            human(s.budget_bytes),
            human(e.weights_bytes),
            human(e.kv_bytes),
            e.kv_cache_type.as_str(),
            human(e.compute_bytes),
            human(e.overhead_bytes),
        ));
        out.push_str(&format!(
            "Speed     ~{:.1} tokens/s generating, ~{} to read a {}-token prompt ({})\n",
            s.speed.generation_tps,
            duration(s.speed.prefill_seconds),
            s.speed.prompt_tokens,
            if s.speed_measured { "measured on this box by `clawlocal bench`" } else { "estimates" },
        ));
        out.push_str(&format!(
            "Model     {} · {} · tools: {}\n",
            s.name,
            s.license,
            if s.tools { "yes" } else { "no" }
        ));
    }
    out.push_str("\nCandidates");
    out.push_str(if verbose { " (every quant)\n" } else { " (best quant of each model; -v for all)\n" });
    let mut rows = vec![vec![
        "".into(),
        "MODEL".into(),
        "QUANT".into(),
        "CONTEXT".into(),
        "NEEDS".into(),
        "TOK/S".into(),
        "REASON".into(),
    ]];
    let shown: Vec<&Candidate> =
        if verbose { doc.candidates.iter().collect() } else { select::best_per_model(&doc.candidates) };
    for c in shown {
        let mark = if c.selected {
            "*"
        } else if c.fits {
            "+"
        } else {
            "-"
        };
        rows.push(vec![
            mark.into(),
            c.model.clone(),
            c.quant.clone(),
            c.context.to_string(),
            human(c.estimate.total_bytes),
            format!("{:.1}", c.speed.generation_tps),
            c.reason.clone(),
        ]);
    }
    out.push_str(&super::table(&rows));
    out.push_str("  (* selected, + fits, - does not fit)\n");
    if !doc.actions.is_empty() {
        out.push_str("\n`clawlocal init` would:\n");
        for (i, a) in doc.actions.iter().enumerate() {
            out.push_str(&format!("  {}. {:<16} {}\n", i + 1, a.kind, a.description));
            if let Some(p) = &a.path {
                out.push_str(&format!("     {:<16} {}\n", "", p.display()));
            }
        }
    }
    out
}

fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        "<1 s".into()
    } else if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}
