//! Putting rendered files in place and driving the service managers (systemctl, launchctl, docker compose),
//! all behind `Host` so tests see the exact commands. Also the wait for `/health` and the log tail on failure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{MANAGED_MARK, Rendered, Target};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::layout::{LAUNCHD_LABEL, Layout, UNIT_NAME};

use crate::change::Change;

/// Write a rendered file: identical content is a no-op; a file at the path that clawlocal did not write is the
/// user's and is refused; a changed managed file is backed up to `<state>/backups/` first.
pub fn write(rendered: &Rendered, layout: &Layout) -> Result<(Change, Option<PathBuf>)> {
    let path = &rendered.path;
    let old = match std::fs::read_to_string(path) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), &e)),
    };
    let Some(old) = old else {
        crate::fsutil::write_atomic_as(path, rendered.text.as_bytes(), Some(0o644), None)?;
        return Ok((Change::Created, None));
    };
    if old == rendered.text {
        return Ok((Change::Unchanged, None));
    }
    if !old.lines().take(4).any(|l| l.contains(MANAGED_MARK)) {
        return Err(Error::usage(format!(
            "{} exists and was not written by clawlocal; refusing to replace it",
            path.display()
        ))
        .with_hint("move it away (or merge your settings into a drop-in) and run again"));
    }
    let backup = backup(path, &old, layout)?;
    crate::fsutil::write_atomic_as(path, rendered.text.as_bytes(), Some(0o644), None)?;
    Ok((Change::Updated, Some(backup)))
}

fn backup(path: &Path, old: &str, layout: &Layout) -> Result<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let to = layout.state_dir.join("backups").join(format!("{name}.{stamp}.bak"));
    crate::fsutil::write_atomic_as(&to, old.as_bytes(), Some(0o600), None)?;
    Ok(to)
}

/// launchd's domain for clawlocal's job: `system` for a LaunchDaemon, `gui/<uid>` for a LaunchAgent.
pub fn launchd_domain(scope: crate::layout::Scope, uid: u32) -> String {
    match scope {
        crate::layout::Scope::System => "system".to_string(),
        crate::layout::Scope::User => format!("gui/{uid}"),
    }
}

/// `<domain>/ai.clawlocal.llm`, the service target `launchctl` commands name.
pub fn launchd_target(scope: crate::layout::Scope, uid: u32) -> String {
    format!("{}/{LAUNCHD_LABEL}", launchd_domain(scope, uid))
}

/// The manager commands that enable and (re)start `target`; `changed` restarts a running service.
pub fn activation(target: Target, layout: &Layout, changed: bool, uid: u32) -> Vec<Vec<String>> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let start = if changed { "restart" } else { "start" };
    match target {
        Target::SystemdSystem | Target::SystemdUser => {
            let user: &[&str] = if target == Target::SystemdUser { &["--user"] } else { &[] };
            let sc = |rest: &[&str]| words(&[&["systemctl"], user, rest].concat());
            let mut cmds = Vec::new();
            if changed {
                cmds.push(sc(&["daemon-reload"]));
            }
            cmds.push(sc(&["enable", UNIT_NAME]));
            cmds.push(sc(&[start, UNIT_NAME]));
            cmds
        }
        Target::Launchd => {
            let domain = launchd_domain(layout.scope, uid);
            let plist = layout.launchd_plist.to_string_lossy().into_owned();
            vec![
                // bootout fails harmlessly when the job is not loaded yet (see `may_fail`).
                words(&["launchctl", "bootout", &launchd_target(layout.scope, uid)]),
                words(&["launchctl", "bootstrap", &domain, &plist]),
            ]
        }
        Target::Compose => vec![layout.compose_command(&["up", "-d"])],
    }
}

