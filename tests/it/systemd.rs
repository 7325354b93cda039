//! The hardened system unit under a real systemd (PID 1 in a `systemd-nspawn` container, see
//! support/nspawn.rs): `init --service systemd` → active → `/health` → doctor green (the `service.*` checks and
//! the online `systemd-analyze security`) → OpenClaw answers through the unit-run engine; `kill -9` → systemd
//! restarts it and doctor reports the restart; a container reboot → the enabled unit comes back by itself;
//! `uninstall --purge` → nothing left and systemd knows no such unit. A swap to a model that fails to load rolls
//! back through systemd (old unit back, old engine serving, openclaw.json untouched). Also the port collision inside the
//! container, refused before anything is written.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::gguf::TinyModel;
use crate::support::hubmock::HubMock;
use crate::support::nspawn::{self, Container};
use crate::support::{http, parts};

const REPO: &str = "clawlocal-test/tiny-GGUF";
const SPEC: &str = "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf";

/// `init` of the tiny model under systemd on `port`, with the engine copied into the container.
fn init_words(port: &str) -> Vec<&str> {
    let engine = "/usr/local/bin/llama-server";
    let mut words = vec!["--json", "init", "--profile", "vps-8gb", "--service", "systemd", "--model", SPEC];
    words.extend(["--port", port, "--engine", engine, "--yes"]);
    words
}

fn init_argv(port: u16, hub: &HubMock) -> Vec<String> {
    let endpoint = format!("HF_ENDPOINT={}", hub.endpoint());
    let port = port.to_string();
    let mut argv = vec!["env", &endpoint, "clawlocal", "--scope", "system"];
    argv.extend(init_words(&port));
    argv.into_iter().map(String::from).collect()
}

fn run_argv(c: &Container, argv: &[String]) -> crate::support::Run {
    let words: Vec<&str> = argv.iter().map(String::as_str).collect();
    c.run(&words)
}

fn check<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("{id} in {doc:#}"))
}

fn health(port: u16) -> Option<u16> {
    http::get(&format!("http://127.0.0.1:{port}/health")).ok().map(|r| r.status)
}

fn wait_health(port: u16, timeout: Duration) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if health(port) == Some(200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    false
}

