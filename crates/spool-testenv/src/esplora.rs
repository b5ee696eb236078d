//! A small Esplora-compatible HTTP server backed by a regtest `bitcoind`, for testing Esplora
//! clients against the same chain as the node.
//!
//! bitcoind has no address index, so the server keeps its own: on every request it reads the
//! blocks it has not seen yet (raw, in JSON-RPC batches) and the mempool, and indexes every
//! transaction by the scripts it pays and spends, every spent outpoint by its spender, and
//! every block's transaction list. A reorganisation (the indexed tip no longer in the best
//! chain) makes it index the chain again from the start. Replies follow the public Esplora API
//! (Blockstream's `API.md`): the same paths, JSON field names, page sizes (25 confirmed
//! transactions per history page, at most 50 mempool ones) and status codes (404 for unknown
//! objects, 400 with the node's message for a refused broadcast). When the node cannot be
//! reached it answers 503.
//!
//! Served: `GET /blocks/tip/height`, `/blocks/tip/hash`, `/block-height/:h`, `/block/:hash`,
//! `/block/:hash/status`, `/block/:hash/header`, `/block/:hash/raw`, `/block/:hash/txids`,
//! `/block/:hash/txid/:i`, `/block/:hash/txs[/:start]`, `/tx/:txid`, `/tx/:txid/hex`,
//! `/tx/:txid/raw`, `/tx/:txid/status`, `/tx/:txid/merkle-proof`, `/tx/:txid/outspend/:vout`,
//! `/tx/:txid/outspends`, `/address/:addr` and `/scripthash/:hash` with `/txs`,
//! `/txs/chain[/:last_seen]`, `/txs/mempool` and `/utxo`, `/mempool`, `/mempool/txids`,
//! `/fee-estimates`; `POST /tx`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bitcoin::hashes::{sha256, Hash};
use bitcoin::{Address, Block, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use bitcoincore_rpc::{jsonrpc, Auth, Client, RpcApi};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

/// Confirmed transactions per history page, as in Esplora.
const CHAIN_PAGE: usize = 25;
/// Most mempool transactions listed for one address, as in Esplora.
const MEMPOOL_PAGE: usize = 50;
/// Calls per JSON-RPC batch while indexing.
const BATCH: usize = 200;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EsploraServerError {
    /// Binding or running the listener failed.
    #[error("esplora test server: {0}")]
    Io(#[from] std::io::Error),
}

/// A running Esplora-compatible server on `127.0.0.1:<free port>`. Stopped when dropped.
pub struct EsploraServer {
    url: String,
    requests: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for EsploraServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsploraServer")
            .field("url", &self.url)
            .finish()
    }
}

impl EsploraServer {
    /// Serves the chain of `node`.
    pub fn start(node: &crate::Node) -> Result<EsploraServer, EsploraServerError> {
        EsploraServer::start_for(&node.rpc_url(), node.cookie_file(), Network::Regtest)
    }

    /// Serves the chain of the node at `rpc_url`, authenticating with `cookie_file` (re-read
    /// on every request, so a restarted node is picked up).
    pub fn start_for(
        rpc_url: &str,
        cookie_file: PathBuf,
        network: Network,
    ) -> Result<EsploraServer, EsploraServerError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let state = Arc::new(State {
            rpc_url: rpc_url.to_string(),
            cookie_file,
            network,
            index: Mutex::new(Index::default()),
            requests: requests.clone(),
        });
        let (shutdown, stop) = tokio::sync::oneshot::channel();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name(format!("esplora-{}", addr.port()))
            .spawn(move || runtime.block_on(serve(listener, state, stop)))?;
        Ok(EsploraServer {
            url: format!("http://{addr}"),
            requests,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (the API sits at the root).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.url
            .trim_start_matches("http://")
            .parse()
            .expect("own url")
    }

    /// HTTP requests answered so far.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for EsploraServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// A reply: status, content type and body.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn text(body: impl Into<String>) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type: "text/plain",
            body: body.into().into_bytes(),
        }
    }
    fn json(value: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }
    fn bytes(body: Vec<u8>) -> Reply {
        Reply {
            status: StatusCode::OK,
            content_type: "application/octet-stream",
            body,
        }
    }
    fn error(status: StatusCode, message: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            body: message.into().into_bytes(),
        }
    }
    fn not_found(what: &str) -> Reply {
        Reply::error(StatusCode::NOT_FOUND, format!("{what} not found"))
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(err) => {
            return respond(Reply::error(StatusCode::BAD_REQUEST, err.to_string()));
        }
    };
    let reply = tokio::task::spawn_blocking(move || state.route(&method, &path, &body))
        .await
        .unwrap_or_else(|err| Reply::error(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()));
    respond(reply)
}

