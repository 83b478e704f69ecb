//! Raw bytes to an [`Inbound`], with mail-parser; signatures checked and
//! encrypted reports opened on the way.
//!
//! mail-parser is lenient; the only mail it gives up on is one without any
//! header. That one, and one over the size limit, come back as
//! [`Unparsed`] with its bytes, so the caller can keep them.

mod autocrypt;
pub mod bounce;
pub mod entity;
mod flowed;
mod html;
pub mod signed;

use jiff::Timestamp;
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::core::command;
use crate::core::inbound::{
    Attachment, AutoReplyHeaders, Inbound, KeySource, Mailbox, SenderKey, SignedContent, TextSource,
};
use crate::core::incident::Patch;
use crate::core::sender_auth::{AuthHeaders, AuthResults, SPAM_HEADER_MARK, SPAM_HEADERS};
use crate::core::signature::{Encryption, SignatureStatus};
use crate::crypto::Opener;
use crate::guard::catch_panic;
use signed::{Inner, Layout};

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
                    let layout = signed::layout(&raw, &m);
                    open(&mut parsed, layout, keys, true);
                    read_sender_key(&mut parsed, keys.now);
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
    signed: Option<SignedContent>,
    encryption: Encryption,
    /// Keys the mail offers for its sender, in the order they are tried:
    /// the Autocrypt header's, then attached ones.
    offered_keys: Vec<(KeySource, Result<Vec<u8>, String>)>,
    sender_key: Option<SenderKey>,
    bounce: Option<crate::core::bounce::BounceReport>,
}

/// What verified bytes say, read the same way whatever carried them (a
/// PGP/MIME part, a cleartext block, an OpenPGP message): bytes that start
/// as a MIME entity are read as one wherever they were moved to, so what an
/// attachment, a forwarded mail or a folded header of a signed entity says
/// never passes for the signer's own text. A `binary` signature (type
/// 0x00) counts only over a MIME entity: over plain text it is a signed
/// file or git commit, whose text someone else may have written.
pub fn read_verified(bytes: &[u8], binary: bool) -> Result<SignedContent, String> {
    let mime = match entity::Entity::read(bytes) {
        Ok(e) => e.is_mime(),
        Err(_) => starts_with_mime_field(bytes),
    };
    if mime {
        return read_signed(bytes);
    }
    if binary {
        return Err(
            "it is a binary signature over plain text (a signed file or git commit?), not a signed mail"
                .to_owned(),
        );
    }
    Ok(SignedContent {
        text: String::from_utf8_lossy(bytes).into_owned(),
        ..SignedContent::default()
    })
}

/// Whether the first line is a `Content-*:` or `MIME-Version:` field.
fn starts_with_mime_field(bytes: &[u8]) -> bool {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    let name = String::from_utf8_lossy(&line[..colon])
        .trim()
        .to_ascii_lowercase();
    name.starts_with("content-") || name == "mime-version"
}

/// What a signature covers, read from exactly the signed bytes (a MIME
/// entity): its text, its protected Subject, To and Cc, and its patches.
/// Refused when the entity itself can be read more than one way: another
/// signed entity inside it, alternatives (plain text and HTML) that carry
/// different commands, or HTML that cannot be read reliably.
pub fn read_signed(entity: &[u8]) -> Result<SignedContent, String> {
    let strict = entity::Entity::read(entity).map_err(|e| e.0)?;
    strict.content_type().map_err(|e| e.0)?;
    strict.transfer_encoding().map_err(|e| e.0)?;
    let headerless = entity.starts_with(b"\r\n") || entity.starts_with(b"\n");
    let parsed = if headerless {
        None
    } else {
        MessageParser::default()
            .parse(entity)
            .filter(|m| !m.headers().is_empty())
    };
    let Some(m) = parsed else {
        // No header fields: a text/plain body (RFC 2045).
        return Ok(SignedContent {
            text: String::from_utf8_lossy(strict.body).into_owned(),
            ..SignedContent::default()
        });
    };
    if m.parts.iter().any(|p| {
        p.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("signed"))
        })
    }) {
        return Err("another signed part is inside the signed part".to_owned());
    }
    let unreadable = || {
        "its HTML cannot be read reliably (the HTML reader failed on it); send the commands as plain text"
            .to_owned()
    };
    let text = joined(&m, &m.text_body, true).ok_or_else(unreadable)?.0;
    let html = joined(&m, &m.html_body, true).ok_or_else(unreadable)?.0;
    if command::command_lines(&text) != command::command_lines(&html) {
        return Err(
            "its plain-text and HTML versions carry different commands; send the commands as plain text"
                .to_owned(),
        );
    }
    Ok(SignedContent {
        text,
        subject: m
            .subject()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        // Protected To/Cc, when the signed part has them at all: then an
        // empty or group-only list names nobody, this list included.
        addressed_to: (m.header_raw("To").is_some() || m.header_raw("Cc").is_some()).then(|| {
            mailboxes(m.to())
                .into_iter()
                .chain(mailboxes(m.cc()))
                .map(|mb| mb.key())
                .collect()
        }),
        patches: patches(&m),
    })
}

