//! spool-protocol benchmarks: verb encode/decode, file-hash throughput against plain MD5 of the
//! same bytes (the bound), and history + ownership for a piece with 10,000 events.
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{hash160, Hash};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, Network, OutPoint, PubkeyHash, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use md5::{Digest, Md5};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::file_hash::FileHashes;
use spool_protocol::history::History;
use spool_protocol::ownership::Ownership;
use spool_protocol::payload::decipher;
use spool_protocol::verb::{DecodedVerb, LoanDate, Verb};

const NET: Network = Network::Regtest;

fn verbs(c: &mut Criterion) {
    let transfer = Verb::Transfer { edition: 42 };
    let loan = Verb::loan(1729, "150526", "150528").unwrap();
    let mut group = c.benchmark_group("verb");
    group.bench_function("encode/transfer", |b| {
        b.iter(|| black_box(transfer).to_string())
    });
    group.bench_function("encode/loan", |b| b.iter(|| black_box(loan).to_string()));
    group.bench_function("encode/op_return_script", |b| {
        b.iter(|| black_box(transfer).op_return_script())
    });
    let transfer_text = transfer.to_string();
    let loan_text = loan.to_string();
    group.bench_function("decode/transfer", |b| {
        b.iter(|| Verb::decode(black_box(&transfer_text)))
    });
    group.bench_function("decode/loan", |b| {
        b.iter(|| Verb::decode(black_box(&loan_text)))
    });
    group.bench_function("decode_pyspool/loan", |b| {
        b.iter(|| DecodedVerb::parse(black_box(&loan_text)))
    });
    group.bench_function("decode/invalid", |b| {
        b.iter(|| Verb::decode(black_box("ASCRIBESPOOL01REGISTER 1")))
    });
    let tx = spool_tx(
        &addr("alice"),
        &[&addr("piece"), &addr("bob")],
        &transfer,
        1,
        TxPlace::Unconfirmed,
    )
    .tx;
    group.bench_function("decipher/transaction", |b| {
        b.iter(|| decipher(black_box(&tx)))
    });
    group.finish();
}

