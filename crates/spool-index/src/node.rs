//! The follower's JSON-RPC connection to Bitcoin Core: single calls and batches, raw blocks
//! (`getblock <hash> 0`), and the prevouts of a few transactions.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use bitcoin::bip158::{BlockFilter, FilterHeader};
use bitcoin::block::Header;
use bitcoin::consensus::encode;
use bitcoin::hex::FromHex;
use bitcoin::{Amount, Block, BlockHash, Network, ScriptBuf, Transaction, TxOut, Txid};
use bitcoincore_rpc::jsonrpc;
use bitcoincore_rpc::jsonrpc::http::simple_http;
use serde_json::{json, Value};
use spool_backend::core::CoreAuth;

use crate::error::IndexError;
use crate::store::ScannedOutput;

/// Calls per JSON-RPC batch for small replies.
const BATCH: usize = 250;

/// Where and how to reach the node.
#[derive(Clone)]
pub struct NodeConfig {
    /// The RPC URL, e.g. `http://127.0.0.1:18443`.
    pub url: String,
    /// Cookie file or user and password (never logged).
    pub auth: CoreAuth,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
}

impl std::fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConfig")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .finish()
    }
}

/// A JSON-RPC client of the node.
pub struct NodeRpc {
    config: NodeConfig,
    /// Two connections, taken in turn by successive calls (see
    /// [`spool_backend::turns::Turns`]).
    clients: spool_backend::turns::Turns<jsonrpc::Client>,
}

impl std::fmt::Debug for NodeRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeRpc")
            .field("url", &self.config.url)
            .finish()
    }
}

/// One refused call of a batch: code and message.
pub type Refusal = (i32, String);

impl NodeRpc {
    /// Connects (lazily: nothing is sent yet) to the node.
    ///
    /// # Errors
    /// [`IndexError::Node`] when the URL is invalid or the cookie cannot be read.
    pub fn new(config: &NodeConfig) -> Result<NodeRpc, IndexError> {
        let (user, pass) = match &config.auth {
            CoreAuth::UserPass { user, password } => (user.clone(), password.clone()),
            CoreAuth::Cookie(path) => {
                let cookie = std::fs::read_to_string(path).map_err(|err| IndexError::Node {
                    url: config.url.clone(),
                    method: format!("reading cookie file {}", path.display()),
                    source: Box::new(err),
                })?;
                let (u, p) = cookie
                    .trim()
                    .split_once(':')
                    .ok_or_else(|| IndexError::Node {
                        url: config.url.clone(),
                        method: format!("reading cookie file {}", path.display()),
                        source: "the cookie holds no `user:password`".into(),
                    })?;
                (u.to_string(), p.to_string())
            }
        };
        let client = || {
            let transport = simple_http::Builder::new()
                .url(&config.url)
                .map_err(|err| IndexError::Node {
                    url: config.url.clone(),
                    method: "connect".into(),
                    source: Box::new(err),
                })?
                .timeout(config.timeout)
                .auth(user.clone(), Some(pass.clone()))
                .build();
            Ok::<_, IndexError>(jsonrpc::Client::with_transport(transport))
        };
        Ok(NodeRpc {
            config: config.clone(),
            clients: spool_backend::turns::Turns::try_new(client)?,
        })
    }

    /// The connection for the next call.
    fn client(&self) -> &jsonrpc::Client {
        self.clients.next()
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.config.url
    }

    fn transport(&self, method: &str, err: jsonrpc::Error) -> IndexError {
        match err {
            jsonrpc::Error::Rpc(e) => IndexError::NodeRefused {
                url: self.config.url.clone(),
                method: method.to_string(),
                code: e.code,
                message: e.message,
            },
            other => IndexError::Node {
                url: self.config.url.clone(),
                method: method.to_string(),
                source: Box::new(other),
            },
        }
    }

    fn bad(&self, method: &str, detail: impl Into<String>) -> IndexError {
        IndexError::BadReply {
            url: self.config.url.clone(),
            method: method.to_string(),
            detail: detail.into(),
        }
    }

