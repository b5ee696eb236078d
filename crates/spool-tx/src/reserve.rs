//! The reservation set: outpoints spent by our transactions that are not yet confirmed, so
//! that rapid-fire actions never spend the same output twice.
//!
//! pyspool remembers its last 50 spent outpoints in memory; spool-rs keeps every outpoint
//! spent by a transaction it built until that transaction confirms or is proven gone. This
//! is the pure set (no files, no locks, no clock): the persistent, shared store that wraps it
//! lives in spool-engine.

use std::collections::{BTreeMap, HashMap, HashSet};

use bitcoin::{OutPoint, Txid};
use spool_protocol::chain::TxStatus;

use crate::Utxo;

/// The outpoints one transaction spends, reserved together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The transaction that spends them.
    pub txid: Txid,
    /// The outpoints, in input order.
    pub outpoints: Vec<OutPoint>,
    /// When they were reserved (seconds since the Unix epoch, as the caller counts them).
    pub reserved_at: u64,
}

/// An outpoint is already reserved by another transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outpoint {outpoint} is already reserved by transaction {holder}")]
pub struct ReservationConflict {
    /// The outpoint.
    pub outpoint: OutPoint,
    /// The transaction holding it.
    pub holder: Txid,
}

/// Reserved outpoints, by the transaction that spends them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReservationSet {
    by_tx: BTreeMap<Txid, Reservation>,
    holders: HashMap<OutPoint, Txid>,
}

impl ReservationSet {
    /// An empty set.
    pub fn new() -> ReservationSet {
        ReservationSet::default()
    }

    /// A set holding `reservations` (e.g. read from a store).
    ///
    /// # Errors
    ///
    /// [`ReservationConflict`] when two transactions reserve the same outpoint.
    pub fn from_reservations(
        reservations: impl IntoIterator<Item = Reservation>,
    ) -> Result<ReservationSet, ReservationConflict> {
        let mut set = ReservationSet::new();
        for r in reservations {
            set.reserve(r.txid, &r.outpoints, r.reserved_at)?;
        }
        Ok(set)
    }

    /// The reservation of `txid`, if it holds any outpoint.
    pub fn get(&self, txid: &Txid) -> Option<&Reservation> {
        self.by_tx.get(txid)
    }

    /// Every reservation, by txid.
    pub fn reservations(&self) -> impl Iterator<Item = &Reservation> {
        self.by_tx.values()
    }

    /// Reserves `outpoints` for `txid` at time `at`, all or nothing. Reserving an outpoint
    /// again for the same transaction is a no-op. Returns whether anything was added.
    ///
    /// # Errors
    ///
    /// [`ReservationConflict`] when another transaction holds one of them (nothing changes).
    pub fn reserve(
        &mut self,
        txid: Txid,
        outpoints: &[OutPoint],
        at: u64,
    ) -> Result<bool, ReservationConflict> {
        if let Some((outpoint, holder)) = outpoints.iter().find_map(|o| {
            self.holders
                .get(o)
                .filter(|holder| **holder != txid)
                .map(|holder| (*o, *holder))
        }) {
            return Err(ReservationConflict { outpoint, holder });
        }
        let entry = self.by_tx.entry(txid).or_insert_with(|| Reservation {
            txid,
            outpoints: Vec::new(),
            reserved_at: at,
        });
        let mut added = false;
        for outpoint in outpoints {
            if self.holders.insert(*outpoint, txid).is_none() {
                entry.outpoints.push(*outpoint);
                added = true;
            }
        }
        if entry.outpoints.is_empty() {
            self.by_tx.remove(&txid);
        }
        Ok(added)
    }

    /// Releases every outpoint held by `txid`; returns how many.
    pub fn release_tx(&mut self, txid: &Txid) -> usize {
        let Some(reservation) = self.by_tx.remove(txid) else {
            return 0;
        };
        for outpoint in &reservation.outpoints {
            self.holders.remove(outpoint);
        }
        reservation.outpoints.len()
    }