fn respond(reply: Reply) -> Response<Full<Bytes>> {
    Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type)
        .body(Full::new(Bytes::from(reply.body)))
        .expect("valid response")
}

struct State {
    rpc_url: String,
    cookie_file: PathBuf,
    network: Network,
    index: Mutex<Index>,
    requests: Arc<AtomicU64>,
}

/// A failure talking to the node.
struct NodeDown(String);

impl From<NodeDown> for Reply {
    fn from(err: NodeDown) -> Reply {
        Reply::error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("bitcoind unreachable: {}", err.0),
        )
    }
}

impl State {
    fn rpc(&self) -> Result<Client, NodeDown> {
        Client::new(&self.rpc_url, Auth::CookieFile(self.cookie_file.clone())).map_err(|err| {
            NodeDown(format!(
                "{} (cookie {}): {err}",
                self.rpc_url,
                self.cookie_file.display()
            ))
        })
    }

    fn route(&self, method: &Method, path: &str, body: &[u8]) -> Reply {
        let rpc = match self.rpc() {
            Ok(rpc) => rpc,
            Err(err) => return err.into(),
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if *method == Method::POST {
            return match parts.as_slice() {
                ["tx"] => broadcast(&rpc, body),
                _ => Reply::not_found("route"),
            };
        }
        if *method != Method::GET {
            return Reply::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        let mut index = self.index.lock().expect("index lock poisoned");
        if let Err(err) = index.sync(&rpc) {
            return err.into();
        }
        let index = &*index;
        match parts.as_slice() {
            ["blocks", "tip", "height"] => Reply::text(index.tip_height().to_string()),
            ["blocks", "tip", "hash"] => Reply::text(
                index
                    .blocks
                    .last()
                    .map(|b| b.hash.to_string())
                    .unwrap_or_default(),
            ),
            ["block-height", height] => match height
                .parse::<usize>()
                .ok()
                .and_then(|h| index.blocks.get(h))
            {
                Some(block) => Reply::text(block.hash.to_string()),
                None => Reply::not_found("Block"),
            },
            ["block", hash, rest @ ..] => {
                let Some(height) = BlockHash::from_str(hash)
                    .ok()
                    .and_then(|h| index.block_heights.get(&h))
                else {
                    return Reply::not_found("Block");
                };
                index.block_route(&rpc, *height as usize, rest)
            }
            ["tx", txid, rest @ ..] => {
                let Ok(txid) = Txid::from_str(txid) else {
                    return Reply::error(StatusCode::BAD_REQUEST, "Invalid hex string");
                };
                index.tx_route(&txid, rest)
            }
            ["address", address, rest @ ..] => {
                let script = match Address::from_str(address)
                    .map(|a| a.require_network(self.network))
                {
                    Ok(Ok(address)) => address.script_pubkey(),
                    _ => return Reply::error(StatusCode::BAD_REQUEST, "Invalid Bitcoin address"),
                };
                index.script_route(&script, Some(address), rest)
            }
            ["scripthash", hash, rest @ ..] => {
                let script = sha256::Hash::from_str(hash)
                    .ok()
                    .and_then(|h| index.scripts_by_hash.get(&h).cloned());
                match script {
                    Some(script) => index.script_route(&script, None, rest),
                    // A script never seen: empty history.
                    None if sha256::Hash::from_str(hash).is_ok() => {
                        index.script_route(&ScriptBuf::new(), None, rest)
                    }
                    None => Reply::error(StatusCode::BAD_REQUEST, "Invalid scripthash"),
                }
            }
            ["mempool", "txids"] => Reply::json(json!(index
                .mempool_newest_first()
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>())),
            ["mempool"] => {
                let txs: Vec<&Transaction> = index.mempool.values().map(|e| &*e.tx).collect();
                let vsize: usize = txs.iter().map(|t| t.vsize()).sum();
                let fee: u64 = index.mempool.keys().map(|txid| index.fee(txid)).sum();
                Reply::json(
                    json!({ "count": txs.len(), "vsize": vsize, "total_fee": fee, "fee_histogram": [] }),
                )
            }
            ["fee-estimates"] => Reply::json(json!({})),
            _ => Reply::not_found("route"),
        }
    }
}

fn broadcast(rpc: &Client, body: &[u8]) -> Reply {
    let hex = String::from_utf8_lossy(body).trim().to_string();
    match rpc.call::<Value>("sendrawtransaction", &[json!(hex)]) {
        Ok(txid) => Reply::text(txid.as_str().unwrap_or_default()),
        Err(bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(err))) => Reply::error(
            StatusCode::BAD_REQUEST,
            format!(
                "sendrawtransaction RPC error: {}",
                json!({ "code": err.code, "message": err.message })
            ),
        ),
        Err(err) => NodeDown(err.to_string()).into(),
    }
}

/// One block of the indexed best chain.
struct IndexedBlock {
    hash: BlockHash,
    header: bitcoin::block::Header,
    size: usize,
    weight: u64,
    txids: Vec<Txid>,
}

/// A mempool transaction and when the server first saw it.
struct MempoolEntry {
    tx: Arc<Transaction>,
    seen: u64,
}

/// The server's address, spend and block index of the node's chain and mempool.
#[derive(Default)]
struct Index {
    blocks: Vec<IndexedBlock>,
    block_heights: HashMap<BlockHash, u64>,
    txs: HashMap<Txid, Arc<Transaction>>,
    places: HashMap<Txid, (u64, u32)>,
    spends: HashMap<OutPoint, (Txid, u32)>,
    history: HashMap<ScriptBuf, Vec<Txid>>,
    scripts_by_hash: HashMap<sha256::Hash, ScriptBuf>,
    mempool: HashMap<Txid, MempoolEntry>,
    mempool_spends: HashMap<OutPoint, (Txid, u32)>,
    mempool_seen: u64,
}

fn batch(
    rpc: &Client,
    method: &str,
    params: &[Vec<Value>],
) -> Result<Vec<Option<Value>>, NodeDown> {
    let mut out = Vec::with_capacity(params.len());
    for chunk in params.chunks(BATCH) {
        let client = rpc.get_jsonrpc_client();
        let raws = chunk
            .iter()
            .map(serde_json::value::to_raw_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| NodeDown(err.to_string()))?;
        let requests: Vec<_> = raws
            .iter()
            .map(|raw| client.build_request(method, Some(raw)))
            .collect();
        let responses = client
            .send_batch(&requests)
            .map_err(|err| NodeDown(err.to_string()))?;
        for response in responses {
            let value = response.and_then(|r| r.result::<Value>().ok());
            out.push(value);
        }
    }
    Ok(out)
}

fn call(rpc: &Client, method: &str, params: &[Value]) -> Result<Value, NodeDown> {
    rpc.call::<Value>(method, params)
        .map_err(|err| NodeDown(format!("{method}: {err}")))
}

impl Index {
    fn tip_height(&self) -> u64 {
        self.blocks.len().saturating_sub(1) as u64
    }

