//! End-to-end tests against real parts: llama-server built from llama.cpp sources, a GGUF generated here,
//! and the real OpenClaw CLI. Named e2e_* so `cargo test e2e` runs exactly these.

use std::process::Command;

use serde_json::json;

use crate::support::Ctx;
use crate::support::gguf::TinyModel;
use crate::support::http;
use crate::support::parts::{self, Server};

/// Write the tiny model (training context 32768) into the test's temp dir.
fn tiny_model(ctx: &Ctx) -> std::path::PathBuf {
    let path = ctx.dir.path().join("tiny-f16.gguf");
    let size = TinyModel::default().write(&path).unwrap();
    assert!(size > 1_000_000);
    path
}

#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_llama_server_loads_the_generated_model_and_answers() {
    let Some(bin) = parts::llama_server("e2e_llama_server_loads_the_generated_model_and_answers") else { return };
    let ctx = Ctx::new();
    let model = tiny_model(&ctx);
    let server = Server::start(&bin, &model, "tiny-f16", 4096, ctx.dir.path());

    let health = http::get(&format!("{}/health", server.url())).unwrap();
    assert_eq!((health.status, health.json()["status"].as_str()), (200, Some("ok")));

    let models = http::get(&format!("{}/v1/models", server.url())).unwrap();
    assert!(models.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    let models = models.json();
    assert_eq!(models["data"][0]["id"], "tiny-f16", "the alias is the model id: {models}");
    assert_eq!(models["data"][0]["meta"]["n_ctx"], 4096);
    assert_eq!(models["data"][0]["meta"]["n_ctx_train"], 32768);

    let props = http::get(&format!("{}/props", server.url())).unwrap().json();
    assert_eq!(props["default_generation_settings"]["n_ctx"], 4096);
    assert!(props["build_info"].as_str().is_some_and(|b| !b.is_empty()));

    let chat = http::post_json(
        &format!("{}/v1/chat/completions", server.url()),
        &json!({"model": "tiny-f16", "messages": [{"role": "user", "content": "hello world"}], "max_tokens": 12, "temperature": 0}),
    )
    .unwrap();
    assert_eq!(chat.status, 200, "{}", String::from_utf8_lossy(&chat.body));
    let chat = chat.json();
    assert!(chat["choices"][0]["message"]["content"].as_str().is_some_and(|c| !c.trim().is_empty()), "{chat}");
    assert_eq!(chat["usage"]["completion_tokens"], 12, "{chat}");
    assert_eq!(chat["choices"][0]["finish_reason"], "length");

    // The server caps -c at the model's training context: the context contract doctor will check.
    assert_eq!(server.stop(), Some(0), "SIGTERM stops llama-server cleanly");
}

/// The Hugging Face cache layout clawlocal writes is what llama-server loads: a pull from the Hub mock, then
/// llama-server on the snapshot entry (a relative symlink to the verified blob).
#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_pulled_model_loads_from_the_hf_cache() {
    let Some(bin) = parts::llama_server("e2e_pulled_model_loads_from_the_hf_cache") else { return };
    let ctx = Ctx::new();
    let hub = crate::support::hubmock::HubMock::start();
    hub.add_repo("clawlocal-test/tiny-GGUF", &[("tiny-F16.gguf", TinyModel::default().bytes())]);
    let out = ctx
        .command()
        .env("HF_ENDPOINT", hub.endpoint())
        .env("HF_HUB_CACHE", ctx.dir.path().join("hub"))
        .args(["--scope", "user", "--json", "pull", "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = std::path::PathBuf::from(doc["path"].as_str().unwrap());
    assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
    let server = Server::start(&bin, &path, "tiny-f16", 4096, ctx.dir.path());
    let models = http::get(&format!("{}/v1/models", server.url())).unwrap().json();
    assert_eq!(models["data"][0]["id"], "tiny-f16", "{models}");
    assert_eq!(models["data"][0]["meta"]["n_ctx_train"], 32768);
    assert_eq!(server.stop(), Some(0));
}

#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_quantized_variant_loads_and_reports_its_type() {
    let name = "e2e_quantized_variant_loads_and_reports_its_type";
    let (Some(bin), Some(quantize)) = (parts::llama_server(name), parts::llama_quantize(name)) else { return };
    let ctx = Ctx::new();
    let f16 = tiny_model(&ctx);
    let q4 = ctx.dir.path().join("tiny-q4_k_m.gguf");
    let out = Command::new(&quantize).arg(&f16).arg(&q4).arg("Q4_K_M").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (f16_size, q4_size) = (std::fs::metadata(&f16).unwrap().len(), std::fs::metadata(&q4).unwrap().len());
    assert!(q4_size < f16_size / 2, "Q4_K_M {q4_size} vs F16 {f16_size}");
    let server = Server::start(&bin, &q4, "tiny-q4_k_m", 2048, ctx.dir.path());
    let props = http::get(&format!("{}/props", server.url())).unwrap().json();
    assert!(props["model_ftype"].as_str().is_some_and(|t| t.starts_with("Q4_K")), "{}", props["model_ftype"]);
}

