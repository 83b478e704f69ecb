//! An iCalendar (RFC 5545) entry for the disclosure slot, so distributors
//! can put the end of the embargo in their calendars.

use icalendar::{Calendar, Component, EventLike};
use jiff::Timestamp;

fn utc(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap_or_default()
}

/// One event, an hour long, at the disclosure; `uid` stays the same when the
/// date moves, so calendars update the entry instead of adding one.
pub fn disclosure(
    uid: &str,
    summary: &str,
    description: &str,
    at: Timestamp,
    now: Timestamp,
) -> Vec<u8> {
    let event = icalendar::Event::new()
        .uid(uid)
        .timestamp(utc(now))
        .summary(summary)
        .description(description)
        .starts(utc(at))
        .ends(utc(at + jiff::SignedDuration::from_hours(1)))
        .done();
    let mut cal = Calendar::new();
    cal.push(event);
    cal.done().to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_at_the_slot_with_untrusted_text_escaped() {
        let at: Timestamp = "2026-12-01T16:00:00Z".parse().unwrap();
        let ics = String::from_utf8(disclosure(
            "EMB-2026-0001.disclosure@example.org",
            "Embargo ends: CVE-2026-1; a, b",
            "line one\nline two",
            at,
            "2026-11-10T10:00:00Z".parse().unwrap(),
        ))
        .unwrap();
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
        assert!(ics.contains("DTSTART:20261201T160000Z\r\n"), "{ics}");
        assert!(ics.contains("DTEND:20261201T170000Z\r\n"), "{ics}");
        assert!(
            ics.contains("UID:EMB-2026-0001.disclosure@example.org\r\n"),
            "{ics}"
        );
        assert!(
            ics.contains(r"SUMMARY:Embargo ends: CVE-2026-1\; a\, b"),
            "{ics}"
        );
        assert!(ics.contains(r"DESCRIPTION:line one\nline two"), "{ics}");
        assert!(ics.trim_end().ends_with("END:VCALENDAR"), "{ics}");
    }
}
