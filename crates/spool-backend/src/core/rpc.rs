//! The blocking JSON-RPC connection to a node: authentication (re-reading the cookie after a
//! restart), single calls and batches, error classification and call counting.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoincore_rpc::jsonrpc;
use bitcoincore_rpc::jsonrpc::http::simple_http;
use serde_json::Value;

use crate::error::BackendError;
use crate::turns::Turns;

/// Most calls sent in one JSON-RPC batch (one HTTP round trip).
pub(crate) const MAX_BATCH: usize = 250;

/// How the backend authenticates to the node.
#[derive(Clone, PartialEq, Eq)]
pub enum CoreAuth {
    /// The node's `.cookie` file, re-read whenever the node may have restarted.
    Cookie(PathBuf),
    /// `-rpcuser`/`-rpcpassword` (or an `-rpcauth` entry).
    UserPass {
        /// The user name.
        user: String,
        /// The password (never shown in Debug output or errors).
        password: String,
    },
}

impl std::fmt::Debug for CoreAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreAuth::Cookie(path) => f.debug_tuple("Cookie").field(path).finish(),
            CoreAuth::UserPass { user, .. } => f
                .debug_struct("UserPass")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl CoreAuth {
    fn describe(&self) -> String {
        match self {
            CoreAuth::Cookie(path) => format!("cookie file {}", path.display()),
            CoreAuth::UserPass { user, .. } => format!("user {user:?}"),
        }
    }
}

/// RPC calls and HTTP round trips made so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RpcCounts {
    /// JSON-RPC calls (each call inside a batch counts once).
    pub calls: u64,
    /// HTTP requests (a batch is one).
    pub round_trips: u64,
}

impl std::ops::Sub for RpcCounts {
    type Output = RpcCounts;
    fn sub(self, rhs: RpcCounts) -> RpcCounts {
        RpcCounts {
            calls: self.calls - rhs.calls,
            round_trips: self.round_trips - rhs.round_trips,
        }
    }
}

/// An RPC error answered by the node for one call.
#[derive(Debug, Clone)]
pub(crate) struct NodeRefusal {
    pub code: i32,
    pub message: String,
}

pub(crate) struct Rpc {
    /// The URL connected to.
    target: String,
    /// The URL as shown in errors and logs: without credentials.
    url: String,
    auth: CoreAuth,
    timeout: Duration,
    scan_timeout: Duration,
    /// Two connections for calls, taken in turn (see [`Turns`]), and the credentials they
    /// were made with.
    client: Mutex<Option<(Turns<Arc<bitcoincore_rpc::Client>>, String)>>,
    scan_client: Mutex<Option<(Turns<Arc<bitcoincore_rpc::Client>>, String)>>,
    calls: AtomicU64,
    round_trips: AtomicU64,
}

/// The node's "still starting" code.
const RPC_IN_WARMUP: i32 = -28;

/// `url` without the `user:password@` part, if any.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{tail}"),
        None => format!("{host}{tail}"),
    }
}

impl Rpc {
    pub(crate) fn new(
        url: &str,
        auth: CoreAuth,
        timeout: Duration,
        scan_timeout: Duration,
    ) -> Result<Rpc, BackendError> {
        let shown = redact_url(url);
        // Validate the URL now so that a typo is reported at construction (no lookup yet).
        simple_http::Builder::new()
            .url(url)
            .map_err(|err| BackendError::Config {
                url: shown.clone(),
                detail: format!("invalid RPC URL: {}", redact_url(&err.to_string())),
            })?;
        Ok(Rpc {
            target: url.to_string(),
            url: shown,
            auth,
            timeout,
            scan_timeout,
            client: Mutex::new(None),
            scan_client: Mutex::new(None),
            calls: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn counts(&self) -> RpcCounts {
        RpcCounts {
            calls: self.calls.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
        }
    }

    /// The credentials as `user:password`.
    fn credentials(&self) -> Result<String, BackendError> {
        match &self.auth {
            CoreAuth::UserPass { user, password } => Ok(format!("{user}:{password}")),
            CoreAuth::Cookie(path) => match std::fs::read_to_string(path) {
                Ok(cookie) => Ok(cookie.trim().to_string()),
                // The node deletes its cookie when it stops: it is down, not misconfigured.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    Err(BackendError::unreachable(
                        &self.url,
                        format!(
                            "cookie file {} does not exist (is the node running?)",
                            path.display()
                        ),
                    ))
                }
                Err(err) => Err(BackendError::Config {
                    url: self.url.clone(),
                    detail: format!("cannot read cookie file {}: {err}", path.display()),
                }),
            },
        }
    }

