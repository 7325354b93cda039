//! `clawlocal engine install`: an official llama.cpp release archive for this platform, verified against a
//! pinned sha256 while it streams, unpacked with its symlink chains (`libllama.so -> libllama.so.0 -> …`) into a
//! folder of its own, then asked for `--version`. Nothing takes the final name before the hash and the unpack
//! succeed.
//!
//! Hand-written over the `tar` crate rather than `Archive::unpack`, because every entry is checked first: paths
//! stay inside the archive's one top folder, symlinks resolve inside it, hard links and devices are refused.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::hub::download::hex;
use crate::layout::Layout;

pub use super::backend::PINNED;
use super::backend::{Asset, HostFacts};

pub const DEFAULT_MIRROR: &str = "https://github.com/ggml-org/llama.cpp/releases/download";
/// Bounds on what an archive may hold: the real ones have a few dozen entries and ~100 MB (CUDA's ~400 MB).
const MAX_ENTRIES: usize = 2_000;
const MAX_BYTES: u64 = 4 << 30;

/// What to install: the pinned release, or a release and sha256 the user pins instead (`--release`, `--sha256`).
#[derive(Debug, Clone)]
pub struct Request {
    pub release: String,
    pub asset: String,
    pub sha256: String,
    /// Base URL; the asset is fetched from `<mirror>/<release>/<asset>`.
    pub mirror: String,
    /// The archive's size, when the lock pins it: another size is refused.
    pub size: Option<u64>,
    /// The build's backend: a GPU build must list its device before it is named installed.
    pub backend: super::backend::Backend,
    /// The archive unpacked beside the binary (CUDA's runtime libraries), verified like the main one.
    pub companion: Option<Companion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    pub asset: String,
    pub sha256: String,
    pub size: Option<u64>,
}

impl Request {
    /// What the lock pins for this host's asset (any release), else the pinned release's table.
    /// An archive no source pins (`sha256: None`) takes the digest and size the release host publishes for the
    /// asset (`published`), verified while streaming and then recorded in the lock.
    pub fn locked_or_pinned(
        lock: &crate::lockfile::LockFile,
        facts: &HostFacts,
        mirror: Option<&str>,
        published: &Published,
    ) -> Result<Self> {
        let asset = super::backend::choose(&PINNED, facts)?;
        let (release, name, sha256, size) = match (lock.engine_like(asset.name, PINNED.release), asset.sha256) {
            (Some(e), _) => (e.release.clone(), e.asset.clone(), e.sha256.clone(), e.size),
            (None, Some(sha256)) => (PINNED.release.into(), asset.name.into(), sha256.into(), None),
            (None, None) => {
                let (sha256, size) = published(PINNED.release, asset.name)?;
                (PINNED.release.into(), asset.name.into(), sha256, Some(size))
            }
        };
        Self::new(release, name, sha256, size, mirror, &asset).with_companion(&asset, lock, published)
    }

    /// Another release, this host's asset name in it: with `sha256` given, that digest; else what the lock
    /// pins for that exact archive; else the digest the release host publishes (then recorded in the lock).
    pub fn custom(
        release: &str,
        sha256: Option<&str>,
        facts: &HostFacts,
        mirror: Option<&str>,
        lock: &crate::lockfile::LockFile,
        published: &Published,
    ) -> Result<Self> {
        check_release_tag(release)?;
        let asset = super::backend::choose(&PINNED, facts)?;
        let name = asset.name.replace(PINNED.release, release);
        if let Some(s) = sha256 {
            check_sha256_arg(s)?;
        }
        let (sha256, size) = match (sha256, lock.engines.iter().find(|e| e.release == release && e.asset == name)) {
            (Some(s), _) => (s.to_ascii_lowercase(), None),
            (None, Some(e)) => (e.sha256.clone(), e.size),
            (None, None) => published(release, &name).map(|(s, n)| (s, Some(n)))?,
        };
        Self::new(release.into(), name, sha256, size, mirror, &asset).with_companion(&asset, lock, published)
    }

