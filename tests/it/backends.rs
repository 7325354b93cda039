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
/// PORT`) answering `/v1/models` as tinygrad 0.14's server does, which names the model only. clawlocal reads the
/// context from the listening process's command line: at tinygrad's default 4096 the patch is refused with
/// tinygrad's fix and nothing is written; at 32768 it is written, with the warning that tinygrad listens on every
/// interface.
#[test]
fn tinygrads_context_is_read_from_its_command_line_and_its_default_is_refused() {
    let ctx = Ctx::new();
    let script = ctx.write(
        "fake_tinygrad.py",
        "import http.server, json, sys\n\
         port = int(sys.argv[sys.argv.index('--serve') + 1])\n\
         class H(http.server.BaseHTTPRequestHandler):\n\
         \x20   def log_message(self, *a): pass\n\
         \x20   def do_GET(self):\n\
         \x20       body = json.dumps({'object': 'list', 'data': [{'id': 'tiny-random-llama', 'object': 'model'}]}).encode()\n\
         \x20       self.send_response(200 if self.path == '/v1/models' else 404)\n\
         \x20       self.send_header('Content-Length', str(len(body)))\n\
         \x20       self.end_headers()\n\
         \x20       self.wfile.write(body)\n\
         http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()\n",
    );
    let original = b"{}\n".to_vec();
    let config = ctx.dir.path().join("openclaw.json");
    let run_with = |max_context: &str| {
        let port = crate::support::parts::free_port();
        let mut child = std::process::Command::new("python3")
            .args([script.to_str().unwrap(), "-m", "tinygrad.llm", "--max_context", max_context, "--serve"])
            .arg(port.to_string())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while crate::support::http::get(&format!("{url}/v1/models")).is_err() {
            assert!(std::time::Instant::now() < deadline, "the fake tinygrad did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
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
