//! `install.sh` outside a source checkout: it downloads the release archive for this machine from a local file
//! server (`CLAWLOCAL_DIST_SERVER`), verifies its sha256, and installs; a tampered archive installs nothing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Ctx, Run, finish};

/// Serve the files under `root` over HTTP/1.1 on loopback (GET only; 404 for anything missing).
fn file_server(root: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let mut out = &stream;
            match std::fs::read(root.join(&path)) {
                Ok(body) => {
                    let _ =
                        write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                    let _ = out.write_all(&body);
                }
                Err(_) => {
                    let _ = write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        }
    });
    port
}

/// The release target install.sh computes on this (Linux) machine.
fn target() -> String {
    let arch = String::from_utf8(Command::new("uname").arg("-m").output().unwrap().stdout).unwrap();
    let arch = match arch.trim() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    }
    .to_string();
    format!("{arch}-unknown-linux-gnu")
}

/// `clawlocal-<target>.tar.gz` holding `clawlocal-<target>/clawlocal` (a stand-in that prints a version).
fn archive(target: &str) -> Vec<u8> {
    let script = b"#!/bin/sh\necho 'clawlocal 9.9.9 (release stand-in)'\n";
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    let mut header = tar::Header::new_gnu();
    header.set_size(script.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    builder.append_data(&mut header, format!("clawlocal-{target}/clawlocal"), &script[..]).unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    crate::support::hubmock::sha256_hex(bytes)
}

/// install.sh copied away from the checkout (so it downloads), run with the local server.
fn install(ctx: &Ctx, port: u16, args: &[&str]) -> (Run, PathBuf) {
    let script = ctx.dir.path().join("install.sh");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"), &script).unwrap();
    let to = ctx.dir.path().join("bin");
    let out = Command::new("sh")
        .arg(&script)
        .args(["-y", "--to"])
        .arg(&to)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", ctx.home())
        .env("CLAWLOCAL_DIST_SERVER", format!("http://127.0.0.1:{port}/releases"))
        .output()
        .unwrap();
    (finish(out), to.join("clawlocal"))
}

#[test]
fn install_sh_verifies_the_release_archive_and_refuses_a_tampered_one() {
    let ctx = Ctx::new();
    let t = target();
    let good = archive(&t);
    let name = format!("clawlocal-{t}.tar.gz");
    let dir = ctx.dir.path().join("srv/releases/download/v9.9.9");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&name), &good).unwrap();
    std::fs::write(dir.join(format!("{name}.sha256")), format!("{}  {name}\n", sha256_hex(&good))).unwrap();
    let port = file_server(ctx.dir.path().join("srv"));

    let (run, installed) = install(&ctx, port, &["--version", "9.9.9"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("verified http://127.0.0.1:{port}/releases/download/v9.9.9/{name}")),
        "{}",
        run.stderr
    );
    let version = Command::new(&installed).output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).contains("9.9.9"));

    // The same .sha256 with other bytes behind it: refused, and the binary installed before stays as it was.
    std::fs::remove_file(&installed).unwrap();
    let mut tampered = good.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0xff;
    std::fs::write(dir.join(&name), &tampered).unwrap();
    let (run, installed) = install(&ctx, port, &["--version", "9.9.9"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("checksum mismatch") && run.stderr.contains("nothing was installed"), "{}", run.stderr);
    assert!(!installed.exists(), "a tampered archive installs nothing");

    // A release that does not exist names its URL.
    let (run, _) = install(&ctx, port, &["--version", "0.0.1"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("cannot download") && run.stderr.contains("/download/v0.0.1/"), "{}", run.stderr);
}
