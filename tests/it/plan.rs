use crate::support::{Ctx, bundled_profiles};

#[test]
fn plan_json_selects_a_fitting_model_with_enough_context_for_every_bundled_profile() {
    let ctx = Ctx::new();
    let names = bundled_profiles();
    assert_eq!(names.len(), 16);
    let mut params = std::collections::BTreeMap::new();
    for name in &names {
        let run = ctx.run(&["plan", "--profile", name, "--offline", "--json"]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let doc = run.json();
        let s = &doc["selection"];
        let context = s["context"].as_u64().unwrap();
        let total = s["estimate"]["total_bytes"].as_u64().unwrap();
        let budget = s["budget_bytes"].as_u64().unwrap();
        assert!(context >= 16_000, "{name}: context {context}");
        assert!(total <= budget, "{name}: {total} > {budget}");
        for key in ["model", "repo", "file", "quant"] {
            assert!(s[key].as_str().is_some_and(|v| !v.is_empty()), "{name}: selection.{key}");
        }
        for key in ["weights_bytes", "kv_bytes", "overhead_bytes"] {
            assert!(s["estimate"][key].as_u64().is_some(), "{name}: estimate.{key}");
        }
        let candidates = doc["candidates"].as_array().unwrap();
        assert!(candidates.len() > 20, "{name}: every model is judged");
        for c in candidates {
            assert!(c["reason"].as_str().is_some_and(|r| !r.is_empty()));
            assert!(
                c["fits"].is_boolean() && c["context"].is_u64() && c["quant"].is_string() && c["model"].is_string()
            );
        }
        let actions = doc["actions"].as_array().unwrap();
        assert!(actions.iter().all(|a| a["kind"].is_string() && a["description"].is_string()));
        assert!(actions.iter().any(|a| a["kind"] == "download"));
        assert!(actions.iter().any(|a| a["kind"] == "openclaw-config"));
        params.insert(name.clone(), s["model"].as_str().unwrap().to_string());
    }
    let size = |profile: &str| {
        let model = &params[profile];
        let run = ctx.run(&["models", "--json"]);
        let doc = run.json();
        doc["models"].as_array().unwrap().iter().find(|m| m["id"] == model.as_str()).unwrap()["params"]
            .as_u64()
            .unwrap()
    };
    assert!(size("gpu-24gb") > size("vps-8gb"), "a GPU profile selects something larger than a small VPS one");
    assert!(size("gpu-24gb") > size("vps-4gb"));
}

#[test]
fn plan_is_readable_at_a_glance() {
    let ctx = Ctx::new();
    let run = ctx.run(&["plan", "--profile", "vps-8gb", "--scope", "user"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(ctx.redact(&run.stdout));
}

#[test]
fn plan_honours_model_quant_context_port_and_role() {
    let ctx = Ctx::new();
    let run = ctx.run(&[
        "plan",
        "--profile",
        "gpu-24gb",
        "--model",
        "qwen2.5-7b-instruct",
        "--quant",
        "Q4_K_M",
        "--context",
        "32768",
        "--port",
        "9000",
        "--role",
        "fallback",
        "--service",
        "none",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let s = &doc["selection"];
    assert_eq!(s["model"], "qwen2.5-7b-instruct");
    assert_eq!(s["model_id"], "qwen2.5-7b-instruct-q4_k_m");
    assert_eq!(s["context"], 32768);
    assert_eq!(s["files"].as_array().unwrap().len(), 2, "the official Q4_K_M is split in two");
    assert_eq!(s["file"], "qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf");
    let actions = doc["actions"].as_array().unwrap();
    let patch = actions.iter().find(|a| a["kind"] == "openclaw-config").unwrap();
    let description = patch["description"].as_str().unwrap();
    assert!(description.contains("http://127.0.0.1:9000/v1") && description.contains("as fallback"), "{description}");
    assert!(!actions.iter().any(|a| a["kind"] == "start"), "--service none starts nothing");
}

#[test]
fn plan_paths_follow_scope_root_and_openclaw_env() {
    let ctx = Ctx::new();
    let root = ctx.dir.path().join("image");
    let run =
        ctx.run(&["plan", "--profile", "vps-8gb", "--scope", "system", "--root", root.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let paths: Vec<String> =
        doc["actions"].as_array().unwrap().iter().filter_map(|a| a["path"].as_str().map(String::from)).collect();
    assert!(paths.iter().all(|p| p.starts_with(root.to_str().unwrap())), "{paths:#?}");
    assert!(paths.iter().any(|p| p.ends_with("etc/systemd/system/clawlocal-llm.service")), "{paths:#?}");
    assert!(
        !doc["actions"].as_array().unwrap().iter().any(|a| a["kind"] == "start"),
        "--root never calls a service manager"
    );

    let out = ctx
        .command()
        .args(["plan", "--profile", "vps-8gb", "--json"])
        .env("OPENCLAW_CONFIG_PATH", "/srv/oc/openclaw.json")
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let patch = doc["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "openclaw-config").unwrap().clone();
    assert_eq!(patch["path"], "/srv/oc/openclaw.json");
}

#[test]
fn nothing_fits_exits_1_with_the_reason() {
    let ctx = Ctx::new();
    let tiny = ctx.write("tiny.json5", "{ memory: '1GiB', reserve: '512MiB', cores: 1, disk: '10GiB' }");
    let run = ctx.run(&["plan", "--profile", tiny.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: no model in the catalog fits profile tiny"), "{}", run.stderr);
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let run = ctx.run(&["plan", "--profile", tiny.to_str().unwrap(), "--json"]);
    assert_eq!(run.code, 1);
    let doc = run.json();
    assert_eq!(doc["ok"], false);
    assert!(doc["selection"].is_null());
    assert!(doc["error"].as_str().unwrap().contains("fits profile tiny"));
}

#[test]
fn bad_requests_exit_2_and_name_the_thing() {
    let ctx = Ctx::new();
    for (args, needle) in [
        (vec!["plan", "--profile", "vps-8gb", "--context", "8192"], "8192"),
        (vec!["plan", "--profile", "vps-8gb", "--model", "no-such-model"], "no-such-model"),
        (vec!["plan", "--profile", "vps-8gb", "--quant", "Q9_Z"], "Q9_Z"),
    ] {
        let run = ctx.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("error:") && run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn the_calibration_flag_plans_below_openclaws_minimum_and_is_hidden() {
    let ctx = Ctx::new();
    let asked = ["plan", "--profile", "vps-8gb", "--model", "qwen2.5-1.5b-instruct", "--json", "--context"];
    let at = |tokens: &str| {
        let run = ctx.run(&[&asked[..], &[tokens, "--below-openclaw-minimum"]].concat());
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()["selection"].clone()
    };
    let (small, big) = (at("4096"), at("16384"));
    assert_eq!(small["context"], 4096);
    // The KV cache is the term that scales with the context: a quarter of the tokens, a quarter of the KV.
    let kv = |s: &serde_json::Value| s["estimate"]["kv_bytes"].as_u64().unwrap();
    assert_eq!(kv(&small) * 4, kv(&big), "{small} {big}");
    assert!(!ctx.run(&["plan", "--help"]).stdout.contains("below-openclaw-minimum"));
    assert_eq!(ctx.run(&["plan", "--below-openclaw-minimum"]).code, 2, "it needs --context");
}

#[test]
fn models_shows_fit_verdicts_for_a_profile() {
    let ctx = Ctx::new();
    let run = ctx.run(&["models", "--profile", "vps-8gb", "--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let models = doc["models"].as_array().unwrap();
    assert_eq!(models.iter().filter(|m| m["fit"]["selected"] == true).count(), 1);
    let big = models.iter().find(|m| m["id"] == "qwen3-32b").unwrap();
    assert_eq!(big["fit"]["fits"], false);
    assert!(big["fit"]["reason"].as_str().unwrap().contains("budget 5.0 GiB"), "{}", big["fit"]["reason"]);
    let huge = models.iter().find(|m| m["id"] == "llama-3.3-70b-instruct").unwrap();
    assert!(
        huge["fit"]["reason"].as_str().unwrap().contains("exceeds the disk budget 40.0 GiB"),
        "{}",
        huge["fit"]["reason"]
    );
    let human = ctx.run(&["models", "--profile", "vps-8gb"]);
    assert!(human.stdout.contains("selected") && human.stdout.contains("MODEL"), "{}", human.stdout);
    let plain = ctx.run(&["models"]);
    assert_eq!(plain.code, 0);
    assert!(plain.stdout.contains("qwen2.5-1.5b-instruct") && !plain.stdout.contains("FIT"));
}
