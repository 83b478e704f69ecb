//! When each notice goes out, as a function of the incident and `now`.
//!
//! Nothing is queued ahead of time: on every tick the service asks what is
//! due, queues it, and records that it did. Moving the disclosure date is
//! then only a change of date; nothing queued early needs undoing.
//!
//! - the drafts go to the Fix Lead and the SRC whenever what the notices
//!   say changes while the disclosure is planned;
//! - the distributors' advance notice, as soon as it is approved (the
//!   `/disclose` rules keep it at least 7 days before the date);
//! - a new date, to distributors already told the old one;
//! - the 24-hour warning, carrying the announcement, from 24 hours before;
//! - the announcement at the slot, to every announce list (a copy to the
//!   distributors);
//! - the retrospective draft to the Fix Lead a day after the release.
//!
//! Public or embargo broken: the announcement goes as soon as approved,
//! and the distributors' notices are moot.

use jiff::{SignedDuration, Timestamp};

use super::incident::{Change, Incident, State};
use super::notice_kind::NoticeKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Drafts { kinds: Vec<NoticeKind> },
    Advance,
    DateChange { to: Timestamp },
    Warning,
    Announcement,
    Retrospective,
}

impl Due {
    /// The key recording that it was queued.
    pub fn key(&self, incident: &Incident) -> String {
        match self {
            Due::Drafts { .. } => format!("drafts-r{}", incident.details.revision),
            Due::Advance => NoticeKind::Distributors.as_str().to_owned(),
            Due::DateChange { to } => format!("date-change-{}", to.as_second()),
            Due::Warning => NoticeKind::Warning.as_str().to_owned(),
            Due::Announcement => NoticeKind::Announcement.as_str().to_owned(),
            Due::Retrospective => "retrospective".to_owned(),
        }
    }
}

const DAY: SignedDuration = SignedDuration::from_hours(24);

fn asap(i: &Incident) -> bool {
    i.details.public || i.details.embargo_broken
}

/// The notices this incident needs drafted, given whether there are distributors.
pub fn notices(i: &Incident, distributors: bool) -> Vec<NoticeKind> {
    let mut kinds = Vec::new();
    if distributors && !asap(i) {
        if !i.details.cves.is_empty() {
            kinds.push(NoticeKind::Distributors);
        }
        kinds.push(NoticeKind::Warning);
    }
    kinds.push(NoticeKind::Announcement);
    kinds
}

/// What is due on `incident` at `now`, in the order to queue it.
pub fn due(i: &Incident, distributors: bool, now: Timestamp) -> Vec<Due> {
    let d = &i.details;
    if i.state.is_final() || d.on_hold {
        return Vec::new();
    }
    let fast = asap(i);
    let planned = d.disclosure;
    let mut due = Vec::new();

    let drafting = matches!(
        i.state,
        State::DisclosurePlanned | State::DistributorsNotified
    ) || (fast && matches!(i.state, State::Triaged | State::Fixing));
    let unapproved: Vec<NoticeKind> = notices(i, distributors)
        .into_iter()
        .filter(|k| d.approval(*k).is_none() && !d.is_queued(k.as_str()))
        .collect();
    let drafts = Due::Drafts {
        kinds: unapproved.clone(),
    };
    if drafting && !unapproved.is_empty() && !d.is_queued(&drafts.key(i)) {
        due.push(drafts);
    }

    if distributors && !fast {
        let before = |p: Timestamp| now < p;
        if !d.cves.is_empty()
            && d.approval(NoticeKind::Distributors).is_some()
            && !d.is_queued(NoticeKind::Distributors.as_str())
            && planned.is_some_and(before)
        {
            due.push(Due::Advance);
        }
        if let Some(p) = planned
            && (d.is_queued(NoticeKind::Distributors.as_str()) || due.contains(&Due::Advance))
            && d.told_date.is_some_and(|told| told != p)
            && !d.is_queued(NoticeKind::Announcement.as_str())
        {
            due.push(Due::DateChange { to: p });
        }
        if let Some(p) = planned
            && d.approval(NoticeKind::Warning).is_some()
            && d.approval(NoticeKind::Announcement).is_some()
            && !d.is_queued(NoticeKind::Warning.as_str())
            && now >= p - DAY
            && now < p
        {
            due.push(Due::Warning);
        }
    }
    if d.approval(NoticeKind::Announcement).is_some()
        && !d.is_queued(NoticeKind::Announcement.as_str())
        && (fast || planned.is_some_and(|p| now >= p))
    {
        due.push(Due::Announcement);
    }
    if d.is_queued(NoticeKind::Announcement.as_str())
        && !d.is_queued("retrospective")
        && d.announced_at.is_some_and(|a| now >= a + DAY)
    {
        due.push(Due::Retrospective);
    }
    due
}

