//! The disclosure notices: drafts to review, the distributors' advance
//! notice and 24-hour warning, a moved date, the public announcement, and
//! the retrospective draft. Each is rendered from the incident as it stands
//! (or from the text its approval gave), then sealed like all other mail.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::templates::{
    AdvanceNoticeText, AlertText, AnnouncementText, CancellationText, DateChangeText,
    DeliveryFailureText, DraftText, EmbargoStatementText, FactsText, GuardAlertText,
    RetrospectiveText, WarningText,
};
use super::{Attachment, Composer, NoticeError, Spec, header_text, ics, render};
use crate::advisory::{self, Format};
use crate::core::event::Event;
use crate::core::incident::{Incident, Patch};
use crate::core::incident_id::IncidentId;
use crate::core::mail_kind::MailKind;
use crate::core::notice_kind::NoticeKind;
use crate::core::timeline;
use crate::store::NewMail;

/// A notice as it would go out: subject, text and attachments.
#[derive(Debug, Clone)]
pub struct NoticeText {
    pub subject: String,
    pub text: String,
    pub attachments: Vec<Attachment>,
    /// What keeps advisories this notice would carry off it, for the Fix
    /// Team's draft; `None` when nothing does, or none is configured.
    pub advisory_shortfall: Option<String>,
}

const NOT_STATED: &str = "not stated yet";

fn utc(t: Timestamp) -> String {
    t.to_zoned_datetime(TimeZone::UTC)
        .strftime("%A %Y-%m-%d %H:%M UTC")
        .to_string()
}

fn or_unstated(v: &Option<String>) -> &str {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(NOT_STATED)
}

/// The first version number in a patch's file name, for `<CVE>_v<release>.patch`.
fn release_of(name: &str) -> Option<String> {
    let bytes: Vec<char> = name.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == '.') {
                i += 1;
            }
            let candidate: String = bytes[start..i].iter().collect();
            let candidate = candidate
                .trim_end_matches(".patch")
                .trim_end_matches(".diff")
                .trim_end_matches('.');
            if candidate.contains('.') {
                return Some(candidate.to_owned());
            }
        }
        i += 1;
    }
    None
}

/// Patch files as distributors get them: `<CVE>_v<release>.patch`.
pub fn patch_files(cve: &str, patches: &[Patch]) -> Vec<Attachment> {
    patches
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let release = release_of(&p.name).unwrap_or_else(|| {
                let stem: String = p
                    .name
                    .trim_end_matches(".patch")
                    .trim_end_matches(".diff")
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
                    .collect();
                if stem.is_empty() {
                    format!("{}", n + 1)
                } else {
                    stem
                }
            });
            Attachment {
                name: format!("{cve}_v{release}.patch"),
                content_type: "text/x-diff; charset=utf-8".to_owned(),
                bytes: p.text.clone().into_bytes(),
            }
        })
        .collect()
}

