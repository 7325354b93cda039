//! Checks that read this machine only: the receipt, host hardware against the profile, the engine binary, the
//! model file, the bind address and the key file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::{Outcome, Probe, Repair};
use crate::profile::AcceleratorKind;
use crate::size::{GIB, MIB, human};

pub fn receipt(p: &mut Probe) -> Outcome {
    let path = p.layout.receipt_file();
    p.lock = crate::lockfile::LockFile::load(&p.layout.lock_file()).map_err(|e| e.message);
    match crate::receipt::Install::load(&path) {
        Ok(Some(crate::receipt::Install::Backend(b))) => super::backend::receipt(p, b, &path),
        Ok(Some(crate::receipt::Install::Engine(r))) => {
            let r = *r;
            let detail = format!(
                "{}: profile {}, model {} ({}), service {}, port {}",
                path.display(),
                r.profile,
                r.model.id,
                r.model.spec,
                r.service.as_str(),
                r.port
            );
            let complete = r.complete;
            p.receipt = Some(r);
            if complete {
                Outcome::pass(detail)
            } else {
                Outcome::warn(format!("{detail}; the last init stopped before it finished"))
                    .with_fix(p.clawlocal("init (with the same options again)"))
            }
        }
        Ok(None) => Outcome::fail(
            format!("nothing installed: no receipt at {}", path.display()),
            format!("{} (or pass the --scope init used)", p.clawlocal("init --profile auto")),
        ),
        Err(e) => Outcome::fail(e.message, e.hint.unwrap_or_else(|| p.clawlocal("init --profile auto"))),
    }
}

pub fn memory(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    let host = match p.this_host() {
        Ok(h) => h.clone(),
        Err(e) => return Outcome::warn(format!("cannot read this host's memory: {e}")),
    };
    let planned = &r.hardware;
    // What init measured the engine take beats the estimate; it lives in RAM only where the model does.
    let measured = r.measured.as_ref().filter(|_| planned.model_in_ram());
    // Receipts from before `growth_bytes` had only the prompt cache's cap.
    let growth = r.model.growth_bytes.max(r.server.cache_ram_mib * crate::size::MIB);
    let need = match measured {
        Some(m) => m.peak_bytes + growth,
        None if r.model.estimate_bytes > 0 => r.model.estimate_bytes,
        None => r.model.size,
    };
    // Only `nvidia-smi` reports VRAM here; a Vulkan card's is not read, so its plan is checked against RAM.
    let cuda = planned.accelerator.as_ref().is_some_and(|a| a.kind == AcceleratorKind::Cuda);
    let (have, what) = match (cuda, host.accelerator.as_ref().and_then(|a| a.memory)) {
        (true, Some(vram)) => (vram.bytes(), "VRAM"),
        // No card: host.accelerator says so; the model then runs from RAM.
        _ => (host.memory.bytes(), "memory"),
    };
    let fix = p.clawlocal("init --profile auto");
    let mut detail = match measured {
        Some(m) => format!(
            "the engine took {} once loaded (measured by init at the {} start) + up to {} of prompt cache and \
             checkpoints: ~{}; \
             this host has {} {what}",
            human(m.peak_bytes),
            if m.during == "trial" { "trial run's" } else { "service's" },
            human(growth),
            human(need),
            human(have)
        ),
        None => format!(
            "the model needs ~{} (weights + KV cache + overhead); this host has {} {what}",
            human(need),
            human(have)
        ),
    };
    if let Some(avail) = host.memory_available.filter(|_| what == "memory") {
        detail.push_str(&format!(" ({} available)", human(avail.bytes())));
    }
    if planned.memory.bytes() > host.memory.bytes() + host.memory.bytes() / 20 {
        detail.push_str(&format!("; profile {} assumes {}", r.profile, human(planned.memory.bytes())));
    }
    if need > have {
        return Outcome::fail(
            format!("{detail}: the model is too big for this host and will be killed or swap"),
            format!("{fix} (picks a model and context that fit)"),
        );
    }
    let reserve = if what == "memory" { host.reserve_bytes() } else { GIB.max(have / 10) };
    if need > have.saturating_sub(reserve) {
        return Outcome::warn(format!(
            "{detail}: that leaves less than {} for the system and the OpenClaw gateway",
            human(reserve)
        ))
        .with_fix(fix);
    }
    Outcome::pass(detail)
}