    /// The deadline of one call of `method`: long for `scantxoutset`, short otherwise.
    fn deadline(&self, method: &str) -> Duration {
        if method == "scantxoutset" {
            self.scan_timeout
        } else {
            self.timeout
        }
    }

    /// The client for `method` with the current credentials (rebuilt when the cookie
    /// changed): successive calls take two connections in turn ([`Turns`]).
    fn client(&self, method: &str) -> Result<Arc<bitcoincore_rpc::Client>, BackendError> {
        let credentials = self.credentials()?;
        let slot = if method == "scantxoutset" {
            &self.scan_client
        } else {
            &self.client
        };
        let mut slot = slot.lock().expect("rpc client lock poisoned");
        if let Some((clients, used)) = slot.as_ref() {
            if *used == credentials {
                return Ok(clients.next().clone());
            }
        }
        let (user, pass) = credentials
            .split_once(':')
            .ok_or_else(|| BackendError::Config {
                url: self.url.clone(),
                detail: format!("{} holds no `user:password`", self.auth.describe()),
            })?;
        let connection = || {
            let transport = simple_http::Builder::new()
                .url(&self.target)
                .map_err(|err| BackendError::Config {
                    url: self.url.clone(),
                    detail: format!("invalid RPC URL: {}", redact_url(&err.to_string())),
                })?
                .timeout(self.deadline(method))
                .auth(user.to_owned(), Some(pass.to_owned()))
                .build();
            Ok::<_, BackendError>(Arc::new(bitcoincore_rpc::Client::from_jsonrpc(
                jsonrpc::Client::with_transport(transport),
            )))
        };
        let clients = Turns::try_new(connection)?;
        let client = clients.next().clone();
        *slot = Some((clients, credentials));
        Ok(client)
    }

    /// Calls `method` once; a node refusal comes back as `Ok(Err(..))`.
    pub(crate) fn call(
        &self,
        method: &str,
        params: &[Value],
    ) -> Result<Result<Value, NodeRefusal>, BackendError> {
        let client = self.client(method)?;
        let raw = serde_json::value::to_raw_value(params)
            .map_err(|err| BackendError::bad_response(&self.url, err.to_string()))?;
        let jsonrpc = client.get_jsonrpc_client();
        let request = jsonrpc.build_request(method, Some(&raw));
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let response = jsonrpc.send_request(request);
        tracing::info!(
            url = %self.url,
            method,
            elapsed_ms = started.elapsed().as_millis() as u64,
            ok = response.is_ok(),
            "rpc call"
        );
        let response = response.map_err(|err| self.transport_error(method, err))?;
        self.unpack(method, response)
    }

    /// Calls `method` and treats a node refusal as an error.
    pub(crate) fn call_ok(&self, method: &str, params: &[Value]) -> Result<Value, BackendError> {
        self.call(method, params)?
            .map_err(|refusal| self.refusal_error(method, refusal))
    }

    /// Calls `method` once per parameter list, [`MAX_BATCH`] calls per HTTP round trip.
    /// Results come back in the order of `params`.
    pub(crate) fn batch(
        &self,
        method: &str,
        params: &[Vec<Value>],
    ) -> Result<Vec<Result<Value, NodeRefusal>>, BackendError> {
        self.batch_in(method, params, MAX_BATCH)
    }

