//! The incident lifecycle: what one command does to an incident.
//!
//! `reported → triaged → fixing → disclosure-planned → distributors-notified
//! → announced → retrospective → closed`, with `rejected`, `duplicate` and
//! `cancelled` as other ends, and the flags public, embargo-broken, on-hold.
//! `apply` is a function of values: the incident, the command, who gives
//! it, what the store knows, and `now`. It returns the changes to make, or
//! why it refuses.

use std::collections::HashSet;

use jiff::civil::Time;
use jiff::{SignedDuration, Timestamp};

use super::command::{Command, TeamOp, Who};
use super::incident::{Change, Cwe, Field, Incident, NoticeFields, Patch, State};
use super::incident_id::IncidentId;
use super::notice_kind::NoticeKind;
use super::roster::Roster;
use super::severity::{self, Severity};
use super::slot::{self, SlotRules};
use super::versions;

/// What `apply` needs to know besides the incident.
pub struct Facts<'a> {
    pub roster: &'a Roster,
    pub slots: &'a SlotRules,
    /// Patches attached to the command mail, for `/approve distributors`.
    pub patches: &'a [Patch],
    /// Incidents that exist, for `/duplicate`.
    pub existing: &'a HashSet<IncidentId>,
    /// The Fix Lead assigned last, for the round-robin.
    pub last_lead: Option<&'a str>,
    /// Addresses that may never join the Fix Team: embargo's own, and the
    /// announce lists, where whatever arrives is public.
    pub own_addresses: &'a [String],
    pub announce: &'a [String],
    /// Whether mail can be written to an address; the edge knows the syntax.
    pub address_ok: fn(&str) -> bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub changes: Vec<Change>,
    /// What happened, for the reply and the event log.
    pub summary: String,
}

fn applied(changes: Vec<Change>, summary: impl Into<String>) -> Result<Applied, String> {
    Ok(Applied {
        changes,
        summary: summary.into(),
    })
}

/// What the process asks a notice to carry that the incident does not
/// have yet: every notice names the versions, the impact and where the
/// releases are; the distributors' one carries the patches when the patch
/// itself is under embargo (it cannot be fetched from anywhere else).
pub fn missing_facts(
    kind: NoticeKind,
    fields: &NoticeFields,
    patches: &[Patch],
) -> Vec<&'static str> {
    let mut missing = Vec::new();
    for (value, name) in [
        (&fields.summary, "a summary (/set summary)"),
        (&fields.affected, "the affected versions (/set affected)"),
        (&fields.fixed, "the fixed versions (/set fixed)"),
        (&fields.impact, "the impact (/set impact)"),
        (&fields.releases, "where the releases are (/set releases)"),
    ] {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            missing.push(name);
        }
    }
    // The notice calls the patch embargoed unless told otherwise, so the
    // distributors need it in hand unless `/set patch-embargoed no` said
    // they can take it from the public tree.
    if kind == NoticeKind::Distributors
        && fields.patch_embargoed != Some(false)
        && patches.is_empty()
    {
        missing.push(
            "the patches (the patch is embargoed: attach the .patch files to the /approve mail, \
             or say it is public with /set patch-embargoed no)",
        );
    }
    missing
}

const VERSIONS_AS_PROSE: &str = " (kept as prose only: the CVE record, OSV and CSAF need versions, \
     written as ranges like >=2.3.0 <2.3.10 or 2.4.0 - 2.4.1, or a list like 2.3.10, 2.4.2)";

/// A command that asks for what already is changes nothing and is not an
/// error: a mail that also does something else still goes through, and the
/// reply says so.
fn unchanged(what: impl std::fmt::Display) -> Result<Applied, String> {
    applied(Vec::new(), format!("no change, {what}"))
}

fn resolve(who: &Who, actor: &str) -> String {
    match who {
        Who::Me => actor.to_ascii_lowercase(),
        Who::Address(a) => a.to_ascii_lowercase(),
    }
}

/// What a change to what the notices say does to their approvals, for the
/// command's reply: each approval not yet used (or owed again as a
/// correction) is withdrawn. Empty when there is none.
fn withdrawn(d: &super::incident::Details) -> String {
    let withdrawn: Vec<&str> = NoticeKind::ALL
        .iter()
        .filter(|k| {
            d.approval(**k).is_some()
                && (!super::timeline::sent(d, **k)
                    || (**k == NoticeKind::Distributors && super::timeline::correction(d)))
        })
        .map(|k| k.as_str())
        .collect();
    if withdrawn.is_empty() {
        return String::new();
    }
    format!(
        " (this withdraws the approval of the {} notice: approve it again once it \
         says what it should)",
        withdrawn.join(", ")
    )
}