#[test]
#[cfg_attr(
    any(missing_llama_server, missing_openclaw),
    ignore = "needs llama-server, the OpenClaw CLI (README: Real components in the tests)"
)]
fn e2e_openclaw_validates_a_config_pointing_at_the_server_and_gets_an_answer() {
    let name = "e2e_openclaw_validates_a_config_pointing_at_the_server_and_gets_an_answer";
    let (Some(bin), Some(openclaw)) = (parts::llama_server(name), parts::openclaw(name)) else { return };
    let ctx = Ctx::new();
    let model = tiny_model(&ctx);
    let server = Server::start(&bin, &model, "tiny-f16", 16_384, ctx.dir.path());
    let state = ctx.dir.path().join("openclaw-state");
    std::fs::create_dir_all(&state).unwrap();
    let config = state.join("openclaw.json");
    let doc = json!({
        "gateway": {"mode": "local"},
        "models": {"mode": "merge", "providers": {"clawlocal": {
            "baseUrl": format!("{}/v1", server.url()),
            "apiKey": "clawlocal-no-key",
            "api": "openai-completions",
            "models": [{
                "id": "tiny-f16", "name": "tiny f16", "reasoning": false, "input": ["text"],
                "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
                "contextWindow": 16384, "maxTokens": 32
            }]
        }}},
        "agents": {"defaults": {"model": {"primary": "clawlocal/tiny-f16"}}}
    });
    std::fs::write(&config, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(&openclaw)
            .args(args)
            .env("HOME", ctx.home())
            .env("OPENCLAW_CONFIG_PATH", &config)
            .env("OPENCLAW_STATE_DIR", &state)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stdout, stderr) = run(&["config", "validate", "--json"]);
    let validated: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    assert_eq!((code, &validated["valid"]), (Some(0), &json!(true)), "{stdout}\n{stderr}");

    let (code, stdout, stderr) = run(&[
        "infer",
        "model",
        "run",
        "--local",
        "--model",
        "clawlocal/tiny-f16",
        "--prompt",
        "Reply with exactly: pong",
        "--json",
    ]);
    let answer: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("{stdout}\n{stderr}\nserver log:\n{}", server.log_tail()));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(answer["ok"], true, "{answer}");
    let text = answer["outputs"][0]["text"].as_str().unwrap_or_default();
    assert!(!text.trim().is_empty(), "a random model answers word salad, but it answers: {answer}");

    // A config OpenClaw must refuse: the same file with an unknown key.
    let mut bad = doc.clone();
    bad["models"]["providers"]["clawlocal"]["colour"] = json!("red");
    std::fs::write(&config, serde_json::to_string_pretty(&bad).unwrap()).unwrap();
    let (code, stdout, _) = run(&["config", "validate", "--json"]);
    assert_ne!(code, Some(0), "{stdout}");
    assert!(stdout.contains("colour"), "{stdout}");
}

mod hub {
    use serde_json::json;

    use crate::support::gguf::TinyModel;
    use crate::support::http;
    use crate::support::hubmock::{Faults, HubMock, sha256_hex};

    const REPO: &str = "clawlocal-test/tiny-llama-GGUF";
    const FILE: &str = "tiny-llama-F16.gguf";

    fn published() -> (HubMock, Vec<u8>, String) {
        let hub = HubMock::start();
        let model = TinyModel::default().bytes();
        let commit = hub.add_repo(REPO, &[(FILE, model.clone())]);
        (hub, model, commit)
    }

    fn resolve(hub: &HubMock, rev: &str, file: &str, headers: &[(&str, &str)]) -> http::Response {
        http::request("HEAD", &format!("{}/{REPO}/resolve/{rev}/{file}", hub.endpoint()), headers, None).unwrap()
    }

