//! The intake decision: what happens to one parsed mail.

use jiff::{SignedDuration, Timestamp};

use super::autoreply::{self, Withhold};
use super::bounce;
use super::command_mail::{self, CommandFacts, CommandPolicy, CommandReply};
use super::event::{Event, EventKind, SERVICE_ACTOR};
use super::inbound::{Inbound, Mailbox, SenderKey};
use super::incident::{Change, Incident, State};
use super::incident_id::{IncidentId, IncidentIdError};
use super::relay::{self, NotRelayed, Relay, RelayPolicy};
use super::roster::Roster;
use super::sender_auth;
use super::signature::{Encryption, SignatureStatus};
use super::slot::SlotRules;
use super::threading::{self, Known, Placement, Via};

pub struct IntakePolicy<'a> {
    pub prefix: &'a str,
    /// The service's own addresses: mail from them is never answered.
    pub own_addresses: &'a [String],
    pub ack_window: SignedDuration,
    pub roster: &'a Roster,
    /// Whether mail can be written to an address; the edge knows the syntax.
    pub address_ok: fn(&str) -> bool,
    pub src_address: &'a str,
    pub slots: &'a SlotRules,
    pub max_signature_age: SignedDuration,
    /// The announce lists: whatever reaches them is public.
    pub announce: &'a [String],
    /// The receiving MTA: when set, only a sender it authenticated is
    /// acknowledged (no backscatter to forged senders).
    pub trusted_mta: Option<sender_auth::Trusted<'a>>,
    /// `[advisory]`, when the notices carry advisories: a command's reply
    /// then says what they still need.
    pub advisory: Option<&'a crate::advisory::Publisher>,
    /// The headers by which the receiving MTA marks spam: a new report so
    /// marked is filed in the spam state.
    pub spam_headers: &'a [sender_auth::SpamHeader],
    /// Outbox mail goes out with its own return path (`[outbox] verp`):
    /// then a bounce of it must come there, and naming its Message-ID
    /// (which an outsider may guess) is not enough.
    pub verp: bool,
}

/// What the store knows that the decision needs.
#[derive(Debug, Clone, Default)]
pub struct IntakeContext {
    /// A message with this Message-ID and body is already stored.
    pub already_stored: bool,
    pub known: Known,
    /// The next free sequence number in `year_of(now)`.
    pub next_seq: u32,
    pub last_ack_to_sender: Option<Timestamp>,
    /// The incident the mail joins, as it stands: the store reads it once
    /// threading has placed the mail.
    pub target: Option<Incident>,
    pub commands: CommandFacts,
    /// The outbox mail a bounce names (by its token or Message-ID).
    pub sent: Vec<bounce::SentMail>,
    /// The incidents of `sent`, as they stand: who hears of a bounce.
    pub sent_incidents: Vec<Incident>,
}

/// A mail the service owes because of this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Acknowledgement {
        to: Mailbox,
    },
    SrcCopy {
        withheld: Option<Withhold>,
    },
    /// A later mail on the incident came encrypted and could not be read.
    CannotDecrypt {
        reason: String,
    },
    /// The answer to a mail that carried commands.
    Command(CommandReply),
    /// `/not-spam` restored the incident: the SRC copy of its opening mail
    /// (and the acknowledgement, to an authenticated sender) is owed now,
    /// as `restored_report` decides once that mail is read back.
    RestoredReport,
    /// A later mail on the incident, for its insiders.
    Relay(Relay),
    /// A roster member's `/reply`: to the reporter, and a copy to the insiders.
    Reporter(Box<super::answer::ReporterAnswer>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The same mail was delivered again: nothing changes.
    Duplicate,
    Open {
        incident: Incident,
        events: Vec<Event>,
        replies: Vec<Reply>,
    },
    Join {
        incident: IncidentId,
        via: Via,
        events: Vec<Event>,
        replies: Vec<Reply>,
        /// The incident afterwards, when the store gave its state.
        updated: Option<Incident>,
        lead_assigned: Option<String>,
    },
    /// A bounce of the service's own mail, or a mail claiming to be one:
    /// never opens an incident, never acknowledged, never relayed.
    Bounce {
        outcome: bounce::Outcome,
        /// On the incident of the mail that bounced, when it has one.
        event: Option<(IncidentId, Event)>,
    },
}

/// Incident ids count per calendar year in UTC.
pub fn year_of(now: Timestamp) -> i16 {
    now.to_zoned_datetime(jiff::tz::TimeZone::UTC).year()
}

fn actor(mail: &Inbound) -> String {
    mail.from
        .as_ref()
        .map(|m| m.key())
        .unwrap_or_else(|| "unknown sender".to_owned())
}

/// What a mail on an incident's thread counts as. Only a roster member's
/// valid signature, fresh, not seen before and on a mail written to this
/// list, makes it the SRC answering;
/// only that or the reporter's own mail is activity that holds off the idle
/// reminders. Anyone can write a `From:` or a subject tag, or send an old
/// signed mail again.
fn activity(
    mail: &Inbound,
    ctx: &IntakeContext,
    incident: Option<&Incident>,
    policy: &IntakePolicy<'_>,
    now: Timestamp,
) -> Option<Change> {
    if let SignatureStatus::Valid(made) = &mail.signature
        && mail.signature.signer(policy.roster).is_some()
        && !ctx.commands.signature_used
        && made.signed_at + policy.max_signature_age >= now
        && mail
            .signed
            .as_ref()
            .is_some_and(|s| s.written_to(policy.own_addresses))
    {
        return Some(Change::Responded);
    }
    let reporter = incident.and_then(|i| i.reporter.as_ref());
    match (reporter, &mail.from) {
        (Some(r), Some(f)) if r.key() == f.key() => Some(Change::Touched),
        _ => None,
    }
}

/// Why the sender of a new report gets no acknowledgement, rate limit aside.
fn withheld(mail: &Inbound, policy: &IntakePolicy<'_>) -> Option<Withhold> {
    autoreply::automated(&mail.auto_reply, mail.from.as_ref(), policy.own_addresses)
        .or_else(|| {
            let from = mail.from.as_ref()?;
            (!(policy.address_ok)(&from.email)).then(|| Withhold::Undeliverable(from.email.clone()))
        })
        .or_else(|| sender_auth::marked_spam(&mail.auto_reply.verdicts).map(Withhold::Spam))
        .or_else(|| {
            let mta = policy.trusted_mta?;
            let from = mail.from.as_ref()?;
            sender_auth::authenticated(&mail.auto_reply.verdicts, mta, &from.email)
                .err()
                .map(Withhold::Unauthenticated)
        })
}

