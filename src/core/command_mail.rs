//! One mail carrying commands for an incident: is it authentic, is it meant
//! for this incident and fresh, may its signer give these commands, and
//! what do they do, all of them or none.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};

use super::authority::{self, Role};
use super::command::{self, CommandLine};
use super::event::{Event, EventKind};
use super::inbound::Inbound;
use super::incident::Incident;
use super::incident_id::IncidentId;
use super::lifecycle::{self, Facts};
use super::roster::Roster;
use super::signature::{Made, SignatureStatus};
use super::slot::SlotRules;
use super::status;

pub struct CommandPolicy<'a> {
    pub roster: &'a Roster,
    pub prefix: &'a str,
    pub slots: &'a SlotRules,
    /// Signatures older than this are not accepted for commands.
    pub max_signature_age: SignedDuration,
    pub src_address: &'a str,
    /// The list's own addresses: a signed mail must be written to one.
    pub own_addresses: &'a [String],
    /// The announce lists: whatever reaches them is public.
    pub announce: &'a [String],
    /// Whether mail can be written to an address; the edge knows the syntax.
    pub address_ok: fn(&str) -> bool,
    /// `[advisory]`: when set, the reply says what the advisories need.
    pub advisory: Option<&'a crate::advisory::Publisher>,
}

/// What the store knows that the decision needs.
#[derive(Debug, Clone, Default)]
pub struct CommandFacts {
    /// This signature was seen before, on any mail: it is spent.
    pub signature_used: bool,
    pub last_lead: Option<String>,
    pub existing: HashSet<IncidentId>,
}

/// The one reply every command mail gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandReply {
    pub to: Vec<String>,
    /// Why nothing was changed; `None` when the commands applied.
    pub refused: Option<Refusal>,
    pub text: String,
}

impl CommandReply {
    pub fn applied(&self) -> bool {
        self.refused.is_none()
    }

    pub fn verdict(&self) -> CommandVerdict {
        match self.refused {
            None => CommandVerdict::Applied,
            Some(why) => CommandVerdict::Refused(why),
        }
    }
}

/// What became of a mail's commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandVerdict {
    Applied,
    Refused(Refusal),
}

/// Why a command mail changed nothing, as one word of a fixed set: what the
/// metrics count by (the reply's text says it to the person, with the
/// details no metric may carry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// A signature covers part of the mail, or its structure is ambiguous.
    Unproven,
    /// No valid signature by a roster key.
    Unauthenticated,
    /// Signed for other readers than this list.
    WrittenElsewhere,
    /// A command line could not be read.
    Malformed,
    /// A line names another incident.
    OtherIncident,
    /// The signed text does not name the incident.
    IncidentNotNamed,
    SignatureTooOld,
    SignatureFromTheFuture,
    /// The signature was seen before.
    Replayed,
    /// The signer's roles on the incident do not allow a command.
    NotAuthorised,
    /// The lifecycle refuses a command in the incident's state.
    NotApplicable,
}

impl Refusal {
    pub const ALL: [Refusal; 11] = [
        Refusal::Unproven,
        Refusal::Unauthenticated,
        Refusal::WrittenElsewhere,
        Refusal::Malformed,
        Refusal::OtherIncident,
        Refusal::IncidentNotNamed,
        Refusal::SignatureTooOld,
        Refusal::SignatureFromTheFuture,
        Refusal::Replayed,
        Refusal::NotAuthorised,
        Refusal::NotApplicable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Unproven => "unproven-signature",
            Refusal::Unauthenticated => "unauthenticated",
            Refusal::WrittenElsewhere => "written-elsewhere",
            Refusal::Malformed => "malformed",
            Refusal::OtherIncident => "other-incident",
            Refusal::IncidentNotNamed => "incident-not-named",
            Refusal::SignatureTooOld => "signature-too-old",
            Refusal::SignatureFromTheFuture => "signature-from-the-future",
            Refusal::Replayed => "replayed",
            Refusal::NotAuthorised => "not-authorised",
            Refusal::NotApplicable => "not-applicable",
        }
    }
}

