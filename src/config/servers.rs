//! Checks the `[source]` and `[sink]` sections that name a mail server:
//! where it is, how the connection is protected, and where the password is.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::diagnostic::Diagnostics;
use super::file::{AfterProcessing, ImapSource, SmtpSink, TlsMode};
use super::{Endpoint, ImapSettings, Secret, SmtpSettings};

/// `localhost` or an address on the loopback interface: the only hosts a
/// password and embargoed mail may be sent to without TLS.
pub fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The fields every server section has, as written.
struct Written<'a> {
    section: &'static str,
    host: &'a str,
    port: Option<u16>,
    tls: TlsMode,
    ca_file: Option<&'a Path>,
    /// For implicit TLS, and for STARTTLS or none.
    default_ports: [u16; 2],
}

fn endpoint(base: &Path, w: Written<'_>, diags: &mut Diagnostics) -> Endpoint {
    let Written {
        section,
        host,
        port,
        tls,
        ca_file,
        default_ports,
    } = w;
    let host = host.trim().to_owned();
    if host.is_empty() {
        diags.error(format!("{section}.host"), "is empty: name the mail server");
    }
    if tls == TlsMode::None && !host.is_empty() && !is_loopback(&host) {
        diags.error(
            format!("{section}.tls"),
            format!(
                "\"none\" would send the password and embargoed mail to {host} in clear text; \
                 it is allowed only for a loopback host. Use \"implicit\" or \"starttls\""
            ),
        );
    }
    if port == Some(0) {
        diags.error(format!("{section}.port"), "must be between 1 and 65535");
    }
    let ca_file = ca_file.map(|p| super::validate::resolve(base, p));
    if let Some(ca) = &ca_file
        && !ca.is_file()
    {
        diags.error(
            format!("{section}.ca_file"),
            format!(
                "{} does not exist: point it at the PEM file of the CA that signed the server's \
                 certificate, or remove it to trust the system's roots",
                ca.display()
            ),
        );
    }
    let [implicit, plain] = default_ports;
    Endpoint {
        section,
        host,
        port: port.unwrap_or(match tls {
            TlsMode::Implicit => implicit,
            TlsMode::Starttls | TlsMode::None => plain,
        }),
        tls,
        ca_file,
    }
}