    /// Catches up with the node: new blocks (or all of them again after a reorg), then the
    /// mempool.
    fn sync(&mut self, rpc: &Client) -> Result<(), NodeDown> {
        let best: BlockHash = parse(call(rpc, "getbestblockhash", &[])?)?;
        if self.blocks.last().map(|b| b.hash) != Some(best) {
            let count = call(rpc, "getblockcount", &[])?
                .as_u64()
                .ok_or_else(|| NodeDown("getblockcount: not a number".into()))?;
            // Reorganised when the indexed tip is no longer in the best chain (also when
            // the chain got shorter): index everything again.
            let reorganised = match self.blocks.last() {
                None => false,
                Some(_) if count < self.tip_height() => true,
                Some(last) => {
                    let at = call(rpc, "getblockhash", &[json!(self.tip_height())])?;
                    parse::<BlockHash>(at)? != last.hash
                }
            };
            if reorganised {
                let seen = self.mempool_seen;
                *self = Index::default();
                self.mempool_seen = seen;
            }
            let from = self.blocks.len() as u64;
            if from <= count {
                let heights: Vec<Vec<Value>> = (from..=count).map(|h| vec![json!(h)]).collect();
                let hashes = batch(rpc, "getblockhash", &heights)?;
                let params: Vec<Vec<Value>> = hashes
                    .into_iter()
                    .map(|h| {
                        h.map(|h| vec![h, json!(0)])
                            .ok_or_else(|| NodeDown("getblockhash failed (reorg?)".into()))
                    })
                    .collect::<Result<_, _>>()?;
                for raw in batch(rpc, "getblock", &params)? {
                    let raw = raw.ok_or_else(|| NodeDown("getblock failed (reorg?)".into()))?;
                    let block: Block = raw
                        .as_str()
                        .and_then(|hex| bitcoin::consensus::encode::deserialize_hex(hex).ok())
                        .ok_or_else(|| NodeDown("getblock: undecodable block".into()))?;
                    self.add_block(block);
                }
            }
        }
        self.sync_mempool(rpc)
    }

