//! Provenance certificates: offline verification of a certificate with 1,000 events, against
//! `History::build` on the same transactions as the bound (the rules alone, without the
//! proofs); and the certificate's size per event, printed. The chain is synthetic: real
//! headers mined at regtest's bits, real merkle trees and coinbases, 5 events a block.

#![allow(missing_docs)] // criterion_group! makes an undocumented public function

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::hashes::{hash160, Hash};
use bitcoin::script::Builder;
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, BlockHash, CompactTarget, MerkleBlock, Network, OutPoint, PubkeyHash,
    ScriptBuf, Sequence, Transaction, TxIn, TxMerkleNode, TxOut, Txid, Witness,
};
use criterion::{criterion_group, criterion_main, Criterion};
use spool_protocol::certificate::{coinbase_branch, Certificate, IssueInput, BURIAL_HEADERS};
use spool_protocol::chain::{ChainTx, TxInclusion, TxPlace};
use spool_protocol::history::History;
use spool_protocol::payload::op_return_script;

const NET: Network = Network::Regtest;
const EVENTS: usize = 1_000;
const PER_BLOCK: usize = 5;

fn addr(name: &str) -> Address {
    Address::p2pkh(
        PubkeyHash::from_raw_hash(hash160::Hash::hash(name.as_bytes())),
        NET,
    )
}

fn input(txid: Txid) -> TxIn {
    TxIn {
        previous_output: OutPoint { txid, vout: 0 },
        script_sig: ScriptBuf::new(),
        sequence: Sequence::MAX,
        witness: Witness::new(),
    }
}

fn tx(inputs: Vec<TxIn>, output: Vec<TxOut>) -> Transaction {
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: inputs,
        output,
    }
}

fn pay(to: &Address, sat: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(sat),
        script_pubkey: to.script_pubkey(),
    }
}

struct Built {
    piece: Address,
    federation: Vec<String>,
    txs: Vec<ChainTx>,
    previous: Vec<Transaction>,
    inclusions: BTreeMap<Txid, TxInclusion>,
    headers: BTreeMap<u64, Header>,
    tip: (u64, BlockHash),
}

