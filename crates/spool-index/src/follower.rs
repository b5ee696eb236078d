//! The follower: catches the index up with the node (raw blocks, batched, the next batch
//! fetched while the current one is written), follows the tip and the mempool, rolls back
//! to the fork point when the node's chain changes, and refuses a node of another chain.
//!
//! Crash safety: every fetched batch of blocks is written in one SQLite transaction with its
//! block hashes, so the index always ends on a whole batch; mempool rows are dropped at
//! start-up and read again.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::{Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use spool_protocol::chain::TxPlace;

use crate::error::IndexError;
use crate::node::{NodeConfig, NodeRpc};
use crate::prefilter::Prefilter;
use crate::rest::Rest;
use crate::store::{is_spool, BlockData, Store};

mod filters;
pub use filters::FilterScope;

/// Raw block bytes aimed at per round trip.
const TRIP_BYTES: u64 = 8 << 20;
/// Blocks per round trip, at most.
const MAX_TRIP_BLOCKS: usize = 128;
/// Blocks in the first round trip, before their size is known.
const FIRST_TRIP_BLOCKS: usize = 16;

/// How the follower runs.
#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// The node.
    pub node: NodeConfig,
    /// The network indexed.
    pub network: Network,
    /// The first height indexed (`--index-from`); only used when the index is created.
    pub index_from: u64,
    /// How often the tip and mempool are polled.
    pub poll: Duration,
    /// Scripts whose outputs are tracked from the start (`--watch`).
    pub watch: Vec<ScriptBuf>,
    /// `Some`: a federation-scoped index fetching only the blocks whose compact block filter
    /// matches (`--filters --federation …`); `None`: every block.
    pub filters: Option<FilterScope>,
    /// How the full scan reads blocks.
    pub full_scan: FullScan,
}

/// How the full scan reads blocks: through REST when the node offers it, and past the
/// blocks a byte search shows to hold nothing for the index. Both on by default; off only
/// to measure them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullScan {
    /// Fetch raw blocks through the node's REST interface (`-rest=1`), falling back to RPC
    /// `getblock` when it does not answer.
    pub rest: bool,
    /// Skip, without deserializing, the blocks whose bytes hold no `ASCRIBESPOOL`, no
    /// watched script and no unspent watched outpoint.
    pub prefilter: bool,
}

impl Default for FullScan {
    fn default() -> FullScan {
        FullScan {
            rest: true,
            prefilter: true,
        }
    }
}

impl FollowerConfig {
    /// The index mode recorded in the index: `full`, or `filters` and the federation.
    pub fn mode(&self) -> String {
        match &self.filters {
            None => "full".to_owned(),
            Some(scope) => scope.mode(),
        }
    }
}

/// What the server reports as sync status; shared between the follower and readers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The last indexed block.
    pub indexed: Option<(u64, BlockHash)>,
    /// The node's tip at the last look.
    pub node_height: u64,
    /// Whether the index held the node's tip and mempool at the last look.
    pub synced: bool,
    /// Follower rounds (catch-up then mempool) completed so far.
    pub rounds: u64,
    /// The index mode (`full`, or `filters` and the federation).
    pub mode: String,
    /// What the compact block filters did so far (scoped indexes).
    pub filters: crate::store::ScopeCounters,
}

/// Test hook: when this environment variable names a path, the follower holds before
/// indexing any block until a file exists there (at most 10 minutes), with the node's
/// height already known: tests use it to catch a server mid-sync deterministically.
pub const HOLD_FOLLOWER: &str = "SPOOL_TEST_HOLD_FOLLOWER";

/// The hold of [`HOLD_FOLLOWER`].
fn test_hook_hold() {
    let Some(path) = std::env::var_os(HOLD_FOLLOWER).map(std::path::PathBuf::from) else {
        return;
    };
    let started = Instant::now();
    while !path.exists() && started.elapsed() < std::time::Duration::from_secs(600) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A handle on the follower's [`SyncState`].
pub type SharedState = Arc<Mutex<SyncState>>;

/// Progress of a catch-up, reported after every written batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Height of the last written block.
    pub height: u64,
    /// The node's tip height.
    pub node_height: u64,
    /// Blocks written so far in this catch-up.
    pub blocks: u64,
    /// Raw block bytes read so far in this catch-up.
    pub bytes: u64,
    /// Time since the catch-up started.
    pub elapsed: Duration,
}

