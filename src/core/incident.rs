//! An incident: one vulnerability report and everything that follows it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::inbound::{Mailbox, SenderKey};
use super::incident_id::IncidentId;
use super::notice_kind::NoticeKind;
use super::severity::Severity;

/// Where an incident is in the security release process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Reported,
    Triaged,
    Fixing,
    DisclosurePlanned,
    DistributorsNotified,
    Announced,
    Retrospective,
    Closed,
    Rejected,
    Duplicate,
    Cancelled,
    /// The receiving MTA marked the opening mail as spam: filed, and
    /// nobody is told or answered until a roster member says `/not-spam`.
    Spam,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Reported,
        State::Triaged,
        State::Fixing,
        State::DisclosurePlanned,
        State::DistributorsNotified,
        State::Announced,
        State::Retrospective,
        State::Closed,
        State::Rejected,
        State::Duplicate,
        State::Cancelled,
        State::Spam,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Triaged => "triaged",
            State::Fixing => "fixing",
            State::DisclosurePlanned => "disclosure-planned",
            State::DistributorsNotified => "distributors-notified",
            State::Announced => "announced",
            State::Retrospective => "retrospective",
            State::Closed => "closed",
            State::Rejected => "rejected",
            State::Duplicate => "duplicate",
            State::Cancelled => "cancelled",
            State::Spam => "spam",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The position along the main path, `reported` (0) to `closed` (7);
    /// the other ends (rejected, duplicate, cancelled) have none.
    pub fn rank(self) -> Option<u8> {
        let main = [
            State::Reported,
            State::Triaged,
            State::Fixing,
            State::DisclosurePlanned,
            State::DistributorsNotified,
            State::Announced,
            State::Retrospective,
            State::Closed,
        ];
        main.iter().position(|s| *s == self).map(|p| p as u8)
    }

    /// Whether the incident has not reached `other` on the main path.
    pub fn is_before(self, other: State) -> bool {
        matches!((self.rank(), other.rank()), (Some(a), Some(b)) if a < b)
    }

    /// Nothing more happens to an incident in these states.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Closed | State::Rejected | State::Duplicate | State::Cancelled
        )
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub state: State,
    /// The subject of the report that opened it.
    pub title: String,
    pub reporter: Option<Mailbox>,
    /// The incident commander's roster address; the oncall when it was opened.
    pub commander: Option<String>,
    pub opened_at: Timestamp,
    /// The time of the last event.
    pub updated_at: Timestamp,
    #[serde(flatten)]
    pub details: Details,
}

/// The queue key of a corrected advance notice starts so.
pub const CORRECTION: &str = "correction-";

/// What the lifecycle adds to an incident after it is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Details {
    pub lead: Option<String>,
    pub team: Vec<String>,
    pub severity: Option<Severity>,
    pub cves: Vec<String>,
    /// The weaknesses (`/cwe`), for the advisories' problem types.
    pub cwes: Vec<Cwe>,
    pub disclosure: Option<Timestamp>,
    pub public: bool,
    pub embargo_broken: bool,
    pub on_hold: bool,
    /// Every approval given; only those of the current revision count.
    pub approved: Vec<Approval>,
    /// What the notices say beyond the incident's own facts (`/set`).
    pub fields: NoticeFields,
    /// Counts changes to what the notices say: an approval is of one revision.
    pub revision: u32,
    /// Notices and drafts already handed to the outbox, by key.
    pub queued: Vec<String>,
    /// The disclosure time the distributors were last told.
    pub told_date: Option<Timestamp>,
    /// When the advance notice went to the distributors (what the lead
    /// time is measured from; a warning does not count).
    pub advance_at: Option<Timestamp>,
    /// The disclosure time the Fix Lead let go with less notice than the
    /// rules give the distributors (`/disclose … short-notice`).
    pub short_notice: Option<Timestamp>,
    /// Why it was rejected or closed.
    pub resolution: Option<String>,
    pub duplicate_of: Option<IncidentId>,
    /// When someone from the roster first answered.
    pub first_response_at: Option<Timestamp>,
    pub announced_at: Option<Timestamp>,
    /// The last event that was not a reminder: what "idle" is measured from.
    pub active_at: Option<Timestamp>,
    /// Deadlines already reminded of, so each is reminded once.
    pub reminded: Vec<String>,
    /// What the advance notice (or its last correction) told the
    /// distributors; `None` before it went, or when an older version sent it.
    pub told_facts: Option<Facts>,
    /// The spam header that filed the opening mail as spam (`X-Spam-Flag:
    /// YES`), kept after `/not-spam` for the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spam_marked_by: Option<String>,
    /// When `/not-spam` restored it: the deadlines of a new report count
    /// from then, not from when the spam arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<Timestamp>,
    /// The Message-IDs of the reporter's own mails on the incident, oldest
    /// first (the last [`REPORTER_THREAD`]): what an answer to them
    /// replies to.
    pub reporter_thread: Vec<String>,
    /// The key the reporter last sent (Autocrypt or attached) for their
    /// own address: an answer to them is encrypted to it.
    pub reporter_key: Option<SenderKey>,
}

