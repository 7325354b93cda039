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
    /// The companion archive unpacked beside the binary (CUDA's runtime libraries).
    pub companion: Option<&'static str>,
    /// The oldest C library the build runs on.
    pub min_glibc: Version2,
}

#[derive(Debug, Clone, Copy)]
pub struct Release {
    pub release: &'static str,
    pub build: u64,
    pub commit: &'static str,
    pub assets: &'static [Asset],
}

/// glibc the CPU archives need (OpenClaw's own check for the same archives): 2.34 on x86_64, 2.38 on arm64.
const GLIBC_X64: Version2 = Version2(2, 34);
const GLIBC_ARM64: Version2 = Version2(2, 38);
/// The CUDA builds are made on Ubuntu 24.04 and reported to fail on 22.04 (glibc 2.35).
const GLIBC_CUDA: Version2 = Version2(2, 39);
/// The oldest Linux driver each CUDA release supports (NVIDIA's CUDA toolkit release notes, table 3).
pub const CUDA_DRIVERS: &[(Version2, Version2)] =
    &[(Version2(12, 8), Version2(570, 26)), (Version2(13, 0), Version2(580, 65))];

/// The release clawlocal pins: llama.cpp b10809, the one OpenClaw 2026.9's managed provider pins. The CPU and
/// Metal sha256 values are from OpenClaw's `extensions/llama-cpp/src/llama-server-assets.ts` (openclaw/openclaw
/// e193989); no source pins the Linux CUDA and Vulkan archives, so their digests come from the release host. The
/// CUDA 13.x archive's minor version changes from release to release (13.3, 13.4, …) and is not listed until a
/// source names b10809's; 12.8 is the name every release since the Linux CUDA builds began has used.
pub const PINNED: Release = Release {
    release: "b10809",
    build: 10809,
    commit: "5266f24da75dc449bd56cbed7addb9c8e4a6a73e",
    assets: &[
        Asset {
            os: "linux",
            arch: "x86_64",
            backend: Backend::Cpu,
            cuda: None,
            name: "llama-b10809-bin-ubuntu-x64.tar.gz",
            sha256: Some("5e34434ddc6d03cd1584f403201aff0d4bd1a5793a72ff7e286532dfd1e4b941"),
            companion: None,
            min_glibc: GLIBC_X64,
        },
        Asset {
            os: "linux",
            arch: "aarch64",
            backend: Backend::Cpu,
            cuda: None,
            name: "llama-b10809-bin-ubuntu-arm64.tar.gz",
            sha256: Some("f2b7333971e1b7b42e9268bfdbfa30f5f56e2897156084d2251385df94aec358"),
            companion: None,
            min_glibc: GLIBC_ARM64,
        },
        Asset {
            os: "linux",
            arch: "x86_64",
            backend: Backend::Cuda,
            cuda: Some(Version2(12, 8)),
            name: "llama-b10809-bin-ubuntu-cuda-12.8-x64.tar.gz",
            sha256: None,
            companion: Some("cudart-llama-b10809-bin-ubuntu-cuda-12.8-x64.tar.gz"),
            min_glibc: GLIBC_CUDA,
        },
        Asset {
            os: "linux",
            arch: "x86_64",
            backend: Backend::Vulkan,
            cuda: None,
            name: "llama-b10809-bin-ubuntu-vulkan-x64.tar.gz",
            sha256: None,
            companion: None,
            min_glibc: GLIBC_X64,
        },
        Asset {
            os: "macos",
            arch: "aarch64",
            backend: Backend::Metal,
            cuda: None,
            name: "llama-b10809-bin-macos-arm64.tar.gz",
            sha256: Some("7d692df9e1e386e62f1c12b843903218041e6cd74c9415aa39a7ed3176f9eaa2"),
            companion: None,
            min_glibc: Version2(0, 0),
        },
        Asset {
            os: "macos",
            arch: "x86_64",
            backend: Backend::Cpu,
            cuda: None,
            name: "llama-b10809-bin-macos-x64.tar.gz",
            sha256: Some("13b34aa8a5d87341a21065a83f54a8167e1aaa6fe0d66065de01632a1ed64be6"),
            companion: None,
            min_glibc: Version2(0, 0),
        },
    ],
};

/// The backend this host should use: `--backend`, else CUDA when a driver answers that some CUDA archive
/// supports, else Vulkan when a loader and device are present, Metal on Apple silicon, else CPU.
pub fn backend_for(facts: &HostFacts) -> Backend {
    if let Some(b) = facts.requested {
        return b;
    }
    let cuda_ok = facts.nvidia_driver.is_some_and(|d| CUDA_DRIVERS.iter().any(|(_, min)| d >= *min));
    match (facts.os.as_str(), facts.arch.as_str()) {
        ("macos", "aarch64") => Backend::Metal,
        ("linux", _) if cuda_ok && facts.arch == "x86_64" => Backend::Cuda,
        ("linux", _) if facts.vulkan && facts.arch == "x86_64" => Backend::Vulkan,
        _ => Backend::Cpu,
    }
}

/// The archive for this host in `release`, or a refusal that names what is missing (both versions for glibc
/// and the driver) and what to do instead.
pub fn choose(release: &Release, facts: &HostFacts) -> Result<Asset> {
    let backend = backend_for(facts);
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
        let supported =
            |a: &&&Asset| a.cuda.is_none_or(|c| CUDA_DRIVERS.iter().any(|(v, min)| *v == c && driver >= *min));
        let Some(asset) = candidates.iter().find(supported) else {
            return Err(Error::usage(format!(
                "NVIDIA driver {driver} is older than every CUDA build of llama.cpp {} needs (CUDA 12.8: driver 570.26)",
                release.release
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
                "new driver: the newest CUDA build",
                host("linux", "x86_64", noble, Some((580, 95)), false),
                Ok("cuda-12.8-x64"),
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
                "arm64 with an NVIDIA driver: CPU",
                host("linux", "aarch64", noble, Some((580, 95)), false),
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
