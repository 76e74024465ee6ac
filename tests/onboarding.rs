//! `POST /v1/onboarding` on real models and images (in-process HTTP): the decision and the
//! reasons of each scenario of the acceptance, the policy override, the duplicate check against
//! a real SQLite gallery, and what each kind of bad input gets.
//!
//! The matching document is built here: obama.jpg's face pasted over the portrait of the TD3
//! specimen (its MRZ stays ERIKSSON's, expired in 2012).

mod common;

use std::io::Cursor;

use actix_web::test;
use common::{
    faces,
    http::{file, multipart, post_multipart, send},
    image, image_bytes, state, state_with,
};
use image::imageops::FilterType;
use serde_json::Value;
use verity::{build_app, config::HttpConfig, pipeline::Face};

fn grown(face: &Face, margin: f32, w: u32, h: u32) -> (u32, u32, u32, u32) {
    let b = face.bbox;
    let x0 = (b.x - b.width * margin).max(0.0) as u32;
    let y0 = (b.y - b.height * margin).max(0.0) as u32;
    let x1 = ((b.x + b.width * (1.0 + margin)) as u32).min(w);
    let y1 = ((b.y + b.height * (1.0 + margin)) as u32).min(h);
    (x0, y0, x1 - x0, y1 - y0)
}

/// The TD3 specimen with obama.jpg's face over its portrait, as JPEG bytes.
async fn obama_passport() -> Vec<u8> {
    let (doc, obama) = (image("td3_passport_specimen.jpg"), image("obama.jpg"));
    let p = faces().largest_face(doc.clone(), "document").await.expect("the specimen has a portrait");
    let o = faces().largest_face(obama.clone(), "obama").await.expect("obama.jpg has a face");
    let (dx, dy, dw, dh) = grown(&p, 0.3, doc.width(), doc.height());
    let (ox, oy, ow, oh) = grown(&o, 0.3, obama.width(), obama.height());
    let face = image::imageops::crop_imm(obama.as_ref(), ox, oy, ow, oh).to_image();
    let face = image::imageops::resize(&face, dw, dh, FilterType::Triangle);
    let mut out = doc.as_ref().clone();
    image::imageops::replace(&mut out, &face, dx as i64, dy as i64);
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(out)
        .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
        .expect("JPEG encodes");
    jpeg
}

/// A multipart field: name, file name, bytes.
type Field = (&'static str, Option<&'static str>, Vec<u8>);

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}: {body}"))
}

fn reasons(body: &Value) -> Vec<&str> {
    body["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect()
}

#[actix_web::test]
async fn obama_selfie_matches_a_document_with_obamas_portrait() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[file("selfie", "obama2.jpg"), ("document", Some("doc.jpg"), obama_passport().await)]);
    let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(s, 200, "{r}");
    let m = check(&r, "face_match");
    assert_eq!(m["passed"], true, "{m}");
    assert!(m["score"].as_f64().unwrap() >= m["threshold"].as_f64().unwrap());
    assert_eq!(check(&r, "selfie_liveness")["passed"], true);
    assert_eq!(check(&r, "mrz_check_digits")["passed"], true);
    // The specimen's MRZ expired in 2012: that alone rejects under the default policy.
    assert_eq!(reasons(&r), vec!["document_expired"], "{r}");
    assert_eq!(r["decision"], "reject");
    assert_eq!(r["identity"]["surname"], "ERIKSSON");
    assert_eq!(r["identity"]["document_number"], "L898902C3");
    for stage in ["selfie", "document", "face_match", "total"] {
        assert!(r["timings_ms"][stage].as_f64().unwrap() >= 0.0, "{stage}: {}", r["timings_ms"]);
    }
}

#[actix_web::test]
async fn the_mrz_first_read_decides_as_the_full_read_and_says_what_it_skipped() {
    let app = test::init_service(build_app(state().await)).await;
    let doc = obama_passport().await;
    let quick = multipart(&[file("selfie", "obama2.jpg"), ("document", Some("doc.jpg"), doc.clone())]);
    let full = multipart(&[
        file("selfie", "obama2.jpg"),
        ("document", Some("doc.jpg"), doc),
        ("full_text", None, b"true".to_vec()),
    ]);
    let (s, q) = send(&app, post_multipart("/v1/onboarding", quick)).await;
    assert_eq!(s, 200, "{q}");
    let (s, f) = send(&app, post_multipart("/v1/onboarding", full)).await;
    assert_eq!(s, 200, "{f}");
    for key in ["decision", "reasons", "identity"] {
        assert_eq!(q[key], f[key], "{key}");
    }
    assert_eq!(q["document"]["mrz"], f["document"]["mrz"]);
    assert_eq!((q["document"]["full_text"].as_bool(), f["document"]["full_text"].as_bool()), (Some(false), Some(true)));
    let lines = |r: &Value| r["document"]["text_lines"].as_array().unwrap().len();
    assert!(lines(&q) < lines(&f), "the MRZ-first read skips the page's other lines: {} vs {}", lines(&q), lines(&f));
    let bad = multipart(&[
        file("selfie", "obama2.jpg"),
        file("document", "td3_passport_specimen.jpg"),
        ("full_text", None, b"yes".to_vec()),
    ]);
    let (s, e) = send(&app, post_multipart("/v1/onboarding", bad)).await;
    assert_eq!((s.as_u16(), e["code"].as_str()), (400, Some("invalid_field")), "{e}");
}