/// One fetched batch of consecutive raw blocks starting at `start`.
struct RawBatch {
    start: u64,
    hashes: Vec<BlockHash>,
    raws: Vec<Vec<u8>>,
    bytes: u64,
}

/// One batch of consecutive blocks starting at `start`, read (skipped ones as their header
/// alone).
struct Fetched {
    start: u64,
    hashes: Vec<BlockHash>,
    blocks: Vec<Block>,
    bytes: u64,
}

/// Follows a node into a [`Store`].
#[derive(Debug)]
pub struct Follower {
    store: Store,
    rpc: NodeRpc,
    config: FollowerConfig,
    index_from: u64,
    mempool: HashMap<Txid, Transaction>,
    state: SharedState,
    /// Whether blocks are still fetched through REST (cleared when it fails once).
    rest: Arc<AtomicBool>,
    /// Time spent in `scantxoutset` (filtered indexes).
    scan_time: Duration,
}

impl Follower {
    /// Opens the index at `path` and connects to the node: refuses a node serving another
    /// chain, or whose genesis block is not the one the index was built from.
    ///
    /// # Errors
    /// [`IndexError::ChainMismatch`], [`IndexError::GenesisMismatch`],
    /// [`IndexError::WrongNetwork`], and node or database errors.
    pub fn open(path: &Path, config: FollowerConfig) -> Result<Follower, IndexError> {
        let rpc = NodeRpc::new(&config.node)?;
        rpc.check_chain(config.network)?;
        let genesis = rpc.block_hashes(&[0])?[0];
        let mut store = Store::open(path, config.network)?;
        match store.meta("genesis")? {
            None => store.set_meta("genesis", &genesis.to_string())?,
            Some(text) => {
                let indexed: BlockHash = text.parse().map_err(|_| IndexError::Corrupt {
                    path: store.path().to_string(),
                    detail: format!("bad genesis hash {text:?}"),
                })?;
                if indexed != genesis {
                    return Err(IndexError::GenesisMismatch {
                        url: rpc.url().to_string(),
                        indexed,
                        node: genesis,
                    });
                }
            }
        }
        let index_from = match store.meta("index_from")? {
            Some(text) => text.parse().map_err(|_| IndexError::Corrupt {
                path: store.path().to_string(),
                detail: format!("bad index_from {text:?}"),
            })?,
            None => {
                store.set_meta("index_from", &config.index_from.to_string())?;
                config.index_from
            }
        };
        if config.filters.is_some() && rpc.filter_index_height()?.is_none() {
            return Err(IndexError::NoFilterIndex {
                url: rpc.url().to_string(),
            });
        }
        store.check_mode(&config.mode())?;
        if let Some(scope) = &config.filters {
            store.watch(&scope.federation)?;
        }
        store.watch(&config.watch)?;
        store.clear_mempool()?;
        let state = SharedState::default();
        {
            let mut state = state.lock().expect("state lock");
            state.indexed = store.tip()?;
            state.mode = config.mode();
            state.filters = store.scope_counters()?;
        }
        Ok(Follower {
            store,
            rpc,
            index_from,
            mempool: HashMap::new(),
            state,
            rest: Arc::new(AtomicBool::new(config.full_scan.rest)),
            scan_time: Duration::ZERO,
            config,
        })
    }

    /// The shared sync state, for the server.
    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// Whether the full scan still fetches blocks through the node's REST interface (on
    /// until it fails once).
    pub fn uses_rest(&self) -> bool {
        self.rest.load(Ordering::Relaxed)
    }

    /// The store written to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Rolls back to the fork point if the node's chain no longer holds the indexed tip.
    /// Returns the height rolled back to, if any.
    fn resolve_fork(&mut self) -> Result<Option<u64>, IndexError> {
        let Some((tip, tip_hash)) = self.store.tip()? else {
            return Ok(None);
        };
        let node_tip = self.rpc.tip_height()?;
        if node_tip >= tip && self.rpc.block_hashes(&[tip])?[0] == tip_hash {
            return Ok(None);
        }
        let mut height = tip.min(node_tip);
        loop {
            let ours = self.store.block_hash(height)?;
            let theirs = self.rpc.block_hashes(&[height])?[0];
            if ours == Some(theirs) {
                break;
            }
            if height <= self.index_from {
                return Err(IndexError::ForkBelowIndex {
                    height,
                    index_from: self.index_from,
                });
            }
            height -= 1;
        }
        tracing::info!(from = tip, to = height, "chain reorganised: rolling back");
        self.store.rollback_to(height)?;
        self.mempool.clear();
        Ok(Some(height))
    }

