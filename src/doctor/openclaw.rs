//! Checks of OpenClaw's side: the config OpenClaw reads, clawlocal's provider and model entries in it, the
//! agent settings that decide whether they are used, stale per-agent catalogs, the CLI's own verdict and the
//! gateway.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Config, Outcome, Probe, Repair};
use crate::openclaw::file::{Verdict, cli_validate};
use crate::openclaw::patch::{self, PROVIDER, Section};
use crate::select::OPENCLAW_MIN_CONTEXT;

const REPATCH: &str = "`clawlocal doctor --fix` patches openclaw.json again (backed up first, comments kept)";

/// The config clawlocal patched (the receipt's), else the one OpenClaw would read.
fn config_path(p: &Probe) -> PathBuf {
    let recorded = p.receipt.as_ref().map(|r| &r.openclaw_config).or(p.backend.as_ref().map(|b| &b.openclaw_config));
    recorded.map_or_else(|| p.layout.openclaw_config.clone(), |c| p.layout.on_host(c))
}

/// The provider id, model id and role of what is installed (`clawlocal`, or a backend's provider).
fn ours(p: &Probe) -> (String, String, crate::plan::Role) {
    match (&p.receipt, &p.backend) {
        (Some(r), _) => (PROVIDER.to_string(), r.model.id.clone(), r.role),
        (None, Some(b)) => (b.backend.provider.clone(), b.backend.model.clone(), b.role),
        (None, None) => (PROVIDER.to_string(), "<id>".to_string(), crate::plan::Role::Fallback),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// Read and parse the config once; later calls return the same outcome.
pub fn config(p: &mut Probe) -> Outcome {
    if let Some(done) = &p.config_outcome {
        return done.clone();
    }
    let out = read_config(p);
    p.config_outcome = Some(out.clone());
    out
}

fn read_config(p: &mut Probe) -> Outcome {
    let path = config_path(p);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let missing = format!("{}: no such file", path.display());
            return match p.receipt {
                Some(_) => Outcome::fail(missing, REPATCH).with_repair(Repair::Repatch),
                None => Outcome::fail(missing, format!("`{}` creates it", p.clawlocal("init --profile auto"))),
            };
        }
        Err(e) => {
            return Outcome::fail(
                format!("cannot read {}: {e}", path.display()),
                format!("check the permissions of {}", path.display()),
            );
        }
    };
    let origin = path.display().to_string();
    let mut value = match patch::parse_json5(&text, &origin) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::fail(
                e.message,
                "fix the syntax at that line and column (OpenClaw refuses to start with it; clawlocal never writes a file that does not parse)",
            );
        }
    };
    let mut include_text = None;
    match patch::models_include(&text, &origin) {
        Ok(Some(include)) => {
            let file = crate::fsutil::parent(&path).join(&include);
            let inc = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display())).and_then(|t| {
                patch::parse_json5(&t, &file.display().to_string()).map(|v| (t, v)).map_err(|e| e.message)
            });
            match inc {
                Ok((t, v)) => {
                    value["models"] = v;
                    include_text = Some(t);
                }
                Err(e) => {
                    return Outcome::fail(
                        format!("the models include of {}: {e}", path.display()),
                        "fix the included file",
                    );
                }
            }
        }
        Ok(None) => {}
        Err(e) => return Outcome::warn(e.message),
    }
    let mut detail = format!("{} ({} bytes)", path.display(), text.len());
    let openclaw_reads = &p.layout.openclaw_config;
    let out = if !same_file(&path, openclaw_reads) {
        detail.push_str(&format!(
            "; but OpenClaw, with this environment, reads {}: OPENCLAW_CONFIG_PATH / OPENCLAW_STATE_DIR / OPENCLAW_PROFILE differ from when clawlocal patched it",
            openclaw_reads.display()
        ));
        Outcome::warn(detail).with_fix(format!("run OpenClaw with OPENCLAW_CONFIG_PATH={}", path.display()))
    } else {
        Outcome::pass(detail)
    };
    p.config = Some(Config { path, text, value, include_text });
    out
}

fn cfg<'p>(p: &'p Probe) -> &'p Config {
    p.config.as_ref().expect("runs after openclaw.config")
}

