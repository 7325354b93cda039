//! A local Hugging Face Hub that speaks the protocol the way the real Hub does (shared/research/hub-and-json5.md):
//! `resolve` answers 302 to a CDN on a second port with `X-Repo-Commit`, `X-Linked-Etag` (= the file's sha256)
//! and `X-Linked-Size`; the CDN honours `Range` (206 + `Content-Range`, 416); the API has `revision`, `tree`,
//! `paths-info` and `refs`; errors carry `X-Error-Code`. Faults can be switched on: cut a body after N bytes,
//! corrupt a byte, ignore Range, require a token, answer 429 with Retry-After. Every request is logged.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct Logged {
    /// `hub` or `cdn`.
    pub server: &'static str,
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Cut the next `.1` CDN bodies after `.0` bytes (the connection closes mid-body).
    pub cut: Option<(u64, u32)>,
    /// Flip one byte in the middle of every CDN body.
    pub corrupt: bool,
    /// Answer 200 with the whole file to Range requests.
    pub ignore_range: bool,
    /// Require `Authorization: Bearer <token>` on the Hub (401 RepoNotFound without it, as for a private repo).
    pub require_token: Option<String>,
    /// Answer the next N Hub requests with 429 and `Retry-After: 1`.
    pub rate_limit: u32,
    /// Pause the next CDN body longer than `.0` bytes for `.1` after `.0` bytes (a stalled transfer), then go on.
    pub stall: Option<(u64, std::time::Duration)>,
    /// Announce this size in `X-Linked-Size` instead of the real one.
    pub announce_size: Option<u64>,
}

struct File {
    bytes: Arc<Vec<u8>>,
    sha256: String,
}

struct Repo {
    commit: String,
    files: BTreeMap<String, File>,
}

#[derive(Default)]
struct State {
    repos: BTreeMap<String, Repo>,
    faults: Faults,
    log: Vec<Logged>,
    cdn_port: u16,
}

#[derive(Clone)]
pub struct HubMock {
    state: Arc<Mutex<State>>,
    pub port: u16,
    pub cdn_port: u16,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl HubMock {
    /// Start the Hub and its CDN on free loopback ports; they serve until the test process ends.
    pub fn start() -> HubMock {
        let hub = TcpListener::bind("127.0.0.1:0").unwrap();
        let cdn = TcpListener::bind("127.0.0.1:0").unwrap();
        let (port, cdn_port) = (hub.local_addr().unwrap().port(), cdn.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State { cdn_port, ..State::default() }));
        for (listener, server) in [(hub, "hub"), (cdn, "cdn")] {
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || {
                        let _ = handle(stream, server, &state);
                    });
                }
            });
        }
        HubMock { state, port, cdn_port }
    }

    /// `HF_ENDPOINT` for clients.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Publish `files` in `repo` (e.g. `org/name`) at a fixed commit; returns the commit.
    pub fn add_repo(&self, repo: &str, files: &[(&str, Vec<u8>)]) -> String {
        let commit = sha256_hex(repo.as_bytes())[..40].to_string();
        let files = files
            .iter()
            .map(|(name, bytes)| {
                ((*name).to_string(), File { sha256: sha256_hex(bytes), bytes: Arc::new(bytes.clone()) })
            })
            .collect();
        self.state.lock().unwrap().repos.insert(repo.to_string(), Repo { commit: commit.clone(), files });
        commit
    }

    pub fn set_faults(&self, faults: Faults) {
        self.state.lock().unwrap().faults = faults;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<String> {
        super::http::find_header(&self.headers, name).map(String::from)
    }
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default().to_string(), parts.next().unwrap_or_default().to_string());
    let headers = super::http::read_headers(&mut reader)?;
    let len = super::http::find_header(&headers, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(Request { method, target, headers, body })
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// A file body served from the shared bytes without a copy: (bytes, start, end exclusive).
    shared: Option<(Arc<Vec<u8>>, usize, usize)>,
    /// Close after this many body bytes although Content-Length promised more.
    cut_at: Option<usize>,
    /// Sleep this long after this many body bytes.
    stall: Option<(usize, std::time::Duration)>,
}

