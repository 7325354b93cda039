//! Rendered units against the real checkers: `systemd-analyze verify` and `security --offline=true` for every
//! bundled profile, the plist through a property-list parser, the compose file against the Compose
//! Specification's JSON schema; and injection attempts through paths that reach the templates.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Ctx, bundled_profiles, parts};

/// An executable stand-in for llama-server (verify checks that ExecStart's program exists); `--version` and
/// `--help` answer like the pinned release, so render probes it.
fn fake_engine(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("llama-server");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(
        f,
        "#!/bin/sh\ncase \"$1\" in --version) echo 'version: 0.5.0 (build 10534, commit 2b56210)' >&2;; \
         --help) echo '--model --alias --host --port --ctx-size --threads --batch-size --ubatch-size --parallel \
         --kv-unified --fit --fit-target --fit-ctx --n-gpu-layers --load-mode --jinja --metrics --no-webui \
         --api-key-file --cache-type-k --cache-type-v --flash-attn';; esac"
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn render(ctx: &Ctx, scope: &str, target: &str, profile: &str, engine: &Path, out: &Path) -> crate::support::Run {
    crate::support::finish(
        ctx.command()
            .args(["--scope", scope, "--offline", "render", "--target", target, "--profile", profile, "--out"])
            .arg(out)
            .arg("--engine")
            .arg(engine)
            .output()
            .unwrap(),
    )
}

/// `Overall exposure level for clawlocal-llm.service: 1.2 OK 🙂` → 1.2
/// The GPU groups of this host's /etc/group, as the renderer reads them.
fn host_gpu_groups() -> Vec<String> {
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let names: Vec<String> = groups.lines().filter_map(|l| l.split(':').next()).map(String::from).collect();
    ["render", "video"].iter().map(|s| s.to_string()).filter(|g| names.contains(g)).collect()
}

fn exposure(analyze: &Path, unit: &Path) -> f64 {
    let out = Command::new(analyze).args(["security", "--offline=true"]).arg(unit).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| panic!("{text}"));
    line.rsplit(':').next().unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

fn exec_start(unit: &str) -> Vec<String> {
    let line = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
    line.split_whitespace().map(String::from).collect()
}

#[test]
#[cfg_attr(any(missing_systemd_analyze), ignore = "needs systemd-analyze (README: Real components in the tests)")]
fn units_system_unit_of_every_profile_verifies_and_scores_at_most_2() {
    let Some(analyze) = parts::systemd_analyze("units_system_unit_of_every_profile_verifies_and_scores_at_most_2")
    else {
        return;
    };
    let ctx = Ctx::new();
    let engine = fake_engine(&ctx.dir.path().join("bin"));
    let mut scores = Vec::new();
    for profile in bundled_profiles() {
        let out = ctx.dir.path().join("out").join(&profile);
        let run = render(&ctx, "system", "systemd", &profile, &engine, &out);
        assert_eq!(run.code, 0, "{profile}: {}", run.stderr);
        let unit = out.join("clawlocal-llm.service");
        let verify = Command::new(&analyze).arg("verify").arg(&unit).output().unwrap();
        assert!(
            verify.status.success() && verify.stderr.is_empty(),
            "{profile}: systemd-analyze verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let score = exposure(&analyze, &unit);
        assert!(score <= 2.0, "{profile}: exposure {score}");
        scores.push(format!("{profile}: {score}"));

        let text = std::fs::read_to_string(&unit).unwrap();
        let argv = exec_start(&text);
        let after = |flag: &str| argv.iter().position(|a| a == flag).map(|i| argv[i + 1].clone());
        assert_eq!(after("--host").as_deref(), Some("127.0.0.1"), "{profile}");
        assert_eq!(after("--port").as_deref(), Some("8765"), "{profile}");
        assert!(after("--alias").is_some_and(|a| !a.is_empty()), "{profile}");
        assert!(after("--ctx-size").unwrap().parse::<u32>().unwrap() >= 16_000, "{profile}");
        assert_eq!(after("--api-key-file").as_deref(), Some("${CREDENTIALS_DIRECTORY}/api-key"), "{profile}");
        assert!(!argv.iter().any(|a| a == "--api-key"), "{profile}: no key on the command line");
        assert!(text.contains("LoadCredential=api-key:/etc/clawlocal/api-key"), "{profile}");
        assert!(text.lines().next().unwrap().contains("Managed by clawlocal"), "{profile}");
        let cuda = text.contains("char-nvidia-uvm");
        assert_eq!(cuda, profile.starts_with("gpu-"), "{profile}: NVIDIA devices exactly on GPU profiles");
        let vulkan = text.contains("DeviceAllow=char-drm rw");
        assert_eq!(vulkan, profile.starts_with("vulkan-"), "{profile}: DRM nodes exactly on Vulkan profiles");
        assert_eq!(text.contains("PrivateDevices=yes"), !cuda && !vulkan, "{profile}");
        assert_eq!(text.contains("MemoryDenyWriteExecute=yes"), !cuda && !vulkan, "{profile}");
        if vulkan && host_gpu_groups().contains(&"render".to_string()) {
            assert!(text.contains("SupplementaryGroups=render"), "{profile}: the render group joins the unit");
        }
    }
    // The scores go into the closing note: `cargo test units_system -- --nocapture`.
    let _ = writeln!(std::io::stderr(), "exposure scores: {}", scores.join(", "));
}

#[test]
#[cfg_attr(any(missing_systemd_analyze), ignore = "needs systemd-analyze (README: Real components in the tests)")]
fn units_user_unit_verifies_and_has_no_user_directive() {
    let Some(analyze) = parts::systemd_analyze("units_user_unit_verifies_and_has_no_user_directive") else { return };
    let ctx = Ctx::new();
    let engine = fake_engine(&ctx.dir.path().join("bin"));
    let out = ctx.dir.path().join("out");
    let run = render(&ctx, "user", "systemd", "vps-8gb", &engine, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let unit = out.join("clawlocal-llm.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(text.contains("WantedBy=default.target") && !text.contains("User=") && !text.contains("DynamicUser"));
    let key = ctx.home().join(".config/clawlocal/api-key");
    assert!(exec_start(&text).contains(&key.display().to_string()), "the user's own 0600 key file");
    // A user manager needs a runtime dir of its own.
    let runtime = ctx.dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let verify =
        Command::new(&analyze).env("XDG_RUNTIME_DIR", &runtime).args(["--user", "verify"]).arg(&unit).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

#[test]
fn units_launchd_plist_parses_with_the_expected_keys() {
    let ctx = Ctx::new();
    // `<`, `&` and `"` in a path must come back intact from the XML.
    let engine = fake_engine(&ctx.dir.path().join("odd <&\"> dir"));
    let out = ctx.dir.path().join("out");
    let run = render(&ctx, "user", "launchd", "mac-16gb", &engine, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plist = plist::Value::from_file(out.join("ai.clawlocal.llm.plist")).expect("a valid property list");
    let dict = plist.as_dictionary().unwrap();
    assert_eq!(dict["Label"].as_string(), Some("ai.clawlocal.llm"));
    let args: Vec<&str> = dict["ProgramArguments"].as_array().unwrap().iter().map(|v| v.as_string().unwrap()).collect();
    assert_eq!(args[0], engine.to_str().unwrap(), "the path survives XML escaping");
    let host = args.iter().position(|a| *a == "--host").unwrap();
    assert_eq!(args[host + 1], "127.0.0.1");
    assert_eq!(dict["RunAtLoad"].as_boolean(), Some(true));
    assert!(dict["KeepAlive"].as_dictionary().is_some());
    for key in ["StandardOutPath", "StandardErrorPath", "WorkingDirectory"] {
        assert!(dict[key].as_string().is_some_and(|p| p.starts_with('/')), "{key}");
    }
}

fn compose_schema() -> jsonschema::Validator {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/compose-spec.json"))
            .unwrap(),
    )
    .unwrap();
    jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(&schema).unwrap()
}

#[test]
fn units_compose_file_validates_against_the_compose_spec_and_publishes_loopback_only() {
    let validator = compose_schema();
    let ctx = Ctx::new();
    let engine = fake_engine(&ctx.dir.path().join("bin"));
    for profile in ["vps-8gb", "gpu-24gb", "vulkan-16gb"] {
        let out = ctx.dir.path().join(profile);
        let run = render(&ctx, "user", "compose", profile, &engine, &out);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let yaml: serde_json::Value =
            serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("compose.yaml")).unwrap()).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&yaml).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{profile}: {errors:#?}");
        let svc = &yaml["services"]["clawlocal-llm"];
        let ports = svc["ports"].as_array().unwrap();
        assert!(ports.iter().all(|p| p.as_str().unwrap().starts_with("127.0.0.1:")), "{ports:?}");
        assert_eq!(svc["volumes"][0]["read_only"], true);
        assert_eq!(svc["cap_drop"], serde_json::json!(["ALL"]));
        assert_eq!(svc["security_opt"], serde_json::json!(["no-new-privileges:true"]));
        assert!(
            svc["healthcheck"]["test"].as_array().unwrap().iter().any(|t| t.as_str().unwrap().ends_with("/health"))
        );
        let image = svc["image"].as_str().unwrap();
        assert_eq!(image.contains("server-cuda-"), profile.starts_with("gpu"), "{image}");
        assert_eq!(image.contains("server-vulkan-"), profile.starts_with("vulkan"), "{image}");
        assert_eq!(
            svc["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia",
            profile.starts_with("gpu")
        );
        let dri = svc["devices"].as_array().is_some_and(|d| d.iter().any(|d| d == "/dev/dri:/dev/dri"));
        assert_eq!(dri, profile.starts_with("vulkan"), "{profile}: /dev/dri exactly for Vulkan");
        if profile.starts_with("vulkan") && !host_gpu_groups().is_empty() {
            let gids: Vec<String> =
                svc["group_add"].as_array().unwrap().iter().map(|g| g.as_str().unwrap().to_string()).collect();
            assert!(gids.iter().all(|g| g.parse::<u32>().is_ok()) && !gids.is_empty(), "numeric host gids: {gids:?}");
        }
        let command: Vec<&str> = svc["command"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(command.windows(2).any(|w| w == ["--api-key-file", "/run/secrets/api-key"]));
    }
}

/// Paths with quotes, `%` specifiers, `$` variables and spaces are escaped so the unit still names the very same
/// files (verify finds the program); what systemd cannot express is refused; a newline is refused before anything
/// is written.
#[test]
#[cfg_attr(any(missing_systemd_analyze), ignore = "needs systemd-analyze (README: Real components in the tests)")]
fn units_injection_through_paths_is_escaped_or_refused() {
    let Some(analyze) = parts::systemd_analyze("units_injection_through_paths_is_escaped_or_refused") else { return };
    let ctx = Ctx::new();
    let engine = fake_engine(&ctx.dir.path().join("we ird 100%d $HOME dir"));
    // The model path is an argument: quotes and `;` are fine there once quoted.
    let hub = ctx.dir.path().join("hub \"q\" ; 50%n $X");
    let render_with_hub = |scope: &str, target: &str, out: &Path, engine: &Path| {
        crate::support::finish(
            ctx.command()
                .env("HF_HUB_CACHE", &hub)
                .args(["--scope", scope, "--offline", "render", "--target", target, "--profile", "vps-8gb", "--out"])
                .arg(out)
                .arg("--engine")
                .arg(engine)
                .output()
                .unwrap(),
        )
    };
    let out = ctx.dir.path().join("out");
    let run = render_with_hub("system", "systemd", &out, &engine);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let unit = out.join("clawlocal-llm.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exec = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(exec.starts_with(&format!("ExecStart=\"{}", engine.display().to_string().replace('%', "%%"))), "{exec}");
    assert!(exec.contains("\\\"q\\\" ; 50%%n $$X"), "the model argument quoted and escaped: {exec}");
    let verify = Command::new(&analyze).arg("verify").arg(&unit).output().unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "verify resolves the escaped program path: {}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // systemd cannot take a quote in the program path: refused by name.
    let quoted = fake_engine(&ctx.dir.path().join("bad\"dir"));
    let run = render_with_hub("system", "systemd", &ctx.dir.path().join("out-q"), &quoted);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("the engine path") && run.stderr.contains("executable path"), "{}", run.stderr);

    // compose: `$` doubled against interpolation, quotes escaped, and the YAML reads back the same string.
    let run = render_with_hub("user", "compose", &out, &engine);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let yaml: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(out.join("compose.yaml")).unwrap()).unwrap();
    let source = yaml["services"]["clawlocal-llm"]["volumes"][0]["source"].as_str().unwrap();
    assert!(source.starts_with(&hub.display().to_string().replace('$', "$$")), "{source}");

    // plist: the same model path comes back intact.
    let run = render_with_hub("user", "launchd", &out, &engine);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plist = plist::Value::from_file(out.join("ai.clawlocal.llm.plist")).unwrap();
    let args = plist.as_dictionary().unwrap()["ProgramArguments"].as_array().unwrap().clone();
    assert!(args.iter().any(|a| a.as_string().unwrap().starts_with(&hub.display().to_string())));

    // A newline in a path would add directives: refused, naming the path, and nothing is written.
    let evil = ctx.dir.path().join("cache\nExecStartPre=/bin/touch /tmp/pwned");
    let out2 = ctx.dir.path().join("out2");
    let run = crate::support::finish(
        ctx.command()
            .env("HF_HUB_CACHE", &evil)
            .args(["--scope", "system", "--offline", "render", "--target", "systemd", "--profile", "vps-8gb"])
            .arg("--out")
            .arg(&out2)
            .arg("--engine")
            .arg(&engine)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("the model path") && run.stderr.contains("control character"), "{}", run.stderr);
    assert!(!out2.exists(), "nothing written");
}

/// `--root DIR` (image building): every file lands under DIR, the unit and receipt name paths as the image sees
/// them, no service manager is called (systemctl would fail here: systemd is not PID 1), and a rerun changes
/// nothing.
#[test]
fn units_init_with_root_writes_an_image_and_starts_nothing() {
    let ctx = Ctx::new();
    let hub = crate::support::hubmock::HubMock::start();
    let tiny = crate::support::gguf::TinyModel::default().bytes();
    hub.add_repo("clawlocal-test/tiny-GGUF", &[("tiny-F16.gguf", tiny)]);
    let img = ctx.dir.path().join("img");
    fake_engine(&img.join("usr/bin"));
    let init = || {
        crate::support::finish(
            ctx.command()
                .env("HF_ENDPOINT", hub.endpoint())
                .args(["--scope", "system", "--json", "--root"])
                .arg(&img)
                .args(["init", "--profile", "vps-8gb", "--service", "systemd", "--engine", "/usr/bin/llama-server"])
                .args([
                    "--model",
                    "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf",
                    "--openclaw-config",
                    "/srv/oc/openclaw.json",
                ])
                .output()
                .unwrap(),
        )
    };
    let run = init();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let unit = img.join("etc/systemd/system/clawlocal-llm.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    assert!(!text.contains(&img.display().to_string()), "no build-host paths in the unit:\n{text}");
    let argv = exec_start(&text);
    assert_eq!(argv[0], "ExecStart=/usr/bin/llama-server".trim_start_matches("ExecStart="));
    let model = &argv[argv.iter().position(|a| a == "--model").unwrap() + 1];
    assert!(model.starts_with("/var/cache/clawlocal/huggingface/hub/models--clawlocal-test--tiny-GGUF/snapshots/"));
    assert!(img.join(model.trim_start_matches('/')).is_file(), "the model is in the image where the unit says");
    let key = img.join("etc/clawlocal/api-key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(img.join("srv/oc/openclaw.json")).unwrap().contains("clawlocal"));
    let start = doc["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "start").unwrap().clone();
    assert_eq!(start["status"], "skipped", "no service manager under --root");
    let receipt: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(img.join("var/lib/clawlocal/receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["serve"]["program"], "/usr/bin/llama-server");
    assert!(!receipt.to_string().contains(&img.display().to_string()), "{receipt}");

    let again = init();
    assert_eq!(again.code, 0, "{}", again.stderr);
    for action in again.json()["actions"].as_array().unwrap() {
        let expected = if action["kind"] == "start" { "skipped" } else { "unchanged" };
        assert_eq!(action["status"], expected, "{action}");
    }
}
