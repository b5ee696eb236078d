//! The federation-scoped index (`--filters`): the index mode recorded in `meta`, blocks
//! written with only the SPOOL transactions the federation's activity reaches, the set of
//! scripts the compact block filters are tested against, the scripts whose earlier outputs
//! still have to be read from the node's UTXO set, and the filter counters.
//!
//! A SPOOL transaction is *rooted* when it spends from a watched script (the federation,
//! `--watch`, or a script an earlier rooted transaction paid or spent from). A scoped index
//! keeps the rooted transactions and those paying a piece address of a rooted one
//! (forgeries included); only rooted ones add scripts and pieces.

use std::collections::HashSet;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, BlockHash, OutPoint, ScriptBuf, Transaction, TxOut, Txid};
use rusqlite::{params, Connection};
use spool_protocol::chain::TxPlace;

use super::{
    bump_generation, confirm_outputs, forget_mempool_tx, insert_spool_tx, is_spool, piece_script,
    spool_scripts, BlockData, Store,
};
use crate::error::IndexError;

/// `meta` key of the index mode: `full`, or `filters <federation scripts>`.
const MODE: &str = "mode";

/// A block passed over by the filters: only its place in the chain is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The block's height.
    pub height: u64,
    /// The block's hash.
    pub hash: BlockHash,
    /// The block's header time.
    pub time: u32,
}

/// What the compact block filters did so far (never rolled back: they count work).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScopeCounters {
    /// Filters tested.
    pub tested: u64,
    /// Blocks whose filter matched, fetched.
    pub matched: u64,
    /// Matched blocks found to hold nothing of the scope (the filter's false positives).
    pub false_positives: u64,
}

/// An output read from the node's UTXO set for a newly discovered script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedOutput {
    /// The output.
    pub outpoint: OutPoint,
    /// Its script.
    pub script: ScriptBuf,
    /// Its value.
    pub value: Amount,
    /// The height of its block.
    pub height: u64,
    /// Whether a coinbase made it.
    pub coinbase: bool,
}

impl Store {
    pub(super) fn load_pieces(&mut self) -> Result<(), IndexError> {
        self.pieces = self.scripts_of("scope_pieces")?;
        Ok(())
    }

    /// Records the index mode (`mode`: `full`, or `filters …` naming the federation) while
    /// the index holds no block, and refuses to continue an index made in another mode. An index written
    /// before modes were recorded is a full one.
    ///
    /// # Errors
    /// [`IndexError::ModeMismatch`], [`IndexError::Database`].
    pub fn check_mode(&self, mode: &str) -> Result<(), IndexError> {
        let empty = self.tip()?.is_none();
        let recorded = match self.meta(MODE)? {
            // Nothing indexed yet: the mode is still free.
            _ if empty => {
                self.set_meta(MODE, mode)?;
                return Ok(());
            }
            Some(recorded) => recorded,
            None => "full".to_owned(),
        };
        if recorded == mode {
            Ok(())
        } else {
            Err(IndexError::ModeMismatch {
                path: self.path.clone(),
                indexed: recorded,
                asked: mode.to_owned(),
            })
        }
    }

