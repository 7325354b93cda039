//! Model servers the user already runs (Ollama, LM Studio, vLLM, SGLang, MLX, LiteLLM, tinygrad, any
//! OpenAI-compatible one): what each is, where it listens by default, how to ask it which models it serves with
//! which context and tools, and the provider entry OpenClaw 2026.9 needs for it.
//!
//! The answers are parsed by pure functions (one per route), so each backend's protocol is a table test; `probe`
//! does the HTTP.

pub mod probe;

use serde::Serialize;

/// A kind of model server.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Ollama,
    Lmstudio,
    Vllm,
    Sglang,
    Mlx,
    Litellm,
    Tinygrad,
    /// Any server with OpenAI's `/v1/models` and `/v1/chat/completions` (llama-cpp-python, llama-server, …).
    Openai,
}

/// How OpenClaw talks to a kind: its native Ollama API, or OpenAI's chat completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Ollama,
    OpenaiCompletions,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ollama => "ollama",
            Self::OpenaiCompletions => "openai-completions",
        }
    }
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Ollama,
        Kind::Lmstudio,
        Kind::Vllm,
        Kind::Sglang,
        Kind::Mlx,
        Kind::Litellm,
        Kind::Tinygrad,
        Kind::Openai,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ollama => "ollama",
            Self::Lmstudio => "lmstudio",
            Self::Vllm => "vllm",
            Self::Sglang => "sglang",
            Self::Mlx => "mlx",
            Self::Litellm => "litellm",
            Self::Tinygrad => "tinygrad",
            Self::Openai => "openai",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Ollama => "Ollama",
            Self::Lmstudio => "LM Studio",
            Self::Vllm => "vLLM",
            Self::Sglang => "SGLang",
            Self::Mlx => "MLX (mlx_lm.server)",
            Self::Litellm => "LiteLLM proxy",
            Self::Tinygrad => "tinygrad (python -m tinygrad.llm --serve)",
            Self::Openai => "an OpenAI-compatible server",
        }
    }

    /// Where the kind listens when started without options; `None`: no default (`--url` is needed).
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            Self::Ollama => Some("http://127.0.0.1:11434"),
            Self::Lmstudio => Some("http://127.0.0.1:1234/v1"),
            Self::Vllm => Some("http://127.0.0.1:8000/v1"),
            Self::Sglang => Some("http://127.0.0.1:30000/v1"),
            Self::Mlx => Some("http://127.0.0.1:8080/v1"),
            Self::Litellm => Some("http://127.0.0.1:4000/v1"),
            // tinygrad 0.13's `--serve` without a port; it listens on every interface.
            Self::Tinygrad => Some("http://127.0.0.1:8000/v1"),
            Self::Openai => None,
        }
    }

    /// The API OpenClaw uses: Ollama's native one (tool calls through `/v1` arrive as text), else OpenAI's.
    pub fn api(self) -> Api {
        match self {
            Self::Ollama => Api::Ollama,
            _ => Api::OpenaiCompletions,
        }
    }

    /// What to tell the user when the server serves less context than OpenClaw needs.
    pub fn context_fix(self, model: &str) -> String {
        match self {
            Self::Ollama => format!(
                "start Ollama with OLLAMA_CONTEXT_LENGTH=32768, or give {model} a Modelfile with `PARAMETER num_ctx 32768`"
            ),
            Self::Lmstudio => format!("load it with more context: `lms load {model} --context-length 32768`"),
            Self::Vllm => "restart vLLM with `--max-model-len 32768`".into(),
            Self::Sglang => "restart SGLang with `--context-length 32768`".into(),
            Self::Mlx => "mlx_lm.server serves the model's own context: choose a model trained for 32768 tokens".into(),
            Self::Litellm => "raise the context of the server LiteLLM fronts for this model".into(),
            Self::Tinygrad => "restart it with `--max_context 32768` (its default is 4096)".into(),
            Self::Openai => {
                "restart the server with a context of at least 16000 tokens (llama-cpp-python: `--n_ctx 32768`)".into()
            }
        }
    }
}

