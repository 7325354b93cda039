//! Asking a model server what it serves. One pure parser per documented route, and `probe` doing the HTTP:
//! - Ollama: `GET /api/version`, `GET /api/tags`, `POST /api/show` (`model_info.<arch>.context_length`, the
//!   Modelfile's `num_ctx`, `capabilities`), `GET /api/ps` (loaded models and the `context_length` in use);
//! - LM Studio: `GET /api/v1/models` (0.4: `loaded_instances[].config.context_length`, `max_context_length`,
//!   `capabilities.trained_for_tool_use`), else `GET /api/v0/models` (`state`, `max_context_length`);
//! - vLLM, SGLang: `GET /v1/models` (`max_model_len`); SGLang also `GET /get_model_info`;
//! - llama-server (as `openai`): `GET /props` (`default_generation_settings.n_ctx`);
//! - tinygrad, llama-cpp-python, MLX: `GET /v1/models` names the model only; the context of a local one is read
//!   from the listening process's command line (`--max_context`, `--n_ctx`), with the program's default.

use std::time::Duration;

use serde_json::Value;

use super::{Kind, Served, ServedModel};
use crate::error::{Error, Result};

/// OpenAI's `/v1/models`: `data[].id`, with vLLM's `max_model_len` where the server adds it.
pub fn parse_openai_models(body: &Value) -> Vec<ServedModel> {
    body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some(ServedModel {
                id: m["id"].as_str()?.to_string(),
                context: m["max_model_len"].as_u64().and_then(|n| u32::try_from(n).ok()),
                trained_context: None,
                tools: None,
                loaded: None,
            })
        })
        .collect()
}

/// Ollama's `/api/tags`: the installed models' names.
pub fn parse_ollama_tags(body: &Value) -> Vec<String> {
    let models = body["models"].as_array().into_iter().flatten();
    models.filter_map(|m| m["name"].as_str().or(m["model"].as_str()).map(String::from)).collect()
}

/// What Ollama's `/api/show` tells of one model: the trained context (`<arch>.context_length`), the Modelfile's
/// `num_ctx` when it sets one, and whether its template takes tools.
pub fn parse_ollama_show(body: &Value) -> (Option<u32>, Option<u32>, Option<bool>) {
    let info = &body["model_info"];
    let arch = info["general.architecture"].as_str().unwrap_or("");
    let trained = info[format!("{arch}.context_length")].as_u64().and_then(|n| u32::try_from(n).ok());
    let num_ctx = body["parameters"].as_str().and_then(|p| {
        p.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next()? == "num_ctx").then(|| words.next()?.parse().ok()).flatten()
        })
    });
    let tools = body["capabilities"].as_array().map(|c| c.iter().any(|v| v == "tools"));
    (trained, num_ctx, tools)
}

/// Ollama's `/api/ps`: each loaded model and the context it was loaded with.
pub fn parse_ollama_ps(body: &Value) -> Vec<(String, Option<u32>)> {
    let models = body["models"].as_array().into_iter().flatten();
    models
        .filter_map(|m| {
            let ctx = m["context_length"].as_u64().and_then(|n| u32::try_from(n).ok());
            Some((m["name"].as_str().or(m["model"].as_str())?.to_string(), ctx))
        })
        .collect()
}

/// LM Studio's `/api/v1/models` (0.4+) or `/api/v0/models`: LLMs only, with the loaded instance's context.
pub fn parse_lmstudio_models(body: &Value) -> Vec<ServedModel> {
    let ctx = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok());
    if let Some(models) = body["models"].as_array() {
        return models
            .iter()
            .filter(|m| m["type"] == "llm")
            .filter_map(|m| {
                let instance = m["loaded_instances"].as_array().and_then(|i| i.first());
                Some(ServedModel {
                    id: m["key"].as_str()?.to_string(),
                    context: instance.and_then(|i| ctx(&i["config"]["context_length"])),
                    trained_context: ctx(&m["max_context_length"]),
                    tools: m["capabilities"]["trained_for_tool_use"].as_bool(),
                    loaded: Some(instance.is_some()),
                })
            })
            .collect();
    }
    let models = body["data"].as_array().into_iter().flatten();
    models
        .filter(|m| m["type"] == "llm" || m["type"] == "vlm")
        .filter_map(|m| {
            let loaded = m["state"] == "loaded";
            Some(ServedModel {
                id: m["id"].as_str()?.to_string(),
                context: ctx(&m["loaded_context_length"]).filter(|_| loaded),
                trained_context: ctx(&m["max_context_length"]),
                tools: m["capabilities"].as_array().map(|c| c.iter().any(|v| v == "tool_use")),
                loaded: Some(loaded),
            })
        })
        .collect()
}

