//! `clawlocal backends` and `init --backend K` against the servers users already run: FAKE Ollama, LM Studio,
//! vLLM, SGLang, MLX and LiteLLM (tests/it/support/fakes, one module each), each on a free loopback port that
//! `CLAWLOCAL_<KIND>_URL` names as the kind's default address.

use crate::support::fakes::{FakeServer, litellm, lmstudio, mlx, ollama, sglang, vllm};
use crate::support::{Ctx, finish};

/// Every fake, with the env var that makes its address the kind's default.
fn every_fake() -> Vec<(&'static str, FakeServer)> {
    vec![
        ("OLLAMA", ollama::Ollama::default().start()),
        ("LMSTUDIO", lmstudio::LmStudio::default().start()),
        ("VLLM", vllm::Vllm::default().start()),
        ("SGLANG", sglang::Sglang::default().start()),
        ("MLX", mlx::Mlx::default().start()),
        ("LITELLM", litellm::Litellm::default().start()),
    ]
}

#[test]
fn backends_finds_every_server_on_its_default_address_with_models_context_and_tools() {
    let ctx = Ctx::new();
    let fakes = every_fake();
    let mut cmd = ctx.command();
    for (kind, fake) in &fakes {
        cmd.env(format!("CLAWLOCAL_{kind}_URL"), &fake.url);
    }
    // Nothing listens on the defaults of the kinds without a fake here (tinygrad shares vLLM's).
    cmd.env("CLAWLOCAL_TINYGRAD_URL", &fakes[2].1.url);
    let run = finish(cmd.args(["--json", "backends"]).output().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let found = doc["backends"].as_array().unwrap();
    let by_kind =
        |kind: &str| found.iter().find(|b| b["kind"] == kind).unwrap_or_else(|| panic!("{kind} not found: {doc:#}"));
    for (kind, fake) in &fakes {
        let b = by_kind(&kind.to_ascii_lowercase());
        assert!(b["url"].as_str().unwrap().starts_with(&fake.url), "{kind}: {b}");
        assert_eq!(b["models"].as_array().unwrap().len(), 1, "{kind}: {b}");
    }
    let ollama = by_kind("ollama");
    assert_eq!(ollama["url"], fakes[0].1.url, "Ollama's native API: no /v1");
    assert_eq!(ollama["version"], "0.12.6");
    assert_eq!(
        (ollama["models"][0]["trained_context"].as_u64(), ollama["models"][0]["tools"].as_bool()),
        (Some(40960), Some(true))
    );
    let lms = &by_kind("lmstudio")["models"][0];
    assert_eq!((lms["context"].as_u64(), lms["loaded"].as_bool()), (Some(32768), Some(true)));
    assert_eq!(by_kind("vllm")["models"][0]["context"], 32768);
    assert_eq!(by_kind("sglang")["models"][0]["context"], 32768);
    assert_eq!(by_kind("mlx")["models"][0]["context"], serde_json::Value::Null, "MLX does not say");
    assert_eq!(found.len(), fakes.len(), "each server once, under its own kind: {doc:#}");
    for (kind, fake) in &fakes {
        let paths = fake.paths();
        assert!(!paths.iter().any(|p| p.contains("chat")), "{kind}: asking what is served runs no model: {paths:?}");
    }

    let text = finish(ctx.command().env("CLAWLOCAL_OLLAMA_URL", &fakes[0].1.url).arg("backends").output().unwrap());
    assert!(text.stdout.contains("Ollama 0.12.6 at") && text.stdout.contains("qwen3:8b"), "{}", text.stdout);
    assert!(text.stdout.contains("context per request (trained 40960)  tools"), "{}", text.stdout);
}

/// `openclaw infer model run --local` through the config's primary model: the real OpenClaw speaking the
/// provider's API to the server.
fn infer(openclaw: &std::path::Path, config: &std::path::Path, model_ref: &str) -> serde_json::Value {
    let out = std::process::Command::new(openclaw)
        .args(["infer", "model", "run", "--local", "--model", model_ref, "--prompt", "Say hello", "--json"])
        .env("OPENCLAW_CONFIG_PATH", config)
        .env("OPENCLAW_STATE_DIR", config.parent().unwrap().join("infer-state"))
        .env("HOME", config.parent().unwrap())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// For every kind with a FAKE server, and the REAL llama-server as `openai`: `openclaw patch --backend K` reads
/// the model and its context from the server and writes the entry OpenClaw needs for that kind (Ollama's native
/// API without `/v1` and with `params.num_ctx`; openai-completions with `/v1` for the rest); the REAL OpenClaw CLI
/// validates the file, and answers through Ollama's and vLLM's fakes and the real llama-server; `unpatch` gives
/// the file back byte for byte. The traps are refused before anything is written, with the backend's own fix.
#[test]
#[cfg_attr(
    any(missing_openclaw, missing_llama_server),
    ignore = "needs the OpenClaw CLI and llama-server (README: Real components in the tests)"
)]
fn openclaw_patch_backend_writes_each_kinds_entry_and_the_real_openclaw_takes_it() {
    let test = "openclaw_patch_backend_writes_each_kinds_entry_and_the_real_openclaw_takes_it";
    let (Some(openclaw), Some(llama)) =
        (crate::support::parts::openclaw(test), crate::support::parts::llama_server(test))
    else {
        return;
    };
    let ctx = Ctx::new();
    let model = ctx.dir.path().join("tiny.gguf");
    crate::support::gguf::TinyModel::default().write(&model).unwrap();
    let server = crate::support::parts::Server::start(&llama, &model, "tiny", 16_384, ctx.dir.path());
    let original = b"{\n  \"gateway\": { \"mode\": \"local\" }\n}\n".to_vec();
    let fakes = every_fake();
    let patch = |kind: &str, env: Option<(&str, &str)>, extra: &[&str]| {
        let dir = ctx.dir.path().join(format!("oc-{kind}"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("openclaw.json");
        std::fs::write(&config, &original).unwrap();
        std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let mut cmd = ctx.command();
        cmd.env("XDG_STATE_HOME", dir.join("state")).env("CLAWLOCAL_OPENCLAW", &openclaw);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let mut args = vec!["--scope", "user", "openclaw", "patch", "--backend", kind, "--config"];
        args.push(config.to_str().unwrap());
        args.extend(["--role", "primary"]);
        args.extend(extra);
        (finish(cmd.args(&args).output().unwrap()), config, dir)
    };
    // Ollama's native API is OpenClaw's bundled `ollama` provider's: the entry goes there; the rest under clawlocal.
    let provider_of = |kind: &str| if kind == "ollama" { "ollama" } else { "clawlocal" };
    let entry_of = |config: &std::path::Path, kind: &str| -> serde_json::Value {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(config).unwrap()).unwrap();
        doc["models"]["providers"][provider_of(kind)].clone()
    };
    let llama_url = format!("{}/v1", server.url());
    type Case = (String, Option<(String, String)>, Vec<String>);
    let mut cases: Vec<Case> = fakes
        .iter()
        .map(|(kind, fake)| {
            (kind.to_ascii_lowercase(), Some((format!("CLAWLOCAL_{kind}_URL"), fake.url.clone())), vec![])
        })
        .collect();
    cases.push(("openai".into(), None, vec!["--base-url".into(), llama_url.clone()]));
    for (kind, env, extra) in &cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        // MLX and LiteLLM do not say what context they serve: it is given.
        let mut extra = extra.clone();
        if kind == "mlx" || kind == "litellm" {
            extra.extend(["--context-window", "32768"]);
        }
        let (run, config, dir) = patch(kind, env.as_ref().map(|(k, v)| (k.as_str(), v.as_str())), &extra);
        assert_eq!(run.code, 0, "{kind}: {}", run.stderr);
        let p = entry_of(&config, kind);
        let m = &p["models"][0];
        match kind.as_str() {
            "ollama" => {
                assert_eq!(
                    (p["api"].as_str(), p["baseUrl"].as_str()),
                    (Some("ollama"), Some(fakes[0].1.url.as_str())),
                    "{p}"
                );
                assert_eq!(
                    (m["contextWindow"].as_u64(), m["params"]["num_ctx"].as_u64()),
                    (Some(32768), Some(32768)),
                    "{p}"
                );
                assert_eq!(p["apiKey"], "ollama-local");
            }
            "openai" => {
                assert_eq!(
                    (p["api"].as_str(), p["baseUrl"].as_str()),
                    (Some("openai-completions"), Some(llama_url.as_str()))
                );
                assert_eq!(m["contextWindow"], 16384, "llama-server's /props: {p}");
            }
            _ => {
                assert_eq!(p["api"], "openai-completions", "{kind}: {p}");
                assert!(p["baseUrl"].as_str().unwrap().ends_with("/v1"), "{kind}: {p}");
                assert_eq!(m["contextWindow"], 32768, "{kind}: {p}");
                assert!(m["params"].is_null(), "{kind}: num_ctx is Ollama's: {p}");
            }
        }
        let verdict = crate::support::parts::openclaw_validate(&openclaw, &config);
        assert_eq!(verdict["valid"], true, "{kind}: {verdict}");
        if matches!(kind.as_str(), "ollama" | "vllm" | "openai") {
            let answer = infer(&openclaw, &config, &format!("{}/{}", provider_of(kind), m["id"].as_str().unwrap()));
            assert_eq!(answer["ok"], true, "{kind}: {answer}");
            let text = answer["outputs"][0]["text"].as_str().unwrap_or_default();
            assert!(!text.trim().is_empty(), "{kind}: {answer}");
        }
        let mut cmd = ctx.command();
        cmd.env("XDG_STATE_HOME", dir.join("state"));
        let undo = finish(
            cmd.args(["--scope", "user", "openclaw", "unpatch", "--config", config.to_str().unwrap()])
                .output()
                .unwrap(),
        );
        assert_eq!(undo.code, 0, "{kind}: {}", undo.stderr);
        assert_eq!(std::fs::read(&config).unwrap(), original, "{kind}: unpatch gives the file back byte for byte");
    }
    let ollama_chat = fakes[0].1.paths();
    assert!(ollama_chat.iter().any(|p| p == "/api/chat"), "OpenClaw spoke Ollama's native API: {ollama_chat:?}");

    // The traps: refused before anything is written, with the backend's own fix.
    let small_vllm = vllm::Vllm { max_model_len: 8192, ..Default::default() }.start();
    let unloaded = lmstudio::LmStudio { loaded_context: None, ..Default::default() }.start();
    let traps = [
        ("vllm", ("CLAWLOCAL_VLLM_URL", small_vllm.url.clone()), "--max-model-len 32768"),
        ("lmstudio", ("CLAWLOCAL_LMSTUDIO_URL", unloaded.url.clone()), "lms load qwen/qwen3-8b --context-length 32768"),
    ];
    for (kind, (var, url), fix) in &traps {
        let (run, config, _) = patch(kind, Some((var, url)), &[]);
        assert_eq!(run.code, 2, "{kind}: {}", run.stderr);
        assert!(run.stderr.contains(fix), "{kind}: {}", run.stderr);
        assert_eq!(std::fs::read(&config).unwrap(), original, "{kind}: nothing written");
    }
    // An Ollama URL given with /v1 (tool calls would arrive as text) is written as the native API's.
    let (run, config, _) = patch("ollama", None, &["--base-url", &format!("{}/v1", fakes[0].1.url)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(entry_of(&config, "ollama")["baseUrl"], fakes[0].1.url.as_str());
    drop(server);
}

/// A FAKE tinygrad: a Python process whose command line is tinygrad's (`tinygrad.llm --max_context N --serve
/// PORT`) answering `/v1/models` as tinygrad 0.13's server does, which names the model only. clawlocal reads the
/// context from the listening process's command line: at tinygrad's default 4096 the patch is refused with
/// tinygrad's fix and nothing is written; at 32768 it is written, with the warning that tinygrad listens on every
/// interface.
#[test]
fn tinygrads_context_is_read_from_its_command_line_and_its_default_is_refused() {
    let ctx = Ctx::new();
    let original = b"{}\n".to_vec();
    let config = ctx.dir.path().join("openclaw.json");
    let run_with = |max_context: &str| {
        let (mut child, url) = fake_tinygrad(&ctx, max_context, "127.0.0.1");
        std::fs::write(&config, &original).unwrap();
        let run = finish(
            ctx.command()
                .env("XDG_STATE_HOME", ctx.dir.path().join("state"))
                .env("CLAWLOCAL_TINYGRAD_URL", &url)
                .args(["--scope", "user", "openclaw", "patch", "--backend", "tinygrad", "--config"])
                .arg(&config)
                .output()
                .unwrap(),
        );
        let _ = child.kill();
        let _ = child.wait();
        run
    };
    let refused = run_with("4096");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("a context of 4096 tokens"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--max_context 32768"), "tinygrad's own fix: {}", refused.stderr);
    assert_eq!(std::fs::read(&config).unwrap(), original, "nothing written");

    let written = run_with("32768");
    assert_eq!(written.code, 0, "{}", written.stderr);
    assert!(written.stderr.contains("every interface"), "{}", written.stderr);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let m = &doc["models"]["providers"]["clawlocal"]["models"][0];
    assert_eq!((m["id"].as_str(), m["contextWindow"].as_u64()), (Some("tiny-random-llama"), Some(32768)), "{doc}");
}

/// A FAKE tinygrad server: a Python process whose command line is tinygrad 0.13's (`-m tinygrad.llm --max_context N
/// --serve PORT`), bound to `bind` (the real one binds every address), answering `/v1/models` with the model name
/// only, every other GET with a page (200), and chat completions (a tool call when tools are offered, which the
/// real one cannot).
fn fake_tinygrad(ctx: &Ctx, max_context: &str, bind: &str) -> (std::process::Child, String) {
    let script = ctx.write(
        "fake_tinygrad.py",
        "import http.server, json, sys\n\
         port = int(sys.argv[sys.argv.index('--serve') + 1])\n\
         bind = sys.argv[sys.argv.index('--bind') + 1]\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def log_message(self, *a): pass\n\
         \x20   def reply(self, code, doc):\n\
         \x20       body = json.dumps(doc).encode()\n\
         \x20       self.send_response(code)\n\
         \x20       self.send_header('Content-Type', 'application/json')\n\
         \x20       self.send_header('Content-Length', str(len(body)))\n\
         \x20       self.end_headers()\n\
         \x20       self.wfile.write(body)\n\
         \x20   def do_GET(self):\n\
         \x20       if self.path != '/v1/models':\n\
         \x20           # As tinygrad's: every other GET is its chat page.\n\
         \x20           page = b'<html>tinygrad chat</html>'\n\
         \x20           self.send_response(200); self.send_header('Content-Type', 'text/html')\n\
         \x20           self.send_header('Content-Length', str(len(page))); self.end_headers()\n\
         \x20           return self.wfile.write(page)\n\
         \x20       self.reply(200, {'object': 'list', 'data': [{'id': 'tiny-random-llama', 'object': 'model'}]})\n\
         \x20   def do_POST(self):\n\
         \x20       req = json.loads(self.rfile.read(int(self.headers.get('Content-Length', 0))) or b'{}')\n\
         \x20       if self.path != '/v1/chat/completions': return self.reply(404, {})\n\
         \x20       tools = req.get('tools') or []\n\
         \x20       msg = {'role': 'assistant', 'content': 'hello world'}\n\
         \x20       if tools: msg = {'role': 'assistant', 'content': None, 'tool_calls': [{'id': 'c1', 'type': 'function', 'function': {'name': tools[0]['function']['name'], 'arguments': '{}'}}]}\n\
         \x20       self.reply(200, {'id': 'c1', 'object': 'chat.completion', 'model': req.get('model'), 'choices': [{'index': 0, 'message': msg, 'finish_reason': 'stop'}]})\n\
         http.server.HTTPServer((bind, port), H).serve_forever()\n",
    );
    let port = crate::support::parts::free_port();
    let child = std::process::Command::new("python3")
        .args([script.to_str().unwrap(), "-m", "tinygrad.llm", "--max_context", max_context, "--bind", bind, "--serve"])
        .arg(port.to_string())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while crate::support::http::get(&format!("{url}/v1/models")).is_err() {
        assert!(std::time::Instant::now() < deadline, "the fake tinygrad did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (child, url)
}

/// One throwaway setup for `init --backend`: its own OpenClaw config (0600) and clawlocal state.
struct Setup {
    config: std::path::PathBuf,
    state: std::path::PathBuf,
    original: Vec<u8>,
}

impl Setup {
    fn new(ctx: &Ctx, name: &str) -> Setup {
        let dir = ctx.dir.path().join(format!("setup-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("openclaw.json");
        // A hosted primary and a comment that must survive, as in a real user's file.
        let original =
            b"// my gateway\n{\n  \"gateway\": { \"mode\": \"local\" },\n  \"agents\": { \"defaults\": { \"model\": { \"primary\": \"anthropic/claude-sonnet-4-5\" } } }\n}\n"
                .to_vec();
        std::fs::write(&config, &original).unwrap();
        std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        Setup { config, state: dir.join("state"), original }
    }

    fn run(&self, ctx: &Ctx, env: &[(&str, &str)], args: &[&str]) -> crate::support::Run {
        let mut cmd = ctx.command();
        cmd.env("XDG_STATE_HOME", &self.state)
            .env("XDG_CONFIG_HOME", self.state.join("config"))
            .env("OPENCLAW_CONFIG_PATH", &self.config);
        for (k, v) in env {
            cmd.env(k, v);
        }
        finish(cmd.args(["--scope", "user"]).args(args).output().unwrap())
    }
}

fn check<'a>(doc: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no {id}: {doc:#}"))
}

fn failed(doc: &serde_json::Value) -> Vec<String> {
    doc["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail").map(|c| c["id"].to_string()).collect()
}

/// `init --backend K` for every kind against a live server — FAKE Ollama, LM Studio, vLLM, SGLang, MLX, LiteLLM and
/// tinygrad, and the REAL llama-server as `openai` — then: the real OpenClaw CLI validates openclaw.json, doctor's
/// backend checks are green (reachable, model, context, chat, a tool call in the backend's own protocol), a
/// second init changes nothing, and `uninstall` gives openclaw.json back byte for byte.
#[test]
#[cfg_attr(
    any(missing_openclaw, missing_llama_server),
    ignore = "needs the OpenClaw CLI and llama-server (README: Real components in the tests)"
)]
fn init_backend_for_every_kind_is_checked_green_and_uninstalled_byte_for_byte() {
    let test = "init_backend_for_every_kind_is_checked_green_and_uninstalled_byte_for_byte";
    let (Some(openclaw), Some(llama)) =
        (crate::support::parts::openclaw(test), crate::support::parts::llama_server(test))
    else {
        return;
    };
    let ctx = Ctx::new();
    let model = ctx.dir.path().join("tiny.gguf");
    crate::support::gguf::TinyModel::default().write(&model).unwrap();
    let server = crate::support::parts::Server::start(&llama, &model, "tiny", 16_384, ctx.dir.path());
    let fakes = every_fake();
    let (mut tinygrad, tinygrad_url) = fake_tinygrad(&ctx, "32768", "127.0.0.1");
    let oc = openclaw.to_str().unwrap().to_string();
    let mut cases: Vec<(String, Vec<String>)> = fakes
        .iter()
        .map(|(kind, fake)| (kind.to_ascii_lowercase(), vec![format!("CLAWLOCAL_{kind}_URL"), fake.url.clone()]))
        .collect();
    cases.push(("tinygrad".into(), vec!["CLAWLOCAL_TINYGRAD_URL".into(), tinygrad_url.clone()]));
    cases.push(("openai".into(), vec![]));
    for (kind, env) in &cases {
        let setup = Setup::new(&ctx, kind);
        let mut env: Vec<(&str, &str)> = env.chunks(2).map(|kv| (kv[0].as_str(), kv[1].as_str())).collect();
        env.push(("CLAWLOCAL_OPENCLAW", &oc));
        let mut args = vec!["--json", "init", "--backend", kind, "--yes"];
        let llama_url = format!("{}/v1", server.url());
        if kind == "openai" {
            args.extend(["--url", &llama_url]);
        }
        if kind == "mlx" || kind == "litellm" {
            args.extend(["--context", "32768"]);
        }
        let dry = setup.run(&ctx, &env, &[&args[..], &["--dry-run"]].concat());
        assert_eq!(dry.code, 0, "{kind}: {}", dry.stderr);
        assert_eq!(std::fs::read(&setup.config).unwrap(), setup.original, "{kind}: the dry run writes nothing");
        let planned = dry.json();
        let kinds: Vec<&str> =
            planned["actions"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["journal", "backend", "openclaw-config", "receipt"], "{kind}");

        let init = setup.run(&ctx, &env, &args);
        assert_eq!(init.code, 0, "{kind}: {}\n{}", init.stderr, init.stdout);
        let doc = init.json();
        assert_eq!(doc["ok"], true, "{kind}: {doc:#}");
        assert_eq!(doc["backend"]["kind"], kind.as_str(), "{kind}");
        let verdict = crate::support::parts::openclaw_validate(&openclaw, &setup.config);
        assert_eq!(verdict["valid"], true, "{kind}: {verdict}");
        let text = std::fs::read_to_string(&setup.config).unwrap();
        assert!(text.starts_with("// my gateway\n"), "{kind}: the comment is kept: {text}");
        assert!(text.contains("anthropic/claude-sonnet-4-5"), "{kind}: the hosted primary is kept: {text}");

        let doctor = setup.run(&ctx, &env, &["--json", "doctor"]);
        let report = doctor.json();
        assert_eq!((doctor.code, failed(&report)), (0, vec![]), "{kind}: {report:#}");
        for id in ["backend.reachable", "backend.model", "backend.chat", "openclaw.provider", "openclaw.cli"] {
            assert_eq!(check(&report, id)["status"], "pass", "{kind}: {id}: {report:#}");
        }
        // The fakes call the tool; the real servers' tiny random model may answer in text under `auto` (a warn).
        let tools = &check(&report, "backend.tools")["status"];
        assert!(tools == "pass" || (kind == "openai" && tools == "warn"), "{kind}: {report:#}");
        if kind == "ollama" {
            assert!(
                check(&report, "backend.tools")["detail"].as_str().unwrap().contains("native /api/chat"),
                "{report:#}"
            );
        }

        let again = setup.run(&ctx, &env, &args);
        assert_eq!(again.code, 0, "{kind}: {}", again.stderr);
        let changed: Vec<String> = again.json()["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["status"] != "unchanged")
            .map(|a| a.to_string())
            .collect();
        assert!(changed.is_empty(), "{kind}: a second init changes nothing: {changed:?}");

        let gone = setup.run(&ctx, &env, &["uninstall", "--yes"]);
        assert_eq!(gone.code, 0, "{kind}: {}", gone.stderr);
        assert_eq!(std::fs::read(&setup.config).unwrap(), setup.original, "{kind}: uninstall restores byte for byte");
        let status = setup.run(&ctx, &env, &["status"]);
        assert!(status.stdout.contains("not installed"), "{kind}: {}", status.stdout);
    }
    let _ = tinygrad.kill();
    let _ = tinygrad.wait();
    drop(server);
}

/// The traps, each after a good `init --backend`: the named doctor check fails with its fix and doctor exits 1 —
/// an Ollama provider edited onto `/v1`, vLLM started without `--enable-auto-tool-choice` (400 on `tool_choice:
/// auto`), LM Studio's model unloaded since, tinygrad listening on every interface. And tinygrad at its default
/// `--max_context 4096`: init is blocked before anything is written. All against FAKE servers.
#[test]
fn each_backend_trap_fails_its_named_check_with_the_fix() {
    let ctx = Ctx::new();
    let doctor_fails = |setup: &Setup, env: &[(&str, &str)], id: &str, fix: &str| {
        let doctor = setup.run(&ctx, env, &["--json", "doctor"]);
        let report = doctor.json();
        assert_eq!(doctor.code, 1, "{id}: {report:#}");
        let c = check(&report, id);
        assert_eq!(c["status"], "fail", "{id}: {report:#}");
        assert!(c["fix"].as_str().unwrap_or("").contains(fix), "{id}: {c:#}");
    };

    // Ollama through /v1: tool calls would arrive as text.
    let ollama = ollama::Ollama::default().start();
    let setup = Setup::new(&ctx, "ollama-v1");
    let env = [("CLAWLOCAL_OLLAMA_URL", ollama.url.as_str())];
    let init = setup.run(&ctx, &env, &["init", "--backend", "ollama", "--yes"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let edited = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("\"api\": \"ollama\"", "\"api\": \"openai-completions\"")
        .replace(&format!("\"baseUrl\": \"{}\"", ollama.url), &format!("\"baseUrl\": \"{}/v1\"", ollama.url));
    std::fs::write(&setup.config, edited).unwrap();
    doctor_fails(&setup, &env, "openclaw.provider", "without /v1 and api \"ollama\"");
    // `doctor --fix` runs init --backend's plan again from the receipt: the native entry is back.
    let fixed = setup.run(&ctx, &env, &["--json", "doctor", "--fix"]);
    assert_eq!(fixed.code, 0, "{}", fixed.stdout);
    assert_eq!(fixed.json()["repairs"][0]["status"], "done", "{}", fixed.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&setup.config).unwrap().replace("// my gateway\n", "")).unwrap();
    assert_eq!(doc["models"]["providers"]["ollama"]["api"], "ollama", "{doc}");

    // vLLM without --enable-auto-tool-choice: init's own doctor already says so (exit 1).
    let vllm = vllm::Vllm { auto_tool_choice: false, ..Default::default() }.start();
    let setup = Setup::new(&ctx, "vllm-tools");
    let env = [("CLAWLOCAL_VLLM_URL", vllm.url.as_str())];
    let init = setup.run(&ctx, &env, &["init", "--backend", "vllm", "--yes"]);
    assert_eq!(init.code, 1, "{}\n{}", init.stdout, init.stderr);
    assert!(init.stdout.contains("backend.tools"), "{}", init.stdout);
    doctor_fails(&setup, &env, "backend.tools", "--enable-auto-tool-choice --tool-call-parser");

    // LM Studio: loaded at init, unloaded since.
    let lms = lmstudio::LmStudio::default().start();
    let setup = Setup::new(&ctx, "lmstudio-unloaded");
    let env = [("CLAWLOCAL_LMSTUDIO_URL", lms.url.as_str())];
    assert_eq!(setup.run(&ctx, &env, &["init", "--backend", "lmstudio", "--yes"]).code, 0);
    lms.become_(lmstudio::LmStudio { loaded_context: None, ..Default::default() }.start());
    doctor_fails(&setup, &env, "backend.model", "lms load qwen/qwen3-8b --context-length 32768");

    // tinygrad on every interface.
    let (mut open, url) = fake_tinygrad(&ctx, "32768", "0.0.0.0");
    let setup = Setup::new(&ctx, "tinygrad-open");
    let env = [("CLAWLOCAL_TINYGRAD_URL", url.as_str())];
    let init = setup.run(&ctx, &env, &["init", "--backend", "tinygrad", "--yes"]);
    assert_eq!(init.code, 1, "{}\n{}", init.stdout, init.stderr);
    doctor_fails(&setup, &env, "security.bind", "no host option");
    let _ = open.kill();
    let _ = open.wait();

    // tinygrad at its default context: blocked before anything is written, with tinygrad's own fix.
    let (mut small, url) = fake_tinygrad(&ctx, "4096", "127.0.0.1");
    let setup = Setup::new(&ctx, "tinygrad-4096");
    let env = [("CLAWLOCAL_TINYGRAD_URL", url.as_str())];
    let init = setup.run(&ctx, &env, &["init", "--backend", "tinygrad", "--yes"]);
    assert_eq!(init.code, 2, "{}", init.stderr);
    assert!(init.stderr.contains("--max_context 32768"), "{}", init.stderr);
    assert_eq!(std::fs::read(&setup.config).unwrap(), setup.original, "nothing written");
    assert!(!setup.state.join("clawlocal/receipt.json").exists(), "no receipt either");
    let _ = small.kill();
    let _ = small.wait();
}

/// `init --backend` → the REAL OpenClaw answers through the server → `uninstall` gives openclaw.json back byte
/// for byte; `backends --json` finds the server first. The doctor report after init is returned.
fn init_answer_uninstall(
    ctx: &Ctx,
    setup: &Setup,
    env: &[(&str, &str)],
    kind: &str,
    extra: &[&str],
    openclaw: &std::path::Path,
) -> serde_json::Value {
    let found = setup.run(ctx, env, &[&["--json", "backends"], extra].concat());
    assert_eq!(found.code, 0, "{kind}: {}", found.stderr);
    let listed = found.json();
    let b = listed["backends"].as_array().unwrap().iter().find(|b| b["kind"] == kind);
    let b = b.unwrap_or_else(|| panic!("{kind} not found: {listed:#}"));
    let model = b["models"][0]["id"].as_str().unwrap().to_string();

    let init = setup.run(ctx, env, &[&["--json", "init", "--backend", kind, "--yes"], extra].concat());
    let verdict = crate::support::parts::openclaw_validate(openclaw, &setup.config);
    assert_eq!(verdict["valid"], true, "{kind}: {verdict}\n{}", init.stdout);
    let answer = infer(openclaw, &setup.config, &format!("clawlocal/{model}"));
    assert_eq!(answer["ok"], true, "{kind}: {answer}");
    let text = answer["outputs"][0]["text"].as_str().unwrap_or_default().to_string();
    // The test model's greedy reply (tests/it/support/gguf.rs, `says_hello`).
    assert_eq!(text.trim(), "hello", "{kind}: the real OpenClaw got the model's answer through the server: {answer}");

    let doctor = setup.run(ctx, env, &["--json", "doctor"]);
    let report = doctor.json();
    let gone = setup.run(ctx, env, &["uninstall", "--yes"]);
    assert_eq!(gone.code, 0, "{kind}: {}", gone.stderr);
    assert_eq!(std::fs::read(&setup.config).unwrap(), setup.original, "{kind}: uninstall restores byte for byte");
    report
}

/// The REAL tinygrad (PyPI 0.13.0, CPU through DEV=CPU:X86) serving the test's GGUF (a byte-level BPE vocabulary,
/// which tinygrad's tokenizer needs). Started with its default `--max_context 4096`, `init --backend tinygrad` is
/// blocked before anything is written, with tinygrad's fix; restarted with `--max_context 32768`, init writes the
/// entry, the real OpenClaw answers through it, and doctor names the one real trap left: tinygrad listens on every
/// interface (it has no host option).
#[test]
#[cfg_attr(
    any(missing_openclaw, missing_tinygrad),
    ignore = "needs the OpenClaw CLI and tinygrad (README: Real components in the tests)"
)]
fn real_tinygrad_is_blocked_at_its_default_context_and_answers_openclaw_at_32768() {
    let test = "real_tinygrad_is_blocked_at_its_default_context_and_answers_openclaw_at_32768";
    let (Some(openclaw), Some(python)) =
        (crate::support::parts::openclaw(test), crate::support::parts::tinygrad_python(test))
    else {
        return;
    };
    let ctx = Ctx::new();
    let model = ctx.dir.path().join("tiny-bpe.gguf");
    crate::support::gguf::TinyModel { bpe: true, ..Default::default() }.write(&model).unwrap();
    let serve = |max_context: Option<&str>| {
        let port = crate::support::parts::free_port();
        let log = ctx.dir.path().join(format!("tinygrad-{port}.log"));
        let mut cmd = std::process::Command::new(&python);
        cmd.args(["-m", "tinygrad.llm", "--model"]).arg(&model);
        if let Some(n) = max_context {
            cmd.args(["--max_context", n]);
        }
        let child = cmd
            .args(["--serve", &port.to_string()])
            .env("DEV", "CPU:X86")
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let wait = std::time::Duration::from_secs(180);
        crate::support::parts::Server::adopt_at(child, port, log, "/v1/models", wait)
    };
    let oc = openclaw.to_str().unwrap().to_string();

    let small = serve(None);
    let setup = Setup::new(&ctx, "real-tinygrad-4096");
    let url = small.url();
    let env = [("CLAWLOCAL_TINYGRAD_URL", url.as_str()), ("CLAWLOCAL_OPENCLAW", oc.as_str())];
    let init = setup.run(&ctx, &env, &["init", "--backend", "tinygrad", "--yes"]);
    assert_eq!(init.code, 2, "{}", init.stderr);
    assert!(init.stderr.contains("a context of 4096 tokens"), "{}", init.stderr);
    assert!(init.stderr.contains("--max_context 32768"), "tinygrad's own fix: {}", init.stderr);
    assert_eq!(std::fs::read(&setup.config).unwrap(), setup.original, "nothing written");
    assert!(!setup.state.join("clawlocal/receipt.json").exists(), "no receipt either");
    drop(small);

    let server = serve(Some("32768"));
    let setup = Setup::new(&ctx, "real-tinygrad-32768");
    let url = server.url();
    let env = [("CLAWLOCAL_TINYGRAD_URL", url.as_str()), ("CLAWLOCAL_OPENCLAW", oc.as_str())];
    let report = init_answer_uninstall(&ctx, &setup, &env, "tinygrad", &[], &openclaw);
    assert_eq!(failed(&report), ["\"security.bind\""], "only the open bind fails: {report:#}");
    assert!(check(&report, "security.bind")["fix"].as_str().unwrap().contains("no host option"), "{report:#}");
    for id in ["backend.reachable", "backend.model", "backend.context", "backend.chat", "openclaw.provider"] {
        assert_eq!(check(&report, id)["status"], "pass", "{id}: {report:#}");
    }
    assert!(check(&report, "backend.context")["detail"].as_str().unwrap().contains("32768"), "{report:#}");
    // tinygrad's server has no tool calls: the tool request is answered in text, which doctor says.
    assert_eq!(check(&report, "backend.tools")["status"], "warn", "{report:#}");
}

/// The REAL llama-cpp-python server (PyPI sdist, built on CPU) as `--backend openai`: its context read from its
/// own command line (`--n_ctx 16384`; it does not report it), the entry written, the real OpenClaw answering
/// through it, doctor green, `uninstall` byte for byte.
#[test]
#[cfg_attr(
    any(missing_openclaw, missing_llama_cpp_python),
    ignore = "needs the OpenClaw CLI and llama-cpp-python (README: Real components in the tests)"
)]
fn real_llama_cpp_python_server_answers_openclaw_through_init_backend_openai() {
    let test = "real_llama_cpp_python_server_answers_openclaw_through_init_backend_openai";
    let (Some(openclaw), Some(python)) =
        (crate::support::parts::openclaw(test), crate::support::parts::llama_cpp_python(test))
    else {
        return;
    };
    let ctx = Ctx::new();
    let model = ctx.dir.path().join("tiny.gguf");
    // A reply of one word: llama-cpp-python's server generates slowly, and OpenClaw asks for up to maxTokens.
    crate::support::gguf::TinyModel { says_hello: true, ..Default::default() }.write(&model).unwrap();
    let port = crate::support::parts::free_port();
    let log = ctx.dir.path().join("llama-cpp-python.log");
    let child = std::process::Command::new(&python)
        .args(["-m", "llama_cpp.server", "--model"])
        .arg(&model)
        .args(["--model_alias", "tiny", "--n_ctx", "16384", "--n_threads", "1", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server =
        crate::support::parts::Server::adopt_at(child, port, log, "/v1/models", std::time::Duration::from_secs(120));
    let oc = openclaw.to_str().unwrap().to_string();
    let setup = Setup::new(&ctx, "real-llama-cpp-python");
    let url = format!("{}/v1", server.url());
    let report =
        init_answer_uninstall(&ctx, &setup, &[("CLAWLOCAL_OPENCLAW", &oc)], "openai", &["--url", &url], &openclaw);
    assert_eq!(failed(&report), Vec::<String>::new(), "{report:#}");
    assert!(check(&report, "backend.context")["detail"].as_str().unwrap().contains("16384"), "{report:#}");
    assert_eq!(check(&report, "backend.chat")["status"], "pass", "{report:#}");
    drop(server);
}

/// The patch records broken after `init --backend` (a FAKE vLLM): doctor's `openclaw.records` fails with what to
/// do, and `uninstall` still takes clawlocal's provider and refs out of openclaw.json by their names; the user's
/// own contents and comment stay as they were.
#[test]
fn broken_patch_records_are_reported_and_uninstall_still_takes_clawlocals_parts_out() {
    let ctx = Ctx::new();
    let vllm = vllm::Vllm::default().start();
    let setup = Setup::new(&ctx, "broken-records");
    let env = [("CLAWLOCAL_VLLM_URL", vllm.url.as_str())];
    let init = setup.run(&ctx, &env, &["init", "--backend", "vllm", "--yes"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let records = setup.state.join("clawlocal/openclaw-patches.json");
    std::fs::write(&records, "{ \"version\": 1, \"patches\": [ {").unwrap();
    let doctor = setup.run(&ctx, &env, &["--json", "doctor"]);
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    let report = doctor.json();
    let c = check(&report, "openclaw.records");
    assert_eq!(c["status"], "fail", "{report:#}");
    assert!(c["fix"].as_str().unwrap().contains("by their names"), "{c:#}");

    let gone = setup.run(&ctx, &env, &["uninstall", "--yes"]);
    assert_eq!(gone.code, 0, "{}\n{}", gone.stdout, gone.stderr);
    assert!(gone.stderr.contains("taken out by their names"), "{}", gone.stderr);
    let text = std::fs::read_to_string(&setup.config).unwrap();
    assert!(!text.contains("clawlocal"), "no clawlocal provider or ref: {text}");
    assert!(text.starts_with("// my gateway\n"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text.replace("// my gateway\n", "")).unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&String::from_utf8_lossy(&setup.original).replace("// my gateway\n", "")).unwrap();
    assert_eq!((&doc["gateway"], &doc["agents"]), (&original["gateway"], &original["agents"]), "{text}");
    assert!(!setup.state.join("clawlocal/receipt.json").exists());
}
