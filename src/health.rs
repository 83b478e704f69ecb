//! Whether this process can do its work (`/readyz`), judged from what it
//! last saw: the store answering, and for the holder of the ingest lease,
//! the source reached within its poll interval.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// What the process saw, gathered at the probe.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The store answered the probe; `Err` says why not.
    pub store: Result<(), String>,
    /// This replica takes mail in; a standby does not read the source.
    pub lease_held: bool,
    /// When the source last listed or handed over mail.
    pub source_reached: Option<Timestamp>,
    /// When an attempt to reach it last failed.
    pub source_failed: Option<Timestamp>,
    /// A pass runs now: one that sends a backlog polls nothing meanwhile.
    pub busy: bool,
    pub started: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    /// One line per part, for a person reading the probe.
    pub text: String,
}

/// How long the source may go unreached: two polls (a pass follows every
/// wait, IDLE or not), and a margin for a slow pass.
pub fn source_limit(poll_interval: Duration) -> SignedDuration {
    SignedDuration::try_from(poll_interval.saturating_mul(2)).unwrap_or(SignedDuration::MAX)
        + SignedDuration::from_secs(10)
}

pub fn judge(seen: &Seen, poll_interval: Duration, now: Timestamp) -> Readiness {
    let mut ready = true;
    let mut lines = Vec::new();
    match &seen.store {
        Ok(()) => lines.push("store: answers".to_owned()),
        Err(why) => {
            ready = false;
            lines.push(format!("store: does not answer ({why}): the log says why"));
        }
    }
    if seen.lease_held {
        let limit = source_limit(poll_interval);
        let secs = |d: SignedDuration| d.as_secs().max(0);
        let last_failed = match (seen.source_failed, seen.source_reached) {
            (Some(f), Some(r)) => f > r,
            (Some(_), None) => true,
            (None, _) => false,
        };
        match seen.source_reached {
            Some(at) if now - at <= limit => {
                lines.push(format!("source: reached {} s ago", secs(now - at)));
            }
            // A long pass (a backlog's mail going out) polls nothing until
            // it ends; the source answered when it began.
            Some(at) if seen.busy && !last_failed => {
                lines.push(format!(
                    "source: reached {} s ago, before the pass now running",
                    secs(now - at)
                ));
            }
            Some(at) => {
                ready = false;
                let failed = match seen.source_failed.filter(|_| last_failed) {
                    Some(f) => format!("; the last attempt, {} s ago, failed", secs(now - f)),
                    None => String::new(),
                };
                lines.push(format!(
                    "source: not reached for {} s (more than {} s){failed}: the log says why",
                    secs(now - at),
                    secs(limit)
                ));
            }
            None => {
                ready = false;
                lines.push(format!(
                    "source: not reached since the start {} s ago: the log says why",
                    secs(now - seen.started)
                ));
            }
        }
        lines.push("ingest lease: held: this replica takes mail in".to_owned());
    } else {
        // Not a failure: a standby sends from the outbox and takes over
        // when the holder stops.
        lines.push(
            "ingest lease: held by another replica: this one sends from the outbox and stands by"
                .to_owned(),
        );
    }
    let mut text = String::from(if ready { "ready\n" } else { "not ready\n" });
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    Readiness { ready, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn seen(lease_held: bool, source_reached: Option<&str>) -> Seen {
        Seen {
            store: Ok(()),
            lease_held,
            source_reached: source_reached.map(at),
            source_failed: None,
            busy: false,
            started: at("2026-12-01T10:00:00Z"),
        }
    }

    const POLL: Duration = Duration::from_secs(60);

    #[test]
    fn the_holder_is_ready_while_the_source_answers_within_two_polls() {
        let now = at("2026-12-01T10:10:00Z");
        let fresh = judge(&seen(true, Some("2026-12-01T10:08:00Z")), POLL, now);
        assert!(fresh.ready, "{}", fresh.text);
        assert!(
            fresh.text.contains("source: reached 120 s ago"),
            "{}",
            fresh.text
        );
        let stale = judge(&seen(true, Some("2026-12-01T10:07:49Z")), POLL, now);
        assert!(!stale.ready, "{}", stale.text);
        assert!(
            stale
                .text
                .contains("not reached for 131 s (more than 130 s)"),
            "{}",
            stale.text
        );
        let never = judge(&seen(true, None), POLL, now);
        assert!(!never.ready);
        assert!(
            never.text.contains("not reached since the start 600 s ago"),
            "{}",
            never.text
        );
    }

    #[test]
    fn a_standby_is_ready_without_the_source_and_a_silent_store_is_not_ready() {
        let now = at("2026-12-01T10:10:00Z");
        let standby = judge(&seen(false, None), POLL, now);
        assert!(standby.ready, "{}", standby.text);
        assert!(standby.text.contains("held by another replica"));
        let mut broken = seen(false, None);
        broken.store = Err("an error".into());
        let r = judge(&broken, POLL, now);
        assert!(!r.ready);
        assert!(r.text.starts_with("not ready\n"), "{}", r.text);
        assert!(
            r.text.contains("store: does not answer (an error)"),
            "{}",
            r.text
        );
    }

    #[test]
    fn a_long_pass_stays_ready_unless_the_source_failed_last() {
        let now = at("2026-12-01T11:00:00Z");
        // Sending a backlog for an hour, after a good listing.
        let mut sending = seen(true, Some("2026-12-01T10:00:00Z"));
        sending.busy = true;
        let r = judge(&sending, POLL, now);
        assert!(r.ready, "{}", r.text);
        assert!(r.text.contains("before the pass now running"), "{}", r.text);
        // The pass began with a failed attempt: not ready.
        sending.source_failed = Some(at("2026-12-01T10:59:58Z"));
        let r = judge(&sending, POLL, now);
        assert!(!r.ready, "{}", r.text);
        assert!(
            r.text.contains("the last attempt, 2 s ago, failed"),
            "{}",
            r.text
        );
        // A failure followed by a success within the limit is no outage.
        let mut blip = seen(true, Some("2026-12-01T10:59:50Z"));
        blip.source_failed = Some(at("2026-12-01T10:59:40Z"));
        assert!(judge(&blip, POLL, now).ready);
    }
}
