//! `cargo bench --bench pull` (or scripts/bench-pull.sh): clawlocal's verified pull against curl, and its sha256
//! against `openssl dgst -sha256`, run alternately on this machine and reported as medians and ratios.
//!
//! Goals (issue 4): a 256 MiB verified pull ≤ 1.30 × curl's median wall time from the same loopback server;
//! sha256 throughput ≥ 0.9 × openssl's. Files live in BENCH_DIR (default /dev/shm when present, so the disk's
//! writeback is not what is measured). BENCH_RUNS sets the runs per side (default 7).

#![allow(clippy::print_stdout, clippy::disallowed_methods, dead_code)]

#[path = "../tests/it/support/http.rs"]
mod http;
#[path = "../tests/it/support/hubmock.rs"]
mod hubmock;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PULL_BYTES: usize = 256 << 20;
const HASH_BYTES: usize = 1 << 30;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    let base = std::env::var_os("BENCH_DIR").map(PathBuf::from).unwrap_or_else(|| {
        if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() }
    });
    let dir = tempfile::tempdir_in(&base).expect("bench dir");
    println!("bench dir: {} ({runs} runs per side, alternating)", dir.path().display());
    bench_pull(dir.path(), runs);
    bench_sha256(dir.path(), runs.min(5));
}

/// A valid GGUF of `len` bytes: one F32 tensor filling the data section with pseudo-random bytes.
fn gguf_of_size(len: usize) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    b.extend_from_slice(&1u64.to_le_bytes());
    let s = |b: &mut Vec<u8>, t: &str| {
        b.extend_from_slice(&(t.len() as u64).to_le_bytes());
        b.extend_from_slice(t.as_bytes());
    };
    s(&mut b, "general.architecture");
    b.extend_from_slice(&8u32.to_le_bytes());
    s(&mut b, "bench");
    s(&mut b, "blob.weight");
    b.extend_from_slice(&1u32.to_le_bytes());
    let header_guess = b.len() + 8 + 4 + 8;
    let data_start = header_guess.next_multiple_of(32);
    let elements = (len - data_start) / 4;
    b.extend_from_slice(&(elements as u64).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&0u64.to_le_bytes());
    b.resize(data_start, 0);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    while b.len() < data_start + elements * 4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.extend_from_slice(&x.to_le_bytes());
    }
    b.truncate(data_start + elements * 4);
    b
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(mut f: impl FnMut()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn bench_pull(dir: &Path, runs: usize) {
    let hub = hubmock::HubMock::start();
    let model = gguf_of_size(PULL_BYTES);
    let sha = hubmock::sha256_hex(&model);
    hub.add_repo("bench/model", &[("bench.gguf", model)]);
    let head =
        http::request("HEAD", &format!("{}/bench/model/resolve/main/bench.gguf", hub.endpoint()), &[], None).unwrap();
    let cdn = head.header("location").expect("the Hub redirects to its CDN").to_string();
    let cache = dir.join("hub");
    let curl_out = dir.join("curl.gguf");
    let (mut ours, mut curl) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let mut pull = || {
            let _ = std::fs::remove_dir_all(&cache);
            let out = Command::new(env!("CARGO_BIN_EXE_clawlocal"))
                .args(["--scope", "user", "--quiet", "pull", "hf:bench/model/bench.gguf"])
                .env("HF_ENDPOINT", hub.endpoint())
                .env("HF_HUB_CACHE", &cache)
                .env("XDG_STATE_HOME", dir.join("state"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let _ = std::fs::remove_dir_all(dir.join("state"));
        };
        let mut fetch = || {
            let _ = std::fs::remove_file(&curl_out);
            let st = Command::new("curl").args(["-sS", "-f", "-o"]).arg(&curl_out).arg(&cdn).status().expect("curl");
            assert!(st.success());
        };
        // Alternate which goes first, so neither always gets the warmer cache.
        if i % 2 == 0 {
            ours.push(time(&mut pull));
            curl.push(time(&mut fetch));
        } else {
            curl.push(time(&mut fetch));
            ours.push(time(&mut pull));
        }
    }
    let blob = cache.join("models--bench--model/blobs").join(&sha);
    assert_eq!(std::fs::metadata(&blob).unwrap().len() as usize, PULL_BYTES, "the pull landed the verified blob");
    let (o, c) = (median(ours), median(curl));
    println!(
        "pull 256 MiB (HEAD + 302 + GET, sha256 verified, GGUF checked) median {:.3} s; curl -o of the CDN URL median {:.3} s; ratio {:.2}x (goal <= 1.30x)",
        o.as_secs_f64(),
        c.as_secs_f64(),
        o.as_secs_f64() / c.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_file(&curl_out);
}

fn bench_sha256(dir: &Path, runs: usize) {
    let path = dir.join("hash.bin");
    let mut data = vec![0u8; HASH_BYTES];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(&path, &data).unwrap();
    drop(data);
    let (mut ours, mut openssl) = (Vec::new(), Vec::new());
    let mut digests = (String::new(), String::new());
    for i in 0..runs {
        let mut a = || digests.0 = clawlocal::hub::download::sha256_file(&path).unwrap();
        let ta = if i % 2 == 0 { Some(time(&mut a)) } else { None };
        let mut cmd = Command::new("openssl");
        cmd.args(["dgst", "-sha256", "-r"]).arg(&path);
        let tb = time(|| {
            let o = cmd.output().expect("openssl");
            digests.1 = String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap_or_default().to_string();
        });
        let ta = ta.unwrap_or_else(|| time(|| digests.0 = clawlocal::hub::download::sha256_file(&path).unwrap()));
        ours.push(ta);
        openssl.push(tb);
    }
    assert_eq!(digests.0, digests.1, "the same digest as openssl");
    let (o, s) = (median(ours), median(openssl));
    let gib = HASH_BYTES as f64 / (1u64 << 30) as f64;
    println!(
        "sha256 of 1 GiB: clawlocal {:.0} MiB/s, openssl dgst {:.0} MiB/s; throughput ratio {:.2}x (goal >= 0.90x)",
        gib * 1024.0 / o.as_secs_f64(),
        gib * 1024.0 / s.as_secs_f64(),
        s.as_secs_f64() / o.as_secs_f64()
    );
    let _ = std::fs::remove_file(&path);
}
