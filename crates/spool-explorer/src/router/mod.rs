//! The explorer's axum [`Router`]: the HTML pages over an [`ExplorerSource`], and the
//! stylesheet. Handlers read the source and render inside `spawn_blocking`.
//!
//! | path | page |
//! | --- | --- |
//! | `/` | search, file upload, latest SPOOL activity, sync status |
//! | `/search?q=` | redirects to the piece, address or transaction page |
//! | `/upload` (POST, multipart) | hashes the file, redirects to its piece page |
//! | `/piece/{piece}?page=N` | title block, editions' counts, editions in runs (paged), the graph of the editions with a story, their latest events |
//! | `/piece/{piece}/graph` | the whole provenance graph and every event |
//! | `/piece/{piece}/graph.svg` | the whole provenance graph alone |
//! | `/piece/{piece}/edition/{n}` | one edition's chain and rights |
//! | `/piece/{piece}/edition/{n}/certificate` | its printable certificate of authenticity |
//! | `/piece/{piece}/edition/{n}/certificate.spoolcert[?tip=HASH]` | the certificate file |
//! | `/address/{address}` | holdings and SPOOL events |
//! | `/tx/{txid}` | decoded verb, sender, recipients, fee, confirmations, validity, hex |
//! | `/status` | index and node heights, sync progress |
//! | `/style.css` | the one stylesheet |
//!
//! Anything else is a 404 page; malformed addresses, txids and edition numbers a 400 page
//! that names the problem.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, Txid};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use spool_protocol::chain::ChainTx;
use spool_protocol::history::Event;
use spool_protocol::payload::find_verb;

use crate::model::{build_history, today};
use crate::pages::{self, home::Activity, Site};
use crate::source::{ExplorerSource, SourceError};
use crate::svg::{provenance_svg, GraphOptions};
use crate::upload::hash_form;

mod certificate;

/// The stylesheet every page links to.
const STYLESHEET: &str = include_str!("../style.css");

/// The longest piece of visitor input echoed back on an error page.
const ECHO_MAX: usize = 120;

/// How the explorer judges and lists things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplorerConfig {
    /// The federation set: registrations count only from these addresses (empty: the rule is
    /// not applied), as `spool history --federation` does.
    pub federation: Vec<Address>,
    /// How many transactions the home page lists as latest activity.
    pub latest: usize,
    /// The largest request body accepted (the file upload), in bytes.
    pub max_upload_bytes: usize,
    /// The explorer's public base URL (e.g. `https://spool.example`), for the QR code of a
    /// certificate page; `None`: `http://` and the host the visitor asked for.
    pub public_url: Option<String>,
}

impl ExplorerConfig {
    /// A configuration with `federation`, 20 latest transactions and uploads up to 256 MiB.
    pub fn new(federation: Vec<Address>) -> ExplorerConfig {
        ExplorerConfig {
            federation,
            latest: 20,
            max_upload_bytes: 256 * 1024 * 1024,
            public_url: None,
        }
    }
}

/// Why a page could not be shown.
enum PageError {
    BadRequest(String),
    NotFound(String),
    /// The request no longer matches the chain (e.g. a download for an older tip).
    Conflict(String),
    Source(SourceError),
}

impl From<SourceError> for PageError {
    fn from(e: SourceError) -> PageError {
        PageError::Source(e)
    }
}

impl PageError {
    fn into_page(self, site: &Site<'_>) -> Response {
        let (status, heading, problem) = match self {
            PageError::BadRequest(p) => (StatusCode::BAD_REQUEST, "Bad request", p),
            PageError::NotFound(p) => (StatusCode::NOT_FOUND, "Not found", p),
            PageError::Conflict(p) => (StatusCode::CONFLICT, "The chain has moved on", p),
            PageError::Source(e) => {
                let mut chain = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    chain.push_str(": ");
                    chain.push_str(&c.to_string());
                    cause = c.source();
                }
                tracing::warn!(error = %chain, "explorer data source failed");
                let status = match e {
                    SourceError::NotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                (status, "Data source error", e.to_string())
            }
        };
        let page = pages::error::render(site, status.as_u16(), heading, &problem);
        (status, page).into_response()
    }
}

