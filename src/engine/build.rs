//! `clawlocal engine build`: llama-server from llama.cpp's source, for hosts no release archive serves (an older
//! glibc, ROCm, a CUDA toolkit other than the archives', arm64 with CUDA 12). The source archive is verified like
//! a release archive (sha256 while it streams; GitHub publishes no digest for tag archives, so the first fetch
//! pins the digest in `clawlocal.lock` and says so, and `--locked` needs that pin), unpacked with the same checked
//! unpack, configured with cmake for the backend, built with ccache when present, and then probed like an archive
//! (`check_binary`: build, flags, the GPU device) before it takes the release's folder under the engine dir.
//!
//! The tools are looked for before anything is fetched, and the cmake arguments and the progress parsing are
//! pure, so both are table tests.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::backend::Backend;
use crate::error::{Error, Result};

/// Where a release's source comes from by default: GitHub's archive of the tag.
pub const DEFAULT_SOURCE: &str = "https://github.com/ggml-org/llama.cpp/archive/refs/tags";
/// A source tree holds a few thousand files (llama.cpp has ~3,700).
const MAX_SOURCE_ENTRIES: usize = 50_000;

/// Where the source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A `.tar.gz` at a URL or a local path, with the digest it must have (`None`: first use, pinned after).
    Archive { location: String, sha256: Option<String>, size: Option<u64> },
    /// A source tree on disk (a checkout): built as it is, nothing to verify or pin.
    Tree(PathBuf),
}

#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The release the source is of (`b11160`): the folder it installs into and the build number it reports.
    pub release: String,
    pub backend: Backend,
    pub source: SourceSpec,
    /// Parallel compile jobs.
    pub jobs: usize,
    /// `GGML_NATIVE=OFF` and every CUDA architecture: a binary that runs on other machines of the same kind.
    pub portable: bool,
}

impl BuildRequest {
    /// The lock's name for the source archive of `release`.
    pub fn asset(release: &str) -> String {
        format!("llama.cpp-{release}-source.tar.gz")
    }

    /// What the engine folder's stamp says: from which source bytes, for which backend.
    fn stamp(&self, sha256: &str) -> String {
        format!("source {sha256} {} {}", self.backend, if self.portable { "portable" } else { "native" })
    }
}

/// The tools a build needs, found on this host.
#[derive(Debug, Clone, Default)]
pub struct Toolchain {
    pub cmake: PathBuf,
    pub ninja: Option<PathBuf>,
    pub ccache: Option<PathBuf>,
    /// A CUDA host with `nvidia-smi`: build only for the GPU present (`CMAKE_CUDA_ARCHITECTURES=native`).
    pub gpu_present: bool,
}

/// Each tool a backend needs, with what provides it on Debian / Ubuntu.
fn needs(backend: Backend) -> Vec<(&'static str, &'static str)> {
    let mut tools = vec![("cmake", "cmake"), ("c++", "g++ (build-essential)")];
    match backend {
        Backend::Cuda => tools.push(("nvcc", "the CUDA toolkit (NVIDIA's cuda-toolkit-12-8 or nvidia-cuda-toolkit)")),
        Backend::Vulkan => tools.extend([("glslc", "glslc"), ("vulkan.h", "libvulkan-dev")]),
        Backend::Rocm => tools.push(("hipconfig", "ROCm's HIP SDK (rocm-hip-sdk)")),
        Backend::Cpu | Backend::Metal => {}
    }
    tools
}

/// The tools `backend` needs that `found` does not find, each as "name (package)"; empty when all are there.
pub fn missing_tools(backend: Backend, found: &dyn Fn(&str) -> bool) -> Vec<String> {
    needs(backend).into_iter().filter(|(tool, _)| !found(tool)).map(|(t, p)| format!("{t} (from {p})")).collect()
}