fn provider<'p>(p: &'p Probe) -> Option<&'p Value> {
    cfg(p).value.pointer(&format!("/models/providers/{PROVIDER}"))
}

pub fn schema(p: &mut Probe) -> Outcome {
    let c = cfg(p);
    match crate::openclaw::schema::check(&c.value, Section::Whole, &c.path.display().to_string()) {
        Ok(()) => Outcome::pass(
            "models.providers.clawlocal, models.mode and agents.defaults.model(s) match the bundled schema",
        ),
        Err(e) => Outcome::fail(e.message, REPATCH).with_repair(Repair::Repatch),
    }
}

/// Where the last "valid" verdict of the OpenClaw CLI is kept, keyed by what it judged.
fn verdict_cache(p: &Probe) -> PathBuf {
    p.layout.state_dir.join("doctor-cache.json")
}

pub fn cli(p: &mut Probe) -> Outcome {
    let Some((program, version)) = p.openclaw_cli() else {
        return Outcome::skip("the OpenClaw CLI is not installed here (`openclaw` on PATH, or CLAWLOCAL_OPENCLAW)");
    };
    let c = cfg(p).clone();
    let mut hasher = Sha256::new();
    hasher.update(version.as_bytes());
    hasher.update([0]);
    hasher.update(c.text.as_bytes());
    hasher.update([0]);
    hasher.update(c.include_text.as_deref().unwrap_or("").as_bytes());
    let key = crate::hub::download::hex(&hasher.finalize());
    let cache = verdict_cache(p);
    let cached = std::fs::read_to_string(&cache)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|v| v["config_validate_ok"].as_str() == Some(key.as_str()));
    if cached && !p.opts.deep {
        return Outcome::pass(format!(
            "{version} accepted these exact bytes before (remembered in {}; --deep asks again)",
            cache.display()
        ));
    }
    match cli_validate(p.host, &program, &c.path) {
        Ok(Verdict::Valid) => {
            // Only a "valid" verdict is remembered: a failure is always shown fresh.
            let doc = json!({"config_validate_ok": key});
            let _ = crate::fsutil::write_atomic_as(&cache, format!("{doc}\n").as_bytes(), Some(0o600), None);
            Outcome::pass(format!("{version}: `openclaw config validate` says valid"))
        }
        Ok(Verdict::Invalid(issues)) => Outcome::fail(
            format!("{version} rejects {}: {}", c.path.display(), issues.join("; ")),
            "fix the keys named (the gateway will not start with them); `openclaw doctor --fix` drops unknown keys",
        ),
        Err(e) => Outcome::warn(format!("`{program} config validate` gave no verdict: {}", e.message)),
    }
}

pub fn provider_check(p: &mut Probe) -> Outcome {
    let Some(prov) = provider(p) else {
        let out = Outcome::fail(format!("{} has no models.providers.{PROVIDER}", cfg(p).path.display()), REPATCH);
        return if p.receipt.is_some() { out.with_repair(Repair::Repatch) } else { out };
    };
    let mut problems = Vec::new();
    if prov["api"].as_str() != Some("openai-completions") {
        problems.push(format!(
            "api is {} (llama-server needs \"openai-completions\", and OpenClaw's local auth needs it written)",
            prov["api"]
        ));
    }
    match prov["baseUrl"].as_str() {
        Some(u) if u.trim_end_matches('/').ends_with("/v1") => {}
        other => problems.push(format!("baseUrl {other:?} does not end in /v1")),
    }
    if prov["models"].as_array().is_none_or(Vec::is_empty) {
        problems.push("models is empty".into());
    }
    if !problems.is_empty() {
        return Outcome::fail(format!("models.providers.{PROVIDER}: {}", problems.join("; ")), REPATCH)
            .with_repair(Repair::Repatch);
    }
    Outcome::pass(format!("api openai-completions, baseUrl {}", prov["baseUrl"].as_str().unwrap_or("")))
}

/// `${VAR}` → the variable; anything else as written.
fn resolve_env(p: &Probe, s: &str) -> Option<String> {
    match s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(var) => p.host.env_nonempty(var),
        None => Some(s.to_string()),
    }
}

