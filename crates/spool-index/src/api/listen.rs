//! The HTTP/1.1 accept loop: header timeout and a bound on connections.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::{router, ApiState};
use axum::Router;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Most connections served at once; more wait in the listen queue.
pub const MAX_CONNECTIONS: usize = 256;

/// Serves `router(state)` on `listener` (HTTP/1.1) until `shutdown` completes: headers must
/// arrive within [`HEADER_TIMEOUT`], at most [`MAX_CONNECTIONS`] are served at once, and
/// every request must finish within [`REQUEST_TIMEOUT`].
///
/// # Errors
/// None so far: failed accepts and connections are logged and the server goes on.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(state), shutdown).await
}

/// Like [`serve`] with any router (the API's merged with other pages).
///
/// # Errors
/// None so far: failed accepts and connections are logged and the server goes on.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => return Ok(()),
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let served = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
            if let Err(err) = served {
                tracing::debug!(%peer, error = %err, "connection ended");
            }
        });
    }
}
