//! Machine-readable advisories: the CVE record (JSON 5), OSV and CSAF 2.0.
//!
//! Downstream people work from data: the CNA publishes a CVE record,
//! scanners read OSV, distributors exchange CSAF. Each is built here from
//! what the incident recorded (`/cve`, `/cvss`, `/cwe`, `/set …`), its
//! disclosure time and the `[advisory]` config — never retyped. Building is
//! pure: `now` is an argument. A document that lacks something its format
//! needs is not built; the caller gets the list of what is missing and the
//! command that fills each. [`schema`] checks every document against the
//! format's official schema before it goes anywhere.

pub mod csaf;
pub mod cve;
pub mod osv;
pub mod schema;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::core::event::{Event, EventKind};
use crate::core::incident::{Change, Incident};
use crate::core::notice_kind::NoticeKind;
use crate::core::severity::Rating;
use crate::core::versions::{self, Item};

/// Who publishes the advisories and about what: the `[advisory]` config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// The organisation that makes the product, e.g. `Example Project`.
    pub vendor: String,
    pub product: String,
    /// OSV's ecosystem (`Go`, `crates.io`, `PyPI`, …) and the package's name
    /// in it; OSV needs both.
    pub ecosystem: Option<String>,
    pub package: Option<String>,
    /// The CVE record's `collectionURL` (where `package` is found).
    pub collection_url: Option<String>,
    /// The CNA's UUID and short name at the CVE Program.
    pub cna_org_id: String,
    pub cna_short_name: String,
    /// What OSV ids start with: a registered database prefix, or `x_…`.
    pub osv_prefix: String,
    /// The announcement's public page; `{id}` stands for the incident id.
    pub announcement_url: String,
    /// CSAF's publisher namespace: the publisher's own URL.
    pub namespace: String,
    /// More references every advisory carries.
    pub references: Vec<String>,
}

/// Which copy of the CSAF document: the public one once the announcement
/// went, or the distributors' before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// TLP:WHITE, status final.
    Public,
    /// TLP:AMBER, status interim: the distributors prepare with it.
    Distributors,
}

/// One entry of the CSAF revision history, from the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    pub at: Timestamp,
    pub summary: String,
}

/// The formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Cve,
    Osv,
    Csaf,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Cve, Format::Osv, Format::Csaf];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Cve => "cve",
            Format::Osv => "osv",
            Format::Csaf => "csaf",
        }
    }

    /// How a person names it.
    pub fn title(self) -> &'static str {
        match self {
            Format::Cve => "CVE record (JSON 5)",
            Format::Osv => "OSV record",
            Format::Csaf => "CSAF 2.0 advisory",
        }
    }

    /// How a sentence names it: "the CVE record is not attached".
    pub fn short(self) -> &'static str {
        match self {
            Format::Cve => "CVE record",
            Format::Osv => "OSV record",
            Format::Csaf => "CSAF advisory",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
    }
}

/// What a format needs that the incident (or the config) does not have:
/// one line each, naming the command or setting that fills it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {format} cannot be made yet; it needs {}", .missing.join("; "))]
pub struct Missing {
    pub format: &'static str,
    pub missing: Vec<String>,
}

/// A finished document and the file name it goes out under.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub format: Format,
    pub file_name: String,
    pub json: Value,
}

impl Document {
    /// The JSON as written to a file: pretty, ending with a newline.
    pub fn text(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.json).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// The CVSS metrics, as both CVE and CSAF carry them (FIRST's JSON).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cvss {
    pub version: &'static str,
    pub vector: String,
    pub score: f64,
    pub severity: &'static str,
}

impl Cvss {
    pub fn json(&self) -> Value {
        json!({
            "version": self.version,
            "vectorString": self.vector,
            "baseScore": self.score,
            "baseSeverity": self.severity,
        })
    }
}

/// What all three formats read from an incident, once.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub summary: Option<String>,
    pub impact: Option<String>,
    pub mitigation: Option<String>,
    pub affected: Option<Vec<Item>>,
    pub fixed: Vec<String>,
    /// `/set fixed` was given, as prose the formats cannot carry.
    pub fixed_unread: bool,
    pub cvss: Option<Cvss>,
    pub disclosure: Option<Timestamp>,
    pub credit: Option<String>,
    pub references: Vec<String>,
    /// `SEMVER` when every version named is Semantic Versioning.
    pub semver: bool,
}

fn text(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

pub(crate) fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "https://".len()
        && !s.contains(char::is_whitespace)
}