/// How many of the reporter's Message-IDs an incident keeps.
pub const REPORTER_THREAD: usize = 16;

/// A weakness from the CWE list, as `/cwe` recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cwe {
    /// `CWE-787`.
    pub id: String,
    /// `Out-of-bounds Write`, when the command gave it.
    pub name: Option<String>,
}

impl std::fmt::Display for Cwe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{} {name}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// What a distributors' notice states about the vulnerability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    pub cves: Vec<String>,
    /// The CSAF and CVE record the advance notice carries name them.
    /// `None` in what an older version recorded as told: not compared, so
    /// an upgrade makes no correction owed that nobody approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwes: Option<Vec<Cwe>>,
    pub severity: Option<Severity>,
    pub fields: NoticeFields,
}

impl Facts {
    /// Each difference from `before`, one line each, for a correction.
    pub fn changes_since(&self, before: &Facts) -> Vec<String> {
        let mut out = Vec::new();
        let said = |v: Option<String>| v.unwrap_or_else(|| "not stated".to_owned());
        if self.cves != before.cves {
            out.push(format!(
                "CVE: {} (was {})",
                said(Some(self.cves.join(", ")).filter(|s| !s.is_empty())),
                said(Some(before.cves.join(", ")).filter(|s| !s.is_empty()))
            ));
        }
        if let (Some(now), Some(was)) = (&self.cwes, &before.cwes)
            && now != was
        {
            let named = |cwes: &[Cwe]| {
                said(
                    Some(
                        cwes.iter()
                            .map(Cwe::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                    .filter(|s| !s.is_empty()),
                )
            };
            out.push(format!("CWE: {} (was {})", named(now), named(was)));
        }
        if self.severity != before.severity {
            let rating = |s: &Option<Severity>| {
                said(s.as_ref().map(|s| match (s.score, &s.vector) {
                    (Some(score), Some(v)) => format!("{} (CVSS {score:.1}, {v})", s.rating),
                    _ => s.rating.to_string(),
                }))
            };
            out.push(format!(
                "severity: {} (was {})",
                rating(&self.severity),
                rating(&before.severity)
            ));
        }
        for field in Field::ALL {
            let (now, then) = (self.fields.get(field), before.fields.get(field));
            if now != then {
                out.push(format!(
                    "{}: {} (was {})",
                    field.as_str(),
                    said(now),
                    said(then)
                ));
            }
        }
        out
    }
}

impl NoticeFields {
    /// A field's value as the notices show it.
    pub fn get(&self, field: Field) -> Option<String> {
        let flag = |b: Option<bool>| b.map(|b| if b { "yes" } else { "no" }.to_owned());
        match field {
            Field::Summary => self.summary.clone(),
            Field::Affected => self.affected.clone(),
            Field::Fixed => self.fixed.clone(),
            Field::Impact => self.impact.clone(),
            Field::Mitigation => self.mitigation.clone(),
            Field::Releases => self.releases.clone(),
            Field::Credit => self.credit.clone(),
            Field::DeployBefore => flag(self.deploy_before),
            Field::PatchEmbargoed => flag(self.patch_embargoed),
        }
    }
}

impl Details {
    /// What a distributors' notice would state now.
    pub fn facts(&self) -> Facts {
        Facts {
            cves: self.cves.clone(),
            cwes: Some(self.cwes.clone()),
            severity: self.severity.clone(),
            fields: self.fields.clone(),
        }
    }

    /// The advance notice went, and what it stated has changed since: the
    /// distributors are owed a corrected notice.
    pub fn correction_owed(&self) -> bool {
        self.told_facts.as_ref().is_some_and(|told| {
            let mut now = self.facts();
            if told.cwes.is_none() {
                now.cwes = None;
            }
            *told != now
        })
    }
}

/// What a notice says beyond the incident's own facts; the Fix Lead sets
/// each with `/set <field> <text>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoticeFields {
    /// One line for the subject: `[Security Advisory] CVE-…: summary`.
    pub summary: Option<String>,
    pub affected: Option<String>,
    pub fixed: Option<String>,
    pub impact: Option<String>,
    /// What users can do before they upgrade.
    pub mitigation: Option<String>,
    /// Where the fixed releases will be.
    pub releases: Option<String>,
    /// Credit to the reporter, as they agreed to it; empty for none.
    pub credit: Option<String>,
    /// Whether distributors may deploy the patch before the disclosure.
    pub deploy_before: Option<bool>,
    /// Whether the patch itself is under embargo.
    pub patch_embargoed: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    Summary,
    Affected,
    Fixed,
    Impact,
    Mitigation,
    Releases,
    Credit,
    DeployBefore,
    PatchEmbargoed,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Summary,
        Field::Affected,
        Field::Fixed,
        Field::Impact,
        Field::Mitigation,
        Field::Releases,
        Field::Credit,
        Field::DeployBefore,
        Field::PatchEmbargoed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Summary => "summary",
            Field::Affected => "affected",
            Field::Fixed => "fixed",
            Field::Impact => "impact",
            Field::Mitigation => "mitigation",
            Field::Releases => "releases",
            Field::Credit => "credit",
            Field::DeployBefore => "deploy-before",
            Field::PatchEmbargoed => "patch-embargoed",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
    }

