//! The survey: every fact [`super::plan`] reads, taken once before anything changes. Facts that can fail are kept
//! as results: a failure here is a blocker of the plan, not an early exit, so the dry run lists every one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Desired;
use crate::engine::{self, Engine};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::hub::cache::RepoCache;
use crate::hub::client::{Client, Resolution};
use crate::layout::Layout;
use crate::lockfile::LockFile;
use crate::openclaw::file::{self as openclaw_file, Prepared};
use crate::output::Printer;
use crate::ports::Holder;
use crate::profile::AcceleratorKind;
use crate::receipt::Receipt;
use crate::render::{self, Target};

/// What this host and its files are now, as far as init's plan depends on it.
#[derive(Debug)]
pub struct World {
    pub layout: Layout,
    pub uid: u32,
    /// The receipt of the install there is (finished or not).
    pub previous: Result<Option<Receipt>>,
    /// llama-server, found and probed.
    pub engine: Result<Engine>,
    /// No llama-server anywhere: the archive init's plan installs (or why it cannot).
    pub engine_install: Option<Result<crate::engine::install::Request>>,
    /// The model's commit and files (sizes, sha256): from the lock, the cache (offline) or the Hub's metadata.
    pub resolution: Result<Resolution>,
    pub lock: Result<LockFile>,
    /// Every model file is in the cache with its size (nothing to download).
    pub cached: bool,
    /// clawlocal downloaded (or is downloading) the model's first blob.
    pub blob_ours: bool,
    /// Free bytes where the Hub cache is (its nearest existing folder).
    pub free_disk: Option<u64>,
    /// The bytes of each file the plan may write, as they are now (`None`: absent).
    pub files: BTreeMap<PathBuf, Option<Vec<u8>>>,
    /// The key file's key, when there is one; an unusable one (others may read it) is an error.
    pub key: Result<Option<String>>,
    /// The key a new install writes (random; used only when there is no key file).
    pub fresh_key: String,
    /// openclaw.json with clawlocal's provider, prepared and judged by OpenClaw, not written.
    pub openclaw: Result<Prepared>,
    /// The target's service manager answers (only asked when the plan starts the service).
    pub manager: Option<std::result::Result<(), String>>,
    pub managers_here: Vec<&'static str>,
    /// Who holds the port now, and whether it is clawlocal's own engine (a re-run).
    pub port_holder: Option<(Holder, bool)>,
    pub port_free: Option<u16>,
    /// A system unit can see the engine and the Hub cache through its sandbox.
    pub visible: Result<()>,
    /// The GPU the profile needs is missing here (a message), when the plan runs on this host.
    pub gpu_missing: Option<String>,
}

impl World {
    /// The bytes of `path` when surveyed.
    pub fn bytes(&self, path: &Path) -> Option<&[u8]> {
        self.files.get(path).and_then(|b| b.as_deref())
    }

    /// The key the plan uses: the one there is, else the fresh one.
    pub fn key_text(&self) -> String {
        match &self.key {
            Ok(Some(key)) => key.clone(),
            _ => self.fresh_key.trim().to_string(),
        }
    }
}

