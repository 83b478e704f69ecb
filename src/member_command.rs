//! A command mail an SRC member signs with their own key (`embargo
//! command`), for members whose mail client cannot make PGP/MIME: the
//! commands and the attachments in one signed part, signed by their GnuPG
//! (so their agent, pinentry and smartcard work) or by a key file. The
//! list key never signs it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use jiff::Timestamp;

use crate::core::incident_id::IncidentId;
use crate::crypto::{CryptoError, Detached};
use crate::notice::{Attachment, MemberHeaders, MimeError, member_signed};

#[derive(Debug, thiserror::Error)]
pub enum MemberMailError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("there are no commands: give them as arguments, or on standard input")]
    Empty,
    #[error(transparent)]
    Mime(#[from] MimeError),
}

/// Command lines given one per argument, each ending with the incident id
/// (which names the incident on that line; see the README's rules).
pub fn command_text(id: &IncidentId, lines: &[String]) -> String {
    let id = id.to_string();
    lines
        .iter()
        .map(|l| {
            let l = l.trim_end();
            if l.starts_with('/') && !l.ends_with(&id) {
                format!("{l} {id}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// A file to attach, named as it is on disk; patches travel as text.
pub fn attachment(path: &Path) -> Result<Attachment, MemberMailError> {
    let bytes = std::fs::read(path).map_err(|source| MemberMailError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attachment".to_owned());
    let content_type = if name.ends_with(".patch") || name.ends_with(".diff") {
        "text/x-diff"
    } else {
        "application/octet-stream"
    };
    Ok(Attachment {
        name,
        content_type: content_type.to_owned(),
        bytes,
    })
}

/// The mail, ready for `sendmail -t`: from the member to the list, the
/// incident's tag in its (signed) Subject.
pub fn build(
    id: &IncidentId,
    from: &str,
    to: &str,
    text: &str,
    attachments: &[Attachment],
    now: Timestamp,
    sign: impl FnOnce(&[u8]) -> Result<Detached, CryptoError>,
) -> Result<Vec<u8>, MemberMailError> {
    if !text.lines().any(|l| l.starts_with('/')) {
        return Err(MemberMailError::Empty);
    }
    let domain = from
        .rsplit_once('@')
        .map_or("embargo.invalid", |(_, d)| d.trim_end_matches('>'));
    let message_id = format!(
        "{}.{:016x}.command@{domain}",
        now.as_millisecond(),
        fastrand::u64(..)
    );
    let subject = format!("{} commands", id.tag());
    Ok(member_signed(
        &MemberHeaders {
            from,
            to,
            subject: &subject,
            message_id: &message_id,
            date: now,
        },
        text,
        attachments,
        sign,
    )?)
}

/// A detached signature by the member's GnuPG key `local_user`.
pub fn gpg_sign(local_user: &str, data: &[u8]) -> Result<Detached, CryptoError> {
    let gpg = std::env::var("EMBARGO_GPG").unwrap_or_else(|_| "gpg".to_owned());
    let failed = |e: String| CryptoError::Sign(format!("{gpg}: {e}"));
    let mut child = Command::new(&gpg)
        .args([
            "--detach-sign",
            "--armor",
            "--digest-algo",
            "SHA512",
            "--local-user",
            local_user,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| failed(format!("cannot start it ({e}); is GnuPG installed?")))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(data)
        .map_err(|e| failed(e.to_string()))?;
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(failed(format!(
            "signing with {local_user} failed ({}); check `gpg --list-secret-keys {local_user}`",
            out.status
        )));
    }
    Ok(Detached {
        armored: out.stdout,
        micalg: "pgp-sha512".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_line_names_the_incident_once() {
        let id: IncidentId = "EMB-2026-0007".parse().unwrap();
        assert_eq!(
            command_text(
                &id,
                &[
                    "/accept".into(),
                    "/lead me EMB-2026-0007".into(),
                    "Thanks".into()
                ]
            ),
            "/accept EMB-2026-0007\n/lead me EMB-2026-0007\nThanks\n"
        );
    }
}
