//! Checks of the service manager's side: the unit as clawlocal would render it now (drift), enabled, running,
//! restarts and OOM kills, and the unit's sandboxing score. All skip cleanly with `--service none`.

use std::time::Duration;

use super::{Outcome, Probe, Repair};
use crate::layout::{Scope, UNIT_NAME};
use crate::profile::ServiceKind;
use crate::render::{self, Rendered, UnitSpec, service};

/// The highest `systemd-analyze security` exposure a system unit may have (what every bundled profile meets).
pub const MAX_EXPOSURE: f64 = 2.0;

fn no_service(p: &Probe) -> Option<Outcome> {
    (p.r().service == ServiceKind::None).then(|| {
        Outcome::skip(format!("--service none: no unit is installed; `{}` runs the engine", p.clawlocal("serve")))
    })
}

/// The units as clawlocal renders them from the receipt today.
pub fn rendered(p: &Probe) -> crate::error::Result<Vec<Rendered>> {
    let r = p.r();
    let spec = UnitSpec {
        engine: &p.layout.on_host(&r.engine.path),
        server: &r.server,
        model: &p.layout.on_host(&r.model.path),
        repo_dir: &p.layout.repo_cache(&r.model.repo),
        port: r.port,
        api_key_file: &p.layout.on_host(&r.api_key_file),
        profile: &r.hardware,
        layout: p.layout,
    };
    render::for_service(r.service, &spec)
}

pub fn unit(p: &mut Probe) -> Outcome {
    if let Some(skip) = no_service(p) {
        return skip;
    }
    let fix = "`clawlocal doctor --fix` re-renders it (the old file is backed up) and restarts the service";
    let want = match rendered(p) {
        Ok(w) => w,
        Err(e) => {
            return Outcome::fail(
                format!("cannot render the unit from the receipt: {}", e.message),
                p.clawlocal("init"),
            );
        }
    };
    let mut drifted = Vec::new();
    for r in &want {
        match std::fs::read_to_string(&r.path) {
            Err(e) => drifted.push(format!("{}: {e}", r.path.display())),
            Ok(text) if text != r.text => {
                let changed = similar::TextDiff::from_lines(text.as_str(), r.text.as_str())
                    .iter_all_changes()
                    .filter(|c| c.tag() == similar::ChangeTag::Delete)
                    .map(|c| c.value().trim().to_string())
                    .take(3)
                    .collect::<Vec<_>>();
                drifted.push(format!("{} differs from what clawlocal renders (e.g. {:?})", r.path.display(), changed));
            }
            Ok(_) => {}
        }
    }
    if !drifted.is_empty() {
        return Outcome::fail(drifted.join("; "), fix).with_repair(Repair::Rerender);
    }
    let dropins: Vec<String> = want
        .iter()
        .filter_map(|r| {
            let dir = r.path.with_file_name(format!("{}.d", r.path.file_name()?.to_string_lossy()));
            let names = p.host.read_dir_names(&dir).ok()?;
            Some(names.into_iter().filter(|n| n.ends_with(".conf")).map(move |n| dir.join(n).display().to_string()))
        })
        .flatten()
        .collect();
    let paths: Vec<String> = want.iter().map(|r| r.path.display().to_string()).collect();
    if !dropins.is_empty() {
        return Outcome::warn(format!(
            "{} as rendered, but drop-ins change it: {}",
            paths.join(", "),
            dropins.join(", ")
        ));
    }
    Outcome::pass(format!("{} as rendered", paths.join(", ")))
}

/// `systemctl [--user] <args> clawlocal-llm.service`'s answer; `Err` when systemd cannot be asked (no bus, no
/// systemctl) and says nothing on stdout.
fn systemctl(p: &Probe, args: &[&str]) -> Result<String, String> {
    let mut all: Vec<&str> = Vec::new();
    if p.r().scope == Scope::User {
        all.push("--user");
    }
    all.extend_from_slice(args);
    all.push(UNIT_NAME);
    let out = p.host.run("systemctl", &all, Duration::from_secs(10)).ok_or("systemctl not found or timed out")?;
    if out.stdout.trim().is_empty() {
        return Err(out.stderr.trim().lines().next().unwrap_or("systemctl printed no answer").to_string());
    }
    Ok(out.stdout.trim().to_string())
}

