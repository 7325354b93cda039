//! `clawlocal doctor` against real parts: a setup made by `init --service none` from the Hub mock, the engine
//! run by `clawlocal serve` (a real llama-server) and the real OpenClaw CLI. Healthy, it passes and OpenClaw
//! answers through it; each injected fault fails the check of its layer, with a fix, and exit 1.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::parts::Server;
use crate::support::sandbox::Setup;

fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id}: {doc}"))
}

fn status(doc: &Value, id: &str) -> String {
    check(doc, id)["status"].as_str().unwrap().to_string()
}

fn failed(doc: &Value) -> Vec<String> {
    let checks = doc["checks"].as_array().unwrap();
    let fails: Vec<&Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    for f in &fails {
        assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()), "every fail carries a fix: {f}");
    }
    fails.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

/// The acceptance: a healthy `init --service none` + `serve` passes doctor, and OpenClaw itself validates
/// the config and gets an answer from the local model through it.
#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_doctor_passes_a_healthy_setup_and_openclaw_answers_through_it() {
    let Some(s) = Setup::new("e2e_doctor_passes_a_healthy_setup_and_openclaw_answers_through_it") else { return };
    s.init("none", &[]);
    let server = s.serve();

    let (code, doc) = s.doctor(&[]);
    assert_eq!((code, failed(&doc)), (0, Vec::<String>::new()), "{doc:#}");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/doctor.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "doctor --json follows schemas/doctor.schema.json: {errors:?}");
    let checks = doc["checks"].as_array().unwrap();
    assert!(checks.len() >= 12, "{} checks", checks.len());
    for c in checks {
        for field in ["id", "title", "status", "detail"] {
            assert!(c[field].is_string(), "{field} in {c}");
        }
        assert!(c.get("fix").is_some(), "fix is always present (null when none): {c}");
    }
    for id in [
        "host.receipt",
        "host.memory",
        "engine.version",
        "engine.flags",
        "model.file",
        "model.gguf",
        "server.listen",
        "server.health",
        "server.model",
        "server.context",
        "server.chat",
        "openclaw.config",
        "openclaw.schema",
        "openclaw.provider",
        "openclaw.base-url",
        "openclaw.api-key",
        "openclaw.model",
        "openclaw.model-ref",
        "security.bind",
        "security.key-file",
    ] {
        assert_eq!(status(&doc, id), "pass", "{:#}", check(&doc, id));
    }
    assert_eq!(status(&doc, "service.unit"), "skip", "--service none");
    assert!(check(&doc, "server.chat")["detail"].as_str().unwrap().contains("tokens/s"));
    assert_eq!(status(&doc, "model.sha256"), "skip", "only with --deep");

    if s.openclaw.is_some() {
        assert_eq!(status(&doc, "openclaw.cli"), "pass", "{}", check(&doc, "openclaw.cli"));
        let (_, again) = s.doctor(&["--only", "openclaw.cli"]);
        assert!(check(&again, "openclaw.cli")["detail"].as_str().unwrap().contains("remembered"), "{again}");
        let (code, deep) = s.doctor(&["--deep"]);
        assert_eq!(code, 0, "{deep:#}");
        assert_eq!(status(&deep, "model.sha256"), "pass");
        assert_eq!(status(&deep, "openclaw.models-list"), "pass", "{}", check(&deep, "openclaw.models-list"));

        let (code, valid, out) = s.openclaw(&["config", "validate", "--json"]).unwrap();
        assert_eq!((code, &valid["valid"]), (0, &json!(true)), "{out}");
        let model = format!("clawlocal/{}", "tiny-f16");
        let (code, answer, out) = s
            .openclaw(&[
                "infer",
                "model",
                "run",
                "--local",
                "--model",
                &model,
                "--prompt",
                "Reply with exactly: pong",
                "--json",
            ])
            .unwrap();
        assert_eq!((code, &answer["ok"]), (0, &json!(true)), "{out}\n{}", server.log_tail());
        assert!(answer["outputs"][0]["text"].as_str().is_some_and(|t| !t.trim().is_empty()), "{answer}");
    }

    // People read the same report as lines.
    let text = s.run(&["doctor"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("[✓] server.context") && text.stdout.contains("[-] service.unit"), "{}", text.stdout);
    assert!(text.stdout.contains("0 failed"), "{}", text.stdout);
    drop(server);
}

