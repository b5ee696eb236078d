//! The trait every chain backend implements.

use std::time::Duration;

use bitcoin::block::Header;
use bitcoin::{Address, BlockHash, Network, OutPoint, Transaction, Txid};
use spool_protocol::chain::Utxo;
use spool_protocol::chain::{ChainTx, TxInclusion, TxPlace};
use spool_protocol::scope::Scope;

use crate::error::BackendError;
use crate::retry::Backoff;
use crate::server::ReservationBody;

/// What [`Backend::wait_confirmed_with_progress`] reports after every look at the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitProgress {
    /// The transaction waited for.
    pub txid: Txid,
    /// Its confirmations at this look (0 while unconfirmed or not yet seen).
    pub confirmations: u64,
    /// The confirmations asked for.
    pub wanted: u32,
    /// Whether the backend knew the transaction at all at this look.
    pub seen: bool,
    /// Time spent waiting so far.
    pub elapsed: Duration,
}

/// How many outputs of each value [`Backend::spendable_utxos`] samples, where it samples.
pub const SPENDABLE_PER_VALUE: usize = 64;

/// Everything SPOOL needs from a blockchain, and no more.
///
/// Implementations: [`crate::core::CoreBackend`] (a Bitcoin Core node over JSON-RPC) and
/// [`crate::esplora::EsploraBackend`] (any Esplora HTTP API).
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// The network this backend serves.
    fn network(&self) -> Network;

    /// A short human description, e.g. `bitcoind at http://127.0.0.1:18443`.
    fn describe(&self) -> String;

    /// The height of the best block.
    async fn tip_height(&self) -> Result<u64, BackendError>;

    /// UTXOs of `address` with at least `min_conf` confirmations (0 includes the mempool),
    /// never an outpoint that a mempool transaction already spends.
    async fn utxos(&self, address: &Address, min_conf: u32) -> Result<Vec<Utxo>, BackendError>;

    /// Every transaction that paid `address` (confirmed and in the mempool), with its prevouts
    /// and place, ordered by place (confirmed ones by height and position, then unconfirmed
    /// ones by txid).
    async fn address_transactions(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError>;

    /// The transactions of the piece at `piece` that the rules of `scope` read
    /// ([`Scope::select`] over [`Backend::address_transactions`]), in the same order: what a
    /// pre-check of one action needs, however many editions the piece has. Backends that can
    /// select where the data lives (the index server) send only those.
    async fn piece_transactions(
        &self,
        piece: &Address,
        scope: Scope,
    ) -> Result<Vec<ChainTx>, BackendError> {
        let txs = self.address_transactions(piece).await?;
        Ok(scope.select(piece, &txs).into_iter().cloned().collect())
    }

    /// One transaction with its prevouts and place. [`BackendError::NotFound`] if unknown.
    async fn transaction(&self, txid: &Txid) -> Result<ChainTx, BackendError>;

    /// Broadcasts `tx`. Broadcasting a transaction the node already has (in the mempool or
    /// in the chain) is success.
    async fn broadcast(&self, tx: &Transaction) -> Result<Txid, BackendError>;

    /// The proof that confirmed transaction `txid` is in its block: the block's header and
    /// partial merkle tree (`gettxoutproof`'s form), height, coinbase and coinbase branch.
    ///
    /// # Errors
    ///
    /// [`BackendError::NotFound`] for an unknown or unconfirmed transaction;
    /// [`BackendError::Unsupported`] from a backend that cannot give proofs.
    async fn tx_inclusion(&self, txid: &Txid) -> Result<TxInclusion, BackendError> {
        let _ = txid;
        Err(BackendError::Unsupported {
            what: "merkle proofs".to_owned(),
            backend: self.describe(),
        })
    }

    /// The hash and header of the best chain's block at `height`.
    ///
    /// # Errors
    ///
    /// [`BackendError::NotFound`] above the tip; [`BackendError::Unsupported`] from a
    /// backend that cannot give headers.
    async fn block_header_at(&self, height: u64) -> Result<(BlockHash, Header), BackendError> {
        let _ = height;
        Err(BackendError::Unsupported {
            what: "block headers".to_owned(),
            backend: self.describe(),
        })
    }

    /// The transaction that spends `outpoint`, when the backend can tell (the mempool's
    /// spender for Core; any spender for Esplora); `None` when unspent or unknown. Used to
    /// name the transaction a refused broadcast conflicts with.
    ///
    /// # Errors
    ///
    /// The backend's failure.
    async fn spender(&self, outpoint: &OutPoint) -> Result<Option<Txid>, BackendError> {
        let _ = outpoint;
        Ok(None)
    }

    /// Outputs of `address` to choose an action's inputs from: all of them by default
    /// ([`Backend::utxos`]); a backend that can (`spool serve`) answers a sample of at most
    /// [`SPENDABLE_PER_VALUE`] outputs of each value, chosen at random among those no other
    /// operator holds, so that an action does not read a federation's thousands of outputs.
    /// A sample that runs short is asked again.
    ///
    /// # Errors
    ///
    /// As [`Backend::utxos`].
    async fn spendable_utxos(
        &self,
        address: &Address,
        min_conf: u32,
    ) -> Result<Vec<Utxo>, BackendError> {
        self.utxos(address, min_conf).await
    }

    /// Whether [`Backend::spendable_utxos`] answers a sample (which may run short while the
    /// address holds more): a shortage is then worth asking again.
    fn spendable_is_sample(&self) -> bool {
        false
    }

    /// Reserves a transaction's outpoints and claims with a backend that several operators
    /// share (`spool serve`), before it is signed: `Ok(true)` once held there, `Ok(false)`
    /// from a backend that keeps no reservations (a node, Esplora: the data directory's own
    /// store is then the only one).
    ///
    /// # Errors
    ///
    /// [`BackendError::Held`] when another pending transaction holds an outpoint or a claim;
    /// the backend's failure.
    async fn reserve(&self, request: &ReservationBody) -> Result<bool, BackendError> {
        let _ = request;
        Ok(false)
    }

    /// Releases `txid`'s reservation held by [`Backend::reserve`] (a refused or abandoned
    /// transaction); nothing for a backend that keeps none.
    ///
    /// # Errors
    ///
    /// The backend's failure.
    async fn release_reservation(&self, txid: &Txid) -> Result<(), BackendError> {
        let _ = txid;
        Ok(())
    }

    /// Waits until `txid` has `confirmations` confirmations, polling with backoff, and
    /// returns its place; [`BackendError::Timeout`] after `timeout`. Transient errors (node
    /// restarting, connection lost) are ridden out until the timeout.
    async fn wait_confirmed(
        &self,
        txid: &Txid,
        confirmations: u32,
        timeout: Duration,
    ) -> Result<TxPlace, BackendError> {
        self.wait_confirmed_with_progress(txid, confirmations, timeout, &|_| {})
            .await
    }

    /// [`Backend::wait_confirmed`], calling `progress` after every look at the chain.
    async fn wait_confirmed_with_progress(
        &self,
        txid: &Txid,
        confirmations: u32,
        timeout: Duration,
        progress: &(dyn Fn(WaitProgress) + Send + Sync),
    ) -> Result<TxPlace, BackendError> {
        let start = tokio::time::Instant::now();
        let mut backoff = Backoff::for_polling();
        loop {
            let looked = async {
                let chain_tx = self.transaction(txid).await?;
                let tip = match chain_tx.place {
                    TxPlace::Confirmed { .. } => self.tip_height().await?,
                    TxPlace::Unconfirmed => 0,
                };
                Ok::<_, BackendError>((chain_tx.place, tip))
            }
            .await;
            let (seen, confirmed) = match looked {
                Ok((place, tip)) => {
                    let have = place.confirmations(tip);
                    progress(WaitProgress {
                        txid: *txid,
                        confirmations: have,
                        wanted: confirmations,
                        seen: true,
                        elapsed: start.elapsed(),
                    });
                    if have >= u64::from(confirmations) {
                        return Ok(place);
                    }
                    (true, have)
                }
                Err(err) if err.is_retryable() || err.is_not_found() => {
                    tracing::debug!(%txid, error = %err, "still waiting");
                    (false, 0)
                }
                Err(err) => return Err(err),
            };
            if !seen {
                progress(WaitProgress {
                    txid: *txid,
                    confirmations: confirmed,
                    wanted: confirmations,
                    seen,
                    elapsed: start.elapsed(),
                });
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Err(BackendError::Timeout {
                    what: format!("{confirmations} confirmation(s) of {txid}"),
                    after: elapsed,
                });
            }
            let pause = backoff.next_delay().min(timeout - elapsed);
            tokio::time::sleep(pause).await;
        }
    }
}

