//! Disclosure slots: HH:00 UTC, Monday to Thursday, not on a blackout date.
//! The process recommends 16:00 UTC: morning in the Americas, evening in
//! Europe, late evening in Asia; never a Friday.

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRules {
    /// The hour (UTC) of every slot.
    pub hour: u8,
    pub blackout: Vec<Date>,
    /// How long before a disclosure the distributors must have the
    /// advance notice; a short-notice disclosure may give them less.
    pub advance_notice: SignedDuration,
}

impl Default for SlotRules {
    fn default() -> Self {
        SlotRules {
            hour: 16,
            blackout: Vec::new(),
            advance_notice: SignedDuration::from_hours(7 * 24),
        }
    }
}

fn slot_day(date: Date, rules: &SlotRules) -> bool {
    matches!(
        date.weekday(),
        Weekday::Monday | Weekday::Tuesday | Weekday::Wednesday | Weekday::Thursday
    ) && !rules.blackout.contains(&date)
}

fn at_hour(date: Date, hour: u8) -> Timestamp {
    date.to_datetime(jiff::civil::Time::constant(hour as i8, 0, 0, 0))
        .to_zoned_datetime(TimeZone::UTC)
        .expect("a date at a whole hour is a valid UTC time")
        .timestamp()
}

/// Why an instant is not a slot.
pub fn why_not(t: Timestamp, rules: &SlotRules) -> Option<String> {
    let z = t.to_zoned_datetime(TimeZone::UTC);
    let date = z.date();
    if rules.blackout.contains(&date) {
        return Some(format!("{date} is a blackout date"));
    }
    if !slot_day(date, rules) {
        return Some(format!(
            "{date} is a {:?}: slots are Monday to Thursday",
            date.weekday()
        ));
    }
    if t != at_hour(date, rules.hour) {
        return Some(format!("slots are at {:02}:00 UTC", rules.hour));
    }
    None
}

pub fn is_slot(t: Timestamp, rules: &SlotRules) -> bool {
    why_not(t, rules).is_none()
}

/// The first slot at or after `after`.
pub fn next_slot(after: Timestamp, rules: &SlotRules) -> Timestamp {
    let mut date = after.to_zoned_datetime(TimeZone::UTC).date();
    // At most the blackout dates and a weekend stand in the way.
    for _ in 0..(rules.blackout.len() + 8) {
        let candidate = at_hour(date, rules.hour);
        if slot_day(date, rules) && candidate >= after {
            return candidate;
        }
        date = date.tomorrow().expect("a date before the year 9999");
    }
    // Unreachable with any finite blackout list; keep going day by day.
    let mut t = at_hour(date, rules.hour);
    while !is_slot(t, rules) {
        t += SignedDuration::from_hours(24);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rules() -> SlotRules {
        SlotRules {
            hour: 16,
            blackout: vec![
                jiff::civil::date(2026, 12, 24),
                jiff::civil::date(2026, 12, 31),
            ],
            ..SlotRules::default()
        }
    }

    #[test]
    fn edges() {
        let r = rules();
        let cases = [
            // 2026-12-03 is a Thursday.
            ("2026-12-03T15:59:59Z", "2026-12-03T16:00:00Z"),
            ("2026-12-03T16:00:00Z", "2026-12-03T16:00:00Z"),
            ("2026-12-03T16:00:01Z", "2026-12-07T16:00:00Z"),
            // Friday, Saturday, Sunday all go to Monday.
            ("2026-12-04T09:00:00Z", "2026-12-07T16:00:00Z"),
            ("2026-12-05T16:00:00Z", "2026-12-07T16:00:00Z"),
            ("2026-12-06T23:59:59Z", "2026-12-07T16:00:00Z"),
            // A blackout Thursday: the next slot is after the weekend.
            ("2026-12-24T10:00:00Z", "2026-12-28T16:00:00Z"),
            ("2026-12-23T16:00:01Z", "2026-12-28T16:00:00Z"),
            // Year boundary: Thursday 31 December is blacked out, 1 January 2027 is a Friday.
            ("2026-12-30T17:00:00Z", "2027-01-04T16:00:00Z"),
            // Leap day 2028 is a Tuesday.
            ("2028-02-29T15:00:00Z", "2028-02-29T16:00:00Z"),
            ("2028-02-28T16:30:00Z", "2028-02-29T16:00:00Z"),
        ];
        for (after, want) in cases {
            assert_eq!(next_slot(t(after), &r), t(want), "after {after}");
            assert!(is_slot(t(want), &r), "{want}");
        }
    }

    #[test]
    fn what_is_not_a_slot_says_why() {
        let r = rules();
        assert!(
            why_not(t("2026-12-04T16:00:00Z"), &r)
                .unwrap()
                .contains("Friday")
        );
        assert!(
            why_not(t("2026-12-06T16:00:00Z"), &r)
                .unwrap()
                .contains("Sunday")
        );
        assert!(
            why_not(t("2026-12-24T16:00:00Z"), &r)
                .unwrap()
                .contains("blackout")
        );
        assert!(
            why_not(t("2026-12-03T15:00:00Z"), &r)
                .unwrap()
                .contains("16:00 UTC")
        );
        assert!(
            why_not(t("2026-12-03T16:00:30Z"), &r)
                .unwrap()
                .contains("16:00 UTC")
        );
        assert_eq!(why_not(t("2026-12-03T16:00:00Z"), &r), None);
        let early = SlotRules {
            hour: 9,
            blackout: vec![],
            ..SlotRules::default()
        };
        assert!(is_slot(t("2026-12-03T09:00:00Z"), &early));
    }
}
