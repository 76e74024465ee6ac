//! License plates over the HTTP route on real images (ground truth in ../shared/testdata).

mod common;

use actix_web::{dev::Service, test as at};
use base64::Engine as _;
use common::{image_bytes, state};
use serde_json::{json, Value};
use verity::build_app;

async fn plates<S, B>(app: &S, body: Value) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let req = at::TestRequest::post()
        .uri("/v1/plates/read")
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string());
    match app.call(req.to_request()).await {
        Ok(r) => (r.status().as_u16(), serde_json::from_slice(&at::read_body(r).await).unwrap_or(Value::Null)),
        Err(e) => {
            let r = e.error_response();
            let s = r.status().as_u16();
            (s, serde_json::from_slice(&actix_web::body::to_bytes(r.into_body()).await.unwrap()).unwrap_or(Value::Null))
        }
    }
}

fn image(name: &str) -> Value {
    json!({ "image": base64::engine::general_purpose::STANDARD.encode(image_bytes(name)) })
}

fn texts(r: &Value) -> Vec<String> {
    r["plates"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap().to_string()).collect()
}

#[actix_web::test]
async fn plates_are_read_and_absent_plates_are_an_empty_list() {
    let app = at::init_service(build_app(state().await)).await;
    let (s, car) = plates(&app, image("fastalpr_test_image.png")).await;
    assert_eq!(s, 200, "{car}");
    assert!(texts(&car).contains(&"5AU5341".to_string()), "{car}");
    let p = &car["plates"][0];
    assert!(
        p["raw_text"].is_string() && p["confidence"].is_number() && p["box"].is_object() && p["detector"] == "ocr_text",
        "{p}"
    );
    let (_, ny) = plates(&app, image("ny_license_plate_wrap.jpg")).await;
    assert!(!texts(&ny).is_empty(), "the NY plate artwork yields a plate text: {ny}");
    // The state's name printed over the number is the cue that chose its formats.
    let top = &ny["plates"][0];
    assert_eq!((top["text"].as_str(), top["cue"].as_str()), (Some("HCM6223"), Some("NEWYORK")), "{ny}");
    assert!(p["cue"].is_null(), "no place is named on the car's plate: {p}");
    // Faces, identity documents (their numbers are no plates) and a page of text give none.
    for none in ["astronaut.png", "obama.jpg", "td3_passport_specimen.jpg", "skimage_page.png"] {
        let (s, r) = plates(&app, image(none)).await;
        assert_eq!((s, texts(&r).len()), (200, 0), "{none}: {r}");
    }
}

#[actix_web::test]
async fn a_region_scores_by_its_formats_and_an_unknown_region_is_refused() {
    let app = at::init_service(build_app(state().await)).await;
    let mut body = image("fastalpr_test_image.png");
    body["region"] = json!("us");
    let (s, r) = plates(&app, body.clone()).await;
    assert_eq!(s, 200, "{r}");
    let p = &r["plates"][0];
    assert_eq!(
        (p["text"].as_str(), p["region"].as_str(), p["rows"].as_u64()),
        (Some("5AU5341"), Some("us"), Some(1)),
        "{r}"
    );
    assert!(p["format"].is_string() && p["fixes"].is_array() && p["text_confidence"].is_number(), "{p}");
    body["region"] = json!("mars");
    let (s, r) = plates(&app, body).await;
    assert_eq!((s, r["code"].as_str()), (400, Some("invalid_field")), "{r}");
    assert!(r["detail"].as_str().unwrap_or("").contains("auto, us, eu, br, cn"), "the detail names the regions: {r}");
}

#[actix_web::test]
async fn plates_refuse_bad_input_with_4xx() {
    let app = at::init_service(build_app(state().await)).await;
    let text = base64::engine::general_purpose::STANDARD.encode(b"plain text");
    for (body, status, code) in [
        (json!({}), 400, "empty_body"),
        (json!({ "image": text }), 415, "unsupported_image_format"),
        (json!({ "picture": text }), 400, "unknown_field"),
        (json!({ "image": "@@@" }), 400, "invalid_base64"),
    ] {
        let (s, r) = plates(&app, body).await;
        assert_eq!((s, r["code"].as_str().unwrap_or("")), (status, code), "{r}");
    }
}
