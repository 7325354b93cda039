//! Resolve a model on the Hub (or take it from clawlocal.lock), download and verify it into the Hugging Face
//! cache, and pin what was resolved in the lock: `clawlocal pull`, and the `Fetch` step of init's plan.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{AUTO_QUANTS, Catalog, FileFact, quant_spec};
use crate::error::{Error, Result};
use crate::gguf::{self, Header};
use crate::hub::cache::RepoCache;
use crate::hub::client::{Client, RangeReader, RemoteFile, Resolution, Target};
use crate::hub::{self, HubConfig, HubRef, download};
use crate::layout::Layout;
use crate::lockfile::{LockFile, LockedFile, LockedModel};
use crate::output::Printer;

/// The `pull --json` document (schema: schemas/pull.schema.json).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PullDocument {
    /// The snapshot entry of the (first) file in the Hugging Face cache: what llama-server's `-m` gets.
    pub path: PathBuf,
    pub sha256: String,
    /// Bytes of all files together.
    pub size: u64,
    pub repo: String,
    /// The commit the files came from.
    pub revision: String,
    pub file: String,
    /// The revision asked for (a branch, tag or commit).
    pub requested_revision: String,
    pub files: Vec<PulledFile>,
    /// Body bytes received by this run (0 when everything was cached).
    pub downloaded_bytes: u64,
    pub lock: PathBuf,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PulledFile {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub downloaded_bytes: u64,
    pub resumed_from: u64,
}

/// What was asked for: a catalog model at a quantization, or a file (set) on the Hub. Written as
/// `<catalog id>:<QUANT>` or the `hf:` spec itself, in the receipt and the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(into = "String", try_from = "String")]
#[schemars(with = "String")]
pub enum ModelSpec {
    Catalog { id: String, quant: String },
    Hub(String),
}

impl std::fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Catalog { id, quant } => write!(f, "{id}:{quant}"),
            Self::Hub(spec) => f.write_str(spec),
        }
    }
}

impl From<ModelSpec> for String {
    fn from(s: ModelSpec) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for ModelSpec {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        if s.starts_with("hf:") {
            return Ok(Self::Hub(s));
        }
        match s.rsplit_once(':') {
            Some((id, quant)) if !id.is_empty() && !quant.is_empty() => {
                Ok(Self::Catalog { id: id.into(), quant: quant.into() })
            }
            _ => Err(format!("`{s}` is neither `<catalog id>:<QUANT>` nor an `hf:` spec")),
        }
    }
}

impl ModelSpec {
    /// What to fetch for it.
    pub fn wanted(&self) -> Result<Wanted> {
        match self {
            Self::Catalog { id, quant } => wanted(id, Some(quant)),
            Self::Hub(spec) => wanted(spec, None),
        }
    }
}

/// What to fetch: the Hub reference, the spec recorded in the lock, and sizes/sha256 the catalog pins.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub spec: ModelSpec,
    pub hub: HubRef,
    pub pinned: Vec<FileFact>,
}

/// A catalog id (with `--quant`, Q4_K_M by default) or an `hf:` spec.
pub fn wanted(model: &str, quant: Option<&str>) -> Result<Wanted> {
    if model.starts_with("hf:") {
        if quant.is_some() {
            return Err(Error::usage("--quant applies to catalog models; an hf: spec names its file"));
        }
        return Ok(Wanted {
            spec: ModelSpec::Hub(model.to_string()),
            hub: hub::parse_hf_spec(model)?,
            pinned: Vec::new(),
        });
    }
    let catalog = Catalog::bundled();
    let m = catalog.get(model).ok_or_else(|| {
        Error::usage(format!("unknown model `{model}`"))
            .with_hint("`clawlocal models` lists the catalog; or use hf:ORG/REPO/FILE.gguf")
    })?;
    let quant = match quant {
        Some(q) => quant_spec(q).map(|s| s.name).ok_or_else(|| Error::usage(format!("unknown quantization `{q}`")))?,
        None => {
            ["Q4_K_M"].iter().chain(AUTO_QUANTS.iter()).copied().find(|q| m.quants.contains_key(*q)).unwrap_or("Q4_K_M")
        }
    };
    let files = m.files_for(quant).ok_or_else(|| {
        Error::usage(format!("{model} has no {quant} in the catalog"))
            .with_hint(format!("available: {}", m.quants.keys().cloned().collect::<Vec<_>>().join(", ")))
    })?;
    Ok(Wanted {
        spec: ModelSpec::Catalog { id: model.to_string(), quant: quant.to_string() },
        hub: HubRef {
            repo: files.repo.clone(),
            revision: files.revision.clone().unwrap_or_else(|| "main".into()),
            files: files.files.iter().map(|f| f.name.clone()).collect(),
        },
        pinned: files.files,
    })
}

