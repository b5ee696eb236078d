//! `spool serve` as a library: the follower on its own thread and the API on tokio, started
//! together and stopped together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::api::{self, ApiConfig, ApiState};
use crate::error::IndexError;
use crate::follower::{Follower, FollowerConfig, SharedState};

/// The default HTTP address of `spool serve`: loopback only.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8338";

/// Everything `spool serve` needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The index file (see [`crate::index_path`]).
    pub index_path: PathBuf,
    /// The follower's settings (node, network, `--index-from`, poll interval, `--watch`).
    pub follower: FollowerConfig,
    /// Where to listen ([`DEFAULT_HTTP`] unless told otherwise).
    pub http: SocketAddr,
    /// The federation used when a request gives none.
    pub federation: Vec<String>,
    /// The bearer token writes need; required when `http` is not a loopback address.
    pub api_token: Option<spool_backend::ApiToken>,
    /// How long a reservation never broadcast is held
    /// ([`crate::reservations::DEFAULT_LEASE`] by default).
    pub reservation_lease: std::time::Duration,
}

/// A running server: follower thread and HTTP task.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    state: SharedState,
    stop: Arc<AtomicBool>,
    follower: Option<std::thread::JoinHandle<Result<(), IndexError>>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Opens the index (refusing a node of another chain or genesis), starts the follower
/// thread and the API on `config.http`.
///
/// # Errors
/// The follower's [`Follower::open`] errors; [`IndexError::Node`] when the address cannot
/// be bound.
pub async fn start(config: ServeConfig) -> Result<Running, IndexError> {
    start_with(config, |_| axum::Router::new().fallback(api::not_found)).await
}

/// Like [`start`], serving the routes `extra` makes (e.g. the explorer's pages) beside the
/// API: `extra` answers every path outside `/api/v1`, unknown ones with its own fallback
/// (give it [`api::not_found`] for the API's JSON 404).
///
/// # Errors
/// As [`start`].
pub async fn start_with(
    config: ServeConfig,
    extra: impl FnOnce(Arc<ApiState>) -> axum::Router,
) -> Result<Running, IndexError> {
    if config.api_token.is_none() && !config.http.ip().is_loopback() {
        return Err(IndexError::WritesUnguarded { addr: config.http });
    }
    let path = config.index_path.clone();
    let follower_config = config.follower.clone();
    let mut follower = tokio::task::spawn_blocking(move || Follower::open(&path, follower_config))
        .await
        .map_err(|err| IndexError::Node {
            url: config.follower.node.url.clone(),
            method: "opening the follower".into(),
            source: Box::new(err),
        })??;
    let state = follower.state();
    let listener = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|err| IndexError::Node {
            url: config.http.to_string(),
            method: "binding the HTTP address".into(),
            source: Box::new(err),
        })?;
    let addr = listener.local_addr().map_err(|err| IndexError::Node {
        url: config.http.to_string(),
        method: "binding the HTTP address".into(),
        source: Box::new(err),
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let follower = std::thread::Builder::new()
        .name("spool-index-follower".into())
        .spawn(move || {
            let result = follower.run(&stop2);
            if let Err(err) = &result {
                tracing::error!(error = %err, "follower stopped");
            }
            result
        })
        .map_err(|err| IndexError::Node {
            url: config.follower.node.url.clone(),
            method: "starting the follower thread".into(),
            source: Box::new(err),
        })?;
    let api_state = ApiState::new(
        ApiConfig {
            index_path: config.index_path.clone(),
            network: config.follower.network,
            federation: config.federation.clone(),
            node: config.follower.node.clone(),
            api_token: config.api_token.clone(),
            reservation_lease: config.reservation_lease,
        },
        state.clone(),
    );
    let (tx, rx) = oneshot::channel();
    let app = api::routes(api_state.clone())
        .merge(extra(api_state.clone()))
        .layer(axum::middleware::from_fn_with_state(
            api_state,
            crate::metrics::track,
        ));
    let server = tokio::spawn(api::serve_router(listener, app, async {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        state,
        stop,
        follower: Some(follower),
        shutdown: Some(tx),
        server: Some(server),
    })
}

impl Running {
    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The follower's sync state.
    pub fn state(&self) -> SharedState {
        self.state.clone()
    }

    /// Whether the follower thread has ended (an error it could not ride out).
    pub fn follower_ended(&self) -> bool {
        self.follower.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits until the follower finished a whole round that started after this call.
    pub async fn wait_round(&self) {
        let start = self.state.lock().expect("state lock").rounds;
        while self.state.lock().expect("state lock").rounds < start + 2 {
            if self.follower_ended() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Stops the HTTP server and the follower; returns the follower's result.
    ///
    /// # Errors
    /// The error that ended the follower, if any.
    pub async fn shutdown(mut self) -> Result<(), IndexError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.stop.store(true, Ordering::Relaxed);
        match self.follower.take() {
            Some(handle) => tokio::task::spawn_blocking(move || handle.join())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