    /// Yes/no fields take `yes` or `no`.
    pub fn is_flag(self) -> bool {
        matches!(self, Field::DeployBefore | Field::PatchEmbargoed)
    }
}

/// A patch from the approving mail, for the distributors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Patch {
    pub name: String,
    pub text: String,
}

/// An approval of one notice, for one revision of what the notices say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub kind: NoticeKind,
    pub revision: u32,
    pub by: String,
    /// The text to send instead of the rendered draft, when given.
    pub text: Option<String>,
    pub patches: Vec<Patch>,
}

impl Details {
    /// The approval of `kind` that still counts: of the current revision.
    pub fn approval(&self, kind: NoticeKind) -> Option<&Approval> {
        self.approved
            .iter()
            .rev()
            .find(|a| a.kind == kind && a.revision == self.revision)
    }

    pub fn is_queued(&self, key: &str) -> bool {
        self.queued.iter().any(|q| q == key)
    }
}

/// One change to an incident. Events carry them, so that the event log
/// replays to the incident's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    Opened {
        id: IncidentId,
        title: String,
        reporter: Option<Mailbox>,
        commander: Option<String>,
    },
    State {
        to: State,
    },
    Lead {
        email: Option<String>,
    },
    Commander {
        email: String,
    },
    TeamAdded {
        email: String,
    },
    TeamRemoved {
        email: String,
    },
    Severity {
        severity: Severity,
    },
    Cves {
        ids: Vec<String>,
    },
    Cwe {
        cwe: Cwe,
    },
    Disclosure {
        at: Option<Timestamp>,
    },
    Public,
    EmbargoBroken,
    Hold {
        on: bool,
    },
    Approved {
        kind: NoticeKind,
        by: String,
        text: Option<String>,
        patches: Vec<Patch>,
    },
    Field {
        field: Field,
        value: String,
    },
    /// A notice or draft handed to the outbox.
    Queued {
        key: String,
    },
    /// The distributors were told this disclosure time.
    Told {
        at: Timestamp,
    },
    /// The Fix Lead accepts that the distributors hear of this disclosure
    /// time with less notice than the rules give (24 hours at the least);
    /// `None`: a later plain `/disclose` takes that back.
    ShortNotice {
        at: Option<Timestamp>,
    },
    Resolution {
        text: String,
    },
    DuplicateOf {
        id: IncidentId,
    },
    Responded,
    Announced,
    Reminded {
        deadline: String,
    },
    /// Activity that changes nothing else: a mail on the thread.
    Touched,
    /// The opening mail was marked as spam by this header: the incident is
    /// filed in the spam state.
    MarkedSpam {
        header: String,
    },
    /// `/not-spam`: back to `reported`, as if the report arrived now.
    NotSpam,
    /// A mail from the reporter's own address: an answer to them replies
    /// to it, and is encrypted to the key it carried, if any.
    ReporterWrote {
        message_id: String,
        key: Option<SenderKey>,
    },
}

