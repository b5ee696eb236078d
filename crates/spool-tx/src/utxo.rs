//! Unspent outputs as the builder consumes them; backends produce these.

use bitcoin::{Amount, OutPoint, ScriptBuf};
use serde::{Deserialize, Serialize};

/// An unspent transaction output that a wallet can spend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Utxo {
    /// The output being spent.
    pub outpoint: OutPoint,
    /// Its value.
    pub value: Amount,
    /// Its locking script (P2PKH or P2WPKH for spool wallets).
    pub script_pubkey: ScriptBuf,
    /// Confirmations at the time it was listed (0 = in the mempool).
    pub confirmations: u32,
    /// Whether it is a coinbase output (spendable only after 100 confirmations).
    pub is_coinbase: bool,
}