    fn new(
        release: String,
        asset: String,
        sha256: String,
        size: Option<u64>,
        mirror: Option<&str>,
        of: &Asset,
    ) -> Self {
        Self {
            release,
            asset,
            sha256,
            mirror: mirror.unwrap_or(DEFAULT_MIRROR).trim_end_matches('/').into(),
            size,
            backend: of.backend,
            companion: None,
        }
    }

    /// The asset's companion for this request's release: the lock's pin, else the pinned table's (for the
    /// pinned release), else the release host's digest.
    fn with_companion(
        mut self,
        asset: &Asset,
        lock: &crate::lockfile::LockFile,
        published: &Published,
    ) -> Result<Self> {
        let Some((name, pinned)) = asset.companion else { return Ok(self) };
        let name = name.replace(PINNED.release, &self.release);
        let pinned = pinned.filter(|_| self.release == PINNED.release);
        self.companion = Some(match (lock.engines.iter().find(|e| e.asset == name), pinned) {
            (Some(e), _) => Companion { asset: name, sha256: e.sha256.clone(), size: e.size },
            (None, Some(sha256)) => Companion { asset: name, sha256: sha256.into(), size: None },
            (None, None) => {
                let (sha256, size) = published(&self.release, &name)?;
                Companion { asset: name, sha256, size: Some(size) }
            }
        });
        Ok(self)
    }

    /// Every archive this install fetches, as the lock pins them.
    pub fn pins(&self) -> Vec<crate::lockfile::LockedEngine> {
        let companion = self.companion.iter().map(|c| crate::lockfile::LockedEngine {
            release: self.release.clone(),
            asset: c.asset.clone(),
            sha256: c.sha256.clone(),
            size: c.size,
        });
        std::iter::once(self.locked()).chain(companion).collect()
    }

    /// What the unpacked folder's stamp says: the sha256 of every archive in it.
    fn stamp(&self) -> String {
        std::iter::once(self.sha256.as_str())
            .chain(self.companion.iter().map(|c| c.sha256.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The lock's entry for this archive.
    pub fn locked(&self) -> crate::lockfile::LockedEngine {
        crate::lockfile::LockedEngine {
            release: self.release.clone(),
            asset: self.asset.clone(),
            sha256: self.sha256.clone(),
            size: self.size,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}/{}", self.mirror, self.release, self.asset)
    }

    /// The archive's one top folder, `llama-b<N>`, kept whole under the engine dir.
    pub fn folder(&self) -> String {
        format!("llama-{}", self.release)
    }
}

/// `--release`: a llama.cpp release tag, `b<N>`.
pub fn check_release_tag(release: &str) -> Result<()> {
    if release.strip_prefix('b').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err(Error::usage(format!("--release {release:?} is not a llama.cpp release tag like b11160")))
    }
}

/// `--sha256`: 64 hex digits.
pub fn check_sha256_arg(sha256: &str) -> Result<()> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::usage(format!("--sha256 {sha256:?} is not 64 hex digits")))
    }
}

#[derive(Debug, Serialize)]
pub struct Installed {
    pub path: PathBuf,
    pub release: String,
    pub url: String,
    pub sha256: String,
    /// `created`, `updated` (replaced a broken or different copy) or `unchanged`.
    pub status: &'static str,
}

/// Where `engine install` puts the pinned release's llama-server.
pub fn pinned_binary(layout: &Layout) -> PathBuf {
    layout.engine_dir.join(format!("llama-{}", PINNED.release)).join(super::BINARY)
}

