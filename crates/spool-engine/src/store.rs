//! The persistent outpoint reservations: spool-tx's [`ReservationSet`] kept in a data
//! directory and shared by every thread and process that opens it.
//!
//! Files in the directory:
//! - `reservations.json`: the set, a JSON document people can read (format below), written
//!   to a temporary file, fsynced and renamed, so it is never half-written;
//! - `reservations.lock`: every operation holds std's file lock on it (shared to read,
//!   exclusive to change) and re-reads the set when another process changed it;
//! - `reservations.generation`: a counter bumped before every write, so a process skips
//!   re-reading when nobody changed the set;
//! - `reservations.dat.migrated`: the binary store of spool-rs before this format, kept after
//!   it was migrated on first open (never discarded).
//!
//! The format (version 2):
//!
//! ```json
//! {
//!   "format": "spool-rs reservations",
//!   "version": 2,
//!   "transactions": [
//!     {
//!       "txid": "<txid of the transaction that spends the outpoints>",
//!       "reserved_at": 1700000000,
//!       "outpoints": ["<txid>:<vout>", "..."]
//!     }
//!   ]
//! }
//! ```
//!
//! `reserved_at` is in seconds since the Unix epoch. One entry per transaction, so that
//! per-transaction facts (its owning process, whether it was broadcast) and a top-level list
//! of claims can be added as new fields; readers ignore fields they do not know, and
//! `version` changes only when a known field changes meaning.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Txid};
use serde::{Deserialize, Serialize};
use spool_protocol::chain::TxStatus;
use spool_tx::{Reservation, ReservationConflict, ReservationSet, Utxo};

const STATE_FILE: &str = "reservations.json";
const LEGACY_FILE: &str = "reservations.dat";
const LEGACY_KEPT: &str = "reservations.dat.migrated";
const LOCK_FILE: &str = "reservations.lock";
const GENERATION_FILE: &str = "reservations.generation";
const FORMAT: &str = "spool-rs reservations";
const FORMAT_VERSION: u32 = 2;

/// Errors of the reservation store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading, writing or locking a file failed.
    #[error("reservation store {path}: {action} failed")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The reservations file does not parse (it is never overwritten in that case).
    #[error("reservation file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The reservations file was written by a newer, unknown format.
    #[error("reservation file {path} has unknown format version {version}")]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// An outpoint is already reserved by another transaction.
    #[error(transparent)]
    Conflict(#[from] ReservationConflict),
}

/// The file's document.
#[derive(Debug, Serialize, Deserialize)]
struct Document {
    format: String,
    version: u32,
    transactions: Vec<Entry>,
}

/// One transaction's reservation in the file.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    txid: Txid,
    reserved_at: u64,
    outpoints: Vec<OutPoint>,
}

#[derive(Debug)]
struct Store {
    dir: PathBuf,
    file: PathBuf,
    lock_path: PathBuf,
    generation_path: PathBuf,
    lock: File,
}

/// The in-memory copy and the store generation it reflects (`None`: must reload).
#[derive(Debug, Default)]
struct Cached {
    set: ReservationSet,
    generation: Option<u64>,
}

/// The reservation set: thread-safe, optionally persisted in a data directory.
#[derive(Debug)]
pub struct Reservations {
    store: Option<Store>,
    cache: Mutex<Cached>,
}

