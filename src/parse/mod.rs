//! Raw bytes to an [`Inbound`], with mail-parser; signatures checked and
//! encrypted reports opened on the way.
//!
//! mail-parser is lenient; the only mail it gives up on is one without any
//! header. That one, and one over the size limit, come back as
//! [`Unparsed`] with its bytes, so the caller can keep them.

mod html;
mod pgp_mime;

use jiff::Timestamp;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::core::inbound::{Attachment, AutoReplyHeaders, Inbound, Mailbox, TextSource};
use crate::core::incident::Patch;
use crate::core::signature::{Encryption, SignatureStatus};
use crate::crypto::Opener;
use crate::guard::catch_panic;
use pgp_mime::Layout;

/// What checking signatures and decrypting needs: the keys, and the time.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub opener: &'a dyn Opener,
    pub now: Timestamp,
}

/// The domain of Message-IDs made up for mail that has none.
pub const SYNTHESIZED_ID_DOMAIN: &str = "synthesized.embargo.invalid";

#[derive(Debug)]
pub struct Unparsed {
    pub raw: Vec<u8>,
    pub reason: String,
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex(&h.finalize())
}

/// Parses one mail. `max_bytes` bounds what is worth parsing; bigger mail is
/// returned unparsed so it can be stored as it is. Without `keys`, no
/// signature is checked and the mail counts as unsigned.
pub fn parse(raw: Vec<u8>, max_bytes: usize, keys: Option<Keys<'_>>) -> Result<Inbound, Unparsed> {
    if raw.len() > max_bytes {
        let reason = format!(
            "{} bytes is over the limit of {} bytes (limits.max_message_mib)",
            raw.len(),
            max_bytes
        );
        return Err(Unparsed { raw, reason });
    }
    // A parser bug must not stop the service: a panic on the whole mail
    // falls back to its headers alone; the raw bytes are kept either way.
    let full = catch_panic(|| {
        MessageParser::default()
            .parse(&raw)
            .filter(|m| !m.headers().is_empty())
            .map(|m| {
                let mut parsed = Parsed::from(&m);
                if let Some(keys) = keys {
                    let layout = pgp_mime::layout(&raw, &m);
                    open(&mut parsed, layout, keys, true);
                }
                parsed
            })
    });
    let parsed = match full {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            return Err(Unparsed {
                raw,
                reason: "no mail headers found".to_owned(),
            });
        }
        Err(panic) => {
            tracing::error!(%panic, "the MIME parser failed on this mail; reading its headers only");
            let headers = catch_panic(|| {
                MessageParser::default()
                    .parse_headers(&raw)
                    .filter(|m| !m.headers().is_empty())
                    .map(|m| Parsed::from(&m))
            });
            match headers {
                Ok(Some(mut parsed)) => {
                    parsed.text = String::new();
                    parsed.text_source = TextSource::None;
                    parsed.attachments.clear();
                    parsed.problems.push(
                        "the MIME body could not be parsed; only the headers were read, \
                         the raw mail is kept whole"
                            .to_owned(),
                    );
                    parsed
                }
                _ => {
                    return Err(Unparsed {
                        raw,
                        reason: "the MIME parser failed on it".to_owned(),
                    });
                }
            }
        }
    };
    Ok(parsed.into_inbound(raw))
}

/// Everything taken from the borrowed `Message`, so the raw bytes can move.
struct Parsed {
    message_id: Option<String>,
    in_reply_to: Vec<String>,
    references: Vec<String>,
    from: Option<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    subject: String,
    date: Option<Timestamp>,
    text: String,
    text_source: TextSource,
    attachments: Vec<Attachment>,
    auto_reply: AutoReplyHeaders,
    body_offset: usize,
    synthesis_input: Vec<Vec<u8>>,
    problems: Vec<String>,
    signature: SignatureStatus,
    signed_subject: Option<String>,
    encryption: Encryption,
    patches: Vec<Patch>,
}