impl Facts {
    pub fn of(incident: &Incident, publisher: &Publisher) -> Facts {
        let d = &incident.details;
        let f = &d.fields;
        let affected = f.affected.as_deref().and_then(versions::parse);
        let fixed = f
            .fixed
            .as_deref()
            .and_then(versions::fixed)
            .unwrap_or_default();
        let cvss = d.severity.as_ref().and_then(|s| {
            let (vector, score) = (s.vector.clone()?, s.score?);
            let version = if vector.starts_with("CVSS:3.0/") {
                "3.0"
            } else {
                "3.1"
            };
            Some(Cvss {
                version,
                vector,
                score,
                severity: match Rating::for_score(score) {
                    Rating::None => "NONE",
                    Rating::Low => "LOW",
                    Rating::Medium => "MEDIUM",
                    Rating::High => "HIGH",
                    Rating::Critical => "CRITICAL",
                },
            })
        });
        let mut references = vec![announcement(publisher, incident)];
        // `/set releases` is often the release notes' URL.
        for word in f.releases.as_deref().unwrap_or("").split_whitespace() {
            let word = word.trim_end_matches(['.', ',', ';', ')']);
            if is_url(word) {
                references.push(word.to_owned());
            }
        }
        references.extend(publisher.references.iter().cloned());
        // The CVE schema wants each reference once, wherever it repeats.
        let mut seen = std::collections::HashSet::new();
        references.retain(|r| seen.insert(r.clone()));
        let mut all: Vec<&str> = fixed.iter().map(String::as_str).collect();
        for item in affected.iter().flatten() {
            match item {
                Item::Exact(v) => all.push(v),
                Item::Range { from, to } => {
                    all.extend(from.as_deref());
                    all.extend(to.as_ref().map(|u| match u {
                        versions::Upper::Before(v) | versions::Upper::Through(v) => v.as_str(),
                    }));
                }
            }
        }
        Facts {
            fixed_unread: text(&f.fixed).is_some() && fixed.is_empty(),
            summary: text(&f.summary),
            impact: text(&f.impact),
            mitigation: text(&f.mitigation),
            semver: all.iter().all(|v| versions::is_semver(v)),
            affected,
            fixed,
            cvss,
            // Published early (/public, /embargo-broken), the day it
            // went out is the date, not the one planned.
            disclosure: d.announced_at.or(d.disclosure),
            credit: text(&f.credit).filter(|c| !c.eq_ignore_ascii_case("none")),
            references,
        }
    }

    /// The needs every format shares: a description, versions it can
    /// read, and when it becomes public.
    pub fn common_missing(&self, incident: &Incident) -> Vec<String> {
        let mut missing = Vec::new();
        if incident.details.cves.is_empty() {
            missing.push("a CVE id (/cve CVE-YYYY-NNNN)".to_owned());
        }
        if self.summary.is_none() {
            missing.push("a summary (/set summary)".to_owned());
        }
        if self.affected.is_none() {
            missing.push(
                "the affected versions as versions (/set affected >=2.3.0 <2.3.10, or a list)"
                    .to_owned(),
            );
        }
        if let Some(affected) = &self.affected
            && let Some(why) = versions::ambiguous_open_range(affected, &self.fixed)
        {
            missing.push(why);
        }
        if self.fixed_unread {
            missing.push(
                "the fixed versions as a list of versions (/set fixed 2.3.10, 2.4.2)".to_owned(),
            );
        }
        let d = &incident.details;
        if self.disclosure.is_none() {
            missing.push(if d.public || d.embargo_broken {
                "the announcement's time: approve it (/approve announcement)".to_owned()
            } else {
                "the disclosure time (/disclose YYYY-MM-DD)".to_owned()
            });
        }
        missing
    }

    /// The description: the summary, then the impact.
    pub fn description(&self) -> String {
        let mut s = self.summary.clone().unwrap_or_default();
        if let Some(impact) = &self.impact {
            s.push_str("\n\n");
            s.push_str(impact);
        }
        s
    }
}

/// The announcement's public page for an incident.
pub fn announcement(publisher: &Publisher, incident: &Incident) -> String {
    publisher
        .announcement_url
        .replace("{id}", &incident.id.to_string())
}

