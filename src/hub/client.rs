//! HTTP to the Hub: `HEAD resolve` for (commit, size, sha256), ranged GETs for data, retries with backoff on
//! 429 / 5xx / dropped connections (honouring `Retry-After`), and errors that name the repo, revision and file.

use std::io::Read;
use std::time::Duration;

use ureq::Agent;
use ureq::http::{Response, StatusCode};

use super::{HubConfig, HubRef, resolve_url};
use crate::error::{Error, Result};

/// Most seconds a `Retry-After` is honoured for.
const MAX_RETRY_AFTER: u64 = 300;
/// Backoff before attempt n+1: 1, 2, 4, 8, 16, 30, 30 … seconds.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs((1u64 << attempt.min(5)).min(30))
}

/// One remote file, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

/// What one attempt came to: worth another attempt, or final.
#[derive(Debug)]
pub enum Failure {
    Retry { why: String, after: Option<Duration> },
    Fatal(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Fatal(e)
    }
}

/// Which file a request is about, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub repo: &'a str,
    pub revision: &'a str,
    pub file: &'a str,
}

pub struct Client {
    pub config: HubConfig,
    /// No redirects: metadata is read off the Hub's own 302, as huggingface_hub does.
    meta: Agent,
    /// Follows redirects to the CDN; the token is never forwarded there (ureq's default).
    data: Agent,
}

impl Client {
    pub fn new(config: HubConfig) -> Self {
        let agent = |redirects: u32| -> Agent {
            Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(redirects)
                .max_redirects_will_error(false)
                .user_agent(concat!("clawlocal/", env!("CARGO_PKG_VERSION")))
                .timeout_connect(Some(Duration::from_secs(20)))
                .timeout_recv_response(Some(config.stall))
                .timeout_per_read(Some(config.stall))
                .build()
                .into()
        };
        Self { meta: agent(0), data: agent(5), config }
    }

    fn auth(&self) -> Option<String> {
        self.config.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// Run `attempt` until it succeeds, fails for good, or the retries are spent; `on_retry` hears why.
    pub fn retrying<T>(
        &self,
        mut attempt: impl FnMut() -> std::result::Result<T, Failure>,
        on_retry: &mut dyn FnMut(&str, Duration),
    ) -> Result<T> {
        let mut n = 0;
        loop {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry { why, after }) => {
                    if n >= self.config.retries {
                        return Err(Error::failure(format!("{why} (gave up after {} attempts)", n + 1)).with_hint(
                            "the Hub or the network is failing; run the same command again later: it resumes",
                        ));
                    }
                    let wait = after.unwrap_or_else(|| backoff(n));
                    on_retry(&why, wait);
                    std::thread::sleep(wait);
                    n += 1;
                }
            }
        }
    }

    /// Resolve every file of `r` at one commit: the first file's HEAD gives the commit, the rest are asked at it.
    pub fn resolve(&self, r: &HubRef, on_retry: &mut dyn FnMut(&str, Duration)) -> Result<Resolution> {
        let mut commit = None::<String>;
        let mut files = Vec::new();
        for name in &r.files {
            let revision = commit.as_deref().unwrap_or(&r.revision);
            let target = Target { repo: &r.repo, revision, file: name };
            let (c, file) = self.retrying(|| self.head(target), on_retry)?;
            commit.get_or_insert(c);
            files.push(file);
        }
        Ok(Resolution { commit: commit.expect("a HubRef has at least one file"), files })
    }

    /// `HEAD /{repo}/resolve/{rev}/{file}`, following only relative redirects (renamed repos).
    fn head(&self, t: Target<'_>) -> std::result::Result<(String, RemoteFile), Failure> {
        let mut url = resolve_url(&self.config.endpoint, t.repo, t.revision, t.file);
        for _ in 0..5 {
            let mut req = self.meta.head(&url).header("Accept-Encoding", "identity");
            if let Some(a) = self.auth() {
                req = req.header("Authorization", a);
            }
            let resp = req.call().map_err(|e| transport(&url, &e))?;
            let status = resp.status();
            let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            if status.is_redirection() {
                if let Some(loc) = header("location").filter(|l| l.starts_with('/')) {
                    url = format!("{}{loc}", self.config.endpoint);
                    continue;
                }
            } else if !status.is_success() {
                return Err(self.status_failure(status, &resp, &url, t));
            }
            let commit = header("x-repo-commit").filter(|c| super::is_commit(c)).ok_or_else(|| {
                Failure::Fatal(
                    Error::failure(format!("{url}: the Hub's answer has no X-Repo-Commit header")).with_hint(
                        "HF_ENDPOINT must point at a Hugging Face Hub (or a mirror that forwards its headers)",
                    ),
                )
            })?;
            let etag = header("x-linked-etag").or_else(|| header("etag")).unwrap_or_default();
            let etag = etag.trim_start_matches("W/").trim_matches('"').to_ascii_lowercase();
            if etag.len() != 64 || !etag.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Failure::Fatal(Error::failure(format!(
                    "{} in {} is not stored with Git LFS (no sha256 to verify it against)",
                    t.file, t.repo
                ))));
            }
            let size = header("x-linked-size")
                .or_else(|| if status.is_redirection() { None } else { header("content-length") })
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| {
                    Failure::Fatal(Error::failure(format!("{url}: the Hub did not say how large the file is")))
                })?;
            return Ok((commit, RemoteFile { name: t.file.to_string(), size, sha256: etag }));
        }
        Err(Failure::Fatal(Error::failure(format!("{url}: too many redirects"))))
    }

    /// `GET` the file (through the Hub's redirect to its CDN) from byte `start`, up to `end` inclusive.
    pub fn get(
        &self,
        t: Target<'_>,
        start: u64,
        end: Option<u64>,
    ) -> std::result::Result<Response<ureq::Body>, Failure> {
        let url = resolve_url(&self.config.endpoint, t.repo, t.revision, t.file);
        let mut req = self.data.get(&url).header("Accept-Encoding", "identity");
        if let Some(a) = self.auth() {
            req = req.header("Authorization", a);
        }
        if start > 0 || end.is_some() {
            req = req.header("Range", format!("bytes={start}-{}", end.map(|e| e.to_string()).unwrap_or_default()));
        }
        let resp = req.call().map_err(|e| transport(&url, &e))?;
        let status = resp.status();
        if status.is_success() || status == StatusCode::RANGE_NOT_SATISFIABLE {
            return Ok(resp);
        }
        Err(self.status_failure(status, &resp, &url, t))
    }

    /// An HTTP error status as the user should read it.
    fn status_failure(&self, status: StatusCode, resp: &Response<ureq::Body>, url: &str, t: Target<'_>) -> Failure {
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let code = header("x-error-code").unwrap_or_default();
        let (repo, rev, file) = (t.repo, t.revision, t.file);
        match status.as_u16() {
            429 => Failure::Retry {
                why: format!("{url}: rate limited by the Hub (429)"),
                after: header("retry-after")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(MAX_RETRY_AFTER))),
            },
            s if (500..600).contains(&s) => Failure::Retry { why: format!("{url}: server error {s}"), after: None },
            401 | 403 => {
                let gated = code == "GatedRepo" || status == StatusCode::FORBIDDEN;
                let hint = match (&self.config.token, gated) {
                    (None, _) => format!(
                        "if {repo} is private or gated, set HF_TOKEN to a token that can read it (https://huggingface.co/settings/tokens)"
                    ),
                    (Some(_), true) => {
                        format!("the token in HF_TOKEN has no access yet: accept the terms on the Hub page of {repo}")
                    }
                    (Some(_), false) => {
                        format!("check the repository name, and that the token in HF_TOKEN can read {repo}")
                    }
                };
                Failure::Fatal(
                    Error::usage(format!(
                        "{repo}: the Hub refused access ({}{}) to {file} at revision {rev}",
                        status.as_u16(),
                        if code.is_empty() { String::new() } else { format!(" {code}") }
                    ))
                    .with_hint(hint),
                )
            }
            404 => {
                let message = match code.as_str() {
                    "RevisionNotFound" => format!("revision `{rev}` does not exist in {repo} (asked for {file})"),
                    "RepoNotFound" => format!("repository {repo} does not exist (asked for {file} at revision {rev})"),
                    _ => format!("file {file} does not exist in {repo} at revision {rev}"),
                };
                Failure::Fatal(
                    Error::usage(message)
                        .with_hint(format!("see the files at {}/{repo}/tree/{rev}", self.config.endpoint)),
                )
            }
            s => Failure::Fatal(Error::failure(format!("{url}: unexpected HTTP status {s}"))),
        }
    }
}

