//! TLS client settings shared by the outgoing connections (PostgreSQL, the OTLP exporter):
//! rustls on the `ring` provider, root certificates from a PEM file or the system's store.

use std::{path::Path, sync::Arc};

use rustls::{
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer},
    RootCertStore,
};

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The root certificates in the PEM file `path` (an error when it has none), or the system's
/// trust store without one.
pub fn roots(path: Option<&Path>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match path {
        Some(p) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| format!("{}: {e}", p.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("{}: no PEM certificate in it", p.display()));
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err("no root certificate in the system's trust store".into());
            }
        }
    }
    Ok(roots)
}
