//! Finds which real components the integration tests can drive here, so that a test whose part is missing is
//! *ignored* (counted as such in the totals) rather than passing after printing SKIPPED. Under `CI=true`
//! nothing is marked: every part is required and a missing one fails its test. The same lookup as
//! tests/it/support/parts.rs: the `CLAWLOCAL_TEST_*` variables, else the cache `scripts/ci/*.sh` fill.

// A build script has no Host: it reads its own environment, as cargo hands it over.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

fn main() {
    for var in [
        "CI",
        "HOME",
        "PATH",
        "CLAWLOCAL_CI_CACHE",
        "CLAWLOCAL_TEST_LLAMA_SERVER",
        "CLAWLOCAL_TEST_LLAMA_SRC",
        "CLAWLOCAL_TEST_OPENCLAW",
        "CLAWLOCAL_TEST_ROOTFS",
        "CLAWLOCAL_TEST_TINYGRAD_PYTHON",
        "CLAWLOCAL_TEST_LLAMA_CPP_PYTHON",
        "CLAWLOCAL_TEST_KUBERNETES_VALIDATE",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!(
        "cargo::rustc-check-cfg=cfg(missing_llama_server, missing_llama_source, missing_openclaw, missing_rootfs, missing_podman, missing_systemd_analyze, missing_tinygrad, missing_llama_cpp_python, missing_kubernetes_validate, missing_cloud_init)"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        return;
    }
    let cache = std::env::var_os("CLAWLOCAL_CI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/clawlocal-ci"));
    if cache.is_dir() {
        println!("cargo:rerun-if-changed={}", cache.display());
    }
    let given = |var: &str| std::env::var_os(var).map(PathBuf::from).filter(|p| p.exists());
    let cached = |prefix: &str, rel: &str| {
        std::fs::read_dir(&cache)
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(prefix) && e.path().join(rel).is_file())
    };
    let on_path = |program: &str| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    };
    let mut missing = Vec::new();
    if given("CLAWLOCAL_TEST_LLAMA_SERVER").is_none() && !cached("llama-cpp-python-", "llama-server") {
        missing.push("missing_llama_server");
    }
    let source = given("CLAWLOCAL_TEST_LLAMA_SRC").is_some() || cached("llama-cpp-python-", "llama.cpp-src.tar.gz");
    if !source || !on_path("cmake") {
        missing.push("missing_llama_source");
    }
    if given("CLAWLOCAL_TEST_OPENCLAW").is_none() && !cached("openclaw-", "bin/openclaw") {
        missing.push("missing_openclaw");
    }
    let rootfs = given("CLAWLOCAL_TEST_ROOTFS").unwrap_or_else(|| cache.join("rootfs-bookworm"));
    if !Path::new(&rootfs).join("usr/lib/systemd/systemd").is_file()
        || !on_path("systemd-nspawn")
        || !on_path("nsenter")
    {
        missing.push("missing_rootfs");
    }
    if !["podman", "podman-compose", "runc"].iter().all(|p| on_path(p)) {
        missing.push("missing_podman");
    }
    if given("CLAWLOCAL_TEST_TINYGRAD_PYTHON").is_none() && !cached("py-tinygrad-", ".done") {
        missing.push("missing_tinygrad");
    }
    if given("CLAWLOCAL_TEST_LLAMA_CPP_PYTHON").is_none() && !cached("py-llama-cpp-python-", ".done") {
        missing.push("missing_llama_cpp_python");
    }
    if given("CLAWLOCAL_TEST_KUBERNETES_VALIDATE").is_none() && !cached("py-kubernetes-validate-", ".done") {
        missing.push("missing_kubernetes_validate");
    }
    if !on_path("cloud-init") {
        missing.push("missing_cloud_init");
    }
    if !on_path("systemd-analyze") {
        missing.push("missing_systemd_analyze");
    }
    for cfg in missing {
        println!("cargo:rustc-cfg={cfg}");
    }
}
