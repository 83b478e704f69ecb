//! What deciding about a batch of mail needs from the store, asked for
//! once per batch and kept current in memory as each mail of the batch is
//! decided, in order: a reply in the same batch as its report joins it,
//! incident numbers follow one another, an acknowledgement counts for the
//! rate limit of the next mail, a signature seen is spent for the rest.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;

use super::command::{self, Command};
use super::command_mail::CommandFacts;
use super::inbound::Inbound;
use super::incident::Incident;
use super::incident_id::IncidentId;
use super::intake::{IntakeContext, year_of};
use super::threading::{self, Known, Placement};

/// What to ask the store for a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchQuery {
    /// (Message-ID, body digest) of each mail: stored already?
    pub stored: Vec<(String, String)>,
    /// Every Message-ID the mails mention: where is it filed or referenced?
    pub mentioned_ids: Vec<String>,
    /// Incidents named by subject tags and commands: do they exist, and
    /// how do they stand?
    pub incidents: Vec<IncidentId>,
    /// Senders, for the acknowledgement rate limit.
    pub senders: Vec<String>,
    pub prefix: String,
    /// The years new incidents would be numbered in.
    pub years: Vec<i16>,
    /// Replay keys of the signatures the mails carry.
    pub signatures: Vec<String>,
    /// Return-path tokens bounces came to: which outbox mail is each?
    pub bounce_tokens: Vec<String>,
    /// Message-IDs bounces return: which outbox mail has each?
    pub bounced_ids: Vec<String>,
}

impl BatchQuery {
    /// The question for `mails`, which may also quarantine mail with the
    /// (Message-ID, digest) pairs in `unreadable`.
    pub fn for_mails(
        mails: &[&Inbound],
        unreadable: &[(String, String)],
        prefix: &str,
        now: Timestamp,
    ) -> BatchQuery {
        let mut q = BatchQuery {
            prefix: prefix.to_owned(),
            years: vec![year_of(now)],
            stored: unreadable.to_vec(),
            ..BatchQuery::default()
        };
        let mut ids = HashSet::new();
        let mut incidents = HashSet::new();
        let mut senders = HashSet::new();
        for mail in mails {
            q.stored
                .push((mail.message_id.clone(), mail.body_digest.clone()));
            for id in threading::mentioned_ids(mail) {
                if ids.insert(id.clone()) {
                    q.mentioned_ids.push(id);
                }
            }
            for tag in threading::mentioned_tags(mail, prefix)
                .into_iter()
                .chain(named_incidents(mail, prefix))
            {
                if incidents.insert(tag.clone()) {
                    q.incidents.push(tag);
                }
            }
            if let Some(from) = &mail.from
                && senders.insert(from.key())
            {
                q.senders.push(from.key());
            }
            if let Some(made) = mail.signature.made() {
                q.signatures.extend(made.digests().cloned());
            }
            if let Some(b) = &mail.bounce {
                q.bounce_tokens.extend(b.token.clone());
                q.bounced_ids.extend(
                    b.report
                        .as_ref()
                        .and_then(|r| r.original_message_id.clone()),
                );
            }
        }
        q
    }
}

/// Incidents a mail's commands name (`/duplicate ID`): they must exist.
fn named_incidents(mail: &Inbound, prefix: &str) -> Vec<IncidentId> {
    let (commands, _) = command::parse(mail.command_text(), prefix);
    commands
        .into_iter()
        .filter_map(|c| match c.command {
            Command::Duplicate { of } => Some(of),
            _ => None,
        })
        .collect()
}

/// The store's answer, then kept current through the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// (Message-ID, body digest) of every mail stored.
    pub stored: HashSet<(String, String)>,
    /// Message-ID → incident, for mail filed or sent on it.
    pub links: HashMap<String, IncidentId>,
    /// Message-ID → incident, for ids that filed mail refers to but that
    /// are not filed themselves (a parent that has not arrived yet).
    pub refs: HashMap<String, IncidentId>,
    /// The incidents asked about that exist, as they stand.
    pub incidents: HashMap<IncidentId, Incident>,
    /// The next free incident number in each year asked about.
    pub next_seq: HashMap<i16, u32>,
    /// The last acknowledgement to each sender asked about.
    pub last_ack: HashMap<String, Timestamp>,
    /// Replay keys of signatures already seen.
    pub spent: HashSet<String>,
    pub last_lead: Option<String>,
    /// Outbox mail the batch's bounces name, by token or Message-ID.
    pub sent: Vec<super::bounce::SentMail>,
}

