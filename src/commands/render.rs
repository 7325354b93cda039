//! `clawlocal render --target T --profile P --out DIR`: the unit file for P's plan, written into DIR, without
//! downloading or installing anything. The model path is the Hub-cache entry `init` would create: the commit
//! comes from the catalog pin, else the lock, else the cache's ref.

use std::path::{Path, PathBuf};

use crate::documents::{RenderDocument, RenderedFile};

use super::plan::{Ask, decide};
use crate::change::Change;
use crate::cli::{GlobalArgs, RenderArgs, RenderTarget, ServiceTarget};
use crate::engine::{self, Features, install};
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::hub::{self, cache::RepoCache};
use crate::layout::{self, Layout};
use crate::lockfile::LockFile;
use crate::output::Printer;
use crate::render::{self, UnitSpec};
use crate::select::Selection;

pub fn run(args: &RenderArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let service = match args.target {
        RenderTarget::Systemd => ServiceTarget::Systemd,
        RenderTarget::Launchd => ServiceTarget::Launchd,
        RenderTarget::Compose => ServiceTarget::Compose,
        RenderTarget::Kubernetes | RenderTarget::CloudInit => return fleet(args, global, host, printer),
    };
    let ask = Ask { profile: &args.profile, choice: &args.choice, service: Some(service), port: args.port, role: None };
    let decision = decide(&ask, &layout, host, global, printer)?;
    let selection = decision.selection()?;
    let model = planned_model_path(selection, &layout, printer)?;
    let (engine_path, features) = engine_for_render(args.engine.as_deref(), host, &layout, printer);
    let server = engine::args::server_args(&decision.profile, selection, features);
    let key_file = layout.api_key_file();
    let repo_dir = layout.repo_cache(&selection.repo);
    let spec = UnitSpec {
        engine: &engine_path,
        server: &server,
        model: &model,
        repo_dir: &repo_dir,
        port: decision.options.port,
        api_key_file: &key_file,
        profile: &decision.profile,
        layout: &layout,
    };
    // The same choice of file as init makes for this service and scope (systemd: system or user unit).
    let rendered = render::for_service(decision.options.service, &spec)?.pop().expect("a unit for every target");
    let name = rendered.path.file_name().map(PathBuf::from).unwrap_or_else(|| "unit".into());
    let out = args.out.join(name);
    let status = match std::fs::read_to_string(&out) {
        Ok(old) if old == rendered.text => Change::Unchanged,
        Ok(_) => Change::Updated,
        Err(_) => Change::Created,
    };
    if status != Change::Unchanged {
        crate::fsutil::write_atomic_as(&out, rendered.text.as_bytes(), Some(0o644), None)?;
    }
    if printer.json {
        let file = RenderedFile { target: rendered.target, path: out, installs_to: rendered.path.clone(), status };
        let doc = RenderDocument { files: vec![file], engine: engine_path, model_path: model };
        printer.document(&crate::documents::value(&doc));
    } else {
        printer.data(&format!("{} {} (installs to {})", status.as_str(), out.display(), rendered.path.display()));
    }
    Ok(Exit::Success)
}

/// The snapshot entry `init` will create for the selection.
fn planned_model_path(s: &Selection, layout: &Layout, printer: &Printer) -> Result<PathBuf> {
    let revision = s.revision.clone().unwrap_or_else(|| "main".into());
    let commit = if hub::is_commit(&revision) {
        Some(revision.clone())
    } else {
        let lock = LockFile::load(&layout.lock_file())?;
        lock.find(&s.repo, &revision, &s.file)
            .map(|m| m.commit.clone())
            .or_else(|| RepoCache::new(&layout.hub_cache, &s.repo).read_ref(&revision))
    };
    let commit = commit.unwrap_or_else(|| {
        printer.warn(&format!(
            "{} at {revision} is not resolved to a commit yet: the unit names the snapshot folder `{revision}`; \
             `clawlocal init` writes the real one",
            s.repo
        ));
        revision
    });
    Ok(layout.repo_cache(&s.repo).join("snapshots").join(commit).join(&s.file))
}

