//! The plan for people and for `--json`: the dry run, the confirmation prompt and `init --dry-run --json` all
//! render the same [`Plan`]. The API key never appears: its text and its sha256 are masked.

use serde_json::Value;

use super::World;
use super::steps::{FileKind, Plan, Step};
use super::undo::Installed;
use crate::documents::{BlockerDoc, DryRunDocument, PlannedStep};
use crate::hub::download::sha256_hex;
use crate::render::Target;
use crate::size::human;

/// What a plan is shown against: the files as they are, and the key to mask.
pub trait Seen {
    fn bytes(&self, path: &std::path::Path) -> Option<&[u8]>;
    /// The key and its file.
    fn key(&self) -> Option<(String, std::path::PathBuf)>;
}

impl Seen for World {
    fn bytes(&self, path: &std::path::Path) -> Option<&[u8]> {
        World::bytes(self, path)
    }
    fn key(&self) -> Option<(String, std::path::PathBuf)> {
        Some((self.key_text(), self.layout.api_key_file()))
    }
}

impl Seen for Installed {
    fn bytes(&self, _: &std::path::Path) -> Option<&[u8]> {
        None
    }
    fn key(&self) -> Option<(String, std::path::PathBuf)> {
        let file = self.layout.on_host(&self.receipt.api_key_file);
        crate::openclaw::read_key(&file).ok().map(|k| (k, file))
    }
}

/// What one planned step will do to its file: `created`, `updated`, `unchanged`; `run` for commands.
fn planned(step: &Step, w: &dyn Seen) -> &'static str {
    let of = |path: &std::path::Path, contents: &[u8]| match w.bytes(path) {
        None => "created",
        Some(now) if now == contents => "unchanged",
        Some(_) => "updated",
    };
    match step {
        Step::Journal { path, contents, .. } | Step::Write { path, contents, .. } => of(path, contents),
        Step::Fetch { cached: true, .. } | Step::Engine { .. } | Step::Backend { .. } => "unchanged",
        Step::InstallEngine { .. } => "created",
        Step::Fetch { .. } => "created",
        Step::Openclaw(p) if !p.changed => "unchanged",
        Step::Openclaw(p) if p.before.is_none() => "created",
        Step::Openclaw(_) => "updated",
        Step::Unpatch(p) => p.status.as_str(),
        Step::Remove { path, .. } | Step::RemoveTree { path, .. } if !path.exists() => "skipped",
        Step::Remove { .. } | Step::RemoveTree { .. } | Step::Purge { .. } => "removed",
        Step::Keep { .. } => "kept",
        Step::Stop { .. } | Step::StopServe { .. } => "stopped",
        _ => "run",
    }
}

fn path_of(step: &Step) -> Option<&std::path::Path> {
    match step {
        Step::Journal { path, .. }
        | Step::Write { path, .. }
        | Step::Fetch { path, .. }
        | Step::Engine { path, .. }
        | Step::InstallEngine { path, .. } => Some(path),
        Step::Openclaw(p) => Some(&p.file),
        Step::Unpatch(p) => Some(&p.file),
        Step::Remove { path, .. }
        | Step::RemoveTree { path, .. }
        | Step::Keep { path, .. }
        | Step::Purge { path, .. } => Some(path),
        _ => None,
    }
}

fn description(step: &Step, w: &dyn Seen) -> String {
    match step {
        Step::Journal { path, .. } => {
            format!("record this install in {} as unfinished, before the first change", path.display())
        }
        Step::Fetch { want, resolution, cached: true, .. } => format!(
            "use {}/{} at {} from the Hub cache (sha256 {})",
            want.hub.repo,
            resolution.files[0].name,
            resolution.commit,
            &resolution.files[0].sha256[..12]
        ),
        Step::Fetch { want, resolution, bytes, .. } => format!(
            "download {}/{}{} ({}) at commit {}, verifying sha256 while streaming",
            want.hub.repo,
            resolution.files[0].name,
            if resolution.files.len() > 1 { format!(" ({} shards)", resolution.files.len()) } else { String::new() },
            human(*bytes),
            resolution.commit
        ),
        Step::InstallEngine { request, .. } => format!(
            "install llama.cpp {} ({}) from {}, sha256 {} verified while streaming; its binary must report the \
             release and take every flag the unit passes",
            request.release,
            request.asset,
            request.mirror,
            &request.sha256[..12]
        ),
        Step::Engine { version, .. } => {
            format!("use llama-server (llama.cpp {version}); it takes every flag the unit passes")
        }
        Step::Write { kind: FileKind::Lock, .. } => "pin repo, commit, files, sizes and sha256 in the lock".into(),
        Step::Write { kind: FileKind::ApiKey, path, .. } if w.bytes(path).is_none() => {
            "create a random API key for llama-server, mode 0600 (passed as --api-key-file)".into()
        }
        Step::Write { kind: FileKind::ApiKey, .. } => "keep the API key there is".into(),
        Step::Write { kind: FileKind::Unit, target, .. } => match target {
            Some(Target::Compose) => "write the compose service clawlocal-llm (127.0.0.1 only)".into(),
            Some(Target::Launchd) => "write the launchd job ai.clawlocal.llm".into(),
            _ => "write the hardened systemd unit clawlocal-llm.service".into(),
        },
        Step::Write { kind: FileKind::Receipt, .. } => {
            "record every file and edit made (finished), for `clawlocal uninstall`".into()
        }
        Step::Trial { from, to, .. } => {
            format!("run the new model {to} on a spare port until it answers, before switching from {from}")
        }
        Step::Start { commands, .. } => {
            format!(
                "start the service: {}",
                commands.iter().map(|c| format!("`{}`", c.join(" "))).collect::<Vec<_>>().join(", ")
            )
        }
        Step::WaitHealthy { port, alias, .. } => {
            let url = crate::plan::Endpoint::new(*port).health_url();
            format!("wait until {url} answers and /v1/models serves `{alias}`")
        }
        Step::Backend { kind, url, version, model, context, .. } => format!(
            "use {}{} at {url}, serving `{model}` (contextWindow {context}); nothing is downloaded or installed",
            kind.label(),
            version.as_deref().map(|v| format!(" {v}")).unwrap_or_default()
        ),
        Step::Openclaw(p) => format!(
            "add provider `{}` ({}) with model `{}` as {}, keeping comments and other providers{}",
            p.provider,
            p.api,
            p.model_ref,
            if p.sets_primary() { "primary" } else { "fallback" },
            if p.validated_by_openclaw { "; `openclaw config validate` accepts the result" } else { "" }
        ),
        Step::Chmod { path, mode, .. } => format!("chmod {mode:o} {}", path.display()),
        Step::Stop { command, .. } => format!("stop and disable the service: `{}`", command.join(" ")),
        Step::StopServe { pid, port } => format!("stop the engine `clawlocal serve` runs on port {port} (pid {pid})"),
        Step::Remove { kind, .. } => format!("remove the {kind} file"),
        Step::RemoveTree { kind, .. } => format!("remove the {kind} folder"),
        Step::Keep { why, .. } => format!("keep it: {why}"),
        Step::Unpatch(_) => "take clawlocal's provider and refs out of openclaw.json, from the patch record".into(),
        Step::Purge { repo, sha256, .. } => {
            format!("remove the model blob {} of {repo} that clawlocal downloaded", &sha256[..12])
        }
        Step::Reload { command } => format!("`{}`", command.join(" ")),
        Step::Tidy { .. } => "remove clawlocal's folders that are left empty".into(),
    }
}

