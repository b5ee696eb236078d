//! `POST tx` (broadcast) and `GET tx/{txid}[/status]`.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, StringRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bitcoin::{OutPoint, Transaction, Txid};
use spool_backend::server::{BroadcastReply, TxStatusReply, WireTx};
use spool_protocol::chain::{ChainTx, TxPlace};

use super::error::ApiResult;
use super::{parse_txid, path, ApiConfig, ApiError, ApiState, ABORT_AFTER_BROADCAST};
use crate::error::IndexError;
use crate::follower::mempool_prevouts;
use crate::node::NodeRpc;
use crate::store::Store;

#[utoipa::path(post, path = "/api/v1/tx", tag = "tx",
    request_body(content = String, description = "the raw transaction, hex", content_type = "text/plain"),
    security(("bearer" = [])),
    responses((status = 200, description = "sent (or already known)", body = BroadcastReply),
        (status = 400, description = "not a transaction", body = spool_backend::server::ErrorReply),
        (status = 401, description = "the write token is missing or wrong (with --api-token-file)", body = spool_backend::server::ErrorReply),
        (status = 409, description = "it would replace another pending SPOOL action (`conflict` names it); a fee bump of the same action is admitted", body = spool_backend::server::ErrorReply),
        (status = 422, description = "the node refused it", body = spool_backend::server::ErrorReply),
        (status = 502, description = "the node could not be reached", body = spool_backend::server::ErrorReply)))]
pub(super) async fn broadcast(
    State(state): State<Arc<ApiState>>,
    body: Result<String, StringRejection>,
) -> ApiResult<BroadcastReply> {
    let body = body
        .map_err(|e| ApiError::new(e.status(), format!("bad broadcast body: {}", e.body_text())))?;
    let hex = body.trim();
    let tx: Transaction = bitcoin::consensus::encode::deserialize_hex(hex)
        .map_err(|e| ApiError::bad(format!("the body is not a raw transaction in hex: {e}")))?;
    let state2 = state.clone();
    tokio::task::spawn_blocking(move || state2.with_node(|rpc| send(&state2, rpc, tx)))
        .await
        .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
}

/// The broadcast itself, on a blocking thread: admission, the node, the index's mempool;
/// the sender's reservation is marked broadcast after the answer.
fn send(state: &Arc<ApiState>, rpc: &NodeRpc, tx: Transaction) -> ApiResult<BroadcastReply> {
    admit(state, rpc, &tx)?;
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
    // The prevouts: from the index when it holds them all (the outputs of watched
    // scripts, as a federation's are), else from the node.
    let outpoints: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
    let known = state
        .with_reader(|store| store.outputs_at(&outpoints))
        .unwrap_or_default();
    let prevouts = match known.into_iter().collect::<Option<Vec<_>>>() {
        Some(all) if all.len() == tx.input.len() => all,
        _ => mempool_prevouts(rpc, &tx, &HashMap::new()).unwrap_or_default(),
    };
    let mut writer = state.writer.lock().expect("writer lock");
    if writer.is_none() {
        *writer = Some(Store::open(&state.config.index_path, state.config.network)?);
    }
    let store = writer.as_mut().expect("opened above");
    store.refresh_watched()?;
    let next = state.indexed_height().map_or(0, |h| h + 1);
    let marked = tx.clone();
    if !(crate::store::is_spool(&tx) && prevouts.len() != tx.input.len()) {
        store.apply_mempool(&[(tx, prevouts)], &[], next)?;
    }
    drop(writer);
    // An operator's reservation of it is now a broadcast one (released when it confirms
    // or is dropped). Noted after the answer, off the sender's path: until then (or if
    // the server dies first) it stays reserved, which the rules treat alike while the
    // node holds it, and a failure to note it only delays the release.
    let held_by = state.clone();
    tokio::task::spawn_blocking(move || {
        if let Ok(held) = held_by.reservations() {
            if let Err(err) = held.mark_broadcast_tx(&marked) {
                tracing::warn!(error = %err, %txid, "cannot mark the reservation broadcast");
            }
        }
    });
    Ok(Json(BroadcastReply {
        txid: txid.to_string(),
    }))
}

/// Admission control: refuses (409, naming it) a transaction that would replace a pending
/// SPOOL transaction of the node's mempool, unless it is a fee bump of the same action: the
/// same outputs (recipients, token values and verb, in the same order) paid with other or
/// more fuel. Other conflicts are left to the node's own replacement rules.
fn admit(state: &ApiState, rpc: &NodeRpc, tx: &Transaction) -> Result<(), ApiError> {
    if tx.input.is_empty() {
        return Ok(());
    }
    let txid = tx.compute_txid();
    let outpoints: Vec<serde_json::Value> = tx
        .input
        .iter()
        .map(|i| {
            serde_json::json!({
                "txid": i.previous_output.txid.to_string(),
                "vout": i.previous_output.vout,
            })
        })
        .collect();
    let spent = match rpc.call(
        "gettxspendingprevout",
        &[serde_json::Value::from(outpoints)],
    ) {
        Ok(spent) => spent,
        // A node without the call (before Core 24) leaves the decision to its mempool.
        Err(IndexError::NodeRefused { code: -32601, .. }) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let spenders: std::collections::BTreeSet<Txid> = spent
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["spendingtxid"].as_str())
        .filter_map(|text| Txid::from_str(text).ok())
        .filter(|spender| *spender != txid)
        .collect();
    for spender in spenders {
        let pending = state.with_reader(|store| store.transaction(&spender))?;
        let Some(pending) = pending else {
            // Not a SPOOL transaction (the index holds every SPOOL one of the mempool).
            continue;
        };
        if !crate::store::is_spool(&pending.tx) {
            continue;
        }
        if pending.tx.output == tx.output {
            continue;
        }
        let verb = spool_protocol::payload::find_verb(&pending.tx)
            .ok()
            .map_or_else(|| "a SPOOL verb".to_owned(), |(_, verb)| verb.to_string());
        return Err(ApiError::conflict(
            spender,
            format!(
                "transaction {txid} spends outputs that pending SPOOL transaction {spender} ({verb}) spends: it would replace another action; only a fee bump of the same action (same recipients and verb) may replace it. Wait for {spender} to confirm, then act again"
            ),
        ));
    }
    Ok(())
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

#[utoipa::path(get, path = "/api/v1/tx/{txid}", tag = "tx",
    params(("txid" = String, Path, description = "64 hexadecimal digits")),
    responses((status = 200, description = "the transaction, its prevouts and place", body = WireTx),
        (status = 404, description = "unknown", body = spool_backend::server::ErrorReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn transaction(
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

#[utoipa::path(get, path = "/api/v1/tx/{txid}/status", tag = "tx",
    params(("txid" = String, Path, description = "64 hexadecimal digits")),
    responses((status = 200, description = "confirmed, in the mempool, or unknown", body = TxStatusReply),
        (status = 400, description = "a malformed address, txid or parameter", body = spool_backend::server::ErrorReply),
        (status = 500, description = "the index or node failed", body = spool_backend::server::ErrorReply),))]
pub(super) async fn tx_status(
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