    /// Brings the index to the node's tip (handling reorganisations), reporting progress
    /// after every written batch. Returns the blocks and raw bytes read.
    ///
    /// # Errors
    /// Node and database errors; [`IndexError::ForkBelowIndex`].
    pub fn catch_up(
        &mut self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(u64, u64), IndexError> {
        let started = Instant::now();
        let (mut blocks, mut bytes) = (0u64, 0u64);
        loop {
            self.resolve_fork()?;
            let node_tip = self.rpc.tip_height()?;
            self.state.lock().expect("state lock").node_height = node_tip;
            test_hook_hold();
            let next = match self.store.tip()? {
                Some((h, _)) => h + 1,
                None => self.index_from,
            };
            let node_tip = if self.config.filters.is_some() {
                // Only as far as the node's filters are built.
                node_tip.min(self.rpc.filter_index_height()?.unwrap_or(0))
            } else {
                node_tip
            };
            if next > node_tip {
                if self.config.filters.is_some() {
                    self.scan_discovered()?;
                }
                return Ok((blocks, bytes));
            }
            let mut expected_prev = match next.checked_sub(1) {
                Some(h) if next > self.index_from => self.store.block_hash(h)?,
                _ => None,
            };
            if self.config.filters.is_some() {
                let mut totals = (blocks, bytes);
                self.catch_up_filtered(
                    next,
                    node_tip,
                    expected_prev,
                    started,
                    &mut totals,
                    progress,
                )?;
                (blocks, bytes) = totals;
                continue;
            }
            let receiver = spawn_fetcher(&self.config.node, next, node_tip, self.rest.clone())?;
            let mut broken = false;
            for raw in receiver.iter() {
                let fetched = self.read_batch(raw?)?;
                // A block that does not extend the last one: the chain changed under us.
                for block in &fetched.blocks {
                    if let Some(prev) = expected_prev {
                        if block.header.prev_blockhash != prev {
                            broken = true;
                        }
                    }
                    expected_prev = Some(block.block_hash());
                }
                if broken {
                    break;
                }
                let count = fetched.blocks.len() as u64;
                let batch_bytes = fetched.bytes;
                let last = fetched.start + count - 1;
                let data = self.prepare(fetched)?;
                self.store.apply_blocks(&data)?;
                blocks += count;
                bytes += batch_bytes;
                let tip_hash = data.last().map(|d| d.block.block_hash());
                {
                    let mut state = self.state.lock().expect("state lock");
                    state.indexed = tip_hash.map(|h| (last, h));
                    state.synced = false;
                }
                progress(Progress {
                    height: last,
                    node_height: node_tip,
                    blocks,
                    bytes,
                    elapsed: started.elapsed(),
                });
            }
            if !broken {
                // Loop once more: the node may have grown (or reorganised) meanwhile.
                continue;
            }
        }
    }

    /// Deserializes a batch: with the prefilter, a block whose bytes hold nothing for the
    /// index keeps only its header. After a block with a SPOOL transaction (which may
    /// discover scripts) the rest of the batch is read whole; outputs of watched scripts
    /// join the search at once, so that their spends later in the batch are read.
    fn read_batch(&self, raw: RawBatch) -> Result<Fetched, IndexError> {
        let bad = |detail: String| IndexError::BadReply {
            url: self.config.node.url.clone(),
            method: "getblock".into(),
            detail,
        };
        let mut prefilter = if self.config.full_scan.prefilter {
            Some(Prefilter::new(
                self.store.filter_set().iter(),
                &self.store.unspent_outpoints()?,
            ))
        } else {
            None
        };
        let mut blocks = Vec::with_capacity(raw.raws.len());
        for (bytes, hash) in raw.raws.iter().zip(&raw.hashes) {
            let skip = prefilter.as_ref().is_some_and(|p| !p.hits(bytes));
            let block: Block = if skip {
                let header: bitcoin::block::Header = bitcoin::consensus::deserialize_partial(bytes)
                    .map(|(h, _)| h)
                    .map_err(|e| bad(format!("block {hash}: {e}")))?;
                Block {
                    header,
                    txdata: Vec::new(),
                }
            } else {
                bitcoin::consensus::deserialize(bytes)
                    .map_err(|e| bad(format!("block {hash}: {e}")))?
            };
            if block.block_hash() != *hash {
                return Err(bad(format!("asked for {hash}, got {}", block.block_hash())));
            }
            if !skip {
                if crate::prefilter::has_marker(bytes) {
                    prefilter = None;
                } else if let Some(p) = prefilter.as_mut() {
                    let watched = self.store.filter_set();
                    p.add_outpoints(block.txdata.iter().flat_map(|tx| {
                        let txid = tx.compute_txid();
                        tx.output
                            .iter()
                            .enumerate()
                            .filter(|(_, o)| watched.contains(&o.script_pubkey))
                            .map(move |(vout, _)| OutPoint {
                                txid,
                                vout: vout as u32,
                            })
                    }));
                }
            }
            blocks.push(block);
        }
        Ok(Fetched {
            start: raw.start,
            hashes: raw.hashes,
            blocks,
            bytes: raw.bytes,
        })
    }

    /// Fetches the prevouts of the batch's SPOOL transactions.
    fn prepare(&self, fetched: Fetched) -> Result<Vec<BlockData>, IndexError> {
        let mut wanted = Vec::new();
        for (block, hash) in fetched.blocks.iter().zip(&fetched.hashes) {
            for tx in &block.txdata {
                if is_spool(tx) && !tx.is_coinbase() {
                    wanted.push((tx.compute_txid(), *hash));
                }
            }
        }
        let prevouts = if wanted.is_empty() {
            HashMap::new()
        } else {
            self.rpc.confirmed_prevouts(&wanted)?
        };
        Ok(fetched
            .blocks
            .into_iter()
            .enumerate()
            .map(|(i, block)| {
                let mine: HashMap<Txid, Vec<TxOut>> = block
                    .txdata
                    .iter()
                    .filter_map(|tx| {
                        let txid = tx.compute_txid();
                        prevouts.get(&txid).map(|p| (txid, p.clone()))
                    })
                    .collect();
                BlockData {
                    height: fetched.start + i as u64,
                    block,
                    prevouts: mine,
                }
            })
            .collect())
    }

    /// Reads the node's mempool incrementally (only new txids are fetched); transactions
    /// the node dropped disappear from the index.
    ///
    /// # Errors
    /// Node and database errors.
    pub fn sync_mempool(&mut self) -> Result<(), IndexError> {
        // Rows read before the node's list: a broadcast writes its rows only after the node
        // accepted it, so whatever is listed here and missing from the node is really gone.
        let written = self.store.mempool_txids()?;
        let written_set: HashSet<Txid> = written.iter().copied().collect();
        let current: HashSet<Txid> = self.rpc.mempool_txids()?.into_iter().collect();
        // Gone from the node: what the follower saw, and rows a broadcast wrote.
        let mut removed: Vec<Txid> = self
            .mempool
            .keys()
            .copied()
            .chain(written)
            .filter(|t| !current.contains(t))
            .collect();
        removed.sort_unstable();
        removed.dedup();
        for txid in &removed {
            self.mempool.remove(txid);
        }
        let mut new: Vec<Txid> = current
            .iter()
            .filter(|t| !self.mempool.contains_key(*t))
            .copied()
            .collect();
        // A SPOOL transaction broadcast through the API is already written, with its
        // prevouts, outputs and spends: adopt it from the index instead of fetching it and
        // its prevouts again and writing the same rows a second time.
        let mut adopted = HashSet::new();
        for txid in &new {
            if written_set.contains(txid) {
                if let Some(found) = self.store.transaction(txid)? {
                    if found.place == TxPlace::Unconfirmed {
                        self.mempool.insert(*txid, found.tx);
                        adopted.insert(*txid);
                    }
                }
            }
        }
        new.retain(|t| !adopted.contains(t));
        let mut added = Vec::new();
        for (txid, tx) in new.iter().zip(self.rpc.raw_transactions(&new)?) {
            // Gone between the two calls: nothing to add.
            if let Some(tx) = tx {
                self.mempool.insert(*txid, tx.clone());
                added.push(tx);
            }
        }
        let mut with_prevouts = Vec::with_capacity(added.len());
        for tx in added {
            let prevouts = if is_spool(&tx) {
                mempool_prevouts(&self.rpc, &tx, &self.mempool)?
            } else {
                Vec::new()
            };
            if self.config.filters.is_some()
                && is_spool(&tx)
                && !self.store.in_scope(&tx, &prevouts)
            {
                continue;
            }
            with_prevouts.push((tx, prevouts));
        }
        let next_height = self.store.tip()?.map_or(self.index_from, |(h, _)| h + 1);
        if !with_prevouts.is_empty() || !removed.is_empty() {
            self.store
                .apply_mempool(&with_prevouts, &removed, next_height)?;
        }
        Ok(())
    }

    /// One round: catch up, then the mempool; updates the sync state.
    ///
    /// # Errors
    /// As [`Follower::catch_up`] and [`Follower::sync_mempool`].
    pub fn step(&mut self) -> Result<(), IndexError> {
        self.catch_up(&mut |_| {})?;
        self.sync_mempool()?;
        let node_height = self.rpc.tip_height()?;
        let indexed = self.store.tip()?;
        let counters = self.store.scope_counters()?;
        let mut state = self.state.lock().expect("state lock");
        state.filters = counters;
        state.node_height = node_height;
        state.indexed = indexed;
        state.synced = indexed.map(|(h, _)| h) == Some(node_height);
        state.rounds += 1;
        Ok(())
    }

    /// Follows the node until `stop` is set: a [`Follower::step`] every poll interval.
    /// Transient node errors are logged and retried; database errors and a node of another
    /// chain end the loop.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`], [`IndexError::ChainMismatch`],
    /// [`IndexError::GenesisMismatch`], [`IndexError::ForkBelowIndex`].
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), IndexError> {
        while !stop.load(Ordering::Relaxed) {
            match self.step() {
                Ok(()) => {}
                Err(
                    err @ (IndexError::Database { .. }
                    | IndexError::Directory { .. }
                    | IndexError::Corrupt { .. }
                    | IndexError::ChainMismatch { .. }
                    | IndexError::GenesisMismatch { .. }
                    | IndexError::WrongNetwork { .. }
                    | IndexError::ForkBelowIndex { .. }),
                ) => return Err(err),
                Err(err) => {
                    tracing::warn!(error = %err, "follower: node not answering, retrying");
                    self.state.lock().expect("state lock").synced = false;
                    if let Ok(rpc) = NodeRpc::new(&self.config.node) {
                        self.rpc = rpc;
                    }
                }
            }
            let until = Instant::now() + self.config.poll;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20).min(self.config.poll));
            }
        }
        Ok(())
    }
}

