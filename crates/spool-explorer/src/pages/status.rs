//! `/status`: how far the data source has followed the node.

use maud::{html, Markup};

use super::{layout, row, Site};
use crate::source::SyncStatus;

/// Sync progress in percent (100 when the node has no blocks to follow).
pub(crate) fn progress(status: &SyncStatus) -> f64 {
    if status.node_height == 0 {
        return 100.0;
    }
    (status.indexed_height as f64 / status.node_height as f64 * 100.0).min(100.0)
}

/// A one-line summary of the sync status.
pub(crate) fn summary(status: &SyncStatus) -> Markup {
    html! {
        p.sync #sync {
            @if status.synced {
                span.badge.ok { "synced" }
            } @else {
                span.badge.pending { "catching up" }
            }
            " indexed " (status.indexed_height) " of " (status.node_height) " blocks"
        }
    }
}

/// The status page.
pub(crate) fn render(site: &Site<'_>, status: &SyncStatus) -> Markup {
    let percent = progress(status);
    let body = html! {
        h1 { "Status" }
        (summary(status))
        dl.facts {
            (row("Network", html! { (site.network) }))
            (row("Indexed height", html! { span #indexed-height { (status.indexed_height) } }))
            (row("Indexed block", html! { span.hash title=(status.indexed_hash) { (status.indexed_hash) } }))
            (row("Node height", html! { span #node-height { (status.node_height) } }))
            (row("Synced", html! { (if status.synced { "yes" } else { "no" }) }))
            (row("Progress", html! {
                progress max="100" value=(format!("{percent:.1}")) { (format!("{percent:.1}")) "%" }
                " " (format!("{percent:.1}")) "%"
            }))
        }
    };
    layout(site, "Status", body)
}
