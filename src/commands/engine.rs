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
            let req = match (release, sha256) {
                (Some(r), Some(s)) => install::Request::custom(r, s, &facts, mirror.as_deref())?,
                _ => install::Request::locked_or_pinned(&lock, &facts, mirror.as_deref(), &published)?,
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
    }
}