pub fn systemctl_cmd(p: &Probe, verb: &str) -> String {
    let user = if p.r().scope == Scope::User { " --user" } else { "" };
    let sudo = if p.r().scope == Scope::System { "sudo " } else { "" };
    format!("{sudo}systemctl{user} {verb} {UNIT_NAME}")
}

pub fn launchd_target(p: &Probe) -> String {
    service::launchd_target(p.r().scope, p.host.uid())
}

/// `launchctl print <target>`: the job's description, or why it could not be read.
fn launchctl_print(p: &Probe) -> Result<String, String> {
    let target = launchd_target(p);
    let out = p.host.run("launchctl", &["print", &target], Duration::from_secs(10)).ok_or("launchctl not found")?;
    if out.status != 0 {
        return Err(format!("{target} is not loaded"));
    }
    Ok(out.stdout)
}

pub fn enabled(p: &mut Probe) -> Outcome {
    match p.r().service {
        ServiceKind::Systemd => match systemctl(p, &["is-enabled"]) {
            Err(e) => Outcome::skip(format!("cannot ask systemd: {e}")),
            Ok(s) if s == "enabled" => match linger_off(p) {
                Some(user) => Outcome::warn(format!(
                    "{UNIT_NAME} enabled, but linger is off for {user} and there is no graphical session: the user \
                     manager stops it at logout and does not start it at boot"
                ))
                .with_fix(format!("sudo loginctl enable-linger {user}")),
                None => Outcome::pass(format!("{UNIT_NAME} enabled")),
            },
            Ok(s) => {
                Outcome::fail(format!("{UNIT_NAME} is {s}: it will not start at boot"), systemctl_cmd(p, "enable"))
                    .with_repair(Repair::Restart)
            }
        },
        ServiceKind::Launchd => match launchctl_print(p) {
            Ok(_) => Outcome::pass(format!("{} loaded (RunAtLoad)", launchd_target(p))),
            Err(e) => Outcome::fail(
                e,
                format!(
                    "launchctl bootstrap {} {}",
                    launchd_target(p).rsplit_once('/').map_or("", |(d, _)| d),
                    p.layout.launchd_plist.display()
                ),
            )
            .with_repair(Repair::Restart),
        },
        ServiceKind::Compose => {
            Outcome::pass("compose restarts the container with the Docker daemon (restart: unless-stopped)")
        }
        ServiceKind::None => no_service(p).expect("service none"),
    }
}

/// For a user unit on a headless host (no DISPLAY / WAYLAND_DISPLAY): the user when
/// `/var/lib/systemd/linger/<user>` is missing, i.e. the user manager only runs while the user is logged in.
fn linger_off(p: &Probe) -> Option<String> {
    if p.r().scope != Scope::User
        || p.host.env_nonempty("DISPLAY").is_some()
        || p.host.env_nonempty("WAYLAND_DISPLAY").is_some()
    {
        return None;
    }
    let user = p.host.env_nonempty("USER").or_else(|| p.host.env_nonempty("LOGNAME"))?;
    (!p.host.exists(&std::path::Path::new("/var/lib/systemd/linger").join(&user))).then_some(user)
}

