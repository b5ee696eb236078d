//! spool-wallet and spool-tx benchmarks.
//!
//! - `tx/build_sign/*`: selecting, building, signing (RFC6979, low-S) and verifying every
//!   input of a SPOOL action, against `tx/bound/*`: the bare secp256k1 ECDSA signing of the
//!   same number of precomputed sighashes (and signing plus verifying, since the builder
//!   verifies every input before returning), measured in the same run.
//! - `wallet/address/7_components`: deriving the address of a 7-component time path from
//!   the master secret's tree, against 8 bare public-key computations (`wallet/bound`).
#![allow(missing_docs)]

use std::hint::black_box;

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, SecretKey};
use bitcoin::{Address, Amount, Network, OutPoint, Txid};
use criterion::{criterion_group, criterion_main, Criterion};
use spool_protocol::verb::Verb;
use spool_tx::{build_action, TxParams, Utxo};
use spool_wallet::{secp, LeafPath, MasterSecret, SigningKey, Wallet};

fn utxo(key: &SigningKey, value: u64, n: u32) -> Utxo {
    Utxo {
        outpoint: OutPoint::new(Txid::from_byte_array([n as u8 + 1; 32]), n),
        value: Amount::from_sat(value),
        script_pubkey: key.address().script_pubkey(),
        confirmations: 6,
        is_coinbase: false,
    }
}

fn build_and_sign(c: &mut Criterion) {
    let wallet = Wallet::from_secret(&MasterSecret::new("bench-secret"), Network::Testnet).unwrap();
    let key = wallet
        .signing_key(&LeafPath::parse("0/1/2").unwrap())
        .unwrap();
    let to = |p: &str| -> Address { wallet.address(&LeafPath::parse(p).unwrap()).unwrap() };
    // A wallet of 4 fuel and 6 token outputs (plus selection work over all of them).
    let utxos: Vec<Utxo> = (0..4)
        .map(|i| utxo(&key, 30_000, i))
        .chain((4..10).map(|i| utxo(&key, 3_000, i)))
        .collect();
    let params = TxParams::default();

    // TRANSFER: 1 fuel + 2 tokens in (3 inputs); 2 tokens + OP_RETURN out.
    let transfer = [to("1"), to("2")];
    let built = build_action(
        &params,
        &Verb::Transfer { edition: 1 },
        &transfer,
        &utxos,
        &key,
    )
    .unwrap();
    assert_eq!((built.tx.input.len(), built.tx.output.len()), (3, 3));
    // REGISTER: 1 fuel + 3 tokens in; 3 tokens + OP_RETURN out (4 outputs).
    let register = [to("1"), to("2"), to("3")];
    let built = build_action(
        &params,
        &Verb::Register { edition: 1 },
        &register,
        &utxos,
        &key,
    )
    .unwrap();
    assert_eq!((built.tx.input.len(), built.tx.output.len()), (4, 4));

    let mut g = c.benchmark_group("tx/build_sign");
    g.bench_function("transfer_3in_3out", |b| {
        b.iter(|| {
            build_action(
                &params,
                black_box(&Verb::Transfer { edition: 1 }),
                &transfer,
                &utxos,
                &key,
            )
            .unwrap()
        })
    });
    g.bench_function("register_4in_4out", |b| {
        b.iter(|| {
            build_action(
                &params,
                black_box(&Verb::Register { edition: 1 }),
                &register,
                &utxos,
                &key,
            )
            .unwrap()
        })
    });
    g.finish();

    // The bound: bare secp256k1 signing of the same number of sighashes.
    let sk = SecretKey::from_slice(&[0x42; 32]).unwrap();
    let pk = sk.public_key(secp());
    let msgs: Vec<Message> = (0..4u8)
        .map(|i| Message::from_digest([i + 7; 32]))
        .collect();
    let mut g = c.benchmark_group("tx/bound");
    for n in [3usize, 4] {
        g.bench_function(format!("secp_sign_{n}"), |b| {
            b.iter(|| {
                for m in &msgs[..n] {
                    black_box(secp().sign_ecdsa(black_box(m), &sk));
                }
            })
        });
        g.bench_function(format!("secp_sign_verify_{n}"), |b| {
            b.iter(|| {
                for m in &msgs[..n] {
                    let sig = secp().sign_ecdsa(black_box(m), &sk);
                    secp().verify_ecdsa(m, &sig, &pk).unwrap();
                }
            })
        });
    }
    g.finish();
}

fn derive(c: &mut Criterion) {
    let wallet = Wallet::from_secret(&MasterSecret::new("bench-secret"), Network::Bitcoin).unwrap();
    let path = LeafPath::parse("2015/5/28/9/28/44/982190").unwrap();
    c.bench_function("wallet/address/7_components", |b| {
        b.iter(|| wallet.address(black_box(&path)).unwrap())
    });
    // The bound: each non-hardened step computes the parent's public key (one EC
    // multiplication), and the address needs the leaf's: 8 multiplications.
    let sk = SecretKey::from_slice(&[0x42; 32]).unwrap();
    c.bench_function("wallet/bound/secp_pubkey_8", |b| {
        b.iter(|| {
            for _ in 0..8 {
                black_box(black_box(sk).public_key(secp()));
            }
        })
    });
    c.bench_function("wallet/unique_path", |b| b.iter(LeafPath::unique));
}

fn op_return(c: &mut Criterion) {
    let verb = Verb::Transfer { edition: 42 };
    c.bench_function("tx/op_return_script", |b| {
        b.iter(|| black_box(verb).op_return_script())
    });
}

criterion_group!(benches, build_and_sign, derive, op_return);
criterion_main!(benches);
