//! The one integration-test binary: runs the real `clawlocal` binary in a scrubbed environment.

// Tests drive real processes, read CI=true directly and say on stderr what they skip.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

mod support;

mod cli;
mod plan;
mod profiles;
