//! `clawlocal engine install` against a local server serving an archive shaped like llama.cpp's releases (one
//! top folder, the binary, a library symlink chain), since GitHub is out of reach here; and `engine show`.

use std::collections::HashMap;
use std::path::Path;

use crate::support::mirror::{Mirror, release_archive};

use crate::support::{Ctx, Run, finish};

fn sha256(bytes: &[u8]) -> String {
    crate::support::hubmock::sha256_hex(bytes)
}

fn engine(ctx: &Ctx, args: &[&str]) -> Run {
    finish(ctx.command().env("XDG_DATA_HOME", ctx.dir.path().join("data")).args(args).output().unwrap())
}

const ASSET: &str = "bin-ubuntu-x64.tar.gz";

#[test]
fn engine_install_verifies_unpacks_with_symlinks_and_is_found() {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return crate::support::parts::skip("engine_install", "the fake archive is shaped for linux x86_64");
    }
    let archive = release_archive("b99999", 99999);
    let wrong_build = release_archive("b99998", 12345);
    let mirror = Mirror::start(HashMap::from([
        (format!("/b99999/llama-b99999-{ASSET}"), archive.clone()),
        (format!("/b99998/llama-b99998-{ASSET}"), wrong_build.clone()),
        (format!("/b11160/llama-b11160-{ASSET}"), archive.clone()),
    ]));
    let ctx = Ctx::new();
    let sha = sha256(&archive);
    let install = |release: &str, sha: &str| {
        engine(
            &ctx,
            &[
                "--scope",
                "user",
                "--json",
                "engine",
                "install",
                "--release",
                release,
                "--sha256",
                sha,
                "--mirror",
                &mirror.url,
            ],
        )
    };

    let run = install("b99999", &sha);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["status"], "created");
    let dir = ctx.dir.path().join("data/clawlocal/engine/llama-b99999");
    assert_eq!(Path::new(doc["path"].as_str().unwrap()), dir.join("llama-server"));
    assert_eq!(std::fs::read_link(dir.join("libllama.so")).unwrap(), Path::new("libllama.so.0"), "symlinks kept");
    assert_eq!(std::fs::read(dir.join("libllama.so")).unwrap(), b"ELF-ish", "the chain resolves in the folder");
    assert!(dir.join("LICENSE").is_file(), "the folder is kept together");

    let show = engine(&ctx, &["--scope", "user", "--json", "engine", "show"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let show = show.json();
    assert_eq!((show["source"].as_str(), show["version"]["build"].as_u64()), (Some("installed"), Some(99999)));

    let hits_before = mirror.hits.lock().unwrap().len();
    let again = install("b99999", &sha);
    assert_eq!(again.json()["status"], "unchanged");
    assert_eq!(mirror.hits.lock().unwrap().len(), hits_before, "nothing downloaded the second time");

    // A wrong sha256: nothing installed, no leftovers.
    let run = install("b99998", &"0".repeat(64));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("does not match the pinned"), "{}", run.stderr);
    let engine_dir = ctx.dir.path().join("data/clawlocal/engine");
    let names: Vec<String> = std::fs::read_dir(&engine_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["llama-b99999"], "no partial download or folder left: {names:?}");

    // The right bytes, but the binary is another build than the release: refused before it takes the name.
    let run = install("b99998", &sha256(&wrong_build));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("reports build 12345"), "{}", run.stderr);
    assert!(!engine_dir.join("llama-b99998").exists());

    // A pinned install is recorded in the lock, and a plain install then uses that pin.
    let lock = ctx.home().join(".local/state/clawlocal/clawlocal.lock");
    assert!(std::fs::read_to_string(&lock).unwrap().contains("llama-b99999-bin-ubuntu-x64.tar.gz"));
    let run = engine(&ctx, &["--scope", "user", "--json", "engine", "install", "--mirror", &mirror.url]);
    assert_eq!((run.code, run.json()["release"].clone()), (0, "b99999".into()), "{}", run.stderr);

    // Without a lock, the pinned release checks against the pinned table: a mirror serving other bytes is refused.
    std::fs::remove_file(&lock).unwrap();
    let run = engine(&ctx, &["--scope", "user", "engine", "install", "--mirror", &mirror.url]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("48ece24283876fc3401b737724008c03cbc4c7ba335b6c1aa2a7b6ce2d49e435"), "{}", run.stderr);
    assert!(!engine_dir.join("llama-b11160").exists());
}

