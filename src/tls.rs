//! TLS to the mail servers: whom to trust, and what a failed handshake
//! means in terms of the settings to change.

use std::error::Error;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, CertificateError, ClientConfig, RootCertStore};

use crate::config::Endpoint;

/// A problem with a mail server connection, told as what failed, why, and
/// what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    pub what: String,
    pub detail: String,
    pub fix: String,
    /// Fixed in the config or on the server, not by waiting.
    pub config: bool,
}

impl std::fmt::Display for Advice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}; {}", self.what, self.detail, self.fix)
    }
}

fn advice(what: String, detail: impl ToString, fix: String) -> Advice {
    Advice {
        what,
        detail: detail.to_string(),
        fix,
        config: true,
    }
}

/// Trust for the server's certificate: the CA file named in the config,
/// else the system's roots.
pub fn client_config(endpoint: &Endpoint) -> Result<ClientConfig, Advice> {
    let section = endpoint.section;
    let mut roots = RootCertStore::empty();
    match &endpoint.ca_file {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    advice(
                        format!("cannot read the CA file {}", path.display()),
                        e,
                        format!("point {section}.ca_file at a PEM file of certificates"),
                    )
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(advice(
                    format!("no certificate in {}", path.display()),
                    "the file holds no PEM certificate",
                    format!("point {section}.ca_file at the CA's certificate"),
                ));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(advice(
                    "no trusted root certificates on this machine".to_owned(),
                    "the system's certificate store is empty",
                    format!(
                        "install the ca-certificates package, or set {section}.ca_file to the CA \
                         that signed the server's certificate"
                    ),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| {
            advice(
                "cannot set up TLS".to_owned(),
                e,
                "report this as a bug".to_owned(),
            )
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The TLS error somewhere in `e`'s chain, if TLS is what failed.
fn rustls_error<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        next = err.source();
    }
    None
}

/// What a failed TLS handshake with `endpoint` means, when TLS is what
/// failed; `protocol` is "IMAP" or "SMTP".
pub fn handshake_advice(
    endpoint: &Endpoint,
    protocol: &str,
    e: &(dyn Error + 'static),
) -> Option<Advice> {
    let section = endpoint.section;
    let what = format!("TLS with the {protocol} server at {endpoint} failed");
    let tls_port = match (protocol, section) {
        ("IMAP", _) => 993,
        _ => 465,
    };
    Some(match rustls_error(e)? {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => advice(
            what,
            format!(
                "the server's certificate is not valid for the name {}",
                endpoint.host
            ),
            format!("set {section}.host to a name the certificate carries"),
        ),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => advice(
            what,
            "the server's certificate is signed by a CA this machine does not trust",
            format!("set {section}.ca_file to the PEM file of the CA that signed it"),
        ),
        rustls::Error::InvalidCertificate(other) => advice(
            what,
            format!("the server's certificate was refused: {other:?}"),
            format!("renew the server's certificate, or check {section}.ca_file"),
        ),
        other => advice(
            what,
            other,
            format!(
                "the server did not answer in TLS on port {}: if it expects STARTTLS there, set \
                 {section}.tls = \"starttls\"; otherwise set {section}.port to its TLS port ({tls_port})",
                endpoint.port
            ),
        ),
    })
}
