//! The persistent outpoint reservations: spool-tx's [`ReservationSet`] kept in a data
//! directory and shared by every thread and process that opens it, with what each
//! reservation's transaction is (its owner, its state, what its action claims), and the
//! journal of every broadcast with its raw hex.
//!
//! Files in the directory (the directory is made `0700` and every file `0600`, whatever the
//! umask, so that no other local user can read or lock them):
//! - `reservations.json`: a small JSON document pointing at the log (format below); a
//!   spool-rs that knows only version 3 or older refuses it as an unknown version;
//! - `reservations.log`: the reservations, an append-only log people can read (format
//!   below). A change appends one line and fsyncs the file, so its cost is the size of the
//!   change, not of the store; a log holding more entries (puts and drops) than the live
//!   records plus 256 or a quarter of them, whichever is more, is compacted (the live
//!   records written to `reservations.log.tmp`, fsynced, renamed over the log, the
//!   directory fsynced);
//! - `reservations.lock`: every operation holds std's file lock on it (shared to read,
//!   exclusive to change) and reads what another process changed (only the lines appended
//!   since, while the log is the same file). A lock held elsewhere is waited for at most
//!   [`DEFAULT_LOCK_WAIT`]; the error names the holder's pid where the system tells it
//!   (Linux `/proc/locks`);
//! - `reservations.generation`: a counter bumped before every write, so a process skips
//!   re-reading when nobody changed the set;
//! - `reservations.snapshot`: a cache of the records that a prefix of the log replays to,
//!   in binary, named by that prefix's length and sha256 and used only when the log still
//!   starts with those bytes; rewritten (without fsync) by a commit once the log holds
//!   64 lines beyond it, so that opening a store of a thousand pending
//!   transactions decodes a few dozen lines of JSON, not thousands (see `snapshot`);
//! - `broadcasts.jsonl`: the broadcast journal, one JSON line (`txid`, `at`, `hex`) appended
//!   and fsynced before each transaction is handed to the node; never rewritten;
//! - `reservations.json.v3` (or `.v2`): the document of an earlier spool-rs that held the
//!   records itself, kept after they moved into the log on first open (under the exclusive
//!   lock); `reservations.dat.migrated`: likewise for the binary store of spool-rs before
//!   version 2. Neither is ever discarded.
//!
//! The format (version 4). `reservations.json` (`transactions` is a note for people; it is
//! there because readers of version 3 require the field, and so refuse the version rather
//! than call the file corrupt):
//!
//! ```json
//! {
//!   "format": "spool-rs reservations",
//!   "version": 4,
//!   "log": "reservations.log",
//!   "transactions": "in reservations.log, one line per change"
//! }
//! ```
//!
//! `reservations.log`: lines `<sha256, hex, of the JSON text> <compact JSON>`, each ended by
//! a newline. The first is the header `{"format":"spool-rs reservations log","version":4}`;
//! each other line is one commit (all of it or nothing), `{"drop":["<txid>",...],"put":
//! [<record>,...]}` (either list left out when empty): the transactions whose reservations
//! are gone, then the whole new records of those added or changed. Replaying the commits in
//! order gives the records; a compacted log holds one `put` of one record per line. A record:
//!
//! ```json
//! {
//!   "txid": "<txid of the transaction that spends the outpoints>",
//!   "reserved_at": 1700000000,
//!   "outpoints": ["<txid>:<vout>", "..."],
//!   "owner": { "pid": 4242, "started": 123456 },
//!   "state": "reserved | sending | broadcast | unsure | unsigned",
//!   "sent_at": 1700000001,
//!   "claims": [{ "piece": "<piece address>", "edition": 1 }],
//!   "template": { "hex": "<unsigned tx>", "fee": 30000, "from": "<address>" },
//!   "replaces": ["<txid>"]
//! }
//! ```
//!
//! `template` (only for `unsigned`) is an unsigned action's transaction, keyed by its
//! unsigned txid, that its signed form must match; `replaces` (only for fee bumps) names the
//! transactions a bump replaced, whose outpoints it holds (see [`Template`] and
//! [`Replacement`]).
//!
//! A last line cut short by a crash (no newline, or its text neither matches a checksum nor
//! parses as JSON) is a commit that never returned: readers skip it and the next writer cuts
//! it off before appending. Any other line that fails (its checksum does not match text that
//! still parses, as after a change on disk; or it is before the last line) is corruption,
//! reported with the file, the line number and the remedy; the store is then never written.
//!
//! Version 3 kept the records in `reservations.json` itself, as `"transactions": [<record>,
//! ...]` with `"checksum"`, the sha256 of `transactions` as compact JSON with sorted keys;
//! version 2 had no checksum and records without `owner`, `state`, `sent_at` and `claims`.
//! Both are migrated on first open.
//!
//! Times are seconds since the Unix epoch. `owner` is the process that reserved (`started`:
//! its start time, Linux clock ticks since boot, telling a reused pid apart). `state` is
//! `reserved` until the transaction is handed to the node, `sending` from the moment it is
//! journalled until the node answers, `broadcast` once the node accepted it, `unsure` when
//! the broadcast call failed without a refusal; `unsigned` is an unsigned action (a PSBT
//! written for a signer elsewhere), released only by hand or when its signed form is
//! broadcast. A transaction the node does not know is
//! released only when it is `broadcast` (the node dropped it) or `unsure`, or its owner is
//! provably dead; a live process's reservation is never taken from it. A claim
//! (`edition` null: the number of editions) is what the action changes; another action on
//! the same claim is refused while the transaction is pending, unless its pre-check saw that
//! transaction. Readers ignore fields they do not know.
//!
//! The module's parts: `error` (StoreError), `record` (records, owners and their liveness,
//! the journal's lines), `files` (paths in errors, the clock, atomic replacement, private
//! files, lock holders), `lock` (the files under one lock, reading and committing, the
//! in-memory copy), `document` and `log` (the two file formats), `snapshot` (the log's
//! cache), `legacy` (the binary store
//! before version 2), `unsigned` and `bump` (templates and replacements), `shared` (the
//! [`spool_tx::claims::ReservationStore`] implementation); the public API, [`Reservations`],
//! is here.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::hashes::Hash;
use bitcoin::{OutPoint, Txid};
use serde::{Deserialize, Serialize};
use spool_protocol::chain::TxStatus;
use spool_tx::{Reservation, ReservationConflict, ReservationSet, Utxo};

