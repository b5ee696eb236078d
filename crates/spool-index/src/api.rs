//! `spool serve`'s JSON API under `/api/v1`, on axum. Every answer comes from the index
//! (history, ownership and holdings by spool-protocol's rules); the node is asked only to
//! broadcast and for transactions the index does not hold. Errors are `{"error": "..."}`
//! with a 4xx status naming the problem (5xx when the node or database fails; the node's
//! credentials never appear).

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::{PathRejection, QueryRejection, StringRejection};
use axum::extract::{DefaultBodyLimit, OriginalUri, Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, Transaction, Txid};
use serde::{Deserialize, Serialize};
use spool_backend::server::{
    AddressTxsReply, BroadcastReply, ErrorReply, HistoryReply, StatusReply, TxStatusReply,
    UtxosReply, WireTx, API_PREFIX,
};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::history::{BuildOptions, History};
use spool_protocol::ownership::Ownership;
use spool_protocol::scope::Scope;
use spool_protocol::state::{Holding, PieceState};
use spool_protocol::verb::LoanDate;

use crate::error::IndexError;
use crate::follower::{mempool_prevouts, SharedState, SyncState};
use crate::node::{NodeConfig, NodeRpc};
use crate::store::Store;

/// Test hook: when this environment variable is set, `spool serve` aborts (as a kill -9
/// would) right after its node accepted a broadcast, before answering the client. Tests use
/// it to open the window where a broadcast's outcome is unknown to its sender.
pub const ABORT_AFTER_BROADCAST: &str = "SPOOL_TEST_ABORT_AFTER_BROADCAST";

/// The largest broadcast body accepted (hex of a 200 kB transaction).
pub const MAX_BROADCAST_BYTES: usize = 400_000;
/// The longest a request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most pieces per page.
pub const MAX_PAGE: u64 = 100;
/// Read connections kept open.
const READERS: usize = 8;

/// What the API serves from.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The index file.
    pub index_path: PathBuf,
    /// The network served.
    pub network: Network,
    /// The federation used when a request gives none (`spool serve --federation`).
    pub federation: Vec<String>,
    /// The node, for broadcasts and transactions the index does not hold.
    pub node: NodeConfig,
}

/// The server's shared state.
pub struct ApiState {
    config: ApiConfig,
    readers: Mutex<Vec<Store>>,
    writer: Mutex<Option<Store>>,
    sync: SharedState,
    histories: Mutex<HashMap<HistoryKey, (u64, Arc<History>)>>,
}

/// A cached history: the piece and the federation it was verified with.
type HistoryKey = (String, Vec<String>, u64);

/// Most histories kept between index writes.
const CACHED_HISTORIES: usize = 1_024;

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("index", &self.config.index_path)
            .finish()
    }
}

impl ApiState {
    /// State over the index at `config.index_path`, reporting `sync` as status.
    pub fn new(config: ApiConfig, sync: SharedState) -> Arc<ApiState> {
        Arc::new(ApiState {
            config,
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            sync,
            histories: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration served.
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// The follower's sync state (status, heights).
    pub fn sync_state(&self) -> SyncState {
        self.sync.lock().expect("state lock").clone()
    }

    /// Runs `f` with a read connection of the index on the blocking pool (for pages built
    /// beside the API, e.g. the explorer).
    ///
    /// # Errors
    /// What `f` returns; an [`ApiError`] when no connection can be opened.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store, &ApiState) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = state.take_reader()?;
            let result = f(&store, &state);
            state.give_back(store);
            result
        })
        .await
        .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
    }

