//! Reading a route's fields from multipart/form-data or from a JSON body with base64 images,
//! with the same names in both, checked against the route's [`FieldSpec`]: size caps, unknown,
//! missing and invalid fields, and image decoding.

use std::{collections::HashMap, sync::Arc};

use actix_web::{http::header, web, HttpRequest};
use base64::Engine as _;
use futures_util::StreamExt;
use image::RgbImage;
use tracing::Instrument;

use super::fields::{self, Value};
pub use super::fields::{Field, FieldSpec, Kind, Media};
use crate::{
    config::HttpConfig,
    error::ApiError,
    vision::{decode, pool},
};

/// The largest text part of a multipart body (the 16 KiB `metadata` object and some room).
const MAX_OPTION_BYTES: usize = 20 * 1024;

/// The fields of one request: images raw, options checked.
#[derive(Debug, Default)]
pub struct Form {
    images: HashMap<String, Vec<u8>>,
    options: HashMap<String, Value>,
}

impl Form {
    /// A text option (text, id, operating point, JSON object as text).
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.options.get(name) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.options.get(name) {
            Some(Value::Integer(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn number(&self, name: &str) -> Option<f64> {
        match self.options.get(name) {
            Some(Value::Number(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.options.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A time option, in seconds since the Unix epoch.
    pub fn time(&self, name: &str) -> Option<i64> {
        match self.options.get(name) {
            Some(Value::Time(t)) => Some(*t),
            _ => None,
        }
    }

    /// Whether option `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    /// Like [`image`](Self::image), also returning the sha256 of the uploaded bytes.
    pub async fn image_with_sha256(
        &mut self,
        name: &'static str,
        cfg: &HttpConfig,
    ) -> Result<(Arc<RgbImage>, String), ApiError> {
        let sha = self.images.get(name).map(|b| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b)));
        let img = self.image(name, cfg).await?;
        Ok((img, sha.unwrap_or_default()))
    }

    /// Decodes the image fields `names` side by side on the preprocessing pool; a field that
    /// was not sent is `None`. Errors are reported in the order of `names`.
    pub async fn decode_images<const N: usize>(
        &mut self,
        names: [&'static str; N],
        cfg: &HttpConfig,
    ) -> Result<[Option<Arc<RgbImage>>; N], ApiError> {
        let max_pixels = cfg.max_image_pixels;
        let taken = names.map(|name| (name, self.images.remove(name)));
        let decoded = futures_util::future::join_all(taken.into_iter().map(|(name, bytes)| async move {
            match bytes {
                None => Ok(None),
                Some(bytes) => {
                    let span = tracing::info_span!("decode", field = name);
                    pool::run(move || decode::decode(name, &bytes, max_pixels).map(Arc::new))
                        .instrument(span)
                        .await
                        .map(Some)
                }
            }
        }))
        .await;
        let decoded = decoded.into_iter().collect::<Result<Vec<_>, ApiError>>()?;
        decoded.try_into().map_err(|_| ApiError::Internal("decoded a different number of images".into()))
    }

    /// Like [`decode_images`](Self::decode_images), every field required.
    pub async fn images<const N: usize>(
        &mut self,
        names: [&'static str; N],
        cfg: &HttpConfig,
    ) -> Result<[Arc<RgbImage>; N], ApiError> {
        let decoded = self.decode_images(names, cfg).await?;
        let mut out = Vec::with_capacity(N);
        for (name, img) in names.iter().zip(decoded) {
            out.push(img.ok_or_else(|| ApiError::MissingField(name.to_string()))?);
        }
        out.try_into().map_err(|_| ApiError::Internal("decoded a different number of images".into()))
    }

    /// Decodes image field `name` on the preprocessing pool.
    pub async fn image(&mut self, name: &'static str, cfg: &HttpConfig) -> Result<Arc<RgbImage>, ApiError> {
        let [img] = self.images([name], cfg).await?;
        Ok(img)
    }
}

/// Reads the body of `req` as multipart or JSON according to its content type.
pub async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    spec: &FieldSpec,
    cfg: &HttpConfig,
) -> Result<Form, ApiError> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let declared_len =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared_len == Some(0) {
        return Err(ApiError::EmptyBody);
    }
    let form = if content_type.starts_with("multipart/form-data") {
        read_multipart(req, payload, spec, cfg).await?
    } else if content_type.starts_with("application/json") || content_type.is_empty() {
        let total = spec.image_names().count();
        let limit = total * (cfg.max_image_bytes / 3 * 4 + 1024) + 64 * 1024;
        let body = read_limited(payload, limit).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::EmptyBody);
        }
        if content_type.is_empty() {
            return Err(ApiError::UnsupportedMediaType(String::new()));
        }
        parse_json(&body, spec, cfg)?
    } else {
        return Err(ApiError::UnsupportedMediaType(content_type));
    };
    if form.images.is_empty() && form.options.is_empty() {
        return Err(ApiError::EmptyBody);
    }
    check_presence(&form, spec)?;
    Ok(form)
}

/// Required fields sent, and exactly one of the spec's alternatives.
fn check_presence(form: &Form, spec: &FieldSpec) -> Result<(), ApiError> {
    let sent = |name: &str| form.images.contains_key(name) || form.options.contains_key(name);
    if let Some(f) = spec.fields.iter().find(|f| f.required && !sent(f.name)) {
        return Err(ApiError::MissingField(f.name.to_string()));
    }
    let given: Vec<&str> = spec.exactly_one.iter().copied().filter(|n| sent(n)).collect();
    match (given.len(), spec.exactly_one.first()) {
        (_, None) | (1, _) => Ok(()),
        (0, Some(first)) => Err(ApiError::MissingField(first.to_string())),
        (_, Some(_)) => Err(ApiError::InvalidField {
            field: given[1].to_string(),
            reason: format!("give only one of {}", spec.exactly_one.join(", ")),
        }),
    }
}

async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidMultipart(format!("reading the body failed: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn read_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    spec: &FieldSpec,
    cfg: &HttpConfig,
) -> Result<Form, ApiError> {
    let mut multipart = actix_multipart::Multipart::new(req.headers(), payload);
    let mut form = Form::default();
    while let Some(field) = multipart.next().await {
        let mut field = match field {
            Ok(field) => field,
            // Nothing but the close delimiter: a form without fields (an empty body).
            Err(actix_multipart::MultipartError::Incomplete) if only_close_delimiter(req) => break,
            Err(e) => return Err(ApiError::InvalidMultipart(e.to_string())),
        };
        let name = field.name().unwrap_or("").to_string();
        let declared = spec.field(&name).ok_or_else(|| spec.unknown(&name))?;
        let is_image = matches!(declared.kind, Kind::Image);
        let limit = if is_image { cfg.max_image_bytes } else { MAX_OPTION_BYTES };
        let mut data = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| ApiError::InvalidMultipart(e.to_string()))?;
            if data.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            data.extend_from_slice(&chunk);
        }
        if is_image {
            if data.is_empty() {
                return Err(ApiError::InvalidField { field: name, reason: "the file is empty".into() });
            }
            form.images.insert(name, data);
        } else {
            let text = String::from_utf8(data)
                .map_err(|_| ApiError::InvalidField { field: name.clone(), reason: "not UTF-8 text".into() })?;
            form.options.insert(name, fields::from_text(declared, &text)?);
        }
    }
    Ok(form)
}

/// Whether the body is no longer than `--BOUNDARY--` and a line break or two: a multipart
/// body without parts.
fn only_close_delimiter(req: &HttpRequest) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let boundary = header(header::CONTENT_TYPE)
        .and_then(|ct| ct.split(';').find_map(|p| p.trim().strip_prefix("boundary=")))
        .map(|b| b.trim_matches('"').len());
    let length = header(header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok());
    matches!((boundary, length), (Some(b), Some(n)) if n <= b + 8)
}

fn parse_json(body: &[u8], spec: &FieldSpec, cfg: &HttpConfig) -> Result<Form, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(ApiError::InvalidJson("the body must be a JSON object".into()));
    };
    let mut form = Form::default();
    for (name, v) in map {
        let declared = spec.field(&name).ok_or_else(|| spec.unknown(&name))?;
        if v.is_null() && spec.null_is_absent(declared) {
            continue;
        }
        if matches!(declared.kind, Kind::Image) {
            let serde_json::Value::String(s) = v else {
                return Err(ApiError::InvalidField { field: name, reason: "expected a base64 string".into() });
            };
            let bytes = decode_base64(&s).ok_or_else(|| ApiError::InvalidBase64(name.clone()))?;
            if bytes.is_empty() {
                return Err(ApiError::InvalidField { field: name, reason: "the image is empty".into() });
            }
            if bytes.len() > cfg.max_image_bytes {
                return Err(ApiError::PayloadTooLarge { limit: cfg.max_image_bytes });
            }
            form.images.insert(name, bytes);
        } else {
            form.options.insert(name, fields::from_json(declared, v)?);
        }
    }
    Ok(form)
}

/// Standard base64, with or without a `data:<type>;base64,` prefix, padding and line breaks.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = match s.split_once(";base64,") {
        Some((prefix, rest)) if prefix.starts_with("data:") => rest,
        _ => s,
    };
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let trimmed = clean.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_variants() {
        assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert_eq!(decode_base64("data:image/png;base64,aGk=").unwrap(), b"hi");
        assert_eq!(decode_base64("aG\nk=").unwrap(), b"hi");
        assert!(decode_base64("!!!").is_none());
    }
}
