//! The real components the e2e tests drive: llama-server / llama-quantize, the OpenClaw CLI, and the Python
//! servers (tinygrad, llama-cpp-python).
//! Found through CLAWLOCAL_TEST_LLAMA_SERVER / CLAWLOCAL_TEST_OPENCLAW, else where scripts/ci/*.sh cache them.
//! Missing locally: build.rs marks the test ignored (and it prints SKIPPED if run anyway). Missing under CI=true:
//! the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::http;

/// Say a test skipped, visibly: straight to stderr, past libtest's output capture.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A figure a test measured but does not assert (timings on shared machines), printed past the capture.
pub fn note(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "NOTE {what}");
}

pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

pub fn cache_root() -> PathBuf {
    std::env::var_os("CLAWLOCAL_CI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/clawlocal-ci"))
}

/// The newest matching file in a `<cache>/<prefix>*/<rel>` folder.
fn cached(prefix: &str, rel: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache_root())
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path().join(rel))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

fn part(var: &str, prefix: &str, rel: &str, what: &str, test: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_file()).or_else(|| cached(prefix, rel));
    match path {
        Some(p) => Some(p),
        None if under_ci() => {
            panic!("{test}: {what} is required under CI=true: set {var} (scripts/ci/ installs it; .ci/run sets it)")
        }
        None => {
            let script = match prefix {
                p if p.starts_with("llama") => "llama-server",
                "py-kubernetes-validate-" => "fleet-tools",
                p if p.starts_with("py-") => "python-backends",
                _ => "openclaw",
            };
            skip(test, &format!("{what} not found; set {var} or run scripts/ci/{script}.sh"));
            None
        }
    }
}

pub fn llama_server(test: &str) -> Option<PathBuf> {
    part("CLAWLOCAL_TEST_LLAMA_SERVER", "llama-cpp-python-", "llama-server", "a real llama-server", test)
}

/// llama-quantize sits next to llama-server (scripts/ci/llama-server.sh builds both).
pub fn llama_quantize(test: &str) -> Option<PathBuf> {
    let server = llama_server(test)?;
    let q = server.with_file_name("llama-quantize");
    if q.is_file() {
        Some(q)
    } else if under_ci() {
        panic!("{test}: llama-quantize not found next to {}", server.display())
    } else {
        skip(test, &format!("llama-quantize not found next to {}", server.display()));
        None
    }
}

/// The llama.cpp source tree the test llama-server is built from, packed as a `.tar.gz` (top folder `llama.cpp/`).
pub fn llama_source(test: &str) -> Option<PathBuf> {
    part("CLAWLOCAL_TEST_LLAMA_SRC", "llama-cpp-python-", "llama.cpp-src.tar.gz", "the llama.cpp source archive", test)
}

/// `openclaw config validate --json` of the real CLI on `config` (its state and HOME beside the file): the
/// document it printed (`valid`, `issues`).
pub fn openclaw_validate(openclaw: &Path, config: &Path) -> serde_json::Value {
    let out = Command::new(openclaw)
        .args(["config", "validate", "--json"])
        .env("OPENCLAW_CONFIG_PATH", config)
        .env("OPENCLAW_STATE_DIR", config.parent().unwrap().join("validate-state"))
        .env("HOME", config.parent().unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("openclaw config validate printed no JSON ({e}): {stdout}"))
}

/// The python of a venv with tinygrad (scripts/ci/python-backends.sh): `-m tinygrad.llm --serve` is its server.
pub fn tinygrad_python(test: &str) -> Option<PathBuf> {
    part("CLAWLOCAL_TEST_TINYGRAD_PYTHON", "py-tinygrad-", "bin/python", "tinygrad (a Python venv)", test)
}