pub fn base_url(p: &mut Probe) -> Outcome {
    let port = p.r().port;
    let raw = provider(p).and_then(|v| v["baseUrl"].as_str()).unwrap_or("").to_string();
    let Some(url) = resolve_env(p, &raw) else {
        return Outcome::fail(format!("baseUrl {raw} names an unset variable"), format!("export it, or {REPATCH}"));
    };
    let want = crate::plan::base_url(port);
    let authority = url.strip_prefix("http://").and_then(|r| r.split('/').next()).unwrap_or("");
    let (host, url_port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (authority, None),
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    if !loopback {
        return Outcome::fail(format!("baseUrl {url} is not the local engine at {want}"), REPATCH)
            .with_repair(Repair::Repatch);
    }
    if url_port != Some(port) {
        return Outcome::fail(
            format!(
                "baseUrl {url} uses port {}, but the engine listens on {port}: OpenClaw's requests go nowhere",
                url_port.map_or("80".into(), |p| p.to_string())
            ),
            format!("{REPATCH}; by hand: baseUrl \"{want}\""),
        )
        .with_repair(Repair::Repatch);
    }
    Outcome::pass(format!("{url} → the engine's port {port}"))
}

pub fn api_key(p: &mut Probe) -> Outcome {
    let Some(key) = p.key() else {
        return Outcome::skip(format!(
            "the key file {} is unreadable (see security.key-file)",
            p.r().api_key_file.display()
        ));
    };
    let written = provider(p).map(|v| v["apiKey"].clone()).unwrap_or(Value::Null);
    let configured = match &written {
        Value::String(s) => resolve_env(p, s.as_str()),
        Value::Object(o) if o.get("source").and_then(Value::as_str) == Some("env") => {
            o.get("id").and_then(Value::as_str).and_then(|v| p.host.env_nonempty(v))
        }
        Value::Object(o) if o.get("source").and_then(Value::as_str) == Some("file") => o
            .get("id")
            .and_then(Value::as_str)
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|t| t.trim().to_string()),
        Value::Null => None,
        other => {
            return Outcome::warn(format!("apiKey is a {} secret clawlocal cannot read to compare", other["source"]));
        }
    };
    let file = p.r().api_key_file.display().to_string();
    match configured {
        Some(k) if k == key => Outcome::pass(format!("apiKey matches {file}")),
        Some(_) => Outcome::fail(
            format!("apiKey in openclaw.json is not the key in {file}: the engine answers OpenClaw with 401"),
            REPATCH,
        )
        .with_repair(Repair::Repatch),
        None => Outcome::fail(
            format!("apiKey is {} (unset or an unset variable): the engine requires the key in {file}", written),
            REPATCH,
        )
        .with_repair(Repair::Repatch),
    }
}

pub fn model(p: &mut Probe) -> Outcome {
    let alias = p.r().model.id.clone();
    let planned = p.r().model.context;
    let entry = provider(p)
        .and_then(|v| v["models"].as_array())
        .and_then(|a| a.iter().find(|m| m["id"].as_str() == Some(alias.as_str())))
        .cloned();
    let Some(entry) = entry else {
        let ids: Vec<&str> = provider(p)
            .and_then(|v| v["models"].as_array())
            .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
            .unwrap_or_default();
        return Outcome::fail(
            format!("provider {PROVIDER} declares {ids:?}, not `{alias}`, the id the engine serves (--alias)"),
            REPATCH,
        )
        .with_repair(Repair::Repatch);
    };
    let Some(window) = entry["contextWindow"].as_u64() else {
        return Outcome::fail(
            format!("model `{alias}` has no contextWindow: OpenClaw then assumes a window the engine does not have"),
            REPATCH,
        )
        .with_repair(Repair::Repatch);
    };
    if window < u64::from(OPENCLAW_MIN_CONTEXT) {
        return Outcome::fail(
            format!("contextWindow {window} is below {OPENCLAW_MIN_CONTEXT}: OpenClaw refuses to run the model"),
            REPATCH,
        )
        .with_repair(Repair::Repatch);
    }
    if window > u64::from(planned) {
        return Outcome::fail(
            format!(
                "contextWindow {window} is more than the engine's context {planned}: long prompts will be rejected"
            ),
            REPATCH,
        )
        .with_repair(Repair::Repatch);
    }
    Outcome::pass(format!("`{alias}`, contextWindow {window}, maxTokens {}", entry["maxTokens"]))
}

