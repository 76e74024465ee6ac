//! The gallery over real HTTP routes, on SQLite and on a real PostgreSQL (started by `make test`
//! through scripts/pg.sh; its URL comes in VERITY_TEST_DATABASE_URL), and a kill -9 of a real
//! server process during a burst of enrollments.

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{dev::Service, test as at, web};
use base64::Engine as _;
use common::{faces, image_bytes, sqlite_gallery};
use serde_json::{json, Value};
use verity::{
    build_app,
    config::HttpConfig,
    gallery::{Gallery, GalleryConfig},
    AppState,
};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn call<S, B>(app: &S, req: at::TestRequest) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    match app.call(req.to_request()).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = at::read_body(resp).await;
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
        Err(e) => {
            let r = e.error_response();
            let status = r.status().as_u16();
            let body = actix_web::body::to_bytes(r.into_body()).await.unwrap_or_default();
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        }
    }
}

fn post(uri: &str, body: Value) -> at::TestRequest {
    at::TestRequest::post().uri(uri).insert_header(("content-type", "application/json")).set_payload(body.to_string())
}

fn enroll(collection: &str, external_id: &str, image: &str) -> at::TestRequest {
    post(
        &format!("/v1/collections/{collection}/faces"),
        json!({ "image": b64(&image_bytes(image)), "external_id": external_id }),
    )
}

fn search_image(collection: &str, image: &str) -> at::TestRequest {
    post(&format!("/v1/collections/{collection}/search"), json!({ "image": b64(&image_bytes(image)), "top_k": 3 }))
}

fn state(gallery: Arc<Gallery>) -> web::Data<AppState> {
    web::Data::new(AppState::new(faces(), gallery, HttpConfig::default(), Vec::new()))
}

#[actix_web::test]
async fn sqlite_enroll_search_and_erase() {
    let app = at::init_service(build_app(state(sqlite_gallery().await))).await;
    let (s, _) = call(&app, post("/v1/collections", json!({ "id": "people", "description": "test" }))).await;
    assert_eq!(s, 201);
    let (s, b) = call(&app, post("/v1/collections", json!({ "id": "people" }))).await;
    assert_eq!((s, b["code"].as_str()), (409, Some("collection_exists")));

    for img in ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"] {
        let (s, b) = call(&app, enroll("people", "obama", img)).await;
        assert_eq!(s, 201, "{img}: {b}");
    }
    for (id, img) in [("biden", "biden.jpg"), ("astronaut", "astronaut.png")] {
        let (s, b) = call(&app, enroll("people", id, img)).await;
        assert_eq!(s, 201, "{img}: {b}");
    }
    let (s, again) = call(&app, enroll("people", "obama", "obama.jpg")).await;
    assert_eq!((s, again["created"].as_bool()), (200, Some(false)), "re-enrolling the same image is a no-op");

    let (s, r) = call(&app, search_image("people", "obama_partial_face2.jpg")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["matches"][0]["external_id"], "obama", "{r}");
    let (_, unknown) = call(&app, search_image("people", "image_T1.jpg")).await;
    assert_eq!(unknown["matches"].as_array().unwrap().len(), 0, "an unknown face matches nobody: {unknown}");

    let face_id = again["face_id"].as_str().unwrap();
    let (s, by_id) = call(&app, post("/v1/collections/people/search", json!({ "face_id": face_id }))).await;
    assert_eq!(s, 200, "{by_id}");
    assert_eq!(by_id["matches"][0]["external_id"], "obama");
    assert!(
        by_id["matches"].as_array().unwrap().iter().all(|m| m["face_id"] != face_id),
        "the face itself is excluded"
    );

    let (s, page) = call(&app, at::TestRequest::get().uri("/v1/collections/people/faces?limit=4")).await;
    assert_eq!((s, page["faces"].as_array().unwrap().len()), (200, 4));
    let next = page["next"].as_str().unwrap().to_string();
    let (_, rest) =
        call(&app, at::TestRequest::get().uri(&format!("/v1/collections/people/faces?limit=4&after={next}"))).await;
    assert_eq!(rest["faces"].as_array().unwrap().len(), 2);
    let (_, list) = call(&app, at::TestRequest::get().uri("/v1/collections")).await;
    assert_eq!(list["collections"][0]["faces"], 6);

    let (s, erased) = call(&app, at::TestRequest::delete().uri("/v1/collections/people/subjects/obama")).await;
    assert_eq!((s, erased["deleted_faces"].as_u64()), (200, Some(4)));
    let (_, r) = call(&app, search_image("people", "obama_partial_face2.jpg")).await;
    assert!(r["matches"].as_array().unwrap().iter().all(|m| m["external_id"] != "obama"), "erased: {r}");

    let bad = [
        (
            post("/v1/collections/nope/faces", json!({ "image": b64(&image_bytes("obama.jpg")), "external_id": "x" })),
            404,
            "collection_not_found",
        ),
        (
            post("/v1/collections/people/faces", json!({ "image": b64(&image_bytes("obama.jpg")) })),
            400,
            "missing_field",
        ),
        (
            post(
                "/v1/collections/people/faces",
                json!({ "image": b64(&image_bytes("obama.jpg")), "external_id": "a b" }),
            ),
            400,
            "invalid_field",
        ),
        (
            post(
                "/v1/collections/people/faces",
                json!({ "image": b64(&image_bytes("obama.jpg")), "external_id": "x", "metadata": "[1]" }),
            ),
            400,
            "invalid_field",
        ),
        (enroll("people", "page", "skimage_page.png"), 422, "no_face"),
        (post("/v1/collections/people/search", json!({ "top_k": 3 })), 400, "missing_field"),
        (post("/v1/collections/people/search", json!({ "face_id": "nope" })), 404, "face_not_found"),
        (post("/v1/collections/people/search", json!({ "face_id": face_id, "top_k": 1000 })), 400, "invalid_field"),
        (at::TestRequest::delete().uri("/v1/collections/people/faces/nope"), 404, "face_not_found"),
        (at::TestRequest::delete().uri("/v1/collections/people/subjects/nobody"), 404, "subject_not_found"),
        (at::TestRequest::delete().uri("/v1/collections/nope"), 404, "collection_not_found"),
        (post("/v1/collections", json!({ "id": "../etc" })), 400, "invalid_field"),
    ];
    for (req, status, code) in bad {
        let (s, b) = call(&app, req).await;
        assert_eq!((s, b["code"].as_str().unwrap_or("")), (status, code), "{b}");
    }
    let (s, _) = call(&app, at::TestRequest::delete().uri("/v1/collections/people")).await;
    assert_eq!(s, 204);
}