impl Kind {
    /// How a person starts the server (for a doctor that finds nothing listening).
    pub fn start_hint(self, model: &str) -> String {
        match self {
            Self::Ollama => "`ollama serve` (or `systemctl start ollama`)".into(),
            Self::Lmstudio => {
                format!("start LM Studio's server: `lms server start`, then `lms load {model} --context-length 32768`")
            }
            Self::Vllm => format!(
                "`vllm serve {model} --max-model-len 32768 --enable-auto-tool-choice --tool-call-parser hermes`"
            ),
            Self::Sglang => format!("`python -m sglang.launch_server --model-path {model} --context-length 32768`"),
            Self::Mlx => format!("`mlx_lm.server --model {model}`"),
            Self::Litellm => "`litellm --config config.yaml` (the proxy, port 4000)".into(),
            Self::Tinygrad => "`python -m tinygrad.llm --model FILE.gguf --max_context 32768 --serve`".into(),
            Self::Openai => {
                "start the server (llama-cpp-python: `python -m llama_cpp.server --model FILE.gguf --n_ctx 32768`)"
                    .into()
            }
        }
    }

    /// How to keep the server off the network when it listens on every interface.
    pub fn bind_fix(self, port: u16) -> String {
        match self {
            Self::Ollama => format!("restart Ollama with OLLAMA_HOST=127.0.0.1:{port}"),
            Self::Lmstudio => "turn off \"Serve on Local Network\" in LM Studio's server settings (`lms server start` binds 127.0.0.1)".into(),
            Self::Vllm | Self::Sglang => format!("restart it with `--host 127.0.0.1 --port {port}`"),
            Self::Mlx => format!("restart it with `--host 127.0.0.1 --port {port}`"),
            Self::Litellm => format!("restart the proxy with `--host 127.0.0.1 --port {port}`"),
            Self::Tinygrad => format!(
                "tinygrad's --serve has no host option and binds every address: drop outside traffic to it \
                 (`iptables -I INPUT -p tcp --dport {port} ! -i lo -j DROP`) or run it in a container publishing \
                 127.0.0.1:{port} only"
            ),
            Self::Openai => format!("restart it bound to 127.0.0.1 (llama-cpp-python: `--host 127.0.0.1 --port {port}`)"),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One model a server offers, with what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ServedModel {
    pub id: String,
    /// The context the server gives a request for this model (`None`: it does not say).
    pub context: Option<u32>,
    /// The context the model was trained for, when the server tells it.
    pub trained_context: Option<u32>,
    /// Whether the model takes tools (`None`: the server does not say).
    pub tools: Option<bool>,
    /// Whether it is loaded now, where the server loads on demand (LM Studio, Ollama).
    pub loaded: Option<bool>,
}

/// A server that answered.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Served {
    pub kind: Kind,
    /// The base URL OpenClaw uses (`/v1` for OpenAI-compatible kinds, none for Ollama).
    pub url: String,
    pub version: Option<String>,
    pub models: Vec<ServedModel>,
    /// Known traps seen while asking (a server on every interface, a context below OpenClaw's minimum, …).
    pub warnings: Vec<String>,
}

/// Where to look for `kind` when no `--url` is given: `CLAWLOCAL_<KIND>_URL` (also how tests point at servers on
/// free ports), Ollama's own `OLLAMA_HOST`, else the kind's default address.
pub fn default_address(host: &dyn crate::host::Host, kind: Kind) -> Option<String> {
    let var = format!("CLAWLOCAL_{}_URL", kind.as_str().to_ascii_uppercase());
    if let Some(url) = host.env_nonempty(&var) {
        return Some(url);
    }
    if kind == Kind::Ollama
        && let Some(h) = host.env_nonempty("OLLAMA_HOST")
    {
        return Some(if h.contains("://") { h } else { format!("http://{h}") });
    }
    kind.default_url().map(String::from)
}

/// The command line of the local process listening on `port`, where `/proc` shows it.
pub fn local_cmdline(host: &dyn crate::host::Host, port: u16) -> Option<String> {
    crate::ports::holder(host, port)?.command
}

/// The base URL OpenClaw needs for `kind` from what the user gave: Ollama's native API has no `/v1` (through
/// `/v1` tool calls arrive as text), the OpenAI-compatible kinds end in `/v1`.
pub fn base_url(kind: Kind, given: &str) -> String {
    let trimmed = given.trim_end_matches('/');
    match kind.api() {
        Api::Ollama => trimmed.strip_suffix("/v1").unwrap_or(trimmed).to_string(),
        Api::OpenaiCompletions if trimmed.ends_with("/v1") => trimmed.to_string(),
        Api::OpenaiCompletions => format!("{trimmed}/v1"),
    }
}

/// Whether a URL's host is this machine (OpenClaw trusts loopback; any other private host needs
/// `request.allowPrivateNetwork`).
pub fn is_loopback(url: &str) -> bool {
    let authority = url.split("://").nth(1).unwrap_or(url).split(['/', '?']).next().unwrap_or("");
    // `[::1]:4000`, `127.0.0.1:8000`, `localhost`: the host is what precedes a trailing `:port`.
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// OpenClaw refuses a context window below this (`CONTEXT_WINDOW_HARD_MIN_TOKENS`).
pub const OPENCLAW_MIN_CONTEXT: u32 = 16_000;
/// The window written when the server takes the context per request (Ollama) and none is asked for.
pub const DEFAULT_WINDOW: u32 = 32_768;

/// The model to point OpenClaw at: the one asked for, else the server's only one (or its only loaded one).
pub fn choose_model<'a>(served: &'a Served, wanted: Option<&str>) -> crate::error::Result<&'a ServedModel> {
    use crate::error::Error;
    let names = || served.models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(id) = wanted {
        return served.models.iter().find(|m| m.id == id).ok_or_else(|| {
            Error::usage(format!("{} at {} has no model {id:?}; it has: {}", served.kind.label(), served.url, names()))
        });
    }
    let loaded: Vec<&ServedModel> = served.models.iter().filter(|m| m.loaded == Some(true)).collect();
    match (served.models.as_slice(), loaded.as_slice()) {
        ([only], _) => Ok(only),
        (_, [only]) => Ok(*only),
        ([], _) => Err(Error::usage(format!("{} at {} serves no model", served.kind.label(), served.url))),
        _ => Err(Error::usage(format!("{} at {} serves several models: {}", served.kind.label(), served.url, names()))
            .with_hint("pick one with --model ID")),
    }
}

/// The context window to write for `model` (the context contract): never above what the server serves, at
/// least OpenClaw's minimum, else refused with the backend's own fix. `asked` is `--context`.
pub fn contract(kind: Kind, model: &ServedModel, asked: Option<u32>) -> crate::error::Result<u32> {
    use crate::error::Error;
    if kind == Kind::Lmstudio && model.loaded == Some(false) {
        return Err(Error::usage(format!(
            "LM Studio has {} but it is not loaded: it would load with its default context",
            model.id
        ))
        .with_hint(format!("`lms load {} --context-length 32768`, then run this again", model.id)));
    }
    let (window, limit_word) = match (model.context, kind) {
        // Served per request up to what the model was trained for: OpenClaw sends `num_ctx`.
        (_, Kind::Ollama) => {
            let trained = model.trained_context.unwrap_or(DEFAULT_WINDOW);
            (
                asked.unwrap_or(DEFAULT_WINDOW.min(trained)).min(trained),
                format!("{} was trained for {trained}", model.id),
            )
        }
        (Some(served), _) => (asked.unwrap_or(served), format!("the server serves {served}")),
        (None, _) => match asked {
            Some(n) => (n, String::new()),
            None => {
                return Err(Error::usage(format!("{} does not say what context it serves {}", kind.label(), model.id))
                    .with_hint("pass --context N: the context the server was started with"));
            }
        },
    };
    if let (Some(asked), Some(served)) = (asked, model.context.filter(|_| kind != Kind::Ollama))
        && asked > served
    {
        return Err(Error::usage(format!(
            "--context {asked} is above the {served} tokens {} serves for {}",
            kind.label(),
            model.id
        ))
        .with_hint(kind.context_fix(&model.id)));
    }
    if window < OPENCLAW_MIN_CONTEXT {
        let why = if limit_word.is_empty() { String::new() } else { format!(" ({limit_word})") };
        return Err(Error::usage(format!(
            "{} serves {} with a context of {window} tokens{why}, below OpenClaw's minimum of {OPENCLAW_MIN_CONTEXT}",
            kind.label(),
            model.id
        ))
        .with_hint(kind.context_fix(&model.id)));
    }
    Ok(window)
}

/// Whether an `apiKey` value is a non-secret marker (clawlocal's, a provider's own, OpenClaw's local ones) rather
/// than a key someone could use.
pub fn is_key_marker(key: &str) -> bool {
    ["ollama-local", "lmstudio", "vllm-local", "sglang-local", "clawlocal-no-key", "custom-local", "secretref-managed"]
        .contains(&key)
}

/// What goes into `apiKey` when the server needs no key: the marker OpenClaw's own docs use for that provider.
pub fn key_marker(kind: Kind) -> &'static str {
    match kind {
        Kind::Ollama => "ollama-local",
        Kind::Lmstudio => "lmstudio",
        Kind::Vllm => "vllm-local",
        Kind::Sglang => "sglang-local",
        _ => "clawlocal-no-key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_follow_the_api_each_kind_is_spoken_through() {
        assert_eq!(base_url(Kind::Ollama, "http://127.0.0.1:11434/v1/"), "http://127.0.0.1:11434");
        assert_eq!(base_url(Kind::Ollama, "http://box:11434"), "http://box:11434");
        assert_eq!(base_url(Kind::Vllm, "http://127.0.0.1:8000"), "http://127.0.0.1:8000/v1");
        assert_eq!(base_url(Kind::Lmstudio, "http://127.0.0.1:1234/v1"), "http://127.0.0.1:1234/v1");
        for kind in Kind::ALL {
            if let Some(url) = kind.default_url() {
                assert_eq!(base_url(kind, url), url, "{kind}: the default is already what OpenClaw needs");
            }
        }
    }

