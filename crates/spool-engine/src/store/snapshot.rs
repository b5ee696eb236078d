//! `reservations.snapshot`: the records that a prefix of the log replays to, in a compact
//! binary form, so that a process opening a store with many pending transactions does not
//! decode every line of the log's JSON.
//!
//! It is a cache, never the record of anything: it names the log's prefix it stands for by
//! length and sha256, and a reader uses it only when the log's first bytes hash to that
//! digest (so a log changed on disk, compacted or replaced is decoded line by line as
//! before, and its faults are named as before). A snapshot that is missing, cut short, of
//! another format version or whose own checksum fails is ignored. It is written without
//! fsync (a temporary file renamed over it) under the store's exclusive lock.
//!
//! Layout (integers little-endian):
//! - the magic `spool-rs reservations snapshot\n` and the format version (u32);
//! - the prefix: its length, its lines and entries (u64 each), its sha256 (32 bytes);
//! - the number of records (u64), then each record ([`put_record`]);
//! - the sha256 of everything before it (32 bytes).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{OutPoint, Txid};
use spool_tx::claims::{Claim, TxState};

use super::{io, private_file, Owner, Record, StoreError, Template};

const MAGIC: &[u8] = b"spool-rs reservations snapshot\n";
const VERSION: u32 = 1;

/// What a snapshot stands for: the first `end` bytes of the log (`lines` lines holding
/// `entries` drops and puts), whose sha256 is `digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Prefix {
    pub(super) end: u64,
    pub(super) lines: usize,
    pub(super) entries: usize,
    pub(super) digest: sha256::Hash,
}

/// Writes the snapshot of `records`, the replay of the log's `prefix`, to `path`: a
/// temporary file beside it, renamed over it (no fsync: a snapshot lost or cut short by a
/// crash is ignored by readers).
pub(super) fn write(
    path: &Path,
    prefix: &Prefix,
    records: &BTreeMap<Txid, Record>,
) -> Result<(), StoreError> {
    let bytes = encode(prefix, records);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = private_file(&tmp, false).map_err(io(&tmp, "create"))?;
    file.write_all(&bytes).map_err(io(&tmp, "write"))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path, "rename"))
}

/// The snapshot's bytes.
fn encode(prefix: &Prefix, records: &BTreeMap<Txid, Record>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128 + records.len() * 256);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    put_u64(&mut out, prefix.end);
    put_u64(&mut out, prefix.lines as u64);
    put_u64(&mut out, prefix.entries as u64);
    out.extend_from_slice(prefix.digest.as_byte_array());
    put_u64(&mut out, records.len() as u64);
    for record in records.values() {
        put_record(&mut out, record);
    }
    let sum = sha256::Hash::hash(&out);
    out.extend_from_slice(sum.as_byte_array());
    out
}

