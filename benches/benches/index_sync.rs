//! Sync speed of spool-index against its bound, in one run:
//!
//! - `index_sync/bound_fetch_raw_blocks`: fetching every raw block of the chain over RPC
//!   alone (`getblockhash` and `getblock <hash> 0` batches of about 8 MB, one after the
//!   other), nothing parsed or written;
//! - `index_sync/index_from_scratch`: the follower's whole catch-up into a fresh SQLite
//!   file (raw blocks fetched one batch ahead while the previous one is parsed and written,
//!   SPOOL prevouts fetched, every block committed with its hash).
//!
//! The chain: `SPOOL_BENCH_BLOCKS` blocks (default 2,000) each with a ~51 kB filler
//! transaction paying 1,500 unrelated addresses, and `SPOOL_BENCH_SPOOL_TXS` (default
//! 1,000) SPOOL transactions among them. Before criterion runs, one timed pass of each prints
//! blocks/s, MB/s, the ratio to the bound and the process's peak RSS; then the release
//! `spool serve` binary (`SPOOL_BIN`, else `target/release/spool`) syncs the same chain into
//! a fresh data directory, and its resident memory is read from `/proc` at each quarter of
//! the chain and at the end (`VmHWM`, its peak), so that memory growing with chain length
//! would show.
#![allow(missing_docs)]

#[path = "../../crates/spool-backend/tests/common/chain.rs"]
#[allow(dead_code)]
mod chain;
#[path = "support/index_chain.rs"]
#[allow(dead_code)]
mod index_chain;

#[path = "support/spool_bin.rs"]
mod spool_bin;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use serde_json::Value;
use spool_bin::spool_bin;
use spool_index::Follower;
use spool_testenv::Node;

fn index_all(node: &Node, watch: &[&bitcoin::Address]) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut follower = Follower::open(
        &dir.path().join("index.sqlite"),
        index_chain::follower_config(node, watch),
    )
    .unwrap();
    follower.catch_up(&mut |_| {}).unwrap()
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

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in MB.
fn rss_of(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A plain HTTP/1.1 GET of `path` on `host`; the body.
fn get(host: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// Syncs the chain with the real `spool serve` and reports its memory along the way.
fn serve_memory(node: &Node, watch: &bitcoin::Address, blocks: u64, bound: Duration) {
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = node
        .spool_command(&spool_bin(), data.path())
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--poll-ms",
            "100",
            "--watch",
        ])
        .arg(watch.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spool serve starts");
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let host = line
        .strip_prefix("listening on http://")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("spool serve did not start: {line:?}"))
        .to_string();
    let tip = blocks - 1;
    let mut quarters: Vec<(u64, f64)> = Vec::new();
    let synced = loop {
        let status: Value = serde_json::from_str(&get(&host, "/api/v1/status")).unwrap();
        let height = status["indexed_height"].as_u64().unwrap_or(0);
        let (rss, _) = rss_of(pid);
        while quarters.len() < 4 && height * 4 >= tip * (quarters.len() as u64 + 1) {
            quarters.push((height, rss));
        }
        if height == tip && status["synced"] == true {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "spool serve did not sync in 10 minutes: {status}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (rss, peak) = rss_of(pid);
    let _ = child.kill();
    let _ = child.wait();
    let along: Vec<String> = quarters
        .iter()
        .map(|(h, mb)| format!("{mb:.0} MB at height {h}"))
        .collect();
    eprintln!(
        "index_sync: spool serve (release binary) synced {blocks} blocks in {synced:.2?} \
         ({:.2}x the raw-block bound, start-up and polling included); resident memory {}; \
         {rss:.0} MB at the end; peak (VmHWM) {peak:.0} MB = {:.2}x the 200 MB limit",
        synced.as_secs_f64() / bound.as_secs_f64(),
        along.join(", "),
        peak / 200.0,
    );
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sync(c: &mut Criterion) {
    let blocks = env("SPOOL_BENCH_BLOCKS", 2_000);
    let spool_txs = env("SPOOL_BENCH_SPOOL_TXS", 1_000);
    let started = Instant::now();
    let built = index_chain::build(blocks, spool_txs, 10, true);
    eprintln!(
        "index_sync: chain of {} blocks, {} SPOOL txs built in {:.1?}",
        chain::tip(&built.node) + 1,
        built.spool_txs,
        started.elapsed()
    );
    let node = &built.node;
    let watch = [&built.federation.address];

    let t = Instant::now();
    let (n, bytes) = index_chain::fetch_all(node);
    let bound = t.elapsed();
    let rss_before = peak_rss_mb();
    let t = Instant::now();
    let (indexed, indexed_bytes) = index_all(node, &watch);
    let index = t.elapsed();
    assert_eq!(
        (indexed, indexed_bytes),
        (n, bytes),
        "the index read every block"
    );
    let mb = bytes as f64 / 1e6;
    eprintln!(
        "index_sync: {n} blocks, {mb:.1} MB: bound {bound:.2?} ({:.0} blocks/s, {:.1} MB/s); \
         index {index:.2?} ({:.0} blocks/s, {:.1} MB/s); ratio {:.2}x; peak RSS {:.0} MB (before indexing {:.0} MB)",
        n as f64 / bound.as_secs_f64(),
        mb / bound.as_secs_f64(),
        n as f64 / index.as_secs_f64(),
        mb / index.as_secs_f64(),
        index.as_secs_f64() / bound.as_secs_f64(),
        peak_rss_mb(),
        rss_before,
    );

    serve_memory(node, &built.federation.address, n, bound);

    let mut group = c.benchmark_group("index_sync");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(1));
    group.bench_function("bound_fetch_raw_blocks", |b| {
        b.iter(|| index_chain::fetch_all(node))
    });
    group.bench_function("index_from_scratch", |b| {
        b.iter_batched(|| (), |()| index_all(node, &watch), BatchSize::PerIteration)
    });
    group.finish();
}

criterion_group!(benches, sync);
criterion_main!(benches);