pub fn cpu(p: &mut Probe) -> Outcome {
    let threads = p.r().server.threads;
    let cores = match p.this_host() {
        Ok(h) => h.cores,
        Err(e) => return Outcome::warn(format!("cannot count this host's cores: {e}")),
    };
    if threads > cores {
        return Outcome::warn(format!(
            "llama-server runs {threads} threads on {cores} cores: the threads compete and generation slows down"
        ))
        .with_fix(p.clawlocal("init --profile auto"));
    }
    Outcome::pass(format!("{threads} threads on {cores} cores"))
}

pub fn accelerator(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    let host = match p.this_host() {
        Ok(h) => h.clone(),
        Err(e) => return Outcome::warn(format!("cannot detect this host's accelerator: {e}")),
    };
    let fix = p.clawlocal("init --profile auto");
    match (r.hardware.accelerator.as_ref().map(|a| a.kind), &host.accelerator) {
        (Some(AcceleratorKind::Cuda), None) => Outcome::fail(
            format!("profile {} plans for an NVIDIA GPU, but `nvidia-smi` finds none on this host", r.profile),
            format!("install the NVIDIA driver so `nvidia-smi` lists the card, or plan for the CPU: {fix}"),
        ),
        (Some(AcceleratorKind::Vulkan), _) => match crate::engine::vulkan_gpu(p.host) {
            Some(gpu) => Outcome::pass(format!("{gpu} (Vulkan), as planned")),
            None => Outcome::fail(
                format!("profile {} plans for a Vulkan GPU, but `vulkaninfo --summary` lists none", r.profile),
                format!(
                    "install the GPU's Vulkan driver (mesa-vulkan-drivers) and vulkan-tools, or plan for the CPU: {fix}"
                ),
            ),
        },
        (Some(AcceleratorKind::Metal), _) if p.host.os() != "macos" || p.host.arch() != "aarch64" => Outcome::fail(
            format!("profile {} plans for Apple silicon, but this is {} {}", r.profile, p.host.os(), p.host.arch()),
            fix,
        ),
        (None, Some(gpu)) => Outcome::warn(format!(
            "this host has {} but profile {} runs on the CPU only",
            gpu.name.clone().unwrap_or_else(|| "an NVIDIA GPU".into()),
            r.profile
        ))
        .with_fix(fix),
        (None, None) => Outcome::pass("CPU only, as planned"),
        (Some(_), _) => Outcome::pass(format!("{}, as planned", host.summary())),
    }
}

pub fn disk(p: &mut Probe) -> Outcome {
    let mut lines = Vec::new();
    let mut worst = u64::MAX;
    for (what, dir) in [("model cache", &p.layout.hub_cache), ("state", &p.layout.state_dir)] {
        let Some(existing) = dir.ancestors().find(|a| a.exists()) else { continue };
        match crate::fsutil::free_space(existing) {
            Ok(free) => {
                worst = worst.min(free);
                lines.push(format!("{} free for the {what} ({})", human(free), dir.display()));
            }
            Err(e) => lines.push(e.message),
        }
    }
    let detail = lines.join("; ");
    if worst < 64 * MIB {
        return Outcome::fail(
            format!("{detail}: too little to update a model or write logs"),
            "free some space, or point HF_HUB_CACHE at a bigger disk",
        );
    }
    if worst < GIB {
        return Outcome::warn(format!("{detail}: less than 1 GiB left")).with_fix("free some space");
    }
    Outcome::pass(detail)
}

pub fn engine_binary(p: &mut Probe) -> Outcome {
    let path = p.layout.on_host(&p.r().engine.path);
    let fix = format!(
        "install llama-server again at {} (`clawlocal engine install` for the pinned release), then `{}`",
        path.display(),
        p.clawlocal("init")
    );
    match std::fs::metadata(&path) {
        Err(e) => Outcome::fail(format!("{}: {e}", path.display()), fix),
        Ok(m) if !m.is_file() => Outcome::fail(format!("{} is not a file", path.display()), fix),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            Outcome::fail(format!("{} is not executable", path.display()), format!("chmod +x {}", path.display()))
        }
        Ok(_) => Outcome::pass(format!("{} (found via {})", path.display(), p.r().engine.source)),
    }
}