/// Look the tools up (PATH, and the usual CUDA / ROCm / Vulkan places); refuse naming every one missing, before
/// anything is fetched.
pub fn preflight(backend: Backend, os: &str) -> Result<Toolchain> {
    if backend == Backend::Metal && os != "macos" {
        return Err(Error::usage("--backend metal builds only on macOS"));
    }
    let find = |tool: &str| -> Option<PathBuf> {
        match tool {
            "vulkan.h" => ["/usr/include/vulkan/vulkan.h", "/usr/local/include/vulkan/vulkan.h"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file()),
            "nvcc" => which::which("nvcc").ok().or_else(|| {
                let p = PathBuf::from("/usr/local/cuda/bin/nvcc");
                p.is_file().then_some(p)
            }),
            "hipconfig" => which::which("hipconfig").ok().or_else(|| {
                let p = PathBuf::from("/opt/rocm/bin/hipconfig");
                p.is_file().then_some(p)
            }),
            "c++" => ["c++", "g++", "clang++"].iter().find_map(|c| which::which(c).ok()),
            other => which::which(other).ok(),
        }
    };
    let missing = missing_tools(backend, &|t| find(t).is_some());
    if !missing.is_empty() {
        return Err(Error::usage(format!(
            "building llama-server for {backend} needs {}, which this host lacks; nothing was fetched",
            missing.join(", ")
        ))
        .with_hint("install them (e.g. `apt-get install cmake g++ ninja-build ccache`), or `clawlocal engine install` for a release archive"));
    }
    Ok(Toolchain {
        cmake: find("cmake").expect("checked above"),
        ninja: which::which("ninja").ok(),
        ccache: which::which("ccache").ok(),
        gpu_present: backend == Backend::Cuda && which::which("nvidia-smi").is_ok(),
    })
}

/// The configure step's arguments (pure): llama-server alone, static (one binary to move), no tests, examples,
/// web UI download or TLS; the release's build number so `--version` names it; the backend's switch; ccache as
/// the compiler launcher when present.
pub fn cmake_args(req: &BuildRequest, tools: &Toolchain, src: &Path, build: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["-S".into(), src.display().to_string(), "-B".into(), build.display().to_string()];
    if tools.ninja.is_some() {
        args.extend(["-G".into(), "Ninja".into()]);
    }
    let number = req.release.trim_start_matches('b');
    let number = if number.bytes().all(|b| b.is_ascii_digit()) && !number.is_empty() { number } else { "0" };
    let d = |k: &str, v: &str| format!("-D{k}={v}");
    args.extend([
        d("CMAKE_BUILD_TYPE", "Release"),
        d("BUILD_SHARED_LIBS", "OFF"),
        d("GGML_NATIVE", if req.portable { "OFF" } else { "ON" }),
        d("LLAMA_OPENSSL", "OFF"),
        d("LLAMA_CURL", "OFF"),
        d("LLAMA_BUILD_TESTS", "OFF"),
        d("LLAMA_BUILD_EXAMPLES", "OFF"),
        d("LLAMA_BUILD_UI", "OFF"),
        d("LLAMA_USE_PREBUILT_UI", "OFF"),
        d("LLAMA_BUILD_NUMBER", number),
        d("LLAMA_BUILD_COMMIT", &req.release),
    ]);
    match req.backend {
        Backend::Cuda => {
            args.push(d("GGML_CUDA", "ON"));
            if tools.gpu_present && !req.portable {
                args.push(d("CMAKE_CUDA_ARCHITECTURES", "native"));
            }
        }
        Backend::Vulkan => args.push(d("GGML_VULKAN", "ON")),
        Backend::Rocm => args.push(d("GGML_HIP", "ON")),
        Backend::Metal => args.push(d("GGML_METAL", "ON")),
        Backend::Cpu => args.extend([d("GGML_METAL", "OFF"), d("GGML_CUDA", "OFF")]),
    }
    if let Some(ccache) = &tools.ccache {
        let launcher = ccache.display().to_string();
        // llama.cpp's own GGML_CCACHE would add a second launcher.
        args.push(d("GGML_CCACHE", "OFF"));
        for lang in ["C", "CXX", "CUDA"] {
            args.push(d(&format!("CMAKE_{lang}_COMPILER_LAUNCHER"), &launcher));
        }
    }
    args
}

/// How far a build is, from one line of its output: Ninja's `[12/345] …` or Make's `[ 45%] …`.
pub fn progress(line: &str) -> Option<u32> {
    let inner = line.trim_start().strip_prefix('[')?.split(']').next()?;
    if let Some((done, total)) = inner.split_once('/') {
        let (done, total): (u64, u64) = (done.trim().parse().ok()?, total.trim().parse().ok()?);
        return (total > 0).then(|| (done * 100 / total).min(100) as u32);
    }
    inner.trim().strip_suffix('%')?.trim().parse().ok().filter(|p| *p <= 100)
}

#[derive(Debug, Serialize)]
pub struct Built {
    pub path: PathBuf,
    pub release: String,
    pub backend: Backend,
    /// The source archive's sha256 (`None` for a tree on disk).
    pub source_sha256: Option<String>,
    /// The source archive's size in bytes (`None` for a tree on disk, or when nothing was fetched).
    pub source_size: Option<u64>,
    /// `created`, `updated` or `unchanged` (the same source and backend were built before: nothing rebuilt).
    pub status: &'static str,
    /// Where the configure and build output went.
    pub log: PathBuf,
    pub seconds: u64,
}