struct AppState<S> {
    source: Arc<S>,
    config: Arc<ExplorerConfig>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            source: self.source.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: ExplorerSource> AppState<S> {
    /// Runs `work` on a blocking thread with the source and the site, rendering errors as
    /// pages.
    async fn page<F>(&self, work: F) -> Response
    where
        F: FnOnce(&S, &Site<'_>) -> Result<Response, PageError> + Send + 'static,
    {
        let source = self.source.clone();
        let config = self.config.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let site = Site {
                network: source.network(),
                federation: &config.federation,
            };
            work(&source, &site).unwrap_or_else(|e| e.into_page(&site))
        })
        .await;
        joined.unwrap_or_else(|e| {
            tracing::error!(error = %e, "explorer page rendering panicked");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        })
    }
}

impl<S: ExplorerSource> AppState<S> {
    /// An error page rendered right away (for requests rejected before any reading).
    fn error_now(&self, error: PageError) -> Response {
        let site = Site {
            network: self.source.network(),
            federation: &self.config.federation,
        };
        error.into_page(&site)
    }
}

/// Path segments, or a 400 page saying why they cannot be read (e.g. bad percent-encoding).
struct Segments<T>(T);

impl<T, S> FromRequestParts<AppState<S>> for Segments<T>
where
    T: DeserializeOwned + Send,
    S: ExplorerSource,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(rejection) => Err(state.error_now(PageError::BadRequest(format!(
                "The path {} cannot be read: {}",
                echo(parts.uri.path()),
                rejection.body_text()
            )))),
        }
    }
}

/// Query parameters, or a 400 page saying why they cannot be read.
struct Params<T>(T);

impl<T, S> FromRequestParts<AppState<S>> for Params<T>
where
    T: DeserializeOwned + Send,
    S: ExplorerSource,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(state.error_now(PageError::BadRequest(format!(
                "The query {} cannot be read: {}",
                echo(parts.uri.query().unwrap_or_default()),
                rejection.body_text()
            )))),
        }
    }
}

