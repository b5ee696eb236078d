//! `/piece/{piece}/edition/{n}/certificate`: the printable certificate of authenticity.
//!
//! One page (A4 when printed) over a certificate the source issued and this crate verified:
//! the piece and edition, the state the proofs give (owner, consignee, loans), the provenance
//! with each event's block time read from its proven header, the edition's graph, a QR code to
//! the edition's page, and the SHA-256 of the `.spoolcert` file offered for download, so a
//! printed page and a file can be matched. What the offline check proved and what it had to
//! trust are printed too.

use std::collections::{BTreeMap, BTreeSet};

use bitcoin::consensus::encode::deserialize_hex;
use bitcoin::MerkleBlock;
use maud::{html, Markup};
use spool_protocol::certificate::{Certificate, VerifyError, VerifyReport};
use spool_protocol::history::{Event, History};

use super::{address_link, event_status, inline_svg, layout, piece_link, row, tx_link, Site};
use crate::model::{capitalized, edition_name, format_time, lane_of, loan_date, short};
use crate::svg::{provenance_svg, GraphOptions};

/// What the certificate page shows.
pub(crate) struct CertificatePage<'a> {
    /// The piece's history as the explorer reads it (for the events' actions and the graph).
    pub history: &'a History,
    /// The certificate offered for download.
    pub certificate: &'a Certificate,
    /// Its offline verification.
    pub verified: &'a Result<VerifyReport, VerifyError>,
    /// The SHA-256 of the file offered for download (hex).
    pub sha256: &'a str,
    /// The file's size in bytes.
    pub size: usize,
    /// The download's path on this explorer.
    pub download: &'a str,
    /// The file name the download suggests.
    pub file_name: &'a str,
    /// The edition page's absolute URL (what the QR code holds).
    pub edition_url: &'a str,
    /// The QR code of `edition_url`, an SVG document.
    pub qr_svg: String,
}

/// The whole page.
pub(crate) fn render(site: &Site<'_>, page: &CertificatePage<'_>) -> Markup {
    let certificate = page.certificate;
    let name = edition_name(certificate.edition);
    let body = html! {
        article.certificate {
            (heading(page))
            (state(page))
            (provenance(page))
            (graph(page))
            (proof(page))
        }
    };
    layout(
        site,
        &format!(
            "Certificate of authenticity: {name} of {}",
            certificate.piece
        ),
        body,
    )
}

fn heading(page: &CertificatePage<'_>) -> Markup {
    let c = page.certificate;
    html! {
        section.title-block.certificate-head {
            div {
                p.kicker { "SPOOL · certificate of authenticity" }
                h1 { (capitalized(&edition_name(c.edition))) " of piece " span.hash { (c.piece) } }
                p.no-print {
                    a #download-certificate href=(page.download) download=(page.file_name) {
                        "Download certificate"
                    }
                    " (" (page.file_name) ", " (page.size) " bytes) · "
                    a href={ "/piece/" (c.piece) "/edition/" (c.edition) } { "Edition page" }
                }
            }
            figure.qr {
                (inline_svg(page.qr_svg.clone()))
                figcaption { span.hash #qr-url { (page.edition_url) } }
            }
        }
    }
}

fn state(page: &CertificatePage<'_>) -> Markup {
    let c = page.certificate;
    // The state shown is the one the proofs give, never the claim alone.
    let proven = page.verified.as_ref().ok().map(|r| &r.state);
    html! {
        section #certified-state {
            h2 { "Rights as of block " (c.tip.height) }
            @match page.verified {
                Ok(_) => p.valid #verdict { "Verified: every proof in the certificate holds, and the ownership rules replayed on its transactions give this state." },
                Err(e) => p.invalid #verdict { "This certificate does not verify: " (e) },
            }
            @if let Some(s) = proven {
                dl.facts {
                    (row("Piece", piece_link(&c.piece)))
                    (row("Edition", html! { (edition_name(c.edition)) }))
                    (row("Owner", html! {
                        span #certified-owner {
                            @match &s.owner {
                                Some(owner) => (address_link(owner)),
                                None => span.muted { "not registered" },
                            }
                        }
                    }))
                    (row("Consigned to", html! {
                        @match &s.consignee {
                            Some(x) => (address_link(x)),
                            None => span.muted { "not consigned" },
                        }
                    }))
                    (row("Loans", html! {
                        @if s.loans.is_empty() {
                            span.muted { "none" }
                        }
                        @for (i, loan) in s.loans.iter().enumerate() {
                            @if i > 0 { br; }
                            (address_link(&loan.borrower)) ", " (loan_date(&loan.start)) " to " (loan_date(&loan.end))
                        }
                    }))
                    (row("As of", html! {
                        "block " (c.tip.height) " " span.hash { (short(&c.tip.hash.to_string())) }
                        @if c.issued_at > 0 { ", mined " (format_time(c.issued_at)) }
                    }))
                    (row("Judged with", html! {
                        @if c.federation.is_empty() {
                            span.muted { "no federation rule" }
                        } @else {
                            "the federation "
                            @for (i, member) in c.federation.iter().enumerate() {
                                @if i > 0 { ", " }
                                (address_link(member))
                            }
                        }
                    }))
                }
            }
        }
    }
}

