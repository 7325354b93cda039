//! Download one blob into the cache: resume from `blobs/<sha256>.incomplete`, hash while streaming, and give the
//! blob its name only after size and sha256 (and, for a `.gguf`, the header) check out.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use sha2::{Digest, Sha256};
use ureq::http::StatusCode;

use super::cache::RepoCache;
use super::client::{Client, Failure, RemoteFile, Target};
use crate::error::{Error, Result};
use crate::fsutil::{self, FileLock};

/// Space kept free beyond the download itself, so the disk is not filled to the last byte.
pub const FREE_SPACE_MARGIN: u64 = 64 << 20;
const BUFFER: usize = 1 << 20;

/// Where a download reports how far it is. Implemented by the printer (bar, lines or JSON) and by tests.
pub trait Progress {
    fn begin(&mut self, file: &str, total: u64, resumed_from: u64);
    fn update(&mut self, done: u64);
    /// Something worth saying mid-download: a retry, a restart, a wait for a lock.
    fn message(&mut self, text: &str);
    fn end(&mut self);
}

/// Progress nobody watches.
pub struct Silent;
impl Progress for Silent {
    fn begin(&mut self, _: &str, _: u64, _: u64) {}
    fn update(&mut self, _: u64) {}
    fn message(&mut self, _: &str) {}
    fn end(&mut self) {}
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub blob: PathBuf,
    /// Body bytes received by this call (0 when the blob was already there).
    pub downloaded: u64,
    /// Bytes of an earlier partial download this call started from.
    pub resumed_from: u64,
}

/// Make sure `cache` holds `file` as a verified blob; download (or resume) it when not.
pub fn fetch(
    client: &Client,
    cache: &RepoCache,
    t: Target<'_>,
    file: &RemoteFile,
    progress: &mut dyn Progress,
) -> Result<Fetched> {
    let blob = cache.blob(&file.sha256);
    let done = |resumed_from| Fetched { blob: blob.clone(), downloaded: 0, resumed_from };
    if cache.blob_len(&file.sha256) == Some(file.size) {
        return Ok(done(0));
    }
    let _lock = FileLock::acquire(&cache.lock_path(&file.sha256), || {
        progress.message(&format!("waiting for another process that is downloading {}", file.name));
    })?;
    if cache.blob_len(&file.sha256) == Some(file.size) {
        return Ok(done(0)); // the other process finished it
    }
    let blobs = fsutil::parent(&blob).to_path_buf();
    std::fs::create_dir_all(&blobs).map_err(|e| Error::io(format!("cannot create {}", blobs.display()), &e))?;
    let part_path = cache.incomplete(&file.sha256);
    let io = |what: &str| {
        let p = part_path.display().to_string();
        let what = what.to_string();
        move |e: std::io::Error| Error::io(format!("{what} {p}"), &e)
    };
    // Room first: a refused download leaves no empty partial behind.
    let partial = std::fs::metadata(&part_path).map_or(0, |m| m.len());
    let need = file.size - if partial > file.size { 0 } else { partial };
    let free = fsutil::free_space(&blobs)?;
    if free < need.saturating_add(FREE_SPACE_MARGIN) {
        return Err(Error::failure(format!(
            "not enough disk space for {}: it needs {} more (+ a {} margin), {} has {} free",
            file.name,
            crate::size::human(need),
            crate::size::human(FREE_SPACE_MARGIN),
            blobs.display(),
            crate::size::human(free)
        ))
        .with_hint("free some space, or set HF_HUB_CACHE to a folder on a bigger disk"));
    }
    let mut part = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&part_path)
        .map_err(io("cannot open"))?;
    let mut have = part.metadata().map_err(io("cannot stat"))?.len();
    if have > file.size {
        part.set_len(0).map_err(io("cannot truncate"))?;
        have = 0;
    }
    // Resume: hash the bytes already on disk once, then go on hashing as new bytes arrive.
    let mut hasher = Sha256::new();
    if have > 0 {
        let copied = hash_reader((&mut part).take(have), &mut hasher).map_err(io("cannot read"))?;
        if copied != have {
            return Err(Error::failure(format!("{} shrank while it was read", part_path.display())));
        }
    }
    part.seek(SeekFrom::Start(have)).map_err(io("cannot seek in"))?;
    let resumed_from = have;
    progress.begin(&file.name, file.size, have);
    // The network is read on this thread; writing and hashing run on a second one, so the sha256 costs
    // (almost) no wall time: it overlaps with receiving the next buffers.
    let (hasher, part) = std::thread::scope(|scope| -> Result<(Sha256, File)> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
        let (recycle_tx, recycle) = std::sync::mpsc::channel::<Vec<u8>>();
        let writer = scope.spawn(move || write_and_hash(part, hasher, &rx, &recycle_tx));
        let mut pipe = Pipe { tx, recycle, have };
        let streamed = retry_until_complete(client, t, file, &mut pipe, progress);
        drop(pipe);
        let written = writer.join().expect("the writer thread does not panic");
        let (hasher, part) = written.map_err(io("cannot write"))?;
        streamed.map(|()| (hasher, part))
    })?;
    progress.end();
    part.sync_all().map_err(io("cannot sync"))?;
    drop(part);
    let actual = hex(&hasher.finalize());
    let discard = || {
        let _ = std::fs::remove_file(&part_path);
    };
    if actual != file.sha256 {
        discard();
        return Err(Error::failure(format!(
            "checksum failed for {} from {} at {}: sha256 is {actual}, the Hub says {}; the download was deleted",
            file.name, t.repo, t.revision, file.sha256
        ))
        .with_hint("run the command again; if it fails again, the server at HF_ENDPOINT serves different bytes than it announces"));
    }
    if file.name.ends_with(".gguf") {
        let opened = File::open(&part_path).map_err(io("cannot open"))?;
        let why = match crate::gguf::from_file(opened, file.size) {
            Err(e) => Some(e.to_string()),
            Ok(header) => crate::gguf_model::implausible(&header),
        };
        if let Some(why) = why {
            discard();
            return Err(Error::failure(format!("{} from {} is not a usable GGUF file: {why}", file.name, t.repo)));
        }
    }
    std::fs::rename(&part_path, &blob).map_err(io("cannot rename"))?;
    fsutil::sync_dir(&blobs)?;
    Ok(Fetched { blob, downloaded: file.size - resumed_from, resumed_from })
}