    /// Like [`Rpc::batch`] with at most `per_trip` calls per round trip (for big replies).
    pub(crate) fn batch_in(
        &self,
        method: &str,
        params: &[Vec<Value>],
        per_trip: usize,
    ) -> Result<Vec<Result<Value, NodeRefusal>>, BackendError> {
        let mut out = Vec::with_capacity(params.len());
        for chunk in params.chunks(per_trip.max(1)) {
            let client = self.client(method)?;
            let jsonrpc = client.get_jsonrpc_client();
            let raws = chunk
                .iter()
                .map(serde_json::value::to_raw_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| BackendError::bad_response(&self.url, err.to_string()))?;
            let requests: Vec<_> = raws
                .iter()
                .map(|raw| jsonrpc.build_request(method, Some(raw)))
                .collect();
            self.calls.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            let started = std::time::Instant::now();
            let responses = jsonrpc.send_batch(&requests);
            tracing::info!(
                url = %self.url,
                method,
                calls = chunk.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = responses.is_ok(),
                "rpc batch"
            );
            let responses = responses.map_err(|err| self.transport_error(method, err))?;
            for response in responses {
                let response = response.ok_or_else(|| {
                    BackendError::bad_response(
                        &self.url,
                        format!("{method}: a batch reply is missing"),
                    )
                })?;
                out.push(self.unpack(method, response)?);
            }
        }
        Ok(out)
    }

    /// Like [`Rpc::batch`], every call must succeed.
    pub(crate) fn batch_ok(
        &self,
        method: &str,
        params: &[Vec<Value>],
    ) -> Result<Vec<Value>, BackendError> {
        self.batch(method, params)?
            .into_iter()
            .map(|r| r.map_err(|refusal| self.refusal_error(method, refusal)))
            .collect()
    }

    fn unpack(
        &self,
        method: &str,
        response: jsonrpc::Response,
    ) -> Result<Result<Value, NodeRefusal>, BackendError> {
        if let Some(err) = response.error {
            return Ok(Err(NodeRefusal {
                code: err.code,
                message: err.message,
            }));
        }
        match response.result {
            None => Ok(Ok(Value::Null)),
            Some(raw) => serde_json::from_str(raw.get()).map(Ok).map_err(|err| {
                BackendError::bad_response(&self.url, format!("{method}: undecodable reply: {err}"))
            }),
        }
    }

    /// The error for a refusal the caller does not handle itself.
    pub(crate) fn refusal_error(&self, method: &str, refusal: NodeRefusal) -> BackendError {
        if refusal.code == RPC_IN_WARMUP {
            return BackendError::unreachable(
                &self.url,
                format!("node is starting: {}", refusal.message),
            );
        }
        BackendError::Node {
            url: self.url.clone(),
            method: method.to_string(),
            code: refusal.code,
            message: refusal.message,
        }
    }

    fn transport_error(&self, method: &str, err: jsonrpc::Error) -> BackendError {
        match err {
            jsonrpc::Error::Transport(inner) => {
                if let Some(simple_http::Error::SocketError(io)) =
                    inner.downcast_ref::<simple_http::Error>()
                {
                    if matches!(
                        io.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) {
                        return BackendError::NoAnswer {
                            url: self.url.clone(),
                            method: method.to_string(),
                            after: self.deadline(method),
                        };
                    }
                }
                if let Some(simple_http::Error::HttpErrorCode(code @ (401 | 403))) =
                    inner.downcast_ref::<simple_http::Error>()
                {
                    return BackendError::Unauthorized {
                        url: self.url.clone(),
                        detail: format!("HTTP {code} for {}", self.auth.describe()),
                    };
                }
                BackendError::Unreachable {
                    url: self.url.clone(),
                    source: inner,
                }
            }
            jsonrpc::Error::Rpc(refusal) => self.refusal_error(
                method,
                NodeRefusal {
                    code: refusal.code,
                    message: refusal.message,
                },
            ),
            other => BackendError::bad_response(&self.url, format!("{method}: {other}")),
        }
    }
}
