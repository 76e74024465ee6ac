//! TLS to PostgreSQL against a real server started with `ssl=on` and a certificate made here:
//! `verify-full` with the right CA connects (and the server sees TLS connections), the wrong CA
//! stops the server at start-up with a clear error, a host the certificate does not name fails `verify-full` but
//! passes `verify-ca`.

mod common;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use common::{pg::PrivatePg, tls::TestCa};
use verity::gallery::{pgconn::PgOptions, Gallery, GalleryConfig};

fn cfg(url: String) -> GalleryConfig {
    GalleryConfig {
        data_dir: std::env::temp_dir(),
        database_url: Some(url),
        poll: Duration::from_millis(500),
        keep_aligned: true,
        pg: PgOptions::default(),
    }
}

#[actix_web::test]
async fn verify_full_connects_with_the_right_ca_and_refuses_the_wrong_one() {
    let ca = TestCa::new("verity test CA");
    let pg = PrivatePg::start(Some(&ca.server_cert(&["localhost"])));
    let ca_file = pg.dir.with_extension("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let wrong_file = pg.dir.with_extension("wrong-ca.pem");
    std::fs::write(&wrong_file, TestCa::new("another CA").pem()).unwrap();

    // The right CA: connects, and every verity connection is TLS on the server's side.
    let url = format!("{}?sslmode=verify-full&sslrootcert={}", pg.url("localhost"), ca_file.display());
    let g = Gallery::open(cfg(url)).await.expect("verify-full with the right CA connects");
    g.create_collection("tls", None).await.unwrap();
    assert_eq!(g.status().sslmode, Some("verify-full"));
    assert_eq!(g.status().state, "ok");
    let (db, conn) =
        tokio_postgres::connect(&format!("{}?sslmode=disable", pg.url("127.0.0.1")), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    let row = db
        .query_one(
            "SELECT count(*), bool_and(s.ssl), min(s.version) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.application_name = 'verity'",
            &[],
        )
        .await
        .unwrap();
    let (n, all_tls, version): (i64, Option<bool>, Option<String>) = (row.get(0), row.get(1), row.get(2));
    eprintln!("{n} verity connections on the server, all TLS: {all_tls:?}, {version:?}");
    assert!(n >= 1);
    assert_eq!(all_tls, Some(true));

    // The wrong CA: a start-up error that says what is wrong.
    let url = format!("{}?sslmode=verify-full&sslrootcert={}", pg.url("localhost"), wrong_file.display());
    let e = Gallery::start(cfg(url.clone())).await.err().expect("the wrong CA must not connect");
    let msg = e.to_string();
    eprintln!("wrong CA: {msg}");
    assert!(msg.contains("not trusted") && msg.contains("sslrootcert"), "{msg}");

    // A host the certificate does not name (it names `localhost` only): verify-full refuses,
    // verify-ca accepts.
    let ip = format!("{}?sslmode=verify-full&sslrootcert={}", pg.url("127.0.0.1"), ca_file.display());
    let e = Gallery::start(cfg(ip)).await.err().expect("verify-full must check the host name");
    assert!(e.to_string().contains("not trusted"), "{e}");
    let mut c = cfg(format!("{}?sslmode=verify-ca", pg.url("127.0.0.1")));
    c.pg.sslrootcert = Some(ca_file.clone());
    let g = Gallery::open(c).await.expect("verify-ca ignores the host name");
    assert_eq!(g.status().sslmode, Some("verify-ca"));

    // The server binary with the wrong CA exits at start with the reason.
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_verity"))
        .arg("serve")
        .env("VERITY_LISTEN", format!("127.0.0.1:{}", common::server::free_port()))
        .env("VERITY_DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "verity served with an untrusted database certificate");
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");
    eprintln!("verity exited after {:?}: {}", started.elapsed(), stderr.lines().last().unwrap_or_default());
}