/// `--engine` (probed when it runs here), else the engine `init` would find, else where `engine install` puts the
/// pinned release; without a probe the pinned release's flags are assumed.
fn engine_for_render(flag: Option<&Path>, host: &dyn Host, layout: &Layout, printer: &Printer) -> (PathBuf, Features) {
    let found = match flag {
        Some(p) => Some((p.to_path_buf(), engine::Source::Flag)),
        None => engine::find(host, None, layout).ok(),
    };
    let Some((path, source)) = found else {
        let path = install::pinned_binary(layout);
        printer.note(&format!("no llama-server here: the unit runs {} (`clawlocal engine install`)", path.display()));
        return (path, Features::PINNED);
    };
    match engine::probe(host, &path, source) {
        Ok(e) => (path, e.features),
        Err(_) => {
            printer.detail(&format!("{} cannot be run here; assuming the pinned release's flags", path.display()));
            (path, Features::PINNED)
        }
    }
}

/// `render --target kubernetes|cloud-init`: init's own decision (profile → selection → `ServerArgs`) and its lock
/// entry (from the lock, else the Hub's metadata: nothing is downloaded), written as the fleet's files.
fn fleet(args: &RenderArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    use crate::render::fleet;
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let ask = Ask {
        profile: &args.profile,
        choice: &args.choice,
        service: Some(ServiceTarget::None),
        port: args.port,
        role: None,
    };
    let decision = decide(&ask, &layout, host, global, printer)?;
    let selection = decision.selection()?;
    for w in &decision.outcome.warnings {
        printer.warn(w);
    }
    check_namespace(&args.namespace)?;
    // The model as init would fetch it: the lock's pin, else the Hub's answer now.
    let (want, pull_args, mut init_args) = match args.choice.model.as_deref().filter(|m| m.starts_with("hf:")) {
        Some(spec) => {
            (hub::pull::wanted(spec, None)?, vec![spec.to_string()], vec!["--model".into(), spec.to_string()])
        }
        None => (
            hub::pull::wanted(&selection.model, Some(&selection.quant))?,
            vec![selection.model.clone(), "--quant".into(), selection.quant.clone()],
            vec!["--model".into(), selection.model.clone(), "--quant".into(), selection.quant.clone()],
        ),
    };
    init_args.extend(["--context".into(), selection.context.to_string()]);
    let lock_path = layout.lock_file();
    let lock = LockFile::load(&lock_path)?;
    let client = hub::client::Client::new(hub::HubConfig::from_env(host, global.offline));
    let cache = RepoCache::new(&layout.hub_cache, &want.hub.repo);
    let resolution = hub::pull::resolve(&want, &lock, &lock_path, &cache, &client, false, printer)?;
    let locked = hub::pull::locked_entry(&want, &resolution);
    let fleet_lock = LockFile { models: vec![locked.clone()], ..LockFile::default() };
    let lock_text = fleet_lock.text();
    let release = release(args, global.offline)?;
    // The pinned image runs the pinned release: its flags.
    let server = engine::args::server_args(&decision.profile, selection, Features::PINNED);
    let kind = decision.profile.accelerator.as_ref().map(|a| a.kind);
    let pinned = match kind {
        Some(crate::profile::AcceleratorKind::Cuda) => render::IMAGE_CUDA,
        Some(crate::profile::AcceleratorKind::Vulkan) => render::IMAGE_VULKAN,
        _ => render::IMAGE_CPU,
    };
    let image = args.image.clone().or_else(|| layout.engine_image.clone()).unwrap_or_else(|| pinned.to_string());
    if args.target == RenderTarget::Kubernetes && !image.contains("@sha256:") {
        printer.warn(&format!(
            "the image {image} is pinned by tag only (no digest is known here): pin it with --image {}@sha256:<digest>",
            image.split(':').next().unwrap_or(&image)
        ));
    }
    let profile_file = profile_text(&args.profile)?;
    let render_gids: Vec<u32> = layout.gpu_groups.iter().map(|(_, gid)| *gid).collect();
    if args.target == RenderTarget::Kubernetes
        && kind == Some(crate::profile::AcceleratorKind::Vulkan)
        && render_gids.is_empty()
    {
        printer.warn(
            "no render group here to copy: add the nodes' `render` group id to the pod's securityContext.supplementalGroups, \
             or llama-server cannot open /dev/dri and serves from the CPU",
        );
    }
    let spec = fleet::FleetSpec {
        profile: &decision.profile,
        profile_arg: &args.profile,
        profile_file: profile_file.as_deref(),
        server: &server,
        locked: &locked,
        lock_text: &lock_text,
        pull_args: &pull_args,
        init_args: &init_args,
        port: decision.options.port,
        namespace: &args.namespace,
        image: &image,
        release: &release,
        // A pod runs without a prompt cache (`--cache-ram 0`): its memory is the estimate without that term.
        estimate_bytes: selection.estimate.before_growth(),
        download_bytes: selection.download_bytes.max(locked.files.iter().map(|f| f.size).sum()),
        context_window: selection.context,
        render_gids: &render_gids,
    };
    let mut files = match args.target {
        RenderTarget::Kubernetes => fleet::kubernetes(&spec)?,
        _ => fleet::cloud_init(&spec)?,
    };
    if args.target == RenderTarget::Kubernetes {
        files.push(gateway_patch(&spec, decision.options.role)?);
        files.push(fleet::FleetFile {
            path: ".gitignore".into(),
            text: "# The generated API key: never commit it.\nsecrets/\n".into(),
        });
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| crate::error::Error::io(format!("cannot create {}", args.out.display()), &e))?;
    let mut written = Vec::new();
    for f in &files {
        let out = args.out.join(&f.path);
        let status = match std::fs::read_to_string(&out) {
            Ok(old) if old == f.text => Change::Unchanged,
            Ok(_) => Change::Updated,
            Err(_) => Change::Created,
        };
        if status != Change::Unchanged {
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| crate::error::Error::io(format!("cannot create {}", dir.display()), &e))?;
            }
            crate::fsutil::write_atomic_as(&out, f.text.as_bytes(), Some(0o644), None)?;
        }
        written.push(crate::documents::FleetFileDoc { path: out, status, holds_key: false });
    }
    if args.target == RenderTarget::Kubernetes {
        // The Secret's one input, generated once and kept: never printed, never in a manifest, mode 0600.
        let key = args.out.join(fleet::KEY_FILE);
        let status = if key.is_file() {
            Change::Unchanged
        } else {
            std::fs::create_dir_all(key.parent().expect("secrets/"))
                .map_err(|e| crate::error::Error::io(format!("cannot create {}", key.display()), &e))?;
            crate::fsutil::write_atomic_as(
                &key,
                crate::install::generate_key()?.trim_end().as_bytes(),
                Some(0o600),
                None,
            )?;
            Change::Created
        };
        written.push(crate::documents::FleetFileDoc { path: key, status, holds_key: true });
    }
    if printer.json {
        let doc = crate::documents::FleetRenderDocument {
            target: if args.target == RenderTarget::Kubernetes { "kubernetes" } else { "cloud-init" }.into(),
            files: written,
            image: (args.target == RenderTarget::Kubernetes).then_some(image),
            repo: locked.repo.clone(),
            commit: locked.commit.clone(),
            sha256: locked.files.first().map(|f| f.sha256.clone()).unwrap_or_default(),
            release_url: release.url.clone(),
            release_sha256: release.sha256.clone(),
        };
        printer.document(&crate::documents::value(&doc));
    } else {
        for f in &written {
            printer.data(&format!("{} {}", f.status.as_str(), f.path.display()));
        }
        if args.target == RenderTarget::Kubernetes {
            printer.note(&format!("apply it with: kubectl apply -k {}", args.out.display()));
        }
    }
    Ok(Exit::Success)
}

