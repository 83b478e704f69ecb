//! What `/metrics` shows: counters the loops move as mail goes through, and
//! gauges read from the store at each scrape. Every label value is a word of
//! a fixed set (an outcome, a verdict, a state, a mail kind), so no address,
//! subject or incident title can become a label, whatever the mail says.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use jiff::Timestamp;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::core::command_mail::{CommandVerdict, Refusal};
use crate::core::incident::State;
use crate::core::mail_kind::MailKind;
use crate::store::{Filing, Gauges, IntakeRecord, OutboxState};

/// The loops whose last good pass is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loop {
    /// Source → decisions → store (the holder of the ingest lease only).
    Intake,
    /// Deadlines and notices falling due (the lease holder only).
    Scheduler,
    /// Outbox → sink (every replica).
    Sender,
}

impl Loop {
    pub const ALL: [Loop; 3] = [Loop::Intake, Loop::Scheduler, Loop::Sender];

    pub fn as_str(self) -> &'static str {
        match self {
            Loop::Intake => "intake",
            Loop::Scheduler => "scheduler",
            Loop::Sender => "sender",
        }
    }
}

/// How a send went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The server will be tried again.
    Transient,
    /// The server refused it for good.
    Permanent,
    /// The embargo guard refused it before it was tried.
    Guard,
}

impl SendFailure {
    const ALL: [SendFailure; 3] = [
        SendFailure::Transient,
        SendFailure::Permanent,
        SendFailure::Guard,
    ];

