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
