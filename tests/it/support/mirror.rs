//! A local server standing in for the llama.cpp release host (GitHub is out of reach here), and release archives
//! shaped like the real ones: one top folder, the binary (a FAKE llama-server script), a library symlink chain.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// Serves fixed bodies by path; counts requests.
pub struct Mirror {
    pub url: String,
    pub hits: Arc<Mutex<Vec<String>>>,
}

impl Mirror {
    pub fn start(files: HashMap<String, Vec<u8>>) -> Mirror {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let log = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap_or(0);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let _ = crate::support::http::read_headers(&mut reader);
                log.lock().unwrap().push(path.clone());
                let mut out = stream;
                match files.get(&path) {
                    Some(body) => {
                        let _ = write!(
                            out,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = out.write_all(body);
                    }
                    None => {
                        let _ = write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            }
        });
        Mirror { url, hits }
    }
}

/// `llama-b<N>/` with a llama-server script reporting `build`, and `libllama.so -> .so.0 -> .so.0.5.0`.
pub fn release_archive(release: &str, build: u64) -> Vec<u8> {
    release_archive_with(release, build, "--model --metrics --no-webui --fit --load-mode")
}

/// [`release_archive`] whose FAKE llama-server's `--help` lists `flags` (a CPU build: it lists no device).
pub fn release_archive_with(release: &str, build: u64, flags: &str) -> Vec<u8> {
    release_archive_listing(release, build, flags, "  (none)")
}

/// [`release_archive_with`] whose llama-server's `--list-devices` lists `devices` (`  Vulkan0: …`).
pub fn release_archive_listing(release: &str, build: u64, flags: &str, devices: &str) -> Vec<u8> {
    let top = format!("llama-{release}");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: String, body: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(mode);
        b.append_data(&mut h, path, body).unwrap();
    };
    let script = format!(
        "#!/bin/sh\ncase \"$1\" in --version) echo 'version: 0.5.0 (build {build}, commit 2b56210)' >&2;; \
         --help) echo '{flags}';; --list-devices) printf 'Available devices:\\n{devices}\\n';; esac\n"
    );
    add(format!("{top}/llama-server"), script.as_bytes(), 0o755);
    add(format!("{top}/libllama.so.0.5.0"), b"ELF-ish", 0o644);
    add(format!("{top}/LICENSE"), b"MIT", 0o644);
    for (link, target) in [("libllama.so.0", "libllama.so.0.5.0"), ("libllama.so", "libllama.so.0")] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, format!("{top}/{link}"), target).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&b.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}
