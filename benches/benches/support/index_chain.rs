//! Regtest chains for the index benchmarks: many blocks of realistic size (a filler
//! transaction paying hundreds of unrelated addresses) with SPOOL transactions among them.

use std::time::Duration;

use bitcoin::{Address, Amount, Network, ScriptBuf, TxOut};
use spool_backend::core::CoreAuth;
use spool_index::{FollowerConfig, NodeConfig, NodeRpc};
use spool_protocol::verb::Verb;
use spool_testenv::Node;

use crate::chain::{self, hash_address, outputs_to, spool_tx, Coin, Funder, Key};

/// Value of each coin a SPOOL sender spends.
pub const SPOOL_COIN: Amount = Amount::from_sat(10_000);
/// Value of each coin a filler transaction spends.
pub const FILLER_COIN: Amount = Amount::from_sat(1_000_000);
/// Outputs of one filler (about 34 bytes each).
const FILLER_OUTPUTS: usize = 1_500;

pub fn node_config(node: &Node) -> NodeConfig {
    NodeConfig {
        url: node.rpc_url(),
        auth: CoreAuth::Cookie(node.cookie_file()),
        timeout: Duration::from_secs(120),
    }
}

/// Fetches every block's raw bytes over RPC alone (`getblock HASH 0` in batches of about
/// 8 MB), nothing parsed: the bound of a full scan. Returns (blocks, bytes).
pub fn fetch_all(node: &Node) -> (u64, u64) {
    let rpc = NodeRpc::new(&node_config(node)).unwrap();
    let tip = rpc.tip_height().unwrap();
    let mut height = 0;
    let mut per_trip = 16u64;
    let (mut blocks, mut bytes) = (0u64, 0u64);
    while height <= tip {
        let end = (height + per_trip - 1).min(tip);
        let heights: Vec<u64> = (height..=end).collect();
        let hashes = rpc.block_hashes(&heights).unwrap();
        let params: Vec<Vec<serde_json::Value>> = hashes
            .iter()
            .map(|h| vec![serde_json::json!(h.to_string()), serde_json::json!(0)])
            .collect();
        let mut trip = 0;
        for hex in rpc.batch_ok("getblock", &params, params.len()).unwrap() {
            trip += hex.as_str().unwrap().len() as u64 / 2;
        }
        blocks += heights.len() as u64;
        bytes += trip;
        per_trip = ((8u64 << 20) / (trip / heights.len() as u64).max(1)).clamp(1, 128);
        height = end + 1;
    }
    (blocks, bytes)
}

pub fn follower_config(node: &Node, watch: &[&Address]) -> FollowerConfig {
    FollowerConfig {
        node: node_config(node),
        network: Network::Regtest,
        index_from: 0,
        poll: Duration::from_millis(100),
        watch: watch.iter().map(|a| a.script_pubkey()).collect(),
        filters: None,
        full_scan: Default::default(),
    }
}

/// A sender with coins.
pub struct Purse {
    pub key: Key,
    pub coins: Vec<Coin>,
}

impl Purse {
    /// `count` coins of `value`, from as many fan-outs as needed (unconfirmed).
    pub fn new(node: &Node, funder: &Funder, value: Amount, count: usize) -> Purse {
        let key = Key::random();
        let mut coins = Vec::with_capacity(count);
        let per_fan = ((40 * 100_000_000) / value.to_sat()).min(1_000) as usize;
        while coins.len() < count {
            let n = per_fan.min(count - coins.len());
            let fan = funder.fan_out(node, &key.address, value, n);
            coins.extend(outputs_to(&fan, &key.address));
        }
        Purse { key, coins }
    }

    pub fn spool(&mut self, node: &Node, recipients: &[&Address], verb: Verb) {
        let coin = self.coins.pop().expect("purse not empty");
        chain::send(node, &spool_tx(&self.key, coin, recipients, verb));
    }

    /// A big transaction paying hundreds of unrelated addresses.
    pub fn filler(&mut self, node: &Node) {
        let coin = self.coins.pop().expect("purse not empty");
        let outputs = (0..FILLER_OUTPUTS)
            .map(|_| TxOut {
                value: Amount::from_sat(600),
                script_pubkey: hash_address().script_pubkey(),
            })
            .collect();
        chain::send(node, &chain::signed(&self.key, &[coin], outputs));
    }
}

/// Inputs and outputs of one churn transaction.
const CHURN_OUTPUTS: usize = 500;
/// Keys the churn pays in turn (each block's outputs go to the next 500 of them).
const CHURN_KEYS: usize = 5_000;

