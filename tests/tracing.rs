//! OpenTelemetry: a real `verity serve` exporting over OTLP/HTTP (JSON) to a collector stand-in
//! here. The caller's W3C `traceparent` is the parent of the request span, the stage spans
//! (decode, detect, embed) share its trace, and a graceful stop flushes them.

mod common;

use std::{
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine as _;
use common::{
    http::{file, multipart, BOUNDARY},
    server::{agent, free_port, start},
};
use serde_json::Value;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP receiver: keeps every POST /v1/traces body.
fn collector() -> (u16, Arc<Mutex<Vec<Value>>>) {
    let port = free_port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let store = web::Data::new(store);
            HttpServer::new(move || {
                App::new().app_data(store.clone()).route(
                    "/v1/traces",
                    web::post().to(|store: web::Data<Arc<Mutex<Vec<Value>>>>, body: web::Bytes| async move {
                        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        store.lock().unwrap().push(v);
                        HttpResponse::Ok().content_type("application/json").body("{}")
                    }),
                )
            })
            .workers(1)
            .bind(("127.0.0.1", port))
            .unwrap()
            .run()
            .await
        })
    });
    (port, got)
}

/// An OTLP/HTTP receiver over HTTPS with a certificate made here (rustls on a plain socket):
/// keeps every POST /v1/traces JSON body; returns the port, the CA's PEM and the bodies.
fn tls_collector() -> (u16, String, Arc<Mutex<Vec<Value>>>) {
    use rustls::pki_types::pem::PemObject;
    use std::io::{BufRead, BufReader, Read, Write};
    let ca = common::tls::TestCa::new("verity OTLP test CA");
    let cert = ca.server_cert(&["localhost"]);
    let chain = rustls::pki_types::CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::new()));
    let store = got.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, store) = (config.clone(), store.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    let mut request_line = String::new();
                    if tls.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        line.clear();
                        if tls.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                length = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if tls.read_exact(&mut body).is_err() {
                        return;
                    }
                    if request_line.starts_with("POST /v1/traces") {
                        store.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    }
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    let stream = tls.get_mut();
                    if stream.write_all(answer.as_bytes()).and_then(|_| stream.flush()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, ca.pem(), got)
}

/// Every span in the received exports: (name, traceId, parentSpanId) with ids as lowercase hex.
fn spans(exports: &[Value]) -> Vec<(String, String, String)> {
    let hex = |v: &Value| -> String {
        let s = v.as_str().unwrap_or_default();
        if s.len() == 32 || s.len() == 16 || s.is_empty() {
            s.to_ascii_lowercase()
        } else {
            base64::engine::general_purpose::STANDARD.decode(s).map(hex::encode).unwrap_or_default()
        }
    };
    let mut out = Vec::new();
    for e in exports {
        for rs in e["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for s in ss["spans"].as_array().into_iter().flatten() {
                    out.push((
                        s["name"].as_str().unwrap_or_default().to_string(),
                        hex(&s["traceId"]),
                        hex(&s["parentSpanId"]),
                    ));
                }
            }
        }
    }
    out
}

/// One verify carrying the caller's `traceparent`, then a graceful stop (which flushes spans).
fn verify_in_the_callers_trace_then_stop(server: &mut common::server::Server) {
    let body = multipart(&[file("source", "obama.jpg"), file("target", "obama2.jpg")]);
    let r = agent()
        .post(format!("{}/v1/faces/verify", server.base))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_SPAN}-01"))
        .send(&body[..])
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap().success());
    assert!(server.child.wait().unwrap().success());
}

#[test]
fn request_and_stage_spans_join_the_callers_trace_and_are_flushed_on_stop() {
    let (collector_port, received) = collector();
    let dir = std::env::temp_dir().join(format!("verity-tracing-{}", std::process::id()));
    let endpoint = format!("http://127.0.0.1:{collector_port}");
    let mut server = start(
        free_port(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("VERITY_DATA_DIR", dir.to_str().unwrap()),
        ],
    );
    verify_in_the_callers_trace_then_stop(&mut server);

    let started = Instant::now();
    let mine = loop {
        let all = spans(&received.lock().unwrap());
        let mine: Vec<_> = all.into_iter().filter(|(_, t, _)| t == TRACE_ID).collect();
        if mine.iter().any(|(n, _, _)| n.starts_with("POST")) || started.elapsed() > Duration::from_secs(20) {
            break mine;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let names: Vec<&str> = mine.iter().map(|(n, _, _)| n.as_str()).collect();
    let exports = received.lock().unwrap().len();
    let request = mine
        .iter()
        .find(|(n, _, _)| n == "POST /v1/faces/verify")
        .unwrap_or_else(|| panic!("{exports} exports; ours: {names:?}; all: {:?}", spans(&received.lock().unwrap())));
    assert_eq!(request.2, PARENT_SPAN, "the caller's span is the request span's parent");
    for stage in ["decode", "detect", "embed"] {
        assert!(names.contains(&stage), "no {stage} span in {names:?}");
    }
}

#[test]
fn spans_are_exported_over_https_to_a_collector_with_a_private_ca() {
    let (port, ca_pem, received) = tls_collector();
    let dir = std::env::temp_dir().join(format!("verity-tracing-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("otlp-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let endpoint = format!("https://localhost:{port}");
    let mut server = start(
        free_port(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.to_str().unwrap()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("VERITY_DATA_DIR", dir.to_str().unwrap()),
        ],
    );
    verify_in_the_callers_trace_then_stop(&mut server);
    let started = Instant::now();
    while !spans(&received.lock().unwrap()).iter().any(|(n, t, _)| t == TRACE_ID && n == "POST /v1/faces/verify") {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no request span over HTTPS: {:?}",
            spans(&received.lock().unwrap())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
