//! Unsigned actions in the store: the template a PSBT was written from, kept in its
//! reservation ([`TxState::Unsigned`], keyed by the unsigned txid), and the one commit that
//! turns it into the reservation of its signed form when that is broadcast.

use bitcoin::{Amount, OutPoint, Transaction, Txid};
use serde::{Deserialize, Serialize};

use super::{now, Owner, Record, Reservations, StoreError, TxState};

/// The unsigned transaction of an unsigned action, what its signed form must match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// The unsigned transaction (empty scriptSigs and witnesses), hex.
    pub hex: String,
    /// The fee it pays, in satoshi.
    pub fee: u64,
    /// The address that signs it (all its inputs come from it).
    pub from: String,
}

impl Template {
    /// The template of the unsigned `tx`, paying `fee`, signed by `from`.
    pub fn new(tx: &Transaction, fee: Amount, from: &bitcoin::Address) -> Template {
        Template {
            hex: bitcoin::consensus::encode::serialize_hex(tx),
            fee: fee.to_sat(),
            from: from.to_string(),
        }
    }

    /// The unsigned transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`]-like [`StoreError::BadTemplate`] when the hex does not decode.
    pub fn transaction(&self) -> Result<Transaction, StoreError> {
        bitcoin::consensus::encode::deserialize_hex(&self.hex).map_err(|e| {
            StoreError::BadTemplate {
                reason: e.to_string(),
            }
        })
    }
}

impl Reservations {
    /// The reservations that hold any of `outpoints`.
    ///
    /// # Errors
    ///
    /// A failure of the store.
    pub fn holders(&self, outpoints: &[OutPoint]) -> Result<Vec<Record>, StoreError> {
        let locked = self.lock(false)?;
        Ok(locked
            .cache
            .records
            .values()
            .filter(|r| r.outpoints.iter().any(|o| outpoints.contains(o)))
            .cloned()
            .collect())
    }

    /// Journals the signed form `signed` (`hex`) of the unsigned action `unsigned` as being
    /// handed to the node now, and in the same commit moves the unsigned action's
    /// reservation (its outpoints, claims and reservation time) to `signed`, marked
    /// `sending` and owned by this process; for an unsigned fee bump, the reservations of
    /// the transactions it replaces are merged into it too. Call it right before
    /// broadcasting.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotReserved`] when `unsigned` is not an unsigned action of this store,
    /// or a failure of the store (then do not broadcast).
    pub fn mark_sending_signed(
        &self,
        unsigned: &Txid,
        signed: &Txid,
        hex: &str,
    ) -> Result<(), StoreError> {
        let mut locked = self.lock(true)?;
        let record = locked
            .cache
            .records
            .get(unsigned)
            .filter(|r| r.state == TxState::Unsigned)
            .cloned()
            .ok_or(StoreError::NotReserved { txid: *unsigned })?;
        let at = now();
        if let Some(store) = &self.store {
            store.journal(*signed, at, hex)?;
        }
        let mut set = locked.cache.set.clone();
        set.release_tx(unsigned);
        let mut outpoints = record.outpoints.clone();
        let mut claims = record.claims.clone();
        let mut replaces = Vec::new();
        let mut dropped = vec![*unsigned];
        // An unsigned fee bump: it takes over the reservations of what it replaces.
        for old in &record.replaces {
            if let Some(old_record) = locked.cache.records.remove(old) {
                set.release_tx(old);
                outpoints.extend(
                    old_record
                        .outpoints
                        .iter()
                        .filter(|o| !record.outpoints.contains(o)),
                );
                claims.extend(old_record.claims.iter().cloned());
                replaces.extend(old_record.replaces.iter().copied());
                dropped.push(*old);
            }
            replaces.push(*old);
        }
        set.reserve(*signed, &outpoints, record.reserved_at)?;
        locked.cache.records.remove(unsigned);
        locked.cache.records.insert(
            *signed,
            Record {
                txid: *signed,
                owner: Some(Owner::this_process()),
                state: TxState::Sending,
                sent_at: Some(at),
                template: None,
                outpoints,
                claims,
                replaces,
                ..record
            },
        );
        locked.cache.set = set;
        locked.commit(&dropped, &[*signed])
    }
}
