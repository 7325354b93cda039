//! Who holds a TCP port: the listening sockets in `/proc/net/tcp{,6}` matched to a process through the
//! `socket:[inode]` links in `/proc/<pid>/fd` (where readable; root sees every process). Used before `init`
//! changes anything, so a port another program holds is refused with its name instead of a unit that
//! crash-loops on `bind` while the other program answers `/health`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::host::Host;

/// A program listening on the port: pid and command line when `/proc` lets us see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    /// `/proc/<pid>/cmdline`, arguments joined by spaces.
    pub command: Option<String>,
    /// `/proc/<pid>/exe`, to tell clawlocal's own engine from another program.
    pub exe: Option<PathBuf>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pid, &self.command) {
            (Some(pid), Some(cmd)) => write!(f, "pid {pid} ({})", shorten(cmd)),
            (Some(pid), None) => write!(f, "pid {pid}"),
            _ => write!(
                f,
                "a process clawlocal cannot see (another user's, or outside this container: `ss -ltnp` names it)"
            ),
        }
    }
}

fn shorten(cmd: &str) -> String {
    const MAX: usize = 120;
    if cmd.chars().count() <= MAX {
        cmd.to_string()
    } else {
        format!("{}…", cmd.chars().take(MAX).collect::<String>())
    }
}

/// The inodes of sockets listening on `port` (any local address), from `/proc/net/tcp` and `tcp6`; `None` when
/// neither table is readable (not Linux).
fn listening_inodes(host: &dyn Host, port: u16) -> Option<Vec<u64>> {
    let mut found = Vec::new();
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = host.read_to_string(Path::new(table)) else { continue };
        readable = true;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (fields.get(1), fields.get(3), fields.get(9)) else {
                continue;
            };
            // 0A is TCP_LISTEN.
            let local_port = local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                found.extend(inode.parse::<u64>().ok().filter(|&i| i != 0));
            }
        }
    }
    readable.then_some(found)
}

/// Whether something listens on `port`, and who. `/proc` first; where it is absent, a bind on 127.0.0.1
/// tells taken from free (without a name).
pub fn holder(host: &dyn Host, port: u16) -> Option<Holder> {
    // A free port is the common case (every re-run under `--service none`); a bind says so without reading every
    // socket of the host from /proc (measured: most of init's own CPU time on a busy box).
    if host.can_bind_loopback(port) {
        return None;
    }
    let Some(inodes) = listening_inodes(host, port) else {
        let taken =
            std::net::TcpListener::bind(("127.0.0.1", port)).is_err_and(|e| e.kind() == std::io::ErrorKind::AddrInUse);
        return taken.then_some(Holder { pid: None, command: None, exe: None });
    };
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let proc = Path::new("/proc");
    for pid in host.read_dir_names(proc).unwrap_or_default().iter().filter_map(|n| n.parse::<u32>().ok()) {
        let fd_dir = proc.join(pid.to_string()).join("fd");
        let Ok(fds) = host.read_dir_names(&fd_dir) else { continue };
        let holds = fds.iter().any(|fd| {
            host.read_link(&fd_dir.join(fd)).is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
        });
        if holds {
            let base = proc.join(pid.to_string());
            let command = host
                .read_to_string(&base.join("cmdline"))
                .ok()
                .map(|c| c.split('\0').filter(|a| !a.is_empty()).collect::<Vec<_>>().join(" "))
                .filter(|c| !c.is_empty());
            let exe = host.read_link(&base.join("exe")).ok();
            return Some(Holder { pid: Some(pid), command, exe });
        }
    }
    Some(Holder { pid: None, command: None, exe: None })
}

impl Holder {
    /// Whether the holder runs `engine` (its `/proc/<pid>/exe`, links resolved; a binary replaced since it
    /// started reads `… (deleted)`). `None` when the process cannot be seen.
    pub fn runs(&self, engine: &Path) -> Option<bool> {
        let exe = self.exe.as_ref()?;
        let exe = exe.to_string_lossy();
        let exe = Path::new(exe.strip_suffix(" (deleted)").unwrap_or(&exe));
        let engine = std::fs::canonicalize(engine).unwrap_or_else(|_| engine.to_path_buf());
        Some(exe == engine)
    }
}

/// The next port after `port` that nothing listens on, for the hint.
pub fn next_free(host: &dyn Host, port: u16) -> Option<u16> {
    (port.saturating_add(1)..=port.saturating_add(100)).find(|&p| p != 0 && holder(host, p).is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:223D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n";

    fn host() -> FakeHost {
        FakeHost::linux()
            .with_file("/proc/net/tcp", TCP)
            .with_file("/proc/net/tcp6", "  sl  local_address\n")
            .with_file("/proc/31/cmdline", "/usr/bin/python3\0-m\0http.server\08765\0")
            .with_link("/proc/31/fd/0", "/dev/null")
            .with_link("/proc/31/fd/3", "socket:[4242]")
            .with_link("/proc/31/exe", "/usr/bin/python3.11")
            .with_link("/proc/40/fd/3", "socket:[777]")
    }

    #[test]
    fn a_listening_socket_is_traced_to_its_process() {
        // 0x223D = 8765; the connected socket on 0x1F90 (8080) is not a listener.
        let h = holder(&host(), 8765).expect("8765 is held");
        assert_eq!(h.pid, Some(31));
        assert_eq!(h.command.as_deref(), Some("/usr/bin/python3 -m http.server 8765"));
        assert_eq!(h.exe.as_deref(), Some(Path::new("/usr/bin/python3.11")));
        assert_eq!(h.to_string(), "pid 31 (/usr/bin/python3 -m http.server 8765)");
        assert_eq!(holder(&host(), 8080), None);
        assert_eq!(holder(&host(), 9000), None);
        assert_eq!(h.runs(Path::new("/usr/bin/python3.11")), Some(true));
        assert_eq!(h.runs(Path::new("/opt/clawlocal/engine/llama-server")), Some(false));
        assert_eq!(Holder { pid: None, command: None, exe: None }.runs(Path::new("/x")), None);
        assert_eq!(next_free(&host(), 8764), Some(8766));
    }

    #[test]
    fn a_listener_in_another_users_process_is_still_taken() {
        let h = FakeHost::linux().with_file("/proc/net/tcp", TCP);
        let held = holder(&h, 8765).expect("taken even when no process can be seen");
        assert_eq!(held.pid, None);
        assert!(held.to_string().contains("cannot see"), "{held}");
    }

    #[test]
    fn without_proc_a_real_bind_decides() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(holder(&FakeHost::linux(), port).is_some());
        drop(listener);
        assert_eq!(holder(&FakeHost::linux(), port), None);
    }

    #[test]
    fn the_real_proc_names_this_test_process() {
        if !Path::new("/proc/net/tcp").exists() {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let h = holder(&crate::host::RealHost, port).expect("held");
        assert_eq!(h.pid, Some(std::process::id()));
    }
}
