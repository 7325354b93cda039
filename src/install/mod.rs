//! init as one plan, executed exactly: [`Desired`] (the settings, resolved once by the command) → [`survey`] (every
//! fact planning reads, taken before any change) → [`plan`] (pure: ordered steps with every file's final bytes and
//! every command, or the blockers that stop it) → [`show`] (dry run, prompt and `--json` render the same plan) or
//! [`apply`] (runs exactly those steps, checks each guard, journals into the receipt, rolls a swap back).

mod apply;
pub mod backend;
pub mod fit;
mod show;
mod steps;
mod survey;
pub mod undo;

use std::path::PathBuf;
use std::time::Duration;

pub use apply::{Applied, Done, Env, apply};
pub use show::{Seen, describe, plan_json};
pub use steps::{Blocker, FileKind, Guard, Plan, Purpose, Step, plan};
pub use survey::{World, survey};

use crate::hub::HubConfig;
use crate::hub::pull::Wanted;
use crate::plan::Options;
use crate::profile::Profile;
use crate::select::Selection;

/// What init is asked to bring about, resolved once from arguments, environment and files.
#[derive(Debug, Clone)]
pub struct Desired {
    pub profile: Profile,
    pub selection: Selection,
    pub options: Options,
    /// The model to fetch: the catalog entry's files or the `hf:` spec.
    pub want: Wanted,
    /// `--engine`.
    pub engine: Option<PathBuf>,
    /// With no engine found, install the pinned release (not with `--no-engine-install`).
    pub install_engine: bool,
    /// `--backend`: the build to install.
    pub backend: Option<crate::engine::backend::Backend>,
    /// `CLAWLOCAL_ENGINE_MIRROR`: where release archives come from.
    pub engine_mirror: Option<String>,
    /// `--locked`: only what the lock pins (model and engine); nothing is resolved afresh.
    pub locked: bool,
    /// Start the service and wait for it (not with `--no-start`, `--root` or `--service none`).
    pub start: bool,
    pub health_timeout: Duration,
    pub hub: HubConfig,
}

/// `clawlocal-` and 48 hex digits: the shape init's generated keys have, which a key someone else provided does not.
pub fn is_generated_key(text: &str) -> bool {
    text.trim_end_matches('\n')
        .strip_prefix(GENERATED_KEY_PREFIX)
        .is_some_and(|hex| hex.len() == 48 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

const GENERATED_KEY_PREFIX: &str = "clawlocal-";

/// A new random key (the file's contents) in clawlocal's format.
pub fn generate_key() -> crate::error::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| crate::error::Error::io("cannot read /dev/urandom for the API key", &e))?;
    Ok(format!("{GENERATED_KEY_PREFIX}{}\n", crate::hub::download::hex(&bytes)))
}

#[cfg(test)]
mod tests;