/// A transport error (refused, reset, timed out, DNS) is worth another attempt.
fn transport(url: &str, e: &ureq::Error) -> Failure {
    Failure::Retry { why: format!("{url}: {e}"), after: None }
}

/// Reads a remote file from its start by Range requests of growing size, for the GGUF header: it fetches only
/// what the parser asks for. A server that ignores Range is read from the start of its (full) answer.
pub struct RangeReader<'a> {
    client: &'a Client,
    target: Target<'a>,
    size: u64,
    pos: u64,
    chunk: u64,
    body: Option<(ureq::BodyReader<'static>, u64)>,
    pub requests: u32,
}

impl<'a> RangeReader<'a> {
    pub fn new(client: &'a Client, target: Target<'a>, size: u64) -> Self {
        Self { client, target, size, pos: 0, chunk: 1 << 20, body: None, requests: 0 }
    }

    fn open(&mut self) -> std::io::Result<()> {
        let end = (self.pos + self.chunk).min(self.size).saturating_sub(1);
        self.chunk = (self.chunk * 2).min(32 << 20);
        let (start, target) = (self.pos, self.target);
        let resp = self
            .client
            .retrying(|| self.client.get(target, start, Some(end)), &mut |_, _| {})
            .map_err(|e| std::io::Error::other(e.message))?;
        self.requests += 1;
        let partial = resp.status() == StatusCode::PARTIAL_CONTENT;
        let mut reader = resp.into_body().into_reader();
        if !partial {
            // The whole file came back: skip what was already read.
            std::io::copy(&mut (&mut reader).take(start), &mut std::io::sink())?;
            self.body = Some((reader, self.size - start));
        } else {
            self.body = Some((reader, end + 1 - start));
        }
        Ok(())
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        if self.body.as_ref().is_none_or(|(_, left)| *left == 0) {
            self.open()?;
        }
        let (reader, left) = self.body.as_mut().expect("opened above");
        let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
        let n = reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection early",
            ));
        }
        *left -= n as u64;
        self.pos += n as u64;
        Ok(n)
    }
}
