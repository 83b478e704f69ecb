//! The mail the service writes: rendered from templates, assembled as MIME,
//! ready for the outbox.

mod disclosure;

pub use disclosure::{Alert, NoticeText, Undelivered, patch_files};
mod answer;
mod ics;
mod mime;
mod templates;

use askama::Template;
use jiff::Timestamp;

pub use mime::{Attachment, MemberHeaders, MimeError, Seal, header_text, member_signed};

use crate::config::{Distributor, PublicKey, Settings};
use crate::core::autoreply::Withhold;
use crate::core::command_mail::CommandReply;
use crate::core::deadline::Reminder;
use crate::core::inbound::{Inbound, Mailbox};
use crate::core::incident::Incident;
use crate::core::incident_id::IncidentId;
use crate::core::mail_kind::MailKind;
use crate::core::relay::Relay;
use crate::core::signature::Encryption;
use crate::crypto::Sealer;
use crate::store::NewMail;
use mime::{Headers, KeyPublication, Party};
use templates::{
    AcknowledgementText, CommandReplyText, QuarantineText, RelayText, ReminderText, SrcCopyText,
    UndecryptableText,
};

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("cannot render the {kind} template: {source}")]
    Render {
        kind: MailKind,
        source: askama::Error,
    },
    #[error(transparent)]
    Mime(#[from] MimeError),
    #[error(
        "{email} requires encrypted mail, and it cannot be encrypted to them ({reason}); \
         nothing was sent: get their current key into the config"
    )]
    EncryptionRequired { email: String, reason: String },
    #[error(
        "the answer to the reporter {email} was to be encrypted to their key {fingerprint}, \
         and it cannot be ({reason}); nothing was sent to them, in clear or otherwise"
    )]
    ReporterKeyUnusable {
        email: String,
        fingerprint: String,
        reason: String,
    },
}

/// The SRC copy shows at most this much of a report; the rest is in the store.
const SRC_COPY_TEXT_LIMIT: usize = 64 * 1024;
/// The largest original a relay attaches: each insider's copy carries its
/// own, so a large mail on a large team multiplies (the record keeps it).
const RELAY_ORIGINAL_LIMIT: usize = 2 * 1024 * 1024;

fn render<T: Template>(kind: MailKind, t: &T) -> Result<String, NoticeError> {
    t.render()
        .map_err(|source| NoticeError::Render { kind, source })
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The Message-ID of an outbox mail follows from its key, so a mail sent
/// twice after a crash carries the same id and can be recognised. The
/// readable part is lossy (`a.b@x` and `a+b@x` read alike); the digest of
/// the whole key is what makes two mails' ids differ.
fn message_id(key: &str, settings: &Settings) -> String {
    let readable: String = key
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    let digest = crate::parse::sha256_hex(&[key.as_bytes()]);
    format!("{readable}.{}@{}", &digest[..20], settings.list.domain())
}

/// The Message-ID of a mail that may go encrypted: the readable part of
/// [`message_id`] names the incident, the notice and its date, and the
/// Message-ID stays outside the ciphertext. Still follows from the key.
fn opaque_message_id(key: &str, settings: &Settings) -> String {
    let digest = crate::parse::sha256_hex(&[b"opaque:", key.as_bytes()]);
    format!("{}@{}", &digest[..32], settings.list.domain())
}

/// Names one inbound mail in an outbox key: a replayed mail has the same
/// body but its own Message-ID, and gets its own answer.
fn mail_key(mail: &Inbound) -> String {
    crate::parse::sha256_hex(&[mail.message_id.as_bytes(), mail.body_digest.as_bytes()])[..16]
        .to_owned()
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
    tagged_id(&incident.id, subject)
}

/// The incident's tag in the subject, once.
fn tagged_id(incident: &IncidentId, subject: &str) -> String {
    let tag = incident.tag();
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

/// What the copies of an inbound mail show of it.
struct Shown<'a> {
    from: String,
    date: String,
    /// The text, cut at [`SRC_COPY_TEXT_LIMIT`] characters.
    text: &'a str,
    truncated: bool,
    total: usize,
    attachments: Vec<String>,
    /// Empty when it came in clear.
    encryption: &'static str,
}

impl<'a> Shown<'a> {
    fn of(mail: &'a Inbound) -> Self {
        let (text, truncated) = match mail.text.char_indices().nth(SRC_COPY_TEXT_LIMIT) {
            Some((cut, _)) => (&mail.text[..cut], true),
            None => (mail.text.as_str(), false),
        };
        Shown {
            from: mail.from.as_ref().map_or_else(
                || "(no sender)".to_owned(),
                |m| header_text(&m.to_string(), 200),
            ),
            date: mail.date.map_or_else(|| "(none)".to_owned(), utc),
            text: if text.trim().is_empty() {
                "(no readable text)"
            } else {
                text
            },
            truncated,
            total: mail.text.chars().count(),
            attachments: mail
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
                .collect(),
            encryption: match &mail.encryption {
                Encryption::None => "",
                Encryption::Decrypted => "yes, decrypted with the list key",
                Encryption::Failed { .. } => "yes, and it could not be decrypted",
            },
        }
    }
}

/// An encrypted mail's attachments, as a copy without its text tells of them.
fn hidden(attachments: &[String]) -> Vec<String> {
    if attachments.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "{} attachment(s), listed in the encrypted copies",
            attachments.len()
        )]
    }
}

