//! The SQLite store: schema, per-batch atomic block commits, rollback to a fork point, the
//! mempool rows, and the queries the API answers from.
//!
//! Tables: `meta` (network, genesis, first indexed height), `blocks` (hash and time of every
//! indexed height), `spool_txs` (every SPOOL transaction: raw bytes, prevouts, place; height
//! NULL while in the mempool), `spool_scripts` (the scripts each SPOOL transaction pays and
//! spends from, with the edition its verb names), `watched` (scripts whose outputs are tracked, with the height they were
//! first seen at; NULL for the operator's list), `outputs` (outputs paying watched scripts,
//! with their confirmed spend), `mempool_spends` (watched outputs spent in the mempool) and
//! `replaced` (SPOOL transactions that left the mempool for another spending their outpoints).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bitcoin::consensus::encode;
use bitcoin::hashes::Hash;
use bitcoin::{
    Address, Amount, Block, BlockHash, Network, OutPoint, Script, ScriptBuf, Transaction, TxOut,
    Txid,
};
use rusqlite::{params, Connection, OptionalExtension};
use spool_protocol::chain::{ChainTx, TxPlace};
use spool_protocol::payload::find_verb;
use spool_protocol::verb::Verb;

use crate::error::IndexError;

mod editions;
mod replaced;
mod scoped;
mod unspent;
pub use replaced::Replaced;
pub use scoped::{ScannedOutput, ScopeCounters, Stamp};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks(height INTEGER PRIMARY KEY, hash BLOB NOT NULL, time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS spool_txs(
    txid BLOB PRIMARY KEY, height INTEGER, position INTEGER, time INTEGER,
    raw BLOB NOT NULL, prevouts BLOB NOT NULL, piece BLOB);
CREATE INDEX IF NOT EXISTS spool_txs_place ON spool_txs(height, position);
CREATE INDEX IF NOT EXISTS spool_txs_piece ON spool_txs(piece);
CREATE TABLE IF NOT EXISTS spool_scripts(
    script BLOB NOT NULL, txid BLOB NOT NULL, pays INTEGER NOT NULL,
    edition INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY(script, txid, pays)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spool_scripts_txid ON spool_scripts(txid);
CREATE TABLE IF NOT EXISTS watched(script BLOB PRIMARY KEY, since INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outputs(
    txid BLOB NOT NULL, vout INTEGER NOT NULL, script BLOB NOT NULL, value INTEGER NOT NULL,
    height INTEGER, coinbase INTEGER NOT NULL, spent_by BLOB, spent_height INTEGER,
    PRIMARY KEY(txid, vout)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outputs_script ON outputs(script);
CREATE INDEX IF NOT EXISTS outputs_unspent ON outputs(script, value, txid, vout, height, coinbase)
    WHERE spent_by IS NULL;
CREATE TABLE IF NOT EXISTS mempool_spends(
    txid BLOB NOT NULL, vout INTEGER NOT NULL, spender BLOB NOT NULL,
    PRIMARY KEY(txid, vout, spender)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mempool_spends_spender ON mempool_spends(spender);
CREATE TABLE IF NOT EXISTS scope_pieces(script BLOB PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unscanned(script BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replaced(
    txid BLOB PRIMARY KEY, raw BLOB NOT NULL, prevouts BLOB NOT NULL, by BLOB NOT NULL) WITHOUT ROWID;
";

/// The file name of the index inside `<data-dir>/<network>/`.
pub const INDEX_FILE: &str = "index.sqlite";

/// The index file of `network` under `data_dir`: `<data-dir>/<network>/index.sqlite`.
pub fn index_path(data_dir: &Path, network: Network) -> PathBuf {
    data_dir.join(network.to_string()).join(INDEX_FILE)
}

/// A block ready to be written: the block, where it is, and the prevouts of its SPOOL
/// transactions (fetched from the node beforehand).
#[derive(Debug, Clone)]
pub struct BlockData {
    /// The block's height.
    pub height: u64,
    /// The block itself.
    pub block: Block,
    /// The prevouts of each SPOOL transaction of the block, by txid.
    pub prevouts: std::collections::HashMap<Txid, Vec<TxOut>>,
}

/// A SPOOL transaction found in a block or the mempool (what [`find_verb`] accepts).
pub fn is_spool(tx: &Transaction) -> bool {
    find_verb(tx).is_ok()
}

/// The piece a SPOOL transaction acts on: its first output, unless that is the OP_RETURN
/// or the verb is FUEL (a refill pays wallets, not a piece).
fn piece_script(tx: &Transaction) -> Option<&ScriptBuf> {
    if matches!(find_verb(tx), Ok((_, Verb::Fuel))) {
        return None;
    }
    tx.output
        .first()
        .map(|out| &out.script_pubkey)
        .filter(|script| !script.is_op_return())
}

/// One connection to the index database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: String,
    network: Network,
    watched: HashSet<ScriptBuf>,
    /// The piece addresses of federation-rooted SPOOL transactions (scoped indexes only).
    pieces: HashSet<ScriptBuf>,
    /// Transactions this connection wrote mempool rows for.
    mempool: HashSet<Txid>,
}

impl Store {
    /// Opens (creating when missing, with its directory) the index at `path` for `network`,
    /// in WAL mode.
    ///
    /// # Errors
    /// [`IndexError::Directory`] when the directory cannot be created,
    /// [`IndexError::Database`] when SQLite fails, [`IndexError::WrongNetwork`] when the file
    /// was built for another network.
    pub fn open(path: &Path, network: Network) -> Result<Store, IndexError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|source| IndexError::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
            }
        }
        let conn = Connection::open(path).map_err(IndexError::db(&shown))?;
        crate::busy::wait_briefly(&conn).map_err(IndexError::db(&shown))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(IndexError::db(&shown))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(IndexError::db(&shown))?;
        conn.execute_batch(SCHEMA).map_err(IndexError::db(&shown))?;
        let mut conn = conn;
        editions::migrate(&mut conn).map_err(IndexError::db(&shown))?;
        let mut store = Store {
            conn,
            path: shown,
            network,
            watched: HashSet::new(),
            pieces: HashSet::new(),
            mempool: HashSet::new(),
        };
        if store.meta("network")?.is_none() {
            store.set_meta("network", &network.to_string())?;
        }
        store.check_network()?;
        store
            .conn
            .execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0')",
                [],
            )
            .map_err(IndexError::db(&store.path))?;
        store.load_watched()?;
        store.clear_fuel_pieces()?;
        Ok(store)
    }

    /// Indexes written before FUEL transactions were kept out of the pieces named their
    /// first output (a refilled wallet) as a piece: clears those, once.
    fn clear_fuel_pieces(&mut self) -> Result<(), IndexError> {
        const DONE: &str = "fuel_pieces_cleared";
        if self.meta(DONE)?.is_some() {
            return Ok(());
        }
        let db = self
            .conn
            .transaction()
            .map_err(IndexError::db(&self.path))?;
        let rows = db
            .prepare("SELECT txid, raw FROM spool_txs WHERE piece IS NOT NULL")
            .and_then(|mut stmt| {
                stmt.query_map([], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(IndexError::db(&self.path))?;
        for (txid, raw) in rows {
            let tx: Transaction = encode::deserialize(&raw).map_err(|_| IndexError::Corrupt {
                path: self.path.clone(),
                detail: "a stored transaction does not decode".to_owned(),
            })?;
            if piece_script(&tx).is_none() {
                db.execute("UPDATE spool_txs SET piece = NULL WHERE txid = ?1", [txid])
                    .map_err(IndexError::db(&self.path))?;
            }
        }
        db.execute("INSERT INTO meta(key, value) VALUES (?1, '1')", [DONE])
            .map_err(IndexError::db(&self.path))?;
        db.commit().map_err(IndexError::db(&self.path))
    }

    /// Opens an existing index read-only (the API's readers): nothing is created or
    /// written, and the write methods fail.
    ///
    /// # Errors
    /// [`IndexError::Database`] when the file cannot be opened, [`IndexError::WrongNetwork`]
    /// when it was built for another network.
    pub fn open_reader(path: &Path, network: Network) -> Result<Store, IndexError> {
        use rusqlite::OpenFlags;
        let shown = path.display().to_string();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(IndexError::db(&shown))?;
        crate::busy::wait_briefly(&conn).map_err(IndexError::db(&shown))?;
        let store = Store {
            conn,
            path: shown,
            network,
            watched: HashSet::new(),
            pieces: HashSet::new(),
            mempool: HashSet::new(),
        };
        store.check_network()?;
        Ok(store)
    }

    fn check_network(&self) -> Result<(), IndexError> {
        let text = self
            .meta("network")?
            .ok_or_else(|| self.corrupt("no network recorded"))?;
        let indexed = text
            .parse::<Network>()
            .map_err(|_| self.corrupt(format!("unknown network {text:?}")))?;
        if indexed == self.network {
            Ok(())
        } else {
            Err(IndexError::WrongNetwork {
                path: self.path.clone(),
                indexed,
                asked: self.network,
            })
        }
    }

    /// The network of this index.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The database file.
    pub fn path(&self) -> &str {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> IndexError + '_ {
        IndexError::db(&self.path)
    }

    fn corrupt(&self, detail: impl Into<String>) -> IndexError {
        IndexError::Corrupt {
            path: self.path.clone(),
            detail: detail.into(),
        }
    }

    /// A value of the `meta` table.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn meta(&self, key: &str) -> Result<Option<String>, IndexError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.err())
    }

    /// Sets a value of the `meta` table.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), IndexError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    fn load_watched(&mut self) -> Result<(), IndexError> {
        self.watched = self.scripts_of("watched")?;
        self.load_pieces()
    }

    /// Every script of `table`'s `script` column.
    fn scripts_of(&self, table: &str) -> Result<HashSet<ScriptBuf>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT script FROM {table}"))
            .map_err(self.err())?;
        let scripts = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(self.err())?
            .map(|script| script.map(ScriptBuf::from_bytes))
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        Ok(scripts)
    }

    /// Adds scripts the operator wants tracked from now on (`--watch`); never rolled back.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn watch(&mut self, scripts: &[ScriptBuf]) -> Result<(), IndexError> {
        for script in scripts {
            self.conn
                .execute(
                    "INSERT INTO watched(script, since) VALUES (?1, NULL)
                     ON CONFLICT(script) DO UPDATE SET since = NULL",
                    [script.as_bytes()],
                )
                .map_err(IndexError::db(&self.path))?;
            self.watched.insert(script.clone());
        }
        Ok(())
    }

    /// Whether outputs paying `script` are tracked (asked of the database, so that a reader
    /// sees what the follower added since it opened).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn is_watched(&self, script: &Script) -> Result<bool, IndexError> {
        self.conn
            .prepare_cached("SELECT 1 FROM watched WHERE script = ?1")
            .and_then(|mut stmt| stmt.exists([script.as_bytes()]))
            .map_err(self.err())
    }

    /// Re-reads the watched scripts (a writer sharing the file with the follower calls this
    /// before writing).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn refresh_watched(&mut self) -> Result<(), IndexError> {
        self.load_watched()
    }

    /// A number that changes with every write (blocks, mempool, rollback): answers computed
    /// at one generation hold until it changes.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn generation(&self) -> Result<u64, IndexError> {
        let text: String = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'generation'")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(self.err())?;
        text.parse()
            .map_err(|_| self.corrupt(format!("bad generation {text:?}")))
    }

    /// The last indexed block: height and hash.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn tip(&self) -> Result<Option<(u64, BlockHash)>, IndexError> {
        self.conn
            .query_row(
                "SELECT height, hash FROM blocks ORDER BY height DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(self.err())?
            .map(|(h, hash)| Ok((h as u64, self.block_hash_from(&hash)?)))
            .transpose()
    }

    /// The hash of the indexed block at `height`.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn block_hash(&self, height: u64) -> Result<Option<BlockHash>, IndexError> {
        self.conn
            .query_row(
                "SELECT hash FROM blocks WHERE height = ?1",
                [height as i64],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()
            .map_err(self.err())?
            .map(|hash| self.block_hash_from(&hash))
            .transpose()
    }

    fn block_hash_from(&self, bytes: &[u8]) -> Result<BlockHash, IndexError> {
        BlockHash::from_slice(bytes).map_err(|_| self.corrupt("a block hash is not 32 bytes"))
    }

    /// Writes `blocks` (consecutive, in order) in one SQLite transaction: either all of them
    /// with their hashes are in the index afterwards, or none.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn apply_blocks(&mut self, blocks: &[BlockData]) -> Result<(), IndexError> {
        let path = self.path.clone();
        let err = IndexError::db(&path);
        let db = self.conn.transaction().map_err(&err)?;
        let mut added_watch = Vec::new();
        for data in blocks {
            let height = data.height as i64;
            let time = i64::from(data.block.header.time);
            db.execute(
                "INSERT OR REPLACE INTO blocks(height, hash, time) VALUES (?1, ?2, ?3)",
                params![height, data.block.block_hash().as_byte_array(), time],
            )
            .map_err(&err)?;
            // SPOOL transactions first: their scripts are watched for the whole block.
            for (position, tx) in data.block.txdata.iter().enumerate() {
                if !is_spool(tx) {
                    continue;
                }
                let txid = tx.compute_txid();
                let prevouts = data.prevouts.get(&txid).cloned().unwrap_or_default();
                let place = TxPlace::Confirmed {
                    height: data.height,
                    position: position as u32,
                    time: u64::from(data.block.header.time),
                };
                forget_mempool_tx(&db, &txid).map_err(&err)?;
                insert_spool_tx(&db, tx, &prevouts, place).map_err(&err)?;
                for script in spool_scripts(tx, &prevouts) {
                    if !self.watched.contains(&script) {
                        db.execute(
                            "INSERT OR IGNORE INTO watched(script, since) VALUES (?1, ?2)",
                            params![script.as_bytes(), height],
                        )
                        .map_err(&err)?;
                        self.watched.insert(script.clone());
                        added_watch.push(script);
                    }
                }
            }
            for tx in &data.block.txdata {
                confirm_outputs(&db, &self.watched, &mut self.mempool, tx, height).map_err(&err)?;
            }
        }
        bump_generation(&db).map_err(&err)?;
        let committed = db.commit().map_err(&err);
        if committed.is_err() {
            for script in added_watch {
                self.watched.remove(&script);
            }
        }
        committed
    }

    /// Removes every block above `height` and what they brought, and the mempool rows, in
    /// one SQLite transaction (the follower re-reads the mempool afterwards).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn rollback_to(&mut self, height: u64) -> Result<(), IndexError> {
        let h = height as i64;
        let scoped = self.is_scoped()?;
        let db = self
            .conn
            .transaction()
            .map_err(IndexError::db(&self.path))?;
        db.execute_batch(&format!(
            "DELETE FROM blocks WHERE height > {h};
             DELETE FROM spool_scripts WHERE txid IN
                 (SELECT txid FROM spool_txs WHERE height > {h} OR height IS NULL);
             DELETE FROM spool_txs WHERE height > {h} OR height IS NULL;
             DELETE FROM outputs WHERE height > {h} OR height IS NULL;
             UPDATE outputs SET spent_by = NULL, spent_height = NULL WHERE spent_height > {h};
             DELETE FROM mempool_spends;
             DELETE FROM watched WHERE since > {h};
             DELETE FROM scope_pieces WHERE since > {h};
             DELETE FROM unscanned WHERE script NOT IN (SELECT script FROM watched);"
        ))
        .map_err(IndexError::db(&self.path))?;
        if scoped {
            // Outputs a discovered script received before its discovery, and spent in the
            // blocks rolled back, are unspent again: read them from the UTXO set anew.
            db.execute_batch(
                "INSERT OR IGNORE INTO unscanned(script)
                 SELECT script FROM watched WHERE since IS NOT NULL",
            )
            .map_err(IndexError::db(&self.path))?;
        }
        bump_generation(&db).map_err(IndexError::db(&self.path))?;
        db.commit().map_err(IndexError::db(&self.path))?;
        self.mempool.clear();
        self.load_watched()
    }

    /// Forgets every mempool row (at start-up, before the mempool is read again).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn clear_mempool(&mut self) -> Result<(), IndexError> {
        self.mempool.clear();
        self.conn
            .execute_batch(
                "BEGIN;
                 DELETE FROM spool_scripts WHERE txid IN
                     (SELECT txid FROM spool_txs WHERE height IS NULL);
                 DELETE FROM spool_txs WHERE height IS NULL;
                 DELETE FROM outputs WHERE height IS NULL;
                 DELETE FROM mempool_spends;
                 UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation';
                 COMMIT;",
            )
            .map_err(self.err())
    }

    /// Applies a mempool change in one SQLite transaction: `removed` transactions (dropped
    /// by the node) disappear, `added` ones (with the prevouts of the SPOOL ones) appear.
    /// Scripts first seen in a mempool SPOOL transaction are watched from `next_height`.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn apply_mempool(
        &mut self,
        added: &[(Transaction, Vec<TxOut>)],
        removed: &[Txid],
        next_height: u64,
    ) -> Result<(), IndexError> {
        let path = self.path.clone();
        let err = IndexError::db(&path);
        let scoped = self.is_scoped()?;
        let db = self.conn.transaction().map_err(&err)?;
        let mut gone = Vec::new();
        for txid in removed {
            gone.extend(replaced::leaving(&db, txid).map_err(&err)?);
            forget_mempool_tx(&db, txid).map_err(&err)?;
        }
        let mut known = Vec::new();
        let mut added_watch = Vec::new();
        for (tx, prevouts) in added {
            if is_spool(tx) {
                insert_spool_tx(&db, tx, prevouts, TxPlace::Unconfirmed).map_err(&err)?;
                // A scoped index discovers only through rooted transactions.
                let discovers = !scoped
                    || prevouts
                        .iter()
                        .any(|p| self.watched.contains(&p.script_pubkey));
                if !discovers {
                    continue;
                }
                for script in spool_scripts(tx, prevouts) {
                    if !self.watched.contains(&script) {
                        db.execute(
                            "INSERT OR IGNORE INTO watched(script, since) VALUES (?1, ?2)",
                            params![script.as_bytes(), next_height as i64],
                        )
                        .map_err(&err)?;
                        self.watched.insert(script.clone());
                        added_watch.push(script);
                    }
                }
            }
        }
        for (tx, _) in added {
            insert_outputs(&db, &self.watched, tx, None).map_err(&err)?;
        }
        for (tx, _) in added {
            let txid = tx.compute_txid();
            known.push(txid);
            let mut spend = db
                .prepare_cached(
                    "INSERT OR IGNORE INTO mempool_spends(txid, vout, spender)
                     SELECT txid, vout, ?1 FROM outputs WHERE txid = ?2 AND vout = ?3",
                )
                .map_err(&err)?;
            for input in &tx.input {
                spend
                    .execute(params![
                        txid.as_byte_array(),
                        input.previous_output.txid.as_byte_array(),
                        input.previous_output.vout
                    ])
                    .map_err(&err)?;
            }
        }
        replaced::record(&db, &gone, added).map_err(&err)?;
        bump_generation(&db).map_err(&err)?;
        let committed = db.commit().map_err(&err);
        match committed {
            Ok(()) => {
                for txid in removed {
                    self.mempool.remove(txid);
                }
                self.mempool.extend(known);
            }
            Err(_) => {
                for script in added_watch {
                    self.watched.remove(&script);
                }
            }
        }
        committed
    }

    /// Every transaction with mempool rows, whoever wrote them (the follower or a broadcast).
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn mempool_txids(&self) -> Result<Vec<Txid>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT txid FROM spool_txs WHERE height IS NULL
                 UNION SELECT txid FROM outputs WHERE height IS NULL
                 UNION SELECT spender FROM mempool_spends",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        rows.iter()
            .map(|b| Txid::from_slice(b).map_err(|_| self.corrupt("a txid is not 32 bytes")))
            .collect()
    }

    /// The SPOOL transactions paying `script` (confirmed and in the mempool), ordered by
    /// place: confirmed by height and position, then unconfirmed by txid.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn txs_paying(&self, script: &Script) -> Result<Vec<ChainTx>, IndexError> {
        let mut txs = self.chain_txs(
            "SELECT s.raw, s.prevouts, s.height, s.position, s.time
             FROM spool_scripts k JOIN spool_txs s ON s.txid = k.txid
             WHERE k.script = ?1 AND k.pays = 1",
            params![script.as_bytes()],
        )?;
        sort_by_place(&mut txs);
        Ok(txs)
    }

    /// The outputs at `outpoints` that the index holds (those paying a watched script,
    /// spent or not), in order; `None` where it holds none.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn outputs_at(&self, outpoints: &[OutPoint]) -> Result<Vec<Option<TxOut>>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT script, value FROM outputs WHERE txid = ?1 AND vout = ?2")
            .map_err(self.err())?;
        outpoints
            .iter()
            .map(|op| {
                stmt.query_row(params![op.txid.as_byte_array(), op.vout], |r| {
                    Ok(TxOut {
                        script_pubkey: ScriptBuf::from_bytes(r.get::<_, Vec<u8>>(0)?),
                        value: Amount::from_sat(r.get::<_, i64>(1)? as u64),
                    })
                })
                .optional()
                .map_err(self.err())
            })
            .collect()
    }

    /// The SPOOL transaction `txid`, if indexed.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn transaction(&self, txid: &Txid) -> Result<Option<ChainTx>, IndexError> {
        Ok(self
            .chain_txs(
                "SELECT raw, prevouts, height, position, time FROM spool_txs WHERE txid = ?1",
                params![txid.as_byte_array()],
            )?
            .pop())
    }

    /// The latest `limit` SPOOL transactions: mempool first, then by height and position,
    /// newest first.
    ///
    /// # Errors
    /// [`IndexError::Database`], [`IndexError::Corrupt`].
    pub fn latest(&self, limit: u32) -> Result<Vec<ChainTx>, IndexError> {
        self.chain_txs(
            "SELECT raw, prevouts, height, position, time FROM spool_txs
             ORDER BY height IS NULL DESC, height DESC, position DESC LIMIT ?1",
            params![limit],
        )
    }

    /// Number of SPOOL transactions indexed (confirmed and in the mempool).
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn spool_tx_count(&self) -> Result<u64, IndexError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM spool_txs", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.err())
    }

    /// Piece addresses (the first output of SPOOL transactions) in order of first
    /// appearance, `limit` of them from `offset`; and how many there are in all.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn pieces(&self, offset: u64, limit: u64) -> Result<(Vec<String>, u64), IndexError> {
        let total = self
            .conn
            .query_row(
                "SELECT COUNT(DISTINCT piece) FROM spool_txs WHERE piece IS NOT NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(self.err())? as u64;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT piece, MIN(COALESCE(height, 9223372036854775807)) AS first
                 FROM spool_txs WHERE piece IS NOT NULL
                 GROUP BY piece ORDER BY first, piece LIMIT ?1 OFFSET ?2",
            )
            .map_err(self.err())?;
        let scripts = stmt
            .query_map(params![limit as i64, offset as i64], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok((self.addresses(scripts), total))
    }

    /// The piece addresses of the SPOOL transactions that pay or spend from `script`.
    ///
    /// # Errors
    /// [`IndexError::Database`].
    pub fn pieces_involving(&self, script: &Script) -> Result<Vec<String>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT s.piece FROM spool_scripts k JOIN spool_txs s ON s.txid = k.txid
                 WHERE k.script = ?1 AND s.piece IS NOT NULL ORDER BY s.piece",
            )
            .map_err(self.err())?;
        let scripts = stmt
            .query_map([script.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        Ok(self.addresses(scripts))
    }

    fn addresses(&self, scripts: Vec<Vec<u8>>) -> Vec<String> {
        scripts
            .into_iter()
            .filter_map(|s| Address::from_script(Script::from_bytes(&s), self.network).ok())
            .map(|a| a.to_string())
            .collect()
    }

    fn chain_txs(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<ChainTx>, IndexError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params, |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                ))
            })
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(raw, prevouts, height, position, time)| {
                let tx: Transaction = encode::deserialize(&raw)
                    .map_err(|e| self.corrupt(format!("undecodable transaction: {e}")))?;
                let prevouts: Vec<TxOut> = encode::deserialize(&prevouts)
                    .map_err(|e| self.corrupt(format!("undecodable prevouts: {e}")))?;
                let place = match (height, position, time) {
                    (Some(height), Some(position), Some(time)) => TxPlace::Confirmed {
                        height: height as u64,
                        position: position as u32,
                        time: time as u64,
                    },
                    _ => TxPlace::Unconfirmed,
                };
                Ok(ChainTx {
                    tx,
                    prevouts,
                    place,
                })
            })
            .collect()
    }
}