use self::document::Found;
use self::log::{Durability, LogView};

mod bump;
mod document;
mod error;
mod files;
mod legacy;
mod lock;
mod log;
mod record;
mod shared;
mod snapshot;
mod unsigned;

pub use self::error::StoreError;
#[allow(unused_imports)]
use self::files::*;
#[allow(unused_imports)]
use self::lock::*;
#[allow(unused_imports)]
use self::record::*;
pub use self::record::{JournalEntry, NewReservation, Owner, Record};

pub use self::bump::Replacement;
pub use self::unsigned::Template;

const STATE_FILE: &str = "reservations.json";
const LOG_FILE: &str = "reservations.log";
const LEGACY_FILE: &str = "reservations.dat";
const LEGACY_KEPT: &str = "reservations.dat.migrated";
const LOCK_FILE: &str = "reservations.lock";
const GENERATION_FILE: &str = "reservations.generation";
const SNAPSHOT_FILE: &str = "reservations.snapshot";
/// A commit writes a new `reservations.snapshot` when the log holds this many lines beyond
/// the last one: a process opening the store decodes fewer lines of JSON than this.
const SNAPSHOT_EVERY: usize = 64;
const JOURNAL_FILE: &str = "broadcasts.jsonl";
const FORMAT: &str = "spool-rs reservations";
const FORMAT_VERSION: u32 = 4;
/// The log is compacted when it holds more entries (puts and drops) than the live records
/// plus this many or a quarter of them, whichever is more: every process reads the whole log
/// when it opens the store, so it is kept close to the live records (each compaction writes
/// the live records once per at least a quarter as many appended entries).
const COMPACT_MIN: usize = 256;
/// How long an operation waits for a file lock held by another process before giving up.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(30);

// The reservation rules (claims, states, release) are spool-tx's, shared with spool serve's
// store: this module keeps them in a data directory.
pub use spool_tx::claims::{Claim, TxState};

/// A view of the reservations, read in place ([`Reservations::inspect`]).
#[derive(Debug, Clone, Copy)]
pub struct RecordsView<'a> {
    records: &'a BTreeMap<Txid, Record>,
    set: &'a ReservationSet,
}