/// Each fault is named by its layer, with a fix, and doctor exits 1; `--fix` repairs what it safely can.
#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_doctor_names_the_layer_of_each_fault() {
    let Some(s) = Setup::new("e2e_doctor_names_the_layer_of_each_fault") else { return };
    let init = s.init("none", &[]);
    let model_path = PathBuf::from(init["model_path"].as_str().unwrap());
    let alias = init["model"].as_str().unwrap().to_string();
    let port = s.port.to_string();
    let model = model_path.to_string_lossy().into_owned();
    let key_file = s.key_file().to_string_lossy().into_owned();

    // 1. The server is not running: the server layer fails, its dependants skip.
    let (code, doc) = s.doctor(&[]);
    assert_eq!(code, 1);
    assert_eq!(failed(&doc), ["server.listen"], "{doc:#}");
    assert!(check(&doc, "server.listen")["fix"].as_str().unwrap().contains("clawlocal --scope user serve"));
    assert_eq!(status(&doc, "server.health"), "skip");

    // 2. A server started by hand with -c 4096 while openclaw.json says 32768: the context check.
    let server = Server::with_args(
        &s.engine,
        &["-m", &model, "--alias", &alias, "-c", "4096", "--api-key-file", &key_file],
        s.port,
        s.ctx.dir.path(),
    );
    let (code, doc) = s.doctor(&["--only", "server"]);
    assert_eq!(code, 1);
    let fails = failed(&doc);
    assert!(fails.iter().any(|id| id.contains("context")), "{doc:#}");
    let detail = check(&doc, "server.context")["detail"].as_str().unwrap();
    assert!(detail.contains("4096") && detail.contains("32768"), "{detail}");
    drop(server);

    // 3. Another alias on the port: the server serves a model OpenClaw does not ask for.
    let server = Server::with_args(
        &s.engine,
        &["-m", &model, "--alias", "someone-else", "-c", "32768", "--api-key-file", &key_file],
        s.port,
        s.ctx.dir.path(),
    );
    let (code, doc) = s.doctor(&["--only", "server"]);
    assert_eq!((code, failed(&doc)), (1, vec!["server.model".to_string()]), "{doc:#}");
    assert!(check(&doc, "server.model")["detail"].as_str().unwrap().contains("someone-else"));
    drop(server);

    // 4. The key file was replaced after the engine started: 401 from the server, and openclaw.json's apiKey
    //    no longer matches the file.
    let server = s.serve();
    let old_key = std::fs::read_to_string(s.key_file()).unwrap();
    std::fs::write(s.key_file(), "clawlocal-another-key\n").unwrap();
    let (code, doc) = s.doctor(&[]);
    assert_eq!(code, 1);
    let fails = failed(&doc);
    assert!(fails.contains(&"server.model".to_string()) && fails.contains(&"openclaw.api-key".to_string()), "{doc:#}");
    assert!(check(&doc, "server.model")["detail"].as_str().unwrap().contains("401"));
    std::fs::write(s.key_file(), &old_key).unwrap();

    // 5. baseUrl on the wrong port: the OpenClaw layer; --fix --dry-run shows the repair, --fix makes it.
    let config = std::fs::read_to_string(s.config()).unwrap();
    let wrong_port = (s.port as u32 + 1).to_string();
    std::fs::write(s.config(), config.replace(&format!(":{port}/v1"), &format!(":{wrong_port}/v1"))).unwrap();
    let (code, doc) = s.doctor(&[]);
    assert_eq!((code, failed(&doc)), (1, vec!["openclaw.base-url".to_string()]), "{doc:#}");
    assert_eq!(check(&doc, "openclaw.base-url")["repair"], "repatch");
    let before = std::fs::read_to_string(s.config()).unwrap();
    let (code, planned) = s.doctor(&["--fix", "--dry-run"]);
    assert_eq!(code, 1);
    assert_eq!(planned["repairs"][0]["repair"], "repatch", "{planned:#}");
    assert_eq!(planned["repairs"][0]["status"], "planned");
    assert_eq!(std::fs::read_to_string(s.config()).unwrap(), before, "--dry-run changes nothing");
    let (code, fixed) = s.doctor(&["--fix"]);
    assert_eq!(code, 0, "{fixed:#}");
    assert_eq!(fixed["repairs"][0]["status"], "done", "{fixed:#}");
    assert!(std::fs::read_to_string(s.config()).unwrap().contains(&format!(":{port}/v1")));
    drop(server);

    // 6. The model file is truncated: the model layer (without --deep too); --fix downloads it again.
    let blob = std::fs::canonicalize(&model_path).unwrap();
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() / 2]).unwrap();
    let (code, doc) = s.doctor(&["--only", "model"]);
    assert_eq!((code, failed(&doc)), (1, vec!["model.file".to_string()]), "{doc:#}");
    let (code, doc) = s.doctor(&["--only", "model", "--deep"]);
    assert_eq!(code, 1);
    assert!(failed(&doc).iter().all(|id| id.starts_with("model.")), "{doc:#}");
    // Same size, other bytes: only --deep sees it.
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0xff;
    std::fs::write(&blob, &flipped).unwrap();
    let (code, doc) = s.doctor(&["--only", "model"]);
    assert_eq!(code, 0, "{doc:#}");
    let (code, doc) = s.doctor(&["--only", "model", "--deep"]);
    assert_eq!((code, failed(&doc)), (1, vec!["model.sha256".to_string()]), "{doc:#}");
    let (code, fixed) = s.doctor(&["--only", "model", "--deep", "--fix"]);
    assert_eq!(code, 0, "{fixed:#}");
    assert_eq!(fixed["repairs"][0]["repair"], "redownload");
    assert_eq!(std::fs::read(&blob).unwrap(), bytes, "the verified bytes are back");

    // 7. The model is too big for this host (the receipt says it needs 1 TiB): the host layer.
    let receipt = std::fs::read_to_string(s.receipt()).unwrap();
    let mut r: Value = serde_json::from_str(&receipt).unwrap();
    r["model"]["estimate_bytes"] = json!(1u64 << 40);
    std::fs::write(s.receipt(), serde_json::to_string_pretty(&r).unwrap()).unwrap();
    let (code, doc) = s.doctor(&["--only", "host"]);
    assert_eq!((code, failed(&doc)), (1, vec!["host.memory".to_string()]), "{doc:#}");
    assert!(check(&doc, "host.memory")["detail"].as_str().unwrap().contains("too big"));
    // What init measured the engine take counts over the estimate.
    let mut r: Value = serde_json::from_str(&receipt).unwrap();
    r["measured"] = json!({ "peak_bytes": 1u64 << 40, "during": "service" });
    std::fs::write(s.receipt(), serde_json::to_string_pretty(&r).unwrap()).unwrap();
    let (code, doc) = s.doctor(&["--only", "host"]);
    assert_eq!((code, failed(&doc)), (1, vec!["host.memory".to_string()]), "{doc:#}");
    let detail = check(&doc, "host.memory")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains("the engine took 1024.0 GiB once loaded (measured by init at the service's start)"),
        "{detail}"
    );
    std::fs::write(s.receipt(), receipt).unwrap();

    // 8. The key file readable by others: the security layer, and --fix makes it 0600 again.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(s.key_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, doc) = s.doctor(&["--only", "security.key-file"]);
    assert_eq!((code, failed(&doc)), (1, vec!["security.key-file".to_string()]), "{doc:#}");
    let (code, _) = s.doctor(&["--only", "security.key-file", "--fix"]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::metadata(s.key_file()).unwrap().permissions().mode() & 0o777, 0o600);
}

