//! Which llama.cpp build serves this box: the backend (CUDA, Vulkan, Metal, ROCm, CPU) from what the host reports,
//! and the release archive for it. Pure: the host's answers come in as [`HostFacts`], so every shape is a table
//! test.

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Cpu,
    Cuda,
    Vulkan,
    Metal,
    Rocm,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Vulkan => "vulkan",
            Self::Metal => "metal",
            Self::Rocm => "rocm",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version with two parts (`2.36`, `570.26`), compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version2(pub u32, pub u32);

impl Version2 {
    /// The first `N.M` in `text` (`ldd (GNU libc) 2.36`, `570.133.07`).
    pub fn parse(text: &str) -> Option<Self> {
        text.split(|c: char| !(c.is_ascii_digit() || c == '.')).find_map(|word| {
            let mut parts = word.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some(Self(major, minor))
        })
    }
}

impl std::fmt::Display for Version2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// What the host says about itself, as far as the choice needs it.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// `linux` or `macos`.
    pub os: String,
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// The C library's version (glibc on Linux; `None` when it cannot be told, e.g. musl).
    pub glibc: Option<Version2>,
    /// The NVIDIA driver `nvidia-smi` reports, when one answers.
    pub nvidia_driver: Option<Version2>,
    /// A Vulkan loader and a device (`vulkaninfo --summary` lists a GPU).
    pub vulkan: bool,
    /// `--backend`, when given.
    pub requested: Option<Backend>,
}

/// One release archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub os: &'static str,
    pub arch: &'static str,
    pub backend: Backend,
    /// The CUDA version the build targets (`12.8`), for the driver check.
    pub cuda: Option<Version2>,
    pub name: &'static str,
    /// Where a published source gives it (see [`PINNED`]); `None`: taken from the digest the release host
    /// publishes for the asset, verified while streaming and then recorded in the lock.
    pub sha256: Option<&'static str>,
    /// The companion archive unpacked beside the binary (CUDA's runtime libraries): name and pinned sha256.
    pub companion: Option<(&'static str, Option<&'static str>)>,
    /// The oldest C library the build runs on.
    pub min_glibc: Version2,
}

#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub release: &'static str,
    pub build: u64,
    pub assets: &'static [Asset],
}

/// glibc the CPU archives need (OpenClaw's own check for the same archives): 2.34 on x86_64, 2.38 on arm64.
const GLIBC_X64: Version2 = Version2(2, 34);
const GLIBC_ARM64: Version2 = Version2(2, 38);
/// The CUDA builds are made on Ubuntu 24.04 and reported to fail on 22.04 (glibc 2.35).
const GLIBC_CUDA: Version2 = Version2(2, 39);
/// The oldest Linux driver each CUDA major release supports (NVIDIA's CUDA toolkit release notes, table 3):
/// 12.8 needs 570.26; every 13.x runs on the 13.0 driver, 580.65, by minor-version compatibility.
pub fn min_driver(cuda: Version2) -> Option<Version2> {
    match cuda {
        Version2(12, minor) if minor >= 8 => Some(Version2(570, 26)),
        Version2(13, _) => Some(Version2(580, 65)),
        _ => None,
    }
}

const fn linux(arch: &'static str, backend: Backend, name: &'static str, sha256: &'static str) -> Asset {
    let min_glibc = if matches!(arch.as_bytes(), b"aarch64") { GLIBC_ARM64 } else { GLIBC_X64 };
    Asset { os: "linux", arch, backend, cuda: None, name, sha256: Some(sha256), companion: None, min_glibc }
}

const fn cuda(
    arch: &'static str,
    version: Version2,
    main: (&'static str, &'static str),
    runtime: (&'static str, &'static str),
) -> Asset {
    Asset {
        os: "linux",
        arch,
        backend: Backend::Cuda,
        cuda: Some(version),
        name: main.0,
        sha256: Some(main.1),
        companion: Some((runtime.0, Some(runtime.1))),
        min_glibc: GLIBC_CUDA,
    }
}

const fn macos(arch: &'static str, backend: Backend, name: &'static str, sha256: &'static str) -> Asset {
    Asset {
        os: "macos",
        arch,
        backend,
        cuda: None,
        name,
        sha256: Some(sha256),
        companion: None,
        min_glibc: Version2(0, 0),
    }
}