/// The prevouts of a mempool transaction: from `mempool` (parents in the mempool), else the
/// node's UTXO set ignoring mempool spends, else the raw parent (`-txindex`).
///
/// # Errors
/// Node errors; [`IndexError::BadReply`] when a parent cannot be found.
pub fn mempool_prevouts(
    rpc: &NodeRpc,
    tx: &Transaction,
    mempool: &HashMap<Txid, Transaction>,
) -> Result<Vec<TxOut>, IndexError> {
    if tx.is_coinbase() {
        return Ok(Vec::new());
    }
    let mut found: Vec<Option<TxOut>> = tx
        .input
        .iter()
        .map(|i| {
            mempool
                .get(&i.previous_output.txid)
                .and_then(|p| p.output.get(i.previous_output.vout as usize))
                .cloned()
        })
        .collect();
    let missing: Vec<OutPoint> = tx
        .input
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(i, _)| i.previous_output)
        .collect();
    if !missing.is_empty() {
        let mut chain = rpc.chain_outputs(&missing)?.into_iter();
        let mut still = Vec::new();
        for (slot, input) in found.iter_mut().zip(&tx.input) {
            if slot.is_none() {
                *slot = chain.next().flatten();
                if slot.is_none() {
                    still.push(input.previous_output);
                }
            }
        }
        if !still.is_empty() {
            let parents: Vec<Txid> = still.iter().map(|op| op.txid).collect();
            let raws = rpc.raw_transactions(&parents)?;
            let by_txid: HashMap<Txid, Transaction> = parents
                .into_iter()
                .zip(raws)
                .filter_map(|(t, r)| r.map(|r| (t, r)))
                .collect();
            for (slot, input) in found.iter_mut().zip(&tx.input) {
                if slot.is_none() {
                    *slot = by_txid
                        .get(&input.previous_output.txid)
                        .and_then(|p| p.output.get(input.previous_output.vout as usize))
                        .cloned();
                }
            }
        }
    }
    found
        .into_iter()
        .zip(&tx.input)
        .map(|(f, i)| {
            f.ok_or_else(|| IndexError::BadReply {
                url: rpc.url().to_string(),
                method: "gettxout".into(),
                detail: format!(
                    "the output {} spent by {} is unknown",
                    i.previous_output,
                    tx.compute_txid()
                ),
            })
        })
        .collect()
}