    fn add_block(&mut self, block: Block) {
        let height = self.blocks.len() as u64;
        let hash = block.block_hash();
        let mut txids = Vec::with_capacity(block.txdata.len());
        let size = bitcoin::consensus::encode::serialize(&block).len();
        let weight = block.weight().to_wu();
        for (position, tx) in block.txdata.into_iter().enumerate() {
            let txid = tx.compute_txid();
            txids.push(txid);
            self.places.insert(txid, (height, position as u32));
            self.mempool.remove(&txid);
            let tx = Arc::new(tx);
            let mut scripts: HashSet<ScriptBuf> = HashSet::new();
            if !tx.is_coinbase() {
                for (vin, input) in tx.input.iter().enumerate() {
                    self.spends
                        .insert(input.previous_output, (txid, vin as u32));
                    if let Some(prevout) = self.output(&input.previous_output) {
                        scripts.insert(prevout.script_pubkey.clone());
                    }
                }
            }
            scripts.extend(tx.output.iter().map(|o| o.script_pubkey.clone()));
            for script in scripts {
                self.scripts_by_hash
                    .entry(sha256::Hash::hash(script.as_bytes()))
                    .or_insert_with(|| script.clone());
                self.history.entry(script).or_default().push(txid);
            }
            self.txs.insert(txid, tx);
        }
        self.block_heights.insert(hash, height);
        self.blocks.push(IndexedBlock {
            hash,
            header: block.header,
            size,
            weight,
            txids,
        });
    }

