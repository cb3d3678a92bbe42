//! A real PostgreSQL server for one test (Debian's `postgresql` package): `initdb` into a
//! temporary directory, `postgres` on a free loopback port with password (SCRAM) logins and,
//! when asked, TLS with a certificate the test made. Started and waited on by the line the
//! server prints when it is ready; stopped (fast shutdown) when dropped.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the
//! `postgres` user the package creates, and its directory is handed to that user.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::db::{Daemon, Tls, as_owner, chown_all, free_port, service_user};

/// The login every test server has.
pub const USER: &str = "drill";
/// Its password.
pub const PASSWORD: &str = "s3cret-for-tests";

/// A running server.
pub struct Postgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    _server: Daemon,
    _dir: tempfile::TempDir,
}

/// Where the server's programs are: the newest `/usr/lib/postgresql/N/bin`, else the PATH.
fn bin(program: &str) -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    versions.sort();
    versions.pop().map_or_else(
        || PathBuf::from(program),
        |(_, dir)| dir.join("bin").join(program),
    )
}

impl Postgres {
    /// Starts a server with a database `name`, TLS on when `tls` is given.
    pub fn start(tls: Option<&Tls>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let owner = service_user("postgres");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        let data = dir.path().join("data");
        let mut settings = vec![
            "-c".to_string(),
            "listen_addresses=127.0.0.1".to_string(),
            "-c".to_string(),
            format!("unix_socket_directories={}", dir.path().display()),
            "-c".to_string(),
            "fsync=off".to_string(),
        ];
        if let Some(tls) = tls {
            let (cert, key) = tls.write_server(dir.path());
            settings.extend([
                "-c".to_string(),
                "ssl=on".to_string(),
                "-c".to_string(),
                format!("ssl_cert_file={}", cert.display()),
                "-c".to_string(),
                format!("ssl_key_file={}", key.display()),
            ]);
        }
        if let Some((uid, gid)) = owner {
            chown_all(dir.path(), uid, gid);
        }
        let status = as_owner(Command::new(bin("initdb")), owner)
            .args(["--no-sync", "--no-instructions", "-E", "UTF8", "-A"])
            .arg("scram-sha-256")
            .arg("-U")
            .arg(USER)
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("initdb runs (is Debian's postgresql package installed?)");
        assert!(status.success(), "initdb failed");
        let port = free_port();
        let child = as_owner(Command::new(bin("postgres")), owner)
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .args(&settings)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("postgres starts");
        // SIGINT: PostgreSQL's fast shutdown, which also ends its backends.
        let server = Daemon::start(
            child,
            "database system is ready to accept connections",
            rustix::process::Signal::INT,
        );
        Postgres {
            port,
            _server: server,
            _dir: dir,
        }
    }

    /// A connection URL for the test's own seeding.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}?sslmode=prefer",
            self.port
        )
    }

    /// Runs `sql` (several statements allowed) in `database`.
    pub async fn exec(&self, database: &str, sql: &str) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url(database))
            .await
            .expect("connect to the test server");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .expect("seed SQL runs");
        conn.close().await.expect("close");
    }
}
