//! The one declaration of the fields each route takes. The parser ([`super::input`]) checks a
//! request against it and the OpenAPI request bodies ([`super::schema::request_body`]) are built
//! from it, so the description cannot drift from what the server accepts.

use crate::{error::ApiError, pipeline::operating::OperatingPoint};

/// The doc of a plain image field.
pub const IMAGE_DOC: &str = "The image (JPEG, PNG, WebP or BMP): a file, or base64 in JSON.";

/// What a field holds, with its limits.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An image: a file in multipart, a base64 string (or `data:` URL) in JSON.
    Image,
    /// Free text of at most `max` characters.
    Text { max: usize },
    /// An identifier: 1 to `max` characters of letters, digits and `- _ . : @`.
    Id { max: usize },
    /// The name of one of these operating points.
    OperatingPoint(&'static [OperatingPoint]),
    /// A whole number in `min..=max`.
    Integer { min: i64, max: i64 },
    /// A number in `min..=max`.
    Number { min: f64, max: f64 },
    /// A JSON object (as text in multipart) of at most `max_bytes` bytes.
    Object { max_bytes: usize },
    /// An RFC 3339 time in the future.
    FutureTime,
    /// `true` or `false` (a JSON boolean; the text `true` or `false` in multipart).
    Boolean,
    /// One of these names (the first is the default).
    Choice(&'static [&'static str]),
}

/// One field of a route.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    pub doc: &'static str,
}

impl Field {
    /// A required field.
    pub const fn new(name: &'static str, kind: Kind, doc: &'static str) -> Self {
        Field { name, kind, required: true, doc }
    }

    /// An optional field.
    pub const fn optional(name: &'static str, kind: Kind, doc: &'static str) -> Self {
        Field { name, kind, required: false, doc }
    }
}

/// The body types a route is described with (it parses both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Both,
    Multipart,
    Json,
}

/// The fields a route takes.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub fields: &'static [Field],
    pub media: Media,
    /// Exactly one of these fields must be sent (empty: no such rule).
    pub exactly_one: &'static [&'static str],
    /// Whether a body is needed at all (`false`: an empty body means every default).
    pub body_required: bool,
}

impl FieldSpec {
    /// A spec described in both media types, with a required body and no exactly-one rule.
    pub const fn new(fields: &'static [Field]) -> Self {
        FieldSpec { fields, media: Media::Both, exactly_one: &[], body_required: true }
    }

    pub const fn media(self, media: Media) -> Self {
        FieldSpec { media, ..self }
    }

    pub const fn exactly_one(self, names: &'static [&'static str]) -> Self {
        FieldSpec { exactly_one: names, ..self }
    }

    pub const fn body_optional(self) -> Self {
        FieldSpec { body_required: false, ..self }
    }

    /// Whether JSON's `null` for `f` means the field not sent: for optional fields, except the
    /// exactly-one alternatives (there `null` would be ambiguous).
    pub fn null_is_absent(&self, f: &Field) -> bool {
        !f.required && !self.exactly_one.contains(&f.name)
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The names of the image fields, in declaration order.
    pub fn image_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().filter(|f| matches!(f.kind, Kind::Image)).map(|f| f.name)
    }

    pub fn accepted(&self) -> String {
        self.fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
    }

    pub fn unknown(&self, name: &str) -> ApiError {
        ApiError::UnknownField { field: name.to_string(), accepted: self.accepted() }
    }
}

/// A checked option value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Integer(i64),
    Number(f64),
    /// Seconds since the Unix epoch.
    Time(i64),
    Bool(bool),
}

/// The characters of [`Kind::Id`].
pub const ID_PATTERN: &str = "^[A-Za-z0-9_.:@-]+$";

fn invalid(field: &Field, reason: impl Into<String>) -> ApiError {
    ApiError::InvalidField { field: field.name.to_string(), reason: reason.into() }
}

/// Checks a field sent as text (a multipart part).
pub fn from_text(field: &Field, text: &str) -> Result<Value, ApiError> {
    match field.kind {
        Kind::Integer { min, max } => {
            let n: i64 = text.parse().map_err(|_| invalid(field, integer_reason(min, max, text)))?;
            integer(field, n, (min, max), text)
        }
        Kind::Number { min, max } => {
            let n: f64 =
                text.parse().map_err(|_| invalid(field, format!("a number from {min} to {max}, not {text:?}")))?;
            number(field, n, (min, max))
        }
        Kind::Object { max_bytes } => object(field, text, max_bytes),
        Kind::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(invalid(field, format!("true or false, not {other:?}"))),
        },
        Kind::Image
        | Kind::Text { .. }
        | Kind::Id { .. }
        | Kind::OperatingPoint(_)
        | Kind::Choice(_)
        | Kind::FutureTime => string(field, text),
    }
}

