//! `GET address/{a}/...`: transactions, UTXOs, holdings and pieces of an address.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use spool_backend::server::{AddressTxsReply, UtxosReply, WireTx};
use spool_protocol::scope::Scope;
use spool_protocol::state::Holding;
use spool_protocol::verb::LoanDate;

use super::error::ApiResult;
use super::input::{today, FederationQuery};
use super::{federation, parse_address, path, query, ApiError, ApiState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct TxsQuery {
    /// Only what the rules of this edition read (the address is then a piece's).
    edition: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/address/{address}/txs", tag = "address",
    params(("address" = String, Path, description = "an address of the network served"), TxsQuery),
    responses((status = 200, description = "the SPOOL transactions paying the address, with their prevouts", body = AddressTxsReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn address_txs(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<TxsQuery>, QueryRejection>,
) -> ApiResult<AddressTxsReply> {
    let text = path(p)?;
    let address = parse_address(&text, state.config.network, "address")?;
    let scope = query(q)?.edition.map(Scope::edition);
    state
        .read(move |store, _| {
            let txs = match scope {
                Some(scope) => store.txs_in_scope(&address, scope)?,
                None => store.txs_paying(&address.script_pubkey())?,
            };
            let txs: Vec<WireTx> = txs.iter().map(WireTx::from_chain_tx).collect();
            Ok(Json(AddressTxsReply {
                address: address.to_string(),
                txs,
            }))
        })
        .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UtxoQuery {
    min_conf: Option<u32>,
    /// At most this many outputs of each value, at random (an action's sample to choose its
    /// inputs from); all of them when absent.
    per_value: Option<usize>,
}

#[utoipa::path(get, path = "/api/v1/address/{address}/utxos", tag = "address",
    params(("address" = String, Path, description = "a watched address"), UtxoQuery),
    responses((status = 200, description = "the address's unspent outputs", body = UtxosReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn address_utxos(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<UtxoQuery>, QueryRejection>,
) -> ApiResult<UtxosReply> {
    let text = path(p)?;
    let q = query(q)?;
    let min_conf = q.min_conf.unwrap_or(0);
    let per_value = q.per_value;
    let address = parse_address(&text, state.config.network, "address")?;
    let tip = state.indexed_height().unwrap_or(0);
    state
        .read(move |store, api| {
            let script = address.script_pubkey();
            if !store.is_watched(&script)? {
                return Err(ApiError::not_found(format!(
                    "address {address} is not watched by this index (restart `spool serve` with --watch {address})"
                )));
            }
            // Outputs reserved for another operator's transaction are not offered.
            let held = api.reservations()?;
            if held.sweep_due() {
                held.sweep(&|txid| super::reservations::status_of(api, txid))?;
            }
            let is_held = |outpoint: &bitcoin::OutPoint| held.holder(outpoint).is_some();
            let utxos = match per_value {
                Some(limit) => {
                    store.utxo_sample(&script, min_conf, tip, limit, &random_start(), &is_held)?
                }
                None => store
                    .utxos(&script, min_conf, tip)?
                    .into_iter()
                    .filter(|u| !is_held(&u.outpoint))
                    .collect(),
            };
            Ok(Json(UtxosReply {
                address: address.to_string(),
                utxos,
            }))
        })
        .await
}

/// `GET address/{a}/holdings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HoldingsReply {
    /// The address asked about.
    pub address: String,
    /// What it holds, by piece, edition and role.
    #[schema(value_type = Vec<Object>)]
    pub holdings: Vec<Holding>,
}

#[utoipa::path(get, path = "/api/v1/address/{address}/holdings", tag = "address",
    params(("address" = String, Path, description = "an address"), FederationQuery),
    responses((status = 200, description = "the editions the address owns, holds on consignment or borrows", body = HoldingsReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn holdings(
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddressPiecesReply {
    /// The address asked about.
    pub address: String,
    /// The pieces whose SPOOL transactions pay or come from it.
    pub pieces: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/address/{address}/pieces", tag = "address",
    params(("address" = String, Path, description = "an address")),
    responses((status = 200, description = "the pieces whose SPOOL transactions involve the address", body = AddressPiecesReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn address_pieces(
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

/// A place to start a sample at, different at every call (so that operators asking at once
/// rarely draw the same outputs): 32 bytes to compare with txids.
fn random_start() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut start = [0u8; 32];
    let state = std::collections::hash_map::RandomState::new();
    for (n, chunk) in start.chunks_mut(8).enumerate() {
        let mut hasher = state.build_hasher();
        hasher.write_usize(n);
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    start
}
