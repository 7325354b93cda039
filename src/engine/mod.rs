//! llama-server, the bundled engine: where it is (`find`), which build it is and which flags it takes (`probe`),
//! whether it can run the arguments clawlocal chose (`Engine::check`), and how to install a pinned official
//! release (`install`). The arguments themselves are decided in `args` (pure).

pub mod args;
pub mod backend;
pub mod build;
pub mod install;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::Host;
use crate::layout::Layout;

pub const BINARY: &str = "llama-server";
/// Builds older than this predate `--fit` (December 2025), which GPU profiles use; a build that prints only a
/// semantic version (`0.5.0-dev (build 0, …)`, built from a source tree without git history) is newer still.
pub const MIN_BUILD: u64 = 7400;

/// What `llama-server --version` says (it prints to stderr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// `0.5.0-dev`, or `b4567` for builds that print only a build number.
    pub version: String,
    /// The release build number `b<N>`; 0 when built without git history.
    pub build: u64,
    pub commit: String,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (build {}, commit {})", self.version, self.build, self.commit)
    }
}

/// Parse `version: 0.5.0-dev (build 0, commit 0c1e57098)` (current) or `version: 4567 (abc1234)` (older).
pub fn parse_version(text: &str) -> Option<Version> {
    let line = text.lines().find_map(|l| l.trim().strip_prefix("version:"))?.trim();
    let (head, rest) = line.split_once(" (")?;
    let inner = rest.strip_suffix(')')?;
    if let Some((build, commit)) = inner.split_once(", commit ") {
        let build = build.strip_prefix("build ")?.trim().parse().ok()?;
        return Some(Version { version: head.trim().to_string(), build, commit: commit.trim().to_string() });
    }
    let build: u64 = head.trim().parse().ok()?;
    Some(Version { version: format!("b{build}"), build, commit: inner.trim().to_string() })
}

impl Version {
    /// A semantic version (`0.5.0`, `0.7.0-dev`): llama.cpp only started printing one long after MIN_BUILD.
    fn is_semver(&self) -> bool {
        let core = self.version.split('-').next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }

    pub fn is_supported(&self) -> bool {
        self.build >= MIN_BUILD || (self.build == 0 && self.is_semver())
    }
}

/// Flags whose spelling changed between builds; `args` picks the one this engine takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    /// `--load-mode mmap+mlock` (current) instead of `--mlock` (older builds).
    pub load_mode: bool,
    /// `--fit` / `--fit-ctx` / `--fit-target`.
    pub fit: bool,
    /// `--no-webui` (builds without the web UI compiled in may lack it).
    pub no_webui: bool,
    /// `--cache-ram` (the prompt cache's RAM cap; receipts from before it was probed read as absent).
    #[serde(default)]
    pub cache_ram: bool,
    /// `--ctx-checkpoints` (builds without it make no context checkpoints).
    #[serde(default)]
    pub ctx_checkpoints: bool,
}

impl Features {
    /// What the pinned release takes; used when rendering without an engine at hand (`render` on another box).
    pub const PINNED: Self =
        Self { load_mode: true, fit: true, no_webui: true, cache_ram: true, ctx_checkpoints: true };

    pub fn from_help(help: &str) -> Self {
        Self {
            load_mode: has_flag(help, "--load-mode"),
            fit: has_flag(help, "--fit"),
            no_webui: has_flag(help, "--no-webui"),
            cache_ram: has_flag(help, "--cache-ram"),
            ctx_checkpoints: has_flag(help, "--ctx-checkpoints"),
        }
    }
}

/// Whether `--help` lists `flag` as a flag (not as a prefix of a longer one).
fn has_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before = help[..i].chars().next_back();
        let after = help[i + flag.len()..].chars().next();
        before.is_none_or(|c| c.is_whitespace() || c == ',')
            && after.is_none_or(|c| c.is_whitespace() || c == ',' || c == '=')
    })
}

/// How the engine was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub enum Source {
    #[serde(rename = "--engine")]
    Flag,
    #[serde(rename = "CLAWLOCAL_LLAMA_SERVER")]
    Env,
    /// clawlocal's own install (`clawlocal engine install`).
    #[serde(rename = "installed")]
    Installed,
    #[serde(rename = "PATH")]
    Path,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flag => "--engine",
            Self::Env => "CLAWLOCAL_LLAMA_SERVER",
            Self::Installed => "installed",
            Self::Path => "PATH",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A llama-server binary, probed.
#[derive(Debug, Clone, Serialize)]
pub struct Engine {
    pub path: PathBuf,
    /// How it was found: `--engine`, `CLAWLOCAL_LLAMA_SERVER`, `installed` (clawlocal's own), `PATH`.
    pub source: Source,
    pub version: Version,
    pub features: Features,
    #[serde(skip)]
    help: String,
    /// Not on disk yet: the engine init's plan installs. Its flags are checked by the install, once it is there.
    #[serde(skip)]
    planned: bool,
}

