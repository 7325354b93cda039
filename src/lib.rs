//! clawlocal: provision a local llama-server model for OpenClaw from a hardware profile.
//! See ARCHITECTURE.md for the code map and the invariants.

pub mod backends;
pub mod catalog;
pub mod change;
pub mod cli;
pub mod commands;
pub mod doctor;
pub mod documents;
pub mod engine;
pub mod error;
pub mod estimate;
pub mod fsutil;
#[cfg(test)]
mod fuzz;
pub mod gguf;
pub mod gguf_model;
pub mod hardware;
pub mod host;
pub mod hub;
pub mod install;
pub mod layout;
pub mod lockfile;
pub mod openclaw;
pub mod output;
pub mod plan;
pub mod ports;
pub mod profile;
pub mod receipt;
pub mod render;
pub mod schemas;
pub mod select;
pub mod size;

use std::process::ExitCode;

use clap::Parser;

use crate::host::{Host, RealHost};
use crate::output::Printer;

/// Parse arguments, run the command, print the error if any, and map it to the contract's exit code.
pub fn main() -> ExitCode {
    let host = RealHost;
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, &host),
    };
    let printer = Printer::new(
        cli.global.json,
        cli.global.quiet,
        cli.global.verbose,
        cli.global.no_progress,
        host.env("NO_COLOR").is_some(),
    );
    let exit = match commands::run(cli, &host, &printer) {
        Ok(exit) => exit,
        Err(err) => {
            printer.error(&err);
            err.exit
        }
    };
    ExitCode::from(exit as u8)
}

/// A command line clap refuses. Under `--json` (anywhere before `--`) it is one document on stdout and one JSON
/// line on stderr, like every other error; `--help` and `--version` print as clap prints them.
fn usage_error(e: clap::Error, host: &dyn Host) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args().skip(1).take_while(|a| a != "--").any(|a| a == "--json");
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines.next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_string();
    let hint = lines.find(|l| l.starts_with("tip:") || l.starts_with("For more information")).map(str::to_string);
    let err = error::Error { exit: error::Exit::Usage, message, hint };
    Printer::new(true, false, false, true, host.env("NO_COLOR").is_some()).error(&err);
    ExitCode::from(error::Exit::Usage as u8)
}

impl From<cli::Scope> for layout::Scope {
    fn from(s: cli::Scope) -> Self {
        match s {
            cli::Scope::System => Self::System,
            cli::Scope::User => Self::User,
        }
    }
}

impl From<cli::ServiceTarget> for profile::ServiceKind {
    fn from(s: cli::ServiceTarget) -> Self {
        match s {
            cli::ServiceTarget::Systemd => Self::Systemd,
            cli::ServiceTarget::Launchd => Self::Launchd,
            cli::ServiceTarget::Compose => Self::Compose,
            cli::ServiceTarget::None => Self::None,
        }
    }
}

impl From<cli::Role> for plan::Role {
    fn from(r: cli::Role) -> Self {
        match r {
            cli::Role::Primary => Self::Primary,
            cli::Role::Fallback => Self::Fallback,
        }
    }
}

impl From<&cli::ModelChoice> for select::Request {
    fn from(c: &cli::ModelChoice) -> Self {
        Self { model: c.model.clone(), quant: c.quant.clone(), context: c.context, measured: None }
    }
}

impl From<cli::BackendArg> for engine::backend::Backend {
    fn from(b: cli::BackendArg) -> Self {
        match b {
            cli::BackendArg::Cpu => Self::Cpu,
            cli::BackendArg::Cuda => Self::Cuda,
            cli::BackendArg::Vulkan => Self::Vulkan,
            cli::BackendArg::Metal => Self::Metal,
            cli::BackendArg::Rocm => Self::Rocm,
        }
    }
}