/// clawlocal's own installed llama-server: the pinned release first, else the newest `llama-b<N>` present.
pub fn installed(layout: &Layout) -> Option<PathBuf> {
    let pinned = pinned_binary(layout);
    if pinned.is_file() {
        return Some(pinned);
    }
    let build = |name: &str| name.strip_prefix("llama-b").and_then(|n| n.parse::<u64>().ok());
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(&layout.engine_dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| build(&e.file_name().to_string_lossy()).map(|b| (b, e.path().join(super::BINARY))))
        .filter(|(_, p)| p.is_file())
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// `(release, asset) -> (sha256, size)` as the release host publishes them.
pub type Published<'a> = dyn Fn(&str, &str) -> Result<(String, u64)> + 'a;

pub const DEFAULT_RELEASES_API: &str = "https://api.github.com/repos/ggml-org/llama.cpp/releases/tags";

/// The sha256 and size the release host publishes for `asset` of `release` (GitHub's release API lists each
/// asset's `digest: "sha256:…"` and `size`); `api` is `CLAWLOCAL_ENGINE_API` or GitHub's. Metadata only.
pub fn published_digest(api: &str, release: &str, asset: &str) -> Result<(String, u64)> {
    let url = format!("{}/{release}", api.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("clawlocal/", env!("CARGO_PKG_VERSION")))
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let hint = "pass the digest yourself: `clawlocal engine install --release <tag> --sha256 <hex>`";
    let mut response = agent
        .get(&url)
        .header("Accept", "application/vnd.github+json")
        .call()
        .map_err(|e| Error::failure(format!("cannot ask {url} for the digest of {asset}: {e}")).with_hint(hint))?;
    if response.status() != 200 {
        return Err(Error::failure(format!("{url}: HTTP {}", response.status().as_u16())).with_hint(hint));
    }
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| Error::failure(format!("{url}: cannot read the answer: {e}")).with_hint(hint))?;
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::failure(format!("{url}: not a release document: {e}")).with_hint(hint))?;
    let found = doc["assets"].as_array().into_iter().flatten().find(|a| a["name"] == asset);
    let Some(found) = found else {
        return Err(Error::failure(format!("{url} lists no asset {asset}")).with_hint(hint));
    };
    let sha = found["digest"].as_str().and_then(|d| d.strip_prefix("sha256:"));
    let sha = sha.filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    match (sha, found["size"].as_u64()) {
        (Some(sha), Some(size)) => Ok((sha.to_ascii_lowercase(), size)),
        _ => Err(Error::failure(format!("{url}: {asset} has no sha256 digest and size")).with_hint(hint)),
    }
}

/// The check an unpacked binary passes before it takes its name: it runs, reports the release's build (a build 0
/// is one made without git history), takes every flag in `argv`, and a GPU build lists its device.
pub fn check_unpacked(host: &dyn crate::host::Host, binary: &Path, req: &Request, argv: &[String]) -> Result<()> {
    check_binary(host, binary, &req.release, req.backend, argv)
}

/// [`check_unpacked`] for any llama-server of `release` and `backend` (an archive's, or one `engine build` made).
pub fn check_binary(
    host: &dyn crate::host::Host,
    binary: &Path,
    release: &str,
    backend: super::backend::Backend,
    argv: &[String],
) -> Result<()> {
    let build: u64 = release.trim_start_matches('b').parse().unwrap_or(0);
    let e = super::probe(host, binary, super::Source::Installed)?;
    if e.version.build != 0 && e.version.build != build {
        return Err(Error::failure(format!(
            "{} reports build {}, not the release {release} that was downloaded; nothing was installed",
            binary.display(),
            e.version.build,
        )));
    }
    e.check(argv)?;
    if backend == super::backend::Backend::Cpu {
        return Ok(());
    }
    let devices = super::devices(host, binary).unwrap_or_default();
    if devices.iter().any(|(b, _)| *b == backend) {
        return Ok(());
    }
    let listed = devices.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("; ");
    let listed = if listed.is_empty() { "none".to_string() } else { listed };
    Err(Error::failure(format!(
        "{} ({} build) lists no {} device (`--list-devices`: {listed}); nothing was installed",
        binary.display(),
        backend,
        backend
    ))
    .with_hint(format!(
        "the {} driver or runtime is missing or too old for this build; `--backend cpu` installs the CPU build",
        backend
    )))
}

