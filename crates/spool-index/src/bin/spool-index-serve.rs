//! A minimal `spool serve` without the CLI: follows a node into an index and serves the API.
//! Used by this crate's crash-safety tests (`kill -9` at any moment), which cargo can give
//! only this package's binaries; the real `spool serve` (spool-cli, with the explorer) has
//! its own `kill -9` test in `crates/spool-cli/tests/index_and_serve.rs`.
//!
//! ```text
//! spool-index-serve --index FILE --rpc URL --cookie FILE [--network regtest]
//!                   [--http 127.0.0.1:8338] [--poll-ms 1000] [--watch ADDR]...
//!                   [--federation ADDR]... [--filters ADDR]...
//! ```
//! `--filters ADDR` makes a federation-scoped index rooted at ADDR (repeatable).
//! Prints `listening on ADDR` once serving; `GET /api/v1/status` tells the sync progress.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network};
use spool_backend::core::CoreAuth;
use spool_index::follower::FilterScope;
use spool_index::{FollowerConfig, NodeConfig, ServeConfig};

fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}");
    eprintln!("usage: spool-index-serve --index FILE --rpc URL --cookie FILE [--network N] [--http ADDR] [--poll-ms MS] [--watch ADDR]... [--federation ADDR]...");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut index = None;
    let mut rpc = None;
    let mut cookie = None;
    let mut network = Network::Regtest;
    let mut http = spool_index::DEFAULT_HTTP.to_string();
    let mut poll = Duration::from_secs(1);
    let mut watch = Vec::new();
    let mut federation = Vec::new();
    let mut filters = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            return usage(&format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--index" => index = Some(PathBuf::from(value)),
            "--rpc" => rpc = Some(value),
            "--cookie" => cookie = Some(PathBuf::from(value)),
            "--network" => match Network::from_str(&value) {
                Ok(n) => network = n,
                Err(_) => return usage(&format!("unknown network {value:?}")),
            },
            "--http" => http = value,
            "--poll-ms" => match value.parse() {
                Ok(ms) => poll = Duration::from_millis(ms),
                Err(_) => return usage(&format!("--poll-ms {value:?} is not a number")),
            },
            "--watch" | "--federation" | "--filters" => {
                let address = match Address::<NetworkUnchecked>::from_str(&value)
                    .ok()
                    .and_then(|a| a.require_network(network).ok())
                {
                    Some(a) => a,
                    None => return usage(&format!("{flag} {value:?} is not a {network} address")),
                };
                if flag == "--watch" {
                    watch.push(address.script_pubkey());
                } else if flag == "--filters" {
                    filters.push(address.script_pubkey());
                } else {
                    federation.push(address.to_string());
                }
            }
            other => return usage(&format!("unknown option {other}")),
        }
    }
    let (Some(index), Some(rpc), Some(cookie)) = (index, rpc, cookie) else {
        return usage("--index, --rpc and --cookie are required");
    };
    let Ok(http) = http.parse() else {
        return usage(&format!("--http {http:?} is not an address:port"));
    };
    let config = ServeConfig {
        index_path: index,
        follower: FollowerConfig {
            node: NodeConfig {
                url: rpc,
                auth: CoreAuth::Cookie(cookie),
                timeout: Duration::from_secs(60),
            },
            network,
            index_from: 0,
            poll,
            watch,
            filters: (!filters.is_empty()).then_some(FilterScope {
                federation: filters,
            }),
            full_scan: Default::default(),
        },
        http,
        federation,
        api_token: None,
        reservation_lease: spool_index::reservations::DEFAULT_LEASE,
    };
    let running = match spool_index::start(config).await {
        Ok(running) => running,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {}", running.addr());
    loop {
        if running.follower_ended() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn one_line(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
