//! Certificates from `spool serve`: the proof of a transaction's inclusion and the best
//! chain's headers (from the node), and whole certificates issued from the index.
//!
//! | route | answer |
//! | --- | --- |
//! | `GET tx/{txid}/inclusion` | `{height, proof, coinbase, coinbase_branch}` |
//! | `GET block-height/{height}/header` | `{height, hash, header}` |
//! | `GET piece/{piece}/certificate?edition=N[&federation=A,B]` | the `.spoolcert` document |
//!
//! [`issue`] is the one issuing path over the index: the route above and the explorer's
//! certificate pages both call it.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Address, BlockHash, Network, Transaction, Txid};
use serde::Deserialize;
use spool_backend::core::CoreBackend;
use spool_backend::server::{HeaderReply, InclusionReply};
use spool_backend::{Backend, BackendError};
use spool_protocol::certificate::Certificate;
use spool_protocol::chain::{ChainTx, TxInclusion, Utxo};

use crate::api::{
    federation, find_transaction, parse_address, parse_txid, path, query, ApiError, ApiState,
};

/// The node behind the index, as a Core backend (for proofs and headers).
fn node(state: &ApiState) -> Result<CoreBackend, ApiError> {
    let config = &state.config().node;
    CoreBackend::with_timeout(
        &config.url,
        config.auth.clone(),
        state.config().network,
        config.timeout,
    )
    .map_err(|e| ApiError::internal(format!("node: {e}")))
}

fn backend_error(err: BackendError) -> ApiError {
    match err {
        BackendError::NotFound { what } => {
            ApiError::new(StatusCode::NOT_FOUND, format!("{what} is unknown"))
        }
        other => ApiError::new(StatusCode::BAD_GATEWAY, format!("the node failed: {other}")),
    }
}

/// `GET tx/{txid}/inclusion`.
#[utoipa::path(get, path = "/api/v1/tx/{txid}/inclusion", tag = "certificate",
    params(("txid" = String, Path, description = "a confirmed transaction")),
    responses((status = 200, description = "the merkle proof of its inclusion, its block's coinbase and branch", body = InclusionReply),
        (status = 404, description = "unknown or unconfirmed", body = spool_backend::server::ErrorReply),
        (status = 502, description = "the node failed", body = spool_backend::server::ErrorReply)))]
pub(crate) async fn inclusion(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
) -> Result<Json<InclusionReply>, ApiError> {
    let txid = parse_txid(&path(p)?)?;
    let found = node(&state)?
        .tx_inclusion(&txid)
        .await
        .map_err(backend_error)?;
    Ok(Json(InclusionReply {
        height: found.height,
        proof: serialize_hex(&found.merkle_block),
        coinbase: serialize_hex(&found.coinbase),
        coinbase_branch: found.coinbase_branch,
    }))
}

/// `GET block-height/{height}/header`.
#[utoipa::path(get, path = "/api/v1/block-height/{height}/header", tag = "certificate",
    params(("height" = u64, Path, description = "a height of the best chain")),
    responses((status = 200, description = "the best chain's header at that height", body = HeaderReply),
        (status = 404, description = "beyond the tip", body = spool_backend::server::ErrorReply),
        (status = 502, description = "the node failed", body = spool_backend::server::ErrorReply)))]
