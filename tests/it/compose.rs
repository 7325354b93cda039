//! The rendered compose file for real: podman (with runc: crun cannot run on these hybrid-cgroup machines) and
//! Debian's podman-compose, selected with `CLAWLOCAL_COMPOSE=podman-compose`. No registry is reachable, so the
//! image is imported locally from the systemd test rootfs plus the CI-built llama-server and selected with
//! `CLAWLOCAL_ENGINE_IMAGE`. `init --service compose` → the container is healthy (`podman healthcheck run`: no
//! systemd on the host schedules the checks), the key arrives as a secret, the port is published on 127.0.0.1
//! only, init measured the engine inside the container (its VmHWM, in the receipt), doctor is green,
//! `uninstall` brings it down.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::gguf::TinyModel;
use crate::support::sandbox::{REPO, SPEC, Setup};
use crate::support::{nspawn, parts};

fn have(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// podman with runc and ulimits this host allows (the defaults fail: `setrlimit RLIMIT_NOFILE`).
fn containers_conf(dir: &Path) -> PathBuf {
    let path = dir.join("containers.conf");
    std::fs::write(
        &path,
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n",
    )
    .unwrap();
    path
}

fn podman(conf: &Path, args: &[&str]) -> crate::support::Run {
    crate::support::finish(Command::new("podman").env("CONTAINERS_CONF", conf).args(args).output().unwrap())
}

/// `localhost/clawlocal-test/llama-server:<sha256 prefix of the binary>`, imported once per engine build.
fn image(conf: &Path, rootfs: &Path, engine: &Path, work: &Path) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(std::fs::read(engine).unwrap());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let tag = format!("localhost/clawlocal-test/llama-server:{hex}");
    if podman(conf, &["image", "exists", &tag]).code == 0 {
        return tag;
    }
    let extra = work.join("extra");
    std::fs::create_dir_all(extra.join("usr/local/bin")).unwrap();
    std::fs::copy(engine, extra.join("usr/local/bin/llama-server")).unwrap();
    let script = format!(
        "tar -C '{}' -c . -C '{}' ./usr/local/bin/llama-server | podman import --change 'ENTRYPOINT [\"/usr/local/bin/llama-server\"]' - '{tag}'",
        rootfs.display(),
        extra.display()
    );
    let out = Command::new("sh").args(["-c", &script]).env("CONTAINERS_CONF", conf).output().unwrap();
    assert!(out.status.success(), "podman import: {}", String::from_utf8_lossy(&out.stderr));
    tag
}

/// Every test's compose project is `clawlocal` (one container name): they run one at a time.
static PROJECT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A sandbox whose clawlocal drives podman-compose with the locally imported engine image.
struct Podman {
    setup: Setup,
    conf: PathBuf,
    tag: String,
    _project: std::sync::MutexGuard<'static, ()>,
}

impl Podman {
    /// None (a skip, or a failure under CI) when podman, podman-compose, runc, the rootfs or llama-server is missing.
    fn new(test: &str) -> Option<Podman> {
        let missing: Vec<&str> = ["podman", "podman-compose", "runc"].into_iter().filter(|p| !have(p)).collect();
        if !missing.is_empty() {
            if parts::under_ci() {
                panic!("{test}: {} required under CI=true (.ci/run installs them)", missing.join(", "));
            }
            parts::skip(test, &format!("{} not installed", missing.join(", ")));
            return None;
        }
        let project = PROJECT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let rootfs = nspawn::rootfs(test)?;
        let setup = Setup::new(test)?;
        let conf = containers_conf(setup.ctx.dir.path());
        let tag = image(&conf, &rootfs, &setup.engine, setup.ctx.dir.path());
        Some(Podman { setup, conf, tag, _project: project })
    }

    fn run(&self, args: &[&str]) -> crate::support::Run {
        crate::support::finish(
            self.setup
                .command()
                .env("CLAWLOCAL_COMPOSE", "podman-compose")
                .env("CLAWLOCAL_ENGINE_IMAGE", &self.tag)
                .env("CONTAINERS_CONF", &self.conf)
                .args(args)
                .output()
                .unwrap(),
        )
    }

    /// The clawlocal project's containers, running or not.
    fn ids(&self) -> Vec<String> {
        let project = ["ps", "-a", "-q", "--filter", "label=io.podman.compose.project=clawlocal"];
        podman(&self.conf, &project).stdout.split_whitespace().map(str::to_string).collect()
    }

