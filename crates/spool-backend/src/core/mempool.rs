//! The node's mempool, decoded: the only way to find unconfirmed payments to an address on a
//! node without an address index is to look at every mempool transaction. The cache keeps
//! what it has decoded, so a refresh costs `getrawmempool` plus one batched
//! `getrawtransaction` for the transactions that arrived since the last one.

use std::collections::HashMap;
use std::str::FromStr;

use bitcoin::{OutPoint, Script, Transaction, TxOut, Txid};
use serde_json::{json, Value};

use super::parse;
use super::rpc::Rpc;
use crate::error::BackendError;

#[derive(Debug, Default)]
pub(crate) struct MempoolCache {
    txs: HashMap<Txid, Transaction>,
}

impl MempoolCache {
    /// Brings the cache to the node's current mempool.
    pub(crate) fn refresh(&mut self, rpc: &Rpc) -> Result<(), BackendError> {
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
        let keep: std::collections::HashSet<Txid> = current.iter().copied().collect();
        self.txs.retain(|txid, _| keep.contains(txid));
        let new: Vec<Txid> = current
            .into_iter()
            .filter(|txid| !self.txs.contains_key(txid))
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        let params: Vec<Vec<Value>> = new
            .iter()
            .map(|txid| vec![json!(txid.to_string()), json!(0)])
            .collect();
        for (txid, reply) in new.iter().zip(rpc.batch("getrawtransaction", &params)?) {
            // Gone (mined or evicted) between the two calls: nothing to cache.
            let Ok(hex) = reply else { continue };
            let tx = parse::raw_tx(rpc.url(), "getrawtransaction", &hex)?;
            self.txs.insert(*txid, tx);
        }
        Ok(())
    }

    /// The output at `outpoint` if a cached mempool transaction created it.
    pub(crate) fn output(&self, outpoint: &OutPoint) -> Option<TxOut> {
        self.txs
            .get(&outpoint.txid)
            .and_then(|tx| tx.output.get(outpoint.vout as usize))
            .cloned()
    }

    /// Mempool outputs locked to `script`.
    pub(crate) fn outputs_paying(&self, script: &Script) -> Vec<(OutPoint, TxOut)> {
        let mut found = Vec::new();
        for (txid, tx) in &self.txs {
            for (vout, out) in tx.output.iter().enumerate() {
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
            .filter(|(_, tx)| {
                tx.output
                    .iter()
                    .any(|out| out.script_pubkey.as_script() == script)
            })
            .map(|(txid, _)| *txid)
            .collect()
    }
}
