//! `spool serve`: follow the node into the chain index and serve the JSON API under
//! `/api/v1` and the provenance explorer's pages beside it, until Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_explorer::ExplorerConfig;
use spool_index::ServeConfig;

use super::index::IndexOptions;
use super::index_source::IndexSource;
use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool serve`'s arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen (loopback unless told otherwise).
    #[arg(long, value_name = "ADDR", default_value = spool_index::DEFAULT_HTTP)]
    pub http: SocketAddr,
    /// Federation addresses: the default set of the API and of the explorer's validity
    /// [default: ascribe's on mainnet, none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
    /// How often to poll the node for new blocks and mempool transactions, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub poll_ms: u64,
    /// A file holding the bearer token that writes (broadcasts) need; required when
    /// `--http` is not a loopback address. Clients give it with SPOOL_SERVER_TOKEN or
    /// `--server-token-file`.
    #[arg(long, value_name = "PATH")]
    pub api_token_file: Option<std::path::PathBuf>,
    /// How long the server holds a reservation whose transaction was never broadcast (an
    /// operator that crashed between reserving and sending), in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = spool_index::reservations::DEFAULT_LEASE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub reservation_lease: u64,
    /// The explorer's public base URL (e.g. `https://spool.example`), put in the QR code of
    /// its certificate pages [default: `http://` and the host the visitor asked for].
    #[arg(long, value_name = "URL", value_parser = public_url)]
    pub public_url: Option<String>,
    /// Where and what to index.
    #[command(flatten)]
    pub options: IndexOptions,
}

/// `{"url", "stopped"}`, printed when the server stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The base URL served.
    pub url: String,
    /// Why it stopped.
    pub stopped: String,
}

impl ServeArgs {
    /// Runs the server until Ctrl-C (or SIGTERM); announces `listening on URL` once bound.
    ///
    /// # Errors
    ///
    /// No data directory, a node of another chain, an address that cannot be bound, or the
    /// follower stopping on an error it cannot ride out.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let federation = connect::federation(settings, &self.federation)?;
        let explorer_federation = federation
            .iter()
            .map(|a| {
                let arg: AddressArg = a.parse().map_err(|e: String| anyhow::anyhow!(e))?;
                arg.on(network, "--federation")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let index_path = IndexOptions::index_path(settings)?;
        let config = ServeConfig {
            index_path: index_path.clone(),
            follower: self.options.follower(
                settings,
                Duration::from_millis(self.poll_ms.max(10)),
                &self.federation,
            )?,
            http: self.http,
            federation,
            api_token: self
                .api_token_file
                .as_deref()
                .map(spool_backend::ApiToken::from_file)
                .transpose()?,
            reservation_lease: Duration::from_secs(self.reservation_lease),
        };
        let mut explorer = ExplorerConfig::new(explorer_federation);
        explorer.public_url.clone_from(&self.public_url);
        let running = spool_index::start_with(config, move |state| {
            spool_explorer::router(Arc::new(IndexSource::new(state)), explorer)
        })
        .await
        .with_context(|| format!("cannot serve the index {}", index_path.display()))?;
        let url = running.url();
        let line = format!("listening on {url} (explorer {url}/, API {url}/api/v1)");
        if settings.json {
            eprintln!("{line}");
        } else {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        let stopped = tokio::select! {
            () = interrupted() => "interrupted",
            () = follower_ended(&running) => "follower ended",
        };
        let ended = running.follower_ended() && stopped == "follower ended";
        let result = running.shutdown().await;
        if ended {
            result.context("the follower stopped")?;
        }
        Outcome::new(
            &Output {
                url,
                stopped: stopped.into(),
            },
            "",
        )
    }
}

/// `--public-url`: an `http://` or `https://` URL without query or fragment.
fn public_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("`{text}` is not an http:// or https:// URL"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#', ' ', '"', '<', '>']) {
        return Err(format!(
            "`{text}` is not a base URL (a host, an optional path, no query or fragment)"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

async fn follower_ended(running: &spool_index::Running) {
    while !running.follower_ended() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
