//! The HTTP API: routes, shared state, middleware.

pub mod document;
pub mod face;
pub mod gallery;
pub mod health;
pub mod input;
pub mod middleware;
pub mod plate;

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;

use actix_web::{
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
    web, App, HttpResponse,
};

use crate::{config::HttpConfig, error::ApiError, gallery::Gallery, pipeline::FacePipeline};

/// What every handler can reach.
pub struct AppState {
    pub faces: FacePipeline,
    pub gallery: Arc<Gallery>,
    pub http: HttpConfig,
    pub api_keys: Arc<Vec<String>>,
    /// Permits for requests on the model routes (`--max-concurrent-requests`).
    pub admission: Arc<Semaphore>,
    pub request_timeout: Duration,
}

impl AppState {
    pub fn new(faces: FacePipeline, gallery: Arc<Gallery>, http: HttpConfig, api_keys: Vec<String>) -> AppState {
        let request_timeout = Duration::from_millis(faces.engine().config().request_timeout_ms);
        let admission = Arc::new(Semaphore::new(http.max_concurrent_requests.max(1)));
        AppState { faces, gallery, http, api_keys: Arc::new(api_keys), admission, request_timeout }
    }
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

fn post(
    path: &str,
    handler: impl actix_web::Handler<
        (web::Data<AppState>, actix_web::HttpRequest, web::Payload),
        Output = Result<HttpResponse, ApiError>,
    >,
) -> actix_web::Resource {
    web::resource(path).route(web::post().to(handler)).default_service(web::to(method_not_allowed))
}

fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path).route(web::get().to(handler)).default_service(web::to(method_not_allowed))
}

/// The application, shared by `main`, the tests and the benches.
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
    App::new()
        .app_data(state)
        .wrap(from_fn(middleware::observe))
        .service(get("/livez", health::livez))
        .service(get("/readyz", health::readyz))
        .service(get("/metrics", health::metrics))
        .service(
            web::scope("/v1")
                .wrap(from_fn(middleware::require_key))
                .service(get("/info", health::info))
                .service(
                    web::scope("/faces")
                        .wrap(from_fn(middleware::admit))
                        .service(post("/detect", face::detect))
                        .service(post("/verify", face::verify))
                        .service(post("/liveness", face::liveness)),
                )
                .service(
                    web::scope("/documents").wrap(from_fn(middleware::admit)).service(post("/read", document::read)),
                )
                .service(web::scope("/plates").wrap(from_fn(middleware::admit)).service(post("/read", plate::read)))
                .service(
                    web::scope("/collections")
                        .wrap(from_fn(middleware::admit))
                        .service(
                            web::resource("")
                                .route(web::post().to(gallery::create_collection))
                                .route(web::get().to(gallery::list_collections))
                                .default_service(web::to(method_not_allowed)),
                        )
                        .service(
                            web::resource("/{id}")
                                .route(web::delete().to(gallery::delete_collection))
                                .default_service(web::to(method_not_allowed)),
                        )
                        .service(
                            web::resource("/{id}/faces")
                                .route(web::post().to(gallery::enroll))
                                .route(web::get().to(gallery::list_faces))
                                .default_service(web::to(method_not_allowed)),
                        )
                        .service(
                            web::resource("/{id}/faces/{face_id}")
                                .route(web::delete().to(gallery::delete_face))
                                .default_service(web::to(method_not_allowed)),
                        )
                        .service(
                            web::resource("/{id}/subjects/{external_id}")
                                .route(web::delete().to(gallery::delete_subject))
                                .default_service(web::to(method_not_allowed)),
                        )
                        .service(
                            web::resource("/{id}/search")
                                .route(web::post().to(gallery::search))
                                .default_service(web::to(method_not_allowed)),
                        ),
                )
                .default_service(web::to(not_found)),
        )
        .default_service(web::to(not_found))
}
