//! Assembles a plain-text mail. Header values are built from values, never
//! from template text, and everything that came from a reporter is cleaned
//! first: nothing they write can add a header or a recipient.

use std::str::FromStr;

use jiff::Timestamp;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};
use lettre::{Address, Message};

#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("{0:?} is not an address that mail can be sent to")]
    Address(String),
    #[error("cannot build the mail: {0}")]
    Build(#[from] lettre::error::Error),
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

/// The RFC 5322 bytes of a plain-text, quoted-printable mail.
pub fn plain_text(h: &Headers<'_>, body: &str) -> Result<Vec<u8>, MimeError> {
    let mut b = Message::builder()
        .from(mailbox(&h.from)?)
        .subject(header_text(h.subject, 200))
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
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(body.to_owned());
    Ok(b.singlepart(part)?.formatted())
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
