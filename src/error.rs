//! The one error type of the server and its single mapping to HTTP status and stable code.
//!
//! Every variant is matched exhaustively in [`ApiError::status_and_code`] (no wildcard arm), so a
//! new variant forces a decision about what clients see.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is empty")]
    EmptyBody,
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("content type {0:?} is not accepted: send multipart/form-data or application/json")]
    UnsupportedMediaType(String),
    #[error("the JSON body is invalid: {0}")]
    InvalidJson(String),
    #[error("the multipart body is invalid: {0}")]
    InvalidMultipart(String),
    #[error("field `{0}` is not valid base64")]
    InvalidBase64(String),
    #[error("required field `{0}` is missing")]
    MissingField(String),
    #[error("field `{field}` is not known for this route (accepted: {accepted})")]
    UnknownField { field: String, accepted: String },
    #[error("field `{field}` has an invalid value: {reason}")]
    InvalidField { field: String, reason: String },
    #[error("field `{0}` is not an image in a supported format (JPEG, PNG, WebP, BMP)")]
    UnsupportedImageFormat(String),
    #[error("field `{field}`: the image could not be decoded: {reason}")]
    ImageDecode { field: String, reason: String },
    #[error("field `{field}`: the image is {width}x{height}, over the limit of {limit} pixels")]
    ImageTooLarge { field: String, width: u32, height: u32, limit: u64 },
    #[error("no face was found in `{0}`")]
    NoFace(String),
    #[error("{count} faces were found in `{field}`; liveness needs exactly one")]
    MultipleFaces { field: String, count: usize },
    #[error("a valid API key is required (Authorization: Bearer <key> or X-API-Key)")]
    Unauthorized,
    #[error("route not found")]
    NotFound,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("the server is overloaded; retry later")]
    Overloaded,
    #[error("the request was not served within its deadline; retry later")]
    Timeout,
    #[error("model `{model}` is not available: {reason}")]
    ModelUnavailable { model: String, reason: String },
    #[error("collection `{0}` already exists")]
    CollectionExists(String),
    #[error("collection `{0}` does not exist")]
    CollectionNotFound(String),
    #[error("face `{0}` does not exist in this collection")]
    FaceNotFound(String),
    #[error("no face is enrolled under external_id `{0}` in this collection")]
    SubjectNotFound(String),
    #[error("job `{0}` does not exist")]
    JobNotFound(String),
    #[error("the face cannot be enrolled: {}", .0.join(", "))]
    FaceRejected(Vec<String>),
    #[error("the gallery store is unavailable: {0}")]
    StorageUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// The body of every error response (RFC 7807 style, with a stable `code`).
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    pub detail: String,
    /// Machine-readable reasons (`face_rejected`: too_small, extreme_pose, too_dark, too_bright, blurry).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

impl ApiError {
    /// The one table of (HTTP status, stable code, title). Documented in the README.
    #[deny(clippy::wildcard_enum_match_arm)]
    pub fn status_and_code(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            EmptyBody => (StatusCode::BAD_REQUEST, "empty_body", "Empty request body"),
            PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
            UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
            }
            InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json", "Invalid JSON"),
            InvalidMultipart(_) => (StatusCode::BAD_REQUEST, "invalid_multipart", "Invalid multipart body"),
            InvalidBase64(_) => (StatusCode::BAD_REQUEST, "invalid_base64", "Invalid base64"),
            MissingField(_) => (StatusCode::BAD_REQUEST, "missing_field", "Missing field"),
            UnknownField { .. } => (StatusCode::BAD_REQUEST, "unknown_field", "Unknown field"),
            InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_field", "Invalid field"),
            UnsupportedImageFormat(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image_format", "Unsupported image format")
            }
            ImageDecode { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "image_decode_failed", "Image could not be decoded")
            }
            ImageTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "image_too_large", "Image too large"),
            NoFace(_) => (StatusCode::UNPROCESSABLE_ENTITY, "no_face", "No face found"),
            MultipleFaces { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "multiple_faces", "Several faces found"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
            Overloaded => (StatusCode::TOO_MANY_REQUESTS, "overloaded", "Overloaded"),
            Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout", "Deadline exceeded"),
            ModelUnavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", "Model unavailable"),
            CollectionExists(_) => (StatusCode::CONFLICT, "collection_exists", "Collection exists"),
            CollectionNotFound(_) => (StatusCode::NOT_FOUND, "collection_not_found", "Collection not found"),
            FaceNotFound(_) => (StatusCode::NOT_FOUND, "face_not_found", "Face not found"),
            SubjectNotFound(_) => (StatusCode::NOT_FOUND, "subject_not_found", "Subject not found"),
            JobNotFound(_) => (StatusCode::NOT_FOUND, "job_not_found", "Job not found"),
            FaceRejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "face_rejected", "Face rejected"),
            StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable", "Storage unavailable"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }

    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// Whether a client should retry (and gets `Retry-After`), with the seconds to wait.
    #[deny(clippy::wildcard_enum_match_arm)]
    pub fn retry_after(&self) -> Option<u32> {
        use ApiError::*;
        match self {
            Overloaded | Timeout | ModelUnavailable { .. } => Some(1),
            StorageUnavailable(_) => Some(2),
            EmptyBody
            | PayloadTooLarge { .. }
            | UnsupportedMediaType(_)
            | InvalidJson(_)
            | InvalidMultipart(_)
            | InvalidBase64(_)
            | MissingField(_)
            | UnknownField { .. }
            | InvalidField { .. }
            | UnsupportedImageFormat(_)
            | ImageDecode { .. }
            | ImageTooLarge { .. }
            | NoFace(_)
            | MultipleFaces { .. }
            | Unauthorized
            | NotFound
            | MethodNotAllowed
            | CollectionExists(_)
            | CollectionNotFound(_)
            | FaceNotFound(_)
            | SubjectNotFound(_)
            | JobNotFound(_)
            | FaceRejected(_)
            | Internal(_) => None,
        }
    }

    /// What a client reads in `detail`: everything a 4xx says; for a 5xx nothing of the
    /// internals (ONNX Runtime, database or Kubernetes texts), which go to the log instead.
    pub fn public_detail(&self) -> String {
        match self {
            ApiError::ModelUnavailable { model, .. } => {
                format!("model `{model}` is not available; /readyz says which models are loaded")
            }
            ApiError::Internal(_) => "an internal error occurred; the server log has the details".into(),
            other => other.to_string(),
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (status, code, title) = self.status_and_code();
        ErrorBody {
            kind: format!("https://verity.dev/errors/{code}"),
            title: title.to_string(),
            status: status.as_u16(),
            code: code.to_string(),
            detail: self.public_detail(),
            reasons: match self {
                ApiError::FaceRejected(r) => r.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let body = self.body();
        let mut resp = HttpResponse::build(self.status_code());
        resp.content_type("application/problem+json");
        if let Some(seconds) = self.retry_after() {
            resp.insert_header(("Retry-After", seconds.to_string()));
        }
        match self {
            ApiError::Internal(_) => tracing::error!(detail = %self, "internal error"),
            ApiError::ModelUnavailable { .. } => tracing::warn!(detail = %self, "model unavailable"),
            _ => {}
        }
        resp.json(body)
    }
}