    fn cleanup(&self) {
        for id in self.ids() {
            podman(&self.conf, &["rm", "-f", &id]);
        }
    }
}

#[test]
#[cfg_attr(
    any(missing_llama_server, missing_rootfs, missing_podman),
    ignore = "needs llama-server, a bootable rootfs + systemd-nspawn, podman, podman-compose and runc (README: Real components in the tests)"
)]
fn e2e_compose_under_podman_for_real() {
    let Some(p) = Podman::new("e2e_compose_under_podman_for_real") else { return };
    let (s, conf) = (&p.setup, &p.conf);
    let mut init: Vec<String> = vec!["--json".into()];
    init.extend(s.init_args("compose", SPEC));
    init.extend(["--yes".into(), "--health-timeout".into(), "120".into()]);
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    let run = p.run(&init);
    if run.code != 0 {
        let logs = p.ids().first().map(|id| podman(conf, &["logs", "--tail", "20", id]).stderr).unwrap_or_default();
        p.cleanup();
        panic!("init --service compose:\n{}\n{}\n--- container log ---\n{logs}", run.stdout, run.stderr);
    }
    let id = p.ids().into_iter().next().expect("a container");
    let receipt: Value = serde_json::from_slice(
        &std::fs::read(s.ctx.home().join(".local/state/clawlocal/receipt.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    // The engine's own high-water mark now, read from the host through the runtime's PID for the container.
    let engine_pid = podman(conf, &["inspect", "-f", "{{.State.Pid}}", &id]).stdout.trim().to_string();
    let engine_peak = std::fs::read_to_string(format!("/proc/{engine_pid}/status"))
        .ok()
        .and_then(|status| clawlocal::render::service::peak_from_status(&status));

    let healthy = podman(conf, &["healthcheck", "run", &id]);
    let port = podman(conf, &["port", &id]).stdout;
    let doctor = p.run(&["doctor", "--json"]);
    let gone = p.run(&["--json", "uninstall", "--yes"]);
    let left = p.ids();
    p.cleanup();

    parts::note(&format!(
        "compose under podman: container {id}, published {}; measured at the start {} bytes, VmHWM now {engine_peak:?}",
        port.trim(),
        receipt["measured"]["peak_bytes"]
    ));
    // init measured the engine inside the container (not podman's port forwarder) once it answered.
    assert_eq!(receipt["measured"]["during"], "service", "{receipt:#}");
    let measured = receipt["measured"]["peak_bytes"].as_u64().unwrap_or(0);
    assert!(
        measured > receipt["model"]["size"].as_u64().unwrap(),
        "the engine holds at least the weights: {receipt:#}"
    );
    let engine_peak = engine_peak.expect("the container's main process has a VmHWM on the host");
    assert!(
        measured <= engine_peak && engine_peak - measured < 64 << 20,
        "the receipt's peak {measured} is the engine's own (VmHWM now {engine_peak})"
    );
    assert_eq!(healthy.code, 0, "healthcheck: {}{}", healthy.stdout, healthy.stderr);
    assert!(
        port.lines().all(|l| l.contains("-> 127.0.0.1:")) && port.contains(&format!("127.0.0.1:{}", s.port)),
        "published on loopback only: {port}"
    );
    let doc: Value = serde_json::from_str(&doctor.stdout).unwrap_or_else(|_| panic!("{}", doctor.stderr));
    assert_eq!((doctor.code, &doc["ok"]), (0, &json!(true)), "{doc:#}");
    let active = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "service.active").unwrap();
    assert_eq!(active["status"], "pass", "{doc:#}");
    let model = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "server.model").unwrap();
    assert_eq!(model["status"], "pass", "the engine took the key from the compose secret: {doc:#}");
    let memory = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "host.memory").unwrap();
    assert!(memory["detail"].as_str().unwrap().contains("measured by init at the service's start"), "{memory}");
    assert_eq!(gone.code, 0, "{}\n{}", gone.stdout, gone.stderr);
    assert!(left.is_empty(), "uninstall brought the project down: {left:?}");
}

