//! The weekly digest to the SRC: the reports nobody has accepted yet, and
//! how much mail was filed as spam. Reminders stop chasing an untriaged
//! report after a few (`[schedule] untriaged_reminders_max`); the digest
//! keeps it in sight instead, once a week.

use std::fmt::Write;

use jiff::{SignedDuration, Timestamp};

use super::incident::{Incident, State};
use super::incident_id::IncidentId;

/// One report still waiting for triage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untriaged {
    pub id: IncidentId,
    /// Since it was reported (or restored from spam).
    pub since: Timestamp,
    pub title: String,
    pub sender: Option<String>,
    pub reminders: usize,
}

/// The digest owed for one ISO week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// `2026-W49`: one digest per ISO week, whatever restarts or replicas.
    pub week: String,
    pub untriaged: Vec<Untriaged>,
    /// Incidents filed as spam in the seven days before the digest time.
    pub spam: usize,
}

impl Digest {
    /// The outbox key: enqueueing it twice is a no-op.
    pub fn key(&self) -> String {
        format!("digest/{}", self.week)
    }

    pub fn subject(&self) -> String {
        format!(
            "Weekly digest {}: {} untriaged report(s), {} filed as spam",
            self.week,
            self.untriaged.len(),
            self.spam
        )
    }

    pub fn text(&self, now: Timestamp, prefix: &str) -> String {
        let mut o = String::new();
        if self.untriaged.is_empty() {
            let _ = writeln!(o, "Every report has been triaged.");
        } else {
            let _ = writeln!(
                o,
                "Reports nobody has accepted, rejected or closed yet (reminders stop after a few;\n\
                 this digest lists them every week until they are triaged):\n"
            );
            for u in &self.untriaged {
                let days = now.duration_since(u.since).as_hours().max(0) / 24;
                let _ = writeln!(
                    o,
                    "  {}  {} day(s) old, {} reminder(s) sent\n      {:?} from {}",
                    u.id,
                    days,
                    u.reminders,
                    u.title,
                    u.sender.as_deref().unwrap_or("(no sender)")
                );
            }
            let _ = writeln!(
                o,
                "\nTriage each in its thread with a signed /accept, /reject <reason> or /duplicate <ID>."
            );
        }
        let _ = writeln!(
            o,
            "\n{} mail(s) were filed as spam in the 7 days before: nobody was told or answered.\n\
             `embargo incidents --spam` lists them; a real report among them is restored with a\n\
             signed /not-spam {prefix}-YYYY-NNNN in its thread.",
            self.spam
        );
        o
    }
}

/// The ISO week `t` falls in, as `2026-W49` (UTC).
pub fn iso_week(t: Timestamp) -> String {
    let date = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let week = date.iso_week_date();
    format!("{:04}-W{:02}", week.year(), week.week())
}

/// The hour (UTC) on Monday the digest is made at.
pub const DIGEST_HOUR: i8 = 9;

/// The last digest time at or before `now`: Monday 09:00 UTC. What
/// arrived after it waits for the next week's digest, so the digest says
/// the same whenever in the week it is made (after a restart, say).
pub fn digest_time(now: Timestamp) -> Timestamp {
    let utc = now.to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let back = i64::from(utc.weekday().to_monday_zero_offset());
    let monday = utc.date() - jiff::Span::new().days(back);
    let mut at = jiff::tz::TimeZone::UTC
        .to_timestamp(monday.to_datetime(jiff::civil::Time::constant(DIGEST_HOUR, 0, 0, 0)))
        .expect("a UTC time exists");
    if at > now {
        at -= SignedDuration::from_hours(7 * 24);
    }
    at
}

/// The digest of the week `now` is in, from every incident not in a final
/// state: the reports untriaged at its time, and the spam of the seven
/// days before it. `None` when there is nothing to tell.
pub fn due(incidents: &[Incident], now: Timestamp) -> Option<Digest> {
    let mut tally = Tally::new(now);
    for i in incidents {
        tally.add(i);
    }
    tally.finish()
}