    /// Runs `f` with a read connection of the index on the calling thread (which may block:
    /// call it from a blocking thread, e.g. the explorer's page renderer).
    ///
    /// # Errors
    /// What `f` returns; [`IndexError`] when no connection can be opened.
    pub fn with_reader<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let store = self.take_reader()?;
        let result = f(&store);
        self.give_back(store);
        result
    }

    fn take_reader(&self) -> Result<Store, IndexError> {
        let pooled = self.readers.lock().expect("pool lock").pop();
        match pooled {
            Some(store) => Ok(store),
            None => Store::open_reader(&self.config.index_path, self.config.network),
        }
    }

    fn give_back(&self, store: Store) {
        let mut pool = self.readers.lock().expect("pool lock");
        if pool.len() < READERS {
            pool.push(store);
        }
    }

    /// The verified history of `piece` with `federation`, computed once per index
    /// generation and shared.
    ///
    /// # Errors
    /// [`ApiError`] when the index fails.
    pub fn history(
        &self,
        store: &Store,
        piece: &Address,
        federation: &[String],
    ) -> Result<Arc<History>, ApiError> {
        self.history_with(store, piece, federation, 0)
    }

    /// The history of `piece` with confirmations counted against the index's tip and events
    /// with fewer than `min_conf` confirmations pending (listed, not counted), cached until
    /// the index next changes.
    ///
    /// # Errors
    /// [`ApiError`] when the index fails.
    pub fn history_with(
        &self,
        store: &Store,
        piece: &Address,
        federation: &[String],
        min_conf: u64,
    ) -> Result<Arc<History>, ApiError> {
        let generation = store.generation()?;
        let key = (piece.to_string(), federation.to_vec(), min_conf);
        if let Some((at, history)) = self.histories.lock().expect("cache lock").get(&key) {
            if *at == generation {
                return Ok(history.clone());
            }
        }
        let txs = store.txs_paying(&piece.script_pubkey())?;
        let options = BuildOptions {
            federation: federation.to_vec(),
            tip_height: store.tip()?.map(|(height, _)| height),
            min_conf,
        };
        let history = Arc::new(build_history_with(piece, store.network(), &txs, &options));
        let mut cache = self.histories.lock().expect("cache lock");
        if cache.len() >= CACHED_HISTORIES {
            cache.retain(|_, (at, _)| *at == generation);
            if cache.len() >= CACHED_HISTORIES {
                cache.clear();
            }
        }
        cache.insert(key, (generation, history.clone()));
        Ok(history)
    }

    fn indexed_height(&self) -> Option<u64> {
        self.sync
            .lock()
            .expect("state lock")
            .indexed
            .map(|(h, _)| h)
    }
}

/// An error answer: a status and a one-line message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error answer with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// The message told to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<IndexError> for ApiError {
    fn from(err: IndexError) -> ApiError {
        match &err {
            IndexError::NodeRefused { .. }
            | IndexError::Node { .. }
            | IndexError::BadReply { .. } => {
                tracing::warn!(error = %err, "node error");
                ApiError::new(StatusCode::BAD_GATEWAY, "the node did not answer")
            }
            _ => {
                tracing::error!(error = %err, "index error");
                ApiError::internal("the index failed")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorReply {
                error: self.message,
            }),
        )
            .into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The API's routes under `/api/v1`, with body limits, timeouts and JSON errors; every
/// other path is a JSON 404.
pub fn router(state: Arc<ApiState>) -> Router {
    routes(state).fallback(not_found)
}

/// The API's routes under `/api/v1` (an unknown path there is a JSON 404) and no fallback
/// outside it: for merging beside pages that answer the other paths with their own.
pub fn routes(state: Arc<ApiState>) -> Router {
    let api = Router::new()
        .route("/status", get(status))
        .route("/address/{address}/txs", get(address_txs))
        .route("/address/{address}/utxos", get(address_utxos))
        .route("/address/{address}/holdings", get(holdings))
        .route("/address/{address}/pieces", get(address_pieces))
        .route("/tx", post(broadcast))
        .route("/tx/{txid}", get(transaction))
        .route("/tx/{txid}/status", get(tx_status))
        .route("/piece/{piece}/history", get(history))
        .route("/piece/{piece}/ownership", get(ownership))
        .route("/piece/{piece}/state", get(piece_state))
        .route("/pieces", get(pieces))
        .route("/tx/{txid}/inclusion", get(crate::certificate::inclusion))
        .route(
            "/block-height/{height}/header",
            get(crate::certificate::header_at),
        )
        .route(
            "/piece/{piece}/certificate",
            get(crate::certificate::piece_certificate),
        )
        .route("/latest", get(latest))
        .route("/search", get(search))
        .method_not_allowed_fallback(no_method)
        .fallback(not_found);
    Router::new()
        .nest(API_PREFIX, api)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            index_position,
        ))
        .layer(axum::middleware::map_response(api_security_headers))
        .layer(DefaultBodyLimit::max(MAX_BROADCAST_BYTES))
        .layer(
            tower::ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    ApiError::new(StatusCode::REQUEST_TIMEOUT, "the request took too long")
                }))
                .timeout(REQUEST_TIMEOUT),
        )
        .with_state(state)
}