#[actix_web::test]
async fn a_tiny_face_is_rejected_with_a_machine_readable_reason() {
    let app = at::init_service(build_app(state(sqlite_gallery().await))).await;
    call(&app, post("/v1/collections", json!({ "id": "q" }))).await;
    let img = image::load_from_memory(&image_bytes("obama.jpg")).unwrap().resize(
        120,
        150,
        image::imageops::FilterType::Triangle,
    );
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    let (s, b) =
        call(&app, post("/v1/collections/q/faces", json!({ "image": b64(&png), "external_id": "small" }))).await;
    assert_eq!((s, b["code"].as_str()), (422, Some("face_rejected")), "{b}");
    assert!(b["reasons"].as_array().unwrap().iter().any(|r| r == "too_small"), "{b}");
}

fn database_url() -> String {
    std::env::var("VERITY_TEST_DATABASE_URL").expect(
        "VERITY_TEST_DATABASE_URL is not set: run `make test` (it starts PostgreSQL with scripts/pg.sh), \
         or `export VERITY_TEST_DATABASE_URL=$(scripts/pg.sh start)`",
    )
}

async fn pg_gallery(url: &str) -> Arc<Gallery> {
    let cfg = GalleryConfig {
        data_dir: std::env::temp_dir(),
        database_url: Some(url.to_string()),
        poll: Duration::from_millis(500),
        keep_aligned: true,
        pg: Default::default(),
    };
    Gallery::open(cfg).await.expect("PostgreSQL gallery opens")
}

