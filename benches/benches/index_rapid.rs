//! Rapid-fire issuance through `spool serve`, as the engine does it with `--server` but in
//! one process (no CLI start-up, no wallet derivation): for each of 1,000 registrations of
//! one piece, no mining in between, read what the registration's rules read (the piece-level
//! events and those of its edition: `Backend::piece_transactions` with the action's `Scope`)
//! and verify that History,
//! list the federation's UTXOs (the index hides what pending registrations spend), pick a
//! coin, sign, broadcast. Reports the rate of the first and last 100 and fails on any
//! rejection. At the end, for comparison, the time to read the whole piece (every pending
//! registration) as the pre-check did before scopes.
//!
//! `cargo bench -p spool-benches --bench index_rapid`; `SPOOL_RAPID_COUNT` overrides 1,000.
#![allow(missing_docs)]

#[path = "../../crates/spool-backend/tests/common/chain.rs"]
#[allow(dead_code)]
mod chain;
#[path = "support/index_chain.rs"]
#[allow(dead_code)]
mod index_chain;

use std::time::{Duration, Instant};

use bitcoin::Network;
use spool_backend::server::ServerBackend;
use spool_backend::Backend;
use spool_index::ServeConfig;
use spool_protocol::scope::Scope;
use spool_protocol::verb::Verb;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "index_rapid".contains(f.as_str())) {
        return;
    }
    let count: u64 = std::env::var("SPOOL_RAPID_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let (node, fed) = tokio::task::spawn_blocking(move || {
        let node = spool_testenv::Node::start().expect("regtest node");
        let funder = chain::Funder::new(&node, 4);
        let purse =
            index_chain::Purse::new(&node, &funder, index_chain::SPOOL_COIN, count as usize + 10);
        chain::mine(&node, 1);
        (node, purse.key)
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let running = spool_index::start(ServeConfig {
        index_path: dir.path().join("index.sqlite"),
        follower: index_chain::follower_config(&node, &[&fed.address]),
        http: "127.0.0.1:0".parse().unwrap(),
        federation: vec![fed.address.to_string()],
        api_token: None,
        reservation_lease: spool_index::reservations::DEFAULT_LEASE,
    })
    .await
    .unwrap();
    running.wait_round().await;
    let server = ServerBackend::new(&running.url(), Network::Regtest).unwrap();
    let piece = chain::hash_address();
    let owner = chain::hash_address();
    let federation = vec![fed.address.to_string()];
    let mut times = Vec::with_capacity(count as usize);
    // Time of each step over the last tenth: reading the transactions, History, UTXOs, broadcast.
    let mut split = [Duration::ZERO; 4];
    let tail_from = count - (count / 10).max(1);
    let started = Instant::now();
    for n in 0..count {
        let t = Instant::now();
        let verb = if n == 0 {
            Verb::Piece
        } else {
            Verb::Register { edition: n }
        };
        let txs = server
            .piece_transactions(&piece, Scope::of(&verb))
            .await
            .unwrap();
        let t1 = Instant::now();
        let history = spool_index::api::build_history(&piece, Network::Regtest, &txs, &federation);
        assert_eq!(
            history.events().len(),
            usize::from(n > 0),
            "the piece's registration is seen, and no other edition's"
        );
        let t2 = Instant::now();
        let utxos = server.utxos(&fed.address, 0).await.unwrap();
        let t3 = Instant::now();
        let coin = utxos
            .iter()
            .find(|u| u.value == index_chain::SPOOL_COIN)
            .expect("an unspent coin");
        let prevout = bitcoin::TxOut {
            value: coin.value,
            script_pubkey: coin.script_pubkey.clone(),
        };
        let tx = chain::spool_tx(&fed, (coin.outpoint, prevout), &[&piece, &owner], verb);
        server
            .broadcast(&tx)
            .await
            .unwrap_or_else(|e| panic!("registration {n} rejected: {e}"));
        if n >= tail_from {
            split[0] += t1 - t;
            split[1] += t2 - t1;
            split[2] += t3 - t2;
            split[3] += t3.elapsed();
        }
        times.push(t.elapsed());
    }
    let total = started.elapsed();
    let rate = |slice: &[Duration]| {
        slice.len() as f64 * 60.0 / slice.iter().sum::<Duration>().as_secs_f64()
    };
    let k = (count as usize / 10).max(1);
    let first = rate(&times[..k]);
    let last = rate(&times[times.len() - k..]);
    eprintln!(
        "index_rapid: {count} registrations of one piece, no mining, in {total:.2?}: {:.0}/min overall; first {k} {first:.0}/min, last {k} {last:.0}/min ({:.0}%); 0 rejections",
        count as f64 * 60.0 / total.as_secs_f64(),
        100.0 * last / first
    );
    let tail = (count - tail_from) as u32;
    eprintln!(
        "index_rapid: last {tail}, per registration: transactions {:.2?}, History::build {:.2?}, utxos {:.2?}, sign+broadcast {:.2?}",
        split[0] / tail,
        split[1] / tail,
        split[2] / tail,
        split[3] / tail
    );
    let mut whole = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let txs = server.address_transactions(&piece).await.unwrap();
        assert_eq!(txs.len() as u64, count, "every registration is indexed");
        whole.push(t.elapsed());
    }
    whole.sort_unstable();
    eprintln!(
        "index_rapid: for comparison, reading the whole piece ({count} pending events): median {:.2?} = {:.1}x the scoped read of the last {tail}",
        whole[whole.len() / 2],
        whole[whole.len() / 2].as_secs_f64() / (split[0] / tail).as_secs_f64()
    );
    running.shutdown().await.unwrap();
}
