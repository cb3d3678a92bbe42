//! Apps behind EC2: a seeded image may say what it serves (a command), and the sandbox runs
//! that command for each instance launched from the image, on the instance's own loopback
//! address, which the realism layer writes into the instance's described private IP.
//!
//! Rules: each sandbox takes a block `127.A.B.0/24` at random (two sandboxes on one machine do
//! not collide; 127.0.0.0/16 is left alone) and gives its instances `.1` to `.254` in turn. The
//! app gets `FIREDRILL_PRIVATE_IP`, `FIREDRILL_PORT` (where to listen: a port of its own on that
//! address), `FIREDRILL_INSTANCE_ID` and `FIREDRILL_USER_DATA` (a file with the instance's
//! decoded user data) and runs in the seed file's directory, its output in the sandbox's logs.
//! The sandbox listens on the image's port in front of it and passes connections through, or,
//! while a fault says so, answers each one with HTTP 500 itself. The process and the front stop
//! when the instance stops or terminates (and start again when it starts), and with the sandbox.
//!
//! It knows nothing of HTTP or moto: the realism layer tells it what happened.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::os::unix::process::CommandExt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use serde::{Deserialize, Serialize};

/// What instances launched from an image serve, as the seed sends it to the sandbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageApp {
    /// The image's id.
    pub image: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Where it runs (the seed file's directory).
    pub dir: PathBuf,
    /// The port it listens on at its instance's address.
    pub port: u16,
}

struct Instance {
    ip: Ipv4Addr,
    /// Where the app itself listens, behind the front.
    inner: u16,
    /// Whether the front answers 500 instead of passing connections through.
    failing: Arc<AtomicBool>,
    front: Option<Front>,
    /// The address moto gave it, which describes show as `ip`.
    moto_ip: String,
    app: ImageApp,
    user_data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn start(&mut self) -> Result<(), String> {
        if self.front.is_none() {
            self.front = Some(
                front(self.ip, self.app.port, self.inner, self.failing.clone())
                    .map_err(|e| format!("cannot listen on {}:{}: {e}", self.ip, self.app.port))?,
            );
        }
        if self.child.is_some() {
            return Ok(());
        }
        let (program, args) = self
            .app
            .command
            .split_first()
            .ok_or("an app's command is empty")?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let child = std::process::Command::new(program)
            .args(args)
            // Its own group: what it starts goes with it.
            .process_group(0)
            .current_dir(&self.app.dir)
            .env("FIREDRILL_PRIVATE_IP", self.ip.to_string())
            .env("FIREDRILL_PORT", self.inner.to_string())
            .env("FIREDRILL_USER_DATA", &self.user_data)
            .env(
                "FIREDRILL_INSTANCE_ID",
                self.log.file_stem().unwrap_or_default(),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run `{program}`: {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    fn stop(&mut self) {
        self.front = None;
        if let Some(mut child) = self.child.take() {
            if let Some(group) = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The sandbox's listener on an app's address and port; stops listening when dropped.
struct Front {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a failing app's front answers.
const FAILING: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\n\
content-length: 42\r\nconnection: close\r\n\r\nthe local sandbox made this app answer 500\n";

fn front(ip: Ipv4Addr, port: u16, inner: u16, failing: Arc<AtomicBool>) -> std::io::Result<Front> {
    let listener = std::net::TcpListener::bind((ip, port))?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let failing = failing.load(Ordering::SeqCst);
            tokio::spawn(async move {
                if failing {
                    // Read the request first: closing on an unread one resets the connection.
                    let mut request = Vec::new();
                    let mut buf = [0_u8; 4096];
                    let read = async {
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match client.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                    };
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), read).await;
                    let _ = client.write_all(FAILING).await;
                    let _ = client.shutdown().await;
                    return;
                }
                // An app that does not listen (yet) is a connection closed at once.
                if let Ok(mut app) = tokio::net::TcpStream::connect((ip, inner)).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut app).await;
                }
            });
        }
    });
    Ok(Front { task })
}

#[derive(Default)]
struct State {
    images: HashMap<String, ImageApp>,
    instances: HashMap<String, Instance>,
    next: u8,
}