/// Says in every API reply how far the index is: the headers `X-Spool-Indexed-Height`
/// (absent before the first block), `X-Spool-Node-Height` and `X-Spool-Synced`, and, in
/// every JSON object reply but a certificate, the same as `indexed_height`, `node_height`
/// and `synced`. An
/// answer from an index behind its node thus says so (the status reply has them already).
async fn index_position(
    State(state): State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{header, HeaderValue};
    // The status reply has the fields already; a certificate is a document of its own,
    // served byte for byte (the headers still say how far the index is).
    let is_status =
        request.uri().path().ends_with("/status") || request.uri().path().ends_with("/certificate");
    let response = next.run(request).await;
    let sync = state.sync_state();
    let indexed = sync.indexed.map(|(height, _)| height);
    let (mut parts, body) = response.into_parts();
    if let Some(height) = indexed {
        parts
            .headers
            .insert("x-spool-indexed-height", HeaderValue::from(height));
    }
    parts
        .headers
        .insert("x-spool-node-height", HeaderValue::from(sync.node_height));
    parts.headers.insert(
        "x-spool-synced",
        HeaderValue::from_static(if sync.synced { "true" } else { "false" }),
    );
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json || is_status {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("cannot read the reply").into_response();
    };
    if bytes.first() != Some(&b'{') {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let fields = format!(
        "{{\"indexed_height\":{},\"node_height\":{},\"synced\":{}",
        indexed.map_or("null".to_string(), |h| h.to_string()),
        sync.node_height,
        sync.synced
    );
    let rest = &bytes[1..];
    let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let mut spliced = Vec::with_capacity(bytes.len() + fields.len() + 1);
    spliced.extend_from_slice(fields.as_bytes());
    if !empty {
        spliced.push(b',');
    }
    spliced.extend_from_slice(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(spliced))
}

/// The headers every API reply carries: JSON that echoes a request's input must never be
/// sniffed into markup, nor framed, nor load anything.
async fn api_security_headers(mut response: Response) -> Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; more wait in the listen queue.
pub const MAX_CONNECTIONS: usize = 256;

/// Serves `router(state)` on `listener` (HTTP/1.1) until `shutdown` completes: headers must
/// arrive within [`HEADER_TIMEOUT`], at most [`MAX_CONNECTIONS`] are served at once, and
/// every request must finish within [`REQUEST_TIMEOUT`].
///
/// # Errors
/// None so far: failed accepts and connections are logged and the server goes on.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(state), shutdown).await
}

/// Like [`serve`] with any router (the API's merged with other pages).
///
/// # Errors
/// None so far: failed accepts and connections are logged and the server goes on.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => return Ok(()),
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(err) = served {
                tracing::debug!(%peer, error = %err, "connection ended");
            }
        });
    }
}

/// The API's answer to an unknown route: a JSON 404 naming it.
pub async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("no such route: {method} {}", uri.path()))
}