/// llama-server's `/props`: the context each slot serves.
pub fn parse_props(body: &Value) -> Option<u32> {
    let n = body["default_generation_settings"]["n_ctx"].as_u64().or(body["n_ctx"].as_u64())?;
    u32::try_from(n).ok()
}

/// The value of `--flag N` (or `--flag=N`) in a command line, its words split at NULs (`/proc/<pid>/cmdline`)
/// or spaces (`ports::Holder::command`).
pub fn flag_value(cmdline: &str, flag: &str) -> Option<u32> {
    let words: Vec<&str> = cmdline.split(['\0', ' ']).collect();
    words.iter().enumerate().find_map(|(i, w)| match w.strip_prefix(flag) {
        Some("") => words.get(i + 1)?.parse().ok(),
        Some(rest) => rest.strip_prefix('=')?.parse().ok(),
        None => None,
    })
}

/// The program serving a local port and its context flag, for servers that do not report their context.
/// tinygrad: `--max_context` (default 4096); llama-cpp-python: `--n_ctx` (default 2048).
pub fn context_from_cmdline(cmdline: &str) -> Option<(Kind, u32)> {
    let has = |needle: &str| cmdline.split(['\0', ' ']).any(|w| w.contains(needle));
    if has("tinygrad.llm") || has("tinygrad/llm") {
        return Some((Kind::Tinygrad, flag_value(cmdline, "--max_context").unwrap_or(4096)));
    }
    if has("llama_cpp.server") {
        return Some((Kind::Openai, flag_value(cmdline, "--n_ctx").unwrap_or(2048)));
    }
    None
}

/// An HTTP GET (or a POST with `body`) answering JSON, or why not.
fn ask(url: &str, key: Option<&str>, body: Option<&Value>) -> std::result::Result<(u16, Value), String> {
    let reply = crate::doctor::server::call(url, key, body, Duration::from_secs(5))?;
    Ok((reply.status, reply.json()))
}

/// Ask the server at `url` (the base OpenClaw would use) as a `kind`. `cmdline` reads the command line of the
/// local process listening on a port, for the kinds that only tell their context that way.
pub fn probe(kind: Kind, url: &str, key: Option<&str>, cmdline: &dyn Fn(u16) -> Option<String>) -> Result<Served> {
    let base = super::base_url(kind, url);
    let unreachable = |what: &str, why: String| {
        Error::failure(format!("{} at {base} does not answer {what}: {why}", kind.label())).with_hint(format!(
            "start it, or pass --url where it listens (default {})",
            kind.default_url().unwrap_or("none")
        ))
    };
    let mut warnings = Vec::new();
    let (version, models) = match kind {
        Kind::Ollama => {
            let (_, v) = ask(&format!("{base}/api/version"), key, None).map_err(|e| unreachable("/api/version", e))?;
            let Some(version) = v["version"].as_str().map(String::from) else {
                return Err(Error::failure(format!("{base}/api/version is not Ollama's (no \"version\")")));
            };
            let (_, tags) = ask(&format!("{base}/api/tags"), key, None).map_err(|e| unreachable("/api/tags", e))?;
            let loaded =
                ask(&format!("{base}/api/ps"), key, None).map(|(_, b)| parse_ollama_ps(&b)).unwrap_or_default();
            let models = parse_ollama_tags(&tags)
                .into_iter()
                .map(|name| {
                    let show = ask(&format!("{base}/api/show"), key, Some(&serde_json::json!({ "model": name })));
                    let (trained, num_ctx, tools) =
                        show.map(|(_, b)| parse_ollama_show(&b)).unwrap_or((None, None, None));
                    let running = loaded.iter().find(|(n, _)| *n == name);
                    ServedModel {
                        id: name.clone(),
                        // What it runs with now, else what its Modelfile asks; OpenClaw sends `num_ctx` per request.
                        context: running.and_then(|(_, c)| *c).or(num_ctx),
                        trained_context: trained,
                        tools,
                        loaded: Some(running.is_some()),
                    }
                })
                .collect();
            (Some(version), models)
        }
        Kind::Lmstudio => {
            let origin = base.trim_end_matches("/v1");
            let v1 = ask(&format!("{origin}/api/v1/models"), key, None).ok().filter(|(s, _)| *s == 200);
            let (_, body) = match v1 {
                Some(found) => found,
                None => {
                    ask(&format!("{origin}/api/v0/models"), key, None).map_err(|e| unreachable("/api/v0/models", e))?
                }
            };
            (None, parse_lmstudio_models(&body))
        }
        _ => {
            let (status, body) = ask(&format!("{base}/models"), key, None).map_err(|e| unreachable("/v1/models", e))?;
            if status == 401 || status == 403 {
                return Err(Error::failure(format!("{base}/models: HTTP {status}: the server wants an API key"))
                    .with_hint("pass --api-key-file FILE (mode 0600) or --api-key-env NAME"));
            }
            if status != 200 {
                return Err(Error::failure(format!("{base}/models: HTTP {status}")));
            }
            let mut models = parse_openai_models(&body);
            let origin = base.trim_end_matches("/v1");
            if kind == Kind::Openai
                && let Ok((200, props)) = ask(&format!("{origin}/props"), key, None)
                && let Some(n) = parse_props(&props)
            {
                models.iter_mut().for_each(|m| m.context = m.context.or(Some(n)));
            }
            if let Some((seen, n)) = port_of(&base).and_then(cmdline).as_deref().and_then(context_from_cmdline) {
                if seen == Kind::Tinygrad && kind == Kind::Tinygrad {
                    warnings
                        .push("tinygrad listens on every interface (it binds all addresses; no --host option)".into());
                }
                models.iter_mut().for_each(|m| m.context = m.context.or(Some(n)));
            }
            (None, models)
        }
    };
    Ok(Served { kind, url: base, version, models, warnings })
}

