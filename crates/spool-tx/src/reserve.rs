//! Outpoint reservations: outpoints spent by our transactions that are not yet confirmed.
//!
//! pyspool remembers its last 50 spent outpoints in memory; spool-rs keeps every outpoint
//! spent by a transaction it built until that transaction confirms or is proven gone. The
//! set is shared by threads (a mutex), persisted in `<dir>/reservations.dat` (written to a
//! temporary file, fsynced and renamed, so it is never half-written) and shared by processes
//! (every operation holds an `flock` on `<dir>/reservations.lock` and re-reads the file), so
//! a restarted or parallel process never spends an outpoint that is already spent. A
//! generation counter (`<dir>/reservations.generation`, bumped before every write) lets a
//! process skip re-reading the set when nobody changed it.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Txid};
use fs2::FileExt;

use crate::{BuiltTx, TxError, Utxo};

const STATE_FILE: &str = "reservations.dat";
/// File layout: magic, u32 version, u64 count, then per record the outpoint's txid (32
/// bytes) and vout (u32), the holding txid (32 bytes) and the unix time reserved (u64);
/// integers little-endian. Fixed-size binary keeps a reload of thousands of records cheap.
const MAGIC: &[u8; 8] = b"SPOOLRSV";
const HEADER_LEN: usize = 8 + 4 + 8;
const RECORD_LEN: usize = 32 + 4 + 32 + 8;
const LOCK_FILE: &str = "reservations.lock";
const GENERATION_FILE: &str = "reservations.generation";
const FORMAT_VERSION: u32 = 1;

/// Errors of the reservation store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReservationError {
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
        reason: &'static str,
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
    #[error("outpoint {outpoint} is already reserved by transaction {holder}")]
    Conflict {
        /// The outpoint.
        outpoint: OutPoint,
        /// The transaction holding it.
        holder: Txid,
    },
    /// The chain status source failed.
    #[error("cannot get the status of transaction {txid}")]
    Status {
        /// The transaction asked about.
        txid: Txid,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What the chain says about a transaction that holds reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// In a block: its outpoints are spent for good; the reservation is released.
    Confirmed,
    /// In the mempool: keep the reservation.
    InMempool,
    /// Proven gone: neither in a block nor in the mempool, e.g. a conflicting transaction
    /// spent one of its inputs, or it was never accepted. The reservation is released.
    Gone,
    /// The source cannot tell: keep the reservation.
    Unknown,
}

/// Chain data the reservations need; the backend (Core RPC, Esplora) implements it.
pub trait TxStatusSource {
    /// The source's error.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The status of `txid`. Return [`TxStatus::Gone`] only when it provably will not
    /// confirm as is (not in a block, not in the mempool).
    fn tx_status(&self, txid: &Txid) -> Result<TxStatus, Self::Error>;
}

#[derive(Debug, Clone)]
struct Record {
    outpoint: OutPoint,
    txid: Txid,
    reserved_at: u64,
}

#[derive(Debug, Default, Clone)]
struct State {
    reservations: Vec<Record>,
}

impl State {
    fn holder(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.reservations
            .iter()
            .find(|r| r.outpoint == *outpoint)
            .map(|r| r.txid)
    }
}

#[derive(Debug)]
struct Store {
    file: PathBuf,
    lock_path: PathBuf,
    generation_path: PathBuf,
    lock: File,
}

/// The in-memory copy and the store generation it reflects (`None`: must reload).
#[derive(Debug, Default)]
struct Cached {
    state: State,
    generation: Option<u64>,
}

/// The reservation set: thread-safe, optionally persisted in a data directory.
#[derive(Debug)]
pub struct Reservations {
    store: Option<Store>,
    cache: Mutex<Cached>,
}

fn io<'a>(
    path: &'a Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> ReservationError + 'a {
    move |source| ReservationError::Io {
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

    fn write_generation(&self, generation: u64) -> Result<(), ReservationError> {
        let path = &self.generation_path;
        // No fsync: the counter only tells live processes that their cached copy is stale
        // (they read it through the page cache); after a crash every process reloads.
        fs::write(path, generation.to_string()).map_err(io(path, "write"))
    }

    fn load(&self) -> Result<State, ReservationError> {
        let bytes = match fs::read(&self.file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(e) => return Err(io(&self.file, "read")(e)),
        };
        decode(&bytes).map_err(|reason| match reason {
            Decode::Version(version) => ReservationError::UnknownVersion {
                path: self.file.clone(),
                version,
            },
            Decode::Corrupt(reason) => ReservationError::Corrupt {
                path: self.file.clone(),
                reason,
            },
        })
    }

    fn save(&self, state: &State) -> Result<(), ReservationError> {
        let tmp = self.file.with_extension("dat.tmp");
        let bytes = encode(state);
        let mut f = File::create(&tmp).map_err(io(&tmp, "create"))?;
        f.write_all(&bytes).map_err(io(&tmp, "write"))?;
        f.sync_all().map_err(io(&tmp, "fsync"))?;
        drop(f);
        fs::rename(&tmp, &self.file).map_err(io(&self.file, "rename"))?;
        if let Some(dir) = self.file.parent() {
            // Make the rename itself durable.
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir, "fsync directory"))?;
        }
        Ok(())
    }
}