async fn no_method(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} is not allowed for {}", uri.path()),
    )
}

pub(crate) fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad(format!("bad path: {}", e.body_text())))
}

pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(v)| v)
        .map_err(|e| ApiError::bad(format!("bad query: {}", e.body_text())))
}

pub(crate) fn parse_address(text: &str, network: Network, what: &str) -> Result<Address, ApiError> {
    let unchecked = Address::<NetworkUnchecked>::from_str(text)
        .map_err(|_| ApiError::bad(format!("{what} {text:?} is not a bitcoin address")))?;
    unchecked
        .require_network(network)
        .map_err(|_| ApiError::bad(format!("{what} {text} is not valid for {network}")))
}

pub(crate) fn parse_txid(text: &str) -> Result<Txid, ApiError> {
    Txid::from_str(text)
        .map_err(|_| ApiError::bad(format!("{text:?} is not a txid (64 hex digits)")))
}

/// The federation asked for: `federation=A,B` (empty: none), or the server's default.
pub(crate) fn federation(
    asked: &Option<String>,
    config: &ApiConfig,
) -> Result<Vec<String>, ApiError> {
    match asked {
        None => Ok(config.federation.clone()),
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|a| parse_address(a, config.network, "federation address").map(|a| a.to_string()))
            .collect(),
    }
}

/// The one place the index builds a piece's history (spool-protocol's rules).
pub fn build_history(
    piece: &Address,
    network: Network,
    txs: &[ChainTx],
    federation: &[String],
) -> History {
    build_history_with(
        piece,
        network,
        txs,
        &BuildOptions::with_federation(federation),
    )
}

/// [`build_history`] with the tip that confirmations count against and the depth an event
/// needs to count ([`History::build_with`]).
pub fn build_history_with(
    piece: &Address,
    network: Network,
    txs: &[ChainTx],
    options: &BuildOptions,
) -> History {
    // Every piece address reaching here was checked for the index's network (`parse_address`)
    // or read off this network's chain: the one condition under which `build` refuses.
    History::build_with(piece, network, txs, options)
        .expect("piece addresses are checked for the index's network first")
}

async fn status(State(state): State<Arc<ApiState>>) -> ApiResult<StatusReply> {
    let sync = state.sync.lock().expect("state lock").clone();
    Ok(Json(StatusReply {
        network: state.config.network,
        indexed_height: sync.indexed.map(|(h, _)| h),
        indexed_hash: sync.indexed.map(|(_, hash)| hash.to_string()),
        node_height: sync.node_height,
        synced: sync.synced,
    }))
}

#[derive(Debug, Deserialize)]
struct TxsQuery {
    /// Only what the rules of this edition read (the address is then a piece's).
    edition: Option<u64>,
}

async fn address_txs(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<TxsQuery>, QueryRejection>,
) -> ApiResult<AddressTxsReply> {
    let text = path(p)?;
    let address = parse_address(&text, state.config.network, "address")?;
    let scope = query(q)?.edition.map(Scope::edition);
    state
        .read(move |store, _| {
            let txs = store.txs_paying(&address.script_pubkey())?;
            let txs: Vec<WireTx> = match scope {
                Some(scope) => scope
                    .select(&address, &txs)
                    .into_iter()
                    .map(WireTx::from_chain_tx)
                    .collect(),
                None => txs.iter().map(WireTx::from_chain_tx).collect(),
            };
            Ok(Json(AddressTxsReply {
                address: address.to_string(),
                txs,
            }))
        })
        .await
}

#[derive(Debug, Deserialize)]
struct UtxoQuery {
    min_conf: Option<u32>,
}

