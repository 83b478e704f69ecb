//! The mail the service writes: rendered from templates, assembled as MIME,
//! ready for the outbox.

mod mime;
mod templates;

use askama::Template;
use jiff::Timestamp;

pub use mime::{MimeError, header_text};

use crate::config::Settings;
use crate::core::autoreply::Withhold;
use crate::core::inbound::{Inbound, Mailbox};
use crate::core::incident::Incident;
use crate::core::mail_kind::MailKind;
use crate::store::NewMail;
use mime::{Headers, Party};
use templates::{AcknowledgementText, QuarantineText, SrcCopyText};

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("cannot render the {kind} template: {source}")]
    Render {
        kind: MailKind,
        source: askama::Error,
    },
    #[error(transparent)]
    Mime(#[from] MimeError),
}

/// The SRC copy shows at most this much of a report; the rest is in the store.
const SRC_COPY_TEXT_LIMIT: usize = 64 * 1024;

fn render<T: Template>(kind: MailKind, t: &T) -> Result<String, NoticeError> {
    t.render()
        .map_err(|source| NoticeError::Render { kind, source })
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The Message-ID of an outbox mail follows from its key, so a mail sent
/// twice after a crash carries the same id and can be recognised.
fn message_id(key: &str, settings: &Settings) -> String {
    let local: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("{local}@{}", settings.list.domain())
}

/// "Re: " once, not "Re: Re: ".
fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
        s.to_owned()
    } else if s.is_empty() {
        "Re: your report".to_owned()
    } else {
        format!("Re: {s}")
    }
}

fn tagged(incident: &Incident, subject: &str) -> String {
    let tag = incident.id.tag();
    if subject.contains(&tag) {
        subject.to_owned()
    } else {
        format!("{tag} {subject}")
    }
}

fn references(mail: &Inbound) -> Vec<String> {
    let mut refs = mail.references.clone();
    refs.push(mail.message_id.clone());
    refs
}

/// The acknowledgement to the reporter.
pub fn acknowledgement(
    settings: &Settings,
    incident: &Incident,
    report: &Inbound,
    to: &Mailbox,
    now: Timestamp,
) -> Result<NewMail, NoticeError> {
    let key = format!("{}/acknowledgement", incident.id);
    let id = message_id(&key, settings);
    let greeting = match to.name.as_deref().map(|n| header_text(n, 60)) {
        Some(name) if !name.is_empty() => format!("Hello {name}"),
        _ => "Hello".to_owned(),
    };
    let list = &settings.list;
    let body = render(
        MailKind::Acknowledgement,
        &AcknowledgementText {
            greeting: &greeting,
            project: &list.name,
            id: &incident.id.to_string(),
            security_address: &list.security_address,
        },
    )?;
    let subject = header_text(&tagged(incident, &reply_subject(&report.subject)), 200);
    let bytes = mime::plain_text(
        &Headers {
            from: Party {
                name: Some(&format!("{} Security", list.name)),
                email: &list.security_address,
            },
            to: vec![Party {
                name: to.name.as_deref(),
                email: &to.email,
            }],
            reply_to: None,
            subject: &subject,
            message_id: &id,
            in_reply_to: Some(&report.message_id),
            references: &references(report),
            date: now,
            auto_submitted: "auto-replied",
        },
        &body,
    )?;
    Ok(NewMail {
        key,
        kind: MailKind::Acknowledgement,
        incident: Some(incident.id.clone()),
        message_id: id,
        from: list.security_address.clone(),
        recipients: vec![to.email.clone()],
        subject,
        bytes,
        due_at: now,
    })
}