/// A unit edited by hand is drift: `service.unit` fails and `--fix` would render it again. (systemd is not PID 1
/// here, so the manager's own checks skip: they cannot ask it.)
#[test]
#[cfg_attr(any(missing_llama_server), ignore = "needs llama-server (README: Real components in the tests)")]
fn e2e_doctor_finds_a_drifted_unit() {
    let Some(s) = Setup::new("e2e_doctor_finds_a_drifted_unit") else { return };
    let init = s.init("systemd", &["--no-start"]);
    let unit = PathBuf::from(init["units"][0]["path"].as_str().unwrap());
    let (_, doc) = s.doctor(&["--only", "service"]);
    assert_eq!(status(&doc, "service.unit"), "pass", "{doc:#}");
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, text.replace("NoNewPrivileges=yes", "NoNewPrivileges=no")).unwrap();
    assert_ne!(std::fs::read_to_string(&unit).unwrap(), text, "the unit has NoNewPrivileges=yes");
    let (code, doc) = s.doctor(&["--only", "service"]);
    assert_eq!((code, failed(&doc)), (1, vec!["service.unit".to_string()]), "{doc:#}");
    assert!(check(&doc, "service.unit")["detail"].as_str().unwrap().contains("NoNewPrivileges=no"));
    let (_, planned) = s.doctor(&["--only", "service", "--fix", "--dry-run"]);
    assert_eq!(planned["repairs"][0]["repair"], "rerender", "{planned:#}");
    assert!(Path::new(&unit).exists());
}