/// Which kind answers at `url`: told by the local process's command line (tinygrad's or llama-cpp-python's),
/// else by the routes only it has (Ollama's `/api/version`, LM Studio's `/api/v1/models`, SGLang's
/// `/get_model_info`, LiteLLM's `/health/liveliness`, vLLM's `/version` beside `max_model_len`), else any server
/// with `/v1/models` — which is MLX when `url` is MLX's address (`mlx_lm.server` has no route of its own); then
/// probed as that kind. `None` when nothing answers there.
pub fn detect(
    url: &str,
    key: Option<&str>,
    cmdline: &dyn Fn(u16) -> Option<String>,
    address_of: Option<Kind>,
) -> Option<Served> {
    let origin = url.trim_end_matches('/').trim_end_matches("/v1").to_string();
    let ok = |path: &str| ask(&format!("{origin}{path}"), key, None).ok().filter(|(s, _)| *s == 200).map(|(_, b)| b);
    // The local process's own command line first: tinygrad answers every other GET with its chat page (200).
    let local = port_of(&origin).and_then(cmdline);
    let kind = if let Some((kind, _)) = local.as_deref().and_then(context_from_cmdline) {
        kind
    } else if ok("/api/version").is_some_and(|b| b["version"].is_string()) {
        Kind::Ollama
    } else if ok("/api/v1/models").is_some_and(|b| b["models"].is_array())
        || ok("/api/v0/models")
            .is_some_and(|b| b["data"].as_array().is_some_and(|d| d.iter().any(|m| m["state"].is_string())))
    {
        Kind::Lmstudio
    } else if ok("/get_model_info").is_some_and(|b| b["model_path"].is_string()) {
        Kind::Sglang
    } else if ok("/health/liveliness").is_some_and(|b| b.is_string()) {
        // LiteLLM answers the JSON string "I'm alive!".
        Kind::Litellm
    } else {
        let models = ok("/v1/models")?;
        if ok("/version").is_some_and(|b| b["version"].is_string())
            && parse_openai_models(&models).iter().any(|m| m.context.is_some())
        {
            Kind::Vllm
        } else if address_of == Some(Kind::Mlx) {
            Kind::Mlx
        } else {
            Kind::Openai
        }
    };
    probe(kind, &origin, key, cmdline).ok()
}

