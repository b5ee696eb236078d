//! The certificate routes of an edition: the printable certificate of authenticity and the
//! `.spoolcert` file it describes.
//!
//! Both issue the certificate through [`ExplorerSource::certificate`], at the source's tip and
//! dated by its block time, so the file downloaded from the page is the file whose SHA-256
//! the page prints, unless a block arrived in between: the page's download link names the tip
//! it was shown at (`?tip=HASH`), and a download at another tip is refused with a page saying
//! so rather than served silently.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::hex::DisplayHex;
use bitcoin::Address;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use serde::Deserialize;
use spool_protocol::certificate::Certificate;
use spool_protocol::history::History;

use super::{echo, html, load_piece, parse_edition, AppState, PageError, Params, Segments};
use crate::pages::certificate::CertificatePage;
use crate::pages::{self, Site};
use crate::source::ExplorerSource;

/// The certificate of an edition the history knows, with its file's bytes.
struct Issued {
    history: History,
    certificate: Certificate,
    bytes: String,
}

impl Issued {
    /// The file name a download suggests: `PIECE-N.spoolcert`, as `spool certificate`'s.
    fn file_name(&self) -> String {
        format!(
            "{}-{}.spoolcert",
            self.certificate.piece, self.certificate.edition
        )
    }
}

/// Issues the certificate of `edition` of `piece` from the source.
fn issue<S: ExplorerSource>(
    source: &S,
    site: &Site<'_>,
    piece: &str,
    edition: &str,
) -> Result<Issued, PageError> {
    let number = parse_edition(edition)?;
    let history = load_piece(source, site, piece)?;
    let registered = history
        .state()
        .editions
        .iter()
        .any(|e| e.edition == number && e.registered);
    if !registered && history.chain(number).is_empty() {
        return Err(PageError::NotFound(format!(
            "Edition {number} of piece {} is not registered and has no events: there is nothing to certify",
            history.piece_address()
        )));
    }
    let address: Address = super::parse_address(piece, site.network, "piece address")?;
    let certificate = source
        .certificate(&address, number, site.federation)?
        .ok_or_else(|| {
            PageError::NotFound(
                "This explorer's data source holds no proofs, so it cannot issue certificates"
                    .to_owned(),
            )
        })?;
    let bytes = certificate.to_json();
    Ok(Issued {
        history,
        certificate,
        bytes,
    })
}

/// The edition page's absolute URL: the configured public URL, or the host the visitor asked
/// (when it reads as a host name or address with an optional port).
fn edition_url(public_url: Option<&str>, headers: &HeaderMap, piece: &str, edition: u64) -> String {
    let base = match public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| {
                    !h.is_empty()
                        && h.len() <= 255
                        && h.chars()
                            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
                })
                .unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    format!("{base}/piece/{piece}/edition/{edition}")
}

/// The QR code of `text` as an inline SVG element.
fn qr_svg(text: &str) -> Result<String, PageError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| {
        PageError::BadRequest(format!("the edition's URL cannot be put in a QR code: {e}"))
    })?;
    let document = code
        .render::<svg::Color<'_>>()
        .min_dimensions(168, 168)
        .quiet_zone(true)
        .build();
    // The renderer writes a standalone document; inline, the XML declaration has no place.
    let element = match document.find("<svg") {
        Some(start) => &document[start..],
        None => document.as_str(),
    };
    Ok(element.replacen(
        "<svg ",
        "<svg class=\"qr-code\" role=\"img\" aria-label=\"QR code of the edition's page\" ",
        1,
    ))
}

/// `GET /piece/{piece}/edition/{n}/certificate`: the printable certificate of authenticity.
pub(super) async fn page<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    Segments((piece, edition)): Segments<(String, String)>,
) -> Response {
    let public_url = state.config.public_url.clone();
    state
        .page(move |source, site| {
            let issued = issue(source, site, &piece, &edition)?;
            let c = &issued.certificate;
            let url = edition_url(public_url.as_deref(), &headers, &c.piece, c.edition);
            let verified = c.verify();
            let sha256 = sha256::Hash::hash(issued.bytes.as_bytes())
                .to_byte_array()
                .to_lower_hex_string();
            let file_name = issued.file_name();
            let download = format!(
                "/piece/{}/edition/{}/certificate.spoolcert?tip={}",
                c.piece, c.edition, c.tip.hash
            );
            let page = CertificatePage {
                history: &issued.history,
                certificate: c,
                verified: &verified,
                sha256: &sha256,
                size: issued.bytes.len(),
                download: &download,
                file_name: &file_name,
                edition_url: &url,
                qr_svg: qr_svg(&url)?,
            };
            Ok(html(pages::certificate::render(site, &page)))
        })
        .await
}

#[derive(Deserialize)]
pub(super) struct DownloadQuery {
    /// The tip the certificate page was shown at.
    tip: Option<String>,
}

/// `GET /piece/{piece}/edition/{n}/certificate.spoolcert[?tip=HASH]`: the file.
pub(super) async fn download<S: ExplorerSource>(
    State(state): State<AppState<S>>,
    Segments((piece, edition)): Segments<(String, String)>,
    Params(query): Params<DownloadQuery>,
) -> Response {
    state
        .page(move |source, site| {
            let issued = issue(source, site, &piece, &edition)?;
            let c = &issued.certificate;
            if let Some(tip) = query.tip.as_deref() {
                if tip != c.tip.hash.to_string() {
                    return Err(PageError::Conflict(format!(
                        "The chain has moved on since the certificate page was shown (at block {}): the certificate issued now is at block {} ({}), and its SHA-256 differs from the printed one. Reload the certificate page to see and download the current one.",
                        echo(tip),
                        c.tip.height,
                        c.tip.hash
                    )));
                }
            }
            let disposition = HeaderValue::from_str(&format!(
                "attachment; filename=\"{}\"",
                issued.file_name()
            ))
            .map_err(|_| PageError::BadRequest("the file name cannot be sent".to_owned()))?;
            Ok((
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                issued.bytes,
            )
                .into_response())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edition_url_comes_from_the_configuration_or_a_plain_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert_eq!(
            edition_url(None, &headers, "mpiece", 3),
            "http://127.0.0.1:8080/piece/mpiece/edition/3"
        );
        assert_eq!(
            edition_url(Some("https://spool.example/"), &headers, "mpiece", 3),
            "https://spool.example/piece/mpiece/edition/3"
        );
        headers.insert(
            header::HOST,
            HeaderValue::from_static("evil\"><script>x</script>"),
        );
        assert_eq!(
            edition_url(None, &headers, "mpiece", 0),
            "http://localhost/piece/mpiece/edition/0"
        );
    }

    #[test]
    fn the_qr_code_is_an_inline_svg_element() {
        let Ok(svg) = qr_svg("http://127.0.0.1:8080/piece/mpiece/edition/3") else {
            panic!("a URL fits a QR code");
        };
        assert!(svg.starts_with("<svg class=\"qr-code\""), "{svg}");
        assert!(!svg.contains("<?xml"));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "svg");
    }
}
