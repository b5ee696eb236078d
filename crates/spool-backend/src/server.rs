//! The third backend: an HTTP client of `spool serve`'s JSON API (`/api/v1/...`), and the
//! API's wire types, shared by the server (spool-index) and this client.
//!
//! The server answers from its index, so every call here is one HTTP request: the tip
//! (`GET status`), an address's UTXOs (`GET address/{a}/utxos?min_conf=N`), the SPOOL
//! transactions paying an address with their prevouts (`GET address/{a}/txs`, or only those
//! one edition's rules read with `?edition=N`), one
//! transaction (`GET tx/{txid}`) and a broadcast (`POST tx`, the raw hex as the body).

use std::str::FromStr;
use std::time::Duration;

use bitcoin::consensus::encode;
use bitcoin::{Address, Amount, Network, ScriptBuf, Transaction, TxOut, Txid};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use spool_protocol::chain::{ChainTx, TxPlace, Utxo};
use spool_protocol::history::Event;
use spool_protocol::scope::Scope;

use crate::backend::{check_network, Backend};
use crate::error::BackendError;
use crate::retry::{retrying, RetryPolicy};
use crate::token::ApiToken;

/// The path prefix of every API route.
pub const API_PREFIX: &str = "/api/v1";

/// `GET /api/v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusReply {
    /// The network served (`bitcoin`, `testnet`, `signet`, `regtest`, ...).
    #[schema(value_type = String)]
    pub network: Network,
    /// Height of the last indexed block (`None` before the first block).
    pub indexed_height: Option<u64>,
    /// Hash of the last indexed block.
    pub indexed_hash: Option<String>,
    /// The node's tip height at the follower's last look.
    pub node_height: u64,
    /// Whether the index holds the node's tip and mempool.
    pub synced: bool,
    /// How the index follows the chain: `full` (every block), or `filters` and the
    /// federation's scripts (only the blocks whose compact block filter matches). Absent
    /// from servers older than the mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Filtered index: blocks whose filter matched and that were fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks_matched: Option<u64>,
    /// Filtered index: matched blocks that held nothing of the scope (the filter's false
    /// positives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub false_positives: Option<u64>,
}

/// `GET tx/{txid}/inclusion`: the proof that a confirmed transaction is in its block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InclusionReply {
    /// The block's height.
    pub height: u64,
    /// The header and partial merkle tree, hex (`gettxoutproof`'s bytes).
    pub proof: String,
    /// The block's coinbase, hex.
    pub coinbase: String,
    /// The coinbase's merkle branch, leaf's sibling first.
    #[schema(value_type = Vec<String>)]
    pub coinbase_branch: Vec<bitcoin::TxMerkleNode>,
}

/// `GET block-height/{height}/header`: the best chain's block at a height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeaderReply {
    /// The height.
    pub height: u64,
    /// The block hash.
    #[schema(value_type = String)]
    pub hash: bitcoin::BlockHash,
    /// The 80-byte header, hex.
    pub header: String,
}

/// One previous output on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WirePrevout {
    /// Value in satoshis.
    pub value: u64,
    /// The locking script, hex.
    pub script_pubkey: String,
}

/// A [`ChainTx`] on the wire: raw transaction hex, its prevouts, its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WireTx {
    /// The transaction id (redundant with `hex`, for people reading the JSON).
    pub txid: String,
    /// The consensus-encoded transaction, hex.
    pub hex: String,
    /// The outputs spent by the inputs, index for index.
    pub prevouts: Vec<WirePrevout>,
    /// Where the transaction is.
    #[schema(value_type = Object)]
    pub place: TxPlace,
}

impl WireTx {
    /// The wire form of `chain_tx`.
    pub fn from_chain_tx(chain_tx: &ChainTx) -> WireTx {
        WireTx {
            txid: chain_tx.txid().to_string(),
            hex: encode::serialize_hex(&chain_tx.tx),
            prevouts: chain_tx
                .prevouts
                .iter()
                .map(|out| WirePrevout {
                    value: out.value.to_sat(),
                    script_pubkey: out.script_pubkey.to_hex_string(),
                })
                .collect(),
            place: chain_tx.place,
        }
    }