    /// Calls `method`; a refusal is an error.
    ///
    /// # Errors
    /// [`IndexError::Node`], [`IndexError::NodeRefused`], [`IndexError::BadReply`].
    pub fn call(&self, method: &str, params: &[Value]) -> Result<Value, IndexError> {
        let raw =
            serde_json::value::to_raw_value(params).map_err(|e| self.bad(method, e.to_string()))?;
        let client = self.client();
        let request = client.build_request(method, Some(&raw));
        let response = client
            .send_request(request)
            .map_err(|e| self.transport(method, e))?;
        if let Some(e) = response.error {
            return Err(IndexError::NodeRefused {
                url: self.config.url.clone(),
                method: method.to_string(),
                code: e.code,
                message: e.message,
            });
        }
        match response.result {
            None => Ok(Value::Null),
            Some(raw) => {
                serde_json::from_str(raw.get()).map_err(|e| self.bad(method, e.to_string()))
            }
        }
    }

    /// Calls `method` once per parameter list, `per_trip` calls per HTTP round trip; results
    /// in the order of `params`, each a value or the node's refusal.
    ///
    /// # Errors
    /// [`IndexError::Node`], [`IndexError::BadReply`].
    pub fn batch(
        &self,
        method: &str,
        params: &[Vec<Value>],
        per_trip: usize,
    ) -> Result<Vec<Result<Value, Refusal>>, IndexError> {
        let mut out = Vec::with_capacity(params.len());
        for chunk in params.chunks(per_trip.max(1)) {
            let raws = chunk
                .iter()
                .map(serde_json::value::to_raw_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.bad(method, e.to_string()))?;
            let client = self.client();
            let requests: Vec<_> = raws
                .iter()
                .map(|raw| client.build_request(method, Some(raw)))
                .collect();
            let responses = client
                .send_batch(&requests)
                .map_err(|e| self.transport(method, e))?;
            for response in responses {
                let response =
                    response.ok_or_else(|| self.bad(method, "a batch reply is missing"))?;
                out.push(match response.error {
                    Some(e) => Err((e.code, e.message)),
                    None => match response.result {
                        None => Ok(Value::Null),
                        Some(raw) => Ok(serde_json::from_str(raw.get())
                            .map_err(|e| self.bad(method, e.to_string()))?),
                    },
                });
            }
        }
        Ok(out)
    }

    /// Like [`NodeRpc::batch`] where every call must succeed.
    ///
    /// # Errors
    /// As [`NodeRpc::batch`], and [`IndexError::NodeRefused`] for the first refusal.
    pub fn batch_ok(
        &self,
        method: &str,
        params: &[Vec<Value>],
        per_trip: usize,
    ) -> Result<Vec<Value>, IndexError> {
        self.batch(method, params, per_trip)?
            .into_iter()
            .map(|r| {
                r.map_err(|(code, message)| IndexError::NodeRefused {
                    url: self.config.url.clone(),
                    method: method.to_string(),
                    code,
                    message,
                })
            })
            .collect()
    }

    /// Refuses a node that serves another chain than `network`.
    ///
    /// # Errors
    /// [`IndexError::ChainMismatch`], or the call's error.
    pub fn check_chain(&self, network: Network) -> Result<(), IndexError> {
        let info = self.call("getblockchaininfo", &[])?;
        let actual = info["chain"]
            .as_str()
            .ok_or_else(|| self.bad("getblockchaininfo", "no chain"))?;
        let expected = match network {
            Network::Bitcoin => "main",
            Network::Testnet => "test",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
            _ => "testnet4",
        };
        if actual == expected {
            Ok(())
        } else {
            Err(IndexError::ChainMismatch {
                url: self.config.url.clone(),
                expected: network,
                actual: actual.to_string(),
            })
        }
    }

    /// The node's tip height.
    ///
    /// # Errors
    /// The call's error.
    pub fn tip_height(&self) -> Result<u64, IndexError> {
        let v = self.call("getblockcount", &[])?;
        v.as_u64()
            .ok_or_else(|| self.bad("getblockcount", v.to_string()))
    }

