//! Assembles a plain-text mail. Header values are built from values, never
//! from template text, and everything that came from a reporter is cleaned
//! first: nothing they write can add a header or a recipient.

use std::str::FromStr;

use jiff::Timestamp;
use lettre::message::header::{
    self, ContentDisposition, ContentTransferEncoding, ContentType, HeaderName, HeaderValue,
    Headers as HeaderMap,
};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::crypto::{CryptoError, Sealer};

#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("{0:?} is not an address that mail can be sent to")]
    Address(String),
    #[error("cannot build the mail: {0}")]
    Build(#[from] lettre::error::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// A header value from untrusted text: one line, printable, bounded.
pub fn header_text(s: &str, max_chars: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = one_line.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = out.char_indices().nth(max_chars) {
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// A Message-ID fit for In-Reply-To/References, or `None` for junk.
fn clean_id(id: &str) -> Option<String> {
    let ok = !id.is_empty()
        && id.len() <= 250
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    ok.then(|| format!("<{id}>"))
}

pub struct Party<'a> {
    pub name: Option<&'a str>,
    pub email: &'a str,
}

fn mailbox(p: &Party<'_>) -> Result<Mailbox, MimeError> {
    let email = Address::from_str(p.email).map_err(|_| MimeError::Address(p.email.to_owned()))?;
    let name = p.name.map(|n| header_text(n, 80)).filter(|n| !n.is_empty());
    Ok(Mailbox::new(name, email))
}

pub struct Headers<'a> {
    pub from: Party<'a>,
    pub to: Vec<Party<'a>>,
    pub reply_to: Option<&'a str>,
    pub subject: &'a str,
    /// Without angle brackets.
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    pub date: Timestamp,
    /// RFC 3834: `auto-replied` for answers, `auto-generated` for the rest.
    pub auto_submitted: &'a str,
}

/// A file to send inside the signed part.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// How the list key is made known to readers.
#[derive(Debug, Clone, Copy)]
pub struct KeyPublication<'a> {
    /// Attach the public key (`application/pgp-keys`) inside the signed part.
    pub attach: bool,
    /// Where to fetch it, for the `OpenPGP:` header.
    pub url: Option<&'a str>,
}

