//! An incident's status, for `/status` replies and `embargo show`: where
//! it is, who holds which role, and what it is waiting for from whom.

use std::fmt::Write;

use super::incident::{Incident, State};
use super::notice_kind::NoticeKind;
use super::severity;

fn utc(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// What the incident waits for, each with who should act and how.
pub fn waiting_on(i: &Incident) -> Vec<String> {
    let d = &i.details;
    let commander = i.commander.as_deref().unwrap_or("the oncall");
    let lead = d.lead.as_deref().unwrap_or("the Fix Lead");
    let mut w = Vec::new();
    if i.state.is_final() {
        return w;
    }
    if d.on_hold {
        w.push(format!("{commander}: the incident is on hold (/resume)"));
    }
    if i.state == State::Spam {
        w.push(format!(
            "nobody: filed as spam ({}); a roster member who finds it a real report \
             restores it with /not-spam {}",
            d.spam_marked_by
                .as_deref()
                .unwrap_or("marked by the mail server"),
            i.id
        ));
        return w;
    }
    if i.state == State::Reported {
        w.push(format!(
            "{commander}: triage (/accept, /reject <reason> or /duplicate <ID>)"
        ));
        return w;
    }
    if d.lead.is_none() {
        w.push(format!("{commander}: a Fix Lead (/lead <email>)"));
    }
    if d.team.is_empty() && matches!(i.state, State::Triaged) {
        w.push(format!("{lead}: a Fix Team (/team add <email>)"));
    }
    if d.severity.is_none() {
        w.push(format!(
            "{lead}: a severity (/cvss <vector> or /severity <rating>)"
        ));
    }
    if d.cves.is_empty() && !matches!(i.state, State::Announced | State::Retrospective) {
        w.push(format!("{lead}: a CVE id (/cve <CVE-YYYY-NNNN>)"));
    }
    if d.disclosure.is_none() && matches!(i.state, State::Triaged | State::Fixing) {
        w.push(format!(
            "{lead}: a disclosure date (/disclose <YYYY-MM-DD>)"
        ));
    }
    if matches!(
        i.state,
        State::DisclosurePlanned | State::DistributorsNotified
    ) {
        // A notice that went needs no approval (unless it is owed again).
        let pending: Vec<&str> = NoticeKind::ALL
            .iter()
            .filter(|k| {
                d.approval(**k).is_none()
                    && (!super::timeline::sent(d, **k)
                        || (**k == NoticeKind::Distributors && super::timeline::correction(d)))
            })
            .map(|k| k.as_str())
            .collect();
        // One person in both roles is named once.
        let who = if lead == commander {
            lead.to_owned()
        } else {
            format!("{lead} or {commander}")
        };
        if !pending.is_empty() {
            w.push(format!(
                "{who}: approval of the {} notice(s) (/approve <notice>)",
                pending.join(", ")
            ));
        }
    }
    if matches!(i.state, State::Announced | State::Retrospective) {
        w.push(format!("{lead}: the retrospective, then /close"));
    }
    w
}

pub fn status_text(i: &Incident) -> String {
    let d = &i.details;
    let mut o = String::new();
    let _ = writeln!(o, "{}  {}  {:?}", i.id, i.state, i.title);
    let none = || "none".to_owned();
    let _ = writeln!(
        o,
        "  reporter     {}",
        i.reporter
            .as_ref()
            .map_or_else(|| "(no sender)".to_owned(), ToString::to_string)
    );
    let _ = writeln!(
        o,
        "  commander    {}",
        i.commander.clone().unwrap_or_else(none)
    );
    if let Some(header) = &d.spam_marked_by {
        let restored = d.restored_at.map_or_else(String::new, |t| {
            format!("; restored by /not-spam {}", utc(t))
        });
        let _ = writeln!(o, "  spam         marked by {header}{restored}");
    }
    let _ = writeln!(o, "  Fix Lead     {}", d.lead.clone().unwrap_or_else(none));
    let _ = writeln!(
        o,
        "  Fix Team     {}",
        if d.team.is_empty() {
            none()
        } else {
            d.team.join(", ")
        }
    );
    let sev = d.severity.as_ref().map_or_else(none, |s| {
        let mut t = s.rating.to_string();
        if let (Some(score), Some(v)) = (s.score, &s.vector) {
            let _ = write!(t, " (CVSS {score:.1}, {v})");
        }
        let _ = write!(t, "; {}", severity::release_policy(s.rating).summary);
        t
    });
    let _ = writeln!(o, "  severity     {sev}");
    let _ = writeln!(
        o,
        "  CVE          {}",
        if d.cves.is_empty() {
            none()
        } else {
            d.cves.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "  disclosure   {}",
        d.disclosure.map_or_else(|| "not planned".to_owned(), utc)
    );
    let mut flags = Vec::new();
    if d.public {
        flags.push("public");
    }
    if d.embargo_broken {
        flags.push("embargo broken");
    }
    if d.on_hold {
        flags.push("on hold");
    }
    if !flags.is_empty() {
        let _ = writeln!(o, "  flags        {}", flags.join(", "));
    }
    let approved: Vec<&str> = NoticeKind::ALL
        .iter()
        .filter(|k| d.approval(**k).is_some())
        .map(|k| k.as_str())
        .collect();
    let _ = writeln!(
        o,
        "  approved     {}",
        if approved.is_empty() {
            none()
        } else {
            approved.join(", ")
        }
    );
    if let Some(r) = &d.resolution {
        let _ = writeln!(o, "  resolution   {r}");
    }
    let waiting = waiting_on(i);
    if !waiting.is_empty() {
        let _ = writeln!(o, "Waiting on:");
        for w in waiting {
            let _ = writeln!(o, "  - {w}");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident::Change;
    use crate::core::incident_id::IncidentId;

    #[test]
    fn one_person_in_both_roles_is_named_once_and_sent_notices_wait_on_nobody() {
        let at: jiff::Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 1).unwrap(),
            "bug",
            None,
            Some("alice@example.org".into()),
            at,
        );
        for c in [
            Change::State {
                to: State::DistributorsNotified,
            },
            Change::Lead {
                email: Some("alice@example.org".into()),
            },
            Change::Disclosure {
                at: Some("2026-12-15T16:00:00Z".parse().unwrap()),
            },
            Change::Queued {
                key: "distributors".into(),
            },
        ] {
            i.apply(&c, at);
        }
        let waiting = waiting_on(&i);
        assert!(
            waiting.contains(
                &"alice@example.org: approval of the warning, announcement notice(s) (/approve <notice>)"
                    .to_owned()
            ),
            "{waiting:#?}"
        );
    }
}
