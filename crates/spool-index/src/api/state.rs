//! The server's shared state: the index's connections and the cache of verified histories.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bitcoin::Address;
use spool_protocol::history::{BuildOptions, History};

use super::{build_history_with, ApiConfig, ApiError};
use crate::error::IndexError;
use crate::follower::{SharedState, SyncState};
use crate::store::Store;

/// Read connections kept open.
const READERS: usize = 8;

/// The server's shared state.
pub struct ApiState {
    pub(super) config: ApiConfig,
    pub(super) readers: Mutex<Vec<Store>>,
    pub(super) writer: Mutex<Option<Store>>,
    pub(super) sync: SharedState,
    pub(super) histories: Mutex<HashMap<HistoryKey, (u64, Arc<History>)>>,
    pub(super) metrics: crate::metrics::Metrics,
    pub(super) reservations: std::sync::OnceLock<crate::reservations::ServerReservations>,
    /// Node clients between requests: each keeps its connection to the node open.
    pub(super) nodes: Mutex<Vec<crate::node::NodeRpc>>,
}

/// A cached history: the piece and the federation it was verified with.
type HistoryKey = (String, Vec<String>, u64);

/// Most histories kept between index writes.
const CACHED_HISTORIES: usize = 1_024;

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("index", &self.config.index_path)
            .finish()
    }
}

impl ApiState {
    /// State over the index at `config.index_path`, reporting `sync` as status.
    pub fn new(config: ApiConfig, sync: SharedState) -> Arc<ApiState> {
        Arc::new(ApiState {
            config,
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(None),
            sync,
            histories: Mutex::new(HashMap::new()),
            metrics: crate::metrics::Metrics::new(),
            reservations: std::sync::OnceLock::new(),
            nodes: Mutex::new(Vec::new()),
        })
    }

    /// The reservations held for every operator (opened on first use, from the index file).
    ///
    /// # Errors
    /// [`IndexError`] when the tables cannot be opened or read.
    pub fn reservations(&self) -> Result<&crate::reservations::ServerReservations, IndexError> {
        if let Some(held) = self.reservations.get() {
            return Ok(held);
        }
        let opened = crate::reservations::ServerReservations::open(
            &self.config.index_path,
            self.config.reservation_lease,
        )?;
        Ok(self.reservations.get_or_init(|| opened))
    }

    /// The server's metrics (`GET /metrics`).
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The configuration served.
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// The follower's sync state (status, heights).
    pub fn sync_state(&self) -> SyncState {
        self.sync.lock().expect("state lock").clone()
    }

    /// Runs `f` with a read connection of the index on the blocking pool (for pages built
    /// beside the API, e.g. the explorer).
    ///
    /// # Errors
    /// What `f` returns; an [`ApiError`] when no connection can be opened.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Store, &ApiState) -> Result<T, ApiError> + Send + 'static,
    {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let store = state.take_reader()?;
            let result = f(&store, &state);
            state.give_back(store);
            result
        })
        .await
        .map_err(|err| ApiError::internal(format!("task failed: {err}")))?
    }

    /// Runs `f` with a read connection of the index on the calling thread (which may block:
    /// call it from a blocking thread, e.g. the explorer's page renderer).
    ///
    /// # Errors
    /// What `f` returns; [`IndexError`] when no connection can be opened.
    pub fn with_reader<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        let store = self.take_reader()?;
        let result = f(&store);
        self.give_back(store);
        result
    }

    /// Runs `f` with a client of the node on the calling thread (which may block): one kept
    /// from an earlier request when there is one, so that its connection is reused (a
    /// connection the node closed meanwhile is opened again by the client). A client whose
    /// call failed is dropped.
    ///
    /// # Errors
    /// What `f` returns; [`IndexError`] when no client can be made (an unreadable cookie).
    pub fn with_node<T, E: From<IndexError>>(
        &self,
        f: impl FnOnce(&crate::node::NodeRpc) -> Result<T, E>,
    ) -> Result<T, E> {
        let pooled = self.nodes.lock().expect("pool lock").pop();
        let rpc = match pooled {
            Some(rpc) => rpc,
            None => crate::node::NodeRpc::new(&self.config.node)?,
        };
        let result = f(&rpc);
        // After a failure the client is not kept: the node may have restarted (a new
        // cookie), and a fresh client reads its credentials again.
        if result.is_ok() {
            let mut pool = self.nodes.lock().expect("pool lock");
            if pool.len() < READERS {
                pool.push(rpc);
            }
        }
        result
    }

    fn take_reader(&self) -> Result<Store, IndexError> {
        let pooled = self.readers.lock().expect("pool lock").pop();
        match pooled {
            Some(store) => Ok(store),
            None => Store::open_reader(&self.config.index_path, self.config.network),
        }
    }

    fn give_back(&self, store: Store) {
        let mut pool = self.readers.lock().expect("pool lock");
        if pool.len() < READERS {
            pool.push(store);
        }
    }

    /// The verified history of `piece` with `federation`, computed once per index
    /// generation and shared.
    ///
    /// # Errors
    /// [`ApiError`] when the index fails.
    pub fn history(
        &self,
        store: &Store,
        piece: &Address,
        federation: &[String],
    ) -> Result<Arc<History>, ApiError> {
        self.history_with(store, piece, federation, 0)
    }

    /// The history of `piece` with confirmations counted against the index's tip and events
    /// with fewer than `min_conf` confirmations pending (listed, not counted), cached until
    /// the index next changes.
    ///
    /// # Errors
    /// [`ApiError`] when the index fails.
    pub fn history_with(
        &self,
        store: &Store,
        piece: &Address,
        federation: &[String],
        min_conf: u64,
    ) -> Result<Arc<History>, ApiError> {
        let generation = store.generation()?;
        let key = (piece.to_string(), federation.to_vec(), min_conf);
        if let Some((at, history)) = self.histories.lock().expect("cache lock").get(&key) {
            if *at == generation {
                return Ok(history.clone());
            }
        }
        let txs = store.txs_paying(&piece.script_pubkey())?;
        let options = BuildOptions {
            federation: federation.to_vec(),
            tip_height: store.tip()?.map(|(height, _)| height),
            min_conf,
        };
        let history = Arc::new(build_history_with(piece, store.network(), &txs, &options));
        let mut cache = self.histories.lock().expect("cache lock");
        if cache.len() >= CACHED_HISTORIES {
            cache.retain(|_, (at, _)| *at == generation);
            if cache.len() >= CACHED_HISTORIES {
                cache.clear();
            }
        }
        cache.insert(key, (generation, history.clone()));
        Ok(history)
    }

    pub(super) fn indexed_height(&self) -> Option<u64> {
        self.sync
            .lock()
            .expect("state lock")
            .indexed
            .map(|(h, _)| h)
    }
}