impl<'a> RecordsView<'a> {
    /// Every reservation, by txid.
    pub fn iter(&self) -> impl Iterator<Item = &'a Record> {
        self.records.values()
    }

    /// The reservation of `txid`.
    pub fn get(&self, txid: &Txid) -> Option<&'a Record> {
        self.records.get(txid)
    }

    /// The transaction holding `outpoint`.
    pub fn holder(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.set.holder(outpoint)
    }
}

/// The reservation set: thread-safe, optionally persisted in a data directory.
#[derive(Debug)]
pub struct Reservations {
    store: Option<Store>,
    cache: Mutex<Cached>,
}

impl Reservations {
    /// Opens (creating if needed) the reservation store in `dir`, moving a store of an
    /// earlier format (a version 2 or 3 `reservations.json`, a binary `reservations.dat`)
    /// into the log on first open. The directory is made `0700`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the directory or files cannot be created, read or locked, or the
    /// store is corrupt (it is then left as it is).
    pub fn open(dir: &Path) -> Result<Reservations, StoreError> {
        Reservations::open_with_lock_wait(dir, DEFAULT_LOCK_WAIT)
    }

    /// [`Reservations::open`], waiting at most `lock_wait` for a lock another process holds.
    ///
    /// # Errors
    ///
    /// As [`Reservations::open`].
    pub fn open_with_lock_wait(
        dir: &Path,
        lock_wait: Duration,
    ) -> Result<Reservations, StoreError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(io(dir, "create directory"))?;
        restrict(dir, 0o700).map_err(io(dir, "set permissions"))?;
        let lock_path = dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let lock = options
            .open(&lock_path)
            .map_err(io(&lock_path, "open lock file"))?;
        restrict(&lock_path, 0o600).map_err(io(&lock_path, "set permissions"))?;
        let store = Store {
            dir: dir.to_owned(),
            file: dir.join(STATE_FILE),
            log: dir.join(LOG_FILE),
            lock_path,
            generation_path: dir.join(GENERATION_FILE),
            snapshot: dir.join(SNAPSHOT_FILE),
            lock,
            lock_wait,
        };
        for name in [STATE_FILE, LOG_FILE, GENERATION_FILE, JOURNAL_FILE] {
            let path = dir.join(name);
            if path.exists() {
                restrict(&path, 0o600).map_err(io(&path, "set permissions"))?;
            }
        }
        if !matches!(document::read(&store.file)?, Found::Pointer) {
            store.acquire(true)?;
            let upgraded = store.upgrade();
            let _ = store.lock.unlock();
            upgraded?;
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

    /// The reservations document (`<dir>/reservations.json`, pointing at the log), if
    /// persisted.
    pub fn path(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.file.as_path())
    }

    /// The reservation log (`<dir>/reservations.log`), if persisted.
    pub fn log_path(&self) -> Option<&Path> {
        self.store.as_ref().map(|s| s.log.as_path())
    }

    /// The broadcast journal (`<dir>/broadcasts.jsonl`), if persisted.
    pub fn journal_path(&self) -> Option<PathBuf> {
        self.store.as_ref().map(|s| s.dir.join(JOURNAL_FILE))
    }

