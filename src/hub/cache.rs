//! The Hugging Face cache layout, shared with huggingface_hub and llama.cpp:
//! `models--ORG--NAME/blobs/<sha256>`, `snapshots/<commit>/<file>` → `../../blobs/<sha256>`, `refs/<revision>`,
//! and `.locks/models--ORG--NAME/<sha256>.lock` at the cache root. A blob only ever gets its name after its size
//! and sha256 matched, so an existing blob of the right size is complete.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil;

#[derive(Debug, Clone)]
pub struct RepoCache {
    /// The hub cache root (`HF_HUB_CACHE`).
    pub root: PathBuf,
    /// `models--ORG--NAME` under it.
    pub dir: PathBuf,
    folder: String,
}

impl RepoCache {
    pub fn new(root: &Path, repo: &str) -> Self {
        let folder = format!("models--{}", repo.replace('/', "--"));
        Self { root: root.to_path_buf(), dir: root.join(&folder), folder }
    }
    pub fn blob(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(sha256)
    }
    /// Partial data; resumed by the next attempt or run.
    pub fn incomplete(&self, sha256: &str) -> PathBuf {
        self.dir.join("blobs").join(format!("{sha256}.incomplete"))
    }
    pub fn lock_path(&self, sha256: &str) -> PathBuf {
        self.root.join(".locks").join(&self.folder).join(format!("{sha256}.lock"))
    }
    pub fn snapshot(&self, commit: &str, file: &str) -> PathBuf {
        self.dir.join("snapshots").join(commit).join(file)
    }
    fn ref_path(&self, revision: &str) -> PathBuf {
        self.dir.join("refs").join(revision)
    }

    /// `.clawlocal-downloaded` in the repo folder: the sha256 of every blob clawlocal itself downloaded here, one
    /// a line. It lives with the model (not in clawlocal's state, which uninstall removes), so `uninstall --purge`
    /// after a later `init` still knows whose blob it is, and never removes one another tool fetched.
    fn provenance(&self) -> PathBuf {
        self.dir.join(".clawlocal-downloaded")
    }
    pub fn downloaded_by_clawlocal(&self, sha256: &str) -> bool {
        std::fs::read_to_string(self.provenance()).is_ok_and(|t| t.lines().any(|l| l.trim() == sha256))
    }
    pub fn mark_downloaded(&self, sha256: &str) -> Result<()> {
        if self.downloaded_by_clawlocal(sha256) {
            return Ok(());
        }
        let mut text = std::fs::read_to_string(self.provenance()).unwrap_or_default();
        text.push_str(sha256);
        text.push('\n');
        crate::fsutil::write_atomic(&self.provenance(), text.as_bytes())
    }
    /// Temp files of a killed write of the provenance list.
    pub fn remove_stray_temps(&self) {
        crate::fsutil::remove_stray_temps(&self.provenance());
    }
    /// Forget a blob (after it was removed); the file goes when it lists nothing.
    pub fn unmark_downloaded(&self, sha256: &str) -> Result<()> {
        let Ok(text) = std::fs::read_to_string(self.provenance()) else { return Ok(()) };
        let rest: String = text.lines().filter(|l| l.trim() != sha256).map(|l| format!("{l}\n")).collect();
        if rest.is_empty() {
            std::fs::remove_file(self.provenance())
                .map_err(|e| crate::error::Error::io(format!("cannot remove {}", self.provenance().display()), &e))
        } else {
            crate::fsutil::write_atomic(&self.provenance(), rest.as_bytes())
        }
    }

    /// The blob's size when it is present.
    pub fn blob_len(&self, sha256: &str) -> Option<u64> {
        std::fs::metadata(self.blob(sha256)).ok().filter(|m| m.is_file()).map(|m| m.len())
    }

    /// The commit a branch or tag pointed to when last resolved.
    pub fn read_ref(&self, revision: &str) -> Option<String> {
        if super::is_commit(revision) {
            return Some(revision.to_string());
        }
        let text = std::fs::read_to_string(self.ref_path(revision)).ok()?;
        let commit = text.trim();
        super::is_commit(commit).then(|| commit.to_string())
    }

    pub fn write_ref(&self, revision: &str, commit: &str) -> Result<()> {
        if super::is_commit(revision) || self.read_ref(revision).as_deref() == Some(commit) {
            return Ok(());
        }
        fsutil::write_atomic(&self.ref_path(revision), commit.as_bytes())
    }

    /// The sha256 a snapshot entry points at (its blob's name), when the entry and its blob exist.
    pub fn snapshot_blob(&self, commit: &str, file: &str) -> Option<String> {
        let target = std::fs::read_link(self.snapshot(commit, file)).ok()?;
        let sha = target.file_name()?.to_str()?.to_string();
        (sha.len() == 64 && self.blob_len(&sha).is_some()).then_some(sha)
    }

    /// Point `snapshots/<commit>/<file>` at the blob with a relative symlink, replacing a wrong entry atomically.
    pub fn link_snapshot(&self, commit: &str, file: &str, sha256: &str) -> Result<PathBuf> {
        let entry = self.snapshot(commit, file);
        let depth = file.split('/').count() + 1; // the file's folders + <commit> + snapshots, minus the file itself
        let target = PathBuf::from("../".repeat(depth)).join("blobs").join(sha256);
        if std::fs::read_link(&entry).is_ok_and(|t| t == target) {
            return Ok(entry);
        }
        let dir = fsutil::parent(&entry);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), &e))?;
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            entry.file_name().and_then(|n| n.to_str()).unwrap_or("link"),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&tmp);
        symlink(&target, &tmp).map_err(|e| Error::io(format!("cannot create the link {}", tmp.display()), &e))?;
        std::fs::rename(&tmp, &entry).map_err(|e| Error::io(format!("cannot create {}", entry.display()), &e))?;
        fsutil::sync_dir(dir)?;
        Ok(entry)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    // No unprivileged symlinks: a copy, as huggingface_hub does on Windows.
    std::fs::copy(fsutil::parent(link).join(target), link).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_huggingface_hub() {
        let dir = tempfile::tempdir().unwrap();
        let c = RepoCache::new(dir.path(), "Org/Name-GGUF");
        let sha = "ab".repeat(32);
        let commit = "c".repeat(40);
        std::fs::create_dir_all(c.blob(&sha).parent().unwrap()).unwrap();
        std::fs::write(c.blob(&sha), b"x").unwrap();
        let entry = c.link_snapshot(&commit, "sub/m.gguf", &sha).unwrap();
        assert_eq!(entry, dir.path().join(format!("models--Org--Name-GGUF/snapshots/{commit}/sub/m.gguf")));
        assert_eq!(std::fs::read_link(&entry).unwrap(), PathBuf::from(format!("../../../blobs/{sha}")));
        assert_eq!(std::fs::read(&entry).unwrap(), b"x", "the relative link resolves");
        assert_eq!(c.snapshot_blob(&commit, "sub/m.gguf"), Some(sha.clone()));
        c.link_snapshot(&commit, "sub/m.gguf", &sha).unwrap();
        c.write_ref("main", &commit).unwrap();
        assert_eq!(std::fs::read_to_string(c.dir.join("refs/main")).unwrap(), commit);
        assert_eq!(c.read_ref("main"), Some(commit.clone()));
        assert_eq!(c.read_ref(&commit), Some(commit.clone()), "a commit is its own ref");
        assert_eq!(c.lock_path(&sha), dir.path().join(format!(".locks/models--Org--Name-GGUF/{sha}.lock")));
    }
}