impl Incident {
    pub fn open(
        id: IncidentId,
        title: &str,
        reporter: Option<Mailbox>,
        commander: Option<String>,
        now: Timestamp,
    ) -> Self {
        let title = title.trim();
        Incident {
            id,
            state: State::Reported,
            title: if title.is_empty() {
                "(no subject)".to_owned()
            } else {
                title.to_owned()
            },
            reporter,
            commander,
            opened_at: now,
            updated_at: now,
            details: Details {
                active_at: Some(now),
                ..Details::default()
            },
        }
    }

    /// The change that opens this incident, for its first event.
    pub fn opening(&self) -> Change {
        Change::Opened {
            id: self.id.clone(),
            title: self.title.clone(),
            reporter: self.reporter.clone(),
            commander: self.commander.clone(),
        }
    }

    /// Applies one change made at `at`.
    pub fn apply(&mut self, change: &Change, at: Timestamp) {
        let d = &mut self.details;
        match change {
            Change::Opened { .. } => {}
            Change::State { to } => self.state = *to,
            Change::Lead { email } => d.lead = email.clone(),
            Change::Commander { email } => self.commander = Some(email.clone()),
            Change::TeamAdded { email } => {
                if !d.team.contains(email) {
                    d.team.push(email.clone());
                }
            }
            Change::TeamRemoved { email } => d.team.retain(|e| e != email),
            Change::Severity { severity } => d.severity = Some(severity.clone()),
            Change::Cves { ids } => {
                for id in ids {
                    if !d.cves.contains(id) {
                        d.cves.push(id.clone());
                    }
                }
            }
            Change::Cwe { cwe } => match d.cwes.iter_mut().find(|c| c.id == cwe.id) {
                Some(known) => *known = cwe.clone(),
                None => d.cwes.push(cwe.clone()),
            },
            Change::Disclosure { at } => d.disclosure = *at,
            Change::Public => d.public = true,
            Change::EmbargoBroken => d.embargo_broken = true,
            Change::Hold { on } => d.on_hold = *on,
            Change::Approved {
                kind,
                by,
                text,
                patches,
            } => d.approved.push(Approval {
                kind: *kind,
                revision: d.revision,
                by: by.clone(),
                text: text.clone(),
                patches: patches.clone(),
            }),
            Change::Field { field, value } => {
                let v = Some(value.clone());
                let yes = Some(value == "yes");
                let f = &mut d.fields;
                match field {
                    Field::Summary => f.summary = v,
                    Field::Affected => f.affected = v,
                    Field::Fixed => f.fixed = v,
                    Field::Impact => f.impact = v,
                    Field::Mitigation => f.mitigation = v,
                    Field::Releases => f.releases = v,
                    Field::Credit => f.credit = v,
                    Field::DeployBefore => f.deploy_before = yes,
                    Field::PatchEmbargoed => f.patch_embargoed = yes,
                }
            }
            Change::Queued { key } => {
                if !d.queued.contains(key) {
                    d.queued.push(key.clone());
                }
                if key == NoticeKind::Distributors.as_str() {
                    d.advance_at.get_or_insert(at);
                }
                if key == NoticeKind::Distributors.as_str() || key.starts_with(CORRECTION) {
                    d.told_facts = Some(d.facts());
                }
            }
            Change::Told { at: told } => d.told_date = Some(*told),
            Change::ShortNotice { at } => d.short_notice = *at,
            Change::Resolution { text } => d.resolution = Some(text.clone()),
            Change::DuplicateOf { id } => d.duplicate_of = Some(id.clone()),
            Change::Responded => {
                d.first_response_at.get_or_insert(at);
            }
            Change::Announced => d.announced_at = Some(at),
            Change::Reminded { deadline } => {
                if !d.reminded.contains(deadline) {
                    d.reminded.push(deadline.clone());
                }
            }
            Change::Touched => {}
            Change::MarkedSpam { header } => {
                self.state = State::Spam;
                d.spam_marked_by = Some(header.clone());
            }
            Change::NotSpam => {
                self.state = State::Reported;
                d.restored_at = Some(at);
                // As if the report arrived now: the restoring mail is not
                // the SRC's answer to it, and no deadline was missed yet.
                d.first_response_at = None;
                d.reminded.clear();
            }
            Change::ReporterWrote { message_id, key } => {
                if !d.reporter_thread.contains(message_id) {
                    d.reporter_thread.push(message_id.clone());
                }
                let excess = d.reporter_thread.len().saturating_sub(REPORTER_THREAD);
                d.reporter_thread.drain(..excess);
                if let Some(key) = key {
                    d.reporter_key = Some(key.clone());
                }
            }
        }
        // What the notices say changed: earlier approvals no longer count.
        if matches!(
            change,
            Change::Severity { .. }
                | Change::Cves { .. }
                | Change::Cwe { .. }
                | Change::Disclosure { .. }
                | Change::Field { .. }
                | Change::Public
                | Change::EmbargoBroken
        ) {
            d.revision += 1;
        }
        if !matches!(
            change,
            Change::Reminded { .. } | Change::Queued { .. } | Change::Told { .. }
        ) {
            d.active_at = Some(at);
        }
        self.updated_at = self.updated_at.max(at);
    }