    /// Back to a [`ChainTx`].
    ///
    /// # Errors
    /// A description of the first field that does not decode.
    pub fn to_chain_tx(&self) -> Result<ChainTx, String> {
        let tx: Transaction = encode::deserialize_hex(&self.hex)
            .map_err(|err| format!("bad transaction hex: {err}"))?;
        let prevouts = self
            .prevouts
            .iter()
            .map(|p| {
                ScriptBuf::from_hex(&p.script_pubkey)
                    .map(|script_pubkey| TxOut {
                        value: Amount::from_sat(p.value),
                        script_pubkey,
                    })
                    .map_err(|err| format!("bad prevout script hex: {err}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ChainTx {
            tx,
            prevouts,
            place: self.place,
        })
    }
}

/// `GET /api/v1/address/{address}/txs`; with `?edition=N`, only the transactions the rules
/// of edition `N` read (see [`Scope::select`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddressTxsReply {
    /// The address asked about.
    pub address: String,
    /// The SPOOL transactions paying it, in place order.
    pub txs: Vec<WireTx>,
}

/// `GET /api/v1/address/{address}/utxos`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UtxosReply {
    /// The address asked about.
    pub address: String,
    /// Its unspent outputs, none spent by a mempool transaction.
    #[schema(value_type = Vec<Object>)]
    pub utxos: Vec<Utxo>,
}

/// `POST /api/v1/tx`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BroadcastReply {
    /// The broadcast transaction's id.
    pub txid: String,
}

/// `GET /api/v1/tx/{txid}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TxStatusReply {
    /// The transaction id.
    pub txid: String,
    /// `confirmed`, `mempool` or `unknown`.
    pub status: String,
    /// Block height when confirmed.
    pub block_height: Option<u64>,
    /// Confirmations at the indexed tip (0 in the mempool).
    pub confirmations: u64,
}

/// `GET /api/v1/piece/{piece}/history`: the same JSON as `spool history --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryReply {
    /// The piece address.
    pub piece_address: String,
    /// The number of editions (from the valid EDITIONS event that counts).
    pub number_editions: Option<u64>,
    /// Whether federated verbs were checked for their sender (a federation was set).
    pub federation_rule: bool,
    /// The chain tip the confirmations are counted against.
    pub tip_height: u64,
    /// The confirmations an event needs to count; shallower events are `pending`.
    pub min_conf: u64,
    /// The events, in chain order.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Event>,
}

/// An error answer: `{"error": "..."}` with a 4xx or 5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorReply {
    /// What was wrong, in one line.
    pub error: String,
    /// With a 409: the pending transaction the refused one conflicts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub conflict: Option<Txid>,
    /// With a 409 to a reservation: `claim` (an edition or the number of editions is held)
    /// or `outpoint` (choose other outputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// Something an action changes, on the wire: an edition of a piece, or its number of
/// editions (`edition: null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WireClaim {
    /// The piece's address.
    pub piece: String,
    /// The edition (0 = the master edition), or null for the number of editions.
    pub edition: Option<u64>,
}

/// `POST reservations`: a transaction's outpoints and claims, reserved before it is signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReservationBody {
    /// The transaction (also the reservation's id).
    #[schema(value_type = String)]
    pub txid: Txid,
    /// The outpoints it spends, `txid:vout`.
    #[schema(value_type = Vec<String>)]
    pub outpoints: Vec<bitcoin::OutPoint>,
    /// What its action changes.
    pub claims: Vec<WireClaim>,
    /// Pending transactions the action's pre-check saw: their claims do not conflict.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub seen: Vec<Txid>,
    /// Who asks (an id unique to one running `spool`): the same transaction asked again by
    /// the same maker is held once; asked by another (two operators who built the same
    /// transaction), it is refused like any other pending action.
    #[serde(default)]
    pub maker: String,
}