pub(crate) async fn header_at(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<u64>, PathRejection>,
) -> Result<Json<HeaderReply>, ApiError> {
    let height = path(p)?;
    let (hash, header) = node(&state)?
        .block_header_at(height)
        .await
        .map_err(backend_error)?;
    Ok(Json(HeaderReply {
        height,
        hash,
        header: serialize_hex(&header),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CertificateQuery {
    edition: Option<u64>,
    federation: Option<String>,
}

/// `GET piece/{piece}/certificate?edition=N`: issued from the index's transactions and the
/// node's proofs, by the same gathering as every backend's.
#[utoipa::path(get, path = "/api/v1/piece/{piece}/certificate", tag = "certificate",
    params(("piece" = String, Path, description = "the piece's address"), CertificateQuery),
    responses((status = 200, description = "the .spoolcert document (crates/spool-protocol/CERTIFICATE.md)", body = Object),
        (status = 400, description = "a malformed address or parameter", body = spool_backend::server::ErrorReply),
        (status = 503, description = "the index is still catching up with its node", body = spool_backend::server::ErrorReply),
        (status = 502, description = "the node failed", body = spool_backend::server::ErrorReply)))]
pub(crate) async fn piece_certificate(
    State(state): State<Arc<ApiState>>,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<CertificateQuery>, QueryRejection>,
) -> Result<Json<Certificate>, ApiError> {
    let text = path(p)?;
    let q = query(q)?;
    let network = state.config().network;
    let piece = parse_address(&text, network, "piece address")?;
    let edition = q
        .edition
        .ok_or_else(|| ApiError::bad("`edition` is missing: ?edition=N"))?;
    let federation = federation(&q.federation, state.config())?;
    let issuer = format!("spool-rs {} via spool serve", env!("CARGO_PKG_VERSION"));
    let certificate = issue(&state, &piece, edition, &federation, &issuer, Dating::Now)
        .await
        .map_err(|e| match e {
            CertificateError::Indexing { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            CertificateError::Node(err) => backend_error(err),
            other => ApiError::internal(other.to_string()),
        })?;
    Ok(Json(certificate))
}

/// How a certificate issued from the index is dated (its `issued_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dating {
    /// The issuer's clock, now (the API's certificates).
    Now,
    /// The block time of the tip it was issued at: the same tip gives the same file, byte for
    /// byte, so a page can print the SHA-256 of the file it offers (the explorer's).
    TipTime,
}

/// Why the index could not issue a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The index is behind its node: a certificate needs the whole chain.
    #[error("server is indexing: block {indexed} of {node}; a certificate needs the whole chain")]
    Indexing {
        /// The last indexed block's height (0 before the first).
        indexed: u64,
        /// The node's best height.
        node: u64,
    },
    /// The node (proofs, headers) failed or does not know a block or transaction.
    #[error("the node failed: {0}")]
    Node(BackendError),
    /// The gathered transactions and proofs do not make a certificate.
    #[error("cannot issue the certificate: {0}")]
    Issue(String),
    /// The tip kept moving while the certificate was being dated.
    #[error("the chain's tip kept moving while the certificate was issued; try again")]
    TipMoving,
}

/// Issues the certificate of `edition` of `piece` from the index's transactions and its
/// node's proofs and headers, judged with `federation` (addresses as text), by the same
/// gathering as every backend's (`spool_backend::certificate::issue_certificate`).
///
/// # Errors
/// [`CertificateError`]: the index is still catching up, the node failed, or the gathering
/// could not make a certificate.
pub async fn issue(
    state: &Arc<ApiState>,
    piece: &Address,
    edition: u64,
    federation: &[String],
    issuer: &str,
    dating: Dating,
) -> Result<Certificate, CertificateError> {
    let backend = IndexBackend {
        state: state.clone(),
        node: node(state).map_err(|e| CertificateError::Issue(e.message().to_owned()))?,
    };
    // Dated by the tip's block time, the tip must not move between the issuing and the
    // dating: a few tries cover a block found in between.
    for _ in 0..3 {
        let sync = state.sync_state();
        if !sync.synced {
            return Err(CertificateError::Indexing {
                indexed: sync.indexed.map_or(0, |(h, _)| h),
                node: sync.node_height,
            });
        }
        let issued_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut certificate = spool_backend::certificate::issue_certificate(
            &backend, piece, edition, federation, issuer, issued_at,
        )
        .await
        .map_err(|e| match e {
            spool_backend::certificate::GatherError::Backend(err) => CertificateError::Node(err),
            other => CertificateError::Issue(other.to_string()),
        })?;
        match dating {
            Dating::Now => return Ok(certificate),
            Dating::TipTime => {
                let (hash, header) = backend
                    .node
                    .block_header_at(certificate.tip.height)
                    .await
                    .map_err(CertificateError::Node)?;
                if hash == certificate.tip.hash {
                    certificate.issued_at = u64::from(header.time);
                    return Ok(certificate);
                }
            }
        }
    }
    Err(CertificateError::TipMoving)
}

/// The index's transactions and the node's proofs, as a [`Backend`] for the gathering.
struct IndexBackend {
    state: Arc<ApiState>,
    node: CoreBackend,
}

fn unsupported(what: &str) -> BackendError {
    BackendError::Unsupported {
        what: what.to_owned(),
        backend: "the index's certificate source".to_owned(),
    }
}

fn from_api(err: ApiError) -> BackendError {
    BackendError::NotFound {
        what: err.message().to_owned(),
    }
}

#[async_trait::async_trait]
impl Backend for IndexBackend {
    fn network(&self) -> Network {
        self.state.config().network
    }

    fn describe(&self) -> String {
        "spool serve's index".to_owned()
    }

    async fn tip_height(&self) -> Result<u64, BackendError> {
        self.state
            .sync_state()
            .indexed
            .map(|(h, _)| h)
            .ok_or_else(|| unsupported("a tip before the first indexed block"))
    }

    async fn utxos(&self, _: &Address, _: u32) -> Result<Vec<Utxo>, BackendError> {
        Err(unsupported("unspent outputs"))
    }

    async fn address_transactions(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError> {
        let script = address.script_pubkey();
        self.state
            .read(move |store, _| Ok(store.txs_paying(&script)?))
            .await
            .map_err(from_api)
    }

    async fn transaction(&self, txid: &Txid) -> Result<ChainTx, BackendError> {
        let txid = *txid;
        self.state
            .read(move |store, api| find_transaction(store, api.config(), &txid))
            .await
            .map_err(from_api)
    }

    async fn broadcast(&self, _: &Transaction) -> Result<Txid, BackendError> {
        Err(unsupported("broadcasts"))
    }

    async fn tx_inclusion(&self, txid: &Txid) -> Result<TxInclusion, BackendError> {
        self.node.tx_inclusion(txid).await
    }

    async fn block_header_at(
        &self,
        height: u64,
    ) -> Result<(BlockHash, bitcoin::block::Header), BackendError> {
        self.node.block_header_at(height).await
    }
}
