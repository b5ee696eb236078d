//! A signed, verified transaction ready to broadcast.

use bitcoin::{Amount, OutPoint, Transaction, Txid};

/// A signed transaction whose every input was verified against its prevout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltTx {
    /// The signed transaction.
    pub tx: Transaction,
    /// Its fee (inputs minus outputs).
    pub fee: Amount,
    /// The outpoints it spends, in input order.
    pub spent: Vec<OutPoint>,
}

impl BuiltTx {
    /// The transaction id.
    pub fn txid(&self) -> Txid {
        self.tx.compute_txid()
    }

    /// The consensus serialization in hex, as `sendrawtransaction` takes it.
    pub fn hex(&self) -> String {
        bitcoin::consensus::encode::serialize_hex(&self.tx)
    }

    /// The signed virtual size in vbytes.
    pub fn vsize(&self) -> usize {
        self.tx.vsize()
    }
}
