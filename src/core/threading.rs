//! Threading: which incident a mail belongs to.
//!
//! A mail joins an incident when its own Message-ID, its In-Reply-To or its
//! References reach a message already filed there (inbound, or one the
//! service sent) or referred to by mail filed there, when mail filed there
//! refers to the mail itself (its reply came first), or when its subject
//! carries the tag of an existing incident. Otherwise it opens a new
//! incident. So the order mail arrives in does not split a thread.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::inbound::Inbound;
use super::incident_id::{IncidentId, tags_in_subject};

/// What the store knows about the ids a mail mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Message-ID → the incident it is filed on.
    pub messages: HashMap<String, IncidentId>,
    /// Message-ID → the incident of filed mail that refers to it, for ids
    /// not filed themselves.
    pub referenced: HashMap<String, IncidentId>,
    /// Those of the subject's tags that name an existing incident.
    pub incidents: HashSet<IncidentId>,
}

/// Why a mail joined an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "via", content = "id", rename_all = "kebab-case")]
pub enum Via {
    /// Its own Message-ID is already filed: a copy of a mail sent by the
    /// service came back, or a sender reused a Message-ID.
    MessageId(String),
    InReplyTo(String),
    References(String),
    SubjectTag(IncidentId),
    /// Mail already filed refers to this one: its reply arrived first.
    ReferencedBy(String),
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Via::MessageId(id) => write!(f, "its Message-ID <{id}> is already filed"),
            Via::InReplyTo(id) => write!(f, "In-Reply-To <{id}>"),
            Via::References(id) => write!(f, "References <{id}>"),
            Via::SubjectTag(id) => write!(f, "subject tag {}", id.tag()),
            Via::ReferencedBy(id) => write!(f, "filed mail refers to its Message-ID <{id}>"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Join(IncidentId, Via),
    Open,
}

/// Every Message-ID the store must look up to place this mail.
pub fn mentioned_ids(mail: &Inbound) -> Vec<String> {
    let mut ids = vec![mail.message_id.clone()];
    for id in mail.in_reply_to.iter().chain(&mail.references) {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

/// How many of a mail's nearest ancestors are remembered as leading to its
/// incident: enough for any real thread, bounded for a hostile one.
const REFERRED: usize = 32;

/// The ids a filed mail refers to, nearest first: In-Reply-To, then the
/// References from the last.
pub fn referred(mail: &Inbound) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for id in mail.in_reply_to.iter().chain(mail.references.iter().rev()) {
        if out.len() == REFERRED {
            break;
        }
        if id != &mail.message_id && !out.contains(&id.as_str()) {
            out.push(id);
        }
    }
    out
}

/// The subject tags to look up.
pub fn mentioned_tags(mail: &Inbound, prefix: &str) -> Vec<IncidentId> {
    tags_in_subject(&mail.subject, prefix)
}

/// Places a mail. The explicit thread headers win over the subject: a reply
/// whose subject was edited still belongs where its parent is. Among the
/// References, the nearest ancestor (the last one) wins.
pub fn place(mail: &Inbound, prefix: &str, known: &Known) -> Placement {
    let lookup = |id: &String| {
        known
            .messages
            .get(id)
            .or_else(|| known.referenced.get(id))
            .cloned()
    };
    if let Some(inc) = known.messages.get(&mail.message_id) {
        return Placement::Join(inc.clone(), Via::MessageId(mail.message_id.clone()));
    }
    for id in &mail.in_reply_to {
        if let Some(inc) = lookup(id) {
            return Placement::Join(inc, Via::InReplyTo(id.clone()));
        }
    }
    for id in mail.references.iter().rev() {
        if let Some(inc) = lookup(id) {
            return Placement::Join(inc, Via::References(id.clone()));
        }
    }
    if let Some(inc) = known.referenced.get(&mail.message_id) {
        return Placement::Join(inc.clone(), Via::ReferencedBy(mail.message_id.clone()));
    }
    for tag in mentioned_tags(mail, prefix) {
        if known.incidents.contains(&tag) {
            return Placement::Join(tag.clone(), Via::SubjectTag(tag));
        }
    }
    Placement::Open
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::{AutoReplyHeaders, TextSource};

    fn mail(id: &str, in_reply_to: &[&str], references: &[&str], subject: &str) -> Inbound {
        Inbound {
            message_id: id.into(),
            message_id_synthesized: false,
            in_reply_to: in_reply_to.iter().map(|s| s.to_string()).collect(),
            references: references.iter().map(|s| s.to_string()).collect(),
            from: None,
            to: vec![],
            cc: vec![],
            subject: subject.into(),
            date: None,
            text: String::new(),
            text_source: TextSource::None,
            attachments: vec![],
            auto_reply: AutoReplyHeaders::default(),
            problems: vec![],
            signature: crate::core::signature::SignatureStatus::Unsigned,
            signed: None,
            encryption: crate::core::signature::Encryption::None,
            sender_key: None,
            bounce: None,
            body_digest: String::new(),
            raw: vec![],
        }
    }

    fn inc(n: u32) -> IncidentId {
        IncidentId::new("EMB", 2026, n).unwrap()
    }

    fn known(messages: &[(&str, u32)], incidents: &[u32]) -> Known {
        Known {
            messages: messages
                .iter()
                .map(|(m, n)| (m.to_string(), inc(*n)))
                .collect(),
            incidents: incidents.iter().map(|n| inc(*n)).collect(),
            referenced: Default::default(),
        }
    }

    #[test]
    fn table() {
        let k = known(
            &[("report-1@x", 1), ("ack-1@embargo", 1), ("report-2@x", 2)],
            &[1, 2],
        );
        let cases: Vec<(&str, Inbound, Placement)> = vec![
            (
                "a new report",
                mail("new@x", &[], &[], "crash in parser"),
                Placement::Open,
            ),
            (
                "a reply with only In-Reply-To",
                mail("r@x", &["report-1@x"], &[], "Re: crash"),
                Placement::Join(inc(1), Via::InReplyTo("report-1@x".into())),
            ),
            (
                "a reply with only References",
                mail("r@x", &[], &["report-2@x"], "Re: other"),
                Placement::Join(inc(2), Via::References("report-2@x".into())),
            ),
            (
                "a reply to the service's acknowledgement",
                mail(
                    "r@x",
                    &["ack-1@embargo"],
                    &["report-1@x", "ack-1@embargo"],
                    "Re: ack",
                ),
                Placement::Join(inc(1), Via::InReplyTo("ack-1@embargo".into())),
            ),
            (
                "the nearest known ancestor wins",
                mail(
                    "r@x",
                    &[],
                    &["report-1@x", "unknown@x", "report-2@x"],
                    "Re:",
                ),
                Placement::Join(inc(2), Via::References("report-2@x".into())),
            ),
            (
                "broken References fall back to the subject tag",
                mail(
                    "r@x",
                    &["lost@x"],
                    &["<garbage"],
                    "Re: [EMB-2026-0002] details",
                ),
                Placement::Join(inc(2), Via::SubjectTag(inc(2))),
            ),
            (
                "a tag for an incident that does not exist opens a new one",
                mail("r@x", &[], &[], "[EMB-2026-0099] forged"),
                Placement::Open,
            ),
            (
                "another project's tag is not ours",
                mail("r@x", &[], &[], "[ABC-2026-0001] theirs"),
                Placement::Open,
            ),
            (
                "headers win over an edited subject",
                mail("r@x", &["report-1@x"], &[], "Re: [EMB-2026-0002] moved?"),
                Placement::Join(inc(1), Via::InReplyTo("report-1@x".into())),
            ),
            (
                "the service's own mail coming back",
                mail(
                    "ack-1@embargo",
                    &["report-1@x"],
                    &[],
                    "[EMB-2026-0001] Re: crash",
                ),
                Placement::Join(inc(1), Via::MessageId("ack-1@embargo".into())),
            ),
        ];
        for (what, m, want) in cases {
            assert_eq!(place(&m, "EMB", &k), want, "{what}");
        }
    }

    #[test]
    fn mentioned_ids_are_unique_and_start_with_the_own_id() {
        let m = mail("a@x", &["b@x"], &["c@x", "b@x"], "");
        assert_eq!(mentioned_ids(&m), ["a@x", "b@x", "c@x"]);
    }
}