/// The explorer's pages over `source`, judged with `config`.
pub fn router<S: ExplorerSource>(source: Arc<S>, config: ExplorerConfig) -> Router {
    let limit = config.max_upload_bytes;
    let state = AppState {
        source,
        config: Arc::new(config),
    };
    Router::new()
        .route("/", get(home::<S>))
        .route("/search", get(search::<S>))
        .route("/upload", post(upload::<S>))
        .route("/piece/{piece}", get(piece::<S>))
        .route("/piece/{piece}/graph", get(graph_page::<S>))
        .route("/piece/{piece}/graph.svg", get(graph::<S>))
        .route("/piece/{piece}/edition/{edition}", get(edition::<S>))
        .route(
            "/piece/{piece}/edition/{edition}/certificate",
            get(certificate::page::<S>),
        )
        .route(
            "/piece/{piece}/edition/{edition}/certificate.spoolcert",
            get(certificate::download::<S>),
        )
        .route("/address/{address}", get(address::<S>))
        .route("/tx/{txid}", get(tx::<S>))
        .route("/status", get(status::<S>))
        .route("/style.css", get(stylesheet))
        .fallback(not_found::<S>)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Visitor input as shown back on an error page: at most [`ECHO_MAX`] characters.
fn echo(text: &str) -> String {
    if text.chars().count() <= ECHO_MAX {
        return text.to_owned();
    }
    let head: String = text.chars().take(ECHO_MAX).collect();
    format!("{head}…")
}

fn parse_address(text: &str, network: Network, what: &str) -> Result<Address, PageError> {
    let unchecked = Address::<NetworkUnchecked>::from_str(text).map_err(|e| {
        PageError::BadRequest(format!("“{}” is not a valid {what}: {e}", echo(text)))
    })?;
    unchecked.require_network(network).map_err(|_| {
        PageError::BadRequest(format!(
            "“{}” is not a {network} address, and this explorer follows {network}",
            echo(text)
        ))
    })
}

fn parse_txid(text: &str) -> Result<Txid, PageError> {
    Txid::from_str(text).map_err(|_| {
        PageError::BadRequest(format!(
            "“{}” is not a transaction id (64 hexadecimal digits)",
            echo(text)
        ))
    })
}

fn parse_edition(text: &str) -> Result<u64, PageError> {
    text.parse().map_err(|_| {
        PageError::BadRequest(format!(
            "“{}” is not an edition number (0 for the master edition, 1, 2, ...)",
            echo(text)
        ))
    })
}

fn html(markup: maud::Markup) -> Response {
    markup.into_response()
}

async fn home<S: ExplorerSource>(State(state): State<AppState<S>>) -> Response {
    let latest = state.config.latest;
    state
        .page(move |source, site| {
            let sync = source.status()?;
            let activity: Vec<Activity> = source
                .latest_transactions(latest)?
                .iter()
                .filter_map(|chain_tx| activity(chain_tx, site.network))
                .collect();
            Ok(html(pages::home::render(site, &sync, &activity)))
        })
        .await
}

fn activity(chain_tx: &ChainTx, network: Network) -> Option<Activity> {
    let (vout, _) = find_verb(&chain_tx.tx).ok()?;
    let script = &chain_tx.tx.output[vout as usize].script_pubkey;
    let verb = spool_protocol::payload::op_return_payload(script)
        .ok()
        .map(|b| String::from_utf8_lossy(b).into_owned())?;
    let name = |s: &bitcoin::Script| {
        Address::from_script(s, network)
            .map(|a| a.to_string())
            .unwrap_or_default()
    };
    let mut senders: Vec<String> = chain_tx
        .prevouts
        .iter()
        .map(|o| name(&o.script_pubkey))
        .collect();
    senders.dedup();
    Some(Activity {
        txid: chain_tx.txid().to_string(),
        verb,
        height: chain_tx.place.height(),
        piece: chain_tx
            .tx
            .output
            .first()
            .map(|o| name(&o.script_pubkey))
            .unwrap_or_default(),
        from: if senders.len() == 1 {
            senders.remove(0)
        } else {
            String::new()
        },
    })
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

async fn search<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Params(query): Params<SearchQuery>,
) -> Response {
    let q = query.q.unwrap_or_default().trim().to_owned();
    state
        .page(move |source, site| {
            if q.is_empty() {
                return Err(PageError::BadRequest(
                    "Nothing to search for: type a file hash, an address or a transaction id"
                        .to_owned(),
                ));
            }
            if q.len() == 64 && q.chars().all(|c| c.is_ascii_hexdigit()) {
                let txid = parse_txid(&q)?;
                return Ok(Redirect::to(&format!("/tx/{txid}")).into_response());
            }
            if Address::<NetworkUnchecked>::from_str(&q).is_err() {
                return Err(PageError::BadRequest(format!(
                    "“{}” is neither a transaction id (64 hexadecimal digits) nor a {} address or file hash",
                    echo(&q),
                    site.network
                )));
            }
            let address = parse_address(&q, site.network, "address")?;
            let txs = source.piece_transactions(&address)?;
            let history = build_history(&address, site.network, &txs, site.federation);
            let target = if !is_piece(&history) {
                format!("/address/{address}")
            } else {
                format!("/piece/{address}")
            };
            Ok(Redirect::to(&target).into_response())
        })
        .await
}

async fn upload<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let network = state.source.network();
    let hashed = match form {
        Ok(form) => hash_form(form, network).await,
        Err(rejection) => Err(format!(
            "the upload must be a multipart form: {}",
            rejection.body_text()
        )),
    };
    match hashed {
        Ok(hashes) if hashes.file_hash_metadata != hashes.file_hash => Redirect::to(&format!(
            "/piece/{}?file_hash_metadata={}",
            hashes.file_hash, hashes.file_hash_metadata
        ))
        .into_response(),
        Ok(hashes) => Redirect::to(&format!("/piece/{}", hashes.file_hash)).into_response(),
        Err(problem) => {
            state
                .page(move |_, _| Err(PageError::BadRequest(problem)))
                .await
        }
    }
}

#[derive(Deserialize)]
struct PieceQuery {
    file_hash_metadata: Option<String>,
    /// The page of editions (1-based).
    page: Option<usize>,
}

async fn piece<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments(piece): Segments<String>,
    Params(query): Params<PieceQuery>,
) -> Response {
    state
        .page(move |source, site| {
            let history = load_piece(source, site, &piece)?;
            let uploaded = query.file_hash_metadata.as_deref().map(echo);
            Ok(html(pages::piece::render(
                site,
                &history,
                today(),
                uploaded.as_deref(),
                query.page,
            )))
        })
        .await
}

/// The verified history of a piece with at least one event, or the page saying why not.
fn load_piece<S: ExplorerSource>(
    source: &S,
    site: &Site<'_>,
    piece: &str,
) -> Result<spool_protocol::history::History, PageError> {
    let address = parse_address(piece, site.network, "piece address (file hash)")?;
    let txs = source.piece_transactions(&address)?;
    let history = build_history(&address, site.network, &txs, site.federation);
    if !is_piece(&history) {
        return Err(PageError::NotFound(format!(
            "No SPOOL transaction pays {address}: no piece is registered with this file hash"
        )));
    }
    Ok(history)
}

/// Whether a history is a piece's: some event has the address as its first output (every
/// address that received a SPOOL token has events, but only a piece is paid first).
fn is_piece(history: &spool_protocol::history::History) -> bool {
    history
        .events()
        .iter()
        .any(|e| e.piece_address == history.piece_address())
}

