//! `--profile auto`: this host's facts as a profile. Reads only through `Host`, so tests fake the host.
//!
//! Memory is the smaller of /proc/meminfo and the cgroup limit (containers and VPS slices report the host's
//! RAM in /proc/meminfo); cores are physical cores capped by a cgroup CPU quota; NVIDIA memory comes from
//! `nvidia-smi` (the largest card: llama.cpp does not pool cards for one model); Apple memory from `sysctl`.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::host::Host;
use crate::profile::{Accelerator, AcceleratorKind, DEFAULT_PORT, Profile, ServiceKind};
use crate::size::{ByteSize, human};

const NVIDIA_SMI_TIMEOUT: Duration = Duration::from_secs(3);
/// cgroup v1 reports "no limit" as a huge number near i64::MAX.
const CGROUP_NO_LIMIT: u64 = 1 << 60;

pub fn detect(host: &dyn Host) -> Result<Profile> {
    match host.os() {
        "linux" => detect_linux(host),
        "macos" => detect_macos(host),
        other => Err(Error::usage(format!("`--profile auto` cannot detect hardware on {other}"))
            .with_hint("pass a bundled profile (`clawlocal profiles list`) or a JSON5 profile file")),
    }
}

fn detect_linux(host: &dyn Host) -> Result<Profile> {
    let meminfo = host
        .read_to_string(Path::new("/proc/meminfo"))
        .map_err(|e| Error::usage(format!("cannot read /proc/meminfo: {e}")))?;
    let total = meminfo_kib(&meminfo, "MemTotal").map(|k| k * 1024).ok_or_else(|| {
        Error::usage("/proc/meminfo has no MemTotal line")
            .with_hint("pass a profile explicitly, e.g. --profile vps-8gb")
    })?;
    let available = meminfo_kib(&meminfo, "MemAvailable").map_or(total, |k| k * 1024);
    let cgroup = cgroup_memory(host);
    let (memory, memory_available) = match cgroup {
        Some((limit, usage)) if limit < total => (limit, available.min(limit.saturating_sub(usage))),
        _ => (total, available),
    };
    let cores = physical_cores(host).max(1);
    let accelerator = nvidia(host);
    let service = if host.read_dir_names(Path::new("/run/systemd/system")).is_ok() {
        ServiceKind::Systemd
    } else {
        ServiceKind::None
    };
    let mut notes = vec![format!("{} RAM", human(memory))];
    if cgroup.is_some_and(|(limit, _)| limit < total) {
        notes.push(format!("cgroup limit; host has {}", human(total)));
    }
    notes.push(format!("{cores} cores"));
    notes.push(accelerator.as_ref().and_then(|a| a.name.clone()).unwrap_or_else(|| "no GPU".into()));
    Ok(Profile {
        name: "auto".into(),
        description: format!("detected: {}", notes.join(", ")),
        memory: ByteSize(memory),
        memory_available: Some(ByteSize(memory_available)),
        reserve: None,
        cores,
        memory_bandwidth_gbps: None,
        compute_gflops: None,
        accelerator,
        disk: ByteSize(free_disk(host)),
        service,
        port: DEFAULT_PORT,
    })
}

fn detect_macos(host: &dyn Host) -> Result<Profile> {
    let sysctl = |key: &str| {
        host.run("sysctl", &["-n", key], NVIDIA_SMI_TIMEOUT)
            .filter(|o| o.status == 0)
            .and_then(|o| o.stdout.trim().parse::<u64>().ok())
    };
    let memory = sysctl("hw.memsize").ok_or_else(|| Error::usage("`sysctl -n hw.memsize` gave no memory size"))?;
    let cores = sysctl("hw.physicalcpu").unwrap_or(1) as u32;
    let apple_silicon = matches!(host.arch(), "aarch64" | "arm64");
    let accelerator = apple_silicon.then(|| Accelerator {
        kind: AcceleratorKind::Metal,
        name: Some("Apple silicon (Metal)".into()),
        memory: None,
        memory_available: None,
        reserve: None,
        usable_fraction: None,
        memory_bandwidth_gbps: None,
        compute_gflops: None,
    });
    Ok(Profile {
        name: "auto".into(),
        description: format!(
            "detected: {} unified memory, {cores} cores, {}",
            human(memory),
            if apple_silicon { "Apple silicon" } else { "Intel Mac, CPU only" }
        ),
        memory: ByteSize(memory),
        memory_available: None,
        reserve: None,
        cores: cores.max(1),
        memory_bandwidth_gbps: None,
        compute_gflops: None,
        accelerator,
        disk: ByteSize(free_disk(host)),
        service: ServiceKind::Launchd,
        port: DEFAULT_PORT,
    })
}

