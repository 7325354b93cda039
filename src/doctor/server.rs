//! Checks against the running engine over HTTP: listening, `/health`, `/v1/models`, the context contract
//! (`/props`), a chat completion and a tool call.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Outcome, Probe};
use crate::select::OPENCLAW_MIN_CONTEXT;

/// An HTTP answer: status, body parsed as JSON when it is JSON, and how long it took.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    /// llama-server's `{"error": {"message": …}}`, else the start of the body.
    pub fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| self.body.chars().take(200).collect())
    }
}

/// One request; `Err` is a transport failure (refused, timed out) with its text.
pub fn call(url: &str, key: Option<&str>, body: Option<&Value>, timeout: Duration) -> Result<Reply, String> {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(timeout)).build().into();
    let started = Instant::now();
    let auth = key.map(|k| format!("Bearer {k}"));
    let response = match body {
        Some(b) => {
            let mut req = agent.post(url).header("Content-Type", "application/json");
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.send(b.to_string())
        }
        None => {
            let mut req = agent.get(url);
            if let Some(a) = &auth {
                req = req.header("Authorization", a);
            }
            req.call()
        }
    };
    let mut response = response.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().map_err(|e| e.to_string())?;
    Ok(Reply { status, body, elapsed: started.elapsed() })
}

fn base(p: &Probe) -> String {
    crate::plan::Endpoint::new(p.r().port).origin()
}

fn start_fix(p: &Probe) -> String {
    match p.r().service {
        crate::profile::ServiceKind::None => format!("start it: `{}`", p.clawlocal("serve")),
        _ => format!("`{}`, or `clawlocal doctor --fix`", p.restart_command()),
    }
}

pub fn listen(p: &mut Probe) -> Outcome {
    let port = p.r().port;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => match foreign_holder(p) {
            // A unit crash-looping on `bind` behind another program: name the program, not the key.
            Some(holder) => Outcome::fail(
                format!(
                    "port {port} is held by {holder}, not by clawlocal's engine ({}): the engine cannot bind it",
                    p.r().engine.path.display()
                ),
                format!(
                    "stop that program, or move clawlocal: `{}`",
                    p.clawlocal(&format!("init --port {}", crate::ports::next_free(p.host, port).unwrap_or(port + 1)))
                ),
            ),
            None => Outcome::pass(format!("something listens on 127.0.0.1:{port}")),
        },
        Err(e) => {
            let mut out = Outcome::fail(
                format!("nothing listens on 127.0.0.1:{port} ({e}): the engine is not running"),
                start_fix(p),
            );
            if let Some(r) = p.restart_repair() {
                out = out.with_repair(r);
            }
            out
        }
    }
}

/// The program listening on the receipt's port when it is visibly not the receipt's engine. Compose publishes the
/// port through the container runtime's proxy, so only the targets that run the engine itself are judged.
fn foreign_holder(p: &Probe) -> Option<crate::ports::Holder> {
    if p.r().service == crate::profile::ServiceKind::Compose {
        return None;
    }
    let holder = crate::ports::holder(p.host, p.r().port)?;
    (holder.pid.is_some() && holder.runs(&p.layout.on_host(&p.r().engine.path)) == Some(false)).then_some(holder)
}

pub fn health(p: &mut Probe) -> Outcome {
    let url = format!("{}/health", base(p));
    match call(&url, None, None, Duration::from_secs(5)) {
        Ok(r) if r.status == 200 => Outcome::pass(format!("{url}: 200 in {} ms", r.elapsed.as_millis())),
        Ok(r) if r.status == 503 => Outcome::warn(format!(
            "{url}: 503 \"{}\": llama-server is still loading the model; run doctor again in a moment",
            r.error_message()
        ))
        .blocking(),
        Ok(r) => Outcome::fail(
            format!(
                "{url}: HTTP {} ({}): the program on this port is not a working llama-server",
                r.status,
                r.error_message()
            ),
            format!(
                "free port {} (`ss -ltnp | grep :{}` names the program), then {}",
                p.r().port,
                p.r().port,
                start_fix(p)
            ),
        ),
        Err(e) => Outcome::fail(format!("{url}: {e}"), start_fix(p)),
    }
}