async fn graph_page<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments(piece): Segments<String>,
) -> Response {
    state
        .page(move |source, site| {
            let history = load_piece(source, site, &piece)?;
            Ok(html(pages::piece::graph(site, &history)))
        })
        .await
}

async fn graph<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments(piece): Segments<String>,
) -> Response {
    state
        .page(move |source, site| {
            let history = load_piece(source, site, &piece)?;
            let svg = provenance_svg(&history, &GraphOptions::default());
            Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
        })
        .await
}

async fn edition<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments((piece, edition)): Segments<(String, String)>,
) -> Response {
    state
        .page(move |source, site| {
            let number = parse_edition(&edition)?;
            let history = load_piece(source, site, &piece)?;
            pages::edition::render(site, &history, number, today())
                .map(html)
                .ok_or_else(|| {
                    PageError::NotFound(format!(
                        "Edition {number} of piece {piece} is not registered and has no events"
                    ))
                })
        })
        .await
}

async fn address<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments(address): Segments<String>,
) -> Response {
    state
        .page(move |source, site| {
            let address = parse_address(&address, site.network, "address")?;
            let text = address.to_string();
            let today = today();
            let mut holdings = Vec::new();
            let mut events: Vec<Event> = Vec::new();
            for piece in source.address_pieces(&address)? {
                let txs = source.piece_transactions(&piece)?;
                let history = build_history(&piece, site.network, &txs, site.federation);
                holdings.extend(history.holdings(&text, today));
                events.extend(
                    history
                        .events()
                        .iter()
                        .filter(|e| e.from_address == text || e.to_address == text)
                        .cloned(),
                );
            }
            holdings.sort();
            events.sort_by_key(|e| (e.block_height.is_none(), e.block_height));
            Ok(html(pages::address::render(
                site, &text, &holdings, &events,
            )))
        })
        .await
}

async fn tx<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments(txid): Segments<String>,
) -> Response {
    state
        .page(move |source, site| {
            let txid = parse_txid(&txid)?;
            let (chain_tx, replaced_by) = match source.transaction(&txid)? {
                Some(chain_tx) => (chain_tx, None),
                None => {
                    let replaced = source.replaced_transaction(&txid)?.ok_or_else(|| {
                        PageError::NotFound(format!(
                            "Transaction {txid} is not known to this explorer"
                        ))
                    })?;
                    (replaced.transaction, Some(replaced.replaced_by))
                }
            };
            let tip = source.status()?.indexed_height;
            // A replaced transaction is no event of any history: its replacement may be.
            let event = match replaced_by {
                None => spool_event(source, site, &chain_tx)?,
                Some(_) => None,
            };
            Ok(html(pages::tx::render(
                site,
                &chain_tx,
                event.as_ref(),
                replaced_by.as_ref(),
                tip,
            )))
        })
        .await
}

/// The transaction as an event of the history of its first output's address, if it is one.
fn spool_event<S: ExplorerSource>(
    source: &S,
    site: &Site<'_>,
    chain_tx: &ChainTx,
) -> Result<Option<Event>, PageError> {
    // Refills (FUEL) pay a wallet, not a piece: they are no piece's provenance.
    match find_verb(&chain_tx.tx) {
        Ok((_, verb)) if verb != spool_protocol::verb::Verb::Fuel => {}
        _ => return Ok(None),
    }
    let Some(piece) = chain_tx
        .tx
        .output
        .first()
        .and_then(|o| Address::from_script(&o.script_pubkey, site.network).ok())
    else {
        return Ok(None);
    };
    let txs = source.piece_transactions(&piece)?;
    let history = build_history(&piece, site.network, &txs, site.federation);
    let txid = chain_tx.txid().to_string();
    Ok(history.events().iter().find(|e| e.txid == txid).cloned())
}

async fn status<S: ExplorerSource>(State(state): State<AppState<S>>) -> Response {
    state
        .page(move |source, site| {
            let status = source.status()?;
            Ok(html(pages::status::render(site, &status)))
        })
        .await
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

async fn not_found<S: ExplorerSource>(State(state): State<AppState<S>>, uri: Uri) -> Response {
    let path = uri.path().to_owned();
    state
        .page(move |_, _| {
            Err(PageError::NotFound(format!(
                "There is no page at {}: the explorer has /, /piece/<file hash>, /address/<address>, /tx/<txid> and /status",
                echo(&path)
            )))
        })
        .await
}
