//! A small Esplora-compatible HTTP server backed by a regtest `bitcoind`, for testing Esplora
//! clients against the same chain as the node.
//!
//! bitcoind has no address index, so the server keeps its own: on every request it reads the
//! blocks it has not seen yet (raw, in JSON-RPC batches) and the mempool, and indexes every
//! transaction by the scripts it pays and spends, every spent outpoint by its spender, and
//! every block's transaction list. A reorganisation (the indexed tip no longer in the best
//! chain) makes it index the chain again from the start.
//!
//! Replies follow Blockstream's electrs (the server behind `API.md`), checked against its
//! `src/rest.rs`, not only the prose of `API.md`: the same paths, JSON field names and page
//! sizes (25 confirmed transactions per history page, at most 50 mempool ones, listed in the
//! order the server first saw them, oldest first, although `API.md` says newest first);
//! confirmed history newest block first and, within a block, in electrs' index order (not the
//! block's); a `last_seen` txid that is not in the history gives an empty page and one that
//! is not hex the first page; the same status codes and `text/plain` bodies (404 `Transaction
//! not found`, 400 `Invalid hex string`, 404 `endpoint does not exist "/path"`, 400
//! `sendrawtransaction RPC error -26: ...` for a refused broadcast), and 200 answers where
//! electrs gives them for unknown objects (`/tx/:txid/status`, `/tx/:txid/outspend/:vout`,
//! `/block/:hash/status`); `scriptpubkey_type` names as Blockstream's (a bare multisig is
//! `unknown` there, `multisig` on mempool.space). OP_RETURN outputs are not indexed, as in
//! electrs by default. With [`Flavor::MempoolSpace`] the first page of `/address/:addr/txs`
//! is mempool.space's instead: the mempool ones, then confirmed ones up to 50 transactions in
//! all. When the node cannot be reached the server answers 503.
//!
//! Served: `GET /blocks/tip/height`, `/blocks/tip/hash`, `/blocks[/:start_height]`,
//! `/block-height/:h`, `/block/:hash`, `/block/:hash/status`, `/block/:hash/header`,
//! `/block/:hash/raw`, `/block/:hash/txids`, `/block/:hash/txid/:i`,
//! `/block/:hash/txs[/:start]`, `/tx/:txid`, `/tx/:txid/hex`, `/tx/:txid/raw`,
//! `/tx/:txid/status`, `/tx/:txid/merkle-proof`, `/tx/:txid/outspend/:vout`,
//! `/tx/:txid/outspends`, `/address/:addr` and `/scripthash/:hash` with `/txs`,
//! `/txs/chain[/:last_seen]`, `/txs/mempool` and `/utxo`, `/mempool`, `/mempool/txids`,
//! `/fee-estimates`; `POST /tx`. Not served: `/tx/:txid/merkleblock-proof`,
//! `/mempool/recent`, `/address-prefix/:prefix`, `POST /txs/package`, the Liquid endpoints.

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
/// Blocks listed by `/blocks`, as in Esplora.
const BLOCKS_PAGE: usize = 10;

