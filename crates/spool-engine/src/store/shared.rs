//! The data directory's store as one implementation of spool-tx's
//! [`ReservationStore`](spool_tx::claims::ReservationStore) (the other is `spool serve`'s
//! SQLite store): the same claim rule, states and release rule, kept in files.

use std::collections::HashSet;

use bitcoin::Txid;
use spool_tx::claims::{ClaimConflict, Refusal, ReservationRequest, ReservationStore};

use super::{NewReservation, Reservations, StoreError};

impl ReservationStore for Reservations {
    type Error = StoreError;

    fn reserve(&self, request: &ReservationRequest) -> Result<Result<(), Refusal>, StoreError> {
        let seen: HashSet<Txid> = request.seen.iter().copied().collect();
        let new = NewReservation {
            txid: request.txid,
            outpoints: request.outpoints.clone(),
            claims: request.claims.clone(),
            template: None,
            replaces: Vec::new(),
        };
        match self.reserve_claimed(&request.claims, &seen, |_| Ok::<_, StoreError>(((), new))) {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::Claimed {
                claim,
                holder,
                state,
            }) => Ok(Err(Refusal::Claimed(ClaimConflict {
                claim,
                holder,
                state,
            }))),
            Err(StoreError::Conflict(conflict)) => Ok(Err(Refusal::Outpoint {
                outpoint: conflict.outpoint,
                holder: conflict.holder,
            })),
            Err(other) => Err(other),
        }
    }

    fn mark_broadcast(&self, txid: &Txid) -> Result<(), StoreError> {
        Reservations::mark_broadcast(self, txid)
    }

    fn release(&self, txid: &Txid) -> Result<bool, StoreError> {
        self.release_tx(txid).map(|released| released > 0)
    }
}

#[cfg(test)]
mod tests {
    use bitcoin::hashes::Hash;
    use bitcoin::{OutPoint, Txid};
    use spool_tx::claims::{Claim, Refusal, ReservationRequest, ReservationStore};

    use super::Reservations;

    fn request(n: u8, vout: u32, edition: u64) -> ReservationRequest {
        ReservationRequest {
            txid: Txid::from_byte_array([n; 32]),
            outpoints: vec![OutPoint::new(Txid::from_byte_array([9; 32]), vout)],
            claims: vec![Claim {
                piece: "piece".into(),
                edition: Some(edition),
            }],
            seen: Vec::new(),
            maker: String::new(),
        }
    }

    #[test]
    fn the_file_store_refuses_as_the_server_store_does() {
        let dir = tempfile::tempdir().unwrap();
        let store = Reservations::open(dir.path()).unwrap();
        let store: &dyn ReservationStore<Error = super::StoreError> = &store;
        assert_eq!(store.reserve(&request(1, 0, 1)).unwrap(), Ok(()));
        assert!(matches!(
            store.reserve(&request(2, 0, 2)).unwrap(),
            Err(Refusal::Outpoint { .. })
        ));
        assert!(matches!(
            store.reserve(&request(3, 1, 1)).unwrap(),
            Err(Refusal::Claimed(_))
        ));
        store
            .mark_broadcast(&Txid::from_byte_array([1; 32]))
            .unwrap();
        assert!(store.release(&Txid::from_byte_array([1; 32])).unwrap());
        assert_eq!(store.reserve(&request(2, 0, 2)).unwrap(), Ok(()));
    }
}