pub fn apply(
    incident: &Incident,
    command: &Command,
    actor: &str,
    facts: &Facts<'_>,
    now: Timestamp,
) -> Result<Applied, String> {
    let state = incident.state;
    let d = &incident.details;
    let id = &incident.id;
    // A closed incident's reporter may still be answered.
    if state.is_final() && !matches!(command, Command::Status | Command::Reply { .. }) {
        return Err(format!("{id} is {state}: nothing more can change it"));
    }
    let accepted_first = || Err(format!("{id} is not accepted yet: /accept it first"));
    if state == State::Spam && !matches!(command, Command::NotSpam | Command::Status) {
        return Err(format!(
            "{id} was filed as spam ({}): if it is a real report, restore it first with /not-spam {id}",
            d.spam_marked_by
                .as_deref()
                .unwrap_or("marked by the mail server")
        ));
    }
    match command {
        Command::NotSpam => {
            if state != State::Spam {
                return Err(format!(
                    "{id} is {state}, not spam: /not-spam only restores an incident filed as spam"
                ));
            }
            applied(
                vec![Change::NotSpam],
                format!(
                    "{id} is not spam: spam → reported, as a report arriving now; the SRC gets its \
                     copy, and the deadlines of a new report count from now"
                ),
            )
        }
        Command::Accept => {
            if state != State::Reported {
                return Err(format!("{id} is already {state}"));
            }
            let mut changes = vec![Change::State { to: State::Triaged }];
            let mut summary = format!("{id} accepted: reported → triaged");
            match &d.lead {
                Some(lead) => summary.push_str(&format!("; the Fix Lead stays {lead}")),
                None => {
                    let lead = facts.roster.next_lead(facts.last_lead).ok_or_else(|| {
                        "no SRC member is available to lead (all are on leave): name one with /lead <email>".to_owned()
                    })?;
                    summary.push_str(&format!("; Fix Lead (round-robin): {}", lead.email));
                    changes.push(Change::Lead {
                        email: Some(lead.email.clone()),
                    });
                }
            }
            applied(changes, summary)
        }
        Command::Reject { reason } => match state {
            State::Reported | State::Triaged => applied(
                vec![
                    Change::Resolution {
                        text: reason.clone(),
                    },
                    Change::State {
                        to: State::Rejected,
                    },
                ],
                format!("{id} rejected: {reason}"),
            ),
            _ => Err(format!(
                "{id} is {state}: it can no longer be rejected; /close it instead"
            )),
        },
        Command::Duplicate { of } => {
            if of == id {
                return Err(format!("{id} cannot be a duplicate of itself"));
            }
            if !facts.existing.contains(of) {
                return Err(format!("there is no incident {of}"));
            }
            match state {
                State::Reported | State::Triaged => applied(
                    vec![
                        Change::DuplicateOf { id: of.clone() },
                        Change::Resolution {
                            text: format!("duplicate of {of}"),
                        },
                        Change::State {
                            to: State::Duplicate,
                        },
                    ],
                    format!("{id} closed as a duplicate of {of}"),
                ),
                _ => Err(format!(
                    "{id} is {state}: only a report not yet worked on can be a duplicate"
                )),
            }
        }
        Command::Lead { who } => {
            let email = resolve(who, actor);
            let member = facts.roster.member(&email).ok_or_else(|| {
                format!("{email} is not an SRC member: the Fix Lead comes from the SRC")
            })?;
            if member.on_leave {
                return Err(format!("{email} is on leave"));
            }
            if d.lead.as_deref() == Some(email.as_str()) {
                return unchanged(format!("{email} is already the Fix Lead"));
            }
            applied(
                vec![Change::Lead {
                    email: Some(email.clone()),
                }],
                format!("Fix Lead: {email}"),
            )
        }
        Command::Ic { who } => {
            let email = resolve(who, actor);
            if facts.roster.person(&email).is_none() {
                return Err(format!(
                    "{email} is not in the roster: incident command goes to an SRC member or release manager"
                ));
            }
            if incident.commander.as_deref() == Some(email.as_str()) {
                return unchanged(format!("{email} is already the incident commander"));
            }
            applied(
                vec![Change::Commander {
                    email: email.clone(),
                }],
                format!("incident commander: {email}"),
            )
        }
        Command::Team { op, email } => {
            if state == State::Reported {
                return accepted_first();
            }
            match op {
                TeamOp::Add if d.team.contains(email) => {
                    unchanged(format!("{email} is already in the Fix Team"))
                }
                TeamOp::Add if !(facts.address_ok)(email) => Err(format!(
                    "{email} is not an address mail can be sent to: check its spelling"
                )),
                TeamOp::Add if facts.announce.iter().any(|a| a.eq_ignore_ascii_case(email)) => {
                    Err(format!(
                        "{email} is an announce list: whatever reaches it is public, and the Fix Team gets embargoed mail"
                    ))
                }
                TeamOp::Add
                    if facts
                        .own_addresses
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(email)) =>
                {
                    Err(format!(
                        "{email} is embargo's own address: name the people who write the fix"
                    ))
                }
                TeamOp::Add
                    if incident
                        .reporter
                        .as_ref()
                        .is_some_and(|r| r.email.eq_ignore_ascii_case(email)) =>
                {
                    Err(format!(
                        "{email} reported {id}: the Fix Team gets the distributors' notices, which the \
                         reporter may not; write to them in the incident's thread"
                    ))
                }
                TeamOp::Add => {
                    let mut changes = vec![Change::TeamAdded {
                        email: email.clone(),
                    }];
                    let mut summary = format!("Fix Team: added {email}");
                    if state == State::Triaged {
                        changes.push(Change::State { to: State::Fixing });
                        summary.push_str(&format!("; {id}: triaged → fixing"));
                    }
                    applied(changes, summary)
                }
                // Not a no-op: a misspelt address would leave the person
                // meant to lose access on the team, getting embargoed mail.
                TeamOp::Remove if !d.team.contains(email) => Err(format!(
                    "{email} is not in the Fix Team, which is: {}",
                    if d.team.is_empty() {
                        "nobody".to_owned()
                    } else {
                        d.team.join(", ")
                    }
                )),
                TeamOp::Remove => applied(
                    vec![Change::TeamRemoved {
                        email: email.clone(),
                    }],
                    format!("Fix Team: removed {email}"),
                ),
            }
        }
        Command::Cvss { vector } => {
            let s = severity::from_vector(vector).map_err(|e| e.to_string())?;
            let summary = format!(
                "severity {} (CVSS {:.1}, {}); {}",
                s.rating,
                s.score.unwrap_or_default(),
                s.vector.as_deref().unwrap_or(vector),
                severity::release_policy(s.rating).summary
            );
            applied(vec![Change::Severity { severity: s }], summary)
        }
        Command::Severity { rating } => {
            let previous = d.severity.clone();
            let s = Severity {
                rating: *rating,
                vector: previous.as_ref().and_then(|p| p.vector.clone()),
                score: previous.as_ref().and_then(|p| p.score),
            };
            applied(
                vec![Change::Severity { severity: s }],
                format!(
                    "severity {rating}; {}",
                    severity::release_policy(*rating).summary
                ),
            )
        }
        Command::Cve { ids } => {
            let new: Vec<String> = ids
                .iter()
                .filter(|i| !d.cves.contains(i))
                .cloned()
                .collect();
            if new.is_empty() {
                return unchanged(format!("{} already recorded", ids.join(", ")));
            }
            let known: Vec<&String> = ids.iter().filter(|i| !new.contains(i)).collect();
            let mut summary = format!("CVE: {}", new.join(", "));
            if !known.is_empty() {
                let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                summary.push_str(&format!(" ({} already recorded)", known.join(", ")));
            }
            applied(vec![Change::Cves { ids: new.clone() }], summary)
        }
        Command::Cwe { id, name } => {
            let cwe = Cwe {
                id: id.clone(),
                name: name.clone(),
            };
            match d.cwes.iter().find(|c| c.id == *id) {
                Some(known) if known == &cwe || name.is_none() => {
                    unchanged(format!("{id} already recorded"))
                }
                _ => {
                    // The CSAF and the CVE record draft the advance notice
                    // carries name it: a change needs a new approval, and
                    // after the notice went, a correction.
                    let summary = format!("CWE: {cwe}{}", withdrawn(d));
                    applied(vec![Change::Cwe { cwe }], summary)
                }
            }
        }
        Command::Disclose {
            date,
            time,
            short_notice,
        } => {
            let short_notice = *short_notice;
            let time = time.unwrap_or(Time::constant(facts.slots.hour as i8, 0, 0, 0));
            let at = date
                .to_datetime(time)
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .map_err(|e| format!("{date} {time} is not a time: {e}"))?
                .timestamp();
            if at <= now {
                return Err(format!(
                    "{} is not in the future",
                    at.strftime("%Y-%m-%d %H:%M UTC")
                ));
            }
            let utc = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
            // Public or embargo broken: no slot, no waiting; as soon as approved.
            if !(d.public || d.embargo_broken) {
                if let Some(why) = slot::why_not(at, facts.slots) {
                    return Err(format!(
                        "{} is not a disclosure slot ({why}); the next slot is {}",
                        utc(at),
                        utc(slot::next_slot(at, facts.slots))
                    ));
                }
                let day = SignedDuration::from_hours(24);
                // A short embargo still gives the distributors a day.
                let lead = if short_notice {
                    day
                } else {
                    facts.slots.advance_notice
                };
                let span = |d: SignedDuration| match d.as_hours() {
                    h if h >= 48 => format!("{} days", h / 24),
                    h => format!("{h} hours"),
                };
                let or_shorter = if short_notice {
                    "; short notice still gives them 24 hours"
                } else {
                    "; or add short-notice to give them less (24 hours at the least)"
                };
                let advance_out = d.is_queued(NoticeKind::Distributors.as_str());
                if !d.cves.is_empty() && !advance_out && at < now + lead {
                    return Err(format!(
                        "{} leaves {} for the distributors' advance notice, which needs at least {} \
                         (1 to 4 weeks recommended): the earliest slot is {}{or_shorter}, or mark the \
                         incident /public or /embargo-broken",
                        utc(at),
                        span(at.duration_since(now)),
                        span(lead),
                        utc(slot::next_slot(now + lead, facts.slots))
                    ));
                }
                if let Some(told) = d.advance_at
                    && at < told + lead
                {
                    return Err(format!(
                        "{} is less than {} after the distributors got the advance notice ({}): \
                         the earliest slot is {}{or_shorter}",
                        utc(at),
                        span(lead),
                        utc(told),
                        utc(slot::next_slot((told + lead).max(now + day), facts.slots))
                    ));
                }
                if advance_out && at < now + day {
                    return Err(format!(
                        "{} leaves no time for the 24-hour warning the distributors are owed: the earliest slot is {}",
                        utc(at),
                        utc(slot::next_slot(now + day, facts.slots))
                    ));
                }
            }
            let mut changes = vec![Change::Disclosure { at: Some(at) }];
            if short_notice {
                changes.push(Change::ShortNotice { at: Some(at) });
            } else if d.short_notice.is_some() {
                changes.push(Change::ShortNotice { at: None });
            }
            let when = at.strftime("%Y-%m-%d %H:%M UTC").to_string();
            let when = if short_notice {
                format!("{when}, with short notice to the distributors")
            } else {
                when
            };
            let summary = match state {
                State::Reported => return accepted_first(),
                State::Triaged | State::Fixing => {
                    changes.push(Change::State {
                        to: State::DisclosurePlanned,
                    });
                    format!("disclosure planned for {when}; {id}: {state} → disclosure-planned")
                }
                State::DisclosurePlanned | State::DistributorsNotified => {
                    format!("disclosure moved to {when}")
                }
                _ => return Err(format!("{id} is {state}: the disclosure has happened")),
            };
            applied(changes, summary)
        }
        Command::Public if d.public => unchanged(format!("{id} is already marked public")),
        Command::Public => applied(
            vec![Change::Public],
            "marked public: every timeline is now as soon as approved",
        ),
        Command::EmbargoBroken if d.embargo_broken => {
            unchanged(format!("the embargo of {id} is already marked broken"))
        }
        Command::EmbargoBroken => applied(
            vec![Change::EmbargoBroken],
            "embargo marked broken: every timeline is now as soon as approved",
        ),
        Command::Approve { kind, text, as_is } => {
            if state == State::Reported {
                return accepted_first();
            }
            // After the advance notice went, approving it again approves
            // its correction, once what it stated has changed.
            let correcting = *kind == NoticeKind::Distributors
                && super::timeline::correction(d)
                && d.disclosure.is_some_and(|p| now < p);
            if d.is_queued(kind.as_str()) && !correcting {
                return Err(format!(
                    "the {kind} notice has already gone out{}",
                    if *kind == NoticeKind::Distributors {
                        ", and nothing it stated has changed since"
                    } else {
                        ""
                    }
                ));
            }
            // New patches are a new approval, not "no change".
            let new_patches = *kind == NoticeKind::Distributors && !facts.patches.is_empty();
            if d.approval(*kind).is_some() && text.is_none() && !new_patches {
                return unchanged(format!(
                    "the {kind} notice is already approved as it stands"
                ));
            }
            let asap = d.public || d.embargo_broken;
            if d.disclosure.is_none() && !asap {
                return Err(format!(
                    "plan the disclosure first (/disclose <YYYY-MM-DD>): the {kind} notice names its date"
                ));
            }
            if *kind == NoticeKind::Distributors && d.cves.is_empty() {
                return Err("the distributors' advance notice is for a CVE: record it first (/cve <CVE-YYYY-NNNN>)".to_owned());
            }
            // A correction is the whole notice again: without new patches
            // it carries the ones the distributors already have.
            let earlier: Vec<Patch> = d
                .approved
                .iter()
                .rev()
                .find(|a| a.kind == NoticeKind::Distributors && !a.patches.is_empty())
                .map(|a| a.patches.clone())
                .unwrap_or_default();
            let in_hand = if correcting && facts.patches.is_empty() {
                &earlier[..]
            } else {
                facts.patches
            };
            let missing = missing_facts(*kind, &d.fields, in_hand);
            if !missing.is_empty() && !as_is {
                return Err(format!(
                    "the {kind} notice would go out without {}: set what is missing first \
                     (/set <field> <text>, in this mail before the /approve line), or send it \
                     as it is with /approve {kind} as-is",
                    missing.join(", ")
                ));
            }
            let patches = if *kind == NoticeKind::Distributors {
                in_hand.to_vec()
            } else {
                Vec::new()
            };
            let mut summary = format!(
                "approved: the {kind} notice{}",
                if text.is_some() {
                    ", with the text of this mail"
                } else {
                    " as drafted"
                }
            );
            if !facts.patches.is_empty() && patches.is_empty() {
                summary.push_str(
                    "; the attached files are not sent: patches go with the distributors' notice only",
                );
            } else if !facts.patches.is_empty() {
                summary.push_str(&format!(", with {} patch(es) attached", patches.len()));
            } else if !patches.is_empty() {
                summary.push_str(&format!(
                    ", with the {} patch(es) approved with it before",
                    patches.len()
                ));
            }
            if !missing.is_empty() {
                summary.push_str(&format!(", as it is: without {}", missing.join(", ")));
            }
            if correcting {
                summary.push_str(
                    "; the distributors get it as a corrected advance notice, with what changed",
                );
                if d.on_hold {
                    summary.push_str(", after /resume");
                }
            }
            applied(
                vec![Change::Approved {
                    kind: *kind,
                    by: actor.to_ascii_lowercase(),
                    text: text.clone(),
                    patches,
                }],
                summary,
            )
        }
        Command::Set { field, value } => {
            if state == State::Reported {
                return accepted_first();
            }
            let mut summary = format!("{}: {value}", field.as_str());
            // Whether the advisories can use it: say so now, not at the slot.
            match field {
                Field::Affected => match versions::parse(value) {
                    Some(items) => summary.push_str(&format!(
                        " (read as versions: {})",
                        versions::describe(&items)
                    )),
                    None => summary.push_str(VERSIONS_AS_PROSE),
                },
                Field::Fixed => match versions::fixed(value) {
                    Some(v) => summary.push_str(&format!(" (read as versions: {})", v.join("; "))),
                    None => summary.push_str(VERSIONS_AS_PROSE),
                },
                _ => {}
            }
            summary.push_str(&withdrawn(d));
            applied(
                vec![Change::Field {
                    field: *field,
                    value: value.clone(),
                }],
                summary,
            )
        }
        Command::Hold if d.on_hold => unchanged(format!("{id} is already on hold")),
        Command::Hold => applied(
            vec![Change::Hold { on: true }],
            "on hold: no reminders or scheduled sends until /resume",
        ),
        Command::Resume if !d.on_hold => unchanged(format!("{id} is not on hold")),
        Command::Resume => applied(vec![Change::Hold { on: false }], "resumed"),
        Command::Status => applied(Vec::new(), "status sent"),
        // The mail itself is decided by `command_mail`, which knows the
        // SRC list; here, whether it can go.
        Command::Reply { text } => {
            super::answer::plan(incident, text, actor, "", facts.address_ok, now).map(|a| Applied {
                changes: Vec::new(),
                summary: a.summary(),
            })
        }
        Command::Close => match state {
            State::Announced | State::Retrospective => applied(
                vec![Change::State { to: State::Closed }],
                format!("{id}: {state} → closed"),
            ),
            State::Triaged | State::Fixing | State::DisclosurePlanned => applied(
                vec![
                    Change::Resolution {
                        text: "closed before disclosure".to_owned(),
                    },
                    Change::State {
                        to: State::Cancelled,
                    },
                ],
                format!("{id}: {state} → cancelled (closed before disclosure)"),
            ),
            // The distributors hear that the date they hold is off.
            State::DistributorsNotified => applied(
                vec![
                    Change::Resolution {
                        text: "closed before disclosure".to_owned(),
                    },
                    Change::State {
                        to: State::Cancelled,
                    },
                ],
                format!(
                    "{id}: {state} → cancelled (closed before disclosure); the distributors \
                     are told the disclosure is cancelled"
                ),
            ),
            State::Reported => Err(format!(
                "{id} was never accepted: /reject <reason> it instead"
            )),
            _ => Err(format!("{id} is {state}: it can no longer be closed")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::notice_kind::NoticeKind;
    use crate::core::roster::{Member, Rotation};
    use crate::core::severity::Rating;

    fn roster() -> Roster {
        let m = |n: &str, leave: bool| Member {
            name: n.into(),
            email: format!("{n}@example.org"),
            company: n.into(),
            fingerprint: None,
            on_leave: leave,
        };
        Roster {
            members: vec![m("alice", false), m("bob", true), m("carol", false)],
            release_managers: vec![m("rm", false)],
            rotation: Rotation {
                members: vec![],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn at(state: State) -> Incident {
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 7).unwrap(),
            "bug",
            None,
            Some("alice@example.org".into()),
            t("2026-12-01T09:00:00Z"),
        );
        i.state = state;
        // What every notice needs, so that approvals are about their rules.
        i.details.fields = NoticeFields {
            summary: Some("Heap overflow in frob".into()),
            affected: Some("1.0 to 1.4".into()),
            fixed: Some("1.5".into()),
            impact: Some("remote code execution".into()),
            releases: Some("https://example.org/releases".into()),
            ..NoticeFields::default()
        };
        i
    }

    /// Applies `cmd` as `actor` to `incident`; the result, or the refusal.
    #[test]
    fn the_set_reply_says_whether_the_advisories_can_read_the_versions() {
        let i = at(State::Fixing);
        let said = |cmd: &str| outcome(&i, cmd, "alice@example.org").unwrap().summary;
        assert!(
            said("/set affected >=2.3.0 <2.3.10, 2.4.0 - 2.4.1").ends_with(
                "(read as versions: 2.3.0 up to (not including) 2.3.10; 2.4.0 through 2.4.1)"
            ),
            "{}",
            said("/set affected >=2.3.0 <2.3.10, 2.4.0 - 2.4.1")
        );
        assert!(said("/set fixed 2.3.10, v2.4.2").ends_with("(read as versions: 2.3.10; 2.4.2)"));
        assert!(said("/set affected every release before 2.3.10").contains("kept as prose only"));
        assert!(said("/set fixed >=2.3.10").contains("kept as prose only"));
        assert!(!said("/set impact remote code execution").contains("versions"));
    }

    fn run(incident: &Incident, cmd: &str, actor: &str) -> Result<Incident, String> {
        let now = t("2026-12-02T10:00:00Z");
        let applied = outcome(incident, cmd, actor)?;
        let mut next = incident.clone();
        for ch in &applied.changes {
            next.apply(ch, now);
        }
        Ok(next)
    }

    fn outcome(incident: &Incident, cmd: &str, actor: &str) -> Result<Applied, String> {
        let roster = roster();
        let existing: HashSet<IncidentId> =
            ["EMB-2026-0003".parse().unwrap(), incident.id.clone()].into();
        let slots = SlotRules {
            hour: 16,
            blackout: vec![jiff::civil::date(2026, 12, 17)],
            ..SlotRules::default()
        };
        let facts = Facts {
            roster: &roster,
            slots: &slots,
            patches: &[],
            existing: &existing,
            last_lead: Some("alice@example.org"),
            own_addresses: &["security@example.org".to_owned()],
            announce: &["announce@example.org".to_owned()],
            address_ok: |a| !a.contains(".."),
        };
        let (c, e) = crate::core::command::parse(cmd, "EMB");
        assert!(e.is_empty(), "{cmd}: {e:?}");
        apply(
            incident,
            &c[0].command,
            actor,
            &facts,
            t("2026-12-02T10:00:00Z"),
        )
    }

    #[test]
    fn asking_for_what_already_is_changes_nothing_and_says_so() {
        let mut i = at(State::Fixing);
        i.details.lead = Some("alice@example.org".into());
        i.commander = Some("alice@example.org".into());
        i.details.team = vec!["dev@example.org".into()];
        i.details.cves = vec!["CVE-2026-1000".into()];
        for (cmd, says) in [
            ("/lead me", "alice@example.org is already the Fix Lead"),
            ("/ic alice@example.org", "already the incident commander"),
            ("/team add dev@example.org", "already in the Fix Team"),
            ("/cve CVE-2026-1000", "CVE-2026-1000 already recorded"),
            ("/resume", "is not on hold"),
        ] {
            let done =
                outcome(&i, cmd, "alice@example.org").unwrap_or_else(|e| panic!("{cmd}: {e}"));
            assert_eq!(done.changes, [], "{cmd}");
            assert!(
                done.summary.starts_with("no change, ") && done.summary.contains(says),
                "{cmd}: {}",
                done.summary
            );
        }
        // /set after /approve says the approval is withdrawn.
        let mut planned = run(&i, "/disclose 2026-12-15", "alice@example.org").unwrap();
        planned = run(&planned, "/approve announcement", "alice@example.org").unwrap();
        let set = outcome(
            &planned,
            "/set impact denial of service",
            "alice@example.org",
        )
        .unwrap();
        assert!(
            set.summary
                .contains("withdraws the approval of the announcement notice"),
            "{}",
            set.summary
        );
        // Partly new: what is new is recorded, the rest named.
        let done = outcome(&i, "/cve CVE-2026-1000 CVE-2026-2000", "alice@example.org").unwrap();
        assert_eq!(
            done.changes,
            [Change::Cves {
                ids: vec!["CVE-2026-2000".into()]
            }]
        );
        assert!(
            done.summary.contains("CVE-2026-1000 already recorded"),
            "{}",
            done.summary
        );
        // Asking for someone else still changes.
        assert_eq!(
            run(&i, "/lead carol@example.org", "alice@example.org")
                .unwrap()
                .details
                .lead
                .as_deref(),
            Some("carol@example.org")
        );
    }

    #[test]
    fn the_reporter_cannot_join_the_fix_team() {
        let mut i = at(State::Triaged);
        i.reporter = Some(crate::core::inbound::Mailbox::new(
            None,
            "jane@researcher.example",
        ));
        let e = run(
            &i,
            "/team add JANE@researcher.example EMB-2026-0007",
            "alice@example.org",
        )
        .unwrap_err();
        assert!(e.contains("reported EMB-2026-0007"), "{e}");
    }

    #[test]
    fn every_transition() {
        use State::*;
        let a = "alice@example.org";
        let table: Vec<(State, &str, Result<State, &str>)> = vec![
            (Reported, "/accept", Ok(Triaged)),
            (Triaged, "/accept", Err("already triaged")),
            (Reported, "/reject not a bug", Ok(Rejected)),
            (Triaged, "/reject not a bug", Ok(Rejected)),
            (Fixing, "/reject not a bug", Err("/close it instead")),
            (Reported, "/duplicate EMB-2026-0003", Ok(Duplicate)),
            (
                Reported,
                "/duplicate EMB-2026-0099",
                Err("there is no incident EMB-2026-0099"),
            ),
            (Reported, "/duplicate EMB-2026-0007", Err("of itself")),
            (Fixing, "/duplicate EMB-2026-0003", Err("not yet worked on")),
            (
                Reported,
                "/team add dev@example.org",
                Err("/accept it first"),
            ),
            (Triaged, "/team add dev@example.org", Ok(Fixing)),
            (Fixing, "/team add dev@example.org", Ok(Fixing)),
            (Reported, "/disclose 2026-12-15", Err("/accept it first")),
            (Triaged, "/disclose 2026-12-15", Ok(DisclosurePlanned)),
            (
                Fixing,
                "/disclose 2026-12-15 15:00",
                Err(
                    "is not a disclosure slot (slots are at 16:00 UTC); the next slot is 2026-12-15 16:00 UTC",
                ),
            ),
            (
                Fixing,
                "/disclose 2026-12-18",
                Err(
                    "2026-12-18 is a Friday: slots are Monday to Thursday); the next slot is 2026-12-21 16:00 UTC",
                ),
            ),
            (
                Fixing,
                "/disclose 2026-12-17",
                Err("blackout date); the next slot is 2026-12-21 16:00 UTC"),
            ),
            (
                DisclosurePlanned,
                "/disclose 2026-12-16",
                Ok(DisclosurePlanned),
            ),
            (
                DistributorsNotified,
                "/disclose 2026-12-16",
                Ok(DistributorsNotified),
            ),
            (
                Announced,
                "/disclose 2026-12-16",
                Err("the disclosure has happened"),
            ),
            (Fixing, "/disclose 2026-12-01", Err("not in the future")),
            (Reported, "/close", Err("/reject <reason> it instead")),
            (Fixing, "/close", Ok(Cancelled)),
            (DisclosurePlanned, "/close", Ok(Cancelled)),
            (DistributorsNotified, "/close", Ok(Cancelled)),
            (Announced, "/close", Ok(Closed)),
            (Retrospective, "/close", Ok(Closed)),
            (Cancelled, "/close", Err("nothing more can change it")),
            (
                Closed,
                "/accept",
                Err("is closed: nothing more can change it"),
            ),
            (Rejected, "/hold", Err("is rejected")),
            (Duplicate, "/cve CVE-2026-1111", Err("is duplicate")),
            (Cancelled, "/status", Ok(Cancelled)),
            (
                Fixing,
                "/approve announcement",
                Err("plan the disclosure first"),
            ),
            (Reported, "/approve announcement", Err("/accept it first")),
            (Fixing, "/status", Ok(Fixing)),
            (
                Triaged,
                "/team add Announce@example.org",
                Err("is an announce list"),
            ),
            (
                Triaged,
                "/team add security@example.org",
                Err("embargo's own address"),
            ),
            (
                Triaged,
                "/team add a..b@example.org",
                Err("not an address mail can be sent to"),
            ),
        ];
        for (from, cmd, want) in table {
            let got = run(&at(from), cmd, a).map(|i| i.state);
            match (&got, &want) {
                (Ok(s), Ok(w)) => assert_eq!(s, w, "{from} {cmd}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{from} {cmd}: {e}"),
                _ => panic!("{from} {cmd}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn disclosure_timeline_rules() {
        // now is Wednesday 2026-12-02 10:00 UTC (see run()).
        let mut cve = at(State::Fixing);
        cve.apply(
            &Change::Cves {
                ids: vec!["CVE-2026-1".into()],
            },
            t("2026-12-01T00:00:00Z"),
        );
        let e = run(&cve, "/disclose 2026-12-07", "alice@example.org").unwrap_err();
        assert!(
            e.contains("leaves 5 days") && e.contains("the earliest slot is 2026-12-09 16:00 UTC"),
            "{e}"
        );
        assert!(run(&cve, "/disclose 2026-12-10", "alice@example.org").is_ok());
        // Without a CVE there is no advance notice to wait for.
        assert!(
            run(
                &at(State::Fixing),
                "/disclose 2026-12-03",
                "alice@example.org"
            )
            .is_ok()
        );

        // Public, or embargo broken: any future time, no slot, no waiting.
        for flag in [Change::Public, Change::EmbargoBroken] {
            let mut fast = cve.clone();
            fast.apply(&flag, t("2026-12-01T00:00:00Z"));
            let i = run(&fast, "/disclose 2026-12-04 09:30", "alice@example.org").unwrap();
            assert_eq!(
                i.details.disclosure,
                Some(t("2026-12-04T09:30:00Z")),
                "{flag:?}"
            );
        }

        // After the advance notice went out, a new date still leaves the distributors 24 hours.
        let mut told = cve.clone();
        told.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-14T16:00:00Z")),
            },
            t("2026-12-01T00:00:00Z"),
        );
        // Sent well before: the lead time since it has run.
        told.apply(
            &Change::Queued {
                key: "distributors".into(),
            },
            t("2026-11-20T00:00:00Z"),
        );
        told.state = State::DistributorsNotified;
        let e = run(&told, "/disclose 2026-12-02 16:00", "alice@example.org").unwrap_err();
        assert!(
            e.contains("24-hour warning") && e.contains("2026-12-03 16:00 UTC"),
            "{e}"
        );
        let moved = run(&told, "/disclose 2026-12-03", "alice@example.org").unwrap();
        assert_eq!(moved.details.disclosure, Some(t("2026-12-03T16:00:00Z")));
        assert_eq!(moved.state, State::DistributorsNotified);

        // Sent only yesterday: a date must leave them the lead time since.
        let mut recent = told.clone();
        recent.details.advance_at = Some(t("2026-12-01T10:00:00Z"));
        let e = run(&recent, "/disclose 2026-12-03", "alice@example.org").unwrap_err();
        assert!(e.contains("less than 7 days after"), "{e}");
        assert!(
            run(
                &recent,
                "/disclose 2026-12-03 short-notice",
                "alice@example.org"
            )
            .is_ok()
        );

        // A warning is not the advance notice: without a CVE, a date can
        // move after it.
        let mut warned = at(State::DisclosurePlanned);
        warned.apply(
            &Change::Told {
                at: t("2026-12-03T16:00:00Z"),
            },
            t("2026-12-02T16:00:00Z"),
        );
        assert!(run(&warned, "/disclose 2026-12-07", "alice@example.org").is_ok());
    }

    #[test]
    fn a_notice_missing_what_the_process_asks_for_is_approved_only_as_is() {
        let mut planned = run(
            &at(State::Fixing),
            "/disclose 2026-12-15",
            "alice@example.org",
        )
        .unwrap();
        planned.details.cves = vec!["CVE-2026-1000".into()];
        planned.details.fields = NoticeFields {
            summary: Some("Heap overflow in frob".into()),
            // Not stated: the notice calls the patch embargoed, so the
            // patch is needed as much as when it says yes.
            patch_embargoed: None,
            ..NoticeFields::default()
        };
        let why = run(&planned, "/approve distributors", "alice@example.org").unwrap_err();
        for named in [
            "the affected versions (/set affected)",
            "the fixed versions",
            "the impact",
            "where the releases are",
            "the patches",
            "/approve distributors as-is",
        ] {
            assert!(why.contains(named), "{named}: {why}");
        }
        assert!(!why.contains("a summary"), "{why}");
        let done = outcome(&planned, "/approve distributors as-is", "alice@example.org").unwrap();
        assert!(
            done.summary
                .contains("as it is: without the affected versions"),
            "{}",
            done.summary
        );
        assert!(
            missing_facts(NoticeKind::Warning, &planned.details.fields, &[])
                .iter()
                .all(|m| !m.contains("patches")),
            "only the distributors' notice carries the patches"
        );
        // Set first, in the same mail: approved as drafted.
        let complete = at(State::Fixing).details.fields;
        planned.details.fields.patch_embargoed = Some(false);
        for (f, v) in [
            ("affected", &complete.affected),
            ("fixed", &complete.fixed),
            ("impact", &complete.impact),
            ("releases", &complete.releases),
        ] {
            planned = run(
                &planned,
                &format!("/set {f} {}", v.as_deref().unwrap()),
                "alice@example.org",
            )
            .unwrap();
        }
        assert!(run(&planned, "/approve distributors", "alice@example.org").is_ok());
    }

    #[test]
    fn approvals_need_what_the_notice_names() {
        let fixing = at(State::Fixing);
        assert!(
            run(&fixing, "/approve announcement", "alice@example.org")
                .unwrap_err()
                .contains("plan the disclosure first")
        );
        let planned = run(&fixing, "/disclose 2026-12-15", "alice@example.org").unwrap();
        assert!(
            run(&planned, "/approve distributors", "alice@example.org")
                .unwrap_err()
                .contains("record it first")
        );
        let mut public = fixing.clone();
        public.apply(&Change::Public, t("2026-12-01T00:00:00Z"));
        assert!(
            run(&public, "/approve announcement", "alice@example.org").is_ok(),
            "public: no date needed"
        );
        let mut sent = planned.clone();
        sent.apply(
            &Change::Queued {
                key: "announcement".into(),
            },
            t("2026-12-01T00:00:00Z"),
        );
        assert!(
            run(&sent, "/approve announcement", "alice@example.org")
                .unwrap_err()
                .contains("already gone out")
        );
        // An edited text approves again, replacing the earlier approval.
        let once = run(&planned, "/approve warning", "alice@example.org").unwrap();
        let edited = run(
            &once,
            "/approve warning\nOur own words.",
            "alice@example.org",
        )
        .unwrap();
        let approval = edited.details.approval(NoticeKind::Warning).unwrap();
        assert_eq!(approval.text.as_deref(), Some("Our own words.\n"));
    }

    #[test]
    fn a_correction_carries_the_patches_the_distributors_already_have() {
        let mut planned = run(
            &at(State::Fixing),
            "/disclose 2026-12-15",
            "alice@example.org",
        )
        .unwrap();
        planned.details.cves = vec!["CVE-2026-1000".into()];
        planned.details.fields.patch_embargoed = None;
        let patch = Patch {
            name: "fix-2.4.patch".into(),
            text: "--- a\n+++ b\n".into(),
        };
        let now = t("2026-12-02T09:00:00Z");
        planned.apply(
            &Change::Approved {
                kind: NoticeKind::Distributors,
                by: "alice@example.org".into(),
                text: None,
                patches: vec![patch.clone()],
            },
            now,
        );
        planned.apply(
            &Change::Queued {
                key: "distributors".into(),
            },
            now,
        );
        let changed = run(&planned, "/set fixed 2.5", "alice@example.org").unwrap();
        let done = outcome(&changed, "/approve distributors", "alice@example.org").unwrap();
        assert!(
            done.changes.iter().any(|c| matches!(
                c,
                Change::Approved { patches, .. } if patches == &vec![patch.clone()]
            )),
            "{:?}",
            done.changes
        );
        assert!(
            done.summary
                .contains("the 1 patch(es) approved with it before"),
            "{}",
            done.summary
        );
    }

    #[test]
    fn accept_assigns_the_next_lead_round_robin() {
        // Alice led last; Bob is on leave: Carol is next.
        let next = run(&at(State::Reported), "/accept", "alice@example.org").unwrap();
        assert_eq!(next.details.lead.as_deref(), Some("carol@example.org"));
        let mut led = at(State::Reported);
        led.details.lead = Some("alice@example.org".into());
        assert_eq!(
            run(&led, "/accept", "alice@example.org")
                .unwrap()
                .details
                .lead
                .as_deref(),
            Some("alice@example.org")
        );
    }

    #[test]
    fn roles_and_fields() {
        let i = at(State::Fixing);
        let me = run(&i, "/lead me", "carol@example.org").unwrap();
        assert_eq!(me.details.lead.as_deref(), Some("carol@example.org"));
        assert!(
            run(&i, "/lead bob@example.org", "alice@example.org")
                .unwrap_err()
                .contains("on leave")
        );
        assert!(
            run(&i, "/lead dev@example.org", "alice@example.org")
                .unwrap_err()
                .contains("not an SRC member")
        );
        assert_eq!(
            run(&i, "/ic rm@example.org", "alice@example.org")
                .unwrap()
                .commander
                .as_deref(),
            Some("rm@example.org")
        );
        assert!(
            run(&i, "/ic someone@example.net", "alice@example.org")
                .unwrap_err()
                .contains("not in the roster")
        );
        let i2 = run(&i, "/team add dev@example.org", "alice@example.org").unwrap();
        assert_eq!(i2.details.team, ["dev@example.org"]);
        assert_eq!(
            run(&i2, "/team add dev@example.org", "alice@example.org").unwrap(),
            i2
        );
        assert!(
            run(&i2, "/team remove dev@example.org", "alice@example.org")
                .unwrap()
                .details
                .team
                .is_empty()
        );
        // Removing someone who is not there is refused, naming the team: a
        // misspelt address must not leave the person meant on it.
        assert!(
            run(&i, "/team remove dev@example.org", "alice@example.org")
                .unwrap_err()
                .contains("which is: nobody")
        );

        let scored = run(
            &i,
            "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "alice@example.org",
        )
        .unwrap();
        let s = scored.details.severity.clone().unwrap();
        assert_eq!((s.rating, s.score), (Rating::Critical, Some(9.8)));
        let rated = run(&scored, "/severity high", "alice@example.org").unwrap();
        let s = rated.details.severity.unwrap();
        assert_eq!(
            (s.rating, s.score),
            (Rating::High, Some(9.8)),
            "an explicit rating keeps the vector"
        );
        assert!(
            run(
                &i,
                "/cvss CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "alice@example.org"
            )
            .unwrap_err()
            .contains("AV")
        );

        let cves = run(&i, "/cve CVE-2026-1111 CVE-2026-2222", "alice@example.org").unwrap();
        assert_eq!(cves.details.cves, ["CVE-2026-1111", "CVE-2026-2222"]);
        assert_eq!(
            run(&cves, "/cve CVE-2026-1111", "alice@example.org").unwrap(),
            cves
        );

        let cwe = run(&i, "/cwe CWE-787 Out-of-bounds Write", "alice@example.org").unwrap();
        assert_eq!(
            cwe.details.cwes,
            [Cwe {
                id: "CWE-787".into(),
                name: Some("Out-of-bounds Write".into())
            }]
        );
        assert_eq!(run(&cwe, "/cwe cwe-787", "alice@example.org").unwrap(), cwe);
        let renamed = run(&cwe, "/cwe CWE-787 Heap overflow", "alice@example.org").unwrap();
        assert_eq!(renamed.details.cwes.len(), 1, "one weakness, renamed");
        assert_eq!(
            renamed.details.cwes[0].name.as_deref(),
            Some("Heap overflow")
        );

        let planned = run(&i, "/disclose 2026-12-15", "alice@example.org").unwrap();
        assert_eq!(
            planned.details.disclosure,
            Some(t("2026-12-15T16:00:00Z")),
            "the slot hour by default"
        );

        let held = run(&i, "/hold", "alice@example.org").unwrap();
        assert!(held.details.on_hold);
        assert_eq!(run(&held, "/hold", "alice@example.org").unwrap(), held);
        assert!(
            !run(&held, "/resume", "alice@example.org")
                .unwrap()
                .details
                .on_hold
        );
        assert_eq!(run(&i, "/resume", "alice@example.org").unwrap(), i);

        let public = run(&i, "/public", "alice@example.org").unwrap();
        assert!(public.details.public);
        assert_eq!(
            run(&public, "/public", "alice@example.org").unwrap(),
            public
        );
        assert!(
            run(&i, "/embargo-broken", "alice@example.org")
                .unwrap()
                .details
                .embargo_broken
        );
        let approved = run(&planned, "/approve warning", "alice@example.org").unwrap();
        assert!(approved.details.approval(NoticeKind::Warning).is_some());
        assert_eq!(
            run(&approved, "/approve warning", "alice@example.org").unwrap(),
            approved
        );
        // A change to what the notices say withdraws the approval.
        let changed = run(
            &approved,
            "/set impact remote code execution",
            "alice@example.org",
        )
        .unwrap();
        assert!(changed.details.approval(NoticeKind::Warning).is_none());
        assert_eq!(
            changed.details.fields.impact.as_deref(),
            Some("remote code execution")
        );
        // So does a weakness: the CSAF and CVE record draft name it.
        let said = outcome(&approved, "/cwe CWE-787", "alice@example.org").unwrap();
        assert!(
            said.summary
                .contains("withdraws the approval of the warning notice"),
            "{}",
            said.summary
        );
        let changed = run(&approved, "/cwe CWE-787", "alice@example.org").unwrap();
        assert!(changed.details.approval(NoticeKind::Warning).is_none());
        assert_eq!(changed.details.cwes[0].id, "CWE-787");
    }
}