fn file_hashes(c: &mut Criterion) {
    let len = 8 * 1024 * 1024;
    let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let metadata = BTreeMap::from([
        ("artist".to_owned(), "Rodolphe Marques".to_owned()),
        ("title".to_owned(), "ascribe".to_owned()),
    ]);
    let mut group = c.benchmark_group("file_hash");
    group.throughput(Throughput::Bytes(len as u64));
    group.bench_function("md5_baseline/8MiB", |b| {
        b.iter(|| Md5::digest(black_box(&bytes)))
    });
    group.bench_function("from_reader/8MiB", |b| {
        b.iter(|| FileHashes::from_reader(black_box(bytes.as_slice()), NET, &metadata).unwrap())
    });
    group.bench_function("from_bytes/8MiB", |b| {
        b.iter(|| FileHashes::from_bytes(black_box(&bytes), NET, &metadata))
    });
    // The bound of issue 13: OpenSSL's md5 (what pyspool's `hashlib.md5` runs) on the same
    // bytes from the same file, as a process. Its start-up is timed on an empty file beside it,
    // so the difference of the two is OpenSSL's hashing alone; `from_file` reads the same file.
    let dir = std::env::temp_dir().join(format!("spool-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let file = dir.join("content.bin");
    let empty = dir.join("empty.bin");
    std::fs::write(&file, &bytes).expect("write the bench file");
    std::fs::write(&empty, b"").expect("write the empty file");
    let openssl = |path: &std::path::Path| {
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-md5"])
            .arg(path)
            .output()
            .expect("openssl must be installed: the file_hash bound is `openssl dgst -md5`");
        assert!(out.status.success(), "openssl dgst -md5 failed");
        out.stdout
    };
    group.bench_function("openssl_dgst_md5/8MiB", |b| b.iter(|| openssl(&file)));
    group.bench_function("openssl_dgst_md5/startup", |b| b.iter(|| openssl(&empty)));
    group.bench_function("from_file/8MiB", |b| {
        b.iter(|| {
            let reader = std::fs::File::open(&file).expect("open the bench file");
            FileHashes::from_reader(reader, NET, &metadata).unwrap()
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

fn addr(name: &str) -> String {
    let digest = hash160::Hash::hash(name.as_bytes());
    Address::p2pkh(PubkeyHash::from_raw_hash(digest), NET).to_string()
}

fn script(address: &str) -> ScriptBuf {
    address
        .parse::<Address<_>>()
        .unwrap()
        .assume_checked()
        .script_pubkey()
}

fn spool_tx(from: &str, recipients: &[&str], verb: &Verb, seed: u64, place: TxPlace) -> ChainTx {
    let mut output: Vec<TxOut> = recipients
        .iter()
        .map(|r| TxOut {
            value: Amount::from_sat(3000),
            script_pubkey: script(r),
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
                previous_output: OutPoint {
                    txid: Txid::hash(&seed.to_le_bytes()),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output,
        },
        prevouts: vec![TxOut {
            value: Amount::from_sat(30000),
            script_pubkey: script(from),
        }],
        place,
    }
}

/// A piece with `n` valid events: PIECE, EDITIONS, REGISTER 1..=100, then transfers,
/// consignments, unconsignments and loans passing 100 editions around 20 collectors; ten
/// events per block. Returned in reverse chain order, so that building has to sort.
fn big_piece(n: usize) -> (String, String, Vec<ChainTx>) {
    let fed = addr("federation");
    let piece = addr("piece");
    let meta = addr("piece-meta");
    let cast: Vec<String> = (0..20).map(|i| addr(&format!("collector {i}"))).collect();
    let editions = 100u64;
    let mut holder: Vec<usize> = vec![0; editions as usize + 1];
    let mut txs = Vec::with_capacity(n);
    let mut push = |from: &str, recipients: &[&str], verb: Verb| {
        let i = txs.len() as u64;
        let place = TxPlace::Confirmed {
            height: 1000 + i / 10,
            position: (i % 10) as u32 + 1,
            time: 1_500_000_000 + i * 60,
        };
        txs.push(spool_tx(from, recipients, &verb, i, place));
    };
    push(&fed, &[&piece, &meta, &cast[0]], Verb::Piece);
    push(
        &fed,
        &[&piece, &meta, &cast[0]],
        Verb::Editions { count: editions },
    );
    for e in 1..=editions {
        push(
            &fed,
            &[&piece, &meta, &cast[0]],
            Verb::Register { edition: e },
        );
    }
    let loan = Verb::Loan {
        edition: 0,
        start: LoanDate::parse("150526").unwrap(),
        end: LoanDate::parse("150528").unwrap(),
    };
    let mut k = 0u64;
    while (k as usize) + 2 + editions as usize + 1 < n {
        let e = k % editions + 1;
        let owner = holder[e as usize];
        let next = (owner + 1 + (k as usize % 7)) % cast.len();
        match k % 5 {
            0 | 1 => {
                push(
                    &cast[owner],
                    &[&piece, &cast[next]],
                    Verb::Transfer { edition: e },
                );
                holder[e as usize] = next;
            }
            2 => {
                let Verb::Loan { start, end, .. } = loan else {
                    unreachable!()
                };
                push(
                    &cast[owner],
                    &[&piece, &cast[next]],
                    Verb::Loan {
                        edition: e,
                        start,
                        end,
                    },
                );
            }
            _ => {
                push(
                    &cast[owner],
                    &[&piece, &cast[next]],
                    Verb::Consign { edition: e },
                );
                push(
                    &cast[next],
                    &[&piece, &cast[owner]],
                    Verb::Unconsign { edition: e },
                );
                k += 1;
            }
        }
        k += 1;
    }
    txs.reverse();
    let owner_of_1 = cast[holder[1]].clone();
    (piece, owner_of_1, txs)
}

fn history_and_ownership(c: &mut Criterion) {
    let (piece, owner, txs) = big_piece(10_000);
    let piece: Address = piece.parse::<Address<_>>().unwrap().assume_checked();
    let federation = vec![addr("federation")];
    let history = History::build(&piece, NET, &txs, &federation).unwrap();
    assert!(
        history.events().len() >= 9_999,
        "{}",
        history.events().len()
    );
    assert!(history.events().iter().all(|e| e.valid));
    let mut group = c.benchmark_group("piece_10k_events");
    group.sample_size(20);
    group.throughput(Throughput::Elements(history.events().len() as u64));
    group.bench_function("history_build", |b| {
        b.iter(|| History::build(black_box(&piece), NET, black_box(&txs), &federation))
    });
    group.finish();
    // Ownership reads the verified state: its cost does not grow with the events.
    let mut group = c.benchmark_group("piece_10k_events");
    group.sample_size(20);
    group.bench_function("ownership_checks", |b| {
        b.iter(|| {
            let o = Ownership::new(black_box(&history), &owner, 1);
            (
                o.can_transfer(),
                o.can_unconsign(),
                o.owner(),
                o.borrower_on(LoanDate(*b"150527")),
            )
        })
    });
    group.bench_function("history_build_then_ownership", |b| {
        b.iter_batched(
            || (),
            |()| {
                let h = History::build(&piece, NET, &txs, &federation).unwrap();
                let o = Ownership::new(&h, &owner, 1);
                (o.can_transfer(), o.owner())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, verbs, file_hashes, history_and_ownership);
criterion_main!(benches);