/// Look at everything, change nothing (the Hub is asked for metadata only; OpenClaw judges a candidate file that
/// is removed again).
pub fn survey(d: &Desired, layout: &Layout, host: &dyn Host, printer: &Printer) -> Result<World> {
    let previous = Receipt::load(&layout.receipt_file());
    let engine =
        engine::find(host, d.engine.as_deref(), layout).and_then(|(path, source)| engine::probe(host, &path, source));
    let lock = LockFile::load(&layout.lock_file());
    let engine_install = engine_to_install(d, &engine, &lock, host);
    let cache = RepoCache::new(&layout.hub_cache, &d.want.hub.repo);
    let resolution = lock.as_ref().map_err(Clone::clone).and_then(|lock| {
        let client = Client::new(d.hub.clone());
        crate::hub::pull::resolve(&d.want, lock, &layout.lock_file(), &cache, &client, d.locked, printer)
    });
    let (cached, blob_ours) = match &resolution {
        Ok(r) => (
            r.files.iter().all(|f| cache.blob_len(&f.sha256) == Some(f.size)),
            cache.downloaded_by_clawlocal(&r.files[0].sha256),
        ),
        Err(_) => (false, false),
    };
    let key_file = layout.api_key_file();
    let key = if key_file.exists() { crate::openclaw::read_key(&key_file).map(Some) } else { Ok(None) };
    let fresh_key = if matches!(key, Ok(Some(_))) { String::new() } else { super::generate_key()? };

    let mut paths = vec![layout.lock_file(), key_file, layout.receipt_file()];
    paths.extend(unit_paths(d, layout));
    let files = paths.into_iter().map(|p| (p.clone(), std::fs::read(&p).ok())).collect();

    let target = render::target_for(d.options.service, layout.scope);
    let manager = target.filter(|_| d.start).map(|t| render::service::manager_usable(host, t, layout));
    let starts_here = layout.root.is_none() && (d.start || target.is_none());
    // Looked at only when the engine starts here: an image's port (`--root`) or `--no-start` is not this host's.
    let port_holder = starts_here.then(|| crate::ports::holder(host, d.options.port)).flatten().map(|holder| {
        let ours = engine.as_ref().is_ok_and(|e| holder.runs(&e.path) == Some(true))
            || previous.as_ref().ok().and_then(Option::as_ref).filter(|p| p.port == d.options.port).is_some_and(|p| {
                let key = crate::openclaw::read_key(&layout.on_host(&p.api_key_file)).ok();
                let ours = render::service::Ours { key, alias: p.server.alias.clone() };
                render::service::is_ours(d.options.port, &ours).is_ok()
            });
        (holder, ours)
    });
    let visible = match (target, &engine) {
        (Some(Target::SystemdSystem), Ok(e)) => render::visible_to_system_unit(layout, "the engine", &e.path)
            .and_then(|()| render::visible_to_system_unit(layout, "the Hugging Face cache", &layout.hub_cache)),
        _ => Ok(()),
    };
    let mut world = World {
        layout: layout.clone(),
        uid: host.uid(),
        previous,
        engine,
        engine_install,
        resolution,
        lock,
        cached,
        blob_ours,
        free_disk: existing_ancestor(&layout.hub_cache).and_then(|p| crate::fsutil::free_space(&p).ok()),
        files,
        key,
        fresh_key,
        openclaw: Err(Error::failure("not surveyed")),
        // Asked only when they would be named in a blocker: each costs a process or a /proc scan.
        managers_here: if matches!(manager, Some(Err(_))) {
            render::service::managers_here(host, layout)
        } else {
            Vec::new()
        },
        manager,
        port_free: if matches!(port_holder, Some((_, false))) {
            crate::ports::next_free(host, d.options.port)
        } else {
            None
        },
        port_holder,
        visible,
        gpu_missing: gpu_missing(d, layout, host),
    };
    world.openclaw = prepare_openclaw(d, &world, host);
    Ok(world)
}

