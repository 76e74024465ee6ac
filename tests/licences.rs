//! US and Canadian driver licences: the PDF417 on the back, read over HTTP by the real pipeline.
//! No real licence barcodes exist here, so the backs are drawn by scripts/synth_licences.py
//! (zxing-cpp's PDF417 writer, the generator of `make eval-licences`) from AAMVA payloads
//! composed below, and a fixed-seed set of eleven backs (one per condition) guards the reader.

mod common;

use std::{path::PathBuf, process::Command, sync::Arc};

use actix_web::test as at;
use common::http::{file, multipart, post_multipart, send};
use serde_json::Value;
use verity::{build_app, pipeline::document::DocumentPipeline, vision::decode};

fn python() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/evaltools/bin/python");
    assert!(p.exists(), "{}: run `make test` (it installs the eval tools)", p.display());
    p
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/synth_licences.py")
}

/// A card back with `text` as its PDF417, as PNG bytes.
fn back(name: &str, text: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/licence-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let (payload, png) = (dir.join(format!("{name}.txt")), dir.join(format!("{name}.png")));
    std::fs::write(&payload, text).unwrap();
    let status = Command::new(python()).arg(script()).arg("--payload").arg(&payload).arg("--image").arg(&png).status();
    assert!(status.expect("the generator runs").success(), "the licence generator failed");
    std::fs::read(png).unwrap()
}

/// An AAMVA version-10 payload of one DL subfile with `elements`.
fn aamva(iin: &str, elements: &[(&str, &str)]) -> String {
    let header = format!("@\n\x1e\rANSI {iin}100001");
    let body = format!("DL{}\r", elements.iter().map(|(k, v)| format!("{k}{v}")).collect::<Vec<_>>().join("\n"));
    format!("{header}DL{:04}{:04}{body}", header.len() + 10, body.len())
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}: {body}"))
}

fn reasons(body: &Value) -> Vec<&str> {
    body["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect()
}

const ADULT: &[(&str, &str)] = &[
    ("DAQ", "D1234562"),
    ("DCS", "PUBLIC"),
    ("DAC", "JOHN"),
    ("DAD", "QUINCY"),
    ("DBD", "01152022"),
    ("DBB", "07041980"),
    ("DBA", "07042099"),
    ("DBC", "1"),
    ("DAJ", "CA"),
    ("DCG", "USA"),
];

#[actix_web::test]
async fn a_licence_back_is_read_with_its_fields_and_issuer() {
    let app = at::init_service(build_app(common::state().await)).await;
    let png = back("adult", &aamva("636014", ADULT));
    let body = multipart(&[file("image", "obama2.jpg"), ("back", Some("back.png"), png)]);
    let (s, r) = send(&app, post_multipart("/v1/documents/read", body)).await;
    assert_eq!(s, 200, "{r}");
    let b = &r["barcode"];
    assert_eq!((b["format"].as_str(), b["side"].as_str()), (Some("pdf417"), Some("back")), "{b}");
    let a = &b["aamva"];
    assert_eq!((a["version"].as_u64(), a["document_type"].as_str()), (Some(10), Some("driver_license")));
    assert_eq!(a["issuer"]["jurisdiction"], "California");
    let f = &a["fields"];
    assert_eq!((f["family_name"].as_str(), f["given_names"].as_str()), (Some("PUBLIC"), Some("JOHN QUINCY")));
    assert_eq!((f["birth_date"].as_str(), f["expiry_date"].as_str()), (Some("1980-07-04"), Some("2099-07-04")));
    assert_eq!(
        (r["document_type"].as_str(), r["checks"]["barcode_valid"].as_bool()),
        (Some("driver_license"), Some(true))
    );
    assert_eq!(r["checks"]["expired"], false);
    assert!(r["mrz"].is_null() && r["portrait"]["box"].is_object(), "{r}");
}

#[actix_web::test]
async fn onboarding_with_a_licence_takes_identity_expiry_and_age_from_the_barcode() {
    let app = at::init_service(build_app(common::state().await)).await;
    let send_licence = |payload: String, name: &'static str| {
        let png = back(name, &payload);
        multipart(&[
            file("selfie", "obama.jpg"),
            file("document", "obama2.jpg"),
            ("document_back", Some("back.png"), png),
            ("min_age", None, b"18".to_vec()),
        ])
    };
    let (s, r) =
        send(&app, post_multipart("/v1/onboarding", send_licence(aamva("636014", ADULT), "onboard-adult"))).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["identity"]["source"], "aamva_barcode", "{r}");
    assert_eq!(
        (r["identity"]["surname"].as_str(), r["identity"]["issuing_jurisdiction"].as_str()),
        (Some("PUBLIC"), Some("CA"))
    );
    assert!(r["identity"]["nationality"].is_null(), "a licence gives no nationality: {}", r["identity"]);
    assert_eq!(check(&r, "barcode")["passed"], true);
    assert_eq!(check(&r, "face_match")["passed"], true, "the front's portrait is matched: {r}");
    assert!(!reasons(&r).iter().any(|x| ["document_expired", "underage", "mrz_not_found"].contains(x)), "{r}");

    // Born 16 years ago, expired in 2024.
    let y = verity::pipeline::document::today().0 - 16;
    let dob = format!("0101{y}");
    let young: Vec<(&str, &str)> = ADULT
        .iter()
        .map(|&(k, v)| {
            (
                k,
                if k == "DBB" {
                    dob.as_str()
                } else if k == "DBA" {
                    "01012024"
                } else {
                    v
                },
            )
        })
        .collect();
    let (s, r) =
        send(&app, post_multipart("/v1/onboarding", send_licence(aamva("636014", &young), "onboard-young"))).await;
    assert_eq!(s, 200, "{r}");
    let got = reasons(&r);
    assert!(got.contains(&"document_expired") && got.contains(&"underage"), "{got:?}: {r}");
    assert_eq!((r["identity"]["age_years"].as_i64(), r["decision"].as_str()), (Some(16), Some("reject")));
}