fn bump_generation(db: &Connection) -> rusqlite::Result<()> {
    db.prepare_cached(
        "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
    )?
    .execute([])
    .map(|_| ())
}

/// Orders chain transactions as the backends do: confirmed by (height, position), then
/// unconfirmed by txid.
pub fn sort_by_place(txs: &mut [ChainTx]) {
    txs.sort_by_cached_key(|chain_tx| match chain_tx.place {
        TxPlace::Confirmed {
            height, position, ..
        } => (0u8, height, position, chain_tx.txid()),
        TxPlace::Unconfirmed => (1u8, 0, 0, chain_tx.txid()),
    });
}

/// The scripts a SPOOL transaction pays (outputs other than OP_RETURN) and spends from.
fn spool_scripts(tx: &Transaction, prevouts: &[TxOut]) -> Vec<ScriptBuf> {
    let mut scripts: Vec<ScriptBuf> = tx
        .output
        .iter()
        .chain(prevouts)
        .filter(|out| !out.script_pubkey.is_op_return())
        .map(|out| out.script_pubkey.clone())
        .collect();
    scripts.sort();
    scripts.dedup();
    scripts
}

fn insert_spool_tx(
    db: &Connection,
    tx: &Transaction,
    prevouts: &[TxOut],
    place: TxPlace,
) -> rusqlite::Result<()> {
    let txid = tx.compute_txid();
    let (height, position, time) = match place {
        TxPlace::Confirmed {
            height,
            position,
            time,
        } => (
            Some(height as i64),
            Some(i64::from(position)),
            Some(time as i64),
        ),
        TxPlace::Unconfirmed => (None, None, None),
    };
    let piece = piece_script(tx).map(|script| script.to_bytes());
    replaced::forget(db, &txid)?;
    db.prepare_cached(
        "INSERT OR REPLACE INTO spool_txs(txid, height, position, time, raw, prevouts, piece)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        txid.as_byte_array(),
        height,
        position,
        time,
        encode::serialize(tx),
        encode::serialize(&prevouts.to_vec()),
        piece
    ])?;
    let edition = editions::edition_of(tx);
    let mut link = db.prepare_cached(
        "INSERT OR IGNORE INTO spool_scripts(script, txid, pays, edition) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for out in tx.output.iter().filter(|o| !o.script_pubkey.is_op_return()) {
        link.execute(params![
            out.script_pubkey.as_bytes(),
            txid.as_byte_array(),
            1,
            edition
        ])?;
    }
    for out in prevouts {
        link.execute(params![
            out.script_pubkey.as_bytes(),
            txid.as_byte_array(),
            0,
            edition
        ])?;
    }
    Ok(())
}

