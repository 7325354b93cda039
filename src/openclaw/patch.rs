//! The pure edit of `openclaw.json` text: parse with JSON5 semantics, edit the concrete syntax tree (jsonc-parser)
//! so that every byte not edited stays as it was — comments, quote style, key order, numbers, BOM, indentation.
//! `patch` also returns [`Changes`], the record of exactly what it added, from which `unpatch` undoes it.

use jsonc_parser::ParseOptions;
use jsonc_parser::cst::{CstInputValue, CstLeafNode, CstNode, CstObject, CstObjectProp, CstRootNode, ObjectPropName};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::plan::Role;

pub const PROVIDER: &str = "clawlocal";
const BOM: char = '\u{feff}';

/// Fields that only some OpenClaw versions accept (its schema is strict: an unknown key stops the gateway).
/// Chosen by `openclaw::version::fields_for`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fields {
    /// `compat.supportsTools` + `compat.toolSchemaProfile: "llamacpp"` (2026.3+): llama.cpp's grammar cannot take
    /// every JSON-schema keyword OpenClaw's tools use.
    pub tool_schema_profile: bool,
    /// Provider `timeoutSeconds` (~2026.4.27+): a cold CPU model is slower than the default watchdog.
    pub timeout_seconds: Option<u32>,
    /// `request.allowPrivateNetwork: true` (2026.4.10 up to the builds with exact-origin trust), without which
    /// those builds block loopback.
    pub allow_private_network: bool,
}

impl Fields {
    /// What every OpenClaw 2026.x accepts.
    pub const BASELINE: Fields =
        Fields { tool_schema_profile: false, timeout_seconds: None, allow_private_network: false };
}

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
    pub fields: Fields,
    /// `gateway.mode` to set when the config has none (only when the user asks: `--gateway-mode`).
    pub gateway_mode: Option<String>,
    /// The kind of server another tool runs (`None`: clawlocal's own llama-server): its API and compat flags.
    pub server: Option<crate::backends::Kind>,
    /// `apiKey` as an env SecretRef (`{source: "env", provider: "default", id}`) instead of the key itself.
    pub api_key_env: Option<String>,
}

impl PatchSpec {
    /// `clawlocal/<model id>`: how OpenClaw refers to the model.
    pub fn model_ref(&self) -> String {
        format!("{}/{}", self.provider_id(), self.model_id)
    }

    /// The provider id the entry goes under: `clawlocal`, except for Ollama, whose native API OpenClaw 2026.9
    /// registers for its bundled `ollama` provider only (a custom id with `api: "ollama"` is refused with "No API
    /// provider registered for api: ollama").
    pub fn provider_id(&self) -> &'static str {
        match self.server {
            Some(crate::backends::Kind::Ollama) => "ollama",
            _ => PROVIDER,
        }
    }

    /// `models.providers.clawlocal`, fields in the order OpenClaw's docs write them.
    pub fn provider(&self) -> Value {
        let api = self.server.map_or("openai-completions", |k| k.api().as_str());
        let key = match &self.api_key_env {
            Some(var) => json!({ "source": "env", "provider": "default", "id": var }),
            None => json!(self.api_key),
        };
        let mut p = json!({ "baseUrl": self.base_url, "apiKey": key, "api": api });
        if let Some(t) = self.fields.timeout_seconds {
            p["timeoutSeconds"] = json!(t);
        }
        if self.fields.allow_private_network {
            p["request"] = json!({ "allowPrivateNetwork": true });
        }
        p["models"] = json!([self.model()]);
        p
    }

    fn model(&self) -> Value {
        use crate::backends::Kind;
        let mut compat = json!({});
        if self.fields.tool_schema_profile && self.server.is_none() {
            compat = json!({ "supportsTools": true, "toolSchemaProfile": "llamacpp" });
        }
        // llama-server (and the servers that stream usage when asked: vLLM, SGLang, LM Studio, LiteLLM,
        // tinygrad, llama-cpp-python) report usage in streams only when asked; without this OpenClaw shows a
        // context of 0. Ollama's native API always reports it; MLX's server does not take the option.
        if !matches!(self.server, Some(Kind::Ollama | Kind::Mlx)) {
            compat["supportsUsageInStreaming"] = json!(true);
        }
        let mut model = json!({
            "id": self.model_id,
            "name": self.model_name,
            "reasoning": false,
            "input": ["text"],
            "cost": {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0},
            "contextWindow": self.context_window,
            "maxTokens": self.max_tokens,
        });
        if compat.as_object().is_some_and(|c| !c.is_empty()) {
            model["compat"] = compat;
        }
        // Ollama's native API takes the context per request: without `num_ctx` it runs at its default (4096).
        if self.server == Some(Kind::Ollama) {
            model["params"] = json!({ "num_ctx": self.context_window });
        }
        model
    }
}

/// Which part of the config a text holds: the whole file, or the `models` section alone (a file that
/// `models: { $include: "…" }` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    Whole,
    Models,
}

fn default_provider() -> String {
    PROVIDER.to_string()
}

fn is_default_provider(p: &String) -> bool {
    p == PROVIDER
}

/// Exactly what a patch added or replaced: what `unpatch` takes away again. Kept in clawlocal's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Changes {
    /// The provider id patched (`clawlocal`, or `ollama` for an Ollama server).
    #[serde(default = "default_provider", skip_serializing_if = "is_default_provider")]
    pub provider: String,
    /// Objects and arrays clawlocal created (dotted paths); unpatch removes them when they are empty again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<String>,
    /// `models.mode: "merge"` was added.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mode_added: bool,
    /// The `clawlocal` provider as it was before (JSON), when there was one; absent: clawlocal added it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_provider: Option<Value>,
    /// Our ref was appended to `agents.defaults.model.fallbacks`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_added: Option<String>,
    /// Our ref became the primary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<PrimaryChange>,
    /// `agents.defaults.model` was a string before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub model_was_string: bool,
    /// Our ref was added to `agents.defaults.models` (the allow-list in some versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_list_added: Option<String>,
    /// Our ref was appended to `agents.defaults.modelPolicy.allow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_allow_added: Option<String>,
    /// `gateway.mode` was added.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gateway_mode_added: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrimaryChange {
    pub reference: String,
    /// The primary it replaced.
    pub previous: Option<String>,
    /// The replaced primary was inserted as the first fallback.
    pub previous_to_fallbacks: bool,
    /// Our ref was a fallback already, at these indexes, and left the list when it became the primary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub was_fallback_at: Vec<usize>,
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            provider: default_provider(),
            created: Vec::new(),
            mode_added: false,
            previous_provider: None,
            fallback_added: None,
            primary: None,
            allow_list_added: None,
            policy_allow_added: None,
            gateway_mode_added: false,
            model_was_string: false,
        }
    }
}