async fn address_utxos(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<UtxoQuery>, QueryRejection>,
) -> ApiResult<UtxosReply> {
    let text = path(p)?;
    let min_conf = query(q)?.min_conf.unwrap_or(0);
    let address = parse_address(&text, state.config.network, "address")?;
    let tip = state.indexed_height().unwrap_or(0);
    state
        .read(move |store, _| {
            let script = address.script_pubkey();
            if !store.is_watched(&script)? {
                return Err(ApiError::not_found(format!(
                    "address {address} is not watched by this index (restart `spool serve` with --watch {address})"
                )));
            }
            Ok(Json(UtxosReply {
                address: address.to_string(),
                utxos: store.utxos(&script, min_conf, tip)?,
            }))
        })
        .await
}

#[derive(Debug, Deserialize)]
struct FederationQuery {
    federation: Option<String>,
    date: Option<String>,
}

/// `GET address/{a}/holdings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldingsReply {
    /// The address asked about.
    pub address: String,
    /// What it holds, by piece, edition and role.
    pub holdings: Vec<Holding>,
}

async fn holdings(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<FederationQuery>, QueryRejection>,
) -> ApiResult<HoldingsReply> {
    let text = path(p)?;
    let q = query(q)?;
    let address = parse_address(&text, state.config.network, "address")?;
    let federation = federation(&q.federation, &state.config)?;
    let today = match &q.date {
        Some(d) => {
            LoanDate::parse_checked(d).map_err(|e| ApiError::bad(format!("bad date {d:?}: {e}")))?
        }
        None => today(),
    };
    state
        .read(move |store, api| {
            let mut held = Vec::new();
            for piece in store.pieces_involving(&address.script_pubkey())? {
                let piece = parse_address(&piece, api.config.network, "piece")?;
                let history = api.history(store, &piece, &federation)?;
                held.extend(history.holdings(&address.to_string(), today));
            }
            Ok(Json(HoldingsReply {
                address: address.to_string(),
                holdings: held,
            }))
        })
        .await
}

/// `GET address/{a}/pieces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPiecesReply {
    /// The address asked about.
    pub address: String,
    /// The pieces whose SPOOL transactions pay or come from it.
    pub pieces: Vec<String>,
}

async fn address_pieces(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult<AddressPiecesReply> {
    let text = path(p)?;
    let address = parse_address(&text, state.config.network, "address")?;
    state
        .read(move |store, _| {
            Ok(Json(AddressPiecesReply {
                pieces: store.pieces_involving(&address.script_pubkey())?,
                address: address.to_string(),
            }))
        })
        .await
}

async fn broadcast(
    State(state): State<Arc<ApiState>>,
    body: Result<String, StringRejection>,
) -> ApiResult<BroadcastReply> {
    let body = body
        .map_err(|e| ApiError::new(e.status(), format!("bad broadcast body: {}", e.body_text())))?;
    let hex = body.trim();
    let tx: Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
        .map_err(|e| ApiError::bad(format!("the body is not a raw transaction in hex: {e}")))?;
    let state2 = state.clone();
    tokio::task::spawn_blocking(move || {
        let rpc = NodeRpc::new(&state2.config.node)?;
        let txid = match rpc.send_raw_transaction(&tx) {
            Ok(txid) => txid,
            Err(IndexError::NodeRefused { message, .. }) => {
                return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message))
            }
            Err(err) => return Err(err.into()),
        };
        if std::env::var_os(ABORT_AFTER_BROADCAST).is_some() {
            // The test hook: die as a kill -9 would, after the node took the transaction and
            // before the client hears of it.
            std::process::abort();
        }
        // Into the index's mempool at once, so the next UTXO listing sees it spent.
        let prevouts = mempool_prevouts(&rpc, &tx, &HashMap::new()).unwrap_or_default();
        let mut writer = state2.writer.lock().expect("writer lock");
        if writer.is_none() {
            *writer = Some(Store::open(
                &state2.config.index_path,
                state2.config.network,
            )?);
        }
        let store = writer.as_mut().expect("opened above");
        store.refresh_watched()?;
        let next = state2.indexed_height().map_or(0, |h| h + 1);
        if !(crate::store::is_spool(&tx) && prevouts.len() != tx.input.len()) {
            store.apply_mempool(&[(tx, prevouts)], &[], next)?;
        }
        Ok(Json(BroadcastReply {
            txid: txid.to_string(),
        }))
    })
    .await
    .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
}