#[test]
fn engine_show_names_what_is_missing_or_too_old() {
    let ctx = Ctx::new();
    let run =
        finish(ctx.command().env("PATH", "/nonexistent").args(["--scope", "user", "engine", "show"]).output().unwrap());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("llama-server not found") && run.stderr.contains("engine install"), "{}", run.stderr);

    let old = ctx.write("old-llama-server", "#!/bin/sh\necho 'version: 3952 (1f9a8b2c)' >&2\n");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = finish(
        ctx.command().env("CLAWLOCAL_LLAMA_SERVER", &old).args(["--scope", "user", "engine", "show"]).output().unwrap(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("older than build b7400"), "{}", run.stderr);

    let run = ctx.run(&["--scope", "user", "engine", "show", "--engine", "/no/such/llama-server"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--engine /no/such/llama-server: no such file"), "{}", run.stderr);
}

/// An archive no published source pins (here `--release b11200`, a release after the pinned one) takes the
/// digest and size the release host publishes for it (GitHub's release API, here a local stand-in), is verified against them while streaming, and
/// is pinned in clawlocal.lock; `--locked` then installs only what the lock pins.
#[test]
fn an_unpinned_archive_takes_the_published_digest_and_is_pinned_in_the_lock() {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return crate::support::parts::skip("an_unpinned_archive", "the fake archive is shaped for linux x86_64");
    }
    let asset = "llama-b11200-bin-ubuntu-vulkan-x64.tar.gz";
    let flags = "--model --metrics --no-webui --fit --load-mode";
    let vulkan = "  Vulkan0: AMD Radeon RX 7900 XTX (RADV NAVI31)";
    let archive = crate::support::mirror::release_archive_listing("b11200", 11200, flags, vulkan);
    // The same build that sees no Vulkan device (no driver or loader): refused before it takes the name.
    let blind = crate::support::mirror::release_archive_listing("b11200", 11200, flags, "  (none)");
    let digest = |sha: &str| {
        format!("{{\"tag_name\": \"b11200\", \"assets\": [{{\"name\": \"{asset}\", \"size\": {}, \"digest\": \"sha256:{sha}\"}}]}}", archive.len())
            .into_bytes()
    };
    let good = Mirror::start(HashMap::from([
        (format!("/b11200/{asset}"), archive.clone()),
        ("/api/b11200".to_string(), digest(&sha256(&archive))),
    ]));
    let lying = Mirror::start(HashMap::from([
        (format!("/b11200/{asset}"), archive.clone()),
        ("/api/b11200".to_string(), digest(&"1".repeat(64))),
    ]));
    let no_device = Mirror::start(HashMap::from([
        (format!("/b11200/{asset}"), blind.clone()),
        (
            "/api/b11200".to_string(),
            format!(
                "{{\"assets\": [{{\"name\": \"{asset}\", \"size\": {}, \"digest\": \"sha256:{}\"}}]}}",
                blind.len(),
                sha256(&blind)
            )
            .into_bytes(),
        ),
    ]));
    let ctx = Ctx::new();
    let install = |mirror: &Mirror, extra: &[&str]| {
        let mut args =
            vec!["--scope", "user", "--json", "engine", "install", "--backend", "vulkan", "--release", "b11200"];
        args.extend(extra);
        finish(
            ctx.command()
                .env("XDG_DATA_HOME", ctx.dir.path().join("data"))
                .env("CLAWLOCAL_ENGINE_MIRROR", &mirror.url)
                .env("CLAWLOCAL_ENGINE_API", format!("{}/api", mirror.url))
                .args(&args)
                .output()
                .unwrap(),
        )
    };
    let lock = ctx.home().join(".local/state/clawlocal/clawlocal.lock");

    let refused = install(&lying, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("does not match the pinned"), "{}", refused.stderr);
    assert!(!ctx.dir.path().join("data/clawlocal/engine/llama-b11200").exists(), "nothing installed");
    assert!(!lock.exists(), "nothing pinned");

    let blind_run = install(&no_device, &[]);
    assert_eq!(blind_run.code, 1, "{}", blind_run.stderr);
    assert!(blind_run.stderr.contains("lists no vulkan device"), "{}", blind_run.stderr);
    assert!(!ctx.dir.path().join("data/clawlocal/engine/llama-b11200").exists(), "nothing installed");

    let locked_first = install(&good, &["--locked"]);
    assert_eq!(locked_first.code, 2, "--locked refuses an archive the lock does not pin: {}", locked_first.stderr);

    let run = install(&good, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["status"], "created");
    let pinned: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    assert_eq!(pinned["engines"][0]["asset"], asset);
    assert_eq!(pinned["engines"][0]["sha256"], sha256(&archive));
    assert_eq!(pinned["engines"][0]["size"], archive.len());

    let again = install(&lying, &["--locked"]);
    assert_eq!(again.code, 0, "the lock's pin, not the release host's answer: {}", again.stderr);
    assert_eq!(again.json()["status"], "unchanged");
}

/// A CUDA host (FAKE `nvidia-smi` with a 575 driver, FAKE `getconf` saying glibc 2.39): the CUDA 12.8 archive is
/// chosen (of a release after the pinned one, so nothing pins it), its cudart companion is fetched and verified
/// by the digests the release host publishes and unpacked
/// beside the binary, and only then does the binary see its GPU (the FAKE llama-server lists CUDA0 only with
/// `libcudart.so.12` next to it) and take its name. Both archives are pinned in the lock.
#[test]
fn a_cuda_host_gets_the_cuda_build_with_its_runtime_unpacked_beside_it() {
    if !(cfg!(target_os = "linux") && cfg!(target_arch = "x86_64")) {
        return crate::support::parts::skip("a_cuda_host", "the fake archives are shaped for linux x86_64");
    }
    let ctx = Ctx::new();
    let bin = ctx.dir.path().join("fakebin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = |name: &str, body: &str| {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script("getconf", "echo 'glibc 2.39'");
    script(
        "nvidia-smi",
        "case \"$1\" in --query-gpu=driver_version) echo 575.51.02;; *) echo 'NVIDIA L4, 23034, 22000';; esac",
    );
    let tar = |entries: &[(&str, &[u8], u32)]| {
        let mut b = tar::Builder::new(Vec::new());
        for (path, body, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(*mode);
            b.append_data(&mut h, path, *body).unwrap();
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
        gz.finish().unwrap()
    };
    let server = "#!/bin/sh\ncase \"$1\" in --version) echo 'version: 11200 (0123abc)' >&2;; \
                  --help) echo '--model';; --list-devices) echo 'Available devices:'; \
                  [ -f \"$(dirname \"$0\")/libcudart.so.12\" ] && echo '  CUDA0: NVIDIA L4 (22700 MiB, 22000 MiB free)' \
                  || echo '  (none)';; esac\n";
    let asset = "llama-b11200-bin-ubuntu-cuda-12.8-x64.tar.gz";
    let cudart = "cudart-llama-b11200-bin-ubuntu-cuda-12.8-x64.tar.gz";
    let main = tar(&[("llama-b11200/llama-server", server.as_bytes(), 0o755)]);
    let runtime = tar(&[("cudart/libcudart.so.12", b"ELF-ish", 0o644), ("cudart/libcublas.so.12", b"ELF-ish", 0o644)]);
    let api = format!(
        "{{\"assets\": [{{\"name\": \"{asset}\", \"size\": {}, \"digest\": \"sha256:{}\"}}, \
          {{\"name\": \"{cudart}\", \"size\": {}, \"digest\": \"sha256:{}\"}}]}}",
        main.len(),
        sha256(&main),
        runtime.len(),
        sha256(&runtime)
    );
    let mirror = Mirror::start(HashMap::from([
        (format!("/b11200/{asset}"), main.clone()),
        (format!("/b11200/{cudart}"), runtime.clone()),
        ("/api/b11200".to_string(), api.into_bytes()),
    ]));
    let install = |mirror: &Mirror| {
        finish(
            ctx.command()
                .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
                .env("XDG_DATA_HOME", ctx.dir.path().join("data"))
                .env("CLAWLOCAL_ENGINE_MIRROR", &mirror.url)
                .env("CLAWLOCAL_ENGINE_API", format!("{}/api", mirror.url))
                .args(["--scope", "user", "--json", "engine", "install", "--release", "b11200"])
                .output()
                .unwrap(),
        )
    };
    // A release host that publishes no digest for the runtime: refused before anything is fetched.
    let partial = format!(
        "{{\"assets\": [{{\"name\": \"{asset}\", \"size\": {}, \"digest\": \"sha256:{}\"}}]}}",
        main.len(),
        sha256(&main)
    );
    let no_runtime = Mirror::start(HashMap::from([
        (format!("/b11200/{asset}"), main.clone()),
        ("/api/b11200".to_string(), partial.into_bytes()),
    ]));
    let refused = install(&no_runtime);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("lists no asset {cudart}")), "{}", refused.stderr);
    assert!(!ctx.dir.path().join("data/clawlocal/engine/llama-b11200").exists());

    let run = install(&mirror);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = ctx.dir.path().join("data/clawlocal/engine/llama-b11200");
    assert!(dir.join("llama-server").is_file() && dir.join("libcudart.so.12").is_file(), "the runtime sits beside it");
    let lock = std::fs::read_to_string(ctx.home().join(".local/state/clawlocal/clawlocal.lock")).unwrap();
    assert!(lock.contains(asset) && lock.contains(cudart) && lock.contains(&sha256(&runtime)), "{lock}");
}

/// `engine build` looks for its tools before anything else: a CUDA build on a host without `nvcc` is refused
/// naming it and where it comes from, and the source is never asked for (the mirror sees no request).
#[test]
fn engine_build_names_the_missing_tools_before_fetching_anything() {
    let ctx = Ctx::new();
    let mirror = Mirror::start(HashMap::new());
    let source = format!("{}/b99999.tar.gz", mirror.url);
    let run = finish(
        ctx.command()
            .env("PATH", "/nonexistent")
            .env("XDG_DATA_HOME", ctx.dir.path().join("data"))
            .args([
                "--scope",
                "user",
                "engine",
                "build",
                "--backend",
                "cuda",
                "--release",
                "b99999",
                "--source",
                &source,
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    for tool in ["cmake (from cmake)", "nvcc (from the CUDA toolkit"] {
        assert!(run.stderr.contains(tool), "{tool}: {}", run.stderr);
    }
    assert!(run.stderr.contains("nothing was fetched"), "{}", run.stderr);
    assert!(mirror.hits.lock().unwrap().is_empty(), "the source was asked for");
    assert!(!ctx.dir.path().join("data/clawlocal/engine/llama-b99999").exists());

    let locked =
        ctx.run(&["--scope", "user", "engine", "build", "--release", "b99999", "--locked", "--source", &source]);
    if locked.stderr.contains("needs cmake") {
        return; // no cmake here: the --locked refusal below comes after the tool check
    }
    assert_eq!(locked.code, 2, "{}", locked.stderr);
    assert!(locked.stderr.contains("pins no source archive llama.cpp-b99999-source.tar.gz"), "{}", locked.stderr);
    assert!(mirror.hits.lock().unwrap().is_empty());
}

/// REAL: `engine build` compiles the real llama.cpp source (the tree vendored in the llama-cpp-python sdist, packed
/// by scripts/ci/llama-server.sh) with the real cmake, compiler and ccache. A tampered archive is refused before
/// cmake runs; the first build pins the archive's sha256 in the lock (GitHub publishes no digest for source
/// archives); the binary is checked like a release archive's, installed where `engine install` puts a release,
/// found by `engine show`, and serves the test GGUF; a second build of the same source is `unchanged`.
#[test]
#[cfg_attr(
    any(missing_llama_source),
    ignore = "needs the llama.cpp source archive and cmake (README: Real components in the tests)"
)]
fn e2e_engine_build_compiles_the_real_source_and_it_serves() {
    let test = "e2e_engine_build_compiles_the_real_source_and_it_serves";
    let Some(source) = crate::support::parts::llama_source(test) else { return };
    let ctx = Ctx::new();
    let data = ctx.dir.path().join("data");
    let build = |source: &Path, extra: &[&str]| {
        let mut args = vec!["--scope", "user", "--json", "engine", "build", "--backend", "cpu", "--portable"];
        args.extend(["--release", "b99999", "--source", source.to_str().unwrap()]);
        args.extend(extra);
        finish(
            ctx.command()
                .env("XDG_DATA_HOME", &data)
                // The same ccache scripts/ci/llama-server.sh fills, so CI compiles the tree once.
                .env("CCACHE_DIR", crate::support::parts::cache_root().join("ccache"))
                .env("CCACHE_MAXSIZE", "2G")
                .args(&args)
                .output()
                .unwrap(),
        )
    };
    let bytes = std::fs::read(&source).unwrap();
    let sha = sha256(&bytes);
    let mut tampered = bytes.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x40;
    let tampered_path = ctx.write("tampered.tar.gz", "");
    std::fs::write(&tampered_path, &tampered).unwrap();
    let dir = data.join("clawlocal/engine/llama-b99999");

    let refused = build(&tampered_path, &["--sha256", &sha]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("does not match the pinned"), "{}", refused.stderr);
    assert!(!dir.exists(), "nothing installed");
    assert!(!refused.stderr.contains("configuring"), "cmake never ran: {}", refused.stderr);

    let started = std::time::Instant::now();
    let run = build(&source, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    crate::support::parts::note(&format!("engine build (cpu, portable): {} s", started.elapsed().as_secs()));
    let doc = run.json();
    assert_eq!((doc["status"].as_str(), doc["source_sha256"].as_str()), (Some("created"), Some(sha.as_str())));
    assert!(run.stderr.contains("building llama-server:") || run.stderr.contains("configuring"), "{}", run.stderr);
    assert!(run.stderr.contains("pinned the sha256"), "first use is said: {}", run.stderr);
    let lock = std::fs::read_to_string(ctx.home().join(".local/state/clawlocal/clawlocal.lock")).unwrap();
    assert!(lock.contains("llama.cpp-b99999-source.tar.gz") && lock.contains(&sha), "{lock}");

    let show = engine(&ctx, &["--scope", "user", "--json", "engine", "show"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let show = show.json();
    assert_eq!((show["source"].as_str(), show["version"]["build"].as_u64()), (Some("installed"), Some(99999)));
    let binary = dir.join("llama-server");
    let model = ctx.dir.path().join("tiny.gguf");
    crate::support::gguf::TinyModel::default().write(&model).unwrap();
    let server = crate::support::parts::Server::start(&binary, &model, "tiny", 256, ctx.dir.path());
    let models = crate::support::http::get(&format!("{}/v1/models", server.url())).unwrap();
    let body = String::from_utf8_lossy(&models.body);
    assert!(body.contains("\"tiny\""), "{body}");
    drop(server);

    let again = build(&source, &["--locked"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["status"], "unchanged", "the lock's pin and the stamp: nothing rebuilt");
    assert!(binary.is_file());
}
