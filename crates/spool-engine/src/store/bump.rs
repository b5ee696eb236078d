//! Fee bumps in the store: the replacement takes over the replaced transaction's
//! reservation (its outpoints, claims and the txids it replaced) plus its new fuel, in the
//! same commit as its journal line, so that a crash before or after it never leaves the
//! outpoints free while either transaction may still confirm.

use bitcoin::Txid;

use super::{now, Owner, Record, Reservations, StoreError, TxState};
use spool_tx::ReservationSet;

/// What a bump's build returns to the store: the replacement's txid, the outpoints it
/// spends (the replaced transaction's and its new fuel) and its signed hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// The replacement's txid.
    pub txid: Txid,
    /// Every outpoint it spends.
    pub outpoints: Vec<bitcoin::OutPoint>,
    /// The signed transaction, hex (journalled).
    pub hex: String,
}

impl Reservations {
    /// Under one exclusive lock: runs `build` on the set (to choose unreserved fuel), then
    /// journals the replacement as being handed to the node now and, in one commit, drops
    /// `old`'s reservation and records the replacement (`sending`, owned by this process)
    /// with `old`'s claims, its outpoints, and `old` (with what `old` replaced) in
    /// [`Record::replaces`]. Call it right before broadcasting the replacement.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotReserved`] when `old` has no reservation, `build`'s error, or a
    /// failure of the store (then do not broadcast).
    pub fn replace_with<T, E>(
        &self,
        old: &Txid,
        build: impl FnOnce(&ReservationSet) -> Result<(T, Replacement), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut locked = self.lock(true)?;
        let record = locked
            .cache
            .records
            .get(old)
            .cloned()
            .ok_or(StoreError::NotReserved { txid: *old })?;
        let (value, new) = build(&locked.cache.set)?;
        let at = now();
        if let Some(store) = &self.store {
            store.journal(new.txid, at, &new.hex)?;
        }
        let mut set = locked.cache.set.clone();
        set.release_tx(old);
        set.reserve(new.txid, &new.outpoints, at)
            .map_err(StoreError::from)?;
        let mut replaces = record.replaces.clone();
        replaces.push(*old);
        locked.cache.records.remove(old);
        locked.cache.records.insert(
            new.txid,
            Record {
                txid: new.txid,
                reserved_at: at,
                outpoints: new.outpoints.clone(),
                owner: Some(Owner::this_process()),
                state: TxState::Sending,
                sent_at: Some(at),
                claims: record.claims.clone(),
                template: None,
                replaces,
            },
        );
        locked.cache.set = set;
        locked.commit(&[*old], &[new.txid])?;
        Ok(value)
    }

    /// Undoes [`Reservations::replace_with`] after the node refused the replacement: `new`'s
    /// reservation is dropped and `old` (the record it replaced) put back, in one commit.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn restore_replaced(&self, new: &Txid, old: Record) -> Result<(), StoreError> {
        let mut locked = self.lock(true)?;
        let mut set = locked.cache.set.clone();
        set.release_tx(new);
        set.reserve(old.txid, &old.outpoints, old.reserved_at)
            .map_err(StoreError::from)?;
        locked.cache.records.remove(new);
        let txid = old.txid;
        locked.cache.records.insert(txid, old);
        locked.cache.set = set;
        locked.commit(&[*new], &[txid])
    }

    /// The reservation of the transaction that replaced `txid` (a bump), if any.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn replacement_of(&self, txid: &Txid) -> Result<Option<Record>, StoreError> {
        let locked = self.lock(false)?;
        Ok(locked
            .cache
            .records
            .values()
            .find(|r| r.replaces.contains(txid))
            .cloned())
    }
}