/// A transaction from the index, or else from the node (`getrawtransaction` verbosity 2).
pub(crate) fn find_transaction(
    store: &Store,
    config: &ApiConfig,
    txid: &Txid,
) -> Result<ChainTx, ApiError> {
    if let Some(tx) = store.transaction(txid)? {
        return Ok(tx);
    }
    let rpc = NodeRpc::new(&config.node)?;
    let reply = match rpc.call(
        "getrawtransaction",
        &[serde_json::json!(txid.to_string()), serde_json::json!(1)],
    ) {
        Ok(reply) => reply,
        Err(IndexError::NodeRefused { code: -5, .. }) => {
            return Err(ApiError::not_found(format!(
                "transaction {txid} is unknown"
            )))
        }
        Err(err) => return Err(err.into()),
    };
    let tx: Transaction = reply["hex"]
        .as_str()
        .and_then(|h| bitcoin::consensus::encode::deserialize_hex(h).ok())
        .ok_or_else(|| ApiError::internal("the node's transaction does not decode"))?;
    let place = match reply["blockhash"].as_str() {
        None => TxPlace::Unconfirmed,
        Some(hash) => {
            let block = rpc.call("getblock", &[serde_json::json!(hash), serde_json::json!(1)])?;
            let position = block["tx"]
                .as_array()
                .and_then(|txs| {
                    txs.iter()
                        .position(|t| t.as_str() == Some(&txid.to_string()))
                })
                .unwrap_or(0) as u32;
            TxPlace::Confirmed {
                height: block["height"].as_u64().unwrap_or(0),
                position,
                time: block["time"].as_u64().unwrap_or(0),
            }
        }
    };
    let prevouts = match place {
        TxPlace::Unconfirmed => mempool_prevouts(&rpc, &tx, &HashMap::new())?,
        TxPlace::Confirmed { .. } => {
            let hash = reply["blockhash"].as_str().unwrap_or_default();
            let hash = bitcoin::BlockHash::from_str(hash)
                .map_err(|_| ApiError::internal("the node's block hash does not parse"))?;
            rpc.confirmed_prevouts(&[(*txid, hash)])?
                .remove(txid)
                .unwrap_or_default()
        }
    };
    Ok(ChainTx {
        tx,
        prevouts,
        place,
    })
}