/// The commit and files `want` stands for: pinned by the lock, else from the cache (offline), else from the Hub.
pub fn resolve(
    want: &Wanted,
    lock: &LockFile,
    lock_path: &Path,
    cache: &RepoCache,
    client: &Client,
    locked: bool,
    printer: &Printer,
) -> Result<Resolution> {
    let first = &want.hub.files[0];
    let resolution = if let Some(entry) = lock.find(&want.hub.repo, &want.hub.revision, first) {
        printer.detail(&format!("{}: pinned by {} to {}", want.spec, lock_path.display(), entry.commit));
        Resolution {
            commit: entry.commit.clone(),
            files: entry
                .files
                .iter()
                .map(|f| RemoteFile { name: f.name.clone(), size: f.size, sha256: f.sha256.clone() })
                .collect(),
        }
    } else if locked {
        return Err(Error::usage(format!(
            "{} ({} at {}) is not in {}",
            want.spec,
            want.hub.repo,
            want.hub.revision,
            lock_path.display()
        ))
        .with_hint("--locked only uses what the lock pins: run once without --locked to resolve and pin it"));
    } else if client.config.offline {
        from_cache(cache, &want.hub)?
    } else {
        client.resolve(&want.hub, &mut |why, wait| printer.note(&format!("{why}; retrying in {}s", wait.as_secs())))?
    };
    check_pins(want, &resolution)?;
    Ok(resolution)
}

/// Resolve `want` and read its GGUF header: from the cached file when there is one, else from the first bytes
/// of the remote file by Range. Nothing is downloaded beyond the header.
pub fn inspect(want: &Wanted, layout: &Layout, config: HubConfig, printer: &Printer) -> Result<(Resolution, Header)> {
    let lock_path = layout.lock_file();
    let lock = LockFile::load(&lock_path)?;
    let cache = RepoCache::new(&layout.hub_cache, &want.hub.repo);
    let client = Client::new(config);
    let resolution = resolve(want, &lock, &lock_path, &cache, &client, false, printer)?;
    let first = &resolution.files[0];
    if cache.blob_len(&first.sha256) == Some(first.size) {
        return Ok((resolution.clone(), gguf::read_file(&cache.blob(&first.sha256))?));
    }
    if client.config.offline {
        return Err(Error::usage(format!("offline, and {} from {} is not in the cache", first.name, want.hub.repo)));
    }
    let target = Target { repo: &want.hub.repo, revision: &resolution.commit, file: &first.name };
    let mut reader = RangeReader::new(&client, target, first.size);
    let header = gguf::parse(std::io::BufReader::with_capacity(256 << 10, &mut reader))
        .map_err(|e| Error::failure(format!("{} in {} at {}: {e}", first.name, want.hub.repo, resolution.commit)))?;
    printer.detail(&format!("read the GGUF header of {} with {} range request(s)", first.name, reader.requests));
    Ok((resolution, header))
}

/// Resolve (lock, cache or Hub), fetch every file, link the snapshot, write refs and the lock.
/// `verify`: a blob already in the cache at its size is hashed again; one whose bytes are not its sha256 (damaged in
/// place) is taken away and fetched again.
pub fn pull(
    want: &Wanted,
    layout: &Layout,
    config: HubConfig,
    locked: bool,
    verify: bool,
    printer: &Printer,
) -> Result<PullDocument> {
    let lock_path = layout.lock_file();
    let mut lock = LockFile::load(&lock_path)?;
    let cache = RepoCache::new(&layout.hub_cache, &want.hub.repo);
    let client = Client::new(config);
    let resolution = resolve(want, &lock, &lock_path, &cache, &client, locked, printer)?;
    if verify {
        for file in &resolution.files {
            let blob = cache.blob(&file.sha256);
            if cache.blob_len(&file.sha256) != Some(file.size) {
                continue;
            }
            if download::sha256_file(&blob)? != file.sha256 {
                printer.warn(&format!(
                    "{} in the cache is damaged (its bytes are not sha256 {}): fetching it again",
                    file.name, file.sha256
                ));
                std::fs::remove_file(&blob).map_err(|e| Error::io(format!("cannot remove {}", blob.display()), &e))?;
            }
        }
    }
    let files = fetch(want, &resolution, layout, &client, printer)?;
    if !locked && lock.upsert(locked_entry(want, &resolution)) {
        lock.save(&lock_path)?;
    }
    Ok(PullDocument {
        path: files[0].path.clone(),
        sha256: files[0].sha256.clone(),
        size: files.iter().map(|f| f.size).sum(),
        repo: want.hub.repo.clone(),
        revision: resolution.commit.clone(),
        file: files[0].name.clone(),
        requested_revision: want.hub.revision.clone(),
        downloaded_bytes: files.iter().map(|f| f.downloaded_bytes).sum(),
        files,
        lock: lock_path,
    })
}

