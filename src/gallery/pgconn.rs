//! How verity reaches PostgreSQL: the database URL with libpq's TLS parameters (`sslmode`,
//! `sslrootcert`), the rustls client behind them, and the connection pool every request draws
//! from (broken connections are dropped and replaced).

use std::{path::PathBuf, sync::Arc, time::Duration};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::{
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        WebPkiServerVerifier,
    },
    crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider},
    pki_types::{CertificateDer, ServerName, UnixTime},
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::store::StoreError;

pub use crate::config::SslMode;

/// `sslmode` from a URL.
fn parse_sslmode(s: &str) -> Result<SslMode, StoreError> {
    SslMode::from_name(s).ok_or_else(|| {
        StoreError::Config(format!("sslmode={s:?}: expected disable, prefer, require, verify-ca or verify-full"))
    })
}

/// Connection settings besides the URL. The URL's own `sslmode` / `sslrootcert` win over these.
#[derive(Debug, Clone)]
pub struct PgOptions {
    pub sslmode: Option<SslMode>,
    /// PEM file with the root certificates to trust (e.g. the RDS bundle); the system's trust
    /// store when absent.
    pub sslrootcert: Option<PathBuf>,
    /// Most connections open at once (the LISTEN connection comes on top).
    pub pool_size: usize,
    /// Opening one connection (TCP, TLS, authentication) gives up after this.
    pub connect_timeout: Duration,
    /// A request waits this long for a free connection before 503 `storage_unavailable`.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            sslmode: None,
            sslrootcert: None,
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// A parsed database URL with its TLS connector: opens connections and pools.
#[derive(Clone)]
pub struct PgConnect {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    mode: SslMode,
    options: PgOptions,
}

impl PgConnect {
    /// Parses the URL (`postgres://…?sslmode=verify-full&sslrootcert=/path` or libpq's
    /// `key=value` form) and builds the TLS client; every error here is a configuration error.
    pub fn new(url: &str, options: &PgOptions) -> Result<PgConnect, StoreError> {
        let (rest, params) = split_tls_params(url)?;
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|e| StoreError::Config(format!("the database URL does not parse: {e}")))?;
        let mode = match params.sslmode.as_deref() {
            Some(m) => parse_sslmode(m)?,
            None => options.sslmode.unwrap_or(SslMode::Prefer),
        };
        let root = params.sslrootcert.map(PathBuf::from).or_else(|| options.sslrootcert.clone());
        let tls = MakeRustlsConnect::new(client_config(mode, root.as_ref())?);
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("verity");
        }
        config.connect_timeout(options.connect_timeout);
        // A failover that drops packets instead of closing connections is noticed in seconds.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        config.keepalives_interval(Duration::from_secs(5));
        config.keepalives_retries(3);
        config.tcp_user_timeout(Duration::from_secs(20));
        Ok(PgConnect { config, tls, mode, options: options.clone() })
    }

    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// The pool requests draw from: a connection found closed on checkout is dropped and a new
    /// one opened in its place.
    pub fn pool(&self) -> Result<Pool, StoreError> {
        let manager = Manager::from_config(
            self.config.clone(),
            self.tls.clone(),
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        Pool::builder(manager)
            .max_size(self.options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.options.acquire_timeout))
            .create_timeout(Some(self.options.connect_timeout))
            .recycle_timeout(Some(self.options.connect_timeout))
            .build()
            .map_err(|e| StoreError::Config(format!("the connection pool: {e}")))
    }

    /// One connection outside the pool (the LISTEN connection) and the stream of its messages
    /// (notifications); the connection lives as long as the stream is polled.
    pub async fn connect(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            impl futures_util::Stream<Item = Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>> + Send + Unpin,
        ),
        tokio_postgres::Error,
    > {
        let (client, mut connection) = self.config.connect(self.tls.clone()).await?;
        Ok((client, futures_util::stream::poll_fn(move |cx| connection.poll_message(cx))))
    }
}

/// Whether a connection attempt failed on the server's certificate (a configuration error: the
/// wrong CA bundle or host name), as opposed to the server being away.
pub fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return matches!(r, rustls::Error::InvalidCertificate(_));
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if is_certificate_error(inner) {
                    return true;
                }
            }
        }
        source = err.source();
    }
    false
}

