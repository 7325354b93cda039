//! The checks of an `init --backend` setup: the server another tool runs, asked in its own protocol (reachable,
//! the model listed and loaded, the context contract, a chat answer, a tool call), OpenClaw's entry for it, and the
//! known traps each named with its fix (Ollama through `/v1`, vLLM refusing `tool_choice: auto`, an LM Studio
//! model not loaded, a tinygrad server on every interface).

use serde_json::{Value, json};

use super::{Outcome, Probe};
use crate::backends::{self, Kind, OPENCLAW_MIN_CONTEXT, ServedModel};
use crate::receipt::{BackendReceipt, KeySource};

fn b<'p>(p: &'p Probe) -> &'p BackendReceipt {
    p.backend.as_ref().expect("backend checks run after host.receipt")
}

/// `clawlocal init --backend K …` as the receipt's setup was made, to point OpenClaw at it again.
fn reinit(p: &Probe) -> String {
    let r = b(p);
    p.clawlocal(&format!("init --backend {} --url {} --model {} --yes", r.backend.kind, r.backend.url, r.backend.model))
}

/// The key the server takes: from the file or variable init was given.
fn key(p: &Probe) -> Option<String> {
    match &b(p).backend.key {
        KeySource::Marker(_) => None,
        KeySource::File(f) => crate::openclaw::read_key(&p.layout.on_host(f)).ok(),
        KeySource::Env(var) => p.host.env_nonempty(var),
    }
}

pub fn receipt(p: &mut Probe, r: BackendReceipt, path: &std::path::Path) -> Outcome {
    let detail = format!(
        "{}: OpenClaw → {} at {}, model {} (contextWindow {}), provider {}",
        path.display(),
        r.backend.kind.label(),
        r.backend.url,
        r.backend.model,
        r.backend.context,
        r.backend.provider
    );
    let complete = r.complete;
    p.backend = Some(r);
    if complete {
        Outcome::pass(detail)
    } else {
        Outcome::warn(format!("{detail}; the last init stopped before it finished")).with_fix(reinit(p))
    }
}

pub fn reachable(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    let cmdline = |port: u16| backends::local_cmdline(p.host, port);
    match backends::probe::probe(r.kind, &r.url, key(p).as_deref(), &cmdline) {
        Ok(served) => {
            let version = served.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
            let out = Outcome::pass(format!(
                "{}{version} answers at {} with {} model(s)",
                r.kind.label(),
                served.url,
                served.models.len()
            ));
            p.served = Some(served);
            out
        }
        Err(e) => Outcome::fail(e.message, r.kind.start_hint(&r.model)),
    }
}

fn served_model(p: &Probe) -> Option<ServedModel> {
    let model = &b(p).backend.model;
    p.served.as_ref()?.models.iter().find(|m| m.id == *model).cloned()
}

pub fn model(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    let Some(m) = served_model(p) else {
        let names: Vec<String> =
            p.served.as_ref().map(|s| s.models.iter().map(|m| m.id.clone()).collect()).unwrap_or_default();
        let fix = match r.kind {
            Kind::Ollama => format!("`ollama pull {}`, or {}", r.model, pick_other(p)),
            _ => format!("serve {} again, or {}", r.model, pick_other(p)),
        };
        return Outcome::fail(
            format!("{} at {} does not list {} (it lists: {})", r.kind.label(), r.url, r.model, names.join(", ")),
            fix,
        );
    };
    if r.kind == Kind::Lmstudio && m.loaded == Some(false) {
        return Outcome::fail(
            format!(
                "LM Studio has {} but it is not loaded: OpenClaw's first request loads it with the default context",
                r.model
            ),
            format!("`lms load {} --context-length {}`", r.model, r.context.max(32_768)),
        );
    }
    let tools = match m.tools {
        Some(true) => ", tools",
        Some(false) => ", no tools",
        None => "",
    };
    Outcome::pass(format!("{} listed{}{tools}", r.model, if m.loaded == Some(true) { ", loaded" } else { "" }))
}

fn pick_other(p: &Probe) -> String {
    let kind = b(p).backend.kind;
    format!("point OpenClaw at another: `clawlocal backends`, then `clawlocal init --backend {kind} --model ID`")
}