    #[test]
    fn e2e_hub_mock_serves_the_generated_model_like_the_hub() {
        let (hub, model, commit) = published();
        let sha = sha256_hex(&model);

        let head = resolve(&hub, "main", FILE, &[]);
        assert_eq!(head.status, 302);
        assert_eq!(head.header("x-repo-commit"), Some(commit.as_str()));
        assert_eq!(head.header("x-linked-etag"), Some(format!("\"{sha}\"").as_str()));
        assert_eq!(head.header("x-linked-size"), Some(model.len().to_string().as_str()));
        let location = head.header("location").unwrap().to_string();
        assert!(
            location.starts_with(&format!("http://127.0.0.1:{}/", hub.cdn_port)),
            "the CDN is another authority: {location}"
        );

        let body = http::get(&location).unwrap();
        assert_eq!(body.status, 200);
        assert_eq!(body.header("accept-ranges"), Some("bytes"));
        assert_eq!(sha256_hex(&body.body), sha, "X-Linked-Etag is the sha256 of the bytes served");
        assert_eq!(&body.body[..4], b"GGUF");

        let part = http::request("GET", &location, &[("Range", "bytes=1000-")], None).unwrap();
        assert_eq!(part.status, 206);
        assert_eq!(
            part.header("content-range"),
            Some(format!("bytes 1000-{}/{}", model.len() - 1, model.len()).as_str())
        );
        assert_eq!(part.body, model[1000..]);
        let beyond = http::request("GET", &location, &[("Range", &format!("bytes={}-", model.len()))], None).unwrap();
        assert_eq!(beyond.status, 416);

        let tree =
            http::get(&format!("{}/api/models/{REPO}/tree/{commit}?recursive=true", hub.endpoint())).unwrap().json();
        assert_eq!(tree[0]["path"], FILE);
        assert_eq!(tree[0]["lfs"]["oid"], sha.as_str());
        assert_eq!(tree[0]["size"], model.len());
        let info = http::get(&format!("{}/api/models/{REPO}/revision/main", hub.endpoint())).unwrap().json();
        assert_eq!(info["sha"], commit.as_str());
        assert_eq!(info["siblings"][0]["rfilename"], FILE);
        let paths = http::request(
            "POST",
            &format!("{}/api/models/{REPO}/paths-info/{commit}", hub.endpoint()),
            &[("Content-Type", "application/json")],
            Some(json!({"paths": [FILE, "missing.gguf"]}).to_string().as_bytes()),
        )
        .unwrap()
        .json();
        assert_eq!(paths.as_array().unwrap().len(), 1);
        assert_eq!(paths[0]["lfs"]["oid"], sha.as_str());

        let missing = resolve(&hub, "main", "nope.gguf", &[]);
        assert_eq!((missing.status, missing.header("x-error-code")), (404, Some("EntryNotFound")));
        let bad_rev = resolve(&hub, "0000000000000000000000000000000000000000", FILE, &[]);
        assert_eq!((bad_rev.status, bad_rev.header("x-error-code")), (404, Some("RevisionNotFound")));
        let unknown =
            http::request("HEAD", &format!("{}/nobody/nothing/resolve/main/x.gguf", hub.endpoint()), &[], None)
                .unwrap();
        assert_eq!((unknown.status, unknown.header("x-error-code")), (401, Some("RepoNotFound")));

        let log = hub.log();
        assert!(
            log.iter().any(|l| l.server == "cdn"
                && l.method == "GET"
                && l.path.starts_with("/cdn/")
                && l.range.as_deref() == Some("bytes=1000-")),
            "requests are logged with their Range"
        );
        hub.clear_log();
        assert!(hub.log().is_empty());
    }