    /// The hashes of the blocks at `heights` on the node's best chain.
    ///
    /// # Errors
    /// The calls' errors.
    pub fn block_hashes(&self, heights: &[u64]) -> Result<Vec<BlockHash>, IndexError> {
        let params: Vec<Vec<Value>> = heights.iter().map(|h| vec![json!(h)]).collect();
        self.batch_ok("getblockhash", &params, BATCH)?
            .into_iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| BlockHash::from_str(s).ok())
                    .ok_or_else(|| self.bad("getblockhash", v.to_string()))
            })
            .collect()
    }

    /// The raw blocks `hashes` (`getblock <hash> 0`), one round trip, and their sizes in
    /// bytes.
    ///
    /// # Errors
    /// The calls' errors; [`IndexError::BadReply`] for undecodable blocks.
    pub fn raw_blocks(&self, hashes: &[BlockHash]) -> Result<(Vec<Block>, u64), IndexError> {
        let params: Vec<Vec<Value>> = hashes
            .iter()
            .map(|h| vec![json!(h.to_string()), json!(0)])
            .collect();
        let mut bytes = 0;
        let blocks = self
            .batch_ok("getblock", &params, params.len())?
            .into_iter()
            .map(|v| {
                let hex = v
                    .as_str()
                    .ok_or_else(|| self.bad("getblock", "not a string"))?;
                bytes += hex.len() as u64 / 2;
                encode::deserialize_hex::<Block>(hex)
                    .map_err(|e| self.bad("getblock", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((blocks, bytes))
    }

    /// The raw bytes of the blocks `hashes` (`getblock <hash> 0`), one round trip, and
    /// their total size.
    ///
    /// # Errors
    /// The calls' errors; [`IndexError::BadReply`] for replies that are not hex.
    pub fn raw_block_bytes(&self, hashes: &[BlockHash]) -> Result<(Vec<Vec<u8>>, u64), IndexError> {
        let params: Vec<Vec<Value>> = hashes
            .iter()
            .map(|h| vec![json!(h.to_string()), json!(0)])
            .collect();
        let mut bytes = 0;
        let raws = self
            .batch_ok("getblock", &params, params.len())?
            .into_iter()
            .map(|v| {
                let raw = v
                    .as_str()
                    .and_then(|hex| Vec::<u8>::from_hex(hex).ok())
                    .ok_or_else(|| self.bad("getblock", "not hex"))?;
                bytes += raw.len() as u64;
                Ok(raw)
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        Ok((raws, bytes))
    }

    /// The headers of the blocks `hashes` (`getblockheader <hash> false`), checked against
    /// their hashes.
    ///
    /// # Errors
    /// The calls' errors; [`IndexError::BadReply`] for an undecodable header or one of
    /// another hash.
    pub fn block_headers(&self, hashes: &[BlockHash]) -> Result<Vec<Header>, IndexError> {
        let params: Vec<Vec<Value>> = hashes
            .iter()
            .map(|h| vec![json!(h.to_string()), json!(false)])
            .collect();
        self.batch_ok("getblockheader", &params, BATCH)?
            .into_iter()
            .zip(hashes)
            .map(|(v, hash)| {
                let header: Header = v
                    .as_str()
                    .and_then(|hex| encode::deserialize_hex(hex).ok())
                    .ok_or_else(|| self.bad("getblockheader", v.to_string()))?;
                if header.block_hash() == *hash {
                    Ok(header)
                } else {
                    Err(self.bad(
                        "getblockheader",
                        format!(
                            "asked for {hash}, got the header of {}",
                            header.block_hash()
                        ),
                    ))
                }
            })
            .collect()
    }

    /// The height up to which the node's basic compact block filter index is built
    /// (`getindexinfo`), or `None` when the node keeps no such index.
    ///
    /// # Errors
    /// The call's error.
    pub fn filter_index_height(&self) -> Result<Option<u64>, IndexError> {
        let info = self.call("getindexinfo", &[json!("basic block filter index")])?;
        Ok(info["basic block filter index"]["best_block_height"].as_u64())
    }

    /// The basic compact block filters (BIP 158) of the blocks `hashes` and their filter
    /// headers (`getblockfilter <hash>`), with the filters' bytes.
    ///
    /// # Errors
    /// The calls' errors; [`IndexError::BadReply`] for undecodable replies.
    pub fn block_filters(
        &self,
        hashes: &[BlockHash],
    ) -> Result<(Vec<(BlockFilter, FilterHeader)>, u64), IndexError> {
        let params: Vec<Vec<Value>> = hashes.iter().map(|h| vec![json!(h.to_string())]).collect();
        let mut bytes = 0;
        let filters = self
            .batch_ok("getblockfilter", &params, BATCH)?
            .into_iter()
            .map(|v| {
                let content = v["filter"]
                    .as_str()
                    .and_then(|hex| Vec::<u8>::from_hex(hex).ok())
                    .ok_or_else(|| self.bad("getblockfilter", "no filter"))?;
                let header = v["header"]
                    .as_str()
                    .and_then(|hex| FilterHeader::from_str(hex).ok())
                    .ok_or_else(|| self.bad("getblockfilter", "no filter header"))?;
                bytes += content.len() as u64 + 32;
                Ok((BlockFilter::new(&content), header))
            })
            .collect::<Result<Vec<_>, IndexError>>()?;
        Ok((filters, bytes))
    }

    /// The outputs of `scripts` in the node's UTXO set (`scantxoutset start`, one scan for
    /// all of them).
    ///
    /// # Errors
    /// The call's error; [`IndexError::BadReply`] for undecodable replies.
    pub fn scan_outputs(&self, scripts: &[ScriptBuf]) -> Result<Vec<ScannedOutput>, IndexError> {
        let descriptors: Vec<Value> = scripts
            .iter()
            .map(|s| json!({ "desc": format!("raw({})", s.to_hex_string()) }))
            .collect();
        let reply = self.call("scantxoutset", &[json!("start"), Value::Array(descriptors)])?;
        let method = "scantxoutset";
        if reply["success"].as_bool() != Some(true) {
            return Err(self.bad(method, "the scan did not finish"));
        }
        reply["unspents"]
            .as_array()
            .ok_or_else(|| self.bad(method, "no unspents"))?
            .iter()
            .map(|u| {
                let txid = u["txid"]
                    .as_str()
                    .and_then(|t| Txid::from_str(t).ok())
                    .ok_or_else(|| self.bad(method, "no txid"))?;
                let vout = u["vout"]
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| self.bad(method, "no vout"))?;
                let script = u["scriptPubKey"]
                    .as_str()
                    .and_then(|h| ScriptBuf::from_hex(h).ok())
                    .ok_or_else(|| self.bad(method, "no scriptPubKey"))?;
                let value = u["amount"]
                    .as_f64()
                    .and_then(|btc| Amount::from_btc(btc).ok())
                    .ok_or_else(|| self.bad(method, "no amount"))?;
                let height = u["height"]
                    .as_u64()
                    .ok_or_else(|| self.bad(method, "no height"))?;
                Ok(ScannedOutput {
                    outpoint: bitcoin::OutPoint { txid, vout },
                    script,
                    value,
                    height,
                    coinbase: u["coinbase"].as_bool().unwrap_or(false),
                })
            })
            .collect()
    }

    /// The prevouts of confirmed transactions, from `getrawtransaction <txid> 2 <block>`
    /// (the node's undo data; no `-txindex` needed). Coinbases get none.
    ///
    /// # Errors
    /// The calls' errors; [`IndexError::BadReply`] when a prevout is missing.
    pub fn confirmed_prevouts(
        &self,
        txs: &[(Txid, BlockHash)],
    ) -> Result<HashMap<Txid, Vec<TxOut>>, IndexError> {
        let params: Vec<Vec<Value>> = txs
            .iter()
            .map(|(txid, block)| vec![json!(txid.to_string()), json!(2), json!(block.to_string())])
            .collect();
        let replies = self.batch_ok("getrawtransaction", &params, BATCH)?;
        let mut found = HashMap::new();
        for ((txid, _), reply) in txs.iter().zip(replies) {
            let mut prevouts = Vec::new();
            for input in reply["vin"].as_array().into_iter().flatten() {
                if input.get("coinbase").is_some() {
                    continue;
                }
                let prevout = &input["prevout"];
                let value = prevout["value"]
                    .as_f64()
                    .and_then(|btc| Amount::from_btc(btc).ok())
                    .ok_or_else(|| {
                        self.bad("getrawtransaction", format!("{txid}: no prevout value"))
                    })?;
                let script = prevout["scriptPubKey"]["hex"]
                    .as_str()
                    .and_then(|h| ScriptBuf::from_hex(h).ok())
                    .ok_or_else(|| {
                        self.bad("getrawtransaction", format!("{txid}: no prevout script"))
                    })?;
                prevouts.push(TxOut {
                    value,
                    script_pubkey: script,
                });
            }
            found.insert(*txid, prevouts);
        }
        Ok(found)
    }

    /// Raw transactions by txid (mempool, or any with `-txindex`); `None` where unknown.
    ///
    /// # Errors
    /// Transport errors; [`IndexError::BadReply`] for undecodable transactions.
    pub fn raw_transactions(&self, txids: &[Txid]) -> Result<Vec<Option<Transaction>>, IndexError> {
        let params: Vec<Vec<Value>> = txids
            .iter()
            .map(|t| vec![json!(t.to_string()), json!(0)])
            .collect();
        self.batch("getrawtransaction", &params, BATCH)?
            .into_iter()
            .map(|r| match r {
                Ok(v) => {
                    let hex = v
                        .as_str()
                        .ok_or_else(|| self.bad("getrawtransaction", "not a string"))?;
                    encode::deserialize_hex(hex)
                        .map(Some)
                        .map_err(|e| self.bad("getrawtransaction", e.to_string()))
                }
                Err(_) => Ok(None),
            })
            .collect()
    }

    /// The outputs at `outpoints` from the node's UTXO set, ignoring mempool spends
    /// (`gettxout <txid> <n> false`); `None` where the output is spent in the chain or unknown.
    ///
    /// # Errors
    /// Transport errors; [`IndexError::BadReply`] for undecodable replies.
    pub fn chain_outputs(
        &self,
        outpoints: &[bitcoin::OutPoint],
    ) -> Result<Vec<Option<TxOut>>, IndexError> {
        let params: Vec<Vec<Value>> = outpoints
            .iter()
            .map(|op| vec![json!(op.txid.to_string()), json!(op.vout), json!(false)])
            .collect();
        self.batch("gettxout", &params, BATCH)?
            .into_iter()
            .map(|r| match r {
                Ok(Value::Null) | Err(_) => Ok(None),
                Ok(v) => {
                    let value = v["value"]
                        .as_f64()
                        .and_then(|btc| Amount::from_btc(btc).ok())
                        .ok_or_else(|| self.bad("gettxout", "no value"))?;
                    let script = v["scriptPubKey"]["hex"]
                        .as_str()
                        .and_then(|h| ScriptBuf::from_hex(h).ok())
                        .ok_or_else(|| self.bad("gettxout", "no script"))?;
                    Ok(Some(TxOut {
                        value,
                        script_pubkey: script,
                    }))
                }
            })
            .collect()
    }

    /// The txids in the node's mempool.
    ///
    /// # Errors
    /// The call's error.
    pub fn mempool_txids(&self) -> Result<Vec<Txid>, IndexError> {
        let v = self.call("getrawmempool", &[])?;
        v.as_array()
            .ok_or_else(|| self.bad("getrawmempool", "not an array"))?
            .iter()
            .map(|t| {
                t.as_str()
                    .and_then(|s| Txid::from_str(s).ok())
                    .ok_or_else(|| self.bad("getrawmempool", t.to_string()))
            })
            .collect()
    }

    /// Sends a raw transaction; a transaction the node already has is success.
    ///
    /// # Errors
    /// [`IndexError::NodeRefused`] when the node rejects it, transport errors.
    pub fn send_raw_transaction(&self, tx: &Transaction) -> Result<Txid, IndexError> {
        let hex = encode::serialize_hex(tx);
        match self.call("sendrawtransaction", &[json!(hex)]) {
            Ok(_) => Ok(tx.compute_txid()),
            // -27: already in the chain.
            Err(IndexError::NodeRefused { code: -27, .. }) => Ok(tx.compute_txid()),
            // Sent before (a client retrying after a lost answer): the node has it.
            Err(IndexError::NodeRefused { message, .. })
                if message.contains("already-in-mempool")
                    || message.contains("txn-already-known") =>
            {
                Ok(tx.compute_txid())
            }
            Err(err) => Err(err),
        }
    }
}