/// The digest taken one incident at a time, keeping only what it lists:
/// the scheduler reads incidents page by page, and a backlog of thousands
/// of new reports must not be held whole to be summed up.
pub struct Tally {
    at: Timestamp,
    week_before: Timestamp,
    untriaged: Vec<Untriaged>,
    spam: usize,
}

impl Tally {
    /// The digest of the week `now` is in.
    pub fn new(now: Timestamp) -> Tally {
        let at = digest_time(now);
        Tally {
            at,
            week_before: at - SignedDuration::from_hours(7 * 24),
            untriaged: Vec::new(),
            spam: 0,
        }
    }

    /// The ISO week of the digest this tally makes (its outbox key).
    pub fn key(&self) -> String {
        format!("digest/{}", iso_week(self.at))
    }

    pub fn add(&mut self, i: &Incident) {
        match i.state {
            State::Reported => {
                let since = i.details.restored_at.unwrap_or(i.opened_at);
                if since < self.at {
                    self.untriaged.push(Untriaged {
                        id: i.id.clone(),
                        since,
                        title: i.title.clone(),
                        sender: i.reporter.as_ref().map(|r| r.email.clone()),
                        reminders: i.details.reminded.len(),
                    });
                }
            }
            State::Spam if i.opened_at >= self.week_before && i.opened_at < self.at => {
                self.spam += 1;
            }
            _ => {}
        }
    }