fn io<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_owned(),
        action,
        source,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Store {
    /// The current generation; `None` when the file is unreadable (then always reload).
    fn generation(&self) -> Option<u64> {
        match fs::read_to_string(&self.generation_path) {
            Ok(text) => text.trim().parse().ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(0),
            Err(_) => None,
        }
    }

    fn write_generation(&self, generation: u64) -> Result<(), StoreError> {
        let path = &self.generation_path;
        // No fsync: the counter only tells live processes that their cached copy is stale
        // (they read it through the page cache); after a crash every process reloads.
        fs::write(path, generation.to_string()).map_err(io(path, "write"))
    }

    fn load(&self) -> Result<ReservationSet, StoreError> {
        let text = match fs::read(&self.file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ReservationSet::new()),
            Err(e) => return Err(io(&self.file, "read")(e)),
        };
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.file.clone(),
            reason,
        };
        let document: Document = serde_json::from_slice(&text)
            .map_err(|e| corrupt(format!("not a spool reservation file ({e})")))?;
        if document.format != FORMAT {
            return Err(corrupt(format!(
                "not a spool reservation file (format {:?})",
                document.format
            )));
        }
        if document.version != FORMAT_VERSION {
            return Err(StoreError::UnknownVersion {
                path: self.file.clone(),
                version: document.version,
            });
        }
        ReservationSet::from_reservations(document.transactions.into_iter().map(|e| Reservation {
            txid: e.txid,
            outpoints: e.outpoints,
            reserved_at: e.reserved_at,
        }))
        .map_err(|conflict| corrupt(conflict.to_string()))
    }

    fn save(&self, set: &ReservationSet) -> Result<(), StoreError> {
        let document = Document {
            format: FORMAT.to_owned(),
            version: FORMAT_VERSION,
            transactions: set
                .reservations()
                .map(|r| Entry {
                    txid: r.txid,
                    reserved_at: r.reserved_at,
                    outpoints: r.outpoints.clone(),
                })
                .collect(),
        };
        let mut text = serde_json::to_vec_pretty(&document).expect("plain data serialises");
        text.push(b'\n');
        let tmp = self.file.with_extension("json.tmp");
        let mut f = File::create(&tmp).map_err(io(&tmp, "create"))?;
        f.write_all(&text).map_err(io(&tmp, "write"))?;
        f.sync_all().map_err(io(&tmp, "fsync"))?;
        drop(f);
        fs::rename(&tmp, &self.file).map_err(io(&self.file, "rename"))?;
        // Make the rename itself durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir, "fsync directory"))
    }

    /// Moves a binary store of the earlier format into the JSON file, once; the binary file
    /// is kept beside it as `reservations.dat.migrated`. Runs under the exclusive lock.
    fn migrate(&self) -> Result<(), StoreError> {
        let legacy = self.dir.join(LEGACY_FILE);
        if self.file.exists() || !legacy.exists() {
            // Another process migrated it while this one waited for the lock.
            return Ok(());
        }
        let bytes = fs::read(&legacy).map_err(io(&legacy, "read"))?;
        let set = legacy::decode(&bytes).map_err(|reason| match reason {
            legacy::Decode::Version(version) => StoreError::UnknownVersion {
                path: legacy.clone(),
                version,
            },
            legacy::Decode::Corrupt(reason) => StoreError::Corrupt {
                path: legacy.clone(),
                reason: reason.to_owned(),
            },
        })?;
        self.save(&set)?;
        let kept = self.dir.join(LEGACY_KEPT);
        fs::rename(&legacy, &kept).map_err(io(&legacy, "rename"))
    }
}

/// The set under the in-process mutex and, when persisted, the file lock.
struct Locked<'a> {
    owner: &'a Reservations,
    cache: MutexGuard<'a, Cached>,
}

impl Locked<'_> {
    fn commit(&mut self) -> Result<(), StoreError> {
        if let Some(store) = &self.owner.store {
            // Until both writes succeed, the cache may be ahead of the disk: distrust it.
            let next = self.cache.generation.take().map_or(1, |g| g + 1);
            store.write_generation(next)?;
            store.save(&self.cache.set)?;
            self.cache.generation = Some(next);
        }
        Ok(())
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Some(store) = &self.owner.store {
            // Unlocking cannot meaningfully fail; the lock also ends when the fd closes.
            let _ = store.lock.unlock();
        }
    }
}

