//! `/address/{address}`: what the address holds (as `spool holdings`) and its SPOOL events.

use maud::{html, Markup};
use spool_protocol::history::Event;
use spool_protocol::state::{Holding, Role};

use super::{event_table, layout, piece_link, Site};
use crate::model::edition_name;

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Consignee => "consignee",
        Role::Borrower => "borrower",
    }
}

/// The address page.
pub(crate) fn render(
    site: &Site<'_>,
    address: &str,
    holdings: &[Holding],
    events: &[Event],
) -> Markup {
    let events: Vec<&Event> = events.iter().collect();
    let body = html! {
        section.title-block {
            h1 { "Address " span.hash { (address) } }
        }
        section {
            h2 { "Holdings" }
            @if holdings.is_empty() {
                p.muted #holdings { "This address holds no edition today." }
            } @else {
                table #holdings {
                    thead { tr { th { "Piece" } th { "Edition" } th { "Role" } } }
                    tbody {
                        @for h in holdings {
                            tr {
                                td data-label="Piece" { (piece_link(&h.piece_address)) }
                                td data-label="Edition" {
                                    a href={ "/piece/" (h.piece_address) "/edition/" (h.edition) } {
                                        (edition_name(h.edition))
                                    }
                                }
                                td data-label="Role" { (role_name(h.role)) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "SPOOL events" }
            (event_table(&events, true))
        }
    };
    layout(site, &format!("Address {address}"), body)
}
