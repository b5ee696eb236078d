//! Issuing a provenance certificate through any [`Backend`]: one gathering, whatever the
//! backend, so that every backend issues the same proof for the same edition at the same
//! tip.

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::{Address, Transaction, Txid};
use spool_protocol::certificate::{Certificate, IssueError, IssueInput, BURIAL_HEADERS};
use spool_protocol::chain::TxPlace;
use spool_protocol::scope::Scope;

use crate::{Backend, BackendError};

/// Why a certificate could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatherError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// What the backend gave does not make a certificate.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

/// Gathers from `backend` everything a certificate of `edition` of `piece` needs (the scope's
/// transactions, an inclusion proof for each confirmed one, the transactions they spend from,
/// the headers that bury them, the tip) and issues it.
///
/// # Errors
///
/// [`GatherError`]: the backend's failure, or why the gathered proofs do not verify.
pub async fn issue_certificate(
    backend: &(dyn Backend + '_),
    piece: &Address,
    edition: u64,
    federation: &[String],
    issuer: &str,
    issued_at: u64,
) -> Result<Certificate, GatherError> {
    let tip_height = backend.tip_height().await?;
    let (tip_hash, _) = backend.block_header_at(tip_height).await?;
    let txs = backend
        .piece_transactions(piece, Scope::edition(edition))
        .await?;
    let mut inclusions = BTreeMap::new();
    let mut spent_from: BTreeSet<Txid> = BTreeSet::new();
    let mut heights: BTreeSet<u64> = BTreeSet::new();
    for chain_tx in &txs {
        let TxPlace::Confirmed { height, .. } = chain_tx.place else {
            continue;
        };
        if height > tip_height {
            continue;
        }
        let txid = chain_tx.txid();
        inclusions.insert(txid, backend.tx_inclusion(&txid).await?);
        spent_from.extend(chain_tx.tx.input.iter().map(|i| i.previous_output.txid));
        heights.extend(height..=(height + BURIAL_HEADERS).min(tip_height));
    }
    let mut previous: Vec<Transaction> = Vec::with_capacity(spent_from.len());
    for txid in &spent_from {
        previous.push(backend.transaction(txid).await?.tx);
    }
    let mut headers = BTreeMap::new();
    for height in heights {
        let (_, header) = backend.block_header_at(height).await?;
        headers.insert(height, header);
    }
    // A tip that moved while gathering: confirmed above the tip read first are left out.
    let txs: Vec<_> = txs
        .into_iter()
        .filter(|t| t.place.height().is_none_or(|h| h <= tip_height))
        .collect();
    Ok(Certificate::issue(IssueInput {
        network: backend.network(),
        piece,
        edition,
        federation,
        tip_height,
        tip_hash,
        issued_at,
        issuer,
        txs: &txs,
        previous: &previous,
        inclusions: &inclusions,
        headers: &headers,
    })?)
}