/// A time as the three formats write it: RFC 3339 in UTC, whole seconds.
pub(crate) fn time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every document of an incident: per CVE a CVE record and an OSV record,
/// and one CSAF advisory for the incident. Each format either comes whole
/// or as the list of what it lacks.
pub fn all(
    incident: &Incident,
    publisher: &Publisher,
    history: &[Revision],
    copy: Copy,
    now: Timestamp,
) -> Vec<Result<Document, Missing>> {
    let mut out = Vec::new();
    // Without a package to name there is no OSV record, as check-config
    // says: that is the operator's choice, not something the incident
    // lacks, so it is not listed to the Fix Team as missing.
    let osv = publisher.ecosystem.is_some() && publisher.package.is_some();
    match incident.details.cves.as_slice() {
        [] => {
            out.push(cve::record(incident, "", publisher));
            if osv {
                out.push(osv::record(incident, "", publisher, now));
            }
        }
        ids => {
            for id in ids {
                out.push(cve::record(incident, id, publisher));
                if osv {
                    out.push(osv::record(incident, id, publisher, now));
                }
            }
        }
    }
    out.push(csaf::document(incident, publisher, history, copy, now));
    out
}

/// One format's documents (one per CVE for CVE and OSV).
pub fn of_format(
    format: Format,
    incident: &Incident,
    publisher: &Publisher,
    history: &[Revision],
    copy: Copy,
    now: Timestamp,
) -> Vec<Result<Document, Missing>> {
    all(incident, publisher, history, copy, now)
        .into_iter()
        .filter(|r| match r {
            Ok(d) => d.format == format,
            Err(m) => m.format == format_title(format),
        })
        .collect()
}

pub(crate) fn format_title(format: Format) -> &'static str {
    format.title()
}

/// Which copy is due: the public one once the announcement went (or the
/// issue is public anyway), the distributors' before. The slot passing is
/// not enough: an announcement held or not approved keeps the embargo.
pub fn copy_at(incident: &Incident, _now: Timestamp) -> Copy {
    let d = &incident.details;
    let out = d.announced_at.is_some() || d.public || d.embargo_broken;
    if out {
        Copy::Public
    } else {
        Copy::Distributors
    }
}

/// The revisions the event log shows: each notice that went to the
/// distributors or the public, read from what the queueing recorded.
/// Drafts, alerts and reminders are the SRC's own mail, not releases.
pub fn history(events: &[Event]) -> Vec<Revision> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::NoticeQueued)
        .flat_map(|e| {
            e.changes.iter().filter_map(move |c| match c {
                Change::Queued { key } => release(key).map(|summary| Revision {
                    at: e.at,
                    summary: summary.to_owned(),
                }),
                _ => None,
            })
        })
        .collect()
}

/// What a queued notice was, for a revision history; `None` for mail
/// that is not a release of the advisory.
fn release(key: &str) -> Option<&'static str> {
    if key == NoticeKind::Distributors.as_str() {
        Some("Advance notice to the distributors")
    } else if key.starts_with(crate::core::incident::CORRECTION) {
        Some("Corrected advance notice to the distributors")
    } else if key.starts_with("date-change-") {
        Some("New disclosure date sent to the distributors")
    } else if key.starts_with("warning-") {
        Some("24-hour warning to the distributors")
    } else if key == NoticeKind::Announcement.as_str() {
        Some(PUBLIC_RELEASE)
    } else if key == crate::core::timeline::CANCELLATION {
        Some("Disclosure cancelled")
    } else {
        None
    }
}

/// The announcement's revision: the public copy's first public one.
pub(crate) const PUBLIC_RELEASE: &str = "Initial public release";

/// Documents that passed their schema, and for each that did not (or
/// could not be made) the reason, in words for the SRC.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub documents: Vec<Document>,
    /// Every reason a document is not there, one line per document.
    pub problems: Vec<String>,
    /// What the incident (or config) still lacks, each need once however
    /// many formats share it, naming the command that fills it.
    pub needs: Vec<String>,
    /// Documents made but refused by their schema, with the validator's words.
    pub invalid: Vec<String>,
    /// The formats asked for.
    pub formats: Vec<Format>,
}

impl Checked {
    /// What stands between the incident and its advisories, for the
    /// Fix Team (drafts, `/status`): `None` when nothing does.
    pub fn shortfall(&self) -> Option<String> {
        if self.needs.is_empty() && self.invalid.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.formats.iter().map(|f| f.short()).collect();
        let names = match names.as_slice() {
            [one] => format!("The {one} is"),
            [rest @ .., last] => format!("The {} and the {last} are", rest.join(", the ")),
            [] => "The advisories are".to_owned(),
        };
        let mut s = String::new();
        if !self.needs.is_empty() {
            s.push_str(&format!("{names} not attached until the incident has:\n"));
            for need in &self.needs {
                s.push_str(&format!("  - {need}\n"));
            }
        }
        if !self.invalid.is_empty() {
            s.push_str(
                "These advisories were made but are not attached: their official schema refuses them \
                 (a bug in embargo; please report it with these words):\n",
            );
            for why in &self.invalid {
                s.push_str(&format!("  - {why}\n"));
            }
        }
        Some(s)
    }
}

