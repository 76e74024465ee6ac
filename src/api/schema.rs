//! Schema pieces the routes' OpenAPI annotations share: the error responses and the request
//! forms (an image field is a file in multipart, a base64 string in JSON).

use utoipa::ToSchema;

use crate::error::ErrorBody;

/// The errors every model route may answer (RFC 7807 bodies with a stable `code`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ModelErrors {
    /// Missing, unknown or invalid field
    #[response(status = 400)]
    BadRequest(#[to_schema] ErrorBody),
    /// unauthorized (API keys are configured)
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// Payload or image too large
    #[response(status = 413)]
    TooLarge(#[to_schema] ErrorBody),
    /// Not an accepted content or image type
    #[response(status = 415)]
    UnsupportedType(#[to_schema] ErrorBody),
    /// Image not decodable, no face, several faces, or face rejected
    #[response(status = 422)]
    Unprocessable(#[to_schema] ErrorBody),
    /// overloaded
    #[response(status = 429)]
    Overloaded(#[to_schema] ErrorBody),
    /// Models not ready, gallery unavailable, or deadline exceeded
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// The errors of the gallery routes that take no image.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum StoreErrors {
    /// unauthorized (API keys are configured)
    #[response(status = 401)]
    Unauthorized(#[to_schema] ErrorBody),
    /// collection_not_found, face_not_found or subject_not_found
    #[response(status = 404)]
    NotFound(#[to_schema] ErrorBody),
    /// The gallery store is unavailable, or the deadline was exceeded
    #[response(status = 503)]
    Unavailable(#[to_schema] ErrorBody),
}

/// The errors of the KBY-AI compatible routes: the status of verity's error table (200 with
/// `VERITY_COMPAT_STATUS_200`), a KBY-AI body with verity's RFC 7807 object under `error`.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum KbyErrors {
    /// Missing, unknown or invalid field (`Failed to open file...`)
    #[response(status = 400)]
    BadRequest(#[to_schema] KbyFailure),
    /// unauthorized (API keys are configured)
    #[response(status = 401)]
    Unauthorized(#[to_schema] KbyFailure),
    /// Payload or image too large
    #[response(status = 413)]
    TooLarge(#[to_schema] KbyFailure),
    /// Not an accepted content or image type
    #[response(status = 415)]
    UnsupportedType(#[to_schema] KbyFailure),
    /// No face, or an image that does not decode
    #[response(status = 422)]
    Unprocessable(#[to_schema] KbyFailure),
    /// overloaded
    #[response(status = 429)]
    Overloaded(#[to_schema] KbyFailure),
    /// Models not ready, or deadline exceeded
    #[response(status = 503)]
    Unavailable(#[to_schema] KbyFailure),
}

/// A KBY-AI failure body (`resultCode` or `Status`, ...) with verity's error under `error`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyFailure {
    error: ErrorBody,
}

/// An image: a file (multipart) or a base64 string (JSON).
#[derive(ToSchema)]
#[schema(min_length = 1)]
#[allow(dead_code)]
pub struct ImageField(String);

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImageForm {
    /// The image (JPEG, PNG, WebP or BMP): a file, or base64 in JSON.
    image: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerifyForm {
    source: ImageField,
    target: ImageField,
    /// `default` (0.50), `strict` (0.60) or `lenient` (0.42).
    operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LivenessForm {
    image: ImageField,
    /// `default` (0.60) or `strict` (0.80).
    operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentForm {
    /// Front side.
    image: ImageField,
    /// Back side (its text joins the MRZ search).
    back: Option<ImageField>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct OnboardingForm {
    selfie: ImageField,
    /// The document's front side (MRZ and portrait).
    document: ImageField,
    document_back: Option<ImageField>,
    /// A collection to search the selfie in for a duplicate identity.
    collection: Option<String>,
    /// The applicant's own external_id: matches of it are not duplicates.
    external_id: Option<String>,
    /// Minimum age in whole years (checked against the MRZ birth date).
    #[schema(minimum = 0, maximum = 150)]
    min_age: Option<i32>,
    liveness_operating_point: Option<String>,
    match_operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateCollectionForm {
    /// 1 to 128 characters of letters, digits and `- _ . : @`.
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9_.:@-]+$")]
    id: String,
    description: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EnrollForm {
    image: ImageField,
    /// Your identifier of the person (1 to 256 characters).
    #[schema(min_length = 1, max_length = 256, pattern = "^[A-Za-z0-9_.:@-]+$")]
    external_id: String,
    /// A JSON object (as text in multipart), at most 16 KiB.
    metadata: Option<String>,
    /// RFC 3339 time after which the retention purge deletes the face (must be in the future).
    expires_at: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SearchForm {
    /// Search by image...
    image: Option<ImageField>,
    /// ...or by an enrolled face.
    face_id: Option<String>,
    /// 1 to 100 (default 5).
    #[schema(minimum = 1, maximum = 100)]
    top_k: Option<u32>,
    /// Cosine similarity cut-off (overrides the operating point).
    #[schema(minimum = -1, maximum = 1)]
    threshold: Option<f32>,
    operating_point: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ReembedForm {
    /// Faces per chunk (1 to 10000, default 256).
    #[schema(minimum = 1, maximum = 10000)]
    chunk_size: Option<u32>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyCompareFiles {
    file1: ImageField,
    file2: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyCompareBase64 {
    base64_1: ImageField,
    base64_2: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyFile {
    file: ImageField,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct KbyBase64 {
    base64: ImageField,
}