/// What the lock pins for a resolved model.
pub fn locked_entry(want: &Wanted, resolution: &Resolution) -> LockedModel {
    LockedModel {
        spec: want.spec.to_string(),
        repo: want.hub.repo.clone(),
        revision: want.hub.revision.clone(),
        commit: resolution.commit.clone(),
        files: resolution
            .files
            .iter()
            .map(|f| LockedFile { name: f.name.clone(), size: f.size, sha256: f.sha256.clone() })
            .collect(),
    }
}

/// Fetch every file of a resolution into the Hub cache (verified while streaming, resumed when partial), link
/// the snapshot and write the revision's ref. The lock is not touched: pinning is the caller's step.
pub fn fetch(
    want: &Wanted,
    resolution: &Resolution,
    layout: &Layout,
    client: &Client,
    printer: &Printer,
) -> Result<Vec<PulledFile>> {
    let cache = RepoCache::new(&layout.hub_cache, &want.hub.repo);
    let offline = client.config.offline;
    if !offline {
        // The whole set before its first byte: a split model must not fetch shard 1 and then run out of room.
        let missing: Vec<(&str, u64)> = resolution
            .files
            .iter()
            .filter(|f| cache.blob_len(&f.sha256) != Some(f.size))
            .map(|f| {
                let partial = std::fs::metadata(cache.incomplete(&f.sha256)).map_or(0, |m| m.len()).min(f.size);
                (f.name.as_str(), f.size - partial)
            })
            .collect();
        if !missing.is_empty() {
            let dir = existing_ancestor(&layout.hub_cache);
            check_room(&missing, crate::fsutil::free_space(&dir)?, &dir)?;
        }
    }
    let mut files = Vec::new();
    for file in &resolution.files {
        let target = Target { repo: &want.hub.repo, revision: &resolution.commit, file: &file.name };
        let fetched = if offline {
            if cache.blob_len(&file.sha256) != Some(file.size) {
                return Err(Error::usage(format!(
                    "offline, and {} from {} is not in the cache {}",
                    file.name,
                    want.hub.repo,
                    layout.hub_cache.display()
                ))
                .with_hint("run once with network (without --offline / HF_HUB_OFFLINE) or pre-seed HF_HUB_CACHE"));
            }
            download::Fetched { blob: cache.blob(&file.sha256), downloaded: 0, resumed_from: 0 }
        } else {
            // Claimed before the first byte: a pull killed between the blob's rename and a later mark would leave
            // clawlocal's blob looking like another tool's, and `uninstall --purge` would keep it.
            if cache.blob_len(&file.sha256) != Some(file.size) {
                cache.mark_downloaded(&file.sha256)?;
            }
            download::fetch(client, &cache, target, file, &mut printer.download_progress())?
        };
        let path = cache.link_snapshot(&resolution.commit, &file.name, &file.sha256)?;
        files.push(PulledFile {
            name: file.name.clone(),
            path,
            size: file.size,
            sha256: file.sha256.clone(),
            downloaded_bytes: fetched.downloaded,
            resumed_from: fetched.resumed_from,
        });
    }
    if !offline {
        cache.write_ref(&want.hub.revision, &resolution.commit)?;
    }
    Ok(files)
}

/// The nearest folder of `path` that exists (the cache may not exist before the first pull).
fn existing_ancestor(path: &Path) -> PathBuf {
    path.ancestors().find(|p| p.is_dir()).unwrap_or(Path::new("/")).to_path_buf()
}