impl Reservations {
    /// Opens (creating if needed) the reservation store in `dir`, migrating a binary store
    /// of the earlier format on first open.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the directory or files cannot be created, read or locked, or the
    /// store is corrupt (it is then left as it is).
    pub fn open(dir: &Path) -> Result<Reservations, StoreError> {
        fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path, "open lock file"))?;
        let store = Store {
            dir: dir.to_owned(),
            file: dir.join(STATE_FILE),
            lock_path,
            generation_path: dir.join(GENERATION_FILE),
            lock,
        };
        if !store.file.exists() && dir.join(LEGACY_FILE).exists() {
            store.lock.lock().map_err(io(&store.lock_path, "lock"))?;
            let migrated = store.migrate().and_then(|()| {
                let next = store.generation().map_or(1, |g| g + 1);
                store.write_generation(next)
            });
            let _ = store.lock.unlock();
            migrated?;
        }
        let reservations = Reservations {
            store: Some(store),
            cache: Mutex::new(Cached::default()),
        };
        // Fail now, not at first use, if the file is unreadable.
        drop(reservations.lock(false)?);
        Ok(reservations)
    }

    /// A reservation set that lives only in memory (tests, one-shot tools).
    pub fn in_memory() -> Reservations {
        Reservations {
            store: None,
            cache: Mutex::new(Cached::default()),
        }
    }

    /// The reservations file (`<dir>/reservations.json`), if persisted.
    pub fn path(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.file.as_path())
    }

    fn lock(&self, exclusive: bool) -> Result<Locked<'_>, StoreError> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut locked = Locked { owner: self, cache };
        if let Some(store) = &self.store {
            let taken = if exclusive {
                store.lock.lock()
            } else {
                store.lock.lock_shared()
            };
            taken.map_err(io(&store.lock_path, "lock"))?;
            // From here on `locked` unlocks the file when dropped.
            let generation = store.generation();
            if generation.is_none() || generation != locked.cache.generation {
                locked.cache.generation = None;
                locked.cache.set = store.load()?;
                locked.cache.generation = generation;
            }
        }
        Ok(locked)
    }

    /// Runs `change` on the set under the exclusive lock (no other thread or process sharing
    /// the directory sees or changes the set in between) and saves the set if `change`
    /// succeeded and changed it. On an error nothing is saved.
    ///
    /// # Errors
    ///
    /// `change`'s error, or a [`StoreError`] (converted) from locking, reading or saving.
    pub fn update<T, E>(
        &self,
        change: impl FnOnce(&mut ReservationSet) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut locked = self.lock(true)?;
        let mut set = locked.cache.set.clone();
        let value = change(&mut set)?;
        if set != locked.cache.set {
            locked.cache.set = set;
            locked.commit()?;
        }
        Ok(value)
    }

    /// A copy of the set as it is now.
    ///
    /// # Errors
    ///
    /// [`StoreError`] from locking or reading.
    pub fn snapshot(&self) -> Result<ReservationSet, StoreError> {
        Ok(self.lock(false)?.cache.set.clone())
    }

    /// Reserves `outpoints` for `txid`, all or nothing. Reserving an outpoint again for the
    /// same transaction is a no-op; for another transaction it is a conflict.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`], or a failure of the store.
    pub fn reserve(&self, txid: Txid, outpoints: &[OutPoint]) -> Result<(), StoreError> {
        self.update(|set| {
            set.reserve(txid, outpoints, now())
                .map(drop)
                .map_err(StoreError::from)
        })
    }

    /// Releases `outpoints` whoever holds them; returns how many were reserved.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn release(&self, outpoints: &[OutPoint]) -> Result<usize, StoreError> {
        self.update(|set| Ok(set.release(outpoints)))
    }

    /// Releases every outpoint held by `txid` (it confirmed, is gone, or was never sent);
    /// returns how many.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn release_tx(&self, txid: &Txid) -> Result<usize, StoreError> {
        self.update(|set| Ok(set.release_tx(txid)))
    }

    /// Applies one chain status: releases `txid`'s outpoints if it is confirmed or gone.
    /// Returns how many outpoints were released.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn apply_status(&self, txid: &Txid, status: TxStatus) -> Result<usize, StoreError> {
        self.update(|set| Ok(set.apply_status(txid, status)))
    }

    /// Whether `outpoint` is reserved (by this or any other process sharing the directory).
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn is_reserved(&self, outpoint: &OutPoint) -> Result<bool, StoreError> {
        Ok(self.lock(false)?.cache.set.is_reserved(outpoint))
    }

    /// The transaction holding `outpoint`, if any.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn holder(&self, outpoint: &OutPoint) -> Result<Option<Txid>, StoreError> {
        Ok(self.lock(false)?.cache.set.holder(outpoint))
    }

    /// The UTXOs of `utxos` that are not reserved, in order.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn available(&self, utxos: &[Utxo]) -> Result<Vec<Utxo>, StoreError> {
        Ok(self.lock(false)?.cache.set.available(utxos))
    }

    /// Number of reserved outpoints.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.lock(false)?.cache.set.len())
    }

    /// Whether nothing is reserved.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// The transactions holding reservations and their outpoints, sorted by txid.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn pending(&self) -> Result<Vec<(Txid, Vec<OutPoint>)>, StoreError> {
        Ok(self.lock(false)?.cache.set.pending())
    }
}

