//! Deadlines from the process, checked on every tick: a reminder for each
//! one missed, once.

use jiff::{SignedDuration, Timestamp};

use super::event::{Event, EventKind, SERVICE_ACTOR};
use super::incident::{Change, Incident, State};
use super::notice_kind::NoticeKind;
use super::severity::Rating;

/// A reminder owed: which deadline, to whom, and what to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    /// Names the missed deadline; an incident is reminded of each once.
    pub deadline: String,
    pub to: Vec<String>,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct TickOutcome {
    pub incident: Incident,
    pub events: Vec<Event>,
    pub reminders: Vec<Reminder>,
}

fn is_weekend(t: Timestamp) -> bool {
    use jiff::civil::Weekday::{Saturday, Sunday};
    matches!(
        t.to_zoned_datetime(jiff::tz::TimeZone::UTC).weekday(),
        Saturday | Sunday
    )
}

/// One business day after `t`: the next weekday at the same time of day.
pub fn one_business_day_after(t: Timestamp) -> Timestamp {
    let day = SignedDuration::from_hours(24);
    let mut due = t + day;
    while is_weekend(due) {
        due += day;
    }
    due
}

fn idle_limit(rating: Rating) -> Option<SignedDuration> {
    let days = |n: i64| SignedDuration::from_hours(24 * n);
    match rating {
        Rating::Critical => Some(days(2)),
        Rating::High => Some(days(7)),
        Rating::Medium => Some(days(30)),
        Rating::Low | Rating::None => None,
    }
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// The reminders due on `incident` at `now`, not yet sent.
pub fn due(incident: &Incident, src_address: &str, now: Timestamp) -> Vec<Reminder> {
    due_capped(incident, src_address, u32::MAX, now)
}

/// The reminders due, at most `untriaged_max` in all for a report nobody
/// has accepted yet (still `reported`): after that the weekly digest lists
/// it, and nobody is chased again. Spam is never reminded of.
pub fn due_capped(
    incident: &Incident,
    src_address: &str,
    untriaged_max: u32,
    now: Timestamp,
) -> Vec<Reminder> {
    let mut owed = due_all(incident, src_address, now);
    if incident.state == State::Reported {
        let left = (untriaged_max as usize).saturating_sub(incident.details.reminded.len());
        owed.truncate(left);
    }
    owed
}

fn due_all(incident: &Incident, src_address: &str, now: Timestamp) -> Vec<Reminder> {
    let d = &incident.details;
    if incident.state.is_final() || incident.state == State::Spam || d.on_hold {
        return Vec::new();
    }
    let id = &incident.id;
    let commander: Vec<String> = incident.commander.iter().cloned().collect();
    let mut leaders: Vec<String> = d
        .lead
        .iter()
        .chain(incident.commander.iter())
        .cloned()
        .collect();
    leaders.dedup();
    let or_src = |v: Vec<String>| {
        if v.is_empty() {
            vec![src_address.to_owned()]
        } else {
            v
        }
    };
    let mut owed = Vec::new();
    let mut owe = |deadline: String, to: Vec<String>, text: String| {
        if !d.reminded.contains(&deadline) {
            owed.push(Reminder {
                deadline,
                to: or_src(to),
                text,
            });
        }
    };
    // A report restored from spam counts as arriving when it was restored.
    let opened = d.restored_at.unwrap_or(incident.opened_at);
    let before = |s: State| incident.state.is_before(s);

    if d.first_response_at.is_none()
        && incident.state == State::Reported
        && now >= one_business_day_after(opened)
    {
        owe(
            "first-response".into(),
            commander.clone(),
            format!(
                "{id} was reported {} and nobody from the SRC has answered within one business day. Triage it: /accept, /reject <reason> or /duplicate <ID>.",
                utc(opened)
            ),
        );
    }
    if d.team.is_empty() && before(State::Fixing) && now >= opened + SignedDuration::from_hours(24)
    {
        owe(
            "fix-team".into(),
            leaders.clone(),
            format!(
                "{id} has no Fix Team 24 hours after the report ({}). Organise it: /team add <email>.",
                utc(opened)
            ),
        );
    }
    if before(State::DisclosurePlanned) && now >= opened + SignedDuration::from_hours(7 * 24) {
        owe(
            "fix".into(),
            leaders.clone(),
            format!(
                "{id} has no fix 7 days after the report ({}): the process expects one within 1 to 7 days. When it is ready, plan the disclosure: /disclose <YYYY-MM-DD>.",
                utc(opened)
            ),
        );
    }
    if let (Some(s), Some(active)) = (&d.severity, d.active_at)
        && let Some(limit) = idle_limit(s.rating)
        && now >= active + limit
    {
        owe(
            format!("idle-since-{}", active.as_second()),
            leaders.clone(),
            format!(
                "{id} ({} severity) has had no activity since {}: more than {} days. Send a /status, or move it on.",
                s.rating,
                utc(active),
                limit.as_hours() / 24
            ),
        );
    }
    // The 24-hour warning carries the announcement: it must be approved
    // before then. From three days out, a reminder every 6 hours; 30 hours
    // before the slot, the whole SRC is alerted.
    if let Some(slot) = d.disclosure
        && !(d.public || d.embargo_broken)
        && matches!(
            incident.state,
            State::DisclosurePlanned | State::DistributorsNotified
        )
        && d.approval(NoticeKind::Announcement).is_none()
        && now < slot
    {
        let start = slot - SignedDuration::from_hours(72);
        if now >= start {
            let window = now.duration_since(start).as_hours() / 6;
            owe(
                format!("announcement-approval-{}-{window}", slot.as_second()),
                leaders.clone(),
                format!(
                    "The announcement of {id} is not approved, and the disclosure is {}. The 24-hour warning to the \
                     distributors, due {}, carries its text. Approve it: /approve announcement {id}",
                    utc(slot),
                    utc(slot - SignedDuration::from_hours(24))
                ),
            );
        }
        if now >= slot - SignedDuration::from_hours(30) {
            owe(
                format!("announcement-alert-{}", slot.as_second()),
                vec![src_address.to_owned()],
                format!(
                    "ALERT: {id} is disclosed {} and its announcement is still not approved; the distributors' \
                     24-hour warning cannot go without it. Whoever leads, approve it now: /approve announcement {id}",
                    utc(slot)
                ),
            );
        }
    }
    if let Some(released) = d.announced_at
        && matches!(incident.state, State::Announced | State::Retrospective)
        && now >= released + SignedDuration::from_hours(3 * 24)
    {
        owe(
            "retrospective".into(),
            leaders,
            format!(
                "{id} was announced {} and there is no retrospective 3 days later. Send it, then /close.",
                utc(released)
            ),
        );
    }
    owed
}

/// What a tick does to one incident: the reminders owed, recorded so that
/// each goes out once.
pub fn tick(incident: &Incident, src_address: &str, now: Timestamp) -> Option<TickOutcome> {
    tick_capped(incident, src_address, u32::MAX, now)
}

/// `tick`, with at most `untriaged_max` reminders for a report nobody
/// accepted (see `due_capped`).
pub fn tick_capped(
    incident: &Incident,
    src_address: &str,
    untriaged_max: u32,
    now: Timestamp,
) -> Option<TickOutcome> {
    let reminders = due_capped(incident, src_address, untriaged_max, now);
    if reminders.is_empty() {
        return None;
    }
    let mut next = incident.clone();
    let mut events = Vec::new();
    for r in &reminders {
        let change = Change::Reminded {
            deadline: r.deadline.clone(),
        };
        next.apply(&change, now);
        events.push(Event {
            at: now,
            kind: EventKind::Reminder,
            actor: SERVICE_ACTOR.to_owned(),
            message_id: None,
            detail: format!("to {}: {}", r.to.join(", "), r.text),
            changes: vec![change],
        });
    }
    Some(TickOutcome {
        incident: next,
        events,
        reminders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident_id::IncidentId;
    use crate::core::severity::{Rating, Severity};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Reported on a Friday at 10:00.
    fn reported() -> Incident {
        Incident::open(
            IncidentId::new("EMB", 2026, 1).unwrap(),
            "bug",
            None,
            Some("oncall@example.org".into()),
            t("2026-11-27T10:00:00Z"),
        )
    }

    fn deadlines(i: &Incident, now: &str) -> Vec<String> {
        due(i, "src@example.org", t(now))
            .into_iter()
            .map(|r| r.deadline)
            .collect()
    }

    #[test]
    fn a_business_day_skips_the_weekend() {
        assert_eq!(
            one_business_day_after(t("2026-11-27T10:00:00Z")),
            t("2026-11-30T10:00:00Z"),
            "Friday → Monday"
        );
        assert_eq!(
            one_business_day_after(t("2026-11-28T10:00:00Z")),
            t("2026-11-30T10:00:00Z"),
            "Saturday → Monday"
        );
        assert_eq!(
            one_business_day_after(t("2026-11-24T10:00:00Z")),
            t("2026-11-25T10:00:00Z"),
            "Tuesday → Wednesday"
        );
    }

    #[test]
    fn deadlines_come_due_in_order() {
        let i = reported();
        assert!(deadlines(&i, "2026-11-28T09:00:00Z").is_empty());
        // 24 hours: no Fix Team yet; but the first answer may wait for Monday.
        assert_eq!(deadlines(&i, "2026-11-28T10:00:00Z"), ["fix-team"]);
        assert_eq!(
            deadlines(&i, "2026-11-30T10:00:00Z"),
            ["first-response", "fix-team"]
        );
        assert_eq!(
            deadlines(&i, "2026-12-04T10:00:00Z"),
            ["first-response", "fix-team", "fix"]
        );
        let to = &due(&i, "src@example.org", t("2026-11-30T10:00:00Z"))[0].to;
        assert_eq!(to, &["oncall@example.org"]);
    }

    #[test]
    fn each_deadline_is_reminded_once() {
        let i = reported();
        let first = tick(&i, "src@example.org", t("2026-11-30T10:00:00Z")).unwrap();
        assert_eq!(first.reminders.len(), 2);
        assert_eq!(first.events.len(), 2);
        assert!(
            tick(
                &first.incident,
                "src@example.org",
                t("2026-11-30T11:00:00Z")
            )
            .is_none()
        );
        let later = tick(
            &first.incident,
            "src@example.org",
            t("2026-12-04T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            later
                .reminders
                .iter()
                .map(|r| r.deadline.as_str())
                .collect::<Vec<_>>(),
            ["fix"]
        );
    }

    #[test]
    fn answered_staffed_fixed_incidents_owe_nothing_and_hold_pauses_all() {
        let mut i = reported();
        i.apply(&Change::Responded, t("2026-11-27T11:00:00Z"));
        i.apply(
            &Change::State { to: State::Fixing },
            t("2026-11-27T12:00:00Z"),
        );
        i.apply(
            &Change::TeamAdded {
                email: "dev@x".into(),
            },
            t("2026-11-27T12:00:00Z"),
        );
        assert!(deadlines(&i, "2026-11-30T10:00:00Z").is_empty());
        assert_eq!(deadlines(&i, "2026-12-04T10:00:00Z"), ["fix"]);
        i.apply(&Change::Hold { on: true }, t("2026-11-27T12:00:00Z"));
        assert!(deadlines(&i, "2026-12-30T10:00:00Z").is_empty());
    }

    #[test]
    fn idle_limits_follow_severity_and_reminders_do_not_count_as_activity() {
        let mut i = reported();
        i.apply(&Change::Responded, t("2026-11-27T10:00:00Z"));
        i.apply(
            &Change::State {
                to: State::DisclosurePlanned,
            },
            t("2026-11-27T10:00:00Z"),
        );
        i.apply(
            &Change::TeamAdded {
                email: "dev@x".into(),
            },
            t("2026-11-27T10:00:00Z"),
        );
        let sev = |r| Change::Severity {
            severity: Severity {
                rating: r,
                vector: None,
                score: None,
            },
        };
        i.apply(&sev(Rating::Critical), t("2026-11-27T10:00:00Z"));
        assert!(deadlines(&i, "2026-11-29T09:59:59Z").is_empty());
        let key = format!("idle-since-{}", t("2026-11-27T10:00:00Z").as_second());
        assert_eq!(
            deadlines(&i, "2026-11-29T10:00:00Z"),
            std::slice::from_ref(&key)
        );
        let after = tick(&i, "s@x", t("2026-11-29T10:00:00Z")).unwrap().incident;
        assert_eq!(
            after.details.active_at, i.details.active_at,
            "a reminder is not activity"
        );
        assert!(
            deadlines(&after, "2026-12-20T10:00:00Z").is_empty(),
            "reminded once per idle stretch"
        );
        let mut high = i.clone();
        high.apply(&sev(Rating::High), t("2026-11-27T10:00:00Z"));
        assert!(deadlines(&high, "2026-12-04T09:00:00Z").is_empty());
        assert_eq!(deadlines(&high, "2026-12-04T10:00:00Z").len(), 1);
        let mut low = i.clone();
        low.apply(&sev(Rating::Low), t("2026-11-27T10:00:00Z"));
        assert!(deadlines(&low, "2027-06-01T10:00:00Z").is_empty());
    }

    #[test]
    fn an_unapproved_announcement_is_chased_every_6_hours_and_alerts_the_src_at_30() {
        let mut i = reported();
        i.apply(&Change::Responded, t("2026-11-27T10:00:00Z"));
        i.apply(
            &Change::TeamAdded {
                email: "dev@x".into(),
            },
            t("2026-11-27T10:00:00Z"),
        );
        i.apply(
            &Change::Lead {
                email: Some("lead@example.org".into()),
            },
            t("2026-11-27T10:00:00Z"),
        );
        i.apply(
            &Change::State {
                to: State::DisclosurePlanned,
            },
            t("2026-11-27T10:00:00Z"),
        );
        i.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-10T16:00:00Z")),
            },
            t("2026-11-27T10:00:00Z"),
        );
        let keys = |i: &Incident, now: &str| deadlines(i, now);
        assert!(keys(&i, "2026-12-07T15:59:59Z").is_empty());
        let mut sent = Vec::new();
        for now in [
            "2026-12-07T16:00:00Z",
            "2026-12-07T18:00:00Z",
            "2026-12-07T22:00:00Z",
            "2026-12-09T09:59:59Z",
            "2026-12-09T10:00:00Z",
        ] {
            if let Some(o) = tick(&i, "src@example.org", t(now)) {
                sent.extend(
                    o.reminders
                        .iter()
                        .map(|r| (now, r.deadline.clone(), r.to.clone())),
                );
                i = o.incident;
            }
        }
        let slot = t("2026-12-10T16:00:00Z").as_second();
        let got: Vec<(&str, String)> = sent.iter().map(|(n, k, _)| (*n, k.clone())).collect();
        assert_eq!(
            got,
            [
                (
                    "2026-12-07T16:00:00Z",
                    format!("announcement-approval-{slot}-0")
                ),
                (
                    "2026-12-07T22:00:00Z",
                    format!("announcement-approval-{slot}-1")
                ),
                (
                    "2026-12-09T09:59:59Z",
                    format!("announcement-approval-{slot}-6")
                ),
                (
                    "2026-12-09T10:00:00Z",
                    format!("announcement-approval-{slot}-7")
                ),
                ("2026-12-09T10:00:00Z", format!("announcement-alert-{slot}")),
            ]
        );
        assert_eq!(sent.last().unwrap().2, ["src@example.org"]);
        // Approved: no more chasing.
        i.apply(
            &Change::Approved {
                kind: NoticeKind::Announcement,
                by: "lead@example.org".into(),
                text: None,
                patches: vec![],
            },
            t("2026-12-09T11:00:00Z"),
        );
        assert!(keys(&i, "2026-12-09T17:00:00Z").is_empty());
    }

    #[test]
    fn no_retrospective_three_days_after_release() {
        let mut i = reported();
        i.apply(&Change::Responded, t("2026-11-27T10:00:00Z"));
        i.apply(
            &Change::TeamAdded {
                email: "dev@x".into(),
            },
            t("2026-11-27T10:00:00Z"),
        );
        i.apply(
            &Change::Lead {
                email: Some("lead@example.org".into()),
            },
            t("2026-11-27T10:00:00Z"),
        );
        i.apply(
            &Change::State {
                to: State::Announced,
            },
            t("2026-12-01T16:00:00Z"),
        );
        i.apply(&Change::Announced, t("2026-12-01T16:00:00Z"));
        assert!(deadlines(&i, "2026-12-04T15:59:59Z").is_empty());
        let r = due(&i, "src@example.org", t("2026-12-04T16:00:00Z"));
        assert_eq!(r[0].deadline, "retrospective");
        assert_eq!(r[0].to, ["lead@example.org", "oncall@example.org"]);
    }

    /// Runs the capped tick at each time, applying what it records: the
    /// deadlines reminded of, in order.
    fn reminded_over(i: &mut Incident, cap: u32, times: &[&str]) -> Vec<String> {
        let mut all = Vec::new();
        for now in times {
            if let Some(o) = tick_capped(i, "src@example.org", cap, t(now)) {
                all.extend(o.reminders.into_iter().map(|r| r.deadline));
                *i = o.incident;
            }
        }
        all
    }

    #[test]
    fn a_report_nobody_accepted_is_reminded_of_at_most_the_cap() {
        let mut i = reported();
        // An idle critical report owes a reminder every time it idles.
        i.apply(
            &Change::Severity {
                severity: Severity {
                    rating: Rating::Critical,
                    vector: None,
                    score: None,
                },
            },
            t("2026-11-27T10:00:00Z"),
        );
        let times = [
            "2026-11-30T10:00:00Z",
            "2026-12-05T10:00:00Z",
            "2026-12-09T10:00:00Z",
            "2026-12-20T10:00:00Z",
        ];
        let uncapped = reminded_over(&mut i.clone(), u32::MAX, &times);
        assert!(uncapped.len() > 3, "without the cap: {uncapped:?}");
        let capped = reminded_over(&mut i.clone(), 3, &times);
        assert_eq!(capped, uncapped[..3], "the first three, then none");
        assert!(reminded_over(&mut i.clone(), 0, &times).is_empty());
    }

    #[test]
    fn the_cap_is_for_untriaged_reports_only() {
        let mut i = reported();
        i.apply(&Change::Responded, t("2026-11-27T11:00:00Z"));
        i.apply(
            &Change::State { to: State::Triaged },
            t("2026-11-27T11:00:00Z"),
        );
        for n in 0..3 {
            i.apply(
                &Change::Reminded {
                    deadline: format!("old-{n}"),
                },
                t("2026-11-27T12:00:00Z"),
            );
        }
        assert_eq!(
            due_capped(&i, "src@example.org", 3, t("2026-12-05T10:00:00Z"))
                .into_iter()
                .map(|r| r.deadline)
                .collect::<Vec<_>>(),
            ["fix-team", "fix"],
            "an accepted incident is chased as before"
        );
    }

    #[test]
    fn spam_is_never_reminded_of_and_a_restored_report_counts_from_its_restoring() {
        let mut i = reported();
        i.apply(
            &Change::MarkedSpam {
                header: "X-Spam-Flag: YES".into(),
            },
            t("2026-11-27T10:00:00Z"),
        );
        assert!(deadlines(&i, "2027-06-01T10:00:00Z").is_empty());
        // Restored on Wednesday 2 December at 09:00: one business day later.
        i.apply(&Change::NotSpam, t("2026-12-02T09:00:00Z"));
        assert!(deadlines(&i, "2026-12-03T08:59:59Z").is_empty());
        assert_eq!(
            deadlines(&i, "2026-12-03T09:00:00Z"),
            ["first-response", "fix-team"]
        );
    }
}
