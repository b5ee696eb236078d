//! A transaction's status as outpoint reservations need it.

use bitcoin::Txid;
use spool_protocol::chain::{TxPlace, TxStatus};

use crate::backend::Backend;

/// What `backend` says about `txid`, for the reservations of the transactions we sent:
/// confirmed, in the mempool, gone (the backend knows it neither in a block nor in its
/// mempool; with Core's `-txindex` that is proof, with an Esplora it is that server's view),
/// or unknown (the backend could not be asked).
///
pub async fn tx_status<B: Backend + ?Sized>(backend: &B, txid: &Txid) -> TxStatus {
    match backend.transaction(txid).await {
        Ok(chain_tx) => match chain_tx.place {
            TxPlace::Confirmed { .. } => TxStatus::Confirmed,
            TxPlace::Unconfirmed => TxStatus::InMempool,
        },
        Err(err) if err.is_not_found() => TxStatus::Gone,
        Err(err) => {
            tracing::debug!(%txid, error = %err, "status unknown");
            TxStatus::Unknown
        }
    }
}