/// Download, verify, unpack and swap in. `check` is asked about the unpacked binary before it takes its place.
pub fn install(req: &Request, engine_dir: &Path, check: &dyn Fn(&Path) -> Result<()>) -> Result<Installed> {
    let dest = engine_dir.join(req.folder());
    let binary = dest.join(super::BINARY);
    std::fs::create_dir_all(engine_dir)
        .map_err(|e| Error::io(format!("cannot create {}", engine_dir.display()), &e))?;
    let done = |status| Installed {
        path: binary.clone(),
        release: req.release.clone(),
        url: req.url(),
        sha256: req.sha256.clone(),
        status,
    };
    let stamp = dest.join(".clawlocal-sha256");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == req.stamp()) && check(&binary).is_ok() {
        return Ok(done("unchanged"));
    }
    let archive = tempfile::Builder::new()
        .prefix(&format!(".{}.", req.asset))
        .suffix(".part")
        .tempfile_in(engine_dir)
        .map_err(|e| Error::io(format!("cannot create a temporary file in {}", engine_dir.display()), &e))?;
    download(&req.url(), &req.sha256, req.size, archive.as_file())?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}.", req.folder()))
        .tempdir_in(engine_dir)
        .map_err(|e| Error::io(format!("cannot create a temporary folder in {}", engine_dir.display()), &e))?;
    let file = std::fs::File::open(archive.path())
        .map_err(|e| Error::io(format!("cannot read {}", archive.path().display()), &e))?;
    unpack(file, &req.folder(), staging.path()).map_err(|e| Error::failure(format!("{}: {}", req.url(), e.message)))?;
    let unpacked = staging.path().join(req.folder());
    let new_binary = unpacked.join(super::BINARY);
    if !new_binary.is_file() {
        return Err(Error::failure(format!("{}: the archive has no {}/{}", req.url(), req.folder(), super::BINARY)));
    }
    if let Some(c) = &req.companion {
        companion(req, c, engine_dir, staging.path(), &unpacked)?;
    }
    check(&new_binary)?;
    crate::fsutil::write_atomic(&unpacked.join(".clawlocal-sha256"), format!("{}\n", req.stamp()).as_bytes())?;
    let status = if dest.exists() {
        // Move the old copy aside first, so the folder is never half old, half new.
        let old = staging.path().join(".old");
        std::fs::rename(&dest, &old).map_err(|e| Error::io(format!("cannot move {} aside", dest.display()), &e))?;
        "updated"
    } else {
        "created"
    };
    std::fs::rename(&unpacked, &dest)
        .map_err(|e| Error::io(format!("cannot move {} into place", dest.display()), &e))?;
    crate::fsutil::sync_dir(engine_dir)?;
    Ok(done(status))
}

/// The companion archive (verified the same way) unpacked beside the binary: its files, from its one top folder,
/// into the engine's folder.
fn companion(req: &Request, c: &Companion, engine_dir: &Path, staging: &Path, unpacked: &Path) -> Result<()> {
    let url = format!("{}/{}/{}", req.mirror, req.release, c.asset);
    let part = tempfile::Builder::new()
        .prefix(&format!(".{}.", c.asset))
        .suffix(".part")
        .tempfile_in(engine_dir)
        .map_err(|e| Error::io(format!("cannot create a temporary file in {}", engine_dir.display()), &e))?;
    download(&url, &c.sha256, c.size, part.as_file())?;
    let open = || {
        std::fs::File::open(part.path()).map_err(|e| Error::io(format!("cannot read {}", part.path().display()), &e))
    };
    let top = first_folder(open()?).map_err(|e| Error::failure(format!("{url}: {}", e.message)))?;
    let into = staging.join(".companion");
    unpack(open()?, &top, &into).map_err(|e| Error::failure(format!("{url}: {}", e.message)))?;
    for entry in
        std::fs::read_dir(into.join(&top)).map_err(|e| Error::io(format!("cannot read {}", into.display()), &e))?
    {
        let entry = entry.map_err(|e| Error::io(format!("cannot read {}", into.display()), &e))?;
        let to = unpacked.join(entry.file_name());
        std::fs::rename(entry.path(), &to)
            .map_err(|e| Error::io(format!("cannot move {} into place", to.display()), &e))?;
    }
    Ok(())
}