impl Engine {
    /// The pinned release's llama-server at `path`, before it is installed: its flags are the release's.
    pub fn planned(path: &Path, release_build: u64) -> Engine {
        let version = Version { version: format!("b{release_build}"), build: release_build, commit: String::new() };
        Engine {
            path: path.to_path_buf(),
            source: Source::Installed,
            version,
            features: Features::PINNED,
            help: String::new(),
            planned: true,
        }
    }

    /// A probed engine for plan tests: this version line and `--help` text, nothing run.
    #[cfg(test)]
    pub fn fake(path: &Path, version_line: &str, help: &str) -> Engine {
        let version = parse_version(version_line).expect("a version line");
        Engine {
            path: path.to_path_buf(),
            source: Source::Flag,
            version,
            features: Features::from_help(help),
            help: help.into(),
            planned: false,
        }
    }

    /// Refuse a build too old for clawlocal, or one whose `--help` lacks a flag `argv` uses (naming the flag).
    pub fn check(&self, argv: &[String]) -> Result<()> {
        let hint = "`clawlocal engine install` installs the pinned release; or pass --engine with a newer llama-server";
        if !self.version.is_supported() {
            return Err(Error::usage(format!(
                "{} is llama.cpp {}, older than build b{MIN_BUILD} that clawlocal needs",
                self.path.display(),
                self.version
            ))
            .with_hint(hint));
        }
        let unknown = argv.iter().filter(|a| a.starts_with("--")).find(|f| !has_flag(&self.help, f));
        if let Some(flag) = unknown.filter(|_| !self.planned) {
            return Err(Error::usage(format!(
                "{} (llama.cpp {}) does not take {flag}, which clawlocal's arguments use",
                self.path.display(),
                self.version
            ))
            .with_hint(hint));
        }
        Ok(())
    }
}

/// The devices a build can use, from `llama-server --list-devices` (`  CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB,
/// 23500 MiB free)`); a CPU-only build lists `(none)`. `None` when the build cannot say (too old, or it failed).
pub fn devices(host: &dyn Host, path: &Path) -> Option<Vec<(backend::Backend, String)>> {
    let out = host.run(&path.to_string_lossy(), &["--list-devices"], Duration::from_secs(20))?;
    let text = format!("{}\n{}", out.stdout, out.stderr);
    (out.status == 0 && text.contains("Available devices")).then(|| parse_devices(&text))
}

/// The device lines of `--list-devices`, each with the backend its name starts with.
pub fn parse_devices(text: &str) -> Vec<(backend::Backend, String)> {
    use backend::Backend;
    text.lines()
        .map(str::trim)
        .filter_map(|line| {
            let (name, _) = line.split_once(':')?;
            let kind = name.trim_end_matches(|c: char| c.is_ascii_digit());
            let b = match kind {
                "CUDA" => Backend::Cuda,
                "Vulkan" => Backend::Vulkan,
                "Metal" | "MTL" => Backend::Metal,
                "ROCm" | "HIP" => Backend::Rocm,
                _ => return None,
            };
            Some((b, line.to_string()))
        })
        .collect()
}

/// Where the model went, as llama-server logs it when it loads one: `load_tensors: offloaded 29/29 layers to GPU`
/// and a `<buffer> model buffer size = N MiB` line per device (`CUDA0`, `CPU_Mapped`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub offloaded: u32,
    pub layers: u32,
    /// Each buffer's name and MiB, in the log's order.
    pub buffers: Vec<(String, f64)>,
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} layers on the GPU", self.offloaded, self.layers)?;
        let buffers: Vec<String> = self.buffers.iter().map(|(b, mib)| format!("{b} {mib:.0} MiB")).collect();
        if !buffers.is_empty() {
            write!(f, " (model buffers: {})", buffers.join(", "))?;
        }
        Ok(())
    }
}

/// The placement of the last model load in `log` (a log holds every restart; the last one is what runs).
pub fn placement(log: &str) -> Option<Placement> {
    let mut found: Option<Placement> = None;
    for line in log.lines() {
        if let Some(rest) = line.split("offloaded ").nth(1).filter(|r| r.contains("layers to GPU")) {
            let counts = rest.split_whitespace().next()?;
            let (done, all) = counts.split_once('/')?;
            found = Some(Placement { offloaded: done.parse().ok()?, layers: all.parse().ok()?, buffers: Vec::new() });
        } else if let (Some(p), Some((name, size))) = (found.as_mut(), line.split_once(" model buffer size =")) {
            let name = name.rsplit(':').next().unwrap_or(name).trim().to_string();
            if let Some(mib) = size.split_whitespace().next().and_then(|n| n.parse().ok()) {
                p.buffers.push((name, mib));
            }
        }
    }
    found
}