/// The next instant after `now` at which `due` can find something new on
/// this incident with nothing else changing: the 24-hour warning, the slot,
/// the day after the announcement. The service wakes then, so a notice
/// goes at its time and not at the next poll.
pub fn next_change(i: &Incident, now: Timestamp) -> Option<Timestamp> {
    let d = &i.details;
    if i.state.is_final() || d.on_hold {
        return None;
    }
    let mut at = Vec::new();
    if let Some(p) = d.disclosure {
        at.extend([p - DAY, p]);
    }
    if let Some(a) = d.announced_at {
        at.push(a + DAY);
    }
    at.into_iter().filter(|t| *t > now).min()
}

/// The changes that record `due` as queued.
pub fn queued(i: &Incident, due: &Due) -> Vec<Change> {
    let mut changes = vec![Change::Queued { key: due.key(i) }];
    match due {
        Due::Advance => {
            if let Some(p) = i.details.disclosure {
                changes.push(Change::Told { at: p });
            }
            if i.state == State::DisclosurePlanned {
                changes.push(Change::State {
                    to: State::DistributorsNotified,
                });
            }
        }
        Due::DateChange { to } => changes.push(Change::Told { at: *to }),
        Due::Announcement => {
            changes.push(Change::Announced);
            changes.push(Change::State {
                to: State::Announced,
            });
        }
        Due::Retrospective => changes.push(Change::State {
            to: State::Retrospective,
        }),
        Due::Drafts { .. } | Due::Warning => {}
    }
    changes
}

/// One send, planned or done, for `embargo schedule`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Planned {
    pub notice: &'static str,
    /// When it goes (or went); `None` while it waits for something.
    pub at: Option<Timestamp>,
    pub state: String,
    pub to: &'static str,
}