pub fn engine_version(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    let engine = match crate::engine::probe(p.host, &p.layout.on_host(&r.engine.path), r.engine.source) {
        Ok(e) => e,
        Err(e) => {
            return Outcome::fail(e.message, e.hint.unwrap_or_else(|| "`clawlocal engine install`".into()));
        }
    };
    let version = engine.version.clone();
    p.engine = Some(engine);
    if !version.is_supported() {
        return Outcome::fail(
            format!("llama.cpp {version} is older than build b{}", crate::engine::MIN_BUILD),
            format!("`clawlocal engine install`, then `{}`", p.clawlocal("init")),
        );
    }
    if version != r.engine.version {
        return Outcome::warn(format!(
            "llama.cpp {version}; init set it up with {}: its arguments were chosen for that build",
            r.engine.version
        ))
        .with_fix(p.clawlocal("init"));
    }
    Outcome::pass(format!("llama.cpp {version}"))
}

pub fn engine_flags(p: &mut Probe) -> Outcome {
    let args = p.r().serve.args.clone();
    let Some(engine) = &p.engine else { return Outcome::skip("the engine was not probed") };
    match engine.check(&args) {
        Ok(()) => Outcome::pass(format!(
            "--help lists all {} flags the service passes",
            args.iter().filter(|a| a.starts_with("--")).count()
        )),
        Err(e) => Outcome::fail(e.message, format!("{} (it picks the flags this build takes)", p.clawlocal("init"))),
    }
}

/// A GPU profile needs a build with that backend, or the model runs on the CPU: the devices the engine lists.
pub fn engine_backend(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    let wanted = match r.hardware.accelerator.as_ref().map(|a| a.kind) {
        Some(kind) => kind.backend(),
        None => return Outcome::pass(format!("profile {} runs on the CPU: any build serves it", r.profile)),
    };
    let engine = p.layout.on_host(&r.engine.path);
    let Some(devices) = crate::engine::devices(p.host, &engine) else {
        return Outcome::warn(format!("{} cannot list its devices (`--list-devices`)", engine.display()))
            .with_fix(format!("`clawlocal engine install --backend {wanted}`, then `{}`", p.clawlocal("init")));
    };
    let Some((_, device)) = devices.iter().find(|(b, _)| *b == wanted) else {
        let listed = if devices.is_empty() {
            "none: a CPU-only build".to_string()
        } else {
            devices.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("; ")
        };
        return Outcome::fail(
            format!(
                "profile {} is for a {wanted} GPU, but {} lists no {wanted} device ({listed}): the model would run \
                 on the CPU",
                r.profile,
                engine.display()
            ),
            format!(
                "`clawlocal engine install --backend {wanted}` (or `clawlocal engine build --backend {wanted}`), \
                 then `{}`",
                p.clawlocal("init")
            ),
        );
    };
    // The device is there; whether `--fit` put the model on it only the engine's own log says.
    match engine_log(p).as_deref().and_then(crate::engine::placement) {
        Some(placed) if placed.offloaded == 0 => Outcome::fail(
            format!(
                "{device} is listed, but the engine's log shows {placed}: `--fit` left the whole model on the CPU \
                 (the GPU's free memory could not hold a layer)"
            ),
            format!(
                "free the GPU (`nvidia-smi` names what holds its memory), or a smaller model or context: `{}`",
                p.clawlocal("init --profile auto")
            ),
        ),
        Some(placed) => Outcome::pass(format!("{device}: {placed} (profile {})", r.profile)),
        None => {
            Outcome::pass(format!("{device} (profile {}); no engine log to read the layer placement from", r.profile))
        }
    }
}

/// The engine's log as its service manager keeps it: the journal for systemd, the log file for launchd,
/// `compose logs`; none for a server run by hand (`clawlocal serve` logs to its terminal).
fn engine_log(p: &Probe) -> Option<String> {
    use crate::profile::ServiceKind;
    let r = p.r();
    let run = |program: &str, args: &[&str]| {
        p.host.run(program, args, std::time::Duration::from_secs(15)).filter(|o| o.status == 0).map(|o| o.stdout)
    };
    match r.service {
        ServiceKind::Systemd => {
            let unit_flag = if r.scope == crate::layout::Scope::User { "--user-unit" } else { "--unit" };
            run("journalctl", &[unit_flag, crate::layout::UNIT_NAME, "-n", "2000", "-o", "cat", "--no-pager"])
        }
        ServiceKind::Launchd => p.host.read_to_string(&p.layout.log_dir.join("llm.log")).ok(),
        ServiceKind::Compose => {
            let words = p.layout.compose_command(&["logs", "--no-color", "--tail", "2000"]);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            run(words[0], &words[1..])
        }
        ServiceKind::None => None,
    }
}

