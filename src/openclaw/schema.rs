//! OpenClaw's own JSON schema for the parts of the config clawlocal writes. The bundled file is the output of
//! the real `openclaw config schema`, trimmed to `models` and `agents.defaults` (the integration test
//! `bundled_openclaw_schema_matches_the_installed_cli` keeps it equal to what the pinned CLI prints; run it with
//! `CLAWLOCAL_UPDATE_SCHEMAS=1` to rewrite it).

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::openclaw::patch::{PROVIDER, Section};

pub const BUNDLED: &str = include_str!("../../schemas/openclaw-subset.schema.json");

/// Trim the full schema to the subtrees clawlocal touches, without titles and descriptions.
pub fn trim(full: &Value, version: &str) -> Value {
    let pick = |path: &str| full.pointer(path).cloned().unwrap_or(Value::Null);
    let mut out = json!({
        "$schema": full.get("$schema").cloned().unwrap_or(Value::Null),
        "$comment": format!("openclaw config schema (OpenClaw {version}), trimmed to models and agents.defaults by clawlocal"),
        "x-openclaw-version": version,
        "type": "object",
        "properties": {
            "models": pick("/properties/models"),
            "agents": {
                "type": "object",
                "properties": { "defaults": pick("/properties/agents/properties/defaults") },
            },
        },
    });
    strip_docs(&mut out);
    out
}

fn strip_docs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in ["title", "description"] {
                if map.get(key).is_some_and(Value::is_string) {
                    map.shift_remove(key);
                }
            }
            map.values_mut().for_each(strip_docs);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_docs),
        _ => {}
    }
}

/// Check what clawlocal wrote against the schema: the `clawlocal` provider, `models.mode`, and the refs under
/// `agents.defaults`. The user's other keys are not judged here (an older OpenClaw may know keys the bundled
/// schema no longer has); `openclaw config validate` judges the whole file when the CLI is installed.
pub fn check(config: &Value, section: Section, origin: &str) -> Result<()> {
    let schema: Value = serde_json::from_str(BUNDLED).expect("bundled schema is JSON");
    let models = match section {
        Section::Whole => config.get("models"),
        Section::Models => Some(config),
    };
    let mut parts = vec![
        (
            format!("models.providers.{PROVIDER}"),
            "/properties/models/properties/providers/additionalProperties",
            models.and_then(|m| m.pointer(&format!("/providers/{PROVIDER}"))),
        ),
        ("models.mode".into(), "/properties/models/properties/mode", models.and_then(|m| m.get("mode"))),
    ];
    if section == Section::Whole {
        let defaults = config.pointer("/agents/defaults");
        for key in ["model", "models", "modelPolicy"] {
            parts.push((
                format!("agents.defaults.{key}"),
                match key {
                    "model" => "/properties/agents/properties/defaults/properties/model",
                    "models" => "/properties/agents/properties/defaults/properties/models",
                    _ => "/properties/agents/properties/defaults/properties/modelPolicy",
                },
                defaults.and_then(|d| d.get(key)),
            ));
        }
    }
    let mut problems = Vec::new();
    for (path, pointer, value) in parts {
        let (Some(value), Some(sub)) = (value, schema.pointer(pointer)) else { continue };
        // `openclaw config schema` is draft-07 (tuple `items`); a sub-schema has no `$schema` of its own.
        let validator =
            jsonschema::options().with_draft(jsonschema::Draft::Draft7).build(sub).expect("bundled schema compiles");
        problems.extend(validator.iter_errors(value).map(|e| {
            let at = e.instance_path().to_string().replace('/', ".");
            format!("{path}{at}: {e}")
        }));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::failure(format!(
        "{origin}: the edited config does not match OpenClaw's schema: {}",
        problems.join("; ")
    ))
    .with_hint("this is a clawlocal bug; nothing was written. Please report it with the config's shape"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_schema_is_trimmed_and_names_its_version() {
        let schema: Value = serde_json::from_str(BUNDLED).unwrap();
        assert!(schema["x-openclaw-version"].as_str().is_some_and(|v| v.starts_with("2026.")));
        let provider = &schema["properties"]["models"]["properties"]["providers"]["additionalProperties"];
        assert_eq!(provider["additionalProperties"], false, "OpenClaw's provider schema is strict");
        assert!(provider["properties"]["timeoutSeconds"].is_object());
    }

    #[test]
    fn a_key_openclaw_does_not_know_is_caught() {
        let good = json!({"models": {"mode": "merge", "providers": {"clawlocal": {
            "baseUrl": "http://127.0.0.1:8765/v1", "api": "openai-completions",
            "models": [{"id": "m", "name": "M", "contextWindow": 32768}]}}},
            "agents": {"defaults": {"model": {"primary": "clawlocal/m"}}}});
        check(&good, Section::Whole, "x").unwrap();
        let mut bad = good.clone();
        bad["models"]["providers"]["clawlocal"]["contextTokensz"] = json!(1);
        let e = check(&bad, Section::Whole, "x").unwrap_err();
        assert!(
            e.message.contains("models.providers.clawlocal") && e.message.contains("contextTokensz"),
            "{}",
            e.message
        );
        let mut bad = good;
        bad["agents"]["defaults"]["model"] = json!({"primary": 3});
        assert!(check(&bad, Section::Whole, "x").unwrap_err().message.contains("agents.defaults.model"));
    }
}
