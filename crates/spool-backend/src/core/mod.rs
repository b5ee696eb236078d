//! A Bitcoin Core node over JSON-RPC: no wallet, `-txindex=1`, cookie or user/password auth.
//!
//! Without an address index, an address's outputs come from `scantxoutset` (the UTXO set)
//! plus the mempool. Nobody holds the key of a piece address (it is a hash), so every token
//! ever paid to it stays unspent: `scantxoutset` finds a piece's whole confirmed history. For
//! an address whose outputs do get spent (a wallet address), [`Backend::address_transactions`]
//! lists only the transactions whose payment to it is still unspent or in the mempool.
//!
//! Calls are blocking (bitcoincore-rpc) and run on tokio's blocking pool. Replies are read
//! untyped, so a newer node's extra or renamed fields never break parsing. No wallet RPC is
//! used. The cookie file is read before every call, so a restarted node is picked up.
//!
//! A history query costs: `getrawmempool` (plus one `getrawtransaction` per mempool
//! transaction not seen before: the decoded mempool is cached, across processes with
//! [`CoreBackend::with_cache_dir`]), `getbestblockhash` and, unless the last scan was taken
//! at that block and covered the address, one `scantxoutset` (for the address and the
//! addresses scanned recently, so one scan serves a piece's history and the signer's coins),
//! then
//! per block holding 16 or more of the address's transactions one `getblockhash` and one
//! `getblock` verbosity 3 (all its transactions with prevouts and positions), and for the
//! rest one `getrawtransaction` verbosity 2 each (prevouts from the undo data) and one
//! `getblock` per block (positions); mempool transactions' prevouts, which the node does not
//! list, come from the cached mempool or one `getrawtransaction` per distinct confirmed
//! parent. Calls of a kind go in JSON-RPC batches of up to 250 (4 for whole blocks): the cost
//! is O(transactions + blocks), never a call per input.
//!
//! UTXOs cost the scan as above, one `gettxspendingprevout` for all candidates (dropping
//! what a mempool transaction spends) and, at `min_conf` 0, the mempool refresh. A
//! transaction's status is answered from the decoded mempool, without a call, when the
//! last `getrawmempool` (less than a second ago, within the same action) listed it.

mod mempool;
mod parse;
pub(crate) mod rpc;
mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::{Address, Network, OutPoint, Transaction, Txid};
use serde_json::{json, Value};
use spool_protocol::chain::Utxo;
use spool_protocol::chain::{ChainTx, TxInclusion, TxPlace};

pub use rpc::{redact_url, CoreAuth, RpcCounts};

use crate::backend::{check_network, sort_by_place, Backend};
use crate::error::BackendError;
use crate::retry::{retrying, RetryPolicy};
use mempool::MempoolCache;
use rpc::Rpc;

/// JSON-RPC code: no such transaction or block.
const RPC_INVALID_ADDRESS_OR_KEY: i32 = -5;
/// JSON-RPC code: invalid parameter (also "scan already in progress").
const RPC_INVALID_PARAMETER: i32 = -8;
/// JSON-RPC code: transaction already in the chain.
const RPC_VERIFY_ALREADY_IN_CHAIN: i32 = -27;
/// Default deadline of one ordinary RPC call (`--rpc-timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline of one `scantxoutset` (it reads the whole UTXO set: minutes on mainnet); a
/// longer `--rpc-timeout` wins.
pub const SCAN_TIMEOUT: Duration = Duration::from_secs(600);
/// From this many of an address's transactions in one block on, the block is read whole.
const DENSE_BLOCK: usize = 16;
/// Whole blocks (verbosity 3, megabytes each on mainnet) per round trip.
const DENSE_BLOCKS_PER_TRIP: usize = 4;
/// How long to wait for another client's `scantxoutset` to finish.
const SCAN_BUSY_WAIT: Duration = Duration::from_secs(300);