/// The locked size and sha256 of the receipt's model file, when the lock has it.
fn locked(p: &Probe) -> Option<(u64, String)> {
    let r = p.r();
    let lock = p.lock.as_ref().ok()?;
    lock.models
        .iter()
        .filter(|m| m.commit == r.model.commit && m.repo == r.model.repo)
        .flat_map(|m| &m.files)
        .find(|f| f.name == r.model.file)
        .map(|f| (f.size, f.sha256.clone()))
}

fn redownload_fix(p: &Probe) -> String {
    format!("`clawlocal doctor --fix` (deletes the damaged copy and downloads {} again)", p.r().model.spec)
}

pub fn model_file(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    let path = &p.layout.on_host(&r.model.path);
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => {
            return Outcome::fail(format!("{}: {e}", path.display()), redownload_fix(p))
                .with_repair(Repair::Redownload);
        }
    };
    let (want, from) = match (locked(p), &p.lock) {
        (Some((size, _)), _) => (size, "the lock"),
        (None, Err(e)) => return Outcome::warn(format!("{} bytes; the lock is unreadable: {e}", len)),
        (None, Ok(_)) => (r.model.size, "the receipt"),
    };
    if len != want {
        return Outcome::fail(
            format!("{} is {len} bytes; {from} says {want} (truncated or replaced)", path.display()),
            redownload_fix(p),
        )
        .with_repair(Repair::Redownload);
    }
    Outcome::pass(format!("{} ({}), {len} bytes as in {from}", path.display(), human(len)))
}

pub fn model_gguf(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    match crate::gguf::read_file(&p.layout.on_host(&r.model.path)) {
        Ok(h) => {
            let trained = h.context_length().unwrap_or(0);
            let detail = format!(
                "GGUF v{}, {} {}, {} tensors, trained context {trained}",
                h.version,
                h.architecture().unwrap_or("?"),
                h.file_type().unwrap_or("?"),
                h.tensors.len()
            );
            if trained > 0 && trained < u64::from(r.model.context) {
                return Outcome::fail(
                    format!(
                        "{detail}: the receipt's context {} is more than the model was trained for",
                        r.model.context
                    ),
                    p.clawlocal(&format!("init --context {trained} (or pick a model with a longer context)")),
                );
            }
            Outcome::pass(detail)
        }
        Err(e) => Outcome::fail(e.message, redownload_fix(p)).with_repair(Repair::Redownload),
    }
}

pub fn model_sha256(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    if !p.opts.deep {
        return Outcome::skip(format!(
            "`clawlocal doctor --deep` re-hashes {} ({})",
            r.model.file,
            human(r.model.size)
        ));
    }
    let want = locked(p).map_or(r.model.sha256.clone(), |(_, sha)| sha);
    match crate::hub::download::sha256_file(&p.layout.on_host(&r.model.path)) {
        Ok(sha) if sha == want => Outcome::pass(format!("sha256 {sha}")),
        Ok(sha) => Outcome::fail(
            format!("{} hashes to {sha}, not the locked {want}: the file is damaged", r.model.path.display()),
            redownload_fix(p),
        )
        .with_repair(Repair::Redownload),
        Err(e) => Outcome::fail(e.message, redownload_fix(p)).with_repair(Repair::Redownload),
    }
}

/// Loopback addresses as `/proc/net/tcp{,6}` writes them (hex, in host byte order per 32-bit word).
fn loopback_hex(addr: &str) -> bool {
    match addr.len() {
        8 => addr.ends_with("7F"),
        32 => {
            addr == "00000000000000000000000001000000"
                || (addr.starts_with("0000000000000000FFFF0000") && addr.ends_with("7F"))
        }
        _ => false,
    }
}

/// The local addresses listening on `port`, from `/proc/net/tcp` and `tcp6` (Linux).
pub(super) fn listeners(p: &Probe, port: u16) -> Option<Vec<(String, bool)>> {
    let mut found = Vec::new();
    let mut readable = false;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = p.host.read_to_string(Path::new(file)) else { continue };
        readable = true;
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (cols.get(1), cols.get(3)) else { continue };
            let Some((addr, port_hex)) = local.split_once(':') else { continue };
            if *state == "0A" && u16::from_str_radix(port_hex, 16).ok() == Some(port) {
                found.push((addr.to_string(), loopback_hex(addr)));
            }
        }
    }
    readable.then_some(found)
}

