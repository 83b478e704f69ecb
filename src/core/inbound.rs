//! The message model: what the pipeline knows about one inbound mail.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::incident::Patch;
use super::signature::{Encryption, SignatureStatus};

/// A name and an address, as written in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub name: Option<String>,
    pub email: String,
}

impl Mailbox {
    pub fn new(name: Option<&str>, email: &str) -> Self {
        Mailbox {
            name: name.map(str::to_owned).filter(|n| !n.trim().is_empty()),
            email: email.trim().to_owned(),
        }
    }

    /// Addresses compare case-insensitively: `Alice@Example.org` and
    /// `alice@example.org` are one sender for rate limits and rosters.
    pub fn key(&self) -> String {
        self.email.to_ascii_lowercase()
    }

    pub fn local_part(&self) -> &str {
        self.email.rsplit_once('@').map_or(&self.email, |(l, _)| l)
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} <{}>", self.email),
            None => f.write_str(&self.email),
        }
    }
}

/// One attachment, described; its bytes stay in the raw message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: u64,
}

/// Where the readable text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextSource {
    Plain,
    Html,
    None,
}

impl TextSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TextSource::Plain => "plain",
            TextSource::Html => "html",
            TextSource::None => "none",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "plain" => TextSource::Plain,
            "html" => TextSource::Html,
            _ => TextSource::None,
        }
    }
}

/// The headers RFC 3834 asks an auto-responder to look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoReplyHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: Option<String>,
    /// The name of an auto-responder's own header (`X-Autoreply`,
    /// `X-Autorespond`) when the mail carries one.
    #[serde(default)]
    pub responder: Option<String>,
    /// The Return-Path as written; `<>` marks a bounce.
    pub return_path: Option<String>,
    /// What the receiving server found: sender authentication and spam.
    #[serde(default)]
    pub verdicts: super::sender_auth::AuthHeaders,
}

/// What a valid signature covers, read once from exactly the bytes it
/// signed: the only place a command, the text under `/approve`, a patch or
/// a protected Subject is taken from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignedContent {
    pub text: String,
    /// The Subject header inside the signed part (protected headers).
    pub subject: Option<String>,
    /// The To and Cc addresses inside the signed part, lower-case: whom
    /// the signer wrote to, when their mailer protects those headers
    /// (`None` when it does not).
    pub addressed_to: Option<Vec<String>>,
    /// Patch files attached inside the signed part (`*.patch`, `*.diff`).
    pub patches: Vec<Patch>,
}

/// Where a sender's key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// An `Autocrypt:` header (`addr=…; keydata=…`).
    Autocrypt,
    /// An attached `application/pgp-keys` part.
    Attached,
}

/// The sender's own OpenPGP certificate, sent with their mail: a user id
/// (and for Autocrypt, the `addr`) names their From address, and sequoia
/// read it. Mail to them may be encrypted to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderKey {
    pub fingerprint: String,
    /// The public certificate, armored.
    pub armored: String,
    pub source: KeySource,
    /// When it stops being usable, if it expires: the primary key's expiry.
    pub expires_at: Option<Timestamp>,
    /// When the last of its encryption subkeys that could be used when it
    /// was read stops being usable; `None` when one of them never expires.
    /// A subkey can expire while the primary key does not: then nothing
    /// can be encrypted to the key, though the key itself is alive.
    /// (A key recorded before this was read has `None`; the composer still
    /// refuses to send in clear an answer that was to be encrypted.)
    #[serde(default)]
    pub encryption_expires_at: Option<Timestamp>,
    /// Why mail cannot be encrypted to it (revoked, no encryption subkey),
    /// when it was read; `None` when it can be.
    pub unusable: Option<String>,
}

impl SenderKey {
    /// Whether mail can be encrypted to it at `now`; otherwise why not.
    pub fn usable_at(&self, now: Timestamp) -> Result<(), String> {
        if let Some(why) = &self.unusable {
            return Err(why.clone());
        }
        let utc = |at: Timestamp| at.strftime("%Y-%m-%d %H:%M UTC").to_string();
        match (self.expires_at, self.encryption_expires_at) {
            (Some(at), _) if at <= now => Err(format!("it expired on {}", utc(at))),
            (_, Some(at)) if at <= now => {
                Err(format!("its encryption subkey expired on {}", utc(at)))
            }
            _ => Ok(()),
        }
    }
}

/// One inbound mail, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Without angle brackets.
    pub message_id: String,
    /// True when the mail had no Message-ID and one was derived from its content.
    pub message_id_synthesized: bool,
    pub in_reply_to: Vec<String>,
    /// Oldest first, as in the header.
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    /// The Date header; untrusted, for display only.
    pub date: Option<Timestamp>,
    pub text: String,
    pub text_source: TextSource,
    pub attachments: Vec<Attachment>,
    pub auto_reply: AutoReplyHeaders,
    /// What could not be read, for the people who look at it.
    pub problems: Vec<String>,
    /// Who signed it, as far as the roster's keys can tell.
    pub signature: SignatureStatus,
    /// What a valid signature covers, when it covers the whole mail.
    pub signed: Option<SignedContent>,
    pub encryption: Encryption,
    /// The sender's own key, from an `Autocrypt:` header or an attached
    /// `application/pgp-keys` part, when it names the From address.
    pub sender_key: Option<SenderKey>,
    /// A bounce (a delivery status report, or mail to an outbox mail's
    /// return path): read once here, so no decision reads the bytes again.
    pub bounce: Option<super::bounce::BounceReport>,
    /// SHA-256 of the body bytes (after the header block): two deliveries of
    /// one mail differ in their Received headers, not in this.
    pub body_digest: String,
    /// The bytes as delivered: the report is evidence.
    pub raw: Vec<u8>,
}

impl SignedContent {
    /// Whether the signer wrote it to one of `own` (the list's addresses),
    /// as far as the signed part says: a mail without protected To/Cc
    /// does not say otherwise.
    pub fn written_to(&self, own: &[String]) -> bool {
        self.addressed_to.as_ref().is_none_or(|to| {
            to.iter()
                .any(|a| own.iter().any(|o| o.eq_ignore_ascii_case(a)))
        })
    }
}

impl Inbound {
    /// Where commands are read from: the signed text when a signature
    /// covers the whole mail; otherwise the mail's text, whose commands can
    /// only be refused.
    pub fn command_text(&self) -> &str {
        match (&self.signature, &self.signed) {
            (SignatureStatus::Valid(_), Some(signed)) => &signed.text,
            // Valid, but what it covers was not read: nothing to apply.
            (SignatureStatus::Valid(_), None) => "",
            _ => &self.text,
        }
    }
}
