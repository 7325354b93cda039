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

use crate::support::sandbox::{SPEC, Setup};
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

#[test]
#[cfg_attr(
    any(missing_llama_server, missing_rootfs, missing_podman),
    ignore = "needs llama-server, a bootable rootfs + systemd-nspawn, podman, podman-compose and runc (README: Real components in the tests)"
)]
fn e2e_compose_under_podman_for_real() {
    let test = "e2e_compose_under_podman_for_real";
    let missing: Vec<&str> = ["podman", "podman-compose", "runc"].into_iter().filter(|p| !have(p)).collect();
    if !missing.is_empty() {
        if parts::under_ci() {
            panic!("{test}: {} required under CI=true (.ci/run installs them)", missing.join(", "));
        }
        parts::skip(test, &format!("{} not installed", missing.join(", ")));
        return;
    }
    let Some(rootfs) = nspawn::rootfs(test) else { return };
    let Some(s) = Setup::new(test) else { return };
    let conf = containers_conf(s.ctx.dir.path());
    let tag = image(&conf, &rootfs, &s.engine, s.ctx.dir.path());
    let with_podman = |args: &[&str]| {
        crate::support::finish(
            s.command()
                .env("CLAWLOCAL_COMPOSE", "podman-compose")
                .env("CLAWLOCAL_ENGINE_IMAGE", &tag)
                .env("CONTAINERS_CONF", &conf)
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let mut init: Vec<String> = vec!["--json".into()];
    init.extend(s.init_args("compose", SPEC));
    init.extend(["--yes".into(), "--health-timeout".into(), "120".into()]);
    let init: Vec<&str> = init.iter().map(String::as_str).collect();
    let run = with_podman(&init);
    let project = ["ps", "-a", "-q", "--filter", "label=io.podman.compose.project=clawlocal"];
    let ids = || podman(&conf, &project).stdout.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let cleanup = || {
        for id in ids() {
            podman(&conf, &["rm", "-f", &id]);
        }
    };
    if run.code != 0 {
        let logs = ids().first().map(|id| podman(&conf, &["logs", "--tail", "20", id]).stderr).unwrap_or_default();
        cleanup();
        panic!("init --service compose:\n{}\n{}\n--- container log ---\n{logs}", run.stdout, run.stderr);
    }
    let id = ids().into_iter().next().expect("a container");
    let receipt: Value = serde_json::from_slice(
        &std::fs::read(s.ctx.home().join(".local/state/clawlocal/receipt.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    // The engine's own high-water mark now, read from the host through the runtime's PID for the container.
    let engine_pid = podman(&conf, &["inspect", "-f", "{{.State.Pid}}", &id]).stdout.trim().to_string();
    let engine_peak = std::fs::read_to_string(format!("/proc/{engine_pid}/status"))
        .ok()
        .and_then(|status| status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(str::to_string))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024);

    let healthy = podman(&conf, &["healthcheck", "run", &id]);
    let port = podman(&conf, &["port", &id]).stdout;
    let doctor = with_podman(&["doctor", "--json"]);
    let gone = with_podman(&["--json", "uninstall", "--yes"]);
    let left = ids();
    cleanup();

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
