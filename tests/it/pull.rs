//! `clawlocal pull` against the Hub mock with a real generated GGUF: the cache layout, verification, resume,
//! retries, tokens, errors, the lock file, offline use and two processes at once.

use std::path::{Path, PathBuf};

use crate::support::gguf::TinyModel;
use crate::support::hubmock::{Faults, HubMock, sha256_hex};
use crate::support::{Ctx, Run};

const REPO: &str = "clawlocal-test/tiny-llama-GGUF";
const FILE: &str = "tiny-llama-F16.gguf";

struct Setup {
    ctx: Ctx,
    hub: HubMock,
    model: Vec<u8>,
    commit: String,
}

impl Setup {
    fn new() -> Self {
        let hub = HubMock::start();
        let model = TinyModel::default().bytes();
        let commit = hub.add_repo(REPO, &[(FILE, model.clone())]);
        Self { ctx: Ctx::new(), hub, model, commit }
    }
    fn sha(&self) -> String {
        sha256_hex(&self.model)
    }
    fn cache(&self) -> PathBuf {
        self.ctx.dir.path().join("hub")
    }
    fn repo_dir(&self) -> PathBuf {
        self.cache().join("models--clawlocal-test--tiny-llama-GGUF")
    }
    fn snapshot(&self) -> PathBuf {
        self.repo_dir().join("snapshots").join(&self.commit).join(FILE)
    }
    fn lock(&self) -> PathBuf {
        self.ctx.dir.path().join("state/clawlocal/clawlocal.lock")
    }
    fn pull_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.ctx.command();
        cmd.env("HF_ENDPOINT", self.hub.endpoint())
            .env("HF_HUB_CACHE", self.cache())
            .env("XDG_STATE_HOME", self.ctx.dir.path().join("state"))
            .env("CLAWLOCAL_HUB_RETRIES", "3");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.args(["--scope", "user", "pull"]).args(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
    fn pull(&self, args: &[&str]) -> Run {
        self.pull_env(args, &[])
    }
    fn spec(&self) -> String {
        format!("hf:{REPO}/{FILE}")
    }
    /// GETs that carried (part of) a body.
    fn body_requests(&self) -> Vec<Option<String>> {
        self.hub.log().into_iter().filter(|l| l.server == "cdn" && l.method == "GET").map(|l| l.range).collect()
    }
    fn assert_no_trace_under_final_names(&self) {
        assert!(!self.snapshot().exists() && std::fs::symlink_metadata(self.snapshot()).is_err(), "no snapshot entry");
        assert!(!self.repo_dir().join("blobs").join(self.sha()).exists(), "no blob under its final name");
    }
}

fn sha256_of(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap())
}