/// A [`Backend`] talking to a Bitcoin Core node (`-txindex=1`, no wallet needed).
pub struct CoreBackend {
    rpc: Arc<Rpc>,
    network: Network,
    retry: RetryPolicy,
    mempool: Arc<Mutex<MempoolCache>>,
    /// Set once the node's chain was found to match `network`.
    chain_checked: Arc<AtomicBool>,
}

impl std::fmt::Debug for CoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreBackend")
            .field("url", &self.rpc.url())
            .field("network", &self.network)
            .field("retry", &self.retry)
            .finish()
    }
}

impl CoreBackend {
    /// A backend for the node at `url` (e.g. `http://127.0.0.1:18443`) on `network`.
    ///
    /// Nothing is contacted yet; a bad URL is reported here, an unreachable node at the first
    /// call.
    pub fn new(url: &str, auth: CoreAuth, network: Network) -> Result<CoreBackend, BackendError> {
        CoreBackend::with_timeout(url, auth, network, DEFAULT_TIMEOUT)
    }

    /// Like [`CoreBackend::new`] with the deadline of one ordinary call (`scantxoutset`
    /// gets the longer of it and [`SCAN_TIMEOUT`]).
    pub fn with_timeout(
        url: &str,
        auth: CoreAuth,
        network: Network,
        timeout: Duration,
    ) -> Result<CoreBackend, BackendError> {
        Ok(CoreBackend {
            rpc: Arc::new(Rpc::new(url, auth, timeout, timeout.max(SCAN_TIMEOUT))?),
            network,
            retry: RetryPolicy::default(),
            mempool: Arc::new(Mutex::new(MempoolCache::default())),
            chain_checked: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Keeps the decoded mempool, the resolved previous outputs of its transactions and the
    /// last `scantxoutset` reply in `dir` (the per-network data directory, created when
    /// first written), so that the next process fetches only what changed since. The file
    /// is validated against the node before use and ignored when corrupt.
    pub fn with_cache_dir(mut self, dir: &std::path::Path) -> CoreBackend {
        self.mempool = Arc::new(Mutex::new(MempoolCache::persistent(
            store::CacheFile::in_dir(dir, self.network),
        )));
        self
    }

    /// The cache file used with [`CoreBackend::with_cache_dir`] in `dir`.
    pub fn cache_file(dir: &std::path::Path) -> std::path::PathBuf {
        dir.join(store::FILE_NAME)
    }

    /// Replaces the retry policy for transient failures.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> CoreBackend {
        self.retry = retry;
        self
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        self.rpc.url()
    }

    /// RPC calls and round trips made so far by this backend.
    pub fn rpc_counts(&self) -> RpcCounts {
        self.rpc.counts()
    }

    /// Runs `op` on the blocking pool, retrying transient failures.
    async fn run<T, F>(&self, what: &str, op: F) -> Result<T, BackendError>
    where
        T: Send + 'static,
        F: Fn(&Rpc, &Mutex<MempoolCache>) -> Result<T, BackendError> + Send + Sync + 'static,
    {
        let op = Arc::new(op);
        retrying(&self.retry, what, || {
            let rpc = self.rpc.clone();
            let url = self.rpc.url().to_string();
            let mempool = self.mempool.clone();
            let op = op.clone();
            let checked = self.chain_checked.clone();
            let network = self.network;
            async move {
                tokio::task::spawn_blocking(move || {
                    if !checked.load(Ordering::Acquire) {
                        check_chain(&rpc, network)?;
                        checked.store(true, Ordering::Release);
                    }
                    let result = op(&rpc, &mempool);
                    mempool
                        .lock()
                        .expect("mempool cache lock poisoned")
                        .persist();
                    result
                })
                .await
                .map_err(|err| BackendError::bad_response(&url, format!("task failed: {err}")))?
            }
        })
        .await
    }
}

/// The name Core's `getblockchaininfo` gives the chain of `network`.
fn chain_name(network: Network) -> &'static str {
    match network {
        Network::Bitcoin => "main",
        Network::Testnet => "test",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
        // Testnet4 and any network added later.
        _ => "testnet4",
    }
}

/// Refuses a node that serves another chain than `network` (one call per backend).
fn check_chain(rpc: &Rpc, network: Network) -> Result<(), BackendError> {
    let info = rpc.call_ok("getblockchaininfo", &[])?;
    let actual = info["chain"].as_str().ok_or_else(|| {
        BackendError::bad_response(rpc.url(), "getblockchaininfo has no chain".to_string())
    })?;
    if actual == chain_name(network) {
        Ok(())
    } else {
        Err(BackendError::ChainMismatch {
            url: rpc.url().to_string(),
            expected: network,
            actual: actual.to_string(),
        })
    }
}

#[async_trait::async_trait]
impl Backend for CoreBackend {
    fn network(&self) -> Network {
        self.network
    }