/// One mail about an inbound mail to one insider; see [`Composer::copy`].
struct Copy<'a> {
    key: String,
    kind: MailKind,
    incident: &'a IncidentId,
    from_name: &'a str,
    to: Party<'a>,
    subject: &'a str,
    /// The mail it is about: it answers that one.
    about: &'a Inbound,
    references: &'a [String],
    text: &'a str,
    attachments: &'a [Attachment],
    seal: Seal<'a>,
}

/// The copies of an encrypted mail's text, each encrypted to its
/// recipient's own key, and who could not get one.
struct EncryptedCopies {
    mails: Vec<NewMail>,
    reached: Vec<String>,
    /// Each with why not.
    missed: Vec<String>,
}

/// Makes `one` copy per recipient that has a key, sealed to it.
fn encrypted_to_each<'p>(
    recipients: impl IntoIterator<Item = (Party<'p>, Option<&'p str>)>,
    mut one: impl FnMut(Party<'p>, Seal<'p>) -> Result<NewMail, NoticeError>,
) -> EncryptedCopies {
    let mut out = EncryptedCopies {
        mails: Vec::new(),
        reached: Vec::new(),
        missed: Vec::new(),
    };
    for (to, fingerprint) in recipients {
        let email = to.email.to_owned();
        let Some(fp) = fingerprint else {
            out.missed.push(format!("{email} (no key in the roster)"));
            continue;
        };
        match one(to, Seal::SignAndEncryptTo(fp)) {
            Ok(copy) => {
                out.mails.push(copy);
                out.reached.push(email);
            }
            Err(e) => {
                tracing::warn!(to = %email, error = %e, "an encrypted mail's copy cannot be encrypted to this recipient");
                out.missed.push(format!("{email} ({e})"));
            }
        }
    }
    out
}

impl EncryptedCopies {
    /// What a copy without the text says in its place: that the `what`
    /// came encrypted, and who got it encrypted to their own key.
    fn note(&self, what: &str, whom: &str, id: &str) -> String {
        let mut note = format!(
            "(The {what} came encrypted, so its text is not in this mail. It went to\n\
             {whom} in a mail encrypted to their own key"
        );
        if self.reached.is_empty() {
            note.push_str(": to nobody, as no one has a usable key.");
        } else {
            note.push_str(&format!(": {}.", self.reached.join(", ")));
        }
        if !self.missed.is_empty() {
            note.push_str(&format!("\nNot to: {}.", self.missed.join("; ")));
        }
        note.push_str(&format!(
            "\nOn the embargo host, `embargo show {id}` shows it, attachments included.)"
        ));
        note
    }
}

