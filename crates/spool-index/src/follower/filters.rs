//! The federation-scoped catch-up (`--filters`): headers and BIP 158 compact block filters
//! fetched in batches one batch ahead of the writer; each filter tested against the watched
//! scripts as they stand after the blocks before it; only the matching blocks fetched and
//! indexed. Headers must extend the indexed chain, and each filter's header must chain
//! from the one before it, so a filter is always the one of the followed block.

use std::sync::mpsc::Receiver;
use std::time::Instant;

use bitcoin::bip158::{BlockFilter, FilterHeader};
use bitcoin::block::Header;
use bitcoin::hashes::Hash;
use bitcoin::{BlockHash, ScriptBuf};

use super::{Follower, Progress};
use crate::error::IndexError;
use crate::node::{NodeConfig, NodeRpc};
use crate::store::{is_spool, BlockData, Stamp};

/// Heights per round trip of headers and filters.
const FILTER_TRIP: usize = 500;

/// The scope of a filter-synced index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterScope {
    /// The federation's scripts: the roots of the watched set.
    pub federation: Vec<ScriptBuf>,
}

impl FilterScope {
    /// The mode recorded in the index: `filters` and the federation's scripts, sorted.
    pub fn mode(&self) -> String {
        let mut scripts: Vec<String> = self.federation.iter().map(|s| s.to_hex_string()).collect();
        scripts.sort();
        scripts.dedup();
        format!("filters {}", scripts.join(","))
    }
}

/// One batch of consecutive headers and their filters, from `start`.
struct FilterBatch {
    start: u64,
    hashes: Vec<BlockHash>,
    headers: Vec<Header>,
    filters: Vec<BlockFilter>,
    bytes: u64,
}

impl Follower {
    /// Time spent so far reading discovered scripts' earlier outputs from the node's UTXO
    /// set (`scantxoutset`; it grows with the UTXO set, not with the blocks).
    pub fn scan_time(&self) -> std::time::Duration {
        self.scan_time
    }