pub fn model(p: &mut Probe) -> Outcome {
    let url = format!("{}/v1/models", base(p));
    let key = p.key();
    let alias = p.r().model.id.clone();
    let reply = match call(&url, key.as_deref(), None, Duration::from_secs(5)) {
        Ok(r) => r,
        Err(e) => return Outcome::fail(format!("{url}: {e}"), start_fix(p)),
    };
    let restart = |p: &Probe, out: Outcome| match p.restart_repair() {
        Some(r) => out.with_repair(r),
        None => out,
    };
    if reply.status == 401 {
        let out = Outcome::fail(
            format!(
                "{url}: 401: the engine refuses the key in {}; it was started with another key",
                p.r().api_key_file.display()
            ),
            format!("restart the engine so it reads the key file again: {}", start_fix(p)),
        );
        return restart(p, out);
    }
    if reply.status != 200 {
        return Outcome::fail(format!("{url}: HTTP {} ({})", reply.status, reply.error_message()), start_fix(p));
    }
    let doc = reply.json();
    let served: Vec<String> =
        doc["data"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str().map(str::to_string)).collect();
    p.models = Some(doc.clone());
    if !served.contains(&alias) {
        let out = Outcome::fail(
            format!(
                "the engine on port {} serves {:?}, not `{alias}` (the id openclaw.json uses): another llama-server holds the port, or it runs old arguments",
                p.r().port,
                served
            ),
            start_fix(p),
        );
        return restart(p, out);
    }
    let meta = &doc["data"][0]["meta"];
    Outcome::pass(format!(
        "serves `{alias}` ({}, trained context {})",
        meta["ftype"].as_str().unwrap_or("?"),
        meta["n_ctx_train"].as_u64().map_or("?".into(), |n| n.to_string())
    ))
}

/// The `contextWindow` openclaw.json gives clawlocal's model, when the config was read and has it.
fn context_window(p: &Probe) -> Option<u64> {
    let alias = &p.r().model.id;
    let cfg = p.config.as_ref()?;
    cfg.value
        .pointer(&format!("/models/providers/{}/models", crate::openclaw::patch::PROVIDER))?
        .as_array()?
        .iter()
        .find(|m| m["id"].as_str() == Some(alias))?
        .get("contextWindow")?
        .as_u64()
}

pub fn context(p: &mut Probe) -> Outcome {
    let url = format!("{}/props", base(p));
    let key = p.key();
    let props = match call(&url, key.as_deref(), None, Duration::from_secs(5)) {
        Ok(r) if r.status == 200 => r.json(),
        Ok(r) => return Outcome::fail(format!("{url}: HTTP {} ({})", r.status, r.error_message()), start_fix(p)),
        Err(e) => return Outcome::fail(format!("{url}: {e}"), start_fix(p)),
    };
    // Per slot: what one OpenClaw request can use.
    let n_ctx = props["default_generation_settings"]["n_ctx"]
        .as_u64()
        .or_else(|| p.models.as_ref().and_then(|m| m["data"][0]["meta"]["n_ctx"].as_u64()));
    p.props = Some(props);
    let Some(n_ctx) = n_ctx else {
        return Outcome::fail(format!("{url} reports no n_ctx"), start_fix(p));
    };
    if p.config.is_none() {
        // openclaw.json's contextWindow is the other side of the contract; its own checks report it later.
        super::openclaw::config(p);
    }
    let planned = u64::from(p.r().model.context);
    let trained = p.models.as_ref().and_then(|m| m["data"][0]["meta"]["n_ctx_train"].as_u64());
    let (window, from) = match context_window(p) {
        Some(w) => (w, "openclaw.json's contextWindow"),
        None => (planned, "the receipt's context"),
    };
    let restart = format!("restart the engine with the receipt's arguments (--ctx-size {planned}): {}", start_fix(p));
    if n_ctx < window {
        let why = match trained {
            Some(t) if t < window => {
                format!("the model was trained for {t} tokens and llama-server caps the context there")
            }
            _ => "the engine was started with a smaller --ctx-size than clawlocal set up".into(),
        };
        let fix = match trained {
            Some(t) if t < window => {
                format!("pick a model with a longer context, or `{}`", p.clawlocal(&format!("init --context {t}")))
            }
            _ => restart,
        };
        let mut out = Outcome::fail(
            format!(
                "the engine's context is {n_ctx} tokens per request but {from} is {window}: OpenClaw will send prompts the engine rejects ({why})"
            ),
            fix,
        );
        if trained.is_none_or(|t| t >= window)
            && let Some(r) = p.restart_repair()
        {
            out = out.with_repair(r);
        }
        return out;
    }
    if window < u64::from(OPENCLAW_MIN_CONTEXT) {
        return Outcome::fail(
            format!("{from} is {window}: OpenClaw refuses models below {OPENCLAW_MIN_CONTEXT} tokens"),
            format!("{} with --context 16384 or more", p.clawlocal("init")),
        );
    }
    Outcome::pass(format!("n_ctx {n_ctx} ≥ {from} {window} ≥ {OPENCLAW_MIN_CONTEXT}"))
}