#[derive(Debug, Clone)]
pub struct CommandOutcome {
    /// The incident afterwards: unchanged when the mail was refused.
    pub incident: Incident,
    pub event: Event,
    pub reply: CommandReply,
    /// The Fix Lead the round-robin assigned, to continue from next time.
    pub lead_assigned: Option<String>,
    /// Answers to the reporter (`/reply`), when the commands applied.
    pub answers: Vec<super::answer::ReporterAnswer>,
}

/// A future-dated signature is accepted within this much clock skew.
const SKEW: SignedDuration = SignedDuration::from_mins(10);

fn roles_text(roles: &[Role]) -> String {
    if roles.is_empty() {
        "you hold no role on it".to_owned()
    } else {
        format!(
            "you are {}",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn unauthenticated(signature: &SignatureStatus) -> String {
    match signature {
        SignatureStatus::Unsigned => "the mail is not signed: commands count only with a valid OpenPGP signature by a roster key".to_owned(),
        SignatureStatus::Valid(made) => format!("it is signed by {}, which is not a roster key", made.fingerprint),
        other => format!("its signature does not authenticate anyone: {other}"),
    }
}

/// Decides about a mail that joined `incident`; `None` when it has no commands.
pub fn handle(
    incident: &Incident,
    mail: &Inbound,
    facts: &CommandFacts,
    policy: &CommandPolicy<'_>,
    now: Timestamp,
) -> Option<CommandOutcome> {
    let (lines, errors) = command::parse(mail.command_text(), policy.prefix);
    // A roster member whose good signature is in a mail that proves nothing
    // is told, commands or not, the first time that signature is seen (not
    // at each copy someone sends again).
    let tell_signer = match &mail.signature {
        SignatureStatus::Unproven {
            signed_by: Some(made),
            ..
        } => {
            !facts.signature_used
                && policy
                    .roster
                    .person_by_fingerprint(&made.fingerprint)
                    .is_some()
        }
        _ => false,
    };
    if lines.is_empty() && errors.is_empty() && !tell_signer {
        return None;
    }
    let id = &incident.id;
    let refuse = |refusal: Refusal, to: Vec<String>, actor: String, why: String| CommandOutcome {
        incident: incident.clone(),
        event: Event {
            at: now,
            kind: EventKind::CommandRefused,
            actor,
            message_id: Some(mail.message_id.clone()),
            detail: why.clone(),
            changes: Vec::new(),
        },
        reply: CommandReply {
            to,
            refused: Some(refusal),
            text: format!("Nothing was changed on {id}: {why}\n"),
        },
        lead_assigned: None,
        answers: Vec::new(),
    };

    // Authentic: a valid signature over the whole mail by a roster key.
    // Without one, the answer goes to the roster address of whoever signed
    // a part of it, or else to the SRC list; never to the From: address.
    let Some(signer) = mail.signature.signer(policy.roster) else {
        if let SignatureStatus::Unproven {
            detail,
            signed_by: Some(made),
        } = &mail.signature
            && let Some(member) = policy.roster.person_by_fingerprint(&made.fingerprint)
        {
            if !tell_signer {
                // Seen before: told then; the copy changes nothing.
                return None;
            }
            return Some(refuse(
                Refusal::Unproven,
                vec![member.email.clone()],
                member.email.clone(),
                format!(
                    "the mail (Message-ID <{}>) carries your good signature, but it proves nothing: {detail}. \
                     Only what a signature covers counts, and it must cover the whole mail: send the commands again \
                     as one PGP/MIME signed mail, attachments inside the signed part, with nothing outside it: \
                     your mail client's OpenPGP \"sign\" (PGP/MIME, not inline), or `embargo command` from \
                     the command line (see the README, \"Signing commands\")",
                    mail.message_id
                ),
            ));
        }
        let from = mail.from.as_ref().map_or("no From", |f| f.email.as_str());
        let refusal = match &mail.signature {
            SignatureStatus::Unproven { .. } => Refusal::Unproven,
            _ => Refusal::Unauthenticated,
        };
        let why = match &mail.signature {
            SignatureStatus::Unproven { detail, .. } => format!(
                "a mail (From: {from}, Message-ID <{}>) carries a signature that proves nothing: {detail}. \
                 Nothing in it counts as a command",
                mail.message_id
            ),
            other => format!(
                "a mail (From: {from}, Message-ID <{}>) carried commands, but {}",
                mail.message_id,
                unauthenticated(other)
            ),
        };
        return Some(refuse(
            refusal,
            vec![policy.src_address.to_owned()],
            format!("unauthenticated (From: {from})"),
            why,
        ));
    };
    let to_signer = vec![signer.email.clone()];
    let actor = signer.email.clone();

    // Written to this list: a mail signed for other readers (its protected
    // To and Cc name them) is not a command here, however it arrived.
    if let Some(signed) = mail.signed.as_ref()
        && !signed.written_to(policy.own_addresses)
    {
        let to = signed.addressed_to.clone().unwrap_or_default();
        return Some(refuse(
            Refusal::WrittenElsewhere,
            to_signer,
            actor,
            format!(
                "the signed mail was written to {}, not to this list: a signed mail sent elsewhere \
                 does not count here. Send the commands to {}",
                if to.is_empty() {
                    "no one named".to_owned()
                } else {
                    to.join(", ")
                },
                policy.src_address
            ),
        ));
    }

    if !errors.is_empty() {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        return Some(refuse(
            Refusal::Malformed,
            to_signer,
            actor,
            format!("a command is not correct:\n{}", list.join("\n")),
        ));
    }

    // Meant for this incident: the signed text must name it, so that a
    // signed command cannot be replayed into another incident's thread.
    if let Some(other) = lines
        .iter()
        .find(|l| l.names.as_ref().is_some_and(|n| n != id))
    {
        return Some(refuse(
            Refusal::OtherIncident,
            to_signer,
            actor,
            format!(
                "the line {:?} names {}, not {id}: a command signed for one incident is not applied to another",
                other.line,
                other
                    .names
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
        ));
    }
    let named_on_a_line = lines
        .iter()
        .any(|l: &CommandLine| l.names.as_ref() == Some(id));
    let named_in_signed_subject = mail
        .signed
        .as_ref()
        .and_then(|s| s.subject.as_deref())
        .is_some_and(|s| s.contains(&id.tag()));
    if !named_on_a_line && !named_in_signed_subject {
        return Some(refuse(
            Refusal::IncidentNotNamed,
            to_signer,
            actor,
            format!(
                "the signed text does not name {id}: write it on a command line (for example `/accept {id}`), or send the Subject signed (protected headers)"
            ),
        ));
    }
    // Fresh: made recently, and never used before.
    let SignatureStatus::Valid(Made { signed_at, .. }) = &mail.signature else {
        unreachable!("signer() is only Some for a valid signature")
    };
    if *signed_at + policy.max_signature_age < now {
        return Some(refuse(
            Refusal::SignatureTooOld,
            to_signer,
            actor,
            format!(
                "the signature was made {}, more than {} days ago: sign the commands again",
                signed_at.strftime("%Y-%m-%d %H:%M UTC"),
                policy.max_signature_age.as_hours() / 24
            ),
        ));
    }
    if *signed_at > now + SKEW {
        return Some(refuse(
            Refusal::SignatureFromTheFuture,
            to_signer,
            actor,
            format!(
                "the signature claims to be made in the future ({}): check your clock",
                signed_at.strftime("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    if facts.signature_used {
        return Some(refuse(
            Refusal::Replayed,
            to_signer,
            actor,
            "this signature was seen before: a signed mail counts once, the first time it arrives, \
             whether or not its commands applied then. Sign the commands again"
                .to_owned(),
        ));
    }

    // Authorised, each command; then applied in order, all or nothing.
    let lifecycle_facts = Facts {
        roster: policy.roster,
        slots: policy.slots,
        patches: mail.signed.as_ref().map_or(&[], |s| &s.patches),
        existing: &facts.existing,
        last_lead: facts.last_lead.as_deref(),
        own_addresses: policy.own_addresses,
        announce: policy.announce,
        address_ok: policy.address_ok,
    };
    let mut working = incident.clone();
    let mut changes = Vec::new();
    let mut summaries = Vec::new();
    let mut lead_assigned = None;
    let mut answers = Vec::new();
    for line in &lines {
        let roles = authority::roles(&signer.email, &working, policy.roster);
        if !authority::may(&roles, &line.command) {
            let needed: Vec<&str> = authority::allowed(&line.command)
                .iter()
                .map(|r| r.as_str())
                .collect();
            return Some(refuse(
                Refusal::NotAuthorised,
                to_signer,
                actor,
                format!(
                    "{:?} may be given by the {}; on {id} {}",
                    line.line,
                    needed.join(" or "),
                    roles_text(&roles)
                ),
            ));
        }
        match lifecycle::apply(
            &working,
            &line.command,
            &signer.email,
            &lifecycle_facts,
            now,
        ) {
            Ok(applied) => {
                if let command::Command::Reply { text } = &line.command {
                    match super::answer::plan(
                        &working,
                        text,
                        &signer.email,
                        policy.src_address,
                        policy.address_ok,
                        now,
                    ) {
                        Ok(mut answer) => {
                            answer.text_in_copy =
                                mail.encryption != super::signature::Encryption::Decrypted;
                            answers.push(answer);
                        }
                        Err(why) => {
                            return Some(refuse(
                                Refusal::NotApplicable,
                                to_signer,
                                actor,
                                format!("{:?} cannot be applied: {why}", line.line),
                            ));
                        }
                    }
                }
                for c in &applied.changes {
                    if let (
                        command::Command::Accept,
                        super::incident::Change::Lead { email: Some(e) },
                    ) = (&line.command, c)
                    {
                        lead_assigned = Some(e.clone());
                    }
                    working.apply(c, now);
                }
                changes.extend(applied.changes);
                summaries.push(format!("{}: {}", line.line, applied.summary));
            }
            Err(why) => {
                return Some(refuse(
                    Refusal::NotApplicable,
                    to_signer,
                    actor,
                    format!(
                        "{:?} cannot be applied: {why}. Commands apply all or nothing",
                        line.line
                    ),
                ));
            }
        }
    }
    let mut text = format!("Applied to {id}, in order:\n");
    for s in &summaries {
        text.push_str(&format!("  {s}\n"));
    }
    text.push('\n');
    text.push_str(&status::status_text(&working));
    if let Some(shortfall) = advisory_shortfall(&working, policy, now) {
        text.push('\n');
        text.push_str(&shortfall);
    }
    Some(CommandOutcome {
        event: Event {
            at: now,
            kind: EventKind::Command,
            actor,
            message_id: Some(mail.message_id.clone()),
            detail: summaries.join("; "),
            changes,
        },
        incident: working,
        reply: CommandReply {
            to: vec![signer.email.clone(), policy.src_address.to_owned()],
            refused: None,
            text,
        },
        lead_assigned,
        answers,
    })
}

/// What the advisories the notices carry still need, for the status part
/// of a reply: nothing without `[advisory]`, and only between triage and
/// the announcement, while what is missing can still reach the notices.
fn advisory_shortfall(
    incident: &Incident,
    policy: &CommandPolicy<'_>,
    now: Timestamp,
) -> Option<String> {
    use super::incident::State;
    let publisher = policy.advisory?;
    if !matches!(
        incident.state,
        State::Triaged | State::Fixing | State::DisclosurePlanned | State::DistributorsNotified
    ) {
        return None;
    }
    crate::advisory::checked(incident, &[], publisher, None, now).shortfall()
}