/// What differs between the mails [`Composer::compose`] writes.
struct Spec<'a> {
    key: String,
    kind: MailKind,
    incident: Option<&'a IncidentId>,
    to: Vec<String>,
    subject: String,
    text: String,
    attachments: Vec<Attachment>,
    in_reply_to: Option<&'a str>,
    references: &'a [String],
    from_name: &'a str,
}

/// Writes the service's mail: rendered, assembled and sealed with the list key.
pub struct Composer<'a> {
    settings: &'a Settings,
    sealer: &'a dyn Sealer,
}

impl<'a> Composer<'a> {
    pub fn new(settings: &'a Settings, sealer: &'a dyn Sealer) -> Self {
        Composer { settings, sealer }
    }

    /// One signed mail from the security address, for the outbox.
    fn compose(&self, spec: Spec<'_>, now: Timestamp) -> Result<NewMail, NoticeError> {
        let list = &self.settings.list;
        let id = message_id(&spec.key, self.settings);
        let subject = header_text(&spec.subject, 200);
        let bytes = self.seal(
            &Headers {
                from: Party {
                    name: Some(spec.from_name),
                    email: &list.security_address,
                },
                to: spec
                    .to
                    .iter()
                    .map(|t| Party {
                        name: None,
                        email: t,
                    })
                    .collect(),
                reply_to: Some(&list.security_address),
                subject: &subject,
                message_id: &id,
                in_reply_to: spec.in_reply_to,
                references: spec.references,
                date: now,
                auto_submitted: "auto-generated",
            },
            &spec.text,
            &spec.attachments,
            Seal::Sign,
        )?;
        Ok(NewMail {
            key: spec.key,
            kind: spec.kind,
            incident: spec.incident.cloned(),
            message_id: id,
            from: list.security_address.clone(),
            recipients: spec.to,
            subject,
            bytes,
            due_at: now,
        })
    }

    fn seal(
        &self,
        headers: &Headers<'_>,
        text: &str,
        attachments: &[Attachment],
        seal: Seal<'_>,
    ) -> Result<Vec<u8>, NoticeError> {
        let key = match &self.settings.list.public_key {
            PublicKey::Attach => KeyPublication {
                attach: true,
                url: None,
            },
            PublicKey::Reference { url } => KeyPublication {
                attach: false,
                url: url.as_deref(),
            },
        };
        Ok(mime::sealed(
            headers,
            text,
            attachments,
            self.sealer,
            key,
            seal,
        )?)
    }

