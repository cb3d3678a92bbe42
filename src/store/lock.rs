//! The playbook lock: two runs of the same playbook (by its `name:`) never overlap. A run
//! holds an OS file lock on `locks/NAME.lock` in the state directory for as long as it runs
//! (the kernel releases it when the process ends, even on SIGKILL), with its run id and pid
//! written inside so that a refused second run can name the holder.
//!
//! The run lock: a run holds `runs/RUN/lock` for as long as it runs, so that `firedrill
//! teardown` refuses a run that is still running and takes over one whose process died.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The run that holds a playbook's lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Its run id.
    pub run_id: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub since: String,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run of the playbook holds it.
    #[error(
        "another run of `{playbook}` is in progress{}; not starting a second one (lock: {})",
        holder.as_ref().map_or_else(String::new, |h| format!(": run {} (pid {}, since {})", h.run_id, h.pid, h.since)),
        path.display()
    )]
    Held {
        /// The playbook.
        playbook: String,
        /// Who holds it, when the file says.
        holder: Option<Holder>,
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file cannot be made or written.
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A held playbook lock; dropping it releases the lock.
#[derive(Debug)]
pub struct PlaybookLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl PlaybookLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file of `playbook` in `state_dir`: its name with anything but letters, digits,
/// `.`, `_` and `-` replaced by `_`.
pub fn path(state_dir: &Path, playbook: &str) -> PathBuf {
    let name: String = playbook
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    state_dir
        .join("locks")
        .join(format!("{}.lock", if name.is_empty() { "_" } else { name }))
}

/// Takes the lock of `playbook` for run `run_id`, or says who holds it. Never waits.
pub fn acquire(state_dir: &Path, playbook: &str, run_id: &str) -> Result<PlaybookLock, LockError> {
    let path = path(state_dir, playbook);
    let io = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Held {
                playbook: playbook.to_owned(),
                holder: serde_json::from_str(&text).ok(),
                path,
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    let holder = Holder {
        run_id: run_id.to_owned(),
        pid: std::process::id(),
        since: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let text = serde_json::to_string(&holder).expect("a holder serializes");
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.flush())
        .map_err(io)?;
    Ok(PlaybookLock { _file: file, path })
}

/// The directory of a run's files (its report, its lock).
pub fn run_dir(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join("runs").join(run_id)
}

/// Takes run `run_id`'s lock, held for as long as the file is: `firedrill teardown` refuses a
/// run whose lock is held (it is still running), and takes over one whose process died (the
/// kernel releases the lock with it, even after SIGKILL). `None`: another process holds it.
pub fn lock_run(state_dir: &Path, run_id: &str) -> std::io::Result<Option<std::fs::File>> {
    let dir = run_dir(state_dir, run_id);
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::File::create(dir.join("lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_of_the_same_playbook_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("dir");
        let first = acquire(dir.path(), "shop", "run-1").expect("first");
        assert_eq!(first.path(), dir.path().join("locks/shop.lock"));
        let Err(LockError::Held { holder, .. }) = acquire(dir.path(), "shop", "run-2") else {
            panic!("the second must be refused");
        };
        let holder = holder.expect("the holder is named");
        assert_eq!(
            (holder.run_id.as_str(), holder.pid),
            ("run-1", std::process::id())
        );
        // Another playbook is independent.
        let other = acquire(dir.path(), "orders", "run-3").expect("another playbook");
        drop(first);
        let again = acquire(dir.path(), "shop", "run-4").expect("released on drop");
        let text = std::fs::read_to_string(again.path()).expect("read");
        assert!(text.contains("\"run-4\""), "{text}");
        drop((again, other));
    }

    #[test]
    fn names_become_safe_file_names() {
        let dir = Path::new("/state");
        assert_eq!(
            path(dir, "checkout-service"),
            dir.join("locks/checkout-service.lock")
        );
        assert_eq!(
            path(dir, "../etc/passwd"),
            dir.join("locks/_etc_passwd.lock")
        );
        assert_eq!(path(dir, "a b/c"), dir.join("locks/a_b_c.lock"));
    }
}