/// What this host says about its C library, NVIDIA driver and Vulkan, for the choice of the archive: `getconf
/// GNU_LIBC_VERSION`, `nvidia-smi --query-gpu=driver_version`, `vulkaninfo --summary` (a GPU listed).
pub fn host_facts(host: &dyn Host, requested: Option<backend::Backend>) -> backend::HostFacts {
    let out = |program: &str, args: &[&str]| {
        host.run(program, args, Duration::from_secs(10)).filter(|o| o.status == 0).map(|o| o.stdout)
    };
    let linux = host.os() == "linux";
    let glibc = linux
        .then(|| out("getconf", &["GNU_LIBC_VERSION"]).or_else(|| out("ldd", &["--version"])))
        .flatten()
        .and_then(|t| backend::Version2::parse(t.lines().next().unwrap_or("")));
    let nvidia_driver = out("nvidia-smi", &["--query-gpu=driver_version", "--format=csv,noheader"])
        .and_then(|t| t.lines().filter_map(backend::Version2::parse).min());
    let vulkan = linux && vulkan_gpu(host).is_some();
    backend::HostFacts { os: host.os().into(), arch: host.arch().into(), glibc, nvidia_driver, vulkan, requested }
}

/// The first GPU `vulkaninfo --summary` lists (`deviceName = AMD Radeon RX 7900 XTX (RADV NAVI31)`); a software
/// renderer (llvmpipe, lavapipe) is not one.
pub fn vulkan_gpu(host: &dyn Host) -> Option<String> {
    let out = host.run("vulkaninfo", &["--summary"], Duration::from_secs(10)).filter(|o| o.status == 0)?;
    out.stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("deviceName")?.trim_start().strip_prefix('=').map(str::trim))
        .find(|name| !name.contains("llvmpipe") && !name.contains("lavapipe"))
        .map(String::from)
}

/// Find llama-server: `--engine`, then `CLAWLOCAL_LLAMA_SERVER`, then clawlocal's own install dir, then `PATH`.
pub fn find(host: &dyn Host, flag: Option<&Path>, layout: &Layout) -> Result<(PathBuf, Source)> {
    let named = |path: PathBuf, what: &str| -> Result<PathBuf> {
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::usage(format!("{what} {}: no such file", path.display()))
                .with_hint("point it at a llama-server binary, or run `clawlocal engine install`"))
        }
    };
    if let Some(path) = flag {
        // With --root, an absolute --engine names the file inside the image being built.
        let in_root =
            layout.root.as_ref().map(|r| r.join(path.strip_prefix("/").unwrap_or(path))).filter(|p| p.is_file());
        return Ok((named(in_root.unwrap_or_else(|| path.to_path_buf()), "--engine")?, Source::Flag));
    }
    if let Some(path) = host.env_nonempty("CLAWLOCAL_LLAMA_SERVER") {
        return Ok((named(PathBuf::from(path), "CLAWLOCAL_LLAMA_SERVER")?, Source::Env));
    }
    if let Some(path) = install::installed(layout) {
        return Ok((path, Source::Installed));
    }
    if let Some(path) = host.env("PATH").and_then(|p| which::which_in(BINARY, Some(p), "/").ok()) {
        return Ok((path, Source::Path));
    }
    Err(Error::usage(format!(
        "llama-server not found (looked at --engine, CLAWLOCAL_LLAMA_SERVER, {} and PATH)",
        layout.engine_dir.display()
    ))
    .with_hint(format!(
        "`clawlocal engine install` downloads the pinned llama.cpp release {}; or pass --engine PATH",
        install::PINNED.release
    )))
}