/// Verifies what a signature inside an unproven mail covers, to know whom
/// to tell and which signature is spent.
fn check_inner(inner: Option<Inner>, keys: Keys<'_>) -> SignatureStatus {
    match inner {
        Some(Inner::Detached(d)) => keys
            .opener
            .verify_detached(&d.signed, &d.signature, keys.now),
        Some(Inner::Cleartext(block)) => keys.opener.verify_cleartext(&block, keys.now).0,
        None => SignatureStatus::Unsigned,
    }
}

/// A verified signature over `bytes`: valid only when they read one way;
/// what they say becomes what commands are read from.
fn signed_entity(parsed: &mut Parsed, status: SignatureStatus, bytes: &[u8]) {
    let SignatureStatus::Valid(made) = &status else {
        parsed.signature = status;
        return;
    };
    match read_verified(bytes, made.binary) {
        Ok(content) => {
            parsed.signature = status;
            parsed.text = content.text.clone();
            parsed.signed = Some(content);
        }
        Err(why) => parsed.signature = SignatureStatus::unproven(why, status),
    }
}

/// Checks the signature, or decrypts and then checks what was inside.
/// `decrypt` is false inside a decrypted message: one layer is enough.
fn open(parsed: &mut Parsed, layout: Layout, keys: Keys<'_>, decrypt: bool) {
    match layout {
        Layout::Plain => {}
        Layout::Signed(d) => {
            let status = keys
                .opener
                .verify_detached(&d.signed, &d.signature, keys.now);
            signed_entity(parsed, status, &d.signed);
        }
        Layout::Unproven { why, signed } => {
            parsed.signature = SignatureStatus::unproven(why, check_inner(signed, keys));
        }
        Layout::InlineSigned { block } => {
            let (status, text) = keys.opener.verify_cleartext(&block, keys.now);
            signed_entity(parsed, status, &text.unwrap_or_default());
        }
        Layout::Encrypted { .. } | Layout::InlineEncrypted { .. } if !decrypt => {
            parsed
                .problems
                .push("an encrypted message inside an encrypted message was not opened".to_owned());
        }
        Layout::Encrypted {
            ciphertext,
            ignored,
        } => match keys.opener.decrypt(&ciphertext, keys.now) {
            Ok(d) => {
                parsed.encryption = Encryption::Decrypted;
                if ignored > 0 {
                    parsed.problems.push(format!(
                        "{ignored} part(s) outside the encrypted part were ignored: only what was encrypted is read"
                    ));
                }
                // The plaintext is a MIME entity. A signature on the
                // OpenPGP message covers it whole; without one, it is
                // judged by the same rules as a mail. Nothing outside the
                // encrypted part counts.
                let signed_whole = matches!(d.signature, SignatureStatus::Valid(_));
                let inner = MessageParser::default()
                    .parse(&d.plaintext)
                    .filter(|m| !m.headers().is_empty())
                    .map(|m| {
                        let mut inner = Parsed::from(&m);
                        if signed_whole {
                            signed_entity(&mut inner, d.signature.clone(), &d.plaintext);
                        } else {
                            open(&mut inner, signed::layout(&d.plaintext, &m), keys, false);
                        }
                        inner
                    });
                match inner {
                    Some(inner) => {
                        parsed.signed = inner.signed;
                        parsed.text = inner.text;
                        parsed.text_source = inner.text_source;
                        parsed.attachments = inner.attachments;
                        parsed.signature = inner.signature;
                        parsed.problems.extend(inner.problems);
                        // The outer mail's attachments are the ciphertext.
                        parsed
                            .offered_keys
                            .retain(|(s, _)| *s == KeySource::Autocrypt);
                        parsed.offered_keys.extend(inner.offered_keys);
                    }
                    None => {
                        parsed.text = String::from_utf8_lossy(&d.plaintext).into_owned();
                        parsed.text_source = TextSource::Plain;
                        parsed.attachments.clear();
                        signed_entity(parsed, d.signature, &d.plaintext);
                    }
                }
            }
            Err(e) => undecrypted(parsed, &e.to_string()),
        },
        Layout::InlineEncrypted { block } => match keys.opener.decrypt(&block, keys.now) {
            Ok(d) => {
                parsed.encryption = Encryption::Decrypted;
                let text = String::from_utf8_lossy(&d.plaintext).into_owned();
                parsed.text = text.clone();
                // A signature on the OpenPGP message covers the plaintext
                // whole; without one, it is judged as an inline mail.
                if matches!(d.signature, SignatureStatus::Valid(_)) {
                    signed_entity(parsed, d.signature, &d.plaintext);
                } else {
                    match signed::inline(&text) {
                        Layout::Plain => parsed.signature = d.signature,
                        inner => open(parsed, inner, keys, false),
                    }
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

/// Headers named like a spam verdict kept beyond the three known ones (and
/// four times as many of those): a mail cannot make its record grow
/// without bound this way. The MTA writes its verdict on top, first.
const MAX_SPAM_HEADERS: usize = 16;

/// Every Authentication-Results header, top first, and the spam verdicts.
fn verdicts(msg: &Message<'_>) -> AuthHeaders {
    let mut found = AuthHeaders::default();
    let mut received = 0;
    for (name, value) in msg.headers_raw() {
        let value = value.trim();
        if name.eq_ignore_ascii_case("Received") {
            received += 1;
        } else if name.eq_ignore_ascii_case("Authentication-Results") {
            found.results.push(AuthResults {
                received_above: received,
                value: value.to_owned(),
            });
        } else if let Some(known) = SPAM_HEADERS.iter().find(|h| h.eq_ignore_ascii_case(name))
            && found.spam.len() < 4 * MAX_SPAM_HEADERS
        {
            found.spam.push(((*known).to_owned(), value.to_owned()));
        } else if name.to_ascii_lowercase().contains(SPAM_HEADER_MARK)
            && found.spam.len() < MAX_SPAM_HEADERS
        {
            // Another filter's verdict, for `spam_headers` to name.
            found.spam.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    found
}

fn raw_header(msg: &Message<'_>, name: &str) -> Option<String> {
    msg.header_raw(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The text of the parts `ids` (mail-parser's `text_body` or `html_body`),
/// HTML reduced to text. `strict`: `None` when the HTML reader fails, where
/// the fallback's reading (no quote marks) could differ from what the
/// sender saw.
fn joined(msg: &Message<'_>, ids: &[u32], strict: bool) -> Option<(String, TextSource)> {
    let mut texts = Vec::new();
    let mut source = TextSource::None;
    for &part_id in ids {
        let Some(part) = msg.parts.get(part_id as usize) else {
            continue;
        };
        let (this, text) = match &part.body {
            PartType::Html(h) if strict => (TextSource::Html, html::try_to_text(h)?),
            PartType::Html(h) => (TextSource::Html, html::to_text(h)),
            PartType::Text(text) => (TextSource::Plain, flowed::read(part, text)),
            _ => continue,
        };
        if source == TextSource::None {
            source = this;
        }
        texts.push(text);
    }
    // In signed text, where commands are read, a part boundary ends a
    // paragraph: a command's value never runs on into the next part.
    Some((texts.join(if strict { "\n\n" } else { "\n" }), source))
}

fn readable_text(msg: &Message<'_>) -> (String, TextSource) {
    joined(msg, &msg.text_body, false).unwrap_or((String::new(), TextSource::None))
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

/// The keys a mail offers for its From address: its `Autocrypt:` header
/// (one; several are ambiguous and none is used), then each attached
/// `application/pgp-keys` part.
fn offered_keys(msg: &Message<'_>) -> Vec<(KeySource, Result<Vec<u8>, String>)> {
    let mut out = Vec::new();
    let from = mailboxes(msg.from()).into_iter().next();
    let headers: Vec<&str> = msg
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Autocrypt"))
        .map(|(_, value)| value)
        .collect();
    match (headers.as_slice(), &from) {
        ([], _) => {}
        ([value], Some(from)) => out.push((
            KeySource::Autocrypt,
            autocrypt::keydata(value, &from.email)
                .map_err(|e| format!("the Autocrypt header is not used: {e}")),
        )),
        ([_], None) => out.push((
            KeySource::Autocrypt,
            Err("the Autocrypt header is not used: the mail has no From address".to_owned()),
        )),
        (several, _) => out.push((
            KeySource::Autocrypt,
            Err(format!(
                "the mail has {} Autocrypt headers; none is used",
                several.len()
            )),
        )),
    }
    for part in msg.attachments() {
        let is_key = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("application")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("pgp-keys"))
        });
        if is_key {
            out.push((KeySource::Attached, Ok(part.contents().to_vec())));
        }
    }
    out
}

/// The first key the mail offers that sequoia reads and that names the
/// From address; what was offered and not used is said in the problems.
fn read_sender_key(parsed: &mut Parsed, now: Timestamp) {
    let Some(from) = parsed.from.as_ref().map(|f| f.email.clone()) else {
        return;
    };
    for (source, offered) in std::mem::take(&mut parsed.offered_keys) {
        let read = offered.and_then(|bytes| crate::pgp::sender_key(&bytes, &from, source, now));
        match read {
            Ok(key) if parsed.sender_key.is_none() => parsed.sender_key = Some(key),
            Ok(_) => {}
            Err(why) => parsed
                .problems
                .push(format!("a key sent with the mail is not used: {why}")),
        }
    }
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
        let return_path = raw_header(msg, "Return-Path");
        Parsed {
            bounce: bounce::read(msg, return_path.as_deref()),
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
                responder: ["X-Autoreply", "X-Autorespond"]
                    .into_iter()
                    .find(|name| msg.header_raw(*name).is_some())
                    .map(str::to_owned),
                return_path,
                verdicts: verdicts(msg),
            },
            body_offset: msg.root_part().raw_body_offset() as usize,
            // Headers a relay does not touch: a re-delivery synthesizes the same id.
            synthesis_input: ["From", "To", "Cc", "Date", "Subject"]
                .iter()
                .map(|h| header_bytes(h))
                .collect(),
            problems: Vec::new(),
            signature: SignatureStatus::Unsigned,
            signed: None,
            encryption: Encryption::None,
            offered_keys: offered_keys(msg),
            sender_key: None,
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
        let mut inbound = Inbound {
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
            signed: self.signed,
            encryption: self.encryption,
            sender_key: self.sender_key,
            bounce: self.bounce,
            body_digest,
            raw,
        };
        without_nul(&mut inbound);
        inbound
    }
}

/// What NUL bytes in a mail's text become: PostgreSQL's text columns refuse
/// NUL, and no reader needs it, so both backends store the same mail the
/// same way. The raw bytes keep it; patches (kept as JSON) are left as sent.
const NUL_SHOWN_AS: char = char::REPLACEMENT_CHARACTER;

fn without_nul(mail: &mut Inbound) {
    fn scrub(s: &mut String) -> bool {
        if !s.contains('\0') {
            return false;
        }
        *s = s.replace('\0', &NUL_SHOWN_AS.to_string());
        true
    }
    fn mailbox(m: &mut Mailbox) -> bool {
        let name = m.name.as_mut().is_some_and(scrub);
        scrub(&mut m.email) | name
    }
    let mut found = scrub(&mut mail.message_id) | scrub(&mut mail.subject) | scrub(&mut mail.text);
    for s in mail
        .in_reply_to
        .iter_mut()
        .chain(mail.references.iter_mut())
    {
        found |= scrub(s);
    }
    for m in mail.from.iter_mut().chain(&mut mail.to).chain(&mut mail.cc) {
        found |= mailbox(m);
    }
    for a in &mut mail.attachments {
        found |= a.name.as_mut().is_some_and(scrub) | scrub(&mut a.content_type);
    }
    if let Some(signed) = &mut mail.signed {
        found |= scrub(&mut signed.text) | signed.subject.as_mut().is_some_and(scrub);
        for a in signed.addressed_to.iter_mut().flatten() {
            found |= scrub(a);
        }
    }
    let auto = &mut mail.auto_reply;
    for h in [
        &mut auto.auto_submitted,
        &mut auto.precedence,
        &mut auto.list_id,
        &mut auto.return_path,
    ] {
        found |= h.as_mut().is_some_and(scrub);
    }
    for r in auto.verdicts.results.iter_mut() {
        found |= scrub(&mut r.value);
    }
    for (_, v) in auto.verdicts.spam.iter_mut() {
        found |= scrub(v);
    }
    for p in &mut mail.problems {
        found |= scrub(p);
    }
    if found {
        mail.problems.push(format!(
            "its text held NUL bytes, shown as {NUL_SHOWN_AS}; the raw mail is kept whole"
        ));
    }
}