async fn transaction(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult<WireTx> {
    let txid = parse_txid(&path(p)?)?;
    state
        .read(move |store, api| {
            Ok(Json(WireTx::from_chain_tx(&find_transaction(
                store,
                &api.config,
                &txid,
            )?)))
        })
        .await
}

async fn tx_status(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult<TxStatusReply> {
    let txid = parse_txid(&path(p)?)?;
    let tip = state.indexed_height().unwrap_or(0);
    state
        .read(move |store, api| {
            let found = find_transaction(store, &api.config, &txid)?;
            Ok(Json(TxStatusReply {
                txid: txid.to_string(),
                status: match found.place {
                    TxPlace::Confirmed { .. } => "confirmed",
                    TxPlace::Unconfirmed => "mempool",
                }
                .to_string(),
                block_height: found.place.height(),
                confirmations: found.place.confirmations(tip),
            }))
        })
        .await
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    federation: Option<String>,
    edition: Option<u64>,
    min_conf: Option<u64>,
}

async fn history(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult<HistoryReply> {
    let text = path(p)?;
    let q = query(q)?;
    let piece = parse_address(&text, state.config.network, "piece address")?;
    let federation = federation(&q.federation, &state.config)?;
    state
        .read(move |store, api| {
            let history = api.history_with(store, &piece, &federation, q.min_conf.unwrap_or(0))?;
            Ok(Json(history_reply(&history, q.edition)))
        })
        .await
}

/// The history as `spool history --json` prints it, optionally one edition's events.
pub fn history_reply(history: &History, edition: Option<u64>) -> HistoryReply {
    HistoryReply {
        piece_address: history.piece_address().to_string(),
        number_editions: history.number_editions(),
        federation_rule: history.federation_rule(),
        tip_height: history.tip_height(),
        min_conf: history.min_conf(),
        events: history
            .events()
            .iter()
            .filter(|event| match edition {
                None => true,
                Some(n) => event.edition() == Some(n) || (n == 0 && event.action == "EDITIONS"),
            })
            .cloned()
            .collect(),
    }
}

#[derive(Debug, Deserialize)]
struct OwnershipQuery {
    address: Option<String>,
    edition: Option<u64>,
    federation: Option<String>,
}

/// `GET piece/{p}/ownership?address=A&edition=N`: the same JSON as `spool ownership --json`
/// (one type, the protocol's).
pub use spool_protocol::ownership::OwnershipReport as OwnershipReply;

async fn ownership(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<OwnershipQuery>, QueryRejection>,
) -> ApiResult<OwnershipReply> {
    let text = path(p)?;
    let q = query(q)?;
    let piece = parse_address(&text, state.config.network, "piece address")?;
    let address = q
        .address
        .as_deref()
        .ok_or_else(|| ApiError::bad("the query parameter `address` is missing"))?;
    let address = parse_address(address, state.config.network, "address")?;
    let edition = q
        .edition
        .ok_or_else(|| ApiError::bad("the query parameter `edition` is missing"))?;
    let federation = federation(&q.federation, &state.config)?;
    state
        .read(move |store, api| {
            let history = api.history(store, &piece, &federation)?;
            let own = Ownership::new(&history, &address.to_string(), edition);
            let reply = OwnershipReply::new(&own);
            Ok(Json(reply))
        })
        .await
}

async fn piece_state(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<FederationQuery>, QueryRejection>,
) -> ApiResult<PieceState> {
    let text = path(p)?;
    let q = query(q)?;
    let piece = parse_address(&text, state.config.network, "piece address")?;
    let federation = federation(&q.federation, &state.config)?;
    state
        .read(move |store, api| Ok(Json(api.history(store, &piece, &federation)?.state())))
        .await
}

#[derive(Debug, Deserialize)]
struct PiecesQuery {
    offset: Option<u64>,
    limit: Option<u64>,
    federation: Option<String>,
}

/// One piece in `GET pieces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceRow {
    /// The piece address.
    pub piece_address: String,
    /// Its number of editions, if set.
    pub number_editions: Option<u64>,
    /// Who registered the master edition (valid registration), if anyone.
    pub registered_by: Option<String>,
    /// Height of that registration (`None` in the mempool or when unregistered).
    pub block_height: Option<u64>,
}

/// `GET pieces?offset=&limit=&federation=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiecesReply {
    /// The pieces of this page registered by a valid master registration (by the federation
    /// when one is set), in order of first appearance.
    pub pieces: Vec<PieceRow>,
    /// The page's first position among all candidate piece addresses.
    pub offset: u64,
    /// The page size asked for: the page holds that many pieces unless the candidates ran
    /// out (or [`MAX_SCAN`] of them were examined without filling it).
    pub limit: u64,
    /// How many candidate piece addresses the index holds (the first outputs of SPOOL
    /// transactions: an upper bound of the pieces, since candidates without a valid master
    /// registration are not listed).
    pub total: u64,
    /// Where the next page starts among the candidates (`offset` of the next request), or
    /// `None` when this page reached the last one.
    pub next_offset: Option<u64>,
}

/// How many candidate piece addresses one `GET pieces` examines at most (each costs the
/// piece's verified history); a page not filled by then says where to go on.
pub const MAX_SCAN: u64 = 4 * MAX_PAGE;

async fn pieces(
    State(state): State<Arc<ApiState>>,
    q: Result<Query<PiecesQuery>, QueryRejection>,
) -> ApiResult<PiecesReply> {
    let q = query(q)?;
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(MAX_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let federation = federation(&q.federation, &state.config)?;
    state
        .read(move |store, api| {
            let mut rows = Vec::new();
            let mut next = offset;
            let mut total;
            // Candidates without a valid master registration are skipped, so read on until
            // the page is full, the candidates end, or MAX_SCAN were examined.
            let more = 'scan: loop {
                let (addresses, all) = store.pieces(next, limit)?;
                total = all;
                if addresses.is_empty() {
                    break false;
                }
                for piece in addresses {
                    next += 1;
                    let piece = parse_address(&piece, api.config.network, "piece")?;
                    let history = api.history(store, &piece, &federation)?;
                    let piece_state = history.state();
                    if let Some(registered_by) = piece_state.registered_by.clone() {
                        let block_height = history
                            .valid_events()
                            .find(|e| e.from_address == registered_by && e.edition() == Some(0))
                            .and_then(|e| e.block_height);
                        rows.push(PieceRow {
                            piece_address: piece.to_string(),
                            number_editions: piece_state.number_editions,
                            registered_by: Some(registered_by),
                            block_height,
                        });
                    }
                    if rows.len() as u64 == limit || next - offset >= MAX_SCAN {
                        break 'scan next < total;
                    }
                }
            };
            Ok(Json(PiecesReply {
                pieces: rows,
                offset,
                limit,
                total,
                next_offset: more.then_some(next),
            }))
        })
        .await
}

#[derive(Debug, Deserialize)]
struct LatestQuery {
    limit: Option<u32>,
}

/// `GET latest?limit=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestReply {
    /// The newest SPOOL transactions, mempool first.
    pub txs: Vec<WireTx>,
}