    fn lock(&self, exclusive: bool) -> Result<Locked<'_>, StoreError> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let mut locked = Locked { owner: self, cache };
        if let Some(store) = &self.store {
            store.acquire(exclusive)?;
            // From here on `locked` unlocks the file when dropped.
            store.refresh(&mut locked.cache)?;
        }
        Ok(locked)
    }

    /// Runs `change` on the set under the exclusive lock (no other thread or process sharing
    /// the directory sees or changes the set in between) and saves the set if `change`
    /// succeeded and changed it. On an error nothing is saved. Transactions it adds are
    /// recorded as reserved by this process.
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
        locked.replace_set(set)?;
        Ok(value)
    }

    /// Under one exclusive lock: refuses if a pending transaction that is not in `seen`
    /// claims any of `claims`, then runs `build` on the set and reserves what it returns,
    /// recording this process as the owner and the claims.
    ///
    /// # Errors
    ///
    /// [`StoreError::Claimed`] (nothing is built), `build`'s error, [`StoreError::Conflict`]
    /// or a failure of the store; nothing is reserved then.
    pub fn reserve_claimed<T, E>(
        &self,
        claims: &[Claim],
        seen: &HashSet<Txid>,
        build: impl FnOnce(&ReservationSet) -> Result<(T, NewReservation), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut locked = self.lock(true)?;
        let pending = locked
            .cache
            .records
            .values()
            .map(|record| spool_tx::claims::Pending {
                txid: record.txid,
                state: record.state,
                claims: &record.claims,
            });
        if let Err(conflict) = spool_tx::claims::check_claims(claims, seen, pending) {
            return Err(StoreError::Claimed {
                claim: conflict.claim,
                holder: conflict.holder,
                state: conflict.state,
            }
            .into());
        }
        let (value, new) = build(&locked.cache.set)?;
        let at = now();
        // In place: a conflict is found before anything changes.
        locked
            .cache
            .set
            .reserve(new.txid, &new.outpoints, at)
            .map_err(StoreError::from)?;
        let reservation = locked
            .cache
            .set
            .get(&new.txid)
            .cloned()
            .expect("reserved just above");
        let mut record = match locked.cache.records.get(&new.txid) {
            Some(old) => Record {
                outpoints: reservation.outpoints.clone(),
                ..old.clone()
            },
            None => Record::new(
                new.txid,
                reservation.outpoints.clone(),
                reservation.reserved_at,
            ),
        };
        record.claims = new.claims;
        if let Some(template) = new.template {
            record.state = TxState::Unsigned;
            record.template = Some(template);
        }
        record.replaces = new.replaces;
        // One write: the set and the new record together.
        locked.cache.records.insert(new.txid, record);
        locked.commit(&[], &[new.txid])?;
        Ok(value)
    }

    /// Journals `txid` as being handed to the node now: appends it to `broadcasts.jsonl`
    /// and marks its reservation `sending`. Call it right before broadcasting.
    ///
    /// # Errors
    ///
    /// A failure of the store (then do not broadcast).
    pub fn mark_sending(&self, txid: &Txid, hex: &str) -> Result<(), StoreError> {
        let mut locked = self.lock(true)?;
        let at = now();
        if let Some(store) = &self.store {
            store.journal(*txid, at, hex)?;
        }
        if let Some(record) = locked.cache.records.get_mut(txid) {
            record.state = TxState::Sending;
            record.sent_at = Some(at);
            locked.commit(&[], &[*txid])?;
        }
        Ok(())
    }

    /// Marks `txid` as accepted by the node (from now on, a node that no longer knows it
    /// dropped it, and its outpoints are released).
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn mark_broadcast(&self, txid: &Txid) -> Result<(), StoreError> {
        // Not fsynced: lost to a power cut, the record is left `sending` (fsynced before the
        // send), which the release rule settles by asking the backend, as it does this one.
        self.mark_as(txid, TxState::Broadcast, Durability::Written)
    }

    /// Marks `txid` as `unsure`: the broadcast call failed without a refusal.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn mark_unsure(&self, txid: &Txid) -> Result<(), StoreError> {
        self.mark(txid, TxState::Unsure)
    }

    fn mark(&self, txid: &Txid, state: TxState) -> Result<(), StoreError> {
        self.mark_as(txid, state, Durability::Synced)
    }

    fn mark_as(
        &self,
        txid: &Txid,
        state: TxState,
        durability: Durability,
    ) -> Result<(), StoreError> {
        let mut locked = self.lock(true)?;
        if let Some(record) = locked.cache.records.get_mut(txid) {
            record.state = state;
            locked.commit_as(&[], &[*txid], durability)?;
        }
        Ok(())
    }

    /// The broadcast journal, oldest first (a line cut short by a crash is skipped).
    ///
    /// # Errors
    ///
    /// The journal exists but cannot be read.
    pub fn journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let Some(path) = self.journal_path() else {
            return Ok(Vec::new());
        };
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path, "read")(e)),
        };
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// Every reservation with what is known about it, by txid.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn records(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self.lock(false)?.cache.records.values().cloned().collect())
    }

    /// Runs `f` over the reservations in place, under the store's shared lock, without
    /// copying them (`f` must not call the store).
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn inspect<T>(&self, f: impl FnOnce(&RecordsView<'_>) -> T) -> Result<T, StoreError> {
        let locked = self.lock(false)?;
        Ok(f(&RecordsView {
            records: &locked.cache.records,
            set: &locked.cache.set,
        }))
    }

    /// The reservation of `txid`, if any.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn record(&self, txid: &Txid) -> Result<Option<Record>, StoreError> {
        Ok(self.lock(false)?.cache.records.get(txid).cloned())
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

    /// Releases every outpoint held by `txid` (it confirmed, was refused, or is released by
    /// hand); returns how many.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn release_tx(&self, txid: &Txid) -> Result<usize, StoreError> {
        self.update(|set| Ok(set.release_tx(txid)))
    }

    /// Applies one chain status: releases `txid`'s outpoints if it is confirmed, or if the
    /// node does not know it and [`Record::released_by`] says so (broadcast and dropped, or
    /// its owner provably dead). Returns how many outpoints were released.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn apply_status(&self, txid: &Txid, status: TxStatus) -> Result<usize, StoreError> {
        self.apply_statuses(&[(*txid, status)])
    }

    /// [`Reservations::apply_status`] for many transactions under one lock, with at most one
    /// write. Returns how many outpoints were released.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn apply_statuses(&self, statuses: &[(Txid, TxStatus)]) -> Result<usize, StoreError> {
        if statuses.is_empty() {
            return Ok(0);
        }
        let mut locked = self.lock(true)?;
        let mut set = locked.cache.set.clone();
        let mut released = 0;
        for (txid, status) in statuses {
            if locked
                .cache
                .records
                .get(txid)
                .is_some_and(|record| record.released_by(*status))
            {
                released += set.release_tx(txid);
            }
        }
        if released > 0 {
            locked.replace_set(set)?;
        }
        Ok(released)
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
        assert_eq!(json["version"], 4);
        assert_eq!(json["log"], LOG_FILE);
        let log = fs::read_to_string(dir.path().join(LOG_FILE)).unwrap();
        assert_eq!(
            log.lines().count(),
            3,
            "a header and one line per transaction: {log}"
        );
        assert!(log.contains(&format!("\"{}:1\"", txid(1))), "{log}");
        drop(res);
        // A second open reads the log; the kept binary file plays no part any more.
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
        assert!(!dir.path().join(LOG_FILE).exists());
    }

    fn put(res: &Reservations, n: u8) {
        res.reserve(txid(n), &[OutPoint::new(txid(200), n.into())])
            .unwrap();
    }

    #[test]
    fn a_change_appends_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let res = Reservations::open(dir.path()).unwrap();
        let log = dir.path().join(LOG_FILE);
        for n in 0..20 {
            put(&res, n);
        }
        let before = fs::read(&log).unwrap();
        res.mark_broadcast(&txid(3)).unwrap();
        let after = fs::read(&log).unwrap();
        assert_eq!(&after[..before.len()], &before[..], "nothing rewritten");
        let added = std::str::from_utf8(&after[before.len()..]).unwrap();
        assert_eq!(added.matches('\n').count(), 1, "{added}");
        assert!(added.contains("\"state\":\"broadcast\""), "{added}");
        assert!(
            !added.contains(&txid(4).to_string()),
            "only the change: {added}"
        );
        // Another handle (another process) reads only what was appended, and sees it.
        let other = Reservations::open(dir.path()).unwrap();
        res.release_tx(&txid(5)).unwrap();
        assert_eq!(
            other.record(&txid(3)).unwrap().unwrap().state,
            TxState::Broadcast
        );
        assert!(other.record(&txid(5)).unwrap().is_none());
        assert_eq!(other.records().unwrap(), res.records().unwrap());
    }

    #[test]
    fn the_log_is_compacted_and_keeps_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_FILE);
        let res = Reservations::open(dir.path()).unwrap();
        let other = Reservations::open(dir.path()).unwrap();
        for n in 0..100 {
            put(&res, n);
        }
        assert_eq!(other.len().unwrap(), 100);
        let mut compacted = false;
        let mut lines = fs::read_to_string(&log).unwrap().lines().count();
        // Marking changes records without adding any: the log grows until compacted.
        for round in 0..4 {
            for n in 0..100 {
                if round % 2 == 0 {
                    res.mark_broadcast(&txid(n)).unwrap();
                } else {
                    res.mark_unsure(&txid(n)).unwrap();
                }
                let now = fs::read_to_string(&log).unwrap().lines().count();
                if now < lines {
                    compacted = true;
                    assert_eq!(now, 101, "the header and one line per record");
                }
                lines = now;
            }
        }
        assert!(compacted, "500 entries for 100 records exceed 100 + 256");
        assert!(lines <= 1 + 356, "{lines}");
        let records = res.records().unwrap();
        assert_eq!(records.len(), 100);
        assert!(records.iter().all(|r| r.state == TxState::Unsure));
        // The other handle read a file that was replaced meanwhile: it reads the new one.
        assert_eq!(other.records().unwrap(), records);
        drop((res, other));
        let reopened = Reservations::open(dir.path()).unwrap();
        assert_eq!(reopened.records().unwrap(), records);
        assert_eq!(reopened.snapshot().unwrap().len(), 100);
    }

    #[test]
    fn a_long_log_reads_the_same_on_two_threads_and_names_a_changed_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_FILE);
        let res = Reservations::open(dir.path()).unwrap();
        // 200 records and 200 marks: 400 lines after the header, read in two halves.
        for n in 0..200 {
            put(&res, n);
        }
        for n in 0..200 {
            res.mark_broadcast(&txid(n)).unwrap();
        }
        let lines = fs::read_to_string(&log).unwrap().lines().count();
        assert!(lines > 256, "{lines}");
        let records = res.records().unwrap();
        drop(res);
        let reopened = Reservations::open(dir.path()).unwrap();
        assert_eq!(reopened.records().unwrap(), records);
        assert!(records.iter().all(|r| r.state == TxState::Broadcast));
        drop(reopened);
        // A line changed on disk in the second half is still named, by its number, though
        // a snapshot stands for the lines up to it or beyond.
        assert!(dir.path().join(SNAPSHOT_FILE).exists());
        let text = fs::read_to_string(&log).unwrap();
        let mut changed: Vec<String> = text.lines().map(str::to_owned).collect();
        changed[300] = changed[300].replace("broadcast", "unsure");
        fs::write(&log, changed.join("\n") + "\n").unwrap();
        let err = Reservations::open(dir.path())
            .and_then(|r| r.records())
            .unwrap_err();
        assert!(err.to_string().contains("line 301"), "{err}");
    }

    #[test]
    fn a_store_opens_from_its_snapshot_and_the_lines_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join(SNAPSHOT_FILE);
        let res = Reservations::open(dir.path()).unwrap();
        for n in 0..50 {
            put(&res, n);
        }
        assert!(!snapshot.exists(), "no snapshot for a short log");
        for n in 0..30 {
            res.mark_broadcast(&txid(n)).unwrap();
        }
        assert!(snapshot.exists(), "80 lines: a snapshot");
        // Lines after the snapshot: read as JSON on top of it.
        res.release_tx(&txid(40)).unwrap();
        res.mark_unsure(&txid(41)).unwrap();
        let records = res.records().unwrap();
        let reopened = Reservations::open(dir.path()).unwrap();
        assert_eq!(reopened.records().unwrap(), records);
        assert_eq!(reopened.snapshot().unwrap(), res.snapshot().unwrap());
        // The same without the snapshot, or with a damaged one.
        fs::write(&snapshot, b"junk").unwrap();
        assert_eq!(
            Reservations::open(dir.path()).unwrap().records().unwrap(),
            records
        );
        fs::remove_file(&snapshot).unwrap();
        assert_eq!(
            Reservations::open(dir.path()).unwrap().records().unwrap(),
            records
        );
        // A snapshot that stands for the log's bytes is taken as their replay: here one
        // written with a record less shows that the lines it covers were not decoded.
        let bytes = fs::read(dir.path().join(LOG_FILE)).unwrap();
        let mut fewer: BTreeMap<Txid, Record> =
            records.iter().map(|r| (r.txid, r.clone())).collect();
        fewer.remove(&txid(7));
        let prefix = snapshot::Prefix {
            end: bytes.len() as u64,
            lines: bytes.iter().filter(|b| **b == b'\n').count(),
            entries: 0,
            digest: bitcoin::hashes::sha256::Hash::hash(&bytes),
        };
        snapshot::write(&snapshot, &prefix, &fewer).unwrap();
        let from_snapshot = Reservations::open(dir.path()).unwrap();
        assert_eq!(from_snapshot.len().unwrap(), records.len() - 1);
        assert!(from_snapshot.record(&txid(7)).unwrap().is_none());
    }
}