/// The command that stops and disables the service (uninstall, and a failed init taking its start back).
pub fn deactivation(target: Target, layout: &Layout, uid: u32) -> Vec<String> {
    let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match target {
        Target::SystemdSystem => words(&["systemctl", "disable", "--now", UNIT_NAME]),
        Target::SystemdUser => words(&["systemctl", "--user", "disable", "--now", UNIT_NAME]),
        Target::Launchd => words(&["launchctl", "bootout", &launchd_target(layout.scope, uid)]),
        Target::Compose => layout.compose_command(&["down"]),
    }
}

/// Whether `target`'s manager can take a unit on this host now: systemd as PID 1 (`/run/systemd/system`, what
/// `sd_booted` checks), a user manager answering on the user bus, `docker compose`, `launchctl`. The error says
/// what is missing; [`managers_here`] says what the host has instead.
pub fn manager_usable(host: &dyn Host, target: Target, layout: &Layout) -> std::result::Result<(), String> {
    let answers =
        |program: &str, args: &[&str]| host.run(program, args, Duration::from_secs(10)).is_some_and(|o| o.status == 0);
    match target {
        Target::SystemdSystem if host.exists(Path::new("/run/systemd/system")) => Ok(()),
        Target::SystemdSystem => Err(format!(
            "systemd is not running as PID 1 here (PID 1 is {}; no /run/systemd/system): a container, WSL without              systemd, or a minimal VM",
            pid1(host)
        )),
        Target::SystemdUser if answers("systemctl", &["--user", "show-environment"]) => Ok(()),
        Target::SystemdUser => Err(
            "no systemd user manager answers for this user (`systemctl --user show-environment` fails: no user bus; \
             log in through a session, or `loginctl enable-linger $USER` as root)"
                .to_string(),
        ),
        Target::Compose => {
            let mut version: Vec<&str> = layout.compose.iter().map(String::as_str).collect();
            version.push("version");
            if answers(version[0], &version[1..]) {
                Ok(())
            } else {
                Err(format!(
                    "`{}` does not answer on this host (CLAWLOCAL_COMPOSE picks another, e.g. podman-compose)",
                    version.join(" ")
                ))
            }
        }
        Target::Launchd if answers("launchctl", &["version"]) || host.os() == "macos" => Ok(()),
        Target::Launchd => Err("launchd exists only on macOS".to_string()),
    }
}

/// PID 1's command name, for the error.
fn pid1(host: &dyn Host) -> String {
    host.read_to_string(Path::new("/proc/1/comm")).map(|c| c.trim().to_string()).unwrap_or_else(|_| "unknown".into())
}

/// The `--service` values this host can run now, for the hint of a refused target.
pub fn managers_here(host: &dyn Host, layout: &Layout) -> Vec<&'static str> {
    let systemd = match layout.scope {
        crate::layout::Scope::System => Target::SystemdSystem,
        crate::layout::Scope::User => Target::SystemdUser,
    };
    let mut here = Vec::new();
    for (name, target) in [("systemd", systemd), ("compose", Target::Compose), ("launchd", Target::Launchd)] {
        if manager_usable(host, target, layout).is_ok() {
            here.push(name);
        }
    }
    here
}

fn may_fail(cmd: &[String]) -> bool {
    cmd.get(1).is_some_and(|c| c == "bootout")
}

/// Run the activation commands; a failing one is an error naming it, with what it printed.
pub fn activate(host: &dyn Host, commands: &[Vec<String>]) -> Result<()> {
    for cmd in commands {
        let args: Vec<&str> = cmd[1..].iter().map(String::as_str).collect();
        let out = host.run(&cmd[0], &args, Duration::from_secs(120));
        let line = cmd.join(" ");
        match out {
            Some(o) if o.status == 0 || may_fail(cmd) => {}
            Some(o) => {
                return Err(Error::failure(format!("`{line}` failed (exit {}): {}", o.status, o.stderr.trim()))
                    .with_hint("fix what it says, then run `clawlocal init` again (it picks up where it stopped)"));
            }
            None if may_fail(cmd) => {}
            None => {
                return Err(Error::usage(format!("cannot run `{line}`: {} not found or timed out", cmd[0]))
                    .with_hint("use --service none (and `clawlocal serve`), or another --service"));
            }
        }
    }
    Ok(())
}

