//! `POST reservations`, `DELETE reservations/{txid}`, `GET reservations`: the outpoints and
//! claims of transactions being built by the operators acting through this server (see
//! [`crate::reservations`]). Writes need the write token when one is configured.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use bitcoin::Txid;
use spool_backend::server::{
    ReleaseReply, ReservationBody, ReservationReply, ReservationsReply, WireClaim,
};
use spool_protocol::chain::{TxPlace, TxStatus};
use spool_tx::claims::{Claim, Refusal, ReservationRequest, ReservationStore};

use super::error::ApiResult;
use super::{parse_txid, path, ApiError, ApiState};
use crate::error::IndexError;
use crate::reservations::Held;

/// The node's status of `txid`, as the release rule reads it: the index first (it holds
/// every SPOOL transaction of the chain and the mempool), then the node.
pub(crate) fn status_of(state: &ApiState, txid: &Txid) -> TxStatus {
    match state.with_reader(|store| store.transaction(txid)) {
        Ok(Some(found)) => match found.place {
            TxPlace::Confirmed { .. } => TxStatus::Confirmed,
            TxPlace::Unconfirmed => TxStatus::InMempool,
        },
        Ok(None) => {
            let asked = state.with_node(|rpc| {
                rpc.call(
                    "getrawtransaction",
                    &[serde_json::json!(txid.to_string()), serde_json::json!(true)],
                )
            });
            match asked {
                Ok(reply) if reply["confirmations"].as_u64().unwrap_or(0) > 0 => {
                    TxStatus::Confirmed
                }
                Ok(_) => TxStatus::InMempool,
                Err(IndexError::NodeRefused { code: -5, .. }) => TxStatus::Gone,
                Err(_) => TxStatus::Unknown,
            }
        }
        Err(_) => TxStatus::Unknown,
    }
}

fn reply(held: &Held, lease: u64) -> ReservationReply {
    ReservationReply {
        txid: held.txid,
        state: match held.state {
            spool_tx::claims::TxState::Reserved => "reserved",
            spool_tx::claims::TxState::Sending => "sending",
            spool_tx::claims::TxState::Broadcast => "broadcast",
            spool_tx::claims::TxState::Unsure => "unsure",
            spool_tx::claims::TxState::Unsigned => "unsigned",
        }
        .to_owned(),
        reserved_at: held.reserved_at,
        expires_at: (held.state == spool_tx::claims::TxState::Reserved)
            .then(|| held.reserved_at.saturating_add(lease)),
        outpoints: held.outpoints.clone(),
        claims: held
            .claims
            .iter()
            .map(|c| WireClaim {
                piece: c.piece.clone(),
                edition: c.edition,
            })
            .collect(),
    }
}

/// `POST reservations`.
#[utoipa::path(post, path = "/api/v1/reservations", tag = "reservations",
    request_body = ReservationBody,
    security(("bearer" = [])),
    responses((status = 200, description = "held (asking again for the same transaction is held once)", body = ReservationReply),
        (status = 400, description = "a malformed body", body = spool_backend::server::ErrorReply),
        (status = 401, description = "the write token is missing or wrong", body = spool_backend::server::ErrorReply),
        (status = 409, description = "another pending transaction (`conflict`) holds a claim or an outpoint (`held`)", body = spool_backend::server::ErrorReply)))]
pub(super) async fn reserve(
    State(state): State<Arc<ApiState>>,
    body: Result<Json<ReservationBody>, JsonRejection>,
) -> ApiResult<ReservationReply> {
    let Json(body) =
        body.map_err(|e| ApiError::bad(format!("bad reservation: {}", e.body_text())))?;
    if body.outpoints.is_empty() {
        return Err(ApiError::bad("a reservation holds at least one outpoint"));
    }
    let request = ReservationRequest {
        txid: body.txid,
        outpoints: body.outpoints,
        claims: body
            .claims
            .into_iter()
            .map(|c| Claim {
                piece: c.piece,
                edition: c.edition,
            })
            .collect(),
        seen: body.seen,
        maker: body.maker,
    };
    tokio::task::spawn_blocking(move || {
        let held = state.reservations()?;
        let status = |txid: &Txid| status_of(&state, txid);
        match held.reserve_checked(&request, &status)? {
            Ok(()) => {}
            Err(Refusal::Claimed(conflict)) => {
                return Err(ApiError::held(conflict.holder, true, conflict.to_string()))
            }
            Err(Refusal::Outpoint { outpoint, holder }) => {
                return Err(ApiError::held(
                    holder,
                    false,
                    format!("outpoint {outpoint} is reserved by pending transaction {holder} of another operator; choose other outputs"),
                ))
            }
            Err(other) => return Err(ApiError::internal(other.to_string())),
        }
        let lease = held.lease_seconds();
        let mine = held
            .get(&request.txid)
            .ok_or_else(|| ApiError::internal("the reservation vanished"))?;
        Ok(Json(reply(&mine, lease)))
    })
    .await
    .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
}

/// `DELETE reservations/{txid}`.
#[utoipa::path(delete, path = "/api/v1/reservations/{txid}", tag = "reservations",
    params(("txid" = String, Path, description = "the reserved transaction")),
    security(("bearer" = [])),
    responses((status = 200, description = "released (or none was held)", body = ReleaseReply),
        (status = 400, description = "not a txid", body = spool_backend::server::ErrorReply),
        (status = 401, description = "the write token is missing or wrong", body = spool_backend::server::ErrorReply)))]
pub(super) async fn release(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
) -> ApiResult<ReleaseReply> {
    let txid = parse_txid(&path(p)?)?;
    tokio::task::spawn_blocking(move || {
        let released = state.reservations()?.release(&txid)?;
        Ok(Json(ReleaseReply { txid, released }))
    })
    .await
    .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
}

/// `GET reservations`.
#[utoipa::path(get, path = "/api/v1/reservations", tag = "reservations",
    responses((status = 200, description = "every reservation held, after releasing what the rules release", body = ReservationsReply)))]
pub(super) async fn list(State(state): State<Arc<ApiState>>) -> ApiResult<ReservationsReply> {
    tokio::task::spawn_blocking(move || {
        let held = state.reservations()?;
        held.sweep(&|txid| status_of(&state, txid))?;
        let lease = held.lease_seconds();
        Ok(Json(ReservationsReply {
            lease_seconds: lease,
            reservations: held.list().iter().map(|h| reply(h, lease)).collect(),
        }))
    })
    .await
    .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
}