/// A new report the MTA marked as spam: filed in the spam state, and
/// nobody is told or answered (no SRC copy, no acknowledgement to a sender
/// a spammer most likely forged).
fn open_spam(
    mut incident: Incident,
    mail: &Inbound,
    header: String,
    wrote: Option<Change>,
    commander: Option<String>,
    now: Timestamp,
) -> Decision {
    let marked = Change::MarkedSpam {
        header: header.clone(),
    };
    incident.apply(&marked, now);
    let message_id = Some(mail.message_id.clone());
    let reported = Event {
        at: now,
        kind: EventKind::Reported,
        actor: actor(mail),
        message_id: message_id.clone(),
        detail: format!(
            "opened {} from {:?} as spam ({header}); incident commander: {}",
            incident.id,
            incident.title,
            commander.as_deref().unwrap_or("nobody on call")
        ),
        changes: std::iter::once(incident.opening())
            .chain(wrote)
            .chain([marked])
            .collect(),
    };
    let withheld = Event {
        at: now,
        kind: EventKind::AcknowledgementWithheld,
        actor: SERVICE_ACTOR.to_owned(),
        message_id,
        detail: format!(
            "{}; no copy to the SRC either until a roster member sends /not-spam {}",
            Withhold::Spam(header),
            incident.id
        ),
        changes: Vec::new(),
    };
    Decision::Open {
        incident,
        events: vec![reported, withheld],
        replies: Vec::new(),
    }
}

/// What `/not-spam` owes, once the edge has read back the mail that opened
/// the incident (`report`, parsed by the one parser): the SRC copy, and an
/// acknowledgement only to a sender that would have had one on arrival
/// (authenticated, not automated); the spam verdict itself no longer counts.
pub fn restored_report(
    report: &Inbound,
    incident: &Incident,
    policy: &IntakePolicy<'_>,
    now: Timestamp,
) -> (Vec<Event>, Vec<Reply>) {
    let event = |kind, detail: String| Event {
        at: now,
        kind,
        actor: SERVICE_ACTOR.to_owned(),
        message_id: Some(report.message_id.clone()),
        detail,
        changes: Vec::new(),
    };
    let mut verdicts = report.clone();
    verdicts.auto_reply.verdicts.spam.clear();
    let mut withheld = withheld(&verdicts, policy);
    if policy.trusted_mta.is_none() && withheld.is_none() {
        // Without a trusted MTA nobody was authenticated: a spam-marked
        // sender is most likely forged, and the SRC can answer by hand.
        withheld = Some(Withhold::Spam(
            incident
                .details
                .spam_marked_by
                .clone()
                .unwrap_or_else(|| "spam".to_owned()),
        ));
    }
    let mut events = vec![event(
        EventKind::SrcCopyQueued,
        format!(
            "/not-spam: copy of the report {} queued for the SRC list",
            report.message_id
        ),
    )];
    let mut replies = vec![Reply::SrcCopy {
        withheld: withheld.clone(),
    }];
    match (&withheld, &report.from) {
        (None, Some(to)) => {
            events.push(event(
                EventKind::AcknowledgementQueued,
                format!("acknowledgement queued for {} after /not-spam", to.email),
            ));
            replies.push(Reply::Acknowledgement { to: to.clone() });
        }
        (reason, _) => events.push(event(
            EventKind::AcknowledgementWithheld,
            format!(
                "after /not-spam: {}",
                reason
                    .as_ref()
                    .map_or_else(|| Withhold::NoSender.to_string(), ToString::to_string)
            ),
        )),
    }
    (events, replies)
}

/// Mails held on a spam incident relayed when `/not-spam` restores it, at
/// most: a spammer who tags a thousand mails onto their own report must
/// not make one command sign and send a thousand relays.
pub const HELD_RELAYS_MAX: usize = 20;

/// What one mail held on a spam incident comes to when it is restored.
#[derive(Debug)]
pub struct HeldMail {
    pub event: Event,
    /// [`Reply::Relay`], or [`Reply::CannotDecrypt`] for a mail nobody
    /// can read; `None` when it is withheld.
    pub reply: Option<Reply>,
}

/// What `/not-spam` owes the mails filed on the incident while it was spam
/// (`held`, read back in the order they came by the one parser, at most
/// [`HELD_RELAYS_MAX`]; `left_out` more were not read): each is relayed to
/// the insiders as it would have been on arrival, and the reporter's own
/// mail records its Message-ID and key as it would have. The member's
/// judgement covers the report's sender: the spam verdict of their later
/// mail no longer counts, anyone else's still does. A roster member's
/// commands (refused while it was spam, and answered then) are not
/// relayed. `report_id`: the Message-ID of the report; a held mail that
/// reuses a Message-ID already filed is not relayed, as on arrival.
pub fn held_mails(
    held: &[Inbound],
    left_out: usize,
    report_id: &str,
    incident: &mut Incident,
    policy: &IntakePolicy<'_>,
    now: Timestamp,
) -> Vec<HeldMail> {
    let relay_policy = RelayPolicy {
        roster: policy.roster,
        src_address: policy.src_address,
        own_addresses: policy.own_addresses,
        trusted_mta: policy.trusted_mta,
        spam_headers: policy.spam_headers,
    };
    let event = |kind, message_id: Option<String>, detail: String, changes| Event {
        at: now,
        kind,
        actor: SERVICE_ACTOR.to_owned(),
        message_id,
        detail,
        changes,
    };
    let mut filed = std::collections::HashSet::from([report_id.to_ascii_lowercase()]);
    let mut out = Vec::new();
    for mail in held {
        let wrote: Vec<Change> = reporter_wrote(
            mail,
            incident.reporter.as_ref(),
            incident.details.reporter_key.as_ref(),
            policy,
            now,
        )
        .into_iter()
        .collect();
        for c in &wrote {
            incident.apply(c, now);
        }
        let mut judged = mail.clone();
        let by_reporter = match (&mail.from, &incident.reporter) {
            (Some(from), Some(reporter)) => from.key() == reporter.key(),
            _ => false,
        };
        if by_reporter {
            judged.auto_reply.verdicts.spam.clear();
        }
        let via = if filed.insert(mail.message_id.to_ascii_lowercase()) {
            Via::SubjectTag(incident.id.clone())
        } else {
            Via::MessageId(mail.message_id.clone())
        };
        let decided = relay::decide(&judged, Some(incident), &via, &relay_policy, true);
        let held_event = |kind, why: String| {
            event(
                kind,
                Some(mail.message_id.clone()),
                format!("held while the report was spam; /not-spam: {why}"),
                wrote.clone(),
            )
        };
        out.push(match decided {
            Ok(relay) => HeldMail {
                event: held_event(EventKind::RelayQueued, relay.describe()),
                reply: Some(Reply::Relay(relay)),
            },
            Err(NotRelayed::Undecryptable) => HeldMail {
                event: held_event(
                    EventKind::RelayWithheld,
                    NotRelayed::Undecryptable.to_string(),
                ),
                reply: match &mail.encryption {
                    Encryption::Failed { detail } => Some(Reply::CannotDecrypt {
                        reason: detail.clone(),
                    }),
                    _ => None,
                },
            },
            Err(why) => HeldMail {
                event: held_event(EventKind::RelayWithheld, why.to_string()),
                reply: None,
            },
        });
    }
    if left_out > 0 {
        out.push(HeldMail {
            event: event(
                EventKind::RelayWithheld,
                None,
                format!(
                    "held while the report was spam; /not-spam: {left_out} more mail(s) not relayed \
                     (at most {HELD_RELAYS_MAX} are, within the batch's byte budget); \
                     `embargo show {}` lists them",
                    incident.id
                ),
                Vec::new(),
            ),
            reply: None,
        });
    }
    out
}