    fn sync_mempool(&mut self, rpc: &Client) -> Result<(), NodeDown> {
        let listed: Vec<Txid> = call(rpc, "getrawmempool", &[])?
            .as_array()
            .ok_or_else(|| NodeDown("getrawmempool: not an array".into()))?
            .iter()
            .filter_map(|t| t.as_str().and_then(|s| Txid::from_str(s).ok()))
            .collect();
        let keep: HashSet<Txid> = listed.iter().copied().collect();
        self.mempool.retain(|txid, _| keep.contains(txid));
        let new: Vec<Txid> = listed
            .into_iter()
            .filter(|t| !self.mempool.contains_key(t))
            .collect();
        if !new.is_empty() {
            let params: Vec<Vec<Value>> = new
                .iter()
                .map(|t| vec![json!(t.to_string()), json!(0)])
                .collect();
            let mut fetched: Vec<(Txid, Transaction)> = Vec::new();
            for (txid, raw) in new.iter().zip(batch(rpc, "getrawtransaction", &params)?) {
                if let Some(tx) = raw.as_ref().and_then(Value::as_str).and_then(|hex| {
                    bitcoin::consensus::encode::deserialize_hex::<Transaction>(hex).ok()
                }) {
                    fetched.push((*txid, tx));
                }
            }
            // Parents before children, so that "newest first" puts children first.
            let ids: HashSet<Txid> = fetched.iter().map(|(t, _)| *t).collect();
            fetched.sort_by_key(|(_, tx)| {
                tx.input
                    .iter()
                    .filter(|i| ids.contains(&i.previous_output.txid))
                    .count()
            });
            for (txid, tx) in fetched {
                self.mempool_seen += 1;
                self.mempool.insert(
                    txid,
                    MempoolEntry {
                        tx: Arc::new(tx),
                        seen: self.mempool_seen,
                    },
                );
            }
        }
        self.rebuild_mempool_spends();
        Ok(())
    }

    fn rebuild_mempool_spends(&mut self) {
        self.mempool_spends.clear();
        for (txid, entry) in &self.mempool {
            for (vin, input) in entry.tx.input.iter().enumerate() {
                self.mempool_spends
                    .insert(input.previous_output, (*txid, vin as u32));
            }
        }
    }

    fn tx(&self, txid: &Txid) -> Option<&Arc<Transaction>> {
        self.txs
            .get(txid)
            .or_else(|| self.mempool.get(txid).map(|e| &e.tx))
    }

    fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.tx(&outpoint.txid)
            .and_then(|tx| tx.output.get(outpoint.vout as usize))
    }

    fn fee(&self, txid: &Txid) -> u64 {
        let Some(tx) = self.tx(txid) else { return 0 };
        if tx.is_coinbase() {
            return 0;
        }
        let inputs: u64 = tx
            .input
            .iter()
            .filter_map(|i| self.output(&i.previous_output))
            .map(|o| o.value.to_sat())
            .sum();
        let outputs: u64 = tx.output.iter().map(|o| o.value.to_sat()).sum();
        inputs.saturating_sub(outputs)
    }

    fn mempool_newest_first(&self) -> Vec<Txid> {
        let mut entries: Vec<(&Txid, &MempoolEntry)> = self.mempool.iter().collect();
        entries.sort_by_key(|(txid, e)| (std::cmp::Reverse(e.seen), **txid));
        entries.into_iter().map(|(txid, _)| *txid).collect()
    }

    fn status_json(&self, txid: &Txid) -> Value {
        match self.places.get(txid) {
            Some((height, _)) => {
                let block = &self.blocks[*height as usize];
                json!({
                    "confirmed": true,
                    "block_height": height,
                    "block_hash": block.hash.to_string(),
                    "block_time": block.header.time,
                })
            }
            None => json!({ "confirmed": false }),
        }
    }

    fn vout_json(&self, out: &TxOut) -> Value {
        let script = &out.script_pubkey;
        let mut value = json!({
            "scriptpubkey": script.to_hex_string(),
            "scriptpubkey_asm": script.to_asm_string(),
            "scriptpubkey_type": script_type(script),
            "value": out.value.to_sat(),
        });
        if let Ok(address) = Address::from_script(script, Network::Regtest) {
            value["scriptpubkey_address"] = json!(address.to_string());
        }
        value
    }