/// Removes the mempool rows of `txid` (its SPOOL row if unconfirmed, its unconfirmed
/// outputs, its mempool spends).
fn forget_mempool_tx(db: &Connection, txid: &Txid) -> rusqlite::Result<()> {
    let id = txid.as_byte_array();
    let was_mempool_spool = db
        .prepare_cached("DELETE FROM spool_txs WHERE txid = ?1 AND height IS NULL")?
        .execute([id])?;
    if was_mempool_spool > 0 {
        db.prepare_cached("DELETE FROM spool_scripts WHERE txid = ?1")?
            .execute([id])?;
    }
    db.prepare_cached("DELETE FROM outputs WHERE txid = ?1 AND height IS NULL")?
        .execute([id])?;
    db.prepare_cached("DELETE FROM mempool_spends WHERE spender = ?1")?
        .execute([id])?;
    Ok(())
}

/// What a transaction mined at `height` does to the watched outputs: its mempool rows go,
/// the outputs it spends are marked spent, and its outputs paying a watched script are
/// written. Whether it touched any watched output.
fn confirm_outputs(
    db: &Connection,
    watched: &HashSet<ScriptBuf>,
    mempool: &mut HashSet<Txid>,
    tx: &Transaction,
    height: i64,
) -> rusqlite::Result<bool> {
    let txid = tx.compute_txid();
    if mempool.remove(&txid) {
        forget_mempool_tx(db, &txid)?;
    }
    let mut touched = false;
    if !tx.is_coinbase() {
        let mut spend = db.prepare_cached(
            "UPDATE outputs SET spent_by = ?1, spent_height = ?2 WHERE txid = ?3 AND vout = ?4",
        )?;
        for input in &tx.input {
            touched |= spend.execute(params![
                txid.as_byte_array(),
                height,
                input.previous_output.txid.as_byte_array(),
                input.previous_output.vout
            ])? > 0;
        }
    }
    Ok(insert_outputs(db, watched, tx, Some(height))? > 0 || touched)
}

