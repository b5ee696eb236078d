//! Reading the node's JSON replies, untyped, taking only the fields spool needs.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use serde_json::Value;
use spool_protocol::chain::{ChainTx, TxPlace};

use crate::error::BackendError;

/// One output found by `scantxoutset`.
#[derive(Debug, Clone)]
pub(crate) struct ScannedOutput {
    pub outpoint: OutPoint,
    pub value: Amount,
    pub script_pubkey: ScriptBuf,
    pub height: u64,
    pub coinbase: bool,
}

/// A transaction from `getrawtransaction` verbosity 2.
pub(crate) struct VerboseTx {
    pub tx: Transaction,
    /// `None` for a mempool transaction (the node does not list its prevouts).
    pub prevouts: Option<Vec<TxOut>>,
    pub block: Option<BlockHash>,
}

/// Heights, times and positions of one block's transactions.
pub(crate) struct BlockPlaces {
    pub height: u64,
    pub time: u64,
    pub positions: HashMap<Txid, u32>,
}

fn bad(url: &str, what: &str, value: &Value) -> BackendError {
    let mut shown = value.to_string();
    if shown.len() > 300 {
        shown.truncate(300);
        shown.push_str("...");
    }
    BackendError::bad_response(url, format!("{what}: unexpected reply {shown}"))
}

fn field<'a>(
    url: &str,
    what: &str,
    value: &'a Value,
    name: &str,
) -> Result<&'a Value, BackendError> {
    value
        .get(name)
        .ok_or_else(|| bad(url, &format!("{what} lacks `{name}`"), value))
}

fn parse_str<T: FromStr>(url: &str, what: &str, value: &Value) -> Result<T, BackendError> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(url, what, value))
}

fn parse_u64(url: &str, what: &str, value: &Value) -> Result<u64, BackendError> {
    value.as_u64().ok_or_else(|| bad(url, what, value))
}

fn parse_btc(url: &str, what: &str, value: &Value) -> Result<Amount, BackendError> {
    value
        .as_f64()
        .and_then(|btc| Amount::from_btc(btc).ok())
        .ok_or_else(|| bad(url, what, value))
}

fn parse_script(url: &str, what: &str, value: &Value) -> Result<ScriptBuf, BackendError> {
    value
        .as_str()
        .and_then(|hex| ScriptBuf::from_hex(hex).ok())
        .ok_or_else(|| bad(url, what, value))
}

