//! The node's mempool, decoded: the only way to find unconfirmed payments to an address on a
//! node without an address index is to look at every mempool transaction. The cache keeps
//! what it has decoded (and, with a data directory, keeps it across processes in
//! [`super::store`]), so a refresh costs `getrawmempool` plus one batched
//! `getrawtransaction` for the transactions that arrived since the last one; transactions
//! the node no longer lists are dropped. It also holds the last `scantxoutset` reply, valid
//! while the node's best block is the one it was taken at.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use bitcoin::{OutPoint, Script, TxOut, Txid};
use serde_json::{json, Value};

use super::parse;
use super::rpc::Rpc;
use super::store::{CacheFile, CachedTx, ScanMemo};
use crate::error::BackendError;

/// How long a `getrawmempool` listing answers "is this transaction still in the mempool?"
/// without asking again (within one action: the CLI runs one action per process).
pub(crate) const LISTING_FRESH: Duration = Duration::from_secs(1);
/// How many recently scanned addresses are scanned together (one UTXO-set pass for all).
const MAX_COMPANIONS: usize = 8;

#[derive(Debug, Default)]
pub(crate) struct MempoolCache {
    txs: HashMap<Txid, CachedTx>,
    /// When `txs` was last made equal to the node's `getrawmempool`.
    listed_at: Option<Instant>,
    scan: Option<ScanMemo>,
    /// Addresses scanned recently, most recent first.
    companions: Vec<String>,
    file: Option<CacheFile>,
    loaded: bool,
    dirty: bool,
}

impl MempoolCache {
    /// A cache kept in `file` across processes.
    pub(crate) fn persistent(file: CacheFile) -> MempoolCache {
        MempoolCache {
            file: Some(file),
            ..MempoolCache::default()
        }
    }

    /// Reads the file once per process.
    fn load(&mut self) {
        if self.loaded {
            return;
        }
        self.loaded = true;
        let Some(file) = &self.file else { return };
        let snapshot = file.load();
        for (txid, cached) in snapshot.txs {
            self.txs.entry(txid).or_insert(cached);
        }
        if self.scan.is_none() {
            self.scan = snapshot.scan;
        }
        if self.companions.is_empty() {
            self.companions = snapshot.companions;
        }
    }

    /// Writes the file if anything changed since it was read.
    pub(crate) fn persist(&mut self) {
        if !self.dirty {
            return;
        }
        if let Some(file) = &self.file {
            file.save(self.txs.iter(), self.scan.as_ref(), &self.companions);
        }
        self.dirty = false;
    }

    /// Brings the cache to the node's current mempool.
    pub(crate) fn refresh(&mut self, rpc: &Rpc) -> Result<(), BackendError> {
        self.load();
        let reply = rpc.call_ok("getrawmempool", &[])?;
        let listed = reply
            .as_array()
            .ok_or_else(|| BackendError::bad_response(rpc.url(), "getrawmempool: not an array"))?;
        let mut current = Vec::with_capacity(listed.len());
        for txid in listed {
            current.push(
                txid.as_str()
                    .and_then(|s| Txid::from_str(s).ok())
                    .ok_or_else(|| {
                        BackendError::bad_response(
                            rpc.url(),
                            format!("getrawmempool: bad txid {txid}"),
                        )
                    })?,
            );
        }
        let keep: HashSet<Txid> = current.iter().copied().collect();
        let before = self.txs.len();
        self.txs.retain(|txid, _| keep.contains(txid));
        if self.txs.len() != before {
            self.dirty = true;
        }
        let new: Vec<Txid> = current
            .into_iter()
            .filter(|txid| !self.txs.contains_key(txid))
            .collect();
        if !new.is_empty() {
            let params: Vec<Vec<Value>> = new
                .iter()
                .map(|txid| vec![json!(txid.to_string()), json!(0)])
                .collect();
            for (txid, reply) in new.iter().zip(rpc.batch("getrawtransaction", &params)?) {
                // Gone (mined or evicted) between the two calls: nothing to cache.
                let Ok(hex) = reply else { continue };
                let tx = parse::raw_tx(rpc.url(), "getrawtransaction", &hex)?;
                self.txs.insert(*txid, CachedTx { tx, prevouts: None });
                self.dirty = true;
            }
        }
        self.listed_at = Some(Instant::now());
        Ok(())
    }

