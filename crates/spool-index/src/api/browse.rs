//! `GET pieces`, `latest` and `search`: what the index holds, for browsing.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use spool_backend::server::WireTx;

use super::error::ApiResult;
use super::{
    federation, find_transaction, parse_address, parse_txid, query, ApiError, ApiState, MAX_PAGE,
};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PiecesQuery {
    offset: Option<u64>,
    limit: Option<u64>,
    federation: Option<String>,
}

/// One piece in `GET pieces`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(get, path = "/api/v1/pieces", tag = "browse",
    params(PiecesQuery),
    responses((status = 200, description = "registered pieces, a page at a time", body = PiecesReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn pieces(
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct LatestQuery {
    limit: Option<u32>,
}

/// `GET latest?limit=N`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LatestReply {
    /// The newest SPOOL transactions, mempool first.
    pub txs: Vec<WireTx>,
}

#[utoipa::path(get, path = "/api/v1/latest", tag = "browse",
    params(LatestQuery),
    responses((status = 200, description = "the latest SPOOL transactions, newest first", body = LatestReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn latest(
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    q: Option<String>,
}

/// `GET search?q=`: what a txid, piece address (file hash) or address is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchReply {
    /// `tx`, `piece` or `address`.
    pub kind: String,
    /// The txid or address found.
    pub id: String,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "browse",
    params(SearchQuery),
    responses((status = 200, description = "what the query names: a piece, an address or a transaction", body = SearchReply),
        (status = 404, description = "nothing matches", body = spool_backend::server::ErrorReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn search(
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
