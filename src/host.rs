//! The one seam to the outside world for *reading* host facts: environment variables, absolute system
//! paths (`/proc`, `/sys`), and child processes. Tests hand `FakeHost` to the same code.

// The one module allowed to touch the process environment and spawn processes (see clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a command printed; `None` from [`Host::run`] means it could not be run or timed out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

pub trait Host {
    fn env(&self, name: &str) -> Option<String>;
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    fn read_dir_names(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Where a symlink points (`/proc/<pid>/fd/<n>` → `socket:[inode]`).
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
    /// Run `program` with extra environment variables; stdout and stderr are collected whole.
    fn run_env(&self, program: &str, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Option<CommandOutput>;
    /// Whether `path` exists (a file, a directory, or a symlink to one).
    fn exists(&self, path: &Path) -> bool;
    /// `std::env::consts::OS` on the real host.
    fn os(&self) -> &str;
    fn arch(&self) -> &str;
    /// Replace this process with `program` (same pid, so signals reach it directly); returns only on failure.
    fn exec(&self, program: &Path, args: &[String]) -> io::Error;
    /// Start `program` in the background, its output to `log` (a trial run of the engine); the caller kills it.
    fn spawn(&self, program: &Path, args: &[String], log: &Path) -> io::Result<std::process::Child>;
    /// Whether a listener could bind 127.0.0.1:`port` now (nothing holds it); the socket is closed at once.
    /// Fakes say no, so their `/proc` files decide.
    fn can_bind_loopback(&self, _port: u16) -> bool {
        false
    }

    /// An environment variable, with empty values treated as unset (as OpenClaw and HF tools do).
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Option<CommandOutput> {
        self.run_env(program, args, &[], timeout)
    }
    fn env_nonempty(&self, name: &str) -> Option<String> {
        self.env(name).filter(|v| !v.trim().is_empty())
    }
    /// Real uid: `/proc/self/status` on Linux, `id -u` elsewhere.
    fn uid(&self) -> u32 {
        let proc = self.read_to_string(Path::new("/proc/self/status")).ok().and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|r| r.split_whitespace().next()?.parse().ok())
        });
        proc.or_else(|| self.run("id", &["-u"], Duration::from_secs(5))?.stdout.trim().parse().ok()).unwrap_or(0)
    }
    fn home(&self) -> Option<PathBuf> {
        self.env_nonempty("HOME").map(PathBuf::from)
    }
    /// Effective uid from `/proc/self/status` (Linux); elsewhere assume not root.
    fn is_root(&self) -> bool {
        self.read_to_string(Path::new("/proc/self/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|rest| rest.split_whitespace().nth(1).map(|euid| euid == "0"))
            })
            .unwrap_or(false)
    }
}

/// The machine this process runs on.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealHost;

impl Host for RealHost {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
    fn read_dir_names(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }
    fn run_env(&self, program: &str, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Option<CommandOutput> {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        // Drain both pipes while waiting: a child that prints more than a pipe holds would otherwise block.
        let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        };
        Some(CommandOutput {
            status: status.code().unwrap_or(-1),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn os(&self) -> &str {
        std::env::consts::OS
    }
    fn arch(&self) -> &str {
        std::env::consts::ARCH
    }
    fn exec(&self, program: &Path, args: &[String]) -> io::Error {
        use std::os::unix::process::CommandExt;
        Command::new(program).args(args).exec()
    }
    fn can_bind_loopback(&self, port: u16) -> bool {
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
    }
    fn spawn(&self, program: &Path, args: &[String], log: &Path) -> io::Result<std::process::Child> {
        let out = std::fs::File::create(log)?;
        let err = out.try_clone()?;
        Command::new(program).args(args).stdin(std::process::Stdio::null()).stdout(out).stderr(err).spawn()
    }
}

/// Read a child's pipe to its end on a thread of its own.
fn drain(pipe: Option<impl io::Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A scripted host for unit tests: files, directories, env and command outputs are all given.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    pub env: BTreeMap<String, String>,
    pub files: BTreeMap<PathBuf, String>,
    pub links: BTreeMap<PathBuf, PathBuf>,
    pub commands: BTreeMap<String, CommandOutput>,
    pub os: String,
    pub arch: String,
}

impl FakeHost {
    pub fn linux() -> Self {
        Self { os: "linux".into(), arch: "x86_64".into(), ..Self::default() }
    }
    pub fn with_env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }
    pub fn with_file(mut self, path: &str, content: &str) -> Self {
        self.files.insert(path.into(), content.into());
        self
    }
    pub fn with_link(mut self, path: &str, target: &str) -> Self {
        self.links.insert(path.into(), target.into());
        self
    }
    /// `key` is the program and its arguments joined by spaces.
    pub fn with_command(mut self, key: &str, stdout: &str) -> Self {
        self.commands.insert(key.into(), CommandOutput { status: 0, stdout: stdout.into(), stderr: String::new() });
        self
    }
    pub fn with_failing_command(mut self, key: &str, status: i32, stderr: &str) -> Self {
        self.commands.insert(key.into(), CommandOutput { status, stdout: String::new(), stderr: stderr.into() });
        self
    }
}

impl Host for FakeHost {
    fn env(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn read_dir_names(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = self
            .files
            .keys()
            .chain(self.links.keys())
            .filter_map(|p| p.strip_prefix(path).ok())
            .filter_map(|rest| rest.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(io::Error::from(io::ErrorKind::NotFound));
        }
        Ok(names)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.links.get(path).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn run_env(
        &self,
        program: &str,
        args: &[&str],
        _env: &[(&str, &str)],
        _timeout: Duration,
    ) -> Option<CommandOutput> {
        let key = std::iter::once(program).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
        self.commands.get(&key).cloned()
    }
    fn exists(&self, path: &Path) -> bool {
        self.files.keys().any(|p| p.starts_with(path))
    }
    fn os(&self) -> &str {
        &self.os
    }
    fn arch(&self) -> &str {
        &self.arch
    }
    fn exec(&self, _program: &Path, _args: &[String]) -> io::Error {
        io::Error::from(io::ErrorKind::Unsupported)
    }
    fn spawn(&self, _program: &Path, _args: &[String], _log: &Path) -> io::Result<std::process::Child> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}
