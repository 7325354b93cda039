//! File-system primitives every writer shares: atomic replace, directory fsync, free space, inter-process locks.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The random part of a temp file's name, `.<name>.XXXXXX.tmp`: what [`remove_stray_temps`] recognises.
const TEMP_RANDOM_CHARS: usize = 6;

/// Replace `path` with `bytes` atomically: a temp file in the same directory, fsync, rename, fsync the directory.
/// A reader sees the old content or the new, never a mix; a crash leaves at most a stray temp file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_as(path, bytes, None, None)
}

/// [`write_atomic`] with the new file's mode and owner set before it takes the name (a user file keeps its own).
pub fn write_atomic_as(path: &Path, bytes: &[u8], mode: Option<u32>, owner: Option<(u32, u32)>) -> Result<()> {
    let tmp = temp_with(path, bytes, mode, owner)?;
    tmp.persist(path).map_err(|e| Error::io(format!("cannot replace {}", path.display()), &e.error))?;
    sync_dir(parent(path))
}

/// [`write_atomic_as`] as a compare-and-swap: `path` gets `bytes` only if it still holds `expected` (`None`: it does
/// not exist) at the instant the name is taken. Checking and then renaming leaves a gap in which another writer's
/// rename is lost, so the new file is *exchanged* with the old one (`renameat2(RENAME_EXCHANGE)`, one atomic step)
/// and what came out is compared: not `expected` → exchanged back, so the other writer's version stays, and
/// `Ok(false)`. (A third version that replaced ours meanwhile is put back too.) Where the file system cannot
/// exchange, a re-read right before the rename narrows the gap instead.
pub fn replace_if_unchanged(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    owner: Option<(u32, u32)>,
    expected: Option<&[u8]>,
) -> Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let dir = parent(path);
    let tmp = temp_with(path, bytes, mode, owner)?;
    let (tmp, tmp_path) =
        tmp.keep().map_err(|e| Error::io(format!("cannot keep a temporary file in {}", dir.display()), &e.error))?;
    drop(tmp);
    let cleanup = |p: &Path| {
        let _ = std::fs::remove_file(p);
    };
    let Some(expected) = expected else {
        // Created: only if nobody created it meanwhile.
        return match renameat_with(CWD, &tmp_path, CWD, path, RenameFlags::NOREPLACE) {
            Ok(()) => sync_dir(dir).map(|()| true),
            Err(rustix::io::Errno::EXIST) => {
                cleanup(&tmp_path);
                Ok(false)
            }
            Err(e) => {
                cleanup(&tmp_path);
                Err(Error::io(format!("cannot create {}", path.display()), &e.into()))
            }
        };
    };
    match renameat_with(CWD, &tmp_path, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => {}
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS | rustix::io::Errno::NOTSUP) => {
            // No exchange here: re-read, then rename.
            let now = std::fs::read(path).ok();
            if now.as_deref() != Some(expected) {
                cleanup(&tmp_path);
                return Ok(false);
            }
            std::fs::rename(&tmp_path, path)
                .map_err(|e| Error::io(format!("cannot replace {}", path.display()), &e))?;
            return sync_dir(dir).map(|()| true);
        }
        Err(e) => {
            cleanup(&tmp_path);
            return Err(Error::io(format!("cannot replace {}", path.display()), &e.into()));
        }
    }
    // `tmp_path` now holds what was at `path` an instant ago.
    if std::fs::read(&tmp_path).ok().as_deref() == Some(expected) {
        cleanup(&tmp_path);
        return sync_dir(dir).map(|()| true);
    }
    // Another writer got in first: give its version back.
    let back = renameat_with(CWD, &tmp_path, CWD, path, RenameFlags::EXCHANGE);
    if back.is_ok() && std::fs::read(&tmp_path).ok().as_deref() != Some(bytes) {
        // And one more replaced ours in between: that newest one is what the file should hold.
        let _ = renameat_with(CWD, &tmp_path, CWD, path, RenameFlags::EXCHANGE);
    }
    cleanup(&tmp_path);
    sync_dir(dir)?;
    Ok(false)
}