/// `agents.defaults.model` as (primary, fallbacks).
fn model_setting(v: &Value) -> (Option<String>, Vec<String>) {
    match v {
        Value::String(s) => (Some(s.clone()), Vec::new()),
        Value::Object(o) => (
            o.get("primary").and_then(Value::as_str).map(str::to_string),
            o.get("fallbacks")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
        ),
        _ => (None, Vec::new()),
    }
}

pub fn model_ref(p: &mut Probe) -> Outcome {
    let (provider_id, model_id, role) = ours(p);
    let model_ref = format!("{provider_id}/{model_id}");
    let value = &cfg(p).value;
    let defaults = value.pointer("/agents/defaults").cloned().unwrap_or(Value::Null);
    let (primary, fallbacks) = model_setting(&defaults["model"]);
    let declared: Vec<String> = value
        .pointer(&format!("/models/providers/{provider_id}/models"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|m| m["id"].as_str()).map(|id| format!("{provider_id}/{id}")).collect())
        .unwrap_or_default();
    let dangling: Vec<&String> = primary
        .iter()
        .chain(&fallbacks)
        .filter(|r| r.starts_with(&format!("{provider_id}/")) && !declared.contains(r))
        .collect();
    // Only clawlocal's own provider is known to hold clawlocal's models alone (Ollama's may list others too).
    if !dangling.is_empty() && provider_id == PROVIDER {
        return Outcome::fail(
            format!(
                "agents.defaults.model names {dangling:?}, which provider {provider_id} does not declare (left from an older model?)"
            ),
            format!("replace them with {model_ref} in agents.defaults.model, or run `clawlocal init` again"),
        );
    }
    if let Some(allow) = defaults.pointer("/modelPolicy/allow").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        let allowed = allow.iter().filter_map(Value::as_str).any(|a| a == model_ref || a == format!("{provider_id}/*"));
        if !allowed {
            return Outcome::fail(format!("agents.defaults.modelPolicy.allow does not allow {model_ref}"), REPATCH)
                .with_repair(Repair::Repatch);
        }
    }
    let used = primary.as_deref() == Some(model_ref.as_str()) || fallbacks.contains(&model_ref);
    if !used {
        return Outcome::warn(format!(
            "agents use {} (fallbacks {fallbacks:?}); {model_ref} is neither primary nor a fallback, so OpenClaw never calls it",
            primary.as_deref().unwrap_or("nothing")
        ))
        .with_fix(REPATCH)
        .with_repair(Repair::Repatch);
    }
    let listed = defaults["models"].as_object().is_none_or(|m| m.is_empty() || m.contains_key(&model_ref));
    if !listed {
        return Outcome::warn(format!(
            "agents.defaults.models lists other models but not {model_ref}: older OpenClaw versions treat that list as an allowlist"
        ))
        .with_fix(REPATCH)
        .with_repair(Repair::Repatch);
    }
    let as_what = if primary.as_deref() == Some(model_ref.as_str()) { "the primary model" } else { "a fallback" };
    let note = match (role, as_what) {
        (crate::plan::Role::Fallback, "the primary model") => " (init's role was fallback: there was no other primary)",
        _ => "",
    };
    Outcome::pass(format!("{model_ref} is {as_what}{note}"))
}

pub fn models_mode(p: &mut Probe) -> Outcome {
    match cfg(p).value.pointer("/models/mode").and_then(Value::as_str) {
        Some("replace") => Outcome::warn(
            "models.mode is \"replace\": OpenClaw shows only the providers in openclaw.json and hides its hosted catalog",
        )
        .with_fix("set models.mode to \"merge\" if you want hosted models as well (clawlocal never changes it)"),
        Some(mode) => Outcome::pass(format!("models.mode {mode}")),
        None => Outcome::pass("models.mode unset (merge)"),
    }
}

/// The default agent and its own `model`, from `agents.entries` (keyed) or `agents.list` (older).
fn default_agent(value: &Value) -> Option<(String, Value)> {
    let agents = value.get("agents")?;
    let entries: Vec<(String, Value)> = match (agents.get("entries"), agents.get("list")) {
        (Some(Value::Object(map)), _) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        (_, Some(Value::Array(list))) => {
            list.iter().map(|v| (v["id"].as_str().unwrap_or("").to_string(), v.clone())).collect()
        }
        _ => return None,
    };
    entries
        .iter()
        .find(|(_, v)| v["default"] == true)
        .or_else(|| entries.iter().find(|(id, _)| id == "main"))
        .or_else(|| entries.first())
        .cloned()
}

