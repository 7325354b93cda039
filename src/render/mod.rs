//! Unit files from a plan: tera templates (`templates/`, embedded) for the systemd system and user units, the
//! launchd plist and the compose file. Pure: a function of `UnitSpec`. Every value that enters a template is
//! checked (no control characters: a newline would add directives) and escaped for its format by a filter:
//! `systemd_word` (quoting, `%` specifiers, `$` variables), `systemd_text`, `systemd_path`, `xml`, `yaml`
//! (a double-quoted scalar, with compose's `$` interpolation escaped).

pub mod fleet;
pub mod service;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tera::{Context, Tera, Value};

use crate::engine::args::{Placement, ServerArgs};
use crate::error::{Error, Result};
use crate::layout::{COMPOSE_SERVICE, LAUNCHD_LABEL, Layout, Scope, UNIT_NAME};
use crate::profile::{AcceleratorKind, Profile, ServiceKind};

/// The first line of every file clawlocal renders; a file at the path without it is the user's, never replaced.
pub const MANAGED_MARK: &str = "Managed by clawlocal";
/// The official llama.cpp server images, at the pinned release.
pub const IMAGE_CPU: &str = "ghcr.io/ggml-org/llama.cpp:server-b11160";
pub const IMAGE_CUDA: &str = "ghcr.io/ggml-org/llama.cpp:server-cuda-b11160";
pub const IMAGE_VULKAN: &str = "ghcr.io/ggml-org/llama.cpp:server-vulkan-b11160";
/// Where the compose service sees the model's Hub cache folder.
const MODEL_MOUNT: &str = "/models";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    SystemdSystem,
    SystemdUser,
    Launchd,
    Compose,
}

impl Target {
    /// The `--service` value that renders this target.
    pub fn service_name(self) -> &'static str {
        match self {
            Self::SystemdSystem | Self::SystemdUser => "systemd",
            Self::Launchd => "launchd",
            Self::Compose => "compose",
        }
    }
}

/// Everything a unit is made of, resolved to host paths.
#[derive(Debug, Clone)]
pub struct UnitSpec<'a> {
    pub engine: &'a Path,
    pub server: &'a ServerArgs,
    /// The snapshot entry in the Hub cache (what `--model` gets on the host).
    pub model: &'a Path,
    /// The Hub cache's `models--ORG--NAME` folder holding it (mounted whole, so snapshot links resolve).
    pub repo_dir: &'a Path,
    pub port: u16,
    pub api_key_file: &'a Path,
    pub profile: &'a Profile,
    pub layout: &'a Layout,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub target: Target,
    pub path: PathBuf,
    #[serde(skip)]
    pub text: String,
}

/// The file(s) a service kind installs: systemd by scope, launchd, compose; none for `none`.
pub fn for_service(kind: ServiceKind, spec: &UnitSpec<'_>) -> Result<Vec<Rendered>> {
    match target_for(kind, spec.layout.scope) {
        Some(target) => Ok(vec![render(target, spec)?]),
        None => Ok(Vec::new()),
    }
}

/// The file kind a service choice renders in a scope; `None` for `--service none`.
pub fn target_for(kind: ServiceKind, scope: Scope) -> Option<Target> {
    match (kind, scope) {
        (ServiceKind::Systemd, Scope::System) => Some(Target::SystemdSystem),
        (ServiceKind::Systemd, Scope::User) => Some(Target::SystemdUser),
        (ServiceKind::Launchd, _) => Some(Target::Launchd),
        (ServiceKind::Compose, _) => Some(Target::Compose),
        (ServiceKind::None, _) => None,
    }
}