/// Checks the signature, or decrypts and then checks what was inside.
/// `decrypt` is false inside a decrypted message: one layer is enough.
fn open(parsed: &mut Parsed, layout: Layout, keys: Keys<'_>, decrypt: bool) {
    match layout {
        Layout::Plain => {}
        Layout::Signed { signed, signature } => {
            parsed.signature = keys.opener.verify_detached(&signed, &signature, keys.now);
            // Protected headers: a Subject inside the signed part is signed too.
            parsed.signed_subject = MessageParser::default()
                .parse_headers(&signed)
                .and_then(|m| m.subject().map(|s| s.trim().to_owned()))
                .filter(|s| !s.is_empty());
        }
        Layout::PartlySigned => {
            parsed.signature = SignatureStatus::Partial {
                detail: "a signed part inside the mail, not the whole mail".to_owned(),
            };
        }
        Layout::InlineSigned { block, whole } => {
            let (status, text) = keys.opener.verify_cleartext(&block, keys.now);
            if whole {
                parsed.signature = status;
                if let Some(text) = text {
                    parsed.text = String::from_utf8_lossy(&text).into_owned();
                }
            } else {
                parsed.signature = SignatureStatus::Partial {
                    detail: format!("the mail has more than its signed text ({status})"),
                };
            }
        }
        Layout::Encrypted { .. } | Layout::InlineEncrypted { .. } if !decrypt => {
            parsed
                .problems
                .push("an encrypted message inside an encrypted message was not opened".to_owned());
        }
        Layout::Encrypted { ciphertext } => match keys.opener.decrypt(&ciphertext, keys.now) {
            Ok(d) => {
                parsed.encryption = Encryption::Decrypted;
                parsed.signature = d.signature;
                // The plaintext is a MIME entity: its own headers, then its body.
                let inner = MessageParser::default()
                    .parse(&d.plaintext)
                    .filter(|m| !m.headers().is_empty())
                    .map(|m| {
                        let mut inner = Parsed::from(&m);
                        inner.signature = parsed.signature.clone();
                        let layout = pgp_mime::layout(&d.plaintext, &m);
                        open(&mut inner, layout, keys, false);
                        inner
                    });
                match inner {
                    Some(inner) => {
                        // Inside a signed-and-encrypted message, the entity's
                        // own Subject is covered by the signature.
                        let protected = Some(inner.subject.clone()).filter(|s| !s.is_empty());
                        parsed.signed_subject = inner.signed_subject.or(protected);
                        parsed.text = inner.text;
                        parsed.text_source = inner.text_source;
                        parsed.attachments = inner.attachments;
                        parsed.patches = inner.patches;
                        parsed.signature = inner.signature;
                        parsed.problems.extend(inner.problems);
                    }
                    None => {
                        parsed.text = String::from_utf8_lossy(&d.plaintext).into_owned();
                        parsed.text_source = TextSource::Plain;
                        parsed.attachments.clear();
                    }
                }
            }
            Err(e) => undecrypted(parsed, &e.to_string()),
        },
        Layout::InlineEncrypted { block } => match keys.opener.decrypt(&block, keys.now) {
            Ok(d) => {
                parsed.encryption = Encryption::Decrypted;
                parsed.signature = d.signature;
                let text = String::from_utf8_lossy(&d.plaintext).into_owned();
                if text
                    .trim_start()
                    .starts_with("-----BEGIN PGP SIGNED MESSAGE-----")
                {
                    let (status, signed) = keys
                        .opener
                        .verify_cleartext(text.trim().as_bytes(), keys.now);
                    parsed.signature = status;
                    parsed.text = signed.map_or(text, |t| String::from_utf8_lossy(&t).into_owned());
                } else {
                    parsed.text = text;
                }
            }
            Err(e) => undecrypted(parsed, &e.to_string()),
        },
    }
}

fn undecrypted(parsed: &mut Parsed, why: &str) {
    parsed.encryption = Encryption::Failed {
        detail: why.to_owned(),
    };
    parsed.text = String::new();
    parsed.text_source = TextSource::None;
    parsed.attachments.clear();
    parsed.problems.push(format!(
        "the mail is encrypted and could not be decrypted ({why}); the encrypted mail is kept whole"
    ));
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    let clean = |s: &str| s.trim().trim_matches(['<', '>']).trim().to_owned();
    let mut out: Vec<String> = match value {
        HeaderValue::Text(t) => vec![clean(t)],
        HeaderValue::TextList(list) => list.iter().map(|t| clean(t)).collect(),
        _ => vec![],
    };
    out.retain(|id| !id.is_empty());
    out.dedup();
    out
}

fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    addr.map(|a| {
        a.iter()
            .filter_map(|a| {
                let email = a.address.as_deref()?.trim();
                (!email.is_empty()).then(|| Mailbox::new(a.name.as_deref(), email))
            })
            .collect()
    })
    .unwrap_or_default()
}

