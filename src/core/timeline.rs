//! When each notice goes out, as a function of the incident and `now`.
//!
//! Nothing is queued ahead of time: on every tick the service asks what is
//! due, queues it, and records that it did. Moving the disclosure date is
//! then only a change of date; nothing queued early needs undoing.
//!
//! - the drafts go to the Fix Lead and the SRC whenever what the notices
//!   say changes while the disclosure is planned;
//! - the distributors' advance notice, as soon as it is approved, if it
//!   still reaches them the lead time (7 days) before the date;
//! - every new date, to distributors already told the old one: each move
//!   once, in order, back and forth alike;
//! - the 24-hour warning, carrying the announcement, from 24 hours before
//!   the date as it stands (again after a move);
//! - the announcement at the slot, to every announce list (a copy to the
//!   distributors), only if the distributors were told in time;
//! - the retrospective draft to the Fix Lead a day after the release.
//!
//! What would reach the distributors too late is held, and the people who
//! can act are told once, with the next slot that keeps the rules; a
//! `/disclose … short-notice` of the Fix Lead lets it go for that date.
//!
//! Public or embargo broken: the announcement goes as soon as approved,
//! and the distributors' notices are moot.

use jiff::{SignedDuration, Timestamp};

use super::incident::{Change, Details, Incident, State};
use super::notice_kind::NoticeKind;
use super::slot::{self, SlotRules};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    Drafts {
        kinds: Vec<NoticeKind>,
    },
    Advance,
    /// The `seq`th move the distributors hear of.
    DateChange {
        from: Timestamp,
        to: Timestamp,
        seq: usize,
    },
    Warning,
    /// The advance notice again, corrected: what it stated changed after
    /// it went, and the change was approved.
    Correction,
    Announcement,
    /// A notice that would break the rules if it went now: the alert.
    Held(Hold),
    Retrospective,
}

/// Why a notice does not go at its time, and when it could.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub notice: NoticeKind,
    /// The date it was for.
    pub at: Timestamp,
    pub why: String,
    /// The next slot that keeps the rules, were it planned now.
    pub next: Timestamp,
}

impl Due {
    /// The key recording that it was queued.
    pub fn key(&self, incident: &Incident) -> String {
        let d = &incident.details;
        match self {
            Due::Drafts { .. } => format!("drafts-r{}", d.revision),
            Due::Advance => NoticeKind::Distributors.as_str().to_owned(),
            Due::DateChange { to, seq, .. } => format!("date-change-{seq}-{}", to.as_second()),
            Due::Warning => warning_key(d),
            Due::Correction => format!("{}{}", super::incident::CORRECTION, d.revision),
            Due::Announcement => NoticeKind::Announcement.as_str().to_owned(),
            Due::Held(h) => format!(
                "held-{}-{}-{}",
                h.notice.as_str(),
                moves(d),
                h.at.as_second()
            ),
            Due::Retrospective => "retrospective".to_owned(),
        }
    }
}

/// What the timeline's rules depend on besides the incident.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Whether there is a distributors list at all.
    pub distributors: bool,
    pub slots: &'a SlotRules,
}

const DAY: SignedDuration = SignedDuration::from_hours(24);

/// How long the people alerted to a held notice have to answer: the slot
/// the alert names still keeps the rules when they plan it a day later.
const ANSWER_TIME: SignedDuration = DAY;

/// How late the 24-hour warning may still go: a service restarted or a
/// poll delayed must not hold the disclosure.
const WARNING_GRACE: SignedDuration = SignedDuration::from_hours(1);

/// How many moves of the date the distributors have been told of.
pub fn moves(d: &Details) -> usize {
    d.queued
        .iter()
        .filter(|k| k.starts_with("date-change-"))
        .count()
}

/// The warning for the date as it stands and as the distributors last
/// heard it: a move makes it owed again.
fn warning_key(d: &Details) -> String {
    format!(
        "warning-{}-{}",
        moves(d),
        d.disclosure.map_or(0, |p| p.as_second())
    )
}

/// The distributors are owed a corrected advance notice: what it stated
/// changed since it went, before the announcement made it moot.
pub fn correction(d: &Details) -> bool {
    sent(d, NoticeKind::Distributors)
        && !sent(d, NoticeKind::Announcement)
        && !asap(d)
        && d.correction_owed()
}

/// Whether the notice of `kind` went for the plan as it stands.
pub fn sent(d: &Details, kind: NoticeKind) -> bool {
    match kind {
        // Before the key named the date, "warning" was the only warning.
        NoticeKind::Warning => {
            d.is_queued(&warning_key(d)) || (d.is_queued("warning") && moves(d) == 0)
        }
        _ => d.is_queued(kind.as_str()),
    }
}

/// The Fix Lead accepted that the distributors hear of this date late.
fn short_notice(d: &Details, p: Timestamp) -> bool {
    d.short_notice == Some(p)
}

