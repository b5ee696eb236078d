//! Connecting to the chosen backend and opening the engine over it.

use std::time::Duration;

use anyhow::Context;
use spool_backend::core::{redact_url, CoreAuth, CoreBackend};
use spool_backend::esplora::EsploraBackend;
use spool_backend::server::ServerBackend;
use spool_backend::{Backend, RetryPolicy};
use spool_engine::store::Reservations;
use spool_engine::Spool;
use spool_protocol::history::ascribe_federation;

use super::args::AddressArg;
use super::options::{BackendKind, NetworkName, RpcAuth, Settings};

/// The backend chosen at run time: Bitcoin Core or Esplora.
pub type AnyBackend = Box<dyn Backend>;

/// Opens the backend the settings name. Nothing is contacted yet.
///
/// # Errors
///
/// A malformed URL, or Esplora without `--esplora-url`.
pub fn backend(settings: &Settings) -> anyhow::Result<AnyBackend> {
    if let Some(url) = &settings.server {
        return Ok(Box::new(server_backend(settings, url)?));
    }
    Ok(match settings.backend {
        BackendKind::Core => {
            let auth = core_auth(settings);
            let shown = redact_url(&settings.rpc_url);
            check_url("--rpc-url", &settings.rpc_url)?;
            let timeout = settings
                .rpc_timeout
                .map_or(spool_backend::core::DEFAULT_TIMEOUT, Duration::from_secs);
            let network = settings.network.network();
            let mut core = CoreBackend::with_timeout(&settings.rpc_url, auth, network, timeout)
                .with_context(|| format!("bitcoin core at {shown}"))?
                .retry_policy(RETRY);
            // The decoded mempool and the last UTXO scan are kept across processes.
            if let Some(dir) = &settings.data_dir {
                core = core.with_cache_dir(dir);
            }
            Box::new(core)
        }
        BackendKind::Esplora => {
            let Some(url) = &settings.esplora_url else {
                return Err(super::exit::input(
                    "--backend esplora needs --esplora-url URL (or SPOOL_ESPLORA_URL)",
                ));
            };
            check_url("--esplora-url", url)?;
            let shown = redact_url(url);
            Box::new(
                EsploraBackend::new(url, settings.network.network())
                    .with_context(|| format!("esplora at {shown}"))?,
            )
        }
    })
}

/// How the backends of commands retry a transient failure.
const RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    first_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(1),
};

/// The client of the `spool serve` at `url` that actions and reads go through: as
/// [`server_at`], retrying transient failures.
fn server_backend(settings: &Settings, url: &str) -> anyhow::Result<ServerBackend> {
    Ok(server_at(settings, url)?.retry_policy(RETRY))
}

/// The client of the `spool serve` at `url`, with the settings' network and token.
fn server_at(settings: &Settings, url: &str) -> anyhow::Result<ServerBackend> {
    check_url("--server", url)?;
    let shown = redact_url(url);
    Ok(ServerBackend::new(url, settings.network.network())
        .with_context(|| format!("spool server at {shown}"))?
        .with_token(settings.server_token.clone()))
}

/// The backend the settings name, for a command that goes on to use it: with `--server`,
/// the server's index is checked first as [`server_sync_gate`] does, over the connection
/// the command then reuses; otherwise the node or Esplora is asked for its tip, so that a
/// node of another network is named before anything else happens.
///
/// # Errors
///
/// As [`backend`] and [`server_sync_gate`], or the backend's failure.
pub async fn checked_backend(settings: &Settings, purpose: Purpose) -> anyhow::Result<AnyBackend> {
    if let Some(url) = &settings.server {
        let server = server_backend(settings, url)?;
        gate(&server, settings, purpose).await?;
        return Ok(Box::new(server));
    }
    let backend = backend(settings)?;
    backend.tip_height().await?;
    Ok(backend)
}

/// Bitcoin Core's authentication from the settings.
pub fn core_auth(settings: &Settings) -> CoreAuth {
    match &settings.rpc_auth {
        RpcAuth::Cookie(path) => CoreAuth::Cookie(path.clone()),
        RpcAuth::UserPass { user, password } => CoreAuth::UserPass {
            user: user.clone(),
            password: password.clone(),
        },
    }
}