    fn tx_json(&self, txid: &Txid) -> Option<Value> {
        let tx = self.tx(txid)?;
        let vin: Vec<Value> = tx
            .input
            .iter()
            .map(|input| {
                let coinbase = tx.is_coinbase();
                let mut value = json!({
                    "txid": input.previous_output.txid.to_string(),
                    "vout": input.previous_output.vout,
                    "prevout": if coinbase { Value::Null } else {
                        self.output(&input.previous_output).map(|o| self.vout_json(o)).unwrap_or(Value::Null)
                    },
                    "scriptsig": input.script_sig.to_hex_string(),
                    "scriptsig_asm": input.script_sig.to_asm_string(),
                    "is_coinbase": coinbase,
                    "sequence": input.sequence.0,
                });
                if !input.witness.is_empty() {
                    value["witness"] = json!(input
                        .witness
                        .iter()
                        .map(bitcoin::hex::DisplayHex::to_lower_hex_string)
                        .collect::<Vec<_>>());
                }
                value
            })
            .collect();
        Some(json!({
            "txid": txid.to_string(),
            "version": tx.version.0,
            "locktime": tx.lock_time.to_consensus_u32(),
            "vin": vin,
            "vout": tx.output.iter().map(|o| self.vout_json(o)).collect::<Vec<_>>(),
            "size": tx.total_size(),
            "weight": tx.weight().to_wu(),
            "fee": self.fee(txid),
            "status": self.status_json(txid),
        }))
    }

    fn tx_route(&self, txid: &Txid, rest: &[&str]) -> Reply {
        let Some(tx) = self.tx(txid) else {
            return Reply::not_found("Transaction");
        };
        match rest {
            [] => Reply::json(self.tx_json(txid).expect("known tx")),
            ["hex"] => Reply::text(bitcoin::consensus::encode::serialize_hex(&**tx)),
            ["raw"] => Reply::bytes(bitcoin::consensus::encode::serialize(&**tx)),
            ["status"] => Reply::json(self.status_json(txid)),
            ["merkle-proof"] => match self.places.get(txid) {
                Some((height, position)) => {
                    let txids = &self.blocks[*height as usize].txids;
                    Reply::json(json!({
                        "block_height": height,
                        "merkle": merkle_branch(txids, *position as usize).iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                        "pos": position,
                    }))
                }
                None => Reply::not_found("Transaction"),
            },
            ["outspend", vout] => match vout.parse::<u32>() {
                Ok(vout) if (vout as usize) < tx.output.len() => {
                    Reply::json(self.outspend(OutPoint { txid: *txid, vout }))
                }
                _ => Reply::not_found("Output"),
            },
            ["outspends"] => Reply::json(json!((0..tx.output.len() as u32)
                .map(|vout| self.outspend(OutPoint { txid: *txid, vout }))
                .collect::<Vec<_>>())),
            _ => Reply::not_found("route"),
        }
    }

    fn outspend(&self, outpoint: OutPoint) -> Value {
        match self
            .spends
            .get(&outpoint)
            .or_else(|| self.mempool_spends.get(&outpoint))
        {
            Some((txid, vin)) => json!({
                "spent": true,
                "txid": txid.to_string(),
                "vin": vin,
                "status": self.status_json(txid),
            }),
            None => json!({ "spent": false }),
        }
    }

