//! The 400, 404 and 500 pages: each says what was wrong.

use maud::{html, Markup};

use super::{layout, Site};

/// An error page with a heading (`Not found`, `Bad request`, ...) and the problem.
pub(crate) fn render(site: &Site<'_>, code: u16, heading: &str, problem: &str) -> Markup {
    let body = html! {
        section.error {
            h1 { (code) " " (heading) }
            p.problem #problem { (problem) }
            p { a href="/" { "Back to the start page" } }
        }
    };
    layout(site, heading, body)
}
