//! A real `verity serve` process on a free loopback port, for tests that need processes.

use std::{
    net::TcpListener,
    process::{Child, Command},
    time::{Duration, Instant},
};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `verity serve` with `env` on `port` and waits until `/readyz` is 200.
pub fn start(port: u16, env: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verity"));
    cmd.arg("serve")
        .env("VERITY_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let server = Server { child: cmd.spawn().expect("verity starts"), base: format!("http://127.0.0.1:{port}") };
    let started = Instant::now();
    while get(&format!("{}/readyz", server.base)).map(|(s, _)| s != 200).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(60), "server not ready after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

pub fn post(url: &str, body: &Value) -> Option<(u16, Value)> {
    let mut r = agent().post(url).header("content-type", "application/json").send(body.to_string()).ok()?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().ok()?;
    Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

pub fn get(url: &str) -> Option<(u16, Value)> {
    let mut r = agent().get(url).call().ok()?;
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_vec().ok()?;
    Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

pub fn delete(url: &str) -> Option<u16> {
    agent().delete(url).call().ok().map(|r| r.status().as_u16())
}