/// The filler of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filler {
    /// A ~51 kB transaction paying 1,500 new P2PKH outputs that nobody spends: the UTXO set
    /// grows by 1,500 a block (113 times mainnet's UTXOs per byte of chain).
    FanOut,
    /// A ~90 kB transaction spending all 500 P2WPKH outputs of the previous block's and
    /// paying 500 new ones to other keys: hundreds of inputs and outputs a block, as on
    /// mainnet, and a UTXO set that stays small.
    Churn,
}

/// The churn filler's keys and its unspent outputs.
pub struct Churn {
    secp: bitcoin::secp256k1::Secp256k1<bitcoin::secp256k1::All>,
    keys: Vec<(
        bitcoin::secp256k1::SecretKey,
        bitcoin::secp256k1::PublicKey,
        ScriptBuf,
    )>,
    coins: Vec<(bitcoin::OutPoint, TxOut, usize)>,
    next_key: usize,
}

impl Churn {
    /// A pool of keys, funded with one 10 BTC output (unconfirmed).
    pub fn new(node: &Node, funder: &Funder) -> Churn {
        use bitcoin::secp256k1::{rand, Secp256k1, SecretKey};
        let secp = Secp256k1::new();
        let keys: Vec<_> = (0..CHURN_KEYS)
            .map(|_| {
                let secret = SecretKey::new(&mut rand::thread_rng());
                let public = secret.public_key(&secp);
                let script =
                    ScriptBuf::new_p2wpkh(&bitcoin::CompressedPublicKey(public).wpubkey_hash());
                (secret, public, script)
            })
            .collect();
        let first = Address::p2wpkh(&bitcoin::CompressedPublicKey(keys[0].1), Network::Regtest);
        let fan = funder.fan_out(node, &first, Amount::from_btc(10.0).unwrap(), 1);
        let coins = chain::outputs_to(&fan, &first)
            .into_iter()
            .map(|(outpoint, out)| (outpoint, out, 0))
            .collect();
        Churn {
            secp,
            keys,
            coins,
            next_key: 1,
        }
    }

    /// Spends every unspent output into [`CHURN_OUTPUTS`] new ones (sent, unconfirmed).
    pub fn churn(&mut self, node: &Node) {
        use bitcoin::sighash::{EcdsaSighashType, SighashCache};
        use bitcoin::{absolute, transaction, Sequence, TxIn, Witness};
        let inputs = std::mem::take(&mut self.coins);
        let total: Amount = inputs.iter().map(|(_, out, _)| out.value).sum();
        let fee = Amount::from_sat(120_000);
        let each = (total - fee) / CHURN_OUTPUTS as u64;
        let paid: Vec<usize> = (0..CHURN_OUTPUTS)
            .map(|i| (self.next_key + i) % CHURN_KEYS)
            .collect();
        self.next_key = (self.next_key + CHURN_OUTPUTS) % CHURN_KEYS;
        let mut tx = bitcoin::Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: inputs
                .iter()
                .map(|(outpoint, _, _)| TxIn {
                    previous_output: *outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::MAX,
                    witness: Witness::new(),
                })
                .collect(),
            output: paid
                .iter()
                .map(|&k| TxOut {
                    value: each,
                    script_pubkey: self.keys[k].2.clone(),
                })
                .collect(),
        };
        let witnesses: Vec<Witness> = {
            let mut cache = SighashCache::new(&tx);
            inputs
                .iter()
                .enumerate()
                .map(|(index, (_, out, k))| {
                    let hash = cache
                        .p2wpkh_signature_hash(
                            index,
                            &out.script_pubkey,
                            out.value,
                            EcdsaSighashType::All,
                        )
                        .expect("sighash");
                    let sig = self
                        .secp
                        .sign_ecdsa(&bitcoin::secp256k1::Message::from(hash), &self.keys[*k].0);
                    Witness::p2wpkh(
                        &bitcoin::ecdsa::Signature::sighash_all(sig),
                        &self.keys[*k].1,
                    )
                })
                .collect()
        };
        for (input, witness) in tx.input.iter_mut().zip(witnesses) {
            input.witness = witness;
        }
        chain::send(node, &tx);
        let txid = tx.compute_txid();
        self.coins = tx
            .output
            .iter()
            .zip(paid)
            .enumerate()
            .map(|(vout, (out, k))| (bitcoin::OutPoint::new(txid, vout as u32), out.clone(), k))
            .collect();
    }
}