    fn as_str(self) -> &'static str {
        match self {
            SendFailure::Transient => "transient",
            SendFailure::Permanent => "permanent",
            SendFailure::Guard => "guard",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabel {
    result: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabel {
    kind: &'static str,
    failure: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoopLabel {
    // `loop` is a keyword; the label is written `loop`.
    r#loop: &'static str,
}

type Seconds = Gauge<f64, AtomicU64>;

const OUTCOMES: [&str; 5] = ["opened", "joined", "duplicate", "bounce", "quarantined"];
const SIGNATURES: [&str; 7] = [
    "unsigned",
    "valid",
    "unproven",
    "bad",
    "unknown-key",
    "key-expired",
    "key-revoked",
];

/// What the intake last saw of its source.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceSeen {
    pub reached: Option<Timestamp>,
    pub failed: Option<Timestamp>,
}

/// The service's metrics. Counting is lock-free; a scrape reads the store
/// once and renders the text.
pub struct Metrics {
    registry: Registry,
    ingested: Family<OutcomeLabel, Counter>,
    deferred: Counter,
    signatures: Family<StatusLabel, Counter>,
    commands: Family<CommandLabel, Counter>,
    send_attempts: Family<KindLabel, Counter>,
    send_failures: Family<FailureLabel, Counter>,
    outbox: Family<StateLabel, Gauge>,
    oldest_due: Seconds,
    incidents: Family<StateLabel, Gauge>,
    since_pass: Family<LoopLabel, Seconds>,
    lease: Gauge,
    store_up: Gauge,
    started: Timestamp,
    passes: Mutex<HashMap<Loop, Timestamp>>,
    source: Mutex<SourceSeen>,
    /// Since when a pass of the lease holder runs (`None`: between passes).
    busy_since: Mutex<Option<Timestamp>>,
    /// One scrape at a time: a scrape clears and refills the store's
    /// gauges, which another scrape's encoding must not see half done.
    scraping: Mutex<()>,
}

impl Metrics {
    pub fn new(started: Timestamp) -> Metrics {
        let mut registry = Registry::with_prefix("embargo");
        let m = Metrics {
            ingested: Family::default(),
            deferred: Counter::default(),
            signatures: Family::default(),
            commands: Family::default(),
            send_attempts: Family::default(),
            send_failures: Family::default(),
            outbox: Family::default(),
            oldest_due: Seconds::default(),
            incidents: Family::default(),
            since_pass: Family::default(),
            lease: Gauge::default(),
            store_up: Gauge::default(),
            started,
            passes: Mutex::new(HashMap::new()),
            source: Mutex::new(SourceSeen::default()),
            busy_since: Mutex::new(None),
            scraping: Mutex::new(()),
            registry: Registry::default(),
        };
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register(
            "mails_ingested",
            "Mails taken in from the source and stored, by what became of them",
            m.ingested.clone(),
        );
        registry.register(
            "mails_deferred",
            "Mails that could not be read and were left in the source for the next pass \
             (a mail deferred at each pass counts at each)",
            m.deferred.clone(),
        );
        registry.register(
            "signatures",
            "OpenPGP verdicts on the mails taken in",
            m.signatures.clone(),
        );
        registry.register(
            "commands",
            "Mails carrying commands, applied or refused, by the refusal's reason",
            m.commands.clone(),
        );
        registry.register(
            "send_attempts",
            "Mails handed to the sink, by kind",
            m.send_attempts.clone(),
        );
        registry.register(
            "send_failures",
            "Mails not sent, by kind and failure (transient: retried; permanent: refused by the \
             server; guard: refused by the embargo guard)",
            m.send_failures.clone(),
        );
        registry.register(
            "outbox_mails",
            "Outbox mails by state, read from the store at the scrape",
            m.outbox.clone(),
        );
        registry.register(
            "outbox_oldest_due_age_seconds",
            "How long the oldest mail that is due has waited (0: none is due)",
            m.oldest_due.clone(),
        );
        registry.register(
            "incidents",
            "Incidents by state, read from the store at the scrape",
            m.incidents.clone(),
        );
        registry.register(
            "seconds_since_last_pass",
            "Seconds since each loop last finished a pass without error (since the start, when \
             none has); intake and scheduler run on the ingest lease holder only",
            m.since_pass.clone(),
        );
        registry.register(
            "ingest_lease_held",
            "1 when this replica holds the ingest lease (takes mail in), 0 on a standby",
            m.lease.clone(),
        );
        registry.register(
            "store_up",
            "1 when the store answered this scrape",
            m.store_up.clone(),
        );
        // Every series of a fixed set exists from the start, at 0: a
        // series born at 1 is no increase to Prometheus, and the first
        // failure of a kind would page nobody.
        for outcome in OUTCOMES {
            let _ = m.ingested.get_or_create(&OutcomeLabel { outcome });
        }
        for status in SIGNATURES {
            let _ = m.signatures.get_or_create(&StatusLabel { status });
        }
        let _ = m.commands.get_or_create(&CommandLabel {
            result: "applied",
            reason: "",
        });
        for why in Refusal::ALL {
            let _ = m.commands.get_or_create(&CommandLabel {
                result: "refused",
                reason: why.as_str(),
            });
        }
        for kind in MailKind::ALL {
            let _ = m.send_attempts.get_or_create(&KindLabel {
                kind: kind.as_str(),
            });
            for failure in SendFailure::ALL {
                let _ = m.send_failures.get_or_create(&FailureLabel {
                    kind: kind.as_str(),
                    failure: failure.as_str(),
                });
            }
        }
        Metrics { registry, ..m }
    }

    /// A record the store has committed.
    pub fn ingested(&self, record: &IntakeRecord) {
        let (outcome, mail, command) = match record {
            IntakeRecord::Duplicate { .. } => ("duplicate", None, None),
            IntakeRecord::Filed {
                mail,
                filing,
                command,
                ..
            } => match filing.as_ref() {
                Filing::Opened(_) => ("opened", Some(mail), *command),
                Filing::Joined { .. } => ("joined", Some(mail), *command),
            },
            IntakeRecord::Bounced { mail, .. } => ("bounce", Some(mail), None),
            IntakeRecord::Quarantined { .. } => ("quarantined", None, None),
        };
        self.ingested.get_or_create(&OutcomeLabel { outcome }).inc();
        if let Some(mail) = mail {
            self.signatures
                .get_or_create(&StatusLabel {
                    status: mail.signature.label(),
                })
                .inc();
        }
        if let Some(verdict) = command {
            let label = match verdict {
                CommandVerdict::Applied => CommandLabel {
                    result: "applied",
                    reason: "",
                },
                CommandVerdict::Refused(why) => CommandLabel {
                    result: "refused",
                    reason: why.as_str(),
                },
            };
            self.commands.get_or_create(&label).inc();
        }
    }

    /// Mails left in the source for the next pass.
    pub fn deferred(&self, mails: usize) {
        self.deferred.inc_by(mails as u64);
    }

    pub fn send_attempt(&self, kind: MailKind) {
        self.send_attempts
            .get_or_create(&KindLabel {
                kind: kind.as_str(),
            })
            .inc();
    }

    pub fn send_failed(&self, kind: MailKind, failure: SendFailure) {
        self.send_failures
            .get_or_create(&FailureLabel {
                kind: kind.as_str(),
                failure: failure.as_str(),
            })
            .inc();
    }

    pub fn pass_done(&self, which: Loop, at: Timestamp) {
        self.passes.lock().unwrap().insert(which, at);
    }

    /// The source answered: listed or read mail.
    pub fn source_reached(&self, at: Timestamp) {
        self.source.lock().unwrap().reached = Some(at);
    }

    /// The source could not be reached (or waits out a backoff).
    pub fn source_failed(&self, at: Timestamp) {
        self.source.lock().unwrap().failed = Some(at);
    }

    pub fn source_seen(&self) -> SourceSeen {
        *self.source.lock().unwrap()
    }

    /// A pass of the lease holder starts (`Some`) or ends (`None`).
    pub fn busy(&self, since: Option<Timestamp>) {
        *self.busy_since.lock().unwrap() = since;
    }

    pub fn is_busy(&self) -> bool {
        self.busy_since.lock().unwrap().is_some()
    }

    pub fn started(&self) -> Timestamp {
        self.started
    }

    /// Whether this replica holds the ingest lease. Taking it starts the
    /// intake's and the scheduler's clocks afresh: a standby never ran
    /// them, and that is no stall.
    pub fn lease_held(&self, held: bool, now: Timestamp) {
        let was = self.lease.set(i64::from(held)) == 1;
        if held && !was {
            let mut passes = self.passes.lock().unwrap();
            passes.insert(Loop::Intake, now);
            passes.insert(Loop::Scheduler, now);
        }
    }

    pub fn holds_lease(&self) -> bool {
        self.lease.get() == 1
    }

    /// The text of `/metrics`: the counters, and the store's gauges as read
    /// now (`None`: the store did not answer; those are left out, and the
    /// oldest due mail's age is NaN, unknown, rather than an old value).
    pub fn render(&self, gauges: Option<&Gauges>, now: Timestamp) -> String {
        let _one_at_a_time = self.scraping.lock().unwrap_or_else(|e| e.into_inner());
        self.store_up.set(i64::from(gauges.is_some()));
        match gauges {
            Some(g) => {
                for state in OutboxState::ALL {
                    let n = g
                        .outbox
                        .iter()
                        .find(|(s, _)| *s == state)
                        .map_or(0, |r| r.1);
                    self.outbox
                        .get_or_create(&StateLabel {
                            state: state.as_str(),
                        })
                        .set(n as i64);
                }
                for state in State::ALL {
                    let n = g
                        .incidents
                        .iter()
                        .find(|(s, _)| *s == state)
                        .map_or(0, |r| r.1);
                    self.incidents
                        .get_or_create(&StateLabel {
                            state: state.as_str(),
                        })
                        .set(n as i64);
                }
                let waited = g
                    .oldest_due
                    .map_or(0.0, |due| (now - due).as_secs_f64().max(0.0));
                self.oldest_due.set(waited);
            }
            None => {
                self.outbox.clear();
                self.incidents.clear();
                self.oldest_due.set(f64::NAN);
            }
        }
        let passes = self.passes.lock().unwrap().clone();
        for which in Loop::ALL {
            let last = passes.get(&which).copied().unwrap_or(self.started);
            self.since_pass
                .get_or_create(&LoopLabel {
                    r#loop: which.as_str(),
                })
                .set((now - last).as_secs_f64().max(0.0));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OutboxState;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_scrape_shows_the_store_gauges_and_the_age_of_each_loop() {
        let m = Metrics::new(at("2026-12-01T10:00:00Z"));
        m.pass_done(Loop::Sender, at("2026-12-01T10:04:00Z"));
        m.send_attempt(MailKind::Acknowledgement);
        m.send_failed(MailKind::AdvanceNotice, SendFailure::Guard);
        // Taken at 10:02: the intake's and the scheduler's clocks start then.
        m.lease_held(true, at("2026-12-01T10:02:00Z"));
        let gauges = Gauges {
            outbox: vec![(OutboxState::Pending, 2), (OutboxState::Sent, 7)],
            incidents: vec![(crate::core::incident::State::Reported, 3)],
            oldest_due: Some(at("2026-12-01T10:03:30Z")),
        };
        let text = m.render(Some(&gauges), at("2026-12-01T10:05:00Z"));
        for line in [
            "embargo_outbox_mails{state=\"pending\"} 2",
            "embargo_outbox_mails{state=\"sent\"} 7",
            "embargo_incidents{state=\"reported\"} 3",
            "embargo_outbox_oldest_due_age_seconds 90.0",
            "embargo_seconds_since_last_pass{loop=\"sender\"} 60.0",
            "embargo_seconds_since_last_pass{loop=\"intake\"} 180.0",
            // Every state, and every series of a fixed set, at 0 too: a
            // series born at 1 would be no increase to Prometheus.
            "embargo_outbox_mails{state=\"bounced\"} 0",
            "embargo_incidents{state=\"spam\"} 0",
            "embargo_send_failures_total{kind=\"announcement\",failure=\"permanent\"} 0",
            "embargo_commands_total{result=\"refused\",reason=\"replayed\"} 0",
            "embargo_mails_ingested_total{outcome=\"quarantined\"} 0",
            "embargo_signatures_total{status=\"key-revoked\"} 0",
            "embargo_send_attempts_total{kind=\"acknowledgement\"} 1",
            "embargo_send_failures_total{kind=\"advance-notice\",failure=\"guard\"} 1",
            "embargo_ingest_lease_held 1",
            "embargo_store_up 1",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        assert!(text.contains("embargo_build_info{version=\""), "{text}");

        // The store went away: its gauges go, the rest stays.
        let text = m.render(None, at("2026-12-01T10:06:00Z"));
        assert!(text.lines().any(|l| l == "embargo_store_up 0"), "{text}");
        assert!(!text.contains("embargo_outbox_mails{"), "{text}");
        assert!(
            text.lines()
                .any(|l| l == "embargo_outbox_oldest_due_age_seconds NaN"),
            "an old age is no answer:\n{text}"
        );
        assert!(text.contains("embargo_send_attempts_total"), "{text}");
    }

    #[test]
    fn a_standby_that_takes_the_lease_does_not_look_stalled() {
        let m = Metrics::new(at("2026-12-01T10:00:00Z"));
        m.lease_held(false, at("2026-12-01T10:00:00Z"));
        // An hour on standby, then the lease.
        m.lease_held(true, at("2026-12-01T11:00:00Z"));
        let text = m.render(None, at("2026-12-01T11:00:05Z"));
        for lp in ["intake", "scheduler"] {
            let line = format!("embargo_seconds_since_last_pass{{loop=\"{lp}\"}} 5.0");
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
        // Holding it on does not restart them.
        m.lease_held(true, at("2026-12-01T11:10:00Z"));
        let text = m.render(None, at("2026-12-01T11:10:00Z"));
        assert!(
            text.lines()
                .any(|l| l == "embargo_seconds_since_last_pass{loop=\"intake\"} 600.0"),
            "{text}"
        );
    }
}