impl Changes {
    /// Fold a later patch of the same file into the record of an earlier one: what the earlier patch found
    /// (the previous provider, the previous primary) stays, since that is what unpatch must restore.
    pub fn then(mut self, later: Changes) -> Changes {
        for c in later.created {
            if !self.created.contains(&c) {
                self.created.push(c);
            }
        }
        self.mode_added |= later.mode_added;
        self.gateway_mode_added |= later.gateway_mode_added;
        self.model_was_string |= later.model_was_string;
        self.fallback_added = self.fallback_added.or(later.fallback_added);
        let later_primary = later.primary.map(|mut p| {
            // Our ref was a fallback only because an earlier patch put it there: nothing to put back.
            if self.fallback_added.as_ref() == Some(&p.reference) {
                p.was_fallback_at.clear();
            }
            p
        });
        self.primary = self.primary.or(later_primary);
        self.allow_list_added = self.allow_list_added.or(later.allow_list_added);
        self.policy_allow_added = self.policy_allow_added.or(later.policy_allow_added);
        self
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    pub text: String,
    /// `text` as JSON (comments dropped).
    pub value: Value,
    pub changed: bool,
    pub warnings: Vec<String>,
    pub changes: Changes,
}

/// Check that `text` is JSON5 as OpenClaw reads it; the error names `origin:line:col`.
pub fn parse_json5(text: &str, origin: &str) -> Result<Value> {
    check_depth(text, origin)?;
    json5::from_str(text.strip_prefix(BOM).unwrap_or(text)).map_err(|e| {
        let at = e.position().map(|p| format!(":{}:{}", p.line + 1, p.column + 1)).unwrap_or_default();
        Error::usage(format!("{origin}{at}: {e}"))
            .with_hint("fix the syntax (OpenClaw cannot read it either); clawlocal changed nothing")
    })
}

/// How deeply objects and arrays may nest in a config clawlocal reads. OpenClaw's own configs nest under ten
/// levels; the parsers recurse per level, so a text tens of thousands deep would overflow the stack.
pub const MAX_DEPTH: usize = 256;

/// Refuse a JSON5 text nested deeper than [`MAX_DEPTH`] before any parser recurses into it, naming where.
pub fn check_depth(text: &str, origin: &str) -> Result<()> {
    let (mut depth, mut too_deep) = (0usize, None);
    scan(
        text,
        |_| {},
        |i, c| {
            match c {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_DEPTH {
                too_deep = Some(i);
            }
            too_deep.is_none()
        },
    );
    let Some(i) = too_deep else { return Ok(()) };
    let (line, col) = line_col(text, i);
    Err(Error::usage(format!(
        "{origin}:{line}:{col}: nested deeper than {MAX_DEPTH} levels; clawlocal does not read it"
    ))
    .with_hint(
        "an OpenClaw config nests a few levels deep: this file is damaged or generated; clawlocal changed nothing",
    ))
}

/// The `//` and `/* */` comments of a JSON5 text, in order: a patch must keep every one.
pub fn comments(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan(text, |c| out.push(if c.starts_with("//") { c.trim_end().to_string() } else { c.to_string() }), |_, _| true);
    out
}

/// One pass over a JSON5 text: `comment` gets each comment, `code` each byte outside strings and comments (with
/// its index) until it returns false.
fn scan(text: &str, mut comment: impl FnMut(&str), mut code: impl FnMut(usize, u8) -> bool) {
    let b = text.as_bytes();
    let (mut i, mut quote) = (0, None::<u8>);
    while i < b.len() {
        match (quote, b[i]) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), b'\\') => i += 1,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b[i]),
            (None, b'/') if matches!(b.get(i + 1), Some(b'/' | b'*')) => {
                let end = if b[i + 1] == b'/' {
                    text[i..].find('\n').map_or(text.len(), |e| i + e)
                } else {
                    text[i + 2..].find("*/").map_or(text.len(), |e| i + 2 + e + 2)
                };
                comment(&text[i..end]);
                i = end;
                continue;
            }
            (None, c) => {
                if !code(i, c) {
                    return;
                }
            }
        }
        i += 1;
    }
}

/// The paths whose value the patch may change besides the provider it writes: the refs it adds.
const CHANGEABLE: [&str; 4] =
    ["agents.defaults.model", "agents.defaults.models", "agents.defaults.modelPolicy.allow", "models.mode"];

/// Every value of `before` that `after` lost or changed outside [`CHANGEABLE`] and the entry of `provider` (the
/// one the patch writes: `clawlocal`, or `ollama` for Ollama's native API), as `path lost|changed`.
pub fn lost(before: &Value, after: &Value, provider: &str) -> Vec<String> {
    fn walk(before: &Value, after: &Value, path: &str, ours: &[String; 2], out: &mut Vec<String>) {
        if CHANGEABLE.contains(&path) || ours.iter().any(|p| p == path) {
            return;
        }
        match (before, after) {
            (Value::Object(b), Value::Object(a)) => {
                for (k, v) in b {
                    match a.get(k) {
                        Some(av) => walk(v, av, &join(path, k), ours, out),
                        None => out.push(format!("{} lost", join(path, k))),
                    }
                }
            }
            (b, a) if b == a => {}
            _ => out.push(format!("{path} changed")),
        }
    }
    let ours = [format!("models.providers.{provider}"), format!("providers.{provider}")];
    let mut out = Vec::new();
    walk(before, after, "", &ours, &mut out);
    out
}

/// What JSON5 (and OpenClaw's parser, npm `json5`) accepts outside strings that jsonc-parser's CST does not:
/// U+FEFF as whitespace mid-file, identifier parts that are not alphanumeric (combining marks, connector
/// punctuation, ZWNJ/ZWJ), and identifiers written with `\uXXXX` escapes. Each gets a one-character stand-in
/// jsonc-parser does accept (a space separator for U+FEFF, a Yi syllable for an identifier part or a whole escaped
/// identifier) that the text does not contain; the CST is edited over the stand-ins and they are swapped back in
/// the output, so the user's bytes stay as they were.
#[derive(Default)]
struct StandIns {
    /// (the original text, its stand-in)
    pairs: Vec<(String, char)>,
}

/// Keys the patcher looks up by name: an escaped identifier that spells one of them would be invisible to the CST
/// under its stand-in, so such a file is refused rather than edited beside the key.
const LOOKED_UP: &[&str] = &[
    "agents",
    "defaults",
    "model",
    "models",
    "primary",
    "fallbacks",
    "mode",
    "providers",
    "modelPolicy",
    "allow",
    "gateway",
    "$include",
    "clawlocal",
    "ollama",
];

impl StandIns {
    /// `text` (already accepted as JSON5) with every such part outside strings and comments replaced.
    fn replace(text: &str, origin: &str) -> Result<(String, StandIns)> {
        let ident =
            |c: char| c.is_alphanumeric() || c == '$' || c == '_' || (!c.is_ascii() && !c.is_whitespace() && c != BOM);
        let mut found: Vec<(usize, usize)> = Vec::new();
        let mut skip_until = 0;
        scan(
            text,
            |_| {},
            |i, b| {
                if i < skip_until || !text.is_char_boundary(i) {
                    return true;
                }
                if b == b'\\' {
                    // An escape in an identifier: the whole identifier is one stand-in.
                    let start =
                        text[..i].char_indices().rev().take_while(|(_, c)| ident(*c)).last().map_or(i, |(j, _)| j);
                    let mut end = i;
                    loop {
                        let rest = &text[end..];
                        if rest.starts_with("\\u")
                            && rest.len() >= 6
                            && rest.as_bytes()[2..6].iter().all(u8::is_ascii_hexdigit)
                        {
                            end += 6;
                        } else if let Some(c) = rest.chars().next().filter(|c| ident(*c)) {
                            end += c.len_utf8();
                        } else {
                            break;
                        }
                    }
                    // Parts of this identifier recorded before its first escape are inside its span now.
                    while found.last().is_some_and(|last| last.1 > start) {
                        found.pop();
                    }
                    found.push((start, end.max(i + 1)));
                    skip_until = end;
                } else if b >= 0x80 {
                    let c = text[i..].chars().next().expect("a char starts here");
                    if c == BOM || (!c.is_whitespace() && !c.is_alphanumeric()) {
                        found.push((i, i + c.len_utf8()));
                    }
                }
                true
            },
        );
        if found.is_empty() {
            return Ok((text.to_string(), StandIns::default()));
        }
        let mut spaces =
            ('\u{2000}'..='\u{200a}').chain(['\u{202f}', '\u{205f}', '\u{3000}']).filter(|c| !text.contains(*c));
        let mut letters = ('\u{a000}'..='\u{a48c}').filter(|c| !text.contains(*c));
        let mut standins = StandIns::default();
        let mut out = String::with_capacity(text.len());
        let mut from = 0;
        for (start, end) in found {
            let original = &text[start..end];
            if original.contains('\\') {
                let decoded = decode_identifier(original);
                if LOOKED_UP.contains(&decoded.as_str()) {
                    let (line, col) = line_col(text, start);
                    return Err(Error::usage(format!(
                        "{origin}:{line}:{col}: the key `{original}` spells `{decoded}` with escapes; clawlocal edits `{decoded}` only when it is written plainly"
                    ))
                    .with_hint(format!("write it as `{decoded}` (OpenClaw reads both the same); clawlocal changed nothing")));
                }
            }
            let stand_in = match standins.pairs.iter().find(|(o, _)| o == original) {
                Some((_, s)) => Some(*s),
                None => {
                    let next = if original == "\u{feff}" { spaces.next() } else { letters.next() };
                    next.inspect(|s| standins.pairs.push((original.to_string(), *s)))
                }
            };
            // Running out needs a file with all of them in it already; the CST parse then names the place.
            if let Some(s) = stand_in {
                out.push_str(&text[from..start]);
                out.push(s);
                from = end;
            }
        }
        out.push_str(&text[from..]);
        Ok((out, standins))
    }

    fn restore(&self, text: String) -> String {
        if self.pairs.is_empty() {
            return text;
        }
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match self.pairs.iter().find(|(_, s)| *s == c) {
                Some((o, _)) => out.push_str(o),
                None => out.push(c),
            }
        }
        out
    }
}