pub fn active(p: &mut Probe) -> Outcome {
    match p.r().service {
        ServiceKind::Systemd => match systemctl(p, &["is-active"]) {
            Err(e) => Outcome::skip(format!("cannot ask systemd: {e}")),
            Ok(s) if s == "active" => Outcome::pass(format!("{UNIT_NAME} active")),
            Ok(s) if s == "activating" => Outcome::warn(format!("{UNIT_NAME} is still starting")),
            Ok(s) => Outcome::fail(
                format!("{UNIT_NAME} is {s}; `{}` shows why", systemctl_cmd(p, "status").replace("sudo ", "")),
                systemctl_cmd(p, "restart"),
            )
            .with_repair(Repair::Restart),
        },
        ServiceKind::Launchd => match launchctl_print(p) {
            Ok(text) if text.contains("state = running") => Outcome::pass(format!("{} running", launchd_target(p))),
            Ok(_) | Err(_) => Outcome::fail(
                format!("{} is not running; its log is in {}", launchd_target(p), p.layout.log_dir.display()),
                format!("launchctl kickstart -k {}", launchd_target(p)),
            )
            .with_repair(Repair::Restart),
        },
        ServiceKind::Compose => {
            // `--status running` is docker compose's alone, so the container's state is asked of the runtime.
            let up = p.layout.compose_command(&["up", "-d"]).join(" ");
            let runtime = crate::render::service::container_runtime(p.layout);
            let Some(ids) = crate::render::service::compose_container_ids(p.host, p.layout) else {
                return Outcome::skip(format!("cannot run `{}`", p.layout.compose_command(&["ps", "-q"]).join(" ")));
            };
            let running = ids.iter().any(|id| {
                p.host
                    .run(runtime, &["inspect", "-f", "{{.State.Running}}", id], Duration::from_secs(20))
                    .is_some_and(|o| o.status == 0 && o.stdout.trim() == "true")
            });
            if running {
                Outcome::pass("the clawlocal-llm container runs")
            } else {
                Outcome::fail("the clawlocal-llm container is not running", up).with_repair(Repair::Restart)
            }
        }
        ServiceKind::None => no_service(p).expect("service none"),
    }
}

pub fn restarts(p: &mut Probe) -> Outcome {
    match p.r().service {
        ServiceKind::Systemd => {
            let shown = match systemctl(p, &["show", "-p", "NRestarts", "-p", "Result"]) {
                Ok(s) => s,
                Err(e) => return Outcome::skip(format!("cannot ask systemd: {e}")),
            };
            let field =
                |name: &str| shown.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or("").to_string();
            let restarts: u64 = field("NRestarts").parse().unwrap_or(0);
            let result = field("Result");
            if result == "oom-kill" {
                return Outcome::fail(
                    format!("{UNIT_NAME} was killed for using too much memory (Result=oom-kill, {restarts} restarts)"),
                    format!("a smaller model or context: `{}`", p.clawlocal("init --profile auto")),
                );
            }
            // Earlier OOM kills are only in the journal (Result shows the last run); read it where readable.
            let unit_flag = if p.r().scope == Scope::User { "--user-unit" } else { "--unit" };
            let journal = p
                .host
                .run(
                    "journalctl",
                    &[unit_flag, UNIT_NAME, "-n", "500", "-o", "cat", "--no-pager"],
                    Duration::from_secs(10),
                )
                .filter(|o| o.status == 0)
                .map(|o| o.stdout.lines().filter(|l| l.contains("killed by the OOM killer")).count())
                .unwrap_or(0);
            if journal > 0 {
                return Outcome::warn(format!(
                    "the journal shows {journal} OOM kill(s) of {UNIT_NAME} ({restarts} restarts; last result {result})"
                ))
                .with_fix(format!("a smaller model or context: `{}`", p.clawlocal("init --profile auto")));
            }
            if restarts > 0 {
                return Outcome::warn(format!(
                    "{UNIT_NAME} restarted {restarts} times (last result: {result}); `journalctl{} -u {UNIT_NAME}` shows why",
                    if p.r().scope == Scope::User { " --user" } else { "" }
                ));
            }
            Outcome::pass(format!("no restarts (result: {result})"))
        }
        ServiceKind::Launchd => match launchctl_print(p) {
            Ok(text) => {
                let runs = text.lines().find_map(|l| l.trim().strip_prefix("runs = ")).unwrap_or("?").to_string();
                let last = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("last exit code = "))
                    .unwrap_or("(never exited)")
                    .to_string();
                if runs.parse::<u64>().is_ok_and(|n| n > 1) {
                    Outcome::warn(format!("started {runs} times; last exit code {last}"))
                } else {
                    Outcome::pass(format!("started {runs} time(s)"))
                }
            }
            Err(e) => Outcome::skip(e),
        },
        ServiceKind::Compose => Outcome::skip("restart counts are in `docker inspect clawlocal-llm`"),
        ServiceKind::None => no_service(p).expect("service none"),
    }
}

