//! An iCalendar (RFC 5545) entry for the disclosure slot, so distributors
//! can put the end of the embargo in their calendars.

use icalendar::{Calendar, Component, EventLike, EventStatus};
use jiff::Timestamp;

fn utc(t: Timestamp) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.as_second(), 0).unwrap_or_default()
}

/// What stays the same in every version of one incident's entry, and the
/// version number.
pub struct Entry<'a> {
    /// Stays the same when the date moves, so calendars update the entry
    /// instead of adding one.
    pub uid: &'a str,
    /// The security address: calendars accept updates from the organizer.
    pub organizer: &'a str,
    pub summary: &'a str,
    pub description: &'a str,
    /// Grows with every move (RFC 5546): a calendar keeps the highest.
    pub sequence: usize,
}

fn event(entry: &Entry<'_>, at: Timestamp, now: Timestamp) -> icalendar::Event {
    icalendar::Event::new()
        .uid(entry.uid)
        .sequence(u32::try_from(entry.sequence).unwrap_or(u32::MAX))
        .add_property("ORGANIZER", format!("mailto:{}", entry.organizer))
        .timestamp(utc(now))
        .summary(entry.summary)
        .description(entry.description)
        .starts(utc(at))
        .ends(utc(at + jiff::SignedDuration::from_hours(1)))
        .done()
}

fn calendar(method: &str, event: icalendar::Event) -> Vec<u8> {
    let mut cal = Calendar::new();
    cal.append_property(("METHOD", method));
    cal.push(event);
    cal.done().to_string().into_bytes()
}

/// The entry for the disclosure at `at`: one event, an hour long, sent as a
/// request so that a calendar replaces the version it has.
pub fn disclosure(entry: &Entry<'_>, at: Timestamp, now: Timestamp) -> Vec<u8> {
    calendar("REQUEST", event(entry, at, now))
}

/// Takes the entry for `at` out of the distributors' calendars: the
/// disclosure will not happen then.
pub fn cancellation(entry: &Entry<'_>, at: Timestamp, now: Timestamp) -> Vec<u8> {
    let mut e = event(entry, at, now);
    e.status(EventStatus::Cancelled);
    calendar("CANCEL", e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_at_the_slot_with_untrusted_text_escaped() {
        let at: Timestamp = "2026-12-01T16:00:00Z".parse().unwrap();
        let entry = Entry {
            uid: "EMB-2026-0001.disclosure@example.org",
            organizer: "security@example.org",
            summary: "Embargo ends: CVE-2026-1; a, b",
            description: "line one\nline two",
            sequence: 2,
        };
        let now = "2026-11-10T10:00:00Z".parse().unwrap();
        let ics = String::from_utf8(disclosure(&entry, at, now)).unwrap();
        assert!(ics.contains("METHOD:REQUEST\r\n"), "{ics}");
        assert!(ics.contains("SEQUENCE:2\r\n"), "{ics}");
        assert!(
            ics.contains("ORGANIZER:mailto:security@example.org\r\n"),
            "{ics}"
        );
        let cancel = String::from_utf8(cancellation(&entry, at, now)).unwrap();
        assert!(cancel.contains("METHOD:CANCEL\r\n"), "{cancel}");
        assert!(cancel.contains("STATUS:CANCELLED\r\n"), "{cancel}");
        assert!(
            cancel.contains("UID:EMB-2026-0001.disclosure@example.org\r\n"),
            "{cancel}"
        );
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