pub fn context(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    let m = served_model(p).expect("runs after backend.model");
    let written = r.context;
    if r.kind == Kind::Ollama {
        // OpenClaw sends num_ctx with every request: what bounds it is what the model was trained for.
        return match m.trained_context {
            Some(trained) if trained < written => Outcome::fail(
                format!("contextWindow {written} is above the {trained} tokens {} was trained for", r.model),
                reinit(p),
            ),
            Some(trained) => Outcome::pass(format!(
                "OpenClaw asks for num_ctx {written} per request; {} was trained for {trained}",
                r.model
            )),
            None => Outcome::warn(format!("Ollama does not say what {} was trained for", r.model)),
        };
    }
    match m.context {
        Some(served) if served < OPENCLAW_MIN_CONTEXT => Outcome::fail(
            format!(
                "{} serves {} with {served} tokens, below OpenClaw's minimum of {OPENCLAW_MIN_CONTEXT}",
                r.kind.label(),
                r.model
            ),
            r.kind.context_fix(&r.model),
        ),
        Some(served) if served < written => Outcome::fail(
            format!(
                "OpenClaw believes {written} tokens but {} serves {served} for {}: long prompts are rejected",
                r.kind.label(),
                r.model
            ),
            format!("{}, or {}", r.kind.context_fix(&r.model), reinit(p)),
        ),
        Some(served) => Outcome::pass(format!("served {served} ≥ contextWindow {written} ≥ {OPENCLAW_MIN_CONTEXT}")),
        None => Outcome::warn(format!(
            "{} does not say what context it serves; contextWindow {written} is taken as given",
            r.kind.label()
        )),
    }
}

/// The request and where the answer is, in the backend's own protocol.
fn chat_request(p: &Probe, tools: bool) -> (String, Value) {
    let r = &b(p).backend;
    let ask = if tools { "Call the clawlocal_probe tool." } else { "Reply with exactly: pong" };
    let tool = json!([{"type": "function", "function": {
        "name": "clawlocal_probe",
        "description": "Answers pong. Call it when asked to.",
        "parameters": {"type": "object", "properties": {}}
    }}]);
    let mut body = json!({"model": r.model, "messages": [{"role": "user", "content": ask}]});
    let url = if r.kind == Kind::Ollama {
        body["stream"] = json!(false);
        body["options"] = json!({"num_ctx": r.context, "num_predict": 64, "temperature": 0});
        format!("{}/api/chat", r.url)
    } else {
        body["max_tokens"] = json!(64);
        body["temperature"] = json!(0);
        format!("{}/chat/completions", r.url)
    };
    if tools {
        body["tools"] = tool;
        // What OpenClaw sends on every agent turn: vLLM without --enable-auto-tool-choice refuses it.
        if r.kind != Kind::Ollama {
            body["tool_choice"] = json!("auto");
        }
    }
    (url, body)
}

fn message(kind: Kind, doc: &Value) -> Value {
    if kind == Kind::Ollama { doc["message"].clone() } else { doc["choices"][0]["message"].clone() }
}

pub fn chat(p: &mut Probe) -> Outcome {
    let kind = b(p).backend.kind;
    let (url, body) = chat_request(p, false);
    let reply = match super::server::call(&url, key(p).as_deref(), Some(&body), p.opts.chat_timeout) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::fail(
                format!("{url}: no answer within {} s ({e})", p.opts.chat_timeout.as_secs()),
                "allow more time (--chat-timeout), or a smaller model on the server",
            );
        }
    };
    if reply.status != 200 {
        return Outcome::fail(
            format!("{url}: HTTP {}: {}", reply.status, reply.error_message()),
            format!("the server's log names the cause; {}", kind.start_hint(&b(p).backend.model)),
        );
    }
    let m = message(kind, &reply.json());
    let text = m["content"].as_str().or_else(|| m["reasoning_content"].as_str()).unwrap_or("").trim().to_string();
    if text.is_empty() {
        return Outcome::fail(
            format!("{url}: 200 but the answer is empty: {}", reply.body.chars().take(200).collect::<String>()),
            "the server's log names the cause (a chat template error, usually)",
        );
    }
    let shown: String = text.chars().take(40).collect();
    Outcome::pass(format!("answered in {:.2} s ({shown:?})", reply.elapsed.as_secs_f64()))
}

pub fn tools(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    let (url, body) = chat_request(p, true);
    let reply = match super::server::call(&url, key(p).as_deref(), Some(&body), p.opts.chat_timeout) {
        Ok(r) => r,
        Err(e) => return Outcome::fail(format!("{url}: no answer ({e})"), "allow more time (--chat-timeout)"),
    };
    if reply.status != 200 {
        let why = reply.error_message();
        let fix = if r.kind == Kind::Vllm || why.contains("enable-auto-tool-choice") {
            format!(
                "restart vLLM with `--enable-auto-tool-choice --tool-call-parser hermes` (the parser for {}'s family)",
                r.model
            )
        } else {
            "the server's log names the cause; OpenClaw sends tools on every agent turn".into()
        };
        return Outcome::fail(
            format!("{url} refuses a tool request (tool_choice auto, as OpenClaw sends): HTTP {}: {why}", reply.status),
            fix,
        );
    }
    let m = message(r.kind, &reply.json());
    match m["tool_calls"][0]["function"]["name"].as_str() {
        Some("clawlocal_probe") => {
            let how =
                if r.kind == Kind::Ollama { "through Ollama's native /api/chat" } else { "with tool_choice auto" };
            Outcome::pass(format!("called clawlocal_probe {how} in {:.2} s", reply.elapsed.as_secs_f64()))
        }
        _ => Outcome::warn("the model answered in text instead of calling the tool: agent tools may not work")
            .with_fix("a tool-trained model on the server (`clawlocal backends` shows which take tools)"),
    }
}