    fn block_route(&self, rpc: &Client, height: usize, rest: &[&str]) -> Reply {
        let block = &self.blocks[height];
        match rest {
            [] => {
                let mut times: Vec<u32> = self.blocks[height.saturating_sub(10)..=height]
                    .iter()
                    .map(|b| b.header.time)
                    .collect();
                times.sort_unstable();
                Reply::json(json!({
                    "id": block.hash.to_string(),
                    "height": height,
                    "version": block.header.version.to_consensus(),
                    "timestamp": block.header.time,
                    "tx_count": block.txids.len(),
                    "size": block.size,
                    "weight": block.weight,
                    "merkle_root": block.header.merkle_root.to_string(),
                    "previousblockhash": if height == 0 { Value::Null } else { json!(block.header.prev_blockhash.to_string()) },
                    "mediantime": times[times.len() / 2],
                    "nonce": block.header.nonce,
                    "bits": block.header.bits.to_consensus(),
                    "difficulty": block.header.difficulty_float(),
                }))
            }
            ["status"] => Reply::json(json!({
                "in_best_chain": true,
                "height": height,
                "next_best": self.blocks.get(height + 1).map(|b| b.hash.to_string()),
            })),
            ["header"] => Reply::text(bitcoin::consensus::encode::serialize_hex(&block.header)),
            ["raw"] => match call(rpc, "getblock", &[json!(block.hash.to_string()), json!(0)]) {
                Ok(hex) => match hex
                    .as_str()
                    .and_then(|h| bitcoin::hex::FromHex::from_hex(h).ok())
                {
                    Some(bytes) => Reply::bytes(bytes),
                    None => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "undecodable block"),
                },
                Err(err) => err.into(),
            },
            ["txids"] => Reply::json(json!(block
                .txids
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>())),
            ["txid", index] => match index.parse::<usize>().ok().and_then(|i| block.txids.get(i)) {
                Some(txid) => Reply::text(txid.to_string()),
                None => Reply::not_found("Transaction"),
            },
            ["txs"] | ["txs", _] => {
                let start = match rest.get(1).map(|s| s.parse::<usize>()) {
                    None => 0,
                    Some(Ok(start)) if start % CHAIN_PAGE == 0 => start,
                    Some(_) => {
                        return Reply::error(
                            StatusCode::BAD_REQUEST,
                            "start index must be a multiple of 25",
                        )
                    }
                };
                if start >= block.txids.len() && start > 0 {
                    return Reply::error(StatusCode::BAD_REQUEST, "start index out of range");
                }
                Reply::json(json!(block
                    .txids
                    .iter()
                    .skip(start)
                    .take(CHAIN_PAGE)
                    .filter_map(|t| self.tx_json(t))
                    .collect::<Vec<_>>()))
            }
            _ => Reply::not_found("route"),
        }
    }

    /// Confirmed transactions touching `script`, newest first.
    fn chain_history(&self, script: &ScriptBuf) -> Vec<Txid> {
        let mut txids = self.history.get(script).cloned().unwrap_or_default();
        txids.reverse();
        txids
    }

    /// Mempool transactions touching `script`, newest first.
    fn mempool_history(&self, script: &ScriptBuf) -> Vec<Txid> {
        self.mempool_newest_first()
            .into_iter()
            .filter(|txid| {
                let tx = &self.mempool[txid].tx;
                tx.output.iter().any(|o| &o.script_pubkey == script)
                    || tx.input.iter().any(|i| {
                        self.output(&i.previous_output)
                            .is_some_and(|o| &o.script_pubkey == script)
                    })
            })
            .collect()
    }

    fn script_route(&self, script: &ScriptBuf, address: Option<&str>, rest: &[&str]) -> Reply {
        let txs_json = |txids: &[Txid]| {
            json!(txids
                .iter()
                .filter_map(|t| self.tx_json(t))
                .collect::<Vec<_>>())
        };
        match rest {
            [] => {
                let chain = self.stats(script, &self.chain_history(script));
                let mempool = self.stats(script, &self.mempool_history(script));
                let mut value = json!({ "chain_stats": chain, "mempool_stats": mempool });
                match address {
                    Some(address) => value["address"] = json!(address),
                    None => {
                        value["scripthash"] =
                            json!(sha256::Hash::hash(script.as_bytes()).to_string())
                    }
                }
                Reply::json(value)
            }
            ["txs"] => {
                let mut txids: Vec<Txid> = self
                    .mempool_history(script)
                    .into_iter()
                    .take(MEMPOOL_PAGE)
                    .collect();
                txids.extend(self.chain_history(script).into_iter().take(CHAIN_PAGE));
                Reply::json(txs_json(&txids))
            }
            ["txs", "mempool"] => {
                let txids: Vec<Txid> = self
                    .mempool_history(script)
                    .into_iter()
                    .take(MEMPOOL_PAGE)
                    .collect();
                Reply::json(txs_json(&txids))
            }
            ["txs", "chain"] => {
                let txids: Vec<Txid> = self
                    .chain_history(script)
                    .into_iter()
                    .take(CHAIN_PAGE)
                    .collect();
                Reply::json(txs_json(&txids))
            }
            ["txs", "chain", last_seen] => {
                let Ok(last_seen) = Txid::from_str(last_seen) else {
                    return Reply::error(StatusCode::BAD_REQUEST, "Invalid hex string");
                };
                let history = self.chain_history(script);
                let Some(at) = history.iter().position(|t| *t == last_seen) else {
                    return Reply::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "last_seen is not in the history",
                    );
                };
                let txids: Vec<Txid> = history.into_iter().skip(at + 1).take(CHAIN_PAGE).collect();
                Reply::json(txs_json(&txids))
            }
            ["utxo"] => Reply::json(json!(self.utxos(script))),
            _ => Reply::not_found("route"),
        }
    }

    fn stats(&self, script: &ScriptBuf, txids: &[Txid]) -> Value {
        let (mut funded, mut funded_sum, mut spent, mut spent_sum) = (0u64, 0u64, 0u64, 0u64);
        for txid in txids {
            let tx = &self.tx(txid).expect("indexed");
            for out in tx.output.iter().filter(|o| &o.script_pubkey == script) {
                funded += 1;
                funded_sum += out.value.to_sat();
            }
            for input in &tx.input {
                if let Some(prevout) = self
                    .output(&input.previous_output)
                    .filter(|o| &o.script_pubkey == script)
                {
                    spent += 1;
                    spent_sum += prevout.value.to_sat();
                }
            }
        }
        json!({
            "funded_txo_count": funded,
            "funded_txo_sum": funded_sum,
            "spent_txo_count": spent,
            "spent_txo_sum": spent_sum,
            "tx_count": txids.len(),
        })
    }

    fn utxos(&self, script: &ScriptBuf) -> Vec<Value> {
        let mut found: BTreeMap<(u8, u64, u32, Txid, u32), Value> = BTreeMap::new();
        let chain = self.history.get(script).into_iter().flatten();
        let mempool = self.mempool_newest_first();
        for txid in chain.chain(mempool.iter()) {
            let tx = self.tx(txid).expect("indexed");
            for (vout, out) in tx.output.iter().enumerate() {
                let outpoint = OutPoint {
                    txid: *txid,
                    vout: vout as u32,
                };
                if &out.script_pubkey != script
                    || self.spends.contains_key(&outpoint)
                    || self.mempool_spends.contains_key(&outpoint)
                {
                    continue;
                }
                let (rank, height, position) = match self.places.get(txid) {
                    Some((h, p)) => (0, *h, *p),
                    None => (1, 0, 0),
                };
                found.insert(
                    (rank, height, position, *txid, vout as u32),
                    json!({
                        "txid": txid.to_string(),
                        "vout": vout,
                        "status": self.status_json(txid),
                        "value": out.value.to_sat(),
                    }),
                );
            }
        }
        found.into_values().collect()
    }
}