/// The temp file beside `path` holding `bytes` (mode and owner set, fsynced), not yet given a name.
fn temp_with(
    path: &Path,
    bytes: &[u8],
    mode: Option<u32>,
    owner: Option<(u32, u32)>,
) -> Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent(path);
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), &e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", path.file_name().and_then(|n| n.to_str()).unwrap_or("tmp")))
        .rand_bytes(TEMP_RANDOM_CHARS)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot create a temporary file in {}", dir.display()), &e))?;
    if let Some(mode) = mode {
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(format!("cannot set the mode of a temporary file in {}", dir.display()), &e))?;
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(tmp.as_file(), Some(uid), Some(gid))
            .map_err(|e| Error::io(format!("cannot keep the owner {uid}:{gid} of {}", path.display()), &e))?;
    }
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), &e))?;
    Ok(tmp)
}

/// Remove the temp files a killed [`write_atomic`] of `path` left beside it (`.<name>.XXXXXX.tmp`); for uninstall,
/// when nothing else writes the file.
pub fn remove_stray_temps(path: &Path) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return };
    let prefix = format!(".{name}.");
    for entry in std::fs::read_dir(parent(path)).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let stray = file.strip_prefix(&prefix).and_then(|rest| rest.strip_suffix(".tmp")).is_some_and(|random| {
            random.len() == TEMP_RANDOM_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if stray {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A JSON file clawlocal wrote (lock, receipt): None when missing; one that does not parse is an error naming the
/// file, line, column and field, and is never overwritten.
pub fn load_json<T: serde::de::DeserializeOwned>(path: &Path, hint: &str) -> Result<Option<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable_state(path, &e, hint)),
    };
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map(Some).map_err(|e| {
        let inner = e.inner();
        Error::usage(format!("{}:{}:{}: field `{}`: {inner}", path.display(), inner.line(), inner.column(), e.path()))
            .with_hint(hint)
    })
}

/// A state file that exists but cannot be read (not UTF-8, a folder, no permission): like one that does not parse,
/// the user's to fix, so exit 2 whichever file it is.
pub fn unreadable_state(path: &Path, err: &std::io::Error, hint: &str) -> Error {
    let mut e = Error::io(format!("cannot read {}", path.display()), err).with_hint(hint);
    e.exit = crate::error::Exit::Usage;
    e
}

/// Make a rename or a new entry in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(format!("cannot sync {}", dir.display()), &e))
}

pub fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Bytes an unprivileged user may still write on the file system holding `path`.
pub fn free_space(path: &Path) -> Result<u64> {
    let vfs = rustix::fs::statvfs(path)
        .map_err(|e| Error::io(format!("cannot read free space of {}", path.display()), &e.into()))?;
    Ok(vfs.f_bavail.saturating_mul(vfs.f_frsize))
}

/// An exclusive lock on a lock file, released when dropped. The lock file itself stays (as huggingface_hub's do).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    pub path: PathBuf,
}

impl FileLock {
    /// Take the lock; when another process holds it, call `on_wait` once and block until it is free.
    pub fn acquire(path: &Path, on_wait: impl FnOnce()) -> Result<Self> {
        let dir = parent(path);
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create {}", dir.display()), &e))?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(format!("cannot open lock {}", path.display()), &e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                on_wait();
                file.lock().map_err(|e| Error::io(format!("cannot lock {}", path.display()), &e))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("cannot lock {}", path.display()), &e));
            }
        }
        Ok(Self { _file: file, path: path.to_path_buf() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/f.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.json")]);
    }

    #[test]
    fn stray_temps_of_one_file_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.json");
        for name in [".f.json.aB3xYz.tmp", ".g.json.aB3xYz.tmp", ".f.json.toolong1.tmp", "f.json"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        remove_stray_temps(&p);
        let mut left: Vec<_> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        left.sort();
        assert_eq!(left, [".f.json.toolong1.tmp", ".g.json.aB3xYz.tmp", "f.json"]);
    }

    #[test]
    fn a_held_lock_makes_the_second_taker_wait() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".locks/x.lock");
        let held = FileLock::acquire(&p, || panic!("free lock")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let p2 = p.clone();
        let waiter = std::thread::spawn(move || {
            let _l = FileLock::acquire(&p2, || tx.send("waiting").unwrap()).unwrap();
        });
        assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap(), "waiting");
        drop(held);
        waiter.join().unwrap();
    }

    #[test]
    fn free_space_is_reported() {
        assert!(free_space(Path::new(".")).unwrap() > 0);
    }
}
