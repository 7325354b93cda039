//! `clawlocal engine show|install`: which llama-server clawlocal would use, and installing the pinned release.

use serde_json::json;

use crate::cli::{EngineCommand, GlobalArgs};
use crate::engine::{self, install};
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::layout;
use crate::output::Printer;

pub fn run(cmd: &EngineCommand, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    match cmd {
        EngineCommand::Show { engine } => {
            let (path, source) = engine::find(host, engine.as_deref(), &layout)?;
            let e = engine::probe(host, &path, source)?;
            if printer.json {
                printer.document(&json!({
                    "path": e.path, "source": e.source, "version": e.version, "features": e.features,
                    "supported": e.version.is_supported(),
                }));
            } else {
                printer.data(&format!("{} (from {})\nllama.cpp {}", e.path.display(), e.source, e.version));
            }
            if !e.version.is_supported() {
                return Err(e.check(&[]).unwrap_err());
            }
            Ok(Exit::Success)
        }
        EngineCommand::Install { release, sha256, mirror, backend, locked } => {
            if global.offline {
                return Err(Error::usage("engine install downloads a release archive; --offline forbids that")
                    .with_hint("copy a llama-server onto this machine and pass --engine PATH"));
            }
            let mirror =
                mirror.as_deref().or(host.env_nonempty("CLAWLOCAL_ENGINE_MIRROR").as_deref()).map(String::from);
            let facts = engine::host_facts(host, backend.map(Into::into));
            let lock_path = layout.lock_file();
            let mut lock = crate::lockfile::LockFile::load(&lock_path)?;
            let api = host.env_nonempty("CLAWLOCAL_ENGINE_API");
            let api = api.as_deref().unwrap_or(install::DEFAULT_RELEASES_API).to_string();
            let published = |release: &str, asset: &str| install::published_digest(&api, release, asset);
            let req = match release {
                Some(r) => {
                    install::Request::custom(r, sha256.as_deref(), &facts, mirror.as_deref(), &lock, &published)?
                }
                None => install::Request::locked_or_pinned(&lock, &facts, mirror.as_deref(), &published)?,
            };
            if *locked && !req.pins().iter().all(|p| lock.engines.contains(p)) {
                return Err(Error::usage(format!(
                    "--locked: {} pins no engine archive {}",
                    lock_path.display(),
                    req.asset
                ))
                .with_hint("run `clawlocal engine install` once without --locked to pin it"));
            }
            printer.note(&format!("downloading {}", req.url()));
            let check = |binary: &std::path::Path| install::check_unpacked(host, binary, &req, &[]);
            let done = install::install(&req, &layout.engine_dir, &check)?;
            let mut changed = false;
            for pin in req.pins().into_iter().filter(|_| !*locked) {
                changed |= lock.upsert_engine(pin, install::PINNED.release);
            }
            if changed {
                lock.save(&lock_path)?;
            }
            if printer.json {
                printer.document(&serde_json::to_value(&done).expect("serialises"));
            } else {
                printer.data(&format!(
                    "{} {} (llama.cpp {}, sha256 verified)",
                    done.status,
                    done.path.display(),
                    done.release
                ));
            }
            Ok(Exit::Success)
        }
        EngineCommand::Build { backend, release, source, sha256, jobs, portable, locked } => {
            let facts = engine::host_facts(host, backend.map(Into::into));
            let args = BuildArgs { release, source, sha256, jobs: *jobs, portable: *portable, locked: *locked };
            build(&args, &facts, global, host, &layout, printer)
        }
    }
}

struct BuildArgs<'a> {
    release: &'a Option<String>,
    source: &'a Option<String>,
    sha256: &'a Option<String>,
    jobs: Option<usize>,
    portable: bool,
    locked: bool,
}

