//! `/`: search, file upload, latest SPOOL activity and the sync status.

use maud::{html, Markup};

use super::{address_link, layout, piece_link, status, tx_link, Site};
use crate::source::SyncStatus;

/// One SPOOL transaction in the latest-activity list.
pub(crate) struct Activity {
    /// The transaction id.
    pub txid: String,
    /// The verb text.
    pub verb: String,
    /// Block height, `None` in the mempool.
    pub height: Option<u64>,
    /// The first output's address (the piece, for piece actions).
    pub piece: String,
    /// The single input address, or empty when unknown.
    pub from: String,
}

/// The home page.
pub(crate) fn render(site: &Site<'_>, sync: &SyncStatus, latest: &[Activity]) -> Markup {
    let body = html! {
        h1 { "SPOOL provenance explorer" }
        (status::summary(sync))
        section.panel {
            h2 { "Search" }
            form.search-big action="/search" method="get" {
                label for="q" { "File hash (piece address), address or transaction id" }
                div.inline {
                    input #q type="search" name="q" required placeholder="e.g. a txid or a piece address";
                    button type="submit" { "Search" }
                }
            }
        }
        section.panel {
            h2 { "Find a piece by its file" }
            p.muted { "The file is hashed on this server as pyspool does (its file_hash); only the hash is kept." }
            form #upload action="/upload" method="post" enctype="multipart/form-data" {
                label for="file" { "File" }
                input #file type="file" name="file" required;
                label for="artist_name" { "Artist name (optional metadata)" }
                input #artist_name type="text" name="artist_name";
                label for="title" { "Title (optional metadata)" }
                input #title type="text" name="title";
                button type="submit" { "Hash and open the piece" }
            }
        }
        section {
            h2 { "Latest SPOOL activity" }
            @if latest.is_empty() {
                p.muted { "No SPOOL transactions yet." }
            } @else {
                table #latest {
                    thead { tr { th { "Height" } th { "Verb" } th { "Piece / recipient" } th { "From" } th { "Transaction" } } }
                    tbody {
                        @for a in latest {
                            tr data-txid=(a.txid) {
                                td data-label="Height" {
                                    @match a.height { Some(h) => (h), None => span.badge.pending { "pending" } }
                                }
                                td data-label="Verb" { code { (a.verb) } }
                                td data-label="Piece / recipient" {
                                    @if a.verb.ends_with("FUEL") { (address_link(&a.piece)) } @else { (piece_link(&a.piece)) }
                                }
                                td data-label="From" { (address_link(&a.from)) }
                                td data-label="Transaction" { (tx_link(&a.txid)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(site, "Home", body)
}
