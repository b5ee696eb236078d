//! Locating the `bitcoind` binary.

use std::path::{Path, PathBuf};

use crate::NodeError;

/// The directory under which `cargo xtask bitcoind` caches its builds:
/// `$SPOOL_CACHE_DIR`, else `$XDG_CACHE_HOME/spool-rs`, else `$HOME/.cache/spool-rs`.
pub fn cache_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPOOL_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("spool-rs"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| PathBuf::from(home).join(".cache").join("spool-rs"))
}

/// Finds `bitcoind`: `BITCOIND_EXE`, then `PATH`, then the xtask cache.
///
/// Fails with a message saying how to get one; callers must not skip on failure.
pub fn bitcoind_exe() -> Result<PathBuf, NodeError> {
    if let Some(exe) = std::env::var_os("BITCOIND_EXE").filter(|e| !e.is_empty()) {
        let exe = PathBuf::from(exe);
        return if exe.is_file() {
            Ok(exe)
        } else {
            Err(NodeError::NoBitcoind(format!(
                "BITCOIND_EXE is set to {} but no such file exists",
                exe.display()
            )))
        };
    }
    if let Some(exe) = on_path("bitcoind") {
        return Ok(exe);
    }
    if let Some(exe) = cache_root().and_then(|root| cached(&root.join("bitcoind"))) {
        return Ok(exe);
    }
    Err(NodeError::NoBitcoind(
        "no bitcoind found: set BITCOIND_EXE, put bitcoind on PATH, or run `cargo xtask bitcoind`"
            .to_string(),
    ))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn cached(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("bin").join("bitcoind"))
        .filter(|exe| exe.is_file())
        .collect();
    found.sort();
    found.pop()
}
