//! Any Esplora HTTP API (Blockstream's, mempool.space's, a self-hosted electrs), through
//! esplora-client.
//!
//! Costs: a history query reads `/address/:addr/txs` (the mempool ones, then the newest
//! confirmed ones: 25 on Blockstream's servers, up to 50 of all on mempool.space's) and then
//! `/address/:addr/txs/chain/:last` for each further 25; when a page after a full one comes
//! back empty, `/tx/:last/status` tells the end of the history from a reorganisation (the
//! reading then starts over). The position of a confirmed transaction in its block comes from
//! `/block/:hash/txids` (one request per block holding two or more of them) or
//! `/tx/:txid/merkle-proof` (a block holding one). Esplora lists at most 50 mempool
//! transactions of an address and never says whether it left some out: a history with 50
//! unconfirmed transactions is refused rather than returned incomplete.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bitcoin::{Address, BlockHash, Network, OutPoint, Transaction, Txid};
use esplora_client::{AsyncClient, EsploraTx};
use spool_protocol::chain::Utxo;
use spool_protocol::chain::{ChainTx, TxPlace};

use crate::backend::{check_network, sort_by_place, Backend};
use crate::error::BackendError;
use crate::retry::{retrying, RetryPolicy};

/// Confirmed transactions per page of `/address/:addr/txs/chain` (fixed by the Esplora API).
const CHAIN_PAGE: usize = 25;
/// Most mempool transactions Esplora lists for one address (and, on mempool.space, most
/// transactions of all on the first page of `/address/:addr/txs`).
const MEMPOOL_CAP: usize = 50;
/// Readings of a history before giving up when the chain keeps reorganising under it.
const HISTORY_ATTEMPTS: usize = 3;
/// Requests in flight at once when looking up block positions.
const PARALLEL: usize = 8;
/// Default timeout of one HTTP request.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A [`Backend`] talking to an Esplora HTTP API.
#[derive(Clone)]
pub struct EsploraBackend {
    client: AsyncClient,
    base_url: String,
    network: Network,
    retry: RetryPolicy,
    requests: Arc<AtomicU64>,
    /// Set once the server's genesis block was found to be `network`'s.
    chain_checked: Arc<tokio::sync::OnceCell<()>>,
}

impl std::fmt::Debug for EsploraBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsploraBackend")
            .field("base_url", &self.base_url)
            .field("network", &self.network)
            .finish()
    }
}

impl EsploraBackend {
    /// A backend for the Esplora API at `base_url` (e.g.
    /// `https://blockstream.info/testnet/api`, no trailing slash needed) on `network`.
    pub fn new(base_url: &str, network: Network) -> Result<EsploraBackend, BackendError> {
        EsploraBackend::with_timeout(base_url, network, DEFAULT_TIMEOUT)
    }