fn parse<T: FromStr>(value: Value) -> Result<T, NodeDown> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NodeDown(format!("unexpected reply {value}")))
}

/// Esplora's name for the kind of an output script.
fn script_type(script: &bitcoin::Script) -> &'static str {
    if script.is_p2pkh() {
        "p2pkh"
    } else if script.is_p2sh() {
        "p2sh"
    } else if script.is_p2wpkh() {
        "v0_p2wpkh"
    } else if script.is_p2wsh() {
        "v0_p2wsh"
    } else if script.is_p2tr() {
        "v1_p2tr"
    } else if script.is_op_return() {
        "op_return"
    } else if script.is_p2pk() {
        "p2pk"
    } else if script.is_multisig() {
        "multisig"
    } else {
        "unknown"
    }
}

/// The merkle branch of the transaction at `position`, leaves to root, as Esplora lists it.
pub fn merkle_branch(txids: &[Txid], mut position: usize) -> Vec<Txid> {
    let mut level: Vec<[u8; 32]> = txids.iter().map(|t| t.to_byte_array()).collect();
    let mut branch = Vec::new();
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(*level.last().expect("non-empty"));
        }
        branch.push(Txid::from_byte_array(level[position ^ 1]));
        level = level
            .chunks(2)
            .map(|pair| {
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(&pair[0]);
                both[32..].copy_from_slice(&pair[1]);
                bitcoin::hashes::sha256d::Hash::hash(&both).to_byte_array()
            })
            .collect();
        position /= 2;
    }
    branch
}