/// The release clawlocal pins: llama.cpp b11160 (2026-09), the first release after the Linux CUDA archives began
/// (ggml-org/llama.cpp PR #28186, after b10864) for which a published source pins every Linux and macOS archive:
/// a third-party project's generated table of b11160's assets and their sha256 (`ASSETS`, regenerated there from
/// the release by `scripts/update_llamacpp_build.py`). OpenClaw 2026.9 pins b10809, which has no Linux CUDA
/// archive. Each digest is still checked while the archive streams, so a wrong entry refuses, never installs.
pub const PINNED: Release = Release {
    release: "b11160",
    build: 11160,
    assets: &[
        linux(
            "x86_64",
            Backend::Cpu,
            "llama-b11160-bin-ubuntu-x64.tar.gz",
            "48ece24283876fc3401b737724008c03cbc4c7ba335b6c1aa2a7b6ce2d49e435",
        ),
        linux(
            "aarch64",
            Backend::Cpu,
            "llama-b11160-bin-ubuntu-arm64.tar.gz",
            "4ffc2f68959e102219eaa8d007c9fd5b6e7d1cb298672c8945ec80b9f57b6076",
        ),
        cuda(
            "x86_64",
            Version2(12, 8),
            (
                "llama-b11160-bin-ubuntu-cuda-12.8-x64.tar.gz",
                "8ed8d659383b6624ef2bd14ebd6984c8c1b1b2f13e4ba0c5c43f6038ca22591d",
            ),
            (
                "cudart-llama-b11160-bin-ubuntu-cuda-12.8-x64.tar.gz",
                "54776c67e34b536f6123b1a0697931f86f846f9f71baa9d86f550485fbbc9df1",
            ),
        ),
        cuda(
            "x86_64",
            Version2(13, 4),
            (
                "llama-b11160-bin-ubuntu-cuda-13.4-x64.tar.gz",
                "76983c34644683614a0d4983b7948b503dac76bfacc9f96a811c0ca146f103d4",
            ),
            (
                "cudart-llama-b11160-bin-ubuntu-cuda-13.4-x64.tar.gz",
                "14765bd08136c6838fbadf22f3484d2b9ad2be307ae0fa766ec42f4bb100b070",
            ),
        ),
        cuda(
            "aarch64",
            Version2(13, 4),
            (
                "llama-b11160-bin-ubuntu-cuda-13.4-arm64.tar.gz",
                "ef9d913faac8439c50249781191121aed06dfee13e8244d7421122fba48d487f",
            ),
            (
                "cudart-llama-b11160-bin-ubuntu-cuda-13.4-arm64.tar.gz",
                "2ccb86558da98dcb45e1210e3e88bada95edbc5c0e9867893c4b0840cf714e90",
            ),
        ),
        linux(
            "x86_64",
            Backend::Vulkan,
            "llama-b11160-bin-ubuntu-vulkan-x64.tar.gz",
            "4dd1285b8b1554ce4c87904daaf0c9c0c38a5004187604ae2c6e3c5c212cb6f8",
        ),
        macos(
            "aarch64",
            Backend::Metal,
            "llama-b11160-bin-macos-arm64.tar.gz",
            "5679b3e952772a9f9a39f9d42d7f0eb3d4c424103fe56f5516507583a0c6e3fa",
        ),
        macos(
            "x86_64",
            Backend::Cpu,
            "llama-b11160-bin-macos-x64.tar.gz",
            "8c9029bb2491c9c39a497bbd3499d38df0b1c134006bc0e3ec6b5b37319955c8",
        ),
    ],
};

/// The backend this host should use: `--backend`, else CUDA when the driver `nvidia-smi` reports runs one of
/// the release's CUDA builds for this platform, else Vulkan when a loader and device are present and the release
/// has a Vulkan build here, Metal on Apple silicon, else CPU.
pub fn backend_for(release: &Release, facts: &HostFacts) -> Backend {
    if let Some(b) = facts.requested {
        return b;
    }
    let here = |backend: Backend| {
        release.assets.iter().filter(move |a| a.os == facts.os && a.arch == facts.arch && a.backend == backend)
    };
    let driver_runs = |a: &Asset| match (facts.nvidia_driver, a.cuda.and_then(min_driver)) {
        (Some(have), Some(min)) => have >= min,
        _ => false,
    };
    match facts.os.as_str() {
        "macos" if facts.arch == "aarch64" => Backend::Metal,
        "linux" if here(Backend::Cuda).any(driver_runs) => Backend::Cuda,
        "linux" if facts.vulkan && here(Backend::Vulkan).next().is_some() => Backend::Vulkan,
        _ => Backend::Cpu,
    }
}