async fn latest(
    State(state): State<Arc<ApiState>>,
    q: Result<Query<LatestQuery>, QueryRejection>,
) -> ApiResult<LatestReply> {
    let limit = query(q)?.limit.unwrap_or(20);
    if limit == 0 || limit > 100 {
        return Err(ApiError::bad("limit must be between 1 and 100"));
    }
    state
        .read(move |store, _| {
            Ok(Json(LatestReply {
                txs: store
                    .latest(limit)?
                    .iter()
                    .map(WireTx::from_chain_tx)
                    .collect(),
            }))
        })
        .await
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

/// `GET search?q=`: what a txid, piece address (file hash) or address is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchReply {
    /// `tx`, `piece` or `address`.
    pub kind: String,
    /// The txid or address found.
    pub id: String,
}

async fn search(
    State(state): State<Arc<ApiState>>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult<SearchReply> {
    let text = query(q)?
        .q
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad("the query parameter `q` is missing"))?;
    state
        .read(move |store, api| {
            if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
                let txid = parse_txid(&text)?;
                let found = find_transaction(store, &api.config, &txid)?;
                return Ok(Json(SearchReply {
                    kind: "tx".into(),
                    id: found.txid().to_string(),
                }));
            }
            let address = parse_address(
                &text,
                api.config.network,
                "search term (txid, file hash or address)",
            )?;
            let is_piece = store.txs_paying(&address.script_pubkey())?.iter().any(|t| {
                t.tx.output.first().map(|o| &o.script_pubkey) == Some(&address.script_pubkey())
            });
            Ok(Json(SearchReply {
                kind: if is_piece { "piece" } else { "address" }.into(),
                id: address.to_string(),
            }))
        })
        .await
}

/// Today's date (UTC) as a loan date.
fn today() -> LoanDate {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    LoanDate::from_ymd(y as i32, m as u8, d as u8).unwrap_or(LoanDate(*b"000101"))
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_507), (2026, 2, 23));
    }
}