pub fn chat(p: &mut Probe) -> Outcome {
    let url = format!("{}/v1/chat/completions", base(p));
    let key = p.key();
    let timeout = p.opts.chat_timeout;
    let body = json!({
        "model": p.r().model.id,
        "messages": [{"role": "user", "content": "Reply with exactly: pong"}],
        "max_tokens": 16,
        "temperature": 0,
    });
    let reply = match call(&url, key.as_deref(), Some(&body), timeout) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::fail(
                format!("{url}: no answer within {} s ({e})", timeout.as_secs()),
                format!(
                    "a smaller model or context answers faster (`{}`), or allow more time: --chat-timeout",
                    p.clawlocal("init --profile auto")
                ),
            );
        }
    };
    if reply.status != 200 {
        return Outcome::fail(format!("{url}: HTTP {}: {}", reply.status, reply.error_message()), start_fix(p));
    }
    let doc = reply.json();
    let message = &doc["choices"][0]["message"];
    let text = message["content"].as_str().or_else(|| message["reasoning_content"].as_str()).unwrap_or("");
    if text.trim().is_empty() {
        return Outcome::fail(
            format!("{url}: 200 but the answer is empty: {}", reply.body.chars().take(200).collect::<String>()),
            "check the engine log for template errors; `clawlocal serve` shows it in the foreground",
        );
    }
    let tokens = doc["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    let rate = doc["timings"]["predicted_per_second"]
        .as_f64()
        .unwrap_or_else(|| tokens as f64 / reply.elapsed.as_secs_f64().max(1e-3));
    let shown: String = text.trim().chars().take(40).collect();
    Outcome::pass(format!(
        "answered in {:.2} s: {tokens} tokens at {rate:.1} tokens/s ({shown:?})",
        reply.elapsed.as_secs_f64()
    ))
}

pub fn tools(p: &mut Probe) -> Outcome {
    let supports = p.props.as_ref().and_then(|props| props["chat_template_caps"]["supports_tools"].as_bool());
    if supports != Some(true) {
        return Outcome::warn(
            "the model's chat template declares no tool support: OpenClaw's agent tools will not be called",
        )
        .with_fix(format!("a model with tool calling: `{}` lists which have it", "clawlocal models"));
    }
    let url = format!("{}/v1/chat/completions", base(p));
    let key = p.key();
    let body = json!({
        "model": p.r().model.id,
        "messages": [{"role": "user", "content": "Call the clawlocal_probe tool."}],
        "tools": [{"type": "function", "function": {
            "name": "clawlocal_probe",
            "description": "Answers pong. Call it when asked to.",
            "parameters": {"type": "object", "properties": {}}
        }}],
        "tool_choice": "required",
        "max_tokens": 64,
        "temperature": 0,
    });
    match call(&url, key.as_deref(), Some(&body), p.opts.chat_timeout) {
        Ok(r) if r.status == 200 => {
            let doc = r.json();
            let name = doc["choices"][0]["message"]["tool_calls"][0]["function"]["name"].as_str();
            if name == Some("clawlocal_probe") {
                Outcome::pass(format!("called clawlocal_probe in {:.2} s", r.elapsed.as_secs_f64()))
            } else {
                Outcome::warn("the model answered in text instead of calling the tool: agent tools may not work")
                    .with_fix("a larger or tool-trained model (`clawlocal models`); or set compat.supportsTools false")
            }
        }
        Ok(r) => Outcome::fail(
            format!("the engine rejects a tool request: HTTP {}: {}", r.status, r.error_message()),
            "the engine needs --jinja (clawlocal's arguments have it): re-run `clawlocal init`; OpenClaw's compat.toolSchemaProfile \"llamacpp\" avoids grammar limits",
        ),
        Err(e) => Outcome::fail(format!("{url}: {e}"), start_fix(p)),
    }
}

/// What `clawlocal bench` measured on this box (the receipt keeps it while the model and its arguments stay): a
/// warning below what OpenClaw needs, the thresholds the selection uses.
pub fn speed(p: &mut Probe) -> Outcome {
    let Some(b) = p.r().bench.clone() else {
        return Outcome::skip(format!("not measured on this box yet: `{}` measures it", p.clawlocal("bench")));
    };
    let detail = format!(
        "measured {:.1} tokens/s generating, a 16K prompt in ~{:.0} s ({:.0} tokens/s prefill)",
        b.generation_tokens_per_second, b.prefill_16k_seconds, b.prefill_tokens_per_second
    );
    if b.usable {
        return Outcome::pass(detail);
    }
    Outcome::warn(format!(
        "{detail}: below what OpenClaw needs (≥ {} tokens/s, a 16K prompt in ≤ {:.0} s), so its agent will time out",
        crate::estimate::MIN_GENERATION_TPS,
        crate::estimate::MAX_PREFILL_SECONDS
    ))
    .with_fix(format!("{} (a smaller model or quant)", p.clawlocal("init --profile auto")))
}
