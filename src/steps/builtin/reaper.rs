//! The processes of a run must not outlive it. Every process a `run` step or a `probe.command`
//! starts carries the run's id in its environment ([`MARKER`]), and so does everything it
//! starts in turn. That mark, read from `/proc/PID/environ` of a process of the same user
//! while a pidfd holds the process (the signal goes through that pidfd), is the proof that a
//! process is the run's: a pid alone may have been reused.
//!
//! Two things use it: the reaper, a small process `firedrill run` leaves beside itself that
//! waits for firedrill's end (its standard input closes, however firedrill ends, `SIGKILL`
//! included) and then kills what is left of the run's processes; and `firedrill teardown` of a
//! crashed run, which does the same before deleting its resources.
//!
//! Rules: only processes of the same user that carry the mark with this run's id are touched,
//! never the caller itself. A process started with an emptied environment (`env -i`) escapes
//! the mark; the step's process group is still killed when the step ends.

use std::path::Path;

/// The environment variable that marks a run's processes, holding the run id.
pub const MARKER: &str = "FIREDRILL_RUN_ID";

/// How many times [`kill_marked`] looks again for processes started while it killed.
const ROUNDS: usize = 5;

/// The pids of the live processes of this user marked with `run_id`, without the caller.
pub fn marked(run_id: &str) -> Vec<u32> {
    marked_in(Path::new("/proc"), run_id)
}

fn marked_in(proc: &Path, run_id: &str) -> Vec<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let me = std::process::id();
    let uid = rustix::process::getuid().as_raw();
    let needle = format!("{MARKER}={run_id}");
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let mut found: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            (pid != me).then_some((pid, e.path()))
        })
        .filter(|(_, dir)| dir.metadata().is_ok_and(|m| m.uid() == uid))
        .filter(|(_, dir)| {
            std::fs::read(dir.join("environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()))
        })
        .map(|(pid, _)| pid)
        .collect();
    found.sort_unstable();
    found
}

/// Kills (`SIGKILL`) every live process marked with `run_id`, looking again for ones started
/// meanwhile; returns how many it killed. Each process is held by a pidfd before its mark is
/// read again and the signal sent through that pidfd, so that a pid reused between the look and
/// the kill is never signalled.
pub fn kill_marked(run_id: &str) -> usize {
    let needle = format!("{MARKER}={run_id}");
    let mut killed = std::collections::BTreeSet::new();
    for _ in 0..ROUNDS {
        // A process killed a moment ago may still be listed: only new ones count again.
        let pids = marked(run_id);
        if pids.iter().all(|p| killed.contains(p)) {
            break;
        }
        for pid in pids {
            let Some(p) = i32::try_from(pid)
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            else {
                continue;
            };
            let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty())
            else {
                continue;
            };
            // The pidfd names one process for good: is it still the one with the mark?
            let still_ours = std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == needle.as_bytes()));
            if still_ours
                && rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::KILL).is_ok()
            {
                killed.insert(pid);
            }
        }
    }
    killed.len()
}

/// The reaper's life: wait until standard input closes (firedrill ended), then kill what is left
/// of the run's processes. What `firedrill __reap RUN` runs.
pub fn reap_when_stdin_closes(run_id: &str) -> usize {
    use std::io::Read as _;
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin().lock();
    // Nothing is ever written: any read that returns ends the wait (EOF or an error).
    while let Ok(n) = stdin.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
    kill_marked(run_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_processes_with_the_runs_mark_are_found_and_killed() {
        let run = format!("test-{}", std::process::id());
        let spawn = |id: &str| {
            std::process::Command::new("sleep")
                .arg("60")
                .env(MARKER, id)
                .spawn()
                .expect("sleep")
        };
        let mut ours = spawn(&run);
        let mut other = spawn(&format!("{run}-other"));
        let mut unmarked = std::process::Command::new("sleep")
            .arg("60")
            .env_remove(MARKER)
            .spawn()
            .expect("sleep");
        assert_eq!(marked(&run), vec![ours.id()]);
        assert_eq!(kill_marked(&run), 1);
        let status = ours.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        assert!(
            other.try_wait().expect("try").is_none(),
            "another run's process lives"
        );
        assert!(
            unmarked.try_wait().expect("try").is_none(),
            "an unmarked process lives"
        );
        for mut c in [other, unmarked] {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert!(marked(&run).is_empty());
    }
}