/// The state under the in-process mutex and, when persisted, the file lock.
struct Locked<'a> {
    owner: &'a Reservations,
    cache: MutexGuard<'a, Cached>,
    dirty: bool,
}

impl Locked<'_> {
    fn state(&self) -> &State {
        &self.cache.state
    }

    fn state_mut(&mut self) -> &mut State {
        &mut self.cache.state
    }

    fn commit(mut self) -> Result<(), ReservationError> {
        if self.dirty {
            if let Some(store) = &self.owner.store {
                // Until both writes succeed, the cache may be ahead of the disk: distrust it.
                let next = self.cache.generation.take().map_or(1, |g| g + 1);
                store.write_generation(next)?;
                store.save(&self.cache.state)?;
                self.cache.generation = Some(next);
            }
            self.dirty = false;
        }
        Ok(())
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if let Some(store) = &self.owner.store {
            // Unlocking cannot meaningfully fail; the lock also ends when the fd closes.
            let _ = FileExt::unlock(&store.lock);
        }
    }
}

impl Reservations {
    /// Opens (creating if needed) the reservation store in `dir`.
    pub fn open(dir: &Path) -> Result<Reservations, ReservationError> {
        fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path, "open lock file"))?;
        let store = Store {
            file: dir.join(STATE_FILE),
            lock_path,
            generation_path: dir.join(GENERATION_FILE),
            lock,
        };
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

    /// The reservations file (`<dir>/reservations.dat`), if persisted.
    pub fn path(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.file.as_path())
    }

    fn lock(&self, exclusive: bool) -> Result<Locked<'_>, ReservationError> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut locked = Locked {
            owner: self,
            cache,
            dirty: false,
        };
        if let Some(store) = &self.store {
            if exclusive {
                FileExt::lock_exclusive(&store.lock).map_err(io(&store.lock_path, "lock"))?;
            } else {
                FileExt::lock_shared(&store.lock).map_err(io(&store.lock_path, "lock"))?;
            }
            // From here on `locked` unlocks the file when dropped.
            let generation = store.generation();
            if generation.is_none() || generation != locked.cache.generation {
                locked.cache.generation = None;
                locked.cache.state = store.load()?;
                locked.cache.generation = generation;
            }
        }
        Ok(locked)
    }

    /// Reserves `outpoints` for `txid`, all or nothing. Reserving an outpoint again for the
    /// same transaction is a no-op; for another transaction it is a conflict.
    pub fn reserve(&self, txid: Txid, outpoints: &[OutPoint]) -> Result<(), ReservationError> {
        let mut locked = self.lock(true)?;
        reserve_in(&mut locked, txid, outpoints)?;
        locked.commit()
    }

    /// Releases `outpoints` whoever holds them; returns how many were reserved.
    pub fn release(&self, outpoints: &[OutPoint]) -> Result<usize, ReservationError> {
        let mut locked = self.lock(true)?;
        let before = locked.state_mut().reservations.len();
        locked
            .state_mut()
            .reservations
            .retain(|r| !outpoints.contains(&r.outpoint));
        let released = before - locked.state_mut().reservations.len();
        locked.dirty = released > 0;
        locked.commit()?;
        Ok(released)
    }

    /// Releases every outpoint held by `txid` (it confirmed, is gone, or was never sent);
    /// returns how many.
    pub fn release_tx(&self, txid: &Txid) -> Result<usize, ReservationError> {
        let mut locked = self.lock(true)?;
        let before = locked.state_mut().reservations.len();
        locked.state_mut().reservations.retain(|r| r.txid != *txid);
        let released = before - locked.state_mut().reservations.len();
        locked.dirty = released > 0;
        locked.commit()?;
        Ok(released)
    }

    /// Whether `outpoint` is reserved (by this or any other process sharing the directory).
    pub fn is_reserved(&self, outpoint: &OutPoint) -> Result<bool, ReservationError> {
        Ok(self.lock(false)?.state().holder(outpoint).is_some())
    }

    /// The transaction holding `outpoint`, if any.
    pub fn holder(&self, outpoint: &OutPoint) -> Result<Option<Txid>, ReservationError> {
        Ok(self.lock(false)?.state().holder(outpoint))
    }

    /// The UTXOs of `utxos` that are not reserved, in order.
    pub fn available(&self, utxos: &[Utxo]) -> Result<Vec<Utxo>, ReservationError> {
        let locked = self.lock(false)?;
        Ok(filter(locked.state(), utxos))
    }

    /// Number of reserved outpoints.
    pub fn len(&self) -> Result<usize, ReservationError> {
        Ok(self.lock(false)?.state().reservations.len())
    }

    /// Whether nothing is reserved.
    pub fn is_empty(&self) -> Result<bool, ReservationError> {
        Ok(self.len()? == 0)
    }

    /// The transactions holding reservations and their outpoints, sorted by txid.
    pub fn pending(&self) -> Result<Vec<(Txid, Vec<OutPoint>)>, ReservationError> {
        let locked = self.lock(false)?;
        let mut map: std::collections::BTreeMap<Txid, Vec<OutPoint>> = Default::default();
        for r in &locked.state().reservations {
            map.entry(r.txid).or_default().push(r.outpoint);
        }
        Ok(map.into_iter().collect())
    }

    /// Builds a transaction from the unreserved part of `utxos` and reserves what it spends,
    /// atomically: no other thread or process sharing the directory can pick the same
    /// outpoints in between. If the transaction is then not broadcast, call
    /// [`Reservations::release_tx`].
    pub fn build_reserved<F>(&self, utxos: &[Utxo], build: F) -> Result<BuiltTx, TxError>
    where
        F: FnOnce(&[Utxo]) -> Result<BuiltTx, TxError>,
    {
        let mut locked = self.lock(true)?;
        let free = filter(locked.state(), utxos);
        let built = build(&free)?;
        reserve_in(&mut locked, built.txid(), &built.spent)?;
        locked.commit()?;
        Ok(built)
    }

    /// Applies one chain status: releases `txid`'s outpoints if it is confirmed or gone.
    /// Returns how many outpoints were released.
    pub fn apply_status(&self, txid: &Txid, status: TxStatus) -> Result<usize, ReservationError> {
        match status {
            TxStatus::Confirmed | TxStatus::Gone => self.release_tx(txid),
            TxStatus::InMempool | TxStatus::Unknown => Ok(0),
        }
    }

    /// Asks `source` about every transaction holding reservations (without holding the lock
    /// while asking) and releases those confirmed or gone. Returns outpoints released.
    pub fn settle<S: TxStatusSource + ?Sized>(
        &self,
        source: &S,
    ) -> Result<usize, ReservationError> {
        let mut released = 0;
        for (txid, _) in self.pending()? {
            let status = source
                .tx_status(&txid)
                .map_err(|e| ReservationError::Status {
                    txid,
                    source: Box::new(e),
                })?;
            released += self.apply_status(&txid, status)?;
        }
        Ok(released)
    }
}

