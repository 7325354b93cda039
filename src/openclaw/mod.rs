//! OpenClaw's `openclaw.json`: a comment-keeping merge-mode patch (issue 5, in progress: the pure edit is here;
//! the safe write, unpatch, `$include`, schema validation and the CLI come next).

pub mod patch;