/// The one top folder every entry of an archive lies under (the first entry's; [`unpack`] checks the rest).
pub fn first_folder(archive: impl Read) -> Result<String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut entries = tar.entries().map_err(|e| Error::failure(format!("not a tar.gz archive: {e}")))?;
    let first = entries
        .find(|e| e.as_ref().map_or(true, |e| !e.header().entry_type().is_pax_global_extensions()))
        .ok_or_else(|| Error::failure("an empty archive"))?
        .map_err(|e| Error::failure(format!("damaged archive: {e}")))?;
    let path = first.path().map_err(|e| Error::failure(format!("bad entry name: {e}")))?.into_owned();
    match path.components().next() {
        Some(Component::Normal(top)) if path.components().count() > 1 || first.header().entry_type().is_dir() => {
            Ok(top.to_string_lossy().into_owned())
        }
        _ => Err(Error::failure(format!("{} is not in a top folder; refusing", path.display()))),
    }
}

/// Stream the archive into `out`, hashing as it comes; a wrong sha256 or size is an error and `out` is thrown away.
fn download(url: &str, sha256: &str, size: Option<u64>, out: &std::fs::File) -> Result<()> {
    fetch(url, Some(sha256), size, out).map(|_| ())
}

/// [`download`], where the digest may be unknown (`None`: first use, the caller pins what it returns): the
/// sha256 and size of what came.
pub fn fetch(url: &str, sha256: Option<&str>, size: Option<u64>, out: &std::fs::File) -> Result<(String, u64)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("clawlocal/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| {
        Error::failure(format!("cannot download {url}: {e}")).with_hint("check the network, or --mirror")
    })?;
    if response.status() != 200 {
        return Err(Error::failure(format!("{url}: HTTP {}", response.status().as_u16())));
    }
    copy_verified(&mut response.into_body().into_reader(), url, sha256, size, out)
}

/// Copy `input` (named `origin` in errors: a URL or a file) into `out`, hashing as it comes and bounded by
/// `MAX_BYTES`; a size or sha256 other than the pinned one is an error. The sha256 and size of what came.
pub fn copy_verified(
    input: &mut dyn Read,
    origin: &str,
    sha256: Option<&str>,
    size: Option<u64>,
    mut out: &std::fs::File,
) -> Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| Error::io(format!("reading {origin}"), &e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > MAX_BYTES {
            return Err(Error::failure(format!("{origin}: larger than {MAX_BYTES} bytes; refusing")));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| Error::io("cannot write the archive".to_string(), &e))?;
    }
    if let Some(size) = size.filter(|s| *s != total) {
        return Err(Error::failure(format!(
            "{origin}: {total} bytes, but the lock pins {size}; nothing was installed"
        ))
        .with_hint("another file than the pinned one; check --mirror, --source or the lock's engine entry"));
    }
    let got = hex(&hasher.finalize());
    if let Some(sha256) = sha256.filter(|want| *want != got) {
        return Err(Error::failure(format!(
            "{origin}: sha256 {got} does not match the pinned {sha256} ({total} bytes); nothing was installed"
        ))
        .with_hint("other bytes than the pinned ones; try again, or check --mirror, --source or --sha256"));
    }
    out.sync_all().map_err(|e| Error::io("cannot sync the archive".to_string(), &e))?;
    Ok((got, total))
}

/// Unpack a `.tar.gz` whose every entry lies under `top/` into `into`, refusing anything that could escape it.
pub fn unpack(archive: impl Read, top: &str, into: &Path) -> Result<()> {
    unpack_at_most(archive, top, into, MAX_ENTRIES)
}

