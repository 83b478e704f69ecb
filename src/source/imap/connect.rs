//! Opening an IMAP session: TCP, TLS as the config says, greeting, login,
//! and the mailbox. Every failure says which setting to look at.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ClientConfig;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::{TlsConnector, client::TlsStream};

use crate::config::{AfterProcessing, Endpoint, ImapSettings, TlsMode};
use crate::source::SourceError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A server that says nothing this long after we connect is not speaking
/// the protocol we expect on that port.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// The connection under the IMAP session, with or without TLS.
#[derive(Debug)]
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub type Session = async_imap::Session<Stream>;

/// A logged-in session with the mailbox selected.
pub struct Opened {
    pub session: Session,
    pub uidvalidity: u32,
    pub idle: bool,
    pub can_move: bool,
    pub uidplus: bool,
}

fn server_error(
    what: impl Into<String>,
    detail: impl ToString,
    fix: impl Into<String>,
    config: bool,
) -> SourceError {
    SourceError::Server {
        what: what.into(),
        detail: detail.to_string(),
        fix: fix.into(),
        config,
    }
}

/// Explains a failed TLS handshake in terms of the settings.
fn tls_failure(endpoint: &Endpoint, e: io::Error) -> SourceError {
    match crate::tls::handshake_advice(endpoint, "IMAP", &e) {
        Some(advice) => advice.into(),
        None => server_error(
            format!("TLS with the IMAP server at {endpoint} failed"),
            e,
            format!("check {0}.host, {0}.port and {0}.tls", endpoint.section),
            false,
        ),
    }
}

pub async fn tcp(endpoint: &Endpoint, protocol: &str) -> Result<TcpStream, SourceError> {
    let section = endpoint.section;
    let addr = (
        endpoint.host.trim_start_matches('[').trim_end_matches(']'),
        endpoint.port,
    );
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(server_error(
            format!("cannot connect to the {protocol} server at {endpoint}"),
            e,
            format!("check {section}.host and {section}.port, and that the server is running"),
            false,
        )),
        Err(_) => Err(server_error(
            format!("cannot connect to the {protocol} server at {endpoint}"),
            format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            format!("check {section}.host and {section}.port, and any firewall between"),
            false,
        )),
    }
}

async fn tls(
    endpoint: &Endpoint,
    config: ClientConfig,
    tcp: TcpStream,
) -> Result<Stream, SourceError> {
    let name = ServerName::try_from(
        endpoint
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .map_err(|e| {
        server_error(
            format!("{:?} is not a host name", endpoint.host),
            e,
            format!("fix {}.host", endpoint.section),
            true,
        )
    })?;
    let handshake = TlsConnector::from(Arc::new(config)).connect(name, tcp);
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s))),
        Ok(Err(e)) => Err(tls_failure(endpoint, e)),
        Err(_) => Err(server_error(
            format!("TLS with {endpoint} failed"),
            "the handshake did not finish in time",
            format!(
                "check that port {} speaks TLS from the first byte, or set {}.tls = \"starttls\"",
                endpoint.port, endpoint.section
            ),
            false,
        )),
    }
}

/// Reads the server's first line; anything but OK means the wrong port or protocol.
async fn greeting(
    client: &mut async_imap::Client<Stream>,
    endpoint: &Endpoint,
) -> Result<(), SourceError> {
    let section = endpoint.section;
    let no_greeting = |detail: String| {
        server_error(
            format!("no IMAP greeting from {endpoint}"),
            detail,
            format!(
                "if port {} expects TLS from the first byte, set {section}.tls = \"implicit\"; \
                 otherwise check {section}.port",
                endpoint.port
            ),
            true,
        )
    };
    match tokio::time::timeout(GREETING_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(no_greeting("the server closed the connection".into())),
        Ok(Err(e)) => Err(no_greeting(e.to_string())),
        Err(_) => Err(no_greeting(format!(
            "nothing within {} s",
            GREETING_TIMEOUT.as_secs()
        ))),
    }
}