/// What [`build`] made.
pub struct Built {
    pub node: Node,
    pub federation: Key,
    pub pieces: Vec<Address>,
    pub spool_txs: u64,
}

/// A chain of about `blocks` blocks (plus the funding ones), each with a filler when
/// `fillers`, and `spool_txs` SPOOL registrations spread evenly over `pieces` pieces.
pub fn build(blocks: u64, spool_txs: u64, pieces: usize, fillers: bool) -> Built {
    let node = Node::start().expect("regtest node");
    let coinbases = 10 + if fillers { blocks / 40 + 1 } else { 0 } + spool_txs / 1000;
    let funder = Funder::new(&node, coinbases);
    let mut fed = Purse::new(&node, &funder, SPOOL_COIN, spool_txs as usize + pieces);
    let mut filler = if fillers {
        Some(Purse::new(&node, &funder, FILLER_COIN, blocks as usize))
    } else {
        None
    };
    chain::mine(&node, 1);
    let owner = hash_address();
    let piece_addresses: Vec<Address> = (0..pieces).map(|_| hash_address()).collect();
    for piece in &piece_addresses {
        fed.spool(&node, &[piece, &owner], Verb::Piece);
    }
    let per_block = spool_txs.div_ceil(blocks.max(1));
    let mut sent = 0u64;
    for _ in 0..blocks {
        if let Some(f) = filler.as_mut() {
            f.filler(&node);
        }
        for _ in 0..per_block {
            if sent >= spool_txs {
                break;
            }
            let piece = &piece_addresses[sent as usize % pieces];
            let edition = sent / pieces as u64 + 1;
            fed.spool(&node, &[piece, &owner], Verb::Register { edition });
            sent += 1;
        }
        chain::mine(&node, 1);
    }
    Built {
        node,
        federation: fed.key,
        pieces: piece_addresses,
        spool_txs: sent + pieces as u64,
    }
}

/// A chain of `blocks` blocks, each with a filler, where only every `every`-th block holds
/// SPOOL activity (`per_active` registrations of the federation's pieces), on a node run
/// with `args` (e.g. `-blockfilterindex=1`, `-rest=1`). Returns when the node's filter
/// index (if any) has caught up.
pub fn build_sparse(
    blocks: u64,
    every: u64,
    per_active: u64,
    pieces: usize,
    filler: Filler,
    args: &[&str],
) -> Built {
    let node = Node::start_with_args(args).expect("regtest node");
    let active = blocks / every.max(1);
    let spool_txs = active * per_active;
    let funder = Funder::new(&node, 10 + blocks / 40 + 1);
    let mut fed = Purse::new(&node, &funder, SPOOL_COIN, spool_txs as usize + pieces);
    let mut fan_out = (filler == Filler::FanOut)
        .then(|| Purse::new(&node, &funder, FILLER_COIN, blocks as usize));
    let mut churn = (filler == Filler::Churn).then(|| Churn::new(&node, &funder));
    chain::mine(&node, 1);
    let owner = hash_address();
    let piece_addresses: Vec<Address> = (0..pieces).map(|_| hash_address()).collect();
    for piece in &piece_addresses {
        fed.spool(&node, &[piece, &owner], Verb::Piece);
    }
    chain::mine(&node, 1);
    let mut sent = 0u64;
    for height in 0..blocks {
        if let Some(purse) = fan_out.as_mut() {
            purse.filler(&node);
        }
        if let Some(churn) = churn.as_mut() {
            churn.churn(&node);
        }
        if height % every.max(1) == every.max(1) / 2 {
            for _ in 0..per_active {
                let piece = &piece_addresses[sent as usize % pieces];
                let edition = sent / pieces as u64 + 1;
                fed.spool(&node, &[piece, &owner], Verb::Register { edition });
                sent += 1;
            }
        }
        chain::mine(&node, 1);
    }
    if args.iter().any(|a| a.starts_with("-blockfilterindex")) {
        let tip = chain::tip(&node);
        let started = std::time::Instant::now();
        loop {
            let info = node.call("getindexinfo", &[]).expect("getindexinfo");
            let filters = &info["basic block filter index"];
            if filters["best_block_height"].as_u64() == Some(tip) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the node's filter index did not catch up: {info}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Built {
        node,
        federation: fed.key,
        pieces: piece_addresses,
        spool_txs: sent + pieces as u64,
    }
}