    /// The incident an event log describes: its first event opens it, every
    /// later one applies its changes. `None` when the log does not start
    /// with an opening.
    pub fn replay<'e>(
        events: impl IntoIterator<Item = (&'e [Change], Timestamp)>,
    ) -> Option<Incident> {
        let mut incident: Option<Incident> = None;
        for (changes, at) in events {
            for change in changes {
                match (&mut incident, change) {
                    (
                        None,
                        Change::Opened {
                            id,
                            title,
                            reporter,
                            commander,
                        },
                    ) => {
                        incident = Some(Incident::open(
                            id.clone(),
                            title,
                            reporter.clone(),
                            commander.clone(),
                            at,
                        ));
                    }
                    (Some(inc), c) => inc.apply(c, at),
                    (None, _) => {}
                }
            }
        }
        incident
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_older_version_recorded_as_told_owes_no_correction_for_a_cwe() {
        let mut d = Details {
            cwes: vec![Cwe {
                id: "CWE-787".into(),
                name: None,
            }],
            ..Details::default()
        };
        let older: Facts = serde_json::from_str(r#"{"cves": []}"#).unwrap();
        d.told_facts = Some(older);
        assert!(!d.correction_owed(), "no CWE was compared then");
        d.told_facts = Some(Facts {
            cwes: Some(Vec::new()),
            ..d.facts()
        });
        assert!(d.correction_owed(), "told without it: now it changed");
    }

    #[test]
    fn state_names_round_trip() {
        for st in State::ALL {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
        assert_eq!(State::parse("open"), None);
    }

    #[test]
    fn the_main_path_is_ordered_and_the_other_ends_are_off_it() {
        assert!(State::Reported.is_before(State::Fixing));
        assert!(!State::Announced.is_before(State::DisclosurePlanned));
        assert!(!State::Rejected.is_before(State::Closed));
        assert!(!State::Fixing.is_before(State::Cancelled));
        assert_eq!(State::Closed.rank(), Some(7));
    }

    #[test]
    fn a_report_without_subject_gets_a_title() {
        let id = IncidentId::new("EMB", 2026, 1).unwrap();
        let inc = Incident::open(id, "  ", None, None, Timestamp::UNIX_EPOCH);
        assert_eq!(inc.title, "(no subject)");
        assert_eq!(inc.state, State::Reported);
    }
}