/// Issue 22, measured fit at a service start: under compose the engine's peak is read from inside the container
/// (through the runtime's PID for it). A model whose tokenizer makes it far heavier than its estimate starts fine
/// on a roomy profile; on one whose budget is above that peak but below it plus the prompt-cache growth its
/// `--cache-ram` allows, init takes the start back: the project is brought down, the error names the measured and
/// the budget figures, and openclaw.json is byte for byte as it was.
#[test]
#[cfg_attr(
    any(missing_llama_server, missing_rootfs, missing_podman),
    ignore = "needs llama-server, a bootable rootfs + systemd-nspawn, podman, podman-compose and runc (README: Real components in the tests)"
)]
fn e2e_a_compose_start_whose_measured_peak_exceeds_the_budget_is_taken_back() {
    let Some(p) = Podman::new("e2e_a_compose_start_whose_measured_peak_exceeds_the_budget_is_taken_back") else {
        return;
    };
    let s = &p.setup;
    let original = "// mine\n{ agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-5' } } } }\n";
    std::fs::write(s.config(), original).unwrap();
    // Eight layers: a KV cache of 128 MiB at 32768 tokens, the prompt cache's room to grow into.
    let heavy = TinyModel { long_tokens: 60_000, n_layer: 8, seed: 9, ..Default::default() }.bytes();
    s.hub.add_repo(REPO, &[("heavy-F16.gguf", heavy)]);
    let spec = format!("hf:{REPO}/heavy-F16.gguf");
    let mib = 1u64 << 20;
    let profile = |name: &str, budget_mib: u64| {
        let path = s.ctx.dir.path().join(format!("{name}.json5"));
        let memory = (budget_mib + 1024) * mib;
        std::fs::write(&path, format!("{{ memory: {memory}, reserve: '1GiB', cores: 2, disk: '40GiB' }}\n")).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (port, engine) = (s.port.to_string(), s.engine.to_string_lossy().into_owned());
    let init = |profile: &str| {
        p.run(&[
            "--json",
            "init",
            "--profile",
            profile,
            "--service",
            "compose",
            "--model",
            &spec,
            "--context",
            "32768",
            "--port",
            &port,
            "--engine",
            &engine,
            "--yes",
            "--health-timeout",
            "120",
        ])
    };

    // A roomy budget: it starts, and init measures the engine inside the container.
    let roomy = init(&profile("roomy", 4096));
    let receipt: Value = serde_json::from_slice(&std::fs::read(s.receipt()).unwrap_or_default()).unwrap_or(Value::Null);
    let gone = p.run(&["--json", "uninstall", "--yes"]);
    p.cleanup();
    assert_eq!(roomy.code, 0, "{}\n{}", roomy.stdout, roomy.stderr);
    assert_eq!(gone.code, 0, "{}", gone.stderr);
    assert_eq!(receipt["measured"]["during"], "service", "{receipt:#}");
    let peak = receipt["measured"]["peak_bytes"].as_u64().unwrap();
    let estimate =
        receipt["model"]["estimate_bytes"].as_u64().unwrap() - receipt["model"]["growth_bytes"].as_u64().unwrap();
    assert!(peak > estimate + 128 * mib, "the tokenizer makes it far heavier than its estimate: {peak} vs {estimate}");

    // A budget 64 MiB above that peak: it fits by the estimate and loads within the container's memory limit, but
    // its peak plus the 128 MiB of prompt cache it may grow into do not fit.
    let budget_mib = peak / mib + 64;
    let tight = init(&profile("tight", budget_mib));
    let left = p.ids();
    p.cleanup();
    crate::support::parts::note(&format!(
        "compose measured fit: peak {} MiB on the roomy profile; tight profile: {}",
        peak / mib,
        tight.stderr.lines().find(|l| l.contains("when the service started")).unwrap_or("")
    ));
    assert_eq!(tight.code, 1, "taken back after the start: {}\n{}", tight.stdout, tight.stderr);
    let budget = clawlocal::size::human(budget_mib * mib);
    for part in [
        "the model heavy-f16 took",
        &format!("above the budget of {budget}"),
        "when the service started, so OpenClaw was not pointed at it",
    ] {
        assert!(tight.stderr.contains(part), "{part}: {}", tight.stderr);
    }
    assert!(tight.stderr.contains("the service stopped"), "{}", tight.stderr);
    let tail = tight.stderr.split("--- last log lines ---").nth(1).unwrap_or("");
    assert!(tail.contains("llama_server"), "the engine's own log (podman logs' stderr) follows: {tail}");
    assert!(left.is_empty(), "the project was brought down: {left:?}");
    assert_eq!(std::fs::read_to_string(s.config()).unwrap(), original, "openclaw.json was not touched");
}