/// The apps of one sandbox.
pub struct Apps {
    dir: PathBuf,
    block: (u8, u8),
    state: Mutex<State>,
}

impl Apps {
    /// Apps with their files under `dir`, on a loopback block of their own.
    pub fn new(dir: PathBuf) -> Self {
        let seed = crate::util::hash(
            u64::from(std::process::id()),
            &[&format!("{:?}", std::time::SystemTime::now())],
        );
        let [a, b, ..] = seed.to_le_bytes();
        Self {
            dir,
            block: (a.max(1), b),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What instances of an image serve.
    pub fn image(&self, app: ImageApp) {
        self.state().images.insert(app.image.clone(), app);
    }

    /// Instances launched from `image`, each with the address moto gave it: those of an image
    /// that serves something get an address of their own and their app starts.
    pub fn launched(&self, image: &str, instances: &[(String, String)], user_data: Option<&str>) {
        let mut state = self.state();
        let Some(app) = state.images.get(image).cloned() else {
            return;
        };
        let text = user_data
            .and_then(|b| aws_smithy_types::base64::decode(b).ok())
            .unwrap_or_default();
        for (id, moto_ip) in instances {
            // The next address no live instance has (254 at most at once).
            let taken: Vec<Ipv4Addr> = state.instances.values().map(|i| i.ip).collect();
            let Some(host) = (1..=254u8)
                .map(|k| (state.next.wrapping_add(k) - 1) % 254 + 1)
                .find(|h| !taken.contains(&Ipv4Addr::new(127, self.block.0, self.block.1, *h)))
            else {
                return;
            };
            state.next = host;
            let ip = Ipv4Addr::new(127, self.block.0, self.block.1, host);
            let dir = self.dir.join("apps");
            let _ = std::fs::create_dir_all(&dir);
            let user_data = dir.join(format!("{id}.user-data"));
            let _ = std::fs::write(&user_data, &text);
            let inner = std::net::TcpListener::bind((ip, 0))
                .and_then(|l| l.local_addr())
                .map_or(0, |a| a.port());
            let mut instance = Instance {
                ip,
                inner,
                failing: Arc::new(AtomicBool::new(false)),
                front: None,
                moto_ip: moto_ip.clone(),
                app: app.clone(),
                user_data,
                log: dir.join(format!("{id}.log")),
                child: None,
            };
            if let Err(e) = instance.start() {
                let _ = std::fs::write(&instance.log, format!("firedrill: {e}\n"));
            }
            state.instances.insert(id.clone(), instance);
        }
    }

    /// Instances stopped (their apps stop) or started (they start again); those that serve
    /// nothing are passed over. `Err` names one that does not serve an app, when `strict`.
    pub fn set_running(&self, ids: &[String], running: bool, strict: bool) -> Result<(), String> {
        let mut state = self.state();
        for id in ids {
            let Some(instance) = state.instances.get_mut(id) else {
                if strict {
                    return Err(format!("`{id}` is no instance that serves an app"));
                }
                continue;
            };
            if running {
                instance.start()?;
            } else {
                instance.stop();
            }
        }
        Ok(())
    }

    /// Makes instances' apps answer every request with HTTP 500 (`failing`), or pass them
    /// through again.
    pub fn set_failing(&self, ids: &[String], failing: bool) -> Result<(), String> {
        let state = self.state();
        for id in ids {
            state
                .instances
                .get(id)
                .ok_or_else(|| format!("`{id}` is no instance that serves an app"))?
                .failing
                .store(failing, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Instances terminated: their apps stop for good.
    pub fn terminated(&self, ids: &[String]) {
        let mut state = self.state();
        for id in ids {
            if let Some(mut instance) = state.instances.remove(id) {
                instance.stop();
            }
        }
    }

    /// The address instance `id` has, and the one moto gave it, when it serves an app.
    pub fn address(&self, id: &str) -> Option<(String, Ipv4Addr)> {
        self.state()
            .instances
            .get(id)
            .map(|i| (i.moto_ip.clone(), i.ip))
    }

    /// Stops every app.
    pub fn stop(&self) {
        let mut state = self.state();
        for instance in state.instances.values_mut() {
            instance.stop();
        }
    }
}

impl Drop for Apps {
    fn drop(&mut self) {
        self.stop();
    }
}