    fn model(context: Option<u32>, trained: Option<u32>, loaded: Option<bool>) -> ServedModel {
        ServedModel { id: "m".into(), context, trained_context: trained, tools: None, loaded }
    }

    #[test]
    fn the_context_written_is_never_above_what_is_served_nor_below_openclaws_minimum() {
        type Case = (&'static str, Kind, ServedModel, Option<u32>, std::result::Result<u32, &'static str>);
        let cases: Vec<Case> = vec![
            ("vLLM serves 32768", Kind::Vllm, model(Some(32768), None, None), None, Ok(32768)),
            ("asked for less", Kind::Vllm, model(Some(32768), None, None), Some(20000), Ok(20000)),
            ("asked for more", Kind::Vllm, model(Some(32768), None, None), Some(65536), Err("--max-model-len")),
            ("vLLM max_model_len 8192", Kind::Vllm, model(Some(8192), None, None), None, Err("--max-model-len 32768")),
            ("tinygrad default", Kind::Tinygrad, model(Some(4096), None, None), None, Err("--max_context 32768")),
            ("Ollama per request", Kind::Ollama, model(Some(4096), Some(40960), None), None, Ok(32768)),
            ("Ollama small model", Kind::Ollama, model(None, Some(8192), None), None, Err("OLLAMA_CONTEXT_LENGTH")),
            ("Ollama capped at trained", Kind::Ollama, model(None, Some(20000), None), Some(65536), Ok(20000)),
            ("LM Studio loaded", Kind::Lmstudio, model(Some(32768), Some(40960), Some(true)), None, Ok(32768)),
            (
                "LM Studio 4096",
                Kind::Lmstudio,
                model(Some(4096), Some(40960), Some(true)),
                None,
                Err("lms load m --context-length"),
            ),
            ("LM Studio not loaded", Kind::Lmstudio, model(None, Some(40960), Some(false)), None, Err("not loaded")),
            ("MLX says nothing", Kind::Mlx, model(None, None, None), None, Err("pass --context N")),
            ("MLX told", Kind::Mlx, model(None, None, None), Some(32768), Ok(32768)),
        ];
        for (name, kind, m, asked, want) in cases {
            let got = contract(kind, &m, asked);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{name}"),
                (Err(part), Err(e)) => assert!(
                    e.message.contains(part) || e.hint.as_deref().is_some_and(|h| h.contains(part)),
                    "{name}: {} / {:?}",
                    e.message,
                    e.hint
                ),
                (want, got) => panic!("{name}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn loopback_hosts_are_told_from_private_ones() {
        for url in ["http://127.0.0.1:8000/v1", "http://localhost:1234", "http://[::1]:4000/v1", "http://127.0.0.2"] {
            assert!(is_loopback(url), "{url}");
        }
        for url in ["http://192.168.1.20:11434", "http://gpu-box:8000/v1", "http://10.0.0.5"] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