/// The unified diff of a file step, the key masked.
fn diff(step: &Step, w: &dyn Seen, plan: &Plan) -> Option<String> {
    let text = match step {
        Step::Journal { path, contents, .. } | Step::Write { path, contents, .. } => {
            let before = w.bytes(path).map(String::from_utf8_lossy).unwrap_or_default();
            crate::openclaw::file::diff(path, &before, &String::from_utf8_lossy(contents))
        }
        Step::Openclaw(p) => p.diff(),
        Step::Unpatch(p) => p.diff(),
        _ => return None,
    };
    Some(mask(&text, w, plan))
}

/// The key's text, and the sha256 of every file that holds it (the key file, openclaw.json), replaced by names:
/// CI logs keep dry-run output.
fn mask(text: &str, w: &dyn Seen, plan: &Plan) -> String {
    let Some((key, key_file)) = w.key().filter(|(k, _)| !k.is_empty()) else { return text.to_string() };
    let mut out = text.replace(&key, &format!("<the key in {}>", key_file.display()));
    for step in &plan.steps {
        let (path, bytes): (&std::path::Path, &[u8]) = match step {
            Step::Write { path, contents, .. } => (path, contents),
            Step::Openclaw(p) => (&p.file, p.after.as_bytes()),
            _ => continue,
        };
        if String::from_utf8_lossy(bytes).contains(&key) {
            out = out.replace(&sha256_hex(bytes), &format!("<the sha256 of {}>", path.display()));
        }
    }
    out
}

/// The plan as numbered lines, each file's diff under its step when `diffs`; then what would stop it.
pub fn describe(plan: &Plan, w: &dyn Seen, diffs: bool) -> String {
    let mut out = String::new();
    for (i, step) in plan.steps.iter().enumerate() {
        out.push_str(&format!("  {}. {:<16} {:<9} {}\n", i + 1, step.kind(), planned(step, w), description(step, w)));
        if let Some(path) = path_of(step) {
            out.push_str(&format!("     {:<26} {}\n", "", path.display()));
        }
        if let Some(d) = diff(step, w, plan).filter(|_| diffs) {
            let body = if d.is_empty() { "(no change)\n".to_string() } else { d };
            for line in body.lines() {
                out.push_str(&format!("       {line}\n"));
            }
        }
    }
    for b in &plan.blockers {
        out.push_str(&format!("\nwould stop at step {}: {}\n", b.step + 1, b.error.message));
        if let Some(h) = &b.error.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
    }
    out.trim_end().to_string()
}

/// The plan as `init --dry-run --json` (and `uninstall --dry-run --json`) prints it.
pub fn plan_json(plan: &Plan, w: &dyn Seen) -> Value {
    let actions = plan
        .steps
        .iter()
        .map(|step| PlannedStep {
            kind: step.kind(),
            status: planned(step, w),
            description: description(step, w),
            path: path_of(step).map(std::path::Path::to_path_buf),
            diff: diff(step, w, plan),
        })
        .collect();
    let blockers = plan
        .blockers
        .iter()
        .map(|b| BlockerDoc { step: b.step + 1, message: b.error.message.clone(), hint: b.error.hint.clone() })
        .collect();
    crate::documents::value(&DryRunDocument { ok: plan.runnable(), dry_run: true, actions, blockers })
}