/// How long before `p` the distributors must have the advance notice: the
/// configured lead time, or a day for a short embargo.
fn lead(d: &Details, p: Timestamp, rules: &Rules<'_>) -> SignedDuration {
    if short_notice(d, p) {
        DAY
    } else {
        rules.slots.advance_notice
    }
}

fn asap(d: &Details) -> bool {
    d.public || d.embargo_broken
}

/// The notices this incident needs drafted, given whether there are distributors.
pub fn notices(i: &Incident, distributors: bool) -> Vec<NoticeKind> {
    let mut kinds = Vec::new();
    if distributors && !asap(&i.details) {
        if !i.details.cves.is_empty() {
            kinds.push(NoticeKind::Distributors);
        }
        kinds.push(NoticeKind::Warning);
    }
    kinds.push(NoticeKind::Announcement);
    kinds
}

/// Why the advance notice approved now would not go: it would reach the
/// distributors less than the lead time before the date.
fn advance_hold(d: &Details, p: Timestamp, rules: &Rules<'_>, now: Timestamp) -> Option<Hold> {
    let lead = lead(d, p, rules);
    (p - now < lead).then(|| Hold {
        notice: NoticeKind::Distributors,
        at: p,
        why: format!(
            "the advance notice would reach the distributors {} before the disclosure; \
             they are to have it at least {} before",
            left(p - now),
            left(lead)
        ),
        next: slot::next_slot(now + ANSWER_TIME + lead, rules.slots),
    })
}

/// Why the 24-hour warning approved now would not go: the advance notice
/// it follows has not gone (`advance_going`: it goes in this same pass), or
/// less than 24 hours (and the grace) are left.
fn warning_hold(
    d: &Details,
    p: Timestamp,
    rules: &Rules<'_>,
    now: Timestamp,
    advance_going: bool,
) -> Option<Hold> {
    if !advance_going {
        // The warning never stands in for the advance notice and its patches.
        if !d.cves.is_empty() && !sent(d, NoticeKind::Distributors) {
            return Some(Hold {
                notice: NoticeKind::Warning,
                at: p,
                why: "the distributors have not had the advance notice, which the warning \
                      follows (approve it with /approve distributors)"
                    .to_owned(),
                next: slot::next_slot(now + ANSWER_TIME + lead(d, p, rules), rules.slots),
            });
        }
        // "Public in 24 hours" would be untrue: the announcement will be held.
        if let Some(h) = advance_missing(d, p, rules, now) {
            return Some(Hold {
                notice: NoticeKind::Warning,
                ..h
            });
        }
    }
    (p - now < DAY - WARNING_GRACE).then(|| Hold {
        notice: NoticeKind::Warning,
        at: p,
        why: format!(
            "the 24-hour warning would reach the distributors {} before the disclosure{}",
            left(p - now),
            if d.cves.is_empty() {
                ", and it is the only notice they get: the announcement will be held too"
            } else {
                "; the announcement still goes at that time, as the advance notice told them \
                 (move the date if they must have the warning first)"
            }
        ),
        next: slot::next_slot(now + ANSWER_TIME + DAY, rules.slots),
    })
}

/// Why the announcement may not go at `p`: the distributors were not told
/// in time. Checked when it is due, whatever happened to the date since.
///
/// With a CVE, the advance notice in time is what counts: distributors who
/// have it expect the release at `p`, warning or not, and holding it then
/// would leave them with a date that passes in silence. Without one, the
/// warning is the only notice they get.
fn announcement_hold(d: &Details, p: Timestamp, rules: &Rules<'_>, now: Timestamp) -> Option<Hold> {
    if !rules.distributors || asap(d) {
        return None;
    }
    advance_missing(d, p, rules, now).or_else(|| {
        (d.cves.is_empty() && !sent(d, NoticeKind::Warning)).then(|| Hold {
            notice: NoticeKind::Announcement,
            at: p,
            why: "the distributors never got the 24-hour warning for this date (approve the \
                  warning and the announcement with /approve)"
                .to_owned(),
            next: slot::next_slot(now + ANSWER_TIME + DAY, rules.slots),
        })
    })
}

/// The part of [`announcement_hold`] that can be known before the slot:
/// an advance notice owed (a CVE is assigned) and not given in time.
fn advance_missing(d: &Details, p: Timestamp, rules: &Rules<'_>, now: Timestamp) -> Option<Hold> {
    if d.cves.is_empty() {
        return None;
    }
    let hold = |why: String, earliest: Timestamp| Hold {
        notice: NoticeKind::Announcement,
        at: p,
        why,
        next: slot::next_slot(earliest.max(now + ANSWER_TIME + DAY), rules.slots),
    };
    let lead = lead(d, p, rules);
    match d.advance_at {
        // Sent by a version that did not record when, and that checked the
        // lead time when the date was set.
        None if sent(d, NoticeKind::Distributors) => None,
        None if now >= p || p - now < lead => Some(hold(
            "the distributors never got the advance notice (approve it with \
             /approve distributors)"
                .to_owned(),
            now + ANSWER_TIME + lead,
        )),
        None => None,
        Some(told) if p - told < lead => Some(hold(
            format!(
                "the distributors got the advance notice only {} before the disclosure; \
                 they are to have it at least {} before",
                left(p - told),
                left(lead)
            ),
            told + lead,
        )),
        Some(_) => None,
    }
}

