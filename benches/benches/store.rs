//! The reservation store's work for one action, as one `spool` process does it: open a fresh
//! `Reservations` handle on an existing data directory, `reserve_claimed` a new transaction
//! spending 4 outpoints (with one claim), `mark_sending` (which also appends to the broadcast
//! journal) and `mark_broadcast`.
//!
//! `store/action/10_pending` and `store/action/1000_pending` run it with 10 and with 1,000
//! pending transactions already in the store; the ratio of the two is the growth of the
//! per-action cost with pending transactions (issue 9). After each timed action the new
//! reservation is released again (not timed), so the store keeps its size.
//! `store/action/*_pending_open` times the opening alone (it reads the whole store).
#![allow(missing_docs)]

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Txid};
use criterion::{criterion_group, criterion_main, Criterion};
use spool_engine::store::{Claim, NewReservation, Reservations, StoreError};

const PIECE: &str = "mhXeWEMLnEwVNnyqKrqUDPAYSuwhfyNXA7";

/// A transaction id made from `n` (distinct for every `n`).
fn txid(n: u64) -> Txid {
    let mut bytes = [0x5A; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    Txid::from_byte_array(bytes)
}

/// One action's store work on the store in `dir`: transaction number `n`, 4 outpoints.
fn action(dir: &Path, n: u64) -> Reservations {
    let res = Reservations::open(dir).expect("open the store");
    let tx = txid(n);
    let funding = txid(u64::MAX - n);
    let new = NewReservation {
        txid: tx,
        outpoints: (0..4).map(|vout| OutPoint::new(funding, vout)).collect(),
        claims: vec![Claim {
            piece: PIECE.to_owned(),
            edition: Some(n),
        }],
        template: None,
        replaces: Vec::new(),
    };
    res.reserve_claimed(&new.claims.clone(), &HashSet::new(), |_| {
        Ok::<_, StoreError>(((), new))
    })
    .expect("reserve");
    // Stands for the signed transaction's hex (about this long for a SPOOL action).
    res.mark_sending(&tx, &"ab".repeat(330)).expect("journal");
    res.mark_broadcast(&tx).expect("mark broadcast");
    res
}

/// A store holding `pending` broadcast transactions, each as an action left it.
fn store_with(pending: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for n in 0..pending {
        drop(action(dir.path(), n));
    }
    dir
}

fn store(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/action");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for pending in [10u64, 1_000] {
        let dir = store_with(pending);
        let mut next = 1_000_000u64;
        group.bench_function(format!("{pending}_pending"), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    next += 1;
                    let started = Instant::now();
                    let res = action(dir.path(), next);
                    timed += started.elapsed();
                    // Keep the store at `pending` transactions (not timed).
                    res.release_tx(&txid(next)).expect("release");
                }
                timed
            });
        });
        // The part of it that reads the store: opening a handle (which reads the log).
        group.bench_function(format!("{pending}_pending_open"), |b| {
            b.iter(|| Reservations::open(dir.path()).expect("open the store"));
        });
    }
    group.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
