//! Hugging Face Hub access: resolve a file to (commit, size, sha256), download it into the shared Hugging Face
//! cache layout with resume and streaming sha256 verification, read a GGUF header by Range.
//!
//! hf-hub does not verify sha256 and (1.0) cannot resume, so downloading is ours, on ureq (see ARCHITECTURE.md).

pub mod cache;
pub mod client;
pub mod download;
pub mod pull;

use std::time::Duration;

use crate::error::{Error, Result};
use crate::host::Host;

pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Attempts after the first, for 429, 5xx and dropped connections.
pub const DEFAULT_RETRIES: u32 = 5;
/// No byte for this long is a stall: the connection is dropped and the download resumed.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);

/// How to reach the Hub, from the environment Hugging Face tools read.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// `HF_ENDPOINT`, without a trailing slash.
    pub endpoint: String,
    /// `HF_TOKEN`, else the token file `huggingface-cli login` writes.
    pub token: Option<String>,
    /// `--offline` or `HF_HUB_OFFLINE=1`: the cache only.
    pub offline: bool,
    pub retries: u32,
    pub stall: Duration,
}

impl HubConfig {
    pub fn from_env(host: &dyn Host, offline_flag: bool) -> Self {
        let truthy = |v: Option<String>| {
            v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        };
        let token = host.env_nonempty("HF_TOKEN").or_else(|| {
            let path = host
                .env_nonempty("HF_TOKEN_PATH")
                .map(std::path::PathBuf::from)
                .or_else(|| host.env_nonempty("HF_HOME").map(|h| std::path::PathBuf::from(h).join("token")))
                .or_else(|| host.home().map(|h| h.join(".cache/huggingface/token")))?;
            host.read_to_string(&path).ok().map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
        });
        let secs = |var: &str| host.env_nonempty(var).and_then(|v| v.parse::<u64>().ok());
        Self {
            endpoint: host
                .env_nonempty("HF_ENDPOINT")
                .unwrap_or_else(|| DEFAULT_ENDPOINT.into())
                .trim_end_matches('/')
                .to_string(),
            token,
            offline: offline_flag || truthy(host.env_nonempty("HF_HUB_OFFLINE")),
            retries: host.env_nonempty("CLAWLOCAL_HUB_RETRIES").and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RETRIES),
            stall: secs("HF_HUB_DOWNLOAD_TIMEOUT").map_or(DEFAULT_STALL, Duration::from_secs),
        }
    }
}

/// A file (or split set) on the Hub, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRef {
    pub repo: String,
    /// Branch, tag or commit; `main` by default.
    pub revision: String,
    /// One file, or every shard of a split GGUF in order.
    pub files: Vec<String>,
}

/// `hf:ORG/REPO/PATH/FILE.gguf[@REVISION]`.
pub fn parse_hf_spec(spec: &str) -> Result<HubRef> {
    let bad = |why: &str| {
        Error::usage(format!("model `{spec}`: {why}"))
            .with_hint("write hf:ORG/REPO/FILE.gguf or hf:ORG/REPO/FILE.gguf@REVISION")
    };
    let rest = spec.strip_prefix("hf:").ok_or_else(|| bad("does not start with hf:"))?;
    let (path, revision) = match rest.rsplit_once('@') {
        Some((_, "")) => return Err(bad("the revision after @ is empty")),
        Some((p, r)) if !r.contains('/') || r.starts_with("refs/") => (p, r.to_string()),
        _ => (rest, "main".to_string()),
    };
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() < 3 {
        return Err(bad("it needs an organisation, a repository and a file"));
    }
    let name_ok = |s: &str| {
        !s.is_empty() && s != "." && s != ".." && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !name_ok(segments[0]) || !name_ok(segments[1]) {
        return Err(bad("the repository name may hold letters, digits, `-`, `_` and `.`"));
    }
    if segments[2..].iter().any(|s| s.is_empty() || *s == "." || *s == ".." || s.chars().any(char::is_control)) {
        return Err(bad("the file path has an empty, `.` or `..` segment"));
    }
    if revision.chars().any(|c| c.is_control() || c == ' ') || revision.split('/').any(|s| s == "..") {
        return Err(bad("the revision has spaces, control characters or `..`"));
    }
    let file = segments[2..].join("/");
    if !file.ends_with(".gguf") {
        return Err(bad("the file is not a .gguf"));
    }
    Ok(HubRef { repo: format!("{}/{}", segments[0], segments[1]), revision, files: split_set(&file) })
}

/// `x-00001-of-00003.gguf` → all three shard names; any other name → itself. Any shard names the set.
pub fn split_set(file: &str) -> Vec<String> {
    let Some(stem) = file.strip_suffix(".gguf") else { return vec![file.to_string()] };
    let parts: Vec<&str> = stem.rsplitn(4, '-').collect();
    // rsplitn gives ["00003", "of", "00001", "x"].
    if let [total, "of", index, base] = parts[..] {
        let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
        if digits(total) && digits(index) {
            let n: u32 = total.parse().unwrap_or(0);
            if n >= 1 {
                return (1..=n).map(|i| format!("{base}-{i:05}-of-{total}.gguf")).collect();
            }
        }
    }
    vec![file.to_string()]
}

/// A 40-hex commit id (a revision that needs no `refs/` entry).
pub fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Percent-encode for one URL path segment (RFC 3986 unreserved characters stay).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `{endpoint}/{repo}/resolve/{revision}/{file}`: the revision fully encoded, the path per segment.
pub fn resolve_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
    let path: Vec<String> = file.split('/').map(encode_segment).collect();
    format!("{endpoint}/{repo}/resolve/{}/{}", encode_segment(revision), path.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_specs_parse_with_revision_and_split_sets() {
        let r = parse_hf_spec("hf:Qwen/Qwen2.5-7B-Instruct-GGUF/qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf@v1.0")
            .unwrap();
        assert_eq!(r.repo, "Qwen/Qwen2.5-7B-Instruct-GGUF");
        assert_eq!(r.revision, "v1.0");
        assert_eq!(
            r.files,
            ["qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf", "qwen2.5-7b-instruct-q4_k_m-00002-of-00002.gguf"]
        );
        let r = parse_hf_spec("hf:o/n/sub/dir/m.gguf").unwrap();
        assert_eq!((r.revision.as_str(), r.files[0].as_str()), ("main", "sub/dir/m.gguf"));
        assert_eq!(parse_hf_spec("hf:o/n/m.gguf@refs/pr/1").unwrap().revision, "refs/pr/1");
        for bad in
            ["hf:o/m.gguf", "hf:o/n/m.bin", "hf:o/n/../m.gguf", "hf:o/n/m.gguf@", "hf:o p/n/m.gguf", "hf:o/n//m.gguf"]
        {
            let e = parse_hf_spec(bad).unwrap_err();
            assert!(e.message.contains(bad), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn urls_encode_revision_and_file_segments() {
        assert_eq!(
            resolve_url("http://h", "o/n", "refs/pr/1", "a b/m.gguf"),
            "http://h/o/n/resolve/refs%2Fpr%2F1/a%20b/m.gguf"
        );
        assert_eq!(split_set("m-1-of-2.gguf"), ["m-1-of-2.gguf"], "shard numbers are five digits");
    }
}
