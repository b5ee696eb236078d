//! Replaced transactions: a SPOOL transaction that left the mempool because another
//! transaction spends one of its outpoints (a fee bump of the same action, or a double spend)
//! is kept in `replaced` with the txid of the transaction that spent it, so that the explorer
//! can say "replaced by" where it would otherwise say "not known". A row is dropped when the
//! original comes back (re-broadcast, or mined after a reorganisation).

use std::collections::HashMap;

use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Transaction, TxOut, Txid};
use rusqlite::{params, Connection, OptionalExtension};
use spool_protocol::chain::{ChainTx, TxPlace};

use super::Store;
use crate::error::IndexError;

/// A SPOOL transaction about to leave the mempool: its raw bytes and prevouts as stored.
pub(super) struct Leaving {
    txid: Txid,
    raw: Vec<u8>,
    prevouts: Vec<u8>,
}

/// The mempool SPOOL row of `txid`, read before the row is forgotten; `None` for any other
/// transaction (confirmed, not SPOOL, or unknown).
pub(super) fn leaving(db: &Connection, txid: &Txid) -> rusqlite::Result<Option<Leaving>> {
    db.prepare_cached("SELECT raw, prevouts FROM spool_txs WHERE txid = ?1 AND height IS NULL")?
        .query_row([txid.as_byte_array()], |r| {
            Ok(Leaving {
                txid: *txid,
                raw: r.get(0)?,
                prevouts: r.get(1)?,
            })
        })
        .optional()
}

/// Records each `gone` transaction whose outpoints another transaction spends: one of `added`
/// (the same mempool change), or one the index already holds as a spender (in the mempool or
/// confirmed). A transaction dropped for another reason (expiry, eviction) is not recorded.
pub(super) fn record(
    db: &Connection,
    gone: &[Leaving],
    added: &[(Transaction, Vec<TxOut>)],
) -> rusqlite::Result<()> {
    if gone.is_empty() {
        return Ok(());
    }
    let spenders: HashMap<OutPoint, Txid> = added
        .iter()
        .flat_map(|(tx, _)| {
            let txid = tx.compute_txid();
            tx.input.iter().map(move |i| (i.previous_output, txid))
        })
        .collect();
    for leaving in gone {
        let Ok(tx) = encode::deserialize::<Transaction>(&leaving.raw) else {
            continue;
        };
        let mut by = None;
        for input in &tx.input {
            let outpoint = input.previous_output;
            by = match spenders.get(&outpoint) {
                Some(spender) if *spender != leaving.txid => Some(*spender),
                _ => known_spender(db, &outpoint, &leaving.txid)?,
            };
            if by.is_some() {
                break;
            }
        }
        if let Some(by) = by {
            db.prepare_cached(
                "INSERT OR REPLACE INTO replaced(txid, raw, prevouts, by) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                leaving.txid.as_byte_array(),
                leaving.raw,
                leaving.prevouts,
                by.as_byte_array()
            ])?;
        }
    }
    Ok(())
}

/// Another transaction the index knows spends `outpoint`: in the mempool, or confirmed.
fn known_spender(
    db: &Connection,
    outpoint: &OutPoint,
    not: &Txid,
) -> rusqlite::Result<Option<Txid>> {
    let spender: Option<Vec<u8>> = db
        .prepare_cached(
            "SELECT spender FROM mempool_spends WHERE txid = ?1 AND vout = ?2 AND spender != ?3
             UNION ALL
             SELECT spent_by FROM outputs
             WHERE txid = ?1 AND vout = ?2 AND spent_by IS NOT NULL AND spent_by != ?3
             LIMIT 1",
        )?
        .query_row(
            params![
                outpoint.txid.as_byte_array(),
                outpoint.vout,
                not.as_byte_array()
            ],
            |r| r.get(0),
        )
        .optional()?;
    Ok(spender.and_then(|b| Txid::from_slice(&b).ok()))
}

/// Forgets that `txid` was replaced (it is back in the mempool or in a block).
pub(super) fn forget(db: &Connection, txid: &Txid) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM replaced WHERE txid = ?1")?
        .execute([txid.as_byte_array()])?;
    Ok(())
}

/// A SPOOL transaction that left the mempool because another one spent its outpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaced {
    /// The transaction as it was in the mempool (never confirmed).
    pub transaction: ChainTx,
    /// The transaction that spent (one of) its outpoints: its fee bump, or a double spend.
    pub replaced_by: Txid,
}

impl Store {
    /// `txid`, when it is a SPOOL transaction that left the mempool because another
    /// transaction spent its outpoints, with that transaction's txid.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn replaced(&self, txid: &Txid) -> Result<Option<Replaced>, IndexError> {
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT raw, prevouts, by FROM replaced WHERE txid = ?1")
            .map_err(self.err())?
            .query_row([txid.as_byte_array()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(self.err())?;
        let Some((raw, prevouts, by)) = row else {
            return Ok(None);
        };
        let tx: Transaction = encode::deserialize(&raw)
            .map_err(|e| self.corrupt(format!("undecodable replaced transaction: {e}")))?;
        let prevouts: Vec<TxOut> = encode::deserialize(&prevouts)
            .map_err(|e| self.corrupt(format!("undecodable prevouts: {e}")))?;
        let replaced_by =
            Txid::from_slice(&by).map_err(|_| self.corrupt("a replacing txid is not 32 bytes"))?;
        Ok(Some(Replaced {
            transaction: ChainTx {
                tx,
                prevouts,
                place: TxPlace::Unconfirmed,
            },
            replaced_by,
        }))
    }
}