pub fn agent_model(p: &mut Probe) -> Outcome {
    let (provider_id, model_id, _) = ours(p);
    let Some((id, agent)) = default_agent(&cfg(p).value) else {
        return Outcome::pass("no agent roster: every agent uses agents.defaults");
    };
    match agent.get("model") {
        None => Outcome::pass(format!("the default agent `{id}` uses agents.defaults.model")),
        Some(m) => {
            let (primary, fallbacks) = model_setting(m);
            if primary.iter().chain(&fallbacks).any(|r| r.starts_with(&format!("{provider_id}/"))) {
                return Outcome::pass(format!(
                    "the default agent `{id}` sets its own model, which includes {provider_id}"
                ));
            }
            Outcome::warn(format!(
                "the default agent `{id}` sets its own model ({}): it ignores agents.defaults.model, where clawlocal put the local model",
                m
            ))
            .with_fix(format!("remove `model` from agent `{id}`, or add {provider_id}/{model_id} to it"))
        }
    }
}

/// OpenClaw's state dir: OPENCLAW_STATE_DIR, else the folder holding openclaw.json.
fn state_dir(p: &Probe) -> PathBuf {
    p.host
        .env_nonempty("OPENCLAW_STATE_DIR")
        .map_or_else(|| crate::fsutil::parent(&cfg(p).path).to_path_buf(), PathBuf::from)
}

pub fn agent_models_json(p: &mut Probe) -> Outcome {
    let want = provider(p).and_then(|v| v["baseUrl"].as_str()).unwrap_or("").to_string();
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(dir) = p.host.env_nonempty("OPENCLAW_AGENT_DIR") {
        files.push(PathBuf::from(dir).join("models.json"));
    }
    let agents = state_dir(p).join("agents");
    for name in p.host.read_dir_names(&agents).unwrap_or_default() {
        files.push(agents.join(name).join("agent/models.json"));
    }
    let mut stale = Vec::new();
    let mut seen = 0;
    for file in files.iter().filter(|f| f.is_file()) {
        seen += 1;
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        let Ok(doc) = patch::parse_json5(&text, &file.display().to_string()) else { continue };
        let url = doc.pointer(&format!("/providers/{PROVIDER}/baseUrl")).and_then(Value::as_str);
        if let Some(url) = url
            && url != want
        {
            stale.push((file.display().to_string(), url.to_string()));
        }
    }
    if !stale.is_empty() {
        let found: Vec<String> = stale.iter().map(|(f, url)| format!("{f} has baseUrl {url}")).collect();
        let rm: Vec<&str> = stale.iter().map(|(f, _)| f.as_str()).collect();
        return Outcome::fail(
            format!("{}; OpenClaw prefers it over openclaw.json's {want}", found.join("; ")),
            format!("rm {} (OpenClaw regenerates it from openclaw.json)", rm.join(" ")),
        );
    }
    Outcome::pass(format!("{seen} per-agent models.json checked; none overrides {PROVIDER}'s baseUrl"))
}

pub fn models_list(p: &mut Probe) -> Outcome {
    let model_ref = format!("{PROVIDER}/{}", p.r().model.id);
    if !p.opts.deep {
        return Outcome::skip(format!("`clawlocal doctor --deep` asks `openclaw models list` for {model_ref}"));
    }
    let Some((program, _)) = p.openclaw_cli() else { return Outcome::skip("the OpenClaw CLI is not installed here") };
    let path = cfg(p).path.to_string_lossy().into_owned();
    let out = p.host.run_env(
        &program,
        &["models", "list", "--json", "--provider", PROVIDER],
        &[("OPENCLAW_CONFIG_PATH", &path)],
        Duration::from_secs(120),
    );
    let Some(out) = out else { return Outcome::warn(format!("`{program} models list` did not finish")) };
    let doc = serde_json::from_str::<Value>(out.stdout.trim()).unwrap_or(Value::Null);
    let Some(rows) = doc["models"].as_array() else {
        // The CLI could not list (e.g. it wants gateway credentials): that says nothing about the config.
        let why = doc["error"]["message"].as_str().unwrap_or_else(|| out.stderr.lines().last().unwrap_or(""));
        return Outcome::warn(format!("`{program} models list` did not list models: {why}"));
    };
    match rows.iter().find(|m| m["key"].as_str() == Some(model_ref.as_str())) {
        Some(r) if r["missing"] != true && r["available"] != false => {
            Outcome::pass(format!("`openclaw models list` shows {model_ref} (contextWindow {})", r["contextWindow"]))
        }
        Some(r) => Outcome::fail(format!("`openclaw models list` shows {model_ref} as unusable: {r}"), REPATCH)
            .with_repair(Repair::Repatch),
        None => Outcome::fail(format!("`openclaw models list` does not show {model_ref}"), REPATCH)
            .with_repair(Repair::Repatch),
    }
}