    /// Whether the listing is recent enough to answer for `txid` without asking the node.
    pub(crate) fn fresh_listing(&self) -> bool {
        self.listed_at
            .is_some_and(|at| at.elapsed() < LISTING_FRESH)
    }

    /// The cached mempool transaction `txid`, if the last listing had it.
    pub(crate) fn get(&self, txid: &Txid) -> Option<&CachedTx> {
        self.txs.get(txid)
    }

    /// Records the resolved previous outputs of the mempool transaction `txid`.
    pub(crate) fn set_prevouts(&mut self, txid: &Txid, prevouts: Vec<TxOut>) {
        if let Some(cached) = self.txs.get_mut(txid) {
            if cached.prevouts.is_none() {
                cached.prevouts = Some(prevouts);
                self.dirty = true;
            }
        }
    }

    /// The output at `outpoint` if a cached mempool transaction created it.
    pub(crate) fn output(&self, outpoint: &OutPoint) -> Option<TxOut> {
        self.txs
            .get(&outpoint.txid)
            .and_then(|cached| cached.tx.output.get(outpoint.vout as usize))
            .cloned()
    }

    /// Mempool outputs locked to `script`.
    pub(crate) fn outputs_paying(&self, script: &Script) -> Vec<(OutPoint, TxOut)> {
        let mut found = Vec::new();
        for (txid, cached) in &self.txs {
            for (vout, out) in cached.tx.output.iter().enumerate() {
                if out.script_pubkey.as_script() == script {
                    found.push((
                        OutPoint {
                            txid: *txid,
                            vout: vout as u32,
                        },
                        out.clone(),
                    ));
                }
            }
        }
        found
    }

    /// Mempool transactions with an output locked to `script`.
    pub(crate) fn txids_paying(&self, script: &Script) -> Vec<Txid> {
        self.txs
            .iter()
            .filter(|(_, cached)| {
                cached
                    .tx
                    .output
                    .iter()
                    .any(|out| out.script_pubkey.as_script() == script)
            })
            .map(|(txid, _)| *txid)
            .collect()
    }

    /// The scan memo if it was taken at `best_block` and covers `address`.
    pub(crate) fn scan_at(
        &mut self,
        best_block: &bitcoin::BlockHash,
        address: &str,
    ) -> Option<&ScanMemo> {
        self.load();
        self.scan.as_ref().filter(|scan| {
            scan.best_block == *best_block && scan.addresses.iter().any(|a| a == address)
        })
    }

    /// The addresses to scan with `address`: it and the most recently scanned others.
    pub(crate) fn scan_set(&mut self, address: &str) -> Vec<String> {
        self.load();
        let mut set = vec![address.to_string()];
        set.extend(
            self.companions
                .iter()
                .filter(|a| a.as_str() != address)
                .take(MAX_COMPANIONS - 1)
                .cloned(),
        );
        set
    }

    /// Keeps a scan's reply and moves `address` to the front of the companions.
    pub(crate) fn record_scan(&mut self, memo: ScanMemo, address: &str) {
        self.companions.retain(|a| a != address);
        self.companions.insert(0, address.to_string());
        self.companions.truncate(MAX_COMPANIONS);
        self.scan = Some(memo);
        self.dirty = true;
    }

    /// Moves `address` to the front of the companions (it was asked about).
    pub(crate) fn touch(&mut self, address: &str) {
        if self.companions.first().map(String::as_str) != Some(address) {
            self.companions.retain(|a| a != address);
            self.companions.insert(0, address.to_string());
            self.companions.truncate(MAX_COMPANIONS);
            self.dirty = true;
        }
    }
}
