//! Load on `spool serve` (loopback only, bounded): 16 concurrent clients make 10,000
//! requests mixing a piece's history (1,000 events), ownership, holdings and status, while
//! the follower indexes new blocks with SPOOL transactions. Any error fails the run.
//! Prints p50/p99/max latency and the throughput; then the time of a piece history through
//! the `ServerBackend` client (the HTTP request plus the protocol's History) as `spool
//! history --server` will do it.
//!
//! `cargo xtask bench -- --bench index_load` (or `cargo bench -p spool-benches --bench
//! index_load`). `SPOOL_LOAD_REQUESTS` and `SPOOL_LOAD_CLIENTS` override the defaults.
#![allow(missing_docs)]

#[path = "../../crates/spool-backend/tests/common/chain.rs"]
#[allow(dead_code)]
mod chain;
#[path = "support/index_chain.rs"]
#[allow(dead_code)]
mod index_chain;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::Network;
use serde_json::Value;
use spool_backend::server::{HistoryReply, ServerBackend};
use spool_backend::Backend;
use spool_index::ServeConfig;
use spool_protocol::verb::Verb;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    // `cargo bench` passes `--bench`; a criterion filter that excludes this target skips it
    // (the values of criterion's options are not filters).
    const VALUED: [&str; 12] = [
        "--save-baseline",
        "--baseline",
        "--load-baseline",
        "--measurement-time",
        "--warm-up-time",
        "--sample-size",
        "--noise-threshold",
        "--confidence-level",
        "--significance-level",
        "--profile-time",
        "--output-format",
        "--color",
    ];
    let mut filters: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if VALUED.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    if !filters.is_empty() && !filters.iter().any(|f| "index_load".contains(f.as_str())) {
        return;
    }
    let requests = env("SPOOL_LOAD_REQUESTS", 10_000);
    let clients = env("SPOOL_LOAD_CLIENTS", 16);
    // One piece with 1,000 events (PIECE, then 999 registrations, 100 to a block).
    let built = tokio::task::spawn_blocking(|| index_chain::build(10, 999, 1, false))
        .await
        .unwrap();
    let node = Arc::new(built.node);
    let piece = built.pieces[0].clone();
    let fed = built.federation.address.clone();
    let dir = tempfile::tempdir().unwrap();
    let running = spool_index::start(ServeConfig {
        index_path: dir.path().join("index.sqlite"),
        follower: index_chain::follower_config(&node, &[&fed]),
        http: "127.0.0.1:0".parse().unwrap(),
        federation: vec![fed.to_string()],
        api_token: None,
        reservation_lease: spool_index::reservations::DEFAULT_LEASE,
    })
    .await
    .unwrap();
    running.wait_round().await;
    let url = running.url();
    let probe = ServerBackend::new(&url, Network::Regtest).unwrap();
    let history: HistoryReply = probe
        .get_json(&format!("/piece/{piece}/history"))
        .await
        .unwrap();
    assert_eq!(history.events.len(), 1_000, "the piece has 1,000 events");
    let owner = history.events[0].to_address.clone();

    // The follower keeps indexing: a new block with a SPOOL transaction every 250 ms.
    let stop = Arc::new(AtomicBool::new(false));
    let miner = {
        let node = node.clone();
        let stop = stop.clone();
        let funder_piece = chain::hash_address();
        std::thread::spawn(move || {
            let funder = chain::Funder::new(&node, 2);
            let mut purse = index_chain::Purse::new(&node, &funder, index_chain::SPOOL_COIN, 400);
            chain::mine(&node, 1);
            let mut blocks = 0;
            while !stop.load(Ordering::Relaxed) && !purse.coins.is_empty() {
                purse.spool(&node, &[&funder_piece, &chain::hash_address()], Verb::Piece);
                chain::mine(&node, 1);
                blocks += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            blocks
        })
    };

    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, piece, owner, next, errors) = (
            url.clone(),
            piece.clone(),
            owner.clone(),
            next.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = ServerBackend::new(&url, Network::Regtest).unwrap();
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let path = match i % 4 {
                    0 => format!("/piece/{piece}/history"),
                    1 => format!(
                        "/piece/{piece}/ownership?address={owner}&edition={}",
                        i % 999 + 1
                    ),
                    2 => format!("/address/{owner}/holdings"),
                    _ => "/status".to_string(),
                };
                let t = Instant::now();
                match client.get_json::<Value>(&path).await {
                    Ok(_) => latencies.push(t.elapsed()),
                    Err(err) => {
                        eprintln!("index_load: GET {path}: {err}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let blocks = miner.join().unwrap();
    latencies.sort();
    let errors = errors.load(Ordering::Relaxed);
    eprintln!(
        "index_load: {requests} requests from {clients} clients in {elapsed:.2?} ({:.0} req/s) while {blocks} blocks were indexed: \
         {errors} errors, p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        requests as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
    );
    assert_eq!(errors, 0, "the server answered every request");

    // A piece history as `spool history --server` computes it: one HTTP request for the
    // transactions, then the protocol's History.
    let mut times = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let txs = probe.address_transactions(&piece).await.unwrap();
        let history =
            spool_index::api::build_history(&piece, Network::Regtest, &txs, &[fed.to_string()]);
        assert_eq!(history.events().len(), 1_000);
        times.push(t.elapsed());
    }
    times.sort();
    eprintln!(
        "index_load: history of a 1,000-event piece through ServerBackend (1 request + History::build): p50 {:.2?}, max {:.2?}",
        percentile(&times, 0.5),
        times.last().unwrap()
    );
    running.shutdown().await.unwrap();
}
