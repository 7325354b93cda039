//! What a step did (or will do) to one thing, in the contract's words: the one status every command reports.

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    /// Put back byte for byte as it was before clawlocal (openclaw.json).
    Restored,
    Removed,
    /// Left in place on purpose (the reason beside it).
    Kept,
    /// A service or engine stopped.
    Stopped,
    /// Not done, and not needed (a start under `--root`, a file already gone).
    Skipped,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Restored => "restored",
            Self::Removed => "removed",
            Self::Kept => "kept",
            Self::Stopped => "stopped",
            Self::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
