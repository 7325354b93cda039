//! OpenClaw's `openclaw.json`: a comment-keeping merge-mode patch and its exact undo.
//! `patch` is the pure CST edit, `version` picks the fields the installed OpenClaw accepts, `schema` checks the
//! result against OpenClaw's own (bundled) schema, and `file` does the I/O: find, lock, validate with the real CLI,
//! back up, write atomically, and keep the record `unpatch` needs.

pub mod file;
pub mod patch;
pub mod schema;
pub mod version;