fn left(d: SignedDuration) -> String {
    let hours = d.as_hours().max(0);
    if hours >= 48 {
        format!("{} days", hours / 24)
    } else {
        format!("{hours} hours")
    }
}

/// Why an announcement of `i` must not go at its disclosure time: the
/// distributors were not told in time. The embargo guard asks again at
/// the door, whatever the scheduler decided.
pub fn distributors_not_told(i: &Incident, rules: &Rules<'_>) -> Option<String> {
    let p = i.details.disclosure?;
    announcement_hold(&i.details, p, rules, p).map(|h| h.why)
}

/// Whether the distributors must hear that the disclosure they were told
/// of will not happen: the incident ended before its announcement.
pub fn cancellation_owed(i: &Incident) -> bool {
    let d = &i.details;
    i.state.is_final()
        && d.told_date.is_some()
        && !sent(d, NoticeKind::Announcement)
        && !d.is_queued(CANCELLATION)
}

/// The key recording that the cancellation was queued.
pub const CANCELLATION: &str = "cancellation";

/// The move of the date the distributors were last told, if it moved.
fn date_change(i: &Incident, rules: &Rules<'_>) -> Option<Due> {
    let d = &i.details;
    let (Some(p), Some(told)) = (d.disclosure, d.told_date) else {
        return None;
    };
    (rules.distributors && !asap(d) && told != p && !sent(d, NoticeKind::Announcement)).then(|| {
        Due::DateChange {
            from: told,
            to: p,
            seq: moves(d) + 1,
        }
    })
}

/// What is due on `incident` at `now`, in the order to queue it.
pub fn due(i: &Incident, rules: &Rules<'_>, now: Timestamp) -> Vec<Due> {
    let d = &i.details;
    // Spam owes nobody a notice; `/not-spam` makes it a report first.
    if i.state.is_final() || i.state == State::Spam {
        return Vec::new();
    }
    // A hold pauses what the SRC controls, never the news that the date
    // the distributors hold has moved.
    if d.on_hold {
        return date_change(i, rules).into_iter().collect();
    }
    let distributors = rules.distributors;
    let fast = asap(&i.details);
    let planned = d.disclosure;
    let mut due = Vec::new();
    let held = |h: Hold, due: &mut Vec<Due>| {
        let h = Due::Held(h);
        if !d.is_queued(&h.key(i)) {
            due.push(h);
        }
    };

    let drafting = matches!(
        i.state,
        State::DisclosurePlanned | State::DistributorsNotified
    ) || (fast && matches!(i.state, State::Triaged | State::Fixing));
    // A corrected advance notice is drafted like the first one.
    let unapproved: Vec<NoticeKind> = notices(i, distributors)
        .into_iter()
        .filter(|k| {
            d.approval(*k).is_none()
                && (!sent(d, *k) || (*k == NoticeKind::Distributors && correction(d)))
        })
        .collect();
    let drafts = Due::Drafts {
        kinds: unapproved.clone(),
    };
    if drafting && !unapproved.is_empty() && !d.is_queued(&drafts.key(i)) {
        due.push(drafts);
    }

    if distributors && !fast {
        if let Some(p) = planned
            && !d.cves.is_empty()
            && d.approval(NoticeKind::Distributors).is_some()
            && !sent(d, NoticeKind::Distributors)
            && now < p
        {
            match advance_hold(d, p, rules, now) {
                None => due.push(Due::Advance),
                Some(h) => held(h, &mut due),
            }
        }
        due.extend(date_change(i, rules));
        if planned.is_some_and(|p| now < p)
            && correction(d)
            && d.approval(NoticeKind::Distributors).is_some()
            && !d.is_queued(&Due::Correction.key(i))
        {
            due.push(Due::Correction);
        }
        if let Some(p) = planned
            && d.approval(NoticeKind::Warning).is_some()
            && d.approval(NoticeKind::Announcement).is_some()
            && !sent(d, NoticeKind::Warning)
            && now >= p - DAY
            && now < p
        {
            match warning_hold(d, p, rules, now, due.contains(&Due::Advance)) {
                None => due.push(Due::Warning),
                Some(h) => held(h, &mut due),
            }
        }
    }
    if d.approval(NoticeKind::Announcement).is_some()
        && !sent(d, NoticeKind::Announcement)
        && (fast || planned.is_some_and(|p| now >= p))
    {
        match planned.and_then(|p| announcement_hold(d, p, rules, now)) {
            Some(h) if !fast => held(h, &mut due),
            _ => due.push(Due::Announcement),
        }
    }
    if sent(d, NoticeKind::Announcement)
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
        Due::DateChange { to, .. } => changes.push(Change::Told { at: *to }),
        // Without a CVE the warning is the first the distributors hear.
        Due::Warning => {
            if let Some(p) = i.details.disclosure {
                changes.push(Change::Told { at: p });
            }
        }
        Due::Announcement => {
            changes.push(Change::Announced);
            changes.push(Change::State {
                to: State::Announced,
            });
        }
        Due::Retrospective => changes.push(Change::State {
            to: State::Retrospective,
        }),
        Due::Drafts { .. } | Due::Held(_) | Due::Correction => {}
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
    /// Once it is queued, the key of the outbox mail it became:
    /// `<incident>/<key>` and `<incident>/<key>/…`.
    pub queued: Option<String>,
}

