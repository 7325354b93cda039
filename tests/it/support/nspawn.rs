//! A real systemd (Debian 12's 252) booted as PID 1 in a `systemd-nspawn` container, for the tests that drive the
//! real service manager. The rootfs comes from `scripts/ci/systemd-rootfs.sh` (cached outside the clone) and is
//! copied per test; clawlocal and the CI-built llama-server are copied in; commands run inside through `nsenter`.
//! The container shares the host's network namespace, so the Hub mock on the host's loopback is reachable and
//! the engine inside answers on the host's 127.0.0.1 (recipe: ../shared/research/real-service-managers.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Run, finish, parts};

/// The cached rootfs, or `None` (SKIPPED locally; a failure under CI=true).
pub fn rootfs(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("CLAWLOCAL_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| parts::cache_root().join("rootfs-bookworm"));
    let ready = dir.join("usr/lib/systemd/systemd").is_file() && which("systemd-nspawn") && which("nsenter");
    match ready {
        true => Some(dir),
        false if parts::under_ci() => panic!(
            "{test}: a bootable rootfs and systemd-nspawn are required under CI=true (scripts/ci/systemd-rootfs.sh; \
             .ci/run sets CLAWLOCAL_TEST_ROOTFS)"
        ),
        false => {
            parts::skip(test, "no rootfs or systemd-nspawn; run scripts/ci/systemd-rootfs.sh");
            None
        }
    }
}

fn which(program: &str) -> bool {
    Command::new("sh").args(["-c", &format!("command -v {program}")]).output().is_ok_and(|o| o.status.success())
}

/// A booted container; dropped, it is halted and its copy of the rootfs removed.
pub struct Container {
    pub root: PathBuf,
    _dir: tempfile::TempDir,
    nspawn: Option<Child>,
    pid1: u32,
}

impl Container {
    /// Copy `rootfs`, put clawlocal and `engine` in /usr/local/bin, boot.
    pub fn boot(rootfs: &Path, engine: &Path) -> Container {
        // Not under /tmp: a tempdir there is 0700, which the units' dynamic user could not enter.
        let base = parts::cache_root().join("containers");
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::tempdir_in(&base).unwrap();
        let root = dir.path().join("root");
        let cp = Command::new("cp").arg("-a").arg(rootfs).arg(&root).status().unwrap();
        assert!(cp.success(), "copy the rootfs");
        for (from, name) in [(Path::new(env!("CARGO_BIN_EXE_clawlocal")), "clawlocal"), (engine, "llama-server")] {
            std::fs::copy(from, root.join("usr/local/bin").join(name)).unwrap();
        }
        let mut c = Container { root, _dir: dir, nspawn: None, pid1: 0 };
        c.start();
        c
    }

    /// Boot (again) on the same rootfs and wait until systemd reports the system up.
    pub fn start(&mut self) {
        let log = std::fs::File::create(self.root.with_file_name("console.log")).unwrap();
        let child = Command::new("systemd-nspawn")
            .arg("-D")
            .arg(&self.root)
            .args(["--register=no", "--keep-unit", "-b", "--console=read-only"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("systemd-nspawn");
        let nspawn = child.id();
        self.nspawn = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        // The container's PID 1 is the nspawn child that runs systemd; nspawn's first child may be a short-lived
        // helper (seen on a reboot), so it is looked up again until systemd answers through it.
        loop {
            let children =
                std::fs::read_to_string(format!("/proc/{nspawn}/task/{nspawn}/children")).unwrap_or_default();
            let systemd = children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .find(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "systemd"));
            let mut state = String::new();
            if let Some(pid) = systemd {
                self.pid1 = pid;
                state = self.sh("systemctl is-system-running 2>/dev/null || true").stdout;
                if matches!(state.trim(), "running" | "degraded") {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "systemd did not come up ({}): {}", state.trim(), self.console());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Halt the container (SIGTERM to nspawn powers it off cleanly) and wait for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.nspawn.take() {
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn console(&self) -> String {
        let text = std::fs::read_to_string(self.root.with_file_name("console.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A command inside the container, as root, in all of its namespaces.
    pub fn run(&self, argv: &[&str]) -> Run {
        let out = Command::new("nsenter")
            .args(["-t", &self.pid1.to_string(), "-a", "--"])
            .args(["env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"])
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("nsenter");
        finish(out)
    }

    pub fn sh(&self, script: &str) -> Run {
        self.run(&["sh", "-c", script])
    }

    /// A path inside the container, as the host sees it.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    /// Poll `cond` (a shell test inside) until it holds.
    pub fn wait_for(&self, what: &str, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.sh(script).code != 0 {
            assert!(Instant::now() < deadline, "{what} did not happen within {}s", timeout.as_secs());
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.stop();
    }
}