pub fn bind(p: &mut Probe) -> Outcome {
    let r = p.r().clone();
    let args = &r.serve.args;
    let host_arg = args.iter().position(|a| a == "--host").and_then(|i| args.get(i + 1)).cloned();
    let fix = format!("{} (it binds 127.0.0.1)", p.clawlocal("init"));
    match host_arg.as_deref() {
        Some("127.0.0.1" | "::1" | "localhost") => {}
        Some(other) => {
            return Outcome::fail(
                format!("the engine is started with --host {other}: reachable from the network"),
                fix,
            );
        }
        None => return Outcome::fail("the engine's arguments have no --host: llama-server's default may change", fix),
    }
    match listeners(p, r.port) {
        None => Outcome::pass(format!("--host {}", host_arg.unwrap_or_default())),
        Some(l) if l.iter().any(|(_, lo)| !lo) => {
            let addrs: Vec<&str> = l.iter().filter(|(_, lo)| !lo).map(|(a, _)| a.as_str()).collect();
            Outcome::fail(
                format!(
                    "port {} listens on a non-loopback address ({}): reachable from the network",
                    r.port,
                    addrs.join(", ")
                ),
                format!("stop whatever binds 0.0.0.0:{} and restart the engine: {}", r.port, p.restart_command()),
            )
        }
        Some(l) if l.is_empty() => {
            Outcome::pass(format!("--host {} (nothing listens on port {} now)", host_arg.unwrap_or_default(), r.port))
        }
        Some(_) => {
            Outcome::pass(format!("--host {}; port {} listens on loopback only", host_arg.unwrap_or_default(), r.port))
        }
    }
}

pub fn key_file(p: &mut Probe) -> Outcome {
    let path = p.layout.on_host(&p.r().api_key_file);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            return Outcome::fail(
                format!("{}: {e}", path.display()),
                format!("{} (creates a new key)", p.clawlocal("init")),
            );
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Outcome::fail(
            format!("{} has mode {mode:o}: other users can read the API key", path.display()),
            format!("chmod 600 {}", path.display()),
        )
        .with_repair(Repair::ChmodKey);
    }
    if p.key().is_none() {
        return Outcome::fail(
            format!("{} holds no key", path.display()),
            format!("rm {} && {}", path.display(), p.clawlocal("init")),
        );
    }
    let uid = p.host.uid();
    if meta.uid() != uid && meta.uid() != 0 {
        return Outcome::warn(format!(
            "{} (mode {mode:o}) belongs to uid {}, not you (uid {uid})",
            path.display(),
            meta.uid()
        ));
    }
    Outcome::pass(format!("{} mode {mode:o}", path.display()))
}

/// A `/proc/net/tcp` address (little-endian hex) as people write it: `00000000` → `0.0.0.0`; IPv6 stays hex.
pub(super) fn show_hex_addr(hex: &str) -> String {
    match u32::from_str_radix(hex, 16) {
        Ok(n) if hex.len() == 8 => std::net::Ipv4Addr::from(n.swap_bytes()).to_string(),
        _ if hex.bytes().all(|b| b == b'0') => "[::]".into(),
        _ => hex.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_are_shown_as_people_write_them() {
        assert_eq!(show_hex_addr("00000000"), "0.0.0.0");
        assert_eq!(show_hex_addr("0100007F"), "127.0.0.1");
        assert_eq!(show_hex_addr("00000000000000000000000000000000"), "[::]");
    }

    #[test]
    fn proc_net_addresses_are_judged_loopback_or_not() {
        assert!(loopback_hex("0100007F"), "127.0.0.1");
        assert!(loopback_hex("0500007F"), "127.0.0.5");
        assert!(!loopback_hex("00000000"), "0.0.0.0");
        assert!(!loopback_hex("0101A8C0"), "192.168.1.1");
        assert!(loopback_hex("00000000000000000000000001000000"), "::1");
        assert!(!loopback_hex("00000000000000000000000000000000"), "::");
        assert!(loopback_hex("0000000000000000FFFF00000100007F"), "::ffff:127.0.0.1");
    }
}
