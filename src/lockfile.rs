//! `clawlocal.lock`: the Hub commit, files, sizes and sha256 every model was resolved to, so a later run (CI)
//! downloads exactly the same bytes. Written after a verified pull; `--locked` refuses to resolve anything new.
//! Schema: schemas/lock.schema.json.

use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const LOCK_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    pub models: Vec<LockedModel>,
    /// The llama.cpp archives init installed (or a person pinned): a second install, and CI, fetch exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<LockedEngine>,
}

impl Default for LockFile {
    fn default() -> Self {
        Self { version: LOCK_VERSION, models: Vec::new(), engines: Vec::new() }
    }
}

/// One engine archive: the release, the asset's name, its sha256 and, where known, its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockedEngine {
    /// `b<N>`.
    pub release: String,
    /// The archive's name in the release (`llama-b11160-bin-ubuntu-x64.tar.gz`).
    pub asset: String,
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockedModel {
    /// What was asked for: a catalog id with its quant (`qwen2.5-1.5b-instruct:Q4_K_M`) or the `hf:` spec.
    pub spec: String,
    /// `ORG/NAME` on the Hub.
    pub repo: String,
    /// The revision asked for (a branch, tag or commit).
    pub revision: String,
    /// The commit that revision pointed to when it was resolved.
    #[schemars(regex(pattern = r"^[0-9a-f]{40}$"))]
    pub commit: String,
    /// The file, or every shard of a split GGUF in order.
    #[schemars(length(min = 1))]
    pub files: Vec<LockedFile>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LockedFile {
    pub name: String,
    pub size: u64,
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

impl LockedModel {
    /// The entry for this repo, revision and (first) file: what one spec resolves to.
    fn is_for(&self, repo: &str, revision: &str, first_file: &str) -> bool {
        self.repo == repo && self.revision == revision && self.files.first().is_some_and(|f| f.name == first_file)
    }
}

impl LockFile {
    /// A missing file is an empty lock; a file that does not parse is an error naming it (never overwritten).
    pub fn load(path: &Path) -> Result<Self> {
        let Some(lock) =
            crate::fsutil::load_json::<Self>(path, "fix the file, or delete it to resolve every model afresh")?
        else {
            return Ok(Self::default());
        };
        if lock.version != LOCK_VERSION {
            return Err(Error::usage(format!(
                "{}: lock version {} is not supported (this clawlocal writes {LOCK_VERSION})",
                path.display(),
                lock.version
            )));
        }
        for m in &lock.models {
            let bad_commit = m.commit.len() != 40 || !m.commit.bytes().all(|b| b.is_ascii_hexdigit());
            let bad_sha =
                m.files.iter().any(|f| f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()));
            if bad_commit || bad_sha || m.files.is_empty() {
                return Err(Error::usage(format!(
                    "{}: entry `{}` has a malformed commit or sha256",
                    path.display(),
                    m.spec
                ))
                .with_hint("delete the entry to resolve it afresh"));
            }
        }
        if let Some(e) =
            lock.engines.iter().find(|e| e.sha256.len() != 64 || !e.sha256.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(Error::usage(format!("{}: engine `{}` has a malformed sha256", path.display(), e.asset))
                .with_hint("delete the entry, or copy the digest from the release page"));
        }
        Ok(lock)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        crate::fsutil::write_atomic(path, self.text().as_bytes())
    }

    /// The file's bytes, as `save` writes them.
    pub fn text(&self) -> String {
        serde_json::to_string_pretty(self).expect("the lock serialises") + "\n"
    }

    /// The pinned engine archive of this shape (`llama-b<N>-bin-ubuntu-x64.tar.gz` for any release `b<N>`).
    pub fn engine_like(&self, asset_of_pinned_release: &str, pinned_release: &str) -> Option<&LockedEngine> {
        self.engines.iter().find(|e| e.asset.replace(&e.release, pinned_release) == asset_of_pinned_release)
    }

    /// Insert or replace the entry for the same asset shape; true when the lock changed.
    pub fn upsert_engine(&mut self, entry: LockedEngine, pinned_release: &str) -> bool {
        let shape = entry.asset.replace(&entry.release, pinned_release);
        match self.engines.iter_mut().find(|e| e.asset.replace(&e.release, pinned_release) == shape) {
            Some(old) if *old == entry => false,
            Some(old) => {
                *old = entry;
                true
            }
            None => {
                self.engines.push(entry);
                true
            }
        }
    }

    pub fn find(&self, repo: &str, revision: &str, first_file: &str) -> Option<&LockedModel> {
        self.models.iter().find(|m| m.is_for(repo, revision, first_file))
    }

    /// Insert or replace the entry for the same repo, revision and file; true when the lock changed.
    pub fn upsert(&mut self, entry: LockedModel) -> bool {
        let first = entry.files.first().map(|f| f.name.clone()).unwrap_or_default();
        match self.models.iter_mut().find(|m| m.is_for(&entry.repo, &entry.revision, &first)) {
            Some(old) if *old == entry => false,
            Some(old) => {
                *old = entry;
                true
            }
            None => {
                self.models.push(entry);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(commit: char) -> LockedModel {
        LockedModel {
            spec: "hf:o/n/m.gguf".into(),
            repo: "o/n".into(),
            revision: "main".into(),
            commit: commit.to_string().repeat(40),
            files: vec![LockedFile { name: "m.gguf".into(), size: 3, sha256: "a".repeat(64) }],
        }
    }

    #[test]
    fn round_trips_and_upserts_by_repo_revision_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clawlocal.lock");
        let mut lock = LockFile::load(&path).unwrap();
        assert!(lock.models.is_empty(), "missing file = empty lock");
        assert!(lock.upsert(entry('1')));
        assert!(!lock.upsert(entry('1')), "same entry: no change");
        assert!(lock.upsert(entry('2')), "new commit replaces");
        assert_eq!(lock.models.len(), 1);
        lock.save(&path).unwrap();
        assert_eq!(LockFile::load(&path).unwrap(), lock);
        assert_eq!(lock.find("o/n", "main", "m.gguf").unwrap().commit, "2".repeat(40));
        assert!(lock.find("o/n", "v2", "m.gguf").is_none());
    }

    #[test]
    fn a_broken_lock_is_an_error_naming_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clawlocal.lock");
        std::fs::write(&path, "{\"version\": 1, \"models\": [{\"spec\": 3}]}").unwrap();
        let err = LockFile::load(&path).unwrap_err();
        assert!(err.message.contains("clawlocal.lock:1:") && err.message.contains("models[0].spec"), "{}", err.message);
        std::fs::write(
            &path,
            serde_json::to_string(&LockFile {
                version: 1,
                models: vec![LockedModel { commit: "xyz".into(), ..entry('1') }],
                engines: Vec::new(),
            })
            .unwrap(),
        )
        .unwrap();
        assert!(LockFile::load(&path).unwrap_err().message.contains("malformed commit"));
    }

    #[test]
    fn an_engine_pin_is_found_for_its_asset_shape_in_any_release() {
        let mut lock = LockFile::default();
        let pin = |release: &str, sha: char| LockedEngine {
            release: release.into(),
            asset: format!("llama-{release}-bin-ubuntu-x64.tar.gz"),
            sha256: sha.to_string().repeat(64),
            size: Some(7),
        };
        assert!(lock.upsert_engine(pin("b99999", 'a'), "b11160"));
        assert!(!lock.upsert_engine(pin("b99999", 'a'), "b11160"), "the same pin: no change");
        assert!(lock.upsert_engine(pin("b99998", 'b'), "b11160"), "another release of the same asset replaces it");
        assert_eq!(lock.engines.len(), 1);
        let found = lock.engine_like("llama-b11160-bin-ubuntu-x64.tar.gz", "b11160").unwrap();
        assert_eq!(found.release, "b99998");
        assert!(lock.engine_like("llama-b11160-bin-ubuntu-arm64.tar.gz", "b11160").is_none());
        // A lock without engines keeps its bytes (no `engines` key), so older locks stay unchanged.
        assert!(!LockFile::default().text().contains("engines"));
    }
}
