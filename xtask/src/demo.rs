//! `cargo xtask demo`: the seed's walkthrough on a fresh regtest node (written by the CLI work).

use std::path::Path;

/// Runs the walkthrough with the `spool` binary at `spool_exe`.
pub fn run(spool_exe: &Path) -> Result<(), Box<dyn std::error::Error>> {
    Err(format!(
        "the demo walkthrough is not implemented yet (spool binary at {})",
        spool_exe.display()
    )
    .into())
}