/// Starts the thread that fetches raw blocks `from..=to`, one batch ahead of the writer:
/// through the node's REST interface when `rest` and the node answers it, else RPC.
fn spawn_fetcher(
    node: &NodeConfig,
    from: u64,
    to: u64,
    use_rest: Arc<AtomicBool>,
) -> Result<Receiver<Result<RawBatch, IndexError>>, IndexError> {
    let rpc = NodeRpc::new(node)?;
    let mut rest = if use_rest.load(Ordering::Relaxed) {
        Rest::new(&node.url, node.timeout)
    } else {
        None
    };
    let mut next = from;
    let mut per_trip = FIRST_TRIP_BLOCKS;
    fetch_ahead(node, "spool-index-fetch", "the fetch thread", move || {
        if next > to {
            return None;
        }
        let end = (next + per_trip as u64 - 1).min(to);
        let heights: Vec<u64> = (next..=end).collect();
        let fetched = rpc.block_hashes(&heights).and_then(|hashes| {
            let (raws, bytes) = fetch_raws(&rpc, &mut rest, &use_rest, &hashes)?;
            Ok(RawBatch {
                start: next,
                hashes,
                raws,
                bytes,
            })
        });
        if let Ok(f) = &fetched {
            let avg = (f.bytes / f.raws.len().max(1) as u64).max(1);
            per_trip = ((TRIP_BYTES / avg) as usize).clamp(1, MAX_TRIP_BLOCKS);
        }
        next = end + 1;
        Some(fetched)
    })
}