/// Whose Esplora the server imitates where the public servers differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// Blockstream's electrs (blockstream.info): the first page of `/address/:addr/txs`
    /// holds up to 50 mempool transactions and then up to 25 confirmed ones.
    #[default]
    Blockstream,
    /// mempool.space's electrs: the first page of `/address/:addr/txs` holds up to 50
    /// transactions in all, the mempool ones first.
    MempoolSpace,
}

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
    /// Serves the chain of `node` as Blockstream's Esplora does.
    ///
    /// # Errors
    ///
    /// When no local port can be bound or the server thread cannot start.
    pub fn start(node: &crate::Node) -> Result<EsploraServer, EsploraServerError> {
        EsploraServer::start_flavor(node, Flavor::Blockstream)
    }

    /// Serves the chain of `node` the way `flavor`'s servers do.
    ///
    /// # Errors
    ///
    /// When no local port can be bound or the server thread cannot start.
    pub fn start_flavor(
        node: &crate::Node,
        flavor: Flavor,
    ) -> Result<EsploraServer, EsploraServerError> {
        EsploraServer::launch(
            &node.rpc_url(),
            node.cookie_file(),
            Network::Regtest,
            flavor,
        )
    }

    /// Serves the chain of the node at `rpc_url`, authenticating with `cookie_file` (re-read
    /// on every request, so a restarted node is picked up).
    ///
    /// # Errors
    ///
    /// When no local port can be bound or the server thread cannot start.
    pub fn start_for(
        rpc_url: &str,
        cookie_file: PathBuf,
        network: Network,
    ) -> Result<EsploraServer, EsploraServerError> {
        EsploraServer::launch(rpc_url, cookie_file, network, Flavor::Blockstream)
    }

    fn launch(
        rpc_url: &str,
        cookie_file: PathBuf,
        network: Network,
        flavor: Flavor,
    ) -> Result<EsploraServer, EsploraServerError> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let state = Arc::new(State {
            rpc_url: rpc_url.to_string(),
            cookie_file,
            network,
            flavor,
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
    fn not_found(message: &str) -> Reply {
        Reply::error(StatusCode::NOT_FOUND, message)
    }
    fn bad_request(message: impl Into<String>) -> Reply {
        Reply::error(StatusCode::BAD_REQUEST, message)
    }
    /// electrs' answer to a path (or method) it has no route for.
    fn no_route(path: &str) -> Reply {
        Reply::not_found(&format!("endpoint does not exist {path:?}"))
    }
}

/// electrs' answers to unparsable path parts.
const INVALID_HEX: &str = "Invalid hex string";
const INVALID_NUMBER: &str = "Invalid number";
const BLOCK_NOT_FOUND: &str = "Block not found";
const TX_NOT_FOUND: &str = "Transaction not found";

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
    flavor: Flavor,
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
        let parts: Vec<&str> = path.split('/').skip(1).collect();
        if *method == Method::POST {
            return match parts.as_slice() {
                ["tx"] => broadcast(&rpc, body),
                _ => Reply::no_route(path),
            };
        }
        if *method != Method::GET {
            return Reply::no_route(path);
        }
        let mut index = self.index.lock().expect("index lock poisoned");
        if let Err(err) = index.sync(&rpc) {
            return err.into();
        }
        let index = &*index;
        let view = View {
            index,
            network: self.network,
        };
        match parts.as_slice() {
            ["blocks", "tip", "height"] => Reply::text(index.tip_height().to_string()),
            ["blocks", "tip", "hash"] => Reply::text(
                index
                    .blocks
                    .last()
                    .map(|b| b.hash.to_string())
                    .unwrap_or_default(),
            ),
            ["blocks"] | ["blocks", ""] => view.blocks(index.tip_height() as usize),
            ["blocks", start] => match start.parse::<usize>() {
                // electrs ignores an unparsable start height.
                Err(_) => view.blocks(index.tip_height() as usize),
                Ok(start) if start <= index.tip_height() as usize => view.blocks(start),
                Ok(_) => Reply::not_found(BLOCK_NOT_FOUND),
            },
            ["block-height", height] => match height.parse::<usize>() {
                Err(_) => Reply::bad_request(INVALID_NUMBER),
                Ok(height) => match index.blocks.get(height) {
                    Some(block) => Reply::text(block.hash.to_string()),
                    None => Reply::not_found(BLOCK_NOT_FOUND),
                },
            },
            ["block", hash, rest @ ..] => {
                let Ok(hash) = BlockHash::from_str(hash) else {
                    return Reply::bad_request(INVALID_HEX);
                };
                let height = index.block_heights.get(&hash).map(|h| *h as usize);
                view.block_route(&rpc, height, rest, path)
            }
            ["tx", txid, rest @ ..] => {
                let Ok(txid) = Txid::from_str(txid) else {
                    return Reply::bad_request(INVALID_HEX);
                };
                view.tx_route(&txid, rest, path)
            }
            ["address", address, rest @ ..] => {
                let script = match Address::from_str(address) {
                    Err(err) => return Reply::bad_request(err.to_string()),
                    Ok(address) => match address.require_network(self.network) {
                        Ok(address) => address.script_pubkey(),
                        Err(_) => return Reply::bad_request("Address on invalid network"),
                    },
                };
                let key = ("address", *address);
                view.script_route(&script, key, rest, self.flavor, path)
            }
            ["scripthash", hash, rest @ ..] => {
                let Ok(parsed) = sha256::Hash::from_str(hash) else {
                    return Reply::bad_request("Invalid scripthash");
                };
                // A script never seen: empty history.
                let script = index
                    .scripts_by_hash
                    .get(&parsed)
                    .cloned()
                    .unwrap_or_default();
                view.script_route(&script, ("scripthash", *hash), rest, self.flavor, path)
            }
            ["mempool", "txids"] => Reply::json(json!(index
                .mempool_oldest_first()
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
            _ => Reply::no_route(path),
        }
    }
}

fn broadcast(rpc: &Client, body: &[u8]) -> Reply {
    // electrs passes the body to the node as it came (no trimming).
    let hex = match std::str::from_utf8(body) {
        Ok(hex) => hex,
        Err(err) => return Reply::bad_request(err.to_string()),
    };
    match rpc.call::<Value>("sendrawtransaction", &[json!(hex)]) {
        Ok(txid) => Reply::text(txid.as_str().unwrap_or_default()),
        // Blockstream's electrs: "{method} RPC error {code}: {message}".
        Err(bitcoincore_rpc::Error::JsonRpc(jsonrpc::Error::Rpc(err))) => Reply::bad_request(
            format!("sendrawtransaction RPC error {}: {}", err.code, err.message),
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
            // electrs does not index provably unspendable outputs: OP_RETURN ones (and those
            // starting with an invalid opcode, which this server still indexes).
            scripts.extend(
                tx.output
                    .iter()
                    .filter(|o| !o.script_pubkey.is_op_return())
                    .map(|o| o.script_pubkey.clone()),
            );
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

    /// Mempool transactions in the order the server first saw them, oldest first (electrs
    /// lists an address's mempool history in that order).
    fn mempool_oldest_first(&self) -> Vec<Txid> {
        let mut entries: Vec<(&Txid, &MempoolEntry)> = self.mempool.iter().collect();
        entries.sort_by_key(|(txid, e)| (e.seen, **txid));
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

    /// Whether `tx` spends an output locked to `script`.
    fn spends_from(&self, tx: &Transaction, script: &ScriptBuf) -> bool {
        !tx.is_coinbase()
            && tx.input.iter().any(|i| {
                self.output(&i.previous_output)
                    .is_some_and(|o| &o.script_pubkey == script)
            })
    }

    /// Whether `tx` pays `script` in an output electrs indexes (not a provably unspendable
    /// one).
    fn pays(tx: &Transaction, script: &ScriptBuf) -> bool {
        tx.output
            .iter()
            .any(|o| &o.script_pubkey == script && !o.script_pubkey.is_op_return())
    }
}

/// The index seen with the network it serves (for the addresses it prints).
struct View<'a> {
    index: &'a Index,
    network: Network,
}

impl std::ops::Deref for View<'_> {
    type Target = Index;
    fn deref(&self) -> &Index {
        self.index
    }
}

impl View<'_> {
    fn vout_json(&self, out: &TxOut) -> Value {
        let script = &out.script_pubkey;
        let mut value = json!({
            "scriptpubkey": script.to_hex_string(),
            "scriptpubkey_asm": script.to_asm_string(),
            "scriptpubkey_type": script_type(script),
            "value": out.value.to_sat(),
        });
        if let Ok(address) = Address::from_script(script, self.network) {
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
                let prevout = if coinbase {
                    None
                } else {
                    self.output(&input.previous_output)
                };
                let mut value = json!({
                    "txid": input.previous_output.txid.to_string(),
                    "vout": input.previous_output.vout,
                    "prevout": prevout.map_or(Value::Null, |o| self.vout_json(o)),
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
                if let Some(prevout) = prevout {
                    let (redeem, witness) = inner_scripts(input, prevout);
                    if let Some(redeem) = redeem {
                        value["inner_redeemscript_asm"] = json!(redeem.to_asm_string());
                    }
                    if let Some(witness) = witness {
                        value["inner_witnessscript_asm"] = json!(witness.to_asm_string());
                    }
                }
                value
            })
            .collect();
        Some(json!({
            "txid": txid.to_string(),
            "version": tx.version.0 as u32,
            "locktime": tx.lock_time.to_consensus_u32(),
            "vin": vin,
            "vout": tx.output.iter().map(|o| self.vout_json(o)).collect::<Vec<_>>(),
            "size": tx.total_size(),
            "weight": tx.weight().to_wu(),
            "fee": self.fee(txid),
            "status": self.status_json(txid),
        }))
    }

    fn tx_route(&self, txid: &Txid, rest: &[&str], path: &str) -> Reply {
        let tx = self.tx(txid);
        match (rest, tx) {
            // Answered for any txid, known or not, as electrs does.
            (["status"], _) => Reply::json(self.status_json(txid)),
            (["outspend", vout], _) => match vout.parse::<u32>() {
                Ok(vout) => Reply::json(self.outspend(OutPoint { txid: *txid, vout })),
                Err(_) => Reply::bad_request(INVALID_NUMBER),
            },
            (["merkle-proof"], _) => match self.places.get(txid) {
                Some((height, position)) => {
                    let txids = &self.blocks[*height as usize].txids;
                    Reply::json(json!({
                        "block_height": height,
                        "merkle": merkle_branch(txids, *position as usize).iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                        "pos": position,
                    }))
                }
                None => Reply::not_found("Transaction not found or is unconfirmed"),
            },
            // Bitcoin Core's `gettxoutproof` bytes for the transaction, hex.
            (["merkleblock-proof"], _) => match self.places.get(txid) {
                Some((height, _)) => {
                    let block = &self.blocks[*height as usize];
                    Reply::text(bitcoin::consensus::encode::serialize_hex(
                        &bitcoin::MerkleBlock::from_header_txids_with_predicate(
                            &block.header,
                            &block.txids,
                            |t| t == txid,
                        ),
                    ))
                }
                None => Reply::not_found("Transaction not found or is unconfirmed"),
            },
            ([] | ["hex"] | ["raw"] | ["outspends"], None) => Reply::not_found(TX_NOT_FOUND),
            ([], Some(_)) => Reply::json(self.tx_json(txid).expect("known tx")),
            (["hex"], Some(tx)) => Reply::text(bitcoin::consensus::encode::serialize_hex(&**tx)),
            (["raw"], Some(tx)) => Reply::bytes(bitcoin::consensus::encode::serialize(&**tx)),
            (["outspends"], Some(tx)) => Reply::json(json!((0..tx.output.len() as u32)
                .map(|vout| self.outspend(OutPoint { txid: *txid, vout }))
                .collect::<Vec<_>>())),
            _ => Reply::no_route(path),
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

    fn block_json(&self, height: usize) -> Value {
        let block = &self.blocks[height];
        let mut times: Vec<u32> = self.blocks[height.saturating_sub(10)..=height]
            .iter()
            .map(|b| b.header.time)
            .collect();
        times.sort_unstable();
        json!({
            "id": block.hash.to_string(),
            "height": height,
            "version": block.header.version.to_consensus() as u32,
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
        })
    }

    /// `/blocks[/:start_height]`: ten blocks, newest first.
    fn blocks(&self, start: usize) -> Reply {
        Reply::json(json!((0..=start)
            .rev()
            .take(BLOCKS_PAGE)
            .map(|h| self.block_json(h))
            .collect::<Vec<_>>()))
    }

    fn block_route(&self, rpc: &Client, height: Option<usize>, rest: &[&str], path: &str) -> Reply {
        let known = ["", "status", "header", "raw", "txids", "txid", "txs"];
        if !known.contains(&rest.first().copied().unwrap_or("")) {
            return Reply::no_route(path);
        }
        let Some(height) = height else {
            return match rest {
                // electrs cannot tell an orphaned block from an unknown one.
                ["status"] => Reply::json(
                    json!({ "in_best_chain": false, "height": null, "next_best": null }),
                ),
                [] | ["header"] | ["raw"] | ["txids"] | ["txid", _] | ["txs"] | ["txs", _] => {
                    Reply::not_found(BLOCK_NOT_FOUND)
                }
                _ => Reply::no_route(path),
            };
        };
        let block = &self.blocks[height];
        match rest {
            [] => Reply::json(self.block_json(height)),
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
            ["txid", index] => match index.parse::<usize>() {
                Err(_) => Reply::bad_request(INVALID_NUMBER),
                Ok(i) => match block.txids.get(i) {
                    Some(txid) => Reply::text(txid.to_string()),
                    None => Reply::not_found("tx index out of range"),
                },
            },
            ["txs"] | ["txs", _] => {
                // electrs reads an unparsable start index as 0.
                let start = rest
                    .get(1)
                    .and_then(|s| s.parse::<usize>().ok())
                    .unwrap_or(0);
                if !start.is_multiple_of(CHAIN_PAGE) {
                    return Reply::bad_request(format!(
                        "start index must be a multiple of {CHAIN_PAGE}"
                    ));
                }
                if start >= block.txids.len() {
                    return Reply::not_found("start index out of range");
                }
                Reply::json(json!(block
                    .txids
                    .iter()
                    .skip(start)
                    .take(CHAIN_PAGE)
                    .filter_map(|t| self.tx_json(t))
                    .collect::<Vec<_>>()))
            }
            _ => Reply::no_route(path),
        }
    }

    /// Confirmed transactions touching `script` in electrs' order: newest block first and,
    /// within a block, by its index keys read backwards (the ones spending from the script
    /// before the ones only paying it, each group by descending txid bytes), not by position.
    fn chain_history(&self, script: &ScriptBuf) -> Vec<Txid> {
        let mut keyed: Vec<(u64, bool, [u8; 32], Txid)> = self
            .history
            .get(script)
            .into_iter()
            .flatten()
            .map(|txid| {
                let height = self.places.get(txid).map_or(0, |(h, _)| *h);
                let tx = self.tx(txid).expect("indexed");
                (
                    height,
                    self.spends_from(tx, script),
                    txid.to_byte_array(),
                    *txid,
                )
            })
            .collect();
        keyed.sort_unstable_by(|a, b| b.cmp(a));
        keyed.dedup_by_key(|k| k.3);
        keyed.into_iter().map(|k| k.3).collect()
    }

    /// Mempool transactions touching `script`, oldest first (electrs' order).
    fn mempool_history(&self, script: &ScriptBuf) -> Vec<Txid> {
        self.mempool_oldest_first()
            .into_iter()
            .filter(|txid| {
                let tx = &self.mempool[txid].tx;
                Index::pays(tx, script) || self.spends_from(tx, script)
            })
            .collect()
    }

    fn script_route(
        &self,
        script: &ScriptBuf,
        (kind, given): (&str, &str),
        rest: &[&str],
        flavor: Flavor,
        path: &str,
    ) -> Reply {
        let txs_json = |txids: &[Txid]| {
            json!(txids
                .iter()
                .filter_map(|t| self.tx_json(t))
                .collect::<Vec<_>>())
        };
        let mempool = || -> Vec<Txid> {
            self.mempool_history(script)
                .into_iter()
                .take(MEMPOOL_PAGE)
                .collect()
        };
        match rest {
            [] => {
                let chain = self.stats(script, &self.chain_history(script));
                let mempool = self.stats(script, &self.mempool_history(script));
                Reply::json(json!({ kind: given, "chain_stats": chain, "mempool_stats": mempool }))
            }
            ["txs"] => {
                let mut txids = mempool();
                let confirmed = match flavor {
                    Flavor::Blockstream => CHAIN_PAGE,
                    Flavor::MempoolSpace => MEMPOOL_PAGE - txids.len(),
                };
                txids.extend(self.chain_history(script).into_iter().take(confirmed));
                Reply::json(txs_json(&txids))
            }
            ["txs", "mempool"] => Reply::json(txs_json(&mempool())),
            ["txs", "chain"] | ["txs", "chain", _] => {
                // An unparsable last_seen reads as none: the first page. One not in the
                // history gives an empty page (electrs skips until it finds it).
                let last_seen = rest.get(2).and_then(|t| Txid::from_str(t).ok());
                let txids: Vec<Txid> = self
                    .chain_history(script)
                    .into_iter()
                    .skip_while(|t| last_seen.is_some_and(|seen| seen != *t))
                    .skip(usize::from(last_seen.is_some()))
                    .take(CHAIN_PAGE)
                    .collect();
                Reply::json(txs_json(&txids))
            }
            ["utxo"] => Reply::json(json!(self.utxos(script))),
            _ => Reply::no_route(path),
        }
    }

    fn stats(&self, script: &ScriptBuf, txids: &[Txid]) -> Value {
        let (mut funded, mut funded_sum, mut spent, mut spent_sum) = (0u64, 0u64, 0u64, 0u64);
        for txid in txids {
            let tx = &self.tx(txid).expect("indexed");
            for out in tx
                .output
                .iter()
                .filter(|o| &o.script_pubkey == script && !o.script_pubkey.is_op_return())
            {
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
        let mempool = self.mempool_oldest_first();
        for txid in chain.chain(mempool.iter()) {
            let tx = self.tx(txid).expect("indexed");
            for (vout, out) in tx.output.iter().enumerate() {
                let outpoint = OutPoint {
                    txid: *txid,
                    vout: vout as u32,
                };
                if &out.script_pubkey != script
                    || out.script_pubkey.is_op_return()
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

/// The redeem script of a P2SH spend and the witness script of a P2WSH (or P2SH-P2WSH)
/// spend, as electrs derives them for `inner_redeemscript_asm`/`inner_witnessscript_asm`.
fn inner_scripts(input: &bitcoin::TxIn, prevout: &TxOut) -> (Option<ScriptBuf>, Option<ScriptBuf>) {
    let redeem = if prevout.script_pubkey.is_p2sh() {
        match input.script_sig.instructions().last() {
            Some(Ok(bitcoin::script::Instruction::PushBytes(bytes))) => {
                Some(ScriptBuf::from_bytes(bytes.as_bytes().to_vec()))
            }
            _ => None,
        }
    } else {
        None
    };
    let witness =
        if prevout.script_pubkey.is_p2wsh() || redeem.as_ref().is_some_and(|s| s.is_p2wsh()) {
            input
                .witness
                .last()
                .map(|s| ScriptBuf::from_bytes(s.to_vec()))
        } else {
            None
        };
    (redeem, witness)
}

fn parse<T: FromStr>(value: Value) -> Result<T, NodeDown> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| NodeDown(format!("unexpected reply {value}")))
}

/// Esplora's name for the kind of an output script, tested in electrs' order.
fn script_type(script: &bitcoin::Script) -> &'static str {
    if script.is_empty() {
        "empty"
    } else if script.is_op_return() {
        "op_return"
    } else if script.is_p2pk() {
        "p2pk"
    } else if script.is_p2pkh() {
        "p2pkh"
    } else if script.is_p2sh() {
        "p2sh"
    } else if script.is_p2wpkh() {
        "v0_p2wpkh"
    } else if script.is_p2wsh() {
        "v0_p2wsh"
    } else if script.is_p2tr() {
        "v1_p2tr"
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
