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
use self::log::LogView;

mod bump;
mod document;
mod log;
mod shared;
mod unsigned;

pub use self::bump::Replacement;
pub use self::unsigned::Template;

const STATE_FILE: &str = "reservations.json";
const LOG_FILE: &str = "reservations.log";
const LEGACY_FILE: &str = "reservations.dat";
const LEGACY_KEPT: &str = "reservations.dat.migrated";
const LOCK_FILE: &str = "reservations.lock";
const GENERATION_FILE: &str = "reservations.generation";
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
    /// A file of the store (`reservations.json`, a line of `reservations.log` before its
    /// last, or an earlier format's file) does not parse or fails its checksum (the store is
    /// never written in that case). The message says how to recover: move that file aside.
    #[error(
        "reservation file {path} is corrupt: {reason}; to recover, move it aside \
         (mv {path} {path}.corrupt) and run again: this forgets which outputs your unconfirmed \
         spool transactions spend, so let them confirm before the next action from the same \
         wallet (the chain and your wallets are not affected)",
        path = .path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file of the store was written in a newer, unknown format version.
    #[error("reservation file {} has unknown format version {version}", .path.display())]
    UnknownVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// Another process held the store's lock for longer than allowed.
    #[error(
        "reservation store {} is locked by another process{} and stayed locked for {}s; \
         if that process hangs, end it and run again",
        .path.display(),
        .holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        .waited.as_secs()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// The process holding it, when the system tells.
        holder: Option<u32>,
        /// How long was waited.
        waited: Duration,
    },
    /// An outpoint is already reserved by another transaction.
    #[error(transparent)]
    Conflict(#[from] ReservationConflict),
    /// What the action changes is claimed by a pending transaction its pre-check did not see.
    #[error(
        "{claim} has a pending action in transaction {holder} ({state}) that has not \
         confirmed; wait for it (spool wait {holder}) and try again"
    )]
    Claimed {
        /// The contested claim.
        claim: Claim,
        /// The pending transaction holding it.
        holder: Txid,
        /// Its state.
        state: TxState,
    },
    /// No reservation of that transaction.
    #[error("no reservation of transaction {txid}")]
    NotReserved {
        /// The transaction asked for.
        txid: Txid,
    },
    /// An unsigned action's template does not decode.
    #[error("the template of an unsigned action does not decode: {reason}")]
    BadTemplate {
        /// Why.
        reason: String,
    },
}

// The reservation rules (claims, states, release) are spool-tx's, shared with spool serve's
// store: this module keeps them in a data directory.
pub use spool_tx::claims::{Claim, TxState};

/// The process that made a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Its process id.
    pub pid: u32,
    /// Its start time (Linux: clock ticks since boot), telling a reused pid apart.
    #[serde(default)]
    pub started: Option<u64>,
}

impl Owner {
    /// The running process.
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            started: proc_stat(pid).map(|(_, started)| started),
        }
    }

    /// Whether the owner still runs: `Some(false)` only when provably not (no such process,
    /// a zombie, or another process under its pid); `None` when the system does not tell.
    pub fn is_alive(&self) -> Option<bool> {
        // A system without /proc tells nothing.
        proc_stat(std::process::id())?;
        match proc_stat(self.pid) {
            None => Some(false),
            Some((state, _)) if state == 'Z' || state == 'X' => Some(false),
            Some((_, started)) => Some(self.started.is_none_or(|s| s == started)),
        }
    }
}

/// The state letter and start time of process `pid` (Linux `/proc/<pid>/stat`).
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = text.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((state, started))
}

/// One transaction's reservation and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The transaction.
    pub txid: Txid,
    /// When its outpoints were reserved.
    pub reserved_at: u64,
    /// The outpoints it spends.
    pub outpoints: Vec<OutPoint>,
    /// The process that reserved them (`None` in stores of version 2).
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Its state (stores of version 2: `broadcast`, their old meaning).
    #[serde(default = "legacy_state")]
    pub state: TxState,
    /// When it was handed to the node.
    #[serde(default)]
    pub sent_at: Option<u64>,
    /// What its action changes.
    #[serde(default)]
    pub claims: Vec<Claim>,
    /// The unsigned transaction of an unsigned action ([`TxState::Unsigned`]): the
    /// template its signed form must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Template>,
    /// The transactions this one replaces (a fee bump): their outpoints are among its own,
    /// held until this one or one of them confirms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<Txid>,
}

fn legacy_state() -> TxState {
    TxState::Broadcast
}

impl Record {
    fn new(txid: Txid, outpoints: Vec<OutPoint>, at: u64) -> Record {
        Record {
            txid,
            reserved_at: at,
            outpoints,
            owner: Some(Owner::this_process()),
            state: TxState::Reserved,
            sent_at: None,
            claims: Vec::new(),
            template: None,
            replaces: Vec::new(),
        }
    }