/// Fetch (or take) the source, configure, build, check, and swap the release's folder into place. `note` gets
/// progress lines; `check` is asked about the built binary before it takes its name. The log is kept at `log`.
pub fn build(
    host: &dyn crate::host::Host,
    req: &BuildRequest,
    tools: &Toolchain,
    engine_dir: &Path,
    log: &Path,
    note: &dyn Fn(&str),
    check: &dyn Fn(&Path) -> Result<()>,
) -> Result<Built> {
    let started = std::time::Instant::now();
    let dest = engine_dir.join(format!("llama-{}", req.release));
    let binary = dest.join(super::BINARY);
    std::fs::create_dir_all(engine_dir)
        .map_err(|e| Error::io(format!("cannot create {}", engine_dir.display()), &e))?;
    let stamp_path = dest.join(".clawlocal-sha256");
    let known = match &req.source {
        SourceSpec::Archive { sha256: Some(sha), .. } => Some(sha.clone()),
        _ => None,
    };
    let done = |status, sha: Option<String>, size: Option<u64>| Built {
        path: binary.clone(),
        release: req.release.clone(),
        backend: req.backend,
        source_sha256: sha,
        source_size: size,
        status,
        log: log.to_path_buf(),
        seconds: started.elapsed().as_secs(),
    };
    if let Some(sha) = &known
        && std::fs::read_to_string(&stamp_path).is_ok_and(|s| s.trim() == req.stamp(sha))
        && check(&binary).is_ok()
    {
        let size = match &req.source {
            SourceSpec::Archive { size, .. } => *size,
            SourceSpec::Tree(_) => None,
        };
        return Ok(done("unchanged", known.clone(), size));
    }
    let work = tempfile::Builder::new()
        .prefix(&format!(".build-{}.", req.release))
        .tempdir_in(engine_dir)
        .map_err(|e| Error::io(format!("cannot create a build folder in {}", engine_dir.display()), &e))?;
    let (src, sha, size) = source_tree(req, work.path(), note)?;
    note(&format!("configuring llama.cpp {} for {} ({})", req.release, req.backend, src.display()));
    let build_dir = work.path().join("build");
    let configure = cmake_args(req, tools, &src, &build_dir);
    let configure_log = log.with_extension("configure.log");
    run_logged(host, tools, work.path(), &configure, &configure_log, &|_| {})?;
    let jobs = req.jobs.max(1).to_string();
    let compile = ["--build", &build_dir.display().to_string(), "--target", "llama-server", "-j", &jobs]
        .map(String::from)
        .to_vec();
    let step = std::cell::Cell::new(0u32);
    run_logged(host, tools, work.path(), &compile, log, &|line| {
        if let Some(p) = progress(line).filter(|p| *p >= step.get() + 10) {
            step.set(p - p % 10);
            note(&format!("building llama-server: {p}%"));
        }
    })?;
    let built = build_dir.join("bin").join(super::BINARY);
    if !built.is_file() {
        return Err(Error::failure(format!("the build made no {}; see {}", built.display(), log.display())));
    }
    let staged = work.path().join(format!("llama-{}", req.release));
    std::fs::create_dir_all(&staged).map_err(|e| Error::io(format!("cannot create {}", staged.display()), &e))?;
    let new_binary = staged.join(super::BINARY);
    std::fs::copy(&built, &new_binary).map_err(|e| Error::io(format!("cannot copy {}", built.display()), &e))?;
    check(&new_binary)?;
    let stamp = req.stamp(sha.as_deref().unwrap_or("tree"));
    crate::fsutil::write_atomic(&staged.join(".clawlocal-sha256"), format!("{stamp}\n").as_bytes())?;
    let status = if dest.exists() {
        // The old folder moves aside first, so it is never half old, half new; it goes with the work folder.
        let old = work.path().join(".old");
        std::fs::rename(&dest, &old).map_err(|e| Error::io(format!("cannot move {} aside", dest.display()), &e))?;
        "updated"
    } else {
        "created"
    };
    std::fs::rename(&staged, &dest).map_err(|e| Error::io(format!("cannot move {} into place", dest.display()), &e))?;
    crate::fsutil::sync_dir(engine_dir)?;
    Ok(done(status, sha, size))
}