    /// The acknowledgement to the reporter.
    pub fn acknowledgement(
        &self,
        incident: &Incident,
        report: &Inbound,
        to: &Mailbox,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
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
        let bytes = self.seal(
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
            &[],
            Seal::Sign,
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

    /// The copy of a new report for the SRC list. A report that came
    /// encrypted stays encrypted: its text goes to each SRC member in a mail
    /// encrypted to their own key, and the list (whose archive may be read
    /// by more than the committee) gets the record without the text and
    /// without attachment names.
    pub fn src_copy(
        &self,
        incident: &Incident,
        report: &Inbound,
        withheld: Option<&Withhold>,
        now: Timestamp,
    ) -> Result<Vec<NewMail>, NoticeError> {
        let settings = self.settings;
        let list = &settings.list;
        let shown = Shown::of(report);
        let acknowledgement = match (withheld, &report.from) {
            (None, Some(m)) => format!("acknowledged at {}", m.email),
            (Some(w), _) => format!("not acknowledged: {w}"),
            (None, None) => "not acknowledged: no sender".to_owned(),
        };
        let id = incident.id.to_string();
        let body = |text: &str, attachments: Vec<String>, truncated: bool| {
            render(
                MailKind::SrcCopy,
                &SrcCopyText {
                    id: &id,
                    from: &shown.from,
                    subject: &header_text(&report.subject, 200),
                    date: &shown.date,
                    received: &utc(now),
                    message_id: &report.message_id,
                    commander: incident.commander.as_deref().unwrap_or("nobody is on call"),
                    acknowledgement: &acknowledgement,
                    signature: report.signature.to_string(),
                    encryption: shown.encryption,
                    attachments,
                    problems: &report.problems,
                    text,
                    truncated,
                    shown: SRC_COPY_TEXT_LIMIT,
                    total: shown.total,
                    security_address: &list.security_address,
                },
            )
        };
        let subject = header_text(
            &format!("{} New report: {}", incident.id.tag(), incident.title),
            200,
        );
        let references = references(report);
        let mail = |key: String, to: Party<'_>, text: &str, seal: Seal<'_>| {
            self.copy(
                Copy {
                    key,
                    kind: MailKind::SrcCopy,
                    incident: &incident.id,
                    from_name: "embargo",
                    to,
                    subject: &subject,
                    about: report,
                    references: &references,
                    text,
                    attachments: &[],
                    seal,
                },
                now,
            )
        };
        let to_list = Party {
            name: None,
            email: &list.src_address,
        };
        let key = format!("{}/src-copy", incident.id);
        if report.encryption != Encryption::Decrypted {
            let text = body(shown.text, shown.attachments, shown.truncated)?;
            return Ok(vec![mail(key, to_list, &text, Seal::Sign)?]);
        }
        let full = body(shown.text, shown.attachments.clone(), shown.truncated)?;
        let members = settings.roster.members.iter().map(|m| {
            (
                Party {
                    name: Some(&m.name),
                    email: &m.email,
                },
                m.fingerprint.as_deref(),
            )
        });
        let sealed = encrypted_to_each(members, |to, seal| {
            mail(format!("{key}/{}", to.email), to, &full, seal)
        });
        let note = sealed.note("report", "each SRC member", &id);
        let mut out = sealed.mails;
        out.push(mail(
            key,
            to_list,
            &body(&note, hidden(&shown.attachments), false)?,
            Seal::Sign,
        )?);
        Ok(out)
    }

    /// One mail about an inbound mail, from the security address to one
    /// insider, in that mail's thread.
    fn copy(&self, c: Copy<'_>, now: Timestamp) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let list = &settings.list;
        let message_id = match c.seal {
            Seal::SignAndEncryptTo(_) | Seal::SignAndEncryptToCert(_) => {
                opaque_message_id(&c.key, settings)
            }
            Seal::Sign => message_id(&c.key, settings),
        };
        let recipient = c.to.email.to_owned();
        let bytes = self.seal(
            &Headers {
                from: Party {
                    name: Some(c.from_name),
                    email: &list.security_address,
                },
                to: vec![c.to],
                // Replies come back to the inbox and onto the incident.
                reply_to: Some(&list.security_address),
                subject: c.subject,
                message_id: &message_id,
                in_reply_to: Some(&c.about.message_id),
                references: c.references,
                date: now,
                auto_submitted: "auto-generated",
            },
            c.text,
            c.attachments,
            c.seal,
        )?;
        Ok(NewMail {
            key: c.key,
            kind: c.kind,
            incident: Some(c.incident.clone()),
            message_id,
            from: list.security_address.clone(),
            recipients: vec![recipient],
            subject: c.subject.to_owned(),
            bytes,
            due_at: now,
        })
    }

    /// A mail filed on an incident, relayed to each of its insiders as
    /// the core decided: signed with the list key, from "Sender via the
    /// list", in the sender's thread, the original attached as received.
    /// A mail that came encrypted goes encrypted to each insider with a
    /// key, the original inside the ciphertext only; the others (the SRC
    /// list among them) hear that it came and who got it, not what it says.
    pub fn relay(
        &self,
        incident: &IncidentId,
        mail: &Inbound,
        via: &str,
        relay: &Relay,
        now: Timestamp,
    ) -> Result<Vec<NewMail>, NoticeError> {
        let settings = self.settings;
        let list = &settings.list;
        let shown = Shown::of(mail);
        let id = incident.to_string();
        let relayed_to = relay
            .to
            .iter()
            .map(|i| i.email.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let attach = mail.raw.len() <= RELAY_ORIGINAL_LIMIT;
        let body = |text: &str, attachments: Vec<String>, truncated: bool, original: bool| {
            render(
                MailKind::Relay,
                &RelayText {
                    id: &id,
                    from: &shown.from,
                    subject: &header_text(&mail.subject, 200),
                    date: &shown.date,
                    received: &utc(now),
                    message_id: &mail.message_id,
                    signature: mail.signature.to_string(),
                    encryption: shown.encryption,
                    via: &header_text(via, 300),
                    relayed_to: &relayed_to,
                    attachments,
                    problems: &mail.problems,
                    text,
                    truncated,
                    shown: SRC_COPY_TEXT_LIMIT,
                    total: shown.total,
                    original: original && attach,
                    too_large: (original && !attach).then_some(mail.raw.len()),
                    security_address: &list.security_address,
                },
            )
        };
        let from_name = format!(
            "{}{} via {} Security",
            header_text(&relay.sender, 40),
            if relay.unverified {
                " (unverified)"
            } else {
                ""
            },
            header_text(&list.name, 36)
        );
        let subject = header_text(&tagged_id(incident, &mail.subject), 200);
        let references = references(mail);
        let original = [Attachment {
            name: "original.eml".to_owned(),
            content_type: mime::RFC822.to_owned(),
            bytes: mail.raw.clone(),
        }];
        let one = |to: &crate::core::relay::Insider, text: &str, with_original: bool, seal| {
            self.copy(
                Copy {
                    key: format!("{incident}/relay/{}/{}", mail_key(mail), to.email),
                    kind: MailKind::Relay,
                    incident,
                    from_name: &from_name,
                    to: Party {
                        name: to.name.as_deref(),
                        email: &to.email,
                    },
                    subject: &subject,
                    about: mail,
                    references: &references,
                    text,
                    attachments: if with_original && attach {
                        &original
                    } else {
                        &[]
                    },
                    seal,
                },
                now,
            )
        };
        let full = body(shown.text, shown.attachments.clone(), shown.truncated, true)?;
        if !relay.encrypted {
            return relay
                .to
                .iter()
                .map(|to| one(to, &full, true, Seal::Sign))
                .collect();
        }
        // The list never has a key: it gets word only, and no "not to" line.
        let sealed = encrypted_to_each(
            relay
                .to
                .iter()
                .filter(|i| i.email != list.src_address)
                .map(|i| {
                    (
                        Party {
                            name: i.name.as_deref(),
                            email: &i.email,
                        },
                        i.fingerprint.as_deref(),
                    )
                }),
            |to, seal| {
                let insider = relay
                    .to
                    .iter()
                    .find(|i| i.email == to.email)
                    .expect("a recipient of this relay");
                one(insider, &full, true, seal)
            },
        );
        let note = body(
            &sealed.note("mail", "each insider with a key", &id),
            hidden(&shown.attachments),
            false,
            false,
        )?;
        let mut out = Vec::new();
        for to in relay
            .to
            .iter()
            .filter(|i| !sealed.reached.contains(&i.email))
        {
            out.push(one(to, &note, false, Seal::Sign)?);
        }
        out.extend(sealed.mails);
        Ok(out)
    }

    /// A mail to one distributor, sealed as they asked: encrypted to their
    /// key when `encrypt` is set; if that key cannot be used, sent signed
    /// in clear, unless they `require_encryption`, in which case it fails.
    #[allow(clippy::too_many_arguments)]
    pub fn to_distributor(
        &self,
        distributor: &Distributor,
        key: &str,
        kind: MailKind,
        incident: Option<&IncidentId>,
        subject: &str,
        text: &str,
        attachments: &[Attachment],
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let list = &self.settings.list;
        let encrypt_to = distributor
            .fingerprint
            .as_deref()
            .filter(|_| distributor.encrypt);
        let id = match encrypt_to {
            Some(_) => opaque_message_id(key, self.settings),
            None => message_id(key, self.settings),
        };
        let subject = header_text(subject, 200);
        let headers = Headers {
            from: Party {
                name: Some(&format!("{} Security", list.name)),
                email: &list.security_address,
            },
            to: vec![Party {
                name: Some(&distributor.name),
                email: &distributor.email,
            }],
            reply_to: Some(&list.security_address),
            subject: &subject,
            message_id: &id,
            in_reply_to: None,
            references: &[],
            date: now,
            auto_submitted: "auto-generated",
        };
        let bytes = match encrypt_to {
            Some(fp) => match self.seal(&headers, text, attachments, Seal::SignAndEncryptTo(fp)) {
                Ok(bytes) => bytes,
                Err(e) if distributor.require_encryption => {
                    return Err(NoticeError::EncryptionRequired {
                        email: distributor.email.clone(),
                        reason: e.to_string(),
                    });
                }
                Err(e) => {
                    tracing::warn!(to = %distributor.email, error = %e, "sending signed but not encrypted: their key cannot be used");
                    self.seal(&headers, text, attachments, Seal::Sign)?
                }
            },
            None => self.seal(&headers, text, attachments, Seal::Sign)?,
        };
        Ok(NewMail {
            key: key.to_owned(),
            kind,
            incident: incident.cloned(),
            message_id: id,
            from: list.security_address.clone(),
            recipients: vec![distributor.email.clone()],
            subject,
            bytes,
            due_at: now,
        })
    }

    /// The answer to a mail that carried commands: what changed, or why nothing did.
    pub fn command_reply(
        &self,
        incident: &IncidentId,
        mail: &Inbound,
        reply: &CommandReply,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let list = &settings.list;
        let key = format!("{incident}/command-reply/{}", mail_key(mail));
        let id = message_id(&key, settings);
        let body = render(
            MailKind::CommandReply,
            &CommandReplyText {
                text: &reply.text,
                applied: reply.applied(),
                id: &incident.to_string(),
                project: &list.name,
            },
        )?;
        let verdict = if reply.applied() {
            "Applied"
        } else {
            "Not applied"
        };
        // The tag leads; said again inside the quoted subject it is noise.
        let tag = incident.tag();
        let quoted = mail
            .subject
            .replace(&tag, " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let subject = header_text(&format!("{tag} {verdict}: {}", reply_subject(&quoted)), 200);
        let bytes = self.seal(
            &Headers {
                from: Party {
                    name: Some("embargo"),
                    email: &list.security_address,
                },
                to: reply
                    .to
                    .iter()
                    .map(|t| Party {
                        name: None,
                        email: t,
                    })
                    .collect(),
                reply_to: Some(&list.security_address),
                subject: &subject,
                message_id: &id,
                in_reply_to: Some(&mail.message_id),
                references: &references(mail),
                date: now,
                auto_submitted: "auto-replied",
            },
            &body,
            &[],
            Seal::Sign,
        )?;
        Ok(NewMail {
            key,
            kind: MailKind::CommandReply,
            incident: Some(incident.clone()),
            message_id: id,
            from: list.security_address.clone(),
            recipients: reply.to.clone(),
            subject,
            bytes,
            due_at: now,
        })
    }

    /// A reminder that a deadline of the process slipped.
    pub fn reminder(
        &self,
        incident: &Incident,
        reminder: &Reminder,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let list = &settings.list;
        let key = format!("{}/reminder/{}", incident.id, reminder.deadline);
        let id = message_id(&key, settings);
        let status = crate::core::status::status_text(incident);
        let body = render(
            MailKind::Reminder,
            &ReminderText {
                text: &reminder.text,
                status: &status,
                project: &list.name,
            },
        )?;
        let subject = header_text(
            &format!("{} Reminder: {}", incident.id.tag(), incident.title),
            200,
        );
        let bytes = self.seal(
            &Headers {
                from: Party {
                    name: Some("embargo"),
                    email: &list.security_address,
                },
                to: reminder
                    .to
                    .iter()
                    .map(|t| Party {
                        name: None,
                        email: t,
                    })
                    .collect(),
                reply_to: Some(&list.security_address),
                subject: &subject,
                message_id: &id,
                in_reply_to: None,
                references: &[],
                date: now,
                auto_submitted: "auto-generated",
            },
            &body,
            &[],
            Seal::Sign,
        )?;
        Ok(NewMail {
            key,
            kind: MailKind::Reminder,
            incident: Some(incident.id.clone()),
            message_id: id,
            from: list.security_address.clone(),
            recipients: reminder.to.clone(),
            subject,
            bytes,
            due_at: now,
        })
    }

    /// Tells the SRC list that a mail on an incident could not be decrypted.
    pub fn undecryptable(
        &self,
        incident: &IncidentId,
        mail: &Inbound,
        reason: &str,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let key = format!("{incident}/undecryptable/{}", mail_key(mail));
        let id = message_id(&key, settings);
        let list = &settings.list;
        let from = mail.from.as_ref().map_or_else(
            || "(no sender)".to_owned(),
            |m| header_text(&m.to_string(), 200),
        );
        let body = render(
            MailKind::Undecryptable,
            &UndecryptableText {
                id: &incident.to_string(),
                from: &from,
                subject: &header_text(&mail.subject, 200),
                message_id: &mail.message_id,
                reason,
                fingerprint: &self.sealer.fingerprint(),
            },
        )?;
        let subject = header_text(
            &format!("{} Could not decrypt a mail from {from}", incident.tag()),
            200,
        );
        let bytes = self.seal(
            &Headers {
                from: Party {
                    name: Some("embargo"),
                    email: &list.security_address,
                },
                to: vec![Party {
                    name: None,
                    email: &list.src_address,
                }],
                reply_to: Some(&list.security_address),
                subject: &subject,
                message_id: &id,
                in_reply_to: Some(&mail.message_id),
                references: &references(mail),
                date: now,
                auto_submitted: "auto-generated",
            },
            &body,
            &[],
            Seal::Sign,
        )?;
        Ok(NewMail {
            key,
            kind: MailKind::Undecryptable,
            incident: Some(incident.clone()),
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
        &self,
        source: &str,
        digest: &str,
        size: usize,
        reason: &str,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let key = format!("quarantine/{}", &digest[..digest.len().min(24)]);
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
        self.to_src_list(key, MailKind::Quarantine, subject, &body, now)
    }

    /// The weekly digest to the SRC list: untriaged reports and spam.
    pub fn digest(
        &self,
        digest: &crate::core::digest::Digest,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let key = digest.key();
        let list = &settings.list;
        let body = digest.text(now, &list.incident_prefix);
        let subject = format!("[embargo] {}", digest.subject());
        self.to_src_list(key, MailKind::Digest, subject, &body, now)
    }

    /// A service mail of no incident to the SRC list, signed.
    fn to_src_list(
        &self,
        key: String,
        kind: MailKind,
        subject: String,
        body: &str,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let list = &self.settings.list;
        let id = message_id(&key, self.settings);
        let bytes = self.seal(
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
            body,
            &[],
            Seal::Sign,
        )?;
        Ok(NewMail {
            key,
            kind,
            incident: None,
            message_id: id,
            from: list.security_address.clone(),
            recipients: vec![list.src_address.clone()],
            subject,
            bytes,
            due_at: now,
        })
    }
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