/// The port of a URL (the scheme's default when none is written).
pub fn port_of(url: &str) -> Option<u16> {
    let rest = url.split("://").nth(1)?;
    let authority = rest.split('/').next()?;
    match authority.rsplit_once(':') {
        Some((_, p)) if !p.contains(']') => p.parse().ok(),
        _ => Some(if url.starts_with("https://") { 443 } else { 80 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_routes_answer_is_read_for_models_context_and_tools() {
        let vllm =
            json!({"object": "list", "data": [{"id": "Qwen/Qwen3-8B", "object": "model", "max_model_len": 8192}]});
        assert_eq!(parse_openai_models(&vllm)[0].context, Some(8192));
        let plain = json!({"data": [{"id": "tiny"}]});
        assert_eq!(
            (parse_openai_models(&plain)[0].id.as_str(), parse_openai_models(&plain)[0].context),
            ("tiny", None)
        );

        let tags = json!({"models": [{"name": "qwen3:8b", "model": "qwen3:8b"}, {"model": "llama3.2:3b"}]});
        assert_eq!(parse_ollama_tags(&tags), ["qwen3:8b", "llama3.2:3b"]);
        let show = json!({
            "parameters": "stop \"<|im_end|>\"\nnum_ctx 4096",
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
            "capabilities": ["completion", "tools", "thinking"],
        });
        assert_eq!(parse_ollama_show(&show), (Some(40960), Some(4096), Some(true)));
        let bare = json!({"model_info": {"general.architecture": "llama"}, "capabilities": ["completion"]});
        assert_eq!(parse_ollama_show(&bare), (None, None, Some(false)));
        let ps = json!({"models": [{"name": "qwen3:8b", "context_length": 4096}]});
        assert_eq!(parse_ollama_ps(&ps), [("qwen3:8b".to_string(), Some(4096))]);

        let v1 = json!({"models": [
            {"type": "llm", "key": "qwen/qwen3-8b", "max_context_length": 40960,
             "loaded_instances": [{"id": "qwen/qwen3-8b", "config": {"context_length": 4096}}],
             "capabilities": {"trained_for_tool_use": true}},
            {"type": "llm", "key": "google/gemma-3-4b", "max_context_length": 131072, "loaded_instances": []},
            {"type": "embedding", "key": "nomic-embed", "loaded_instances": []},
        ]});
        let lms = parse_lmstudio_models(&v1);
        assert_eq!(lms.len(), 2, "embedding models are not chat models");
        assert_eq!(
            (lms[0].context, lms[0].trained_context, lms[0].tools, lms[0].loaded),
            (Some(4096), Some(40960), Some(true), Some(true))
        );
        assert_eq!((lms[1].context, lms[1].loaded), (None, Some(false)));
        let v0 = json!({"data": [{"id": "meta-llama-3.1-8b-instruct", "type": "llm", "state": "not-loaded", "max_context_length": 131072}]});
        assert_eq!(parse_lmstudio_models(&v0)[0].loaded, Some(false));

        assert_eq!(parse_props(&json!({"default_generation_settings": {"n_ctx": 32768}})), Some(32768));
        assert_eq!(parse_props(&json!({})), None);
    }

    #[test]
    fn a_local_servers_context_is_read_from_its_command_line() {
        let tg = "/usr/bin/python3\0-m\0tinygrad.llm\0--model\0/m/tiny.gguf\0--serve=8011";
        assert_eq!(context_from_cmdline(tg), Some((Kind::Tinygrad, 4096)), "tinygrad's default");
        let tg = "python -m tinygrad.llm --max_context 32768 --serve 8011";
        assert_eq!(context_from_cmdline(tg), Some((Kind::Tinygrad, 32768)));
        let lcp = "python3 -m llama_cpp.server --model m.gguf --n_ctx=16384 --port 8000";
        assert_eq!(context_from_cmdline(lcp), Some((Kind::Openai, 16384)));
        assert_eq!(context_from_cmdline("python3\0-m\0llama_cpp.server\0--model\0m.gguf"), Some((Kind::Openai, 2048)));
        assert_eq!(context_from_cmdline("/usr/bin/vllm\0serve"), None);
        assert_eq!(port_of("http://127.0.0.1:8011/v1"), Some(8011));
        assert_eq!(port_of("http://[::1]:4000/v1"), Some(4000));
        assert_eq!(port_of("https://gpu-box/v1"), Some(443));
    }
}
