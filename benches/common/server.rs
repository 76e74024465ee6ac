//! A real `verity serve` process for the HTTP benches, and multipart bodies.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

use super::root;

pub struct Server(Child);

impl Server {
    /// Sends SIGTERM (through `kill`: the crate forbids unsafe code).
    pub fn sigterm(&self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.0.wait().expect("wait for verity")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start_server() -> (Server, String) {
    start_server_with(&[])
}

/// `start_server` with extra environment.
pub fn start_server_with(env: &[(&str, &str)]) -> (Server, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let bin = std::env::var_os("VERITY_BIN").map(PathBuf::from).unwrap_or_else(|| root().join("target/release/verity"));
    let child = Command::new(&bin)
        .arg("serve")
        .env("VERITY_LISTEN", &addr)
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
        .envs(env.iter().copied())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e} (run `make build`)", bin.display()));
    let server = Server(child);
    let url = format!("http://{addr}");
    let agent = agent();
    let started = Instant::now();
    loop {
        if let Ok(r) = agent.get(format!("{url}/readyz")).call() {
            if r.status() == 200 {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(60), "server not ready after 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, url)
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections_per_host(64).build().into()
}

pub fn multipart(fields: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "verity-bench-boundary";
    let mut body = Vec::new();
    for (name, data) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}