#[actix_web::test]
async fn a_photo_of_a_face_as_selfie_is_rejected_as_not_live() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[file("selfie", "image_F1.jpg"), ("document", Some("doc.jpg"), obama_passport().await)]);
    let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["decision"], "reject");
    assert!(reasons(&r).contains(&"selfie_not_live"), "{r}");
    let live = check(&r, "selfie_liveness");
    assert_eq!((live["passed"].as_bool(), live["action"].as_str()), (Some(false), Some("reject")));
}

#[actix_web::test]
async fn the_td3_specimen_with_an_obama_selfie_is_a_mismatch_and_expired() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[file("selfie", "obama.jpg"), file("document", "td3_passport_specimen.jpg")]);
    let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(s, 200, "{r}");
    let got = reasons(&r);
    assert!(got.contains(&"face_mismatch") && got.contains(&"document_expired"), "{got:?}");
    assert_eq!(r["decision"], "reject");
}

#[actix_web::test]
async fn the_policy_turns_a_reason_into_review() {
    let http = HttpConfig { onboarding_policy: "document_expired=review".into(), ..HttpConfig::default() };
    let app = test::init_service(build_app(state_with(http, &[]).await)).await;
    let body = multipart(&[file("selfie", "obama2.jpg"), ("document", Some("doc.jpg"), obama_passport().await)]);
    let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((r["decision"].as_str(), reasons(&r)), (Some("review"), vec!["document_expired"]), "{r}");
}

#[actix_web::test]
async fn an_enrolled_face_is_a_duplicate_identity_unless_it_is_the_applicant() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, _) = send(&app, post_multipart("/v1/collections", multipart(&[("id", None, b"customers".to_vec())]))).await;
    assert_eq!(s, 201);
    let enroll = multipart(&[file("image", "obama.jpg"), ("external_id", None, b"customer-1".to_vec())]);
    let (s, r) = send(&app, post_multipart("/v1/collections/customers/faces", enroll)).await;
    assert_eq!(s, 201, "{r}");
    let doc = obama_passport().await;
    let body = multipart(&[
        file("selfie", "obama2.jpg"),
        ("document", Some("doc.jpg"), doc.clone()),
        ("collection", None, b"customers".to_vec()),
    ]);
    let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(s, 200, "{r}");
    assert!(reasons(&r).contains(&"duplicate_identity"), "{r}");
    assert_eq!(r["duplicates"][0]["external_id"], "customer-1");
    assert!(r["timings_ms"]["duplicate_search"].is_number());
    let body = multipart(&[
        file("selfie", "obama2.jpg"),
        ("document", Some("doc.jpg"), doc),
        ("collection", None, b"customers".to_vec()),
        ("external_id", None, b"customer-1".to_vec()),
    ]);
    let (_, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(check(&r, "duplicate")["passed"], true, "{r}");
}

#[actix_web::test]
async fn a_selfie_without_a_face_is_rejected_and_later_checks_are_skipped() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[file("selfie", "skimage_page.png"), file("document", "td3_passport_specimen.jpg")]);
    let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["decision"], "reject");
    assert_eq!(reasons(&r)[0], "no_face_on_selfie");
    assert_eq!(check(&r, "face_match")["skipped"], true);
    assert_eq!(check(&r, "selfie_liveness")["skipped"], true);
}

#[actix_web::test]
async fn bad_input_gets_a_4xx_with_a_stable_code() {
    let app = test::init_service(build_app(state().await)).await;
    let selfie = || file("selfie", "obama.jpg");
    let document = || file("document", "td3_passport_specimen.jpg");
    let cases: Vec<(&str, Vec<Field>, u16, &str)> = vec![
        ("no document", vec![selfie()], 400, "missing_field"),
        ("no selfie", vec![document()], 400, "missing_field"),
        ("unknown field", vec![selfie(), document(), ("passport", None, b"x".to_vec())], 400, "unknown_field"),
        (
            "text as selfie",
            vec![("selfie", Some("a.txt"), b"hello".to_vec()), document()],
            415,
            "unsupported_image_format",
        ),
        (
            "min_age not a number",
            vec![selfie(), document(), ("min_age", None, b"adult".to_vec())],
            400,
            "invalid_field",
        ),
        (
            "unknown operating point",
            vec![selfie(), document(), ("match_operating_point", None, b"loose".to_vec())],
            400,
            "invalid_field",
        ),
        (
            "unknown collection",
            vec![selfie(), document(), ("collection", None, b"nope".to_vec())],
            404,
            "collection_not_found",
        ),
        (
            "truncated document",
            vec![selfie(), ("document", Some("d.jpg"), image_bytes("obama.jpg")[..2000].to_vec())],
            422,
            "image_decode_failed",
        ),
    ];
    for (what, fields, status, code) in cases {
        let (s, r) = send(&app, post_multipart("/v1/onboarding", multipart(&fields))).await;
        assert_eq!((s.as_u16(), r["code"].as_str()), (status, Some(code)), "{what}: {r}");
    }
}