#[test]
#[cfg_attr(
    any(missing_llama_server, missing_rootfs),
    ignore = "needs llama-server, a bootable rootfs + systemd-nspawn (README: Real components in the tests)"
)]
fn e2e_systemd_system_unit_for_real_restart_reboot_uninstall() {
    let test = "e2e_systemd_system_unit_for_real_restart_reboot_uninstall";
    let Some(rootfs) = nspawn::rootfs(test) else { return };
    let Some(engine) = parts::llama_server(test) else { return };
    let openclaw = parts::openclaw(test);
    let hub = HubMock::start();
    let tiny = TinyModel::default().bytes();
    // Same layout and sizes under another architecture name: clawlocal's checks pass, llama-server refuses it.
    let mut broken = tiny.clone();
    for i in 0..broken.len().saturating_sub(5) {
        if &broken[i..i + 5] == b"llama" {
            broken[i + 1] = b'x';
        }
    }
    hub.add_repo(REPO, &[("tiny-F16.gguf", tiny), ("broken-F16.gguf", broken)]);
    let mut c = Container::boot(&rootfs, &engine);
    let port = parts::free_port();

    // Port held by another program: refused before anything is written, the port named.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let refused = run_argv(&c, &init_argv(port, &hub));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("port {port} is already in use")), "{}", refused.stderr);
    assert!(refused.stderr.contains("--port"), "the hint names --port: {}", refused.stderr);
    for left in ["etc/systemd/system/clawlocal-llm.service", "etc/clawlocal", "var/lib/clawlocal"] {
        assert!(!c.path(left).exists(), "{left} was written by a refused init");
    }
    drop(squatter);

    // init → the unit is active, enabled, and answers on the shared loopback.
    let run = run_argv(&c, &init_argv(port, &hub));
    assert_eq!(run.code, 0, "init inside the container:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(c.run(&["systemctl", "is-active", "clawlocal-llm.service"]).stdout.trim(), "active");
    assert_eq!(c.run(&["systemctl", "is-enabled", "clawlocal-llm.service"]).stdout.trim(), "enabled");
    assert_eq!(health(port), Some(200));
    let user = c.sh("ps -o user= -C llama-server").stdout;
    assert!(!user.trim().is_empty() && !user.contains("root"), "runs as the dynamic user, not root: {user:?}");

    // The engine the unit started was measured once it answered (its peak, from its own /proc entry), and kept.
    let receipt: Value =
        serde_json::from_slice(&std::fs::read(c.path("var/lib/clawlocal/receipt.json")).unwrap()).unwrap();
    assert_eq!(receipt["measured"]["during"], "service", "{receipt:#}");
    let peak = receipt["measured"]["peak_bytes"].as_u64().unwrap();
    assert!(peak > receipt["model"]["size"].as_u64().unwrap(), "the engine holds at least the weights: {receipt:#}");

    // doctor: everything green, the service checks and the online sandbox score included.
    let doctor = c.run(&["clawlocal", "--scope", "system", "doctor", "--json"]);
    let doc: Value = serde_json::from_str(&doctor.stdout).unwrap_or_else(|_| panic!("{}", doctor.stderr));
    assert_eq!((doctor.code, &doc["ok"]), (0, &json!(true)), "{doc:#}");
    let memory = check(&doc, "host.memory")["detail"].as_str().unwrap();
    assert!(memory.contains("measured by init at the service's start"), "{memory}");
    for id in ["service.unit", "service.enabled", "service.active", "service.restarts", "security.hardening"] {
        assert_eq!(check(&doc, id)["status"], "pass", "{id}: {doc:#}");
    }
    let hardening = check(&doc, "security.hardening")["detail"].as_str().unwrap().to_string();
    assert!(
        hardening.contains("(online): exposure 1.0"),
        "the loaded unit, scored by the running systemd: {hardening}"
    );

    // The real OpenClaw CLI, on the host, reads the container's config and answers through the unit's engine.
    if let Some(oc) = &openclaw {
        let config = c.path("/root/.openclaw/openclaw.json");
        let state = c.path("/root/.openclaw");
        let home = tempfile::tempdir().unwrap();
        let openclaw = |args: &[&str]| {
            std::process::Command::new(oc)
                .args(args)
                .env("OPENCLAW_CONFIG_PATH", &config)
                .env("OPENCLAW_STATE_DIR", &state)
                .env("HOME", home.path())
                .output()
                .unwrap()
        };
        let valid = openclaw(&["config", "validate"]);
        assert!(valid.status.success(), "{}", String::from_utf8_lossy(&valid.stderr));
        let model = "clawlocal/tiny-f16";
        let answer =
            openclaw(&["infer", "model", "run", "--local", "--model", model, "--prompt", "Reply with: pong", "--json"]);
        let text = String::from_utf8_lossy(&answer.stdout);
        let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(doc["ok"], json!(true), "{text}\n{}", String::from_utf8_lossy(&answer.stderr));
    }

    // A swap to a model the engine cannot load, through systemd: the new unit crash-loops, init puts the old unit
    // back and restarts it; openclaw.json and the unit are as before and the old model still answers.
    let unit_path = c.path("/etc/systemd/system/clawlocal-llm.service");
    let (unit_before, config_before) =
        (std::fs::read(&unit_path).unwrap(), std::fs::read(c.path("/root/.openclaw/openclaw.json")).unwrap());
    let mut swap = init_argv(port, &hub);
    let at = swap.iter().position(|a| a == SPEC).unwrap();
    swap[at] = SPEC.replace("tiny-F16", "broken-F16");
    swap.extend(["--health-timeout".to_string(), "20".to_string()]);
    let failed = run_argv(&c, &swap);
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    assert!(
        failed.stderr.contains("the previous setup (tiny-f16) is back and answering; openclaw.json was not touched"),
        "{}",
        failed.stderr
    );
    assert_eq!(std::fs::read(&unit_path).unwrap(), unit_before, "the old unit is back");
    assert_eq!(
        std::fs::read(c.path("/root/.openclaw/openclaw.json")).unwrap(),
        config_before,
        "openclaw.json untouched"
    );
    let doctor = c.run(&["clawlocal", "--scope", "system", "doctor", "--json", "--only", "server.model"]);
    assert_eq!(doctor.code, 0, "the old engine serves the old model: {}", doctor.stdout);

    // The prompt cache is capped from the budget (--cache-ram in the unit), and several distinct long
    // conversations leave the service running with no restart.
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(unit.lines().any(|l| l.starts_with("ExecStart=") && l.contains(" --cache-ram ")), "{unit}");
    let restarts_before = c.run(&["systemctl", "show", "-p", "NRestarts", "--value", "clawlocal-llm.service"]).stdout;
    let key = std::fs::read_to_string(c.path("/etc/clawlocal/api-key")).unwrap();
    let auth = format!("Bearer {}", key.trim());
    for n in 0..4 {
        let words: Vec<String> = (0..1500).map(|i| format!("w{n}x{i}")).collect();
        let body = json!({
            "model": "tiny-f16",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": words.join(" ")}],
        });
        let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
        let reply = http::request(
            "POST",
            &url,
            &[("Content-Type", "application/json"), ("Authorization", &auth)],
            Some(body.to_string().as_bytes()),
        )
        .unwrap();
        assert_eq!(reply.status, 200, "conversation {n}: {}", String::from_utf8_lossy(&reply.body));
    }
    let restarts_after = c.run(&["systemctl", "show", "-p", "NRestarts", "--value", "clawlocal-llm.service"]).stdout;
    assert_eq!(restarts_after, restarts_before, "no restart after four long conversations");
    assert_eq!(c.run(&["systemctl", "is-active", "clawlocal-llm.service"]).stdout.trim(), "active");

    // kill -9 of the engine: Restart=on-failure brings it back, and doctor reports the restart. (The swap's
    // crash loop already counted restarts: the count must go up by one.)
    let restarts = || {
        c.run(&["systemctl", "show", "-p", "NRestarts", "--value", "clawlocal-llm.service"]).stdout.trim().to_string()
    };
    let before: u32 = restarts().parse().unwrap();
    let main_pid = c.run(&["systemctl", "show", "-p", "MainPID", "--value", "clawlocal-llm.service"]).stdout;
    let killed = c.run(&["kill", "-9", main_pid.trim()]);
    assert_eq!(killed.code, 0, "{}", killed.stderr);
    let after = before + 1;
    c.wait_for(
        "the restart",
        &format!(
            "[ \"$(systemctl show -p NRestarts --value clawlocal-llm.service)\" = {after} ] && \
             systemctl is-active -q clawlocal-llm.service"
        ),
        Duration::from_secs(60),
    );
    assert!(wait_health(port, Duration::from_secs(60)), "the restarted engine answers");
    let doctor = c.run(&["clawlocal", "--scope", "system", "doctor", "--json", "--only", "service.restarts"]);
    let doc: Value = serde_json::from_str(&doctor.stdout).unwrap();
    let reported = check(&doc, "service.restarts");
    assert_eq!(reported["status"], "warn", "{doc:#}");
    assert!(reported["detail"].as_str().unwrap().contains(&format!("restarted {after} times")), "{doc:#}");

    // A reboot of the container: the enabled unit starts by itself.
    c.stop();
    assert_eq!(health(port), None, "nothing answers while the container is down");
    c.start();
    assert!(wait_health(port, Duration::from_secs(90)), "the unit came back after the reboot");
    assert_eq!(c.run(&["systemctl", "is-active", "clawlocal-llm.service"]).stdout.trim(), "active");

    // uninstall --purge: no unit, key, state or model left, and systemd knows no such unit.
    let gone = c.run(&["clawlocal", "--scope", "system", "--json", "uninstall", "--purge", "--yes"]);
    assert_eq!(gone.code, 0, "{}\n{}", gone.stdout, gone.stderr);
    let load = c.run(&["systemctl", "show", "-p", "LoadState", "--value", "clawlocal-llm.service"]).stdout;
    assert_eq!(load.trim(), "not-found", "systemd still knows the unit");
    for left in ["etc/systemd/system/clawlocal-llm.service", "etc/clawlocal/api-key", "var/lib/clawlocal/receipt.json"]
    {
        assert!(!c.path(left).exists(), "{left} left after uninstall --purge");
    }
    let blobs = c.sh("find /var/cache/clawlocal -name '*.gguf' -o -path '*/blobs/*' -type f | head -3").stdout;
    assert!(blobs.trim().is_empty(), "the model is gone: {blobs}");
    assert_eq!(health(port), None, "nothing answers after uninstall");
}

/// User scope under a real user manager (a user with linger, as on a headless VPS): `init --scope user --service
/// systemd` → active → doctor green, `security.hardening` judged against what a user manager can apply (at
/// 36f61b4 it failed at 7.0 and init exited 1); then `uninstall` leaves no unit the user manager knows.
#[test]
#[cfg_attr(
    any(missing_llama_server, missing_rootfs),
    ignore = "needs llama-server, a bootable rootfs + systemd-nspawn (README: Real components in the tests)"
)]
fn e2e_systemd_user_unit_for_real_with_linger() {
    let test = "e2e_systemd_user_unit_for_real_with_linger";
    let Some(rootfs) = nspawn::rootfs(test) else { return };
    let Some(engine) = parts::llama_server(test) else { return };
    let hub = HubMock::start();
    hub.add_repo(REPO, &[("tiny-F16.gguf", TinyModel::default().bytes())]);
    let c = Container::boot(&rootfs, &engine);
    let port = parts::free_port();
    let made = c.sh("useradd -m -u 1000 alice && loginctl enable-linger alice");
    assert_eq!(made.code, 0, "{}", made.stderr);
    c.wait_for("alice's user manager", "systemctl is-active -q user@1000.service", Duration::from_secs(60));
    let endpoint = format!("HF_ENDPOINT={}", hub.endpoint());
    let as_alice = |args: &[&str]| {
        let mut argv = vec![
            "runuser",
            "-u",
            "alice",
            "--",
            "env",
            "HOME=/home/alice",
            "USER=alice",
            "XDG_RUNTIME_DIR=/run/user/1000",
            "DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus",
            &endpoint,
            "clawlocal",
            "--scope",
            "user",
        ];
        argv.extend_from_slice(args);
        c.run(&argv)
    };
    let port_text = port.to_string();
    let init = as_alice(&init_words(&port_text));
    assert_eq!(init.code, 0, "init as alice:\n{}\n{}", init.stdout, init.stderr);
    assert!(wait_health(port, Duration::from_secs(30)));
    let doctor = as_alice(&["doctor", "--json"]);
    let doc: Value = serde_json::from_str(&doctor.stdout).unwrap_or_else(|_| panic!("{}", doctor.stderr));
    assert_eq!((doctor.code, &doc["ok"]), (0, &json!(true)), "{doc:#}");
    for id in ["service.unit", "service.enabled", "service.active", "security.hardening"] {
        assert_eq!(check(&doc, id)["status"], "pass", "{id}: {doc:#}");
    }
    let hardening = check(&doc, "security.hardening")["detail"].as_str().unwrap().to_string();
    assert!(hardening.contains("a user manager cannot apply"), "the reason is in the detail: {hardening}");
    parts::note(&format!("user unit: {hardening}"));

    let gone = as_alice(&["--json", "uninstall", "--yes"]);
    assert_eq!(gone.code, 0, "{}\n{}", gone.stdout, gone.stderr);
    assert!(!c.path("/home/alice/.config/systemd/user/clawlocal-llm.service").exists());
    assert_eq!(health(port), None, "nothing answers after uninstall");
}
