//! The federation-scoped sync (`--filters`) against the full scans of the same chain, in
//! one run:
//!
//! - `index_filters/bound_fetch_raw_blocks`: fetching every raw block over RPC alone
//!   (`getblockhash` and `getblock <hash> 0` batches of about 8 MB), nothing parsed or
//!   written: the bound of any full scan over RPC;
//! - `index_filters/full_rpc`: the full scan as it was (RPC, every block deserialized);
//! - `index_filters/full_rest`: the full scan through REST, every block deserialized;
//! - `index_filters/full_rest_prefilter`: the full scan through REST, with the byte
//!   prefilter;
//! - `index_filters/filters`: the federation-scoped sync (headers and filters over RPC,
//!   only the matching blocks fetched);
//! - `index_filters/match_filter_*`: testing one block filter against a set of 1, 1,000
//!   and 10,000 scripts (the per-filter cost behind the README's mainnet projection).
//!
//! The chain: `SPOOL_BENCH_BLOCKS` blocks (default 2,000) each with a ~51 kB filler
//! transaction paying 1,500 unrelated addresses; one block in `SPOOL_BENCH_EVERY` (default
//! 100, i.e. 1%) holds two SPOOL registrations of the federation. Before criterion runs,
//! one timed pass of each prints wall time, blocks/s, MB fetched and the ratios to the
//! bound and to the full RPC scan measured in the same run.
#![allow(missing_docs)]

#[path = "../../crates/spool-backend/tests/common/chain.rs"]
#[allow(dead_code)]
mod chain;
#[path = "support/index_chain.rs"]
#[allow(dead_code)]
mod index_chain;

use std::time::{Duration, Instant};

use bitcoin::bip158::BlockFilter;
use bitcoin::{BlockHash, ScriptBuf};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::json;
use spool_index::follower::{FilterScope, FullScan};
use spool_index::{Follower, FollowerConfig, NodeRpc};
use spool_testenv::Node;

#[derive(Clone, Copy)]
enum Mode {
    FullRpc,
    FullRest,
    FullRestPrefilter,
    Filters,
}

fn config(node: &Node, federation: &bitcoin::Address, mode: Mode) -> FollowerConfig {
    let mut config = index_chain::follower_config(node, &[]);
    match mode {
        Mode::FullRpc => {
            config.watch = vec![federation.script_pubkey()];
            config.full_scan = FullScan {
                rest: false,
                prefilter: false,
            };
        }
        Mode::FullRest => {
            config.watch = vec![federation.script_pubkey()];
            config.full_scan = FullScan {
                rest: true,
                prefilter: false,
            };
        }
        Mode::FullRestPrefilter => {
            config.watch = vec![federation.script_pubkey()];
            config.full_scan = FullScan::default();
        }
        Mode::Filters => {
            config.filters = Some(FilterScope {
                federation: vec![federation.script_pubkey()],
            });
        }
    }
    config
}

