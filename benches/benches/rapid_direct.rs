//! Rapid-fire issuance through the `spool` binary without a server (direct Core backend):
//! registrations of editions of one piece, one process each, no mining in between.
//!
//! Before criterion runs, one pass on a fresh regtest node prints:
//! - **warm** (the Core backend's cache file kept in the data directory, as the CLI does):
//!   `SPOOL_RAPID_DIRECT_COUNT` registrations (default 300), the rate of the first and last
//!   50 and the RPC calls per registration (counted from `-v`'s per-call log lines);
//! - **cold** (the cache file deleted before every process: each one re-reads the whole
//!   mempool and scans the UTXO set per address, as before the cache): the next
//!   `SPOOL_RAPID_DIRECT_COLD` registrations (default 100) of a second piece, with the warm
//!   run's transactions still unconfirmed;
//! - **bound**: 50 `spool verb encode` processes (start-up and exit of the binary alone).
//!
//! Criterion then times `rapid_direct/register_process` (one more registration, warm) and
//! `rapid_direct/bound_verb_encode`. `SPOOL_RAPID_DIRECT_LOG=PATH` keeps the `-v` log of the
//! last registration run. Needs the release binary:
//! `cargo build --release -p spool-cli` (or `SPOOL_BIN=path`); fails loudly without it.
#![allow(missing_docs)]

#[path = "support/spool_bin.rs"]
mod spool_bin;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use spool_bin::spool_bin;
use spool_testenv::Node;

const FEDERATION_ENV: &str = "SPOOL_BENCH_FEDERATION";
const FEDERATION_SECRET: &str = "rapid direct federation secret";
const REFILL_ENV: &str = "SPOOL_BENCH_REFILL";
const REFILL_SECRET: &str = "rapid direct refill secret";
/// Editions set per piece (registrations beyond the warm pass are criterion's).
const EDITIONS: u64 = 2_000;

struct Env {
    node: Node,
    data: tempfile::TempDir,
    bin: PathBuf,
}

/// One CLI process's outcome: success, and RPC calls and round trips from `-v`'s log.
struct Ran {
    stdout: String,
    calls: u64,
    trips: u64,
}

impl Env {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = self.node.spool_command(&self.bin, self.data.path());
        command
            .args(args)
            .env(FEDERATION_ENV, FEDERATION_SECRET)
            .env(REFILL_ENV, REFILL_SECRET);
        command
    }

    fn run(&self, args: &[&str]) -> Ran {
        let out = self.command(args).output().expect("spawn spool");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "spool {args:?} failed: {stderr}");
        if let (Ok(path), true) = (
            std::env::var("SPOOL_RAPID_DIRECT_LOG"),
            args.contains(&"register"),
        ) {
            // The last process's log, for reading where its time went.
            std::fs::write(path, stderr.as_bytes()).expect("write the log");
        }
        let (mut calls, mut trips) = (0, 0);
        for line in stderr.lines() {
            if line.contains("rpc call") {
                calls += 1;
                trips += 1;
            } else if line.contains("rpc batch") {
                trips += 1;
                calls += line
                    .split("calls=")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .expect("a batch line names its calls");
            }
        }
        Ran {
            stdout,
            calls,
            trips,
        }
    }

    fn address(&self, env: &str) -> String {
        let out = self.run(&["--json", "wallet", "address", "--secret-env", env]);
        let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        value["address"].as_str().expect("address").to_string()
    }

    fn register(&self, piece: &str, to: &str, edition: u64) -> Ran {
        let edition = edition.to_string();
        self.run(&[
            "-v",
            "--json",
            "register",
            "--piece",
            piece,
            "--to",
            to,
            "--edition",
            &edition,
            "--secret-env",
            FEDERATION_ENV,
            "--min-conf",
            "1",
        ])
    }

    fn cache_file(&self) -> PathBuf {
        spool_backend::core::CoreBackend::cache_file(&self.data.path().join("regtest"))
    }
}