    #[test]
    fn e2e_hub_mock_faults_behave() {
        let (hub, model, _) = published();
        let sha = sha256_hex(&model);
        let location = resolve(&hub, "main", FILE, &[]).header("location").unwrap().to_string();

        // Cut after N bytes, once: the body ends early and the connection drops; the next request is whole.
        hub.set_faults(Faults { cut: Some((100_000, 1)), ..Faults::default() });
        let cut = http::get(&location);
        assert!(cut.is_err() || cut.as_ref().unwrap().body.len() < model.len(), "the body was cut");
        assert_eq!(http::get(&location).unwrap().body.len(), model.len());

        // A corrupted body has the right size and the wrong sha256.
        hub.set_faults(Faults { corrupt: true, ..Faults::default() });
        let bad = http::get(&location).unwrap();
        assert_eq!(bad.body.len(), model.len());
        assert_ne!(sha256_hex(&bad.body), sha);

        // Range ignored: 200 with the whole file.
        hub.set_faults(Faults { ignore_range: true, ..Faults::default() });
        let whole = http::request("GET", &location, &[("Range", "bytes=1000-")], None).unwrap();
        assert_eq!((whole.status, whole.body.len()), (200, model.len()));

        // Token required: 401 without, 302 with.
        hub.set_faults(Faults { require_token: Some("hf_secret".into()), ..Faults::default() });
        let anonymous = resolve(&hub, "main", FILE, &[]);
        assert_eq!((anonymous.status, anonymous.header("x-error-code")), (401, Some("RepoNotFound")));
        assert_eq!(resolve(&hub, "main", FILE, &[("Authorization", "Bearer hf_secret")]).status, 302);
        assert_eq!(hub.log().last().unwrap().authorization.as_deref(), Some("Bearer hf_secret"));

        // Rate limit: 429 with Retry-After, then served.
        hub.set_faults(Faults { rate_limit: 1, ..Faults::default() });
        let limited = resolve(&hub, "main", FILE, &[]);
        assert_eq!((limited.status, limited.header("retry-after")), (429, Some("1")));
        assert_eq!(resolve(&hub, "main", FILE, &[]).status, 302);
    }
}

