//! The route table: one list that registers every route, names it (`ROUTES`, so the OpenAPI
//! test can check that every registered route is described) and ties it to the declaration of
//! the fields it takes (the OpenAPI request bodies are built from it).

use actix_web::{http::header, middleware::from_fn, web, HttpResponse, ResponseError};

use crate::error::ApiError;

use super::{compat, docs, document, face, fields::FieldSpec, gallery, health, jobs, middleware, onboarding, plate};

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// 405 `method_not_allowed` with the `Allow` header of the path's methods.
pub fn method_not_allowed(allow: &'static str) -> HttpResponse {
    let mut resp = ApiError::MethodNotAllowed.error_response();
    resp.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static(allow));
    resp
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key (probes, metrics, the API description).
    Public,
    /// An API key when keys are configured.
    Keyed,
    /// An API key, then an admission permit and the request deadline (model routes).
    Model,
}

#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    /// actix pattern: `{name}` segments, `{name:regex}` for a tail.
    pub path: &'static str,
    pub access: Access,
    /// The fields of its body (the spec its handler reads with), when it takes one.
    pub fields: Option<&'static FieldSpec>,
}

/// The `Allow` value of a path's methods: `allow!(get, post)` -> `"GET, POST"`.
macro_rules! allow {
    (@one get) => { "GET" };
    (@one post) => { "POST" };
    (@one delete) => { "DELETE" };
    (@one put) => { "PUT" };
    ($first:ident $(, $rest:ident)*) => { concat!(allow!(@one $first) $(, ", ", allow!(@one $rest))*) };
}

macro_rules! routes {
    ($( $access:ident $path:literal { $( $method:ident => $handler:path $([$spec:path])? ),+ $(,)? } )*) => {
        /// Every (method, path) the application registers.
        pub const ROUTES: &[Route] = &[
            $( $( Route {
                method: stringify!($method),
                path: $path,
                access: Access::$access,
                fields: routes!(@fields $($spec)?),
            }, )+ )*
        ];

        /// Registers every route of [`ROUTES`] with its access guard; other methods on a known
        /// path get 405 `method_not_allowed` with `Allow`.
        pub fn register(cfg: &mut web::ServiceConfig) {
            $({
                const ALLOW: &str = allow!($( $method ),+);
                let resource = web::resource($path)
                    $( .route(web::$method().to($handler)) )+
                    .default_service(web::to(|| async { method_not_allowed(ALLOW) }));
                cfg.service(routes!(@guard $access, resource));
            })*
        }
    };
    (@fields) => { None };
    (@fields $spec:path) => { Some(&$spec) };
    (@guard Public, $r:expr) => { $r };
    (@guard Keyed, $r:expr) => { $r.wrap(from_fn(middleware::require_key)) };
    (@guard Model, $r:expr) => {
        $r.wrap(from_fn(middleware::admit)).wrap(from_fn(middleware::require_key))
    };
}

routes! {
    Public "/livez" { get => health::livez }
    Public "/startupz" { get => health::startupz }
    Public "/readyz" { get => health::readyz }
    Public "/metrics" { get => health::metrics }
    Public "/openapi.json" { get => docs::openapi_json }
    Public "/docs" { get => docs::docs_redirect }
    Public "/docs/{tail:.*}" { get => docs::docs }
    Keyed "/v1/info" { get => health::info }
    Keyed "/v1/cluster" { get => health::cluster }
    Model "/v1/faces/detect" { post => face::detect [face::DETECT] }
    Model "/v1/faces/verify" { post => face::verify [face::VERIFY] }
    Model "/v1/faces/liveness" { post => face::liveness [face::LIVENESS] }
    Model "/v1/documents/read" { post => document::read [document::READ] }
    Model "/v1/plates/read" { post => plate::read [plate::READ] }
    Model "/v1/onboarding" { post => onboarding::onboarding [onboarding::FIELDS] }
    Model "/v1/collections" { post => gallery::create_collection [gallery::CREATE], get => gallery::list_collections }
    Model "/v1/collections/{id}" { delete => gallery::delete_collection }
    Model "/v1/collections/{id}/faces" { post => gallery::enroll [gallery::ENROLL], get => gallery::list_faces }
    Model "/v1/collections/{id}/faces/{face_id}" { delete => gallery::delete_face }
    Model "/v1/collections/{id}/subjects/{external_id}" { delete => gallery::delete_subject }
    Model "/v1/collections/{id}/search" { post => gallery::search [gallery::SEARCH] }
    Model "/v1/collections/{id}/reembed" { post => jobs::reembed [jobs::REEMBED] }
    Keyed "/v1/jobs/{id}" { get => jobs::job }
    Model "/compare_face" { post => compat::face::compare_face [compat::face::COMPARE_FILES] }
    Model "/compare_face_base64" { post => compat::face::compare_face_base64 [compat::face::COMPARE_BASE64] }
    Model "/check_liveness" { post => compat::face::check_liveness [compat::FILE] }
    Model "/check_liveness_base64" { post => compat::face::check_liveness_base64 [compat::BASE64] }
    Model "/idcard_recognition" { post => compat::document::idcard_recognition [compat::FILE] }
    Model "/idcard_recognition_base64" { post => compat::document::idcard_recognition_base64 [compat::BASE64] }
    Model "/alpr" { post => compat::document::alpr_file [compat::FILE] }
    Model "/alpr_base64" { post => compat::document::alpr_base64 [compat::BASE64] }
}

/// The OpenAPI form of an actix pattern: `{tail:.*}` -> `{tail}`.
pub fn openapi_path(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_param = false;
    let mut skipping = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push(c);
            }
            '}' if in_param => {
                in_param = false;
                skipping = false;
                out.push(c);
            }
            ':' if in_param => skipping = true,
            _ if skipping => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_become_openapi_paths() {
        assert_eq!(openapi_path("/docs/{tail:.*}"), "/docs/{tail}");
        assert_eq!(openapi_path("/v1/collections/{id}/faces/{face_id}"), "/v1/collections/{id}/faces/{face_id}");
    }

    #[test]
    fn no_route_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(seen.insert((r.method, r.path)), "{} {} twice", r.method, r.path);
        }
    }
}
