//! The reservation log, `reservations.log` (format version 4): a header line, then one line
//! per commit, each `<sha256 hex of the JSON text> <compact JSON>`; replaying the commits in
//! order gives the records. Appending costs the size of the change; [`write`] replaces the
//! whole log with one line per live record (creation, migration and compaction).

use std::collections::BTreeMap;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::hex::FromHex;
use bitcoin::Txid;
use serde::{Deserialize, Serialize};
use spool_tx::ReservationSet;

use super::snapshot::{self, Prefix};
use super::{io, replace_file, Record, StoreError, FORMAT_VERSION};

/// The `format` of the log's header line.
pub(super) const LOG_FORMAT: &str = "spool-rs reservations log";

/// The first line of the log.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// One commit as read: the transactions it drops, then the records it puts (whole).
#[derive(Debug, Deserialize)]
struct Commit {
    #[serde(default)]
    drop: Vec<Txid>,
    #[serde(default)]
    put: Vec<Record>,
}

/// One commit to write.
#[derive(Debug, Serialize)]
struct CommitRef<'a> {
    #[serde(skip_serializing_if = "<[Txid]>::is_empty")]
    drop: &'a [Txid],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    put: Vec<&'a Record>,
}

/// The line of a commit dropping `drop` and putting `put`, with its number of entries.
pub(super) fn commit_line(drop: &[Txid], put: Vec<&Record>) -> (Vec<u8>, usize) {
    let entries = drop.len() + put.len();
    let json = serde_json::to_string(&CommitRef { drop, put }).expect("plain data serialises");
    (line(&json), entries)
}

/// `json` as a log line: its sha256, a space, the text, a newline.
fn line(json: &str) -> Vec<u8> {
    format!("{} {json}\n", sha256::Hash::hash(json.as_bytes())).into_bytes()
}

/// Why a line is not a valid entry.
enum Bad {
    /// Its text is JSON but the checksum does not match: changed after it was written.
    Changed,
    /// Not a checksum and JSON at all (the shape of a write cut short).
    Garbled,
}

/// The JSON text of a log line whose checksum matches.
fn decode(line: &[u8]) -> Result<&str, Bad> {
    let text = std::str::from_utf8(line).map_err(|_| Bad::Garbled)?;
    let (sum, json) = text.split_once(' ').ok_or(Bad::Garbled)?;
    if is_hex_of(sum, sha256::Hash::hash(json.as_bytes()).as_byte_array()) {
        return Ok(json);
    }
    if sum.len() == 64 && serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok() {
        Err(Bad::Changed)
    } else {
        Err(Bad::Garbled)
    }
}

/// Whether `hex` is `bytes` in hex.
fn is_hex_of(hex: &str, bytes: &[u8; 32]) -> bool {
    <[u8; 32]>::from_hex(hex).is_ok_and(|parsed| parsed == *bytes)
}

/// Which file `meta` describes (device and inode), where the system tells.
fn file_id(meta: &Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Lines from which [`predecode`] splits the work between two threads.
const PARALLEL_LINES: usize = 256;

/// Each complete line of `bytes` (ended by a newline) decoded as a commit, on two threads
/// when there are [`PARALLEL_LINES`] or more (none below): `None` where the checksum or the
/// JSON does not hold, left for the reader to decode again and name the fault. The header
/// line also decodes (its fields are not a commit's); the reader skips it.
fn predecode(bytes: &[u8]) -> Vec<Option<Commit>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (at, byte) in bytes.iter().enumerate() {
        if *byte == b'\n' {
            lines.push(&bytes[start..at]);
            start = at + 1;
        }
    }
    if lines.len() < PARALLEL_LINES {
        return Vec::new();
    }
    let one = |line: &&[u8]| {
        decode(line)
            .ok()
            .and_then(|json| serde_json::from_str::<Commit>(json).ok())
    };
    let (first, second) = lines.split_at(lines.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| second.iter().map(one).collect::<Vec<_>>());
        let mut decoded: Vec<Option<Commit>> = first.iter().map(one).collect();
        match other.join() {
            Ok(rest) => decoded.extend(rest),
            // Left to the reader: it decodes those lines itself.
            Err(_) => decoded.truncate(first.len()),
        }
        decoded
    })
}

/// Whether a commit is on disk before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Durability {
    /// Fsynced: it survives a power cut (everything a recovery depends on).
    Synced,
    /// Written to the file only: it survives a crash or `kill -9` of the process, not a
    /// power cut, and the next synced commit takes it to disk too. For what a recovery can
    /// learn again (a transaction's `broadcast` mark after its fsynced `sending` one).
    Written,
}

/// A sha256 engine (shown by the number of bytes fed to it).
#[derive(Clone)]
struct Digest(sha256::HashEngine);

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256 of {} bytes", self.0.n_bytes_hashed())
    }
}