    /// Whether this index is federation-scoped (`--filters`).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn is_scoped(&self) -> Result<bool, IndexError> {
        Ok(self
            .meta(MODE)?
            .is_some_and(|mode| mode.starts_with("filters")))
    }

    /// The scripts compact block filters are tested against: every watched script.
    pub fn filter_set(&self) -> &HashSet<ScriptBuf> {
        &self.watched
    }

    /// The filter counters.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn scope_counters(&self) -> Result<ScopeCounters, IndexError> {
        let read = |key: &str| -> Result<u64, IndexError> {
            match self.meta(key)? {
                None => Ok(0),
                Some(text) => text
                    .parse()
                    .map_err(|_| self.corrupt(format!("bad {key} {text:?}"))),
            }
        };
        Ok(ScopeCounters {
            tested: read("filters_tested")?,
            matched: read("filters_matched")?,
            false_positives: read("filters_false_positives")?,
        })
    }

    /// Whether a scoped index keeps `tx`: it spends from a watched script, or pays a piece
    /// address of a rooted transaction.
    pub fn in_scope(&self, tx: &Transaction, prevouts: &[TxOut]) -> bool {
        in_scope(&self.watched, &self.pieces, tx, prevouts)
    }

    /// Writes, in one SQLite transaction, the blocks `passed` (their places only) and then
    /// the `matched` block, if any, with the SPOOL transactions in scope (in transaction
    /// order, repeated until no new script is found, so that discoveries reach the whole
    /// block) and the outputs of watched scripts; adds `tested` and the match to the
    /// counters. Returns whether the matched block held anything of the scope (`false`: a
    /// false positive of its filter).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn apply_scoped(
        &mut self,
        passed: &[Stamp],
        matched: Option<&BlockData>,
        tested: u64,
    ) -> Result<bool, IndexError> {
        let path = self.path.clone();
        let err = IndexError::db(&path);
        let db = self.conn.transaction().map_err(&err)?;
        for stamp in passed {
            write_stamp(&db, stamp).map_err(&err)?;
        }
        let mut added_watch = Vec::new();
        let mut added_pieces = Vec::new();
        let mut relevant = false;
        if let Some(data) = matched {
            let height = data.height as i64;
            write_stamp(
                &db,
                &Stamp {
                    height: data.height,
                    hash: data.block.block_hash(),
                    time: data.block.header.time,
                },
            )
            .map_err(&err)?;
            let spool: Vec<(usize, &Transaction, Txid)> = data
                .block
                .txdata
                .iter()
                .enumerate()
                .filter(|(_, tx)| is_spool(tx))
                .map(|(i, tx)| (i, tx, tx.compute_txid()))
                .collect();
            // In transaction order, again until nothing changes: a transaction may spend
            // from a script that one after it in the block pays (and discovers).
            let mut kept = vec![false; spool.len()];
            let mut rooted = vec![false; spool.len()];
            loop {
                let mut changed = false;
                for (k, (_, tx, txid)) in spool.iter().enumerate() {
                    if rooted[k] {
                        continue;
                    }
                    let prevouts = data.prevouts.get(txid).map_or(&[][..], Vec::as_slice);
                    if !kept[k] && in_scope(&self.watched, &self.pieces, tx, prevouts) {
                        kept[k] = true;
                        changed = true;
                    }
                    if !prevouts
                        .iter()
                        .any(|p| self.watched.contains(&p.script_pubkey))
                    {
                        continue;
                    }
                    rooted[k] = true;
                    kept[k] = true;
                    changed = true;
                    for script in spool_scripts(tx, prevouts) {
                        if self.watched.insert(script.clone()) {
                            added_watch.push(script);
                        }
                    }
                    if let Some(piece) = piece_script(tx) {
                        if self.pieces.insert(piece.clone()) {
                            added_pieces.push(piece.clone());
                        }
                    }
                }
                if !changed {
                    break;
                }
            }
            for script in &added_watch {
                db.execute(
                    "INSERT OR IGNORE INTO watched(script, since) VALUES (?1, ?2)",
                    params![script.as_bytes(), height],
                )
                .map_err(&err)?;
                db.execute(
                    "INSERT OR IGNORE INTO unscanned(script) VALUES (?1)",
                    [script.as_bytes()],
                )
                .map_err(&err)?;
            }
            for script in &added_pieces {
                db.execute(
                    "INSERT OR IGNORE INTO scope_pieces(script, since) VALUES (?1, ?2)",
                    params![script.as_bytes(), height],
                )
                .map_err(&err)?;
            }
            for ((position, tx, txid), keep) in spool.iter().zip(&kept) {
                if !keep {
                    continue;
                }
                relevant = true;
                let prevouts = data.prevouts.get(txid).cloned().unwrap_or_default();
                let place = TxPlace::Confirmed {
                    height: data.height,
                    position: *position as u32,
                    time: u64::from(data.block.header.time),
                };
                forget_mempool_tx(&db, txid).map_err(&err)?;
                insert_spool_tx(&db, tx, &prevouts, place).map_err(&err)?;
            }
            for tx in &data.block.txdata {
                relevant |= confirm_outputs(&db, &self.watched, &mut self.mempool, tx, height)
                    .map_err(&err)?;
            }
        }
        add_counter(&db, "filters_tested", tested).map_err(&err)?;
        if matched.is_some() {
            add_counter(&db, "filters_matched", 1).map_err(&err)?;
            add_counter(&db, "filters_false_positives", u64::from(!relevant)).map_err(&err)?;
        }
        bump_generation(&db).map_err(&err)?;
        let committed = db.commit().map_err(&err);
        if committed.is_err() {
            for script in added_watch {
                self.watched.remove(&script);
            }
            for script in added_pieces {
                self.pieces.remove(&script);
            }
        }
        committed.map(|()| relevant)
    }

    /// The watched outputs not spent in the chain (what the full scan's prefilter looks
    /// for besides scripts).
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn unspent_outpoints(&self) -> Result<Vec<OutPoint>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT txid, vout FROM outputs WHERE spent_by IS NULL")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u32>(1)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(txid, vout)| {
                Txid::from_slice(&txid)
                    .map(|txid| OutPoint { txid, vout })
                    .map_err(|_| self.corrupt("a txid is not 32 bytes"))
            })
            .collect()
    }

    /// The discovered scripts whose earlier outputs have not been read from the node's UTXO
    /// set yet.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn unscanned(&self) -> Result<Vec<ScriptBuf>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT script FROM unscanned ORDER BY script")
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(rows.into_iter().map(ScriptBuf::from_bytes).collect())
    }

    /// Adds the outputs the node's UTXO set holds for `scripts` (outputs they received
    /// before they were discovered; rows already indexed are left as they are) and marks
    /// them scanned, in one SQLite transaction.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn add_scanned(
        &mut self,
        scripts: &[ScriptBuf],
        outputs: &[ScannedOutput],
    ) -> Result<(), IndexError> {
        let path = self.path.clone();
        let err = IndexError::db(&path);
        let db = self.conn.transaction().map_err(&err)?;
        for out in outputs {
            db.execute(
                "INSERT OR IGNORE INTO outputs(txid, vout, script, value, height, coinbase)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    out.outpoint.txid.as_byte_array(),
                    out.outpoint.vout,
                    out.script.as_bytes(),
                    out.value.to_sat() as i64,
                    out.height as i64,
                    out.coinbase
                ],
            )
            .map_err(&err)?;
        }
        for script in scripts {
            db.execute(
                "DELETE FROM unscanned WHERE script = ?1",
                [script.as_bytes()],
            )
            .map_err(&err)?;
        }
        bump_generation(&db).map_err(&err)?;
        db.commit().map_err(&err)
    }
}

fn in_scope(
    watched: &HashSet<ScriptBuf>,
    pieces: &HashSet<ScriptBuf>,
    tx: &Transaction,
    prevouts: &[TxOut],
) -> bool {
    prevouts.iter().any(|p| watched.contains(&p.script_pubkey))
        || tx.output.iter().any(|o| pieces.contains(&o.script_pubkey))
}

fn write_stamp(db: &Connection, stamp: &Stamp) -> rusqlite::Result<()> {
    db.prepare_cached("INSERT OR REPLACE INTO blocks(height, hash, time) VALUES (?1, ?2, ?3)")?
        .execute(params![
            stamp.height as i64,
            stamp.hash.as_byte_array(),
            i64::from(stamp.time)
        ])
        .map(|_| ())
}

fn add_counter(db: &Connection, key: &str, by: u64) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, CAST(?2 AS TEXT))
         ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ?2 AS TEXT)",
    )?
    .execute(params![key, by as i64])
    .map(|_| ())
}