    /// Whether a status of the node releases this reservation: confirmed always; unknown to
    /// the node (`Gone`) only once broadcast, or when the owner is provably dead.
    pub fn released_by(&self, status: TxStatus) -> bool {
        let maker = match self.owner.map(|owner| owner.is_alive()) {
            None | Some(Some(false)) => spool_tx::claims::Maker::Gone,
            Some(Some(true)) => spool_tx::claims::Maker::Alive,
            Some(None) => spool_tx::claims::Maker::Unknown,
        };
        spool_tx::claims::released_by(self.state, status, maker)
    }
}

/// A new reservation taken by [`Reservations::reserve_claimed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReservation {
    /// The transaction.
    pub txid: Txid,
    /// The outpoints it spends.
    pub outpoints: Vec<OutPoint>,
    /// What its action changes.
    pub claims: Vec<Claim>,
    /// For an unsigned action: its template (the reservation is then [`TxState::Unsigned`]).
    pub template: Option<Template>,
    /// For an unsigned fee bump: the transactions it replaces (their reservations are
    /// merged into its own when its signed form is broadcast).
    pub replaces: Vec<Txid>,
}

/// One line of the broadcast journal.
#[derive(Debug, Serialize)]
struct JournalLine<'a> {
    txid: Txid,
    at: u64,
    hex: &'a str,
}

/// One broadcast as the journal (`broadcasts.jsonl`) recorded it, before it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JournalEntry {
    /// The transaction.
    pub txid: Txid,
    /// When it was handed to the node (seconds since the Unix epoch).
    pub at: u64,
    /// The signed transaction, hex.
    pub hex: String,
}

#[derive(Debug)]
struct Store {
    dir: PathBuf,
    file: PathBuf,
    log: PathBuf,
    lock_path: PathBuf,
    generation_path: PathBuf,
    lock: File,
    lock_wait: Duration,
}