impl Composer<'_> {
    fn cves(&self, i: &Incident) -> String {
        if i.details.cves.is_empty() {
            i.id.to_string()
        } else {
            i.details.cves.join(", ")
        }
    }

    fn summary(&self, i: &Incident) -> String {
        header_text(i.details.fields.summary.as_deref().unwrap_or(&i.title), 160)
    }

    fn severity(&self, i: &Incident) -> String {
        match &i.details.severity {
            None => NOT_STATED.to_owned(),
            Some(s) => match (s.score, &s.vector) {
                (Some(score), Some(v)) => format!("{} (CVSS {score:.1}, {v})", s.rating),
                _ => s.rating.to_string(),
            },
        }
    }

    /// The same instant in each configured zone, with its offset and name.
    fn zones(&self, t: Timestamp) -> Vec<String> {
        self.settings
            .time_zones
            .iter()
            .filter_map(|name| {
                let tz = TimeZone::get(name).ok()?;
                Some(
                    t.to_zoned_datetime(tz)
                        .strftime(&format!("%A %Y-%m-%d %H:%M (UTC%:z, {name})"))
                        .to_string(),
                )
            })
            .collect()
    }

    /// `at` is `None` while no date is planned: a draft shown then must
    /// not read as if the embargo ended now.
    fn statement(&self, i: &Incident, at: Option<Timestamp>) -> Result<String, NoticeError> {
        let f = &i.details.fields;
        let deploy = match f.deploy_before {
            Some(true) => "You may deploy the fix on your own systems before this time.",
            Some(false) => "Do not deploy the fix before this time.",
            None => "Whether the fix may be deployed before this time is not stated: ask us first.",
        };
        let patch = match f.patch_embargoed {
            Some(false) => "The patch itself is not under embargo.",
            _ => {
                "The patch itself is under embargo: do not publish it, or build from it in public, before this time."
            }
        };
        render(
            MailKind::AdvanceNotice,
            &EmbargoStatementText {
                when_utc: &at.map(utc).unwrap_or_default(),
                zones: at.map(|at| self.zones(at)).unwrap_or_default(),
                deploy,
                patch,
                security_address: &self.settings.list.security_address,
                id: &i.id.to_string(),
            },
        )
    }

    fn facts(&self, i: &Incident) -> Result<String, NoticeError> {
        let f = &i.details.fields;
        let cves = i.details.cves.join(", ");
        render(
            MailKind::AdvanceNotice,
            &FactsText {
                cves: if i.details.cves.is_empty() {
                    "not assigned yet"
                } else {
                    &cves
                },
                severity: &self.severity(i),
                cwes: &i
                    .details
                    .cwes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                affected: or_unstated(&f.affected),
                fixed: or_unstated(&f.fixed),
                impact: or_unstated(&f.impact),
                mitigation: or_unstated(&f.mitigation),
                releases: or_unstated(&f.releases),
                credit: f.credit.as_deref().unwrap_or(""),
            },
        )
    }

    /// The description: the approval's own text when it gave one.
    fn body(&self, i: &Incident, kind: NoticeKind) -> Result<String, NoticeError> {
        match i.details.approval(kind).and_then(|a| a.text.clone()) {
            Some(text) => Ok(text.trim_end().to_owned()),
            None => self.facts(i),
        }
    }

    /// When the embargo ends: the planned date, or now once the issue is
    /// public; `None` while neither.
    fn disclosure_at(&self, i: &Incident, now: Timestamp) -> Option<Timestamp> {
        let d = &i.details;
        d.disclosure
            .or((d.public || d.embargo_broken).then_some(now))
    }

    /// The calendar entry for the disclosure at `at`, the `sequence`th
    /// version the distributors get: one UID per incident, so that each
    /// move replaces the entry.
    fn calendar(&self, i: &Incident, at: Timestamp, sequence: usize, now: Timestamp) -> Attachment {
        Attachment {
            name: "disclosure.ics".to_owned(),
            content_type: "text/calendar; charset=utf-8; method=REQUEST".to_owned(),
            bytes: ics::disclosure(&self.calendar_entry(i, sequence).as_entry(), at, now),
        }
    }

    fn calendar_entry(&self, i: &Incident, sequence: usize) -> OwnedEntry {
        OwnedEntry {
            uid: format!("{}.disclosure@{}", i.id, self.settings.list.domain()),
            organizer: self.settings.list.security_address.clone(),
            summary: format!("Embargo ends: {}", self.cves(i)),
            description: format!("Public disclosure of {}: {}", self.cves(i), self.summary(i)),
            sequence,
        }
    }

    /// The advisories a notice of `kind` carries, each checked against its
    /// schema, and what keeps the others off it; `None` without
    /// `[advisory]` (the notice goes as it always did). The distributors
    /// prepare with the CVE record draft and the AMBER CSAF; the
    /// announcement carries all three, public.
    fn advisories(
        &self,
        i: &Incident,
        events: &[Event],
        kind: NoticeKind,
        now: Timestamp,
    ) -> Option<advisory::Checked> {
        let publisher = self.settings.advisory.as_ref()?;
        let (formats, copy): (&[Format], advisory::Copy) = match kind {
            NoticeKind::Distributors => {
                (&[Format::Cve, Format::Csaf], advisory::Copy::Distributors)
            }
            NoticeKind::Announcement => (&Format::ALL, advisory::Copy::Public),
            NoticeKind::Warning => return None,
        };
        // Public already (or no date planned): the announcement going now
        // is when it is published, as the log will say once it went.
        let mut as_sent;
        let d = &i.details;
        let i = if kind == NoticeKind::Announcement
            && d.announced_at.is_none()
            && (d.public || d.embargo_broken || d.disclosure.is_none())
        {
            as_sent = i.clone();
            as_sent.details.announced_at = Some(now);
            &as_sent
        } else {
            i
        };
        Some(advisory::checked_copy(
            i, events, publisher, formats, copy, now,
        ))
    }

    /// The notice of `kind` as it would be sent now, for one announce list's
    /// subject prefix (or the first list's). `events` is the incident's log:
    /// the CSAF's revision history comes from it.
    pub fn notice_text(
        &self,
        i: &Incident,
        events: &[Event],
        kind: NoticeKind,
        now: Timestamp,
    ) -> Result<NoticeText, NoticeError> {
        let list = &self.settings.list;
        let at = self.disclosure_at(i, now);
        let cves = self.cves(i);
        let summary = self.summary(i);
        let advisories = self.advisories(i, events, kind, now);
        let mut notice = match kind {
            NoticeKind::Distributors => {
                let cve = i
                    .details
                    .cves
                    .first()
                    .cloned()
                    .unwrap_or_else(|| i.id.to_string());
                let patches = i
                    .details
                    .approval(kind)
                    .map(|a| patch_files(&cve, &a.patches))
                    .unwrap_or_default();
                let text = render(
                    MailKind::AdvanceNotice,
                    &AdvanceNoticeText {
                        project: &list.name,
                        statement: &self.statement(i, at)?,
                        body: &self.body(i, kind)?,
                        patches: patches.iter().map(|p| p.name.clone()).collect(),
                    },
                )?;
                let mut attachments = patches;
                attachments.push(self.calendar(
                    i,
                    at.unwrap_or(now),
                    timeline::moves(&i.details),
                    now,
                ));
                NoticeText {
                    subject: format!("[EMBARGOED] {cves}: {summary}"),
                    text,
                    attachments,
                    advisory_shortfall: None,
                }
            }
            NoticeKind::Warning => NoticeText {
                subject: format!("[EMBARGOED] {cves}: {summary} (public in 24 hours)"),
                text: render(
                    MailKind::Warning,
                    &WarningText {
                        intro: &i.details.approval(kind).and_then(|a| a.text.clone()).unwrap_or_else(|| {
                            format!(
                                "24-hour warning: the {} security release below becomes public in\n\
                                 about a day. This is the text that will be announced.",
                                list.name
                            )
                        }),
                        statement: &self.statement(i, at)?,
                        announcement: &self
                            .notice_text(i, events, NoticeKind::Announcement, now)?
                            .text,
                    },
                )?,
                attachments: vec![self.calendar(
                    i,
                    at.unwrap_or(now),
                    timeline::moves(&i.details),
                    now,
                )],
                advisory_shortfall: None,
            },
            NoticeKind::Announcement => {
                let prefix = self
                    .settings
                    .announce
                    .first()
                    .map_or("[Security Advisory]", |c| c.subject_prefix.as_str());
                let hint = match &i.details.fields.mitigation {
                    Some(m) if !m.trim().is_empty() => "apply the mitigation above".to_owned(),
                    _ => String::new(),
                };
                NoticeText {
                    subject: format!("{prefix} {cves}: {summary}"),
                    text: render(
                        MailKind::Announcement,
                        &AnnouncementText {
                            project: &list.name,
                            body: &self.body(i, kind)?,
                            mitigation_hint: &hint,
                            security_address: &list.security_address,
                        },
                    )?,
                    attachments: Vec::new(),
                    advisory_shortfall: None,
                }
            }
        };
        if let Some(checked) = advisories {
            notice.advisory_shortfall = checked.shortfall();
            notice
                .attachments
                .extend(checked.documents.iter().map(|doc| Attachment {
                    name: doc.file_name.clone(),
                    content_type: "application/json".to_owned(),
                    bytes: doc.text().into_bytes(),
                }));
        }
        Ok(notice)
    }

    /// The lead, or the commander, and the SRC list.
    fn leaders(&self, i: &Incident) -> Vec<String> {
        let mut to: Vec<String> = i
            .details
            .lead
            .iter()
            .chain(i.commander.iter())
            .take(1)
            .cloned()
            .collect();
        to.push(self.settings.list.src_address.clone());
        to
    }

    /// A copy for each Fix Team member who gets no copy otherwise,
    /// encrypted to their roster key when they have one (and none for a
    /// member whose key cannot be used: the second list says who). `key`
    /// is the outbox key of the mail they get a copy of.
    #[allow(clippy::too_many_arguments)]
    fn to_team(
        &self,
        i: &Incident,
        key: &str,
        kind: MailKind,
        subject: &str,
        text: &str,
        attachments: &[Attachment],
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let s = self.settings;
        let covered = |email: &str| {
            let same = |a: &str| a.eq_ignore_ascii_case(email);
            same(&s.list.src_address)
                || i.details.lead.as_deref().is_some_and(same)
                || i.commander.as_deref().is_some_and(same)
                || s.distributors.iter().any(|d| same(&d.email))
        };
        let mut mails = Vec::new();
        let mut failures = Vec::new();
        for email in i.details.team.iter().filter(|e| !covered(e)) {
            let fingerprint = s.roster.person(email).and_then(|m| m.fingerprint.clone());
            // Addressed as a distributor is: sealed to the key we know.
            let member = crate::config::Distributor {
                // Outside the ciphertext when sealed: nothing of the incident.
                name: "Fix Team".to_owned(),
                email: email.clone(),
                encrypt: fingerprint.is_some(),
                require_encryption: fingerprint.is_some(),
                fingerprint,
                key_file: None,
            };
            match self.to_distributor(
                &member,
                &format!("{key}/team/{email}"),
                kind,
                Some(&i.id),
                subject,
                text,
                attachments,
                now,
            ) {
                Ok(m) => mails.push(m),
                // One member's copy must not hold up everyone's notice.
                Err(e) => failures.push(format!("{email} (Fix Team): {e}")),
            }
        }
        Ok((mails, failures))
    }

    pub fn drafts(
        &self,
        i: &Incident,
        events: &[Event],
        kinds: &[NoticeKind],
        now: Timestamp,
    ) -> Result<Vec<NewMail>, NoticeError> {
        let mut mails = Vec::new();
        for kind in kinds {
            let notice = self.notice_text(i, events, *kind, now)?;
            let when = match (
                kind,
                i.details.disclosure,
                i.details.public || i.details.embargo_broken,
            ) {
                (_, _, true) => "it goes out as soon as it is approved".to_owned(),
                (NoticeKind::Distributors, _, _) => {
                    "it goes to the distributors as soon as it is approved".to_owned()
                }
                (NoticeKind::Warning, Some(at), _) => format!(
                    "it goes to the distributors {}",
                    utc(at - jiff::SignedDuration::from_hours(24))
                ),
                (NoticeKind::Announcement, Some(at), _) => {
                    format!("it goes to the announce lists {}", utc(at))
                }
                (_, None, _) => "no disclosure is planned yet".to_owned(),
            };
            let attachments: Vec<String> =
                notice.attachments.iter().map(|a| a.name.clone()).collect();
            let mut text = notice.text.clone();
            if !attachments.is_empty() {
                text.push_str(&format!("\n[attached: {}]\n", attachments.join(", ")));
            }
            if let Some(shortfall) = &notice.advisory_shortfall {
                text.push_str(&format!("\n{shortfall}"));
            }
            let body = render(
                MailKind::Draft,
                &DraftText {
                    kind: kind.as_str(),
                    id: &i.id.to_string(),
                    when: &when,
                    subject: &notice.subject,
                    text: &text,
                },
            )?;
            let key = format!("{}/draft/{kind}/r{}", i.id, i.details.revision);
            let subject = format!("{} DRAFT {kind}: {}", i.id.tag(), notice.subject);
            let (copies, failures) =
                self.to_team(i, &key, MailKind::Draft, &subject, &body, &[], now)?;
            for why in failures {
                tracing::warn!(incident = %i.id, %why, "a Fix Team member gets no draft");
            }
            mails.extend(copies);
            mails.push(self.compose(
                Spec {
                    key,
                    kind: MailKind::Draft,
                    incident: Some(&i.id),
                    to: self.leaders(i),
                    subject,
                    text: body,
                    attachments: Vec::new(),
                    in_reply_to: None,
                    references: &[],
                    from_name: "embargo",
                },
                now,
            )?);
        }
        Ok(mails)
    }

    /// One mail to each distributor (encrypted where they ask for it) and a
    /// copy to the SRC list. A distributor who requires encryption and
    /// cannot get it gets nothing; their failure comes back for the SRC.
    fn to_distributors(
        &self,
        i: &Incident,
        key: &str,
        kind: MailKind,
        notice: &NoticeText,
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let mut mails = Vec::new();
        let mut failures = Vec::new();
        for d in &self.settings.distributors {
            match self.to_distributor(
                d,
                &format!("{}/{key}/{}", i.id, d.email),
                kind,
                Some(&i.id),
                &notice.subject,
                &notice.text,
                &notice.attachments,
                now,
            ) {
                Ok(m) => mails.push(m),
                Err(e @ NoticeError::EncryptionRequired { .. }) => failures.push(e.to_string()),
                Err(e) => return Err(e),
            }
        }
        let (copies, unsealed) = self.to_team(
            i,
            &format!("{}/{key}/src", i.id),
            kind,
            &notice.subject,
            &notice.text,
            &notice.attachments,
            now,
        )?;
        mails.extend(copies);
        failures.extend(unsealed);
        mails.push(self.compose(
            Spec {
                key: format!("{}/{key}/src", i.id),
                kind,
                incident: Some(&i.id),
                to: vec![self.settings.list.src_address.clone()],
                subject: notice.subject.clone(),
                text: notice.text.clone(),
                attachments: notice.attachments.clone(),
                in_reply_to: None,
                references: &[],
                from_name: &format!("{} Security", self.settings.list.name),
            },
            now,
        )?);
        Ok((mails, failures))
    }

    pub fn advance_notices(
        &self,
        i: &Incident,
        events: &[Event],
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let notice = self.notice_text(i, events, NoticeKind::Distributors, now)?;
        self.to_distributors(i, "advance", MailKind::AdvanceNotice, &notice, now)
    }

    /// The advance notice again, as it stands, after what it stated
    /// changed: what changed first, then the whole notice; `key` names it
    /// in the outbox.
    pub fn corrections(
        &self,
        i: &Incident,
        events: &[Event],
        key: &str,
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let mut notice = self.notice_text(i, events, NoticeKind::Distributors, now)?;
        let d = &i.details;
        let changes = d
            .told_facts
            .as_ref()
            .map(|told| d.facts().changes_since(told))
            .unwrap_or_default();
        notice.subject = match notice.subject.strip_prefix("[EMBARGOED] ") {
            Some(rest) => format!("[EMBARGOED] CORRECTED {rest}"),
            None => format!("CORRECTED {}", notice.subject),
        };
        let mut intro = format!(
            "This corrects the advance notice you received for {}. What changed:\n\n",
            i.id
        );
        for c in &changes {
            intro.push_str(&format!("  - {c}\n"));
        }
        intro.push_str(if notice.attachments.iter().any(|a| a.name.ends_with(".patch")) {
            "\nThe patches attached replace those sent before. The corrected notice follows in full.\n\n"
        } else {
            "\nThe patches sent with the advance notice stand. The corrected notice follows in full.\n\n"
        });
        notice.text = format!("{intro}{}", notice.text);
        self.to_distributors(i, key, MailKind::AdvanceNotice, &notice, now)
    }

    /// The 24-hour warning for the date as it stands; `key` names it in
    /// the outbox (a move makes a new one owed).
    pub fn warnings(
        &self,
        i: &Incident,
        key: &str,
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        // The warning carries no advisory: the log is not needed.
        let notice = self.notice_text(i, &[], NoticeKind::Warning, now)?;
        self.to_distributors(i, key, MailKind::Warning, &notice, now)
    }

    /// The `seq`th move of the date, `from` what the distributors were
    /// told last, `to` the date as it stands; `key` names it in the outbox.
    pub fn date_changes(
        &self,
        i: &Incident,
        key: &str,
        from: Timestamp,
        to: Timestamp,
        seq: usize,
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let before = utc(from);
        let notice = NoticeText {
            subject: format!(
                "[EMBARGOED] {}: {} (new disclosure date)",
                self.cves(i),
                self.summary(i)
            ),
            text: render(
                MailKind::DateChange,
                &DateChangeText {
                    cves: &self.cves(i),
                    id: &i.id.to_string(),
                    before: &before,
                    now_at: &utc(to),
                    statement: &self.statement(i, Some(to))?,
                },
            )?,
            attachments: vec![self.calendar(i, to, seq, now)],
            advisory_shortfall: None,
        };
        self.to_distributors(i, key, MailKind::DateChange, &notice, now)
    }

    /// Tells the distributors that the disclosure they were told of will
    /// not happen, and takes it out of their calendars.
    pub fn cancellations(
        &self,
        i: &Incident,
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let Some(at) = i.details.told_date else {
            return Ok((Vec::new(), Vec::new()));
        };
        let entry = self.calendar_entry(i, timeline::moves(&i.details) + 1);
        let notice = NoticeText {
            subject: format!(
                "[EMBARGOED] {}: {} (disclosure cancelled)",
                self.cves(i),
                self.summary(i)
            ),
            text: render(
                MailKind::Cancellation,
                &CancellationText {
                    cves: &self.cves(i),
                    id: &i.id.to_string(),
                    at: &utc(at),
                    state: i.state.as_str(),
                    why: i
                        .details
                        .resolution
                        .as_deref()
                        .unwrap_or("No reason was given."),
                },
            )?,
            attachments: vec![Attachment {
                name: "disclosure.ics".to_owned(),
                content_type: "text/calendar; charset=utf-8; method=CANCEL".to_owned(),
                bytes: ics::cancellation(&entry.as_entry(), at, now),
            }],
            advisory_shortfall: None,
        };
        self.to_distributors(i, "cancellation", MailKind::Cancellation, &notice, now)
    }

    /// One mail per announce list, each with its own subject prefix, and
    /// copies to the distributors and the SRC list.
    pub fn announcements(
        &self,
        i: &Incident,
        events: &[Event],
        now: Timestamp,
    ) -> Result<(Vec<NewMail>, Vec<String>), NoticeError> {
        let notice = self.notice_text(i, events, NoticeKind::Announcement, now)?;
        let mut mails = Vec::new();
        let rest = format!("{}: {}", self.cves(i), self.summary(i));
        for channel in &self.settings.announce {
            mails.push(self.compose(
                Spec {
                    key: format!("{}/announcement/{}", i.id, channel.address),
                    kind: MailKind::Announcement,
                    incident: Some(&i.id),
                    to: vec![channel.address.clone()],
                    subject: format!("{} {rest}", channel.subject_prefix),
                    text: notice.text.clone(),
                    attachments: notice.attachments.clone(),
                    in_reply_to: None,
                    references: &[],
                    from_name: &format!("{} Security", self.settings.list.name),
                },
                now,
            )?);
        }
        let (copies, failures) =
            self.to_distributors(i, "announcement", MailKind::Announcement, &notice, now)?;
        mails.extend(copies);
        Ok((mails, failures))
    }

    pub fn retrospective(
        &self,
        i: &Incident,
        events: &[Event],
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let none = || "none".to_owned();
        let timeline = events
            .iter()
            .map(|e| {
                format!(
                    "{}  {:<24} {}",
                    e.at.strftime("%Y-%m-%d %H:%M"),
                    e.kind.as_str(),
                    header_text(&e.detail, 300)
                )
            })
            .collect();
        let text = render(
            MailKind::Retrospective,
            &RetrospectiveText {
                id: &i.id.to_string(),
                cves: &self.cves(i),
                src_address: &self.settings.list.src_address,
                reporter: &i.reporter.as_ref().map_or_else(none, ToString::to_string),
                commander: &i.commander.clone().unwrap_or_else(none),
                lead: &i.details.lead.clone().unwrap_or_else(none),
                team: &if i.details.team.is_empty() {
                    none()
                } else {
                    i.details.team.join(", ")
                },
                timeline,
            },
        )?;
        let to = i
            .details
            .lead
            .iter()
            .chain(i.commander.iter())
            .next()
            .cloned()
            .unwrap_or_else(|| self.settings.list.src_address.clone());
        self.compose(
            Spec {
                key: format!("{}/retrospective", i.id),
                kind: MailKind::Retrospective,
                incident: Some(&i.id),
                to: vec![to],
                subject: format!("{} Retrospective draft: {}", i.id.tag(), self.summary(i)),
                text,
                attachments: Vec::new(),
                in_reply_to: None,
                references: &[],
                from_name: "embargo",
            },
            now,
        )
    }

    /// Tells the SRC list that the embargo guard refused a mail.
    pub fn guard_alert(
        &self,
        i: &Incident,
        refused: &crate::store::OutboxMail,
        why: &str,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let text = render(
            MailKind::GuardAlert,
            &GuardAlertText {
                id: &i.id.to_string(),
                kind: refused.kind.as_str(),
                to: &refused.recipients.join(", "),
                subject: &header_text(&refused.subject, 200),
                why,
            },
        )?;
        self.compose(
            Spec {
                key: format!("guard/{}", refused.id),
                kind: MailKind::GuardAlert,
                incident: Some(&i.id),
                to: vec![self.settings.list.src_address.clone()],
                subject: format!("{} embargo refused to send a mail", i.id.tag()),
                text,
                attachments: Vec::new(),
                in_reply_to: None,
                references: &[],
                from_name: "embargo",
            },
            now,
        )
    }

    /// Tells the SRC list that a mail could not be delivered.
    pub fn delivery_failure(
        &self,
        i: &Incident,
        what: &Undelivered<'_>,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let to = vec![self.settings.list.src_address.clone()];
        self.undelivered(Some(&i.id), to, what, now)
    }

    /// Tells `to` that a mail (of incident `id`, when it has one) could not
    /// be delivered: the SRC list, or, when the list itself refused it,
    /// the roster members who can act, each at their own address.
    pub fn undelivered(
        &self,
        id: Option<&IncidentId>,
        to: Vec<String>,
        what: &Undelivered<'_>,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let shown = id.map_or_else(|| "no incident".to_owned(), ToString::to_string);
        let text = render(
            MailKind::DeliveryFailure,
            &DeliveryFailureText {
                id: &shown,
                kind: what.kind,
                to: what.to,
                subject: &header_text(what.subject, 200),
                error: what.error,
                advice: what.advice.unwrap_or(DISTRIBUTOR_ADVICE),
            },
        )?;
        let tag = id.map_or_else(|| "[embargo]".to_owned(), IncidentId::tag);
        self.compose(
            Spec {
                key: format!("undelivered/{}", what.key),
                kind: MailKind::DeliveryFailure,
                incident: id,
                to,
                subject: format!("{tag} Could not deliver a mail to {}", what.to),
                text,
                attachments: Vec::new(),
                in_reply_to: None,
                references: &[],
                from_name: "embargo",
            },
            now,
        )
    }
}