/// Poll `http://127.0.0.1:<port>/health` until it answers 200 (503 means the model is still loading).
pub fn wait_healthy(port: u16, timeout: Duration) -> std::result::Result<Duration, String> {
    wait_healthy_unless(port, timeout, || None)
}

/// What only clawlocal's engine answers: `/v1/models` with this key lists this alias.
#[derive(Debug, Clone)]
pub struct Ours {
    pub key: Option<String>,
    pub alias: String,
}

/// [`wait_healthy`] that accepts only clawlocal's own engine: another program answering `/health` on the port
/// (the unit crash-looping on `bind` behind it) is not taken for success.
pub fn wait_ours(port: u16, ours: &Ours, timeout: Duration) -> std::result::Result<Duration, String> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!("the engine did not answer as clawlocal's within {}s: {last}", timeout.as_secs()));
        }
        wait_healthy(port, left)?;
        match is_ours(port, ours) {
            Ok(()) => return Ok(started.elapsed()),
            Err(why) => last = why,
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `Ok` when the engine on `port` takes the key and serves the alias; else what it answered instead.
pub fn is_ours(port: u16, ours: &Ours) -> std::result::Result<(), String> {
    let url = crate::plan::Endpoint::new(port).models_url();
    let reply = crate::doctor::server::call(&url, ours.key.as_deref(), None, Duration::from_secs(5))?;
    if reply.status != 200 {
        return Err(format!(
            "{url} answered HTTP {} to clawlocal's key: another program answers on port {port}",
            reply.status
        ));
    }
    let doc = reply.json();
    let served: Vec<&str> = doc["data"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str()).collect();
    if served.contains(&ours.alias.as_str()) {
        Ok(())
    } else {
        Err(format!("{url} serves {served:?}, not `{}`: another server answers on port {port}", ours.alias))
    }
}

/// [`wait_healthy`], giving up early with the reason `gone` returns (the engine process exited).
fn wait_healthy_unless(
    port: u16,
    timeout: Duration,
    mut gone: impl FnMut() -> Option<String>,
) -> std::result::Result<Duration, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let url = crate::plan::Endpoint::new(port).health_url();
    let started = Instant::now();
    let mut last = String::from("no answer");
    while started.elapsed() < timeout {
        if let Some(why) = gone() {
            return Err(why);
        }
        match agent.get(&url).call() {
            Ok(r) if r.status() == 200 => return Ok(started.elapsed()),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("{url} did not answer 200 within {}s (last: {last})", timeout.as_secs()))
}

/// Start the engine with `args` on a free loopback port until `/health` answers, then stop it: a new model proven
/// to load with this engine before anything is pointed at it (a swap that no service manager restarts). The error
/// carries the reason and the engine's last log lines.
/// A trial run that answered: how long the load took, the engine's peak resident memory once it answered
/// (VmHWM; None where /proc has no such line) and what it logged.
pub struct TrialRun {
    pub took: Duration,
    pub peak_bytes: Option<u64>,
    pub log: String,
}

pub fn trial(
    host: &dyn Host,
    program: &Path,
    args: &[String],
    log_dir: &Path,
    timeout: Duration,
) -> std::result::Result<TrialRun, String> {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port for a trial run: {e}"))?
        .port();
    let mut args = args.to_vec();
    if let Some(i) = args.iter().position(|a| a == "--port").filter(|i| i + 1 < args.len()) {
        args[i + 1] = port.to_string();
    }
    std::fs::create_dir_all(log_dir).map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
    let log = log_dir.join("trial.log");
    let mut child = host.spawn(program, &args, &log).map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let outcome = wait_healthy_unless(port, timeout, || {
        let status = child.try_wait().ok().flatten()?;
        Some(format!("llama-server exited ({status}) before it answered"))
    });
    // Weights, KV cache and compute buffers are all allocated by the time it answers.
    let peak_bytes = peak_of(host, child.id());
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_dir(log_dir);
    outcome.map(|took| TrialRun { took, peak_bytes, log: text.clone() }).map_err(|why| {
        let lines: Vec<&str> = text.lines().collect();
        format!("{why}\n--- last log lines ---\n{}", lines[lines.len().saturating_sub(15)..].join("\n"))
    })
}

/// The peak resident memory of process `pid` (its VmHWM), where /proc has it.
pub fn peak_of(host: &dyn Host, pid: u32) -> Option<u64> {
    host.read_to_string(Path::new(&format!("/proc/{pid}/status"))).ok().and_then(|status| peak_from_status(&status))
}

/// `VmHWM:   123456 kB` in /proc/PID/status, in bytes.
pub fn peak_from_status(status: &str) -> Option<u64> {
    let kib =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    Some(kib * 1024)
}

/// The container runtime behind the compose command: `podman compose` and podman-compose drive podman, the
/// rest docker.
pub fn container_runtime(layout: &Layout) -> &'static str {
    if layout.compose.first().is_some_and(|c| c.starts_with("podman")) { "podman" } else { "docker" }
}

