//! OpenClaw's `openclaw.json`: a comment-keeping merge-mode patch and its exact undo.
//! `patch` is the pure CST edit, `version` picks the fields the installed OpenClaw accepts, `schema` checks the
//! result against OpenClaw's own (bundled) schema, and `file` does the I/O: find, lock, validate with the real CLI,
//! back up, write atomically, and keep the record `unpatch` needs.

pub mod file;
pub mod patch;
pub mod schema;
pub mod version;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::openclaw::patch::{Fields, PatchSpec};

/// Where clawlocal records what it patched (for unpatch and uninstall).
pub fn records_path(layout: &Layout) -> std::path::PathBuf {
    layout.state_dir.join("openclaw-patches.json")
}

/// What init (and doctor --fix) patch into openclaw.json for the local model: the provider at the engine's
/// loopback port, the model with its context window, and the role.
pub fn local_spec(
    model_id: &str,
    model_name: &str,
    context: u32,
    port: u16,
    role: crate::plan::Role,
    api_key: String,
) -> PatchSpec {
    PatchSpec {
        base_url: crate::plan::base_url(port),
        api_key,
        model_id: model_id.to_string(),
        model_name: model_name.to_string(),
        context_window: context,
        max_tokens: 4096.min(context / 4),
        role,
        fields: Fields::BASELINE,
        gateway_mode: None,
        server: None,
        api_key_env: None,
    }
}

/// The API key from a file only its owner can read (never from the command line).
pub fn read_key(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).map_err(|e| Error::io(format!("cannot read the key file {}", path.display()), &e))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Error::usage(format!(
            "the key file {} is readable by others (mode {:o})",
            path.display(),
            meta.permissions().mode() & 0o777
        ))
        .with_hint(format!("chmod 600 {}", path.display())));
    }
    let key = std::fs::read_to_string(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), &e))?;
    let key = key.trim();
    if key.is_empty() || key.chars().any(char::is_control) {
        return Err(Error::usage(format!("the key file {} holds no usable key (one line expected)", path.display())));
    }
    Ok(key.to_string())
}