/// What a delivery failure notice says to do, unless told otherwise.
const DISTRIBUTOR_ADVICE: &str =
    "If a distributor's key or address changed, update the config and ask for\nthe notice again.";

/// Something the service holds back, or cannot do, until a person acts.
pub struct Alert {
    /// Unique per thing to say: the same alert is queued once.
    pub key: String,
    pub subject: String,
    pub text: String,
}

impl Composer<'_> {
    /// Tells those who can act (the SRC list, and the incident's commander
    /// and Fix Lead when the incident can be read) what is held or stuck.
    pub fn alert(
        &self,
        id: &IncidentId,
        incident: Option<&Incident>,
        alert: &Alert,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let text = render(
            MailKind::Alert,
            &AlertText {
                id: &id.to_string(),
                text: &alert.text,
            },
        )?;
        let mut to = vec![self.settings.list.src_address.clone()];
        if let Some(i) = incident {
            for who in i.commander.iter().chain(i.details.lead.iter()) {
                if !to.iter().any(|t| t.eq_ignore_ascii_case(who)) {
                    to.push(who.clone());
                }
            }
        }
        self.compose(
            Spec {
                key: format!("{id}/alert/{}", alert.key),
                kind: MailKind::Alert,
                incident: Some(id),
                to,
                subject: format!("{} {}", id.tag(), alert.subject),
                text,
                attachments: Vec::new(),
                in_reply_to: None,
                references: &[],
                from_name: "embargo",
            },
            now,
        )
    }
}