/// An identifier's name with its `\uXXXX` escapes decoded (JSON5 allows them in identifiers).
fn decode_identifier(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at]);
        let hex = &rest[at + 2..(at + 6).min(rest.len())];
        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
            Some(c) => out.push(c),
            None => out.push_str(&rest[at..at + 2]),
        }
        rest = &rest[(at + 6).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A parsed config: the CST, whether it had a BOM, and the origin for messages.
struct Doc {
    root: CstRootNode,
    /// The text's value before any edit.
    value: Value,
    bom: bool,
    origin: String,
    style: Style,
    standins: StandIns,
}

impl Doc {
    fn parse(text: &str, origin: &str) -> Result<Doc> {
        let value = parse_json5(text, origin)?;
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (body, standins) = StandIns::replace(body, origin)?;
        let options = ParseOptions { allow_missing_commas: false, ..ParseOptions::default() };
        let root = CstRootNode::parse(&body, &options).map_err(|e| Error::usage(format!("{origin}: {e}")))?;
        let style = Style::of(&CstNode::Container(root.clone().into()));
        Ok(Doc { root, value, bom, origin: origin.to_string(), style, standins })
    }

    fn refuse(&self, what: impl std::fmt::Display) -> Error {
        Error::usage(format!("{}: {what}", self.origin))
            .with_hint("clawlocal changed nothing; fix the file and run again")
    }

    fn root_object(&self, create: bool) -> Result<Option<CstObject>> {
        match self.root.value() {
            None if create => Ok(Some(self.root.object_value_or_set())),
            None => Ok(None),
            Some(_) => self.root.object_value().map(Some).ok_or_else(|| self.refuse("the top level is not an object")),
        }
    }

    fn finish(&self, before: &str, warnings: Vec<String>, changes: Changes) -> Result<Patched> {
        self.style.apply();
        let mut out = self.standins.restore(self.root.to_string());
        if self.bom {
            out.insert(0, BOM);
        }
        let value = parse_json5(&out, &self.origin)
            .map_err(|e| Error::failure(format!("internal error: the edited config does not parse: {}", e.message)))?;
        Ok(Patched { changed: out != before, text: out, value, warnings, changes })
    }

    /// A key the edit reads or writes must appear once: OpenClaw reads the last copy, the CST the first.
    fn single(&self, parent: &CstObject, path: &str, key: &str) -> Result<()> {
        let count = parent.properties().iter().filter(|p| p.decoded_name().as_deref() == Some(key)).count();
        if count > 1 {
            return Err(self.refuse(format!(
                "`{}` appears {count} times; OpenClaw uses the last one, so clawlocal will not guess which to edit",
                join(path, key)
            )));
        }
        Ok(())
    }

    /// The object at `parent.key`, created (and recorded in `created`) when absent.
    fn child(&self, parent: &CstObject, path: &str, key: &str, created: &mut Vec<String>) -> Result<CstObject> {
        self.no_include(parent, path)?;
        self.single(parent, path, key)?;
        let create = parent.get(key).is_none();
        let obj = parent
            .object_value_or_create(key)
            .ok_or_else(|| self.refuse(format!("`{}` is not an object", join(path, key))))?;
        if create {
            created.push(join(path, key));
            self.style.prop(parent.get(key));
        }
        self.no_include(&obj, &join(path, key))?;
        Ok(obj)
    }

    /// The object at `parent.key` when present.
    fn existing(&self, parent: &CstObject, path: &str, key: &str) -> Result<Option<CstObject>> {
        self.single(parent, path, key)?;
        match parent.get(key) {
            None => Ok(None),
            Some(p) => {
                let obj =
                    p.object_value().ok_or_else(|| self.refuse(format!("`{}` is not an object", join(path, key))))?;
                self.no_include(&obj, &join(path, key))?;
                Ok(Some(obj))
            }
        }
    }

    fn no_include(&self, obj: &CstObject, path: &str) -> Result<()> {
        if obj.get("$include").is_some() {
            let at = if path.is_empty() { "the top level".to_string() } else { format!("`{path}`") };
            return Err(self.refuse(format!(
                "{at} uses $include in a way clawlocal cannot edit without flattening it (only `models: {{ $include: \"one-file\" }}` with no other keys is supported, as OpenClaw's own writer does)"
            )));
        }
        Ok(())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// When the config's `models` section is `{ $include: "<one file>" }` and nothing else, the file it names:
/// OpenClaw's writer edits that file then, and so does clawlocal. Other includes are refused by `patch`.
pub fn models_include(text: &str, origin: &str) -> Result<Option<String>> {
    let doc = Doc::parse(text, origin)?;
    let Some(root) = doc.root_object(false)? else { return Ok(None) };
    doc.no_include(&root, "")?;
    doc.single(&root, "", "models")?;
    let Some(models) = root.get("models").and_then(|p| p.object_value()) else { return Ok(None) };
    let props = models.properties();
    let Some(include) = models.get("$include") else { return Ok(None) };
    match (props.len(), string_value(&include)) {
        (1, Some(file)) => Ok(Some(file)),
        _ => Err(doc.refuse(
            "`models` uses $include with other keys or several files; OpenClaw's writer refuses such a section too, so clawlocal will not flatten it",
        )),
    }
}

/// `text` with its `models: { $include }` pointing at `file` instead: the copy `openclaw config validate` reads
/// when clawlocal checks an edited included file before writing it.
pub fn with_models_include(text: &str, origin: &str, file: &str) -> Result<String> {
    let doc = Doc::parse(text, origin)?;
    let include = doc
        .root_object(false)?
        .and_then(|r| r.object_value("models"))
        .and_then(|m| m.get("$include"))
        .and_then(|p| p.value())
        .and_then(|v| v.as_string_lit())
        .ok_or_else(|| doc.refuse("`models` has no single-file $include"))?;
    include.set_raw_value(quoted(file, '"'));
    doc.finish("", Vec::new(), Changes::default()).map(|p| p.text)
}

/// Patch `text` (the content of `origin`). Pure: the caller writes.
pub fn patch(text: &str, origin: &str, spec: &PatchSpec, section: Section) -> Result<Patched> {
    let doc = Doc::parse(text, origin)?;
    let root = doc.root_object(true)?.expect("created");
    let mut warnings = Vec::new();
    let mut changes = Changes::default();
    let models = match section {
        Section::Whole => {
            doc.no_include(&root, "")?;
            doc.child(&root, "", "models", &mut changes.created)?
        }
        Section::Models => {
            doc.no_include(&root, "models")?;
            root.clone()
        }
    };
    let models_path = "models";

    // models.mode: merge when absent; never changed.
    doc.single(&models, models_path, "mode")?;
    match models.get("mode") {
        None => {
            doc.style.prop(Some(models.insert(0, "mode", CstInputValue::String("merge".into()))));
            changes.mode_added = true;
        }
        Some(p) if string_value(&p).as_deref() == Some("replace") => warnings.push(format!(
            "{origin}: models.mode is \"replace\": OpenClaw then offers only the providers listed here (hosted models are hidden); clawlocal leaves it as it is"
        )),
        Some(_) => {}
    }

    // models.providers.<id>: upsert.
    let id = spec.provider_id();
    changes.provider = id.to_string();
    let providers = doc.child(&models, models_path, "providers", &mut changes.created)?;
    doc.single(&providers, "models.providers", id)?;
    let provider = spec.provider();
    match providers.get(id) {
        None => {
            doc.style.prop(Some(providers.append(id, to_cst(&provider))));
        }
        Some(prop) => {
            let ours =
                prop.object_value().ok_or_else(|| doc.refuse(format!("`models.providers.{id}` is not an object")))?;
            changes.previous_provider = Some(node_value(&prop).unwrap_or(Value::Null));
            merge_provider(&ours, &provider, &spec.model_id, &doc.style);
        }
    }

    match section {
        Section::Whole => {
            patch_agents(&doc, &root, spec, &mut changes)?;
            if let Some(mode) = &spec.gateway_mode {
                let gateway = doc.child(&root, "", "gateway", &mut changes.created)?;
                doc.single(&gateway, "gateway", "mode")?;
                if gateway.get("mode").is_none() {
                    doc.style.prop(Some(gateway.append("mode", CstInputValue::String(mode.clone()))));
                    changes.gateway_mode_added = true;
                }
            }
        }
        Section::Models => warnings.push(format!(
            "{origin} holds only the `models` section (included from openclaw.json), so clawlocal left agents.defaults as it is: to use the model as {role}, run `openclaw models {cmd} {r}`",
            role = spec.role.as_str(),
            cmd = if spec.role == Role::Primary { "set" } else { "fallbacks add" },
            r = spec.model_ref(),
        )),
    }
    let out = doc.finish(text, warnings, changes)?;
    // The invariant, checked on every run: nothing of the user's is lost, not even a comment.
    let missing = lost(&doc.value, &out.value, id);
    if !missing.is_empty() || comments(&out.text) != comments(text) {
        return Err(Error::failure(format!(
            "internal error: the edit of {origin} would lose {}",
            if missing.is_empty() { "a comment".to_string() } else { missing.join(", ") }
        ))
        .with_hint("nothing was written; please report this with the config's shape"));
    }
    Ok(out)
}

fn patch_agents(doc: &Doc, root: &CstObject, spec: &PatchSpec, changes: &mut Changes) -> Result<()> {
    let agents = doc.child(root, "", "agents", &mut changes.created)?;
    let defaults = doc.child(&agents, "agents", "defaults", &mut changes.created)?;
    doc.single(&defaults, "agents.defaults", "model")?;
    let reference = spec.model_ref();
    set_model_ref(&defaults, &reference, spec.role, changes, &doc.style).map_err(|e| doc.refuse(e))?;
    // The allow-list of older versions (a non-empty map restricts `/model`); harmless in newer ones.
    if let Some(allow) = doc.existing(&defaults, "agents.defaults", "models")?
        && allow.get(&reference).is_none()
    {
        doc.style.prop(Some(allow.append(&reference, CstInputValue::Object(Vec::new()))));
        changes.allow_list_added = Some(reference.clone());
    }
    // The allow-list of newer versions: only when it is a non-empty list (empty permits everything).
    if let Some(policy) = doc.existing(&defaults, "agents.defaults", "modelPolicy")?
        && let Some(allow) = policy.array_value("allow")
    {
        let items = allow.elements();
        if !items.is_empty() && !items.iter().any(|e| is_string(e, &reference)) {
            doc.style.node(&allow.append(CstInputValue::String(reference.clone())));
            changes.policy_allow_added = Some(reference);
        }
    }
    Ok(())
}

/// Undo `changes` in `text`. Equal in meaning to the config before the patch, plus whatever else changed since.
pub fn unpatch(text: &str, origin: &str, changes: &Changes, section: Section) -> Result<Patched> {
    let doc = Doc::parse(text, origin)?;
    let Some(root) = doc.root_object(false)? else {
        return doc.finish(text, Vec::new(), Changes::default());
    };
    let models = match section {
        Section::Whole => doc.existing(&root, "", "models")?,
        Section::Models => Some(root.clone()),
    };
    if let Some(models) = &models {
        if let Some(providers) = doc.existing(models, "models", "providers")? {
            doc.single(&providers, "models.providers", &changes.provider)?;
            if let Some(prop) = providers.get(&changes.provider) {
                match &changes.previous_provider {
                    None => prop.remove(),
                    Some(previous) => {
                        prop.set_value(to_cst(previous));
                        doc.style.prop(Some(prop));
                    }
                }
            }
        }
        if changes.mode_added
            && let Some(mode) = models.get("mode")
            && string_value(&mode).as_deref() == Some("merge")
        {
            mode.remove();
        }
    }
    if changes.gateway_mode_added
        && section == Section::Whole
        && let Some(gateway) = doc.existing(&root, "", "gateway")?
        && let Some(mode) = gateway.get("mode")
    {
        mode.remove();
    }
    if section == Section::Whole
        && let Some(agents) = doc.existing(&root, "", "agents")?
        && let Some(defaults) = doc.existing(&agents, "agents", "defaults")?
    {
        unset_model_ref(&defaults, changes, &doc.style);
        if let Some(reference) = &changes.allow_list_added
            && let Some(allow) = doc.existing(&defaults, "agents.defaults", "models")?
            && let Some(p) = allow.get(reference)
        {
            p.remove();
        }
        if let Some(reference) = &changes.policy_allow_added
            && let Some(policy) = doc.existing(&defaults, "agents.defaults", "modelPolicy")?
            && let Some(allow) = policy.array_value("allow")
        {
            allow.elements().into_iter().filter(|e| is_string(e, reference)).for_each(CstNode::remove);
        }
    }
    // Containers clawlocal created go again when nothing else lives in them (deepest first).
    let mut created = changes.created.clone();
    created.sort_by_key(|p| std::cmp::Reverse(p.matches('.').count()));
    for path in created {
        remove_if_empty(&root, &path, section);
    }
    doc.finish(text, Vec::new(), Changes::default())
}

/// When no record of a patch is usable: one of clawlocal's parts found by its names — the `clawlocal` provider,
/// a `clawlocal/…` ref as primary, fallback or allow-list entry — as the `Changes` that take it out (a primary
/// clawlocal replaced cannot be known, so it is removed, not restored). `None`: nothing of clawlocal's is left.
fn marker_changes(value: &Value) -> Option<Changes> {
    let ours = |v: &Value| v.as_str().filter(|r| r.starts_with(&format!("{PROVIDER}/"))).map(String::from);
    let defaults = &value["agents"]["defaults"];
    let changes = Changes {
        previous_provider: None,
        fallback_added: defaults["model"]["fallbacks"].as_array().and_then(|a| a.iter().find_map(ours)),
        primary: ours(&defaults["model"]["primary"]).map(|reference| PrimaryChange {
            reference,
            previous: None,
            previous_to_fallbacks: false,
            was_fallback_at: Vec::new(),
        }),
        allow_list_added: defaults["models"]
            .as_object()
            .and_then(|m| m.keys().find(|k| k.starts_with(&format!("{PROVIDER}/"))).cloned()),
        policy_allow_added: defaults["modelPolicy"]["allow"].as_array().and_then(|a| a.iter().find_map(ours)),
        // Containers a patch creates, removed only when nothing else is left in them.
        created: ["models.providers", "agents.defaults.model.fallbacks", "agents.defaults.models"]
            .map(String::from)
            .to_vec(),
        ..Changes::default()
    };
    let provider = value["models"]["providers"].get(PROVIDER).is_some();
    let any = provider
        || changes.fallback_added.is_some()
        || changes.primary.is_some()
        || changes.allow_list_added.is_some()
        || changes.policy_allow_added.is_some();
    any.then_some(changes)
}

/// Take clawlocal's parts out of `text` by their names alone (no record): see [`marker_changes`].
pub fn unpatch_by_markers(text: &str, origin: &str) -> Result<Patched> {
    let mut current = text.to_string();
    // One ref of each kind per pass; a config holds a handful at most.
    for _ in 0..32 {
        let Some(changes) = marker_changes(&parse_json5(&current, origin)?) else { break };
        let out = unpatch(&current, origin, &changes, Section::Whole)?;
        if out.text == current {
            break;
        }
        current = out.text;
    }
    let value = parse_json5(&current, origin)?;
    Ok(Patched { changed: current != text, text: current, value, warnings: Vec::new(), changes: Changes::default() })
}

fn remove_if_empty(root: &CstObject, path: &str, section: Section) {
    let mut keys: Vec<&str> = path.split('.').collect();
    if section == Section::Models {
        if keys.first() != Some(&"models") {
            return;
        }
        keys.remove(0);
    }
    let Some((last, parents)) = keys.split_last() else { return };
    let mut obj = root.clone();
    for k in parents {
        match obj.object_value(k) {
            Some(o) => obj = o,
            None => return,
        }
    }
    let Some(prop) = obj.get(last) else { return };
    let empty = match prop.value() {
        Some(CstNode::Container(c)) => match (c.as_object(), c.as_array()) {
            (Some(o), _) => o.properties().is_empty(),
            (_, Some(a)) => a.elements().is_empty(),
            _ => false,
        },
        _ => false,
    };
    if empty {
        prop.remove();
    }
}

fn string_value(prop: &CstObjectProp) -> Option<String> {
    match prop.value()? {
        CstNode::Leaf(CstLeafNode::StringLit(s)) => s.decoded_value().ok(),
        _ => None,
    }
}

fn is_string(node: &CstNode, value: &str) -> bool {
    matches!(node, CstNode::Leaf(CstLeafNode::StringLit(s)) if s.decoded_value().ok().as_deref() == Some(value))
}

/// The JSON value of a property's value (comments dropped).
fn node_value(prop: &CstObjectProp) -> Option<Value> {
    json5::from_str(&prop.value()?.to_string()).ok()
}

/// Set a string property, keeping the file's quote style when it already holds a string.
fn set_string(obj: &CstObject, key: &str, value: &str, style: &Style) {
    match obj.get(key) {
        Some(prop) => match prop.value() {
            Some(CstNode::Leaf(CstLeafNode::StringLit(s))) => {
                if s.decoded_value().ok().as_deref() != Some(value) {
                    let quote = s.raw_value().chars().next().filter(|c| *c == '\'').unwrap_or('"');
                    s.set_raw_value(quoted(value, quote));
                }
            }
            _ => {
                prop.set_value(CstInputValue::String(value.into()));
                style.prop(Some(prop));
            }
        },
        None => style.prop(Some(obj.append(key, CstInputValue::String(value.into())))),
    }
}

fn quoted(value: &str, quote: char) -> String {
    let mut out = String::from(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
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

/// Bring `obj` to hold every key of `want` (recursively for objects), touching only what differs and keeping
/// the user's other keys.
fn merge_object(obj: &CstObject, want: &serde_json::Map<String, Value>, style: &Style) {
    for (key, value) in want {
        match (obj.get(key), value) {
            (None, _) => style.prop(Some(obj.append(key, to_cst(value)))),
            (Some(p), Value::String(s)) => {
                if node_value(&p).as_ref() != Some(value) {
                    set_string(obj, key, s, style);
                }
            }
            (Some(p), Value::Object(inner)) if p.object_value().is_some() => {
                merge_object(&p.object_value().expect("checked"), inner, style);
            }
            (Some(p), _) => {
                if node_value(&p).as_ref() != Some(value) {
                    p.set_value(to_cst(value));
                    style.prop(Some(p));
                }
            }
        }
    }
}

/// Bring an existing `clawlocal` provider to what `want` says, keeping the user's extra keys and other models;
/// our model is matched by id.
fn merge_provider(ours: &CstObject, want: &Value, model_id: &str, style: &Style) {
    let mut fields = want.as_object().expect("an object").clone();
    let models = fields.remove("models").expect("models");
    let model = models[0].as_object().expect("an object").clone();
    merge_object(ours, &fields, style);
    let Some(list) = ours.array_value_or_create("models") else {
        let prop = ours.get("models").expect("present");
        prop.set_value(to_cst(&models));
        style.prop(Some(prop));
        return;
    };
    let existing = list.elements().into_iter().find_map(|e| match e {
        CstNode::Container(c) => {
            c.as_object().filter(|o| o.get("id").and_then(|p| string_value(&p)).as_deref() == Some(model_id))
        }
        _ => None,
    });
    match existing {
        None => style.node(&list.append(to_cst(&Value::Object(model)))),
        Some(obj) => merge_object(&obj, &model, style),
    }
}

/// `agents.defaults.model`: fallback appends our ref; primary takes the primary slot and keeps the old one as the
/// first fallback. A string model becomes `{ primary, fallbacks }`.
fn set_model_ref(
    defaults: &CstObject,
    reference: &str,
    role: Role,
    changes: &mut Changes,
    style: &Style,
) -> std::result::Result<(), String> {
    if let Some(prop) = defaults.get("model")
        && let Some(old) = string_value(&prop)
    {
        if old == reference {
            return Ok(());
        }
        changes.model_was_string = true;
        let (primary, fallbacks) = match role {
            Role::Fallback => {
                changes.fallback_added = Some(reference.to_string());
                (old.clone(), vec![reference.to_string()])
            }
            Role::Primary => {
                changes.primary = Some(PrimaryChange {
                    reference: reference.into(),
                    previous: Some(old.clone()),
                    previous_to_fallbacks: true,
                    was_fallback_at: Vec::new(),
                });
                (reference.to_string(), vec![old.clone()])
            }
        };
        prop.set_value(to_cst(&json!({"primary": primary, "fallbacks": fallbacks})));
        style.prop(Some(prop));
        return Ok(());
    }
    let create = defaults.get("model").is_none();
    let model =
        defaults.object_value_or_create("model").ok_or("`agents.defaults.model` is neither a string nor an object")?;
    if create {
        changes.created.push("agents.defaults.model".into());
        style.prop(defaults.get("model"));
    }
    let primary = model.get("primary").and_then(|p| string_value(&p));
    match (role, primary) {
        (_, Some(p)) if p == reference => {}
        (Role::Fallback, Some(_)) => {
            if add_fallback(&model, reference, None, changes, style)? {
                changes.fallback_added = Some(reference.to_string());
            }
        }
        (Role::Fallback | Role::Primary, None) => {
            set_string(&model, "primary", reference, style);
            changes.primary = Some(PrimaryChange {
                reference: reference.into(),
                previous: None,
                previous_to_fallbacks: false,
                was_fallback_at: Vec::new(),
            });
        }
        (Role::Primary, Some(old)) => {
            set_string(&model, "primary", reference, style);
            let was_fallback_at: Vec<usize> = model.array_value("fallbacks").map_or_else(Vec::new, |l| {
                l.elements().iter().enumerate().filter(|(_, e)| is_string(e, reference)).map(|(i, _)| i).collect()
            });
            let moved = add_fallback(&model, &old, Some(0), changes, style)?;
            remove_fallback(&model, reference);
            changes.primary = Some(PrimaryChange {
                reference: reference.into(),
                previous: Some(old),
                previous_to_fallbacks: moved,
                was_fallback_at,
            });
        }
    }
    Ok(())
}

/// Add `reference` to the fallbacks unless it is there; true when added.
fn add_fallback(
    model: &CstObject,
    reference: &str,
    at: Option<usize>,
    changes: &mut Changes,
    style: &Style,
) -> std::result::Result<bool, String> {
    let create = model.get("fallbacks").is_none();
    let list = model.array_value_or_create("fallbacks").ok_or("`agents.defaults.model.fallbacks` is not an array")?;
    if create {
        changes.created.push("agents.defaults.model.fallbacks".into());
        style.prop(model.get("fallbacks"));
    }
    if list.elements().iter().any(|e| is_string(e, reference)) {
        return Ok(false);
    }
    let item = CstInputValue::String(reference.into());
    style.node(&match at {
        Some(i) => list.insert(i, item),
        None => list.append(item),
    });
    Ok(true)
}

fn remove_fallback(model: &CstObject, reference: &str) {
    if let Some(list) = model.array_value("fallbacks") {
        list.elements().into_iter().filter(|e| is_string(e, reference)).for_each(CstNode::remove);
    }
}

/// Undo what `set_model_ref` did, as far as the config still shows it.
fn unset_model_ref(defaults: &CstObject, changes: &Changes, style: &Style) {
    let Some(model) = defaults.object_value("model") else { return };
    if let Some(reference) = &changes.fallback_added {
        remove_fallback(&model, reference);
    }
    if let Some(change) = &changes.primary
        && model.get("primary").and_then(|p| string_value(&p)).as_deref() == Some(change.reference.as_str())
    {
        match &change.previous {
            Some(previous) => {
                set_string(&model, "primary", previous, style);
                if change.previous_to_fallbacks
                    && let Some(list) = model.array_value("fallbacks")
                    && let Some(first) = list.elements().into_iter().find(|e| is_string(e, previous))
                {
                    first.remove();
                }
                if let Some(list) = model.array_value("fallbacks") {
                    for &at in &change.was_fallback_at {
                        let at = at.min(list.elements().len());
                        style.node(&list.insert(at, CstInputValue::String(change.reference.clone())));
                    }
                }
            }
            None => {
                if let Some(p) = model.get("primary") {
                    p.remove();
                }
            }
        }
    }
    // `"model": "x"` before: back to the string when nothing else is left in the object.
    if changes.model_was_string {
        let primary = model.get("primary").and_then(|p| string_value(&p));
        let fallbacks_empty = model.array_value("fallbacks").is_none_or(|a| a.elements().is_empty());
        let only_ours =
            model.properties().iter().all(|p| matches!(p.decoded_name().as_deref(), Some("primary" | "fallbacks")));
        if let Some(primary) = primary
            && fallbacks_empty
            && only_ours
            && let Some(prop) = defaults.get("model")
        {
            prop.set_value(CstInputValue::String(primary));
            style.prop(Some(prop));
        }
    }
}

/// The file's own style, for the keys and strings clawlocal adds (jsonc-parser writes `"key": "value"`):
/// bare keys where the file mostly uses them, single quotes where its strings mostly have them.
/// New nodes are collected and restyled at the end: a restyled key no longer decodes as a string key, and the
/// edit still looks keys up.
#[derive(Debug, Default)]
struct Style {
    bare_keys: bool,
    single_quotes: bool,
    pending: std::cell::RefCell<Vec<CstNode>>,
}

impl Style {
    fn of(node: &CstNode) -> Style {
        let (mut bare, mut quoted_keys, mut single, mut double) = (0usize, 0usize, 0usize, 0usize);
        walk(node, &mut |n| match n {
            CstNode::Container(c) => {
                if let Some(prop) = c.as_object_prop() {
                    match prop.name() {
                        Some(ObjectPropName::Word(_)) => bare += 1,
                        Some(ObjectPropName::String(_)) => quoted_keys += 1,
                        None => {}
                    }
                }
            }
            CstNode::Leaf(CstLeafNode::StringLit(s)) => {
                if s.raw_value().starts_with('\'') {
                    single += 1
                } else {
                    double += 1
                }
            }
            CstNode::Leaf(_) => {}
        });
        Style { bare_keys: bare > quoted_keys, single_quotes: single > double, pending: Default::default() }
    }

    /// Restyle a property clawlocal just wrote (its name and everything in its value).
    fn prop(&self, prop: Option<CstObjectProp>) {
        if let Some(prop) = prop {
            self.node(&CstNode::Container(prop.into()));
        }
    }

    /// Restyle a node clawlocal just wrote, and everything in it (when the edit is finished).
    fn node(&self, node: &CstNode) {
        self.pending.borrow_mut().push(node.clone());
    }

    fn apply(&self) {
        if !self.bare_keys && !self.single_quotes {
            return;
        }
        for node in self.pending.borrow().iter() {
            self.restyle(node);
        }
    }

    fn restyle(&self, node: &CstNode) {
        walk(node, &mut |n| match n {
            CstNode::Container(c) => {
                if let Some(prop) = c.as_object_prop()
                    && self.bare_keys
                    && let Some(ObjectPropName::String(name)) = prop.name()
                    && name.raw_value().starts_with(['"', '\''])
                    && let Ok(decoded) = name.decoded_value()
                    && is_identifier(&decoded)
                {
                    name.set_raw_value(decoded);
                }
            }
            CstNode::Leaf(CstLeafNode::StringLit(s)) if self.single_quotes && s.raw_value().starts_with('"') => {
                // A bare key is no longer a StringLit; only string values (and non-identifier keys) get here.
                if let Ok(decoded) = s.decoded_value() {
                    s.set_raw_value(quoted(&decoded, '\''));
                }
            }
            CstNode::Leaf(_) => {}
        });
    }
}

/// Visit `node` and everything under it.
fn walk(node: &CstNode, f: &mut impl FnMut(&CstNode)) {
    f(node);
    for child in node.children() {
        walk(&child, f);
    }
}

/// An ES5 identifier as JSON5 allows for bare keys (ASCII subset: `$`, `_`, letters, digits after the first).
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '$' || c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '$' || c == '_' || c.is_ascii_alphanumeric())
}

/// serde_json → jsonc-parser input, keeping key order.
fn to_cst(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(to_cst).collect()),
        Value::Object(o) => CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), to_cst(v))).collect()),
    }
}