/// What one handle has read of the log, through a descriptor it keeps open (so the file it
/// read cannot be confused with a later one under the same name and inode).
#[derive(Debug)]
pub(super) struct LogView {
    file: File,
    id: Option<(u64, u64)>,
    /// Length of the valid lines read (where the next commit goes).
    end: u64,
    /// Length of the file when it was last read (a cut-short line included).
    seen: u64,
    /// Valid lines read, the header included.
    lines: usize,
    /// Entries (drops and puts) in those lines.
    entries: usize,
    /// The sha256 engine fed with the valid lines read (the log's first `end` bytes).
    digest: Digest,
    /// Lines covered by the newest snapshot this view read or wrote (0: none).
    snapshot_lines: usize,
}

impl LogView {
    /// Opens the log at `path`, nothing read yet.
    pub(super) fn open(path: &Path) -> Result<LogView, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io(path, "open"))?;
        let id = file_id(&file.metadata().map_err(io(path, "stat"))?);
        Ok(LogView {
            file,
            id,
            end: 0,
            seen: 0,
            lines: 0,
            entries: 0,
            digest: Digest(sha256::Hash::engine()),
            snapshot_lines: 0,
        })
    }

    /// Whether the file `meta` describes is the one read, unchanged since.
    pub(super) fn is_current(&self, meta: &Metadata) -> bool {
        self.id.is_some() && self.id == file_id(meta) && self.seen == meta.len()
    }

    /// Whether the file `meta` describes is the one read, possibly with lines appended.
    pub(super) fn continues_in(&self, meta: &Metadata) -> bool {
        self.id.is_some() && self.id == file_id(meta) && meta.len() >= self.end
    }

    /// Entries (drops and puts) in the log.
    pub(super) fn entries(&self) -> usize {
        self.entries
    }

    /// What was read: the log's first `end` bytes, their lines, entries and sha256.
    pub(super) fn prefix(&self) -> Prefix {
        Prefix {
            end: self.end,
            lines: self.lines,
            entries: self.entries,
            digest: sha256::Hash::from_engine(self.digest.0.clone()),
        }
    }

    /// Lines read or appended beyond the newest snapshot this view knows of.
    pub(super) fn lines_since_snapshot(&self) -> usize {
        self.lines - self.snapshot_lines
    }

    /// Notes that a snapshot of everything read was written.
    pub(super) fn snapshot_written(&mut self) {
        self.snapshot_lines = self.lines;
    }

    /// Reads the lines after those already read and applies them to `records` and `set`.
    /// Read from its start, the log's prefix that the `snapshot` file stands for (when it
    /// does stand for one) is taken from it instead of being decoded line by line. A last
    /// line cut short (no newline, or not a checksum and JSON) is a commit that never
    /// returned: it is skipped, and cut off before the next append. On an error the view,
    /// `records` and `set` are partly updated and must be dropped.
    pub(super) fn read(
        &mut self,
        path: &Path,
        snapshot: Option<&Path>,
        records: &mut BTreeMap<Txid, Record>,
        set: &mut ReservationSet,
    ) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        self.file
            .seek(SeekFrom::Start(self.end))
            .and_then(|_| self.file.read_to_end(&mut bytes))
            .map_err(io(path, "read"))?;
        self.seen = self.end + bytes.len() as u64;
        let mut start = 0;
        if let Some(file) = snapshot.filter(|_| self.end == 0) {
            if let Some((prefix, digest, loaded)) = snapshot::load(file, &bytes) {
                let reservations = loaded.values().map(|r| spool_tx::Reservation {
                    txid: r.txid,
                    outpoints: r.outpoints.clone(),
                    reserved_at: r.reserved_at,
                });
                if let Ok(loaded_set) = ReservationSet::from_reservations(reservations) {
                    *records = loaded;
                    *set = loaded_set;
                    self.end = prefix.end;
                    self.lines = prefix.lines;
                    self.entries = prefix.entries;
                    self.digest = Digest(digest);
                    self.snapshot_lines = prefix.lines;
                    start = prefix.end as usize;
                }
            }
        }
        let first = self.end;
        self.decode_lines(path, &bytes[start..], records, set)?;
        self.digest
            .0
            .input(&bytes[start..start + (self.end - first) as usize]);
        Ok(())
    }

    /// Decodes and applies the lines of `bytes`, which follow the valid lines read.
    fn decode_lines(
        &mut self,
        path: &Path,
        bytes: &[u8],
        records: &mut BTreeMap<Txid, Record>,
        set: &mut ReservationSet,
    ) -> Result<(), StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        // Many lines (a process opening a store with hundreds pending): their checksums and
        // JSON are decoded on two threads first, then applied in order below, as one by one.
        let mut decoded = predecode(bytes);
        let mut rest = bytes;
        let mut index = 0;
        while let Some(at) = rest.iter().position(|b| *b == b'\n') {
            let (text, after) = (&rest[..at], &rest[at + 1..]);
            let number = self.lines + 1;
            let ready = decoded.get_mut(index).and_then(Option::take);
            index += 1;
            if let Some(commit) = ready.filter(|_| self.lines > 0) {
                self.apply(commit, number, records, set, &corrupt)?;
                self.lines += 1;
                self.end += at as u64 + 1;
                rest = after;
                continue;
            }
            match decode(text) {
                Ok(json) if self.lines == 0 => {
                    let header: Header = serde_json::from_str(json).map_err(|e| {
                        corrupt(format!("not a spool reservation log (line 1: {e})"))
                    })?;
                    if header.format != LOG_FORMAT {
                        return Err(corrupt(format!(
                            "not a spool reservation log (format {:?})",
                            header.format
                        )));
                    }
                    if header.version != FORMAT_VERSION {
                        return Err(StoreError::UnknownVersion {
                            path: path.to_owned(),
                            version: header.version,
                        });
                    }
                }
                Ok(json) => {
                    let commit: Commit = serde_json::from_str(json)
                        .map_err(|e| corrupt(format!("line {number} is malformed ({e})")))?;
                    self.apply(commit, number, records, set, &corrupt)?;
                }
                Err(Bad::Garbled) if after.is_empty() && self.lines > 0 => break,
                Err(Bad::Garbled) => {
                    return Err(corrupt(format!(
                        "line {number} is not a checksummed entry (changed on disk)"
                    )))
                }
                Err(Bad::Changed) => {
                    return Err(corrupt(format!(
                        "its checksum does not match its content at line {number} (changed \
                         on disk)"
                    )))
                }
            }
            self.lines += 1;
            self.end += at as u64 + 1;
            rest = after;
        }
        if self.lines == 0 {
            return Err(corrupt(
                "not a spool reservation log (no header line)".to_owned(),
            ));
        }
        Ok(())
    }

    /// Applies line `number`'s `commit` to `records` and `set`.
    fn apply(
        &mut self,
        commit: Commit,
        number: usize,
        records: &mut BTreeMap<Txid, Record>,
        set: &mut ReservationSet,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<(), StoreError> {
        self.entries += commit.drop.len() + commit.put.len();
        for txid in &commit.drop {
            records.remove(txid);
            set.release_tx(txid);
        }
        for record in commit.put {
            set.release_tx(&record.txid);
            set.reserve(record.txid, &record.outpoints, record.reserved_at)
                .map_err(|conflict| corrupt(format!("line {number}: {conflict}")))?;
            records.insert(record.txid, record);
        }
        Ok(())
    }

    /// Appends one commit's line (`entries` drops and puts) in one write and fsyncs the file,
    /// first cutting off a line cut short by a crash. Call it under the exclusive lock with
    /// the view current. On an error the file is cut back to where it was (as far as
    /// possible) and the view must be dropped.
    pub(super) fn append(
        &mut self,
        path: &Path,
        line: &[u8],
        entries: usize,
        durability: Durability,
    ) -> Result<(), StoreError> {
        let len = self.file.metadata().map_err(io(path, "stat"))?.len();
        if len < self.end {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                reason: "it is shorter than when it was read (changed on disk)".to_owned(),
            });
        }
        if len > self.end {
            // A commit that never returned.
            self.file.set_len(self.end).map_err(io(path, "truncate"))?;
        }
        let written = self
            .file
            .seek(SeekFrom::Start(self.end))
            .and_then(|_| self.file.write_all(line))
            .and_then(|()| match durability {
                Durability::Synced => self.file.sync_data(),
                Durability::Written => Ok(()),
            });
        if let Err(e) = written {
            let _ = self.file.set_len(self.end);
            return Err(io(path, "append")(e));
        }
        self.end += line.len() as u64;
        self.seen = self.end;
        self.lines += 1;
        self.entries += entries;
        self.digest.0.input(line);
        Ok(())
    }
}

/// Replaces the log at `path` (in `dir`) by one holding `records`, one line each: written to
/// a temporary file, fsynced, renamed over the log, and the directory fsynced. Returns the
/// view of the new log, read to its end.
pub(super) fn write(
    dir: &Path,
    path: &Path,
    records: &BTreeMap<Txid, Record>,
) -> Result<LogView, StoreError> {
    let header = Header {
        format: LOG_FORMAT.to_owned(),
        version: FORMAT_VERSION,
    };
    let mut text = line(&serde_json::to_string(&header).expect("plain data serialises"));
    for record in records.values() {
        text.extend(commit_line(&[], vec![record]).0);
    }
    replace_file(dir, path, &text)?;
    let mut view = LogView::open(path)?;
    view.end = text.len() as u64;
    view.seen = view.end;
    view.lines = 1 + records.len();
    view.entries = records.len();
    view.digest.0.input(&text);
    Ok(view)
}
