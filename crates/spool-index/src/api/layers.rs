//! What wraps every API reply: how far the index is, and the security headers.

use std::sync::Arc;

use super::{ApiError, ApiState};
use axum::extract::State;
use axum::response::{IntoResponse, Response};

/// Says in every API reply how far the index is: the headers `X-Spool-Indexed-Height`
/// (absent before the first block), `X-Spool-Node-Height` and `X-Spool-Synced`, and, in
/// every JSON object reply but a certificate and the OpenAPI document, the same as `indexed_height`, `node_height`
/// and `synced`. An
/// answer from an index behind its node thus says so (the status reply has them already).
pub(super) async fn index_position(
    State(state): State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{header, HeaderValue};
    // The status reply has the fields already; a certificate is a document of its own,
    // served byte for byte (the headers still say how far the index is).
    // So is the OpenAPI description.
    let path = request.uri().path();
    let is_status = path.ends_with("/status")
        || path.ends_with("/certificate")
        || path.ends_with("/openapi.json");
    let response = next.run(request).await;
    let sync = state.sync_state();
    let indexed = sync.indexed.map(|(height, _)| height);
    let (mut parts, body) = response.into_parts();
    if let Some(height) = indexed {
        parts
            .headers
            .insert("x-spool-indexed-height", HeaderValue::from(height));
    }
    parts
        .headers
        .insert("x-spool-node-height", HeaderValue::from(sync.node_height));
    parts.headers.insert(
        "x-spool-synced",
        HeaderValue::from_static(if sync.synced { "true" } else { "false" }),
    );
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json || is_status {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal("cannot read the reply").into_response();
    };
    if bytes.first() != Some(&b'{') {
        return Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    let fields = format!(
        "{{\"indexed_height\":{},\"node_height\":{},\"synced\":{}",
        indexed.map_or("null".to_string(), |h| h.to_string()),
        sync.node_height,
        sync.synced
    );
    let rest = &bytes[1..];
    let empty = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
    let mut spliced = Vec::with_capacity(bytes.len() + fields.len() + 1);
    spliced.extend_from_slice(fields.as_bytes());
    if !empty {
        spliced.push(b',');
    }
    spliced.extend_from_slice(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(spliced))
}

/// Says `Connection: keep-alive` on every reply to an HTTP/1.1 request that did not ask to
/// close: HTTP/1.1 keeps connections open by default, but some clients (bitreq, which
/// spool's server backend uses) reuse a connection only when the reply says so, and would
/// otherwise open a new connection for every request.
pub(super) async fn keep_alive(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{header, HeaderValue, Version};
    let closing = request.version() != Version::HTTP_11
        || request
            .headers()
            .get(header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let mut response = next.run(request).await;
    if !closing && !response.headers().contains_key(header::CONNECTION) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    response
}

/// The headers every API reply carries: JSON that echoes a request's input must never be
/// sniffed into markup, nor framed, nor load anything.
pub(super) async fn api_security_headers(mut response: Response) -> Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// [`require_token`] for every method but `GET` (a route with reads and writes).
pub(super) async fn require_token_for_writes(
    state: State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::GET {
        return next.run(request).await;
    }
    require_token(state, request, next).await
}

/// Guards a write route: once `spool serve --api-token-file` is given, a request must carry
/// `Authorization: Bearer <token>`; otherwise a JSON 401 (with `WWW-Authenticate: Bearer`)
/// says what is missing. The token is never echoed or logged.
pub(super) async fn require_token(
    State(state): State<Arc<ApiState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{header, HeaderValue, StatusCode};
    let Some(token) = &state.config().api_token else {
        return next.run(request).await;
    };
    let problem = match request.headers().get(header::AUTHORIZATION) {
        None => "writes need the API token: send Authorization: Bearer <token>",
        Some(value) if token.accepts(value.as_bytes()) => return next.run(request).await,
        Some(_) => "the API token is wrong",
    };
    tracing::warn!(path = %request.uri().path(), "write refused: {problem}");
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, problem).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}