/// [`unpack`] with another bound on the entries (a source tree holds thousands of files).
pub fn unpack_at_most(archive: impl Read, top: &str, into: &Path, max_entries: usize) -> Result<()> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let entries = tar.entries().map_err(|e| Error::failure(format!("not a tar.gz archive: {e}")))?;
    let mut symlinks = Vec::new();
    for (count, entry) in entries.enumerate() {
        if count >= max_entries {
            return Err(Error::failure(format!("more than {max_entries} entries; refusing")));
        }
        let mut entry = entry.map_err(|e| Error::failure(format!("damaged archive: {e}")))?;
        // GitHub's tag archives open with a pax global header (the commit): metadata, not an entry.
        if entry.header().entry_type().is_pax_global_extensions() {
            continue;
        }
        let raw = entry.path().map_err(|e| Error::failure(format!("bad entry name: {e}")))?.into_owned();
        let rel = inside(&raw, top)?;
        let target = into.join(&rel);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            mkdir(&target)?;
        } else if kind.is_file() {
            mkdir(crate::fsutil::parent(&target))?;
            let mode = entry.header().mode().unwrap_or(0o644) & 0o755;
            let mut out = std::fs::File::create(&target)
                .map_err(|e| Error::io(format!("cannot create {}", target.display()), &e))?;
            std::io::copy(&mut entry, &mut out).map_err(|e| Error::io(format!("unpacking {}", raw.display()), &e))?;
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(format!("cannot set the mode of {}", target.display()), &e))?;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .ok()
                .flatten()
                .ok_or_else(|| Error::failure(format!("symlink {} has no target", raw.display())))?;
            // The link must resolve inside the top folder: relative, and never climbing out of it.
            let resolved = crate::fsutil::parent(&rel).join(&link);
            if link.is_absolute() || normalize(&resolved).is_none_or(|p| !p.starts_with(top)) {
                return Err(Error::failure(format!(
                    "symlink {} -> {} points outside {top}/; refusing",
                    raw.display(),
                    link.display()
                )));
            }
            symlinks.push((link.into_owned(), target));
        } else {
            return Err(Error::failure(format!(
                "entry {} is a {:?} (hard links and devices are refused)",
                raw.display(),
                kind
            )));
        }
    }
    for (link, at) in symlinks {
        mkdir(crate::fsutil::parent(&at))?;
        std::os::unix::fs::symlink(&link, &at)
            .map_err(|e| Error::io(format!("cannot create the symlink {}", at.display()), &e))?;
    }
    Ok(())
}

/// `raw` as a path under `top/` with no `..`, root or prefix components.
fn inside(raw: &Path, top: &str) -> Result<PathBuf> {
    // `normalize` already refuses absolute paths and climbing above the start.
    let clean = normalize(raw).filter(|p| p.starts_with(top));
    clean.ok_or_else(|| {
        Error::failure(format!("entry {} is outside the archive's {top}/ folder; refusing", raw.display()))
    })
}