/// Checks that `address` belongs to `network`.
pub(crate) fn check_network(address: &Address, network: Network) -> Result<(), BackendError> {
    if address.as_unchecked().is_valid_for_network(network) {
        Ok(())
    } else {
        Err(BackendError::WrongNetwork {
            address: address.to_string(),
            network,
        })
    }
}

/// Sorts chain transactions into the order [`Backend::address_transactions`] promises.
pub(crate) fn sort_by_place(txs: &mut [ChainTx]) {
    txs.sort_by_key(|chain_tx| match chain_tx.place {
        TxPlace::Confirmed {
            height, position, ..
        } => (0u8, height, position, chain_tx.txid()),
        TxPlace::Unconfirmed => (1u8, 0, 0, chain_tx.txid()),
    });
}

/// Forwards every method to the pointee, so that `Arc<dyn Backend>` or `Box<B>` is a backend.
macro_rules! forward_backend {
    ($($ptr:ident)::+) => {
        #[async_trait::async_trait]
        impl<T: Backend + ?Sized> Backend for $($ptr)::+<T> {
            fn network(&self) -> Network {
                (**self).network()
            }
            fn describe(&self) -> String {
                (**self).describe()
            }
            async fn tip_height(&self) -> Result<u64, BackendError> {
                (**self).tip_height().await
            }
            async fn utxos(&self, address: &Address, min_conf: u32) -> Result<Vec<Utxo>, BackendError> {
                (**self).utxos(address, min_conf).await
            }
            async fn address_transactions(&self, address: &Address) -> Result<Vec<ChainTx>, BackendError> {
                (**self).address_transactions(address).await
            }
            async fn piece_transactions(&self, piece: &Address, scope: Scope) -> Result<Vec<ChainTx>, BackendError> {
                (**self).piece_transactions(piece, scope).await
            }
            async fn transaction(&self, txid: &Txid) -> Result<ChainTx, BackendError> {
                (**self).transaction(txid).await
            }
            async fn broadcast(&self, tx: &Transaction) -> Result<Txid, BackendError> {
                (**self).broadcast(tx).await
            }
            async fn spender(&self, outpoint: &OutPoint) -> Result<Option<Txid>, BackendError> {
                (**self).spender(outpoint).await
            }
            async fn reserve(&self, request: &ReservationBody) -> Result<bool, BackendError> {
                (**self).reserve(request).await
            }
            async fn spendable_utxos(&self, address: &Address, min_conf: u32) -> Result<Vec<Utxo>, BackendError> {
                (**self).spendable_utxos(address, min_conf).await
            }
            fn spendable_is_sample(&self) -> bool {
                (**self).spendable_is_sample()
            }
            async fn release_reservation(&self, txid: &Txid) -> Result<(), BackendError> {
                (**self).release_reservation(txid).await
            }
            async fn tx_inclusion(&self, txid: &Txid) -> Result<TxInclusion, BackendError> {
                (**self).tx_inclusion(txid).await
            }
            async fn block_header_at(&self, height: u64) -> Result<(BlockHash, Header), BackendError> {
                (**self).block_header_at(height).await
            }
            async fn wait_confirmed_with_progress(
                &self,
                txid: &Txid,
                confirmations: u32,
                timeout: Duration,
                progress: &(dyn Fn(WaitProgress) + Send + Sync),
            ) -> Result<TxPlace, BackendError> {
                (**self)
                    .wait_confirmed_with_progress(txid, confirmations, timeout, progress)
                    .await
            }
        }
    };
}

forward_backend!(std::sync::Arc);
forward_backend!(Box);

/// The trait stays usable as `dyn Backend`.
const _: Option<&dyn Backend> = None;