/// The proven events, each dated by the block time of the header its proof carries, with the
/// verdict the rules give it (a forgery is proven to be in the chain, and shown invalid).
fn provenance(page: &CertificatePage<'_>) -> Markup {
    let c = page.certificate;
    let by_txid: BTreeMap<String, &Event> = page
        .history
        .events()
        .iter()
        .map(|e| (e.txid.clone(), e))
        .collect();
    html! {
        section #provenance {
            h2 { "Provenance" }
            table.events {
                thead { tr {
                    th { "Date (block time)" } th { "Block" } th { "Action" } th { "Edition" }
                    th { "From" } th { "To" } th { "Status" } th { "Transaction" }
                } }
                tbody {
                    @for proven in &c.events {
                        @let txid = proven.txid.to_string();
                        @let event = by_txid.get(&txid);
                        @let time = deserialize_hex::<MerkleBlock>(&proven.proof).ok().map(|b| b.header.time);
                        tr.proven-event.invalid[event.is_some_and(|e| !e.valid)] {
                            td data-label="Date" { @if let Some(t) = time { (format_time(u64::from(t))) } }
                            td data-label="Block" { (proven.height) }
                            td data-label="Action" { @if let Some(e) = event { (e.action) } }
                            td data-label="Edition" {
                                @if let Some(e) = event {
                                    @if e.action == "EDITIONS" { span.muted { "piece" } }
                                    @else { (edition_name(lane_of(e))) }
                                }
                            }
                            td data-label="From" { @if let Some(e) = event { span.hash { (short(&e.from_address)) } } }
                            td data-label="To" { @if let Some(e) = event { span.hash { (short(&e.to_address)) } } }
                            td.status data-label="Status" { @if let Some(e) = event { (event_status(e)) } }
                            td data-label="Transaction" { (tx_link(&txid)) }
                        }
                    }
                }
            }
            @if c.unconfirmed_left_out > 0 {
                p.muted #left-out {
                    (c.unconfirmed_left_out) " unconfirmed event(s) left out: a certificate proves only confirmed events."
                }
            }
        }
    }
}

fn graph(page: &CertificatePage<'_>) -> Markup {
    let svg = provenance_svg(
        page.history,
        &GraphOptions {
            tx_link_prefix: None,
            editions: Some(BTreeSet::from([page.certificate.edition])),
        },
    );
    html! {
        section #graph {
            h2 { "Provenance graph" }
            div.graph { (inline_svg(svg)) }
        }
    }
}

fn proof(page: &CertificatePage<'_>) -> Markup {
    html! {
        section #proof {
            h2 { "The proof" }
            dl.facts {
                (row("File", html! { (page.file_name) " (" (page.size) " bytes)" }))
                (row("SHA-256", html! { code.hash #certificate-sha256 { (page.sha256) } }))
                (row("Issued by", html! { (page.certificate.issuer) }))
            }
            p {
                "Anyone can check the file without trusting this site: "
                code { "spool verify " (page.file_name) }
                " (offline), or with a node of their own: "
                code { "spool verify --rpc-url URL " (page.file_name) }
                "."
            }
            @if let Ok(report) = page.verified {
                div.checks {
                    div {
                        h3 { "Checked" }
                        ul #checked { @for line in &report.checked { li { (with_code(line)) } } }
                    }
                    div {
                        h3 { "Trusted (not provable offline)" }
                        ul #trusted { @for line in &report.trusted { li { (with_code(line)) } } }
                    }
                }
            }
        }
    }
}

/// A line of the verification report, its `backquoted` commands set as code.
fn with_code(line: &str) -> Markup {
    html! {
        @for (i, part) in line.split('`').enumerate() {
            @if i % 2 == 1 { code { (part) } } @else { (part) }
        }
    }
}