enum Chunk {
    Data(Vec<u8>),
    /// Throw away what was written and start the hash afresh (the server restarted from byte 0).
    Reset,
}

/// The receiving side of the writer thread: what was sent so far, and buffers coming back for reuse.
struct Pipe {
    tx: std::sync::mpsc::SyncSender<Chunk>,
    recycle: std::sync::mpsc::Receiver<Vec<u8>>,
    have: u64,
}

impl Pipe {
    fn buffer(&self) -> Vec<u8> {
        let mut buf = self.recycle.try_recv().unwrap_or_default();
        buf.resize(BUFFER, 0);
        buf
    }
    /// False when the writer stopped (a write failed; its error comes out of the join).
    fn send(&mut self, chunk: Chunk) -> bool {
        match &chunk {
            Chunk::Data(buf) => self.have += buf.len() as u64,
            Chunk::Reset => self.have = 0,
        }
        self.tx.send(chunk).is_ok()
    }
}

fn write_and_hash(
    mut part: File,
    mut hasher: Sha256,
    rx: &std::sync::mpsc::Receiver<Chunk>,
    recycle: &std::sync::mpsc::Sender<Vec<u8>>,
) -> std::io::Result<(Sha256, File)> {
    for chunk in rx {
        match chunk {
            Chunk::Data(buf) => {
                part.write_all(&buf)?;
                hasher.update(&buf);
                let _ = recycle.send(buf);
            }
            Chunk::Reset => {
                part.set_len(0)?;
                part.seek(SeekFrom::Start(0))?;
                hasher = Sha256::new();
            }
        }
    }
    Ok((hasher, part))
}

/// GET (and resume) until every byte was sent to the writer, retrying with backoff; the attempt count starts
/// over whenever an attempt made progress, so a link that drops now and then still finishes.
fn retry_until_complete(
    client: &Client,
    t: Target<'_>,
    file: &RemoteFile,
    pipe: &mut Pipe,
    progress: &mut dyn Progress,
) -> Result<()> {
    let mut attempt = 0u32;
    while pipe.have < file.size {
        let before = pipe.have;
        match stream(client, t, file, pipe, progress) {
            Ok(()) => {}
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry { why, after }) => {
                if pipe.have > before {
                    attempt = 0;
                }
                if attempt >= client.config.retries {
                    return Err(Error::failure(format!(
                        "{why} (gave up after {} attempts; {} bytes kept)",
                        attempt + 1,
                        pipe.have
                    ))
                    .with_hint("run the same command again: it resumes where this one stopped"));
                }
                let wait = after.unwrap_or_else(|| super::client::backoff(attempt));
                progress.message(&format!("{why}; retrying in {}s from byte {}", wait.as_secs(), pipe.have));
                std::thread::sleep(wait);
                attempt += 1;
            }
        }
    }
    Ok(())
}