/// The copy of a new report for the SRC list.
pub fn src_copy(
    settings: &Settings,
    incident: &Incident,
    report: &Inbound,
    withheld: Option<&Withhold>,
    now: Timestamp,
) -> Result<NewMail, NoticeError> {
    let key = format!("{}/src-copy", incident.id);
    let id = message_id(&key, settings);
    let list = &settings.list;
    let total = report.text.chars().count();
    let (text, truncated) = match report.text.char_indices().nth(SRC_COPY_TEXT_LIMIT) {
        Some((cut, _)) => (&report.text[..cut], true),
        None => (report.text.as_str(), false),
    };
    let from = report.from.as_ref().map_or_else(
        || "(no sender)".to_owned(),
        |m| header_text(&m.to_string(), 200),
    );
    let acknowledgement = match (withheld, &report.from) {
        (None, Some(m)) => format!("acknowledged at {}", m.email),
        (Some(w), _) => format!("not acknowledged: {w}"),
        (None, None) => "not acknowledged: no sender".to_owned(),
    };
    let attachments = report
        .attachments
        .iter()
        .map(|a| {
            format!(
                "{} ({}, {} bytes)",
                header_text(a.name.as_deref().unwrap_or("(unnamed)"), 120),
                a.content_type,
                a.size
            )
        })
        .collect();
    let body = render(
        MailKind::SrcCopy,
        &SrcCopyText {
            id: &incident.id.to_string(),
            from: &from,
            subject: &header_text(&report.subject, 200),
            date: &report.date.map_or_else(|| "(none)".to_owned(), utc),
            received: &utc(now),
            message_id: &report.message_id,
            commander: incident.commander.as_deref().unwrap_or("nobody is on call"),
            acknowledgement: &acknowledgement,
            attachments,
            problems: &report.problems,
            text: if text.trim().is_empty() {
                "(no readable text)"
            } else {
                text
            },
            truncated,
            shown: SRC_COPY_TEXT_LIMIT,
            total,
            security_address: &list.security_address,
        },
    )?;
    let subject = header_text(
        &format!("{} New report: {}", incident.id.tag(), incident.title),
        200,
    );
    let bytes = mime::plain_text(
        &Headers {
            from: Party {
                name: Some("embargo"),
                email: &list.security_address,
            },
            to: vec![Party {
                name: None,
                email: &list.src_address,
            }],
            // Replies from the SRC come back to the inbox and onto the incident.
            reply_to: Some(&list.security_address),
            subject: &subject,
            message_id: &id,
            in_reply_to: Some(&report.message_id),
            references: &references(report),
            date: now,
            auto_submitted: "auto-generated",
        },
        &body,
    )?;
    Ok(NewMail {
        key,
        kind: MailKind::SrcCopy,
        incident: Some(incident.id.clone()),
        message_id: id,
        from: list.security_address.clone(),
        recipients: vec![list.src_address.clone()],
        subject,
        bytes,
        due_at: now,
    })
}

/// Tells the SRC list that a mail was kept aside unread.
pub fn quarantine(
    settings: &Settings,
    source: &str,
    digest: &str,
    size: usize,
    reason: &str,
    now: Timestamp,
) -> Result<NewMail, NoticeError> {
    let key = format!("quarantine/{}", &digest[..digest.len().min(24)]);
    let id = message_id(&key, settings);
    let list = &settings.list;
    let body = render(
        MailKind::Quarantine,
        &QuarantineText {
            security_address: &list.security_address,
            source: &header_text(source, 300),
            size,
            digest,
            reason,
        },
    )?;
    let subject = "[embargo] A mail to the security address could not be read".to_owned();
    let bytes = mime::plain_text(
        &Headers {
            from: Party {
                name: Some("embargo"),
                email: &list.security_address,
            },
            to: vec![Party {
                name: None,
                email: &list.src_address,
            }],
            reply_to: None,
            subject: &subject,
            message_id: &id,
            in_reply_to: None,
            references: &[],
            date: now,
            auto_submitted: "auto-generated",
        },
        &body,
    )?;
    Ok(NewMail {
        key,
        kind: MailKind::Quarantine,
        incident: None,
        message_id: id,
        from: list.security_address.clone(),
        recipients: vec![list.src_address.clone()],
        subject,
        bytes,
        due_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_say_re_once() {
        assert_eq!(reply_subject("Re: crash"), "Re: crash");
        assert_eq!(reply_subject("RE: crash"), "RE: crash");
        assert_eq!(reply_subject("crash"), "Re: crash");
        assert_eq!(reply_subject(""), "Re: your report");
        assert_eq!(reply_subject("[취약점] 보고"), "Re: [취약점] 보고");
        assert_eq!(reply_subject("ré"), "Re: ré");
    }
}