pub fn hardening(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    if r.service != ServiceKind::Systemd {
        return match no_service(p) {
            Some(skip) => skip,
            None => Outcome::skip(format!(
                "{} has no sandbox score to read; the rendered file carries the settings",
                r.service.as_str()
            )),
        };
    }
    let Some(unit) = r.units.first() else { return Outcome::skip("no unit recorded") };
    let (score, mode) = match exposure(p, r.scope, &p.layout.on_host(unit)) {
        Ok(s) => s,
        Err(why) => return Outcome::skip(why),
    };
    // A user manager cannot apply User=/DynamicUser=, capability bounds or the mount and namespace protections
    // without privileges, so systemd-analyze scores every user unit high (clawlocal's: 7.0). A user unit is judged
    // against the score of the unit clawlocal renders for it now: only a weakening fails.
    let (max, why) = match r.scope {
        Scope::System => (MAX_EXPOSURE, format!("clawlocal's system units score ≤ {MAX_EXPOSURE}")),
        Scope::User => {
            let fresh = rendered(p).map_err(|e| e.message).and_then(|units| {
                let unit = units.into_iter().next().ok_or("nothing rendered")?;
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                let path = dir.path().join(UNIT_NAME);
                std::fs::write(&path, &unit.text).map_err(|e| e.to_string())?;
                exposure(p, Scope::User, &path).map(|(score, _)| score)
            });
            match fresh {
                Ok(f) => (
                    f + 0.05,
                    format!(
                        "the user unit clawlocal renders scores {f:.1}; a user manager cannot apply User=, capability bounds or mount namespaces"
                    ),
                ),
                Err(why) => return Outcome::skip(format!("cannot score a fresh user unit: {why}")),
            }
        }
    };
    if score <= max {
        return Outcome::pass(format!("systemd-analyze security ({mode}): exposure {score:.1} ({why})"));
    }
    Outcome::fail(
        format!("systemd-analyze security ({mode}): exposure {score:.1} ({why}): the unit's sandboxing was weakened"),
        "`clawlocal doctor --fix` re-renders the unit",
    )
    .with_repair(Repair::Rerender)
}

/// `systemd-analyze security`'s overall exposure: online (the loaded unit, drop-ins included) for an installed
/// system unit where systemd runs as PID 1, else `--offline=true FILE` ([--user] for user units).
fn exposure(p: &Probe, scope: Scope, unit: &std::path::Path) -> Result<(f64, &'static str), String> {
    let path = unit.to_string_lossy();
    let online = scope == Scope::System
        && p.layout.root.is_none()
        && unit == p.layout.systemd_unit.as_path()
        && p.host.exists(std::path::Path::new("/run/systemd/system"));
    let mut args = vec!["security", "--no-pager"];
    if online {
        args.push(UNIT_NAME);
    } else {
        args.push("--offline=true");
        if scope == Scope::User {
            args.insert(0, "--user");
        }
        args.push(&path);
    }
    let Some(out) = p.host.run("systemd-analyze", &args, Duration::from_secs(30)) else {
        return Err("systemd-analyze is not installed".into());
    };
    let text = format!("{}{}", out.stdout, out.stderr);
    text.lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")?
                .1
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .map(|score| (score, if online { "online" } else { "offline" }))
        .ok_or_else(|| format!("systemd-analyze printed no score: {}", text.lines().last().unwrap_or("")))
}