/// One reservation held by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReservationReply {
    /// The transaction (the reservation's id).
    #[schema(value_type = String)]
    pub txid: Txid,
    /// `reserved` (not yet broadcast), `sending`, `broadcast` or `unsure`.
    pub state: String,
    /// When it was taken (seconds since the Unix epoch).
    pub reserved_at: u64,
    /// When a reservation never broadcast lapses (seconds since the Unix epoch).
    pub expires_at: Option<u64>,
    /// The outpoints held, `txid:vout`.
    #[schema(value_type = Vec<String>)]
    pub outpoints: Vec<bitcoin::OutPoint>,
    /// The claims held.
    pub claims: Vec<WireClaim>,
}

/// `GET reservations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReservationsReply {
    /// How long a reservation never broadcast is held, in seconds.
    pub lease_seconds: u64,
    /// Every reservation held.
    pub reservations: Vec<ReservationReply>,
}

/// `DELETE reservations/{txid}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReleaseReply {
    /// The transaction.
    #[schema(value_type = String)]
    pub txid: Txid,
    /// Whether a reservation was held (and is now released).
    pub released: bool,
}

/// Default timeout of one HTTP request to the server.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A [`Backend`] reading chain state from `spool serve` and broadcasting through it.
#[derive(Clone)]
pub struct ServerBackend {
    base: String,
    network: Network,
    timeout: Duration,
    retry: RetryPolicy,
    client: bitreq::Client,
    /// Connections of their own for broadcasts, taken in turn: bitreq keeps one connection
    /// per host and answers its requests one after the other, so reads and reservations
    /// made while a transaction is being sent (`spool batch` prepares its next line then),
    /// or a second broadcast (`spool batch` sends two independent lines at once), would
    /// otherwise wait for the node to take the first.
    broadcasts: std::sync::Arc<crate::turns::Turns<bitreq::Client>>,
    /// Sent with writes (broadcasts) when the server asks for one.
    token: Option<ApiToken>,
}

impl std::fmt::Debug for ServerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBackend")
            .field("url", &self.base)
            .field("network", &self.network)
            .finish()
    }
}