/// The reply of `scantxoutset start`.
pub(crate) fn scan_reply(
    url: &str,
    reply: &Value,
) -> Result<(u64, Vec<ScannedOutput>), BackendError> {
    const WHAT: &str = "scantxoutset";
    if reply.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(bad(url, "scantxoutset did not complete", reply));
    }
    let tip = parse_u64(url, WHAT, field(url, WHAT, reply, "height")?)?;
    let unspents = field(url, WHAT, reply, "unspents")?
        .as_array()
        .ok_or_else(|| bad(url, WHAT, reply))?;
    unspents
        .iter()
        .map(|u| {
            Ok(ScannedOutput {
                outpoint: OutPoint {
                    txid: parse_str(url, WHAT, field(url, WHAT, u, "txid")?)?,
                    vout: u32::try_from(parse_u64(url, WHAT, field(url, WHAT, u, "vout")?)?)
                        .map_err(|_| bad(url, WHAT, u))?,
                },
                value: parse_btc(url, WHAT, field(url, WHAT, u, "amount")?)?,
                script_pubkey: parse_script(url, WHAT, field(url, WHAT, u, "scriptPubKey")?)?,
                height: parse_u64(url, WHAT, field(url, WHAT, u, "height")?)?,
                coinbase: u.get("coinbase").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|outs| (tip, outs))
}

/// The outpoints that `gettxspendingprevout` says a mempool transaction spends.
pub(crate) fn spent_outpoints(url: &str, reply: &Value) -> Result<Vec<OutPoint>, BackendError> {
    const WHAT: &str = "gettxspendingprevout";
    let entries = reply.as_array().ok_or_else(|| bad(url, WHAT, reply))?;
    let mut spent = Vec::new();
    for entry in entries {
        if entry.get("spendingtxid").is_some() {
            spent.push(OutPoint {
                txid: parse_str(url, WHAT, field(url, WHAT, entry, "txid")?)?,
                vout: u32::try_from(parse_u64(url, WHAT, field(url, WHAT, entry, "vout")?)?)
                    .map_err(|_| bad(url, WHAT, entry))?,
            });
        }
    }
    Ok(spent)
}

/// A raw transaction from its hex.
pub(crate) fn raw_tx(url: &str, what: &str, value: &Value) -> Result<Transaction, BackendError> {
    value
        .as_str()
        .and_then(|hex| bitcoin::consensus::encode::deserialize_hex(hex).ok())
        .ok_or_else(|| bad(url, what, value))
}

/// The reply of `getrawtransaction <txid> 2`.
pub(crate) fn verbose_tx(url: &str, txid: &Txid, reply: &Value) -> Result<VerboseTx, BackendError> {
    let what = format!("getrawtransaction {txid}");
    let tx = raw_tx(url, &what, field(url, &what, reply, "hex")?)?;
    if tx.compute_txid() != *txid {
        return Err(bad(
            url,
            &format!("{what} answered another transaction"),
            reply,
        ));
    }
    let block = match reply.get("blockhash") {
        Some(hash) => Some(parse_str(url, &what, hash)?),
        None => None,
    };
    // The node gives prevouts of confirmed transactions (from the block's undo data) but
    // not of mempool ones: those are left for the caller to find.
    let prevouts = if tx.is_coinbase() {
        Some(Vec::new())
    } else {
        let vin = field(url, &what, reply, "vin")?
            .as_array()
            .ok_or_else(|| bad(url, &what, reply))?;
        match vin.iter().all(|input| input.get("prevout").is_some()) {
            false if block.is_none() => None,
            _ => Some(
                vin.iter()
                    .map(|input| {
                        let prevout = field(url, &what, input, "prevout")?;
                        Ok(TxOut {
                            value: parse_btc(url, &what, field(url, &what, prevout, "value")?)?,
                            script_pubkey: parse_script(
                                url,
                                &what,
                                field(
                                    url,
                                    &what,
                                    field(url, &what, prevout, "scriptPubKey")?,
                                    "hex",
                                )?,
                            )?,
                        })
                    })
                    .collect::<Result<Vec<_>, BackendError>>()?,
            ),
        }
    };
    if prevouts
        .as_ref()
        .is_some_and(|p| p.len() != tx.input.len() && !tx.is_coinbase())
    {
        return Err(bad(url, &format!("{what} has prevouts missing"), reply));
    }
    Ok(VerboseTx {
        tx,
        prevouts,
        block,
    })
}

/// The reply of `getblock <hash> 1`.
pub(crate) fn block_places(url: &str, reply: &Value) -> Result<BlockPlaces, BackendError> {
    const WHAT: &str = "getblock";
    let height = parse_u64(url, WHAT, field(url, WHAT, reply, "height")?)?;
    let time = parse_u64(url, WHAT, field(url, WHAT, reply, "time")?)?;
    let txids = field(url, WHAT, reply, "tx")?
        .as_array()
        .ok_or_else(|| bad(url, WHAT, reply))?;
    let mut positions = HashMap::with_capacity(txids.len());
    for (position, txid) in txids.iter().enumerate() {
        let position = u32::try_from(position).map_err(|_| bad(url, WHAT, reply))?;
        positions.insert(parse_str(url, WHAT, txid)?, position);
    }
    Ok(BlockPlaces {
        height,
        time,
        positions,
    })
}

/// The transactions among `wanted` in the reply of `getblock <hash> 3`, with prevouts and
/// places.
pub(crate) fn block_txs(
    url: &str,
    reply: &Value,
    wanted: &HashSet<Txid>,
) -> Result<Vec<ChainTx>, BackendError> {
    const WHAT: &str = "getblock verbosity 3";
    let height = parse_u64(url, WHAT, field(url, WHAT, reply, "height")?)?;
    let time = parse_u64(url, WHAT, field(url, WHAT, reply, "time")?)?;
    let txs = field(url, WHAT, reply, "tx")?
        .as_array()
        .ok_or_else(|| bad(url, WHAT, reply))?;
    let mut found = Vec::new();
    for (position, entry) in txs.iter().enumerate() {
        let txid: Txid = parse_str(url, WHAT, field(url, WHAT, entry, "txid")?)?;
        if !wanted.contains(&txid) {
            continue;
        }
        let tx = raw_tx(url, WHAT, field(url, WHAT, entry, "hex")?)?;
        if tx.compute_txid() != txid {
            return Err(bad(
                url,
                "getblock listed a transaction under another txid",
                entry,
            ));
        }
        let prevouts = if tx.is_coinbase() {
            Vec::new()
        } else {
            field(url, WHAT, entry, "vin")?
                .as_array()
                .ok_or_else(|| bad(url, WHAT, entry))?
                .iter()
                .map(|input| {
                    let prevout = field(url, WHAT, input, "prevout")?;
                    Ok(TxOut {
                        value: parse_btc(url, WHAT, field(url, WHAT, prevout, "value")?)?,
                        script_pubkey: parse_script(
                            url,
                            WHAT,
                            field(url, WHAT, field(url, WHAT, prevout, "scriptPubKey")?, "hex")?,
                        )?,
                    })
                })
                .collect::<Result<Vec<_>, BackendError>>()?
        };
        if prevouts.len() != tx.input.len() && !tx.is_coinbase() {
            return Err(bad(url, "getblock: prevouts missing", entry));
        }
        found.push(ChainTx {
            tx,
            prevouts,
            place: TxPlace::Confirmed {
                height,
                position: u32::try_from(position).map_err(|_| bad(url, WHAT, entry))?,
                time,
            },
        });
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "http://node";

    #[test]
    fn scan_reply_reads_outputs_and_tip() {
        let reply = json!({
            "success": true, "txouts": 10, "height": 120, "bestblock": "00",
            "unspents": [{
                "txid": "11".repeat(32), "vout": 2, "scriptPubKey": "76a914000000000000000000000000000000000000000088ac",
                "desc": "addr(..)", "amount": 0.00003, "coinbase": false, "height": 101
            }],
            "total_amount": 0.00003
        });
        let (tip, outs) = scan_reply(URL, &reply).unwrap();
        assert_eq!(tip, 120);
        assert_eq!(outs.len(), 1);
        assert_eq!(outs[0].value, Amount::from_sat(3000));
        assert_eq!(outs[0].outpoint.vout, 2);
        assert_eq!(outs[0].height, 101);
    }

    #[test]
    fn malformed_replies_are_bad_responses_naming_the_url() {
        let err = scan_reply(URL, &json!({"height": 1})).err().unwrap();
        assert!(matches!(err, BackendError::BadResponse { .. }));
        assert!(err.to_string().contains(URL) && err.to_string().contains("unspents"));
        let err = spent_outpoints(URL, &json!({"not": "an array"})).unwrap_err();
        assert!(err.to_string().contains("gettxspendingprevout"));
    }

    #[test]
    fn spent_outpoints_keeps_only_spent_ones() {
        let reply = json!([
            {"txid": "22".repeat(32), "vout": 0},
            {"txid": "22".repeat(32), "vout": 1, "spendingtxid": "33".repeat(32)}
        ]);
        let spent = spent_outpoints(URL, &reply).unwrap();
        assert_eq!(spent.len(), 1);
        assert_eq!(spent[0].vout, 1);
    }
}