    /// Releases `outpoints` whoever holds them; returns how many were reserved.
    pub fn release(&mut self, outpoints: &[OutPoint]) -> usize {
        let mut released = 0;
        for outpoint in outpoints {
            let Some(txid) = self.holders.remove(outpoint) else {
                continue;
            };
            released += 1;
            if let Some(reservation) = self.by_tx.get_mut(&txid) {
                reservation.outpoints.retain(|o| o != outpoint);
                if reservation.outpoints.is_empty() {
                    self.by_tx.remove(&txid);
                }
            }
        }
        released
    }

    /// The transaction holding `outpoint`, if any.
    pub fn holder(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.holders.get(outpoint).copied()
    }

    /// Whether `outpoint` is reserved.
    pub fn is_reserved(&self, outpoint: &OutPoint) -> bool {
        self.holders.contains_key(outpoint)
    }

    /// Number of reserved outpoints.
    pub fn len(&self) -> usize {
        self.holders.len()
    }

    /// Whether nothing is reserved.
    pub fn is_empty(&self) -> bool {
        self.holders.is_empty()
    }

    /// The transactions holding reservations and their outpoints, sorted by txid.
    pub fn pending(&self) -> Vec<(Txid, Vec<OutPoint>)> {
        self.by_tx
            .values()
            .map(|r| (r.txid, r.outpoints.clone()))
            .collect()
    }

    /// The UTXOs of `utxos` that are not reserved, in order.
    pub fn available(&self, utxos: &[Utxo]) -> Vec<Utxo> {
        utxos
            .iter()
            .filter(|u| !self.holders.contains_key(&u.outpoint))
            .cloned()
            .collect()
    }

    /// The reserved outpoints.
    pub fn outpoints(&self) -> HashSet<OutPoint> {
        self.holders.keys().copied().collect()
    }

    /// Applies one chain status: releases `txid`'s outpoints if it is confirmed or gone.
    /// Returns how many outpoints were released.
    pub fn apply_status(&mut self, txid: &Txid, status: TxStatus) -> usize {
        match status {
            TxStatus::Confirmed | TxStatus::Gone => self.release_tx(txid),
            TxStatus::InMempool | TxStatus::Unknown => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn txid(n: u8) -> Txid {
        Txid::from_byte_array([n; 32])
    }

    fn op(n: u8, vout: u32) -> OutPoint {
        OutPoint::new(txid(n), vout)
    }

    #[test]
    fn reserve_is_all_or_nothing_and_release_frees() {
        let mut set = ReservationSet::new();
        assert!(set.reserve(txid(1), &[op(9, 0), op(9, 1)], 5).unwrap());
        assert!(
            !set.reserve(txid(1), &[op(9, 0)], 6).unwrap(),
            "again: no-op"
        );
        let err = set.reserve(txid(2), &[op(9, 2), op(9, 1)], 7).unwrap_err();
        assert_eq!(err.holder, txid(1));
        assert!(
            !set.is_reserved(&op(9, 2)),
            "nothing of a refused reservation stays"
        );
        assert_eq!(set.len(), 2);
        assert_eq!(set.pending(), vec![(txid(1), vec![op(9, 0), op(9, 1)])]);
        assert_eq!(set.apply_status(&txid(1), TxStatus::InMempool), 0);
        assert_eq!(set.apply_status(&txid(1), TxStatus::Unknown), 0);
        assert_eq!(set.release(&[op(9, 0)]), 1);
        assert_eq!(set.apply_status(&txid(1), TxStatus::Confirmed), 1);
        assert!(set.is_empty());
        set.reserve(txid(3), &[op(9, 0)], 8).unwrap();
        assert_eq!(set.apply_status(&txid(3), TxStatus::Gone), 1);
        assert_eq!(set.reservations().count(), 0);
    }
}