fn filter(state: &State, utxos: &[Utxo]) -> Vec<Utxo> {
    let reserved: std::collections::HashSet<OutPoint> =
        state.reservations.iter().map(|r| r.outpoint).collect();
    utxos
        .iter()
        .filter(|u| !reserved.contains(&u.outpoint))
        .cloned()
        .collect()
}

fn reserve_in(
    locked: &mut Locked<'_>,
    txid: Txid,
    outpoints: &[OutPoint],
) -> Result<(), ReservationError> {
    for outpoint in outpoints {
        if let Some(holder) = locked.state().holder(outpoint) {
            if holder != txid {
                return Err(ReservationError::Conflict {
                    outpoint: *outpoint,
                    holder,
                });
            }
        }
    }
    let at = now();
    for outpoint in outpoints {
        if locked.state().holder(outpoint).is_none() {
            locked.state_mut().reservations.push(Record {
                outpoint: *outpoint,
                txid,
                reserved_at: at,
            });
            locked.dirty = true;
        }
    }
    Ok(())
}

enum Decode {
    Version(u32),
    Corrupt(&'static str),
}

fn encode(state: &State) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + RECORD_LEN * state.reservations.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(state.reservations.len() as u64).to_le_bytes());
    for r in &state.reservations {
        out.extend_from_slice(r.outpoint.txid.as_byte_array());
        out.extend_from_slice(&r.outpoint.vout.to_le_bytes());
        out.extend_from_slice(r.txid.as_byte_array());
        out.extend_from_slice(&r.reserved_at.to_le_bytes());
    }
    out
}

fn decode(bytes: &[u8]) -> Result<State, Decode> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(Decode::Corrupt("not a spool reservation file"));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(Decode::Version(version));
    }
    let count = u64::from_le_bytes(bytes[12..20].try_into().expect("8 bytes"));
    let body = &bytes[HEADER_LEN..];
    if Some(body.len() as u64) != count.checked_mul(RECORD_LEN as u64) {
        return Err(Decode::Corrupt("length does not match the record count"));
    }
    let reservations = body
        .chunks_exact(RECORD_LEN)
        .map(|rec| {
            let txid = |b: &[u8]| Txid::from_byte_array(b.try_into().expect("32 bytes"));
            Record {
                outpoint: OutPoint::new(
                    txid(&rec[..32]),
                    u32::from_le_bytes(rec[32..36].try_into().expect("4 bytes")),
                ),
                txid: txid(&rec[36..68]),
                reserved_at: u64::from_le_bytes(rec[68..76].try_into().expect("8 bytes")),
            }
        })
        .collect();
    Ok(State { reservations })
}
