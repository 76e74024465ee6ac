//! The HTTP API in-process (actix test service, same `build_app` as the server): every route in
//! multipart and base64 JSON forms, and every kind of bad input with its documented status and
//! code. No bad input may produce a 5xx, and the service keeps serving afterwards.

mod common;

use actix_web::{dev::Service, test};
use common::{
    http::{b64, file, multipart, post_json, post_multipart, send},
    image_bytes, state, state_with,
};
use serde_json::json;
use verity::{build_app, config::HttpConfig};

#[actix_web::test]
async fn probes_info_and_metrics() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, _) = send(&app, test::TestRequest::get().uri("/livez")).await;
    assert_eq!(s, 200);
    let (s, body) = send(&app, test::TestRequest::get().uri("/readyz")).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["models"]["yunet"]["state"], "ready");
    let (s, info) = send(&app, test::TestRequest::get().uri("/v1/info")).await;
    assert_eq!(s, 200);
    let models = info["models"].as_array().unwrap();
    assert_eq!(models.len(), 7, "four face models, the OCR pair and the plate recogniser");
    for m in models {
        assert_eq!(m["sha256"].as_str().unwrap().len(), 64, "{m}");
        assert!(m["licence"].is_string() && m["execution_provider"].is_string(), "{m}");
    }
    assert!(info["thread_budget"]["cpu_limit"].as_u64().unwrap() >= 1);
    assert_eq!(info["operating_points"]["liveness_2d_veto"].as_f64().unwrap() as f32, 0.05);
    let resp = app.call(test::TestRequest::get().uri("/metrics").to_request()).await.unwrap();
    let text = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    assert!(text.contains("verity_http_requests_total"), "{text}");
    assert!(text.contains("verity_inference_duration_seconds"), "{text}");
}

#[actix_web::test]
async fn detect_in_both_forms() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, a) = send(&app, post_multipart("/v1/faces/detect", multipart(&[file("image", "astronaut.png")]))).await;
    assert_eq!(s, 200, "{a}");
    let (s, b) = send(&app, post_json("/v1/faces/detect", json!({ "image": b64("astronaut.png") }))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(a["faces"].as_array().unwrap().len(), 1);
    assert_eq!(a, b, "multipart and base64 give the same answer");
    let face = &a["faces"][0];
    for key in ["box", "score", "landmarks", "pose", "quality"] {
        assert!(!face[key].is_null(), "face lacks {key}: {face}");
    }
    let data_uri = format!("data:image/png;base64,{}", b64("astronaut.png"));
    let (s, _) = send(&app, post_json("/v1/faces/detect", json!({ "image": data_uri }))).await;
    assert_eq!(s, 200);
}

#[actix_web::test]
async fn verify_in_both_forms_echoes_the_operating_point() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[
        file("source", "obama.jpg"),
        file("target", "obama2.jpg"),
        ("operating_point", None, b"strict".to_vec()),
    ]);
    let (s, r) = send(&app, post_multipart("/v1/faces/verify", body)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["match"], true);
    assert_eq!(r["operating_point"], "strict");
    assert_eq!(r["fmr"], 1e-4, "strict is the FMR 1e-4 point");
    assert!(r["threshold"].as_f64().unwrap() > 0.0 && !r["source"].is_null() && !r["target"].is_null());
    let (s, r) =
        send(&app, post_json("/v1/faces/verify", json!({ "source": b64("obama.jpg"), "target": b64("biden.jpg") })))
            .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["match"], false);
    assert_eq!(r["operating_point"], "default");
    assert_eq!(r["fmr"], 1e-3, "the default is the FMR 1e-3 point");
}

#[actix_web::test]
async fn liveness_in_both_forms() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, r) = send(&app, post_multipart("/v1/faces/liveness", multipart(&[file("image", "image_T1.jpg")]))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["live"], true);
    assert!(r["models"]["attack_2d"].as_f64().unwrap() < 0.05, "{r}");
    let (s, r) = send(&app, post_json("/v1/faces/liveness", json!({ "image": b64("image_F2.jpg") }))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["live"], false);
    assert!(!r["face"].is_null() && r["threshold"].is_number() && r["operating_point"] == "default");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A valid PNG header whose IHDR claims 30000x30000 pixels (a decompression bomb's shape).
fn png_bomb_header() -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png
}