/// The sends of an incident's plan as they stand at `now`, with what is
/// held and why: `embargo schedule`.
pub fn plan(i: &Incident, rules: &Rules<'_>, now: Timestamp) -> Vec<Planned> {
    let d = &i.details;
    let fast = asap(d);
    if i.state.is_final() || (d.disclosure.is_none() && !fast) {
        return Vec::new();
    }
    let held = |h: Option<Hold>| {
        h.map(|h| {
            format!(
                "held: {}; the next slot that keeps the rules is {}",
                h.why,
                h.next.strftime("%Y-%m-%d %H:%M UTC")
            )
        })
    };
    let line = |notice, kind: NoticeKind, at: Option<Timestamp>, approved: bool, to| {
        let state = if sent(d, kind) {
            "queued".to_owned()
        } else if !approved {
            "waiting for /approve".to_owned()
        } else if at.is_none() {
            "waiting for a disclosure date".to_owned()
        } else {
            "scheduled".to_owned()
        };
        let queued = sent(d, kind).then(|| match kind {
            NoticeKind::Warning if d.is_queued(&warning_key(d)) => warning_key(d),
            // The composer's name for it in the outbox (notice::advance_notices).
            NoticeKind::Distributors => "advance".to_owned(),
            _ => kind.as_str().to_owned(),
        });
        Planned {
            notice,
            at,
            state,
            to,
            queued,
        }
    };
    let mut out = Vec::new();
    let planned = d.disclosure;
    if rules.distributors && !fast {
        if !d.cves.is_empty() {
            let approved = d.approval(NoticeKind::Distributors).is_some();
            let mut p = line(
                "advance notice",
                NoticeKind::Distributors,
                planned,
                approved,
                "distributors",
            );
            // It goes as soon as approved, not at a time of its own.
            p.at = None;
            if p.state == "scheduled" {
                p.state = planned
                    .and_then(|at| held(advance_hold(d, at, rules, now)))
                    .unwrap_or_else(|| "goes on the next pass".to_owned());
            }
            out.push(p);
        }
        for key in d
            .queued
            .iter()
            .filter(|k| k.starts_with(super::incident::CORRECTION))
        {
            out.push(Planned {
                notice: "corrected advance notice",
                at: None,
                state: "queued".to_owned(),
                to: "distributors",
                queued: Some(key.clone()),
            });
        }
        if correction(d) && planned.is_some_and(|p| now < p) {
            out.push(Planned {
                notice: "corrected advance notice",
                at: None,
                state: if d.approval(NoticeKind::Distributors).is_none() {
                    "waiting for /approve distributors (what the advance notice stated changed)"
                        .to_owned()
                } else if d.on_hold {
                    "held by /hold: goes after /resume".to_owned()
                } else {
                    "goes on the next pass".to_owned()
                },
                to: "distributors",
                queued: None,
            });
        }
        for (key, at) in d.queued.iter().filter_map(|k| {
            let (_, secs) = k.strip_prefix("date-change-")?.split_once('-')?;
            Some((k, Timestamp::from_second(secs.parse().ok()?).ok()?))
        }) {
            out.push(Planned {
                notice: "new date",
                at: Some(at),
                state: "queued".to_owned(),
                to: "distributors",
                queued: Some(key.clone()),
            });
        }
        let warning_ok = d.approval(NoticeKind::Warning).is_some()
            && d.approval(NoticeKind::Announcement).is_some();
        let mut w = line(
            "24-hour warning",
            NoticeKind::Warning,
            planned.map(|p| p - DAY),
            warning_ok,
            "distributors",
        );
        if w.state == "scheduled"
            && let Some(p) = planned
            && now >= p - DAY
            && let Some(h) = held(warning_hold(d, p, rules, now, false))
        {
            w.state = h;
        }
        out.push(w);
    }
    let at = if fast { Some(i.updated_at) } else { planned };
    let mut a = line(
        "announcement",
        NoticeKind::Announcement,
        at,
        d.approval(NoticeKind::Announcement).is_some(),
        "announce lists, distributors",
    );
    if !fast
        && !sent(d, NoticeKind::Announcement)
        && let Some(p) = planned
    {
        if now >= p {
            if let Some(h) = held(announcement_hold(d, p, rules, now)) {
                a.state = h;
            }
        } else if rules.distributors
            && let Some(h) = held(advance_missing(d, p, rules, now))
        {
            a.state = h.replacen("held:", "will be held unless this changes:", 1);
        }
    }
    out.push(a);
    out.push(Planned {
        notice: "retrospective draft",
        at: d.announced_at.map(|a| a + DAY).or(at.map(|a| a + DAY)),
        state: if d.is_queued("retrospective") {
            "queued".into()
        } else {
            "after the announcement".into()
        },
        to: "Fix Lead",
        queued: d
            .is_queued("retrospective")
            .then(|| "retrospective".to_owned()),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::incident_id::IncidentId;
    use std::sync::LazyLock;

    static SLOTS: LazyLock<SlotRules> = LazyLock::new(SlotRules::default);

    fn rules() -> Rules<'static> {
        Rules {
            distributors: true,
            slots: &SLOTS,
        }
    }

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
        let before = due(&i, &rules(), now);
        assert_eq!(
            due(&i, &rules(), warning - SignedDuration::from_secs(1)),
            before
        );
        assert_eq!(due(&i, &rules(), warning), vec![Due::Warning]);
        for c in queued(&i, &Due::Warning) {
            i.apply(&c, warning);
        }
        assert_eq!(next_change(&i, warning), Some(t(SLOT)));
        assert_eq!(due(&i, &rules(), t(SLOT)), vec![Due::Announcement]);
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

    #[test]
    fn a_change_after_the_advance_notice_owes_a_correction_once_approved() {
        let mut i = planned();
        approve(&mut i, &[NoticeKind::Distributors]);
        let went = t("2026-11-10T11:00:00Z");
        for c in queued(&i, &Due::Advance) {
            i.apply(&c, went);
        }
        let now = t("2026-11-11T09:00:00Z");
        assert!(!i.details.correction_owed());
        i.apply(
            &Change::Field {
                field: crate::core::incident::Field::Fixed,
                value: "2.4.3".into(),
            },
            now,
        );
        // Drafted, not sent, until approved.
        let due_now = due(&i, &rules(), now);
        assert!(
            due_now.iter().any(
                |d| matches!(d, Due::Drafts { kinds } if kinds.contains(&NoticeKind::Distributors))
            ),
            "{due_now:?}"
        );
        assert!(!due_now.contains(&Due::Correction));
        approve(&mut i, &[NoticeKind::Distributors]);
        assert_eq!(
            run(&mut i, &["2026-11-11T10:00:00Z", "2026-11-11T11:00:00Z"])
                .into_iter()
                .filter(|(_, k)| k.starts_with("correction-"))
                .count(),
            1,
            "once"
        );
        assert!(!i.details.correction_owed());
        // A weakness named after the notice went: the CSAF it carried is
        // wrong now, as a /set would make it.
        i.apply(
            &Change::Cwe {
                cwe: crate::core::incident::Cwe {
                    id: "CWE-787".into(),
                    name: Some("Out-of-bounds Write".into()),
                },
            },
            now,
        );
        assert!(correction(&i.details));
        assert!(i.details.approval(NoticeKind::Distributors).is_none());
        assert_eq!(
            i.details
                .facts()
                .changes_since(i.details.told_facts.as_ref().unwrap()),
            ["CWE: CWE-787 Out-of-bounds Write (was not stated)"]
        );
        approve(&mut i, &[NoticeKind::Distributors]);
        run(&mut i, &["2026-11-11T11:30:00Z"]);
        assert!(!i.details.correction_owed());
        // A date move is told by its own notice, not as a correction.
        i.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-02T16:00:00Z")),
            },
            now,
        );
        assert!(!correction(&i.details));
        // An older version's advance notice: nothing to compare with.
        i.details.told_facts = None;
        i.details.fields.impact = Some("worse".into());
        assert!(!correction(&i.details));
    }

    #[test]
    fn a_correction_names_each_change() {
        let mut before = crate::core::incident::Facts::default();
        before.fields.fixed = Some("2.4.2".into());
        let mut after = before.clone();
        after.fields.fixed = Some("2.4.3".into());
        after.fields.mitigation = Some("turn off the loader".into());
        after.cves = vec!["CVE-2026-2".into()];
        assert_eq!(
            after.changes_since(&before),
            [
                "CVE: CVE-2026-2 (was not stated)",
                "fixed: 2.4.3 (was 2.4.2)",
                "mitigation: turn off the loader (was not stated)"
            ]
        );
    }

    /// Runs ticks at `times`, queueing what is due; what went when.
    fn run(i: &mut Incident, times: &[&str]) -> Vec<(String, String)> {
        let mut log = Vec::new();
        for at in times {
            for due in due(i, &rules(), t(at)) {
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
        let warning = format!("warning-0-{}", t(SLOT).as_second());
        assert_eq!(
            got,
            [
                ("2026-11-10T11:00:00Z", "distributors"),
                ("2026-11-30T16:00:00Z", warning.as_str()),
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
        let told = format!("date-change-1-{}", t("2026-12-08T16:00:00Z").as_second());
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
        let drafts = due(&i, &rules(), t("2026-11-10T09:05:00Z"));
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

    fn move_to(i: &mut Incident, at: &str, when: &str) {
        i.apply(&Change::Disclosure { at: Some(t(at)) }, t(when));
    }

    fn all() -> [NoticeKind; 3] {
        [
            NoticeKind::Distributors,
            NoticeKind::Warning,
            NoticeKind::Announcement,
        ]
    }

    #[test]
    fn every_move_is_told_once_in_order_back_and_forth() {
        let a = "2026-12-01T16:00:00Z";
        let b = "2026-12-08T16:00:00Z";
        let mut i = planned();
        approve(&mut i, &[NoticeKind::Distributors]);
        run(&mut i, &["2026-11-10T11:00:00Z"]);
        assert_eq!(i.details.told_date, Some(t(a)));
        let mut told = Vec::new();
        for (to, when) in [
            (b, "2026-11-12T09:00:00Z"),
            (a, "2026-11-13T09:00:00Z"),
            (b, "2026-11-14T09:00:00Z"),
        ] {
            move_to(&mut i, to, when);
            let got = due(&i, &rules(), t(when));
            let changes: Vec<&Due> = got
                .iter()
                .filter(|d| matches!(d, Due::DateChange { .. }))
                .collect();
            assert_eq!(changes.len(), 1, "{got:?}");
            told.push((changes[0].clone(), changes[0].key(&i)));
            run(&mut i, &[when]);
            assert_eq!(
                i.details.told_date,
                Some(t(to)),
                "the record is what was sent"
            );
            assert!(
                !due(&i, &rules(), t(when))
                    .iter()
                    .any(|d| matches!(d, Due::DateChange { .. })),
                "told once"
            );
        }
        let want = [(a, b, 1), (b, a, 2), (a, b, 3)];
        for ((due, key), (from, to, seq)) in told.iter().zip(want) {
            assert_eq!(
                due,
                &Due::DateChange {
                    from: t(from),
                    to: t(to),
                    seq
                }
            );
            assert_eq!(key, &format!("date-change-{seq}-{}", t(to).as_second()));
        }
        assert_eq!(moves(&i.details), 3);
    }

    #[test]
    fn a_move_after_the_warning_owes_a_new_warning() {
        let mut i = planned();
        approve(&mut i, &all());
        run(&mut i, &["2026-11-10T11:00:00Z", "2026-11-30T16:00:00Z"]);
        assert!(sent(&i.details, NoticeKind::Warning));
        // Moved a week on, the evening the warning went.
        move_to(&mut i, "2026-12-08T16:00:00Z", "2026-11-30T18:00:00Z");
        assert!(!sent(&i.details, NoticeKind::Warning));
        let log = run(&mut i, &["2026-11-30T18:00:00Z"]);
        let keys: Vec<&str> = log.iter().map(|(_, k)| k.as_str()).collect();
        assert!(
            keys.iter().any(|k| k.starts_with("date-change-1-")),
            "{keys:?}"
        );
        assert!(
            keys.iter().any(|k| k.starts_with("drafts-")),
            "the warning and announcement are drafted again: {keys:?}"
        );
        approve(&mut i, &[NoticeKind::Warning, NoticeKind::Announcement]);
        let log = run(
            &mut i,
            &[
                "2026-12-01T16:00:00Z",
                "2026-12-07T15:59:59Z",
                "2026-12-07T16:00:00Z",
                "2026-12-08T16:00:00Z",
            ],
        );
        let got: Vec<(&str, &str)> = log.iter().map(|(a, k)| (a.as_str(), k.as_str())).collect();
        let warning = format!("warning-1-{}", t("2026-12-08T16:00:00Z").as_second());
        assert_eq!(
            got,
            [
                ("2026-12-07T16:00:00Z", warning.as_str()),
                ("2026-12-08T16:00:00Z", "announcement")
            ],
            "nothing at the old slot; the new warning a day before the new one"
        );
    }

    #[test]
    fn no_announcement_unless_the_distributors_were_told_in_time() {
        // The advance notice was never approved.
        let mut i = planned();
        approve(&mut i, &[NoticeKind::Warning, NoticeKind::Announcement]);
        let log = run(
            &mut i,
            &[
                "2026-11-30T16:00:00Z",
                "2026-12-01T16:00:00Z",
                "2026-12-01T16:05:00Z",
            ],
        );
        let keys: Vec<&str> = log.iter().map(|(_, k)| k.as_str()).collect();
        let held = format!("held-announcement-0-{}", t(SLOT).as_second());
        assert!(!keys.contains(&"announcement"), "{keys:?}");
        assert_eq!(
            keys.iter().filter(|k| **k == held).count(),
            1,
            "the alert goes once: {keys:?}"
        );
        assert!(i.details.announced_at.is_none());
        let h = announcement_hold(&i.details, t(SLOT), &rules(), t(SLOT)).unwrap();
        assert!(h.why.contains("never got the advance notice"), "{}", h.why);
        // A day to answer, then a week: the next slot that keeps the rules.
        assert_eq!(h.next, t("2026-12-09T16:00:00Z"));
        // Short notice shortens the lead time to a day; it does not let
        // an announcement go that the distributors never heard of.
        i.apply(
            &Change::ShortNotice { at: Some(t(SLOT)) },
            t("2026-12-01T16:10:00Z"),
        );
        let log = run(&mut i, &["2026-12-01T16:10:00Z"]);
        assert!(!log.iter().any(|(_, k)| k == "announcement"), "{log:?}");
    }

    #[test]
    fn a_warning_never_stands_in_for_the_advance_notice() {
        // Short notice, the warning and announcement approved, the advance
        // notice never: no warning, and no announcement.
        let mut i = planned();
        i.apply(
            &Change::ShortNotice { at: Some(t(SLOT)) },
            t("2026-11-28T10:00:00Z"),
        );
        approve(&mut i, &[NoticeKind::Warning, NoticeKind::Announcement]);
        let log = run(
            &mut i,
            &["2026-11-28T10:00:00Z", "2026-11-30T16:00:00Z", SLOT],
        );
        let keys: Vec<&str> = log.iter().map(|(_, k)| k.as_str()).collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.starts_with("warning") || *k == "announcement"),
            "{keys:?}"
        );
        assert!(
            keys.iter().any(|k| k.starts_with("held-warning")),
            "{keys:?}"
        );
        assert!(
            keys.iter().any(|k| k.starts_with("held-announcement")),
            "{keys:?}"
        );
        assert_eq!(i.details.advance_at, None);
    }

    #[test]
    fn short_notice_gives_the_distributors_a_day_and_no_less() {
        // Three days before the slot, with short notice: the advance notice
        // goes at once, the warning a day before, the announcement at the slot.
        let mut i = planned();
        i.apply(
            &Change::ShortNotice { at: Some(t(SLOT)) },
            t("2026-11-28T10:00:00Z"),
        );
        approve(&mut i, &all());
        let log = run(
            &mut i,
            &[
                "2026-11-28T10:00:00Z",
                "2026-11-30T16:00:00Z",
                "2026-12-01T16:00:00Z",
            ],
        );
        let got: Vec<(&str, &str)> = log.iter().map(|(a, k)| (a.as_str(), k.as_str())).collect();
        let warning = format!("warning-0-{}", t(SLOT).as_second());
        assert_eq!(
            got,
            [
                ("2026-11-28T10:00:00Z", "distributors"),
                ("2026-11-30T16:00:00Z", warning.as_str()),
                ("2026-12-01T16:00:00Z", "announcement"),
            ]
        );

        // Twelve hours before the slot is too late even for short notice.
        let mut late = planned();
        late.apply(
            &Change::ShortNotice { at: Some(t(SLOT)) },
            t("2026-12-01T04:00:00Z"),
        );
        approve(&mut late, &all());
        let got = due(&late, &rules(), t("2026-12-01T04:00:00Z"));
        assert!(
            got.iter()
                .any(|d| matches!(d, Due::Held(h) if h.notice == NoticeKind::Distributors)),
            "{got:?}"
        );
        assert!(!got.contains(&Due::Advance), "{got:?}");
    }

    #[test]
    fn the_warning_tells_the_date_when_there_is_no_advance_notice() {
        // No CVE: the warning is the first the distributors hear; a move
        // after it is told, and a cancellation would be owed.
        let mut i = planned();
        i.details.cves.clear();
        approve(&mut i, &[NoticeKind::Warning, NoticeKind::Announcement]);
        run(&mut i, &["2026-11-30T16:00:00Z"]);
        assert_eq!(i.details.told_date, Some(t(SLOT)));
        i.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-08T16:00:00Z")),
            },
            t("2026-11-30T17:00:00Z"),
        );
        let log = run(&mut i, &["2026-11-30T17:00:00Z"]);
        assert!(
            log.iter().any(|(_, k)| k.starts_with("date-change-1-")),
            "{log:?}"
        );
    }

    #[test]
    fn a_hold_does_not_stop_the_news_of_a_move() {
        let mut i = planned();
        approve(&mut i, &all());
        run(&mut i, &["2026-11-20T10:00:00Z"]);
        i.apply(&Change::Hold { on: true }, t("2026-11-21T10:00:00Z"));
        i.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-08T16:00:00Z")),
            },
            t("2026-11-21T10:00:00Z"),
        );
        let got = due(&i, &rules(), t("2026-11-21T10:00:00Z"));
        assert!(
            matches!(got.as_slice(), [Due::DateChange { .. }]),
            "{got:?}"
        );
    }

    #[test]
    fn an_incident_told_by_an_older_version_is_not_held() {
        // The advance notice went before advance_at was recorded.
        let mut i = planned();
        approve(&mut i, &all());
        run(&mut i, &["2026-11-20T10:00:00Z", "2026-11-30T16:00:00Z"]);
        assert!(i.details.told_date.is_some());
        i.details.advance_at = None;
        assert_eq!(
            announcement_hold(&i.details, t(SLOT), &rules(), t(SLOT)),
            None
        );
    }

    #[test]
    fn a_late_advance_notice_is_held_and_the_commander_told() {
        // Planned for the slot without a CVE, then a CVE five days before.
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 3).unwrap(),
            "bug",
            None,
            None,
            t("2026-11-10T09:00:00Z"),
        );
        for c in [
            Change::State {
                to: State::DisclosurePlanned,
            },
            Change::Disclosure { at: Some(t(SLOT)) },
        ] {
            i.apply(&c, t("2026-11-10T10:00:00Z"));
        }
        i.apply(
            &Change::Cves {
                ids: vec!["CVE-2026-9".into()],
            },
            t("2026-11-26T10:00:00Z"),
        );
        approve(&mut i, &all());
        let now = t("2026-11-26T11:00:00Z");
        let got = due(&i, &rules(), now);
        assert!(!got.contains(&Due::Advance), "{got:?}");
        let held: Vec<&Hold> = got
            .iter()
            .filter_map(|d| match d {
                Due::Held(h) => Some(h),
                _ => None,
            })
            .collect();
        assert_eq!(held.len(), 1, "{got:?}");
        assert_eq!(held[0].notice, NoticeKind::Distributors);
        assert!(held[0].why.contains("5 days"), "{}", held[0].why);
        // A day to answer and a week from Thursday is a Friday: Monday.
        assert_eq!(held[0].next, t("2026-12-07T16:00:00Z"));
        let plan = plan(&i, &rules(), now);
        assert!(
            plan.iter()
                .any(|p| p.notice == "advance notice" && p.state.starts_with("held:")),
            "{plan:?}"
        );
        // Held once; at the slot the announcement is held too.
        let log = run(&mut i, &["2026-11-26T11:00:00Z", "2026-11-27T11:00:00Z"]);
        assert_eq!(
            log.iter()
                .filter(|(_, k)| k.starts_with("held-distributors"))
                .count(),
            1,
            "{log:?}"
        );
        let log = run(&mut i, &["2026-11-30T16:00:00Z", "2026-12-01T16:00:00Z"]);
        assert!(
            log.iter()
                .all(|(_, k)| k != "announcement" && !k.starts_with("warning")),
            "{log:?}"
        );
        assert!(
            log.iter().any(|(_, k)| k.starts_with("held-announcement")),
            "{log:?}"
        );
    }

    #[test]
    fn a_warning_approved_too_late_is_held() {
        let mut i = planned();
        approve(&mut i, &[NoticeKind::Distributors]);
        run(&mut i, &["2026-11-10T11:00:00Z"]);
        approve(&mut i, &[NoticeKind::Warning, NoticeKind::Announcement]);
        // Approved three hours before the slot: no warning, but the
        // distributors had the advance notice for this date in time, so
        // the announcement goes when they expect it.
        let log = run(&mut i, &["2026-12-01T13:00:00Z", "2026-12-01T16:00:00Z"]);
        let keys: Vec<&str> = log.iter().map(|(_, k)| k.as_str()).collect();
        assert!(
            keys.iter().any(|k| k.starts_with("held-warning")),
            "{keys:?}"
        );
        assert!(!keys.iter().any(|k| k.starts_with("warning")), "{keys:?}");
        assert!(keys.contains(&"announcement"), "{keys:?}");

        // Without a CVE the warning is all they get: no warning, no announcement.
        let mut bare = planned();
        bare.details.cves.clear();
        approve(&mut bare, &[NoticeKind::Warning, NoticeKind::Announcement]);
        let log = run(&mut bare, &["2026-12-01T13:00:00Z", "2026-12-01T16:00:00Z"]);
        let keys: Vec<&str> = log.iter().map(|(_, k)| k.as_str()).collect();
        assert!(
            keys.iter().any(|k| k.starts_with("held-announcement")),
            "{keys:?}"
        );
        assert!(!keys.contains(&"announcement"), "{keys:?}");
    }
}