/// The python of a venv with llama-cpp-python[server] (scripts/ci/python-backends.sh): `-m llama_cpp.server`.
pub fn llama_cpp_python(test: &str) -> Option<PathBuf> {
    part(
        "CLAWLOCAL_TEST_LLAMA_CPP_PYTHON",
        "py-llama-cpp-python-",
        "bin/python",
        "llama-cpp-python (a Python venv)",
        test,
    )
}

/// kubernetes-validate in its venv (scripts/ci/fleet-tools.sh).
pub fn kubernetes_validate(test: &str) -> Option<PathBuf> {
    let what = "kubernetes-validate";
    part("CLAWLOCAL_TEST_KUBERNETES_VALIDATE", "py-kubernetes-validate-", "bin/kubernetes-validate", what, test)
}

/// Debian's cloud-init on PATH (scripts/ci/fleet-tools.sh installs it).
pub fn cloud_init(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("cloud-init")).find(|c| c.is_file()));
    match found {
        Some(p) => Some(p),
        None if under_ci() => panic!("{test}: cloud-init is required under CI=true (scripts/ci/fleet-tools.sh)"),
        None => {
            skip(test, "cloud-init not on PATH; run scripts/ci/fleet-tools.sh");
            None
        }
    }
}

pub fn openclaw(test: &str) -> Option<PathBuf> {
    part("CLAWLOCAL_TEST_OPENCLAW", "openclaw-", "bin/openclaw", "the OpenClaw CLI", test)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A llama-server child process, killed on drop; its log is kept for failure messages.
pub struct Server {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    /// Start `llama-server -m model --alias alias -c ctx` on a free loopback port and wait for /health 200.
    pub fn start(bin: &Path, model: &Path, alias: &str, ctx: u32, log_dir: &Path) -> Server {
        let (model, ctx) = (model.to_string_lossy(), ctx.to_string());
        Server::with_args(bin, &["-m", &model, "--alias", alias, "-c", &ctx], free_port(), log_dir)
    }

    /// `llama-server <args> --host 127.0.0.1 --port <port>`, waited for: a server started by hand (the faults
    /// doctor must name: another context, alias or key than clawlocal set up).
    pub fn with_args(bin: &Path, args: &[&str], port: u16, log_dir: &Path) -> Server {
        let log = log_dir.join(format!("llama-server-{port}.log"));
        let child = Command::new(bin)
            .args(args)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "-t", "1", "-np", "1", "--no-webui"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Server::adopt(child, port, log)
    }

    /// A server some other command started (`clawlocal serve`): wait for /health 200 on `port`.
    pub fn adopt(child: Child, port: u16, log: PathBuf) -> Server {
        Server::adopt_at(child, port, log, "/health", Duration::from_secs(60))
    }

    /// Another server (tinygrad, llama-cpp-python): ready when `path` answers 200 within `timeout`.
    pub fn adopt_at(child: Child, port: u16, log: PathBuf, path: &str, timeout: Duration) -> Server {
        let mut server = Server { child, port, log };
        server.wait_ready(path, timeout);
        server
    }

    fn wait_ready(&mut self, path: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the server exited with {status}:\n{}", self.log_tail());
            }
            if let Ok(r) = http::get(&format!("{}{path}", self.url()))
                && r.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "the server did not answer {path} in {timeout:?}:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id (llama-server's own, for a `clawlocal serve`, which execs it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The exit code once the process ends by itself within `timeout` (someone else stopped it).
    pub fn exits_within(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM via `kill`, then wait: llama-server exits 0 on SIGTERM.
    pub fn stop(mut self) -> Option<i32> {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `systemd-analyze` on PATH (Debian's `systemd` package), for verifying and scoring rendered units.
pub fn systemd_analyze(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("systemd-analyze")).find(|c| c.is_file()));
    match found {
        Some(p) => Some(p),
        None if under_ci() => panic!("{test}: systemd-analyze is required under CI=true (apt-get install systemd)"),
        None => {
            skip(test, "systemd-analyze not found on PATH");
            None
        }
    }
}