/// The compose project's container ids (`ps -q`, which docker compose and podman-compose both answer); None when
/// the compose command cannot run.
pub fn compose_container_ids(host: &dyn Host, layout: &Layout) -> Option<Vec<String>> {
    let ps = layout.compose_command(&["ps", "-q"]);
    let ps: Vec<&str> = ps.iter().map(String::as_str).collect();
    let out = host.run(ps[0], &ps[1..], Duration::from_secs(30))?;
    Some(out.stdout.split_whitespace().map(str::to_string).collect())
}

/// The engine's host PID inside the compose project's container, for its peak memory: the port's holder on the
/// host is the runtime's forwarder (conmon, docker-proxy), never the engine. The container's main process is the
/// engine in clawlocal's image and llama.cpp's; an init in front of it (tini, dumb-init) is looked through.
pub fn container_engine_pid(host: &dyn Host, layout: &Layout) -> Option<u32> {
    let runtime = container_runtime(layout);
    let is_engine = |pid: u32| {
        host.read_to_string(Path::new(&format!("/proc/{pid}/comm"))).is_ok_and(|c| c.trim() == "llama-server")
    };
    compose_container_ids(host, layout)?.iter().find_map(|id| {
        let out = host.run(runtime, &["inspect", "-f", "{{.State.Pid}}", id], Duration::from_secs(20))?;
        let main = out.stdout.trim().parse::<u32>().ok().filter(|&pid| out.status == 0 && pid > 0)?;
        if is_engine(main) {
            return Some(main);
        }
        let children = host.read_to_string(Path::new(&format!("/proc/{main}/task/{main}/children"))).ok()?;
        children.split_whitespace().filter_map(|c| c.parse().ok()).find(|&pid| is_engine(pid))
    })
}

