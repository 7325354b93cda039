//! `clawlocal openclaw patch|unpatch` against the fixture configs and the corpus, judged by the real OpenClaw
//! CLI (`openclaw config validate --json`): valid before ⇒ valid after (both roles), every value and comment kept,
//! a second patch changes no byte, mode 0600 kept, unpatch byte-identical.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use clawlocal::openclaw::patch::{comments, lost, parse_json5};

use crate::support::{Ctx, Run, finish, parts};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openclaw");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openclaw-corpus");
const MODEL_REF: &str = "clawlocal/tiny-llama-f16";

/// A scratch OpenClaw home: the config at `<dir>/oc/openclaw.json`, clawlocal's state under `<dir>/state`.
struct Scratch {
    ctx: Ctx,
    /// The OpenClaw CLI clawlocal may call; `None` hides it (PATH without it).
    openclaw: Option<PathBuf>,
}

impl Scratch {
    fn new(openclaw: Option<PathBuf>) -> Self {
        let ctx = Ctx::new();
        std::fs::create_dir_all(ctx.dir.path().join("oc")).unwrap();
        Scratch { ctx, openclaw }
    }

    fn config(&self) -> PathBuf {
        self.ctx.dir.path().join("oc/openclaw.json")
    }

    fn put(&self, name: &str, text: &[u8]) -> PathBuf {
        let p = self.ctx.dir.path().join("oc").join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut cmd = self.ctx.command();
        cmd.env("XDG_STATE_HOME", self.ctx.dir.path().join("state"))
            .env("OPENCLAW_STATE_DIR", self.ctx.dir.path().join("oc"))
            .env("PATH", "/usr/bin:/bin");
        if let Some(bin) = &self.openclaw {
            cmd.env("CLAWLOCAL_OPENCLAW", bin);
        }
        finish(cmd.args(["--scope", "user"]).args(args).output().unwrap())
    }