/// The acceptance: `init --service none` with a real llama-server and a generated model, then
/// `clawlocal serve` answers /health and a chat completion on the chosen port with the alias as model id, the API
/// key is required, the context is the selected one, and SIGTERM stops it cleanly. A second init changes nothing.
#[test]
#[cfg_attr(
    any(missing_llama_server, missing_openclaw),
    ignore = "needs llama-server, the OpenClaw CLI (README: Real components in the tests)"
)]
fn e2e_init_service_none_then_serve_answers_with_the_alias() {
    let Some(bin) = parts::llama_server("e2e_init_service_none_then_serve_answers_with_the_alias") else { return };
    let ctx = Ctx::new();
    let hub = crate::support::hubmock::HubMock::start();
    hub.add_repo("clawlocal-test/tiny-GGUF", &[("tiny-F16.gguf", TinyModel::default().bytes())]);
    let port = parts::free_port();
    let openclaw_config = ctx.dir.path().join("openclaw.json");
    let init = |ctx: &Ctx| {
        let mut cmd = ctx.command();
        cmd.env("HF_ENDPOINT", hub.endpoint()).env("HF_HUB_CACHE", ctx.dir.path().join("hub"));
        if let Some(openclaw) = parts::openclaw("e2e_init_service_none_then_serve_answers_with_the_alias") {
            cmd.env("CLAWLOCAL_OPENCLAW", openclaw);
        }
        cmd.args(["--scope", "user", "--json", "init", "--profile", "vps-8gb", "--service", "none"])
            .args(["--model", "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf", "--port", &port.to_string()])
            .arg("--openclaw-config")
            .arg(&openclaw_config)
            .arg("--engine")
            .arg(&bin);
        crate::support::finish(cmd.output().unwrap())
    };
    let run = init(&ctx);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["units"], json!([]), "--service none installs no unit");
    let status = |doc: &serde_json::Value, kind: &str| {
        doc["actions"].as_array().unwrap().iter().find(|a| a["kind"] == kind).unwrap()["status"].clone()
    };
    assert_eq!(status(&doc, "download"), "created");
    assert_eq!(status(&doc, "start"), "skipped");
    let alias = doc["model"].as_str().unwrap().to_string();
    assert_eq!(alias, "tiny-f16");
    let config = std::fs::read_to_string(&openclaw_config).unwrap();
    assert!(config.contains(&format!("http://127.0.0.1:{port}/v1")) && config.contains("tiny-f16"), "{config}");

    // What serve runs is what the receipt says the unit runs.
    let printed = ctx.run(&["--scope", "user", "--json", "serve", "--print"]).json();
    let args: Vec<String> = serde_json::from_value(printed["args"].clone()).unwrap();
    let after = |flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].clone()).unwrap();
    assert_eq!(after("--host"), "127.0.0.1");
    assert_eq!(after("--port"), port.to_string());
    assert_eq!(after("--alias"), alias);
    let context: u64 = after("--ctx-size").parse().unwrap();
    assert!(context >= 16_000, "{context}");
    let key_file = std::path::PathBuf::from(after("--api-key-file"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let key = std::fs::read_to_string(&key_file).unwrap().trim().to_string();
    assert!(!args.iter().any(|a| a.contains(&key)), "the key itself is never an argument");

    let log = ctx.dir.path().join("serve.log");
    let child = ctx
        .command()
        .args(["--scope", "user", "serve"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let server = Server::adopt(child, port, log);
    let auth = format!("Bearer {key}");
    let models =
        http::request("GET", &format!("{}/v1/models", server.url()), &[("Authorization", &auth)], None).unwrap();
    assert_eq!(models.status, 200);
    assert_eq!(models.json()["data"][0]["id"], alias.as_str(), "the alias is the model id");
    assert_eq!(models.json()["data"][0]["meta"]["n_ctx"], context, "the selected context, not capped");
    let anonymous = http::get(&format!("{}/v1/models", server.url())).unwrap();
    assert_eq!(anonymous.status, 401, "the API key is required");
    let body = json!({"model": alias, "messages": [{"role": "user", "content": "hello world"}], "max_tokens": 8, "temperature": 0});
    let chat = http::request(
        "POST",
        &format!("{}/v1/chat/completions", server.url()),
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(chat.status, 200, "{}", String::from_utf8_lossy(&chat.body));
    let chat = chat.json();
    assert!(chat["choices"][0]["message"]["content"].as_str().is_some_and(|c| !c.trim().is_empty()), "{chat}");
    assert_eq!(server.stop(), Some(0), "SIGTERM reaches llama-server through serve (exec) and it exits cleanly");

    // A second identical init: nothing to do.
    let again = init(&ctx);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let again = again.json();
    for action in again["actions"].as_array().unwrap() {
        let expected = if action["kind"] == "start" { "skipped" } else { "unchanged" };
        assert_eq!(action["status"], expected, "{action}");
    }
}

/// Issue 22: the engine's growth is counted. Ten distinct conversations of 6,000 tokens each (their saved states
/// together several times the prompt cache), against the
/// engine `clawlocal serve` runs with init's argv, leave llama-server's peak RSS (VmHWM) within the estimate init
/// recorded: the prompt cache that keeps earlier conversations (`--cache-ram`) is exactly the estimate's
/// prompt-cache term, at most one context's KV cache.
#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_ten_long_conversations_stay_within_the_estimate() {
    let Some(s) = crate::support::sandbox::Setup::new("e2e_ten_long_conversations_stay_within_the_estimate") else {
        return;
    };
    s.init("none", &[]);
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(s.receipt()).unwrap()).unwrap();
    let estimate = receipt["model"]["estimate_bytes"].as_u64().unwrap();
    let printed = s.run(&["--json", "serve", "--print"]).json();
    let args: Vec<String> = serde_json::from_value(printed["args"].clone()).unwrap();
    let after = |flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].clone());
    let cache_mib: u64 = after("--cache-ram").expect("the prompt cache is sized").parse().unwrap();
    assert!(cache_mib > 0, "vps-8gb has room to keep a conversation: {args:?}");
    let key = std::fs::read_to_string(after("--api-key-file").unwrap()).unwrap().trim().to_string();
    let server = s.serve();
    let hwm = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
        clawlocal::render::service::peak_from_status(&status).expect("llama-server's VmHWM")
    };
    let vocab = TinyModel::default().vocab_size() as u64;
    let mut peaks = Vec::new();
    for conversation in 0..10u64 {
        // Distinct token sequences: no conversation shares a prefix with another, so each is a new cache entry.
        let prompt: Vec<u64> =
            (0..6_000u64).map(|i| 5 + (conversation * 7_919 + i * (conversation + 3)) % (vocab - 5)).collect();
        let body = json!({"prompt": prompt, "n_predict": 4, "cache_prompt": true}).to_string();
        let r = http::request(
            "POST",
            &format!("{}/completion", server.url()),
            &[("Authorization", &format!("Bearer {key}")), ("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(r.json()["tokens_evaluated"].as_u64().unwrap() >= 6_000, "a long conversation");
        peaks.push(hwm());
    }
    let mib = |b: u64| b / (1 << 20);
    parts::note(&format!(
        "10 conversations of 6000 tokens: VmHWM {} MiB after the first, {} MiB after the last; estimate {} MiB (prompt cache {cache_mib} MiB)",
        mib(peaks[0]),
        mib(peaks[9]),
        mib(estimate)
    ));
    assert!(
        peaks[9] <= estimate,
        "peak {} MiB above the estimate {} MiB: {}",
        mib(peaks[9]),
        mib(estimate),
        server.log_tail()
    );
    assert!(peaks[9] - peaks[0] <= (cache_mib + 16) << 20, "growth beyond the prompt cache: {peaks:?}");
}

/// Issue 22: `clawlocal bench` measures the installed model through the engine it runs (llama-server's own
/// timings), records it in the receipt, doctor's `server.speed` reads it and the selection judges that model by it.
#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_bench_measures_prefill_and_generation_and_the_receipt_keeps_it() {
    let Some(s) =
        crate::support::sandbox::Setup::new("e2e_bench_measures_prefill_and_generation_and_the_receipt_keeps_it")
    else {
        return;
    };
    s.init("none", &[]);
    let (_, before) = s.doctor(&[]);
    let speed = |doc: &serde_json::Value| {
        doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "server.speed").cloned().unwrap()
    };
    assert_eq!(speed(&before)["status"], "skip", "not measured yet: {}", speed(&before));
    let stopped = s.run(&["bench"]);
    assert_eq!(stopped.code, 1, "no engine running: {}", stopped.stderr);
    assert!(stopped.stderr.contains("the engine does not answer at http://127.0.0.1:"), "{}", stopped.stderr);

    let server = s.serve();
    let run = s.run(&["--json", "bench", "--prompt-tokens", "4096", "--generate", "16"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["model"], "tiny-f16");
    assert_eq!(doc["prompt_tokens"], 4096, "{doc}");
    assert_eq!(doc["generated_tokens"], 16, "{doc}");
    for key in ["prefill_seconds", "prefill_tokens_per_second", "generation_tokens_per_second", "prefill_16k_seconds"] {
        assert!(doc[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {doc}");
    }
    let expected_16k = 16_384.0 / doc["prefill_tokens_per_second"].as_f64().unwrap();
    assert!((doc["prefill_16k_seconds"].as_f64().unwrap() - expected_16k).abs() < 1e-6, "{doc}");
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(s.receipt()).unwrap()).unwrap();
    assert_eq!(receipt["bench"], doc, "the receipt has the same measurement");
    parts::note(&format!(
        "bench of the tiny model: {:.0} tokens/s prefill, {:.0} tokens/s generation",
        doc["prefill_tokens_per_second"].as_f64().unwrap(),
        doc["generation_tokens_per_second"].as_f64().unwrap()
    ));
    let (_, after) = s.doctor(&[]);
    let check = speed(&after);
    let expected = if doc["usable"] == true { "pass" } else { "warn" };
    assert_eq!(check["status"], expected, "{check}");
    assert!(check["detail"].as_str().unwrap().contains("tokens/s generating"), "{check}");
    drop(server);

    // The selection judges this model by the bench on this box (the profile init used): the measured rates replace
    // the estimate. Another profile describes another box: estimates there.
    let spec = crate::support::sandbox::SPEC;
    let plan = |profile: &str| {
        let run = s.run(&["--json", "plan", "--profile", profile, "--model", spec]);
        assert_eq!(run.code, 0, "plan --profile {profile}: {}", run.stderr);
        run.json()["selection"].clone()
    };
    let here = plan("vps-8gb");
    assert_eq!(here["speed_measured"], true, "{here:#}");
    assert_eq!(here["speed"]["generation_tps"], doc["generation_tokens_per_second"], "{here:#}");
    assert_eq!(here["speed"]["prefill_seconds"], doc["prefill_16k_seconds"], "{here:#}");
    assert_eq!(here["usable_speed"], doc["usable"], "{here:#}");
    let text = s.run(&["plan", "--profile", "vps-8gb", "--model", spec]);
    assert!(text.stdout.contains("(measured on this box by `clawlocal bench`)"), "{}", text.stdout);
    let elsewhere = plan("vps-4gb");
    assert_eq!(elsewhere["speed_measured"], false, "{elsewhere:#}");
    assert_ne!(elsewhere["speed"]["generation_tps"], doc["generation_tokens_per_second"], "{elsewhere:#}");

    // An identical init keeps the measurement (same model, same arguments) and reports nothing changed.
    let again = s.run_init("none", crate::support::sandbox::SPEC, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let receipt: serde_json::Value = serde_json::from_slice(&std::fs::read(s.receipt()).unwrap()).unwrap();
    assert_eq!(receipt["bench"], doc, "kept across an identical init");
}