/// The in-memory copy and the store generation it reflects (`None`: must reload).
#[derive(Debug, Default)]
struct Cached {
    set: ReservationSet,
    records: BTreeMap<Txid, Record>,
    generation: Option<u64>,
    /// What was read of the log (`None`: no log file, or must be read again from its start).
    log: Option<LogView>,
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

/// Replaces `path` (in `dir`) by `bytes` atomically: written to a private `<name>.tmp`
/// beside it, fsynced, renamed over it, and the directory fsynced so that the rename lasts.
fn replace_file(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = private_file(&tmp, false).map_err(io(&tmp, "create"))?;
    restrict(&tmp, 0o600).map_err(io(&tmp, "set permissions"))?;
    f.write_all(bytes).map_err(io(&tmp, "write"))?;
    f.sync_all().map_err(io(&tmp, "fsync"))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io(path, "rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "fsync directory"))
}

/// Opens `path` for writing with mode 0600 (owner only) when it is created.
fn private_file(path: &Path, append: bool) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).write(true);
    if append {
        options.append(true);
    } else {
        options.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Makes `path` accessible to its owner only (`0700` for the directory, `0600` for files).
#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path)?.permissions().mode() & 0o777;
    if current != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// The pid holding a lock on `file`, from Linux's `/proc/locks`.
fn lock_holder(file: &File) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let inode = file.metadata().ok()?.ino();
        let locks = fs::read_to_string("/proc/locks").ok()?;
        locks.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (blocked waiters carry "->").
            if fields.get(1) == Some(&"->") {
                return None;
            }
            let id = fields.get(5)?;
            let ino: u64 = id.rsplit(':').next()?.parse().ok()?;
            (ino == inode)
                .then(|| fields.get(4)?.parse().ok())
                .flatten()
        })
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
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
        private_file(path, false)
            .and_then(|mut f| f.write_all(generation.to_string().as_bytes()))
            .map_err(io(path, "write"))
    }

    /// Brings `cached` up to date with the log: nothing is read when the generation and the
    /// log file are as last seen, only the lines appended since when the same file grew,
    /// else the whole log. On an error the cache is left to be read again from the start.
    fn refresh(&self, cached: &mut Cached) -> Result<(), StoreError> {
        let generation = self.generation();
        let meta = match fs::metadata(&self.log) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&self.log, "stat")(e)),
        };
        let unchanged = match (&cached.log, &meta) {
            (Some(view), Some(meta)) => view.is_current(meta),
            (None, None) => true,
            _ => false,
        };
        if generation.is_some() && generation == cached.generation && unchanged {
            return Ok(());
        }
        cached.generation = None;
        let view = match (cached.log.take(), meta) {
            // No log (moved aside to recover from corruption): no reservations.
            (_, None) => {
                cached.records.clear();
                cached.set = ReservationSet::new();
                None
            }
            (Some(mut view), Some(meta)) if view.continues_in(&meta) => {
                view.read(&self.log, &mut cached.records, &mut cached.set)?;
                Some(view)
            }
            (_, Some(_)) => {
                cached.records.clear();
                cached.set = ReservationSet::new();
                let mut view = LogView::open(&self.log)?;
                view.read(&self.log, &mut cached.records, &mut cached.set)?;
                Some(view)
            }
        };
        cached.log = view;
        cached.generation = generation;
        Ok(())
    }

    /// Makes the directory a store of the current version, under the exclusive lock: the
    /// records of a version 2 or 3 `reservations.json` move into a new log (the document is
    /// kept as `reservations.json.v<version>`), a binary store likewise (kept as
    /// `reservations.dat.migrated`), a directory without a store gets an empty log; then the
    /// pointer is written. Does nothing when another process did it meanwhile.
    fn upgrade(&self) -> Result<(), StoreError> {
        match document::read(&self.file)? {
            Found::Pointer => return Ok(()),
            Found::Records { version, records } => {
                let records: BTreeMap<Txid, Record> =
                    records.into_iter().map(|r| (r.txid, r)).collect();
                set_of(&records).map_err(|conflict| StoreError::Corrupt {
                    path: self.file.clone(),
                    reason: conflict.to_string(),
                })?;
                log::write(&self.dir, &self.log, &records)?;
                self.keep_document(version)?;
                document::write_pointer(&self.dir, &self.file)?;
            }
            Found::Missing => {
                let legacy = self.dir.join(LEGACY_FILE);
                if self.log.exists() {
                    // Only the pointer was moved aside: the log holds the records.
                } else if legacy.exists() {
                    self.migrate_binary(&legacy)?;
                } else {
                    log::write(&self.dir, &self.log, &BTreeMap::new())?;
                }
                document::write_pointer(&self.dir, &self.file)?;
                if legacy.exists() && !self.dir.join(LEGACY_KEPT).exists() {
                    let kept = self.dir.join(LEGACY_KEPT);
                    fs::rename(&legacy, &kept).map_err(io(&legacy, "rename"))?;
                }
            }
        }
        let next = self.generation().map_or(1, |g| g + 1);
        self.write_generation(next)
    }

    /// Keeps the document of `version` beside the store as `reservations.json.v<version>`
    /// (a second name of the same file, which the pointer then replaces); a name already
    /// taken by other content gets a numbered suffix.
    fn keep_document(&self, version: u32) -> Result<(), StoreError> {
        let name = format!("{STATE_FILE}.v{version}");
        let content = fs::read(&self.file).map_err(io(&self.file, "read"))?;
        let mut kept = self.dir.join(&name);
        let mut n = 0;
        while kept.exists() {
            if fs::read(&kept).ok().as_deref() == Some(content.as_slice()) {
                return Ok(());
            }
            n += 1;
            kept = self.dir.join(format!("{name}.{n}"));
        }
        fs::hard_link(&self.file, &kept)
            .or_else(|_| fs::copy(&self.file, &kept).map(drop))
            .map_err(io(&kept, "keep the previous version"))
    }

    /// Appends one line to the broadcast journal and fsyncs it.
    fn journal(&self, txid: Txid, at: u64, hex: &str) -> Result<(), StoreError> {
        let path = self.dir.join(JOURNAL_FILE);
        let mut line = serde_json::to_vec(&JournalLine { txid, at, hex }).expect("serialises");
        line.push(b'\n');
        let mut f = private_file(&path, true).map_err(io(&path, "open"))?;
        f.write_all(&line).map_err(io(&path, "append"))?;
        f.sync_all().map_err(io(&path, "fsync"))
    }

    /// Takes the file lock. While other processes make progress (the generation or the
    /// holder changes) it waits on; a lock held by one holder without progress for
    /// `lock_wait` is given up, naming the holder.
    fn acquire(&self, exclusive: bool) -> Result<(), StoreError> {
        use std::fs::TryLockError;
        let mut started = Instant::now();
        let mut pause = Duration::from_millis(1);
        let mut seen = None;
        loop {
            let tried = if exclusive {
                self.lock.try_lock()
            } else {
                self.lock.try_lock_shared()
            };
            match tried {
                Ok(()) => return Ok(()),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io(&self.lock_path, "lock")(e)),
            }
            let now_seen = Some((self.generation(), lock_holder(&self.lock)));
            if now_seen != seen {
                seen = now_seen;
                started = Instant::now();
            }
            let waited = started.elapsed();
            if waited >= self.lock_wait {
                return Err(StoreError::LockTimeout {
                    path: self.lock_path.clone(),
                    holder: lock_holder(&self.lock),
                    waited,
                });
            }
            std::thread::sleep(pause.min(self.lock_wait - waited));
            pause = (pause * 2).min(Duration::from_millis(4));
        }
    }

    /// Writes the records of the binary store `legacy` (before version 2) into a new log.
    fn migrate_binary(&self, legacy: &Path) -> Result<(), StoreError> {
        let bytes = fs::read(legacy).map_err(io(legacy, "read"))?;
        let set = legacy::decode(&bytes).map_err(|reason| match reason {
            legacy::Decode::Version(version) => StoreError::UnknownVersion {
                path: legacy.to_owned(),
                version,
            },
            legacy::Decode::Corrupt(reason) => StoreError::Corrupt {
                path: legacy.to_owned(),
                reason: reason.to_owned(),
            },
        })?;
        let records = set
            .reservations()
            .map(|r| {
                (
                    r.txid,
                    Record {
                        owner: None,
                        state: TxState::Broadcast,
                        ..Record::new(r.txid, r.outpoints.clone(), r.reserved_at)
                    },
                )
            })
            .collect();
        log::write(&self.dir, &self.log, &records).map(drop)
    }
}