#[derive(Default)]
struct TlsParams {
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Takes `sslmode` and `sslrootcert` out of the URL (tokio-postgres knows neither
/// `verify-ca`/`verify-full` nor root certificates) and returns the rest.
fn split_tls_params(url: &str) -> Result<(String, TlsParams), StoreError> {
    let mut params = TlsParams::default();
    let mut take = |key: &str, value: String| match key {
        "sslmode" => {
            params.sslmode = Some(value);
            true
        }
        "sslrootcert" => {
            params.sslrootcert = Some(value);
            true
        }
        _ => false,
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), params));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(k, percent_decode(v)?) {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        Ok((rest, params))
    } else {
        let mut kept = Vec::new();
        for token in url.split_whitespace() {
            let (k, v) = token.split_once('=').unwrap_or((token, ""));
            if !take(k.trim(), v.trim_matches('\'').to_string()) {
                kept.push(token);
            }
        }
        Ok((kept.join(" "), params))
    }
}

fn percent_decode(s: &str) -> Result<String, StoreError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|v| v.into_owned())
        .map_err(|_| StoreError::Config(format!("{s:?} is not UTF-8 once decoded")))
}

fn client_config(mode: SslMode, root: Option<&PathBuf>) -> Result<ClientConfig, StoreError> {
    let tls_err = |e: rustls::Error| StoreError::Config(format!("TLS: {e}"));
    let builder = ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?;
    let verify =
        matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) || (mode == SslMode::Require && root.is_some());
    let config = if verify {
        let roots = Arc::new(load_roots(root)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, crate::tls::provider())
            .build()
            .map_err(|e| StoreError::Config(format!("TLS roots: {e}")))?;
        if mode == SslMode::VerifyFull {
            builder.with_webpki_verifier(webpki)
        } else {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient::new(Some(webpki))))
        }
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(Lenient::new(None)))
    };
    Ok(config.with_no_client_auth())
}

fn load_roots(path: Option<&PathBuf>) -> Result<RootCertStore, StoreError> {
    crate::tls::roots(path.map(PathBuf::as_path)).map_err(|e| match path {
        Some(_) => StoreError::Config(format!("sslrootcert {e}")),
        None => StoreError::Config(format!("{e}: give sslrootcert (e.g. the RDS bundle)")),
    })
}

/// The modes that check less than `verify-full`: with a chain verifier, `verify-ca` (and
/// `require` with a root certificate): the chain must lead to a trusted root, the host name is
/// not checked; without one, `prefer` and `require` (libpq's meaning): encrypted, the
/// certificate not checked. The handshake signatures are always checked.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl Lenient {
    fn new(chain: Option<Arc<WebPkiServerVerifier>>) -> Lenient {
        Lenient { chain, provider: crate::tls::provider() }
    }
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url() {
        let (rest, p) = split_tls_params(
            "postgres://u:p@db:5432/verity?sslmode=verify-full&sslrootcert=%2Fetc%2Frds.pem&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p@db:5432/verity?connect_timeout=3");
        assert_eq!(p.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(p.sslrootcert.as_deref(), Some("/etc/rds.pem"));
        let (rest, p) = split_tls_params("host=db user=u sslmode=require dbname=v").unwrap();
        assert_eq!(rest, "host=db user=u dbname=v");
        assert_eq!(p.sslmode.as_deref(), Some("require"));
    }

    #[test]
    fn bad_settings_are_configuration_errors() {
        let o = PgOptions::default();
        assert!(matches!(PgConnect::new("postgres://db/v?sslmode=strict", &o), Err(StoreError::Config(_))));
        let missing = PgOptions { sslrootcert: Some("/nonexistent/ca.pem".into()), ..PgOptions::default() };
        let e = PgConnect::new("postgres://db/v?sslmode=verify-full", &missing).err().unwrap();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        assert_eq!(PgConnect::new("postgres://db/v", &o).unwrap().mode(), SslMode::Prefer);
        let flag = PgOptions { sslmode: Some(SslMode::Disable), ..PgOptions::default() };
        assert_eq!(PgConnect::new("postgres://db/v?sslmode=require", &flag).unwrap().mode(), SslMode::Require);
    }
}
