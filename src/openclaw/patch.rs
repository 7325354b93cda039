//! The pure edit of `openclaw.json` text: parse with JSON5 semantics, edit the concrete syntax tree (jsonc-parser)
//! so that every byte not edited stays as it was — comments, quote style, key order, numbers, BOM, indentation.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstLeafNode, CstNode, CstObject, CstObjectProp, CstRootNode};
use serde_json::json;

use crate::error::{Error, Result};
use crate::plan::Role;

pub const PROVIDER: &str = "clawlocal";
const BOM: char = '\u{feff}';

/// What clawlocal puts into the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchSpec {
    /// `http://127.0.0.1:<port>/v1`.
    pub base_url: String,
    pub api_key: String,
    pub model_id: String,
    pub model_name: String,
    pub context_window: u32,
    pub max_tokens: u32,
    pub role: Role,
}

impl PatchSpec {
    /// `clawlocal/<model id>`: how OpenClaw refers to the model.
    pub fn model_ref(&self) -> String {
        format!("{PROVIDER}/{}", self.model_id)
    }

    fn provider(&self) -> serde_json::Value {
        json!({
            "baseUrl": self.base_url,
            "apiKey": self.api_key,
            "api": "openai-completions",
            "models": [self.model()],
        })
    }

    fn model(&self) -> serde_json::Value {
        json!({
            "id": self.model_id,
            "name": self.model_name,
            "reasoning": false,
            "input": ["text"],
            "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
            "contextWindow": self.context_window,
            "maxTokens": self.max_tokens,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    pub text: String,
    pub changed: bool,
    pub warnings: Vec<String>,
}

/// Check that `text` is JSON5 as OpenClaw reads it; the error names `origin:line:col`.
pub fn parse_json5(text: &str, origin: &str) -> Result<serde_json::Value> {
    json5::from_str(text.strip_prefix(BOM).unwrap_or(text)).map_err(|e| {
        let at = e.position().map(|p| format!(":{}:{}", p.line + 1, p.column + 1)).unwrap_or_default();
        Error::usage(format!("{origin}{at}: {e}"))
            .with_hint("fix the syntax (OpenClaw cannot read it either); clawlocal changed nothing")
    })
}

/// Patch `text` (the content of `origin`). Pure: the caller writes.
pub fn patch(text: &str, origin: &str, spec: &PatchSpec) -> Result<Patched> {
    parse_json5(text, origin)?;
    let (bom, body) = match text.strip_prefix(BOM) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let options = ParseOptions { allow_missing_commas: false, ..ParseOptions::default() };
    let root = CstRootNode::parse(body, &options).map_err(|e| Error::usage(format!("{origin}: {e}")))?;
    let refuse = |what: String| {
        Error::usage(format!("{origin}: {what}")).with_hint("clawlocal changed nothing; fix the file and run again")
    };
    let root_obj = match root.value() {
        None => root.object_value_or_set(),
        Some(_) => root.object_value().ok_or_else(|| refuse("the top level is not an object".into()))?,
    };
    let mut warnings = Vec::new();
    // A key the edit reads or writes must appear once: OpenClaw reads the last copy, the CST the first.
    let single = |parent: &CstObject, path: &str, key: &str| -> Result<()> {
        let count = parent.properties().iter().filter(|p| p.decoded_name().as_deref() == Some(key)).count();
        if count > 1 {
            return Err(refuse(format!(
                "`{path}{key}` appears {count} times; OpenClaw uses the last one, so clawlocal will not guess which to edit"
            )));
        }
        Ok(())
    };
    let child = |parent: &CstObject, path: &str, key: &str| -> Result<CstObject> {
        single(parent, path, key)?;
        if parent.get("$include").is_some() {
            return Err(refuse(format!(
                "`{}` uses $include; editing included files is not supported yet",
                path.trim_end_matches('.')
            )));
        }
        parent.object_value_or_create(key).ok_or_else(|| refuse(format!("`{path}{key}` is not an object")))
    };

    // models.mode: merge when absent; never changed.
    let models = child(&root_obj, "", "models")?;
    single(&models, "models.", "mode")?;
    match models.get("mode").and_then(|p| string_value(&p)) {
        None if models.get("mode").is_none() => {
            models.insert(0, "mode", CstInputValue::String("merge".into()));
        }
        Some(mode) if mode == "replace" => warnings.push(format!(
            "{origin}: models.mode is \"replace\": OpenClaw then offers only the providers listed here (hosted models are hidden); clawlocal leaves it as it is"
        )),
        _ => {}
    }

    // models.providers.clawlocal: upsert.
    let providers = child(&models, "models.", "providers")?;
    single(&providers, "models.providers.", PROVIDER)?;
    match providers.get(PROVIDER) {
        None => {
            providers.append(PROVIDER, to_cst(&spec.provider()));
        }
        Some(prop) => {
            let ours =
                prop.object_value().ok_or_else(|| refuse(format!("`models.providers.{PROVIDER}` is not an object")))?;
            merge_provider(&ours, spec);
        }
    }

    // agents.defaults.model and the allow-list.
    let agents = child(&root_obj, "", "agents")?;
    let defaults = child(&agents, "agents.", "defaults")?;
    single(&defaults, "agents.defaults.", "model")?;
    let reference = spec.model_ref();
    set_model_ref(&defaults, &reference, spec.role).map_err(refuse)?;
    if let Some(allow) = defaults.get("models") {
        let allow = allow.object_value().ok_or_else(|| refuse("`agents.defaults.models` is not an object".into()))?;
        if allow.get(&reference).is_none() {
            allow.append(&reference, CstInputValue::Object(Vec::new()));
        }
    }

    let mut out = root.to_string();
    if bom {
        out.insert(0, BOM);
    }
    parse_json5(&out, origin)
        .map_err(|e| Error::failure(format!("internal error: the patched config does not parse: {}", e.message)))?;
    Ok(Patched { changed: out != text, text: out, warnings })
}

fn string_value(prop: &CstObjectProp) -> Option<String> {
    match prop.value()? {
        CstNode::Leaf(CstLeafNode::StringLit(s)) => s.decoded_value().ok(),
        _ => None,
    }
}

/// Set a string property, keeping the file's quote style when it already holds a string.
fn set_string(obj: &CstObject, key: &str, value: &str) {
    match obj.get(key) {
        Some(prop) => match prop.value() {
            Some(CstNode::Leaf(CstLeafNode::StringLit(s))) => {
                if s.decoded_value().ok().as_deref() != Some(value) {
                    let quote = s.raw_value().chars().next().filter(|c| *c == '\'').unwrap_or('"');
                    s.set_raw_value(quoted(value, quote));
                }
            }
            _ => prop.set_value(CstInputValue::String(value.into())),
        },
        None => {
            obj.append(key, CstInputValue::String(value.into()));
        }
    }
}

fn quoted(value: &str, quote: char) -> String {
    let mut out = String::from(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Bring an existing `clawlocal` provider to what `spec` says, keeping the user's extra keys and other models.
fn merge_provider(ours: &CstObject, spec: &PatchSpec) {
    set_string(ours, "baseUrl", &spec.base_url);
    set_string(ours, "apiKey", &spec.api_key);
    set_string(ours, "api", "openai-completions");
    let model = spec.model();
    let models = match ours.array_value_or_create("models") {
        Some(a) => a,
        None => {
            ours.get("models")
                .expect("present when not creatable")
                .set_value(CstInputValue::Array(vec![to_cst(&model)]));
            return;
        }
    };
    let existing = models.elements().into_iter().find_map(|e| match e {
        CstNode::Container(c) => {
            c.as_object().filter(|o| o.get("id").and_then(|p| string_value(&p)).as_deref() == Some(&spec.model_id))
        }
        _ => None,
    });
    match existing {
        None => {
            models.append(to_cst(&model));
        }
        Some(obj) => {
            for (key, value) in model.as_object().expect("an object") {
                let current = obj.get(key).and_then(|p| p.value()).map(|v| v.to_string());
                let same = current
                    .as_deref()
                    .is_some_and(|c| json5::from_str::<serde_json::Value>(c).ok().as_ref() == Some(value));
                if !same {
                    match obj.get(key) {
                        Some(p) => p.set_value(to_cst(value)),
                        None => {
                            obj.append(key, to_cst(value));
                        }
                    }
                }
            }
        }
    }
}

/// `agents.defaults.model`: fallback appends our ref; primary takes the primary slot and keeps the old one as the
/// first fallback. A string model becomes `{ primary, fallbacks }`.
fn set_model_ref(defaults: &CstObject, reference: &str, role: Role) -> std::result::Result<(), String> {
    if let Some(prop) = defaults.get("model")
        && let Some(old) = string_value(&prop)
    {
        let (primary, fallbacks) = match role {
            _ if old == reference => (old.clone(), Vec::new()),
            Role::Fallback => (old.clone(), vec![reference.to_string()]),
            Role::Primary => (reference.to_string(), vec![old.clone()]),
        };
        prop.set_value(to_cst(&json!({"primary": primary, "fallbacks": fallbacks})));
        return Ok(());
    }
    let model =
        defaults.object_value_or_create("model").ok_or("`agents.defaults.model` is neither a string nor an object")?;
    let primary = model.get("primary").and_then(|p| string_value(&p));
    match (role, primary) {
        (_, Some(p)) if p == reference => {}
        (Role::Fallback, Some(_)) => add_fallback(&model, reference, None)?,
        (Role::Fallback | Role::Primary, None) => set_string(&model, "primary", reference),
        (Role::Primary, Some(old)) => {
            set_string(&model, "primary", reference);
            add_fallback(&model, &old, Some(0))?;
            remove_fallback(&model, reference);
        }
    }
    Ok(())
}

fn add_fallback(model: &CstObject, reference: &str, at: Option<usize>) -> std::result::Result<(), String> {
    let list = model.array_value_or_create("fallbacks").ok_or("`agents.defaults.model.fallbacks` is not an array")?;
    let present = list.elements().iter().any(|e| matches!(e, CstNode::Leaf(CstLeafNode::StringLit(s)) if s.decoded_value().ok().as_deref() == Some(reference)));
    if !present {
        match at {
            Some(i) => {
                list.insert(i, CstInputValue::String(reference.into()));
            }
            None => {
                list.append(CstInputValue::String(reference.into()));
            }
        }
    }
    Ok(())
}

fn remove_fallback(model: &CstObject, reference: &str) {
    if let Some(list) = model.array_value("fallbacks") {
        for e in list.elements() {
            if let CstNode::Leaf(CstLeafNode::StringLit(s)) = &e
                && s.decoded_value().ok().as_deref() == Some(reference)
            {
                e.remove();
            }
        }
    }
}

/// serde_json → jsonc-parser input, keeping key order.
fn to_cst(v: &serde_json::Value) -> CstInputValue {
    match v {
        serde_json::Value::Null => CstInputValue::Null,
        serde_json::Value::Bool(b) => CstInputValue::Bool(*b),
        serde_json::Value::Number(n) => CstInputValue::Number(n.to_string()),
        serde_json::Value::String(s) => CstInputValue::String(s.clone()),
        serde_json::Value::Array(a) => CstInputValue::Array(a.iter().map(to_cst).collect()),
        serde_json::Value::Object(o) => CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), to_cst(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of ../shared/fixtures/openclaw (with its README of expected outcomes).
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openclaw");

    fn spec(role: Role) -> PatchSpec {
        PatchSpec {
            base_url: "http://127.0.0.1:8765/v1".into(),
            api_key: "clawlocal-no-key".into(),
            model_id: "qwen2.5-1.5b-instruct-q4_k_m".into(),
            model_name: "Qwen2.5 1.5B Instruct (local)".into(),
            context_window: 32768,
            max_tokens: 4096,
            role,
        }
    }

    fn fixture(name: &str) -> Option<String> {
        Some(std::fs::read_to_string(std::path::Path::new(FIXTURES).join(name)).expect("fixture present"))
    }

    /// Every `//` and `/* */` comment of `before` is in `after`, in order.
    fn comments(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let b = text.as_bytes();
        let (mut i, mut quote) = (0, None::<u8>);
        while i < b.len() {
            match (quote, b[i]) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), b'\\') => i += 1,
                (Some(_), _) => {}
                (None, b'"' | b'\'') => quote = Some(b[i]),
                (None, b'/') if b.get(i + 1) == Some(&b'/') => {
                    let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
                    out.push(text[i..end].trim_end().to_string());
                    i = end;
                }
                (None, b'/') if b.get(i + 1) == Some(&b'*') => {
                    let end = text[i + 2..].find("*/").map_or(text.len(), |e| i + 2 + e + 2);
                    out.push(text[i..end].to_string());
                    i = end;
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    /// Every leaf of `before` is in `after` at the same path, except under the paths the patch may change.
    fn kept(before: &serde_json::Value, after: &serde_json::Value, path: &str) -> Vec<String> {
        let changeable = ["agents.defaults.model", "agents.defaults.models", "models.mode"];
        if changeable.contains(&path) {
            return Vec::new();
        }
        match (before, after) {
            (serde_json::Value::Object(b), serde_json::Value::Object(a)) => b
                .iter()
                .flat_map(|(k, v)| match a.get(k) {
                    Some(av) => kept(v, av, &if path.is_empty() { k.clone() } else { format!("{path}.{k}") }),
                    None => vec![format!("{path}.{k} lost")],
                })
                .collect(),
            (b, a) if b == a => Vec::new(),
            _ => vec![format!("{path} changed")],
        }
    }

    #[test]
    fn fixtures_patch_keeping_comments_and_values_and_a_second_patch_changes_nothing() {
        let files = [
            "01-commented-cloud-primary.json5",
            "02-string-model.json5",
            "03-existing-local-providers.json5",
            "04-replace-mode-env-key.json5",
            "05-json5-syntax-zoo.json5",
            "06-bom-strict-json.json",
        ];
        for name in files {
            let text = fixture(name).unwrap();
            for role in [Role::Fallback, Role::Primary] {
                let out = patch(&text, name, &spec(role)).unwrap_or_else(|e| panic!("{name}: {}", e.message));
                assert!(out.changed, "{name}");
                assert_eq!(comments(&out.text), comments(&text), "{name}: comments kept in order");
                let (before, after) = (parse_json5(&text, name).unwrap(), parse_json5(&out.text, name).unwrap());
                assert_eq!(kept(&before, &after, ""), Vec::<String>::new(), "{name} {role:?}");
                let ours = &after["models"]["providers"]["clawlocal"];
                assert_eq!(ours["baseUrl"], "http://127.0.0.1:8765/v1");
                assert_eq!(ours["api"], "openai-completions");
                assert_eq!(ours["models"][0]["contextWindow"], 32768);
                let model = &after["agents"]["defaults"]["model"];
                let ours_ref = "clawlocal/qwen2.5-1.5b-instruct-q4_k_m";
                match role {
                    Role::Fallback => {
                        assert!(
                            model["fallbacks"].as_array().unwrap().iter().any(|f| f == ours_ref),
                            "{name}: {model}"
                        );
                        if let Some(p) = before["agents"]["defaults"]["model"]["primary"]
                            .as_str()
                            .or(before["agents"]["defaults"]["model"].as_str())
                        {
                            assert_eq!(model["primary"], p, "{name}: primary untouched");
                        }
                    }
                    Role::Primary => {
                        assert_eq!(model["primary"], ours_ref);
                        if let Some(p) = before["agents"]["defaults"]["model"]["primary"]
                            .as_str()
                            .or(before["agents"]["defaults"]["model"].as_str())
                        {
                            assert_eq!(model["fallbacks"][0], p, "{name}: the old primary is the first fallback");
                        }
                    }
                }
                if before["models"]["mode"].is_null() {
                    assert_eq!(after["models"]["mode"], "merge");
                }
                let again = patch(&out.text, name, &spec(role)).unwrap();
                assert!(!again.changed, "{name} {role:?}: a second patch changes no byte:\n{}", again.text);
            }
        }
        // 03: the allow-list gets our ref; 04: replace stays, with a warning; 06: BOM kept.
        let out = patch(&fixture(files[2]).unwrap(), "03", &spec(Role::Fallback)).unwrap();
        assert!(parse_json5(&out.text, "03").unwrap()["agents"]["defaults"]["models"]["clawlocal/qwen2.5-1.5b-instruct-q4_k_m"].is_object());
        let text4 = fixture(files[3]).unwrap();
        let out = patch(&text4, "04", &spec(Role::Fallback)).unwrap();
        assert!(out.warnings.iter().any(|w| w.contains("replace")));
        assert!(out.text.contains("${VLLM_API_KEY}") || !text4.contains("${VLLM_API_KEY}"));
        assert_eq!(parse_json5(&out.text, "04").unwrap()["models"]["mode"], "replace");
        assert!(patch(&fixture(files[5]).unwrap(), "06", &spec(Role::Fallback)).unwrap().text.starts_with(BOM));
    }

    #[test]
    fn broken_and_ambiguous_configs_are_refused_with_where() {
        let Some(broken) = fixture("08-broken-missing-comma.json5") else { return };
        let e = patch(&broken, "08.json5", &spec(Role::Fallback)).unwrap_err();
        assert!(
            e.message.starts_with("08.json5:") && e.message.split(':').nth(1).is_some_and(|l| l.parse::<u32>().is_ok()),
            "{}",
            e.message
        );
        let dup = fixture("09-duplicate-keys.json5").unwrap();
        let e = patch(&dup, "09.json5", &spec(Role::Fallback)).unwrap_err();
        assert!(e.message.contains("`models` appears 2 times"), "{}", e.message);
        let e = patch("{ models: 'oops' }", "x", &spec(Role::Fallback)).unwrap_err();
        assert!(e.message.contains("`models` is not an object"), "{}", e.message);
        let e = patch("[1]", "x", &spec(Role::Fallback)).unwrap_err();
        assert!(e.message.contains("top level is not an object"), "{}", e.message);
    }

    #[test]
    fn the_diff_of_a_commented_config_is_only_the_new_block_and_the_fallback() {
        let text = fixture("01-commented-cloud-primary.json5").unwrap();
        let out = patch(&text, "01", &spec(Role::Fallback)).unwrap();
        let before: Vec<&str> = text.lines().collect();
        let after: Vec<&str> = out.text.lines().collect();
        let removed: Vec<&&str> = before.iter().filter(|l| !after.contains(l)).collect();
        assert_eq!(
            removed,
            [&"        fallbacks: [\"openai/gpt-5.4\"], // keep this order"],
            "only the fallbacks line changes:\n{}",
            out.text
        );
        assert!(
            out.text.contains(
                "fallbacks: [\"openai/gpt-5.4\", \"clawlocal/qwen2.5-1.5b-instruct-q4_k_m\"], // keep this order"
            ),
            "{}",
            out.text
        );
    }

    #[test]
    fn an_empty_config_gets_just_what_clawlocal_needs() {
        let out = patch("{}", "x", &spec(Role::Fallback)).unwrap();
        let v = parse_json5(&out.text, "x").unwrap();
        assert_eq!(v["models"]["mode"], "merge");
        assert_eq!(
            v["agents"]["defaults"]["model"]["primary"], "clawlocal/qwen2.5-1.5b-instruct-q4_k_m",
            "no primary yet: ours"
        );
        assert!(!patch(&out.text, "x", &spec(Role::Fallback)).unwrap().changed);
    }
}