impl ServerBackend {
    /// A backend for the server at `url` (e.g. `http://127.0.0.1:8338`) on `network`.
    /// Nothing is contacted yet.
    ///
    /// # Errors
    /// [`BackendError::Config`] when `url` is not an `http://` or `https://` URL.
    pub fn new(url: &str, network: Network) -> Result<ServerBackend, BackendError> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 9 {
            return Err(BackendError::Config {
                url: url.to_string(),
                detail: "a server URL starts with http:// or https://".to_string(),
            });
        }
        Ok(ServerBackend {
            base,
            network,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            client: bitreq::Client::new(4),
            broadcasts: std::sync::Arc::new(crate::turns::Turns::new(
                bitreq::Client::new(1),
                bitreq::Client::new(1),
            )),
            token: None,
        })
    }

    /// Sends `token` as a bearer token with every write (`spool serve --api-token-file`).
    pub fn with_token(mut self, token: Option<ApiToken>) -> ServerBackend {
        self.token = token;
        self
    }

    /// Replaces the retry policy for transient failures.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> ServerBackend {
        self.retry = retry;
        self
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /api/v1/status`, checking that the server serves this backend's network.
    ///
    /// # Errors
    /// Transport errors, an error answer, or [`BackendError::ChainMismatch`].
    pub async fn status(&self) -> Result<StatusReply, BackendError> {
        let status: StatusReply = self.get_json("/status").await?;
        if status.network != self.network {
            return Err(BackendError::ChainMismatch {
                url: self.base.clone(),
                expected: self.network,
                actual: status.network.to_string(),
            });
        }
        Ok(status)
    }

    /// `GET /api/v1{path}` as JSON, retrying transient failures.
    ///
    /// # Errors
    /// [`BackendError::NotFound`] for a 404, [`BackendError::BadResponse`] for other error
    /// answers or undecodable JSON, [`BackendError::Unreachable`] when the server is down.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, BackendError> {
        let url = format!("{}{API_PREFIX}{path}", self.base);
        let body = retrying(&self.retry, "server request", || {
            self.send(&url, bitreq::Request::new(bitreq::Method::Get, url.clone()))
        })
        .await?;
        self.decode(&url, &body)
    }

    async fn send(&self, url: &str, request: bitreq::Request) -> Result<Vec<u8>, BackendError> {
        self.send_on(&self.client, url, request).await
    }

    async fn send_on(
        &self,
        client: &bitreq::Client,
        url: &str,
        request: bitreq::Request,
    ) -> Result<Vec<u8>, BackendError> {
        let request = request.with_timeout(self.timeout.as_secs().max(1));
        let response = client
            .send_async(request)
            .await
            .map_err(|err| BackendError::unreachable(url, err))?;
        let code = response.status_code;
        let body = response.into_bytes();
        match code {
            200..=299 => Ok(body),
            _ => {
                let reply = serde_json::from_slice::<ErrorReply>(&body).ok();
                let conflict = reply.as_ref().and_then(|e| e.conflict);
                let held = reply.as_ref().and_then(|e| e.held.clone());
                let message = reply
                    .map(|e| e.error)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
                Err(match code {
                    409 if held.is_some() && conflict.is_some() => BackendError::Held {
                        holder: conflict
                            .unwrap_or_else(<bitcoin::Txid as bitcoin::hashes::Hash>::all_zeros),
                        claim: held.as_deref() == Some("claim"),
                        reason: message,
                    },
                    // The refused transaction's id is filled in by the caller.
                    409 if conflict.is_some() => BackendError::Conflict {
                        txid: <bitcoin::Txid as bitcoin::hashes::Hash>::all_zeros(),
                        conflicting: conflict
                            .unwrap_or_else(<bitcoin::Txid as bitcoin::hashes::Hash>::all_zeros),
                        reason: message,
                    },
                    404 => BackendError::NotFound { what: message },
                    401 => BackendError::Unauthorized {
                        url: url.to_owned(),
                        detail: if self.token.is_some() {
                            format!("the API token sent was refused: {message}")
                        } else {
                            format!("{message}; give the server's token in SPOOL_SERVER_TOKEN or --server-token-file")
                        },
                    },
                    502..=504 => BackendError::unreachable(url, format!("HTTP {code}: {message}")),
                    _ => BackendError::bad_response(url, format!("HTTP {code}: {message}")),
                })
            }
        }
    }

    /// The transactions of an [`AddressTxsReply`] at `path`.
    async fn txs_at(&self, path: &str) -> Result<Vec<ChainTx>, BackendError> {
        let url = format!("{}{API_PREFIX}{path}", self.base);
        let reply: AddressTxsReply = self.get_json(path).await?;
        reply
            .txs
            .iter()
            .map(|wire| {
                wire.to_chain_tx()
                    .map_err(|e| BackendError::bad_response(&url, e))
            })
            .collect()
    }

    /// `request` with the bearer token, when there is one.
    fn authorized(&self, request: bitreq::Request) -> bitreq::Request {
        match &self.token {
            Some(token) => request.with_header("Authorization", token.header_value()),
            None => request,
        }
    }

    fn decode<T: DeserializeOwned>(&self, url: &str, body: &[u8]) -> Result<T, BackendError> {
        serde_json::from_slice(body)
            .map_err(|err| BackendError::bad_response(url, format!("undecodable reply: {err}")))
    }
}

#[async_trait::async_trait]
impl Backend for ServerBackend {
    fn network(&self) -> Network {
        self.network
    }

    fn describe(&self) -> String {
        format!("spool server at {}", self.base)
    }

    fn spendable_is_sample(&self) -> bool {
        true
    }

    async fn tip_height(&self) -> Result<u64, BackendError> {
        let status = self.status().await?;
        status.indexed_height.ok_or_else(|| BackendError::Indexing {
            url: self.base.clone(),
            indexed: 0,
            node: status.node_height,
        })
    }

    async fn utxos(&self, address: &Address, min_conf: u32) -> Result<Vec<Utxo>, BackendError> {
        check_network(address, self.network)?;
        let reply: UtxosReply = self
            .get_json(&format!("/address/{address}/utxos?min_conf={min_conf}"))
            .await?;
        Ok(reply.utxos)
    }

    async fn spendable_utxos(
        &self,
        address: &Address,
        min_conf: u32,
    ) -> Result<Vec<Utxo>, BackendError> {
        check_network(address, self.network)?;
        let per_value = crate::backend::SPENDABLE_PER_VALUE;
        let reply: UtxosReply = self
            .get_json(&format!(
                "/address/{address}/utxos?min_conf={min_conf}&per_value={per_value}"
            ))
            .await?;
        Ok(reply.utxos)
    }

    async fn address_transactions(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError> {
        check_network(address, self.network)?;
        self.txs_at(&format!("/address/{address}/txs")).await
    }

    async fn piece_transactions(
        &self,
        piece: &Address,
        scope: Scope,
    ) -> Result<Vec<ChainTx>, BackendError> {
        check_network(piece, self.network)?;
        let edition = scope.edition_number();
        self.txs_at(&format!("/address/{piece}/txs?edition={edition}"))
            .await
    }

    async fn transaction(&self, txid: &Txid) -> Result<ChainTx, BackendError> {
        let url = format!("{}{API_PREFIX}/tx/{txid}", self.base);
        let wire: WireTx = self.get_json(&format!("/tx/{txid}")).await?;
        wire.to_chain_tx()
            .map_err(|e| BackendError::bad_response(&url, e))
    }

    async fn tx_inclusion(
        &self,
        txid: &Txid,
    ) -> Result<spool_protocol::chain::TxInclusion, BackendError> {
        let url = format!("{}{API_PREFIX}/tx/{txid}/inclusion", self.base);
        let reply: InclusionReply = self.get_json(&format!("/tx/{txid}/inclusion")).await?;
        let bad = |e: bitcoin::consensus::encode::FromHexError| {
            BackendError::bad_response(&url, e.to_string())
        };
        Ok(spool_protocol::chain::TxInclusion {
            height: reply.height,
            merkle_block: encode::deserialize_hex(&reply.proof).map_err(bad)?,
            coinbase: encode::deserialize_hex(&reply.coinbase).map_err(bad)?,
            coinbase_branch: reply.coinbase_branch,
        })
    }

    async fn block_header_at(
        &self,
        height: u64,
    ) -> Result<(bitcoin::BlockHash, bitcoin::block::Header), BackendError> {
        let url = format!("{}{API_PREFIX}/block-height/{height}/header", self.base);
        let reply: HeaderReply = self
            .get_json(&format!("/block-height/{height}/header"))
            .await?;
        let header: bitcoin::block::Header = encode::deserialize_hex(&reply.header)
            .map_err(|e| BackendError::bad_response(&url, e.to_string()))?;
        if header.block_hash() != reply.hash {
            return Err(BackendError::bad_response(
                &url,
                "the header does not hash to the hash given",
            ));
        }
        Ok((reply.hash, header))
    }

    async fn reserve(&self, request: &ReservationBody) -> Result<bool, BackendError> {
        let url = format!("{}{API_PREFIX}/reservations", self.base);
        let body = serde_json::to_string(request)
            .map_err(|e| BackendError::bad_response(&url, format!("cannot encode: {e}")))?;
        // Idempotent: the same transaction's reservation asked again is held once.
        retrying(&self.retry, "reservation", || {
            self.send(
                &url,
                self.authorized(
                    bitreq::Request::new(bitreq::Method::Post, url.clone())
                        .with_header("Content-Type", "application/json")
                        .with_body(body.clone()),
                ),
            )
        })
        .await?;
        Ok(true)
    }

    async fn release_reservation(&self, txid: &Txid) -> Result<(), BackendError> {
        let url = format!("{}{API_PREFIX}/reservations/{txid}", self.base);
        retrying(&self.retry, "release of a reservation", || {
            self.send(
                &url,
                self.authorized(bitreq::Request::new(bitreq::Method::Delete, url.clone())),
            )
        })
        .await?;
        Ok(())
    }

    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, BackendError> {
        let url = format!("{}{API_PREFIX}/tx", self.base);
        let txid = tx.compute_txid();
        let hex = encode::serialize_hex(tx);
        // Not retried blindly: a lost answer is settled by the server's idempotent broadcast.
        let client = self.broadcasts.next();
        let result = retrying(&self.retry, "broadcast", || {
            self.send_on(
                client,
                &url,
                self.authorized(
                    bitreq::Request::new(bitreq::Method::Post, url.clone())
                        .with_header("Content-Type", "text/plain")
                        .with_body(hex.clone()),
                ),
            )
        })
        .await;
        let body = match result {
            Ok(body) => body,
            Err(BackendError::Conflict {
                conflicting,
                reason,
                ..
            }) => {
                return Err(BackendError::Conflict {
                    txid,
                    conflicting,
                    reason,
                })
            }
            Err(BackendError::BadResponse { detail, .. }) if detail.starts_with("HTTP 422") => {
                return Err(BackendError::Rejected {
                    txid,
                    reason: detail.trim_start_matches("HTTP 422: ").to_string(),
                })
            }
            Err(err) => return Err(err),
        };
        let reply: BroadcastReply = self.decode(&url, &body)?;
        Txid::from_str(&reply.txid)
            .map_err(|err| BackendError::bad_response(&url, format!("bad txid: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    #[test]
    fn wire_tx_round_trips_and_names_bad_fields() {
        let tx = Transaction {
            version: bitcoin::transaction::Version::ONE,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn {
                previous_output: bitcoin::OutPoint::new(Txid::all_zeros(), 3),
                ..Default::default()
            }],
            output: vec![TxOut {
                value: Amount::from_sat(3000),
                script_pubkey: ScriptBuf::from_hex(
                    "76a914000000000000000000000000000000000000000088ac",
                )
                .unwrap(),
            }],
        };
        let chain_tx = ChainTx {
            prevouts: vec![tx.output[0].clone()],
            tx,
            place: TxPlace::Confirmed {
                height: 7,
                position: 2,
                time: 1_700_000_000,
            },
        };
        let wire = WireTx::from_chain_tx(&chain_tx);
        let json = serde_json::to_string(&wire).unwrap();
        let back: WireTx = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_chain_tx().unwrap(), chain_tx);
        let mut bad = wire.clone();
        bad.hex.push_str("zz");
        assert!(bad.to_chain_tx().unwrap_err().contains("transaction hex"));
        let mut bad = wire;
        bad.prevouts[0].script_pubkey = "x".into();
        assert!(bad.to_chain_tx().unwrap_err().contains("prevout script"));
    }

    #[test]
    fn only_http_urls_are_accepted() {
        assert!(ServerBackend::new("http://127.0.0.1:8338/", Network::Regtest).is_ok());
        assert_eq!(
            ServerBackend::new("http://127.0.0.1:8338/", Network::Regtest)
                .unwrap()
                .url(),
            "http://127.0.0.1:8338"
        );
        assert!(matches!(
            ServerBackend::new("127.0.0.1:8338", Network::Regtest),
            Err(BackendError::Config { .. })
        ));
    }
}