/// A mail that did not reach its recipients, for the SRC.
pub struct Undelivered<'a> {
    /// Unique per failure: the alert's outbox key derives from it.
    pub key: &'a str,
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub error: &'a str,
    /// What to do about it; `None`: the words about a distributor.
    pub advice: Option<&'a str>,
}

/// An incident's calendar entry, for [`ics::Entry`] to borrow.
struct OwnedEntry {
    uid: String,
    organizer: String,
    summary: String,
    description: String,
    sequence: usize,
}

impl OwnedEntry {
    fn as_entry(&self) -> ics::Entry<'_> {
        ics::Entry {
            uid: &self.uid,
            organizer: &self.organizer,
            summary: &self.summary,
            description: &self.description,
            sequence: self.sequence,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_are_named_by_cve_and_release() {
        let p = |name: &str| Patch {
            name: name.into(),
            text: "--- a\n+++ b\n".into(),
        };
        let files = patch_files(
            "CVE-2026-31337",
            &[
                p("fix-2.4.2.patch"),
                p("0001-yaml-v2.3.10.diff"),
                p("backport.patch"),
                p("x.patch"),
            ],
        );
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "CVE-2026-31337_v2.4.2.patch",
                "CVE-2026-31337_v2.3.10.patch",
                "CVE-2026-31337_vbackport.patch",
                "CVE-2026-31337_vx.patch"
            ]
        );
    }
}