pub async fn open(s: &ImapSettings) -> Result<Opened, SourceError> {
    let endpoint = &s.endpoint;
    let tcp = tcp(endpoint, "IMAP").await?;
    let client = match endpoint.tls {
        TlsMode::None => {
            let mut client = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut client, endpoint).await?;
            client
        }
        TlsMode::Implicit => {
            let stream = tls(endpoint, crate::tls::client_config(endpoint)?, tcp).await?;
            let mut client = async_imap::Client::new(stream);
            greeting(&mut client, endpoint).await?;
            client
        }
        TlsMode::Starttls => {
            let config = crate::tls::client_config(endpoint)?;
            let mut plain = async_imap::Client::new(Stream::Plain(tcp));
            greeting(&mut plain, endpoint).await?;
            let started = tokio::time::timeout(
                COMMAND_TIMEOUT,
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await;
            if !matches!(started, Ok(Ok(()))) {
                let detail = match started {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer to STARTTLS".to_owned(),
                };
                return Err(server_error(
                    format!("the IMAP server at {endpoint} would not start TLS"),
                    detail,
                    format!(
                        "set {}.tls = \"implicit\" and {0}.port to its TLS port (993)",
                        endpoint.section
                    ),
                    true,
                ));
            }
            let Stream::Plain(tcp) = plain.into_inner() else {
                unreachable!("the stream before STARTTLS is plain");
            };
            async_imap::Client::new(tls(endpoint, config, tcp).await?)
        }
    };
    let password = s.password.reveal("source.password").map_err(|fix| {
        server_error(
            format!("no password for the IMAP login of {}", s.user),
            "it could not be read",
            fix,
            true,
        )
    })?;
    let login = tokio::time::timeout(COMMAND_TIMEOUT, client.login(&s.user, &password));
    let mut session = match login.await {
        Ok(Ok(session)) => session,
        Ok(Err((e, _))) => {
            let refused = matches!(
                e,
                async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)
            );
            return Err(server_error(
                format!(
                    "the IMAP server at {endpoint} refused the login of {}",
                    s.user
                ),
                e,
                "check source.user and the password in source.password_env or source.password_file",
                refused,
            ));
        }
        Err(_) => {
            return Err(server_error(
                format!("the IMAP server at {endpoint} did not answer the login"),
                "timed out",
                "check that the server is healthy",
                false,
            ));
        }
    };
    let broken = |what: &str, e: &dyn std::fmt::Display| {
        server_error(
            format!("{what} on {endpoint}"),
            e,
            "the service reconnects and tries again",
            false,
        )
    };
    let caps = tokio::time::timeout(COMMAND_TIMEOUT, session.capabilities())
        .await
        .map_err(|e| broken("CAPABILITY", &e))?
        .map_err(|e| broken("CAPABILITY", &e))?;
    let (idle, can_move, uidplus) = (
        caps.has_str("IDLE"),
        caps.has_str("MOVE"),
        caps.has_str("UIDPLUS"),
    );
    let mailbox = match tokio::time::timeout(COMMAND_TIMEOUT, session.select(&s.mailbox)).await {
        Ok(Ok(m)) => m,
        Ok(Err(e @ (async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)))) => {
            return Err(server_error(
                format!("cannot open the mailbox {:?} on {endpoint}", s.mailbox),
                e,
                "check source.mailbox (most servers call the inbox \"INBOX\")",
                true,
            ));
        }
        Ok(Err(e)) => return Err(broken("SELECT", &e)),
        Err(e) => return Err(broken("SELECT", &e)),
    };
    let Some(uidvalidity) = mailbox.uid_validity else {
        return Err(server_error(
            format!("the IMAP server at {endpoint} gave no UIDVALIDITY"),
            "without it, mail cannot be tracked across sessions",
            "use a server that follows RFC 3501",
            true,
        ));
    };
    if s.after == AfterProcessing::Move
        && let Some(folder) = &s.move_to
    {
        match tokio::time::timeout(COMMAND_TIMEOUT, session.status(folder, "(MESSAGES)")).await {
            Ok(Ok(_)) => {}
            Ok(Err(e @ (async_imap::error::Error::No(_) | async_imap::error::Error::Bad(_)))) => {
                return Err(server_error(
                    format!("the folder {folder:?} does not exist on {endpoint}"),
                    e,
                    "create it, or fix source.move_to",
                    true,
                ));
            }
            Ok(Err(e)) => return Err(broken("STATUS", &e)),
            Err(e) => return Err(broken("STATUS", &e)),
        }
    }
    Ok(Opened {
        session,
        uidvalidity,
        idle,
        can_move,
        uidplus,
    })
}
