//! What `incidents`, `show` and `quarantine` print for people.

use std::fmt::Write;

use jiff::Timestamp;

use crate::keyring::{KeyReport, KnownKey};
use crate::pgp::CertInfo;
use crate::store::{IncidentRecord, IncidentSummary, StoredMessage};

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// Cuts to `max` characters, for table cells.
fn cell(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

pub fn incidents(list: &[IncidentSummary]) -> String {
    if list.is_empty() {
        return "No incidents yet.\n".to_owned();
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:<22} {:<20} {:>4}  {:<30} TITLE",
        "ID", "STATE", "OPENED", "MSGS", "REPORTER"
    );
    for s in list {
        let i = &s.incident;
        let reporter = i
            .reporter
            .as_ref()
            .map_or("(no sender)", |r| r.email.as_str());
        let _ = writeln!(
            o,
            "{:<16} {:<22} {:<20} {:>4}  {:<30} {}",
            i.id.to_string(),
            i.state.as_str(),
            utc(i.opened_at),
            s.messages,
            cell(reporter, 30),
            cell(&i.title, 60)
        );
    }
    o
}

/// The incidents filed as spam, with the header that marked each.
pub fn spam(list: &[IncidentSummary]) -> String {
    if list.is_empty() {
        return "No incident is filed as spam.\n".to_owned();
    }
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:<16} {:<20} {:<30} {:<40} TITLE",
        "ID", "OPENED", "SENDER", "MARKED BY"
    );
    for s in list {
        let i = &s.incident;
        let sender = i
            .reporter
            .as_ref()
            .map_or("(no sender)", |r| r.email.as_str());
        let marked = i.details.spam_marked_by.as_deref().unwrap_or("");
        let _ = writeln!(
            o,
            "{:<16} {:<20} {:<30} {:<40} {}",
            i.id.to_string(),
            utc(i.opened_at),
            cell(sender, 30),
            cell(marked, 40),
            cell(&i.title, 60)
        );
    }
    let _ = writeln!(
        o,
        "\n{} filed as spam. A real report among them: reply in its thread with a signed /not-spam <ID>.",
        list.len()
    );
    o
}

fn message(o: &mut String, n: usize, m: &StoredMessage) {
    let from = m
        .from
        .as_ref()
        .map_or_else(|| "(no sender)".to_owned(), ToString::to_string);
    let _ = writeln!(o, "\n  [{n}] {}  {from}", utc(m.received_at));
    let _ = writeln!(o, "      Subject: {}", m.subject);
    let synthesized = if m.synthesized_id {
        " (none in the mail; derived from its content)"
    } else {
        ""
    };
    let _ = writeln!(o, "      Message-ID: <{}>{synthesized}", m.message_id);
    match &m.joined_via {
        Some(via) => {
            let _ = writeln!(o, "      Joined by {via}");
        }
        None => {
            let _ = writeln!(o, "      Opened the incident");
        }
    }
    let _ = writeln!(
        o,
        "      Stored as row {} ({} bytes; `embargo raw {}` writes it out)",
        m.id, m.size, m.id
    );
    for a in &m.attachments {
        let _ = writeln!(
            o,
            "      Attachment: {} ({}, {} bytes)",
            a.name.as_deref().unwrap_or("(unnamed)"),
            a.content_type,
            a.size
        );
    }
    let _ = writeln!(o, "      Signature: {}", m.signature);
    match &m.encryption {
        crate::core::signature::Encryption::None => {}
        crate::core::signature::Encryption::Decrypted => {
            let _ = writeln!(
                o,
                "      Encrypted: decrypted with the list key (the stored mail keeps the ciphertext)"
            );
        }
        crate::core::signature::Encryption::Failed { detail } => {
            let _ = writeln!(o, "      Encrypted: could not be decrypted ({detail})");
        }
    }
    for p in &m.problems {
        let _ = writeln!(o, "      Problem: {p}");
    }
    let text = m.text.trim_end();
    if text.is_empty() {
        let _ = writeln!(o, "      (no readable text)");
    } else {
        o.push('\n');
        for line in text.lines() {
            let _ = writeln!(o, "      | {line}");
        }
    }
}

pub fn incident(r: &IncidentRecord) -> String {
    let i = &r.incident;
    let mut o = crate::core::status::status_text(i);
    let _ = writeln!(o, "\nMessages ({})", r.messages.len());
    for (n, m) in r.messages.iter().enumerate() {
        message(&mut o, n + 1, m);
    }

    let _ = writeln!(o, "\nTimeline");
    for e in &r.events {
        let _ = writeln!(
            o,
            "  {}  {:<26} {:<28} {}",
            utc(e.at),
            e.kind.as_str(),
            cell(&e.actor, 28),
            e.detail
        );
    }

    let _ = writeln!(o, "\nOutgoing mail");
    if r.outbox.is_empty() {
        let _ = writeln!(o, "  (none)");
    }
    for m in &r.outbox {
        let when = match (m.sent_at, &m.last_error) {
            // Bounced: the remote server's words are what matters.
            (_, Some(e)) if m.state == crate::store::OutboxState::Bounced => {
                format!("bounced {}: {e}", m.bounced_at.map(utc).unwrap_or_default())
            }
            (Some(t), _) => format!("sent {}", utc(t)),
            (None, Some(e)) => format!("{} after {} attempts: {e}", m.state.as_str(), m.attempts),
            (None, None) => format!("{}, due {}", m.state.as_str(), utc(m.due_at)),
        };
        let _ = writeln!(
            o,
            "  {:<16} to {}  ({when})",
            m.kind.as_str(),
            m.recipients.join(", ")
        );
        let _ = writeln!(o, "  {:<16} {}", "", m.subject);
    }
    o
}

