//! What the test database servers share: a free loopback port, the service user they run
//! as under root, a test certificate authority, and waiting for a server to say it is ready.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

/// A port on 127.0.0.1 that nothing listens on (the system gave it, and it was let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// When this process is root, the uid and gid of `name` (servers refuse to run as root);
/// otherwise none: the server runs as whoever runs the tests.
pub fn service_user(name: &str) -> Option<(u32, u32)> {
    if !rustix::process::getuid().is_root() {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("/etc/passwd");
    let found = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&name) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    Some(found.unwrap_or_else(|| panic!("no `{name}` user: is its server package installed?")))
}

/// A certificate authority made for one test, and a server certificate it signed for
/// `localhost` and 127.0.0.1.
pub struct Tls {
    /// The authority's certificate (PEM): what a client trusts.
    pub ca: String,
    cert: String,
    key: String,
}

impl Tls {
    /// Makes the authority and the server's certificate.
    pub fn new() -> Self {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "firedrill test CA");
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("params");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca).expect("certificate");
        Tls {
            ca: ca.pem(),
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }

    /// Writes the server's certificate and key (mode 0600) into `dir`.
    pub fn write_server(&self, dir: &Path) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        std::fs::write(&cert, &self.cert).expect("write certificate");
        std::fs::write(&key, &self.key).expect("write key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        (cert, key)
    }

    /// Writes the authority's certificate into `dir`; returns its path.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.ca).expect("write CA");
        path
    }
}

/// `command`, to run as `owner` (uid, gid) when one is given.
pub fn as_owner(mut command: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command
}

/// Hands `dir` and everything in it to `uid:gid`.
pub fn chown_all(dir: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown");
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            chown_all(&path, uid, gid);
        } else {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown");
        }
    }
}

/// A test's server process, stopped with its own normal shutdown signal and waited on when
/// dropped (also when it never became ready and the test panicked).
pub struct Daemon {
    child: Child,
    stop: rustix::process::Signal,
}

impl Daemon {
    /// Takes charge of `child` and waits until its standard error says `ready`; `stop` is the
    /// signal that shuts it down.
    pub fn start(child: Child, ready: &str, stop: rustix::process::Signal) -> Self {
        let mut daemon = Self { child, stop };
        wait_ready(&mut daemon.child, ready);
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id().cast_signed()) {
            let _ = rustix::process::kill_process(pid, self.stop);
        }
        let _ = self.child.wait();
    }
}

/// Waits (at most a minute) until the server's standard error says `ready`; then keeps
/// draining it so the server never blocks on a full pipe.
fn wait_ready(child: &mut Child, ready: &str) {
    let stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    let ready = ready.to_owned();
    std::thread::spawn(move || {
        let mut log = String::new();
        let mut told = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if !told {
                log.push_str(&line);
                log.push('\n');
                if line.contains(&ready) {
                    told = true;
                    let _ = tx.send(Ok(()));
                }
            }
        }
        if !told {
            let _ = tx.send(Err(log));
        }
    });
    match rx.recv_timeout(Duration::from_mins(1)) {
        Ok(Ok(())) => {}
        Ok(Err(log)) => panic!("the server stopped before it was ready:\n{log}"),
        Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the server was not ready within a minute")
        }
    }
}
