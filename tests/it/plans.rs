//! One plan, executed exactly: a plan that cannot run is refused before a byte is fetched or written (and its dry
//! run exits non-zero naming the step), the dry run's diffs are exactly what init then writes, and `--root` never
//! touches the build host. These never start an engine: llama-server here is a FAKE (a shell script answering
//! `--version` and `--help` as llama-server does), so they need no real part.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::hubmock::{HubMock, sha256_hex};
use crate::support::{Ctx, Run, finish};

const SPEC: &str = "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf";
const USER_CONFIG: &str =
    "// my config\n{\n  agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-5' } } },\n}\n";
use crate::support::sandbox::{FLAGS, fake_engine};

struct Sandbox {
    ctx: Ctx,
    hub: HubMock,
    engine: PathBuf,
    port: u16,
}

impl Sandbox {
    fn new() -> Self {
        let ctx = Ctx::new();
        let hub = HubMock::start();
        hub.add_repo(
            "clawlocal-test/tiny-GGUF",
            &[("tiny-F16.gguf", crate::support::gguf::TinyModel::default().bytes())],
        );
        let engine = ctx.dir.path().join("bin/llama-server");
        fake_engine(&engine, FLAGS);
        std::fs::create_dir_all(ctx.dir.path().join("openclaw")).unwrap();
        std::fs::write(ctx.dir.path().join("openclaw/openclaw.json"), USER_CONFIG).unwrap();
        Sandbox { ctx, hub, engine, port: crate::support::parts::free_port() }
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self
            .ctx
            .command()
            .env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_CACHE", self.ctx.dir.path().join("hub"))
            .env("OPENCLAW_CONFIG_PATH", self.ctx.dir.path().join("openclaw/openclaw.json"))
            .env("OPENCLAW_STATE_DIR", self.ctx.dir.path().join("openclaw"))
            .env("CLAWLOCAL_OPENCLAW", "/nonexistent/openclaw")
            .args(args)
            .output()
            .unwrap();
        finish(out)
    }

    fn init(&self, extra: &[&str]) -> Run {
        let port = self.port.to_string();
        let engine = self.engine.to_string_lossy().into_owned();
        let mut args = vec!["--json", "--scope", "user", "init", "--model", SPEC];
        // The sandbox's profile, port and engine unless the case names its own.
        for (flag, value) in [("--profile", "vps-8gb"), ("--port", port.as_str()), ("--engine", engine.as_str())] {
            if !extra.contains(&flag) {
                args.extend([flag, value]);
            }
        }
        args.extend(extra);
        self.run(&args)
    }

    /// Requests for a model's body: a GET without a Range or with an open one (a resumed download). Planning an
    /// `hf:` model reads its GGUF header with bounded Range requests (`bytes=0-262143`), which are not counted.
    fn downloads(&self) -> usize {
        let body = |range: &Option<String>| range.as_deref().is_none_or(|r| r.ends_with('-'));
        self.hub.log().iter().filter(|l| l.server == "cdn" && l.method == "GET" && body(&l.range)).count()
    }

    fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        tree(self.ctx.dir.path())
    }
}

fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Each plan that cannot run: init stops before the first byte is fetched or any file written, naming the thing;
/// the dry run exits non-zero with the blocker and the step it would stop at.
#[test]
fn a_plan_that_cannot_run_fetches_nothing_writes_nothing_and_its_dry_run_fails() {
    type Arrange = fn(&Sandbox) -> Vec<String>;
    let cases: [(&str, Arrange, &str); 6] = [
        ("no engine", |_| vec!["--engine".into(), "/no/such/llama-server".into()], "/no/such/llama-server"),
        (
            "broken openclaw.json",
            |s| {
                std::fs::write(s.ctx.dir.path().join("openclaw/openclaw.json"), "{ agents: { defaults: ").unwrap();
                vec![]
            },
            "openclaw.json",
        ),
        ("GPU profile without a GPU", |_| vec!["--profile".into(), "gpu-8gb".into()], "is for a CUDA GPU"),
        ("no systemd", |_| vec!["--service".into(), "systemd".into()], "--service systemd cannot run here"),
        (
            "engine without --metrics",
            |s| {
                fake_engine(&s.engine, &FLAGS.replace("--metrics ", ""));
                vec![]
            },
            "does not take --metrics",
        ),
        ("port held", |_| vec![], "is already in use by"),
    ];
    for (name, arrange, needle) in cases {
        let s = Sandbox::new();
        let mut extra = arrange(&s);
        if !extra.iter().any(|a| a == "--service") {
            extra.extend(["--service".to_string(), "none".to_string()]);
        }
        let _held = (name == "port held").then(|| std::net::TcpListener::bind(("127.0.0.1", s.port)).unwrap());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let before = s.tree();

        let dry = s.init(&[&extra[..], &["--dry-run"]].concat());
        assert_ne!(dry.code, 0, "{name}: a dry run of a plan that cannot run fails: {}", dry.stdout);
        let doc = dry.json();
        assert_eq!(doc["ok"], false, "{name}: {doc}");
        let blockers = doc["blockers"].as_array().unwrap();
        assert!(
            blockers
                .iter()
                .any(|b| b["message"].as_str().unwrap().contains(needle) && b["step"].as_u64().unwrap() >= 1),
            "{name}: the blocker names {needle:?}: {blockers:?}"
        );

        let real = s.init(&extra);
        assert_ne!(real.code, 0, "{name}: {}", real.stdout);
        assert!(real.stderr.contains(needle), "{name}: {}", real.stderr);
        assert_eq!(real.json()["ok"], false, "{name}: one JSON document on stdout");
        assert_eq!(s.downloads(), 0, "{name}: not a byte of the model was fetched");
        assert_eq!(s.tree(), before, "{name}: nothing was written");
    }
}