/// One sync from scratch; (blocks, bytes fetched, SPOOL txs indexed, rest used, time in
/// the UTXO-set scan).
fn index_all(
    node: &Node,
    federation: &bitcoin::Address,
    mode: Mode,
) -> (u64, u64, u64, bool, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let mut follower = Follower::open(
        &dir.path().join("index.sqlite"),
        config(node, federation, mode),
    )
    .unwrap();
    let (blocks, bytes) = follower.catch_up(&mut |_| {}).unwrap();
    let spool = follower.store().spool_tx_count().unwrap();
    (
        blocks,
        bytes,
        spool,
        follower.uses_rest(),
        follower.scan_time(),
    )
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Every block's filter and hash, fetched once (for the matching benchmark).
fn all_filters(node: &Node) -> Vec<(BlockHash, BlockFilter)> {
    let rpc = NodeRpc::new(&index_chain::node_config(node)).unwrap();
    let tip = rpc.tip_height().unwrap();
    let heights: Vec<u64> = (0..=tip).collect();
    let hashes = rpc.block_hashes(&heights).unwrap();
    let (filters, _) = rpc.block_filters(&hashes).unwrap();
    hashes
        .into_iter()
        .zip(filters.into_iter().map(|(f, _)| f))
        .collect()
}

fn scripts(n: usize) -> Vec<ScriptBuf> {
    (0..n)
        .map(|_| chain::hash_address().script_pubkey())
        .collect()
}

/// Tests every filter against `set`; the number of matches.
fn match_all(filters: &[(BlockHash, BlockFilter)], set: &[ScriptBuf]) -> usize {
    filters
        .iter()
        .filter(|(hash, filter)| {
            filter
                .match_any(hash, set.iter().map(|s| s.as_bytes()))
                .unwrap()
        })
        .count()
}

fn sync(c: &mut Criterion) {
    let blocks = env("SPOOL_BENCH_BLOCKS", 2_000);
    let every = env("SPOOL_BENCH_EVERY", 100);
    // SPOOL_BENCH_FILLER=fanout: the earlier chain, whose UTXO set grows 1,500 a block.
    let filler = match std::env::var("SPOOL_BENCH_FILLER").as_deref() {
        Ok("fanout") => index_chain::Filler::FanOut,
        _ => index_chain::Filler::Churn,
    };
    let started = Instant::now();
    let built = index_chain::build_sparse(
        blocks,
        every,
        2,
        10,
        filler,
        &["-blockfilterindex=1", "-rest=1"],
    );
    let node = &built.node;
    let federation = built.federation.address.clone();
    let tip = chain::tip(node);
    eprintln!(
        "index_filters: chain of {} blocks ({filler:?} filler), {} SPOOL txs (one block in {every} active) built in {:.1?}",
        tip + 1,
        built.spool_txs,
        started.elapsed()
    );

    let t = Instant::now();
    let (n, raw_bytes) = index_chain::fetch_all(node);
    let bound = t.elapsed();
    let mut runs = Vec::new();
    for (name, mode) in [
        ("full scan, RPC", Mode::FullRpc),
        ("full scan, REST", Mode::FullRest),
        ("full scan, REST + prefilter", Mode::FullRestPrefilter),
        ("filters", Mode::Filters),
    ] {
        let t = Instant::now();
        let (indexed, bytes, spool, rest, scan) = index_all(node, &federation, mode);
        let took = t.elapsed();
        assert_eq!(indexed, n, "{name}: every height indexed");
        assert_eq!(
            spool, built.spool_txs,
            "{name}: every SPOOL transaction indexed"
        );
        if matches!(mode, Mode::FullRest | Mode::FullRestPrefilter) {
            assert!(rest, "the node's REST interface answered");
        }
        runs.push((name, took, bytes, scan));
    }
    let full_rpc = runs[0].1;
    let mb = |bytes: u64| bytes as f64 / 1e6;
    eprintln!(
        "index_filters: bound (raw blocks over RPC) {bound:.2?}, {:.0} blocks/s, {:.1} MB",
        n as f64 / bound.as_secs_f64(),
        mb(raw_bytes)
    );
    for (name, took, bytes, _) in &runs {
        eprintln!(
            "index_filters: {name}: {took:.2?}, {:.0} blocks/s, {:.1} MB fetched; \
             {:.2}x the bound's time, {:.1}x faster than the full RPC scan",
            n as f64 / took.as_secs_f64(),
            mb(*bytes),
            took.as_secs_f64() / bound.as_secs_f64(),
            full_rpc.as_secs_f64() / took.as_secs_f64(),
        );
    }
    eprintln!(
        "index_filters: peak RSS of this process {:.0} MB",
        peak_rss_mb()
    );

    // The filter sync's UTXO-set scan (outputs discovered addresses received before their
    // discovery), measured inside that sync: it grows with the UTXO set, not the blocks.
    let (_, took, _, scan) = runs[3];
    let rpc = NodeRpc::new(&index_chain::node_config(node)).unwrap();
    let utxos: u64 = rpc.call("gettxoutsetinfo", &[json!("none")]).unwrap()["txouts"]
        .as_u64()
        .unwrap_or(0);
    let without = took.saturating_sub(scan);
    eprintln!(
        "index_filters: of the filter sync, the UTXO-set scan ({utxos} UTXOs): {scan:.2?}; \
         the rest: {without:.2?}, {:.0} blocks/s, {:.1}x faster than the full RPC scan, \
         {:.1}x faster than the bound",
        n as f64 / without.as_secs_f64(),
        full_rpc.as_secs_f64() / without.as_secs_f64(),
        bound.as_secs_f64() / without.as_secs_f64(),
    );

    let filters = all_filters(node);
    for size in [1usize, 1_000, 10_000] {
        let set = scripts(size);
        let t = Instant::now();
        let matched = match_all(&filters, &set);
        let took = t.elapsed();
        eprintln!(
            "index_filters: matching {} filters against {size} scripts: {took:.2?} \
             ({:.1} µs per filter, {matched} false matches)",
            filters.len(),
            took.as_secs_f64() * 1e6 / filters.len() as f64
        );
    }

    let mut group = c.benchmark_group("index_filters");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("bound_fetch_raw_blocks", |b| {
        b.iter(|| index_chain::fetch_all(node))
    });
    for (name, mode) in [
        ("full_rpc", Mode::FullRpc),
        ("full_rest", Mode::FullRest),
        ("full_rest_prefilter", Mode::FullRestPrefilter),
        ("filters", Mode::Filters),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (),
                |()| index_all(node, &federation, mode),
                BatchSize::PerIteration,
            )
        });
    }
    // A typical block's filter (the genesis filter holds one element).
    let mid = filters.len() / 2;
    for size in [1usize, 1_000, 10_000] {
        let set = scripts(size);
        group.bench_function(format!("match_filter_{size}_scripts"), |b| {
            b.iter(|| match_all(&filters[mid..=mid], &set))
        });
    }
    group.finish();
}

criterion_group!(benches, sync);
criterion_main!(benches);