/// Lexically resolve `.` and `..`; None when it climbs above the start or is absolute.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn mkdir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let tar = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    /// A regular entry with its name written raw (the tar crate's builder refuses `..`; attackers' tools don't).
    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Regular);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
        b.append(&h, body).unwrap();
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_size(0);
        h.set_entry_type(kind);
        b.append_link(&mut h, path, target).unwrap();
    }

    #[test]
    fn unpacks_files_and_symlink_chains_inside_the_top_folder() {
        let gz = targz(|b| {
            file(b, "llama-b1/llama-server", b"#!/bin/sh\n");
            file(b, "llama-b1/libllama.so.0.5.0", b"lib");
            link(b, tar::EntryType::Symlink, "llama-b1/libllama.so.0", "libllama.so.0.5.0");
            link(b, tar::EntryType::Symlink, "llama-b1/libllama.so", "libllama.so.0");
        });
        let dir = tempfile::tempdir().unwrap();
        unpack(&gz[..], "llama-b1", dir.path()).unwrap();
        let top = dir.path().join("llama-b1");
        assert_eq!(std::fs::read_link(top.join("libllama.so")).unwrap(), PathBuf::from("libllama.so.0"));
        assert_eq!(std::fs::read(top.join("libllama.so")).unwrap(), b"lib", "the chain resolves");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(top.join("llama-server")).unwrap().permissions().mode() & 0o777, 0o755);
    }

    #[test]
    fn refuses_entries_and_links_that_escape() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("parent dir", targz(|b| file(b, "llama-b1/../../evil", b"x"))),
            ("other top", targz(|b| file(b, "elsewhere/llama-server", b"x"))),
            ("absolute link", targz(|b| link(b, tar::EntryType::Symlink, "llama-b1/l", "/etc/passwd"))),
            ("climbing link", targz(|b| link(b, tar::EntryType::Symlink, "llama-b1/l", "../../x"))),
            ("hard link", targz(|b| link(b, tar::EntryType::Link, "llama-b1/h", "llama-b1/llama-server"))),
        ];
        for (what, gz) in cases {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(&gz[..], "llama-b1", dir.path()).unwrap_err();
            assert!(err.message.contains("refus"), "{what}: {}", err.message);
            assert!(!dir.path().join("evil").exists() && !dir.path().parent().unwrap().join("evil").exists());
        }
    }

    #[test]
    fn a_custom_release_keeps_the_platform_asset_shape() {
        let facts = |os: &str, arch: &str| HostFacts {
            os: os.into(),
            arch: arch.into(),
            glibc: Some(super::super::backend::Version2(2, 39)),
            ..HostFacts::default()
        };
        let linux = facts("linux", "x86_64");
        let lock = crate::lockfile::LockFile::default();
        let asked = std::cell::RefCell::new(Vec::new());
        let release_host = |release: &str, asset: &str| -> Result<(String, u64)> {
            asked.borrow_mut().push(format!("{release}/{asset}"));
            Err(Error::failure("no release host in this test"))
        };
        let custom =
            |r: &str, s: Option<&str>, f: &HostFacts| Request::custom(r, s, f, Some("http://m/"), &lock, &release_host);
        let r = custom("b11000", Some(&"A".repeat(64)), &linux).unwrap();
        assert_eq!(r.url(), "http://m/b11000/llama-b11000-bin-ubuntu-x64.tar.gz");
        assert_eq!((r.folder().as_str(), r.sha256.as_str()), ("llama-b11000", "a".repeat(64).as_str()));
        assert!(custom("11000", Some(&"a".repeat(64)), &linux).is_err());
        assert!(custom("b1", Some("abc"), &linux).is_err());
        assert!(asked.borrow().is_empty(), "a digest given asks the release host nothing");
        let pinned = |f: &HostFacts| Request::locked_or_pinned(&lock, f, None, &release_host);
        assert!(pinned(&facts("freebsd", "x86_64")).unwrap_err().message.contains("freebsd/x86_64"));
        let p = pinned(&facts("macos", "aarch64")).unwrap();
        assert_eq!(p.url(), format!("{DEFAULT_MIRROR}/b11160/llama-b11160-bin-macos-arm64.tar.gz"));
        let cuda = HostFacts { nvidia_driver: Some(super::super::backend::Version2(575, 51)), ..linux.clone() };
        let c = pinned(&cuda).unwrap();
        assert_eq!(c.asset, "llama-b11160-bin-ubuntu-cuda-12.8-x64.tar.gz");
        assert_eq!(c.companion.unwrap().asset, "cudart-llama-b11160-bin-ubuntu-cuda-12.8-x64.tar.gz");
        assert!(asked.borrow().is_empty(), "a pinned archive and its companion ask the release host nothing");
        // Another release with no digest given nor locked takes the release host's: asked for exactly that asset.
        assert!(custom("b11200", None, &linux).is_err());
        assert_eq!(*asked.borrow(), ["b11200/llama-b11200-bin-ubuntu-x64.tar.gz"]);
    }
}
