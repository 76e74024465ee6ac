//! Schema pieces the routes' OpenAPI description shares: the error responses, and the request
//! bodies built from each route's [`FieldSpec`] (an image field is a file in multipart, a base64
//! string in JSON).

use utoipa::{
    openapi::{
        request_body::{RequestBody, RequestBodyBuilder},
        schema::{AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type},
        Content, RefOr, Required, Schema,
    },
    ToSchema,
};

use super::fields::{Field, FieldSpec, Kind, Media, ID_PATTERN};
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

/// The request body of a route, described from its field declaration.
pub fn request_body(spec: &FieldSpec) -> RequestBody {
    let mut body = RequestBodyBuilder::new()
        .description(Some(match spec.media {
            Media::Both => "multipart/form-data with files, or JSON with base64 strings (same names)",
            Media::Multipart => "multipart/form-data",
            Media::Json => "JSON with base64 strings",
        }))
        .required(Some(if spec.body_required { Required::True } else { Required::False }));
    for (media, content_type) in [(Media::Multipart, "multipart/form-data"), (Media::Json, "application/json")] {
        if spec.media == Media::Both || spec.media == media {
            body = body.content(content_type, Content::new(Some(object(spec, media))));
        }
    }
    body.build()
}

/// A closed object of the spec's fields; with an exactly-one rule, `oneOf` closed objects, one
/// per alternative (that alternative required, the others absent).
fn object(spec: &FieldSpec, media: Media) -> RefOr<Schema> {
    if spec.exactly_one.is_empty() {
        return closed(spec, media, None).into();
    }
    spec.exactly_one.iter().fold(OneOfBuilder::new(), |b, alt| b.item(closed(spec, media, Some(alt)))).into()
}

/// The closed object of the spec's fields; with `alternative`, that one of the exactly-one
/// fields (required) and none of the others.
fn closed(spec: &FieldSpec, media: Media, alternative: Option<&str>) -> ObjectBuilder {
    let mut object = ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for f in spec.fields {
        if spec.exactly_one.contains(&f.name) && alternative != Some(f.name) {
            continue;
        }
        object = object.property(f.name, property(f, media, spec.null_is_absent(f) && media == Media::Json));
        if f.required || alternative == Some(f.name) {
            object = object.required(f.name);
        }
    }
    object
}

/// A field's schema; `nullable`: JSON's `null` is allowed (it means the field not sent).
fn property(f: &Field, media: Media, nullable: bool) -> ObjectBuilder {
    let (ty, schema) = match f.kind {
        Kind::Image if media == Media::Json => (
            Type::String,
            ObjectBuilder::new()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
                .content_encoding("base64")
                .min_length(Some(1)),
        ),
        Kind::Image => {
            (Type::String, ObjectBuilder::new().format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary))))
        }
        Kind::Text { max } => (Type::String, ObjectBuilder::new().max_length(Some(max))),
        Kind::Id { max } => {
            (Type::String, ObjectBuilder::new().min_length(Some(1)).max_length(Some(max)).pattern(Some(ID_PATTERN)))
        }
        Kind::OperatingPoint(table) => {
            let mut names: Vec<serde_json::Value> = table.iter().map(|op| op.name.into()).collect();
            if nullable {
                names.push(serde_json::Value::Null);
            }
            (Type::String, ObjectBuilder::new().enum_values(Some(names)))
        }
        Kind::Choice(names) => {
            let mut values: Vec<serde_json::Value> = names.iter().map(|&n| n.into()).collect();
            if nullable {
                values.push(serde_json::Value::Null);
            }
            (Type::String, ObjectBuilder::new().enum_values(Some(values)))
        }
        Kind::Integer { min, max } => (Type::Integer, ObjectBuilder::new().minimum(Some(min)).maximum(Some(max))),
        Kind::Number { min, max } => (Type::Number, ObjectBuilder::new().minimum(Some(min)).maximum(Some(max))),
        // In multipart an object part is JSON text (OpenAPI's default encoding of an object).
        Kind::Object { .. } => (Type::Object, ObjectBuilder::new()),
        Kind::FutureTime => {
            (Type::String, ObjectBuilder::new().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
        }
        Kind::Boolean => (Type::Boolean, ObjectBuilder::new()),
    };
    let schema = if nullable {
        schema.schema_type([ty, Type::Null].into_iter().collect::<utoipa::openapi::schema::SchemaType>())
    } else {
        schema.schema_type(ty)
    };
    schema.description(Some(describe(f)))
}

fn describe(f: &Field) -> String {
    match f.kind {
        Kind::OperatingPoint(table) => {
            let names: Vec<String> = table.iter().map(|op| format!("`{}` ({:.2})", op.name, op.threshold)).collect();
            format!("{} One of {} (default `{}`).", f.doc, names.join(", "), table[0].name).trim().to_string()
        }
        Kind::Choice(names) => {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("{} One of {} (default `{}`).", f.doc, quoted.join(", "), names[0]).trim().to_string()
        }
        Kind::Image
        | Kind::Text { .. }
        | Kind::Id { .. }
        | Kind::Integer { .. }
        | Kind::Number { .. }
        | Kind::Object { .. }
        | Kind::FutureTime
        | Kind::Boolean => f.doc.to_string(),
    }
}
