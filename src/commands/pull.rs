//! `clawlocal pull`: resolve, download and verify a model into the Hugging Face cache and pin it in the lock
//! (the work is `hub::pull`, shared with init's plan).

use crate::cli::{GlobalArgs, PullArgs};
use crate::error::{Exit, Result};
use crate::host::Host;
use crate::hub::HubConfig;
use crate::hub::pull::{pull, wanted};
use crate::layout;
use crate::output::Printer;
use crate::size::human;

pub fn run(args: &PullArgs, global: &GlobalArgs, host: &dyn Host, printer: &Printer) -> Result<Exit> {
    let layout = layout::resolve(host, global.scope.map(Into::into), global.root.as_deref(), None)?;
    let want = wanted(&args.model, args.quant.as_deref())?;
    let config = HubConfig::from_env(host, global.offline);
    let doc = pull(&want, &layout, config, args.locked, args.verify, printer)?;
    if printer.json {
        printer.document(&serde_json::to_value(&doc).expect("the pull document serialises"));
    } else {
        // A blob already there was checked by size (its name is its sha256); `--verify` hashes it again.
        let how = match (doc.downloaded_bytes, args.verify) {
            (0, false) => "size verified; already in the cache (`--verify` hashes it again)".to_string(),
            (0, true) => "sha256 verified again; already in the cache".to_string(),
            (n, _) => format!("sha256 verified; downloaded {}", human(n)),
        };
        printer.data(&format!(
            "{} {} ({}, {how})\n{}",
            doc.repo,
            doc.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(" "),
            human(doc.size),
            doc.path.display()
        ));
    }
    Ok(Exit::Success)
}
