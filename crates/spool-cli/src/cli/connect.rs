//! Connecting to the chosen backend and opening the engine over it.

use std::time::Duration;

use anyhow::{bail, Context};
use spool_backend::core::{CoreAuth, CoreBackend};
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
    let network = settings.network.network();
    let retry = RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
    };
    if let Some(url) = &settings.server {
        return Ok(Box::new(
            ServerBackend::new(url, network)
                .with_context(|| format!("spool server at {url}"))?
                .retry_policy(retry),
        ));
    }
    Ok(match settings.backend {
        BackendKind::Core => Box::new(
            CoreBackend::new(&settings.rpc_url, core_auth(settings), network)
                .with_context(|| format!("bitcoin core at {}", settings.rpc_url))?
                .retry_policy(retry),
        ),
        BackendKind::Esplora => {
            let Some(url) = &settings.esplora_url else {
                bail!("--backend esplora needs --esplora-url URL (or SPOOL_ESPLORA_URL)");
            };
            Box::new(
                EsploraBackend::new(url, network).with_context(|| format!("esplora at {url}"))?,
            )
        }
    })
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
    ServerBackend::new(url, settings.network.network())
        .with_context(|| format!("spool server at {url}"))
}

/// A command that only a `spool serve` index can answer was run without `--server`
/// (a usage error: exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("spool {command} needs an index: give --server URL (or SPOOL_SERVER, or `server` in the config file) naming a running `spool serve`")]
pub struct NeedsServer {
    /// The command's name.
    pub command: &'static str,
}

/// The federation addresses: those given with `--federation` (checked against the network),
/// else ascribe's on mainnet, none elsewhere.
///
/// # Errors
///
/// A `--federation` address of another network.
pub fn federation(settings: &Settings, given: &[AddressArg]) -> anyhow::Result<Vec<String>> {
    let network = settings.network.network();
    let given = given
        .iter()
        .map(|f| f.on(network, "--federation").map(|a| a.to_string()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !given.is_empty() {
        return Ok(given);
    }
    Ok(match settings.network {
        NetworkName::Mainnet => ascribe_federation(),
        _ => Vec::new(),
    })
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
    let backend = backend(settings)?;
    let Some(data_dir) = &settings.data_dir else {
        bail!("no data directory for reservations: give --data-dir DIR (HOME is not set)");
    };
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let reservations = Reservations::open(data_dir)
        .with_context(|| format!("cannot open reservations in {}", data_dir.display()))?;
    Ok(Spool::new(backend, reservations).with_federation(federation))
}
