//! In-process HTTP helpers: multipart and JSON requests against the actix test service.

use actix_web::{
    body::MessageBody,
    dev::{Service, ServiceResponse},
    http::StatusCode,
    test,
};
use base64::Engine as _;
use serde_json::Value;

use super::image_bytes;

pub const BOUNDARY: &str = "verity-test-boundary";

/// A multipart/form-data body: (field name, optional filename, bytes).
pub fn multipart(fields: &[(&str, Option<&str>, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, data) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub fn file(name: &'static str, image: &str) -> (&'static str, Option<&'static str>, Vec<u8>) {
    (name, Some("upload"), image_bytes(image))
}

pub fn b64(image: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(image_bytes(image))
}

pub fn post_multipart(uri: &str, body: Vec<u8>) -> test::TestRequest {
    test::TestRequest::post()
        .uri(uri)
        .insert_header(("content-type", format!("multipart/form-data; boundary={BOUNDARY}")))
        .set_payload(body)
}

pub fn post_json(uri: &str, body: Value) -> test::TestRequest {
    test::TestRequest::post().uri(uri).insert_header(("content-type", "application/json")).set_payload(body.to_string())
}

pub async fn send<S, B>(app: &S, req: test::TestRequest) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let resp = match app.call(req.to_request()).await {
        Ok(r) => r,
        Err(e) => {
            let r = e.error_response();
            let status = r.status();
            let body = actix_web::body::to_bytes(r.into_body()).await.unwrap_or_default();
            return (status, serde_json::from_slice(&body).unwrap_or(Value::Null));
        }
    };
    let status = resp.status();
    let body = test::read_body(resp).await;
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into())))
}
