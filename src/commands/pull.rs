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
    let doc = pull(&want, &layout, config, args.locked, printer)?;
    if printer.json {
        printer.document(&serde_json::to_value(&doc).expect("the pull document serialises"));
    } else {
        let how = if doc.downloaded_bytes == 0 {
            "already in the cache".to_string()
        } else {
            format!("downloaded {}", human(doc.downloaded_bytes))
        };
        printer.data(&format!(
            "{} {} ({}, sha256 verified; {how})\n{}",
            doc.repo,
            doc.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(" "),
            human(doc.size),
            doc.path.display()
        ));
    }
    Ok(Exit::Success)
}