#[actix_web::test]
async fn every_bad_input_gets_its_documented_4xx() {
    let state = state_with(HttpConfig { max_image_bytes: 2 << 20, ..HttpConfig::default() }, &[]).await;
    let app = test::init_service(build_app(state)).await;
    let jpeg = image_bytes("obama.jpg");
    let truncated = jpeg[..jpeg.len() / 3].to_vec();
    let cases: Vec<(&str, test::TestRequest, u16, &str)> = vec![
        (
            "empty body",
            test::TestRequest::post().uri("/v1/faces/detect").insert_header(("content-type", "application/json")),
            400,
            "empty_body",
        ),
        ("empty multipart", post_multipart("/v1/faces/detect", Vec::new()), 400, "empty_body"),
        (
            "text file",
            post_multipart("/v1/faces/detect", multipart(&[("image", Some("a.txt"), b"hello, I am text".to_vec())])),
            415,
            "unsupported_image_format",
        ),
        (
            "truncated JPEG",
            post_multipart("/v1/faces/detect", multipart(&[("image", Some("a.jpg"), truncated)])),
            422,
            "image_decode_failed",
        ),
        (
            "PNG claiming 30000x30000",
            post_multipart("/v1/faces/detect", multipart(&[("image", Some("a.png"), png_bomb_header())])),
            413,
            "image_too_large",
        ),
        (
            "missing field",
            post_multipart("/v1/faces/verify", multipart(&[file("source", "obama.jpg")])),
            400,
            "missing_field",
        ),
        (
            "unknown field",
            post_json("/v1/faces/detect", json!({ "image": b64("obama.jpg"), "colour": "red" })),
            400,
            "unknown_field",
        ),
        (
            "no face",
            post_json("/v1/faces/detect", json!({ "image": b64("skimage_page.png") })).uri("/v1/faces/liveness"),
            422,
            "no_face",
        ),
        (
            "no face in verify",
            post_json("/v1/faces/verify", json!({ "source": b64("obama.jpg"), "target": b64("skimage_page.png") })),
            422,
            "no_face",
        ),
        (
            "several faces",
            post_json("/v1/faces/liveness", json!({ "image": b64("solvay_conference_1927.jpg") })),
            422,
            "multiple_faces",
        ),
        (
            "invalid JSON",
            test::TestRequest::post()
                .uri("/v1/faces/detect")
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
            400,
            "invalid_json",
        ),
        ("JSON array", post_json("/v1/faces/detect", json!([1, 2])), 400, "invalid_json"),
        (
            "invalid base64",
            post_json("/v1/faces/detect", json!({ "image": "%%% not base64 %%%" })),
            400,
            "invalid_base64",
        ),
        ("image as a number", post_json("/v1/faces/detect", json!({ "image": 42 })), 400, "invalid_field"),
        (
            "unknown operating point",
            post_json(
                "/v1/faces/verify",
                json!({ "source": b64("obama.jpg"), "target": b64("obama2.jpg"), "operating_point": "yolo" }),
            ),
            400,
            "invalid_field",
        ),
        // The JSON types of the field declarations (the same that the OpenAPI schema shows).
        ("id as a boolean", post_json("/v1/collections", json!({ "id": false })), 400, "invalid_field"),
        ("an unknown property", post_json("/v1/collections", json!({ "id": "c", "extra": 1 })), 400, "unknown_field"),
        (
            "a number as a string",
            post_json("/v1/onboarding", json!({ "selfie": "aGk=", "document": "aGk=", "min_age": "18" })),
            400,
            "invalid_field",
        ),
        (
            "an operating point as a number",
            post_json("/v1/faces/liveness", json!({ "image": "aGk=", "operating_point": 1 })),
            400,
            "invalid_field",
        ),
        (
            "both alternatives of search",
            post_json("/v1/collections/c/search", json!({ "image": "aGk=", "face_id": "f" })),
            400,
            "invalid_field",
        ),
        (
            "text/plain body",
            test::TestRequest::post()
                .uri("/v1/faces/detect")
                .insert_header(("content-type", "text/plain"))
                .set_payload("hi"),
            415,
            "unsupported_media_type",
        ),
        (
            "over the size cap",
            post_multipart("/v1/faces/detect", multipart(&[("image", Some("big.jpg"), vec![0xFF; 3 << 20])])),
            413,
            "payload_too_large",
        ),
        (
            "multipart without boundary",
            test::TestRequest::post()
                .uri("/v1/faces/detect")
                .insert_header(("content-type", "multipart/form-data"))
                .set_payload("xx"),
            400,
            "invalid_multipart",
        ),
        ("unknown route", test::TestRequest::get().uri("/v1/nope"), 404, "not_found"),
        (
            "query number out of range",
            test::TestRequest::get().uri("/v1/collections/c/faces?limit=9223372036854775808"),
            400,
            "invalid_field",
        ),
        ("wrong method", test::TestRequest::get().uri("/v1/faces/detect"), 405, "method_not_allowed"),
    ];
    for (what, req, status, code) in cases {
        let (s, body) = send(&app, req).await;
        assert_eq!((s.as_u16(), body["code"].as_str().unwrap_or("")), (status, code), "{what}: {body}");
        assert_eq!(body["status"], status, "{what}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty())
                && body["title"].is_string()
                && body["type"].is_string(),
            "{what}: {body}"
        );
    }
    let resp = test::call_service(&app, test::TestRequest::delete().uri("/v1/collections").to_request()).await;
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers().get("allow").and_then(|v| v.to_str().ok()), Some("POST, GET"), "405 names the methods");
    let (s, r) = send(&app, post_json("/v1/faces/detect", json!({ "image": b64("obama.jpg") }))).await;
    assert_eq!(s, 200, "still serving after the bad inputs: {r}");
}

#[actix_web::test]
async fn api_keys_guard_v1_but_not_the_probes() {
    let app = test::init_service(build_app(state_with(HttpConfig::default(), &["s3cret"]).await)).await;
    let detect = || post_json("/v1/faces/detect", json!({ "image": b64("astronaut.png") }));
    let (s, body) = send(&app, detect()).await;
    assert_eq!((s.as_u16(), body["code"].as_str()), (401, Some("unauthorized")));
    let (s, body) = send(&app, detect().insert_header(("authorization", "Bearer wrong"))).await;
    assert_eq!((s.as_u16(), body["code"].as_str()), (401, Some("unauthorized")));
    let (s, _) = send(&app, detect().insert_header(("authorization", "Bearer s3cret"))).await;
    assert_eq!(s, 200);
    let (s, _) = send(&app, detect().insert_header(("x-api-key", "s3cret"))).await;
    assert_eq!(s, 200);
    for probe in ["/livez", "/readyz", "/metrics"] {
        let (s, _) = send(&app, test::TestRequest::get().uri(probe)).await;
        assert_eq!(s, 200, "{probe}");
    }
}