/// What a mail the reporter wrote records: its Message-ID, and the key
/// it carries. Anyone can write the reporter's From: with the
/// receiving MTA trusted, a key counts only from a sender it
/// authenticated, so a forged mail cannot make the answers unreadable to
/// the reporter.
fn reporter_wrote(
    mail: &Inbound,
    reporter: Option<&Mailbox>,
    current: Option<&SenderKey>,
    policy: &IntakePolicy<'_>,
    now: Timestamp,
) -> Option<Change> {
    let from = mail.from.as_ref()?;
    if reporter?.key() != from.key() {
        return None;
    }
    // Their out-of-office is not a mail to answer, nor their key.
    if autoreply::automated(&mail.auto_reply, Some(from), policy.own_addresses).is_some() {
        return None;
    }
    let authenticated = policy
        .trusted_mta
        .map(|mta| sender_auth::authenticated(&mail.auto_reply.verdicts, mta, &from.email).is_ok());
    let key = mail
        .sender_key
        .clone()
        .filter(|new| key_replaces(current, new, authenticated, now));
    Some(Change::ReporterWrote {
        message_id: mail.message_id.clone(),
        key,
    })
}

/// Whether a key in the reporter's mail becomes the key their answers are
/// encrypted to. Anyone can write their From: without the trusted MTA's
/// word, the first key they sent stays (a stranger cannot swap in a key
/// of theirs, nor one that makes the answers go in clear); the same key
/// again (a new expiry) is taken, and another only once the one held can
/// no longer be used. A key that can encrypt is never given up for one
/// that cannot.
fn key_replaces(
    current: Option<&SenderKey>,
    new: &SenderKey,
    authenticated: Option<bool>,
    now: Timestamp,
) -> bool {
    if authenticated == Some(false) {
        return false;
    }
    let Some(current) = current else {
        return true;
    };
    if current.fingerprint == new.fingerprint {
        return true;
    }
    let held_usable = current.usable_at(now).is_ok();
    if held_usable && new.usable_at(now).is_err() {
        return false;
    }
    authenticated == Some(true) || !held_usable
}

