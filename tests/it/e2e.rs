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

#[test]
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