/// The binary store of spool-rs before version 2, read once to migrate it: magic
/// `SPOOLRSV`, u32 version 1, u64 count, then per record the outpoint's txid (32 bytes) and
/// vout (u32), the holding txid (32 bytes) and the unix time reserved (u64); integers
/// little-endian.
mod legacy {
    use super::*;

    const MAGIC: &[u8; 8] = b"SPOOLRSV";
    const HEADER_LEN: usize = 8 + 4 + 8;
    const RECORD_LEN: usize = 32 + 4 + 32 + 8;

    pub(super) enum Decode {
        Version(u32),
        Corrupt(&'static str),
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<ReservationSet, Decode> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(Decode::Corrupt("not a spool reservation file"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != 1 {
            return Err(Decode::Version(version));
        }
        let count = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
        let body = &bytes[HEADER_LEN..];
        if Some(body.len() as u64) != count.checked_mul(RECORD_LEN as u64) {
            return Err(Decode::Corrupt("length does not match the record count"));
        }
        let mut set = ReservationSet::new();
        for rec in body.chunks_exact(RECORD_LEN) {
            let txid = |b: &[u8]| Txid::from_byte_array(b.try_into().expect("32 bytes"));
            let vout = u32::from_le_bytes(rec[32..36].try_into().expect("4 bytes"));
            let at = u64::from_le_bytes(rec[68..76].try_into().expect("8 bytes"));
            set.reserve(
                txid(&rec[36..68]),
                &[OutPoint::new(txid(&rec[..32]), vout)],
                at,
            )
            .map_err(|_| Decode::Corrupt("an outpoint is reserved twice"))?;
        }
        Ok(set)
    }

    /// The binary form of `records` (outpoint, holding txid, time), for migration tests.
    #[cfg(test)]
    pub(super) fn encode(records: &[(OutPoint, Txid, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(records.len() as u64).to_le_bytes());
        for (outpoint, txid, at) in records {
            out.extend_from_slice(outpoint.txid.as_byte_array());
            out.extend_from_slice(&outpoint.vout.to_le_bytes());
            out.extend_from_slice(txid.as_byte_array());
            out.extend_from_slice(&at.to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txid(n: u8) -> Txid {
        Txid::from_byte_array([n; 32])
    }

    #[test]
    fn a_binary_store_is_migrated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            (OutPoint::new(txid(1), 0), txid(9), 1_700_000_000),
            (OutPoint::new(txid(1), 1), txid(9), 1_700_000_000),
            (OutPoint::new(txid(2), 5), txid(8), 1_700_000_100),
        ];
        let binary = legacy::encode(&records);
        fs::write(dir.path().join(LEGACY_FILE), &binary).unwrap();
        let res = Reservations::open(dir.path()).unwrap();
        assert_eq!(res.len().unwrap(), 3);
        assert_eq!(res.holder(&records[2].0).unwrap(), Some(txid(8)));
        assert!(!dir.path().join(LEGACY_FILE).exists());
        assert_eq!(fs::read(dir.path().join(LEGACY_KEPT)).unwrap(), binary);
        let text = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["format"], "spool-rs reservations");
        assert_eq!(json["version"], 2);
        assert_eq!(json["transactions"].as_array().unwrap().len(), 2);
        assert!(text.contains(&format!("\"{}:1\"", txid(1))), "{text}");
        drop(res);
        // A second open reads the JSON; the kept binary file plays no part any more.
        fs::write(dir.path().join(LEGACY_KEPT), b"junk").unwrap();
        assert_eq!(Reservations::open(dir.path()).unwrap().len().unwrap(), 3);
    }

    #[test]
    fn a_corrupt_binary_store_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut binary = legacy::encode(&[(OutPoint::new(txid(1), 0), txid(9), 1)]);
        binary.pop();
        fs::write(dir.path().join(LEGACY_FILE), &binary).unwrap();
        let err = Reservations::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("is corrupt"), "{err}");
        assert_eq!(fs::read(dir.path().join(LEGACY_FILE)).unwrap(), binary);
        assert!(!dir.path().join(STATE_FILE).exists());
    }
}