fn render(target: Target, spec: &UnitSpec<'_>) -> Result<Rendered> {
    let layout = spec.layout;
    let (template, path) = match target {
        Target::SystemdSystem => ("systemd-system.service", layout.systemd_unit.clone()),
        Target::SystemdUser => ("systemd-user.service", layout.systemd_unit.clone()),
        Target::Launchd => ("launchd.plist", layout.launchd_plist.clone()),
        Target::Compose => ("compose.yaml", layout.compose_file.clone()),
    };
    if target == Target::SystemdSystem {
        hidden_from_the_unit(spec)?;
    }
    if matches!(target, Target::SystemdSystem | Target::SystemdUser) {
        check_exec_path(spec.engine)?;
    }
    let seen = |p: &Path| layout.in_image(p).to_string_lossy().into_owned();
    let engine = checked("the engine path", &seen(spec.engine))?;
    let model = checked("the model path", &seen(spec.model))?;
    let key = checked("the API key file", &seen(spec.api_key_file))?;
    let host_argv =
        |api_key_file| spec.server.argv(Placement { model: &model, host: "127.0.0.1", port: spec.port, api_key_file });
    let mut ctx = Context::new();
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("unit", UNIT_NAME);
    ctx.insert("engine", &engine);
    ctx.insert("description", &format!("clawlocal: llama-server for OpenClaw ({})", spec.server.alias));
    ctx.insert("api_key_file", &key);
    let kind = spec.profile.accelerator.as_ref().map(|a| a.kind);
    ctx.insert("cuda", &(kind == Some(AcceleratorKind::Cuda)));
    ctx.insert("vulkan", &(kind == Some(AcceleratorKind::Vulkan)));
    // A GPU driver may map executable memory (CUDA's JIT, some Vulkan drivers): no MemoryDenyWriteExecute.
    ctx.insert("gpu", &kind.is_some_and(AcceleratorKind::discrete));
    ctx.insert("gpu_groups", &layout.gpu_groups.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
    ctx.insert("gpu_gids", &layout.gpu_groups.iter().map(|(_, g)| g.to_string()).collect::<Vec<_>>());
    ctx.insert("mlock", &spec.server.mlock);
    let memory_max = memory_max(spec.profile);
    ctx.insert("memory_max", &memory_max);
    ctx.insert("memory_high", &(memory_max / 10 * 9));
    ctx.insert("cpu_quota", &(spec.profile.cores * 100));
    match target {
        // The system unit gets the key through LoadCredential (the template adds that argument).
        Target::SystemdSystem => ctx.insert("args", &host_argv(None)),
        Target::SystemdUser => ctx.insert("args", &host_argv(Some(&key))),
        Target::Launchd => {
            ctx.insert("args", &host_argv(Some(&key)));
            ctx.insert("label", LAUNCHD_LABEL);
            ctx.insert("working_dir", &checked("the state dir", &seen(&layout.state_dir))?);
            ctx.insert("log_file", &checked("the log dir", &seen(&layout.log_dir.join("llm.log")))?);
        }
        Target::Compose => {
            let repo_dir = checked("the model's cache folder", &seen(spec.repo_dir))?;
            let inside = spec.model.strip_prefix(spec.repo_dir).map_err(|_| {
                Error::usage(format!("the model {} is not inside {}", spec.model.display(), spec.repo_dir.display()))
            })?;
            let model_in = Path::new(MODEL_MOUNT).join(inside).to_string_lossy().into_owned();
            // Inside the container the server listens on every interface; the host publishes loopback only.
            let argv = spec.server.argv(Placement {
                model: &model_in,
                host: "0.0.0.0",
                port: spec.port,
                api_key_file: Some("/run/secrets/api-key"),
            });
            ctx.insert("args", &argv);
            ctx.insert("service", COMPOSE_SERVICE);
            let pinned = match kind {
                Some(AcceleratorKind::Cuda) => IMAGE_CUDA,
                Some(AcceleratorKind::Vulkan) => IMAGE_VULKAN,
                _ => IMAGE_CPU,
            };
            ctx.insert("image", &checked("CLAWLOCAL_ENGINE_IMAGE", layout.engine_image.as_deref().unwrap_or(pinned))?);
            ctx.insert("port_binding", &format!("127.0.0.1:{0}:{0}", spec.port));
            ctx.insert("model_dir", &repo_dir);
            ctx.insert("model_mount", MODEL_MOUNT);
            ctx.insert("health_url", &crate::plan::Endpoint::new(spec.port).health_url());
            ctx.insert("cpus", &spec.profile.cores);
        }
    }
    let text = templates()
        .render(template, &ctx)
        .map_err(|e| Error::failure(format!("rendering {template}: {}", error_chain(&e))))?;
    Ok(Rendered { target, path, text })
}

/// RAM the engine may use: the profile's memory less its reserve (the gateway and the OS keep the rest).
pub fn memory_max(profile: &Profile) -> u64 {
    profile.memory.bytes().saturating_sub(profile.reserve_bytes())
}

/// The system unit runs as a dynamic user with ProtectHome: an engine or model under /home or /root is invisible.
fn hidden_from_the_unit(spec: &UnitSpec<'_>) -> Result<()> {
    let strip =
        |p: &Path| spec.layout.root.as_ref().and_then(|r| p.strip_prefix(r).ok()).map(|p| Path::new("/").join(p));
    for (what, path) in [("the engine", spec.engine), ("the model", spec.model)] {
        let seen = strip(path).unwrap_or_else(|| path.to_path_buf());
        if ["/home", "/root", "/run/user"].iter().any(|h| seen.as_path().starts_with(h)) {
            return Err(Error::usage(format!(
                "{what} {} is under a home directory, which the hardened system unit cannot see (ProtectHome=yes)",
                seen.display()
            ))
            .with_hint(
                "`clawlocal engine install --scope system` puts the engine in /opt/clawlocal; keep HF_HUB_CACHE \
                 outside /home for system scope, or use --scope user",
            ));
        }
    }
    Ok(())
}

/// What the hardened system unit cannot see, found while planning (before a download): its `/tmp` and
/// `/var/tmp` are private and empty (`PrivateTmp=yes`), homes are hidden (`ProtectHome=yes`), and it runs as a
/// dynamic user that is not root, so every directory on the way must let others in and a file must let others
/// read it. Paths are judged as the image sees them under `--root`; only the part below the root is walked.
pub fn visible_to_system_unit(layout: &Layout, what: &str, path: &Path) -> Result<()> {
    let seen = layout.in_image(path);
    let hint = "keep the engine and HF_HUB_CACHE (or HF_HOME) where every user can read them, outside /tmp, \
                /var/tmp and /home (the defaults: /opt/clawlocal/engine, /var/cache/clawlocal/huggingface), or \
                use --scope user";
    if ["/tmp", "/var/tmp"].iter().any(|t| seen.as_path().starts_with(t)) {
        return Err(Error::usage(format!(
            "{what} {} is under /tmp or /var/tmp, which the hardened system unit replaces with a private, empty \
             one (PrivateTmp=yes): the engine would not find it",
            seen.display()
        ))
        .with_hint(hint));
    }
    if ["/home", "/root", "/run/user"].iter().any(|h| seen.as_path().starts_with(h)) {
        return Err(Error::usage(format!(
            "{what} {} is under a home directory, which the hardened system unit cannot see (ProtectHome=yes)",
            seen.display()
        ))
        .with_hint(hint));
    }
    use std::os::unix::fs::PermissionsExt;
    let stop = layout.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let mut at = Some(path);
    while let Some(p) = at.filter(|p| *p != stop && p.starts_with(&stop)) {
        if let Ok(meta) = std::fs::metadata(p) {
            let mode = meta.permissions().mode();
            let (blocked, needs) =
                if meta.is_dir() { (mode & 0o001 == 0, "enter") } else { (mode & 0o004 == 0, "read") };
            if blocked {
                return Err(Error::usage(format!(
                    "{what} {}: {} is mode {:04o}, so the system unit's dynamic user cannot {needs} it",
                    seen.display(),
                    layout.in_image(p).display(),
                    mode & 0o7777
                ))
                .with_hint(format!(
                    "`chmod o+{} {}`, or {hint}",
                    if meta.is_dir() { "x" } else { "r" },
                    p.display()
                )));
            }
        }
        at = p.parent();
    }
    Ok(())
}

/// systemd refuses an executable path holding a quote or a backslash ("contains special characters").
fn check_exec_path(engine: &Path) -> Result<()> {
    let text = engine.to_string_lossy();
    match text.chars().find(|c| matches!(c, '"' | '\'' | '\\')) {
        Some(c) => Err(Error::usage(format!(
            "the engine path {text:?} contains {c:?}, which systemd does not accept in an executable path"
        ))
        .with_hint("install or link llama-server at a plain path (`clawlocal engine install`), then pass --engine")),
        None => Ok(()),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}

/// A value for a template: refused when it holds a control character (newline, carriage return, tab, …).
pub fn checked(what: &str, value: &str) -> Result<String> {
    match value.chars().find(|c| c.is_control()) {
        Some(c) => Err(Error::usage(format!(
            "{what} {value:?} contains the control character {c:?}; refusing to write it into a unit file"
        ))
        .with_hint("rename or move it to a path without newlines or control characters")),
        None => Ok(value.to_string()),
    }
}

fn templates() -> Tera {
    let mut t = Tera::default();
    t.autoescape_on(Vec::new());
    t.add_raw_templates([
        ("systemd-system.service", include_str!("../../templates/systemd-system.service.tera")),
        ("systemd-user.service", include_str!("../../templates/systemd-user.service.tera")),
        ("launchd.plist", include_str!("../../templates/launchd.plist.tera")),
        ("compose.yaml", include_str!("../../templates/compose.yaml.tera")),
    ])
    .expect("the bundled templates parse");
    t.register_filter("systemd_word", filter(systemd_word));
    t.register_filter("systemd_exec", filter(systemd_exec));
    t.register_filter("systemd_text", filter(systemd_text));
    t.register_filter("systemd_path", filter(systemd_path));
    t.register_filter("xml", filter(xml));
    t.register_filter("yaml", filter(yaml));
    t
}

/// A tera filter from an escaping function; a control character is an error even here (belt and braces).
fn filter(f: fn(&str) -> String) -> impl tera::Filter {
    move |value: &Value, _: &HashMap<String, Value>| -> tera::Result<Value> {
        let s = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if s.chars().any(char::is_control) {
            return Err(tera::Error::msg(format!("{s:?} contains a control character")));
        }
        Ok(Value::String(f(&s)))
    }
}

/// One word of an ExecStart line: `%` and `$` doubled (no specifier or variable expansion), and quoted with
/// `\`-escapes when it holds anything but plain characters (spaces, quotes, `;`, backslashes).
pub fn systemd_word(s: &str) -> String {
    quote_word(&s.replace('%', "%%").replace('$', "$$"))
}

/// ExecStart's program: specifiers expand there but variables do not, and systemd refuses quotes and
/// backslashes in it outright (`check_exec_path` runs first, so none reach this).
pub fn systemd_exec(s: &str) -> String {
    quote_word(&s.replace('%', "%%"))
}

fn quote_word(body: &str) -> String {
    let plain = !body.is_empty() && body.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@%$".contains(c));
    if plain {
        return body.to_string();
    }
    let mut out = String::from("\"");
    for c in body.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Free text after `=` (Description): only specifiers expand there.
pub fn systemd_text(s: &str) -> String {
    s.replace('%', "%%")
}

/// A path after `=` in directives that take one path (LoadCredential): specifiers doubled, backslashes escaped.
pub fn systemd_path(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "%%")
}

pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// A YAML double-quoted scalar (JSON's string syntax is a subset), with `$` doubled against compose interpolation.
pub fn yaml(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises").replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found while planning, before a download: a system unit's private /tmp (seen for real: HF_HOME under /tmp →
    /// the unit crash-loops with `failed to load model`) and a directory its dynamic user cannot enter.
    #[test]
    fn what_the_system_unit_cannot_see_is_refused_by_name() {
        use std::os::unix::fs::PermissionsExt;
        let img = tempfile::tempdir().unwrap();
        let host = crate::host::FakeHost::linux().with_env("HOME", "/root");
        let layout = crate::layout::resolve(&host, Some(Scope::System), Some(img.path()), None).unwrap();
        let tmp = img.path().join("tmp/hf/hub");
        let err = visible_to_system_unit(&layout, "the Hugging Face cache", &tmp).unwrap_err();
        assert!(err.message.contains("/tmp/hf/hub is under /tmp or /var/tmp") && err.message.contains("PrivateTmp"));
        let err = visible_to_system_unit(&layout, "the engine", &img.path().join("var/tmp/llama-server")).unwrap_err();
        assert!(err.message.contains("PrivateTmp"), "{}", err.message);
        let cache = img.path().join("srv/private/hub");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::set_permissions(img.path().join("srv/private"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = visible_to_system_unit(&layout, "the Hugging Face cache", &cache).unwrap_err();
        assert!(
            err.message.contains("/srv/private is mode 0700") && err.message.contains("cannot enter"),
            "{}",
            err.message
        );
        assert!(err.hint.as_deref().unwrap_or("").contains("chmod o+x"), "{:?}", err.hint);
        std::fs::set_permissions(img.path().join("srv/private"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(visible_to_system_unit(&layout, "the Hugging Face cache", &cache).is_ok());
        let engine = img.path().join("opt/llama-server");
        std::fs::create_dir_all(engine.parent().unwrap()).unwrap();
        std::fs::write(&engine, "").unwrap();
        std::fs::set_permissions(&engine, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = visible_to_system_unit(&layout, "the engine", &engine).unwrap_err();
        assert!(err.message.contains("cannot read"), "{}", err.message);
    }

    #[test]
    fn systemd_words_are_quoted_and_specifiers_doubled() {
        assert_eq!(systemd_word("/usr/bin/llama-server"), "/usr/bin/llama-server");
        assert_eq!(systemd_word("--ctx-size"), "--ctx-size");
        assert_eq!(systemd_word("/a b/m.gguf"), "\"/a b/m.gguf\"");
        assert_eq!(systemd_word("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(systemd_word("100%d"), "100%%d");
        assert_eq!(systemd_word("$HOME"), "$$HOME");
        assert_eq!(systemd_word(";"), "\";\"", "a lone ; would start a second command");
        assert_eq!(systemd_word(""), "\"\"");
        assert_eq!(systemd_exec("/a b/$HOME/100%d"), "\"/a b/$HOME/100%%d\"", "no variables in the program");
    }

    #[test]
    fn xml_and_yaml_escape_their_metacharacters() {
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(yaml("a\"b\\c $X"), "\"a\\\"b\\\\c $$X\"");
        assert_eq!(yaml("plain"), "\"plain\"");
    }

    #[test]
    fn control_characters_are_refused_with_the_field_named() {
        let err = checked("the model path", "/m/x\nExecStartPre=/bin/evil").unwrap_err();
        assert!(err.message.contains("the model path") && err.message.contains("'\\n'"), "{}", err.message);
        assert!(checked("x", "tab\there").is_err());
        assert!(checked("x", "/fine path/with 'quotes' and %").is_ok());
    }
}