async fn wait_for<F: Fn(&Value) -> bool, S, B>(
    app: &S,
    req: impl Fn() -> at::TestRequest,
    ok: F,
    within: Duration,
) -> Value
where
    S: Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let started = Instant::now();
    loop {
        let (_, body) = call(app, req()).await;
        if ok(&body) || started.elapsed() > within {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn postgres_replicas_see_each_others_writes() {
    let url = database_url();
    let collection = format!("pg{}", std::process::id());
    let a = at::init_service(build_app(state(pg_gallery(&url).await))).await;
    let b = at::init_service(build_app(state(pg_gallery(&url).await))).await;
    let (s, r) = call(&a, post("/v1/collections", json!({ "id": collection }))).await;
    assert_eq!(s, 201, "{r}");
    let (s, r) = call(&a, enroll(&collection, "obama", "obama.jpg")).await;
    assert_eq!(s, 201, "{r}");
    call(&a, enroll(&collection, "biden", "biden.jpg")).await;

    let started = Instant::now();
    let found = wait_for(
        &b,
        || search_image(&collection, "obama2.jpg"),
        |r| r["matches"][0]["external_id"] == "obama",
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(found["matches"][0]["external_id"], "obama", "B did not see A's enrollment within 1 s: {found}");
    eprintln!("replica B found A's enrollment after {:?}", started.elapsed());

    let (s, _) = call(&b, at::TestRequest::delete().uri(&format!("/v1/collections/{collection}/subjects/obama"))).await;
    assert_eq!(s, 200);
    let gone = wait_for(
        &a,
        || search_image(&collection, "obama2.jpg"),
        |r| r["matches"].as_array().is_some_and(|m| m.iter().all(|x| x["external_id"] != "obama")),
        Duration::from_secs(1),
    )
    .await;
    assert!(
        gone["matches"].as_array().unwrap().iter().all(|m| m["external_id"] != "obama"),
        "A still finds the erased face: {gone}"
    );

    // A new replica is ready only once caught up, and answers the same.
    let c_gallery = pg_gallery(&url).await;
    let status = c_gallery.status();
    assert!(status.ready && status.applied_sequence == status.head_sequence, "{status:?}");
    let c = at::init_service(build_app(state(c_gallery))).await;
    let (_, from_a) = call(&a, search_image(&collection, "biden.jpg")).await;
    let (_, from_c) = call(&c, search_image(&collection, "biden.jpg")).await;
    assert_eq!(from_a["matches"], from_c["matches"]);
    assert_eq!(from_c["matches"][0]["external_id"], "biden");
    call(&a, at::TestRequest::delete().uri(&format!("/v1/collections/{collection}"))).await;
}

#[actix_web::test]
async fn postgres_retention_purge_and_compaction() {
    let url = database_url();
    let collection = format!("ret{}", std::process::id());
    let (a_gallery, b_gallery) = (pg_gallery(&url).await, pg_gallery(&url).await);
    let a = at::init_service(build_app(state(a_gallery.clone()))).await;
    let b = at::init_service(build_app(state(b_gallery.clone()))).await;
    assert_eq!(call(&a, post("/v1/collections", json!({ "id": collection }))).await.0, 201);
    let soon = jiff::Timestamp::now().checked_add(jiff::SignedDuration::from_secs(2)).unwrap().to_string();
    let body = json!({ "image": b64(&image_bytes("obama.jpg")), "external_id": "temp", "expires_at": soon });
    let (s, r) = call(&a, post(&format!("/v1/collections/{collection}/faces"), body)).await;
    assert_eq!(s, 201, "{r}");
    assert_eq!(call(&a, enroll(&collection, "kept", "biden.jpg")).await.0, 201);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(a_gallery.purge_expired().await.unwrap() >= 1);
    // The purge's deletes reach the other replica through the change log.
    let r = wait_for(
        &b,
        || search_image(&collection, "obama2.jpg"),
        |r| r["matches"].as_array().is_some_and(|m| m.iter().all(|m| m["external_id"] != "temp")),
        Duration::from_secs(10),
    )
    .await;
    assert!(r["matches"].as_array().unwrap().iter().all(|m| m["external_id"] != "temp"), "{r}");
    // Compaction keeps the last entry only; both replicas stay consistent afterwards.
    let (_, floor) = a_gallery.compact(1).await.unwrap();
    assert!(floor > 0);
    assert_eq!(call(&a, enroll(&collection, "after", "obama2.jpg")).await.0, 201);
    let r = wait_for(
        &b,
        || search_image(&collection, "obama.jpg"),
        |r| r["matches"].as_array().is_some_and(|m| m.iter().any(|m| m["external_id"] == "after")),
        Duration::from_secs(10),
    )
    .await;
    assert!(r["matches"].as_array().unwrap().iter().any(|m| m["external_id"] == "after"), "{r}");
}