pub fn decide(
    mail: &Inbound,
    ctx: &IntakeContext,
    policy: &IntakePolicy<'_>,
    now: Timestamp,
) -> Result<Decision, IncidentIdError> {
    if ctx.already_stored {
        return Ok(Decision::Duplicate);
    }
    let event = |kind, actor: String, message_id: Option<String>, detail: String| Event {
        at: now,
        kind,
        actor,
        message_id,
        detail,
        changes: Vec::new(),
    };
    let message_id = Some(mail.message_id.clone());
    if let Some(report) = &mail.bounce {
        let reach = bounce::Reach {
            src_address: policy.src_address,
            roster: policy.roster,
            incidents: &ctx.sent_incidents,
            now,
        };
        let outcome = bounce::decide(report, &ctx.sent, !policy.verp, &reach);
        let event = match &outcome {
            bounce::Outcome::Bounced {
                mail: sent, words, ..
            } => sent.incident.clone().map(|inc| {
                let e = event(
                    EventKind::DeliveryFailed,
                    SERVICE_ACTOR.to_owned(),
                    message_id.clone(),
                    format!(
                        "the {} to {} bounced: {words}",
                        sent.kind,
                        sent.recipients.join(", ")
                    ),
                );
                (inc, e)
            }),
            _ => None,
        };
        return Ok(Decision::Bounce { outcome, event });
    }
    match threading::place(mail, policy.prefix, &ctx.known) {
        Placement::Join(incident, via) => {
            let mut added = event(
                EventKind::MessageAdded,
                actor(mail),
                message_id,
                format!("{:?} joined by {via}", mail.subject),
            );
            let target = ctx.target.as_ref().filter(|t| t.id == incident);
            // On spam, a mail is filed and changes nothing: no activity, no
            // word to the SRC, and only a roster member's signed mail (the
            // `/not-spam`, or a command refused with the reason) is heard.
            let spam = target.is_some_and(|t| t.state == State::Spam);
            if !spam {
                added.changes = activity(mail, ctx, target, policy, now)
                    .into_iter()
                    .chain(reporter_wrote(
                        mail,
                        target.and_then(|t| t.reporter.as_ref()),
                        target.and_then(|t| t.details.reporter_key.as_ref()),
                        policy,
                        now,
                    ))
                    .collect();
            }
            let mut events = vec![added];
            // A new report's SRC copy says it could not be read; a later
            // mail on the thread needs its own word to the SRC.
            let mut replies = match &mail.encryption {
                Encryption::Failed { detail } if !spam => vec![Reply::CannotDecrypt {
                    reason: detail.clone(),
                }],
                _ => Vec::new(),
            };
            let mut updated = target.cloned();
            let mut lead_assigned = None;
            if let Some(target) = &mut updated {
                for c in &events[0].changes {
                    target.apply(c, now);
                }
                let command_policy = CommandPolicy {
                    roster: policy.roster,
                    prefix: policy.prefix,
                    slots: policy.slots,
                    max_signature_age: policy.max_signature_age,
                    src_address: policy.src_address,
                    own_addresses: policy.own_addresses,
                    announce: policy.announce,
                    address_ok: policy.address_ok,
                    advisory: policy.advisory,
                };
                let heard = !spam || mail.signature.signer(policy.roster).is_some();
                if let Some(outcome) = heard
                    .then(|| {
                        command_mail::handle(target, mail, &ctx.commands, &command_policy, now)
                    })
                    .flatten()
                {
                    let restored = outcome
                        .event
                        .changes
                        .iter()
                        .any(|c| matches!(c, Change::NotSpam));
                    *target = outcome.incident;
                    events.push(outcome.event);
                    replies.push(Reply::Command(outcome.reply));
                    replies.extend(
                        outcome
                            .answers
                            .into_iter()
                            .map(|a| Reply::Reporter(Box::new(a))),
                    );
                    lead_assigned = outcome.lead_assigned;
                    if restored {
                        // Owed now, of the report that opened it: the edge
                        // reads that mail back from the store.
                        replies.push(Reply::RestoredReport);
                    }
                }
            }
            let answered = replies.iter().any(|r| matches!(r, Reply::Command(_)));
            let relay_policy = RelayPolicy {
                roster: policy.roster,
                src_address: policy.src_address,
                own_addresses: policy.own_addresses,
                trusted_mta: policy.trusted_mta,
                spam_headers: policy.spam_headers,
            };
            // To whom the incident stands after this mail's commands: a
            // Fix Team member added in it reads it too.
            let relayed = if updated.as_ref().is_some_and(|t| t.state == State::Spam) {
                // Spam stays quiet: the insiders hear of it by /not-spam,
                // and of what the member wrote beside it.
                Err(NotRelayed::CommandsOnly)
            } else if replies.iter().any(|r| matches!(r, Reply::Reporter(_))) {
                // A `/reply` mail: the insiders get the answer's copy, which
                // says what the reporter was sent; a relay would repeat it.
                Err(NotRelayed::CommandsOnly)
            } else {
                relay::decide(mail, updated.as_ref(), &via, &relay_policy, answered)
            };
            match relayed {
                Ok(relay) => {
                    events.push(event(
                        EventKind::RelayQueued,
                        SERVICE_ACTOR.to_owned(),
                        Some(mail.message_id.clone()),
                        relay.describe(),
                    ));
                    replies.push(Reply::Relay(relay));
                }
                // The command's own event and reply are its record.
                Err(NotRelayed::CommandsOnly) => {}
                Err(why) => events.push(event(
                    EventKind::RelayWithheld,
                    SERVICE_ACTOR.to_owned(),
                    Some(mail.message_id.clone()),
                    why.to_string(),
                )),
            }
            Ok(Decision::Join {
                incident,
                via,
                events,
                replies,
                updated,
                lead_assigned,
            })
        }
        Placement::Open => {
            let id = IncidentId::new(policy.prefix, year_of(now), ctx.next_seq.max(1))?;
            let commander = policy.roster.oncall_at(now).map(|m| m.email.clone());
            let mut incident =
                Incident::open(id, &mail.subject, mail.from.clone(), commander.clone(), now);
            let wrote = reporter_wrote(mail, incident.reporter.as_ref(), None, policy, now);
            if let Some(c) = &wrote {
                incident.apply(c, now);
            }
            if let Some(header) =
                sender_auth::marked_spam_by(&mail.auto_reply.verdicts, policy.spam_headers)
            {
                return Ok(open_spam(incident, mail, header, wrote, commander, now));
            }
            let withheld = withheld(mail, policy).or_else(|| {
                autoreply::rate_limited(ctx.last_ack_to_sender, now, policy.ack_window)
            });
            let mut reported = event(
                EventKind::Reported,
                actor(mail),
                message_id.clone(),
                format!(
                    "opened {} from {:?}; incident commander: {}",
                    incident.id,
                    incident.title,
                    commander.as_deref().unwrap_or("nobody on call")
                ),
            );
            reported.changes = std::iter::once(incident.opening()).chain(wrote).collect();
            let mut events = vec![
                reported,
                event(
                    EventKind::SrcCopyQueued,
                    SERVICE_ACTOR.to_owned(),
                    message_id.clone(),
                    "copy of the report queued for the SRC list".to_owned(),
                ),
            ];
            let mut replies = vec![Reply::SrcCopy {
                withheld: withheld.clone(),
            }];
            match (&withheld, &mail.from) {
                (None, Some(to)) => {
                    events.push(event(
                        EventKind::AcknowledgementQueued,
                        SERVICE_ACTOR.to_owned(),
                        message_id,
                        format!("acknowledgement queued for {}", to.email),
                    ));
                    replies.push(Reply::Acknowledgement { to: to.clone() });
                }
                (reason, _) => events.push(event(
                    EventKind::AcknowledgementWithheld,
                    SERVICE_ACTOR.to_owned(),
                    message_id,
                    reason
                        .as_ref()
                        .map_or_else(|| Withhold::NoSender.to_string(), ToString::to_string),
                )),
            }
            Ok(Decision::Open {
                incident,
                events,
                replies,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::{AutoReplyHeaders, TextSource};
    use crate::core::roster::{Member, Rotation};

    fn roster() -> Roster {
        Roster {
            members: vec![Member {
                name: "Alice".into(),
                email: "alice@example.org".into(),
                company: "A".into(),
                fingerprint: Some("A11CE".into()),
                on_leave: false,
            }],
            release_managers: vec![],
            rotation: Rotation {
                members: vec!["alice@example.org".into()],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    fn report(from: &str) -> Inbound {
        Inbound {
            message_id: "r1@researcher.example".into(),
            message_id_synthesized: false,
            in_reply_to: vec![],
            references: vec![],
            from: Some(Mailbox::new(Some("Jane"), from)),
            to: vec![Mailbox::new(None, "security@example.org")],
            cc: vec![],
            subject: "Heap overflow in frobnicate()".into(),
            date: None,
            text: "details".into(),
            text_source: TextSource::Plain,
            attachments: vec![],
            auto_reply: AutoReplyHeaders::default(),
            problems: vec![],
            signature: crate::core::signature::SignatureStatus::Unsigned,
            signed: None,
            encryption: crate::core::signature::Encryption::None,
            sender_key: None,
            bounce: None,
            body_digest: "d".into(),
            raw: b"raw".to_vec(),
        }
    }

    fn now() -> Timestamp {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    fn decide_with(mail: &Inbound, ctx: &IntakeContext) -> Decision {
        decide_trusting(mail, ctx, None)
    }

    fn decide_trusting(
        mail: &Inbound,
        ctx: &IntakeContext,
        mta: Option<sender_auth::Trusted<'_>>,
    ) -> Decision {
        with_policy(mta, &sender_auth::SpamHeader::defaults(), |policy| {
            decide(mail, ctx, policy, now()).unwrap()
        })
    }

    /// The tests' policy: the test roster, `mta` trusted, `rules` for spam.
    fn with_policy<R>(
        mta: Option<sender_auth::Trusted<'_>>,
        rules: &[sender_auth::SpamHeader],
        f: impl FnOnce(&IntakePolicy<'_>) -> R,
    ) -> R {
        let roster = roster();
        let own = vec!["security@example.org".to_owned()];
        f(&IntakePolicy {
            prefix: "EMB",
            own_addresses: &own,
            ack_window: SignedDuration::from_hours(1),
            roster: &roster,
            address_ok: |a| a.contains('@') && !a.contains(' '),
            src_address: "src@example.org",
            slots: &SlotRules::default(),
            max_signature_age: SignedDuration::from_hours(7 * 24),
            announce: &[],
            trusted_mta: mta,
            advisory: None,
            spam_headers: rules,
            verp: true,
        })
    }

    fn kinds(events: &[Event]) -> Vec<EventKind> {
        events.iter().map(|e| e.kind).collect()
    }

    #[test]
    fn a_report_opens_an_incident_with_ack_and_src_copy() {
        let ctx = IntakeContext {
            next_seq: 7,
            ..Default::default()
        };
        let Decision::Open {
            incident,
            events,
            replies,
        } = decide_with(&report("jane@researcher.example"), &ctx)
        else {
            panic!("expected a new incident")
        };
        assert_eq!(incident.id.to_string(), "EMB-2026-0007");
        assert_eq!(incident.commander.as_deref(), Some("alice@example.org"));
        assert_eq!(incident.opened_at, now());
        assert_eq!(
            kinds(&events),
            [
                EventKind::Reported,
                EventKind::SrcCopyQueued,
                EventKind::AcknowledgementQueued
            ]
        );
        assert!(events.iter().all(|e| e.at == now()));
        assert_eq!(replies.len(), 2);
        assert!(
            matches!(&replies[1], Reply::Acknowledgement { to } if to.email == "jane@researcher.example")
        );
    }

    /// With the MTA's name set, only a sender it authenticated is
    /// acknowledged, and never mail it marked as spam; the report reaches
    /// the SRC either way, which the withheld reason is told to.
    #[test]
    fn only_an_authenticated_sender_is_acknowledged_and_never_spam() {
        let ack = |mail: &Inbound, mta: Option<sender_auth::Trusted<'_>>| -> Result<(), String> {
            let Decision::Open {
                events, replies, ..
            } = decide_trusting(mail, &IntakeContext::default(), mta)
            else {
                panic!("expected a new incident")
            };
            assert!(matches!(replies[0], Reply::SrcCopy { .. }));
            match replies.get(1) {
                Some(Reply::Acknowledgement { .. }) => Ok(()),
                _ => Err(events[2].detail.clone()),
            }
        };
        let mut mail = report("jane@researcher.example");
        // Without the setting, as before.
        assert_eq!(ack(&mail, None), Ok(()));
        let mta = Some(sender_auth::Trusted {
            authserv_id: "mx.example.org",
            received_by_us: 1,
        });
        let e = ack(&mail, mta).unwrap_err();
        assert!(
            e.contains("no Authentication-Results from mx.example.org"),
            "{e}"
        );
        // Written by the sender under another name: ignored.
        let at_top = |value: &str| crate::core::sender_auth::AuthResults {
            received_above: 0,
            value: value.into(),
        };
        mail.auto_reply.verdicts.results = vec![at_top(
            "mx.evil.example; dmarc=pass header.from=researcher.example",
        )];
        assert!(ack(&mail, mta).is_err());
        mail.auto_reply
            .verdicts
            .results
            .insert(0, at_top("mx.example.org; dkim=fail header.d=researcher.example; spf=softfail smtp.mailfrom=researcher.example"));
        let e = ack(&mail, mta).unwrap_err();
        assert!(e.contains("dkim=fail, spf=softfail"), "{e}");
        mail.auto_reply.verdicts.results.insert(
            0,
            at_top("mx.example.org; dmarc=pass header.from=researcher.example"),
        );
        assert_eq!(ack(&mail, mta), Ok(()));
        // Authenticated, but the MTA says spam: filed as spam, nobody told.
        mail.auto_reply.verdicts.spam = vec![("X-Spam-Flag".into(), "YES".into())];
        for mta in [mta, None] {
            let Decision::Open {
                incident,
                events,
                replies,
            } = decide_trusting(&mail, &IntakeContext::default(), mta)
            else {
                panic!("spam still opens an incident")
            };
            assert_eq!(incident.state, State::Spam);
            assert!(
                replies.is_empty(),
                "no acknowledgement, no SRC copy: {replies:?}"
            );
            assert!(
                events[1]
                    .detail
                    .contains("marked as spam by the mail server (X-Spam-Flag: YES)"),
                "{}",
                events[1].detail
            );
        }
    }

    #[test]
    fn an_automated_report_gets_no_acknowledgement_but_reaches_the_src() {
        let mut mail = report("jane@researcher.example");
        mail.auto_reply.auto_submitted = Some("auto-replied".into());
        let Decision::Open {
            events, replies, ..
        } = decide_with(&mail, &IntakeContext::default())
        else {
            panic!()
        };
        assert_eq!(
            kinds(&events),
            [
                EventKind::Reported,
                EventKind::SrcCopyQueued,
                EventKind::AcknowledgementWithheld
            ]
        );
        assert!(events[2].detail.contains("Auto-Submitted"));
        assert_eq!(
            replies,
            [Reply::SrcCopy {
                withheld: Some(Withhold::AutoSubmitted("auto-replied".into()))
            }]
        );
    }

    #[test]
    fn an_address_mail_cannot_be_written_to_is_not_acknowledged() {
        let Decision::Open {
            events, replies, ..
        } = decide_with(
            &report("jane doe@researcher.example"),
            &IntakeContext::default(),
        )
        else {
            panic!()
        };
        assert_eq!(events[2].kind, EventKind::AcknowledgementWithheld);
        assert!(
            events[2].detail.contains("cannot be written"),
            "{}",
            events[2].detail
        );
        assert_eq!(replies.len(), 1);
    }

    #[test]
    fn a_second_report_within_the_hour_is_not_acknowledged() {
        let ctx = IntakeContext {
            last_ack_to_sender: Some(now() - SignedDuration::from_mins(10)),
            ..Default::default()
        };
        let Decision::Open {
            events, replies, ..
        } = decide_with(&report("jane@researcher.example"), &ctx)
        else {
            panic!()
        };
        assert!(events[2].detail.starts_with("rate limit"));
        assert_eq!(replies.len(), 1);
    }

    #[test]
    fn a_reply_joins_and_a_duplicate_changes_nothing() {
        let mut reply = report("jane@researcher.example");
        reply.message_id = "r2@researcher.example".into();
        reply.in_reply_to = vec!["r1@researcher.example".into()];
        let inc = IncidentId::new("EMB", 2026, 1).unwrap();
        let mut ctx = IntakeContext::default();
        ctx.known
            .messages
            .insert("r1@researcher.example".into(), inc.clone());
        match decide_with(&reply, &ctx) {
            Decision::Join {
                incident,
                events,
                replies,
                ..
            } => {
                assert_eq!(incident, inc);
                assert_eq!(
                    kinds(&events),
                    [EventKind::MessageAdded, EventKind::RelayQueued]
                );
                // The store gave no state: the list alone hears of it.
                assert!(
                    matches!(&replies[..], [Reply::Relay(r)] if r.to.len() == 1 && r.to[0].email == "src@example.org"),
                    "{replies:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        reply.encryption = Encryption::Failed {
            detail: "not for us".into(),
        };
        match decide_with(&reply, &ctx) {
            Decision::Join {
                replies, events, ..
            } => {
                assert_eq!(
                    replies,
                    [Reply::CannotDecrypt {
                        reason: "not for us".into()
                    }]
                );
                assert_eq!(events[1].kind, EventKind::RelayWithheld);
            }
            other => panic!("{other:?}"),
        }
        ctx.already_stored = true;
        assert_eq!(decide_with(&reply, &ctx), Decision::Duplicate);
    }

    /// A bounce never opens an incident nor gets an answer, not even when
    /// it threads onto one (a bounce that quotes our Message-ID) and
    /// whether or not it names a mail the service sent.
    #[test]
    fn a_bounce_opens_nothing_joins_nothing_and_is_not_answered() {
        let mut dsn = report("MAILER-DAEMON@mx.vendor.example");
        dsn.in_reply_to = vec!["r1@researcher.example".into()];
        dsn.bounce = Some(bounce::BounceReport {
            delivered_to: Some("security+bounce-0123456789abcdef01234567@example.org".into()),
            token: Some("0123456789abcdef01234567".into()),
            report: None,
            null_sender: true,
        });
        let inc = IncidentId::new("EMB", 2026, 1).unwrap();
        let mut ctx = IntakeContext::default();
        ctx.known
            .messages
            .insert("r1@researcher.example".into(), inc.clone());
        let Decision::Bounce { outcome, event } = decide_with(&dsn, &ctx) else {
            panic!("a bounce is a bounce")
        };
        assert!(
            matches!(outcome, bounce::Outcome::Unmatched { .. }),
            "{outcome:?}"
        );
        assert_eq!(event, None);
        ctx.sent = vec![bounce::SentMail {
            id: 4,
            kind: crate::core::mail_kind::MailKind::Warning,
            incident: Some(inc.clone()),
            message_id: "w@example.org".into(),
            recipients: vec!["distro@vendor.example".into()],
            subject: "warning".into(),
            token: Some("0123456789abcdef01234567".into()),
            bounced: false,
            went_out: true,
        }];
        let Decision::Bounce { outcome, event } = decide_with(&dsn, &ctx) else {
            panic!("a bounce is a bounce")
        };
        assert!(
            matches!(
                outcome,
                bounce::Outcome::Bounced {
                    tell: bounce::Tell::Src,
                    ..
                }
            ),
            "{outcome:?}"
        );
        let (on, e) = event.expect("recorded on the incident");
        assert_eq!(on, inc);
        assert_eq!(e.kind, EventKind::DeliveryFailed);
        assert!(
            e.detail
                .contains("warning to distro@vendor.example bounced"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn ids_follow_the_utc_year() {
        assert_eq!(year_of("2026-12-31T23:59:59Z".parse().unwrap()), 2026);
        assert_eq!(year_of("2027-01-01T00:00:00Z".parse().unwrap()), 2027);
    }

    fn decide_spam_rules(
        mail: &Inbound,
        ctx: &IntakeContext,
        rules: &[sender_auth::SpamHeader],
        mta: Option<sender_auth::Trusted<'_>>,
    ) -> Decision {
        with_policy(mta, rules, |policy| {
            decide(mail, ctx, policy, now()).unwrap()
        })
    }

    fn spam_report() -> Inbound {
        let mut mail = report("winner@lottery.example");
        mail.auto_reply.verdicts.spam = vec![(
            "X-Spam-Status".into(),
            "Yes, score=12.3 required=5.0".into(),
        )];
        mail
    }

    /// The spam incident `spam_report` opens, and the context a mail in
    /// its thread is decided in.
    fn on_spam() -> (Incident, IntakeContext) {
        let Decision::Open { incident, .. } =
            decide_with(&spam_report(), &IntakeContext::default())
        else {
            panic!("spam opens an incident")
        };
        let mut ctx = IntakeContext::default();
        ctx.known
            .messages
            .insert("r1@researcher.example".into(), incident.id.clone());
        ctx.target = Some(incident.clone());
        (incident, ctx)
    }

    fn in_thread(from: &str, text: &str) -> Inbound {
        let mut mail = report(from);
        mail.message_id = "f1@example.net".into();
        mail.in_reply_to = vec!["r1@researcher.example".into()];
        mail.text = text.into();
        mail
    }

    /// Signed by Alice (a roster member) or another key, over `text`.
    fn signed_by(fingerprint: &str, text: &str) -> Inbound {
        let mut mail = in_thread("alice@example.org", "");
        mail.signature = SignatureStatus::Valid(crate::core::signature::Made {
            fingerprint: fingerprint.into(),
            signed_at: now(),
            digest: "sig-1".into(),
            also: vec![],
            binary: false,
        });
        mail.signed = Some(crate::core::inbound::SignedContent {
            text: text.into(),
            subject: None,
            addressed_to: None,
            patches: vec![],
        });
        mail
    }

    #[test]
    fn mail_marked_as_spam_is_filed_as_spam_and_nobody_is_told() {
        let Decision::Open {
            incident,
            events,
            replies,
        } = decide_with(&spam_report(), &IntakeContext::default())
        else {
            panic!("spam opens an incident")
        };
        assert_eq!(incident.state, State::Spam);
        assert_eq!(
            incident.details.spam_marked_by.as_deref(),
            Some("X-Spam-Status: Yes, score=12.3 required=5.0"),
            "the record says which header marked it"
        );
        assert!(
            replies.is_empty(),
            "no SRC copy, no acknowledgement: {replies:?}"
        );
        assert_eq!(
            kinds(&events),
            [EventKind::Reported, EventKind::AcknowledgementWithheld]
        );
        assert!(
            events[1].detail.contains("/not-spam EMB-2026-0001"),
            "{}",
            events[1].detail
        );
        let replayed = Incident::replay(events.iter().map(|e| (e.changes.as_slice(), e.at)));
        assert_eq!(
            replayed.as_ref(),
            Some(&incident),
            "the event log replays to spam"
        );
    }

    #[test]
    fn the_configured_spam_headers_decide_what_is_spam() {
        let mut mail = report("jane@researcher.example");
        mail.auto_reply.verdicts.spam = vec![("X-Barracuda-Spam-Status".into(), "Yes".into())];
        let state = |mail: &Inbound, rules: &[sender_auth::SpamHeader]| match decide_spam_rules(
            mail,
            &IntakeContext::default(),
            rules,
            None,
        ) {
            Decision::Open { incident, .. } => incident.state,
            other => panic!("{other:?}"),
        };
        let defaults = sender_auth::SpamHeader::defaults();
        assert_eq!(
            state(&mail, &defaults),
            State::Reported,
            "not a default header"
        );
        let barracuda = [sender_auth::SpamHeader {
            header: "x-barracuda-spam-status".into(),
            yes: "YES".into(),
        }];
        assert_eq!(
            state(&mail, &barracuda),
            State::Spam,
            "names and words in any case"
        );
        mail.auto_reply.verdicts.spam = vec![("X-Barracuda-Spam-Status".into(), "No".into())];
        assert_eq!(state(&mail, &barracuda), State::Reported);
        // A header the operator did not name does not file mail as spam,
        // but SpamAssassin's yes still withholds the acknowledgement.
        mail.auto_reply.verdicts.spam = vec![("X-Spam-Flag".into(), "YES".into())];
        let Decision::Open {
            incident, replies, ..
        } = decide_spam_rules(&mail, &IntakeContext::default(), &barracuda, None)
        else {
            panic!()
        };
        assert_eq!(incident.state, State::Reported);
        assert_eq!(replies.len(), 1, "the SRC copy only: {replies:?}");
    }

    #[test]
    fn mail_on_a_spam_incident_is_filed_and_changes_nothing() {
        let (spam, ctx) = on_spam();
        // Forged: From a roster member, unsigned, with commands and tags.
        let mut mail = in_thread(
            "alice@example.org",
            "/accept\n/not-spam EMB-2026-0001\n/lead me\n",
        );
        for encryption in [
            Encryption::None,
            Encryption::Failed {
                detail: "not for us".into(),
            },
        ] {
            mail.encryption = encryption;
            let Decision::Join {
                events,
                replies,
                updated,
                ..
            } = decide_with(&mail, &ctx)
            else {
                panic!("a mail in the thread joins")
            };
            assert!(
                replies.is_empty(),
                "nobody is answered or told: {replies:?}"
            );
            assert_eq!(kinds(&events), [EventKind::MessageAdded]);
            assert!(events[0].changes.is_empty(), "not even activity");
            assert_eq!(updated.as_ref(), Some(&spam));
        }
        // The reporter (the spammer) writing again changes nothing either.
        let again = in_thread("winner@lottery.example", "any news?");
        let Decision::Join {
            updated,
            events,
            replies,
            ..
        } = decide_with(&again, &ctx)
        else {
            panic!()
        };
        assert!(replies.is_empty(), "spam is not relayed: {replies:?}");
        assert_eq!(kinds(&events), [EventKind::MessageAdded]);
        assert!(events[0].changes.is_empty());
        assert_eq!(updated.as_ref(), Some(&spam));
    }

    #[test]
    fn a_later_mail_marked_as_spam_cannot_make_a_report_spam() {
        let Decision::Open { incident, .. } = decide_with(
            &report("jane@researcher.example"),
            &IntakeContext::default(),
        ) else {
            panic!()
        };
        let mut ctx = IntakeContext::default();
        ctx.known
            .messages
            .insert("r1@researcher.example".into(), incident.id.clone());
        ctx.target = Some(incident.clone());
        let mut hostile = in_thread("someone@elsewhere.example", "I will publish on Friday");
        hostile.auto_reply.verdicts.spam = vec![("X-Spam-Flag".into(), "YES".into())];
        let Decision::Join { updated, .. } = decide_with(&hostile, &ctx) else {
            panic!("a follow-up joins, spam header or not")
        };
        assert_eq!(updated.map(|u| u.state), Some(State::Reported));
    }

    #[test]
    fn not_spam_from_a_roster_member_restores_the_report() {
        let (_, ctx) = on_spam();
        let mail = signed_by("A11CE", "/not-spam EMB-2026-0001\n");
        let Decision::Join {
            updated, replies, ..
        } = decide_with(&mail, &ctx)
        else {
            panic!()
        };
        let restored = updated.unwrap();
        assert_eq!(restored.state, State::Reported);
        assert_eq!(restored.details.restored_at, Some(now()));
        assert_eq!(
            restored.details.first_response_at, None,
            "a new report, unanswered"
        );
        assert!(
            matches!(&replies[0], Reply::Command(r) if r.applied() && r.to == ["alice@example.org", "src@example.org"]),
            "{replies:?}"
        );
        assert_eq!(
            replies[1],
            Reply::RestoredReport,
            "the SRC copy is owed now"
        );
        assert_eq!(replies.len(), 2, "nothing but commands: not relayed");
        // What the member wrote beside the command reaches the insiders.
        let noted = signed_by(
            "A11CE",
            "/not-spam EMB-2026-0001\nA real RCE; Bob, please look.\n",
        );
        let Decision::Join { replies, .. } = decide_with(&noted, &ctx) else {
            panic!()
        };
        assert!(
            replies.iter().any(|r| matches!(r, Reply::Relay(_))),
            "{replies:?}"
        );
    }

    #[test]
    fn not_spam_relays_the_follow_ups_held_while_it_was_spam_but_not_commands_or_autoreplies() {
        let (spam, ctx) = on_spam();
        let Decision::Join {
            updated: Some(mut restored),
            ..
        } = decide_with(&signed_by("A11CE", "/not-spam EMB-2026-0001\n"), &ctx)
        else {
            panic!("/not-spam restores it")
        };
        // The reporter's, marked as spam like their report: the member's
        // judgement stands for it too. A stranger's spam on the same thread
        // is not theirs to vouch for.
        let mut follow_up = in_thread("winner@lottery.example", "I will publish on Friday.");
        follow_up.auto_reply.verdicts = spam_report().auto_reply.verdicts;
        follow_up.sender_key = Some(SenderKey {
            fingerprint: "F00D".into(),
            armored: "key".into(),
            source: crate::core::inbound::KeySource::Autocrypt,
            expires_at: None,
            encryption_expires_at: None,
            unusable: None,
        });
        let mut stranger = in_thread("pills@pharma.example", "Cheap pills.");
        stranger.message_id = "p1@pharma.example".into();
        stranger.auto_reply.verdicts = spam_report().auto_reply.verdicts;
        let mut command = signed_by("A11CE", "/accept\n");
        command.message_id = "c1@example.org".into();
        let mut away = in_thread("winner@lottery.example", "I am away until Monday.");
        away.message_id = "a1@lottery.example".into();
        away.auto_reply.auto_submitted = Some("auto-replied".into());
        let mut reused = in_thread("someone@else.example", "Same Message-ID as the report.");
        reused.message_id = "r1@researcher.example".into();
        let held = [follow_up, stranger, command, away, reused];
        let out = with_policy(None, &sender_auth::SpamHeader::defaults(), |policy| {
            held_mails(
                &held,
                3,
                "r1@researcher.example",
                &mut restored,
                policy,
                now(),
            )
        });
        assert_eq!(
            out.len(),
            6,
            "one verdict per held mail, one for those left out"
        );
        let HeldMail {
            event: queued,
            reply: Some(Reply::Relay(relay)),
        } = &out[0]
        else {
            panic!("the follow-up is relayed: {out:?}")
        };
        assert_eq!(queued.kind, EventKind::RelayQueued);
        assert!(
            queued.detail.contains("held while the report was spam"),
            "{}",
            queued.detail
        );
        assert!(
            relay.to.iter().any(|i| i.email == "src@example.org"),
            "{relay:?}"
        );
        assert_eq!(
            restored
                .details
                .reporter_key
                .as_ref()
                .map(|k| k.fingerprint.as_str()),
            Some("F00D"),
            "the key in the reporter's held mail is theirs now"
        );
        let withheld = |n: usize, why: &str| {
            assert!(
                out[n].reply.is_none()
                    && out[n].event.kind == EventKind::RelayWithheld
                    && out[n].event.detail.contains(why),
                "{n}: {:?}",
                out[n]
            )
        };
        withheld(1, "marked as spam");
        withheld(2, "only commands");
        withheld(3, "automated");
        withheld(4, "would loop");
        withheld(5, "3 more mail(s) not relayed");
        assert_eq!(spam.state, State::Spam, "the incident it restores was spam");
    }

    #[test]
    fn not_spam_unsigned_by_a_stranger_or_replayed_changes_nothing() {
        let (spam, ctx) = on_spam();
        let unchanged = |mail: &Inbound, ctx: &IntakeContext| -> Vec<Reply> {
            let Decision::Join {
                updated, replies, ..
            } = decide_with(mail, ctx)
            else {
                panic!()
            };
            assert_eq!(updated.as_ref(), Some(&spam), "still spam");
            assert!(!replies.contains(&Reply::RestoredReport));
            replies
        };
        // Unsigned, From a member: not heard at all.
        let unsigned = in_thread("alice@example.org", "/not-spam EMB-2026-0001\n");
        assert!(unchanged(&unsigned, &ctx).is_empty());
        // Signed by a key the roster does not have: not heard either.
        let stranger = signed_by("EEEE", "/not-spam EMB-2026-0001\n");
        assert!(unchanged(&stranger, &ctx).is_empty());
        // A member's signature seen before: refused, and told why.
        let mut replayed = IntakeContext {
            commands: CommandFacts {
                signature_used: true,
                ..CommandFacts::default()
            },
            ..ctx.clone()
        };
        replayed.known = ctx.known.clone();
        let member = signed_by("A11CE", "/not-spam EMB-2026-0001\n");
        let replies = unchanged(&member, &replayed);
        assert!(
            matches!(&replies[..], [Reply::Command(r)] if r.refused == Some(crate::core::command_mail::Refusal::Replayed) && r.text.contains("seen before")),
            "{replies:?}"
        );
    }

    #[test]
    fn not_spam_on_a_report_that_is_not_spam_is_refused_saying_why() {
        let Decision::Open { incident, .. } = decide_with(
            &report("jane@researcher.example"),
            &IntakeContext::default(),
        ) else {
            panic!()
        };
        let mut ctx = IntakeContext::default();
        ctx.known
            .messages
            .insert("r1@researcher.example".into(), incident.id.clone());
        ctx.target = Some(incident.clone());
        let mail = signed_by("A11CE", "/not-spam EMB-2026-0001\n");
        let Decision::Join {
            updated, replies, ..
        } = decide_with(&mail, &ctx)
        else {
            panic!()
        };
        assert_eq!(updated.map(|u| u.state), Some(State::Reported));
        assert!(
            matches!(&replies[..], [Reply::Command(r)] if !r.applied()
                && r.text.contains("EMB-2026-0001 is reported, not spam")),
            "{replies:?}"
        );
    }

    #[test]
    fn other_commands_on_spam_are_refused_until_it_is_restored() {
        let (spam, ctx) = on_spam();
        let mail = signed_by("A11CE", "/accept EMB-2026-0001\n");
        let Decision::Join {
            updated, replies, ..
        } = decide_with(&mail, &ctx)
        else {
            panic!()
        };
        assert_eq!(updated.as_ref(), Some(&spam));
        assert!(
            matches!(&replies[..], [Reply::Command(r)] if r.text.contains("restore it first with /not-spam EMB-2026-0001")),
            "{replies:?}"
        );
    }

    #[test]
    fn a_restored_report_is_acknowledged_only_to_an_authenticated_sender() {
        let roster = roster();
        let own = vec!["security@example.org".to_owned()];
        let defaults = sender_auth::SpamHeader::defaults();
        let slots = SlotRules::default();
        let policy = |mta| IntakePolicy {
            prefix: "EMB",
            own_addresses: &own,
            ack_window: SignedDuration::from_hours(1),
            roster: &roster,
            address_ok: |a| a.contains('@'),
            src_address: "src@example.org",
            slots: &slots,
            max_signature_age: SignedDuration::from_hours(7 * 24),
            announce: &[],
            trusted_mta: mta,
            advisory: None,
            spam_headers: &defaults,
            verp: true,
        };
        let (spam, _) = on_spam();
        let mut report = spam_report();
        let (events, replies) = restored_report(&report, &spam, &policy(None), now());
        assert!(
            matches!(&replies[..], [Reply::SrcCopy { withheld: Some(_) }]),
            "{replies:?}"
        );
        assert_eq!(
            kinds(&events),
            [EventKind::SrcCopyQueued, EventKind::AcknowledgementWithheld]
        );
        let mta = Some(sender_auth::Trusted {
            authserv_id: "mx.example.org",
            received_by_us: 1,
        });
        let (_, replies) = restored_report(&report, &spam, &policy(mta), now());
        assert_eq!(replies.len(), 1, "not authenticated: {replies:?}");
        report.auto_reply.verdicts.results = vec![crate::core::sender_auth::AuthResults {
            received_above: 0,
            value: "mx.example.org; dmarc=pass header.from=lottery.example".into(),
        }];
        let (_, replies) = restored_report(&report, &spam, &policy(mta), now());
        assert!(
            matches!(&replies[..], [Reply::SrcCopy { withheld: None }, Reply::Acknowledgement { to }] if to.email == "winner@lottery.example"),
            "{replies:?}"
        );
    }

    #[test]
    fn a_stranger_writing_the_reporters_from_cannot_swap_their_key() {
        use crate::core::inbound::KeySource;
        let now = now();
        let key = |fp: &str, unusable: Option<&str>| SenderKey {
            fingerprint: fp.into(),
            armored: "armored".into(),
            source: KeySource::Autocrypt,
            expires_at: None,
            encryption_expires_at: None,
            unusable: unusable.map(str::to_owned),
        };
        let jane = key("AAAA", None);
        let attacker = key("EEEE", None);
        let revoked = key("EEEE", Some("it is revoked"));
        // The first key is taken; without the MTA's word, another is not.
        assert!(key_replaces(None, &jane, None, now));
        assert!(!key_replaces(Some(&jane), &attacker, None, now));
        // The same key again (a new expiry) is.
        assert!(key_replaces(Some(&jane), &jane, None, now));
        // A key that can encrypt is never given up for one that cannot,
        // even on the MTA's word.
        assert!(!key_replaces(Some(&jane), &revoked, Some(true), now));
        // The MTA authenticated the reporter: their new key counts.
        assert!(key_replaces(Some(&jane), &attacker, Some(true), now));
        assert!(!key_replaces(None, &jane, Some(false), now));
        // Once the key held cannot be used, another may replace it.
        let expired = SenderKey {
            expires_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            ..key("AAAA", None)
        };
        assert!(key_replaces(Some(&expired), &attacker, None, now));
    }
}