/// `engine build`: the tools first, then the source (verified, or pinned on first use), cmake, the same check as
/// an archive, and the lock entry for the source archive.
fn build(
    args: &BuildArgs,
    facts: &crate::engine::backend::HostFacts,
    global: &GlobalArgs,
    host: &dyn Host,
    layout: &layout::Layout,
    printer: &Printer,
) -> Result<Exit> {
    use crate::engine::build::{self, BuildRequest, SourceSpec};
    let backend = crate::engine::backend::backend_for(&install::PINNED, facts);
    let release = args.release.clone().unwrap_or_else(|| install::PINNED.release.to_string());
    install::check_release_tag(&release)?;
    if let Some(s) = args.sha256.as_deref() {
        install::check_sha256_arg(s)?;
    }
    let tools = build::preflight(backend, host.os())?;
    let lock_path = layout.lock_file();
    let mut lock = crate::lockfile::LockFile::load(&lock_path)?;
    let asset = BuildRequest::asset(&release);
    let pin = lock.engines.iter().find(|e| e.release == release && e.asset == asset).cloned();
    let location = args.source.clone().unwrap_or_else(|| format!("{}/{release}.tar.gz", build::DEFAULT_SOURCE));
    let source = if std::path::Path::new(&location).is_dir() {
        SourceSpec::Tree(location.clone().into())
    } else {
        let sha256 = args.sha256.as_ref().map(|s| s.to_ascii_lowercase()).or(pin.as_ref().map(|p| p.sha256.clone()));
        let size = pin.as_ref().filter(|p| Some(&p.sha256) == sha256.as_ref()).and_then(|p| p.size);
        SourceSpec::Archive { location: location.clone(), sha256, size }
    };
    let remote = location.starts_with("http://") || location.starts_with("https://");
    if global.offline && remote {
        return Err(Error::usage(format!("engine build would download {location}; --offline forbids that"))
            .with_hint("pass --source with a local copy of the source archive or tree"));
    }
    match &source {
        SourceSpec::Archive { sha256: None, .. } if args.locked => {
            return Err(Error::usage(format!("--locked: {} pins no source archive {asset}", lock_path.display()))
                .with_hint("run `clawlocal engine build` once without --locked to pin it"));
        }
        SourceSpec::Tree(dir) if args.locked => {
            return Err(Error::usage(format!("--locked: {} is a source tree, which no lock can pin", dir.display())));
        }
        _ => {}
    }
    let first_use = matches!(source, SourceSpec::Archive { sha256: None, .. });
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let req = BuildRequest { release: release.clone(), backend, source, jobs, portable: args.portable };
    std::fs::create_dir_all(&layout.log_dir)
        .map_err(|e| Error::io(format!("cannot create {}", layout.log_dir.display()), &e))?;
    let log = layout.log_dir.join(format!("engine-build-{release}.log"));
    let note = |text: &str| printer.note(text);
    let check = |binary: &std::path::Path| install::check_binary(host, binary, &release, backend, &[]);
    let built = build::build(host, &req, &tools, &layout.engine_dir, &log, &note, &check)?;
    if let (Some(sha), SourceSpec::Archive { .. }) = (&built.source_sha256, &req.source) {
        let entry = crate::lockfile::LockedEngine {
            release: release.clone(),
            asset,
            sha256: sha.clone(),
            size: built.source_size,
        };
        if !args.locked && lock.upsert_engine(entry, install::PINNED.release) {
            lock.save(&lock_path)?;
        }
        if first_use {
            printer.note(&format!(
                "no published digest for {location} (GitHub publishes none for tag archives): pinned the sha256 it \
                 had, {sha}, in {}; later builds and --locked check against it",
                lock_path.display()
            ));
        }
    }
    if printer.json {
        printer.document(&serde_json::to_value(&built).expect("serialises"));
    } else {
        printer.data(&format!(
            "{} {} (llama.cpp {}, {} build, {} s; log {})",
            built.status,
            built.path.display(),
            built.release,
            built.backend,
            built.seconds,
            built.log.display()
        ));
    }
    Ok(Exit::Success)
}