/// One GET from `pipe.have` to the end. Restarts cleanly (truncate, fresh hash) when the server answers a Range
/// request with the whole file.
fn stream(
    client: &Client,
    t: Target<'_>,
    file: &RemoteFile,
    pipe: &mut Pipe,
    progress: &mut dyn Progress,
) -> std::result::Result<(), Failure> {
    let writer_stopped = || Failure::Fatal(Error::failure(format!("writing the download of {} failed", file.name)));
    let resp = client.get(t, pipe.have, None)?;
    let status = resp.status();
    if status == StatusCode::PARTIAL_CONTENT {
        let range = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if parse_content_range(range) != Some((pipe.have, file.size)) {
            let why = format!("the server answered Range with `Content-Range: {range}`");
            return Err(if pipe.send(Chunk::Reset) {
                Failure::Retry { why, after: Some(Duration::ZERO) }
            } else {
                writer_stopped()
            });
        }
    } else if status == StatusCode::RANGE_NOT_SATISFIABLE {
        let why = format!("the server refused to resume {} (416)", file.name);
        return Err(if pipe.send(Chunk::Reset) {
            Failure::Retry { why, after: Some(Duration::ZERO) }
        } else {
            writer_stopped()
        });
    } else if pipe.have > 0 {
        progress.message(&format!("the server ignored the Range request; downloading {} from the start", file.name));
        if !pipe.send(Chunk::Reset) {
            return Err(writer_stopped());
        }
    }
    let mut body = resp.into_body().into_reader();
    loop {
        // Fill a whole buffer before handing it over: fewer, larger messages to the writer.
        let mut buf = pipe.buffer();
        let mut n = 0;
        let mut lost = None;
        while n < buf.len() {
            match body.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    lost = Some(e);
                    break;
                }
            }
        }
        if pipe.have + n as u64 > file.size {
            let why = format!("the server sent more than the {} bytes of {}", file.size, file.name);
            return Err(if pipe.send(Chunk::Reset) { Failure::Retry { why, after: None } } else { writer_stopped() });
        }
        if n > 0 {
            buf.truncate(n);
            if !pipe.send(Chunk::Data(buf)) {
                return Err(writer_stopped());
            }
            progress.update(pipe.have);
        }
        if let Some(e) = lost {
            return Err(Failure::Retry {
                why: format!("{}: connection lost after {} bytes: {e}", file.name, pipe.have),
                after: None,
            });
        }
        if n == 0 || pipe.have == file.size {
            break;
        }
    }
    if pipe.have < file.size {
        return Err(Failure::Retry {
            why: format!("{}: the connection closed after {} of {} bytes", file.name, pipe.have, file.size),
            after: None,
        });
    }
    Ok(())
}

/// `bytes START-END/TOTAL` → (START, TOTAL), when END is the last byte.
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let (range, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, total): (u64, u64, u64) =
        (start.trim().parse().ok()?, end.trim().parse().ok()?, total.trim().parse().ok()?);
    (end + 1 == total && start <= end).then_some((start, total))
}

/// Feed everything `reader` yields into `hasher`, in 1 MiB reads; returns the byte count.
fn hash_reader(mut reader: impl Read, hasher: &mut Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 of bytes in memory, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The sha256 of a file, hex (doctor --deep, the bench, the receipt).
pub fn sha256_file(path: &std::path::Path) -> Result<String> {
    let f = File::open(path).map_err(|e| Error::io(format!("cannot open {}", path.display()), &e))?;
    let mut hasher = Sha256::new();
    hash_reader(f, &mut hasher).map_err(|e| Error::io(format!("cannot read {}", path.display()), &e))?;
    Ok(hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_must_run_to_the_end() {
        assert_eq!(parse_content_range("bytes 100-999/1000"), Some((100, 1000)));
        assert_eq!(parse_content_range("bytes 100-500/1000"), None);
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range(""), None);
    }
}
