use crate::support::Ctx;

/// Doctor on a machine where nothing was installed: exit 1, the first check says so with the command to run,
/// everything that needs the install skips; a bad `--only` is a usage error; `--list-checks` names every check.
#[test]
fn doctor_without_an_install_fails_its_first_check_and_lists_its_checks() {
    let ctx = Ctx::new();
    let run = ctx.run(&["--scope", "user", "--json", "doctor"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["ok"], false);
    let first = &doc["checks"][0];
    assert_eq!((first["id"].as_str(), first["status"].as_str()), (Some("host.receipt"), Some("fail")));
    assert!(first["fix"].as_str().unwrap().contains("clawlocal init"), "{first}");
    let engine = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "engine.binary").unwrap();
    assert_eq!(engine["status"], "skip", "{engine}");

    let bad = ctx.run(&["doctor", "--only", "server.nope"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no doctor check `server.nope`") && bad.stderr.contains("hint:"), "{}", bad.stderr);

    let list = ctx.run(&["--json", "doctor", "--list-checks"]).json();
    let ids: Vec<&str> = list["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    for layer in ["host.", "engine.", "model.", "service.", "server.", "openclaw.", "security."] {
        assert!(ids.iter().any(|id| id.starts_with(layer)), "{layer} in {ids:?}");
    }
    assert!(ids.contains(&"server.context") && ids.len() >= 12);
    let text = ctx.run(&["doctor", "--list-checks"]);
    assert!(text.stdout.contains("server.context") && text.stdout.contains("(after server.model)"), "{}", text.stdout);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let ctx = Ctx::new();
    assert_eq!(ctx.run(&["plan", "--no-such-flag"]).code, 2);
    assert_eq!(ctx.run(&["frobnicate"]).code, 2);
    let help = ctx.run(&["--help"]);
    assert_eq!(help.code, 0);
    for command in [
        "profiles",
        "models",
        "plan",
        "pull",
        "init",
        "render",
        "serve",
        "engine",
        "openclaw",
        "doctor",
        "status",
        "uninstall",
    ] {
        assert!(help.stdout.contains(command), "--help lists {command}");
    }
    for flag in ["--json", "--quiet", "--verbose", "--no-progress", "--scope", "--root", "--offline"] {
        assert!(help.stdout.contains(flag), "--help lists {flag}");
    }
}

#[test]
fn json_output_is_exactly_one_document_on_stdout() {
    let ctx = Ctx::new();
    for args in
        [vec!["profiles", "list", "--json"], vec!["plan", "--profile", "mac-16gb", "--json"], vec!["models", "--json"]]
    {
        let run = ctx.run(&args);
        assert_eq!(run.code, 0, "{args:?}");
        let mut stream = serde_json::Deserializer::from_str(&run.stdout).into_iter::<serde_json::Value>();
        assert!(stream.next().unwrap().is_ok());
        assert!(stream.next().is_none(), "{args:?}: more than one document");
        for line in run.stderr.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|_| panic!("stderr line is not JSON: {line}"));
            assert!(v["type"].is_string());
        }
    }
}

#[test]
fn schemas_command_writes_what_is_checked_in() {
    let ctx = Ctx::new();
    let out = ctx.dir.path().join("schemas");
    let run = ctx.run(&["schemas", "--dir", out.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    for name in ["profile.schema.json", "catalog.schema.json", "plan.schema.json"] {
        assert_eq!(
            std::fs::read_to_string(out.join(name)).unwrap(),
            std::fs::read_to_string(repo.join(name)).unwrap(),
            "{name}"
        );
    }
    std::fs::write(out.join("plan.schema.json"), "{}").unwrap();
    let run = ctx.run(&["schemas", "--dir", out.to_str().unwrap(), "--check"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("plan.schema.json"), "{}", run.stderr);
}

#[test]
fn plan_json_validates_against_its_schema() {
    let ctx = Ctx::new();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/plan.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for profile in ["vps-4gb", "gpu-80gb", "mac-8gb"] {
        let doc = ctx.run(&["plan", "--profile", profile, "--json"]).json();
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{profile}: {errors:#?}");
    }
}

#[test]
fn install_sh_help_and_bad_option() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    let help = std::process::Command::new("sh").arg(&script).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("USAGE") && text.contains("--to DIR") && text.contains("--yes"), "{text}");
    let bad = std::process::Command::new("sh").arg(&script).arg("--frobnicate").output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown option '--frobnicate'"));
}

#[test]
fn install_sh_passes_shellcheck() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh");
    match std::process::Command::new("shellcheck").args(["-s", "dash"]).arg(&script).output() {
        Ok(out) => assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout)),
        Err(e) if std::env::var_os("CI").is_some_and(|v| v == "true") => {
            panic!("shellcheck is required under CI=true: {e}")
        }
        Err(e) => crate::support::parts::skip(
            "install_sh_passes_shellcheck",
            &format!("shellcheck not found ({e}); .ci/run installs it"),
        ),
    }
}

#[test]
fn serve_without_init_says_what_to_run() {
    let ctx = Ctx::new();
    let run = ctx.run(&["--scope", "user", "serve"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nothing to serve") && run.stderr.contains("clawlocal init"), "{}", run.stderr);
}