/// The archive for this host in `release`, or a refusal that names what is missing (both versions for glibc
/// and the driver) and what to do instead.
pub fn choose(release: &Release, facts: &HostFacts) -> Result<Asset> {
    let backend = backend_for(release, facts);
    let platform = format!("{}/{}", facts.os, facts.arch);
    let mut candidates: Vec<&Asset> =
        release.assets.iter().filter(|a| a.os == facts.os && a.arch == facts.arch && a.backend == backend).collect();
    // The newest CUDA first: the driver check below takes the first it supports.
    candidates.sort_by_key(|a| std::cmp::Reverse(a.cuda));
    let hint = "`clawlocal engine build --backend ...` builds llama-server from the pinned source for this host; \
                or pass --engine PATH to a llama-server you built";
    if candidates.is_empty() {
        return Err(Error::usage(format!(
            "llama.cpp {} publishes no {backend} archive for {platform}",
            release.release
        ))
        .with_hint(hint));
    }
    if backend == Backend::Cuda {
        let Some(driver) = facts.nvidia_driver else {
            return Err(Error::usage("--backend cuda, but `nvidia-smi` reports no NVIDIA driver on this host")
                .with_hint("install the NVIDIA driver (570.26 or newer for CUDA 12.8), or use --backend cpu"));
        };
        let supported = |a: &&&Asset| a.cuda.and_then(min_driver).is_some_and(|min| driver >= min);
        let Some(asset) = candidates.iter().find(supported) else {
            let needs: Vec<String> = candidates
                .iter()
                .filter_map(|a| Some(format!("CUDA {}: driver {}", a.cuda?, min_driver(a.cuda?)?)))
                .collect();
            return Err(Error::usage(format!(
                "NVIDIA driver {driver} is older than every CUDA build of llama.cpp {} for {platform} needs ({})",
                release.release,
                needs.join(", ")
            ))
            .with_hint("update the NVIDIA driver, or use --backend vulkan or --backend cpu"));
        };
        candidates = vec![asset];
    }
    let asset = *candidates[0];
    if facts.os == "linux" {
        match facts.glibc {
            Some(have) if have < asset.min_glibc => {
                return Err(Error::usage(format!(
                    "{} needs glibc {} or newer; this host has glibc {have}",
                    asset.name, asset.min_glibc
                ))
                .with_hint(hint));
            }
            None => {
                return Err(Error::usage(format!(
                    "{} needs glibc {}; this host's C library could not be told (musl?)",
                    asset.name, asset.min_glibc
                ))
                .with_hint(hint));
            }
            _ => {}
        }
    }
    Ok(asset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(os: &str, arch: &str, glibc: Option<(u32, u32)>, driver: Option<(u32, u32)>, vulkan: bool) -> HostFacts {
        HostFacts {
            os: os.into(),
            arch: arch.into(),
            glibc: glibc.map(|(a, b)| Version2(a, b)),
            nvidia_driver: driver.map(|(a, b)| Version2(a, b)),
            vulkan,
            requested: None,
        }
    }

    #[test]
    fn the_archive_follows_the_host_or_the_refusal_names_what_is_missing() {
        let noble = Some((2, 39));
        let jammy = Some((2, 35));
        let cases: Vec<(&str, HostFacts, std::result::Result<&str, &str>)> = vec![
            ("CPU VPS, Ubuntu 24.04", host("linux", "x86_64", noble, None, false), Ok("bin-ubuntu-x64")),
            ("CPU VPS, Debian 12", host("linux", "x86_64", Some((2, 36)), None, false), Ok("bin-ubuntu-x64")),
            (
                "580 driver: the newest CUDA build",
                host("linux", "x86_64", noble, Some((580, 95)), false),
                Ok("cuda-13.4-x64"),
            ),
            ("570 driver: CUDA 12.8", host("linux", "x86_64", noble, Some((570, 133)), false), Ok("cuda-12.8-x64")),
            (
                "old driver, no Vulkan: CPU",
                host("linux", "x86_64", noble, Some((535, 183)), false),
                Ok("bin-ubuntu-x64"),
            ),
            ("old driver, Vulkan: Vulkan", host("linux", "x86_64", noble, Some((535, 183)), true), Ok("vulkan-x64")),
            ("Vulkan only (AMD/Intel)", host("linux", "x86_64", noble, None, true), Ok("vulkan-x64")),
            (
                "CUDA driver on Ubuntu 22.04",
                host("linux", "x86_64", jammy, Some((575, 51)), false),
                Err("glibc 2.39 or newer; this host has glibc 2.35"),
            ),
            (
                "old glibc CPU (CentOS 8)",
                host("linux", "x86_64", Some((2, 28)), None, false),
                Err("glibc 2.34 or newer; this host has glibc 2.28"),
            ),
            (
                "arm64 Debian 12 (glibc 2.36)",
                host("linux", "aarch64", Some((2, 36)), None, false),
                Err("glibc 2.38 or newer; this host has glibc 2.36"),
            ),
            ("arm64 Ubuntu 24.04", host("linux", "aarch64", noble, None, false), Ok("bin-ubuntu-arm64")),
            (
                "arm64 with a 580 driver (GH200, DGX Spark): CUDA 13.4",
                host("linux", "aarch64", noble, Some((580, 95)), false),
                Ok("cuda-13.4-arm64"),
            ),
            (
                "arm64 with a 570 driver: no arm64 CUDA 12 build, so CPU",
                host("linux", "aarch64", noble, Some((570, 133)), false),
                Ok("bin-ubuntu-arm64"),
            ),
            ("musl (Alpine)", host("linux", "x86_64", None, None, false), Err("could not be told")),
            ("Apple silicon", host("macos", "aarch64", None, None, false), Ok("macos-arm64")),
            ("Intel Mac", host("macos", "x86_64", None, None, false), Ok("macos-x64")),
        ];
        assert!(cases.len() >= 10);
        for (name, facts, want) in cases {
            let got = choose(&PINNED, &facts);
            match (want, got) {
                (Ok(part), Ok(asset)) => assert!(asset.name.contains(part), "{name}: {}", asset.name),
                (Err(part), Err(e)) => assert!(e.message.contains(part), "{name}: {}", e.message),
                (want, got) => panic!("{name}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn an_asked_for_backend_wins_and_is_refused_with_the_reason_when_it_cannot_run() {
        let mut facts = host("linux", "x86_64", Some((2, 39)), Some((580, 95)), true);
        facts.requested = Some(Backend::Cpu);
        assert_eq!(choose(&PINNED, &facts).unwrap().backend, Backend::Cpu);
        facts.requested = Some(Backend::Vulkan);
        assert_eq!(choose(&PINNED, &facts).unwrap().backend, Backend::Vulkan);
        let mut no_driver = host("linux", "x86_64", Some((2, 39)), None, false);
        no_driver.requested = Some(Backend::Cuda);
        assert!(choose(&PINNED, &no_driver).unwrap_err().message.contains("no NVIDIA driver"));
        let mut old = host("linux", "x86_64", Some((2, 39)), Some((535, 183)), false);
        old.requested = Some(Backend::Cuda);
        let e = choose(&PINNED, &old).unwrap_err();
        assert!(e.message.contains("driver 535.183 is older"), "{}", e.message);
        assert!(e.message.contains("CUDA 12.8: driver 570.26") && e.message.contains("CUDA 13.4: driver 580.65"));
        let mut rocm = host("linux", "x86_64", Some((2, 39)), None, false);
        rocm.requested = Some(Backend::Rocm);
        let e = choose(&PINNED, &rocm).unwrap_err();
        assert!(e.message.contains("no rocm archive") && e.hint.unwrap().contains("engine build"), "{}", e.message);
    }

    #[test]
    fn versions_are_read_from_what_the_tools_print() {
        assert_eq!(Version2::parse("ldd (Debian GLIBC 2.36-9+deb12u10) 2.36"), Some(Version2(2, 36)));
        assert_eq!(Version2::parse("glibc 2.39"), Some(Version2(2, 39)));
        assert_eq!(Version2::parse("570.133.07"), Some(Version2(570, 133)));
        assert_eq!(Version2::parse("no version here"), None);
        assert!(Version2(2, 4) < Version2(2, 34));
    }
}
