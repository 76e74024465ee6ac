//! A private PostgreSQL server for tests that stop, restart or reconfigure it (the shared one of
//! `make test` serves the other tests): `initdb` in a temporary folder, a free loopback port,
//! optionally TLS with a certificate made in the test. Needs Debian's `postgresql` package
//! (`make test` installs it through `scripts/pg.sh`).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicUsize, Ordering},
};

use super::tls::ServerCert;

pub struct PrivatePg {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    tls: bool,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (/usr/lib/postgresql): run `make test`, which installs it")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| p.parent().and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0));
    dirs.pop().expect("no PostgreSQL server binaries under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Runs a server binary, as the `postgres` user when the tests run as root (PostgreSQL refuses
/// to run as root).
fn as_pg(bin: &Path, args: &[&str]) -> std::process::Output {
    let out = if is_root() {
        Command::new("runuser").args(["-u", "postgres", "--"]).arg(bin).args(args).output()
    } else {
        Command::new(bin).args(args).output()
    }
    .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    out
}

impl PrivatePg {
    /// initdb and start; with `tls`, the server has `ssl=on` with that certificate.
    pub fn start(tls: Option<&ServerCert>) -> PrivatePg {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "verity-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            assert!(Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().unwrap().success());
        }
        let bin = bin_dir();
        let out = as_pg(&bin.join("initdb"), &["-D", dir.to_str().unwrap(), "-A", "trust", "-U", "verity"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        if let Some(cert) = tls {
            std::fs::write(dir.join("server.crt"), &cert.cert_pem).unwrap();
            std::fs::write(dir.join("server.key"), &cert.key_pem).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
            if is_root() {
                let files = [dir.join("server.crt"), dir.join("server.key")];
                assert!(Command::new("chown").arg("postgres:postgres").args(files).status().unwrap().success());
            }
        }
        let pg = PrivatePg { dir, port: super::server::free_port(), bin, tls: tls.is_some() };
        pg.start_again();
        pg
    }

    fn options(&self) -> String {
        let mut o = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.display());
        if self.tls {
            o.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        o
    }

    fn ctl(&self, args: &[&str]) {
        let dir = self.dir.to_str().unwrap();
        let log = self.dir.join("server.log");
        let mut all = vec!["-D", dir, "-w", "-l", log.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = as_pg(&self.bin.join("pg_ctl"), &all);
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn start_again(&self) {
        let o = self.options();
        self.ctl(&["-o", &o, "start"]);
    }

    pub fn stop(&self) {
        self.ctl(&["-m", "fast", "stop"]);
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server comes back on the same port.
    pub fn restart(&self) {
        let o = self.options();
        self.ctl(&["-m", "fast", "-o", &o, "restart"]);
    }

    /// The `postgres` database as the `verity` superuser, at `host` (a name or 127.0.0.1).
    pub fn url(&self, host: &str) -> String {
        format!("postgres://verity@{host}:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let dir = self.dir.to_str().unwrap().to_string();
        let _ = as_pg(&self.bin.join("pg_ctl"), &["-D", &dir, "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