/// A failure `doctor --fix` repairs by running `init --backend`'s plan again from the receipt.
fn repatch(o: Outcome) -> Outcome {
    o.with_repair(super::Repair::Repatch)
}

fn provider<'p>(p: &'p Probe) -> Option<&'p Value> {
    let id = &b(p).backend.provider;
    p.config.as_ref()?.value.pointer(&format!("/models/providers/{id}"))
}

pub fn provider_check(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    let Some(prov) = provider(p).cloned() else {
        return repatch(Outcome::fail(format!("openclaw.json has no models.providers.{}", r.provider), reinit(p)));
    };
    let api = prov["api"].as_str().unwrap_or("");
    let url = prov["baseUrl"].as_str().unwrap_or("").trim_end_matches('/').to_string();
    if r.kind == Kind::Ollama && (url.ends_with("/v1") || api == "openai-completions") {
        return repatch(Outcome::fail(
            format!(
                "models.providers.{} talks to Ollama through its OpenAI-compatible /v1 (baseUrl {url}, api {api}): \
                 tool calls arrive as plain text and agents never run them",
                r.provider
            ),
            format!("baseUrl \"{}\" without /v1 and api \"ollama\": {}", r.url, reinit(p)),
        ));
    }
    let want_api = r.kind.api().as_str();
    if api != want_api {
        let why = if api.is_empty() { "missing (\"No API provider registered for api: undefined\")" } else { api };
        return repatch(Outcome::fail(
            format!("models.providers.{}.api is {why}; {} needs \"{want_api}\"", r.provider, r.kind.label()),
            reinit(p),
        ));
    }
    if url != r.url.trim_end_matches('/') {
        return repatch(Outcome::fail(
            format!("baseUrl is {url}, but {} was set up at {}", r.kind.label(), r.url),
            reinit(p),
        ));
    }
    Outcome::pass(format!("api {api}, baseUrl {url}"))
}

pub fn model_entry(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    let entry = provider(p)
        .and_then(|v| v["models"].as_array())
        .and_then(|a| a.iter().find(|m| m["id"].as_str() == Some(r.model.as_str())))
        .cloned();
    let Some(entry) = entry else {
        return repatch(Outcome::fail(format!("provider {} does not declare {}", r.provider, r.model), reinit(p)));
    };
    let window = entry["contextWindow"].as_u64().unwrap_or(0);
    if window < u64::from(OPENCLAW_MIN_CONTEXT) {
        return repatch(Outcome::fail(
            format!("contextWindow {window} is below {OPENCLAW_MIN_CONTEXT}: OpenClaw refuses to run the model"),
            reinit(p),
        ));
    }
    if window > u64::from(r.context) {
        return repatch(Outcome::fail(
            format!("contextWindow {window} is above the {} tokens the server was found to serve", r.context),
            reinit(p),
        ));
    }
    if r.kind == Kind::Ollama && entry["params"]["num_ctx"].as_u64() != Some(window) {
        return repatch(Outcome::fail(
            format!(
                "params.num_ctx is {} but contextWindow {window}: Ollama then runs the model at its own default (4096) \
                 while OpenClaw believes {window}",
                entry["params"]["num_ctx"]
            ),
            format!("set params.num_ctx to {window}: {}", reinit(p)),
        ));
    }
    Outcome::pass(format!("`{}`, contextWindow {window}, maxTokens {}", r.model, entry["maxTokens"]))
}

pub fn bind(p: &mut Probe) -> Outcome {
    let r = b(p).backend.clone();
    if !backends::is_loopback(&r.url) {
        return Outcome::pass(format!("{} is on another host: its own network settings decide who reaches it", r.url));
    }
    let Some(port) = backends::probe::port_of(&r.url) else { return Outcome::skip("the URL names no port") };
    match super::local::listeners(p, port) {
        None => Outcome::skip("/proc/net/tcp is not readable here"),
        Some(l) if l.iter().any(|(_, lo)| !lo) => {
            let addrs: Vec<String> =
                l.iter().filter(|(_, lo)| !lo).map(|(a, _)| super::local::show_hex_addr(a)).collect();
            Outcome::fail(
                format!(
                    "{} listens on port {port} at {}: anyone on the network can use the model",
                    r.kind.label(),
                    addrs.join(", ")
                ),
                r.kind.bind_fix(port),
            )
        }
        Some(_) => Outcome::pass(format!("port {port} listens on loopback only")),
    }
}
