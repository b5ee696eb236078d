//! [`MemorySource`]: an [`ExplorerSource`] over a list of transactions held in memory, for
//! rendering a known set of transactions (tests, benchmarks, a one-off export).

use std::collections::{BTreeSet, HashMap};

use bitcoin::{Address, Network, Txid};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::payload::find_verb;
use spool_protocol::verb::Verb;

use crate::source::{ExplorerSource, ReplacedTx, SourceError, SyncStatus};

/// Transactions held in memory, answered by scanning them.
#[derive(Debug, Clone)]
pub struct MemorySource {
    network: Network,
    status: SyncStatus,
    txs: Vec<ChainTx>,
    by_txid: HashMap<Txid, usize>,
    replaced: HashMap<Txid, ReplacedTx>,
}

impl MemorySource {
    /// A source of `txs` (later duplicates of a txid are ignored) on `network`, reporting
    /// `status`.
    pub fn new(network: Network, status: SyncStatus, txs: Vec<ChainTx>) -> MemorySource {
        let mut kept = Vec::with_capacity(txs.len());
        let mut by_txid = HashMap::with_capacity(txs.len());
        for chain_tx in txs {
            let txid = chain_tx.txid();
            if let std::collections::hash_map::Entry::Vacant(slot) = by_txid.entry(txid) {
                slot.insert(kept.len());
                kept.push(chain_tx);
            }
        }
        MemorySource {
            network,
            status,
            txs: kept,
            by_txid,
            replaced: HashMap::new(),
        }
    }

    /// The same source, also knowing `replaced` (transactions that left the mempool for
    /// another spending their outpoints).
    #[must_use]
    pub fn with_replaced(mut self, replaced: Vec<ReplacedTx>) -> MemorySource {
        self.replaced = replaced
            .into_iter()
            .map(|r| (r.transaction.txid(), r))
            .collect();
        self
    }

    /// The transactions held, in the order given.
    pub fn transactions(&self) -> &[ChainTx] {
        &self.txs
    }

    /// The SPOOL transactions with their verbs (FUEL refills included).
    fn spool_txs(&self) -> impl Iterator<Item = (&ChainTx, Verb)> {
        self.txs
            .iter()
            .filter_map(|chain_tx| find_verb(&chain_tx.tx).ok().map(|(_, v)| (chain_tx, v)))
    }
}

impl ExplorerSource for MemorySource {
    fn network(&self) -> Network {
        self.network
    }

    fn status(&self) -> Result<SyncStatus, SourceError> {
        Ok(self.status)
    }

    fn piece_transactions(&self, piece: &Address) -> Result<Vec<ChainTx>, SourceError> {
        let script = piece.script_pubkey();
        Ok(self
            .txs
            .iter()
            .filter(|chain_tx| chain_tx.tx.output.iter().any(|o| o.script_pubkey == script))
            .cloned()
            .collect())
    }

    fn transaction(&self, txid: &Txid) -> Result<Option<ChainTx>, SourceError> {
        Ok(self.by_txid.get(txid).map(|&i| self.txs[i].clone()))
    }

    fn replaced_transaction(&self, txid: &Txid) -> Result<Option<ReplacedTx>, SourceError> {
        Ok(self.replaced.get(txid).cloned())
    }

    fn address_pieces(&self, address: &Address) -> Result<Vec<Address>, SourceError> {
        let script = address.script_pubkey();
        let mut pieces = BTreeSet::new();
        for (chain_tx, verb) in self.spool_txs() {
            if verb == Verb::Fuel {
                continue;
            }
            let involved = chain_tx.prevouts.iter().any(|o| o.script_pubkey == script)
                || chain_tx.tx.output.iter().any(|o| o.script_pubkey == script);
            let piece = chain_tx
                .tx
                .output
                .first()
                .and_then(|o| Address::from_script(&o.script_pubkey, self.network).ok());
            if let (true, Some(piece)) = (involved, piece) {
                pieces.insert(piece.to_string());
            }
        }
        Ok(pieces
            .into_iter()
            .filter_map(|p| p.parse::<bitcoin::Address<_>>().ok())
            .map(|p: Address<bitcoin::address::NetworkUnchecked>| p.assume_checked())
            .collect())
    }

    fn latest_transactions(&self, limit: usize) -> Result<Vec<ChainTx>, SourceError> {
        let mut spool: Vec<&ChainTx> = self.spool_txs().map(|(chain_tx, _)| chain_tx).collect();
        spool.sort_by_key(|chain_tx| {
            std::cmp::Reverse(match chain_tx.place {
                TxPlace::Unconfirmed => (1u8, 0, 0),
                TxPlace::Confirmed {
                    height, position, ..
                } => (0, height, position),
            })
        });
        Ok(spool.into_iter().take(limit).cloned().collect())
    }
}
