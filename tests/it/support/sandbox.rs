//! A sandbox for lifecycle tests: a temp HOME, the Hub mock serving the tiny model, an OpenClaw state dir, a free
//! port, the real llama-server, and the OpenClaw CLI when present; `clawlocal` runs with `--scope user`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::gguf::TinyModel;
use super::hubmock::HubMock;
use super::parts::{self, Server};
use super::{Ctx, Run, finish};

pub const REPO: &str = "clawlocal-test/tiny-GGUF";
pub const SPEC: &str = "hf:clawlocal-test/tiny-GGUF/tiny-F16.gguf";

/// Every flag clawlocal passes llama-server, as a FAKE engine's `--help` lists them.
pub const FLAGS: &str = "--model --alias --host --port --api-key --api-key-file --ctx-size --metrics --no-webui --fit \
                         --fit-ctx --fit-target --load-mode --cache-ram --threads --n-gpu-layers --jinja --parallel \
                         --kv-unified --batch-size --ubatch-size --cache-type-k --cache-type-v --flash-attn --mlock";

/// A FAKE llama-server: a shell script printing the version line and a `--help` listing `flags`. It cannot load a
/// model; tests that use it only have clawlocal find and probe an engine.
pub fn fake_engine(path: &std::path::Path, flags: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in --version) echo 'version: 8000 (2b56210)' >&2;; --help) echo '{flags}';; esac\n"
    );
    std::fs::write(path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A sandbox HOME with the Hub mock, an OpenClaw state dir and a free port.
pub struct Setup {
    pub ctx: Ctx,
    pub hub: HubMock,
    pub port: u16,
    pub engine: PathBuf,
    pub openclaw: Option<PathBuf>,
}

impl Setup {
    pub fn new(test: &str) -> Option<Setup> {
        let engine = parts::llama_server(test)?;
        let openclaw = parts::openclaw(test);
        let ctx = Ctx::new();
        let hub = HubMock::start();
        hub.add_repo(REPO, &[("tiny-F16.gguf", TinyModel::default().bytes())]);
        std::fs::create_dir_all(ctx.dir.path().join("openclaw")).unwrap();
        Some(Setup { ctx, hub, port: parts::free_port(), engine, openclaw })
    }

    /// A sandbox for a test that never starts the engine, only has init, doctor and uninstall probe it: the
    /// engine is a FAKE llama-server ([`fake_engine`]), so the test needs no real part.
    pub fn probe_only(test: &str) -> Setup {
        let openclaw = parts::openclaw(test);
        let ctx = Ctx::new();
        let hub = HubMock::start();
        hub.add_repo(REPO, &[("tiny-F16.gguf", TinyModel::default().bytes())]);
        std::fs::create_dir_all(ctx.dir.path().join("openclaw")).unwrap();
        let engine = ctx.dir.path().join("bin/llama-server");
        fake_engine(&engine, FLAGS);
        Setup { ctx, hub, port: parts::free_port(), engine, openclaw }
    }

    pub fn config(&self) -> PathBuf {
        self.ctx.dir.path().join("openclaw/openclaw.json")
    }

    pub fn command(&self) -> Command {
        let mut cmd = self.ctx.command();
        cmd.env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_CACHE", self.ctx.dir.path().join("hub"))
            .env("OPENCLAW_CONFIG_PATH", self.config())
            .env("OPENCLAW_STATE_DIR", self.ctx.dir.path().join("openclaw"));
        if let Some(oc) = &self.openclaw {
            cmd.env("CLAWLOCAL_OPENCLAW", oc);
        }
        cmd.args(["--scope", "user"]);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.command().args(args).output().unwrap())
    }

    /// `init` for this sandbox (profile vps-8gb, its port and engine) with `service` and the model `spec`.
    pub fn init_args(&self, service: &str, spec: &str) -> Vec<String> {
        let port = self.port.to_string();
        let engine = self.engine.to_string_lossy().into_owned();
        ["init", "--profile", "vps-8gb", "--service", service, "--model", spec, "--port", &port, "--engine", &engine]
            .map(String::from)
            .into()
    }

    /// `--json init` with [`Setup::init_args`] and `extra`, whatever its outcome.
    pub fn run_init(&self, service: &str, spec: &str, extra: &[&str]) -> Run {
        let init = self.init_args(service, spec);
        let mut args = vec!["--json"];
        args.extend(init.iter().map(String::as_str));
        args.extend(extra);
        self.run(&args)
    }

    pub fn init(&self, service: &str, extra: &[&str]) -> Value {
        let run = self.run_init(service, SPEC, extra);
        assert_eq!(run.code, 0, "init failed:\n{}", run.stderr);
        run.json()
    }

    pub fn serve(&self) -> Server {
        let log = self.ctx.dir.path().join("serve.log");
        let child = self
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Server::adopt(child, self.port, log)
    }

    /// `doctor --json <args>`: the exit code and the report.
    pub fn doctor(&self, args: &[&str]) -> (i32, Value) {
        let run = self.run(&[&["--json", "doctor"], args].concat());
        assert!(matches!(run.code, 0 | 1), "doctor exit {}:\n{}", run.code, run.stderr);
        let doc = run.json();
        assert_eq!(doc["ok"], run.code == 0, "exit code and ok agree: {doc}");
        (run.code, doc)
    }

    pub fn key_file(&self) -> PathBuf {
        self.ctx.home().join(".config/clawlocal/api-key")
    }

    pub fn receipt(&self) -> PathBuf {
        self.ctx.home().join(".local/state/clawlocal/receipt.json")
    }

    /// The OpenClaw CLI against the patched config.
    pub fn openclaw(&self, args: &[&str]) -> Option<(i32, Value, String)> {
        let oc = self.openclaw.as_ref()?;
        let out = Command::new(oc)
            .args(args)
            .env("HOME", self.ctx.home())
            .env("OPENCLAW_CONFIG_PATH", self.config())
            .env("OPENCLAW_STATE_DIR", self.ctx.dir.path().join("openclaw"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let doc = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        Some((out.status.code().unwrap_or(-1), doc, format!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr))))
    }
}
