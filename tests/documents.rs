//! ID documents over the HTTP route, on the real OCR models and the specimens of
//! ../shared/testdata (ground truth in its README).

mod common;

use actix_web::{dev::Service, test as at};
use base64::Engine as _;
use common::{image_bytes, state};
use serde_json::{json, Value};
use verity::build_app;

async fn read<S, B>(app: &S, image: &str) -> Value
where
    S: Service<actix_http::Request, Response = actix_web::dev::ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let body = json!({ "image": base64::engine::general_purpose::STANDARD.encode(image_bytes(image)) });
    let req = at::TestRequest::post()
        .uri("/v1/documents/read")
        .insert_header(("content-type", "application/json"))
        .set_payload(body.to_string());
    let resp = app.call(req.to_request()).await.unwrap_or_else(|e| panic!("{image}: {e}"));
    assert_eq!(resp.status(), 200, "{image}");
    serde_json::from_slice(&at::read_body(resp).await).unwrap()
}

fn all_checks_valid(mrz: &Value) -> bool {
    mrz["checks"].as_array().is_some_and(|c| !c.is_empty() && c.iter().all(|c| c["valid"] == true))
}

#[actix_web::test]
async fn td3_passport_specimen() {
    let app = at::init_service(build_app(state().await)).await;
    let r = read(&app, "td3_passport_specimen.jpg").await;
    let m = &r["mrz"];
    assert_eq!(
        m["lines"],
        json!(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]),
        "{m}"
    );
    assert!(all_checks_valid(m), "{m}");
    assert_eq!((m["surname"].as_str(), m["given_names"].as_str()), (Some("ERIKSSON"), Some("ANNA MARIA")));
    assert_eq!(m["document_number"], "L898902C3");
    assert_eq!((m["birth_date"].as_str(), m["expiry_date"].as_str()), (Some("1974-08-12"), Some("2012-04-15")));
    assert_eq!(r["checks"]["expired"], true);
    assert_eq!(r["checks"]["mrz_valid"], true);
    assert_eq!(r["document_type"], "passport");
    assert!(r["portrait"]["box"].is_object(), "a portrait: {}", r["portrait"]);
}

#[actix_web::test]
async fn td1_identity_card_specimen() {
    let app = at::init_service(build_app(state().await)).await;
    let r = read(&app, "nl_td1_id_specimen.jpg").await;
    let m = &r["mrz"];
    assert_eq!(
        m["lines"],
        json!(["I<NLDSPECI20142999999990<<<<<8", "6503101F2403096NLD<<<<<<<<<<<8", "DE<BRUIJN<<WILLEKE<LISELOTTE<<"]),
        "{m}"
    );
    assert!(all_checks_valid(m), "{m}");
    assert_eq!(m["surname"], "DE BRUIJN");
    assert_eq!(r["document_type"], "id_card");
}

#[actix_web::test]
async fn german_id_front_has_no_mrz_but_a_portrait_and_its_text() {
    let app = at::init_service(build_app(state().await)).await;
    let r = read(&app, "bub_der_personalausweis_kopie.jpg").await;
    assert!(r["mrz"].is_null(), "no MRZ on this side, and that is not an error: {}", r["mrz"]);
    assert_eq!(r["document_type"], "unknown");
    assert!(r["checks"]["mrz_valid"].is_null());
    assert!(r["portrait"]["box"].is_object());
    let text: Vec<&str> = r["text_lines"].as_array().unwrap().iter().filter_map(|l| l["text"].as_str()).collect();
    assert!(text.iter().any(|t| t.contains("MUSTERMANN")), "{text:?}");
}

#[actix_web::test]
async fn documents_refuse_bad_input_with_4xx() {
    let app = at::init_service(build_app(state().await)).await;
    let post = |body: &str, ct: &str| {
        at::TestRequest::post()
            .uri("/v1/documents/read")
            .insert_header(("content-type", ct.to_string()))
            .set_payload(body.to_string())
    };
    let jpeg = image_bytes("td3_passport_specimen.jpg");
    let truncated = base64::engine::general_purpose::STANDARD.encode(&jpeg[..jpeg.len() / 2]);
    let text = base64::engine::general_purpose::STANDARD.encode(b"not an image");
    let cases = [
        (post("", "application/json"), 400, "empty_body"),
        (post(&json!({ "image": text }).to_string(), "application/json"), 415, "unsupported_image_format"),
        (post(&json!({ "image": truncated }).to_string(), "application/json"), 422, "image_decode_failed"),
        (post(&json!({ "back": text }).to_string(), "application/json"), 400, "missing_field"),
        (post(&json!({ "image": text, "side": "front" }).to_string(), "application/json"), 400, "unknown_field"),
    ];
    for (req, status, code) in cases {
        let (s, body) = match app.call(req.to_request()).await {
            Ok(r) => {
                (r.status().as_u16(), serde_json::from_slice::<Value>(&at::read_body(r).await).unwrap_or(Value::Null))
            }
            Err(e) => {
                let r = e.error_response();
                let s = r.status().as_u16();
                (
                    s,
                    serde_json::from_slice(&actix_web::body::to_bytes(r.into_body()).await.unwrap())
                        .unwrap_or(Value::Null),
                )
            }
        };
        assert_eq!((s, body["code"].as_str().unwrap_or("")), (status, code), "{body}");
    }
}
