//! Where firedrill keeps things: the state directory (journals, the local sandbox's record) and
//! the data directory (the local sandbox's Python environment).
//!
//! `--state-dir` or `FIREDRILL_STATE_DIR`, else `$XDG_STATE_HOME/firedrill`, else
//! `~/.local/state/firedrill`. `FIREDRILL_DATA_DIR`, else `$XDG_DATA_HOME/firedrill`, else
//! `~/.local/share/firedrill`.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("firedrill"),
        _ => home().join(fallback).join("firedrill"),
    }
}

/// The state directory, unless one is given on the command line.
pub fn state_dir() -> PathBuf {
    std::env::var_os("FIREDRILL_STATE_DIR")
        .map_or_else(|| xdg("XDG_STATE_HOME", ".local/state"), PathBuf::from)
}

/// The data directory.
pub fn data_dir() -> PathBuf {
    std::env::var_os("FIREDRILL_DATA_DIR")
        .map_or_else(|| xdg("XDG_DATA_HOME", ".local/share"), PathBuf::from)
}
