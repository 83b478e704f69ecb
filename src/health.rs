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
            lines.push(format!("store: does not answer: {why}"));
        }
    }
    if seen.lease_held {
        let limit = source_limit(poll_interval);
        let secs = |d: SignedDuration| d.as_secs().max(0);
        match seen.source_reached {
            Some(at) if now - at <= limit => {
                lines.push(format!("source: reached {} s ago", secs(now - at)));
            }
            Some(at) => {
                ready = false;
                lines.push(format!(
                    "source: not reached for {} s (more than {} s): the log says why",
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
        broken.store = Err("connection refused".into());
        let r = judge(&broken, POLL, now);
        assert!(!r.ready);
        assert!(r.text.starts_with("not ready\n"), "{}", r.text);
        assert!(
            r.text
                .contains("store: does not answer: connection refused")
        );
    }
}
