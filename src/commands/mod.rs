//! One module per subcommand: thin orchestration over the library, printing through `Printer`.

pub mod backends;
pub mod bench;
pub mod doctor;
pub mod engine;
pub mod init;
pub mod init_backend;
pub mod models;
pub mod openclaw;
pub mod plan;
pub mod profiles;
pub mod pull;
pub mod render;
pub mod serve;
pub mod status;
pub mod uninstall;

use crate::cli::{Cli, Command};
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::output::Printer;

pub fn run(cli: Cli, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let global = &cli.global;
    match &cli.command {
        Command::Profiles(cmd) => profiles::run(cmd, host, printer),
        Command::Models(args) => models::run(args, host, printer),
        Command::Plan(args) => plan::run(args, global, host, printer),
        Command::Schemas(args) => {
            let changed = crate::schemas::write(&args.dir, args.check)?;
            if args.check && !changed.is_empty() {
                return Err(Error::failure(format!("stale schemas in {}: {}", args.dir.display(), changed.join(", ")))
                    .with_hint("run `clawlocal schemas` and commit the result"));
            }
            printer.note(&if changed.is_empty() {
                format!("schemas in {} are up to date", args.dir.display())
            } else {
                format!("wrote {} in {}", changed.join(", "), args.dir.display())
            });
            Ok(Exit::Success)
        }
        Command::Pull(args) => pull::run(args, global, host, printer),
        Command::Init(args) => init::run(args, global, host, printer),
        Command::Render(args) => render::run(args, global, host, printer),
        Command::Serve(args) => serve::run(args, global, host, printer),
        Command::Bench(args) => bench::run(args, global, host, printer),
        Command::Engine(cmd) => engine::run(cmd, global, host, printer),
        Command::Openclaw(cmd) => openclaw::run(cmd, global, host, printer),
        Command::Doctor(args) => doctor::run(args, global, host, printer),
        Command::Status => status::run(global, host, printer),
        Command::Backends(args) => backends::run(args, host, printer),
        Command::Uninstall(args) => uninstall::run(args, global, host, printer),
    }
}

/// Left-aligned columns for human tables; the last column is not padded.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