/// The set under the in-process mutex and, when persisted, the file lock.
struct Locked<'a> {
    owner: &'a Reservations,
    cache: MutexGuard<'a, Cached>,
}

impl Locked<'_> {
    /// Saves a change already made to the cache: drops `drop`, puts the records of `put`, as
    /// one line appended to the log (after bumping the generation); then compacts the log
    /// when it holds more entries than the live records plus [`COMPACT_MIN`] or a quarter of
    /// them.
    fn commit(&mut self, drop: &[Txid], put: &[Txid]) -> Result<(), StoreError> {
        let Some(store) = &self.owner.store else {
            return Ok(());
        };
        if drop.is_empty() && put.is_empty() {
            return Ok(());
        }
        let cache = &mut *self.cache;
        // Until the append succeeds the cache may be ahead of the disk: distrust it (a later
        // operation reads the whole log again).
        let view = cache.log.take();
        let next = cache.generation.take().map_or(1, |g| g + 1);
        store.write_generation(next)?;
        let mut view = match view {
            Some(mut view) => {
                let records = put.iter().filter_map(|t| cache.records.get(t)).collect();
                let (line, entries) = log::commit_line(drop, records);
                view.append(&store.log, &line, entries)?;
                view
            }
            // No log file (moved aside): a new one with every record.
            None => log::write(&store.dir, &store.log, &cache.records)?,
        };
        let live = cache.records.len();
        if view.entries() > live + COMPACT_MIN.max(live / 4) {
            // The change is saved whatever happens here; a compaction that fails is tried
            // again at the next commit (and a log replaced meanwhile is noticed on reading).
            if let Ok(compacted) = log::write(&store.dir, &store.log, &cache.records) {
                view = compacted;
            }
        }
        cache.log = Some(view);
        cache.generation = Some(next);
        Ok(())
    }

    /// Replaces the set, keeping each surviving transaction's record (new ones get a record
    /// owned by this process), and saves what changed.
    fn replace_set(&mut self, set: ReservationSet) -> Result<(), StoreError> {
        if set == self.cache.set {
            return Ok(());
        }
        let mut records = BTreeMap::new();
        let mut put = Vec::new();
        for r in set.reservations() {
            let record = match self.cache.records.remove(&r.txid) {
                Some(old) if old.outpoints == r.outpoints => old,
                Some(old) => {
                    put.push(r.txid);
                    Record {
                        outpoints: r.outpoints.clone(),
                        ..old
                    }
                }
                None => {
                    put.push(r.txid);
                    Record::new(r.txid, r.outpoints.clone(), r.reserved_at)
                }
            };
            records.insert(r.txid, record);
        }
        // What is left of the old records is gone from the set.
        let drop: Vec<Txid> = self.cache.records.keys().copied().collect();
        self.cache.records = records;
        self.cache.set = set;
        self.commit(&drop, &put)
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

fn set_of(records: &BTreeMap<Txid, Record>) -> Result<ReservationSet, ReservationConflict> {
    ReservationSet::from_reservations(records.values().map(|r| Reservation {
        txid: r.txid,
        outpoints: r.outpoints.clone(),
        reserved_at: r.reserved_at,
    }))
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
        let mut set = locked.cache.set.clone();
        let at = now();
        set.reserve(new.txid, &new.outpoints, at)
            .map_err(StoreError::from)?;
        let reservation = set
            .reservations()
            .find(|r| r.txid == new.txid)
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
        locked.cache.set = set;
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
        self.mark(txid, TxState::Broadcast)
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
        let mut locked = self.lock(true)?;
        if let Some(record) = locked.cache.records.get_mut(txid) {
            record.state = state;
            locked.commit(&[], &[*txid])?;
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
}