fn raw_header(msg: &Message<'_>, name: &str) -> Option<String> {
    msg.header_raw(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn readable_text(msg: &Message<'_>) -> (String, TextSource) {
    let mut texts = Vec::new();
    let mut source = TextSource::None;
    for &part_id in &msg.text_body {
        let Some(part) = msg.parts.get(part_id as usize) else {
            continue;
        };
        let (this, text) = match &part.body {
            PartType::Html(html) => (TextSource::Html, html::to_text(html)),
            PartType::Text(text) => (TextSource::Plain, text.to_string()),
            _ => continue,
        };
        if source == TextSource::None {
            source = this;
        }
        texts.push(text);
    }
    (texts.join("\n"), source)
}

/// Patch files, as text, for `/approve distributors`.
fn patches(msg: &Message<'_>) -> Vec<Patch> {
    const MAX_PATCH: usize = 4 * 1024 * 1024;
    let mut out = Vec::new();
    for part in msg.attachments() {
        let Some(name) = part.attachment_name().map(str::trim) else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        let typed = part.content_type().is_some_and(|ct| {
            ct.subtype().is_some_and(|s| {
                matches!(
                    s.to_ascii_lowercase().as_str(),
                    "x-patch" | "x-diff" | "diff" | "patch"
                )
            })
        });
        let named = lower.ends_with(".patch") || lower.ends_with(".diff");
        if (named || typed) && part.len() <= MAX_PATCH {
            out.push(Patch {
                name: name.to_owned(),
                text: String::from_utf8_lossy(part.contents()).into_owned(),
            });
        }
    }
    out
}

fn attachments(msg: &Message<'_>) -> Vec<Attachment> {
    msg.attachments()
        .map(|part| Attachment {
            name: part.attachment_name().map(str::to_owned),
            content_type: part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_owned(),
                })
                .unwrap_or_else(|| "application/octet-stream".to_owned())
                .to_ascii_lowercase(),
            size: part.len() as u64,
        })
        .collect()
}

impl Parsed {
    fn from(msg: &Message<'_>) -> Parsed {
        let (text, text_source) = readable_text(msg);
        let header_bytes = |name: &str| msg.header_raw(name).unwrap_or("").as_bytes().to_vec();
        Parsed {
            message_id: msg
                .message_id()
                .map(|id| id.trim().trim_matches(['<', '>']).trim().to_owned())
                .filter(|id| !id.is_empty()),
            in_reply_to: ids(msg.in_reply_to()),
            references: ids(msg.references()),
            from: mailboxes(msg.from()).into_iter().next(),
            to: mailboxes(msg.to()),
            cc: mailboxes(msg.cc()),
            subject: msg.subject().unwrap_or("").trim().to_owned(),
            date: msg
                .date()
                .and_then(|d| Timestamp::from_second(d.to_timestamp()).ok()),
            text,
            text_source,
            attachments: attachments(msg),
            auto_reply: AutoReplyHeaders {
                auto_submitted: raw_header(msg, "Auto-Submitted"),
                precedence: raw_header(msg, "Precedence"),
                list_id: raw_header(msg, "List-Id"),
                return_path: raw_header(msg, "Return-Path"),
            },
            body_offset: msg.root_part().raw_body_offset() as usize,
            // Headers a relay does not touch: a re-delivery synthesizes the same id.
            synthesis_input: ["From", "To", "Cc", "Date", "Subject"]
                .iter()
                .map(|h| header_bytes(h))
                .collect(),
            problems: Vec::new(),
            signature: SignatureStatus::Unsigned,
            signed_subject: None,
            encryption: Encryption::None,
            patches: patches(msg),
        }
    }

    fn into_inbound(self, raw: Vec<u8>) -> Inbound {
        let body = raw.get(self.body_offset..).unwrap_or(&[]);
        let body_digest = sha256_hex(&[body]);
        let (message_id, message_id_synthesized) = match self.message_id {
            Some(id) => (id, false),
            None => {
                let mut parts: Vec<&[u8]> =
                    self.synthesis_input.iter().map(Vec::as_slice).collect();
                parts.push(body);
                let digest = sha256_hex(&parts);
                (format!("{}@{SYNTHESIZED_ID_DOMAIN}", &digest[..32]), true)
            }
        };
        Inbound {
            message_id,
            message_id_synthesized,
            in_reply_to: self.in_reply_to,
            references: self.references,
            from: self.from,
            to: self.to,
            cc: self.cc,
            subject: self.subject,
            date: self.date,
            text: self.text,
            text_source: self.text_source,
            attachments: self.attachments,
            auto_reply: self.auto_reply,
            problems: self.problems,
            signature: self.signature,
            signed_subject: self.signed_subject,
            encryption: self.encryption,
            patches: self.patches,
            body_digest,
            raw,
        }
    }
}