/// The dry run shows the steps in the order init runs them, with nothing it will not do: `--no-start` starts
/// nothing, and a config without a primary model gets ours as the primary, as the diff says.
#[test]
fn the_dry_run_lists_the_steps_init_runs_in_their_order() {
    let s = Sandbox::new();
    std::fs::write(s.ctx.dir.path().join("openclaw/openclaw.json"), "{}\n").unwrap();
    let dry = s.init(&["--service", "systemd", "--no-start", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let doc = dry.json();
    let kinds: Vec<&str> = doc["actions"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["journal", "download", "lock", "engine", "api-key", "unit", "openclaw-config", "receipt"]);
    let patch = doc["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "openclaw-config").unwrap();
    assert!(patch["description"].as_str().unwrap().contains("as primary"), "{patch}");
    assert!(patch["diff"].as_str().unwrap().contains("primary"), "{patch}");

    let real = s.init(&["--service", "systemd", "--no-start"]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    let real = real.json();
    let done: Vec<&str> = real["actions"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    let planned: Vec<&str> = kinds.iter().copied().filter(|k| *k != "journal").collect();
    assert_eq!(done, [&planned[..], &["start"]].concat(), "the same steps, then the start reported skipped");
}

/// Apply a unified diff (as `similar` writes it, 3 lines of context) to `before`.
fn apply_diff(before: &str, diff: &str) -> String {
    let old: Vec<&str> = before.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut at = 0;
    let mut lines = diff.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("@@ -") else { continue };
        let start: usize = rest.split([',', ' ']).next().unwrap().parse().unwrap();
        let start = start.saturating_sub(1).max(at);
        out.extend(old[at..start.min(old.len())].iter().copied());
        at = start;
        while let Some(l) = lines.peek().filter(|l| !l.starts_with("@@")) {
            let l = *l;
            lines.next();
            if l.starts_with("\\ No newline") {
                out.pop_if_newline();
                continue;
            }
            match l.split_at(1) {
                (" ", _) => {
                    out.push_str(old[at]);
                    at += 1;
                }
                ("-", _) => at += 1,
                ("+", text) => out.push_str(text),
                _ => {}
            }
        }
    }
    out.extend(old[at.min(old.len())..].iter().copied());
    out
}

trait PopNewline {
    fn pop_if_newline(&mut self);
}

impl PopNewline for String {
    fn pop_if_newline(&mut self) {
        if self.ends_with('\n') {
            self.pop();
        }
    }
}

/// What init keeps for itself beside the files its plan writes: the Hub cache (the fetch step), backups, the
/// patch record and locks. Everything else it changes must be in the dry run's diffs.
fn bookkeeping(path: &str) -> bool {
    path.starts_with("hub/")
        || path.contains("/hub/")
        || path.ends_with(".bak")
        || path.contains("/backups/")
        || path.ends_with("openclaw-patches.json")
        || path.ends_with(".clawlocal.lock")
        || path.ends_with("doctor-cache.json")
}

/// The property: the tree before init with the dry run's diffs applied is exactly the tree after init, for
/// service targets × scope × `--root`.
#[test]
fn applying_the_dry_runs_diffs_gives_exactly_the_tree_init_leaves() {
    let combos: [(&str, &[&str], bool); 6] = [
        ("none", &["--service", "none"], false),
        ("systemd user", &["--service", "systemd", "--no-start"], false),
        ("compose", &["--service", "compose", "--no-start"], false),
        ("launchd", &["--service", "launchd", "--no-start"], false),
        ("systemd image", &["--service", "systemd"], true),
        ("compose image", &["--service", "compose"], true),
    ];
    for (name, flags, image) in combos {
        let s = Sandbox::new();
        let img = s.ctx.dir.path().join("img");
        let root = img.to_string_lossy().into_owned();
        let mut extra: Vec<&str> = flags.to_vec();
        if image {
            fake_engine(&img.join("usr/bin/llama-server"), FLAGS);
            extra.extend(["--openclaw-config", "/srv/oc/openclaw.json"]);
            std::fs::create_dir_all(img.join("srv/oc")).unwrap();
            std::fs::write(img.join("srv/oc/openclaw.json"), USER_CONFIG).unwrap();
        }
        let run = |more: &[&str]| {
            if image {
                let port = s.port.to_string();
                let mut args = vec!["--json", "--scope", "system", "--root", &root, "init", "--profile", "vps-8gb"];
                args.extend(["--model", SPEC, "--port", &port, "--engine", "/usr/bin/llama-server"]);
                args.extend(&extra);
                args.extend(more);
                finish(
                    s.ctx
                        .command()
                        .env("HF_ENDPOINT", s.hub.endpoint())
                        .env("CLAWLOCAL_OPENCLAW", "/nonexistent")
                        .args(&args)
                        .output()
                        .unwrap(),
                )
            } else {
                s.init(&[&extra[..], more].concat())
            }
        };
        let before = s.tree();
        let dry = run(&["--dry-run"]);
        assert_eq!(dry.code, 0, "{name}: {}", dry.stderr);
        let plan = dry.json();
        assert_eq!(s.tree(), before, "{name}: the dry run writes nothing");
        let done = run(&[]);
        assert_eq!(done.code, 0, "{name}: {}\n{}", done.stdout, done.stderr);
        let after = s.tree();

        let key_path =
            if image { img.join("etc/clawlocal/api-key") } else { s.ctx.home().join(".config/clawlocal/api-key") };
        let key = std::fs::read_to_string(&key_path).unwrap();
        let unmask = |d: &str| {
            let mut d = d.replace(&format!("<the key in {}>", key_path.display()), key.trim());
            // The digests of files that hold the key are masked too: filled in from the files as written.
            while let Some(at) = d.find("<the sha256 of ") {
                let end = at + d[at..].find('>').unwrap();
                let file = &d[at + "<the sha256 of ".len()..end];
                let sha = sha256_hex(&std::fs::read(file).unwrap());
                d.replace_range(at..=end, &sha);
            }
            d
        };
        let mut expected: BTreeMap<String, Vec<u8>> =
            before.iter().filter(|(p, _)| !bookkeeping(p)).map(|(p, b)| (p.clone(), b.clone())).collect();
        for action in plan["actions"].as_array().unwrap() {
            let (Some(path), Some(diff)) = (action["path"].as_str(), action["diff"].as_str()) else { continue };
            if action["kind"] == "journal" {
                continue; // the unfinished receipt, replaced by the finished one (its own step)
            }
            let rel = Path::new(path).strip_prefix(s.ctx.dir.path()).unwrap().to_string_lossy().into_owned();
            let old = expected.get(&rel).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
            expected.insert(rel, apply_diff(&old, &unmask(diff)).into_bytes());
        }
        let actual: BTreeMap<String, Vec<u8>> = after.into_iter().filter(|(p, _)| !bookkeeping(p)).collect();
        for (path, bytes) in &actual {
            assert_eq!(
                expected.get(path).map(|b| String::from_utf8_lossy(b).into_owned()),
                Some(String::from_utf8_lossy(bytes).into_owned()),
                "{name}: {path} is not what the dry run showed"
            );
        }
        assert_eq!(expected.keys().collect::<Vec<_>>(), actual.keys().collect::<Vec<_>>(), "{name}: the same files");
    }
}

/// `uninstall --root` undoes the image's install and leaves the build host's own key and openclaw.json alone.
#[test]
fn uninstall_with_root_leaves_the_build_host_untouched() {
    let s = Sandbox::new();
    let host_key = s.ctx.home().join(".config/clawlocal/api-key");
    std::fs::create_dir_all(host_key.parent().unwrap()).unwrap();
    std::fs::write(&host_key, "the-build-hosts-own-key\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&host_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let host_config = s.ctx.dir.path().join("openclaw/openclaw.json");
    let img = s.ctx.dir.path().join("img");
    let root = img.to_string_lossy().into_owned();
    fake_engine(&img.join("usr/bin/llama-server"), FLAGS);
    let image_config = img.join(host_config.strip_prefix("/").unwrap());
    std::fs::create_dir_all(image_config.parent().unwrap()).unwrap();
    std::fs::write(&image_config, USER_CONFIG).unwrap();
    let port = s.port.to_string();
    let init = s.run(&[
        "--json",
        "--scope",
        "user",
        "--root",
        &root,
        "init",
        "--profile",
        "vps-8gb",
        "--model",
        SPEC,
        "--port",
        &port,
        "--engine",
        "/usr/bin/llama-server",
        "--service",
        "none",
    ]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let image_key = img.join(host_key.strip_prefix("/").unwrap());
    assert!(std::fs::read_to_string(&image_config).unwrap().contains("clawlocal"), "the image's config is patched");
    let host_before = (std::fs::read(&host_key).unwrap(), std::fs::read(&host_config).unwrap());

    let uninstall = s.run(&["--json", "--scope", "user", "--root", &root, "uninstall", "--yes"]);
    assert_eq!(uninstall.code, 0, "{}", uninstall.stderr);
    assert_eq!(
        (std::fs::read(&host_key).unwrap(), std::fs::read(&host_config).unwrap()),
        host_before,
        "the host is untouched"
    );
    assert!(!image_key.exists(), "the image's key is removed");
    assert_eq!(std::fs::read_to_string(&image_config).unwrap(), USER_CONFIG, "the image's config is restored exactly");
}

/// `--port 0` is refused on the command line as a profile's port 0 is, and under `--json` a usage error is one
/// document on stdout and only JSON lines on stderr.
#[test]
fn port_zero_is_refused_and_usage_errors_are_json_under_json() {
    let s = Sandbox::new();
    let run = s.init(&["--port", "0", "--service", "none"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["ok"], false);
    assert!(doc["error"]["message"].as_str().unwrap().contains("0"), "{doc}");
    for line in run.stderr.lines().filter(|l| !l.trim().is_empty()) {
        assert!(serde_json::from_str::<serde_json::Value>(line).is_ok(), "stderr line is not JSON: {line}");
    }
    let plain = s.run(&["--scope", "user", "init", "--port", "0"]);
    assert_eq!(plain.code, 2);
    assert!(plain.stderr.contains("0 is not in 1..=65535"), "{}", plain.stderr);
}

/// `doctor --only server.health` while nothing listens fails, showing the prerequisite that failed: the README's
/// readiness loop (`doctor --only server.health && break`) must not end before the server is up.
#[test]
fn a_check_asked_for_fails_when_its_prerequisite_failed() {
    let s = Sandbox::new();
    let init = s.init(&["--service", "none"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let run = s.run(&["--json", "--scope", "user", "doctor", "--only", "server.health"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let doc = run.json();
    let checks = doc["checks"].as_array().unwrap();
    let health = checks.iter().find(|c| c["id"] == "server.health").unwrap();
    assert_eq!(health["status"], "fail", "{health}");
    let cause = health["detail"].as_str().unwrap();
    let prerequisite = checks.iter().find(|c| c["id"] != "server.health" && c["status"] == "fail").unwrap();
    assert!(cause.contains(prerequisite["id"].as_str().unwrap()), "{cause} names {prerequisite}");
}

/// A patch with another model replaces clawlocal's earlier edit: one clawlocal model in the provider, no ref to
/// the old one left, and unpatch still gives the original bytes back.
#[test]
fn patching_another_model_leaves_no_entry_or_ref_of_the_previous_one() {
    let s = Sandbox::new();
    let patch = |id: &str| {
        let run = s.run(&[
            "--scope",
            "user",
            "openclaw",
            "patch",
            "--base-url",
            "http://127.0.0.1:8765/v1",
            "--model-id",
            id,
            "--context-window",
            "32768",
            "--role",
            "primary",
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    let config = s.ctx.dir.path().join("openclaw/openclaw.json");
    patch("model-a");
    assert!(std::fs::read_to_string(&config).unwrap().contains("clawlocal/model-a"));
    patch("model-b");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("model-a"), "the previous model's entry and refs are gone:\n{text}");
    assert!(text.contains("clawlocal/model-b") && text.contains("anthropic/claude-sonnet-4-5"), "{text}");
    let undo = s.run(&["--scope", "user", "openclaw", "unpatch"]);
    assert_eq!(undo.code, 0, "{}", undo.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), USER_CONFIG, "unpatch restores the original bytes");
}

/// uninstall is the receipt's inverse as a plan: `--dry-run` shows it (openclaw.json's restore as a diff, the
/// receipt last) and changes nothing; the run then does those steps and leaves the user's config byte-identical.
#[test]
fn uninstall_dry_run_shows_the_inverse_plan_that_uninstall_then_runs() {
    let s = Sandbox::new();
    let init = s.init(&["--service", "none"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let before = s.tree();
    let dry = s.run(&["--json", "--scope", "user", "uninstall", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(s.tree(), before, "the dry run changes nothing");
    let plan = dry.json();
    let steps = plan["actions"].as_array().unwrap();
    let kinds: Vec<&str> = steps.iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().rev().nth(1), Some(&"receipt"), "the receipt goes last (before tidying): {kinds:?}");
    let patch = steps.iter().find(|a| a["kind"] == "openclaw-config").unwrap();
    assert_eq!(patch["status"], "restored", "{patch}");
    let diff = patch["diff"].as_str().unwrap();
    assert!(
        diff.contains("-") && diff.contains("clawlocal") && !diff.contains("clawlocal-0"),
        "the key is masked: {diff}"
    );
    let key = steps.iter().find(|a| a["kind"] == "api-key").unwrap();
    assert_eq!(key["status"], "removed", "{key}");

    let run = s.run(&["--json", "--scope", "user", "uninstall", "--yes"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let done: Vec<String> =
        run.json()["actions"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap().to_string()).collect();
    for kind in ["openclaw-config", "api-key", "receipt"] {
        assert!(done.iter().any(|d| d == kind), "{kind} in {done:?}");
    }
    assert_eq!(std::fs::read_to_string(s.ctx.dir.path().join("openclaw/openclaw.json")).unwrap(), USER_CONFIG);
    assert!(!s.ctx.home().join(".local/state/clawlocal/receipt.json").exists());
}

/// Every document a command prints under `--json` conforms to its schema in `schemas/`.
#[test]
fn the_json_documents_conform_to_their_schemas() {
    let conforms = |schema: &str, doc: &serde_json::Value| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas").join(schema);
        let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{schema}: {errors:#?}\n{doc:#}");
    };
    let s = Sandbox::new();
    let user = |args: &[&str]| s.run(&[&["--json", "--scope", "user"], args].concat()).json();
    conforms("status.schema.json", &user(&["status"]));
    conforms("uninstall.schema.json", &user(&["uninstall", "--yes"]));
    conforms("pull.schema.json", &user(&["pull", SPEC]));
    let dry = s.init(&["--service", "systemd", "--no-start", "--dry-run"]);
    conforms("dry-run.schema.json", &dry.json());
    let blocked = s.init(&["--service", "systemd", "--dry-run"]);
    assert_ne!(blocked.code, 0);
    conforms("dry-run.schema.json", &blocked.json());
    conforms("init.schema.json", &s.init(&["--service", "systemd", "--no-start"]).json());
    conforms("status.schema.json", &user(&["status"]));
    conforms("dry-run.schema.json", &user(&["uninstall", "--dry-run"]));
    let out = s.ctx.dir.path().join("rendered");
    let engine = s.engine.to_string_lossy().into_owned();
    let render = ["render", "--target", "systemd", "--profile", "vps-8gb", "--out", out.to_str().unwrap()];
    conforms("render.schema.json", &user(&[&render[..], &["--model", SPEC, "--engine", &engine]].concat()));
    conforms("uninstall.schema.json", &user(&["uninstall", "--yes"]));
    conforms("error.schema.json", &user(&["init", "--port", "0"]));
    conforms("error.schema.json", &user(&["doctor", "--only", "server.nope"]));
}

/// No llama-server anywhere: init installs the archive the lock pins for this host (from a local mirror standing
/// in for the release host) as a step before the model's download, and reaches a green doctor in one command; a
/// second run installs nothing. A tampered archive, a wrong size or a binary of another build is refused before
/// a byte of the model is fetched, with nothing installed. The host has a FAKE `nvidia-smi` (a 580 driver): a CPU
/// profile still gets the CPU build, not the CUDA one.
#[test]
fn init_installs_the_engine_first_when_there_is_none_and_refuses_a_bad_archive() {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return crate::support::parts::skip("init_installs_the_engine", "the archive is shaped for linux x86_64");
    }
    use crate::support::mirror::{Mirror, release_archive_with};
    let asset = "llama-b99999-bin-ubuntu-x64.tar.gz";
    let good = release_archive_with("b99999", 99999, FLAGS);
    let other_build = release_archive_with("b99998", 12345, FLAGS);
    let mirror = Mirror::start(std::collections::HashMap::from([
        (format!("/b99999/{asset}"), good.clone()),
        ("/b99998/llama-b99998-bin-ubuntu-x64.tar.gz".to_string(), other_build.clone()),
    ]));
    let s = Sandbox::new();
    let fakebin = s.ctx.dir.path().join("fakebin");
    std::fs::create_dir_all(&fakebin).unwrap();
    let smi = fakebin.join("nvidia-smi");
    std::fs::write(&smi, "#!/bin/sh\necho 580.95.05\n").unwrap();
    std::fs::set_permissions(&smi, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", fakebin.display());
    let lock = s.ctx.home().join(".local/state/clawlocal/clawlocal.lock");
    let pin = |release: &str, sha: &str, size: usize| {
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        let asset = format!("llama-{release}-bin-ubuntu-x64.tar.gz");
        let text = format!(
            "{{\"version\": 1, \"models\": [], \"engines\": [{{\"release\": \"{release}\", \"asset\": \"{asset}\", \"sha256\": \"{sha}\", \"size\": {size}}}]}}\n"
        );
        std::fs::write(&lock, text).unwrap();
    };
    let init = |extra: &[&str]| {
        let port = s.port.to_string();
        let mut args = vec!["--json", "--scope", "user", "init", "--profile", "vps-8gb", "--model", SPEC];
        args.extend(["--port", &port, "--service", "none"]);
        args.extend(extra);
        let out = s
            .ctx
            .command()
            .env("PATH", &path)
            .env("HF_ENDPOINT", s.hub.endpoint())
            .env("HF_HUB_CACHE", s.ctx.dir.path().join("hub"))
            .env("OPENCLAW_CONFIG_PATH", s.ctx.dir.path().join("openclaw/openclaw.json"))
            .env("CLAWLOCAL_OPENCLAW", "/nonexistent/openclaw")
            .env("CLAWLOCAL_ENGINE_MIRROR", &mirror.url)
            .args(&args)
            .output()
            .unwrap();
        finish(out)
    };
    let engine_dir = s.ctx.home().join(".local/share/clawlocal/engine");
    let sha = sha256_hex(&good);

    // `--locked` with nothing pinned: refused, naming the lock, before anything is fetched or installed.
    let locked = init(&["--locked", "--dry-run"]);
    assert_eq!(locked.code, 2, "{}", locked.stdout);
    let blockers = locked.json()["blockers"].to_string();
    assert!(blockers.contains("--locked") && blockers.contains("clawlocal.lock"), "{blockers}");

    // Refused, nothing installed, nothing of the model fetched: another sha256, another size, another build.
    let bad: [(&str, String, usize, &str); 3] = [
        ("tampered", "0".repeat(64), good.len(), "does not match the pinned"),
        ("wrong size", sha.clone(), good.len() + 1, "but the lock pins"),
        ("another build", sha256_hex(&other_build), other_build.len(), "reports build 12345"),
    ];
    for (name, digest, size, needle) in bad {
        let release = if name == "another build" { "b99998" } else { "b99999" };
        pin(release, &digest, size);
        let run = init(&[]);
        assert_ne!(run.code, 0, "{name}: {}", run.stdout);
        assert!(run.stderr.contains(needle), "{name}: {}", run.stderr);
        let left: Vec<String> = std::fs::read_dir(&engine_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.iter().all(|n| !n.starts_with("llama-b")), "{name}: nothing installed: {left:?}");
        assert_eq!(s.downloads(), 0, "{name}: the engine comes before the model, which was not fetched");
    }

    pin("b99999", &sha, good.len());
    let dry = init(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let kinds: Vec<String> =
        dry.json()["actions"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap().to_string()).collect();
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap_or(usize::MAX);
    assert!(at("engine-install") < at("download"), "the engine is installed before the model: {kinds:?}");

    let first = init(&[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let doc = first.json();
    assert_eq!(doc["doctor"]["ok"], true, "{:#}", doc["doctor"]);
    let install = doc["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "engine-install").unwrap().clone();
    assert_eq!(install["status"], "created", "{install}");
    assert!(engine_dir.join("llama-b99999/llama-server").is_file());
    let receipt: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.ctx.home().join(".local/state/clawlocal/receipt.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(receipt["engine"]["source"], "installed");

    let hits = mirror.hits.lock().unwrap().len();
    let again = init(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let again = again.json();
    assert!(again["actions"].as_array().unwrap().iter().all(|a| a["kind"] != "engine-install"), "{again:#}");
    assert_eq!(mirror.hits.lock().unwrap().len(), hits, "nothing downloaded the second time");

    // Everything is pinned now: `--locked` runs, and changes nothing.
    let locked = init(&["--locked"]);
    assert_eq!(locked.code, 0, "{}", locked.stderr);
    for action in locked.json()["actions"].as_array().unwrap() {
        let expected = if action["kind"] == "start" { "skipped" } else { "unchanged" };
        assert_eq!(action["status"], expected, "{action}");
    }

    // `--no-engine-install` keeps the refusal for those who manage the engine themselves.
    std::fs::remove_dir_all(&engine_dir).unwrap();
    let refused = init(&["--no-engine-install", "--dry-run"]);
    assert_ne!(refused.code, 0);
    assert!(refused.json()["blockers"].to_string().contains("llama-server not found"), "{}", refused.stdout);
}

/// A GPU profile served by a CPU-only build: `engine.backend` fails with the fix (install the CUDA build); a build
/// that lists the CUDA device passes, naming it. The host's GPU is a FAKE `nvidia-smi`, the engines FAKE
/// llama-servers whose `--list-devices` answers as the real ones do.
#[test]
fn doctor_fails_engine_backend_for_a_gpu_profile_on_a_cpu_only_build() {
    let s = Sandbox::new();
    let bin = s.ctx.dir.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = |path: &Path, body: &str| {
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    // nvidia-smi's two queries: the cards (name, total, free MiB) and the driver.
    script(
        &bin.join("nvidia-smi"),
        "case \"$1\" in --query-gpu=driver_version) echo 575.51.02;; *) echo 'NVIDIA GeForce RTX 4090, 24564, 24000';; esac",
    );
    let engine = |devices: &str| {
        let body = format!(
            "case \"$1\" in --version) echo 'version: 8000 (2b56210)' >&2;; --help) echo '{FLAGS}';; \
             --list-devices) printf 'Available devices:\\n{devices}\\n';; esac"
        );
        script(&s.engine, &body);
    };
    engine("  (none)");
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let run = |args: &[&str]| {
        let out = s
            .ctx
            .command()
            .env("PATH", &path)
            .env("HF_ENDPOINT", s.hub.endpoint())
            .env("HF_HUB_CACHE", s.ctx.dir.path().join("hub"))
            .env("OPENCLAW_CONFIG_PATH", s.ctx.dir.path().join("openclaw/openclaw.json"))
            .env("CLAWLOCAL_OPENCLAW", "/nonexistent/openclaw")
            .args([&["--json", "--scope", "user"], args].concat())
            .output()
            .unwrap();
        finish(out)
    };
    let port = s.port.to_string();
    let engine_path = s.engine.to_string_lossy().into_owned();
    let init = run(&[
        "init",
        "--profile",
        "gpu-24gb",
        "--model",
        SPEC,
        "--port",
        &port,
        "--engine",
        &engine_path,
        "--service",
        "none",
    ]);
    assert_eq!(init.code, 1, "init finishes, and its doctor fails: {}", init.stderr);
    let check = |doc: &serde_json::Value| {
        doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "engine.backend").cloned().unwrap()
    };
    let failed = check(&init.json()["doctor"]);
    assert_eq!(failed["status"], "fail", "{failed}");
    assert!(failed["detail"].as_str().unwrap().contains("lists no cuda device (none: a CPU-only build)"), "{failed}");
    assert!(failed["fix"].as_str().unwrap().contains("engine install --backend cuda"), "{failed}");

    engine("  CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB, 23500 MiB free)");
    let doctor = run(&["doctor", "--only", "engine.backend"]);
    assert_eq!(doctor.code, 0, "{}", doctor.stdout);
    let passed = check(&doctor.json());
    assert!(passed["detail"].as_str().unwrap().starts_with("CUDA0: NVIDIA GeForce RTX 4090"), "{passed}");
}