/// How a mail is sealed: always signed; encrypted to one recipient's
/// certificate when that recipient asks for it.
#[derive(Clone, Copy)]
pub enum Seal<'a> {
    Sign,
    SignAndEncryptTo(&'a str),
    /// Encrypted to a certificate the sender sent (armored), not one the
    /// config lists.
    SignAndEncryptToCert(&'a [u8]),
}

fn text_part(text: &str) -> SinglePart {
    // lettre's quoted-printable protects trailing spaces; a line starting
    // with "From " is escaped too, since mbox delivery would rewrite it
    // and break the signature (RFC 3156, section 3).
    let body = Body::new_with_encoding(text.to_owned(), ContentTransferEncoding::QuotedPrintable)
        .expect("quoted-printable takes any text");
    let mut encoded = body.as_ref().to_vec();
    if encoded.starts_with(b"From ") {
        encoded.splice(0..1, b"=46".iter().copied());
    }
    let escaped = String::from_utf8(encoded)
        .expect("quoted-printable is ASCII")
        .replace("\r\nFrom ", "\r\n=46rom ");
    SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(Body::dangerous_pre_encoded(
            escaped.into_bytes(),
            ContentTransferEncoding::QuotedPrintable,
        ))
}

/// The content type of a whole mail attached as it was received.
pub const RFC822: &str = "message/rfc822";

/// A received mail's bytes with CRLF line ends, when they can travel
/// unencoded inside a signed part (RFC 2046 allows `message/rfc822` no
/// base64): 7-bit, no NUL or stray CR, lines within 998 octets, none that
/// a server on the way may rewrite (a trailing space, a leading `From `,
/// RFC 3156 section 3). `None` otherwise.
fn as_7bit_mail(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 40);
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let last = lines.peek().is_none();
        if last && line.is_empty() {
            break;
        }
        let fits = line.len() <= 998
            && line.iter().all(|b| (1..0x80).contains(b) && *b != b'\r')
            && !line.ends_with(b" ")
            && !line.ends_with(b"\t")
            && !line.starts_with(b"From ");
        if !fits {
            return None;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    Some(out)
}

/// Always base64: the bytes arrive exactly as they were (a patch keeps its
/// line endings), and the signed part is in canonical form whatever they
/// are. A text attachment sent as is would carry bare LFs, which a relay
/// may rewrite and a verifier canonicalizes: the signature would break.
/// A received mail (`message/rfc822`) goes unencoded, as RFC 2046 asks,
/// so a mail client shows it and checks its own signature; one that
/// cannot travel so goes as a base64 `.eml` file instead.
fn attachment_part(a: &Attachment) -> SinglePart {
    if a.content_type.eq_ignore_ascii_case(RFC822) {
        if let Some(mail) = as_7bit_mail(&a.bytes) {
            return SinglePart::builder()
                .header(ContentType::parse(RFC822).expect("a valid type"))
                .header(ContentDisposition::attachment(&header_text(&a.name, 120)))
                .body(Body::dangerous_pre_encoded(
                    mail,
                    ContentTransferEncoding::SevenBit,
                ));
        }
        return attachment_part(&Attachment {
            content_type: "application/octet-stream".to_owned(),
            ..a.clone()
        });
    }
    let content_type = ContentType::parse(&a.content_type)
        .unwrap_or(ContentType::parse("application/octet-stream").expect("a valid type"));
    SinglePart::builder()
        .header(content_type)
        .header(ContentDisposition::attachment(&header_text(&a.name, 120)))
        .body(
            Body::new_with_encoding(a.bytes.clone(), ContentTransferEncoding::Base64)
                .expect("base64 takes any bytes"),
        )
}

enum Inner {
    Single(SinglePart),
    Multi(MultiPart),
}

impl Inner {
    fn formatted(&self) -> Vec<u8> {
        match self {
            Inner::Single(p) => p.formatted(),
            Inner::Multi(p) => p.formatted(),
        }
    }
}

/// The Subject an encrypted mail shows outside its ciphertext. Relays and
/// mail logs see every outer header; the real one travels inside.
pub const OBSCURED_SUBJECT: &str = "[EMBARGOED] encrypted mail";

/// The RFC 5322 bytes of a PGP/MIME mail (RFC 3156): the text and its
/// attachments in one part, signed by the list key (multipart/signed), or
/// signed and encrypted to one recipient (multipart/encrypted).
///
/// An encrypted mail protects its headers as RFC 9788 says: the encrypted
/// part starts with a copy of the real header fields (`hp="cipher"`, and
/// `protected-headers="v1"` for clients that read the earlier convention,
/// Thunderbird among them) and its outer Subject is [`OBSCURED_SUBJECT`].
pub fn sealed(
    h: &Headers<'_>,
    text: &str,
    attachments: &[Attachment],
    sealer: &dyn Sealer,
    key: KeyPublication<'_>,
    seal: Seal<'_>,
) -> Result<Vec<u8>, MimeError> {
    let mut files: Vec<Attachment> = attachments.to_vec();
    if key.attach {
        files.push(Attachment {
            name: format!("{}.asc", sealer.fingerprint()),
            content_type: "application/pgp-keys".to_owned(),
            bytes: sealer.public_key(),
        });
    }
    let encrypted = matches!(
        seal,
        Seal::SignAndEncryptTo(_) | Seal::SignAndEncryptToCert(_)
    );
    let inner = if files.is_empty() && !encrypted {
        Inner::Single(text_part(text))
    } else {
        let mut m = MultiPart::mixed().singlepart(text_part(text));
        for f in &files {
            m = m.singlepart(attachment_part(f));
        }
        Inner::Multi(m)
    };
    let inner = match inner {
        Inner::Multi(m) if encrypted => Inner::Multi(protect_headers(m, h, key, sealer)?),
        other => other,
    };
    let entity = inner.formatted();
    let body = match seal {
        Seal::Sign => {
            let sig = sealer.sign(signed_bytes(&entity), h.date)?;
            signed_multipart(inner, sig)
        }
        Seal::SignAndEncryptTo(_) | Seal::SignAndEncryptToCert(_) => {
            let ciphertext = match seal {
                Seal::SignAndEncryptToCert(cert) => {
                    sealer.encrypt_to_cert(&entity, cert, h.date)?
                }
                Seal::SignAndEncryptTo(recipient) => sealer.encrypt(&entity, recipient, h.date)?,
                Seal::Sign => unreachable!("matched above"),
            };
            MultiPart::encrypted("application/pgp-encrypted".to_owned())
                .singlepart(
                    SinglePart::builder()
                        .header(
                            ContentType::parse("application/pgp-encrypted").expect("a valid type"),
                        )
                        .header(ContentTransferEncoding::SevenBit)
                        .body("Version: 1\r\n".to_owned()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(
                            ContentType::parse("application/octet-stream; name=\"encrypted.asc\"")
                                .expect("a valid type"),
                        )
                        .header(ContentDisposition::inline_with_name("encrypted.asc"))
                        .header(ContentTransferEncoding::SevenBit)
                        .body(crlf(&ciphertext)),
                )
        }
    };
    let subject = if encrypted {
        OBSCURED_SUBJECT.to_owned()
    } else {
        header_text(h.subject, 200)
    };
    Ok(envelope(h, &subject, key, sealer)?
        .multipart(body)?
        .formatted())
}

/// The header fields of a mail, as its outer headers or, inside an
/// encrypted one, as its protected copy: one builder for both, so that
/// what a reader's client shows is what was sent.
fn envelope(
    h: &Headers<'_>,
    subject: &str,
    key: KeyPublication<'_>,
    sealer: &dyn Sealer,
) -> Result<lettre::message::MessageBuilder, MimeError> {
    let mut b = Message::builder()
        .from(mailbox(&h.from)?)
        .subject(subject)
        .message_id(Some(format!("<{}>", h.message_id)))
        .date(std::time::SystemTime::try_from(h.date).unwrap_or(std::time::SystemTime::UNIX_EPOCH))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            h.auto_submitted.to_owned(),
        ))
        // Asks Exchange and friends not to answer with out-of-office mail.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
            "All".to_owned(),
        ))
        // draft-josefsson-openpgp-mailnews-header: which key signs this list's mail.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("OpenPGP"),
            match key.url {
                Some(url) => format!("id={}; url={}", sealer.fingerprint(), header_text(url, 300)),
                None => format!("id={}", sealer.fingerprint()),
            },
        ));
    for to in &h.to {
        b = b.to(mailbox(to)?);
    }
    if let Some(reply_to) = h.reply_to {
        b = b.reply_to(mailbox(&Party {
            name: None,
            email: reply_to,
        })?);
    }
    if let Some(id) = h.in_reply_to.and_then(clean_id) {
        b = b.in_reply_to(id);
    }
    // The last few ancestors are enough to thread; a huge header is not.
    let refs: Vec<String> = h
        .references
        .iter()
        .rev()
        .take(20)
        .rev()
        .filter_map(|r| clean_id(r))
        .collect();
    if !refs.is_empty() {
        b = b.references(refs.join(" "));
    }
    Ok(b)
}