/// Starts a thread named `name` that calls `fetch` for batch after batch, one batch ahead of
/// the receiver, until `fetch` has no more (`None`), fails (the error is the last batch
/// sent) or the receiver is dropped. `what` names the thread in the error when it cannot be
/// started.
fn fetch_ahead<T: Send + 'static>(
    node: &NodeConfig,
    name: &str,
    what: &str,
    mut fetch: impl FnMut() -> Option<Result<T, IndexError>> + Send + 'static,
) -> Result<Receiver<Result<T, IndexError>>, IndexError> {
    let (sender, receiver) = sync_channel(1);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            while let Some(fetched) = fetch() {
                let failed = fetched.is_err();
                if sender.send(fetched).is_err() || failed {
                    return;
                }
            }
        })
        .map_err(|err| IndexError::Node {
            url: node.url.clone(),
            method: format!("starting {what}"),
            source: Box::new(err),
        })?;
    Ok(receiver)
}

/// The raw blocks `hashes` through REST while it answers (one warning, then RPC for the
/// rest of the catch-up when it does not), else RPC `getblock` in one batch.
fn fetch_raws(
    rpc: &NodeRpc,
    rest: &mut Option<Rest>,
    use_rest: &AtomicBool,
    hashes: &[BlockHash],
) -> Result<(Vec<Vec<u8>>, u64), IndexError> {
    if let Some(client) = rest.as_mut() {
        let mut raws = Vec::with_capacity(hashes.len());
        let mut bytes = 0;
        let mut failed = None;
        for hash in hashes {
            match client.raw_block(hash) {
                Ok(raw) => {
                    bytes += raw.len() as u64;
                    raws.push(raw);
                }
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        match failed {
            None => return Ok((raws, bytes)),
            Some(err) => {
                tracing::warn!(
                    error = %err,
                    "no REST (start the node with -rest=1 for faster blocks): reading over RPC"
                );
                *rest = None;
                use_rest.store(false, Ordering::Relaxed);
            }
        }
    }
    rpc.raw_block_bytes(hashes)
}