/// The `spool serve` client for commands only a server can answer (`holdings`, `pieces`).
///
/// # Errors
///
/// [`NeedsServer`] without `--server`; a malformed server URL.
pub fn server(settings: &Settings, command: &'static str) -> anyhow::Result<ServerBackend> {
    let Some(url) = &settings.server else {
        return Err(NeedsServer { command }.into());
    };
    server_at(settings, url)
}

/// What a command does with the server's answers: read them, or act on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A read: answered even from an index behind its node, with a warning on stderr.
    Read,
    /// An action's pre-check: refused against an index behind its node.
    Action,
}

/// The server's index is behind its node: an action's pre-check is not run against it.
#[derive(Debug, thiserror::Error)]
#[error("server is indexing: block {indexed} of {node}; try again when it has caught up, or give --wait-sync to wait for it")]
pub struct ServerIndexing {
    /// The last indexed block (0 before the first).
    pub indexed: u64,
    /// The node's tip.
    pub node: u64,
}

/// With `--server`, checks that the server's index has caught up with its node before a
/// command reads from it: with `--wait-sync` it waits (printing its progress on stderr
/// every few seconds); otherwise a read goes on with a warning on stderr and an action is
/// refused ([`ServerIndexing`], exit 1). Without `--server`, nothing to check.
///
/// # Errors
///
/// The server's failure, or [`ServerIndexing`] for an action.
pub async fn server_sync_gate(settings: &Settings, purpose: Purpose) -> anyhow::Result<()> {
    if settings.server.is_none() {
        return Ok(());
    }
    gate(&server(settings, "status")?, settings, purpose).await
}

