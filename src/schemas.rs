//! JSON schemas in `schemas/`, generated from the types by schemars. `clawlocal schemas` writes them;
//! a test fails when the checked-in files drift from the code.

use std::path::Path;

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::lockfile::LockFile;
use crate::plan::PlanDocument;
use crate::profile::Profile;

/// File name and content of every generated schema.
pub fn all() -> Vec<(&'static str, String)> {
    let render = |schema: schemars::Schema| {
        let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialise");
        text.push('\n');
        text
    };
    vec![
        ("profile.schema.json", render(schemars::schema_for!(Profile))),
        ("catalog.schema.json", render(schemars::schema_for!(Catalog))),
        ("plan.schema.json", render(schemars::schema_for!(PlanDocument))),
        ("lock.schema.json", render(schemars::schema_for!(LockFile))),
        ("bench.schema.json", render(schemars::schema_for!(crate::receipt::Bench))),
        ("doctor.schema.json", render(schemars::schema_for!(crate::doctor::Report))),
        ("init.schema.json", render(schemars::schema_for!(crate::documents::InitDocument))),
        ("dry-run.schema.json", render(schemars::schema_for!(crate::documents::DryRunDocument))),
        ("uninstall.schema.json", render(schemars::schema_for!(crate::documents::UninstallDocument))),
        ("status.schema.json", render(schemars::schema_for!(crate::documents::StatusDocument))),
        ("render.schema.json", render(schemars::schema_for!(crate::documents::RenderDocument))),
        ("render-fleet.schema.json", render(schemars::schema_for!(crate::documents::FleetRenderDocument))),
        ("pull.schema.json", render(schemars::schema_for!(crate::hub::pull::PullDocument))),
        ("error.schema.json", render(schemars::schema_for!(crate::documents::ErrorDocument))),
    ]
}

/// Write the schemas into `dir`, or with `check` report the files that differ. Returns the names that
/// differed (were written, or would be).
pub fn write(dir: &Path, check: bool) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for (name, content) in all() {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
            continue;
        }
        changed.push(name.to_string());
        if !check {
            std::fs::create_dir_all(dir).map_err(|e| Error::usage(format!("cannot create {}: {e}", dir.display())))?;
            std::fs::write(&path, content)
                .map_err(|e| Error::usage(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn checked_in_schemas_match_the_code() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let stale = super::write(&dir, true).unwrap();
        assert!(stale.is_empty(), "schemas/ is stale: {stale:?}; run `cargo run -- schemas` and commit the result");
    }
}