/// The incident's documents (of one format, or all) as they stand at
/// `now`, each checked against its official schema.
pub fn checked(
    incident: &Incident,
    events: &[Event],
    publisher: &Publisher,
    format: Option<Format>,
    now: Timestamp,
) -> Checked {
    let formats = match format {
        Some(f) => vec![f],
        None => Format::ALL.to_vec(),
    };
    checked_copy(
        incident,
        events,
        publisher,
        &formats,
        copy_at(incident, now),
        now,
    )
}

/// As [`checked`], for the given formats and copy: the advance notice
/// carries the distributors' copy of some, the announcement the public
/// copy of all.
pub fn checked_copy(
    incident: &Incident,
    events: &[Event],
    publisher: &Publisher,
    formats: &[Format],
    copy: Copy,
    now: Timestamp,
) -> Checked {
    let history = history(events);
    let docs = all(incident, publisher, &history, copy, now)
        .into_iter()
        .filter(|r| match r {
            Ok(d) => formats.contains(&d.format),
            Err(m) => formats.iter().any(|f| m.format == f.title()),
        });
    let mut out = Checked {
        formats: Format::ALL
            .into_iter()
            .filter(|f| formats.contains(f))
            .collect(),
        ..Checked::default()
    };
    let schemas = match schema::schemas() {
        Ok(s) => s,
        Err(e) => {
            out.problems.push(e.to_string());
            out.invalid.push(e.to_string());
            return out;
        }
    };
    for doc in docs {
        match doc {
            Err(missing) => {
                out.problems.push(missing.to_string());
                for need in missing.missing {
                    if !out.needs.contains(&need) {
                        out.needs.push(need);
                    }
                }
            }
            Ok(doc) => match schemas.check(doc.format, &doc.json) {
                Ok(()) => out.documents.push(doc),
                Err(invalid) => {
                    let why = format!("{} was not made: {invalid}", doc.file_name);
                    out.problems.push(why.clone());
                    out.invalid.push(why);
                }
            },
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod fixture {
    //! An incident with every fact recorded, and one with the least.

    use super::*;
    use crate::core::incident::{Cwe, NoticeFields};
    use crate::core::incident_id::IncidentId;
    use crate::core::severity;

    pub fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub fn publisher() -> Publisher {
        Publisher {
            vendor: "Example Project".into(),
            product: "frob".into(),
            ecosystem: Some("Go".into()),
            package: Some("example.org/frob".into()),
            collection_url: Some("https://pkg.go.dev".into()),
            cna_org_id: "8254265b-2729-46b6-b9e3-3dfca2d5bfca".into(),
            cna_short_name: "example".into(),
            osv_prefix: "x_EMB".into(),
            announcement_url: "https://example.org/security/{id}".into(),
            namespace: "https://example.org".into(),
            references: vec![],
        }
    }

    pub fn full() -> Incident {
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 7).unwrap(),
            "heap overflow in frob's parser",
            None,
            Some("alice@example.org".into()),
            t("2026-12-01T09:00:00Z"),
        );
        let d = &mut i.details;
        d.cves = vec!["CVE-2026-1234".into()];
        d.cwes = vec![Cwe {
            id: "CWE-787".into(),
            name: Some("Out-of-bounds Write".into()),
        }];
        d.severity =
            Some(severity::from_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap());
        d.disclosure = Some(t("2026-12-15T16:00:00Z"));
        d.fields = NoticeFields {
            summary: Some("Heap overflow in frob's request parser".into()),
            affected: Some(">=2.3.0 <2.3.10, 2.4.0 - 2.4.1".into()),
            fixed: Some("2.3.10, 2.4.2".into()),
            impact: Some("A remote attacker can run code as the frob user.".into()),
            mitigation: Some("Set max_header_size = 8192.".into()),
            releases: Some("https://example.org/releases/2.4.2".into()),
            credit: Some("Jane Researcher of Example Labs".into()),
            ..NoticeFields::default()
        };
        i
    }

    /// What each format cannot do without, and nothing more.
    pub fn minimal() -> Incident {
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 8).unwrap(),
            "crash",
            None,
            None,
            t("2026-12-01T09:00:00Z"),
        );
        let d = &mut i.details;
        d.cves = vec!["CVE-2026-5678".into()];
        d.disclosure = Some(t("2026-12-16T16:00:00Z"));
        d.fields = NoticeFields {
            summary: Some("frob crashes on an empty header".into()),
            affected: Some("<1.0.3".into()),
            ..NoticeFields::default()
        };
        i
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::*;
    use super::*;

    #[test]
    fn without_a_package_there_is_no_osv_and_nothing_to_tell_the_fix_team() {
        let mut p = publisher();
        p.ecosystem = None;
        p.package = None;
        let c = checked(&full(), &[], &p, None, t("2026-12-02T00:00:00Z"));
        assert!(c.documents.iter().all(|d| d.format != Format::Osv));
        assert_eq!(c.documents.len(), 2, "the CVE record and the CSAF");
        assert_eq!(c.shortfall(), None);
    }

    #[test]
    fn the_slot_passing_without_the_announcement_keeps_the_embargoed_copy() {
        let mut i = full();
        i.details.announced_at = None;
        let slot = i.details.disclosure.unwrap();
        let later = slot + jiff::SignedDuration::from_hours(48);
        assert_eq!(
            copy_at(&i, later),
            Copy::Distributors,
            "held or not approved"
        );
        i.details.announced_at = Some(later);
        assert_eq!(copy_at(&i, later), Copy::Public);
        // Published later than planned: the day it went out is the date.
        assert_eq!(Facts::of(&i, &publisher()).disclosure, Some(later));
    }

    #[test]
    fn only_mail_to_the_distributors_and_the_public_is_a_revision() {
        let queued = |at: &str, key: &str| Event {
            at: t(at),
            kind: EventKind::NoticeQueued,
            actor: "embargo".into(),
            message_id: None,
            detail: format!("{key} queued: 1 mail(s) to 4 recipient(s)"),
            changes: vec![Change::Queued { key: key.into() }],
        };
        let events = [
            queued("2026-12-01T10:00:00Z", "drafts-r3"),
            queued("2026-12-02T10:00:00Z", "distributors"),
            queued("2026-12-03T10:00:00Z", "held-warning-0-1"),
            queued("2026-12-14T16:00:00Z", "warning-0-1"),
            queued("2026-12-15T16:00:00Z", "announcement"),
            queued("2026-12-18T16:00:00Z", "retrospective"),
        ];
        let got: Vec<String> = history(&events).into_iter().map(|r| r.summary).collect();
        assert_eq!(
            got,
            [
                "Advance notice to the distributors",
                "24-hour warning to the distributors",
                "Initial public release"
            ]
        );
    }

    #[test]
    fn an_incident_without_versions_or_date_gets_the_list_of_what_is_missing() {
        let mut i = minimal();
        i.details.fields.affected = Some("every release before the fix".into());
        i.details.disclosure = None;
        i.details.cves.clear();
        let docs = all(
            &i,
            &publisher(),
            &[],
            Copy::Public,
            t("2026-12-02T00:00:00Z"),
        );
        assert_eq!(docs.len(), 3);
        for d in docs {
            let m = d.unwrap_err();
            let said = m.to_string();
            assert!(said.contains("/cve CVE-YYYY-NNNN"), "{said}");
            assert!(said.contains("/set affected"), "{said}");
            assert!(said.contains("/disclose"), "{said}");
        }
    }

    #[test]
    fn the_shortfall_names_each_need_once_and_the_formats_it_holds_back() {
        let mut i = minimal();
        i.details.fields.affected = Some("every release before the fix".into());
        let now = t("2026-12-02T00:00:00Z");
        let c = checked_copy(
            &i,
            &[],
            &publisher(),
            &[Format::Cve, Format::Csaf],
            Copy::Distributors,
            now,
        );
        assert!(c.documents.is_empty());
        assert_eq!(
            c.shortfall().unwrap(),
            "The CVE record and the CSAF advisory are not attached until the incident has:\n  \
             - the affected versions as versions (/set affected >=2.3.0 <2.3.10, or a list)\n"
        );
        let whole = checked_copy(&full(), &[], &publisher(), &Format::ALL, Copy::Public, now);
        assert_eq!(whole.documents.len(), 3);
        assert_eq!(whole.shortfall(), None);
    }

    #[test]
    fn references_are_the_announcement_and_the_release_notes() {
        let f = Facts::of(&full(), &publisher());
        assert_eq!(
            f.references,
            [
                "https://example.org/security/EMB-2026-0007",
                "https://example.org/releases/2.4.2"
            ]
        );
        assert!(f.semver);
        assert_eq!(f.cvss.unwrap().severity, "CRITICAL");
    }
}