    /// Indexes `next..=node_tip` through the filters: stops early when the node's chain
    /// changed under it (the caller resolves the fork and calls again).
    pub(super) fn catch_up_filtered(
        &mut self,
        next: u64,
        node_tip: u64,
        mut expected_prev: Option<BlockHash>,
        started: Instant,
        totals: &mut (u64, u64),
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(), IndexError> {
        let receiver = spawn_filter_fetcher(&self.config.node, next, node_tip)?;
        for batch in receiver.iter() {
            let batch = batch?;
            totals.1 += batch.bytes;
            let mut passed = Vec::new();
            let mut tested = 0;
            let mut broken = false;
            let mut last = None;
            for (i, ((hash, header), filter)) in batch
                .hashes
                .iter()
                .zip(&batch.headers)
                .zip(&batch.filters)
                .enumerate()
            {
                let height = batch.start + i as u64;
                if expected_prev.is_some_and(|prev| header.prev_blockhash != prev) {
                    broken = true;
                    break;
                }
                expected_prev = Some(*hash);
                tested += 1;
                let set = self.store.filter_set();
                let hit = !set.is_empty()
                    && filter
                        .match_any(hash, set.iter().map(|s| s.as_bytes()))
                        .map_err(|e| IndexError::BadReply {
                            url: self.rpc.url().to_string(),
                            method: "getblockfilter".into(),
                            detail: format!("the filter of block {hash}: {e}"),
                        })?;
                last = Some((height, *hash));
                if !hit {
                    passed.push(Stamp {
                        height,
                        hash: *hash,
                        time: header.time,
                    });
                    continue;
                }
                let (mut blocks, block_bytes) = self.rpc.raw_blocks(&[*hash])?;
                let block = blocks.pop().ok_or_else(|| IndexError::BadReply {
                    url: self.rpc.url().to_string(),
                    method: "getblock".into(),
                    detail: format!("no block {hash}"),
                })?;
                if block.block_hash() != *hash {
                    return Err(IndexError::BadReply {
                        url: self.rpc.url().to_string(),
                        method: "getblock".into(),
                        detail: format!("asked for {hash}, got {}", block.block_hash()),
                    });
                }
                totals.1 += block_bytes;
                let wanted: Vec<_> = block
                    .txdata
                    .iter()
                    .filter(|tx| is_spool(tx) && !tx.is_coinbase())
                    .map(|tx| (tx.compute_txid(), *hash))
                    .collect();
                let prevouts = if wanted.is_empty() {
                    Default::default()
                } else {
                    self.rpc.confirmed_prevouts(&wanted)?
                };
                let data = BlockData {
                    height,
                    block,
                    prevouts,
                };
                self.store
                    .apply_scoped(&std::mem::take(&mut passed), Some(&data), tested)?;
                tested = 0;
            }
            self.store.apply_scoped(&passed, None, tested)?;
            if let Some((height, hash)) = last {
                totals.0 += height + 1 - batch.start;
                let mut state = self.state.lock().expect("state lock");
                state.indexed = Some((height, hash));
                state.synced = false;
                drop(state);
                progress(Progress {
                    height,
                    node_height: node_tip,
                    blocks: totals.0,
                    bytes: totals.1,
                    elapsed: started.elapsed(),
                });
            }
            if broken {
                break;
            }
        }
        Ok(())
    }

    /// Reads from the node's UTXO set the outputs that newly discovered scripts received
    /// before they were discovered (one `scantxoutset` for all of them).
    pub(super) fn scan_discovered(&mut self) -> Result<(), IndexError> {
        let scripts = self.store.unscanned()?;
        if scripts.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let outputs = self.rpc.scan_outputs(&scripts)?;
        self.store.add_scanned(&scripts, &outputs)?;
        self.scan_time += started.elapsed();
        tracing::info!(
            scripts = scripts.len(),
            outputs = outputs.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "read the earlier outputs of discovered scripts from the node's UTXO set"
        );
        Ok(())
    }
}

/// Starts the thread that fetches the headers and filters of `from..=to`, one batch ahead
/// of the writer, checking that each filter header chains from the one before it.
fn spawn_filter_fetcher(
    node: &NodeConfig,
    from: u64,
    to: u64,
) -> Result<Receiver<Result<FilterBatch, IndexError>>, IndexError> {
    let rpc = NodeRpc::new(node)?;
    let mut previous: Option<FilterHeader> = None;
    let mut next = from;
    super::fetch_ahead(
        node,
        "spool-index-filters",
        "the filter fetch thread",
        move || {
            if next > to {
                return None;
            }
            let end = (next + FILTER_TRIP as u64 - 1).min(to);
            let fetched = fetch_batch(&rpc, next, end, &mut previous);
            next = end + 1;
            Some(fetched)
        },
    )
}

fn fetch_batch(
    rpc: &NodeRpc,
    start: u64,
    end: u64,
    previous: &mut Option<FilterHeader>,
) -> Result<FilterBatch, IndexError> {
    // The filter header before `start`: zero below genesis.
    let mut prev = match previous {
        Some(p) => *p,
        None if start == 0 => FilterHeader::all_zeros(),
        None => {
            let hash = rpc.block_hashes(&[start - 1])?;
            rpc.block_filters(&hash)?.0[0].1
        }
    };
    let heights: Vec<u64> = (start..=end).collect();
    let hashes = rpc.block_hashes(&heights)?;
    let headers = rpc.block_headers(&hashes)?;
    let (pairs, bytes) = rpc.block_filters(&hashes)?;
    let mut filters = Vec::with_capacity(pairs.len());
    for ((filter, header), hash) in pairs.into_iter().zip(&hashes) {
        if filter.filter_header(&prev) != header {
            return Err(IndexError::BadReply {
                url: rpc.url().to_string(),
                method: "getblockfilter".into(),
                detail: format!("the filter of block {hash} does not chain from the one before"),
            });
        }
        prev = header;
        filters.push(filter);
    }
    *previous = Some(prev);
    Ok(FilterBatch {
        start,
        bytes: bytes + 80 * headers.len() as u64,
        hashes,
        headers,
        filters,
    })
}