/// A DNS-1123 label, as a namespace must be.
fn check_namespace(ns: &str) -> Result<()> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(crate::error::Error::usage(format!("--namespace {ns:?} is not a Kubernetes namespace name"))
            .with_hint("lowercase letters, digits and '-', at most 63, e.g. --namespace clawlocal"))
    }
}

/// The profile file's text when `--profile` names a file (cloud-init writes it onto every VM).
fn profile_text(profile: &str) -> Result<Option<String>> {
    let p = Path::new(profile);
    if crate::profile::bundled_names().contains(&profile) || profile == "auto" || !p.is_file() {
        return Ok(None);
    }
    std::fs::read_to_string(p)
        .map(Some)
        .map_err(|e| crate::error::Error::io(format!("cannot read the profile {}", p.display()), &e))
}

/// The release archive and its sha256: given, else read from `URL.sha256` now (and pinned in what is written).
fn release(args: &RenderArgs, offline: bool) -> Result<crate::render::fleet::Release> {
    use crate::error::Error;
    let url = args.release_url.clone().unwrap_or_else(|| {
        format!(
            "https://github.com/clawlocal/clawlocal/releases/download/v{}/clawlocal-x86_64-unknown-linux-gnu.tar.gz",
            env!("CARGO_PKG_VERSION")
        )
    });
    if let Some(sha) = &args.release_sha256 {
        install::check_sha256_arg(sha)
            .map_err(|_| Error::usage(format!("--release-sha256 {sha:?} is not 64 hex digits")))?;
        return Ok(crate::render::fleet::Release { url, sha256: sha.to_ascii_lowercase() });
    }
    let hint = "pass it: --release-sha256 <hex> (the archive's `sha256sum`)";
    if offline {
        return Err(Error::usage(format!("--offline, and the sha256 of {url} is not given")).with_hint(hint));
    }
    let sidecar = format!("{url}.sha256");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(&sidecar)
        .call()
        .map_err(|e| Error::failure(format!("cannot read {sidecar}: {e}")).with_hint(hint))?;
    if response.status() != 200 {
        return Err(Error::failure(format!("{sidecar}: HTTP {}", response.status().as_u16())).with_hint(hint));
    }
    let text = response.body_mut().read_to_string().map_err(|e| Error::failure(format!("{sidecar}: {e}")))?;
    let sha = text.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    install::check_sha256_arg(&sha)
        .map_err(|_| Error::failure(format!("{sidecar} holds no sha256")).with_hint(hint))?;
    Ok(crate::render::fleet::Release { url, sha256: sha })
}

