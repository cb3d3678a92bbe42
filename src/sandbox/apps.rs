//! Apps behind EC2: a seeded image may say what it serves (a command), and the sandbox runs
//! that command for each instance launched from the image, on the instance's own loopback
//! address, which the realism layer writes into the instance's described private IP.
//!
//! Rules: each sandbox takes a block `127.A.B.0/24` at random (two sandboxes on one machine do
//! not collide; 127.0.0.0/16 is left alone) and gives its instances `.1` to `.254` in turn. The
//! app gets `FIREDRILL_PRIVATE_IP`, `FIREDRILL_PORT`, `FIREDRILL_INSTANCE_ID` and
//! `FIREDRILL_USER_DATA` (a file with the instance's decoded user data) and runs in the seed
//! file's directory, its output in the sandbox's logs. Its process stops when the instance
//! stops or terminates (and starts again when it starts), and with the sandbox.
//!
//! It knows nothing of HTTP or moto: the realism layer tells it what happened.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Mutex, PoisonError};

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
    /// The address moto gave it, which describes show as `ip`.
    moto_ip: String,
    app: ImageApp,
    user_data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn start(&mut self) -> Result<(), String> {
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
            .current_dir(&self.app.dir)
            .env("FIREDRILL_PRIVATE_IP", self.ip.to_string())
            .env("FIREDRILL_PORT", self.app.port.to_string())
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
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
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
            state.next = state.next % 254 + 1;
            let ip = Ipv4Addr::new(127, self.block.0, self.block.1, state.next);
            let dir = self.dir.join("apps");
            let _ = std::fs::create_dir_all(&dir);
            let user_data = dir.join(format!("{id}.user-data"));
            let _ = std::fs::write(&user_data, &text);
            let mut instance = Instance {
                ip,
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

    /// Instances stopped (their apps stop) or started (they start again).
    pub fn set_running(&self, ids: &[String], running: bool) -> Result<(), String> {
        let mut state = self.state();
        for id in ids {
            let instance = state
                .instances
                .get_mut(id)
                .ok_or_else(|| format!("`{id}` is no instance that serves an app"))?;
            if running {
                instance.start()?;
            } else {
                instance.stop();
            }
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