/// The last lines of the engine's log, from wherever the service manager keeps it.
pub fn log_tail(host: &dyn Host, target: Target, layout: &Layout) -> Option<String> {
    let out = |program: &str, args: &[&str]| {
        host.run(program, args, Duration::from_secs(20)).filter(|o| o.status == 0).map(|o| o.stdout)
    };
    let compose = layout.compose_command(&["logs", "--tail", "30"]);
    let compose: Vec<&str> = compose.iter().map(String::as_str).collect();
    let text = match target {
        Target::SystemdSystem => out("journalctl", &["-u", UNIT_NAME, "-n", "30", "--no-pager"]),
        Target::SystemdUser => out("journalctl", &["--user-unit", UNIT_NAME, "-n", "30", "--no-pager"]),
        Target::Launchd => std::fs::read_to_string(layout.log_dir.join("llm.log")).ok(),
        // `podman logs` (under podman-compose) writes the container's stderr to its own stderr, after
        // podman-compose's chatter on stdout; docker compose writes both to stdout.
        Target::Compose => host
            .run(compose[0], &compose[1..], Duration::from_secs(20))
            .filter(|o| o.status == 0)
            .map(|o| format!("{}{}", o.stdout, o.stderr)),
    }?;
    let lines: Vec<&str> = text.lines().collect();
    Some(lines[lines.len().saturating_sub(30)..].join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;

    #[test]
    fn the_peak_is_read_from_vmhwm_in_bytes() {
        let status = "Name:\tllama-server\nVmPeak:\t 2000000 kB\nVmHWM:\t  656404 kB\nVmRSS:\t  600000 kB\n";
        assert_eq!(peak_from_status(status), Some(656_404 * 1024));
        assert_eq!(peak_from_status("Name:\tx\n"), None, "a kernel thread has no VmHWM");
        assert_eq!(peak_from_status("VmHWM:\t lots kB\n"), None);
    }

    #[test]
    fn the_engine_in_a_container_is_found_through_the_runtime_and_an_init_is_looked_through() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = layout(dir.path());
        let ps = format!("docker compose -f {} ps -q", l.compose_file.display());
        let host = FakeHost::linux()
            .with_command(&ps, "aaa\nbbb\n")
            .with_command("docker inspect -f {{.State.Pid}} aaa", "0\n")
            .with_command("docker inspect -f {{.State.Pid}} bbb", "4100\n")
            .with_file("/proc/4100/comm", "tini\n")
            .with_file("/proc/4100/task/4100/children", "4101 4102")
            .with_file("/proc/4101/comm", "sh\n")
            .with_file("/proc/4102/comm", "llama-server\n");
        assert_eq!(container_runtime(&l), "docker");
        assert_eq!(container_engine_pid(&host, &l), Some(4102), "a stopped container (pid 0) is passed over");
        let only_tini = FakeHost { files: Default::default(), ..host.clone() }.with_file("/proc/4100/comm", "tini\n");
        assert_eq!(container_engine_pid(&only_tini, &l), None, "no llama-server: nothing to measure");

        l.compose = vec!["podman-compose".into()];
        let ps = format!("podman-compose -f {} ps -q", l.compose_file.display());
        let podman = FakeHost::linux()
            .with_command(&ps, "ccc\n")
            .with_command("podman inspect -f {{.State.Pid}} ccc", "77\n")
            .with_file("/proc/77/comm", "llama-server\n");
        assert_eq!(container_runtime(&l), "podman");
        assert_eq!(container_engine_pid(&podman, &l), Some(77));
        assert_eq!(container_engine_pid(&FakeHost::linux(), &l), None, "no compose command: nothing to measure");
    }

    fn layout(dir: &Path) -> Layout {
        let host = FakeHost::linux().with_env("HOME", "/home/u");
        crate::layout::resolve(&host, Some(crate::layout::Scope::User), Some(dir), None).unwrap()
    }

    #[test]
    fn writes_are_created_unchanged_updated_and_never_replace_a_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let l = layout(dir.path());
        let mut r = Rendered {
            target: Target::SystemdUser,
            path: l.systemd_unit.clone(),
            text: format!("# {MANAGED_MARK} 0.1\n[Service]\n"),
        };
        assert_eq!(write(&r, &l).unwrap().0, Change::Created);
        assert_eq!(write(&r, &l).unwrap().0, Change::Unchanged);
        r.text.push_str("Restart=always\n");
        let (status, backup) = write(&r, &l).unwrap();
        assert_eq!(status, Change::Updated);
        assert_eq!(std::fs::read_to_string(backup.unwrap()).unwrap(), format!("# {MANAGED_MARK} 0.1\n[Service]\n"));
        std::fs::write(&r.path, "[Service]\nExecStart=/mine\n").unwrap();
        let err = write(&r, &l).unwrap_err();
        assert!(err.message.contains("not written by clawlocal"), "{}", err.message);
        assert_eq!(std::fs::read_to_string(&r.path).unwrap(), "[Service]\nExecStart=/mine\n", "left alone");
    }

    #[test]
    fn activation_commands_per_manager() {
        let dir = tempfile::tempdir().unwrap();
        let l = layout(dir.path());
        let join = |c: Vec<Vec<String>>| c.into_iter().map(|w| w.join(" ")).collect::<Vec<_>>();
        assert_eq!(
            join(activation(Target::SystemdUser, &l, true, 1000)),
            [
                "systemctl --user daemon-reload",
                "systemctl --user enable clawlocal-llm.service",
                "systemctl --user restart clawlocal-llm.service"
            ]
        );
        assert_eq!(
            join(activation(Target::SystemdSystem, &l, false, 0)),
            ["systemctl enable clawlocal-llm.service", "systemctl start clawlocal-llm.service"]
        );
        let launchd = join(activation(Target::Launchd, &l, true, 501));
        assert_eq!(launchd[0], "launchctl bootout gui/501/ai.clawlocal.llm");
        assert!(
            launchd[1].starts_with("launchctl bootstrap gui/501 ") && launchd[1].ends_with("ai.clawlocal.llm.plist")
        );
        assert!(join(activation(Target::Compose, &l, true, 0))[0].ends_with("compose.yaml up -d"));
    }

    /// A server that answers 503 (model loading) twice, then 200.
    #[test]
    fn health_wait_treats_loading_as_not_yet_and_times_out_with_the_last_answer() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().flatten().enumerate() {
                let mut line = String::new();
                let _ = BufReader::new(stream.try_clone().unwrap()).read_line(&mut line);
                let status = if n < 2 { "503 Service Unavailable" } else { "200 OK" };
                let _ = write!(&stream, "HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}");
            }
        });
        assert!(wait_healthy(port, Duration::from_secs(10)).is_ok());

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = wait_healthy(closed, Duration::from_millis(600)).unwrap_err();
        assert!(err.contains(&format!("127.0.0.1:{closed}/health did not answer 200")), "{err}");
    }

    /// Another program on the port answers `/health` 200 but refuses clawlocal's key (what the seed guide's own
    /// llama-server on 8765 does): not a start. At 36f61b4 init took it for its engine.
    #[test]
    fn the_health_wait_accepts_only_clawlocals_engine() {
        use std::io::{BufRead, BufReader, Write};
        let serve = |models: &'static str| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let mut line = String::new();
                    let _ = BufReader::new(stream.try_clone().unwrap()).read_line(&mut line);
                    let (status, body) =
                        if line.contains("/v1/models") { (models, models_body(models)) } else { ("200 OK", "{}") };
                    let _ = write!(
                        &stream,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            port
        };
        fn models_body(status: &str) -> &'static str {
            if status.starts_with("200") {
                r#"{"data":[{"id":"tiny-f16"}]}"#
            } else {
                r#"{"error":{"message":"Invalid API Key"}}"#
            }
        }
        let ours = Ours { key: Some("k".into()), alias: "tiny-f16".into() };
        let other = serve("401 Unauthorized");
        let err = wait_ours(other, &ours, Duration::from_secs(2)).unwrap_err();
        assert!(err.contains("HTTP 401") && err.contains(&format!("another program answers on port {other}")), "{err}");
        assert!(wait_ours(serve("200 OK"), &ours, Duration::from_secs(5)).is_ok());
        let wrong = Ours { alias: "qwen3-8b".into(), ..ours };
        assert!(wait_ours(serve("200 OK"), &wrong, Duration::from_secs(2)).unwrap_err().contains("not `qwen3-8b`"));
    }

    #[test]
    fn a_failing_manager_command_is_named() {
        let host = FakeHost::linux().with_failing_command(
            "systemctl start clawlocal-llm.service",
            1,
            "Failed to connect to bus",
        );
        let err = activate(&host, &[vec!["systemctl".into(), "start".into(), UNIT_NAME.into()]]).unwrap_err();
        assert!(err.message.contains("`systemctl start clawlocal-llm.service` failed") && err.message.contains("bus"));
        let missing = FakeHost::linux();
        assert!(
            activate(&missing, &[vec!["docker".into(), "compose".into()]]).unwrap_err().message.contains("cannot run")
        );
    }
}