/// Room for every file still to fetch (`(name, bytes)`), plus the download margin, in `free` bytes at `dir`.
fn check_room(missing: &[(&str, u64)], free: u64, dir: &Path) -> Result<()> {
    let need: u64 = missing.iter().map(|(_, n)| n).sum();
    let margin = download::FREE_SPACE_MARGIN;
    if free >= need.saturating_add(margin) {
        return Ok(());
    }
    let what = match missing {
        [(name, _)] => format!("{name}: it needs"),
        _ => format!("the {} files of the set: they need", missing.len()),
    };
    Err(Error::failure(format!(
        "not enough disk space for {what} {} (+ a {} margin), {} has {} free; nothing was downloaded",
        crate::size::human(need),
        crate::size::human(margin),
        dir.display(),
        crate::size::human(free)
    ))
    .with_hint("free some space, or set HF_HUB_CACHE to a folder on a bigger disk"))
}

/// Offline: the commit from `refs/<revision>`, each file's sha256 from its snapshot link.
fn from_cache(cache: &RepoCache, r: &HubRef) -> Result<Resolution> {
    let missing = |what: String| {
        Error::usage(format!("offline, and {what} is not in the cache {}", cache.dir.display())).with_hint(
            "run once with network (without --offline / HF_HUB_OFFLINE), or pre-seed HF_HUB_CACHE and clawlocal.lock",
        )
    };
    let commit =
        cache.read_ref(&r.revision).ok_or_else(|| missing(format!("revision {} of {}", r.revision, r.repo)))?;
    let files = r
        .files
        .iter()
        .map(|name| {
            let sha = cache.snapshot_blob(&commit, name).ok_or_else(|| missing(format!("{name} from {}", r.repo)))?;
            let size = cache.blob_len(&sha).unwrap_or(0);
            Ok(RemoteFile { name: name.clone(), size, sha256: sha })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Resolution { commit, files })
}

/// The catalog pins a commit with sizes and sha256: the Hub must agree.
fn check_pins(want: &Wanted, r: &Resolution) -> Result<()> {
    for (pin, got) in want.pinned.iter().zip(&r.files) {
        let sha_differs = pin.sha256.as_ref().is_some_and(|s| *s != got.sha256);
        let size_differs = pin.size.is_some_and(|s| s != got.size);
        if sha_differs || size_differs {
            return Err(Error::failure(format!(
                "{} in {} at {}: the Hub says sha256 {} and {} bytes, the catalog pins {} and {} bytes",
                got.name,
                want.hub.repo,
                r.commit,
                got.sha256,
                got.size,
                pin.sha256.as_deref().unwrap_or("-"),
                pin.size.map_or("-".into(), |s| s.to_string())
            ))
            .with_hint(
                "HF_ENDPOINT may point at a mirror that serves other files; the catalog entry may need an update",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ModelSpec, Path, check_room, download};

    #[test]
    fn room_is_checked_for_the_whole_set_before_the_first_byte() {
        let mib = 1u64 << 20;
        let set = [("m-00001-of-00002.gguf", 40 * mib), ("m-00002-of-00002.gguf", 40 * mib)];
        // 100 MiB free holds either shard, not both with the margin.
        let e = check_room(&set, 100 * mib, Path::new("/cache")).unwrap_err();
        assert!(
            e.message.contains("the 2 files of the set") && e.message.contains("nothing was downloaded"),
            "{}",
            e.message
        );
        assert!(e.message.contains("margin"), "{}", e.message);
        assert!(check_room(&set, 80 * mib + download::FREE_SPACE_MARGIN, Path::new("/cache")).is_ok());
    }

    #[test]
    fn a_model_spec_reads_back_as_it_was_written() {
        for text in ["qwen2.5-7b-instruct:Q4_K_M", "hf:org/repo/file-Q8_0.gguf@v1.0", "hf:org/repo/a:b.gguf"] {
            let spec = ModelSpec::try_from(text.to_string()).unwrap();
            assert_eq!(spec.to_string(), text);
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
        }
        assert!(matches!(ModelSpec::try_from("hf:o/r/m.gguf".to_string()), Ok(ModelSpec::Hub(_))));
        assert!(ModelSpec::try_from("no-quant".to_string()).is_err());
        assert!(ModelSpec::try_from(":Q4_K_M".to_string()).is_err());
    }
}