pub fn quarantine(list: &[StoredMessage]) -> String {
    if list.is_empty() {
        return "Nothing is in quarantine.\n".to_owned();
    }
    let mut o = String::new();
    let _ = writeln!(o, "{:>6}  {:<20} {:>10}  WHY", "ROW", "RECEIVED", "BYTES");
    for m in list {
        let _ = writeln!(
            o,
            "{:>6}  {:<20} {:>10}  {}",
            m.id,
            utc(m.received_at),
            m.size,
            m.quarantine_reason.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        o,
        "\n`embargo raw ROW > mail.eml` writes one out, byte for byte."
    );
    o
}

fn key_state(info: &CertInfo) -> String {
    let mut s = Vec::new();
    if info.revoked {
        s.push("REVOKED");
    }
    if info.expired {
        s.push("EXPIRED");
    }
    if info.invalid.is_some() {
        s.push("INVALID");
    }
    if s.is_empty() {
        s.push("valid");
    }
    let mut out = s.join(", ");
    if info.can_sign {
        out.push_str(", signs");
    }
    if info.can_encrypt {
        out.push_str(", encrypts");
    }
    out
}

fn known(o: &mut String, title: &str, list: &[KnownKey]) {
    let _ = writeln!(o, "\n{title}");
    if list.is_empty() {
        let _ = writeln!(o, "  (none configured)");
    }
    for k in list {
        match (&k.key, &k.configured) {
            (Some(info), _) => {
                let _ = writeln!(
                    o,
                    "  {:<32} {}  {}",
                    k.email,
                    info.fingerprint,
                    key_state(info)
                );
            }
            (None, Some(fp)) => {
                let _ = writeln!(o, "  {:<32} {fp}  NO KEY FOUND", k.email);
            }
            (None, None) => {
                let _ = writeln!(o, "  {:<32} (no fingerprint, no key)", k.email);
            }
        }
    }
}

pub fn keys(r: &KeyReport) -> String {
    let mut o = String::new();
    let l = &r.list_key;
    let _ = writeln!(o, "The service signs with");
    let _ = writeln!(o, "  {}  {}", l.fingerprint, key_state(l));
    for uid in &l.userids {
        let _ = writeln!(o, "  {uid}");
    }
    known(
        &mut o,
        "Roster keys (signed commands are checked against these)",
        &r.members,
    );
    known(&mut o, "Release manager keys", &r.release_managers);
    known(&mut o, "Distributor keys", &r.distributors);
    o
}

/// How far a queued notice has gone: its outbox mails are
/// `<incident>/<key>` and `<incident>/<key>/<recipient>…`. `None` when
/// none is left to tell by.
pub fn delivery(incident: &str, key: &str, outbox: &[crate::store::OutboxMail]) -> Option<String> {
    use crate::store::OutboxState;
    let exact = format!("{incident}/{key}");
    let below = format!("{exact}/");
    let rows: Vec<_> = outbox
        .iter()
        .filter(|m| m.key == exact || m.key.starts_with(&below))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let n = rows.len();
    let sent = rows.iter().filter(|m| m.state == OutboxState::Sent).count();
    let failed = rows
        .iter()
        .filter(|m| m.state == OutboxState::Failed)
        .count();
    let bounced = rows
        .iter()
        .filter(|m| m.state == OutboxState::Bounced)
        .count();
    Some(if bounced > 0 {
        format!(
            "{} of {n} sent, {bounced} bounced, {failed} failed: see `embargo show {incident}`",
            sent + bounced
        )
    } else if failed > 0 {
        format!("{sent} of {n} sent, {failed} failed: see `embargo show {incident}`")
    } else if sent == n {
        let last = rows.iter().filter_map(|m| m.sent_at).max();
        last.map_or_else(|| "sent".to_owned(), |t| format!("sent {}", utc(t)))
    } else {
        format!("sending: {sent} of {n} sent")
    })
}

pub fn schedule(
    planned: &[(String, crate::core::timeline::Planned)],
    outbox: &[crate::store::OutboxMail],
    unreadable: &[(String, String)],
) -> String {
    let mut o = String::new();
    for (id, e) in unreadable {
        let _ = writeln!(
            o,
            "{id} cannot be read, so nothing of it is planned or sent until it is repaired: {e}"
        );
    }
    if planned.is_empty() {
        let _ = writeln!(o, "No open incident has notices planned.");
    } else {
        let _ = writeln!(
            o,
            "{:<16} {:<20} {:<22} {:<34} TO",
            "INCIDENT", "NOTICE", "WHEN", "STATE"
        );
        for (id, p) in planned {
            let when = p.at.map_or_else(|| "-".to_owned(), utc);
            let _ = writeln!(
                o,
                "{:<16} {:<20} {:<22} {:<34} {}",
                id, p.notice, when, p.state, p.to
            );
        }
    }
    let _ = writeln!(o, "\nOutbox: {} mail(s) waiting to be sent", outbox.len());
    for m in outbox {
        let _ = writeln!(
            o,
            "  {:<16} due {}  {:<8} to {}",
            m.kind.as_str(),
            utc(m.due_at),
            m.state.as_str(),
            m.recipients.join(", ")
        );
    }
    o
}