impl Batch {
    /// What deciding about `mail` needs, from what is known now.
    pub fn context(&self, mail: &Inbound, prefix: &str, now: Timestamp) -> IntakeContext {
        let mut known = Known::default();
        for id in threading::mentioned_ids(mail) {
            if let Some(inc) = self.links.get(&id) {
                known.messages.insert(id, inc.clone());
            } else if let Some(inc) = self.refs.get(&id) {
                known.referenced.insert(id, inc.clone());
            }
        }
        for tag in threading::mentioned_tags(mail, prefix) {
            if self.incidents.contains_key(&tag) {
                known.incidents.insert(tag);
            }
        }
        let target = match threading::place(mail, prefix, &known) {
            Placement::Join(id, _) => self.incidents.get(&id).cloned(),
            Placement::Open => None,
        };
        let sent: Vec<super::bounce::SentMail> = mail.bounce.as_ref().map_or_else(Vec::new, |b| {
            let original = b
                .report
                .as_ref()
                .and_then(|r| r.original_message_id.as_ref());
            self.sent
                .iter()
                .filter(|s| {
                    s.token.is_some() && s.token == b.token || Some(&s.message_id) == original
                })
                .cloned()
                .collect()
        });
        let sent_incidents = sent
            .iter()
            .filter_map(|s| s.incident.as_ref())
            .filter_map(|id| self.incidents.get(id))
            .cloned()
            .collect();
        IntakeContext {
            already_stored: self
                .stored
                .contains(&(mail.message_id.clone(), mail.body_digest.clone())),
            known,
            next_seq: self.next_seq.get(&year_of(now)).copied().unwrap_or(1),
            last_ack_to_sender: mail
                .from
                .as_ref()
                .and_then(|f| self.last_ack.get(&f.key()).copied()),
            target,
            commands: CommandFacts {
                signature_used: mail
                    .signature
                    .made()
                    .is_some_and(|m| m.digests().any(|d| self.spent.contains(d))),
                last_lead: self.last_lead.clone(),
                existing: named_incidents(mail, prefix)
                    .into_iter()
                    .filter(|id| self.incidents.contains_key(id))
                    .collect(),
            },
            sent,
            sent_incidents,
        }
    }

    /// A bounce of outbox mail `id` was stored: the next one of the batch
    /// does not tell the SRC again.
    pub fn bounced(&mut self, id: i64) {
        for s in self.sent.iter_mut().filter(|s| s.id == id) {
            s.bounced = true;
        }
    }

    /// A mail was stored (filed or kept aside).
    pub fn stored(&mut self, message_id: &str, body_digest: &str) {
        self.stored
            .insert((message_id.to_owned(), body_digest.to_owned()));
    }

    /// A mail was filed on `id`, which stands as `state` afterwards (when
    /// the mail changed it). The ids it refers to lead there too.
    pub fn filed(&mut self, mail: &Inbound, id: &IncidentId, state: Option<&Incident>) {
        self.stored(&mail.message_id, &mail.body_digest);
        self.link(&mail.message_id, id);
        for r in threading::referred(mail) {
            self.refs.entry(r.to_owned()).or_insert_with(|| id.clone());
        }
        let next = self.next_seq.entry(id.year()).or_insert(1);
        *next = (*next).max(id.seq() + 1);
        if let Some(made) = mail.signature.made() {
            self.spent.extend(made.digests().cloned());
        }
        if let Some(state) = state {
            self.incidents.insert(id.clone(), state.clone());
        }
    }

    /// Mail the service sent on `incident`: replies to it join there.
    pub fn link(&mut self, message_id: &str, incident: &IncidentId) {
        self.links
            .entry(message_id.to_owned())
            .or_insert_with(|| incident.clone());
    }

    pub fn acknowledged(&mut self, sender: &str, at: Timestamp) {
        self.last_ack.insert(sender.to_owned(), at);
    }

    pub fn lead_assigned(&mut self, lead: &str) {
        self.last_lead = Some(lead.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::{AutoReplyHeaders, Mailbox, TextSource};
    use crate::core::signature::{Encryption, SignatureStatus};

    fn mail(id: &str, in_reply_to: &[&str]) -> Inbound {
        Inbound {
            message_id: id.into(),
            message_id_synthesized: false,
            in_reply_to: in_reply_to.iter().map(|s| s.to_string()).collect(),
            references: vec![],
            from: Some(Mailbox::new(None, "jane@example.net")),
            to: vec![],
            cc: vec![],
            subject: "s".into(),
            date: None,
            text: String::new(),
            text_source: TextSource::Plain,
            attachments: vec![],
            auto_reply: AutoReplyHeaders::default(),
            problems: vec![],
            signature: SignatureStatus::Unsigned,
            signed: None,
            encryption: Encryption::None,
            sender_key: None,
            bounce: None,
            body_digest: format!("d-{id}"),
            raw: vec![],
        }
    }

    fn now() -> Timestamp {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_reply_joins_a_report_of_the_same_batch_and_a_late_parent_joins_its_reply() {
        let mut b = Batch::default();
        let inc = Incident::open(
            IncidentId::new("EMB", 2026, 4).unwrap(),
            "s",
            None,
            None,
            now(),
        );
        // The reply came first: its parent is only referenced.
        let reply = mail("reply@x", &["parent@x"]);
        assert_eq!(b.context(&reply, "EMB", now()).next_seq, 1);
        b.filed(&reply, &inc.id, Some(&inc));
        let parent = mail("parent@x", &[]);
        let ctx = b.context(&parent, "EMB", now());
        assert_eq!(
            threading::place(&parent, "EMB", &ctx.known),
            Placement::Join(
                inc.id.clone(),
                threading::Via::ReferencedBy("parent@x".into())
            )
        );
        assert_eq!(ctx.target.as_ref(), Some(&inc));
        assert_eq!(ctx.next_seq, 5, "numbers go on from the batch's own");
        // A second reply to the same parent joins too.
        let sibling = mail("sibling@x", &["parent@x"]);
        let ctx = b.context(&sibling, "EMB", now());
        assert!(matches!(
            threading::place(&sibling, "EMB", &ctx.known),
            Placement::Join(..)
        ));
        assert!(b.context(&reply, "EMB", now()).already_stored);
    }
}