/// Gives the part to be encrypted the real header fields, marks it as
/// their protected copy, and records the Subject shown outside
/// (`HP-Outer`), so a client can tell what was hidden and from what.
fn protect_headers(
    mut part: MultiPart,
    h: &Headers<'_>,
    key: KeyPublication<'_>,
    sealer: &dyn Sealer,
) -> Result<MultiPart, MimeError> {
    let real = envelope(h, &header_text(h.subject, 200), key, sealer)?.body(String::new())?;
    let boundary = part.boundary();
    let headers = part.headers_mut();
    // What a reader's client shows in place of the outer fields (RFC 9788,
    // section 2). `Auto-Submitted` and `OpenPGP` say nothing embargoed and
    // stay outside only. Typed, so each is encoded as its kind needs.
    fn copy<H: lettre::message::header::Header>(from: &HeaderMap, to: &mut HeaderMap) {
        if let Some(value) = from.get::<H>() {
            to.set(value);
        }
    }
    let from = real.headers();
    copy::<header::From>(from, headers);
    copy::<header::To>(from, headers);
    copy::<header::ReplyTo>(from, headers);
    copy::<header::Subject>(from, headers);
    copy::<header::Date>(from, headers);
    copy::<header::MessageId>(from, headers);
    copy::<header::InReplyTo>(from, headers);
    copy::<header::References>(from, headers);
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("HP-Outer"),
        format!("Subject: {OBSCURED_SUBJECT}"),
    ));
    headers.set(
        ContentType::parse(&format!(
            "multipart/mixed; boundary=\"{boundary}\"; protected-headers=\"v1\"; hp=\"cipher\""
        ))
        .expect("a valid type"),
    );
    Ok(part)
}