#[actix_web::test]
async fn another_barcode_or_a_damaged_payload_gives_no_identity() {
    let app = at::init_service(build_app(common::state().await)).await;
    let cases = [
        ("not-aamva", "https://example.test/ticket/12345".to_string(), "not_aamva"),
        ("no-birth-date", aamva("636014", &ADULT[..5]), "corrupt"),
    ];
    for (name, payload, code) in cases {
        let body = multipart(&[
            file("selfie", "obama.jpg"),
            file("document", "obama2.jpg"),
            ("document_back", Some("back.png"), back(name, &payload)),
        ]);
        let (s, r) = send(&app, post_multipart("/v1/onboarding", body)).await;
        assert_eq!(s, 200, "{name}: {r}");
        let b = &r["document"]["barcode"];
        assert_eq!((b["problem"]["code"].as_str(), b["aamva"].is_null()), (Some(code), true), "{name}: {b}");
        assert!(r["identity"].is_null(), "{name}: no invented identity: {}", r["identity"]);
        assert!(reasons(&r).contains(&"barcode_invalid"), "{name}: {r}");
        assert_eq!(r["document"]["checks"]["barcode_valid"], false);
    }
}

/// Read exactly when this test was written (one back per condition, seed 11).
const MEASURED: usize = 11;
const MARGIN: usize = 1;

#[test]
fn synthetic_licence_backs_are_read_at_least_as_well_as_measured() {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/eval/synth/licences-regression-11");
    if !out.join("ground_truth.jsonl").exists() {
        let status =
            Command::new(python()).arg(script()).args(["--seed", "11", "--count", "11", "--out"]).arg(&out).status();
        assert!(status.expect("the generator runs").success());
    }
    let docs = DocumentPipeline::new(common::faces());
    let mut exact = Vec::new();
    for line in std::fs::read_to_string(out.join("ground_truth.jsonl")).unwrap().lines() {
        let item: Value = serde_json::from_str(line).unwrap();
        let bytes = std::fs::read(out.join("images").join(item["file"].as_str().unwrap())).unwrap();
        let img = Arc::new(decode::decode("back", &bytes, 100_000_000).unwrap());
        let read = common::block_on(docs.read(img.clone(), Some(img))).unwrap();
        let a = read.barcode.as_ref().and_then(|b| b.aamva.as_ref());
        let ok = a.is_some_and(|a| {
            a.fields.document_number == item["document_number"]
                && a.fields.family_name == item["family_name"]
                && a.fields.birth_date == item["birth_date"]
                && a.fields.expiry_date == item["expiry_date"]
        });
        if ok {
            exact.push(item["condition"].as_str().unwrap().to_string());
        }
    }
    assert!(exact.len() + MARGIN >= MEASURED, "read exactly: {} of 11 ({exact:?}); measured {MEASURED}", exact.len());
}
