//! The error type every command returns, and the exit codes of the contract.

use std::fmt;

/// Exit codes: 0 success; 1 the command ran and found failure; 2 usage or environment error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Usage = 2,
}

/// A user-facing error: one message that names the thing it is about, and an optional hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub exit: Exit,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    /// Bad flag, unreadable or invalid file, unknown profile: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self { exit: Exit::Usage, message: message.into(), hint: None }
    }
    /// The command ran and found failure (nothing fits, a check failed): exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self { exit: Exit::Failure, message: message.into(), hint: None }
    }
    /// An I/O failure on a named thing; a full disk gets its own hint.
    pub fn io(what: impl Into<String>, err: &std::io::Error) -> Self {
        let e = Self::failure(format!("{}: {err}", what.into()));
        if err.kind() == std::io::ErrorKind::StorageFull {
            e.with_hint("the disk is full: free some space (or point HF_HUB_CACHE at a bigger disk) and run again")
        } else {
            e
        }
    }
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
