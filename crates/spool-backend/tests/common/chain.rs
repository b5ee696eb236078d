//! Making real transactions on the regtest node without a wallet: P2PKH keys, a funder that
//! owns mature coinbases, and SPOOL-shaped transactions signed with bitcoin's sighash API.

use std::str::FromStr;
use std::sync::Mutex;

use bitcoin::secp256k1::{rand, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    absolute, transaction, Address, Amount, CompressedPublicKey, Network, OutPoint, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use serde_json::{json, Value};
use spool_protocol::verb::Verb;
use spool_testenv::Node;

/// pyspool's token value.
pub const TOKEN: Amount = Amount::from_sat(3000);
/// pyspool's fee value.
pub const FEE: Amount = Amount::from_sat(30000);

/// A P2PKH key on regtest.
pub struct Key {
    secret: SecretKey,
    pub address: Address,
}

impl Key {
    pub fn random() -> Key {
        let secp = Secp256k1::new();
        let secret = SecretKey::new(&mut rand::thread_rng());
        let public = CompressedPublicKey(secret.public_key(&secp));
        Key {
            secret,
            address: Address::p2pkh(public, Network::Regtest),
        }
    }

    pub fn script(&self) -> ScriptBuf {
        self.address.script_pubkey()
    }
}

/// A P2PKH address nobody holds the key of, like a piece's file-hash address.
pub fn hash_address() -> Address {
    use bitcoin::hashes::Hash;
    let bytes: [u8; 20] = rand::random();
    Address::p2pkh(
        bitcoin::PubkeyHash::from_byte_array(bytes),
        Network::Regtest,
    )
}

/// Builds and signs a transaction spending `inputs` (all owned by `key`) to `outputs`.
pub fn signed(key: &Key, inputs: &[(OutPoint, TxOut)], outputs: Vec<TxOut>) -> Transaction {
    let mut tx = Transaction {
        version: transaction::Version::ONE,
        lock_time: absolute::LockTime::ZERO,
        input: inputs
            .iter()
            .map(|(outpoint, _)| TxIn {
                previous_output: *outpoint,
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    };
    let secp = Secp256k1::new();
    let public = bitcoin::PublicKey::new(key.secret.public_key(&secp));
    let mut script_sigs = Vec::new();
    {
        let cache = SighashCache::new(&tx);
        for (index, (_, prevout)) in inputs.iter().enumerate() {
            assert_eq!(
                prevout.script_pubkey,
                key.script(),
                "input {index} is not the key's"
            );
            let hash = cache
                .legacy_signature_hash(
                    index,
                    &prevout.script_pubkey,
                    EcdsaSighashType::All.to_u32(),
                )
                .expect("sighash");
            let sig = secp.sign_ecdsa(&Message::from(hash), &key.secret);
            let sig = bitcoin::ecdsa::Signature::sighash_all(sig);
            script_sigs.push(
                bitcoin::script::Builder::new()
                    .push_slice(sig.serialize())
                    .push_key(&public)
                    .into_script(),
            );
        }
    }
    for (input, script_sig) in tx.input.iter_mut().zip(script_sigs) {
        input.script_sig = script_sig;
    }
    tx
}

/// A SPOOL-shaped transaction: TOKEN to each recipient in order, then the verb; the rest of
/// the input value is the fee.
pub fn spool_tx(
    key: &Key,
    input: (OutPoint, TxOut),
    recipients: &[&Address],
    verb: Verb,
) -> Transaction {
    let mut outputs: Vec<TxOut> = recipients
        .iter()
        .map(|address| TxOut {
            value: TOKEN,
            script_pubkey: address.script_pubkey(),
        })
        .collect();
    outputs.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: verb.op_return_script(),
    });
    signed(key, &[input], outputs)
}

/// An unspent output as the funder sees it.
pub type Coin = (OutPoint, TxOut);

/// Owns mature coinbases and hands them out once each.
pub struct Funder {
    pub key: Key,
    coins: Mutex<Vec<Coin>>,
}

impl Funder {
    /// Mines `coinbases` blocks to a fresh key, then 100 more so that they all mature.
    pub fn new(node: &Node, coinbases: u64) -> Funder {
        let key = Key::random();
        node.mine_to(&key.address, coinbases)
            .expect("mine coinbases");
        node.mine_to(&hash_address(), 100)
            .expect("mine to maturity");
        let scan = node
            .call(
                "scantxoutset",
                &[
                    json!("start"),
                    json!([{ "desc": format!("addr({})", key.address) }]),
                ],
            )
            .expect("scantxoutset");
        let mut coins: Vec<Coin> = scan["unspents"]
            .as_array()
            .expect("unspents")
            .iter()
            .map(coin_from_scan)
            .collect();
        coins.sort_by_key(|(op, _)| (op.txid, op.vout));
        assert_eq!(coins.len() as u64, coinbases, "every coinbase found");
        Funder {
            key,
            coins: Mutex::new(coins),
        }
    }

    /// One unused coinbase.
    pub fn coin(&self) -> Coin {
        self.coins
            .lock()
            .unwrap()
            .pop()
            .expect("the funder has coins left")
    }

    /// Broadcasts (through the node) a transaction paying `count` outputs of `value` to
    /// `to`, change to the funder; returns the transaction (unconfirmed).
    pub fn fan_out(&self, node: &Node, to: &Address, value: Amount, count: usize) -> Transaction {
        let coin = self.coin();
        let mut outputs: Vec<TxOut> = (0..count)
            .map(|_| TxOut {
                value,
                script_pubkey: to.script_pubkey(),
            })
            .collect();
        let fee = Amount::from_sat(200_000);
        let change = coin.1.value - value * count as u64 - fee;
        outputs.push(TxOut {
            value: change,
            script_pubkey: self.key.script(),
        });
        let tx = signed(&self.key, &[coin], outputs);
        send(node, &tx);
        tx
    }
}

pub fn coin_from_scan(u: &Value) -> Coin {
    (
        OutPoint {
            txid: Txid::from_str(u["txid"].as_str().unwrap()).unwrap(),
            vout: u["vout"].as_u64().unwrap() as u32,
        },
        TxOut {
            value: Amount::from_btc(u["amount"].as_f64().unwrap()).unwrap(),
            script_pubkey: ScriptBuf::from_hex(u["scriptPubKey"].as_str().unwrap()).unwrap(),
        },
    )
}

/// The outputs of `tx` paying `address`.
pub fn outputs_to(tx: &Transaction, address: &Address) -> Vec<Coin> {
    let txid = tx.compute_txid();
    tx.output
        .iter()
        .enumerate()
        .filter(|(_, out)| out.script_pubkey == address.script_pubkey())
        .map(|(vout, out)| {
            (
                OutPoint {
                    txid,
                    vout: vout as u32,
                },
                out.clone(),
            )
        })
        .collect()
}

/// Sends `tx` through the node directly (not through a backend under test).
pub fn send(node: &Node, tx: &Transaction) -> Txid {
    let hex = bitcoin::consensus::encode::serialize_hex(tx);
    let txid = node
        .call("sendrawtransaction", &[json!(hex)])
        .unwrap_or_else(|err| panic!("node refused {}: {err}", tx.compute_txid()));
    Txid::from_str(txid.as_str().unwrap()).unwrap()
}

/// Mines `n` blocks to an address nobody uses; returns the new tip height.
pub fn mine(node: &Node, n: u64) -> u64 {
    node.mine_to(&hash_address(), n).expect("mine");
    tip(node)
}

pub fn tip(node: &Node) -> u64 {
    node.call("getblockcount", &[]).unwrap().as_u64().unwrap()
}

/// (height, position, time) of a confirmed transaction, from the node.
pub fn place_of(node: &Node, txid: &Txid) -> Option<(u64, u32, u64)> {
    let tx = node
        .call("getrawtransaction", &[json!(txid.to_string()), json!(1)])
        .expect("getrawtransaction");
    let hash = tx.get("blockhash")?.as_str()?.to_string();
    let block = node.call("getblock", &[json!(hash), json!(1)]).unwrap();
    let position = block["tx"]
        .as_array()
        .unwrap()
        .iter()
        .position(|t| t.as_str() == Some(&txid.to_string()))
        .unwrap() as u32;
    Some((
        block["height"].as_u64().unwrap(),
        position,
        block["time"].as_u64().unwrap(),
    ))
}

pub fn in_mempool(node: &Node, txid: &Txid) -> bool {
    node.call("getmempoolentry", &[json!(txid.to_string())])
        .is_ok()
}
