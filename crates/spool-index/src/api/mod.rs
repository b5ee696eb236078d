//! `spool serve`'s JSON API under `/api/v1`, on axum. Every answer comes from the index
//! (history, ownership and holdings by spool-protocol's rules); the node is asked only to
//! broadcast and for transactions the index does not hold. Errors are `{"error": "..."}`
//! with a 4xx status naming the problem (5xx when the node or database fails; the node's
//! credentials never appear).
//!
//! One module per route group, as in ord's server: `status`, `address`, `tx`,
//! `piece`, `browse` (pieces, latest, search); the certificate routes live in
//! `crate::certificate`. Beside them: `state` (connections, the history cache), `error`
//! (the JSON error answer), `input` (what a request says), `layers` (what wraps every
//! reply) and `listen` (the accept loop). Every route is listed once, in [`routes`]: a new
//! route is one line there and a handler in its group's module.

mod address;
mod browse;
mod error;
mod input;
mod layers;
mod listen;
pub mod openapi;
mod piece;
mod reservations;
mod state;
mod status;
mod tx;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, OriginalUri};
use axum::http::{Method, StatusCode};
use axum::routing::{delete, get, post};
use axum::Router;
use bitcoin::Network;
use spool_backend::server::API_PREFIX;

use crate::node::NodeConfig;

pub use address::{AddressPiecesReply, HoldingsReply};
pub use browse::{LatestReply, PieceRow, PiecesReply, SearchReply, MAX_SCAN};
pub use error::ApiError;
pub(crate) use input::{federation, parse_address, parse_txid, path, query};
pub use listen::{serve, serve_router, HEADER_TIMEOUT, MAX_CONNECTIONS};
pub use piece::{build_history, build_history_with, history_reply, OwnershipReply};
pub use state::ApiState;
pub(crate) use tx::find_transaction;

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
    /// The bearer token writes need (`spool serve --api-token-file`); `None`: writes are
    /// open (loopback only).
    pub api_token: Option<spool_backend::ApiToken>,
    /// How long a reservation never broadcast is held (`spool serve --reservation-lease`).
    pub reservation_lease: Duration,
}

/// The API's routes under `/api/v1`, with body limits, timeouts and JSON errors; every
/// other path is a JSON 404.
pub fn router(state: Arc<ApiState>) -> Router {
    routes(state).fallback(not_found)
}

/// The API's routes under `/api/v1` (an unknown path there is a JSON 404) and no fallback
/// outside it: for merging beside pages that answer the other paths with their own.
pub fn routes(state: Arc<ApiState>) -> Router {
    let api = Router::new()
        .route("/status", get(status::status))
        .route("/address/{address}/txs", get(address::address_txs))
        .route("/address/{address}/utxos", get(address::address_utxos))
        .route("/address/{address}/holdings", get(address::holdings))
        .route("/address/{address}/pieces", get(address::address_pieces))
        .route(
            "/tx",
            post(tx::broadcast).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                layers::require_token,
            )),
        )
        .route("/tx/{txid}", get(tx::transaction))
        .route("/tx/{txid}/status", get(tx::tx_status))
        .route("/piece/{piece}/history", get(piece::history))
        .route("/piece/{piece}/ownership", get(piece::ownership))
        .route("/piece/{piece}/state", get(piece::piece_state))
        .route("/pieces", get(browse::pieces))
        .route("/tx/{txid}/inclusion", get(crate::certificate::inclusion))
        .route(
            "/block-height/{height}/header",
            get(crate::certificate::header_at),
        )
        .route(
            "/piece/{piece}/certificate",
            get(crate::certificate::piece_certificate),
        )
        .route(
            "/reservations",
            get(reservations::list)
                .post(reservations::reserve)
                .route_layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    layers::require_token_for_writes,
                )),
        )
        .route(
            "/reservations/{txid}",
            delete(reservations::release).route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                layers::require_token,
            )),
        )
        .route("/latest", get(browse::latest))
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/search", get(browse::search))
        .method_not_allowed_fallback(no_method)
        .fallback(not_found);
    Router::new()
        .nest(API_PREFIX, api)
        .route("/metrics", get(crate::metrics::scrape))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            layers::index_position,
        ))
        .layer(axum::middleware::map_response(layers::api_security_headers))
        .layer(axum::middleware::from_fn(layers::keep_alive))
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