pub fn plan(i: &Incident, distributors: bool) -> Vec<Planned> {
    let d = &i.details;
    let fast = asap(i);
    if i.state.is_final() || (d.disclosure.is_none() && !fast) {
        return Vec::new();
    }
    let line = |notice, key: &str, at: Option<Timestamp>, approved: bool, to| {
        let state = if d.is_queued(key) {
            "queued".to_owned()
        } else if !approved {
            "waiting for /approve".to_owned()
        } else if at.is_none() {
            "waiting for a disclosure date".to_owned()
        } else {
            "scheduled".to_owned()
        };
        Planned {
            notice,
            at,
            state,
            to,
        }
    };
    let mut out = Vec::new();
    let planned = d.disclosure;
    if distributors && !fast {
        if !d.cves.is_empty() {
            let approved = d.approval(NoticeKind::Distributors).is_some();
            let mut p = line(
                "advance notice",
                "distributors",
                planned,
                approved,
                "distributors",
            );
            // It goes as soon as approved, not at a time of its own.
            p.at = None;
            if p.state == "scheduled" {
                p.state = "goes on the next pass".to_owned();
            }
            out.push(p);
        }
        let warning_ok = d.approval(NoticeKind::Warning).is_some()
            && d.approval(NoticeKind::Announcement).is_some();
        out.push(line(
            "24-hour warning",
            "warning",
            planned.map(|p| p - DAY),
            warning_ok,
            "distributors",
        ));
    }
    let at = if fast { Some(i.updated_at) } else { planned };
    out.push(line(
        "announcement",
        "announcement",
        at,
        d.approval(NoticeKind::Announcement).is_some(),
        "announce lists, distributors",
    ));
    out.push(Planned {
        notice: "retrospective draft",
        at: d.announced_at.map(|a| a + DAY).or(at.map(|a| a + DAY)),
        state: if d.is_queued("retrospective") {
            "queued".into()
        } else {
            "after the announcement".into()
        },
        to: "Fix Lead",
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident_id::IncidentId;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const SLOT: &str = "2026-12-01T16:00:00Z";

    /// Planned for the slot, CVE assigned, every notice approved.
    fn planned() -> Incident {
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 1).unwrap(),
            "bug",
            None,
            None,
            t("2026-11-10T09:00:00Z"),
        );
        let at = t("2026-11-10T10:00:00Z");
        for c in [
            Change::State {
                to: State::DisclosurePlanned,
            },
            Change::Cves {
                ids: vec!["CVE-2026-1".into()],
            },
            Change::Disclosure { at: Some(t(SLOT)) },
        ] {
            i.apply(&c, at);
        }
        i
    }

    fn approve(i: &mut Incident, kinds: &[NoticeKind]) {
        for k in kinds {
            i.apply(
                &Change::Approved {
                    kind: *k,
                    by: "lead@x".into(),
                    text: None,
                    patches: vec![],
                },
                t("2026-11-10T11:00:00Z"),
            );
        }
    }

    #[test]
    fn nothing_new_is_due_before_the_next_change() {
        let mut i = planned();
        approve(
            &mut i,
            &[
                NoticeKind::Distributors,
                NoticeKind::Warning,
                NoticeKind::Announcement,
            ],
        );
        for c in queued(&i, &Due::Advance) {
            i.apply(&c, t("2026-11-10T11:00:00Z"));
        }
        let now = t("2026-11-20T08:00:00Z");
        let warning = t("2026-11-30T16:00:00Z");
        assert_eq!(next_change(&i, now), Some(warning));
        let before = due(&i, true, now);
        assert_eq!(
            due(&i, true, warning - SignedDuration::from_secs(1)),
            before
        );
        assert_eq!(due(&i, true, warning), vec![Due::Warning]);
        assert_eq!(next_change(&i, warning), Some(t(SLOT)));
        assert_eq!(due(&i, true, t(SLOT)), vec![Due::Announcement]);
        assert_eq!(
            next_change(&i, t(SLOT)),
            None,
            "nothing planned after the slot yet"
        );
        i.apply(&Change::Announced, t(SLOT));
        assert_eq!(
            next_change(&i, t(SLOT)),
            Some(t(SLOT) + SignedDuration::from_hours(24)),
            "the retrospective"
        );
        i.apply(&Change::Hold { on: true }, t(SLOT));
        assert_eq!(next_change(&i, t(SLOT)), None);
    }

    /// Runs ticks at `times`, queueing what is due; what went when.
    fn run(i: &mut Incident, times: &[&str]) -> Vec<(String, String)> {
        let mut log = Vec::new();
        for at in times {
            for due in due(i, true, t(at)) {
                log.push((at.to_string(), due.key(i)));
                for c in queued(i, &due) {
                    i.apply(&c, t(at));
                }
            }
        }
        log
    }

    #[test]
    fn the_whole_timeline_on_its_slot() {
        let mut i = planned();
        let drafts = run(&mut i, &["2026-11-10T10:00:00Z"]);
        assert_eq!(
            drafts,
            [("2026-11-10T10:00:00Z".into(), "drafts-r2".into())]
        );
        approve(
            &mut i,
            &[
                NoticeKind::Distributors,
                NoticeKind::Warning,
                NoticeKind::Announcement,
            ],
        );
        let log = run(
            &mut i,
            &[
                "2026-11-10T11:00:00Z",
                "2026-11-30T15:59:59Z",
                "2026-11-30T16:00:00Z",
                "2026-12-01T15:59:59Z",
                "2026-12-01T16:00:00Z",
                "2026-12-02T15:59:59Z",
                "2026-12-02T16:00:00Z",
                "2026-12-09T16:00:00Z",
            ],
        );
        let got: Vec<(&str, &str)> = log.iter().map(|(a, k)| (a.as_str(), k.as_str())).collect();
        assert_eq!(
            got,
            [
                ("2026-11-10T11:00:00Z", "distributors"),
                ("2026-11-30T16:00:00Z", "warning"),
                ("2026-12-01T16:00:00Z", "announcement"),
                ("2026-12-02T16:00:00Z", "retrospective"),
            ]
        );
        assert_eq!(i.state, State::Retrospective);
        assert_eq!(i.details.announced_at, Some(t(SLOT)));
    }

    #[test]
    fn nothing_goes_unapproved_and_the_warning_needs_the_announcement() {
        let mut i = planned();
        run(&mut i, &["2026-11-10T10:00:00Z"]);
        approve(&mut i, &[NoticeKind::Warning]);
        let log = run(&mut i, &["2026-11-30T16:00:00Z", "2026-12-01T16:00:00Z"]);
        assert!(log.is_empty(), "{log:?}");
    }

    #[test]
    fn a_new_date_is_told_to_distributors_already_notified() {
        let mut i = planned();
        approve(&mut i, &[NoticeKind::Distributors]);
        run(&mut i, &["2026-11-10T11:00:00Z"]);
        assert_eq!(i.state, State::DistributorsNotified);
        i.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-08T16:00:00Z")),
            },
            t("2026-11-20T09:00:00Z"),
        );
        let log = run(&mut i, &["2026-11-20T09:00:00Z", "2026-11-20T09:01:00Z"]);
        let keys: Vec<&str> = log.iter().map(|(_, k)| k.as_str()).collect();
        let told = format!("date-change-{}", t("2026-12-08T16:00:00Z").as_second());
        assert!(keys.contains(&told.as_str()), "{keys:?}");
        assert_eq!(
            keys.iter().filter(|k| k.starts_with("date-change")).count(),
            1,
            "told once"
        );
        // The re-plan withdrew the approvals of what had not gone yet: new drafts.
        assert!(keys.iter().any(|k| k.starts_with("drafts-r")), "{keys:?}");
        assert_eq!(i.details.told_date, Some(t("2026-12-08T16:00:00Z")));
    }

    #[test]
    fn public_incidents_announce_as_soon_as_approved() {
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 2).unwrap(),
            "bug",
            None,
            None,
            t("2026-11-10T09:00:00Z"),
        );
        i.apply(
            &Change::State { to: State::Fixing },
            t("2026-11-10T09:00:00Z"),
        );
        i.apply(&Change::Public, t("2026-11-10T09:00:00Z"));
        let drafts = due(&i, true, t("2026-11-10T09:05:00Z"));
        assert_eq!(
            drafts,
            [Due::Drafts {
                kinds: vec![NoticeKind::Announcement]
            }],
            "no distributor notices for a public issue"
        );
        approve(&mut i, &[NoticeKind::Announcement]);
        let log = run(&mut i, &["2026-11-10T11:05:00Z"]);
        assert!(log.iter().any(|(_, k)| k == "announcement"), "{log:?}");
        assert_eq!(i.state, State::Announced);
    }

    #[test]
    fn hold_stops_everything() {
        let mut i = planned();
        approve(
            &mut i,
            &[
                NoticeKind::Distributors,
                NoticeKind::Warning,
                NoticeKind::Announcement,
            ],
        );
        i.apply(&Change::Hold { on: true }, t("2026-11-10T11:00:00Z"));
        assert!(run(&mut i, &["2026-11-10T11:00:00Z", "2026-12-01T16:00:00Z"]).is_empty());
    }
}