/// Run `--version` and `--help` (both quick, no model loaded).
pub fn probe(host: &dyn Host, path: &Path, source: Source) -> Result<Engine> {
    let program = path.to_string_lossy();
    let run = |arg: &str| {
        host.run(&program, &[arg], Duration::from_secs(20)).ok_or_else(|| {
            Error::usage(format!("cannot run {} {arg}", path.display()))
                .with_hint("is it an executable llama-server for this machine (and are its libraries beside it)?")
        })
    };
    let out = run("--version")?;
    let text = format!("{}\n{}", out.stderr, out.stdout);
    let version = parse_version(&text).ok_or_else(|| {
        Error::usage(format!(
            "{} --version printed no llama.cpp version (exit {}): {}",
            path.display(),
            out.status,
            text.trim().lines().last().unwrap_or("")
        ))
        .with_hint("is it llama.cpp's llama-server?")
    })?;
    let help = run("--help")?;
    let help = format!("{}\n{}", help.stdout, help.stderr);
    Ok(Engine { path: path.to_path_buf(), source, version, features: Features::from_help(&help), help, planned: false })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_last_loads_placement_is_read_from_the_log() {
        let log = "load_tensors: offloading 0 repeating layers to GPU\n\
                   load_tensors: offloaded 0/29 layers to GPU\n\
                   load_tensors:   CPU_Mapped model buffer size =  1005.00 MiB\n\
                   srv  main: restarting\n\
                   load_tensors: offloading output layer to GPU\n\
                   load_tensors: offloaded 29/29 layers to GPU\n\
                   load_tensors:        CUDA0 model buffer size =   934.95 MiB\n\
                   load_tensors:   CPU_Mapped model buffer size =    70.03 MiB\n";
        let p = placement(log).unwrap();
        assert_eq!((p.offloaded, p.layers), (29, 29));
        assert_eq!(p.buffers, [("CUDA0".to_string(), 934.95), ("CPU_Mapped".to_string(), 70.03)]);
        assert_eq!(p.to_string(), "29/29 layers on the GPU (model buffers: CUDA0 935 MiB, CPU_Mapped 70 MiB)");
        assert_eq!(placement(&log[..log.find("srv").unwrap()]).unwrap().offloaded, 0);
        assert_eq!(placement("main: server is listening"), None);
    }

    #[test]
    fn devices_are_read_from_list_devices() {
        use super::backend::Backend;
        let cuda = "ggml_cuda_init: found 1 CUDA devices:\nAvailable devices:\n  CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB, 23500 MiB free)\n";
        let found = parse_devices(cuda);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Backend::Cuda);
        assert!(found[0].1.starts_with("CUDA0: NVIDIA GeForce RTX 4090"));
        assert!(parse_devices("Available devices:\n  (none)\n").is_empty(), "a CPU-only build");
        let mixed =
            parse_devices("Available devices:\n  Vulkan0: AMD Radeon RX 7900 (RADV NAVI31)\n  MTL0: Apple M3 Max\n");
        assert_eq!(mixed.iter().map(|(b, _)| *b).collect::<Vec<_>>(), [Backend::Vulkan, Backend::Metal]);
    }

    use super::*;

    #[test]
    fn versions_of_every_shape_parse() {
        let v = parse_version("version: 0.5.0-dev (build 0, commit 0c1e57098)\nbuilt with GNU 12.2.0").unwrap();
        assert_eq!((v.version.as_str(), v.build, v.commit.as_str()), ("0.5.0-dev", 0, "0c1e57098"));
        assert!(v.is_supported(), "a semver build without history is new");
        let v = parse_version("load_backend: x\nversion: 0.7.0 (build 11669, commit Debian)").unwrap();
        assert_eq!((v.build, v.is_supported()), (11669, true));
        let v = parse_version("version: 3952 (1f9a8b2c)\nbuilt with cc").unwrap();
        assert_eq!((v.version.as_str(), v.build, v.commit.as_str()), ("b3952", 3952, "1f9a8b2c"));
        assert!(!v.is_supported(), "b3952 is too old");
        assert!(parse_version("llama-server: unknown option").is_none());
        assert!(parse_version("version: banana (x)").is_none());
    }

    #[test]
    fn flags_are_matched_whole() {
        let help = "-fit,  --fit [on|off]    whether\n--fit-ctx N  minimum\n--no-webui, --webui\n";
        assert!(has_flag(help, "--fit") && has_flag(help, "--fit-ctx") && has_flag(help, "--no-webui"));
        assert!(!has_flag(help, "--fi") && !has_flag(help, "--load-mode") && !has_flag(help, "--web"));
        assert_eq!(
            Features::from_help(help),
            Features { load_mode: false, fit: true, no_webui: true, cache_ram: false, ctx_checkpoints: false }
        );
    }

    #[test]
    fn check_names_the_missing_flag_and_the_old_build() {
        let engine = |build, help: &str| Engine {
            path: "/x/llama-server".into(),
            source: Source::Path,
            version: Version { version: format!("b{build}"), build, commit: "c".into() },
            features: Features::from_help(help),
            help: help.into(),
            planned: false,
        };
        let argv: Vec<String> = ["--model", "m.gguf", "--metrics"].map(String::from).into();
        assert!(engine(9000, "--model FNAME\n--metrics  enable").check(&argv).is_ok());
        let err = engine(9000, "--model FNAME\n").check(&argv).unwrap_err();
        assert!(err.message.contains("does not take --metrics"), "{}", err.message);
        let err = engine(3000, "--model --metrics").check(&argv).unwrap_err();
        assert!(err.message.contains("older than build b7400"), "{}", err.message);
    }
}
