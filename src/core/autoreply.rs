//! When the service must not answer a mail automatically (RFC 3834), and the
//! per-sender rate limit on acknowledgements.

use jiff::{SignedDuration, Timestamp};

use super::inbound::{AutoReplyHeaders, Mailbox};
use super::sender_auth::Unauthenticated;

/// Why an acknowledgement was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Withhold {
    AutoSubmitted(String),
    /// An auto-responder's own mark (`X-Autoreply`, `X-Autorespond`),
    /// from before RFC 3834 and still written.
    Responder(String),
    Precedence(String),
    ListId(String),
    Bounce,
    RoleSender(String),
    NoSender,
    OwnAddress(String),
    Undeliverable(String),
    RateLimited {
        last: Timestamp,
    },
    /// The receiving server marked it as spam.
    Spam(String),
    Unauthenticated(Unauthenticated),
}

impl std::fmt::Display for Withhold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Withhold::AutoSubmitted(v) => write!(f, "Auto-Submitted: {v} (RFC 3834)"),
            Withhold::Responder(v) => write!(f, "{v}: an auto-responder's mail"),
            Withhold::Precedence(v) => write!(f, "Precedence: {v} (RFC 3834)"),
            Withhold::ListId(v) => write!(f, "mailing-list mail, List-Id: {v} (RFC 3834)"),
            Withhold::Bounce => f.write_str("a bounce: empty Return-Path (RFC 3834)"),
            Withhold::RoleSender(a) => write!(f, "automated sender {a} (RFC 3834)"),
            Withhold::NoSender => f.write_str("no From address to answer"),
            Withhold::OwnAddress(a) => write!(f, "sent from the service's own address {a}"),
            Withhold::Undeliverable(a) => write!(f, "the address {a:?} cannot be written to"),
            Withhold::Spam(verdict) => write!(f, "marked as spam by the mail server ({verdict})"),
            Withhold::Unauthenticated(why) => write!(f, "{why}"),
            Withhold::RateLimited { last } => write!(
                f,
                "rate limit: this sender was already acknowledged at {}",
                last.strftime("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}

/// Local parts that belong to machines, not people.
const ROLE_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "no-reply",
    "noreply",
    "no_reply",
    "do-not-reply",
    "donotreply",
    "do_not_reply",
    "bounce",
    "bounces",
];

fn is_role_sender(from: &Mailbox) -> bool {
    let local = from.local_part().to_ascii_lowercase();
    // VERP and sub-addressing: bounces+abc@, no-reply-123@.
    let base = local
        .split(['+', '='])
        .next()
        .unwrap_or(&local)
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-');
    ROLE_LOCAL_PARTS.contains(&local.as_str()) || ROLE_LOCAL_PARTS.contains(&base)
}

/// The first RFC 3834 reason not to answer this mail, if any.
pub fn automated(
    headers: &AutoReplyHeaders,
    from: Option<&Mailbox>,
    own_addresses: &[String],
) -> Option<Withhold> {
    if let Some(v) = &headers.auto_submitted {
        // The keyword may carry parameters: `auto-replied; owner-email=...`.
        let keyword = v.split(';').next().unwrap_or("").trim();
        if !keyword.eq_ignore_ascii_case("no") {
            return Some(Withhold::AutoSubmitted(v.trim().to_owned()));
        }
    }
    if let Some(name) = &headers.responder {
        return Some(Withhold::Responder(name.clone()));
    }
    if let Some(v) = &headers.precedence {
        let p = v.trim().to_ascii_lowercase();
        // `auto_reply`: Exchange's and many vacation programs' word.
        if matches!(p.as_str(), "bulk" | "list" | "junk" | "auto_reply") {
            return Some(Withhold::Precedence(p));
        }
    }
    if let Some(v) = &headers.list_id {
        return Some(Withhold::ListId(v.trim().to_owned()));
    }
    if let Some(rp) = &headers.return_path
        && rp
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .is_empty()
    {
        return Some(Withhold::Bounce);
    }
    let Some(from) = from.filter(|f| f.email.contains('@')) else {
        return Some(Withhold::NoSender);
    };
    if own_addresses
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&from.email))
    {
        return Some(Withhold::OwnAddress(from.email.clone()));
    }
    if is_role_sender(from) {
        return Some(Withhold::RoleSender(from.email.clone()));
    }
    None
}

