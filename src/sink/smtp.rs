//! An SMTP submission server, through lettre's pooled async transport.
//!
//! What counts as permanent is narrower than "any 5xx": a refused login or
//! a refused TLS is the config's fault, not the mail's, so the mail waits
//! for the config to be fixed instead of being given up.

use std::str::FromStr;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{self, PoolConfig};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{Outgoing, Sink, SinkError};
use crate::config::{Endpoint, SmtpSettings, TlsMode};

pub struct SmtpSink {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    endpoint: Endpoint,
    user: Option<String>,
}

fn tls_parameters(endpoint: &Endpoint) -> Result<TlsParameters, SinkError> {
    let mut builder = TlsParameters::builder(
        endpoint
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    );
    if let Some(ca) = &endpoint.ca_file {
        let pem = std::fs::read(ca).map_err(|e| {
            SinkError::Permanent(format!(
                "cannot read {}: {e}; fix sink.ca_file",
                ca.display()
            ))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            SinkError::Permanent(format!(
                "{} holds no usable PEM certificate: {e}; fix sink.ca_file",
                ca.display()
            ))
        })?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(cert);
    }
    builder.build_rustls().map_err(|e| {
        SinkError::Permanent(format!(
            "cannot set up TLS for {endpoint}: {e}; check sink.tls"
        ))
    })
}

/// The server's reply code, when there was one.
fn reply_code(e: &smtp::Error) -> Option<u16> {
    e.status().and_then(|c| c.to_string().parse().ok())
}

impl SmtpSink {
    pub fn new(s: &SmtpSettings) -> Result<Self, SinkError> {
        let endpoint = s.endpoint.clone();
        let tls = match endpoint.tls {
            TlsMode::Implicit => Tls::Wrapper(tls_parameters(&endpoint)?),
            TlsMode::Starttls => Tls::Required(tls_parameters(&endpoint)?),
            TlsMode::None => Tls::None,
        };
        let hello = match s.hello_name.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => ClientId::Ipv4(ip),
            Ok(std::net::IpAddr::V6(ip)) => ClientId::Ipv6(ip),
            Err(_) => ClientId::Domain(s.hello_name.clone()),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            endpoint.host.trim_start_matches('[').trim_end_matches(']'),
        )
        .port(endpoint.port)
        .tls(tls)
        .hello_name(hello)
        .timeout(Some(s.timeout))
        .pool_config(PoolConfig::new().max_size(s.pool_size));
        if let Some((user, password)) = &s.login {
            let password = password
                .reveal("sink.password")
                .map_err(SinkError::Permanent)?;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(SmtpSink {
            transport: builder.build(),
            endpoint,
            user: s.login.as_ref().map(|(u, _)| u.clone()),
        })
    }

    /// Turns lettre's error into what the user should do next.
    fn explain(&self, e: &smtp::Error) -> SinkError {
        let at = &self.endpoint;
        let code = reply_code(e);
        if matches!(code, Some(530 | 534 | 535 | 538)) {
            return SinkError::Transient(match &self.user {
                Some(user) => format!(
                    "the SMTP server at {at} refused the login of {user}: {e}; check sink.user \
                     and the password in sink.password_env or sink.password_file"
                ),
                None => format!(
                    "the SMTP server at {at} wants a login: {e}; set sink.user and \
                     sink.password_env or sink.password_file"
                ),
            });
        }
        if e.is_permanent() {
            return SinkError::Permanent(format!("the SMTP server at {at} refused the mail: {e}"));
        }
        if e.is_transient() {
            return SinkError::Transient(format!("the SMTP server at {at} deferred the mail: {e}"));
        }
        if let Some(advice) = crate::tls::handshake_advice(at, "SMTP", e) {
            return SinkError::Transient(advice.to_string());
        }
        if e.is_tls() {
            return SinkError::Transient(format!(
                "TLS with the SMTP server at {at} failed: {e}; check sink.host (it must be a \
                 name in the server's certificate), sink.ca_file, sink.tls and sink.port"
            ));
        }
        if e.is_client() && e.to_string().contains("STARTTLS") {
            return SinkError::Transient(format!(
                "the SMTP server at {at} does not offer STARTTLS: {e}; set sink.tls = \
                 \"implicit\" and sink.port to its TLS port (465)"
            ));
        }
        if e.is_response() {
            return SinkError::Transient(format!(
                "the SMTP server at {at} gave an answer that is not SMTP: {e}; if port {} \
                 expects TLS from the first byte, set sink.tls = \"implicit\"",
                at.port
            ));
        }
        SinkError::Transient(format!(
            "cannot reach the SMTP server at {at}: {e}; check sink.host and sink.port, and \
             that the server is running"
        ))
    }
}

fn address(s: &str) -> Result<Address, SinkError> {
    Address::from_str(s).map_err(|e| SinkError::Permanent(format!("{s:?} is not an address: {e}")))
}

#[async_trait]
impl Sink for SmtpSink {
    async fn send(&self, mail: Outgoing<'_>) -> Result<String, SinkError> {
        let from = address(mail.from)?;
        let to = mail
            .recipients
            .iter()
            .map(|r| address(r))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope =
            Envelope::new(Some(from), to).map_err(|e| SinkError::Permanent(e.to_string()))?;
        match self.transport.send_raw(&envelope, mail.bytes).await {
            Ok(response) => Ok(format!(
                "{} {}",
                response.code(),
                response.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => Err(self.explain(&e)),
        }
    }

    /// Connects, says EHLO, starts TLS and logs in, as a send would.
    async fn check(&self) -> Result<(), SinkError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SinkError::Transient(format!(
                "the SMTP server at {} did not answer NOOP",
                self.endpoint
            ))),
            Err(e) => Err(self.explain(&e)),
        }
    }
}
