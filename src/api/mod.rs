//! The HTTP API: routes, shared state, middleware.

pub mod compat;
pub mod docs;
pub mod document;
pub mod face;
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
        .wrap(from_fn(middleware::observe))
        .configure(routes::register)
        .default_service(web::to(routes::not_found))
}