/// Checks a field sent as a JSON value (`null` is handled by the caller: the field not sent).
pub fn from_json(field: &Field, value: serde_json::Value) -> Result<Value, ApiError> {
    use serde_json::Value as J;
    match (field.kind, value) {
        // JSON Schema's `integer` is any number without a fraction, 5.0 too.
        (Kind::Integer { min, max }, J::Number(n)) => match n.as_i64().or_else(|| whole(n.as_f64())) {
            Some(i) => integer(field, i, (min, max), &n.to_string()),
            None => Err(invalid(field, integer_reason(min, max, &n.to_string()))),
        },
        (Kind::Integer { min, max }, other) => Err(invalid(field, integer_reason(min, max, &other.to_string()))),
        (Kind::Number { min, max }, J::Number(n)) => number(field, n.as_f64().unwrap_or(f64::NAN), (min, max)),
        (Kind::Number { min, max }, other) => Err(invalid(field, format!("a number from {min} to {max}, not {other}"))),
        (Kind::Object { max_bytes }, v @ J::Object(_)) => object(field, &v.to_string(), max_bytes),
        (Kind::Object { .. }, _) => Err(invalid(field, "must be a JSON object")),
        (Kind::Boolean, J::Bool(b)) => Ok(Value::Bool(b)),
        (Kind::Boolean, other) => Err(invalid(field, format!("true or false, not {other}"))),
        (
            Kind::Image
            | Kind::Text { .. }
            | Kind::Id { .. }
            | Kind::OperatingPoint(_)
            | Kind::Choice(_)
            | Kind::FutureTime,
            value,
        ) => match value {
            J::String(s) => string(field, &s),
            other => Err(invalid(field, format!("expected a string, not {other}"))),
        },
    }
}

fn whole(f: Option<f64>) -> Option<i64> {
    f.filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64)
}

fn integer_reason(min: i64, max: i64, got: &str) -> String {
    format!("a whole number from {min} to {max}, not {got}")
}

fn integer(field: &Field, n: i64, (min, max): (i64, i64), got: &str) -> Result<Value, ApiError> {
    if (min..=max).contains(&n) {
        Ok(Value::Integer(n))
    } else {
        Err(invalid(field, integer_reason(min, max, got)))
    }
}

fn number(field: &Field, n: f64, (min, max): (f64, f64)) -> Result<Value, ApiError> {
    if (min..=max).contains(&n) {
        Ok(Value::Number(n))
    } else {
        Err(invalid(field, format!("a number from {min} to {max}, not {n}")))
    }
}

fn object(field: &Field, text: &str, max_bytes: usize) -> Result<Value, ApiError> {
    if text.len() > max_bytes {
        return Err(invalid(field, format!("over {} KiB", max_bytes / 1024)));
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(Value::Text(v.to_string())),
        _ => Err(invalid(field, "must be a JSON object")),
    }
}

fn string(field: &Field, s: &str) -> Result<Value, ApiError> {
    match field.kind {
        Kind::Text { max } if s.chars().count() > max => Err(invalid(field, format!("at most {max} characters"))),
        Kind::Id { max } => {
            let ok = !s.is_empty()
                && s.len() <= max
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@'));
            if ok {
                Ok(Value::Text(s.to_string()))
            } else {
                Err(invalid(field, format!("1 to {max} characters of letters, digits and - _ . : @")))
            }
        }
        Kind::Choice(names) => {
            if names.contains(&s) {
                Ok(Value::Text(s.to_string()))
            } else {
                Err(invalid(field, format!("unknown value {s:?}; one of: {}", names.join(", "))))
            }
        }
        Kind::OperatingPoint(table) => {
            if table.iter().any(|op| op.name == s) {
                Ok(Value::Text(s.to_string()))
            } else {
                let names: Vec<&str> = table.iter().map(|op| op.name).collect();
                Err(invalid(field, format!("unknown operating point {s:?}; one of: {}", names.join(", "))))
            }
        }
        Kind::FutureTime => {
            let t: jiff::Timestamp = s.parse().map_err(|_| {
                invalid(field, format!("an RFC 3339 timestamp such as 2030-01-31T00:00:00Z, not {s:?}"))
            })?;
            if t <= jiff::Timestamp::now() {
                return Err(invalid(field, "must be in the future"));
            }
            Ok(Value::Time(t.as_second()))
        }
        Kind::Image
        | Kind::Text { .. }
        | Kind::Integer { .. }
        | Kind::Number { .. }
        | Kind::Object { .. }
        | Kind::Boolean => Ok(Value::Text(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::operating;

    const TOP_K: Field = Field::optional("top_k", Kind::Integer { min: 1, max: 100 }, "");
    const OP: Field = Field::optional("operating_point", Kind::OperatingPoint(&operating::VERIFY), "");
    const ID: Field = Field::new("id", Kind::Id { max: 8 }, "");
    const META: Field = Field::optional("metadata", Kind::Object { max_bytes: 64 }, "");

    fn code(r: Result<Value, ApiError>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.code())
    }

    #[test]
    fn json_values_must_have_the_declared_type() {
        assert_eq!(from_json(&TOP_K, serde_json::json!(5)).unwrap(), Value::Integer(5));
        for bad in [serde_json::json!("5"), serde_json::json!(5.5), serde_json::json!(0), serde_json::json!(true)] {
            assert_eq!(code(from_json(&TOP_K, bad)), "invalid_field");
        }
        assert_eq!(code(from_json(&ID, serde_json::json!(false))), "invalid_field");
        assert_eq!(code(from_json(&META, serde_json::json!("{}"))), "invalid_field");
        assert_eq!(from_json(&META, serde_json::json!({"a": 1})).unwrap(), Value::Text(r#"{"a":1}"#.into()));
    }

    #[test]
    fn text_values_are_checked_against_the_kind() {
        assert_eq!(from_text(&TOP_K, "7").unwrap(), Value::Integer(7));
        assert_eq!(code(from_text(&TOP_K, "many")), "invalid_field");
        assert_eq!(code(from_text(&OP, "yolo")), "invalid_field");
        assert_eq!(code(from_text(&ID, "")), "invalid_field");
        assert_eq!(code(from_text(&ID, "a b")), "invalid_field");
        assert_eq!(code(from_text(&ID, "toolong-id")), "invalid_field");
        assert_eq!(code(from_text(&META, "[1]")), "invalid_field");
        assert_eq!(from_text(&OP, "strict").unwrap(), Value::Text("strict".into()));
    }
}
