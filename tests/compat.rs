//! The KBY-AI compatible routes (in-process HTTP, real models): requests shaped like the
//! KBY-AI Docker SDK examples (`file1`/`file2`, `base64_1`/`base64_2`, `file`, `base64`) get
//! their response keys; errors get real statuses, or 200 with `VERITY_COMPAT_STATUS_200`.

mod common;

use actix_web::test;
use base64::Engine as _;
use common::{
    http::{b64, file, multipart, post_json, post_multipart, send},
    state, state_with,
};
use serde_json::json;
use verity::{build_app, config::HttpConfig};

#[actix_web::test]
async fn compare_face_same_and_different_people() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[file("file1", "obama.jpg"), file("file2", "obama2.jpg")]);
    let (s, r) = send(&app, post_multipart("/compare_face", body)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["resultCode"], "Ok");
    assert!(r["results"][0]["similarity"].as_f64().unwrap() > 0.7, "{}", r["results"]);
    assert_eq!((r["results"][0]["face1"].as_u64(), r["results"][0]["face2"].as_u64()), (Some(0), Some(0)));
    for key in ["x1", "y1", "x2", "y2", "yaw", "roll", "pitch", "face_quality", "face_luminance", "eye_dist"] {
        assert!(r["faces1"][0][key].is_number(), "{key}: {}", r["faces1"][0]);
    }
    assert_eq!(r["compare_result"], "Same person");

    let body = json!({ "base64_1": b64("obama.jpg"), "base64_2": b64("biden.jpg") });
    let (s, r) = send(&app, post_json("/compare_face_base64", body)).await;
    assert_eq!(s, 200, "{r}");
    assert!(r["results"][0]["similarity"].as_f64().unwrap() < 0.7, "{}", r["results"]);
    assert_eq!(r["compare_result"], "Different person");
}

#[actix_web::test]
async fn compare_face_errors_have_real_statuses_or_200_when_asked() {
    let no_face = || multipart(&[file("file1", "obama.jpg"), file("file2", "skimage_page.png")]);
    let app = test::init_service(build_app(state().await)).await;
    let (s, r) = send(&app, post_multipart("/compare_face", no_face())).await;
    assert_eq!(
        (s.as_u16(), r["resultCode"].as_str(), r["error"]["code"].as_str()),
        (422, Some("No face2"), Some("no_face"))
    );
    let (s, r) = send(&app, post_multipart("/compare_face", multipart(&[file("file1", "obama.jpg")]))).await;
    assert_eq!((s.as_u16(), r["resultCode"].as_str()), (400, Some("Failed to open file2")), "{r}");
    let (s, r) =
        send(&app, post_json("/compare_face_base64", json!({ "base64_1": "@@", "base64_2": b64("obama.jpg") }))).await;
    assert_eq!((s.as_u16(), r["resultCode"].as_str()), (400, Some("Failed to open file1")), "{r}");

    let http = HttpConfig { compat_status_200: true, ..HttpConfig::default() };
    let app = test::init_service(build_app(state_with(http, &[]).await)).await;
    let (s, r) = send(&app, post_multipart("/compare_face", no_face())).await;
    assert_eq!((s.as_u16(), r["resultCode"].as_str()), (200, Some("No face2")), "{r}");
}

#[actix_web::test]
async fn check_liveness_real_spoof_and_several_faces() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, r) = send(&app, post_multipart("/check_liveness", multipart(&[file("file", "image_T1.jpg")]))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["face_state"]["result"], "Real");
    assert!(r["face_state"]["liveness_score"].as_f64().unwrap() > 0.7);
    assert!(r["faces"][0]["liveness"].is_number());
    for key in ["is_not_front", "is_small", "is_boundary_face", "quality", "luminance"] {
        assert!(!r["face_state"][key].is_null(), "{key}");
    }
    let (s, r) = send(&app, post_json("/check_liveness_base64", json!({ "base64": b64("image_F2.jpg") }))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["face_state"]["result"], "Spoof");
    assert!(r["face_state"]["liveness_score"].as_f64().unwrap() < 0.7);
    let solvay = multipart(&[file("file", "solvay_conference_1927.jpg")]);
    let (s, r) = send(&app, post_multipart("/check_liveness", solvay)).await;
    assert_eq!((s.as_u16(), r["face_state"]["result"].as_str()), (422, Some("Multiple face")));
    assert_eq!(r["faces"].as_array().unwrap().len(), 10, "KBY-AI's limit of 10 faces");
}

#[actix_web::test]
async fn idcard_recognition_reads_the_mrz_and_the_portrait() {
    let app = test::init_service(build_app(state().await)).await;
    let body = multipart(&[file("file", "td3_passport_specimen.jpg")]);
    let (s, r) = send(&app, post_multipart("/idcard_recognition", body)).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((r["Status"].as_str(), r["Document Name"].as_str()), (Some("Ok"), Some("Passport")));
    assert_eq!((r["Surname"].as_str(), r["Given Names"].as_str()), (Some("ERIKSSON"), Some("ANNA MARIA")));
    assert_eq!(r["MRZ"]["Document Number"], "L898902C3");
    assert!(r["MRZ"]["MRZ"].as_str().unwrap().starts_with("P<UTOERIKSSON"));
    let png = base64::engine::general_purpose::STANDARD.decode(r["Images"]["Portrait"].as_str().unwrap()).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");

    let (s, r) =
        send(&app, post_json("/idcard_recognition_base64", json!({ "base64": b64("nl_td1_id_specimen.jpg") }))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!((r["Document Name"].as_str(), r["Surname"].as_str()), (Some("ID Card"), Some("DE BRUIJN")));

    let (s, r) =
        send(&app, post_multipart("/idcard_recognition", multipart(&[("file", Some("a.txt"), b"hi".to_vec())]))).await;
    assert_eq!((s.as_u16(), r["Status"].as_str()), (415, Some("Error")), "{r}");
}

#[actix_web::test]
async fn alpr_reads_the_plate_and_answers_nothing_detected() {
    let app = test::init_service(build_app(state().await)).await;
    let (s, r) = send(&app, post_multipart("/alpr", multipart(&[file("file", "fastalpr_test_image.png")]))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["result"], "License Plate Number Detected !");
    assert_eq!(r["plate number"]["vehicle 1"], "5AU5341");
    assert_eq!(r["coordinate"]["vehicle 1"].as_array().unwrap().len(), 4);
    assert!(r["score"]["vehicle 1"].as_f64().unwrap() > 0.5);
    let (s, r) = send(&app, post_json("/alpr_base64", json!({ "base64": b64("obama.jpg") }))).await;
    assert_eq!((s.as_u16(), r["result"].as_str()), (200, Some("Nothing Detected !")), "{r}");
    let (s, r) = send(&app, post_json("/alpr_base64", json!({ "image": b64("obama.jpg") }))).await;
    assert_eq!((s.as_u16(), r["error"]["code"].as_str()), (400, Some("unknown_field")), "{r}");
}