    /// `None` when there is nothing to tell.
    pub fn finish(mut self) -> Option<Digest> {
        if self.untriaged.is_empty() && self.spam == 0 {
            return None;
        }
        self.untriaged
            .sort_by(|a, b| a.since.cmp(&b.since).then_with(|| a.id.cmp(&b.id)));
        Some(Digest {
            week: iso_week(self.at),
            untriaged: self.untriaged,
            spam: self.spam,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::Mailbox;
    use crate::core::incident::Change;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn incident(seq: u32, opened: &str) -> Incident {
        Incident::open(
            IncidentId::new("EMB", 2026, seq).unwrap(),
            &format!("bug {seq}"),
            Some(Mailbox::new(None, &format!("r{seq}@example.net"))),
            None,
            t(opened),
        )
    }

    #[test]
    fn weeks_are_iso_weeks_in_utc() {
        assert_eq!(iso_week(t("2026-12-01T10:00:00Z")), "2026-W49");
        // Sunday late is still the week of the Monday before.
        assert_eq!(iso_week(t("2026-12-06T23:59:00Z")), "2026-W49");
        assert_eq!(iso_week(t("2026-12-07T00:00:00Z")), "2026-W50");
        // The first days of January can belong to the last ISO week.
        assert_eq!(iso_week(t("2027-01-01T12:00:00Z")), "2026-W53");
    }

    #[test]
    fn lists_untriaged_reports_oldest_first_and_counts_this_weeks_spam() {
        let now = t("2026-12-07T09:00:00Z");
        let mut old = incident(1, "2026-11-20T10:00:00Z");
        for d in ["first-response", "fix-team", "fix"] {
            old.apply(
                &Change::Reminded { deadline: d.into() },
                t("2026-11-28T10:00:00Z"),
            );
        }
        let newer = incident(2, "2026-12-03T10:00:00Z");
        let mut accepted = incident(3, "2026-11-25T10:00:00Z");
        accepted.apply(
            &Change::State { to: State::Triaged },
            t("2026-11-26T10:00:00Z"),
        );
        let mut spam_now = incident(4, "2026-12-05T10:00:00Z");
        spam_now.apply(
            &Change::MarkedSpam {
                header: "X-Spam-Flag: YES".into(),
            },
            t("2026-12-05T10:00:00Z"),
        );
        let mut spam_old = incident(5, "2026-11-01T10:00:00Z");
        spam_old.apply(
            &Change::MarkedSpam {
                header: "X-Spam: Yes".into(),
            },
            t("2026-11-01T10:00:00Z"),
        );
        let d = due(&[newer, accepted, spam_now, spam_old, old], now).unwrap();
        assert_eq!(d.key(), "digest/2026-W50");
        let ids: Vec<String> = d.untriaged.iter().map(|u| u.id.to_string()).collect();
        assert_eq!(
            ids,
            ["EMB-2026-0001", "EMB-2026-0002"],
            "only reported, oldest first"
        );
        assert_eq!(d.untriaged[0].reminders, 3);
        assert_eq!(d.spam, 1, "only the spam of the last seven days");
        let text = d.text(now, "EMB");
        assert!(
            text.contains("EMB-2026-0001  16 day(s) old, 3 reminder(s) sent"),
            "{text}"
        );
        assert!(text.contains("\"bug 1\" from r1@example.net"), "{text}");
        assert!(text.contains("1 mail(s) were filed as spam"), "{text}");
        assert!(
            !text.contains("EMB-2026-0003"),
            "an accepted report is not listed"
        );
    }

    #[test]
    fn the_digest_is_of_monday_nine_whenever_it_is_made() {
        let monday = t("2026-12-07T09:00:00Z");
        assert_eq!(digest_time(monday), monday);
        assert_eq!(digest_time(t("2026-12-10T15:00:00Z")), monday);
        assert_eq!(digest_time(t("2026-12-13T23:59:59Z")), monday);
        assert_eq!(
            digest_time(t("2026-12-07T08:59:59Z")),
            t("2026-11-30T09:00:00Z"),
            "before nine on Monday: last week's"
        );
        // What arrived after the digest time waits for next week's, so
        // the same week's digest says the same on Monday or on Thursday.
        let before = incident(1, "2026-12-06T10:00:00Z");
        let after = incident(2, "2026-12-07T09:30:00Z");
        let mut spam_after = incident(3, "2026-12-08T10:00:00Z");
        spam_after.apply(
            &Change::MarkedSpam {
                header: "X-Spam: Yes".into(),
            },
            t("2026-12-08T10:00:00Z"),
        );
        let all = [before, after, spam_after];
        let on_monday = due(&all, t("2026-12-07T10:00:00Z")).unwrap();
        let on_thursday = due(&all, t("2026-12-10T10:00:00Z")).unwrap();
        assert_eq!(on_monday.untriaged, on_thursday.untriaged);
        assert_eq!((on_monday.spam, on_thursday.spam), (0, 0));
        assert_eq!(on_thursday.key(), "digest/2026-W50");
        assert_eq!(on_thursday.untriaged.len(), 1);
        // A report that just came in is for the reminders, not a digest.
        assert_eq!(due(&all[1..], t("2026-12-10T10:00:00Z")), None);
    }

    #[test]
    fn nothing_to_tell_sends_nothing() {
        let now = t("2026-12-07T09:00:00Z");
        assert_eq!(due(&[], now), None);
        let mut accepted = incident(1, "2026-12-01T10:00:00Z");
        accepted.apply(&Change::State { to: State::Fixing }, now);
        assert_eq!(due(&[accepted], now), None);
    }

    #[test]
    fn a_restored_report_is_as_old_as_its_restoring() {
        let now = t("2026-12-07T09:00:00Z");
        let mut i = incident(1, "2026-11-01T10:00:00Z");
        i.apply(
            &Change::MarkedSpam {
                header: "X-Spam-Flag: YES".into(),
            },
            t("2026-11-01T10:00:00Z"),
        );
        i.apply(&Change::NotSpam, t("2026-12-05T09:00:00Z"));
        let d = due(&[i], now).unwrap();
        assert_eq!(d.untriaged[0].since, t("2026-12-05T09:00:00Z"));
        assert_eq!(d.spam, 0, "restored: no longer spam");
    }
}