pub fn gateway(p: &mut Probe) -> Outcome {
    let value = &cfg(p).value;
    let port = p
        .host
        .env_nonempty("OPENCLAW_GATEWAY_PORT")
        .and_then(|v| v.rsplit(':').next().and_then(|n| n.parse::<u16>().ok()))
        .or_else(|| value.pointer("/gateway/port").and_then(Value::as_u64).and_then(|n| u16::try_from(n).ok()))
        .unwrap_or(18_789);
    let url = format!("http://127.0.0.1:{port}/healthz");
    match super::server::call(&url, None, None, Duration::from_secs(2)) {
        Ok(r) if r.status == 200 => {
            if value.pointer("/gateway/reload/mode").and_then(Value::as_str) == Some("off") {
                return Outcome::warn(format!("the gateway runs on port {port} with gateway.reload.mode off: it has not seen clawlocal's edit"))
                    .with_fix("openclaw gateway restart");
            }
            Outcome::pass(format!("the gateway answers on port {port}; it reloads models and agents edits by itself"))
        }
        Ok(r) => Outcome::warn(format!("{url}: HTTP {}", r.status)).with_fix("openclaw gateway restart"),
        Err(_) => Outcome::warn(format!(
            "no OpenClaw gateway answers on 127.0.0.1:{port}: chat apps reach OpenClaw through it (`openclaw infer model run --local` works without it)"
        ))
        .with_fix("openclaw gateway start (or `openclaw gateway install` once)"),
    }
}

/// clawlocal's patch records (what `unpatch` and `uninstall` take out): readable, of this version.
pub fn records(p: &mut Probe) -> Outcome {
    let path = crate::openclaw::records_path(p.layout);
    match crate::openclaw::file::check_records(&path) {
        Ok(0) => Outcome::pass(format!("no patch recorded in {}", path.display())),
        Ok(n) => Outcome::pass(format!("{n} patch record(s) in {}", path.display())),
        Err(e) => Outcome::fail(
            e.message,
            format!(
                "`clawlocal uninstall` (or `clawlocal openclaw unpatch`) then takes clawlocal's parts out by their names; or restore {} from a backup",
                path.display()
            ),
        ),
    }
}

pub fn config_file_mode(p: &mut Probe) -> Outcome {
    let path = cfg(p).path.clone();
    let Ok(meta) = std::fs::metadata(&path) else { return Outcome::skip(format!("cannot stat {}", path.display())) };
    let mode = meta.permissions().mode() & 0o777;
    // clawlocal's provider (or Ollama's it wrote) with a usable key inline, readable by others: a leak.
    let inline_key = ["clawlocal", "ollama"].iter().find_map(|id| {
        cfg(p)
            .value
            .pointer(&format!("/models/providers/{id}/apiKey"))
            .and_then(Value::as_str)
            .filter(|k| !crate::backends::is_key_marker(k))
    });
    if mode & 0o077 != 0 && inline_key.is_some() {
        return Outcome::fail(
            format!(
                "{} has mode {mode:o} and holds the engine's API key inline: other users can read it",
                path.display()
            ),
            format!("chmod 600 {}", path.display()),
        );
    }
    if mode & 0o077 != 0 {
        return Outcome::warn(format!(
            "{} has mode {mode:o} and holds API keys: other users can read them",
            path.display()
        ))
        .with_fix(format!("chmod 600 {}", path.display()));
    }
    Outcome::pass(format!("{} mode {mode:o}", path.display()))
}