/// REGISTER0, EDITIONS1, REGISTER1 from the federation, then transfers of edition 1
/// between two collectors: `EVENTS` events, `PER_BLOCK` a block.
fn build() -> Built {
    let (piece, meta, fed) = (addr("piece"), addr("meta"), addr("federation"));
    let owners = [addr("alice"), addr("bob")];
    let mut events: Vec<(Address, Vec<Address>, String)> = vec![
        (
            fed.clone(),
            vec![piece.clone(), meta.clone(), owners[0].clone()],
            "ASCRIBESPOOL01REGISTER0".into(),
        ),
        (
            fed.clone(),
            vec![piece.clone(), meta.clone(), owners[0].clone()],
            "ASCRIBESPOOL01EDITIONS1".into(),
        ),
        (
            fed.clone(),
            vec![piece.clone(), meta.clone(), owners[0].clone()],
            "ASCRIBESPOOL01REGISTER1".into(),
        ),
    ];
    for i in 0..EVENTS - 3 {
        events.push((
            owners[i % 2].clone(),
            vec![piece.clone(), owners[(i + 1) % 2].clone()],
            "ASCRIBESPOOL01TRANSFER1".into(),
        ));
    }
    let mut txs = Vec::new();
    let mut previous = Vec::new();
    for (i, (from, to, verb)) in events.iter().enumerate() {
        let funding = tx(
            vec![input(Txid::hash(&(i as u64).to_le_bytes()))],
            vec![pay(from, 30_000)],
        );
        let mut output: Vec<TxOut> = to.iter().map(|a| pay(a, 3_000)).collect();
        output.push(TxOut {
            value: Amount::ZERO,
            script_pubkey: op_return_script(verb.as_bytes()).unwrap(),
        });
        let event = tx(vec![input(funding.compute_txid())], output);
        txs.push(ChainTx {
            tx: event,
            prevouts: funding.output.clone(),
            place: TxPlace::Unconfirmed,
        });
        previous.push(funding);
    }
    let first = 101u64;
    let blocks = EVENTS.div_ceil(PER_BLOCK) as u64;
    let last = first + blocks - 1 + BURIAL_HEADERS;
    let (mut headers, mut inclusions) = (BTreeMap::new(), BTreeMap::new());
    let mut prev = BlockHash::all_zeros();
    for height in first..=last {
        let coinbase = tx(
            vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: Builder::new()
                    .push_int(height as i64)
                    .push_slice([1u8; 4])
                    .into_script(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            vec![pay(&addr("miner"), 50_0000_0000)],
        );
        let index = (height - first) as usize;
        let ours: Vec<usize> = (index * PER_BLOCK..((index + 1) * PER_BLOCK).min(EVENTS))
            .filter(|_| height < first + blocks)
            .collect();
        let mut block = vec![coinbase.clone()];
        block.extend(ours.iter().map(|&i| txs[i].tx.clone()));
        let txids: Vec<Txid> = block.iter().map(Transaction::compute_txid).collect();
        let root = bitcoin::merkle_tree::calculate_root(
            txids
                .iter()
                .map(|t| TxMerkleNode::from_raw_hash(t.to_raw_hash())),
        )
        .unwrap();
        let mut header = Header {
            version: BlockVersion::from_consensus(0x2000_0000),
            prev_blockhash: prev,
            merkle_root: root,
            time: 1_600_000_000 + height as u32 * 600,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        };
        while header.validate_pow(header.target()).is_err() {
            header.nonce += 1;
        }
        prev = header.block_hash();
        for (k, &i) in ours.iter().enumerate() {
            let txid = txids[k + 1];
            txs[i].place = TxPlace::Confirmed {
                height,
                position: k as u32 + 1,
                time: u64::from(header.time),
            };
            inclusions.insert(
                txid,
                TxInclusion {
                    height,
                    merkle_block: MerkleBlock::from_header_txids_with_predicate(
                        &header,
                        &txids,
                        |t| *t == txid,
                    ),
                    coinbase: coinbase.clone(),
                    coinbase_branch: coinbase_branch(&txids),
                },
            );
        }
        headers.insert(height, header);
    }
    Built {
        piece,
        federation: vec![fed.to_string()],
        txs,
        previous,
        inclusions,
        headers,
        tip: (last, prev),
    }
}

fn certificate(c: &mut Criterion) {
    let built = build();
    let cert = Certificate::issue(IssueInput {
        network: NET,
        piece: &built.piece,
        edition: 1,
        federation: &built.federation,
        tip_height: built.tip.0,
        tip_hash: built.tip.1,
        issued_at: 0,
        issuer: "bench",
        txs: &built.txs,
        previous: &built.previous,
        inclusions: &built.inclusions,
        headers: &built.headers,
    })
    .expect("issued");
    assert_eq!(cert.events.len(), EVENTS);
    let json = cert.to_json();
    let mut group = c.benchmark_group("certificate_1000_events");
    group.bench_function("verify", |b| b.iter(|| cert.verify().unwrap()));
    group.bench_function("history_build_bound", |b| {
        b.iter(|| History::build(&built.piece, NET, &built.txs, &built.federation).unwrap())
    });
    group.bench_function("parse_and_verify", |b| {
        b.iter(|| Certificate::from_json(&json).unwrap().verify().unwrap())
    });
    group.finish();
    let best = |f: &dyn Fn()| {
        (0..10)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO)
    };
    let verify = best(&|| {
        cert.verify().unwrap();
    });
    let bound = best(&|| {
        History::build(&built.piece, NET, &built.txs, &built.federation).unwrap();
    });
    println!(
        "certificate, {EVENTS} events: verify {:.1} ms, History::build {:.1} ms: {:.2}x the bound (goal <= 3x, < 50 ms); {} bytes, {} bytes per event",
        verify.as_secs_f64() * 1e3,
        bound.as_secs_f64() * 1e3,
        verify.as_secs_f64() / bound.as_secs_f64(),
        json.len(),
        json.len() / EVENTS
    );
}

criterion_group!(benches, certificate);
criterion_main!(benches);
