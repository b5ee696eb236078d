//! `spool verify FILE`: checks a provenance certificate. Offline by default, with
//! spool-protocol alone; with a backend named (`--rpc-url`, `--backend esplora`,
//! `--server`, or `--online` for the configured one) it also confirms that every header is
//! on that backend's best chain and that no later event supersedes the certificate.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_protocol::bitcoin::Address;
use spool_protocol::certificate::{Certificate, VerifyReport};
use spool_protocol::history::{BuildOptions, History};
use spool_protocol::scope::Scope;

use crate::cli::connect;
use crate::cli::exit;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool verify`'s arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The certificate (`.spoolcert`).
    pub file: PathBuf,
    /// Also check against the configured backend (implied by naming one).
    #[arg(long)]
    pub online: bool,
}

/// What the online check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineCheck {
    /// The backend asked.
    pub backend: String,
    /// Headers confirmed on its best chain.
    pub headers_on_best_chain: usize,
    /// Its tip.
    pub tip_height: u64,
    /// Whether no later event changed the edition.
    pub current: bool,
    /// Later confirmed events of the edition's scope, `(txid, height)`, in chain order.
    pub later_events: Vec<(String, u64)>,
    /// Later events still in the mempool.
    pub pending_events: Vec<String>,
}

/// `{proven, report, online}`
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// The certificate's proofs hold (and, online, it is on the best chain and current).
    pub proven: bool,
    /// What the offline check proved and trusted.
    pub report: VerifyReport,
    /// What the backend confirmed, when asked.
    pub online: Option<OnlineCheck>,
}

impl VerifyArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// An invalid, tampered or superseded certificate (exit 2, the reason on one line), a
    /// file that cannot be read, or the backend's failure (exit 1).
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let certificate = Certificate::from_json(&text)
            .map_err(|e| exit::input(format!("{}: {e}", self.file.display())))?;
        if certificate.network != settings.network.network() {
            return Err(exit::input(format!(
                "{} is a certificate of {}, not of {} (give --network)",
                self.file.display(),
                certificate.network,
                settings.network.network()
            )));
        }
        let report = certificate.verify().map_err(|e| {
            exit::input(format!("invalid certificate {}: {e}", self.file.display()))
        })?;
        let online = if self.online || settings.backend_named {
            Some(check_online(settings, &certificate).await?)
        } else {
            None
        };
        let mut text = format!(
            "proven: edition {} of piece {} is owned by {}",
            report.edition,
            report.piece,
            report
                .state
                .owner
                .as_deref()
                .unwrap_or("nobody (not registered)")
        );
        if let Some(consignee) = &report.state.consignee {
            text.push_str(&format!(", consigned to {consignee}"));
        }
        text.push_str(&format!(" as of block {}\n", report.tip_height));
        for loan in &report.state.loans {
            text.push_str(&format!(
                "  loaned to {} from {} to {}\n",
                loan.borrower, loan.start, loan.end
            ));
        }
        text.push_str("checked:\n");
        for line in &report.checked {
            text.push_str(&format!("  - {line}\n"));
        }
        if let Some(burial) = report.min_burial {
            text.push_str(&format!(
                "  - every event is buried under at least {burial} proven headers\n"
            ));
        }
        match &online {
            Some(check) => {
                text.push_str(&format!(
                    "online, {}: all {} headers are on its best chain (tip {}); no later event changes the edition\n",
                    check.backend, check.headers_on_best_chain, check.tip_height
                ));
                if !check.pending_events.is_empty() {
                    text.push_str(&format!(
                        "  note: {} later event(s) wait in the mempool: {}\n",
                        check.pending_events.len(),
                        check.pending_events.join(", ")
                    ));
                }
            }
            None => {
                text.push_str(
                    "trusted (offline; give --rpc-url, --server or --online to check):\n",
                );
                for line in &report.trusted {
                    text.push_str(&format!("  - {line}\n"));
                }
            }
        }
        if report.unconfirmed_left_out > 0 {
            text.push_str(&format!(
                "{} unconfirmed event(s) were left out by the issuer (not proven)\n",
                report.unconfirmed_left_out
            ));
        }
        let output = Output {
            proven: true,
            report,
            online,
        };
        Outcome::new(&output, text)
    }
}

/// Asks the backend that every header is on its best chain, and for later events.
async fn check_online(
    settings: &Settings,
    certificate: &Certificate,
) -> anyhow::Result<OnlineCheck> {
    connect::server_sync_gate(settings, connect::Purpose::Read).await?;
    let backend = connect::backend(settings)?;
    let at = || backend.describe();
    let hashes = certificate.block_hashes();
    for (height, hash) in &hashes {
        let best = match backend.block_header_at(*height).await {
            Ok((best, _)) => Some(best),
            Err(spool_backend::BackendError::NotFound { .. }) => None,
            Err(err) => return Err(anyhow::Error::new(err).context(at())),
        };
        if best != Some(*hash) {
            return Err(exit::input(format!(
                "block {hash} at height {height} is not in the best chain of {}: the certificate's events were reorganised away",
                at()
            )));
        }
    }
    let tip_height = backend.tip_height().await.with_context(at)?;
    let piece: Address = certificate
        .piece
        .parse::<Address<_>>()
        .map_err(|e| exit::input(format!("piece address: {e}")))?
        .require_network(certificate.network)
        .map_err(|e| exit::input(format!("piece address: {e}")))?;
    let txs = backend
        .piece_transactions(&piece, Scope::edition(certificate.edition))
        .await
        .with_context(at)?;
    let history = History::build_with(
        &piece,
        certificate.network,
        &txs,
        &BuildOptions {
            federation: certificate.federation.clone(),
            tip_height: Some(tip_height),
            min_conf: 0,
        },
    )?;
    let known: Vec<String> = certificate
        .events
        .iter()
        .map(|e| e.txid.to_string())
        .collect();
    let scope = Scope::edition(certificate.edition);
    let mut later = Vec::new();
    let mut pending = Vec::new();
    for event in history.events() {
        let reads = event.typed_verb().is_ok_and(|verb| scope.reads(&verb));
        if !event.valid || !reads || known.contains(&event.txid) {
            continue;
        }
        match event.block_height {
            Some(height) => later.push((event.txid.clone(), height)),
            None => pending.push(event.txid.clone()),
        }
    }
    if let Some((txid, height)) = later.first() {
        return Err(exit::input(format!(
            "superseded: transaction {txid} at height {height} ({}) changed edition {} after the certificate's tip {}",
            history
                .events()
                .iter()
                .find(|e| &e.txid == txid)
                .map_or("a later event", |e| e.verb.as_str()),
            certificate.edition,
            certificate.tip.height
        )));
    }
    Ok(OnlineCheck {
        backend: at(),
        headers_on_best_chain: hashes.len(),
        tip_height,
        current: true,
        later_events: later,
        pending_events: pending,
    })
}
