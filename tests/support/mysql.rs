//! A real MySQL-protocol server for one test: MariaDB from Debian's `mariadb-server` package,
//! its data directory made by `mariadb-install-db` in a temporary directory, `mariadbd` on a
//! free loopback port (TLS on, with a certificate the test made, when asked), and an init file
//! that creates the test's login and database and runs the test's seed SQL. Started and waited
//! on by the line the server prints when it is ready; stopped when dropped.
//!
//! As with PostgreSQL, under root the server runs as the `mysql` user the package creates.

use std::process::{Command, Stdio};

use super::db::{Daemon, Tls, as_owner, chown_all, free_port, service_user};

/// The login every test server has.
pub const USER: &str = "drill";
/// Its password.
pub const PASSWORD: &str = "s3cret-for-tests";

/// A running server.
pub struct Mysql {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _server: Daemon,
    _dir: tempfile::TempDir,
}

impl Mysql {
    /// Starts a server with database `shop`, after running `seed` in it.
    pub fn start(tls: Option<&Tls>, seed: &str) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let owner = service_user("mysql");
        let data = dir.path().join("data");
        let init = dir.path().join("init.sql");
        std::fs::write(
            &init,
            format!(
                "CREATE DATABASE shop;\n\
                 CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';\n\
                 GRANT ALL ON shop.* TO '{USER}'@'%';\n\
                 USE shop;\n{seed}\n"
            ),
        )
        .expect("init file");
        let port = free_port();
        let mut settings = vec![
            format!("--port={port}"),
            "--bind-address=127.0.0.1".to_string(),
            format!("--socket={}", dir.path().join("sock").display()),
            format!("--pid-file={}", dir.path().join("pid").display()),
            format!("--init-file={}", init.display()),
            "--innodb-flush-log-at-trx-commit=0".to_string(),
        ];
        if let Some(tls) = tls {
            let (cert, key) = tls.write_server(dir.path());
            settings.push(format!("--ssl-cert={}", cert.display()));
            settings.push(format!("--ssl-key={}", key.display()));
        }
        if let Some((uid, gid)) = owner {
            chown_all(dir.path(), uid, gid);
        }
        let status = as_owner(Command::new("mariadb-install-db"), owner)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=socket", "--skip-test-db"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("mariadb-install-db runs (is Debian's mariadb-server package installed?)");
        assert!(status.success(), "mariadb-install-db failed");
        let child = as_owner(Command::new("/usr/sbin/mariadbd"), owner)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(&settings)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mariadbd starts");
        // SIGTERM: MariaDB's normal shutdown.
        let server = Daemon::start(
            child,
            "ready for connections",
            rustix::process::Signal::TERM,
        );
        Mysql {
            port,
            _server: server,
            _dir: dir,
        }
    }
}
