//! `GET piece/{p}/...`: a piece's history, ownership and state, and the one place the
//! index builds a history.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use bitcoin::{Address, Network};
use serde::Deserialize;
use spool_backend::server::HistoryReply;
use spool_protocol::chain::ChainTx;
use spool_protocol::history::{BuildOptions, History};
use spool_protocol::ownership::Ownership;
use spool_protocol::state::PieceState;

use super::error::ApiResult;
use super::input::FederationQuery;
use super::{federation, parse_address, path, query, ApiError, ApiState};

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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryQuery {
    federation: Option<String>,
    edition: Option<u64>,
    min_conf: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/piece/{piece}/history", tag = "piece",
    params(("piece" = String, Path, description = "the piece's address (its file hash)"), HistoryQuery),
    responses((status = 200, description = "every event, verified by spool-protocol's rules", body = HistoryReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn history(
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct OwnershipQuery {
    address: Option<String>,
    edition: Option<u64>,
    federation: Option<String>,
}

/// `GET piece/{p}/ownership?address=A&edition=N`: the same JSON as `spool ownership --json`
/// (one type, the protocol's).
pub use spool_protocol::ownership::OwnershipReport as OwnershipReply;

#[utoipa::path(get, path = "/api/v1/piece/{piece}/ownership", tag = "piece",
    params(("piece" = String, Path, description = "the piece's address"), OwnershipQuery),
    responses((status = 200, description = "whether an address may act on an edition, and why not (spool-protocol's OwnershipReport)", body = Object),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn ownership(
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

#[utoipa::path(get, path = "/api/v1/piece/{piece}/state", tag = "piece",
    params(("piece" = String, Path, description = "the piece's address"), FederationQuery),
    responses((status = 200, description = "every edition's owner, consignee, holder and loans (spool-protocol's PieceState)", body = Object),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn piece_state(
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
