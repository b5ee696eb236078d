//! `spool certificate PIECE_ADDRESS --edition N [--out FILE]`: a provenance certificate of
//! an edition, issued through the configured backend (see `spool_protocol::certificate`).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use spool_backend::certificate::issue_certificate;

use crate::cli::args::AddressArg;
use crate::cli::connect;
use crate::cli::options::Settings;
use crate::cli::output::Outcome;

/// `spool certificate`'s arguments.
#[derive(Debug, Args)]
pub struct CertificateArgs {
    /// The piece address (its file hash).
    pub piece_address: AddressArg,
    /// The edition to certify (0 = the master edition).
    #[arg(long, value_name = "N")]
    pub edition: u64,
    /// Where to write it [default: PIECE-EDITION.spoolcert in the current directory]; `-`
    /// writes the certificate itself on stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Federation addresses [default: SPOOL_FEDERATION, the config file's `federation`,
    /// else ascribe's on mainnet and none elsewhere].
    #[arg(long, value_name = "ADDR")]
    pub federation: Vec<AddressArg>,
}

/// `{file, piece, edition, owner, consignee, events, unconfirmed_left_out, tip_height, sha256}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The file written.
    pub file: String,
    /// The piece address.
    pub piece: String,
    /// The edition.
    pub edition: u64,
    /// Its owner as certified.
    pub owner: Option<String>,
    /// Its consignee, while consigned.
    pub consignee: Option<String>,
    /// Events proven.
    pub events: usize,
    /// Unconfirmed events left out.
    pub unconfirmed_left_out: u64,
    /// The tip it was issued at.
    pub tip_height: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

impl CertificateArgs {
    /// Runs the command.
    ///
    /// # Errors
    ///
    /// A bad address, the backend's failure, or a file that cannot be written.
    pub async fn run(&self, settings: &Settings) -> anyhow::Result<Outcome> {
        let network = settings.network.network();
        let piece = self.piece_address.on(network, "piece address")?;
        let federation = connect::federation(settings, &self.federation)?;
        connect::server_sync_gate(settings, connect::Purpose::Read).await?;
        let backend = connect::backend(settings)?;
        let issuer = format!(
            "spool-rs {} via {}",
            env!("CARGO_PKG_VERSION"),
            backend.describe()
        );
        let issued_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let certificate = issue_certificate(
            backend.as_ref(),
            &piece,
            self.edition,
            &federation,
            &issuer,
            issued_at,
        )
        .await
        .with_context(|| format!("cannot issue a certificate through {}", backend.describe()))?;
        let text = certificate.to_json();
        let sha256 = {
            use bitcoin::hashes::{sha256, Hash};
            sha256::Hash::hash(text.as_bytes()).to_string()
        };
        let output = Output {
            file: String::new(),
            piece: piece.to_string(),
            edition: self.edition,
            owner: certificate.state.owner.clone(),
            consignee: certificate.state.consignee.clone(),
            events: certificate.events.len(),
            unconfirmed_left_out: certificate.unconfirmed_left_out,
            tip_height: certificate.tip.height,
            sha256,
        };
        if self.out.as_deref() == Some(std::path::Path::new("-")) {
            return Ok(Outcome::new(&output, text)?.text_only(true));
        }
        let path = self
            .out
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{piece}-{}.spoolcert", self.edition)));
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let output = Output {
            file: path.display().to_string(),
            ..output
        };
        let mut summary = format!(
            "wrote {}: edition {} of {} owned by {}",
            output.file,
            output.edition,
            output.piece,
            output.owner.as_deref().unwrap_or("(not registered)")
        );
        if let Some(consignee) = &output.consignee {
            summary.push_str(&format!(", consigned to {consignee}"));
        }
        summary.push_str(&format!(
            "; {} events proven as of block {}",
            output.events, output.tip_height
        ));
        if output.unconfirmed_left_out > 0 {
            summary.push_str(&format!(
                " ({} unconfirmed left out)",
                output.unconfirmed_left_out
            ));
        }
        summary.push_str(&format!("\nsha256 {}\n", output.sha256));
        Outcome::new(&output, summary)
    }
}