/// The gateway's side: clawlocal's provider entry for the Service's DNS name, as the patcher writes it into an
/// empty openclaw.json (the key an env SecretRef the gateway fills from the Secret).
fn gateway_patch(
    spec: &crate::render::fleet::FleetSpec<'_>,
    role: crate::plan::Role,
) -> Result<crate::render::fleet::FleetFile> {
    use crate::render::fleet;
    let mut patch = crate::openclaw::local_spec(
        &spec.server.alias,
        &format!("{} (clawlocal on Kubernetes)", spec.server.alias),
        spec.context_window,
        spec.port,
        role,
        String::new(),
    );
    patch.base_url = fleet::service_url(spec.namespace, spec.port);
    patch.api_key_env = Some(fleet::KEY_ENV.into());
    // The fields of the newest OpenClaw clawlocal knows (the gateway's version is not known here), as `openclaw
    // patch` writes them when it cannot tell; a Service is a private host.
    patch.fields = crate::openclaw::version::fields_for(None);
    patch.fields.allow_private_network = true;
    let q = fleet::shell_quote;
    let head = format!(
        "// {} {} — the OpenClaw gateway's side. Merge it into the gateway's openclaw.json with\n\
         //   clawlocal openclaw patch --base-url {} --model-id {} --model-name {} --context-window {} --role {} --api-key-env {}\n\
         // and give the gateway's pod the label {}={} and the env {} from Secret {} (key api-key).\n",
        crate::render::MANAGED_MARK,
        env!("CARGO_PKG_VERSION"),
        q(&patch.base_url),
        q(&patch.model_id),
        q(&patch.model_name),
        patch.context_window,
        patch.role.as_str(),
        fleet::KEY_ENV,
        fleet::GATEWAY_LABEL.0,
        fleet::GATEWAY_LABEL.1,
        fleet::KEY_ENV,
        fleet::SECRET,
    );
    let patched = crate::openclaw::patch::patch(
        &format!("{head}{{}}\n"),
        "openclaw-gateway.json5",
        &patch,
        crate::openclaw::patch::Section::Whole,
    )?;
    Ok(fleet::FleetFile { path: "openclaw-gateway.json5".into(), text: patched.text })
}
