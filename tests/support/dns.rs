//! A real name server for one test: dnsmasq (Debian's `dnsmasq-base`) on a free loopback
//! port, answering only the records the test gives it (no upstream, no hosts file), logging to
//! standard error; started and waited on by its "started" line, stopped when dropped.

use std::process::{Command, Stdio};

use super::db::{Daemon, free_port};

/// A running name server.
pub struct Dnsmasq {
    /// `127.0.0.1:PORT`.
    pub address: String,
    _server: Daemon,
}

impl Dnsmasq {
    /// Starts a server that answers `records`: dnsmasq options such as
    /// `--host-record=www.shop.internal,10.0.1.10` or `--cname=api.shop.internal,www.shop.internal`.
    pub fn start(records: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--log-facility=-",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--pid-file=",
                "--user=",
            ])
            .arg(format!("--port={port}"))
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dnsmasq starts (is Debian's dnsmasq-base package installed?)");
        Dnsmasq {
            address: format!("127.0.0.1:{port}"),
            _server: Daemon::start(child, "started, version", rustix::process::Signal::KILL),
        }
    }
}