    fn patch(&self, role: &str, extra: &[&str]) -> Run {
        let config = self.config();
        let mut args = vec![
            "openclaw",
            "patch",
            "--config",
            config.to_str().unwrap(),
            "--base-url",
            "http://127.0.0.1:8765/v1",
            "--model-id",
            "tiny-llama-f16",
            "--context-window",
            "32768",
            "--role",
            role,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn unpatch(&self) -> Run {
        self.run(&["openclaw", "unpatch", "--config", self.config().to_str().unwrap()])
    }

    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.ctx.dir.path().join("oc"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// `openclaw config validate --json` on `config`: `Ok(())` or the issues it printed.
fn validate(openclaw: &Path, config: &Path) -> Result<(), String> {
    let doc = parts::openclaw_validate(openclaw, config);
    if doc["valid"] == true { Ok(()) } else { Err(doc["issues"].to_string()) }
}

/// The shapes every patch must handle: fixtures 01–06 and the corpus.
fn shapes() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in [FIXTURES, CORPUS] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let fixture_ok = dir == CORPUS || ["01", "02", "03", "04", "05", "06"].iter().any(|p| name.starts_with(p));
            if fixture_ok && name.contains(".json") {
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Patch one shape with one role and check everything the issue asks; returns a failure description.
fn check_shape(openclaw: &Path, name: &str, original: &[u8], role: &str) -> Result<(), String> {
    let s = Scratch::new(None);
    let config = s.put("openclaw.json", original);
    let text = String::from_utf8(original.to_vec()).unwrap();
    let valid_before = validate(openclaw, &config);
    let run = s.patch(role, &[]);
    if run.code != 0 {
        return Err(format!("{name} {role}: patch exit {}: {}", run.code, run.stderr));
    }
    let after = std::fs::read_to_string(&config).unwrap();
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    let (before_v, after_v) = (parse_json5(&text, name).unwrap(), parse_json5(&after, name).unwrap());
    let mut problems = Vec::new();
    if mode != 0o600 {
        problems.push(format!("mode {mode:o}"));
    }
    if comments(&after) != comments(&text) {
        problems.push("comments changed".into());
    }
    problems.extend(lost(&before_v, &after_v, "clawlocal"));
    let model = &after_v["agents"]["defaults"]["model"];
    let listed = model == MODEL_REF
        || model["primary"] == MODEL_REF
        || model["fallbacks"].as_array().is_some_and(|f| f.iter().any(|r| r == MODEL_REF));
    if !listed {
        problems.push(format!("{MODEL_REF} is not in agents.defaults.model: {model}"));
    }
    if role == "primary" && model != MODEL_REF && model["primary"] != MODEL_REF {
        problems.push("not the primary".into());
    }
    match (&valid_before, validate(openclaw, &config)) {
        (Ok(()), Err(issues)) => problems.push(format!("OpenClaw accepted it before, rejects it after: {issues}")),
        (Err(_), _) => problems.push("OpenClaw rejects the original (corpus shapes must be valid)".into()),
        _ => {}
    }
    let again = s.patch(role, &[]);
    if again.code != 0 || std::fs::read_to_string(&config).unwrap() != after {
        problems.push(format!("a second patch changed bytes or failed: {}", again.stderr));
    }
    let undo = s.unpatch();
    if undo.code != 0 || std::fs::read(&config).unwrap() != original {
        problems.push(format!("unpatch is not byte-identical: {}", undo.stderr));
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{name} {role}: {}", problems.join("; "))) }
}

#[test]
#[cfg_attr(any(missing_openclaw), ignore = "needs the OpenClaw CLI (README: Real components in the tests)")]
fn every_shape_stays_valid_for_the_real_openclaw_and_is_undone_byte_for_byte() {
    let Some(openclaw) = parts::openclaw("every_shape_stays_valid_for_the_real_openclaw_and_is_undone_byte_for_byte")
    else {
        return;
    };
    let shapes = shapes();
    assert!(shapes.len() >= 30, "{} shapes", shapes.len());
    // OpenClaw's CLI takes ~1.5 s a call: spread the shapes over a few threads.
    let jobs: Vec<(String, Vec<u8>, &str)> =
        shapes.into_iter().flat_map(|(n, t)| [(n.clone(), t.clone(), "fallback"), (n, t, "primary")]).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while let Some((name, text, role)) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    if let Err(e) = check_shape(&openclaw, name, text, role) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} failed:\n{}", failures.len(), jobs.len(), failures.join("\n"));
}

#[test]
#[cfg_attr(any(missing_openclaw), ignore = "needs the OpenClaw CLI (README: Real components in the tests)")]
fn the_installed_openclaw_validates_the_candidate_before_the_write() {
    let Some(openclaw) = parts::openclaw("the_installed_openclaw_validates_the_candidate_before_the_write") else {
        return;
    };
    let s = Scratch::new(Some(openclaw));
    s.put("openclaw.json", &std::fs::read(Path::new(FIXTURES).join("01-commented-cloud-primary.json5")).unwrap());
    let run = s.patch("fallback", &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["status"], "updated");
    assert_eq!(doc["validated_by_openclaw"], true);
    assert!(doc["openclaw_version"].as_str().unwrap().starts_with("2026.9.6"), "{doc}");
    let backup = PathBuf::from(doc["backup"].as_str().unwrap());
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("openclaw.json.clawlocal-") && !name.starts_with("openclaw.json.bak"), "{name}");
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!s.files().iter().any(|f| f.contains("candidate")), "candidates are removed: {:?}", s.files());
}

#[test]
fn an_included_models_file_takes_the_edit_and_openclaw_json_is_unchanged() {
    let s = Scratch::new(parts::openclaw("an_included_models_file_takes_the_edit_and_openclaw_json_is_unchanged"));
    let root = std::fs::read(Path::new(FIXTURES).join("07-include-models.json5")).unwrap();
    let models = std::fs::read(Path::new(FIXTURES).join("models.json5")).unwrap();
    s.put("openclaw.json", &root);
    let included = s.put("models.json5", &models);
    let run = s.patch("fallback", &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(std::fs::read(s.config()).unwrap(), root, "openclaw.json itself unchanged");
    let edited = parse_json5(&std::fs::read_to_string(&included).unwrap(), "models.json5").unwrap();
    assert_eq!(edited["providers"]["clawlocal"]["baseUrl"], "http://127.0.0.1:8765/v1");
    assert_eq!(run.json()["file"], included.to_str().unwrap());
    assert!(run.stderr.contains("openclaw models fallbacks add clawlocal/tiny-llama-f16"), "{}", run.stderr);
    if let Some(openclaw) = &s.openclaw {
        assert_eq!(run.json()["validated_by_openclaw"], true);
        validate(openclaw, &s.config()).expect("OpenClaw reads the include");
    }
    assert_eq!(s.unpatch().code, 0);
    assert_eq!(std::fs::read(&included).unwrap(), models, "unpatch restores the included file byte for byte");
}

#[test]
fn malformed_and_ambiguous_configs_exit_2_and_stay_untouched() {
    let s = Scratch::new(None);
    for (name, needle) in
        [("08-broken-missing-comma.json5", ":"), ("09-duplicate-keys.json5", "`models` appears 2 times")]
    {
        let original = std::fs::read(Path::new(FIXTURES).join(name)).unwrap();
        s.put("openclaw.json", &original);
        let run = s.patch("fallback", &[]);
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(run.stderr.contains("error: ") && run.stderr.contains(needle), "{name}: {}", run.stderr);
        assert_eq!(std::fs::read(s.config()).unwrap(), original, "{name}: byte-identical");
        assert!(!s.files().iter().any(|f| f.ends_with(".bak")), "{name}: no backup either: {:?}", s.files());
    }
    // 08: the error names file:line:col.
    s.put("openclaw.json", &std::fs::read(Path::new(FIXTURES).join("08-broken-missing-comma.json5")).unwrap());
    let run = s.patch("fallback", &[]);
    let at = run.stderr.split("openclaw.json:").nth(1).unwrap_or("");
    let mut parts = at.split(':');
    assert!(
        parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
            && parts.next().is_some_and(|c| c.parse::<u32>().is_ok()),
        "line:col: {}",
        run.stderr
    );
}

#[test]
fn read_only_configs_are_refused() {
    let s = Scratch::new(None);
    let original = b"{}\n";
    s.put("openclaw.json", original);
    for var in ["OPENCLAW_NIX_MODE", "OPENCLAW_CONFIG_READONLY"] {
        let config = s.config();
        let mut cmd = s.ctx.command();
        let out = cmd
            .env(var, "1")
            .env("XDG_STATE_HOME", s.ctx.dir.path().join("state"))
            .args(["--scope", "user", "openclaw", "patch", "--config", config.to_str().unwrap()])
            .args(["--base-url", "http://127.0.0.1:8765/v1", "--model-id", "m", "--context-window", "32768"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(var));
        assert_eq!(std::fs::read(&config).unwrap(), original);
    }
}

#[test]
fn a_missing_config_is_created_0600_with_gateway_mode_only_when_asked_and_unpatch_removes_it() {
    let s = Scratch::new(None);
    let run = s.patch("fallback", &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["status"], "created");
    let v = parse_json5(&std::fs::read_to_string(s.config()).unwrap(), "new").unwrap();
    assert!(v.get("gateway").is_none(), "{v}");
    assert_eq!(v["agents"]["defaults"]["model"]["primary"], MODEL_REF, "no primary before: ours");
    assert_eq!(std::fs::metadata(s.config()).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(s.unpatch().code, 0);
    assert!(!s.config().exists(), "unpatch removes the file the patch created");
    let run = s.patch("fallback", &["--gateway-mode", "local"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = parse_json5(&std::fs::read_to_string(s.config()).unwrap(), "new").unwrap();
    assert_eq!(v["gateway"]["mode"], "local");
}

#[test]
fn a_symlinked_config_is_written_through_and_stays_a_link() {
    let s = Scratch::new(None);
    let real = s.put("real.json5", b"// mine\n{ gateway: { mode: 'local' } }\n");
    std::os::unix::fs::symlink(&real, s.config()).unwrap();
    let run = s.patch("fallback", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(std::fs::symlink_metadata(s.config()).unwrap().file_type().is_symlink(), "still a link");
    assert!(std::fs::read_to_string(&real).unwrap().contains("clawlocal"), "the target was edited");
    assert!(run.stderr.contains("symlink"), "{}", run.stderr);
}

#[test]
fn dry_run_prints_a_unified_diff_and_writes_nothing() {
    let s = Scratch::new(None);
    let original = std::fs::read(Path::new(FIXTURES).join("02-string-model.json5")).unwrap();
    s.put("openclaw.json", &original);
    let run = s.patch("primary", &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("--- ") && run.stdout.contains("\n+++ ") && run.stdout.contains("\n@@ "),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("+        primary: \"{MODEL_REF}\"")) || run.stdout.contains(MODEL_REF),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read(s.config()).unwrap(), original);
    assert_eq!(s.files(), vec!["openclaw.json".to_string()], "no backup, lock or record for a dry run");
}

#[test]
fn unpatch_after_the_user_edited_the_file_removes_only_what_clawlocal_added() {
    let s = Scratch::new(None);
    s.put("openclaw.json", &std::fs::read(Path::new(FIXTURES).join("01-commented-cloud-primary.json5")).unwrap());
    assert_eq!(s.patch("primary", &[]).code, 0);
    let patched = std::fs::read_to_string(s.config()).unwrap();
    // The user adds a key of their own in between.
    let edited = patched.replacen("timeoutSeconds: 600,", "timeoutSeconds: 600,\n      maxConcurrent: 3, // mine", 1);
    assert_ne!(edited, patched);
    s.put("openclaw.json", edited.as_bytes());
    let run = s.unpatch();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = std::fs::read_to_string(s.config()).unwrap();
    let v = parse_json5(&after, "x").unwrap();
    assert_eq!(v["agents"]["defaults"]["maxConcurrent"], 3, "the user's edit stays");
    assert!(after.contains("// mine"));
    assert!(v["models"]["providers"].get("clawlocal").is_none(), "{after}");
    assert_eq!(v["agents"]["defaults"]["model"]["primary"], "anthropic/claude-sonnet-4-6", "old primary restored");
    assert_eq!(v["agents"]["defaults"]["model"]["fallbacks"], serde_json::json!(["openai/gpt-5.4"]));
    assert_eq!(s.unpatch().code, 0, "a second unpatch has nothing to do");
}

#[test]
fn bad_arguments_name_the_flag() {
    let s = Scratch::new(None);
    let config = s.config();
    for (args, needle) in [
        (vec!["--base-url", "127.0.0.1:8765", "--model-id", "m", "--context-window", "32768"], "--base-url"),
        (vec!["--base-url", "http://127.0.0.1:8765", "--model-id", "m", "--context-window", "32768"], "/v1"),
        (vec!["--base-url", "http://127.0.0.1:8765/v1", "--model-id", "m", "--context-window", "8192"], "16000"),
    ] {
        let mut all = vec!["openclaw", "patch", "--config", config.to_str().unwrap()];
        all.extend(args);
        let run = s.run(&all);
        assert_eq!(run.code, 2, "{all:?}");
        assert!(run.stderr.contains(needle), "{}", run.stderr);
    }
    let key = s.put("key", b"secret\n");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = s.patch("fallback", &["--api-key-file", key.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(s.patch("fallback", &["--api-key-file", key.to_str().unwrap()]).code, 0);
    let v = parse_json5(&std::fs::read_to_string(s.config()).unwrap(), "x").unwrap();
    assert_eq!(v["models"]["providers"]["clawlocal"]["apiKey"], "secret");
}

/// The bundled trimmed schema equals what the pinned OpenClaw CLI prints (`CLAWLOCAL_UPDATE_SCHEMAS=1` rewrites it).
#[test]
#[cfg_attr(any(missing_openclaw), ignore = "needs the OpenClaw CLI (README: Real components in the tests)")]
fn bundled_openclaw_schema_matches_the_installed_cli() {
    let Some(openclaw) = parts::openclaw("bundled_openclaw_schema_matches_the_installed_cli") else { return };
    let version = Command::new(&openclaw).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    let version = clawlocal::openclaw::version::Version::parse(&version).expect("a version").to_string();
    let out = Command::new(&openclaw).args(["config", "schema"]).env("HOME", Ctx::new().home()).output().unwrap();
    let full: serde_json::Value = serde_json::from_slice(&out.stdout).expect("openclaw config schema prints JSON");
    let trimmed = serde_json::to_string_pretty(&clawlocal::openclaw::schema::trim(&full, &version)).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openclaw-subset.schema.json");
    if std::env::var_os("CLAWLOCAL_UPDATE_SCHEMAS").is_some() {
        std::fs::write(&path, &trimmed).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap() == trimmed,
        "schemas/openclaw-subset.schema.json differs from OpenClaw {version}'s: run scripts/openclaw-schema.sh"
    );
    assert_eq!(version, clawlocal::openclaw::version::NEWEST_KNOWN.to_string(), "NEWEST_KNOWN follows the pinned CLI");
}

/// Another program renaming a new openclaw.json every ~20 ms (as OpenClaw's own writer does) while clawlocal
/// patches it again and again: none of the other writer's keys is lost — clawlocal's write takes the name only
/// if the file still holds what it edited (an atomic exchange, then a check), and the edit is made again from
/// the new content when it did not.
#[test]
fn a_concurrent_writers_changes_are_never_lost() {
    let s = Scratch::new(None);
    let config = s.config();
    std::fs::write(&config, "{\n  \"gateway\": { \"mode\": \"local\" }\n}\n").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (config, stop) = (config.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut written = 0u32;
            let tmp = config.with_file_name(".writer.tmp");
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(text) = std::fs::read_to_string(&config) else { continue };
                let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
                doc["writer"][format!("k{written}")] = serde_json::json!(written);
                std::fs::write(&tmp, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
                std::fs::rename(&tmp, &config).unwrap();
                written += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            written
        })
    };
    let (mut ok, mut refused) = (0, 0);
    for i in 0..150 {
        let id = if i % 2 == 0 { "model-a" } else { "model-b" };
        let args =
            ["openclaw", "patch", "--config", config.to_str().unwrap(), "--base-url", "http://127.0.0.1:8765/v1"];
        let run = s.run(&[&args[..], &["--model-id", id, "--context-window", "32768"]].concat());
        match run.code {
            0 => ok += 1,
            _ => {
                assert!(run.stderr.contains(" changed "), "a clean refusal: {}", run.stderr);
                refused += 1;
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let lost: Vec<u32> = (0..written).filter(|k| doc["writer"][format!("k{k}")].is_null()).collect();
    parts::note(&format!("concurrent writer: {written} writes, clawlocal {ok} patches done, {refused} refused"));
    assert!(written > 20 && ok > 0, "the race ran: {written} writes, {ok} patches");
    assert_eq!(lost, Vec::<u32>::new(), "the other writer's keys are all there");
}

/// Two patches of different config files at once, round after round: both records kept, so both unpatch.
#[test]
fn concurrent_patches_of_two_configs_keep_both_records() {
    let s = Scratch::new(None);
    let configs = [s.put("one.json", b"{}\n"), s.put("two.json", b"{}\n")];
    for round in 0..8 {
        let runs: Vec<_> = configs
            .iter()
            .map(|config| {
                let mut cmd = s.ctx.command();
                cmd.env("XDG_STATE_HOME", s.ctx.dir.path().join("state")).env("PATH", "/usr/bin:/bin");
                cmd.args(["--scope", "user", "openclaw", "patch", "--config", config.to_str().unwrap()])
                    .args(["--base-url", "http://127.0.0.1:8765/v1", "--context-window", "32768", "--model-id"])
                    .arg(format!("m{round}"))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in runs {
            let run = finish(child.wait_with_output().unwrap());
            assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
        }
        let records: serde_json::Value = serde_json::from_slice(
            &std::fs::read(s.ctx.dir.path().join("state/clawlocal/openclaw-patches.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(records["patches"].as_array().unwrap().len(), 2, "round {round}: {records:#}");
    }
    for config in &configs {
        let undo = s.run(&["openclaw", "unpatch", "--config", config.to_str().unwrap()]);
        assert_eq!(undo.code, 0, "{}", undo.stderr);
        assert_eq!(std::fs::read(config).unwrap(), b"{}\n", "{}", config.display());
    }
}

/// Nothing installed, but a standalone `openclaw patch`: `uninstall --yes` says there is nothing to uninstall and
/// keeps the patch's record, so `openclaw unpatch` still gives the file back byte for byte (no clawlocal provider
/// or ref left).
#[test]
fn uninstall_without_a_receipt_keeps_a_standalone_patchs_record() {
    let s = Scratch::new(None);
    let original = b"// mine\n{\n  \"gateway\": { \"mode\": \"local\" }\n}\n";
    let config = s.put("openclaw.json", original);
    assert_eq!(s.patch("primary", &[]).code, 0);
    let gone = s.run(&["uninstall", "--yes"]);
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    assert!(gone.stderr.contains("nothing to uninstall"), "{}", gone.stderr);
    assert!(gone.stderr.contains("clawlocal openclaw unpatch"), "{}", gone.stderr);
    let undo = s.unpatch();
    assert_eq!(undo.code, 0, "{}", undo.stderr);
    assert!(!undo.stdout.contains("nothing to undo") && !undo.stderr.contains("nothing to undo"), "{}", undo.stderr);
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(text.as_bytes(), original, "byte for byte");
    assert!(!text.contains("clawlocal"), "{text}");
}

/// Two patches with different models (each role), then one unpatch: no `clawlocal` provider or ref is left, and
/// the file is byte for byte what it was.
#[test]
fn two_patches_with_different_models_then_unpatch_leave_nothing_of_clawlocal() {
    for role in ["fallback", "primary"] {
        let s = Scratch::new(None);
        let original = b"{\n  // mine\n  \"agents\": { \"defaults\": { \"model\": { \"primary\": \"anthropic/claude-sonnet-4-5\" } } }\n}\n";
        let config = s.put("openclaw.json", original);
        for id in ["first-model", "second-model"] {
            let args =
                ["openclaw", "patch", "--config", config.to_str().unwrap(), "--base-url", "http://127.0.0.1:8765/v1"];
            let run = s.run(&[&args[..], &["--model-id", id, "--context-window", "32768", "--role", role]].concat());
            assert_eq!(run.code, 0, "{role} {id}: {}", run.stderr);
        }
        let undo = s.unpatch();
        assert_eq!(undo.code, 0, "{}", undo.stderr);
        let text = std::fs::read_to_string(&config).unwrap();
        assert!(!text.contains("clawlocal"), "{role}: {text}");
        assert_eq!(text.as_bytes(), original, "{role}: byte for byte");
    }
}

/// A 0644 openclaw.json that is to hold the engine's key inline is written 0600 (with a note); doctor's
/// `security.config-file` fails when the key is readable by others again. A key marker needs no such care.
#[test]
fn an_inline_key_never_lands_in_a_file_others_can_read() {
    let s = Scratch::new(None);
    let config = s.put("openclaw.json", b"{}\n");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let key = s.ctx.dir.path().join("api-key");
    std::fs::write(&key, "clawlocal-0123456789abcdef0123456789abcdef0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = s.patch("fallback", &["--api-key-file", key.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("had mode 644 and now holds the API key"), "{}", run.stderr);
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let doctor = |s: &Scratch| {
        let mut cmd = s.ctx.command();
        cmd.env("XDG_STATE_HOME", s.ctx.dir.path().join("state")).env("OPENCLAW_CONFIG_PATH", &config);
        finish(cmd.args(["--scope", "user", "--json", "doctor", "--only", "security.config-file"]).output().unwrap())
    };
    assert_eq!(doctor(&s).code, 0, "{}", doctor(&s).stdout);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let report = doctor(&s);
    assert_eq!(report.code, 1, "{}", report.stdout);
    let check = &report.json()["checks"][0];
    assert_eq!(
        (check["status"].as_str(), check["fix"].as_str()),
        (Some("fail"), Some(&*format!("chmod 600 {}", config.display())))
    );

    // A marker is no secret: the file keeps its mode.
    let s = Scratch::new(None);
    let config = s.put("openclaw.json", b"{}\n");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(s.patch("fallback", &[]).code, 0);
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o644);
}

/// A state file that exists but cannot be read (here: not UTF-8) is the user's to fix, like one that does not
/// parse: exit 2 with the file named, whichever file it is (receipt, lock, patch records).
#[test]
fn unreadable_state_files_exit_2_naming_the_file() {
    for (file, args) in [
        ("receipt.json", vec!["status"]),
        ("clawlocal.lock", vec!["pull", "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf", "--offline"]),
        // (unpatch and uninstall go on without it, by clawlocal's names: see the broken-records test)
        (
            "openclaw-patches.json",
            vec!["openclaw", "patch", "--base-url", "http://127.0.0.1:8765/v1", "--model-id", "m"],
        ),
    ] {
        let s = Scratch::new(None);
        let config = s.put("openclaw.json", b"{}\n");
        let state = s.ctx.dir.path().join("state/clawlocal");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(state.join(file), b"\xff\xfe not text").unwrap();
        let mut words: Vec<&str> = args.clone();
        if file == "openclaw-patches.json" {
            words.extend(["--context-window", "32768", "--config", config.to_str().unwrap()]);
        }
        let run = s.run(&words);
        assert_eq!(run.code, 2, "{file}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("cannot read {}", state.join(file).display())), "{file}: {}", run.stderr);
    }
}
