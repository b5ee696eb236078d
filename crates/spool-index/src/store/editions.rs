//! Reading one edition's scope of a piece without reading the whole piece: every
//! `spool_scripts` row carries the edition its transaction's verb names (`-1` for a verb that
//! names none), under an index on `(script, pays, edition)`. A pre-check of edition `n` of a
//! piece with thousands of pending registrations then reads the piece-level events, edition
//! 0, edition `n` and their unconfirmed ancestors: a few rows, not thousands.
//!
//! Index files written before the column existed get it, filled from their transactions,
//! the first time they are opened for writing.

use std::collections::HashSet;

use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::{Address, Transaction, Txid};
use rusqlite::{params, Connection};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::payload::find_verb;
use spool_protocol::scope::Scope;

use super::{sort_by_place, Store};
use crate::error::IndexError;

/// `meta` key set once every `spool_scripts` row has its edition.
const DONE: &str = "script_editions";

/// The edition column's value for a transaction: its verb's edition, or -1.
pub(super) fn edition_of(tx: &Transaction) -> i64 {
    find_verb(tx)
        .ok()
        .and_then(|(_, verb)| verb.edition())
        .and_then(|n| i64::try_from(n).ok())
        .unwrap_or(-1)
}

/// Adds the edition column and its index to an index file written before them, and fills
/// it from the stored transactions; once.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [DONE], |r| {
            r.get(0)
        })
        .ok();
    if done.is_some() {
        return Ok(());
    }
    let db = conn.transaction()?;
    let has_column = db
        .prepare("SELECT 1 FROM pragma_table_info('spool_scripts') WHERE name = 'edition'")?
        .exists([])?;
    if !has_column {
        db.execute_batch(
            "ALTER TABLE spool_scripts ADD COLUMN edition INTEGER NOT NULL DEFAULT -1;",
        )?;
        let rows = db
            .prepare("SELECT txid, raw FROM spool_txs")?
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut set = db.prepare("UPDATE spool_scripts SET edition = ?1 WHERE txid = ?2")?;
        for (txid, raw) in rows {
            // An undecodable row keeps -1: it is read with every edition (never left out).
            if let Ok(tx) = encode::deserialize::<Transaction>(&raw) {
                set.execute(params![edition_of(&tx), txid])?;
            }
        }
    }
    db.execute_batch(
        "CREATE INDEX IF NOT EXISTS spool_scripts_edition ON spool_scripts(script, pays, edition);",
    )?;
    db.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, '1')",
        [DONE],
    )?;
    db.commit()
}

impl Store {
    /// The transactions paying `piece` that the rules of `scope` read, exactly as
    /// [`Scope::select`] picks them from [`Store::txs_paying`], without reading the rest:
    /// the rows of the piece-level verbs, edition 0 and the scope's edition, then their
    /// unconfirmed ancestors among the piece's unconfirmed SPOOL transactions.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn txs_in_scope(&self, piece: &Address, scope: Scope) -> Result<Vec<ChainTx>, IndexError> {
        let script = piece.script_pubkey();
        let edition = i64::try_from(scope.edition_number()).unwrap_or(i64::MAX);
        let mut txs = self.chain_txs(
            "SELECT s.raw, s.prevouts, s.height, s.position, s.time
             FROM spool_scripts k JOIN spool_txs s ON s.txid = k.txid
             WHERE k.script = ?1 AND k.pays = 1 AND k.edition IN (-1, 0, ?2)",
            params![script.as_bytes(), edition],
        )?;
        let mut have: HashSet<Txid> = txs.iter().map(ChainTx::txid).collect();
        let mut todo: Vec<Transaction> = txs
            .iter()
            .filter(|t| t.place == TxPlace::Unconfirmed)
            .map(|t| t.tx.clone())
            .collect();
        while let Some(tx) = todo.pop() {
            for input in &tx.input {
                let parent = input.previous_output.txid;
                if !have.insert(parent) {
                    continue;
                }
                let found = self.chain_txs(
                    "SELECT s.raw, s.prevouts, s.height, s.position, s.time
                     FROM spool_txs s JOIN spool_scripts k ON k.txid = s.txid
                     WHERE s.txid = ?1 AND s.height IS NULL AND k.script = ?2 AND k.pays = 1",
                    params![parent.as_byte_array(), script.as_bytes()],
                )?;
                for chain_tx in found {
                    todo.push(chain_tx.tx.clone());
                    txs.push(chain_tx);
                }
            }
        }
        sort_by_place(&mut txs);
        Ok(scope.select(piece, &txs).into_iter().cloned().collect())
    }
}