    fn describe(&self) -> String {
        format!("bitcoind at {}", self.rpc.url())
    }

    async fn tip_height(&self) -> Result<u64, BackendError> {
        self.run("getblockcount", |rpc, _| {
            let count = rpc.call_ok("getblockcount", &[])?;
            count
                .as_u64()
                .ok_or_else(|| rpc_bad(rpc, "getblockcount", &count))
        })
        .await
    }

    async fn utxos(&self, address: &Address, min_conf: u32) -> Result<Vec<Utxo>, BackendError> {
        check_network(address, self.network)?;
        let address = address.clone();
        self.run("utxos", move |rpc, mempool| {
            utxos_blocking(rpc, mempool, &address, min_conf)
        })
        .await
    }

    async fn address_transactions(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError> {
        check_network(address, self.network)?;
        let address = address.clone();
        self.run("address history", move |rpc, mempool| {
            history_blocking(rpc, mempool, &address)
        })
        .await
    }

    async fn transaction(&self, txid: &Txid) -> Result<ChainTx, BackendError> {
        let txid = *txid;
        self.run("transaction", move |rpc, mempool| {
            {
                let mut cache = mempool.lock().expect("mempool cache lock poisoned");
                if cache.fresh_listing() && cache.get(&txid).is_some() {
                    let mut found = cached_chain_txs(rpc, &mut cache, &[txid])?;
                    if let Some(chain_tx) = found.pop() {
                        return Ok(chain_tx);
                    }
                }
            }
            let mut found = chain_txs(rpc, mempool, &[txid])?;
            found.pop().flatten().ok_or_else(|| BackendError::NotFound {
                what: format!("transaction {txid}"),
            })
        })
        .await
    }

    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, BackendError> {
        let tx = tx.clone();
        self.run("broadcast", move |rpc, _| broadcast_blocking(rpc, &tx))
            .await
    }

    async fn tx_inclusion(&self, txid: &Txid) -> Result<TxInclusion, BackendError> {
        let txid = *txid;
        self.run("tx_inclusion", move |rpc, _| {
            let not_confirmed = || BackendError::NotFound {
                what: format!("a block holding transaction {txid}"),
            };
            let info = match rpc.call("getrawtransaction", &[json!(txid.to_string()), json!(1)])? {
                Ok(info) => info,
                Err(_) => {
                    return Err(BackendError::NotFound {
                        what: format!("transaction {txid}"),
                    })
                }
            };
            let block_hash = info
                .get("blockhash")
                .and_then(Value::as_str)
                .ok_or_else(not_confirmed)?
                .to_owned();
            let block = rpc.call_ok("getblock", &[json!(block_hash), json!(1)])?;
            let height = block
                .get("height")
                .and_then(Value::as_u64)
                .ok_or_else(|| rpc_bad(rpc, "getblock", &block))?;
            let txids = block
                .get("tx")
                .and_then(Value::as_array)
                .ok_or_else(|| rpc_bad(rpc, "getblock", &block))?
                .iter()
                .map(|t| t.as_str().and_then(|t| Txid::from_str(t).ok()))
                .collect::<Option<Vec<Txid>>>()
                .ok_or_else(|| rpc_bad(rpc, "getblock", &block))?;
            let proof = rpc.call_ok(
                "gettxoutproof",
                &[json!([txid.to_string()]), json!(block_hash)],
            )?;
            let merkle_block: bitcoin::MerkleBlock = proof
                .as_str()
                .and_then(|hex| bitcoin::consensus::encode::deserialize_hex(hex).ok())
                .ok_or_else(|| rpc_bad(rpc, "gettxoutproof", &proof))?;
            let coinbase_hex = rpc.call_ok(
                "getrawtransaction",
                &[json!(txids[0].to_string()), json!(0), json!(block_hash)],
            )?;
            let coinbase: Transaction = coinbase_hex
                .as_str()
                .and_then(|hex| bitcoin::consensus::encode::deserialize_hex(hex).ok())
                .ok_or_else(|| rpc_bad(rpc, "getrawtransaction", &coinbase_hex))?;
            Ok(TxInclusion {
                height,
                merkle_block,
                coinbase,
                coinbase_branch: spool_protocol::certificate::coinbase_branch(&txids),
            })
        })
        .await
    }

    async fn block_header_at(
        &self,
        height: u64,
    ) -> Result<(bitcoin::BlockHash, bitcoin::block::Header), BackendError> {
        self.run("block_header_at", move |rpc, _| {
            let hash = match rpc.call("getblockhash", &[json!(height)])? {
                Ok(hash) => hash,
                Err(_) => {
                    return Err(BackendError::NotFound {
                        what: format!("a block at height {height}"),
                    })
                }
            };
            let hash_text = hash
                .as_str()
                .ok_or_else(|| rpc_bad(rpc, "getblockhash", &hash))?
                .to_owned();
            let header = rpc.call_ok("getblockheader", &[json!(hash_text), json!(false)])?;
            let header: bitcoin::block::Header = header
                .as_str()
                .and_then(|hex| bitcoin::consensus::encode::deserialize_hex(hex).ok())
                .ok_or_else(|| rpc_bad(rpc, "getblockheader", &header))?;
            Ok((header.block_hash(), header))
        })
        .await
    }

    async fn spender(&self, outpoint: &OutPoint) -> Result<Option<Txid>, BackendError> {
        let outpoint = *outpoint;
        self.run("spender", move |rpc, _| {
            let reply = rpc.call_ok(
                "gettxspendingprevout",
                &[json!([{"txid": outpoint.txid.to_string(), "vout": outpoint.vout}])],
            )?;
            Ok(reply
                .get(0)
                .and_then(|entry| entry.get("spendingtxid"))
                .and_then(Value::as_str)
                .and_then(|txid| Txid::from_str(txid).ok()))
        })
        .await
    }
}

fn rpc_bad(rpc: &Rpc, method: &str, value: &Value) -> BackendError {
    BackendError::bad_response(rpc.url(), format!("{method}: unexpected reply {value}"))
}

/// The confirmed outputs paying `address` and the height they were read at: from the scan
/// memo while the node's best block is the one it was taken at, else one `scantxoutset`
/// for `address` and the addresses scanned recently (one pass over the UTXO set serves the
/// piece's history and the signer's coins of the same action).
fn scan_address(
    rpc: &Rpc,
    mempool: &Mutex<MempoolCache>,
    address: &Address,
) -> Result<(u64, Vec<parse::ScannedOutput>), BackendError> {
    let script = address.script_pubkey();
    let name = address.to_string();
    let best = rpc.call_ok("getbestblockhash", &[])?;
    let best: bitcoin::BlockHash = best
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| rpc_bad(rpc, "getbestblockhash", &best))?;
    let mut cache = mempool.lock().expect("mempool cache lock poisoned");
    if let Some(memo) = cache.scan_at(&best, &name) {
        let height = memo.height;
        let outputs = memo
            .outputs
            .iter()
            .filter(|out| out.script_pubkey == script)
            .cloned()
            .collect();
        cache.touch(&name);
        return Ok((height, outputs));
    }
    let set = cache.scan_set(&name);
    let descriptors: Vec<Value> = set
        .iter()
        .map(|a| json!({ "desc": format!("addr({a})") }))
        .collect();
    let params = [json!("start"), Value::Array(descriptors)];
    let started = std::time::Instant::now();
    let reply = loop {
        match rpc.call("scantxoutset", &params)? {
            Ok(reply) => break reply,
            Err(refusal)
                if refusal.code == RPC_INVALID_PARAMETER
                    && refusal.message.contains("in progress")
                    && started.elapsed() < SCAN_BUSY_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(refusal) => return Err(rpc.refusal_error("scantxoutset", refusal)),
        }
    };
    let (height, all) = parse::scan_reply(rpc.url(), &reply)?;
    let outputs: Vec<parse::ScannedOutput> = all
        .iter()
        .filter(|out| out.script_pubkey == script)
        .cloned()
        .collect();
    // The reply names the block it read the UTXO set at (Core 0.21+); without it, nothing
    // is memoised.
    if let Some(scanned_at) = reply["bestblock"]
        .as_str()
        .and_then(|s| s.parse::<bitcoin::BlockHash>().ok())
    {
        cache.record_scan(
            store::ScanMemo {
                best_block: scanned_at,
                height,
                addresses: set,
                outputs: all,
            },
            &name,
        );
    }
    Ok((height, outputs))
}

fn utxos_blocking(
    rpc: &Rpc,
    mempool: &Mutex<MempoolCache>,
    address: &Address,
    min_conf: u32,
) -> Result<Vec<Utxo>, BackendError> {
    let script = address.script_pubkey();
    // The mempool is read before the UTXO set, so that a transaction confirmed in between
    // is seen at least once (deduplicated below) instead of never.
    let unconfirmed = if min_conf == 0 {
        let mut cache = mempool.lock().expect("mempool cache lock poisoned");
        cache.refresh(rpc)?;
        cache.outputs_paying(&script)
    } else {
        Vec::new()
    };
    let (tip, scanned) = scan_address(rpc, mempool, address)?;
    let mut found: BTreeMap<OutPoint, Utxo> = BTreeMap::new();
    for out in scanned {
        let confirmations = (tip + 1).saturating_sub(out.height);
        if confirmations < u64::from(min_conf) {
            continue;
        }
        found.insert(
            out.outpoint,
            Utxo {
                outpoint: out.outpoint,
                value: out.value,
                script_pubkey: out.script_pubkey,
                confirmations: u32::try_from(confirmations).unwrap_or(u32::MAX),
                is_coinbase: out.coinbase,
            },
        );
    }
    for (outpoint, txout) in unconfirmed {
        found.entry(outpoint).or_insert(Utxo {
            outpoint,
            value: txout.value,
            script_pubkey: txout.script_pubkey,
            confirmations: 0,
            is_coinbase: false,
        });
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    // Drop what a mempool transaction already spends.
    let outpoints: Vec<Value> = found
        .keys()
        .map(|op| json!({ "txid": op.txid.to_string(), "vout": op.vout }))
        .collect();
    let spending = rpc.call_ok("gettxspendingprevout", &[Value::Array(outpoints)])?;
    for spent in parse::spent_outpoints(rpc.url(), &spending)? {
        found.remove(&spent);
    }
    Ok(found.into_values().collect())
}

fn history_blocking(
    rpc: &Rpc,
    mempool: &Mutex<MempoolCache>,
    address: &Address,
) -> Result<Vec<ChainTx>, BackendError> {
    let script = address.script_pubkey();
    let unconfirmed: Vec<Txid> = {
        let mut cache = mempool.lock().expect("mempool cache lock poisoned");
        cache.refresh(rpc)?;
        cache.txids_paying(&script)
    };
    let (_, scanned) = scan_address(rpc, mempool, address)?;
    // Blocks holding many of the address's transactions are read whole (their transactions
    // come with prevouts and positions); the others one transaction at a time.
    let mut per_height: BTreeMap<u64, HashSet<Txid>> = BTreeMap::new();
    for out in &scanned {
        per_height
            .entry(out.height)
            .or_default()
            .insert(out.outpoint.txid);
    }
    per_height.retain(|_, txids| txids.len() >= DENSE_BLOCK);
    let mut txs = dense_blocks(rpc, &per_height)?;
    let mut seen: HashSet<Txid> = txs.iter().map(ChainTx::txid).collect();
    let mut txids: Vec<Txid> = scanned.iter().map(|out| out.outpoint.txid).collect();
    txids.retain(|txid| seen.insert(*txid));
    // Confirmed since the listing: the scan's answer (confirmed) wins.
    let unconfirmed: Vec<Txid> = unconfirmed
        .into_iter()
        .filter(|txid| seen.insert(*txid))
        .collect();
    txs.extend(chain_txs(rpc, mempool, &txids)?.into_iter().flatten());
    {
        let mut cache = mempool.lock().expect("mempool cache lock poisoned");
        txs.extend(cached_chain_txs(rpc, &mut cache, &unconfirmed)?);
    }
    txs.retain(|chain_tx| {
        chain_tx
            .tx
            .output
            .iter()
            .any(|out| out.script_pubkey == script)
    });
    sort_by_place(&mut txs);
    Ok(txs)
}

/// Reads the blocks at the heights of `wanted` whole (`getblock` verbosity 3: every
/// transaction with its prevouts, in block order) and returns the wanted transactions.
/// A wanted transaction missing from the block now at its height (a reorganisation since
/// the scan) is left out, to be fetched one by one.
fn dense_blocks(
    rpc: &Rpc,
    wanted: &BTreeMap<u64, HashSet<Txid>>,
) -> Result<Vec<ChainTx>, BackendError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<Vec<Value>> = wanted.keys().map(|h| vec![json!(h)]).collect();
    let hashes = rpc.batch_ok("getblockhash", &params)?;
    let params: Vec<Vec<Value>> = hashes.into_iter().map(|h| vec![h, json!(3)]).collect();
    let blocks = rpc.batch_in("getblock", &params, DENSE_BLOCKS_PER_TRIP)?;
    let mut found = Vec::new();
    for (txids, block) in wanted.values().zip(blocks) {
        let block = block.map_err(|refusal| rpc.refusal_error("getblock", refusal))?;
        found.extend(parse::block_txs(rpc.url(), &block, txids)?);
    }
    Ok(found)
}

/// Fetches transactions with prevouts and places: one batched `getrawtransaction`
/// (verbosity 2) and one batched `getblock` for the distinct blocks. Mempool transactions'
/// prevouts come from the mempool cache or, for confirmed parents, one batched
/// `getrawtransaction` per distinct parent. `None` where unknown.
fn chain_txs(
    rpc: &Rpc,
    mempool: &Mutex<MempoolCache>,
    txids: &[Txid],
) -> Result<Vec<Option<ChainTx>>, BackendError> {
    if txids.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<Vec<Value>> = txids
        .iter()
        .map(|txid| vec![json!(txid.to_string()), json!(2)])
        .collect();
    let replies = rpc.batch("getrawtransaction", &params)?;
    let mut decoded = Vec::with_capacity(txids.len());
    for (txid, reply) in txids.iter().zip(replies) {
        match reply {
            Ok(value) => decoded.push(Some(parse::verbose_tx(rpc.url(), txid, &value)?)),
            Err(refusal) if refusal.code == RPC_INVALID_ADDRESS_OR_KEY => decoded.push(None),
            Err(refusal) => return Err(rpc.refusal_error("getrawtransaction", refusal)),
        }
    }
    resolve_mempool_prevouts(rpc, mempool, &mut decoded)?;
    let blocks: Vec<bitcoin::BlockHash> = {
        let mut distinct: Vec<_> = decoded.iter().flatten().filter_map(|d| d.block).collect();
        distinct.sort();
        distinct.dedup();
        distinct
    };
    let mut places: HashMap<bitcoin::BlockHash, parse::BlockPlaces> = HashMap::new();
    if !blocks.is_empty() {
        let params: Vec<Vec<Value>> = blocks
            .iter()
            .map(|hash| vec![json!(hash.to_string()), json!(1)])
            .collect();
        for (hash, reply) in blocks.iter().zip(rpc.batch_ok("getblock", &params)?) {
            places.insert(*hash, parse::block_places(rpc.url(), &reply)?);
        }
    }
    decoded
        .into_iter()
        .map(|d| {
            d.map(|d| {
                let place = match d.block {
                    None => TxPlace::Unconfirmed,
                    Some(hash) => {
                        let block = &places[&hash];
                        let txid = d.tx.compute_txid();
                        let position = *block.positions.get(&txid).ok_or_else(|| {
                            BackendError::bad_response(
                                rpc.url(),
                                format!("block {hash} does not list transaction {txid}"),
                            )
                        })?;
                        TxPlace::Confirmed {
                            height: block.height,
                            position,
                            time: block.time,
                        }
                    }
                };
                Ok(ChainTx {
                    tx: d.tx,
                    prevouts: d.prevouts.unwrap_or_default(),
                    place,
                })
            })
            .transpose()
        })
        .collect()
}

/// The mempool transactions `txids` (all in the cache's last listing) as unconfirmed
/// [`ChainTx`]s, their previous outputs from the cache, resolved where missing (from
/// cached parents, else one batched `getrawtransaction` per distinct confirmed parent) and
/// kept for the next call.
fn cached_chain_txs(
    rpc: &Rpc,
    cache: &mut MempoolCache,
    txids: &[Txid],
) -> Result<Vec<ChainTx>, BackendError> {
    let unresolved: Vec<Txid> = txids
        .iter()
        .filter(|txid| cache.get(txid).is_some_and(|c| c.prevouts.is_none()))
        .copied()
        .collect();
    if !unresolved.is_empty() {
        let mut known: HashMap<OutPoint, bitcoin::TxOut> = HashMap::new();
        let mut parents: Vec<Txid> = Vec::new();
        for txid in &unresolved {
            for input in &cache.get(txid).expect("listed above").tx.input {
                match cache.output(&input.previous_output) {
                    Some(out) => {
                        known.insert(input.previous_output, out);
                    }
                    None => parents.push(input.previous_output.txid),
                }
            }
        }
        parents.sort();
        parents.dedup();
        fetch_parents(rpc, &parents, &mut known)?;
        for txid in &unresolved {
            let tx = &cache.get(txid).expect("listed above").tx;
            let prevouts = prevouts_in(rpc, tx, &known)?;
            cache.set_prevouts(txid, prevouts);
        }
    }
    Ok(txids
        .iter()
        .filter_map(|txid| cache.get(txid))
        .map(|cached| ChainTx {
            tx: cached.tx.clone(),
            prevouts: cached.prevouts.clone().unwrap_or_default(),
            place: TxPlace::Unconfirmed,
        })
        .collect())
}

/// The outputs `tx` spends, index for index, from `known`; an error naming the first one
/// missing.
fn prevouts_in(
    rpc: &Rpc,
    tx: &Transaction,
    known: &HashMap<OutPoint, bitcoin::TxOut>,
) -> Result<Vec<bitcoin::TxOut>, BackendError> {
    tx.input
        .iter()
        .map(|i| {
            known.get(&i.previous_output).cloned().ok_or_else(|| {
                BackendError::bad_response(
                    rpc.url(),
                    format!("no prevout {} found", i.previous_output),
                )
            })
        })
        .collect()
}

/// Adds every output of the transactions `parents` to `known` (one batched
/// `getrawtransaction`).
fn fetch_parents(
    rpc: &Rpc,
    parents: &[Txid],
    known: &mut HashMap<OutPoint, bitcoin::TxOut>,
) -> Result<(), BackendError> {
    if parents.is_empty() {
        return Ok(());
    }
    let params: Vec<Vec<Value>> = parents
        .iter()
        .map(|txid| vec![json!(txid.to_string()), json!(0)])
        .collect();
    for (parent, reply) in parents
        .iter()
        .zip(rpc.batch_ok("getrawtransaction", &params)?)
    {
        let tx = parse::raw_tx(rpc.url(), &format!("getrawtransaction {parent}"), &reply)?;
        for (vout, out) in tx.output.into_iter().enumerate() {
            known.insert(
                OutPoint {
                    txid: *parent,
                    vout: vout as u32,
                },
                out,
            );
        }
    }
    Ok(())
}

/// Fills in the prevouts of mempool transactions: from the mempool cache where the parent
/// is unconfirmed, else from the parent itself (one batched call per distinct parent).
fn resolve_mempool_prevouts(
    rpc: &Rpc,
    mempool: &Mutex<MempoolCache>,
    decoded: &mut [Option<parse::VerboseTx>],
) -> Result<(), BackendError> {
    let missing: Vec<OutPoint> = decoded
        .iter()
        .flatten()
        .filter(|d| d.prevouts.is_none())
        .flat_map(|d| d.tx.input.iter().map(|i| i.previous_output))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut known: HashMap<OutPoint, bitcoin::TxOut> = HashMap::new();
    {
        let cache = mempool.lock().expect("mempool cache lock poisoned");
        for outpoint in &missing {
            if let Some(out) = cache.output(outpoint) {
                known.insert(*outpoint, out);
            }
        }
    }
    let mut parents: Vec<Txid> = missing
        .iter()
        .filter(|op| !known.contains_key(op))
        .map(|op| op.txid)
        .collect();
    parents.sort();
    parents.dedup();
    fetch_parents(rpc, &parents, &mut known)?;
    for d in decoded.iter_mut().flatten() {
        if d.prevouts.is_none() {
            d.prevouts = Some(prevouts_in(rpc, &d.tx, &known)?);
        }
    }
    Ok(())
}

fn broadcast_blocking(rpc: &Rpc, tx: &Transaction) -> Result<Txid, BackendError> {
    let txid = tx.compute_txid();
    let hex = bitcoin::consensus::encode::serialize_hex(tx);
    match rpc.call("sendrawtransaction", &[json!(hex)])? {
        Ok(reply) => {
            let answered = reply
                .as_str()
                .and_then(|s| Txid::from_str(s).ok())
                .ok_or_else(|| rpc_bad(rpc, "sendrawtransaction", &reply))?;
            if answered != txid {
                return Err(BackendError::bad_response(
                    rpc.url(),
                    format!("sendrawtransaction answered {answered} for {txid}"),
                ));
            }
            Ok(txid)
        }
        Err(refusal) => {
            let known = refusal.code == RPC_VERIFY_ALREADY_IN_CHAIN
                || refusal.message.contains("already-in-mempool")
                || refusal.message.contains("txn-already-known")
                || refusal.message.contains("already in block chain");
            if known {
                return Ok(txid);
            }
            // An earlier attempt may have got through (its reply lost) and the transaction's
            // outputs be spent by now: ask the transaction index before calling it rejected.
            match rpc.call("getrawtransaction", &[json!(txid.to_string()), json!(0)])? {
                Ok(_) => Ok(txid),
                Err(_) => Err(BackendError::Rejected {
                    txid,
                    reason: refusal.message,
                }),
            }
        }
    }
}