#[test]
fn pull_lands_the_hubs_bytes_in_the_hf_cache_and_a_second_pull_fetches_no_body() {
    let s = Setup::new();
    let run = s.pull(&["--json", &s.spec()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["path"], s.snapshot().display().to_string());
    assert_eq!(doc["sha256"], s.sha());
    assert_eq!(doc["size"], s.model.len());
    assert_eq!(doc["repo"], REPO);
    assert_eq!(doc["revision"], s.commit);
    assert_eq!(doc["file"], FILE);
    assert_eq!(doc["downloaded_bytes"], s.model.len());
    // The Hugging Face layout: snapshot → ../../blobs/<sha256>, refs/main = commit.
    assert_eq!(std::fs::read_link(s.snapshot()).unwrap(), PathBuf::from(format!("../../blobs/{}", s.sha())));
    assert_eq!(sha256_of(&s.snapshot()), s.sha());
    assert_eq!(std::fs::read_to_string(s.repo_dir().join("refs/main")).unwrap(), s.commit);
    assert!(!s.repo_dir().join(format!("blobs/{}.incomplete", s.sha())).exists());
    // Progress goes to stderr as JSON lines with --json.
    assert!(
        run.stderr.lines().any(|l| l.contains("\"type\":\"progress\"") && l.contains("\"event\":\"end\"")),
        "{}",
        run.stderr
    );
    // The lock pins the commit, size and sha256.
    let lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(s.lock()).unwrap()).unwrap();
    assert_eq!(lock["models"][0]["commit"], s.commit);
    assert_eq!(lock["models"][0]["files"][0]["sha256"], s.sha());
    assert_eq!(lock["models"][0]["files"][0]["size"], s.model.len());

    s.hub.clear_log();
    let again = s.pull(&["--json", &s.spec()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["downloaded_bytes"], 0);
    assert!(s.hub.log().is_empty(), "pinned and cached: no request at all: {:?}", s.hub.log());

    // Without the lock the Hub is asked again, but only for metadata.
    std::fs::remove_file(s.lock()).unwrap();
    s.hub.clear_log();
    let third = s.pull(&[&s.spec()]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(third.stdout.contains("size verified; already in the cache"), "{}", third.stdout);
    assert!(s.body_requests().is_empty(), "no body request: {:?}", s.hub.log());
    assert!(s.hub.log().iter().all(|l| l.method == "HEAD"));

    // Damaged in place at the same size: a plain pull says only the size was checked; `--verify` hashes it,
    // names the damage and fetches the blob again.
    let blob = s.repo_dir().join(format!("blobs/{}", s.sha()));
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let plain = s.pull(&[&s.spec()]);
    assert!(plain.stdout.contains("size verified"), "{}", plain.stdout);
    let verified = s.pull(&["--verify", &s.spec()]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert!(verified.stderr.contains("is damaged"), "{}", verified.stderr);
    assert_eq!(sha256_of(&blob), s.sha(), "fetched again, verified");
    let again = s.pull(&["--verify", &s.spec()]);
    assert!(again.stdout.contains("sha256 verified again; already in the cache"), "{}", again.stdout);
}

#[test]
fn a_corrupted_body_fails_the_checksum_and_leaves_nothing_under_the_final_names() {
    let s = Setup::new();
    s.hub.set_faults(Faults { corrupt: true, ..Faults::default() });
    let run = s.pull(&[&s.spec()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: checksum failed for tiny-llama-F16.gguf"), "{}", run.stderr);
    assert!(run.stderr.contains(&s.sha()), "names the expected sha256: {}", run.stderr);
    s.assert_no_trace_under_final_names();
    assert!(!s.repo_dir().join(format!("blobs/{}.incomplete", s.sha())).exists(), "the bad partial is deleted");
    assert!(!s.lock().exists(), "nothing pinned");
}

#[test]
fn a_cut_body_resumes_with_range_in_the_same_run_and_in_the_next_run() {
    let s = Setup::new();
    s.hub.set_faults(Faults { cut: Some((1_000_000, 1)), ..Faults::default() });
    let run = s.pull(&["--json", &s.spec()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(s.body_requests(), [None, Some("bytes=1000000-".to_string())]);
    assert_eq!(sha256_of(&s.snapshot()), s.sha());

    // Across runs: the first run gives up (no retries) and keeps the partial; the next resumes from it.
    let s = Setup::new();
    s.hub.set_faults(Faults { cut: Some((700_000, 1)), ..Faults::default() });
    let first = s.pull_env(&[&s.spec()], &[("CLAWLOCAL_HUB_RETRIES", "0")]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert!(first.stderr.contains("run the same command again"), "{}", first.stderr);
    let partial = s.repo_dir().join(format!("blobs/{}.incomplete", s.sha()));
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 700_000);
    s.assert_no_trace_under_final_names();
    s.hub.clear_log();
    let second = s.pull(&["--json", &s.spec()]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(s.body_requests(), [Some("bytes=700000-".to_string())]);
    assert_eq!(second.json()["files"][0]["resumed_from"], 700_000);
    assert_eq!(sha256_of(&s.snapshot()), s.sha());
}

#[test]
fn a_server_that_ignores_range_still_gives_a_correct_file() {
    let s = Setup::new();
    s.hub.set_faults(Faults { cut: Some((500_000, 1)), ignore_range: true, ..Faults::default() });
    let run = s.pull(&[&s.spec()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("ignored the Range request"), "{}", run.stderr);
    assert_eq!(s.body_requests(), [None, Some("bytes=500000-".to_string())], "asked to resume, got the whole file");
    assert_eq!(sha256_of(&s.snapshot()), s.sha());
}

#[test]
fn rate_limits_are_retried_after_retry_after() {
    let s = Setup::new();
    s.hub.set_faults(Faults { rate_limit: 2, ..Faults::default() });
    let run = s.pull(&[&s.spec()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("rate limited by the Hub (429); retrying in 1s").count(), 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("downloading tiny-llama-F16.gguf (3 MiB)"),
        "plain progress lines off a terminal: {}",
        run.stderr
    );
    assert_eq!(sha256_of(&s.snapshot()), s.sha());
}

#[test]
fn a_private_repo_needs_hf_token_which_is_not_sent_to_the_cdn() {
    let s = Setup::new();
    s.hub.set_faults(Faults { require_token: Some("hf_secret".into()), ..Faults::default() });
    let run = s.pull(&[&s.spec()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("refused access (401 RepoNotFound)") && run.stderr.contains("HF_TOKEN"),
        "{}",
        run.stderr
    );
    s.hub.clear_log();
    let run = s.pull_env(&[&s.spec()], &[("HF_TOKEN", "hf_secret")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sha256_of(&s.snapshot()), s.sha());
    let log = s.hub.log();
    assert!(log.iter().filter(|l| l.server == "hub").all(|l| l.authorization.as_deref() == Some("Bearer hf_secret")));
    assert!(
        log.iter().filter(|l| l.server == "cdn").all(|l| l.authorization.is_none()),
        "token stays on the Hub: {log:?}"
    );
}

#[test]
fn missing_files_revisions_and_repos_are_named() {
    let s = Setup::new();
    let run = s.pull(&[&format!("hf:{REPO}/nope-Q4_K_M.gguf")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("error: file nope-Q4_K_M.gguf does not exist in {REPO} at revision main")),
        "{}",
        run.stderr
    );
    let run = s.pull(&[&format!("hf:{REPO}/{FILE}@v9")]);
    assert!(run.stderr.contains(&format!("revision `v9` does not exist in {REPO}")), "{}", run.stderr);
    let run = s.pull(&["hf:nobody/nothing/x.gguf"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nobody/nothing") && run.stderr.contains("HF_TOKEN"), "{}", run.stderr);
    let run = s.pull(&["no-such-model"]);
    assert!(run.stderr.contains("unknown model `no-such-model`"), "{}", run.stderr);
}

#[test]
fn a_file_that_is_not_a_gguf_is_rejected_even_when_its_checksum_matches() {
    let s = Setup::new();
    let mut truncated = s.model.clone();
    truncated.truncate(s.model.len() - 100);
    s.hub.add_repo(
        "o/bad",
        &[("page.gguf", b"<!DOCTYPE html><html>rate limited</html>".to_vec()), ("cut.gguf", truncated)],
    );
    let run = s.pull(&["hf:o/bad/page.gguf"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("page.gguf from o/bad is not a usable GGUF file: not a GGUF file"), "{}", run.stderr);
    let run = s.pull(&["hf:o/bad/cut.gguf"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cut.gguf from o/bad is not a usable GGUF file") && run.stderr.contains("truncated"),
        "{}",
        run.stderr
    );
    let blobs = s.cache().join("models--o--bad/blobs");
    assert_eq!(std::fs::read_dir(blobs).unwrap().count(), 0, "nothing kept");
}

/// A well-formed GGUF whose header claims 2^28 layers (issue 21 item 4): `plan` refuses it by its header, and so
/// does `pull` once its bytes are in, without keeping them.
#[test]
fn a_gguf_claiming_an_impossible_layer_count_is_refused_by_pull_and_plan() {
    let s = Setup::new();
    let mut huge = s.model.clone();
    let key = b"llama.block_count";
    let at = huge.windows(key.len()).position(|w| w == key).expect("the key is in the header") + key.len();
    assert_eq!(huge[at..at + 4], 4u32.to_le_bytes(), "a u32 value");
    huge[at + 4..at + 8].copy_from_slice(&(1u32 << 28).to_le_bytes());
    s.hub.add_repo("o/huge", &[("huge.gguf", huge)]);
    let run = s.pull(&["hf:o/huge/huge.gguf"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("huge.gguf from o/huge is not a usable GGUF file: llama.block_count = 268435456; a model has 1 to 4096 layers"),
        "{}",
        run.stderr
    );
    let blobs = s.cache().join("models--o--huge/blobs");
    assert_eq!(std::fs::read_dir(blobs).unwrap().count(), 0, "nothing kept");
    let plan = s
        .ctx
        .command()
        .env("HF_ENDPOINT", s.hub.endpoint())
        .env("HF_HUB_CACHE", s.cache())
        .args(["--scope", "user", "plan", "--profile", "vps-8gb", "--model", "hf:o/huge/huge.gguf"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&plan.stderr);
    assert_eq!(plan.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("llama.block_count = 268435456; a model has 1 to 4096 layers"), "{stderr}");
}

#[test]
fn split_ggufs_download_as_a_set_at_one_commit() {
    let s = Setup::new();
    let one = TinyModel::default().bytes();
    let two = TinyModel { seed: 7, ..TinyModel::default() }.bytes();
    let files = [("m-00001-of-00002.gguf", one.clone()), ("m-00002-of-00002.gguf", two.clone())];
    let commit = s.hub.add_repo("o/split", &files);
    let run = s.pull(&["--json", "hf:o/split/m-00002-of-00002.gguf"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["file"], "m-00001-of-00002.gguf", "the first shard is what llama-server loads");
    assert_eq!(doc["size"], one.len() + two.len());
    for (name, bytes) in &files {
        let entry = s.cache().join("models--o--split/snapshots").join(&commit).join(name);
        assert_eq!(sha256_of(&entry), sha256_hex(bytes));
    }
}

#[test]
fn locked_and_offline_use_only_the_lock_and_the_cache() {
    let s = Setup::new();
    let run = s.pull(&["--locked", &s.spec()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not in") && run.stderr.contains("clawlocal.lock"), "{}", run.stderr);
    let run = s.pull(&["--offline", &s.spec()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("offline, and revision main of"), "{}", run.stderr);
    assert!(s.hub.log().is_empty(), "offline and locked runs make no request: {:?}", s.hub.log());

    assert_eq!(s.pull(&[&s.spec()]).code, 0);
    s.hub.clear_log();
    for args in [vec!["--locked", "--json"], vec!["--offline", "--json"]] {
        let mut a = args.clone();
        let spec = s.spec();
        a.push(&spec);
        let run = s.pull(&a);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.json()["sha256"], s.sha());
    }
    // HF_HUB_OFFLINE=1 and no lock: refs/main and the snapshot link answer.
    std::fs::remove_file(s.lock()).unwrap();
    let run = s.pull_env(&["--json", &s.spec()], &[("HF_HUB_OFFLINE", "1")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["revision"], s.commit);
    assert!(s.hub.log().is_empty(), "{:?}", s.hub.log());
    // A lock pinning a commit the Hub no longer has at `main` still downloads the pinned commit.
    std::fs::remove_dir_all(s.cache()).unwrap();
    assert_eq!(s.pull(&["--locked", &s.spec()]).code, 0);
    assert!(s.hub.log().iter().any(|l| l.path.contains(&format!("/resolve/{}/", s.commit))), "{:?}", s.hub.log());
}

#[test]
fn two_processes_pulling_at_once_write_the_blob_once() {
    let s = Setup::new();
    let big = TinyModel { n_layer: 12, ..TinyModel::default() }.bytes();
    s.hub.add_repo("o/big", &[("big.gguf", big.clone())]);
    let spawn = || {
        let mut cmd = s.ctx.command();
        cmd.env("HF_ENDPOINT", s.hub.endpoint())
            .env("HF_HUB_CACHE", s.cache())
            .env("XDG_STATE_HOME", s.ctx.dir.path().join("state"))
            .args(["--scope", "user", "pull", "hf:o/big/big.gguf"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let gets = s.body_requests();
    assert_eq!(gets.len(), 1, "one body download between the two: {gets:?}");
    let entry = s
        .cache()
        .join("models--o--big/snapshots")
        .join(s.hub.add_repo("o/big", &[("big.gguf", big.clone())]))
        .join("big.gguf");
    assert_eq!(sha256_of(&entry), sha256_hex(&big));
}

#[test]
fn an_unreachable_hub_is_an_error_naming_the_url_after_the_retries() {
    let ctx = Ctx::new();
    let port = crate::support::parts::free_port();
    let out = ctx
        .command()
        .env("HF_ENDPOINT", format!("http://127.0.0.1:{port}"))
        .env("CLAWLOCAL_HUB_RETRIES", "1")
        .args(["--scope", "user", "pull", "qwen2.5-0.5b-instruct"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("error: http://127.0.0.1:{port}/Qwen/")), "{stderr}");
    assert!(stderr.contains("gave up after 2 attempts") && stderr.contains("retrying in 1s"), "{stderr}");
}

#[test]
fn plan_judges_an_hf_model_by_its_remote_header_without_downloading_it() {
    let s = Setup::new();
    let mut cmd = s.ctx.command();
    let out = cmd
        .env("HF_ENDPOINT", s.hub.endpoint())
        .env("HF_HUB_CACHE", s.cache())
        .args(["--scope", "user", "plan", "--profile", "vps-8gb", "--json", "--model", &s.spec()])
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    let sel = &doc["selection"];
    assert_eq!(sel["model"], "tiny-llama", "{sel}");
    assert_eq!(sel["quant"], "F16");
    assert_eq!(sel["repo"], REPO);
    assert_eq!(sel["file"], FILE);
    assert_eq!(sel["context"], 32768, "the header's context_length bounds the context");
    assert_eq!(sel["estimate"]["weights_bytes"], s.model.len(), "the Hub's real size");
    assert_eq!(sel["estimate"]["weights_source"], "hub");
    // Only the header travelled, by Range; nothing was written.
    let gets = s.body_requests();
    assert!(
        !gets.is_empty() && gets.iter().all(|r| r.as_deref().is_some_and(|r| r.starts_with("bytes=0-"))),
        "{gets:?}"
    );
    assert!(!s.cache().exists(), "plan writes nothing");

    // A model trained on 8K tokens cannot serve OpenClaw's 16K minimum: refused before any download.
    let short = TinyModel { context_length: 8192, ..TinyModel::default() }.bytes();
    s.hub.add_repo("o/short", &[("short.gguf", short)]);
    let out = s
        .ctx
        .command()
        .env("HF_ENDPOINT", s.hub.endpoint())
        .args(["--scope", "user", "plan", "--profile", "vps-8gb", "--model", "hf:o/short/short.gguf"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("model short does not fit profile vps-8gb"), "{stderr}");
    assert!(stderr.contains("training context 8192 is below OpenClaw's minimum 16000"), "{stderr}");
}

#[test]
fn a_stalled_transfer_times_out_and_resumes() {
    let s = Setup::new();
    s.hub.set_faults(Faults { stall: Some((600_000, std::time::Duration::from_secs(4))), ..Faults::default() });
    let run = s.pull_env(&[&s.spec()], &[("HF_HUB_DOWNLOAD_TIMEOUT", "1")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("connection lost after"), "{}", run.stderr);
    let gets = s.body_requests();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert!(gets[1].as_deref().is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-"), "resumed: {gets:?}");
    assert_eq!(sha256_of(&s.snapshot()), s.sha());
}

#[test]
fn a_file_larger_than_the_free_space_is_refused_before_any_byte_is_fetched() {
    let s = Setup::new();
    s.hub.set_faults(Faults { announce_size: Some(1 << 60), ..Faults::default() });
    let run = s.pull(&[&s.spec()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: not enough disk space for tiny-llama-F16.gguf"), "{}", run.stderr);
    assert!(run.stderr.contains("HF_HUB_CACHE"), "the hint says where else to put it: {}", run.stderr);
    assert!(run.stderr.contains("margin"), "the margin is named: {}", run.stderr);
    assert!(s.body_requests().is_empty());
    // No empty partial, lock or claim is left by the refusal.
    let left: Vec<String> = walk(&s.cache());
    assert_eq!(left, Vec::<String>::new(), "nothing in the cache");
}

/// Every file under `dir`, as paths relative to it.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}
