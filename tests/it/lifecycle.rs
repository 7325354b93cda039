//! The lifecycle from the outside: `init` twice (the second changes nothing), `status`, `uninstall` (openclaw.json
//! byte-identical to before, nothing of init's left but the model), `init` again and `uninstall --purge`
//! (the model goes too). Real llama-server (init probes it), the Hub mock, a sandbox HOME.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::support::sandbox::Setup;

/// Every file and symlink under `root`, relative, with its bytes (a link: its target).
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(&path, root, out);
            } else if kind.is_symlink() {
                out.insert(rel, std::fs::read_link(&path).unwrap().to_string_lossy().into_owned().into_bytes());
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn difference(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    a.iter().filter(|(k, v)| b.get(*k) != Some(v)).map(|(k, _)| k.clone()).collect()
}

const USER_CONFIG: &str = "// my OpenClaw config: comments stay\n{\n  gateway: { mode: 'local' },\n  agents: { defaults: { model: { primary: 'anthropic/claude-sonnet-4-5' } } }, // hosted\n}\n";

#[test]
fn e2e_init_twice_then_uninstall_keeps_only_the_model_and_purge_removes_it() {
    let Some(s) = Setup::new("e2e_init_twice_then_uninstall_keeps_only_the_model_and_purge_removes_it") else {
        return;
    };
    std::fs::write(s.config(), USER_CONFIG).unwrap();
    let before = tree(s.ctx.dir.path());

    let first = s.init("none", &[]);
    assert_eq!(first["ok"], true);
    let started = Instant::now();
    let second = s.init("none", &[]);
    let elapsed = started.elapsed();
    for action in second["actions"].as_array().unwrap() {
        let expected = if action["kind"] == "start" { "skipped" } else { "unchanged" };
        assert_eq!(action["status"], expected, "{action}");
    }
    // Measured, not asserted (shared machines are noisy): scripts/bench-doctor.sh reports it as a median.
    crate::support::parts::note(&format!("second identical init took {} ms", elapsed.as_millis()));

    let status = s.run(&["--json", "status"]).json();
    assert_eq!((&status["installed"], &status["model"]["present"]), (&true.into(), &true.into()), "{status}");
    assert_eq!(status["server"]["state"], "not running");
    assert_eq!(status["openclaw"]["provider_present"], true);

    // Without --yes and without a terminal, uninstall refuses and changes nothing.
    let refused = s.run(&["uninstall"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);

    let un = s.run(&["--json", "uninstall", "--yes"]);
    assert_eq!(un.code, 0, "{}", un.stderr);
    assert_eq!(std::fs::read_to_string(s.config()).unwrap(), USER_CONFIG, "openclaw.json is byte-identical");
    let after = tree(s.ctx.dir.path());
    assert_eq!(difference(&before, &after), Vec::<String>::new(), "nothing of the user's is gone or changed");
    let left = difference(&after, &before);
    assert!(!left.is_empty() && left.iter().all(|p| p.starts_with("hub/")), "only the model stays: {left:?}");
    assert!(!s.ctx.home().join(".local/state/clawlocal").exists() && !s.ctx.home().join(".config/clawlocal").exists());
    assert_eq!(s.run(&["--json", "status"]).json()["installed"], false);

    s.init("none", &[]);
    let purge = s.run(&["--json", "uninstall", "--purge", "--yes"]);
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    let model = purge.json()["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "model").cloned().unwrap();
    assert_eq!(model["status"], "removed", "{model}");
    assert_eq!(tree(s.ctx.dir.path()), before, "after --purge every file is as before init");
    assert_eq!(std::fs::read_to_string(s.config()).unwrap(), USER_CONFIG);
}

/// `--purge` removes only a blob clawlocal downloaded: one another tool put in the Hugging Face cache stays.
#[test]
fn e2e_purge_keeps_a_blob_clawlocal_did_not_download() {
    let Some(s) = Setup::new("e2e_purge_keeps_a_blob_clawlocal_did_not_download") else { return };
    // Another tool fetched the model first (same cache layout, no clawlocal provenance).
    let bytes = crate::support::gguf::TinyModel::default().bytes();
    let sha = crate::support::hubmock::sha256_hex(&bytes);
    let commit = s.hub.add_repo(crate::support::sandbox::REPO, &[("tiny-F16.gguf", bytes.clone())]);
    let repo = s.ctx.dir.path().join("hub/models--clawlocal-test--tiny-GGUF");
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join(format!("snapshots/{commit}"))).unwrap();
    std::fs::write(repo.join("blobs").join(&sha), &bytes).unwrap();
    std::os::unix::fs::symlink(format!("../../blobs/{sha}"), repo.join(format!("snapshots/{commit}/tiny-F16.gguf")))
        .unwrap();
    let init = s.init("none", &[]);
    let download = init["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "download").unwrap().clone();
    assert_eq!(download["status"], "unchanged", "found in the cache: {download}");
    let purge = s.run(&["--json", "uninstall", "--purge", "--yes"]);
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    let model = purge.json()["actions"].as_array().unwrap().iter().find(|a| a["kind"] == "model").cloned().unwrap();
    assert_eq!(model["status"], "kept", "{model}");
    assert_eq!(std::fs::read(repo.join("blobs").join(&sha)).unwrap(), bytes, "another tool's blob is untouched");
}
