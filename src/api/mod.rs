//! The HTTP API: routes, shared state, middleware.

pub mod compat;
pub mod docs;
pub mod document;
pub mod face;
pub mod fields;
pub mod gallery;
pub mod health;
pub mod input;
pub mod jobs;
pub mod middleware;
pub mod onboarding;
pub mod openapi;
pub mod plate;
pub mod routes;
pub mod schema;
pub mod state;

use actix_web::{
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
    web, App,
};

pub use self::state::AppState;
use crate::error::ApiError;

/// The application, shared by `main`, the tests and the benches. Its routes are the table in
/// [`routes`].
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    static SPEC: std::sync::OnceLock<web::Data<docs::SpecJson>> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| web::Data::new(docs::SpecJson(openapi::json().into()))).clone();
    App::new()
        .app_data(state)
        .app_data(spec)
        // A query string or path segment that does not parse answers in the error shape of
        // every other bad input (actix' own answer would be text/plain).
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::InvalidField { field: "query".into(), reason: e.to_string() }.into()),
        )
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::InvalidField { field: "path".into(), reason: e.to_string() }.into()),
        )
        .wrap(from_fn(middleware::observe))
        .configure(routes::register)
        .default_service(web::to(routes::not_found))
}