/// Nothing named an engine and none was found: the archive to install (the lock's pin for this host's asset, else
/// the pinned release's), unless the user manages the engine (`--no-engine-install`).
fn engine_to_install(
    d: &Desired,
    engine: &Result<Engine>,
    lock: &Result<LockFile>,
    host: &dyn Host,
) -> Option<Result<crate::engine::install::Request>> {
    let named = d.engine.is_some() || host.env_nonempty("CLAWLOCAL_LLAMA_SERVER").is_some();
    if engine.is_ok() || named || !d.install_engine {
        return None;
    }
    if d.hub.offline {
        return Some(Err(Error::usage("offline, and there is no llama-server here to use or install").with_hint(
            "copy a llama-server onto this machine and pass --engine PATH, or run once without --offline",
        )));
    }
    // The build the profile runs on: its GPU's backend, and the CPU build for a CPU profile even on a GPU host (a
    // CUDA build needs a newer glibc and ten times the download for nothing). macOS has one build per arch.
    let for_profile = match d.profile.accelerator.as_ref() {
        Some(acc) => Some(acc.kind.backend()),
        None if host.os() == "macos" => None,
        None => Some(crate::engine::backend::Backend::Cpu),
    };
    let facts = crate::engine::host_facts(host, d.backend.or(for_profile));
    let api = host.env_nonempty("CLAWLOCAL_ENGINE_API");
    let api = api.as_deref().unwrap_or(crate::engine::install::DEFAULT_RELEASES_API).to_string();
    let published = |release: &str, asset: &str| crate::engine::install::published_digest(&api, release, asset);
    let mirror = d.engine_mirror.as_deref();
    let unpinned = |asset: &str| {
        Error::usage(format!(
            "--locked: clawlocal.lock pins no engine archive {asset}, and there is no llama-server here"
        ))
        .with_hint("run `clawlocal init` once without --locked to pin it, or pass --engine PATH")
    };
    // `--locked` asks the release host for nothing: an archive the lock does not pin is refused.
    let ask_nobody = |_: &str, asset: &str| -> Result<(String, u64)> { Err(unpinned(asset)) };
    let published: &crate::engine::install::Published = if d.locked { &ask_nobody } else { &published };
    Some(lock.as_ref().map_err(Clone::clone).and_then(|lock| {
        let req = crate::engine::install::Request::locked_or_pinned(lock, &facts, mirror, published)?;
        if d.locked && !req.pins().iter().all(|p| lock.engines.contains(p)) {
            return Err(unpinned(&req.asset));
        }
        Ok(req)
    }))
}

/// The unit files the service target writes.
pub fn unit_paths(d: &Desired, layout: &Layout) -> Vec<PathBuf> {
    match d.options.service {
        crate::profile::ServiceKind::Systemd => vec![layout.systemd_unit.clone()],
        crate::profile::ServiceKind::Launchd => vec![layout.launchd_plist.clone()],
        crate::profile::ServiceKind::Compose => vec![layout.compose_file.clone()],
        crate::profile::ServiceKind::None => Vec::new(),
    }
}

/// The edit of openclaw.json this install makes (with the key it will use), prepared and judged now.
fn prepare_openclaw(d: &Desired, w: &World, host: &dyn Host) -> Result<Prepared> {
    let s = &d.selection;
    let spec = crate::openclaw::local_spec(
        &s.model_id,
        &format!("{} (local)", s.name),
        s.context,
        d.options.port,
        d.options.role,
        w.key_text(),
    );
    openclaw_file::prepare(host, &w.layout.openclaw_config, spec, &crate::openclaw::records_path(&w.layout))
}

/// A profile that names a GPU, planned for this host (not an image), on a host without it.
fn gpu_missing(d: &Desired, layout: &Layout, host: &dyn Host) -> Option<String> {
    let kind = d.profile.accelerator.as_ref()?.kind;
    if layout.root.is_some() {
        return None;
    }
    match kind {
        AcceleratorKind::Cuda if crate::hardware::nvidia(host).is_none() => Some(format!(
            "profile {} is for a CUDA GPU, and this host has none (`nvidia-smi` does not answer)",
            d.profile.name
        )),
        AcceleratorKind::Vulkan if crate::engine::vulkan_gpu(host).is_none() => Some(format!(
            "profile {} is for a Vulkan GPU, and this host has none (`vulkaninfo --summary` lists no GPU)",
            d.profile.name
        )),
        AcceleratorKind::Metal if host.os() != "macos" => {
            Some(format!("profile {} is for Apple silicon (Metal), and this host is {}", d.profile.name, host.os()))
        }
        _ => None,
    }
}

fn existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors().find(|p| p.exists()).map(Path::to_path_buf)
}
