//! `GET status`: the index's position against its node.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use spool_backend::server::StatusReply;

use super::error::ApiResult;
use super::ApiState;

/// `GET status`.
#[utoipa::path(get, path = "/api/v1/status", tag = "status",
    responses((status = 200, description = "how far the index is", body = StatusReply)))]
pub(super) async fn status(State(state): State<Arc<ApiState>>) -> ApiResult<StatusReply> {
    let sync = state.sync.lock().expect("state lock").clone();
    Ok(Json(StatusReply {
        network: state.config.network,
        indexed_height: sync.indexed.map(|(h, _)| h),
        indexed_hash: sync.indexed.map(|(_, hash)| hash.to_string()),
        node_height: sync.node_height,
        synced: sync.synced,
        blocks_matched: sync
            .mode
            .starts_with("filters")
            .then_some(sync.filters.matched),
        false_positives: sync
            .mode
            .starts_with("filters")
            .then_some(sync.filters.false_positives),
        mode: (!sync.mode.is_empty()).then_some(sync.mode),
    }))
}