#[cfg(test)]
pub(crate) mod tests {

    #[test]
    fn deep_nesting_is_refused_before_any_parser_recurses() {
        let deep = |n: usize| format!("{}{}\n", "[".repeat(n), "]".repeat(n));
        assert!(check_depth(&deep(MAX_DEPTH), "ok.json").is_ok());
        let e = check_depth(&deep(100_000), "deep.json").unwrap_err();
        assert!(e.message.starts_with(&format!("deep.json:1:{}: nested deeper than", MAX_DEPTH + 1)), "{}", e.message);
        assert!(parse_json5(&deep(100_000), "deep.json").is_err(), "no stack overflow");
        // Brackets in strings and comments are not nesting.
        let text =
            format!("{{ a: \"{}\", /* {} */ b: 1 }} // {}", "[".repeat(1000), "{".repeat(1000), "[".repeat(1000));
        assert!(check_depth(&text, "s.json").is_ok());
        let doc = format!("{{\"x\": {}1{}}}", "[".repeat(300), "]".repeat(300));
        let e = patch(&doc, "p.json", &spec(Role::Primary), Section::Whole).unwrap_err();
        assert!(e.message.contains("nested deeper than"), "{}", e.message);
    }
    use super::*;

    /// A copy of ../shared/fixtures/openclaw (with its README of expected outcomes).
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openclaw");