/// At most one acknowledgement per sender per `window`.
pub fn rate_limited(
    last: Option<Timestamp>,
    now: Timestamp,
    window: SignedDuration,
) -> Option<Withhold> {
    let last = last?;
    (now.duration_since(last) < window).then_some(Withhold::RateLimited { last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(
        auto: Option<&str>,
        prec: Option<&str>,
        list: Option<&str>,
        rp: Option<&str>,
    ) -> AutoReplyHeaders {
        AutoReplyHeaders {
            auto_submitted: auto.map(Into::into),
            precedence: prec.map(Into::into),
            list_id: list.map(Into::into),
            return_path: rp.map(Into::into),
            ..Default::default()
        }
    }

    fn who(email: &str) -> Mailbox {
        Mailbox::new(None, email)
    }

    #[test]
    fn rfc3834_table() {
        let own = vec!["security@example.org".to_owned()];
        let person = who("jane@researcher.example");
        let none = h(None, None, None, Some("<jane@researcher.example>"));
        let cases: Vec<(&str, AutoReplyHeaders, Mailbox, bool)> = vec![
            ("a person", none.clone(), person.clone(), false),
            (
                "Auto-Submitted: no",
                h(Some("no"), None, None, None),
                person.clone(),
                false,
            ),
            (
                "Auto-Submitted: No ; x=y",
                h(Some("No ; x=y"), None, None, None),
                person.clone(),
                false,
            ),
            (
                "auto-replied",
                h(Some("auto-replied"), None, None, None),
                person.clone(),
                true,
            ),
            (
                "auto-generated with params",
                h(Some("auto-generated; owner-email=a@b"), None, None, None),
                person.clone(),
                true,
            ),
            (
                "Precedence: bulk",
                h(None, Some("bulk"), None, None),
                person.clone(),
                true,
            ),
            (
                "Precedence: auto_reply",
                h(None, Some("auto_reply"), None, None),
                person.clone(),
                true,
            ),
            (
                "X-Autoreply",
                AutoReplyHeaders {
                    responder: Some("X-Autoreply".into()),
                    ..none.clone()
                },
                person.clone(),
                true,
            ),
            (
                "Precedence: LIST",
                h(None, Some(" LIST "), None, None),
                person.clone(),
                true,
            ),
            (
                "Precedence: junk",
                h(None, Some("junk"), None, None),
                person.clone(),
                true,
            ),
            (
                "Precedence: first-class",
                h(None, Some("first-class"), None, None),
                person.clone(),
                false,
            ),
            (
                "List-Id",
                h(None, None, Some("<dev.lists.example>"), None),
                person.clone(),
                true,
            ),
            (
                "empty Return-Path",
                h(None, None, None, Some("<>")),
                person.clone(),
                true,
            ),
            (
                "MAILER-DAEMON",
                none.clone(),
                who("MAILER-DAEMON@mx.example"),
                true,
            ),
            (
                "postmaster",
                none.clone(),
                who("postmaster@example.net"),
                true,
            ),
            ("noreply", none.clone(), who("noreply@github.com"), true),
            (
                "no-reply with digits",
                none.clone(),
                who("no-reply-42@x.example"),
                true,
            ),
            (
                "VERP bounces",
                none.clone(),
                who("bounces+abc=x.org@lists.example"),
                true,
            ),
            (
                "a person called noreen",
                none.clone(),
                who("noreen@x.example"),
                false,
            ),
            (
                "our own address",
                none.clone(),
                who("Security@Example.org"),
                true,
            ),
            (
                "no address at all",
                none.clone(),
                who("undisclosed-recipients"),
                true,
            ),
        ];
        for (what, headers, from, withheld) in cases {
            let got = automated(&headers, Some(&from), &own);
            assert_eq!(got.is_some(), withheld, "{what}: {got:?}");
        }
        assert_eq!(automated(&none, None, &own), Some(Withhold::NoSender));
    }

    #[test]
    fn one_acknowledgement_per_window() {
        let t0: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let hour = SignedDuration::from_hours(1);
        assert_eq!(rate_limited(None, t0, hour), None);
        let later = |s: i64| t0 + SignedDuration::from_secs(s);
        assert!(rate_limited(Some(t0), later(3599), hour).is_some());
        assert_eq!(rate_limited(Some(t0), later(3600), hour), None);
        assert_eq!(rate_limited(Some(t0), t0, SignedDuration::ZERO), None);
    }
}
