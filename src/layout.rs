//! Where things go, by scope (`system` / `user`), OS, `--root`, and the environment variables Hugging Face
//! and OpenClaw tools read. Pure given a `Host`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::host::Host;

pub const UNIT_NAME: &str = "clawlocal-llm.service";
pub const LAUNCHD_LABEL: &str = "ai.clawlocal.llm";
pub const COMPOSE_SERVICE: &str = "clawlocal-llm";
pub const LOCK_FILE: &str = "clawlocal.lock";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    System,
    User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub scope: Scope,
    /// `--root`: every path below is already under it.
    pub root: Option<PathBuf>,
    /// Lock file, receipt, compose file.
    pub state_dir: PathBuf,
    /// The API key file.
    pub config_dir: PathBuf,
    /// Hugging Face hub cache (`models--ORG--NAME/…`).
    pub hub_cache: PathBuf,
    /// clawlocal's own llama-server installs (`llama-b<N>/`), from `clawlocal engine install`.
    pub engine_dir: PathBuf,
    /// Engine logs where the service manager keeps none of its own (launchd).
    pub log_dir: PathBuf,
    pub systemd_unit: PathBuf,
    pub launchd_plist: PathBuf,
    pub compose_file: PathBuf,
    pub openclaw_config: PathBuf,
    /// The compose program and its leading words: `CLAWLOCAL_COMPOSE` split on spaces (`podman-compose`), else
    /// `docker compose`.
    pub compose: Vec<String>,
    /// `CLAWLOCAL_ENGINE_IMAGE`: the image the compose file runs instead of the pinned official one (a local
    /// build, a mirror; the tests use a locally imported one, as no registry is reachable there).
    pub engine_image: Option<String>,
    /// The groups that may open GPU render nodes (`render`, `video`) with their ids, from `/etc/group` (the
    /// image's under `--root`): a Vulkan unit joins them, a Vulkan container is given their ids.
    pub gpu_groups: Vec<(String, u32)>,
}

impl Layout {
    pub fn api_key_file(&self) -> PathBuf {
        self.config_dir.join("api-key")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.state_dir.join(LOCK_FILE)
    }
    /// `<compose…> -f <compose file> <rest…>` as words.
    pub fn compose_command(&self, rest: &[&str]) -> Vec<String> {
        let mut words = self.compose.clone();
        words.push("-f".into());
        words.push(self.compose_file.to_string_lossy().into_owned());
        words.extend(rest.iter().map(|w| w.to_string()));
        words
    }
    pub fn receipt_file(&self) -> PathBuf {
        self.state_dir.join("receipt.json")
    }
    /// A path as the installed system sees it: with `--root DIR`, files are written under DIR but the units,
    /// the receipt and the serve command name them from `/`.
    pub fn in_image(&self, path: &Path) -> ImagePath {
        match self.root.as_deref().and_then(|r| path.strip_prefix(r).ok()) {
            Some(rest) => ImagePath(Path::new("/").join(rest)),
            None => ImagePath(path.to_path_buf()),
        }
    }
    /// Where an image path lies on this host: under `--root DIR` when there is one. The one way from a receipt's
    /// paths to files this run may touch.
    pub fn on_host(&self, path: &ImagePath) -> PathBuf {
        match &self.root {
            Some(root) => root.join(path.0.strip_prefix("/").unwrap_or(&path.0)),
            None => path.0.clone(),
        }
    }
    /// `models--ORG--NAME` under the hub cache.
    pub fn repo_cache(&self, repo: &str) -> PathBuf {
        self.hub_cache.join(format!("models--{}", repo.replace('/', "--")))
    }
}

/// A path as the installed system names it (`/etc/clawlocal/api-key`), which with `--root DIR` is not where the
/// file lies on this host. Receipts and units hold these; [`Layout::on_host`] turns one back into a host path, so
/// no code can touch an image path on the build host by mistake.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ImagePath(PathBuf);

/// Tests write receipts by hand.
#[cfg(test)]
impl From<&str> for ImagePath {
    fn from(s: &str) -> Self {
        Self(PathBuf::from(s))
    }
}