/// The sync gate over `server` (see [`server_sync_gate`]).
async fn gate(server: &ServerBackend, settings: &Settings, purpose: Purpose) -> anyhow::Result<()> {
    let mut last_note = std::time::Instant::now();
    let mut first = true;
    loop {
        let status = server.status().await.with_context(|| server.describe())?;
        if status.synced {
            return Ok(());
        }
        let indexed = status.indexed_height.unwrap_or(0);
        let node = status.node_height;
        if settings.wait_sync {
            if first || last_note.elapsed() >= Duration::from_secs(5) {
                eprintln!("waiting for the server's index: block {indexed} of {node}");
                last_note = std::time::Instant::now();
            }
            first = false;
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        return match purpose {
            Purpose::Action => Err(ServerIndexing { indexed, node }.into()),
            Purpose::Read => {
                eprintln!(
                    "warning: the server's index is behind its node (block {indexed} of {node}): \
                     this answer may miss recent events; give --wait-sync to wait for it"
                );
                Ok(())
            }
        };
    }
}

/// A command that only a `spool serve` index can answer was run without `--server`
/// (a usage error: exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("spool {command} needs an index: give --server URL (or SPOOL_SERVER, or `server` in the config file) naming a running `spool serve`")]
pub struct NeedsServer {
    /// The command's name.
    pub command: &'static str,
}

/// Refuses a URL that is not `http://` or `https://` with a host, before anything is
/// looked up; the error shows the URL without credentials.
fn check_url(flag: &str, url: &str) -> anyhow::Result<()> {
    let shown = redact_url(url);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let host = host.map(|h| h.rsplit_once('@').map_or(h, |(_, h)| h));
    match host {
        Some(h) if !h.is_empty() && !h.starts_with(':') && !h.contains(char::is_whitespace) => {
            Ok(())
        }
        _ => Err(super::exit::input(format!(
            "{flag} {shown:?} is not a URL: expected http://HOST[:PORT] or https://..."
        ))),
    }
}

/// The federation addresses, checked against the network: those given with `--federation`,
/// else `SPOOL_FEDERATION` or the config file's `federation` (an empty list turns the rule
/// off), else ascribe's on mainnet and none elsewhere.
///
/// # Errors
///
/// A malformed address, or one of another network (naming where it came from).
pub fn federation(settings: &Settings, given: &[AddressArg]) -> anyhow::Result<Vec<String>> {
    let network = settings.network.network();
    let given = given
        .iter()
        .map(|f| f.on(network, "--federation").map(|a| a.to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !given.is_empty() {
        return Ok(given);
    }
    if let Some(configured) = &settings.federation {
        return configured
            .iter()
            .map(|text| {
                let arg: AddressArg = text.parse().map_err(|err: String| {
                    super::exit::input(format_args!(
                        "federation (SPOOL_FEDERATION or the config file): {err}"
                    ))
                })?;
                arg.on(network, "federation address").map(|a| a.to_string())
            })
            .collect();
    }
    Ok(match settings.network {
        NetworkName::Mainnet => ascribe_federation(),
        _ => Vec::new(),
    })
}

/// The verified history of a piece with depth: confirmations against the backend's tip,
/// events with fewer than `min_conf` listed as pending, and the unconfirmed ancestors of
/// non-signalling mempool events fetched so that replaceability is inherited.
///
/// # Errors
///
/// The backend's failure, or a piece address of another network.
pub async fn history(
    spool: &Spool<AnyBackend>,
    piece: &bitcoin::Address,
    min_conf: u32,
) -> anyhow::Result<spool_protocol::history::History> {
    use spool_protocol::chain::TxPlace;
    use spool_protocol::history::{BuildOptions, History};
    let backend = spool.backend();
    let at = || backend.describe();
    let mut txs = backend.address_transactions(piece).await.with_context(at)?;
    let tip_height = backend.tip_height().await.with_context(at)?;
    // Mempool chains are at most 25 deep in Bitcoin Core's default policy.
    let mut known: std::collections::HashSet<bitcoin::Txid> =
        txs.iter().map(|t| t.txid()).collect();
    let mut queue: Vec<bitcoin::Txid> = txs
        .iter()
        .filter(|t| t.place == TxPlace::Unconfirmed)
        .filter(|t| !t.tx.input.iter().any(|i| i.sequence.is_rbf()))
        .flat_map(|t| t.tx.input.iter().map(|i| i.previous_output.txid))
        .collect();
    let mut fetched = 0;
    while let Some(txid) = queue.pop() {
        if fetched >= 100 || !known.insert(txid) {
            continue;
        }
        fetched += 1;
        let parent = match backend.transaction(&txid).await {
            Ok(parent) => parent,
            Err(spool_backend::BackendError::NotFound { .. }) => continue,
            Err(err) => return Err(anyhow::Error::new(err).context(at())),
        };
        if parent.place == TxPlace::Unconfirmed {
            if !parent.tx.input.iter().any(|i| i.sequence.is_rbf()) {
                queue.extend(parent.tx.input.iter().map(|i| i.previous_output.txid));
            }
            txs.push(parent);
        }
    }
    let options = BuildOptions {
        federation: spool.federation().to_vec(),
        tip_height: Some(tip_height),
        min_conf: u64::from(min_conf),
    };
    Ok(History::build_with(
        piece,
        backend.network(),
        &txs,
        &options,
    )?)
}

/// The engine for read-only commands (history, ownership): no reservations on disk.
///
/// # Errors
///
/// As [`backend`].
pub fn reader(settings: &Settings, federation: Vec<String>) -> anyhow::Result<Spool<AnyBackend>> {
    let backend = backend(settings)?;
    Ok(Spool::new(backend, Reservations::in_memory()).with_federation(federation))
}

/// The engine over the chosen backend, with reservations in the data directory.
///
/// # Errors
///
/// As [`backend`], or a data directory or reservation store that cannot be opened.
pub async fn spool(
    settings: &Settings,
    federation: Vec<String>,
) -> anyhow::Result<Spool<AnyBackend>> {
    spool_over(settings, backend(settings)?, federation)
}

/// The engine over `backend` (from [`checked_backend`]), with reservations in the data
/// directory.
///
/// # Errors
///
/// A data directory or reservation store that cannot be opened.
pub fn spool_over(
    settings: &Settings,
    backend: AnyBackend,
    federation: Vec<String>,
) -> anyhow::Result<Spool<AnyBackend>> {
    let Some(data_dir) = &settings.data_dir else {
        return Err(super::exit::input(
            "no data directory for reservations: give --data-dir DIR (no home directory is known)",
        ));
    };
    // The store creates the directory, private to this user (0700).
    let reservations = Reservations::open(data_dir)
        .with_context(|| format!("cannot open reservations in {}", data_dir.display()))?;
    Ok(Spool::new(backend, reservations).with_federation(federation))
}
