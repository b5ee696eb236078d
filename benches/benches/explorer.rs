//! spool-explorer benchmarks: the piece page of a piece with 1,000 events as the server
//! renders it (request through the router: source read, history built and verified, HTML
//! and SVG rendered), its SVG graph alone, and the bound measured in the same run: building
//! and verifying the same piece's History from the same transactions. The page's size in
//! bytes is printed once and set as the render's throughput.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use bitcoin::absolute::LockTime;
use bitcoin::hashes::{hash160, Hash};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, BlockHash, Network, OutPoint, PubkeyHash, ScriptBuf, Sequence, Transaction,
    TxIn, TxOut, Txid, Witness,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spool_explorer::memory::MemorySource;
use spool_explorer::svg::{provenance_svg, GraphOptions};
use spool_explorer::{router, ExplorerConfig, ExplorerSource, SyncStatus};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::history::History;
use spool_protocol::verb::{LoanDate, Verb};
use tower::ServiceExt;

const NET: Network = Network::Regtest;
const EVENTS: usize = 1_000;

fn address(name: &str) -> Address {
    Address::p2pkh(
        PubkeyHash::from_raw_hash(hash160::Hash::hash(name.as_bytes())),
        NET,
    )
}

fn chain_tx(from: &Address, recipients: &[&Address], verb: Verb, seq: u64) -> ChainTx {
    let mut output: Vec<TxOut> = recipients
        .iter()
        .map(|r| TxOut {
            value: Amount::from_sat(3_000),
            script_pubkey: r.script_pubkey(),
        })
        .collect();
    output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: verb.op_return_script(),
    });
    ChainTx {
        tx: Transaction {
            version: Version::ONE,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(Txid::hash(&seq.to_be_bytes()), 0),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output,
        },
        prevouts: vec![TxOut {
            value: Amount::from_sat(30_000),
            script_pubkey: from.script_pubkey(),
        }],
        // Ten events a block.
        place: TxPlace::Confirmed {
            height: 200 + seq / 10,
            position: (seq % 10) as u32 + 1,
            time: 1_600_000_000 + seq * 60,
        },
    }
}

/// A piece with `n` events over 20 editions: PIECE, EDITIONS, the registrations, then
/// transfers, loans, consignments and unconsignments among 12 collectors, and every 50th
/// event a forged transfer from someone who does not hold the edition.
fn piece_with_events(n: usize) -> (Address, Address, Vec<ChainTx>) {
    let federation = address("bench federation");
    let piece = address("bench piece");
    let meta = address("bench piece meta");
    let people: Vec<Address> = (0..12)
        .map(|i| address(&format!("collector {i}")))
        .collect();
    let editions = 20u64;
    let mut holder = vec![0usize; editions as usize + 1];
    let mut txs = Vec::with_capacity(n);
    let push = |txs: &mut Vec<ChainTx>, from: &Address, to: &[&Address], verb: Verb| {
        let seq = txs.len() as u64;
        txs.push(chain_tx(from, to, verb, seq));
    };
    push(
        &mut txs,
        &federation,
        &[&piece, &meta, &people[0]],
        Verb::Piece,
    );
    push(
        &mut txs,
        &federation,
        &[&piece, &meta, &people[0]],
        Verb::Editions { count: editions },
    );
    for edition in 1..=editions {
        push(
            &mut txs,
            &federation,
            &[&piece, &meta, &people[0]],
            Verb::Register { edition },
        );
    }
    let mut k = 0usize;
    while txs.len() < n {
        let edition = (k as u64 % editions) + 1;
        let owner = holder[edition as usize];
        let next = (owner + 1 + k % 5) % people.len();
        match k % 50 {
            49 => {
                let thief = (owner + 6) % people.len();
                push(
                    &mut txs,
                    &people[thief],
                    &[&piece, &people[thief]],
                    Verb::Transfer { edition },
                );
            }
            r if r % 4 == 3 => push(
                &mut txs,
                &people[owner],
                &[&piece, &people[next]],
                Verb::Loan {
                    edition,
                    start: LoanDate::parse("250101").unwrap(),
                    end: LoanDate::parse("251231").unwrap(),
                },
            ),
            r if r % 4 == 2 && txs.len() + 1 < n => {
                push(
                    &mut txs,
                    &people[owner],
                    &[&piece, &people[next]],
                    Verb::Consign { edition },
                );
                push(
                    &mut txs,
                    &people[next],
                    &[&piece, &people[owner]],
                    Verb::Unconsign { edition },
                );
            }
            _ => {
                push(
                    &mut txs,
                    &people[owner],
                    &[&piece, &people[next]],
                    Verb::Transfer { edition },
                );
                holder[edition as usize] = next;
            }
        }
        k += 1;
    }
    txs.truncate(n);
    (federation, piece, txs)
}

fn explorer(c: &mut Criterion) {
    let (federation, piece, txs) = piece_with_events(EVENTS);
    let history = History::build(&piece, NET, &txs, &[federation.to_string()]).unwrap();
    assert_eq!(history.events().len(), EVENTS);
    let invalid = history.events().iter().filter(|e| !e.valid).count();
    assert!(
        invalid > 0 && invalid < EVENTS / 10,
        "{invalid} invalid events"
    );

    let status = SyncStatus {
        indexed_height: 400,
        indexed_hash: BlockHash::all_zeros(),
        node_height: 400,
        synced: true,
    };
    let source = Arc::new(MemorySource::new(NET, status, txs.clone()));
    let app = router(
        source.clone(),
        ExplorerConfig::new(vec![federation.clone()]),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let path = format!("/piece/{piece}");
    let get = |path: &str| {
        let request = Request::get(path).body(Body::empty()).unwrap();
        runtime.block_on(async {
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            to_bytes(response.into_body(), usize::MAX).await.unwrap()
        })
    };
    let page = get(&path);
    let svg = provenance_svg(&history, &GraphOptions::default());
    let page_text = std::str::from_utf8(&page).unwrap();
    assert_eq!(page_text.matches(r#"<g class="event "#).count(), EVENTS);
    eprintln!(
        "explorer: piece page of {EVENTS} events ({invalid} invalid): {} bytes of HTML, of which the graph {} bytes; graph alone {} bytes",
        page.len(),
        page_text.find("</svg>").unwrap() - page_text.find("<svg ").unwrap() + 6,
        svg.len(),
    );

    let mut group = c.benchmark_group("explorer/1000_events");
    group.sample_size(30);
    group.bench_function("bound/history_build", |b| {
        b.iter(|| {
            History::build(
                black_box(&piece),
                NET,
                black_box(&txs),
                &[federation.to_string()],
            )
        })
    });
    group.bench_function("source_read", |b| {
        b.iter(|| source.piece_transactions(black_box(&piece)).unwrap())
    });
    group.bench_function("graph_svg", |b| {
        b.iter(|| provenance_svg(black_box(&history), &GraphOptions::default()))
    });
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("piece_page_server", |b| b.iter(|| get(black_box(&path))));
    group.finish();
}

criterion_group!(benches, explorer);
criterion_main!(benches);