    pub(crate) fn spec(role: Role) -> PatchSpec {
        PatchSpec {
            base_url: "http://127.0.0.1:8765/v1".into(),
            api_key: "clawlocal-no-key".into(),
            model_id: "qwen2.5-1.5b-instruct-q4_k_m".into(),
            model_name: "Qwen2.5 1.5B Instruct (local)".into(),
            context_window: 32768,
            max_tokens: 4096,
            role,
            fields: Fields { tool_schema_profile: true, timeout_seconds: Some(300), allow_private_network: false },
            gateway_mode: None,
            server: None,
            api_key_env: None,
        }
    }

    fn fixture(name: &str) -> Option<String> {
        Some(std::fs::read_to_string(std::path::Path::new(FIXTURES).join(name)).expect("fixture present"))
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
                let out =
                    patch(&text, name, &spec(role), Section::Whole).unwrap_or_else(|e| panic!("{name}: {}", e.message));
                assert!(out.changed, "{name}");
                assert_eq!(comments(&out.text), comments(&text), "{name}: comments kept in order");
                let (before, after) = (parse_json5(&text, name).unwrap(), parse_json5(&out.text, name).unwrap());
                assert_eq!(lost(&before, &after, "clawlocal"), Vec::<String>::new(), "{name} {role:?}");
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
                let again = patch(&out.text, name, &spec(role), Section::Whole).unwrap();
                assert!(!again.changed, "{name} {role:?}: a second patch changes no byte:\n{}", again.text);
            }
        }
        // 03: the allow-list gets our ref; 04: replace stays, with a warning; 06: BOM kept.
        let out = patch(&fixture(files[2]).unwrap(), "03", &spec(Role::Fallback), Section::Whole).unwrap();
        assert!(parse_json5(&out.text, "03").unwrap()["agents"]["defaults"]["models"]["clawlocal/qwen2.5-1.5b-instruct-q4_k_m"].is_object());
        let text4 = fixture(files[3]).unwrap();
        let out = patch(&text4, "04", &spec(Role::Fallback), Section::Whole).unwrap();
        assert!(out.warnings.iter().any(|w| w.contains("replace")));
        assert!(out.text.contains("${VLLM_API_KEY}") || !text4.contains("${VLLM_API_KEY}"));
        assert_eq!(parse_json5(&out.text, "04").unwrap()["models"]["mode"], "replace");
        assert!(
            patch(&fixture(files[5]).unwrap(), "06", &spec(Role::Fallback), Section::Whole)
                .unwrap()
                .text
                .starts_with(BOM)
        );
    }

    #[test]
    fn broken_and_ambiguous_configs_are_refused_with_where() {
        let Some(broken) = fixture("08-broken-missing-comma.json5") else { return };
        let e = patch(&broken, "08.json5", &spec(Role::Fallback), Section::Whole).unwrap_err();
        assert!(
            e.message.starts_with("08.json5:") && e.message.split(':').nth(1).is_some_and(|l| l.parse::<u32>().is_ok()),
            "{}",
            e.message
        );
        let dup = fixture("09-duplicate-keys.json5").unwrap();
        let e = patch(&dup, "09.json5", &spec(Role::Fallback), Section::Whole).unwrap_err();
        assert!(e.message.contains("`models` appears 2 times"), "{}", e.message);
        let e = patch("{ models: 'oops' }", "x", &spec(Role::Fallback), Section::Whole).unwrap_err();
        assert!(e.message.contains("`models` is not an object"), "{}", e.message);
        let e = patch("[1]", "x", &spec(Role::Fallback), Section::Whole).unwrap_err();
        assert!(e.message.contains("top level is not an object"), "{}", e.message);
    }

    #[test]
    fn the_diff_of_a_commented_config_is_only_the_new_block_and_the_fallback() {
        let text = fixture("01-commented-cloud-primary.json5").unwrap();
        let out = patch(&text, "01", &spec(Role::Fallback), Section::Whole).unwrap();
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
        let out = patch("{}", "x", &spec(Role::Fallback), Section::Whole).unwrap();
        let v = parse_json5(&out.text, "x").unwrap();
        assert_eq!(v["models"]["mode"], "merge");
        assert_eq!(
            v["agents"]["defaults"]["model"]["primary"], "clawlocal/qwen2.5-1.5b-instruct-q4_k_m",
            "no primary yet: ours"
        );
        assert!(!patch(&out.text, "x", &spec(Role::Fallback), Section::Whole).unwrap().changed);
    }

    /// Patch then unpatch gives the original bytes back for every fixture, both roles; patching twice first
    /// (the second a no-op) changes nothing about that.
    #[test]
    fn unpatch_gives_back_the_original_bytes() {
        let mut texts: Vec<(String, String)> = [
            "01-commented-cloud-primary.json5",
            "02-string-model.json5",
            "03-existing-local-providers.json5",
            "04-replace-mode-env-key.json5",
            "05-json5-syntax-zoo.json5",
            "06-bom-strict-json.json",
        ]
        .iter()
        .map(|n| (n.to_string(), fixture(n).unwrap()))
        .collect();
        for (i, t) in
            ["{}", "{}\n", "// nothing yet\n{\n}\n", "{ agents: { defaults: { model: 'a/b' } } }"].iter().enumerate()
        {
            texts.push((format!("inline-{i}"), t.to_string()));
        }
        for (name, text) in &texts {
            for role in [Role::Fallback, Role::Primary] {
                let out = patch(text, name, &spec(role), Section::Whole).unwrap();
                let back = unpatch(&out.text, name, &out.changes, Section::Whole).unwrap();
                let meaning =
                    |t: &str| if t.trim().is_empty() { serde_json::json!({}) } else { parse_json5(t, name).unwrap() };
                assert_eq!(meaning(&back.text), meaning(text), "{name} {role:?}: equal in meaning\n{}", back.text);
                let again = patch(&out.text, name, &spec(role), Section::Whole).unwrap();
                let changes = out.changes.clone().then(again.changes);
                let back2 = unpatch(&again.text, name, &changes, Section::Whole).unwrap();
                assert_eq!(meaning(&back2.text), meaning(text), "{name} {role:?}: after a repeated patch");
            }
        }
    }

    /// JSON5 that OpenClaw's parser (npm json5) accepts and jsonc-parser's CST does not (issue 21 item 10): U+FEFF
    /// as whitespace mid-file, identifiers with a combining mark, a connector and a ZWJ. Patched and unpatched,
    /// every one of those characters is where it was.
    #[test]
    fn json5_whitespace_and_identifier_parts_the_cst_lacks_are_kept() {
        let text = "{\u{feff}\n  cafe\u{301}: 1,\n  a\u{203f}b: { x\u{200d}y: 'kept \u{feff}' },\n  \u{feff}agents: { defaults: { model: 'cloud/m' } }, // note\n}\n";
        assert!(parse_json5(text, "u.json5").is_ok(), "valid JSON5");
        assert!(CstRootNode::parse(text, &ParseOptions::default()).is_err(), "the CST alone refuses it");
        let out =
            patch(text, "u.json5", &spec(Role::Primary), Section::Whole).unwrap_or_else(|e| panic!("{}", e.message));
        for c in ['\u{feff}', '\u{301}', '\u{203f}', '\u{200d}'] {
            assert_eq!(out.text.matches(c).count(), text.matches(c).count(), "{c:?} kept\n{}", out.text);
        }
        assert!(!out.text.contains('\u{2000}') && !out.text.contains('\u{a000}'), "no stand-in left\n{}", out.text);
        let (before, after) = (parse_json5(text, "u").unwrap(), parse_json5(&out.text, "u").unwrap());
        assert_eq!(lost(&before, &after, "clawlocal"), Vec::<String>::new());
        assert_eq!(after["agents"]["defaults"]["model"]["primary"], "clawlocal/qwen2.5-1.5b-instruct-q4_k_m");
        let back = unpatch(&out.text, "u.json5", &out.changes, Section::Whole).unwrap();
        assert_eq!(parse_json5(&back.text, "u").unwrap(), before);
        assert_eq!(comments(&back.text), comments(text));

        // Identifiers written with escapes: kept as written; one that spells a key the patch edits is refused.
        let text = "{ caf\\u00e9: 1, \\u0041b\\u0043: { d: 2 }, agents: { defaults: {} } }\n";
        let out =
            patch(text, "e.json5", &spec(Role::Primary), Section::Whole).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(out.text.contains("caf\\u00e9: 1,") && out.text.contains("\\u0041b\\u0043: { d: 2 }"), "{}", out.text);
        let keys: Vec<String> = parse_json5(&out.text, "e").unwrap().as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{keys:?}");
        // Combining marks before the escape in the same identifier: one span, kept as written.
        let text = "{ a\u{301}b\u{301}c\\u0041: 1 }\n";
        assert!(parse_json5(text, "m").is_ok(), "valid JSON5");
        let out =
            patch(text, "m.json5", &spec(Role::Primary), Section::Whole).unwrap_or_else(|e| panic!("{}", e.message));
        assert!(out.text.contains("a\u{301}b\u{301}c\\u0041: 1"), "{}", out.text);
        let text = "{\n  \\u0061gents: { defaults: { model: 'cloud/m' } },\n}\n";
        let e = patch(text, "e.json5", &spec(Role::Primary), Section::Whole).unwrap_err();
        assert!(e.message.starts_with("e.json5:2:3: the key `\\u0061gents` spells `agents`"), "{}", e.message);
    }

    #[test]
    fn a_role_switch_and_an_existing_provider_are_undone_too() {
        let text = "{ models: { providers: { clawlocal: { baseUrl: 'http://127.0.0.1:1/v1', api: 'openai-completions', models: [], mine: 1 } } }, agents: { defaults: { model: { primary: 'a/b', fallbacks: ['c/d'] } } } }";
        let first = patch(text, "x", &spec(Role::Fallback), Section::Whole).unwrap();
        let second = patch(&first.text, "x", &spec(Role::Primary), Section::Whole).unwrap();
        let v = parse_json5(&second.text, "x").unwrap();
        assert_eq!(
            v["agents"]["defaults"]["model"],
            serde_json::json!({"primary": "clawlocal/qwen2.5-1.5b-instruct-q4_k_m", "fallbacks": ["a/b", "c/d"]})
        );
        assert_eq!(v["models"]["providers"]["clawlocal"]["mine"], 1, "the user's key is kept");
        let back = unpatch(&second.text, "x", &first.changes.clone().then(second.changes), Section::Whole).unwrap();
        assert_eq!(parse_json5(&back.text, "x").unwrap(), parse_json5(text, "x").unwrap(), "{}", back.text);
    }

    #[test]
    fn an_included_models_file_is_patched_as_the_models_section() {
        let root = fixture("07-include-models.json5").unwrap();
        assert_eq!(models_include(&root, "07").unwrap().as_deref(), Some("./models.json5"));
        let moved = with_models_include(&root, "07", "./.models.json5.candidate").unwrap();
        assert_eq!(moved, root.replace("\"./models.json5\"", "\"./.models.json5.candidate\""));
        let e = patch(&root, "07", &spec(Role::Fallback), Section::Whole).unwrap_err();
        assert!(e.message.contains("$include"), "{}", e.message);
        let included = fixture("models.json5").unwrap();
        let out = patch(&included, "models.json5", &spec(Role::Fallback), Section::Models).unwrap();
        let v = parse_json5(&out.text, "m").unwrap();
        assert_eq!(v["providers"]["clawlocal"]["api"], "openai-completions");
        assert!(v.get("agents").is_none() && v.get("models").is_none(), "{}", out.text);
        assert!(out.warnings.iter().any(|w| w.contains("openclaw models fallbacks add clawlocal/")));
        let back = unpatch(&out.text, "m", &out.changes, Section::Models).unwrap();
        assert_eq!(parse_json5(&back.text, "m").unwrap(), parse_json5(&included, "m").unwrap());
        for bad in ["{ models: { $include: './a.json5', mode: 'merge' } }", "{ models: { $include: ['a', 'b'] } }"] {
            assert!(models_include(bad, "x").is_err(), "{bad}");
        }
        assert!(models_include("{ $include: './all.json5' }", "x").is_err());
    }

    #[test]
    fn new_keys_follow_the_files_style() {
        let text = "// bare keys, single quotes\n{\n  gateway: { mode: 'local' },\n}\n";
        let out = patch(text, "x", &spec(Role::Fallback), Section::Whole).unwrap();
        assert!(out.text.contains("  models: {\n    mode: 'merge',"), "{}", out.text);
        assert!(out.text.contains("baseUrl: 'http://127.0.0.1:8765/v1'"), "{}", out.text);
        assert!(out.text.contains("primary: 'clawlocal/qwen2.5-1.5b-instruct-q4_k_m'"), "{}", out.text);
        assert!(!out.text.contains('"'), "no double quotes in a single-quoted file:\n{}", out.text);
        assert!(!patch(&out.text, "x", &spec(Role::Fallback), Section::Whole).unwrap().changed);
        let strict = patch("{\"gateway\": {\"mode\": \"local\"}}", "x", &spec(Role::Primary), Section::Whole).unwrap();
        assert!(strict.text.contains("\"models\": {") && !strict.text.contains('\''), "{}", strict.text);
        serde_json::from_str::<serde_json::Value>(&strict.text).expect("strict JSON stays strict JSON");
    }

    #[test]
    fn gateway_mode_is_added_only_when_asked_and_absent_and_undone() {
        let mut with_mode = spec(Role::Fallback);
        with_mode.gateway_mode = Some("local".into());
        let out = patch("{}", "x", &with_mode, Section::Whole).unwrap();
        assert_eq!(parse_json5(&out.text, "x").unwrap()["gateway"]["mode"], "local");
        let back = unpatch(&out.text, "x", &out.changes, Section::Whole).unwrap();
        assert_eq!(parse_json5(&back.text, "x").unwrap(), serde_json::json!({}), "{}", back.text);
        let kept = patch("{ gateway: { mode: 'remote' } }", "x", &with_mode, Section::Whole).unwrap();
        assert_eq!(parse_json5(&kept.text, "x").unwrap()["gateway"]["mode"], "remote");
        assert!(
            parse_json5(&patch("{}", "x", &spec(Role::Fallback), Section::Whole).unwrap().text, "x")
                .unwrap()
                .get("gateway")
                .is_none()
        );
    }

    /// Generated JSON5 configs (random shapes around the keys the patch touches, random syntax: bare or quoted
    /// keys, quote styles, comments, trailing commas): patch never panics; when it edits, nothing is lost and
    /// unpatch restores the meaning; when it refuses, the error names the origin.
    mod generated {
        use super::*;
        use proptest::prelude::*;

        const KEYS: [&str; 12] = [
            "models",
            "agents",
            "defaults",
            "model",
            "providers",
            "fallbacks",
            "primary",
            "mode",
            "clawlocal",
            "modelPolicy",
            "allow",
            "x-y",
        ];

        fn text(v: &Value, style: u8, out: &mut String) {
            let comment = |out: &mut String| {
                if style & 4 != 0 {
                    out.push_str(" /* c */ ");
                }
            };
            match v {
                Value::Object(map) => {
                    out.push('{');
                    for (i, (k, v)) in map.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        if style & 8 != 0 {
                            out.push_str("\n  // note\n");
                        }
                        if style & 1 != 0 && is_identifier(k) {
                            out.push_str(k);
                        } else {
                            out.push_str(&serde_json::to_string(k).unwrap());
                        }
                        out.push(':');
                        comment(out);
                        text(v, style, out);
                    }
                    if style & 16 != 0 && !map.is_empty() {
                        out.push(',');
                    }
                    out.push('}');
                }
                Value::Array(items) => {
                    out.push('[');
                    for (i, v) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        text(v, style, out);
                    }
                    out.push(']');
                }
                Value::String(s) if style & 2 != 0 && !s.contains(['\'', '\\']) => out.push_str(&format!("'{s}'")),
                other => out.push_str(&other.to_string()),
            }
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                (-1000i64..100_000).prop_map(|n| json!(n)),
                prop::sample::select(vec!["a/b", "clawlocal/m", "merge", "replace", "x y", "é", "", "${VAR}"])
                    .prop_map(|s| json!(s)),
            ];
            leaf.prop_recursive(5, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..5)
                        .prop_map(|kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()) }),
                ]
            })
        }

        fn config() -> impl Strategy<Value = Value> {
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), value()), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        }

        /// Configs shaped like real ones: `models` and `agents.defaults` with the keys the patch reads, mixed with
        /// random extras, so that most cases get past the checks and exercise the edit.
        fn shaped() -> impl Strategy<Value = Value> {
            let refs = prop::sample::select(vec!["a/b", "c/d", "clawlocal/qwen2.5-1.5b-instruct-q4_k_m"]);
            let model = prop_oneof![
                refs.clone().prop_map(|r| json!(r)),
                (prop::option::of(refs.clone()), prop::option::of(prop::collection::vec(refs.clone(), 0..3))).prop_map(
                    |(p, f)| {
                        let mut m = json!({});
                        if let Some(p) = p {
                            m["primary"] = json!(p);
                        }
                        if let Some(f) = f {
                            m["fallbacks"] = json!(f);
                        }
                        m
                    }
                ),
            ];
            let provider = (value(), any::<bool>()).prop_map(|(extra, ours)| {
                let mut p = json!({"baseUrl": "http://127.0.0.1:1/v1", "api": "openai-completions", "models": [{"id": "o", "name": "O"}], "extra": extra});
                if ours { p["models"] = json!([{"id": "qwen2.5-1.5b-instruct-q4_k_m", "name": "old", "contextWindow": 1}]); }
                p
            });
            (
                prop::option::of(prop::sample::select(vec!["merge", "replace"])),
                prop::option::of(prop::collection::vec(
                    (prop::sample::select(vec!["clawlocal", "other"]), provider),
                    0..2,
                )),
                prop::option::of(model),
                prop::option::of(prop::collection::vec(refs.clone(), 0..3)),
                prop::option::of(prop::collection::vec(refs, 0..3)),
                config(),
            )
                .prop_map(|(mode, providers, model, allow_map, policy, mut extra)| {
                    let mut models = json!({});
                    if let Some(m) = mode {
                        models["mode"] = json!(m);
                    }
                    if let Some(ps) = providers {
                        models["providers"] = Value::Object(ps.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
                    }
                    let mut defaults = json!({});
                    if let Some(m) = model {
                        defaults["model"] = m;
                    }
                    if let Some(a) = allow_map {
                        defaults["models"] = Value::Object(a.into_iter().map(|r| (r.to_string(), json!({}))).collect());
                    }
                    if let Some(p) = policy {
                        defaults["modelPolicy"] = json!({"allow": p});
                    }
                    let obj = extra.as_object_mut().unwrap();
                    obj.insert("models".into(), models);
                    obj.insert("agents".into(), json!({"defaults": defaults}));
                    extra
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
            #[test]
            fn shaped_configs_patch_and_unpatch_exactly(config in shaped(), style in 0u8..32, primary in any::<bool>()) {
                let mut src = String::new();
                text(&config, style, &mut src);
                let role = if primary { Role::Primary } else { Role::Fallback };
                let out = patch(&src, "gen.json5", &spec(role), Section::Whole).map_err(|e| TestCaseError::fail(format!("{src}: {}", e.message)))?;
                let after = parse_json5(&out.text, "gen").unwrap();
                prop_assert_eq!(lost(&config, &after, "clawlocal"), Vec::<String>::new(), "{}\n=>\n{}", src, out.text);
                let fallbacks = after["agents"]["defaults"]["model"]["fallbacks"].as_array().cloned().unwrap_or_default();
                let ours = json!("clawlocal/qwen2.5-1.5b-instruct-q4_k_m");
                let model = &after["agents"]["defaults"]["model"];
                prop_assert!(*model == ours || model["primary"] == ours || fallbacks.contains(&ours), "{}", out.text);
                if let Some(old) = config["agents"]["defaults"]["model"]["fallbacks"].as_array() {
                    let kept: Vec<&Value> = fallbacks.iter().filter(|f| old.contains(f)).collect();
                    let before: Vec<&Value> = old.iter().filter(|f| **f != ours).collect();
                    prop_assert_eq!(kept.into_iter().filter(|f| **f != ours).collect::<Vec<_>>(), before, "fallbacks kept in order");
                }
                let back = unpatch(&out.text, "gen.json5", &out.changes, Section::Whole).unwrap();
                prop_assert_eq!(parse_json5(&back.text, "gen").unwrap(), config, "{}\n=>\n{}\n=>\n{}", src, out.text, back.text);
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
            #[test]
            fn patch_never_panics_nor_loses_a_key(config in config(), style in 0u8..32, primary in any::<bool>()) {
                let mut src = String::new();
                text(&config, style, &mut src);
                let role = if primary { Role::Primary } else { Role::Fallback };
                match patch(&src, "gen.json5", &spec(role), Section::Whole) {
                    Ok(out) => {
                        let after = parse_json5(&out.text, "gen").unwrap();
                        prop_assert_eq!(lost(&config, &after, "clawlocal"), Vec::<String>::new(), "{}\n=>\n{}", src, out.text);
                        prop_assert_eq!(comments(&out.text), comments(&src));
                        prop_assert_eq!(&after["models"]["providers"]["clawlocal"]["api"], "openai-completions");
                        let again = patch(&out.text, "gen.json5", &spec(role), Section::Whole).unwrap();
                        prop_assert!(!again.changed, "idempotent:\n{}", out.text);
                        let back = unpatch(&out.text, "gen.json5", &out.changes, Section::Whole).unwrap();
                        prop_assert_eq!(parse_json5(&back.text, "gen").unwrap(), config, "{}\n=>\n{}\n=>\n{}", src, out.text, back.text);
                    }
                    Err(e) => prop_assert!(e.message.starts_with("gen.json5:") && e.exit == crate::error::Exit::Usage, "{}: {}", src, e.message),
                }
            }
        }
    }
}