/// The one place a section says where a secret is. `stem` is the key
/// without its `_env`/`_file` ending: `password`, or `url` for the store.
pub(super) fn secret(
    section: &str,
    stem: &str,
    base: &Path,
    env: Option<&str>,
    file: Option<&Path>,
    diags: &mut Diagnostics,
) -> Option<Secret> {
    match (env, file) {
        (Some(_), Some(_)) => {
            diags.error(
                format!("{section}.{stem}_file"),
                format!("set either {stem}_env or {stem}_file, not both"),
            );
            None
        }
        (None, None) => {
            diags.error(
                section,
                format!(
                    "no {stem}: add {stem}_env = \"NAME\" (an environment variable) or \
                     {stem}_file = \"/path\" (a file only the service can read)"
                ),
            );
            None
        }
        (Some(name), None) if name.trim().is_empty() => {
            diags.error(
                format!("{section}.{stem}_env"),
                "is empty: name the variable",
            );
            None
        }
        (Some(name), None) => Some(Secret::Env(name.trim().to_owned())),
        (None, Some(path)) => {
            let path = super::validate::resolve(base, path);
            warn_if_readable_by_others(&format!("{section}.{stem}_file"), &path, diags);
            Some(Secret::File(path))
        }
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(field: &str, path: &Path, diags: &mut Diagnostics) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o004 != 0
    {
        diags.warn(
            field,
            format!(
                "{} is readable by every user on this machine: `chmod o-r` it",
                path.display()
            ),
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &str, _: &Path, _: &mut Diagnostics) {}

pub fn imap(base: &Path, s: &ImapSource, diags: &mut Diagnostics) -> Option<ImapSettings> {
    let endpoint = endpoint(
        base,
        Written {
            section: "source",
            host: &s.host,
            port: s.port,
            tls: s.tls,
            ca_file: s.ca_file.as_deref(),
            default_ports: [993, 143],
        },
        diags,
    );
    if s.user.trim().is_empty() {
        diags.error("source.user", "is empty: name the mailbox's login");
    }
    if s.mailbox.trim().is_empty() {
        diags.error("source.mailbox", "is empty: most servers call it \"INBOX\"");
    }
    let move_to = s.move_to.as_ref().map(|m| m.trim().to_owned());
    match (s.after, &move_to) {
        (AfterProcessing::Move, None) => diags.error(
            "source.move_to",
            "after = \"move\" needs the folder to move processed mail to, e.g. move_to = \"Processed\"",
        ),
        (AfterProcessing::Move, Some(m)) if m.is_empty() || *m == s.mailbox => diags.error(
            "source.move_to",
            "must name a folder other than the mailbox read",
        ),
        (AfterProcessing::Seen, Some(_)) => diags.warn(
            "source.move_to",
            "is ignored unless after = \"move\"",
        ),
        _ => {}
    }
    if s.poll_seconds == 0 {
        diags.error("source.poll_seconds", "must be at least 1");
    }
    let password = secret(
        "source",
        "password",
        base,
        s.password_env.as_deref(),
        s.password_file.as_deref(),
        diags,
    )?;
    Some(ImapSettings {
        endpoint,
        user: s.user.trim().to_owned(),
        password,
        mailbox: s.mailbox.trim().to_owned(),
        after: s.after,
        move_to,
        poll_interval: Duration::from_secs(s.poll_seconds.max(1)),
    })
}

pub fn smtp(
    base: &Path,
    s: &SmtpSink,
    list_domain: &str,
    diags: &mut Diagnostics,
) -> Option<SmtpSettings> {
    let endpoint = endpoint(
        base,
        Written {
            section: "sink",
            host: &s.host,
            port: s.port,
            tls: s.tls,
            ca_file: s.ca_file.as_deref(),
            default_ports: [465, 587],
        },
        diags,
    );
    let login = match &s.user {
        Some(user) => Some((
            user.trim().to_owned(),
            secret(
                "sink",
                "password",
                base,
                s.password_env.as_deref(),
                s.password_file.as_deref(),
                diags,
            )?,
        )),
        None => {
            if s.password_env.is_some() || s.password_file.is_some() {
                diags.error(
                    "sink.user",
                    "a password is set but no user to log in as: add user = \"...\"",
                );
            }
            None
        }
    };
    if s.pool_size == 0 {
        diags.error("sink.pool_size", "must be at least 1");
    }
    if s.timeout_seconds == 0 {
        diags.error("sink.timeout_seconds", "must be at least 1");
    }
    Some(SmtpSettings {
        endpoint,
        login,
        hello_name: s
            .hello_name
            .clone()
            .unwrap_or_else(|| list_domain.to_owned()),
        pool_size: s.pool_size.max(1),
        timeout: Duration::from_secs(s.timeout_seconds.max(1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(host: &str, tls: TlsMode) -> ImapSource {
        ImapSource {
            host: host.to_owned(),
            port: None,
            tls,
            ca_file: None,
            user: "security@example.org".to_owned(),
            password_env: Some("EMBARGO_IMAP_PASSWORD".to_owned()),
            password_file: None,
            mailbox: "INBOX".to_owned(),
            after: AfterProcessing::Seen,
            move_to: None,
            poll_seconds: 30,
        }
    }

    fn errors(d: &Diagnostics) -> Vec<String> {
        d.errors().map(|e| e.to_string()).collect()
    }

    #[test]
    fn plaintext_is_refused_unless_the_server_is_on_loopback() {
        let mut d = Diagnostics::default();
        imap(
            Path::new("/"),
            &source("imap.example.org", TlsMode::None),
            &mut d,
        );
        let got = errors(&d);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("error: source.tls: \"none\" would send the password"),
            "{got:?}"
        );

        let mut d = Diagnostics::default();
        let s = imap(Path::new("/"), &source("127.0.0.1", TlsMode::None), &mut d).unwrap();
        assert!(!d.has_errors(), "{:?}", errors(&d));
        assert_eq!(s.endpoint.port, 143);
    }

    #[test]
    fn ports_default_by_tls_mode() {
        let mut d = Diagnostics::default();
        let s = imap(Path::new("/"), &source("mx", TlsMode::Implicit), &mut d).unwrap();
        assert_eq!(s.endpoint.port, 993);
        let s = imap(Path::new("/"), &source("mx", TlsMode::Starttls), &mut d).unwrap();
        assert_eq!(s.endpoint.port, 143);
    }

    #[test]
    fn the_password_lives_in_exactly_one_place_and_moving_needs_a_folder() {
        let mut both = source("mx", TlsMode::Implicit);
        both.password_file = Some("pw".into());
        let mut d = Diagnostics::default();
        assert!(imap(Path::new("/"), &both, &mut d).is_none());
        assert!(errors(&d)[0].contains("either password_env or password_file"));

        let mut neither = source("mx", TlsMode::Implicit);
        neither.password_env = None;
        let mut d = Diagnostics::default();
        assert!(imap(Path::new("/"), &neither, &mut d).is_none());
        assert!(errors(&d)[0].contains("no password"));

        let mut moving = source("mx", TlsMode::Implicit);
        moving.after = AfterProcessing::Move;
        let mut d = Diagnostics::default();
        imap(Path::new("/"), &moving, &mut d);
        assert!(
            errors(&d)[0].starts_with("error: source.move_to: after = \"move\" needs the folder")
        );
    }

    #[test]
    fn a_password_that_cannot_be_read_says_where_to_put_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\n").unwrap();
        assert_eq!(
            Secret::File(file.clone()).reveal("sink.password").unwrap(),
            "s3cret"
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(
            Secret::File(file)
                .reveal("sink.password")
                .unwrap_err()
                .starts_with("sink.password_file:")
        );
        let e = Secret::Env("EMBARGO_SURELY_UNSET_VARIABLE".into())
            .reveal("source.password")
            .unwrap_err();
        assert!(e.starts_with("source.password_env: the environment variable EMBARGO_SURELY_UNSET_VARIABLE is not set"), "{e}");
    }

    #[test]
    fn only_loopback_hosts_count_as_loopback() {
        for h in [
            "localhost",
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "LOCALHOST",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "imap.example.org",
            "10.0.0.1",
            "localhost.example.org",
            "0.0.0.0",
            "",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