impl ImagePath {
    /// The path as the image names it, for text that runs inside the image (units, `serve`, messages).
    pub fn as_path(&self) -> &Path {
        &self.0
    }
    pub fn display(&self) -> std::path::Display<'_> {
        self.0.display()
    }
    pub fn to_string_lossy(&self) -> std::borrow::Cow<'_, str> {
        self.0.to_string_lossy()
    }
}

/// Default scope: system when root on Linux, user otherwise (the contract).
pub fn default_scope(host: &dyn Host) -> Scope {
    if host.os() == "linux" && host.is_root() { Scope::System } else { Scope::User }
}

pub fn resolve(
    host: &dyn Host,
    scope: Option<Scope>,
    root: Option<&Path>,
    openclaw_config: Option<&Path>,
) -> Result<Layout> {
    let scope = scope.unwrap_or_else(|| default_scope(host));
    let home = host.home().ok_or_else(|| {
        Error::usage("HOME is not set").with_hint("set HOME, or pass --openclaw-config and --scope system")
    })?;
    let macos = host.os() == "macos";
    let xdg = |var: &str, default: &str| host.env_nonempty(var).map_or_else(|| home.join(default), PathBuf::from);
    let plist = format!("{LAUNCHD_LABEL}.plist");
    let (state_dir, config_dir, systemd_unit, launchd_plist, engine_dir, log_dir) = match (scope, macos) {
        (Scope::System, false) => (
            PathBuf::from("/var/lib/clawlocal"),
            PathBuf::from("/etc/clawlocal"),
            PathBuf::from("/etc/systemd/system").join(UNIT_NAME),
            PathBuf::from("/Library/LaunchDaemons").join(&plist),
            // Outside /home and /var/lib: readable by the unit's dynamic user under ProtectHome/ProtectSystem.
            PathBuf::from("/opt/clawlocal/engine"),
            PathBuf::from("/var/log/clawlocal"),
        ),
        (Scope::System, true) => (
            PathBuf::from("/Library/Application Support/clawlocal"),
            PathBuf::from("/Library/Application Support/clawlocal"),
            PathBuf::from("/etc/systemd/system").join(UNIT_NAME),
            PathBuf::from("/Library/LaunchDaemons").join(&plist),
            PathBuf::from("/Library/Application Support/clawlocal/engine"),
            PathBuf::from("/Library/Logs/clawlocal"),
        ),
        (Scope::User, false) => (
            xdg("XDG_STATE_HOME", ".local/state").join("clawlocal"),
            xdg("XDG_CONFIG_HOME", ".config").join("clawlocal"),
            xdg("XDG_CONFIG_HOME", ".config").join("systemd/user").join(UNIT_NAME),
            home.join("Library/LaunchAgents").join(&plist),
            xdg("XDG_DATA_HOME", ".local/share").join("clawlocal/engine"),
            xdg("XDG_STATE_HOME", ".local/state").join("clawlocal/log"),
        ),
        (Scope::User, true) => (
            home.join("Library/Application Support/clawlocal"),
            home.join("Library/Application Support/clawlocal"),
            xdg("XDG_CONFIG_HOME", ".config").join("systemd/user").join(UNIT_NAME),
            home.join("Library/LaunchAgents").join(&plist),
            home.join("Library/Application Support/clawlocal/engine"),
            home.join("Library/Logs/clawlocal"),
        ),
    };
    // HF_HUB_CACHE > HF_HOME/hub > the XDG cache (user) or clawlocal's own (system), as huggingface_hub does.
    let hub_cache = host
        .env_nonempty("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| host.env_nonempty("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .unwrap_or_else(|| match scope {
            Scope::User => xdg("XDG_CACHE_HOME", ".cache").join("huggingface/hub"),
            Scope::System => PathBuf::from("/var/cache/clawlocal/huggingface/hub"),
        });
    let compose_file = state_dir.join("compose.yaml");
    let openclaw_config = openclaw_config.map_or_else(|| openclaw_config_path(host, &home), Path::to_path_buf);
    let under = |p: PathBuf| match root {
        Some(r) => r.join(p.strip_prefix("/").unwrap_or(&p)),
        None => p,
    };
    Ok(Layout {
        scope,
        root: root.map(Path::to_path_buf),
        state_dir: under(state_dir),
        config_dir: under(config_dir),
        hub_cache: under(hub_cache),
        engine_dir: under(engine_dir),
        log_dir: under(log_dir),
        systemd_unit: under(systemd_unit),
        launchd_plist: under(launchd_plist),
        compose_file: under(compose_file),
        openclaw_config: under(openclaw_config),
        compose: host
            .env_nonempty("CLAWLOCAL_COMPOSE")
            .map(|c| c.split_whitespace().map(str::to_string).collect())
            .unwrap_or_else(|| vec!["docker".into(), "compose".into()]),
        engine_image: host.env_nonempty("CLAWLOCAL_ENGINE_IMAGE"),
        gpu_groups: gpu_groups(&host.read_to_string(&under(PathBuf::from("/etc/group"))).unwrap_or_default()),
    })
}

/// `render` and `video` from a group file, in that order, where present.
fn gpu_groups(group_file: &str) -> Vec<(String, u32)> {
    let entry = |name: &str| {
        group_file.lines().find_map(|l| {
            let mut fields = l.split(':');
            (fields.next()? == name).then(|| fields.nth(1)?.parse().ok()).flatten()
        })
    };
    ["render", "video"].iter().filter_map(|n| entry(n).map(|gid| (n.to_string(), gid))).collect()
}

/// OpenClaw's own order (`src/config/paths.ts`): `OPENCLAW_CONFIG_PATH`; then the profile directory
/// (`OPENCLAW_PROFILE` sets the config path to `~/.openclaw-<profile>/openclaw.json`); then the first existing of
/// `$OPENCLAW_STATE_DIR/{openclaw,clawdbot}.json`, `~/.openclaw/…`, `~/.clawdbot/…` (legacy names); else
/// `openclaw.json` in the state dir, which is `OPENCLAW_STATE_DIR`, else `~/.openclaw` or an existing `~/.clawdbot`.
/// `~` is OPENCLAW_HOME when set, else HOME.
fn openclaw_config_path(host: &dyn Host, home: &Path) -> PathBuf {
    let unset = |v: &String| v == "undefined" || v == "null";
    let oc_home = host
        .env_nonempty("OPENCLAW_HOME")
        .filter(|h| !unset(h))
        .map_or_else(|| home.to_path_buf(), |h| expand_tilde(&h, home));
    if let Some(p) = host.env_nonempty("OPENCLAW_CONFIG_PATH") {
        return expand_tilde(&p, &oc_home);
    }
    if let Some(profile) = host.env_nonempty("OPENCLAW_PROFILE").filter(|p| p != "default") {
        return oc_home.join(format!(".openclaw-{profile}")).join("openclaw.json");
    }
    let explicit = host.env_nonempty("OPENCLAW_STATE_DIR").map(|d| expand_tilde(&d, &oc_home));
    let (current, legacy) = (oc_home.join(".openclaw"), oc_home.join(".clawdbot"));
    let dirs = explicit.iter().chain([&current, &legacy]);
    let candidates = dirs.flat_map(|d| [d.join("openclaw.json"), d.join("clawdbot.json")]);
    if let Some(found) = candidates.into_iter().find(|c| host.exists(c)) {
        return found;
    }
    let state_dir =
        explicit.unwrap_or_else(|| if !host.exists(&current) && host.exists(&legacy) { legacy } else { current });
    state_dir.join("openclaw.json")
}

fn expand_tilde(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_path_buf(),
        None => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;

    #[test]
    fn the_gpu_groups_are_read_from_the_group_file() {
        let groups = "root:x:0:\nvideo:x:44:\nrender:x:105:\nusers:x:100:\n";
        assert_eq!(super::gpu_groups(groups), [("render".to_string(), 105), ("video".to_string(), 44)]);
        assert!(super::gpu_groups("root:x:0:\nbroken\nrender:x:notanumber:\n").is_empty());
    }

    #[test]
    fn user_scope_on_linux_follows_xdg_and_hf() {
        let host =
            FakeHost::linux().with_env("HOME", "/home/u").with_env("XDG_STATE_HOME", "/xs").with_env("HF_HOME", "/hf");
        let l = resolve(&host, None, None, None).unwrap();
        assert_eq!(l.scope, Scope::User, "not root");
        assert_eq!(l.state_dir, PathBuf::from("/xs/clawlocal"));
        assert_eq!(l.hub_cache, PathBuf::from("/hf/hub"));
        assert_eq!(l.systemd_unit, PathBuf::from("/home/u/.config/systemd/user/clawlocal-llm.service"));
        assert_eq!(l.openclaw_config, PathBuf::from("/home/u/.openclaw/openclaw.json"));
        assert_eq!(l.repo_cache("Qwen/X-GGUF"), PathBuf::from("/hf/hub/models--Qwen--X-GGUF"));
    }

    #[test]
    fn root_user_gets_system_scope_and_root_dir_prefixes_everything() {
        let host =
            FakeHost::linux().with_env("HOME", "/root").with_file("/proc/self/status", "Name:\tx\nUid:\t0\t0\t0\t0\n");
        let l = resolve(&host, None, Some(Path::new("/img")), None).unwrap();
        assert_eq!(l.scope, Scope::System);
        assert_eq!(l.systemd_unit, PathBuf::from("/img/etc/systemd/system/clawlocal-llm.service"));
        assert_eq!(l.lock_file(), PathBuf::from("/img/var/lib/clawlocal/clawlocal.lock"));
        assert_eq!(l.api_key_file(), PathBuf::from("/img/etc/clawlocal/api-key"));
    }

    #[test]
    fn openclaw_config_is_found_as_openclaw_finds_it() {
        let base = FakeHost::linux().with_env("HOME", "/home/u");
        let path = |h: &FakeHost| resolve(h, Some(Scope::User), None, None).unwrap().openclaw_config;
        assert_eq!(
            path(&base.clone().with_env("OPENCLAW_CONFIG_PATH", "~/oc.json5")),
            PathBuf::from("/home/u/oc.json5")
        );
        assert_eq!(
            path(&base.clone().with_env("OPENCLAW_STATE_DIR", "/srv/oc")),
            PathBuf::from("/srv/oc/openclaw.json")
        );
        assert_eq!(
            path(&base.clone().with_env("OPENCLAW_PROFILE", "work")),
            PathBuf::from("/home/u/.openclaw-work/openclaw.json")
        );
        assert_eq!(
            path(&base.clone().with_env("OPENCLAW_HOME", "/opt/h")),
            PathBuf::from("/opt/h/.openclaw/openclaw.json")
        );
        // The profile wins over the state dir; a legacy file is found where no current one exists.
        assert_eq!(
            path(&base.clone().with_env("OPENCLAW_STATE_DIR", "/srv/oc").with_env("OPENCLAW_PROFILE", "w")),
            PathBuf::from("/home/u/.openclaw-w/openclaw.json")
        );
        assert_eq!(
            path(&base.clone().with_file("/home/u/.clawdbot/clawdbot.json", "{}")),
            PathBuf::from("/home/u/.clawdbot/clawdbot.json")
        );
        assert_eq!(
            path(
                &base
                    .clone()
                    .with_file("/home/u/.clawdbot/clawdbot.json", "{}")
                    .with_file("/home/u/.openclaw/openclaw.json", "{}")
            ),
            PathBuf::from("/home/u/.openclaw/openclaw.json")
        );
        assert_eq!(
            path(&base.clone().with_env("OPENCLAW_STATE_DIR", "/srv/oc").with_file("/srv/oc/clawdbot.json", "{}")),
            PathBuf::from("/srv/oc/clawdbot.json")
        );
    }
}