fn insert_outputs(
    db: &Connection,
    watched: &HashSet<ScriptBuf>,
    tx: &Transaction,
    height: Option<i64>,
) -> rusqlite::Result<usize> {
    let txid = tx.compute_txid();
    let mut inserted = 0;
    for (vout, out) in tx.output.iter().enumerate() {
        if !watched.contains(&out.script_pubkey) {
            continue;
        }
        inserted += 1;
        db.prepare_cached(
            "INSERT OR REPLACE INTO outputs(txid, vout, script, value, height, coinbase)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            txid.as_byte_array(),
            vout as u32,
            out.script_pubkey.as_bytes(),
            out.value.to_sat() as i64,
            height,
            tx.is_coinbase()
        ])?;
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;
    use spool_protocol::payload::op_return_script;

    fn spool_tx(verb: &str, first: ScriptBuf) -> Transaction {
        Transaction {
            version: bitcoin::transaction::Version::ONE,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn {
                previous_output: OutPoint::new(Txid::all_zeros(), 0),
                ..Default::default()
            }],
            output: vec![
                TxOut {
                    value: Amount::from_sat(3000),
                    script_pubkey: first,
                },
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: op_return_script(verb.as_bytes()).unwrap(),
                },
            ],
        }
    }

    /// A FUEL transaction names no piece; an index written before that rule is mended once,
    /// when it is next opened for writing.
    #[test]
    fn fuel_names_no_piece_and_older_indexes_are_mended() {
        let wallet = ScriptBuf::new_p2pkh(&bitcoin::PubkeyHash::all_zeros());
        let fuel = spool_tx("ASCRIBESPOOL01FUEL", wallet.clone());
        let register = spool_tx("ASCRIBESPOOL01REGISTER1", wallet.clone());
        assert_eq!(piece_script(&fuel), None);
        assert_eq!(piece_script(&register), Some(&wallet));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index.sqlite");
        let store = Store::open(&path, Network::Regtest).unwrap();
        // As an earlier spool-rs wrote them: both transactions name their first output.
        for tx in [&fuel, &register] {
            store
                .conn
                .execute(
                    "INSERT INTO spool_txs(txid, raw, prevouts, piece) VALUES (?1, ?2, ?3, ?4)",
                    params![
                        tx.compute_txid().as_byte_array(),
                        encode::serialize(tx),
                        encode::serialize(&Vec::<TxOut>::new()),
                        wallet.as_bytes()
                    ],
                )
                .unwrap();
        }
        store
            .conn
            .execute("DELETE FROM meta WHERE key = 'fuel_pieces_cleared'", [])
            .unwrap();
        drop(store);
        let store = Store::open(&path, Network::Regtest).unwrap();
        let piece_of = |tx: &Transaction| {
            store
                .conn
                .query_row(
                    "SELECT piece FROM spool_txs WHERE txid = ?1",
                    [tx.compute_txid().as_byte_array()],
                    |r| r.get::<_, Option<Vec<u8>>>(0),
                )
                .unwrap()
        };
        assert_eq!(piece_of(&fuel), None, "the refill's piece is cleared");
        assert_eq!(piece_of(&register), Some(wallet.to_bytes()), "kept");
        assert_eq!(
            store.meta("fuel_pieces_cleared").unwrap().as_deref(),
            Some("1")
        );
    }
}
