//! Building SPOOL-shaped chain data for tests: pyspool's transaction shape (inputs from one
//! address, token outputs to the recipients in order, the OP_RETURN last), unsigned.
#![allow(dead_code)]

use spool_protocol::bitcoin::absolute::LockTime;
use spool_protocol::bitcoin::hashes::Hash;
use spool_protocol::bitcoin::transaction::Version;
use spool_protocol::bitcoin::{
    Address, Amount, Network, OutPoint, PubkeyHash, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Txid, Witness,
};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::payload::op_return_script;

pub const NET: Network = Network::Regtest;

/// A distinct regtest P2PKH address per name.
pub fn addr(name: &str) -> String {
    let digest = spool_protocol::bitcoin::hashes::hash160::Hash::hash(name.as_bytes());
    Address::p2pkh(PubkeyHash::from_raw_hash(digest), NET).to_string()
}

/// The typed form of an address made by [`addr`].
#[allow(dead_code)]
pub fn typed(address: &str) -> Address {
    address.parse::<Address<_>>().unwrap().assume_checked()
}

/// The reason whose text this is (any code).
#[allow(dead_code)]
pub fn reason(text: &str) -> spool_protocol::reason::Reason {
    spool_protocol::reason::CODES
        .iter()
        .find_map(|code| spool_protocol::reason::Reason::from_parts(code, text))
        .unwrap_or_else(|| panic!("no reason reads {text:?}"))
}

pub fn script(address: &str) -> ScriptBuf {
    address
        .parse::<Address<_>>()
        .unwrap()
        .assume_checked()
        .script_pubkey()
}

pub fn confirmed(height: u64, position: u32) -> TxPlace {
    TxPlace::Confirmed {
        height,
        position,
        time: 1_600_000_000 + height * 600,
    }
}

/// A SPOOL transaction from `from` (one input per entry of `from`, so several addresses make
/// a multi-address input) to `recipients`, carrying `verb`; `seed` makes the txid unique.
pub fn spool_tx_from(
    from: &[&str],
    recipients: &[&str],
    verb: &str,
    place: TxPlace,
    seed: u64,
) -> ChainTx {
    let input = from
        .iter()
        .enumerate()
        .map(|(i, _)| TxIn {
            previous_output: OutPoint {
                txid: Txid::hash(&seed.to_le_bytes()),
                vout: i as u32,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        })
        .collect();
    let mut output: Vec<TxOut> = recipients
        .iter()
        .map(|r| TxOut {
            value: Amount::from_sat(3000),
            script_pubkey: script(r),
        })
        .collect();
    output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey: op_return_script(verb.as_bytes()).unwrap(),
    });
    let prevouts = from
        .iter()
        .map(|f| TxOut {
            value: Amount::from_sat(30000),
            script_pubkey: script(f),
        })
        .collect();
    ChainTx {
        tx: Transaction {
            version: Version::ONE,
            lock_time: LockTime::ZERO,
            input,
            output,
        },
        prevouts,
        place,
    }
}

pub fn spool_tx(from: &str, recipients: &[&str], verb: &str, place: TxPlace, seed: u64) -> ChainTx {
    spool_tx_from(&[from], recipients, verb, place, seed)
}

/// Makes `child` spend output `vout` of `parent` (for dependency order among unconfirmed).
pub fn spend(child: &mut ChainTx, parent: &ChainTx, vout: u32) {
    child.tx.input[0].previous_output = OutPoint {
        txid: parent.txid(),
        vout,
    };
    child.prevouts[0] = parent.tx.output[vout as usize].clone();
}

/// Writes the events a test scripts, one block each, in order.
pub struct Script {
    pub piece: String,
    pub meta: String,
    pub txs: Vec<ChainTx>,
    height: u64,
}

impl Script {
    pub fn new(piece: &str) -> Script {
        Script {
            piece: addr(piece),
            meta: addr(&format!("{piece}-meta")),
            txs: Vec::new(),
            height: 100,
        }
    }

    /// A registration-shaped action: [piece, meta, to].
    pub fn federated(&mut self, from: &str, verb: &str, to: &str) -> &mut Self {
        let (piece, meta) = (self.piece.clone(), self.meta.clone());
        self.push(from, &[&piece, &meta, to], verb)
    }

    /// An owner action: [piece, to].
    pub fn owner(&mut self, from: &str, verb: &str, to: &str) -> &mut Self {
        let piece = self.piece.clone();
        self.push(from, &[&piece, to], verb)
    }

    pub fn push(&mut self, from: &str, recipients: &[&str], verb: &str) -> &mut Self {
        self.height += 1;
        let tx = spool_tx(
            from,
            recipients,
            verb,
            confirmed(self.height, 1),
            self.height,
        );
        self.txs.push(tx);
        self
    }
}