fn setup() -> (Env, String, String, String) {
    let node = Node::start().expect("regtest node (set BITCOIND_EXE)");
    let env = Env {
        node,
        data: tempfile::tempdir().unwrap(),
        bin: spool_bin(),
    };
    let refill = env.address(REFILL_ENV);
    let federation = env.address(FEDERATION_ENV);
    let owner = env.address(REFILL_ENV);
    let mine_to = |address: &str, n: u64| {
        env.node
            .call(
                "generatetoaddress",
                &[serde_json::json!(n), serde_json::json!(address)],
            )
            .expect("generatetoaddress");
    };
    mine_to(&refill, 110);
    // Fuel and tokens for every registration of both pieces, confirmed.
    for _ in 0..3 {
        env.run(&[
            "--json",
            "refill-main",
            "--to",
            &federation,
            "--fees",
            "900",
            "--tokens",
            "1800",
            "--secret-env",
            REFILL_ENV,
            "--min-conf",
            "1",
        ]);
        mine_to(&refill, 1);
    }
    let piece = |n: u32| {
        let file = env.data.path().join(format!("art-{n}.txt"));
        std::fs::write(&file, format!("rapid direct artwork {n}")).unwrap();
        let out = env.run(&[
            "--json",
            "hash",
            file.to_str().unwrap(),
            "--meta",
            &format!("title=piece {n}"),
        ]);
        let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        format!(
            "{},{}",
            value["file_hash"].as_str().unwrap(),
            value["file_hash_metadata"].as_str().unwrap()
        )
    };
    let (a, b) = (piece(1), piece(2));
    for p in [&a, &b] {
        env.register(p, &owner, 0);
        env.run(&[
            "--json",
            "editions",
            "--piece",
            p,
            "--to",
            &owner,
            "--count",
            &EDITIONS.to_string(),
            "--secret-env",
            FEDERATION_ENV,
            "--min-conf",
            "1",
        ]);
    }
    mine_to(&refill, 1);
    (env, a, b, owner)
}

fn rate(times: &[Duration]) -> f64 {
    times.len() as f64 * 60.0 / times.iter().sum::<Duration>().as_secs_f64()
}

/// Registers editions 1..=count of `piece`; returns each process's time and the mean RPC
/// calls and round trips per process.
fn pass(env: &Env, piece: &str, owner: &str, count: u64, cold: bool) -> (Vec<Duration>, f64, f64) {
    let mut times = Vec::with_capacity(count as usize);
    let (mut calls, mut trips) = (0, 0);
    for edition in 1..=count {
        if cold {
            let _ = std::fs::remove_file(env.cache_file());
        }
        let started = Instant::now();
        let ran = env.register(piece, owner, edition);
        times.push(started.elapsed());
        calls += ran.calls;
        trips += ran.trips;
    }
    (
        times,
        calls as f64 / count as f64,
        trips as f64 / count as f64,
    )
}

fn rapid_direct(c: &mut Criterion) {
    let count: u64 = std::env::var("SPOOL_RAPID_DIRECT_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let cold_count: u64 = std::env::var("SPOOL_RAPID_DIRECT_COLD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let (env, warm_piece, cold_piece, owner) = setup();
    let k = 50.min(count as usize);

    let (warm, warm_calls, warm_trips) = pass(&env, &warm_piece, &owner, count, false);
    let (cold, cold_calls, cold_trips) = pass(&env, &cold_piece, &owner, cold_count, true);
    let bound: Vec<Duration> = (0..50)
        .map(|_| {
            let started = Instant::now();
            env.run(&["verb", "encode", "REGISTER", "--edition", "1"]);
            started.elapsed()
        })
        .collect();
    let mempool = env
        .node
        .call("getrawmempool", &[])
        .expect("getrawmempool")
        .as_array()
        .map_or(0, Vec::len);
    let (first, last) = (rate(&warm[..k]), rate(&warm[warm.len() - k..]));
    let kc = 50.min(cold.len());
    let (cold_first, cold_last) = (rate(&cold[..kc]), rate(&cold[cold.len() - kc..]));
    eprintln!(
        "rapid_direct warm: {count} registrations, {:.0}/min overall; first {k} {first:.0}/min, \
         last {k} {last:.0}/min (last/first {:.2}); {warm_calls:.1} RPC calls ({warm_trips:.1} round trips) per registration",
        rate(&warm),
        last / first
    );
    eprintln!(
        "rapid_direct cold (no cache file; {count}+ unrelated unconfirmed): {cold_count} \
         registrations, {:.0}/min overall; first {kc} {cold_first:.0}/min, last {kc} \
         {cold_last:.0}/min; {cold_calls:.1} RPC calls ({cold_trips:.1} round trips) per registration",
        rate(&cold)
    );
    eprintln!(
        "rapid_direct bound: `spool verb encode` {:.0}/min; warm/cold rate {:.2}x, warm/bound {:.2}; \
         mempool now {mempool} transactions",
        rate(&bound),
        rate(&warm) / rate(&cold),
        rate(&warm) / rate(&bound)
    );

    let next = AtomicU64::new(count + 1);
    let mut group = c.benchmark_group("rapid_direct");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("register_process", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                let edition = next.fetch_add(1, Ordering::Relaxed);
                assert!(edition <= EDITIONS, "editions exhausted: raise EDITIONS");
                env.register(&warm_piece, &owner, edition);
            }
            started.elapsed()
        })
    });
    group.bench_function("bound_verb_encode", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                env.run(&["verb", "encode", "REGISTER", "--edition", "1"]);
            }
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, rapid_direct);
criterion_main!(benches);