    /// Like [`EsploraBackend::new`] with the timeout of one HTTP request.
    pub fn with_timeout(
        base_url: &str,
        network: Network,
        timeout: Duration,
    ) -> Result<EsploraBackend, BackendError> {
        let base_url = base_url.trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(BackendError::Config {
                url: base_url,
                detail: "an Esplora URL starts with http:// or https://".to_string(),
            });
        }
        let client = esplora_client::Builder::new(&base_url)
            .timeout(timeout)
            // Retries are ours (RetryPolicy), also for connection errors.
            .max_retries(0)
            .build_async()
            .map_err(|err| BackendError::Config {
                url: base_url.clone(),
                detail: err.to_string(),
            })?;
        Ok(EsploraBackend {
            client,
            base_url,
            network,
            retry: RetryPolicy::default(),
            requests: Arc::new(AtomicU64::new(0)),
            chain_checked: Arc::new(tokio::sync::OnceCell::new()),
        })
    }

    /// Replaces the retry policy for transient failures.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> EsploraBackend {
        self.retry = retry;
        self
    }

    /// The API's base URL.
    pub fn url(&self) -> &str {
        &self.base_url
    }

    /// HTTP requests made so far by this backend (and its clones).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Refuses a server of another chain than `network`: its block 0 must be the network's
    /// genesis block. Asked once per backend.
    async fn ensure_chain(&self) -> Result<(), BackendError> {
        self.chain_checked
            .get_or_try_init(|| async {
                let genesis = retrying(&self.retry, "genesis block", || async {
                    self.count();
                    self.client
                        .get_block_hash(0)
                        .await
                        .map_err(|err| self.error("block 0", err))
                })
                .await?;
                if genesis == genesis_hash(self.network) {
                    return Ok(());
                }
                let actual = [
                    Network::Bitcoin,
                    Network::Testnet,
                    Network::Signet,
                    Network::Regtest,
                ]
                .into_iter()
                .find(|network| genesis_hash(*network) == genesis)
                .map_or_else(|| format!("unknown (genesis {genesis})"), |n| n.to_string());
                Err(BackendError::ChainMismatch {
                    url: self.base_url.clone(),
                    expected: self.network,
                    actual,
                })
            })
            .await
            .map(|_| ())
    }

    fn count(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn error(&self, what: &str, err: esplora_client::Error) -> BackendError {
        classify(&self.base_url, what, err)
    }

    async fn tx_info(&self, txid: &Txid) -> Result<EsploraTx, BackendError> {
        self.count();
        self.client
            .get_tx_info(txid)
            .await
            .map_err(|err| self.error(&format!("transaction {txid}"), err))?
            .ok_or_else(|| BackendError::NotFound {
                what: format!("transaction {txid}"),
            })
    }

    /// Positions in their blocks of the confirmed transactions among `txs`.
    async fn positions(&self, txs: &[EsploraTx]) -> Result<HashMap<Txid, u32>, BackendError> {
        let mut by_block: BTreeMap<BlockHash, Vec<Txid>> = BTreeMap::new();
        for tx in txs {
            if let (true, Some(hash)) = (tx.status.confirmed, tx.status.block_hash) {
                by_block.entry(hash).or_default().push(tx.txid);
            }
        }
        let mut jobs = tokio::task::JoinSet::new();
        let mut positions = HashMap::new();
        let mut pending = by_block.into_iter();
        loop {
            while jobs.len() < PARALLEL {
                let Some((hash, txids)) = pending.next() else {
                    break;
                };
                let me = self.clone();
                jobs.spawn(async move { me.block_positions(hash, txids).await });
            }
            match jobs.join_next().await {
                None => break,
                Some(joined) => {
                    let found = joined.map_err(|err| {
                        BackendError::bad_response(&self.base_url, format!("task failed: {err}"))
                    })??;
                    positions.extend(found);
                }
            }
        }
        Ok(positions)
    }

    async fn block_positions(
        &self,
        hash: BlockHash,
        txids: Vec<Txid>,
    ) -> Result<Vec<(Txid, u32)>, BackendError> {
        if let [txid] = txids.as_slice() {
            self.count();
            let proof = self
                .client
                .get_merkle_proof(txid)
                .await
                .map_err(|err| self.error(&format!("merkle proof of {txid}"), err))?
                .ok_or_else(|| BackendError::NotFound {
                    what: format!("merkle proof of {txid}"),
                })?;
            let position = u32::try_from(proof.pos).map_err(|_| {
                BackendError::bad_response(&self.base_url, format!("position {}", proof.pos))
            })?;
            return Ok(vec![(*txid, position)]);
        }
        self.count();
        let listed = self
            .client
            .get_block_txids(&hash)
            .await
            .map_err(|err| self.error(&format!("txids of block {hash}"), err))?;
        let index: HashMap<Txid, u32> = listed
            .iter()
            .enumerate()
            .map(|(pos, txid)| (*txid, pos as u32))
            .collect();
        txids
            .into_iter()
            .map(|txid| {
                index.get(&txid).map(|pos| (txid, *pos)).ok_or_else(|| {
                    BackendError::bad_response(
                        &self.base_url,
                        format!("block {hash} does not list transaction {txid}"),
                    )
                })
            })
            .collect()
    }

    fn chain_tx(
        &self,
        tx: &EsploraTx,
        positions: &HashMap<Txid, u32>,
    ) -> Result<ChainTx, BackendError> {
        let transaction = tx.to_tx();
        if transaction.compute_txid() != tx.txid {
            return Err(BackendError::bad_response(
                &self.base_url,
                format!("transaction {} does not hash to its txid", tx.txid),
            ));
        }
        let prevouts = if transaction.is_coinbase() {
            Vec::new()
        } else {
            tx.vin
                .iter()
                .map(|vin| {
                    vin.prevout
                        .as_ref()
                        .map(|p| bitcoin::TxOut {
                            value: p.value,
                            script_pubkey: p.scriptpubkey.clone(),
                        })
                        .ok_or_else(|| {
                            BackendError::bad_response(
                                &self.base_url,
                                format!("transaction {} lacks a prevout", tx.txid),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let place = if tx.status.confirmed {
            let missing = |field: &str| {
                BackendError::bad_response(
                    &self.base_url,
                    format!("confirmed transaction {} lacks {field}", tx.txid),
                )
            };
            TxPlace::Confirmed {
                height: u64::from(
                    tx.status
                        .block_height
                        .ok_or_else(|| missing("block_height"))?,
                ),
                position: *positions
                    .get(&tx.txid)
                    .ok_or_else(|| missing("a position"))?,
                time: tx.status.block_time.ok_or_else(|| missing("block_time"))?,
            }
        } else {
            TxPlace::Unconfirmed
        };
        Ok(ChainTx {
            tx: transaction,
            prevouts,
            place,
        })
    }

    /// The transactions listed for `address`, page by page; `None` when the chain changed
    /// under the paging (the last transaction seen left it), so that it must start over.
    async fn history_pages(
        &self,
        address: &Address,
    ) -> Result<Option<Vec<EsploraTx>>, BackendError> {
        let fetch = |last_seen: Option<Txid>| async move {
            self.count();
            self.client
                .get_address_txs(address, last_seen)
                .await
                .map_err(|err| self.error(&format!("history of {address}"), err))
        };
        // The first page: the mempool ones, then the newest confirmed ones.
        let first = fetch(None).await?;
        let unconfirmed = first.iter().filter(|t| !t.status.confirmed).count();
        if unconfirmed >= MEMPOOL_CAP {
            return Err(BackendError::bad_response(
                &self.base_url,
                format!(
                    "it lists {unconfirmed} unconfirmed transactions of {address}, the most an \
                     Esplora server shows: more may be hidden, so the history would be \
                     incomplete (wait for them to confirm, or use a Bitcoin Core node)"
                ),
            ));
        }
        let mut page: Vec<EsploraTx> = first;
        let mut last_seen: Option<Txid> = None;
        let mut all: Vec<EsploraTx> = Vec::new();
        loop {
            let confirmed: Vec<Txid> = page
                .iter()
                .filter(|t| t.status.confirmed)
                .map(|t| t.txid)
                .collect();
            // Blockstream's first page holds 25 confirmed ones; mempool.space's fills up to 50
            // with the mempool ones first; later pages hold 25. A page short of that is the
            // last one.
            let full = match last_seen {
                None => confirmed.len() >= CHAIN_PAGE.min(MEMPOOL_CAP - unconfirmed),
                Some(_) => confirmed.len() >= CHAIN_PAGE,
            };
            if let (true, Some(seen)) = (confirmed.is_empty(), last_seen) {
                // An empty page after a full one: the end, unless `seen` left the chain (a
                // reorganisation), for which Esplora answers an empty page too.
                self.count();
                let status = self
                    .client
                    .get_tx_status(&seen)
                    .await
                    .map_err(|err| self.error(&format!("status of {seen}"), err))?;
                if !status.confirmed {
                    return Ok(None);
                }
            }
            all.extend(
                page.into_iter()
                    .filter(|t| last_seen.is_none() || t.status.confirmed),
            );
            match confirmed.last() {
                Some(next) if full => last_seen = Some(*next),
                _ => break,
            }
            page = fetch(last_seen).await?;
        }
        Ok(Some(all))
    }

    async fn history_once(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError> {
        let mut listed = None;
        for _ in 0..HISTORY_ATTEMPTS {
            listed = self.history_pages(address).await?;
            if listed.is_some() {
                break;
            }
        }
        let all = listed.ok_or_else(|| {
            BackendError::bad_response(
                &self.base_url,
                format!("the chain kept changing while the history of {address} was read"),
            )
        })?;
        // A transaction seen in the mempool on the first page may have confirmed by a later
        // one: keep the confirmed copy.
        let script = address.script_pubkey();
        let mut by_txid: HashMap<Txid, EsploraTx> = HashMap::new();
        for tx in all {
            if !tx.vout.iter().any(|o| o.scriptpubkey == script) {
                continue;
            }
            match by_txid.get(&tx.txid) {
                Some(kept) if kept.status.confirmed => {}
                _ => {
                    by_txid.insert(tx.txid, tx);
                }
            }
        }
        let all: Vec<EsploraTx> = by_txid.into_values().collect();
        let positions = self.positions(&all).await?;
        let mut txs = all
            .iter()
            .map(|t| self.chain_tx(t, &positions))
            .collect::<Result<Vec<_>, _>>()?;
        sort_by_place(&mut txs);
        Ok(txs)
    }

    async fn utxos_once(
        &self,
        address: &Address,
        min_conf: u32,
    ) -> Result<Vec<Utxo>, BackendError> {
        self.count();
        let listed = self
            .client
            .get_address_utxos(address)
            .await
            .map_err(|err| self.error(&format!("utxos of {address}"), err))?;
        if listed.is_empty() {
            return Ok(Vec::new());
        }
        self.count();
        let tip = self
            .client
            .get_height()
            .await
            .map_err(|err| self.error("tip height", err))?;
        let mut candidates: BTreeMap<Txid, Vec<(u32, bitcoin::Amount, u32)>> = BTreeMap::new();
        for utxo in listed {
            let confirmations = match (utxo.status.confirmed, utxo.status.block_height) {
                (true, Some(height)) => (tip + 1).saturating_sub(height),
                _ => 0,
            };
            if confirmations >= min_conf {
                candidates.entry(utxo.txid).or_default().push((
                    utxo.vout,
                    utxo.value,
                    confirmations,
                ));
            }
        }
        // Per funding transaction: is it a coinbase, and which outputs has a mempool (or any)
        // transaction spent since the listing.
        let mut jobs = tokio::task::JoinSet::new();
        let mut pending = candidates.into_iter();
        let mut out = Vec::new();
        let script = address.script_pubkey();
        loop {
            while jobs.len() < PARALLEL {
                let Some((txid, outputs)) = pending.next() else {
                    break;
                };
                let me = self.clone();
                jobs.spawn(async move {
                    let info = me.tx_info(&txid).await?;
                    me.count();
                    let spends = me
                        .client
                        .get_tx_outspends(&txid)
                        .await
                        .map_err(|err| me.error(&format!("outspends of {txid}"), err))?;
                    Ok::<_, BackendError>((txid, outputs, info, spends))
                });
            }
            match jobs.join_next().await {
                None => break,
                Some(joined) => {
                    let (txid, outputs, info, spends) = joined.map_err(|err| {
                        BackendError::bad_response(&self.base_url, format!("task failed: {err}"))
                    })??;
                    let is_coinbase = info.vin.first().is_some_and(|vin| vin.is_coinbase);
                    for (vout, value, confirmations) in outputs {
                        if spends.get(vout as usize).is_some_and(|s| s.spent) {
                            continue;
                        }
                        out.push(Utxo {
                            outpoint: OutPoint { txid, vout },
                            value,
                            script_pubkey: script.clone(),
                            confirmations,
                            is_coinbase,
                        });
                    }
                }
            }
        }
        out.sort_by_key(|u| u.outpoint);
        Ok(out)
    }

    async fn broadcast_once(&self, tx: &Transaction) -> Result<Txid, BackendError> {
        let txid = tx.compute_txid();
        self.count();
        match self.client.broadcast(tx).await {
            Ok(answered) if answered == txid => Ok(txid),
            Ok(answered) => Err(BackendError::bad_response(
                &self.base_url,
                format!("broadcast answered {answered} for {txid}"),
            )),
            Err(esplora_client::Error::HttpResponse { status, message })
                if (400..500).contains(&status)
                    && status != 401
                    && status != 403
                    && status != 429 =>
            {
                // Already known (an earlier attempt got through) is success.
                self.count();
                match self.client.get_tx_info(&txid).await {
                    Ok(Some(_)) => Ok(txid),
                    Ok(None) => Err(BackendError::Rejected {
                        txid,
                        reason: message,
                    }),
                    Err(err) => Err(self.error(&format!("transaction {txid}"), err)),
                }
            }
            Err(err) => Err(self.error(&format!("broadcast of {txid}"), err)),
        }
    }
}

/// Maps an esplora-client error to a [`BackendError`].
fn classify(url: &str, what: &str, err: esplora_client::Error) -> BackendError {
    use esplora_client::Error as E;
    match err {
        E::BitReq(err) => BackendError::unreachable(url, format!("{what}: {err}")),
        E::HttpResponse { status: 404, .. } => BackendError::NotFound {
            what: what.to_string(),
        },
        E::HttpResponse {
            status: status @ (401 | 403),
            message,
        } => BackendError::Unauthorized {
            url: url.to_string(),
            detail: format!("HTTP {status}: {}", message.trim()),
        },
        E::HttpResponse { status, message } if status == 429 || status >= 500 => {
            BackendError::unreachable(url, format!("{what}: HTTP {status}: {}", message.trim()))
        }
        E::TransactionNotFound(txid) => BackendError::NotFound {
            what: format!("transaction {txid}"),
        },
        other => BackendError::bad_response(url, format!("{what}: {other}")),
    }
}

#[async_trait::async_trait]
impl Backend for EsploraBackend {
    fn network(&self) -> Network {
        self.network
    }

    fn describe(&self) -> String {
        format!("Esplora at {}", self.base_url)
    }

    async fn tip_height(&self) -> Result<u64, BackendError> {
        self.ensure_chain().await?;
        retrying(&self.retry, "tip height", || async {
            self.count();
            self.client
                .get_height()
                .await
                .map(u64::from)
                .map_err(|err| self.error("tip height", err))
        })
        .await
    }

    async fn utxos(&self, address: &Address, min_conf: u32) -> Result<Vec<Utxo>, BackendError> {
        self.ensure_chain().await?;
        check_network(address, self.network)?;
        retrying(&self.retry, "utxos", || self.utxos_once(address, min_conf)).await
    }

    async fn address_transactions(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError> {
        self.ensure_chain().await?;
        check_network(address, self.network)?;
        retrying(&self.retry, "history", || self.history_once(address)).await
    }

    async fn transaction(&self, txid: &Txid) -> Result<ChainTx, BackendError> {
        self.ensure_chain().await?;
        retrying(&self.retry, "transaction", || async {
            let info = self.tx_info(txid).await?;
            let positions = self.positions(std::slice::from_ref(&info)).await?;
            self.chain_tx(&info, &positions)
        })
        .await
    }

    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, BackendError> {
        self.ensure_chain().await?;
        retrying(&self.retry, "broadcast", || self.broadcast_once(tx)).await
    }

    async fn tx_inclusion(
        &self,
        txid: &Txid,
    ) -> Result<spool_protocol::chain::TxInclusion, BackendError> {
        self.ensure_chain().await?;
        let not_found = || BackendError::NotFound {
            what: format!("a block holding transaction {txid}"),
        };
        self.count();
        let merkle_block = self
            .client
            .get_merkle_block(txid)
            .await
            .map_err(|err| self.error(&format!("merkle block proof of {txid}"), err))?
            .ok_or_else(not_found)?;
        self.count();
        let status = self
            .client
            .get_tx_status(txid)
            .await
            .map_err(|err| self.error(&format!("status of {txid}"), err))?;
        let height = status.block_height.ok_or_else(not_found)?;
        let hash = merkle_block.header.block_hash();
        self.count();
        let txids = self
            .client
            .get_block_txids(&hash)
            .await
            .map_err(|err| self.error(&format!("txids of block {hash}"), err))?;
        let first = *txids.first().ok_or_else(not_found)?;
        self.count();
        let coinbase = self
            .client
            .get_tx(&first)
            .await
            .map_err(|err| self.error(&format!("coinbase {first}"), err))?
            .ok_or_else(not_found)?;
        Ok(spool_protocol::chain::TxInclusion {
            height: u64::from(height),
            merkle_block,
            coinbase,
            coinbase_branch: spool_protocol::certificate::coinbase_branch(&txids),
        })
    }

    async fn block_header_at(
        &self,
        height: u64,
    ) -> Result<(BlockHash, bitcoin::block::Header), BackendError> {
        self.ensure_chain().await?;
        let at = u32::try_from(height).map_err(|_| BackendError::NotFound {
            what: format!("a block at height {height}"),
        })?;
        self.count();
        let hash = self
            .client
            .get_block_hash(at)
            .await
            .map_err(|err| self.error(&format!("block at height {height}"), err))?;
        self.count();
        let header = self
            .client
            .get_header_by_hash(&hash)
            .await
            .map_err(|err| self.error(&format!("header of block {hash}"), err))?;
        Ok((hash, header))
    }

    async fn spender(&self, outpoint: &OutPoint) -> Result<Option<Txid>, BackendError> {
        self.count();
        let status = self
            .client
            .get_output_status(&outpoint.txid, u64::from(outpoint.vout))
            .await
            .map_err(|err| self.error(&format!("output {outpoint}"), err))?;
        Ok(status.and_then(|s| s.txid))
    }
}

/// The hash of `network`'s genesis block.
fn genesis_hash(network: Network) -> BlockHash {
    bitcoin::constants::genesis_block(network).block_hash()
}
