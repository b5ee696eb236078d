//! The binary store of spool-rs before version 2, read once to migrate it: magic
//! `SPOOLRSV`, u32 version 1, u64 count, then per record the outpoint's txid (32 bytes) and
//! vout (u32), the holding txid (32 bytes) and the unix time reserved (u64); integers
//! little-endian.

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