/// The snapshot at `path` when it stands for a prefix of `log` (the log's bytes from its
/// start): that prefix, the sha256 engine fed with it, and its records. `None` when there
/// is no usable snapshot.
pub(super) fn load(
    path: &Path,
    log: &[u8],
) -> Option<(Prefix, sha256::HashEngine, BTreeMap<Txid, Record>)> {
    let bytes = std::fs::read(path).ok()?;
    let (body, sum) = bytes.split_at(bytes.len().checked_sub(32)?);
    if sha256::Hash::hash(body).as_byte_array()[..] != *sum {
        return None;
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let end = r.u64()?;
    let lines = usize::try_from(r.u64()?).ok()?;
    let entries = usize::try_from(r.u64()?).ok()?;
    let digest = sha256::Hash::from_byte_array(r.array()?);
    let covered = log.get(..usize::try_from(end).ok()?)?;
    let mut engine = sha256::Hash::engine();
    engine.input(covered);
    if sha256::Hash::from_engine(engine.clone()) != digest {
        return None;
    }
    let count = r.u64()?;
    let mut records = BTreeMap::new();
    for _ in 0..count {
        let record = take_record(&mut r)?;
        records.insert(record.txid, record);
    }
    if !r.0.is_empty() || records.len() as u64 != count {
        return None;
    }
    let prefix = Prefix {
        end,
        lines,
        entries,
        digest,
    };
    Some((prefix, engine, records))
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn put_option(out: &mut Vec<u8>, n: Option<u64>) {
    match n {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            put_u64(out, n);
        }
    }
}

fn state_byte(state: TxState) -> u8 {
    match state {
        TxState::Reserved => 0,
        TxState::Sending => 1,
        TxState::Broadcast => 2,
        TxState::Unsure => 3,
        TxState::Unsigned => 4,
    }
}

fn state_of(byte: u8) -> Option<TxState> {
    Some(match byte {
        0 => TxState::Reserved,
        1 => TxState::Sending,
        2 => TxState::Broadcast,
        3 => TxState::Unsure,
        4 => TxState::Unsigned,
        _ => return None,
    })
}

/// One record: txid, `reserved_at`, the outpoints (count, then txid and vout each), the
/// owner (0: none; 1: pid and an optional start time), the state (0 reserved, 1 sending,
/// 2 broadcast, 3 unsure, 4 unsigned), `sent_at`, the claims (count, then piece and an
/// optional edition each), the template (0: none; 1: hex, fee, from) and the replaced
/// txids (count, then each). Optional numbers are a byte 0, or 1 and the number; texts
/// are their length and UTF-8 bytes.
fn put_record(out: &mut Vec<u8>, record: &Record) {
    out.extend_from_slice(record.txid.as_byte_array());
    put_u64(out, record.reserved_at);
    put_u64(out, record.outpoints.len() as u64);
    for outpoint in &record.outpoints {
        out.extend_from_slice(outpoint.txid.as_byte_array());
        out.extend_from_slice(&outpoint.vout.to_le_bytes());
    }
    match record.owner {
        None => out.push(0),
        Some(owner) => {
            out.push(1);
            out.extend_from_slice(&owner.pid.to_le_bytes());
            put_option(out, owner.started);
        }
    }
    out.push(state_byte(record.state));
    put_option(out, record.sent_at);
    put_u64(out, record.claims.len() as u64);
    for claim in &record.claims {
        put_str(out, &claim.piece);
        put_option(out, claim.edition);
    }
    match &record.template {
        None => out.push(0),
        Some(template) => {
            out.push(1);
            put_str(out, &template.hex);
            put_u64(out, template.fee);
            put_str(out, &template.from);
        }
    }
    put_u64(out, record.replaces.len() as u64);
    for txid in &record.replaces {
        out.extend_from_slice(txid.as_byte_array());
    }
}

fn take_record(r: &mut Reader<'_>) -> Option<Record> {
    let txid = Txid::from_byte_array(r.array()?);
    let reserved_at = r.u64()?;
    let count = r.count(36)?;
    let mut outpoints = Vec::with_capacity(count);
    for _ in 0..count {
        let txid = Txid::from_byte_array(r.array()?);
        outpoints.push(OutPoint::new(txid, r.u32()?));
    }
    let owner = match r.byte()? {
        0 => None,
        1 => Some(Owner {
            pid: r.u32()?,
            started: r.option()?,
        }),
        _ => return None,
    };
    let state = state_of(r.byte()?)?;
    let sent_at = r.option()?;
    let count = r.count(9)?;
    let mut claims = Vec::with_capacity(count);
    for _ in 0..count {
        claims.push(Claim {
            piece: r.text()?,
            edition: r.option()?,
        });
    }
    let template = match r.byte()? {
        0 => None,
        1 => Some(Template {
            hex: r.text()?,
            fee: r.u64()?,
            from: r.text()?,
        }),
        _ => return None,
    };
    let count = r.count(32)?;
    let mut replaces = Vec::with_capacity(count);
    for _ in 0..count {
        replaces.push(Txid::from_byte_array(r.array()?));
    }
    Some(Record {
        txid,
        reserved_at,
        outpoints,
        owner,
        state,
        sent_at,
        claims,
        template,
        replaces,
    })
}

/// Reads the snapshot's fields in order; `None` when the bytes run out or do not fit.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    /// A count of items of at least `size` bytes each, no more than the bytes left hold.
    fn count(&mut self, size: usize) -> Option<usize> {
        let n = usize::try_from(self.u64()?).ok()?;
        (n.checked_mul(size)? <= self.0.len()).then_some(n)
    }

    fn option(&mut self) -> Option<Option<u64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.u64()?)),
            _ => None,
        }
    }

    fn text(&mut self) -> Option<String> {
        let n = self.count(1)?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> BTreeMap<Txid, Record> {
        let txid = |n: u8| Txid::from_byte_array([n; 32]);
        let plain = Record {
            txid: txid(1),
            reserved_at: 1_700_000_000,
            outpoints: vec![OutPoint::new(txid(9), 0), OutPoint::new(txid(9), 7)],
            owner: Some(Owner {
                pid: 4242,
                started: Some(123_456),
            }),
            state: TxState::Broadcast,
            sent_at: Some(1_700_000_001),
            claims: vec![Claim {
                piece: "mv5yDkR5dnjGHxietq7CH78WHk8vzsu4vH".to_owned(),
                edition: Some(12),
            }],
            template: None,
            replaces: Vec::new(),
        };
        let unsigned = Record {
            txid: txid(2),
            reserved_at: 5,
            outpoints: vec![OutPoint::new(txid(8), 3)],
            owner: None,
            state: TxState::Unsigned,
            sent_at: None,
            claims: vec![Claim {
                piece: "piece".to_owned(),
                edition: None,
            }],
            template: Some(Template {
                hex: "0200".to_owned(),
                fee: 30_000,
                from: "from".to_owned(),
            }),
            replaces: vec![txid(3), txid(4)],
        };
        [plain, unsigned].into_iter().map(|r| (r.txid, r)).collect()
    }

    fn prefix_of(log: &[u8]) -> Prefix {
        Prefix {
            end: log.len() as u64,
            lines: 3,
            entries: 2,
            digest: sha256::Hash::hash(log),
        }
    }

    #[test]
    fn a_snapshot_reads_back_the_records_it_was_written_with() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reservations.snapshot");
        let log = b"header\nline one\nline two\n".to_vec();
        let prefix = prefix_of(&log);
        write(&path, &prefix, &records()).unwrap();
        // The log grew after the snapshot: still a prefix of it.
        let mut grown = log.clone();
        grown.extend_from_slice(b"line three\n");
        let (read, engine, back) = load(&path, &grown).unwrap();
        assert_eq!(read, prefix);
        assert_eq!(sha256::Hash::from_engine(engine), prefix.digest);
        assert_eq!(back, records());
    }

    #[test]
    fn a_snapshot_of_other_bytes_or_damaged_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reservations.snapshot");
        let log = b"header\nline one\n".to_vec();
        write(&path, &prefix_of(&log), &records()).unwrap();
        // The log changed on disk within the prefix, or is shorter.
        assert!(load(&path, b"header\nline One\n").is_none());
        assert!(load(&path, b"header\n").is_none());
        // The snapshot cut short, or one byte of it changed.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(load(&path, &log).is_none());
        let mut changed = bytes.clone();
        changed[MAGIC.len() + 40] ^= 1;
        std::fs::write(&path, &changed).unwrap();
        assert!(load(&path, &log).is_none());
        // Missing.
        std::fs::remove_file(&path).unwrap();
        assert!(load(&path, &log).is_none());
    }
}
