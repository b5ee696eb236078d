//! The crate map's rules, checked on the real dependency graph (`cargo tree`).
//!
//! spool-protocol must stay pure (no async, HTTP, RPC or database crates); spool-wallet and
//! spool-tx must not reach a backend client; spool-backend depends on no spool crate but
//! spool-protocol; spool-engine carries no command-line crate (clap, indicatif, rpassword,
//! toml, tracing-subscriber); only the engine and what is above it use the backends.

use std::collections::BTreeSet;
use std::process::Command;

use crate::{workspace_root, Result};

/// Crates that mean I/O, async, networking or storage.
const IO_CRATES: &[&str] = &[
    "tokio",
    "async-trait",
    "futures",
    "futures-util",
    "mio",
    "hyper",
    "reqwest",
    "bitreq",
    "minreq",
    "jsonrpc",
    "bitcoincore-rpc",
    "esplora-client",
    "redb",
    "sled",
    "rusqlite",
    "rustls",
];

/// Crates that belong to a command-line program, not to a library others embed.
const CLI_CRATES: &[&str] = &[
    "clap",
    "indicatif",
    "rpassword",
    "toml",
    "tracing-subscriber",
];

/// (crate, crates it must never depend on, normal edges only)
fn rules() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut backend_and_up = vec![
        "spool-backend",
        "spool-engine",
        "spool-index",
        "spool-explorer",
        "spool-cli",
        "spool-testenv",
    ];
    let mut protocol_forbidden: Vec<&str> = IO_CRATES.to_vec();
    protocol_forbidden.extend([
        "spool-wallet",
        "spool-tx",
        "spool-backend",
        "spool-engine",
        "spool-index",
        "spool-explorer",
        "spool-cli",
    ]);
    let mut engine_forbidden: Vec<&str> = CLI_CRATES.to_vec();
    engine_forbidden.extend(["spool-cli", "spool-testenv"]);
    let mut tx_forbidden: Vec<&str> = IO_CRATES.to_vec();
    tx_forbidden.append(&mut backend_and_up);
    vec![
        ("spool-protocol", protocol_forbidden),
        ("spool-wallet", {
            let mut v = tx_forbidden.clone();
            v.push("spool-tx");
            v
        }),
        ("spool-tx", tx_forbidden),
        (
            "spool-backend",
            vec![
                "spool-wallet",
                "spool-tx",
                "spool-engine",
                "spool-index",
                "spool-explorer",
                "spool-cli",
                "spool-testenv",
            ],
        ),
        ("spool-engine", engine_forbidden),
        // The index and the explorer are libraries `spool serve` embeds: no CLI crates, and the
        // explorer reads chain data only through its own source trait (no backend, no index).
        ("spool-index", {
            let mut v = CLI_CRATES.to_vec();
            v.extend(["spool-engine", "spool-cli", "spool-testenv"]);
            v
        }),
        ("spool-explorer", {
            let mut v = CLI_CRATES.to_vec();
            v.extend([
                "spool-backend",
                "spool-engine",
                "spool-index",
                "spool-cli",
                "spool-testenv",
            ]);
            v
        }),
    ]
}

/// Fails if any crate's normal dependency tree contains a forbidden crate.
pub fn check() -> Result<()> {
    let mut violations = Vec::new();
    for (krate, forbidden) in rules() {
        let deps = normal_dependencies(krate)?;
        for bad in forbidden {
            if deps.contains(bad) {
                violations.push(format!("{krate} depends on {bad}"));
            }
        }
    }
    if violations.is_empty() {
        eprintln!("xtask: layering: crate map respected");
        Ok(())
    } else {
        Err(format!("layering violated: {}", violations.join("; ")).into())
    }
}

fn normal_dependencies(krate: &str) -> Result<BTreeSet<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "tree",
            "--package",
            krate,
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .map_err(|err| format!("layering: cannot run cargo tree: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "layering: cargo tree -p {krate} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}