/// The source tree to configure: a tree on disk as it is, or the archive fetched (verified, or its digest
/// taken on first use) and unpacked under `work/src`. Returns the tree and the archive's sha256 and size.
fn source_tree(req: &BuildRequest, work: &Path, note: &dyn Fn(&str)) -> Result<(PathBuf, Option<String>, Option<u64>)> {
    let (location, sha256, size) = match &req.source {
        SourceSpec::Tree(dir) => {
            looks_like_llama_cpp(dir)?;
            return Ok((dir.clone(), None, None));
        }
        SourceSpec::Archive { location, sha256, size } => (location, sha256, size),
    };
    let archive = work.join("source.tar.gz");
    let file =
        std::fs::File::create(&archive).map_err(|e| Error::io(format!("cannot create {}", archive.display()), &e))?;
    let (sha, bytes) = if location.starts_with("http://") || location.starts_with("https://") {
        note(&format!("downloading {location}"));
        super::install::fetch(location, sha256.as_deref(), *size, &file)?
    } else {
        let mut input = std::fs::File::open(location).map_err(|e| Error::io(format!("--source {location}"), &e))?;
        super::install::copy_verified(&mut input, location, sha256.as_deref(), *size, &file)?
    };
    let open =
        || std::fs::File::open(&archive).map_err(|e| Error::io(format!("cannot read {}", archive.display()), &e));
    let top =
        super::install::first_folder(open()?).map_err(|e| Error::failure(format!("{location}: {}", e.message)))?;
    let into = work.join("src");
    super::install::unpack_at_most(open()?, &top, &into, MAX_SOURCE_ENTRIES)
        .map_err(|e| Error::failure(format!("{location}: {}", e.message)))?;
    std::fs::remove_file(&archive).ok();
    let tree = into.join(&top);
    looks_like_llama_cpp(&tree).map_err(|e| Error::failure(format!("{location}: {}", e.message)))?;
    Ok((tree, Some(sha), Some(bytes)))
}

fn looks_like_llama_cpp(dir: &Path) -> Result<()> {
    let server = ["tools/server", "examples/server"].iter().any(|p| dir.join(p).is_dir());
    if dir.join("CMakeLists.txt").is_file() && dir.join("ggml").is_dir() && server {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "{} is not a llama.cpp source tree (no CMakeLists.txt, ggml/ and tools/server/)",
            dir.display()
        )))
    }
}

