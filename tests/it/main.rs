//! The one integration-test binary: runs the real `clawlocal` binary in a scrubbed environment.

// Tests drive real processes and read CI=true directly; the Host seam is for the library.
#![allow(clippy::disallowed_methods)]

mod support;

mod backends;
mod cli;
mod compose;
mod doctor;
mod e2e;
mod engine;
mod fleet;
mod install;
mod lifecycle;
mod openclaw;
mod plan;
mod plans;
mod profiles;
mod pull;
mod systemd;
mod units;