/// The signed bytes of a part: the part as it appears between the
/// boundaries, without the CRLF that belongs to the next one.
fn signed_bytes(entity: &[u8]) -> &[u8] {
    entity.strip_suffix(b"\r\n").unwrap_or(entity)
}

/// RFC 3156's `multipart/signed`: the part, then its detached signature.
fn signed_multipart(inner: Inner, sig: crate::crypto::Detached) -> MultiPart {
    let signature = SinglePart::builder()
        .header(
            ContentType::parse("application/pgp-signature; name=\"signature.asc\"")
                .expect("a valid type"),
        )
        .header(ContentDisposition::attachment("signature.asc"))
        .header(ContentTransferEncoding::SevenBit)
        .body(crlf(&sig.armored));
    let outer = MultiPart::signed("application/pgp-signature".to_owned(), sig.micalg);
    match inner {
        Inner::Single(p) => outer.singlepart(p),
        Inner::Multi(p) => outer.multipart(p),
    }
    .singlepart(signature)
}

/// The header fields of a command mail an SRC member sends the list.
pub struct MemberHeaders<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    /// Without angle brackets.
    pub message_id: &'a str,
    pub date: Timestamp,
}

/// A member's PGP/MIME command mail (RFC 3156): the text and the
/// attachments in one signed part, whose own Subject, From and To are
/// signed too (protected headers, as Thunderbird writes them), so the
/// signed part names the incident and this list. `sign` makes a detached
/// signature over the bytes it is given, with the member's own key.
pub fn member_signed(
    h: &MemberHeaders<'_>,
    text: &str,
    attachments: &[Attachment],
    sign: impl FnOnce(&[u8]) -> Result<crate::crypto::Detached, CryptoError>,
) -> Result<Vec<u8>, MimeError> {
    let from = Mailbox::from_str(h.from).map_err(|_| MimeError::Address(h.from.to_owned()))?;
    let to = Mailbox::from_str(h.to).map_err(|_| MimeError::Address(h.to.to_owned()))?;
    let subject = header_text(h.subject, 200);
    let mut part = MultiPart::mixed().singlepart(text_part(text));
    for a in attachments {
        part = part.singlepart(attachment_part(a));
    }
    let boundary = part.boundary();
    let headers = part.headers_mut();
    headers.set(header::From::from(lettre::message::Mailboxes::from(
        from.clone(),
    )));
    headers.set(header::To::from(lettre::message::Mailboxes::from(
        to.clone(),
    )));
    headers.set(header::Subject::from(subject.clone()));
    headers.set(
        ContentType::parse(&format!(
            "multipart/mixed; boundary=\"{boundary}\"; protected-headers=\"v1\""
        ))
        .expect("a valid type"),
    );
    let entity = Inner::Multi(part);
    let sig = sign(signed_bytes(&entity.formatted()))?;
    let body = signed_multipart(entity, sig);
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<{}>", h.message_id)))
        .date(std::time::SystemTime::try_from(h.date).unwrap_or(std::time::SystemTime::UNIX_EPOCH))
        .multipart(body)?
        .formatted())
}

/// Armor uses LF; a mail body uses CRLF.
fn crlf(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_is_one_bounded_line() {
        assert_eq!(header_text("a\r\nBcc: x@evil\tb", 100), "a Bcc: x@evil b");
        assert_eq!(header_text("éééé", 2), "éé…");
        assert_eq!(header_text("  ", 10), "");
    }

    #[test]
    fn junk_ids_are_dropped() {
        assert_eq!(clean_id("a@b"), Some("<a@b>".into()));
        assert_eq!(clean_id("a b@c"), None);
        assert_eq!(clean_id("a>\r\nBcc: x@y"), None);
        assert_eq!(clean_id(""), None);
    }
}