/// Run cmake with `args` through the host, its output into `log`, each new line of which goes to `line` as it
/// comes; a failure quotes the log's last lines. ccache's settings ride in through `cmake -E env`.
fn run_logged(
    host: &dyn crate::host::Host,
    tools: &Toolchain,
    work: &Path,
    args: &[String],
    log: &Path,
    line: &dyn Fn(&str),
) -> Result<()> {
    // One locale for every build: compiler messages the log parser can read, and the same ccache key whatever the
    // caller's LANG (ccache hashes LANG and the LC_* variables).
    let mut argv: Vec<String> =
        ["-E", "env", "--unset=LC_CTYPE", "--unset=LC_MESSAGES", "LANG=C", "LC_ALL=C"].map(String::from).to_vec();
    if tools.ccache.is_some() {
        // Paths relative to the work folder, so a build in a fresh folder still hits the cache.
        argv.extend([format!("CCACHE_BASEDIR={}", work.display()), "CCACHE_NOHASHDIR=1".into()]);
    }
    argv.push(tools.cmake.display().to_string());
    argv.extend(args.iter().cloned());
    let mut child = host
        .spawn(&tools.cmake, &argv, log)
        .map_err(|e| Error::io(format!("cannot run {}", tools.cmake.display()), &e))?;
    // Only what was appended since the last look is read: the log grows to megabytes over a build.
    let mut reader = std::fs::File::open(log).map_err(|e| Error::io(format!("cannot read {}", log.display()), &e))?;
    let mut fresh = Vec::new();
    let mut partial = String::new();
    let status = loop {
        let finished = child.try_wait().map_err(|e| Error::io(format!("waiting for {}", tools.cmake.display()), &e))?;
        fresh.clear();
        if std::io::Read::read_to_end(&mut reader, &mut fresh).is_ok() && !fresh.is_empty() {
            partial.push_str(&String::from_utf8_lossy(&fresh));
            while let Some(end) = partial.find('\n') {
                line(&partial[..end]);
                partial.drain(..=end);
            }
        }
        if let Some(status) = finished {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let last = lines[lines.len().saturating_sub(25)..].join("\n");
    Err(Error::failure(format!("cmake {} failed ({status}); the end of {}:\n{last}", args[0], log.display()))
        .with_hint("install what the error names and run it again; ccache keeps what was already compiled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(backend: Backend, portable: bool) -> BuildRequest {
        BuildRequest { release: "b11160".into(), backend, source: SourceSpec::Tree("/src".into()), jobs: 2, portable }
    }

    #[test]
    fn each_backend_configures_its_switch_and_only_llama_server() {
        let tools = Toolchain {
            cmake: "cmake".into(),
            ninja: Some("ninja".into()),
            ccache: Some("/usr/bin/ccache".into()),
            gpu_present: true,
        };
        let plain = Toolchain { ninja: None, ccache: None, gpu_present: false, ..tools.clone() };
        type Case<'a> = (Backend, bool, &'a Toolchain, Vec<&'a str>, Vec<&'a str>);
        let cases: Vec<Case> = vec![
            (Backend::Cpu, false, &tools, vec!["-DGGML_NATIVE=ON", "-DGGML_CUDA=OFF", "-G"], vec!["-DGGML_VULKAN=ON"]),
            (
                Backend::Cpu,
                true,
                &plain,
                vec!["-DGGML_NATIVE=OFF"],
                vec!["-G", "-DCMAKE_C_COMPILER_LAUNCHER=/usr/bin/ccache"],
            ),
            (
                Backend::Cuda,
                false,
                &tools,
                vec![
                    "-DGGML_CUDA=ON",
                    "-DCMAKE_CUDA_ARCHITECTURES=native",
                    "-DCMAKE_CUDA_COMPILER_LAUNCHER=/usr/bin/ccache",
                ],
                vec![],
            ),
            (Backend::Cuda, true, &tools, vec!["-DGGML_CUDA=ON"], vec!["-DCMAKE_CUDA_ARCHITECTURES=native"]),
            (Backend::Vulkan, false, &plain, vec!["-DGGML_VULKAN=ON"], vec!["-DGGML_CUDA=ON"]),
            (Backend::Rocm, false, &plain, vec!["-DGGML_HIP=ON"], vec![]),
            (Backend::Metal, false, &plain, vec!["-DGGML_METAL=ON"], vec![]),
        ];
        for (backend, portable, t, want, not) in cases {
            let args = cmake_args(&req(backend, portable), t, Path::new("/w/src/llama.cpp"), Path::new("/w/build"));
            for w in
                want.iter().chain(&["-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_NUMBER=11160", "-DLLAMA_BUILD_TESTS=OFF"])
            {
                assert!(args.iter().any(|a| a == w), "{backend} portable={portable}: {w} missing from {args:?}");
            }
            for n in not {
                assert!(!args.iter().any(|a| a == n), "{backend} portable={portable}: {n} in {args:?}");
            }
        }
        let odd = BuildRequest { release: "master".into(), ..req(Backend::Cpu, true) };
        assert!(
            cmake_args(&odd, &plain, Path::new("/s"), Path::new("/b")).contains(&"-DLLAMA_BUILD_NUMBER=0".to_string())
        );
    }

    #[test]
    fn missing_tools_are_named_with_their_package() {
        let none = |_: &str| false;
        let all = |_: &str| true;
        let no_nvcc = |t: &str| t != "nvcc";
        assert!(missing_tools(Backend::Cuda, &all).is_empty());
        assert_eq!(
            missing_tools(Backend::Cuda, &no_nvcc),
            ["nvcc (from the CUDA toolkit (NVIDIA's cuda-toolkit-12-8 or nvidia-cuda-toolkit))"]
        );
        let vulkan = missing_tools(Backend::Vulkan, &none);
        assert!(
            vulkan.iter().any(|m| m.starts_with("cmake")) && vulkan.iter().any(|m| m.contains("libvulkan-dev")),
            "{vulkan:?}"
        );
        assert!(missing_tools(Backend::Rocm, &|t| t != "hipconfig")[0].contains("rocm-hip-sdk"));
        assert_eq!(missing_tools(Backend::Cpu, &|t| t != "c++").len(), 1);
    }

    #[test]
    fn progress_is_read_from_ninja_and_make_lines() {
        assert_eq!(progress("[12/240] Building CXX object ggml/src/CMakeFiles/ggml-base.dir/ggml.c.o"), Some(5));
        assert_eq!(progress("[240/240] Linking CXX executable bin/llama-server"), Some(100));
        assert_eq!(progress("[ 45%] Building C object ggml/src/ggml.c.o"), Some(45));
        assert_eq!(progress("[100%] Built target llama-server"), Some(100));
        assert_eq!(progress("-- Configuring done"), None);
        assert_eq!(progress("[0/0] nothing"), None);
        assert_eq!(progress("[abc] x"), None);
    }
}