impl Reply {
    fn new(status: u16) -> Self {
        Reply { status, headers: Vec::new(), body: Vec::new(), shared: None, cut_at: None, stall: None }
    }
    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_string(), v.into()));
        self
    }
    fn json(self, v: &serde_json::Value) -> Self {
        let mut r = self.header("Content-Type", "application/json");
        r.body = v.to_string().into_bytes();
        r
    }
    fn error(status: u16, code: &str, message: &str) -> Self {
        Reply::new(status)
            .header("X-Error-Code", code)
            .header("X-Error-Message", message)
            .json(&serde_json::json!({"error": message}))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        _ => "Status",
    }
}

fn handle(mut stream: TcpStream, server: &'static str, state: &Mutex<State>) -> std::io::Result<()> {
    let req = read_request(&stream)?;
    let (path, _query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let path = path.to_string();
    let reply = {
        let mut st = state.lock().unwrap();
        st.log.push(Logged {
            server,
            method: req.method.clone(),
            path: path.clone(),
            range: req.header("range"),
            authorization: req.header("authorization"),
        });
        if server == "hub" { hub(&req, &path, &mut st) } else { cdn(&req, &path, &mut st) }
    };
    let head = req.method == "HEAD";
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    let body: &[u8] = match &reply.shared {
        Some((bytes, start, end)) => &bytes[*start..*end],
        None => &reply.body,
    };
    if !reply.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    stream.write_all(out.as_bytes())?;
    if !head {
        let end = reply.cut_at.unwrap_or(body.len()).min(body.len());
        let mut start = 0;
        if let Some((after, pause)) = reply.stall {
            start = after.min(end);
            stream.write_all(&body[..start])?;
            stream.flush()?;
            std::thread::sleep(pause);
        }
        stream.write_all(&body[start..end])?;
    }
    stream.flush()?;
    // A cut body ends with a dropped connection, as a flaky CDN does.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(())
}

fn hub(req: &Request, path: &str, st: &mut State) -> Reply {
    if st.faults.rate_limit > 0 {
        st.faults.rate_limit -= 1;
        return Reply::error(429, "RateLimited", "rate limit exceeded").header("Retry-After", "1");
    }
    if let Some(token) = &st.faults.require_token
        && req.header("authorization").as_deref() != Some(&format!("Bearer {token}"))
    {
        return Reply::error(401, "RepoNotFound", "Repository not found (or private: pass a token)");
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // /api/models/{org}/{name}[/revision/{rev} | /tree/{rev}[/…] | /paths-info/{rev} | /refs]
    if segs.len() >= 4 && segs[0] == "api" && segs[1] == "models" {
        let repo_id = format!("{}/{}", segs[2], segs[3]);
        let Some(repo) = st.repos.get(&repo_id) else {
            return Reply::error(401, "RepoNotFound", "Repository not found");
        };
        let rev_ok = |rev: &str| rev == "main" || rev == repo.commit;
        let entry = |name: &str, f: &File| {
            serde_json::json!({
                "type": "file", "path": name, "oid": &f.sha256[..40], "size": f.bytes.len(),
                "lfs": {"oid": f.sha256, "size": f.bytes.len(), "pointerSize": 134},
            })
        };
        return match segs.get(4).copied() {
            None | Some("revision") => {
                if segs.get(5).is_some_and(|r| !rev_ok(r)) {
                    return Reply::error(404, "RevisionNotFound", "Invalid rev id");
                }
                let siblings: Vec<_> = repo.files.iter().map(|(n, f)| serde_json::json!({
                    "rfilename": n, "size": f.bytes.len(), "blobId": &f.sha256[..40],
                    "lfs": {"sha256": f.sha256, "size": f.bytes.len(), "pointerSize": 134},
                })).collect();
                Reply::new(200).json(&serde_json::json!({"id": repo_id, "sha": repo.commit, "private": false, "gated": false, "siblings": siblings}))
            }
            Some("tree") if segs.get(5).is_some_and(|r| rev_ok(r)) => {
                Reply::new(200).json(&serde_json::Value::Array(repo.files.iter().map(|(n, f)| entry(n, f)).collect()))
            }
            Some("paths-info") if segs.get(5).is_some_and(|r| rev_ok(r)) => {
                let asked: Vec<String> = serde_json::from_slice::<serde_json::Value>(&req.body)
                    .ok()
                    .and_then(|v| v["paths"].as_array().map(|a| a.iter().filter_map(|p| p.as_str().map(String::from)).collect()))
                    .unwrap_or_default();
                Reply::new(200).json(&serde_json::Value::Array(
                    repo.files.iter().filter(|(n, _)| asked.contains(n)).map(|(n, f)| entry(n, f)).collect(),
                ))
            }
            Some("refs") => Reply::new(200).json(&serde_json::json!({
                "branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.commit}], "tags": [], "converts": [],
            })),
            _ => Reply::error(404, "RevisionNotFound", "Invalid rev id"),
        };
    }
    // /{org}/{name}/resolve/{rev}/{path…}
    if segs.len() >= 5 && segs[2] == "resolve" {
        let repo_id = format!("{}/{}", segs[0], segs[1]);
        let Some(repo) = st.repos.get(&repo_id) else {
            return Reply::error(401, "RepoNotFound", "Repository not found");
        };
        let rev = segs[3];
        if rev != "main" && rev != repo.commit {
            return Reply::error(404, "RevisionNotFound", "Invalid rev id");
        }
        let file_path = segs[4..].join("/");
        let Some(file) = repo.files.get(&file_path) else {
            return Reply::error(404, "EntryNotFound", &format!("{file_path} does not exist on \"{rev}\""))
                .header("X-Repo-Commit", repo.commit.clone());
        };
        return Reply::new(302)
            .header("Location", format!("http://127.0.0.1:{}/cdn/{}?repo={repo_id}", st.cdn_port, file.sha256))
            .header("X-Repo-Commit", repo.commit.clone())
            .header("X-Linked-Etag", format!("\"{}\"", file.sha256))
            .header("X-Linked-Size", st.faults.announce_size.unwrap_or(file.bytes.len() as u64).to_string())
            .header("ETag", format!("\"{}\"", &file.sha256[..40]))
            .header("Content-Length", "0");
    }
    Reply::error(404, "EntryNotFound", "no such route")
}

fn cdn(req: &Request, path: &str, st: &mut State) -> Reply {
    let Some(sha) = path.strip_prefix("/cdn/") else { return Reply::new(404) };
    let Some(file) = st.repos.values().flat_map(|r| r.files.values()).find(|f| f.sha256 == sha) else {
        return Reply::new(404);
    };
    let mut bytes = Arc::clone(&file.bytes);
    let total = bytes.len() as u64;
    if st.faults.corrupt && !bytes.is_empty() {
        let mut copy = bytes.as_ref().clone();
        let mid = copy.len() / 2;
        copy[mid] ^= 0xff;
        bytes = Arc::new(copy);
    }
    let range = req.header("range").filter(|_| !st.faults.ignore_range).and_then(|r| parse_range(&r, total));
    let mut reply = match range {
        Some(Err(())) => return Reply::new(416).header("Content-Range", format!("bytes */{total}")),
        Some(Ok((start, end))) => {
            let mut r = Reply::new(206).header("Content-Range", format!("bytes {start}-{end}/{total}"));
            r.shared = Some((bytes, start as usize, end as usize + 1));
            r
        }
        None => {
            let mut r = Reply::new(200);
            r.shared = Some((bytes, 0, total as usize));
            r
        }
    };
    reply = reply
        .header("Accept-Ranges", "bytes")
        .header("ETag", format!("\"{sha}\""))
        .header("Content-Type", "application/octet-stream");
    // A body no longer than the stall's offset (the header read of the fit check) leaves it for the next one.
    let body_len = reply.shared.as_ref().map_or(0, |(_, start, end)| end - start);
    if req.method == "GET"
        && let Some((after, pause)) = st.faults.stall.filter(|(after, _)| (*after as usize) < body_len)
    {
        st.faults.stall = None;
        reply.stall = Some((after as usize, pause));
    }
    if req.method == "GET"
        && let Some((after, times)) = st.faults.cut
    {
        reply.cut_at = Some(after as usize);
        st.faults.cut = (times > 1).then_some((after, times - 1));
    }
    reply
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → inclusive (start, end); Err for unsatisfiable.
fn parse_range(header: &str, total: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (total.saturating_sub(n), total.saturating_sub(1))
        }
        (a, "") => (a.parse().ok()?, total.saturating_sub(1)),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(total.saturating_sub(1))),
    };
    Some(if start >= total || start > end { Err(()) } else { Ok((start, end)) })
}