fn meminfo_kib(meminfo: &str, key: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// (limit, usage) of this process's memory cgroup, v2 or v1; `None` when unlimited or unreadable.
fn cgroup_memory(host: &dyn Host) -> Option<(u64, u64)> {
    let read_u64 = |p: &str| host.read_to_string(Path::new(p)).ok()?.trim().parse::<u64>().ok();
    let membership = host.read_to_string(Path::new("/proc/self/cgroup")).unwrap_or_default();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let path = path.trim_end_matches('/');
        let (limit, usage) = if controllers.is_empty() {
            // v2: the limit may sit on this cgroup or on an ancestor; take the tightest.
            let mut best: Option<u64> = None;
            let mut dir = path.to_string();
            loop {
                if let Some(l) = read_u64(&format!("/sys/fs/cgroup{dir}/memory.max")) {
                    best = Some(best.map_or(l, |b| b.min(l)));
                }
                match dir.rfind('/') {
                    Some(i) => dir.truncate(i),
                    None => break,
                }
                if dir.is_empty() {
                    if let Some(l) = read_u64("/sys/fs/cgroup/memory.max") {
                        best = Some(best.map_or(l, |b| b.min(l)));
                    }
                    break;
                }
            }
            (best, read_u64(&format!("/sys/fs/cgroup{path}/memory.current")))
        } else if controllers.split(',').any(|c| c == "memory") {
            (
                read_u64(&format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"))
                    .or_else(|| read_u64("/sys/fs/cgroup/memory/memory.limit_in_bytes")),
                read_u64(&format!("/sys/fs/cgroup/memory{path}/memory.usage_in_bytes")),
            )
        } else {
            continue;
        };
        if let Some(limit) = limit.filter(|l| *l < CGROUP_NO_LIMIT) {
            return Some((limit, usage.unwrap_or(0)));
        }
    }
    None
}

/// Distinct (physical id, core id) pairs in /proc/cpuinfo, else processor count; capped by a cgroup quota.
fn physical_cores(host: &dyn Host) -> u32 {
    let cpuinfo = host.read_to_string(Path::new("/proc/cpuinfo")).unwrap_or_default();
    let mut pairs = std::collections::BTreeSet::new();
    let mut processors = 0u32;
    let (mut physical, mut core) = (None::<String>, None::<String>);
    for line in cpuinfo.lines().chain(std::iter::once("")) {
        let (key, value) = line.split_once(':').map_or((line.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        match key {
            "processor" => processors += 1,
            "physical id" => physical = Some(value.to_string()),
            "core id" => core = Some(value.to_string()),
            "" => {
                if let Some(c) = core.take() {
                    pairs.insert((physical.take().unwrap_or_default(), c));
                }
            }
            _ => {}
        }
    }
    let mut cores = if pairs.is_empty() { processors } else { pairs.len() as u32 };
    if cores == 0 {
        cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
    }
    if let Some(quota) = cgroup_cpu_quota(host) {
        cores = cores.min(quota);
    }
    cores
}

/// `cpu.max` "QUOTA PERIOD" (v2) or cfs_quota/cfs_period (v1), rounded up to whole cores.
fn cgroup_cpu_quota(host: &dyn Host) -> Option<u32> {
    let read = |p: &str| host.read_to_string(Path::new(p)).ok();
    let (quota, period) = if let Some(text) = read("/sys/fs/cgroup/cpu.max") {
        let mut it = text.split_whitespace();
        (it.next()?.parse::<f64>().ok()?, it.next()?.parse::<f64>().ok()?)
    } else {
        let q = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")?.trim().parse::<f64>().ok()?;
        let p = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")?.trim().parse::<f64>().ok()?;
        (q, p)
    };
    (quota > 0.0 && period > 0.0).then(|| (quota / period).ceil().max(1.0) as u32)
}

/// The NVIDIA card with the most memory, if `nvidia-smi` answers.
pub fn nvidia(host: &dyn Host) -> Option<Accelerator> {
    let out = host.run(
        "nvidia-smi",
        &["--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
        NVIDIA_SMI_TIMEOUT,
    )?;
    if out.status != 0 {
        return None;
    }
    out.stdout
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [name, total, free] = fields.as_slice() else {
                return None;
            };
            Some((name.to_string(), total.parse::<u64>().ok()? << 20, free.parse::<u64>().ok()? << 20))
        })
        .max_by_key(|(_, total, _)| *total)
        .map(|(name, total, free)| Accelerator {
            kind: AcceleratorKind::Cuda,
            name: Some(name),
            memory: Some(ByteSize(total)),
            memory_available: Some(ByteSize(free)),
            reserve: None,
            usable_fraction: None,
            memory_bandwidth_gbps: None,
            compute_gflops: None,
        })
}

/// Free bytes where models will go (the home directory's file system), from POSIX `df -Pk`.
fn free_disk(host: &dyn Host) -> u64 {
    let dir = host.home().unwrap_or_else(|| "/".into());
    host.run("df", &["-Pk", &dir.to_string_lossy()], NVIDIA_SMI_TIMEOUT)
        .filter(|o| o.status == 0)
        .and_then(|o| o.stdout.lines().nth(1)?.split_whitespace().nth(3)?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;
    use crate::size::GIB;

    const MEMINFO: &str = "MemTotal:       32768000 kB\nMemFree:         1000000 kB\nMemAvailable:   30000000 kB\n";
    const CPUINFO: &str = "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\nprocessor\t: 1\nphysical id\t: 0\ncore id\t\t: 0\n\n\
                           processor\t: 2\nphysical id\t: 0\ncore id\t\t: 1\n\nprocessor\t: 3\nphysical id\t: 0\ncore id\t\t: 1\n";

    fn base() -> FakeHost {
        FakeHost::linux()
            .with_env("HOME", "/home/u")
            .with_file("/proc/meminfo", MEMINFO)
            .with_file("/proc/cpuinfo", CPUINFO)
            .with_command(
                "df -Pk /home/u",
                "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 50 52428800 50% /\n",
            )
    }

    #[test]
    fn plain_host() {
        let p = detect(&base()).unwrap();
        assert_eq!(p.memory.bytes(), 32_768_000 * 1024);
        assert_eq!(p.memory_available.unwrap().bytes(), 30_000_000 * 1024);
        assert_eq!(p.cores, 2, "hyperthreads are not cores");
        assert_eq!(p.disk.bytes(), 50 * GIB);
        assert!(p.accelerator.is_none());
        assert_eq!(p.service, ServiceKind::None, "no /run/systemd/system");
    }

    #[test]
    fn cgroup_v2_limit_wins_over_meminfo() {
        let host = base()
            .with_file("/proc/self/cgroup", "0::/user.slice/box\n")
            .with_file("/sys/fs/cgroup/user.slice/box/memory.max", "max\n")
            .with_file("/sys/fs/cgroup/user.slice/memory.max", &format!("{}\n", 6 * GIB))
            .with_file("/sys/fs/cgroup/user.slice/box/memory.current", &format!("{}\n", GIB))
            .with_file("/sys/fs/cgroup/cpu.max", "150000 100000\n");
        let p = detect(&host).unwrap();
        assert_eq!(p.memory.bytes(), 6 * GIB);
        assert_eq!(p.memory_available.unwrap().bytes(), 5 * GIB);
        assert!(p.description.contains("cgroup limit"), "{}", p.description);
        assert_eq!(p.cores, 2, "a 1.5-core quota rounds up to 2, and the host has 2");
        assert_eq!(p.budget().bytes, 4 * GIB, "min(available 5 GiB, memory 6 GiB − reserve 2 GiB)");
    }

    #[test]
    fn cgroup_v1_limit() {
        let host = base()
            .with_file("/proc/self/cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n")
            .with_file("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", &format!("{}", 4 * GIB))
            .with_file("/sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "0");
        assert_eq!(detect(&host).unwrap().memory.bytes(), 4 * GIB);
        let unlimited = base()
            .with_file("/proc/self/cgroup", "4:memory:/\n")
            .with_file("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712");
        assert_eq!(detect(&unlimited).unwrap().memory.bytes(), 32_768_000 * 1024);
    }

    #[test]
    fn largest_nvidia_card_is_taken_not_the_sum() {
        let host = base().with_command(
            "nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits",
            "NVIDIA GeForce RTX 3060, 12288, 11000\nNVIDIA GeForce RTX 4090, 24564, 23000\n",
        );
        let acc = detect(&host).unwrap().accelerator.unwrap();
        assert_eq!(acc.name.as_deref(), Some("NVIDIA GeForce RTX 4090"));
        assert_eq!(acc.memory.unwrap().bytes(), 24564 << 20);
        assert_eq!(acc.memory_available.unwrap().bytes(), 23000 << 20);
    }

    #[test]
    fn apple_silicon() {
        let mut host = FakeHost::default()
            .with_command("sysctl -n hw.memsize", "17179869184\n")
            .with_command("sysctl -n hw.physicalcpu", "8\n");
        host.os = "macos".into();
        host.arch = "aarch64".into();
        let p = detect(&host).unwrap();
        assert_eq!(p.memory.bytes(), 16 * GIB);
        assert_eq!(p.accelerator.unwrap().kind, AcceleratorKind::Metal);
        assert_eq!(p.service, ServiceKind::Launchd);
    }
}
