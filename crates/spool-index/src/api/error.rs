//! The API's error answer, `{"error": "..."}` with a status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use spool_backend::server::ErrorReply;

use crate::error::IndexError;

/// An error answer: a status and a one-line message, sent as `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    conflict: Option<bitcoin::Txid>,
    held: Option<&'static str>,
}

impl ApiError {
    /// An error answer with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            conflict: None,
            held: None,
        }
    }

    /// A 409: the request conflicts with the pending transaction `with`.
    pub fn conflict(with: bitcoin::Txid, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            message: message.into(),
            conflict: Some(with),
            held: None,
        }
    }

    /// A 409 to a reservation: `holder` holds a claim (`claim`) or an outpoint.
    pub fn held(holder: bitcoin::Txid, claim: bool, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            message: message.into(),
            conflict: Some(holder),
            held: Some(if claim { "claim" } else { "outpoint" }),
        }
    }
    /// The message told to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<IndexError> for ApiError {
    fn from(err: IndexError) -> ApiError {
        match &err {
            IndexError::NodeRefused { .. }
            | IndexError::Node { .. }
            | IndexError::BadReply { .. } => {
                tracing::warn!(error = %err, "node error");
                ApiError::new(StatusCode::BAD_GATEWAY, "the node did not answer")
            }
            _ => {
                tracing::error!(error = %err, "index error");
                ApiError::internal("the index failed")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorReply {
                error: self.message,
                conflict: self.conflict,
                held: self.held.map(str::to_owned),
            }),
        )
            .into_response()
    }
}

/// A JSON answer or an error answer.
pub(super) type ApiResult<T> = Result<Json<T>, ApiError>;
