//! `clawlocal serve`: run llama-server in the foreground with exactly the command `init` recorded (the unit's
//! ExecStart, with the key file at its real path). The process is replaced by llama-server (exec), so SIGTERM
//! and SIGINT reach the engine itself and its exit code is ours.

use serde_json::json;

use crate::cli::{GlobalArgs, ServeArgs};
use crate::error::{Error, Exit, Result};
use crate::host::Host;
use crate::layout;
use crate::output::Printer;
use crate::receipt::Receipt;

pub fn run(args: &ServeArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let path = layout.receipt_file();
    let receipt = Receipt::load(&path)?.ok_or_else(|| {
        Error::usage(format!("nothing to serve: no receipt at {}", path.display()))
            .with_hint("run `clawlocal init --service none` first (with the same --scope)")
    })?;
    let cmd = &receipt.serve;
    if args.print {
        if printer.json {
            printer.document(&json!({"program": cmd.program, "args": cmd.args}));
        } else {
            printer.data(&format!("{} {}", cmd.program.display(), cmd.args.join(" ")));
        }
        return Ok(Exit::Success);
    }
    printer.note(&format!(
        "serving {} on http://127.0.0.1:{}/v1 (Ctrl-C or SIGTERM stops it)",
        receipt.model.id, receipt.port
    ));
    let err = host.exec(&layout.on_host(&cmd.program), &cmd.args);
    Err(Error::usage(format!("cannot run {}: {err}", cmd.program.display()))
        .with_hint("`clawlocal engine show` checks the engine; `clawlocal init` records a new one"))
}
