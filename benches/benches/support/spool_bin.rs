//! The release `spool` binary the process benchmarks run.

use std::path::{Path, PathBuf};

/// `SPOOL_BIN`, else `target/release/spool` beside the bench executable
/// (`target/release/deps/<bench>-<hash>`); fails loudly when it is not built.
pub fn spool_bin() -> PathBuf {
    if let Ok(path) = std::env::var("SPOOL_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("bench executable path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("spool"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "this benchmark needs the release binary {}: run `cargo build --release -p spool-cli` \
         first (or `cargo xtask bench`, or set SPOOL_BIN)",
        bin.display()
    );
    bin
}
