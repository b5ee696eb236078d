//! The explorer's data source over the chain index: [`IndexSource`] adapts spool-index's
//! [`ApiState`] to spool-explorer's [`ExplorerSource`].
//!
//! The adapter lives here, in the one crate that depends on both: the explorer stays a
//! library of pages over any source (tested over an in-memory one), and the index stays a
//! store and JSON API that knows nothing of HTML.

use std::str::FromStr;
use std::sync::Arc;

use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, Network, Txid};
use spool_explorer::{ExplorerSource, ReplacedTx, SourceError, SyncStatus};
use spool_index::api::ApiState;
use spool_index::certificate::{CertificateError, Dating};
use spool_index::IndexError;
use spool_protocol::certificate::Certificate;
use spool_protocol::chain::ChainTx;

/// The index, as the explorer reads it.
#[derive(Debug, Clone)]
pub struct IndexSource {
    state: Arc<ApiState>,
}

impl IndexSource {
    /// A source reading the index `state` serves.
    pub fn new(state: Arc<ApiState>) -> IndexSource {
        IndexSource { state }
    }

    fn read<T>(
        &self,
        what: impl FnOnce() -> String,
        f: impl FnOnce(&spool_index::Store) -> Result<T, IndexError>,
    ) -> Result<T, SourceError> {
        self.state.with_reader(f).map_err(|err| SourceError::Read {
            what: what(),
            source: Box::new(err),
        })
    }
}

impl ExplorerSource for IndexSource {
    fn network(&self) -> Network {
        self.state.config().network
    }

    fn status(&self) -> Result<SyncStatus, SourceError> {
        let sync = self.state.sync_state();
        let Some((indexed_height, indexed_hash)) = sync.indexed else {
            return Err(SourceError::NotReady {
                reason: "no block is indexed yet".into(),
            });
        };
        Ok(SyncStatus {
            indexed_height,
            indexed_hash,
            node_height: sync.node_height,
            synced: sync.synced,
        })
    }

    fn piece_transactions(&self, piece: &Address) -> Result<Vec<ChainTx>, SourceError> {
        self.read(
            || format!("the transactions of piece {piece}"),
            |store| store.txs_paying(&piece.script_pubkey()),
        )
    }

    fn transaction(&self, txid: &Txid) -> Result<Option<ChainTx>, SourceError> {
        self.read(
            || format!("transaction {txid}"),
            |store| store.transaction(txid),
        )
    }

    fn replaced_transaction(&self, txid: &Txid) -> Result<Option<ReplacedTx>, SourceError> {
        let replaced = self.read(
            || format!("replaced transaction {txid}"),
            |store| store.replaced(txid),
        )?;
        Ok(replaced.map(|r| ReplacedTx {
            transaction: r.transaction,
            replaced_by: r.replaced_by,
        }))
    }

    fn address_pieces(&self, address: &Address) -> Result<Vec<Address>, SourceError> {
        let network = self.network();
        let pieces = self.read(
            || format!("the pieces of {address}"),
            |store| store.pieces_involving(&address.script_pubkey()),
        )?;
        Ok(pieces
            .iter()
            .filter_map(|text| {
                Address::<NetworkUnchecked>::from_str(text)
                    .ok()?
                    .require_network(network)
                    .ok()
            })
            .collect())
    }

    fn latest_transactions(&self, limit: usize) -> Result<Vec<ChainTx>, SourceError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.read(
            || "the latest transactions".into(),
            |store| store.latest(limit),
        )
    }

    fn certificate(
        &self,
        piece: &Address,
        edition: u64,
        federation: &[Address],
    ) -> Result<Option<Certificate>, SourceError> {
        let federation: Vec<String> = federation.iter().map(ToString::to_string).collect();
        let issuer = format!(
            "spool-rs {} via spool serve's explorer",
            env!("CARGO_PKG_VERSION")
        );
        // The explorer reads on a blocking thread of the server's runtime; issuing asks the
        // node for proofs, so it runs on that runtime from here.
        let issued = tokio::runtime::Handle::current().block_on(spool_index::certificate::issue(
            &self.state,
            piece,
            edition,
            &federation,
            &issuer,
            Dating::TipTime,
        ));
        match issued {
            Ok(certificate) => Ok(Some(certificate)),
            Err(CertificateError::Indexing { indexed, node }) => Err(SourceError::NotReady {
                reason: format!(
                    "the index is at block {indexed} of {node}; a certificate needs the whole chain"
                ),
            }),
            Err(err) => Err(SourceError::Read {
                what: format!("the certificate of edition {edition} of {piece}"),
                source: Box::new(err),
            }),
        }
    }
}
