//! The loops: ingest from a source, send from the outbox, and `serve`,
//! which repeats both until asked to stop.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokio::sync::watch;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::Settings;
use crate::core::command::{self, Command};
use crate::core::deadline;
use crate::core::embargo_guard::{self, Audience};
use crate::core::event::Event;
use crate::core::event::EventKind;
use crate::core::inbound::Inbound;
use crate::core::incident::Incident;
use crate::core::incident_id::IncidentId;
use crate::core::intake::{self, Decision, IntakeContext, IntakePolicy, Reply};
use crate::core::mail_kind::MailKind;
use crate::core::threading::{self, Placement};
use crate::core::timeline::{self, Due};
use crate::crypto::Crypto;
use crate::guard::catch_panic;
use crate::notice::{Composer, Undelivered};
use crate::parse::{self, Unparsed};
use crate::sink::{Outgoing, Sink, SinkError};
use crate::source::{Delivered, Source};
use crate::store::{
    Filing, IngestLock, Intake, IntakeQuery, IntakeRecord, NewMail, SourceRef, Store, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
}

/// What one ingest pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestReport {
    pub seen: usize,
    pub filed: usize,
    pub opened: Vec<IncidentId>,
    pub duplicates: usize,
    pub quarantined: usize,
    /// Left in the source for the next pass (could not be read or stored).
    pub deferred: usize,
}

/// What `file` decided for a mail that is not a duplicate, before the
/// mail itself moves into the record.
struct Filed {
    filing: Filing,
    events: Vec<Event>,
    outbox: Vec<NewMail>,
    auto_reply_to: Option<String>,
    lead_assigned: Option<String>,
}

/// What one send pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SendReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Asked to stop: finish the message in hand, start no other.
pub type Shutdown = watch::Receiver<bool>;

pub fn stopping(s: &Shutdown) -> bool {
    *s.borrow()
}

/// A receiver that never says stop.
pub fn never_stop() -> Shutdown {
    let (tx, rx) = watch::channel(false);
    // Keep the sender alive for as long as the program runs.
    std::mem::forget(tx);
    rx
}

const SEND_BATCH: u32 = 50;

fn address_ok(s: &str) -> bool {
    s.parse::<lettre::Address>().is_ok()
}

/// `first` after the first attempt, doubling with each one after, never
/// more than an hour.
fn retry_delay(first: SignedDuration, attempts: u32) -> SignedDuration {
    let secs = first
        .as_secs()
        .max(1)
        .saturating_mul(1 << attempts.saturating_sub(1).min(12));
    SignedDuration::from_secs(secs.min(3600))
}

/// The store's view of one source's deliveries.
struct StoreDelivered<'a> {
    store: &'a dyn Store,
    source: String,
}

#[async_trait::async_trait]
impl Delivered for StoreDelivered<'_> {
    async fn all(&self) -> Result<HashSet<String>, StoreError> {
        self.store.delivered_keys(&self.source).await
    }

    async fn last_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        self.store.last_delivered(&self.source, prefix).await
    }
}

pub struct Service {
    settings: Arc<Settings>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    crypto: Crypto,
}

impl Service {
    pub fn new(
        settings: Arc<Settings>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        crypto: Crypto,
    ) -> Self {
        Service {
            settings,
            store,
            clock,
            crypto,
        }
    }

    fn composer(&self) -> Composer<'_> {
        Composer::new(&self.settings, self.crypto.sealer.as_ref())
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Takes every waiting message from `source`, one transaction each.
    pub async fn ingest(
        &self,
        source: &mut dyn Source,
        stop: &Shutdown,
    ) -> Result<IngestReport, ServiceError> {
        let delivered = StoreDelivered {
            store: self.store.as_ref(),
            source: source.name().to_owned(),
        };
        let keys = source.pending(&delivered).await?;
        let mut report = IngestReport::default();
        for key in keys {
            if stopping(stop) {
                break;
            }
            report.seen += 1;
            let span =
                tracing::info_span!("message", key = %key, message_id = tracing::field::Empty);
            self.ingest_one(source, &key, &mut report)
                .instrument(span)
                .await?;
        }
        Ok(report)
    }

    async fn ingest_one(
        &self,
        source: &mut dyn Source,
        key: &str,
        report: &mut IngestReport,
    ) -> Result<(), ServiceError> {
        let raw = match source.read(key).await {
            Ok(raw) => raw,
            Err(e) => {
                tracing::warn!(error = %e, "skipping for now");
                report.deferred += 1;
                return Ok(());
            }
        };
        let source_ref = SourceRef {
            source: source.name().to_owned(),
            key: key.to_owned(),
        };
        let now = self.clock.now();
        let keys = parse::Keys {
            opener: self.crypto.opener.as_ref(),
            now,
        };
        let intake = match parse::parse(raw, self.settings.max_message_bytes, Some(keys)) {
            Ok(mail) => {
                tracing::Span::current().record("message_id", mail.message_id.as_str());
                self.file(mail, source_ref, now).await?
            }
            Err(unparsed) => self.quarantine(unparsed, source_ref, now).await?,
        };
        match self.store.record(&intake).await {
            Ok(()) => {}
            Err(e) if e.is_transient() => return Err(e.into()),
            Err(e) => {
                // One mail the store refuses must not hold up the others:
                // keep its bytes aside and go on.
                tracing::error!(error = %e, "could not file this mail; keeping it in quarantine");
                let raw = match intake.record {
                    IntakeRecord::Filed { mail, .. } => mail.raw,
                    IntakeRecord::Quarantined { raw, .. } => raw,
                    IntakeRecord::Duplicate { .. } => return Err(e.into()),
                };
                let fallback = self
                    .quarantine(
                        Unparsed {
                            raw,
                            reason: format!("the store refused it: {e}"),
                        },
                        intake.source,
                        now,
                    )
                    .await?;
                if let Err(e2) = self.store.record(&fallback).await {
                    // Going on would store later mail past this one, and a
                    // source that checkpoints its highest key would skip it.
                    tracing::error!(error = %e2, "could not quarantine it either; it stays in the source");
                    return Err(e2.into());
                }
                report.quarantined += 1;
                self.mark_done(source, key).await;
                return Ok(());
            }
        }
        match &intake.record {
            IntakeRecord::Duplicate { .. } => {
                tracing::info!("duplicate delivery of a stored mail");
                report.duplicates += 1;
            }
            IntakeRecord::Filed { filing, .. } => {
                report.filed += 1;
                match filing.as_ref() {
                    Filing::Opened(inc) => {
                        tracing::info!(incident = %inc.id, "opened");
                        report.opened.push(inc.id.clone());
                    }
                    Filing::Joined { incident, via, .. } => {
                        tracing::info!(%incident, %via, "joined")
                    }
                }
            }
            IntakeRecord::Quarantined { reason, .. } => {
                tracing::warn!(%reason, "kept in quarantine");
                report.quarantined += 1;
            }
        }
        self.mark_done(source, key).await;
        Ok(())
    }

    async fn mark_done(&self, source: &mut dyn Source, key: &str) {
        if let Err(e) = source.done(key).await {
            tracing::warn!(error = %e, "stored, but not marked in the source");
        }
    }

    async fn file(
        &self,
        mail: Inbound,
        source: SourceRef,
        now: Timestamp,
    ) -> Result<Intake, ServiceError> {
        let s = &self.settings;
        let prefix = &s.list.incident_prefix;
        let (commands, _) = command::parse(mail.command_text(), prefix);
        let query = IntakeQuery {
            message_id: mail.message_id.clone(),
            body_digest: mail.body_digest.clone(),
            mentioned_ids: threading::mentioned_ids(&mail),
            tags: threading::mentioned_tags(&mail, prefix),
            sender: mail.from.as_ref().map(|m| m.key()),
            prefix: prefix.clone(),
            year: intake::year_of(now),
            signature_digests: mail
                .signature
                .made()
                .map(|m| m.digests().cloned().collect())
                .unwrap_or_default(),
            named_incidents: commands
                .iter()
                .filter_map(|c| match &c.command {
                    Command::Duplicate { of } => Some(of.clone()),
                    _ => None,
                })
                .collect(),
        };
        let mut ctx = self.store.intake_context(&query).await?;
        // The incident a reply joins, as it stands, for its commands.
        if let Placement::Join(target, _) = threading::place(&mail, prefix, &ctx.known) {
            ctx.target = self.store.incident_state(&target).await?;
        }
        let decided = match catch_panic(|| self.decide(&mail, &ctx, now)) {
            Ok(decided) => decided,
            Err(panic) => {
                tracing::error!(%panic, "embargo failed on this mail (a bug); keeping it in quarantine");
                let reason = format!("embargo failed on it ({panic}); please report this bug");
                return self
                    .quarantine(
                        Unparsed {
                            raw: mail.raw,
                            reason,
                        },
                        source,
                        now,
                    )
                    .await;
            }
        };
        let record = match decided {
            None => IntakeRecord::Duplicate {
                message_id: mail.message_id,
                body_digest: mail.body_digest,
            },
            Some(Filed {
                filing,
                events,
                outbox,
                auto_reply_to,
                lead_assigned,
            }) => IntakeRecord::Filed {
                mail: Box::new(mail),
                filing: Box::new(filing),
                events,
                outbox,
                auto_reply_to,
                lead_assigned,
            },
        };
        Ok(Intake {
            source,
            received_at: now,
            record,
        })
    }

    /// The core's decision, with the mail it owes rendered; `None` for a duplicate.
    fn decide(&self, mail: &Inbound, ctx: &IntakeContext, now: Timestamp) -> Option<Filed> {
        let s = &self.settings;
        let own = s.list.own_addresses();
        let policy = IntakePolicy {
            prefix: &s.list.incident_prefix,
            own_addresses: &own,
            ack_window: s.ack_rate_limit,
            roster: &s.roster,
            address_ok,
            src_address: &s.list.src_address,
            slots: &s.schedule,
            max_signature_age: s.max_signature_age,
        };
        let decision = intake::decide(mail, ctx, &policy, now)
            .expect("the incident prefix was checked when the config was loaded");
        let composer = self.composer();
        let build = |built: Result<NewMail, crate::notice::NoticeError>,
                     outbox: &mut Vec<NewMail>| match built {
            Ok(m) => outbox.push(m),
            Err(e) => tracing::error!(error = %e, "could not build a mail; filing without it"),
        };
        match decision {
            Decision::Duplicate => None,
            Decision::Join {
                incident,
                via,
                events,
                replies,
                updated,
                lead_assigned,
            } => {
                let mut outbox = Vec::new();
                for reply in &replies {
                    match reply {
                        Reply::CannotDecrypt { reason } => build(
                            composer.undecryptable(&incident, mail, reason, now),
                            &mut outbox,
                        ),
                        Reply::Command(answer) => build(
                            composer.command_reply(&incident, mail, answer, now),
                            &mut outbox,
                        ),
                        Reply::Acknowledgement { .. } | Reply::SrcCopy { .. } => {}
                    }
                }
                Some(Filed {
                    filing: Filing::Joined {
                        incident,
                        via: via.to_string(),
                        updated,
                    },
                    events,
                    outbox,
                    auto_reply_to: None,
                    lead_assigned,
                })
            }
            Decision::Open {
                incident,
                events,
                replies,
            } => {
                let mut outbox = Vec::new();
                let mut auto_reply_to = None;
                for reply in &replies {
                    match reply {
                        Reply::SrcCopy { withheld } => {
                            match composer.src_copy(&incident, mail, withheld.as_ref(), now) {
                                Ok(copies) => outbox.extend(copies),
                                Err(e) => build(Err(e), &mut outbox),
                            }
                        }
                        Reply::Acknowledgement { to } => {
                            auto_reply_to = Some(to.key());
                            build(
                                composer.acknowledgement(&incident, mail, to, now),
                                &mut outbox,
                            )
                        }
                        // A new report's SRC copy already says what could not be read.
                        Reply::CannotDecrypt { .. } | Reply::Command(_) => {}
                    }
                }
                Some(Filed {
                    filing: Filing::Opened(incident),
                    events,
                    outbox,
                    auto_reply_to,
                    lead_assigned: None,
                })
            }
        }
    }

    async fn quarantine(
        &self,
        unparsed: Unparsed,
        source: SourceRef,
        now: Timestamp,
    ) -> Result<Intake, ServiceError> {
        let Unparsed { mut raw, reason } = unparsed;
        let digest = parse::sha256_hex(&[&raw]);
        let message_id = format!("{}@quarantine.embargo.invalid", &digest[..32]);
        let ctx = self
            .store
            .intake_context(&IntakeQuery {
                message_id: message_id.clone(),
                body_digest: digest.clone(),
                mentioned_ids: Vec::new(),
                tags: Vec::new(),
                sender: None,
                prefix: self.settings.list.incident_prefix.clone(),
                year: intake::year_of(now),
                signature_digests: Vec::new(),
                named_incidents: Vec::new(),
            })
            .await?;
        if ctx.already_stored {
            return Ok(Intake {
                source,
                received_at: now,
                record: IntakeRecord::Duplicate {
                    message_id,
                    body_digest: digest,
                },
            });
        }
        let size = raw.len();
        let mut reason = reason;
        if size > self.settings.max_message_bytes {
            // Too big for the store: keep the head, and the source keeps the whole.
            raw.truncate(self.settings.max_message_bytes.min(1024 * 1024));
            reason = format!(
                "{reason}; the store keeps its first {} bytes, the source keeps the whole mail",
                raw.len()
            );
        }
        let outbox = match self.composer().quarantine(
            &format!("{} {}", source.source, source.key),
            &digest,
            size,
            &reason,
            now,
        ) {
            Ok(m) => vec![m],
            Err(e) => {
                tracing::error!(error = %e, "could not build the quarantine notice");
                Vec::new()
            }
        };
        Ok(Intake {
            source,
            received_at: now,
            record: IntakeRecord::Quarantined {
                message_id,
                body_digest: digest,
                raw,
                reason,
                outbox,
            },
        })
    }

    /// Sends every outbox mail that is due, after the embargo guard.
    pub async fn send_due(
        &self,
        sink: &dyn Sink,
        stop: &Shutdown,
    ) -> Result<SendReport, ServiceError> {
        let mut report = SendReport::default();
        let mut tried = HashSet::new();
        let s = &self.settings;
        let distributors: Vec<String> = s.distributors.iter().map(|d| d.email.clone()).collect();
        let announce: Vec<String> = s.announce.iter().map(|a| a.address.clone()).collect();
        // The longest one send may take.
        let send_budget = match &s.sink {
            crate::config::SinkSettings::Smtp(smtp) => {
                SignedDuration::try_from(smtp.timeout).unwrap_or(SignedDuration::MAX)
            }
            crate::config::SinkSettings::File { .. } => SignedDuration::ZERO,
        };
        let audience = Audience {
            src_address: &s.list.src_address,
            roster: &s.roster,
            distributors: &distributors,
            announce: &announce,
        };
        'claims: while !stopping(stop) {
            let now = self.clock.now();
            let batch = self
                .store
                .claim_due(now, s.outbox.lease, SEND_BATCH)
                .await?;
            // A mail claimed twice in one pass means the store handed back
            // one it could not mark: stop rather than spin.
            if batch.is_empty() || batch.iter().any(|m| !tried.insert(m.id)) {
                break;
            }
            if let Some(pause) = s.outbox.pause_after_claim {
                // Fault injection for the crash tests: a window between claim and send.
                tokio::time::sleep(pause).await;
            }
            let claimed_until = now + s.outbox.lease;
            let mut batch = batch.into_iter().enumerate();
            while let Some((nth, mail)) = batch.next() {
                // Once the claim might run out during the send, another
                // replica may claim the mail and send it too: give the
                // rest back instead.
                if self.clock.now() + send_budget >= claimed_until {
                    let left: Vec<i64> = std::iter::once(mail.id)
                        .chain(batch.by_ref().map(|(_, m)| m.id))
                        .collect();
                    tracing::warn!(
                        mails = left.len(),
                        "the claim would run out before these are sent; gave them back"
                    );
                    self.give_back(&left, claimed_until).await?;
                    // Claimed again at once, unless nothing could be sent
                    // under this claim: then the pass ends rather than spin.
                    if nth > 0 {
                        for id in &left {
                            tried.remove(id);
                        }
                    }
                    break;
                }
                let span = tracing::info_span!("send", id = mail.id, kind = %mail.kind, message_id = %mail.message_id);
                let _enter = span.enter();
                let incident = match &mail.incident {
                    Some(id) => self.store.incident_state(id).await?,
                    None => None,
                };
                if let Err(why) = embargo_guard::check(
                    mail.kind,
                    &mail.recipients,
                    incident.as_ref(),
                    &audience,
                    now,
                ) {
                    tracing::error!(%why, to = ?mail.recipients, "the embargo guard refused a mail");
                    self.store
                        .mark_failed(mail.id, &format!("refused by the embargo guard: {why}"))
                        .await?;
                    report.failed += 1;
                    if let Some(i) = &incident {
                        self.tell_src(
                            i,
                            EventKind::GuardRefused,
                            &why,
                            self.composer().guard_alert(i, &mail, &why, now),
                            now,
                        )
                        .await?;
                    }
                    continue;
                }
                let result = sink
                    .send(Outgoing {
                        from: &mail.from,
                        recipients: &mail.recipients,
                        bytes: &mail.bytes,
                    })
                    .await;
                let now = self.clock.now();
                match result {
                    Ok(transport_id) => {
                        self.store.mark_sent(mail.id, now, &transport_id).await?;
                        tracing::info!(to = ?mail.recipients, "sent");
                        report.sent += 1;
                    }
                    Err(SinkError::Transient(e)) => {
                        let next = now + retry_delay(s.outbox.retry, mail.attempts);
                        tracing::warn!(error = %e, retry_at = %next, "not sent; will retry");
                        self.store.mark_retry(mail.id, &e, next).await?;
                        report.retrying += 1;
                        // The way out is likely down for the rest too, and
                        // each could wait out the timeout while no mail is
                        // taken in: they go at the next pass instead.
                        let left: Vec<i64> = batch.by_ref().map(|(_, m)| m.id).collect();
                        self.give_back(&left, claimed_until).await?;
                        break 'claims;
                    }
                    Err(SinkError::Permanent(e)) => {
                        tracing::error!(error = %e, "not sent, and retrying will not help");
                        self.store.mark_failed(mail.id, &e).await?;
                        report.failed += 1;
                        // The SRC hears of it, unless what failed was telling them.
                        if let Some(i) = incident.as_ref().filter(|_| {
                            !matches!(mail.kind, MailKind::DeliveryFailure | MailKind::GuardAlert)
                        }) {
                            let alert = self.composer().delivery_failure(
                                i,
                                &Undelivered {
                                    key: &mail.id.to_string(),
                                    kind: mail.kind.as_str(),
                                    to: &mail.recipients.join(", "),
                                    subject: &mail.subject,
                                    error: &e,
                                },
                                now,
                            );
                            self.tell_src(
                                i,
                                EventKind::DeliveryFailed,
                                &format!("to {}: {e}", mail.recipients.join(", ")),
                                alert,
                                now,
                            )
                            .await?;
                        }
                    }
                }
            }
        }
        Ok(report)
    }

    /// Returns claimed mail unsent, due again at once.
    async fn give_back(&self, ids: &[i64], claimed_until: Timestamp) -> Result<(), ServiceError> {
        for id in ids {
            self.store.release(*id, claimed_until).await?;
        }
        Ok(())
    }

    /// Records a problem on the incident and queues the mail telling the SRC.
    async fn tell_src(
        &self,
        incident: &Incident,
        kind: EventKind,
        detail: &str,
        alert: Result<NewMail, crate::notice::NoticeError>,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let event = Event {
            at: now,
            kind,
            actor: crate::core::event::SERVICE_ACTOR.to_owned(),
            message_id: None,
            detail: detail.to_owned(),
            changes: Vec::new(),
        };
        let outbox = match alert {
            Ok(m) => vec![m],
            Err(e) => {
                tracing::error!(error = %e, "could not build the alert to the SRC");
                Vec::new()
            }
        };
        self.store
            .append(&incident.id, &[event], &outbox, now)
            .await?;
        Ok(())
    }

    /// Checks every open incident: the deadlines missed (a reminder for
    /// each) and the notices now due (drafts, distributor notices, the
    /// announcement, the retrospective draft), each queued once.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let s = &self.settings;
        let has_distributors = !s.distributors.is_empty();
        let mut queued = 0;
        for incident in self.store.open_incidents().await? {
            let composer = self.composer();
            let mut current = incident.clone();
            let mut events = Vec::new();
            let mut outbox = Vec::new();
            if let Some(o) = deadline::tick(&current, &s.list.src_address, now) {
                for r in &o.reminders {
                    match composer.reminder(&o.incident, r, now) {
                        Ok(m) => outbox.push(m),
                        Err(e) => {
                            tracing::error!(incident = %incident.id, error = %e, "could not build a reminder")
                        }
                    }
                }
                events.extend(o.events);
                current = o.incident;
            }
            for due in timeline::due(&current, has_distributors, now) {
                let built = match &due {
                    Due::Drafts { kinds } => composer
                        .drafts(&current, kinds, now)
                        .map(|m| (m, Vec::new())),
                    Due::Advance => composer.advance_notices(&current, now),
                    Due::DateChange { to } => composer.date_changes(&current, *to, now),
                    Due::Warning => composer.warnings(&current, now),
                    Due::Announcement => composer.announcements(&current, now),
                    Due::Retrospective => {
                        let log = match self.store.incident(&current.id).await? {
                            Some(record) => record.events,
                            None => Vec::new(),
                        };
                        composer
                            .retrospective(&current, &log, now)
                            .map(|m| (vec![m], Vec::new()))
                    }
                };
                let (mails, failures) = match built {
                    Ok(built) => built,
                    Err(e) => {
                        // Not recorded as queued: the next tick tries again.
                        tracing::error!(incident = %current.id, key = %due.key(&current), error = %e, "could not build a notice");
                        continue;
                    }
                };
                for failure in &failures {
                    tracing::error!(incident = %current.id, %failure, "a distributor cannot get this notice");
                    let key = format!("{}/{}", current.id, due.key(&current));
                    let alert = composer.delivery_failure(
                        &current,
                        &Undelivered {
                            key: &key,
                            kind: "notice",
                            to: "a distributor",
                            subject: &due.key(&current),
                            error: failure,
                        },
                        now,
                    );
                    if let Ok(m) = alert {
                        outbox.push(m);
                    }
                    events.push(Event {
                        at: now,
                        kind: EventKind::DeliveryFailed,
                        actor: crate::core::event::SERVICE_ACTOR.to_owned(),
                        message_id: None,
                        detail: failure.clone(),
                        changes: Vec::new(),
                    });
                }
                let recipients: usize = mails.iter().map(|m| m.recipients.len()).sum();
                let changes = timeline::queued(&current, &due);
                for c in &changes {
                    current.apply(c, now);
                }
                events.push(Event {
                    at: now,
                    kind: EventKind::NoticeQueued,
                    actor: crate::core::event::SERVICE_ACTOR.to_owned(),
                    message_id: None,
                    detail: format!(
                        "{} queued: {} mail(s) to {recipients} recipient(s)",
                        due.key(&incident),
                        mails.len()
                    ),
                    changes,
                });
                outbox.extend(mails);
                queued += 1;
            }
            if !events.is_empty() {
                self.store.record_update(&current, &events, &outbox).await?;
                tracing::info!(incident = %current.id, events = events.len(), mails = outbox.len(), "tick");
            }
        }
        Ok(queued)
    }

    /// When something falls due that no mail will bring: a notice at its
    /// time, mail waiting in the outbox.
    pub async fn next_wake(&self) -> Result<Option<Timestamp>, ServiceError> {
        let now = self.clock.now();
        let mut next = self.store.next_due().await?;
        for incident in self.store.open_incidents().await? {
            next = next
                .into_iter()
                .chain(timeline::next_change(&incident, now))
                .min();
        }
        Ok(next)
    }

    /// How long the holder of the ingest lease waits for mail: `interval`,
    /// or less when something falls due sooner (at least a second, so that
    /// mail the pass could not send does not make it spin).
    async fn wait_for_mail(&self, interval: std::time::Duration) -> std::time::Duration {
        let until = match self.next_wake().await {
            Ok(Some(at)) => at - self.clock.now(),
            Ok(None) => return interval,
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell when the next notice is due");
                return interval;
            }
        };
        std::time::Duration::try_from(until)
            .unwrap_or_default()
            .clamp(
                std::time::Duration::from_secs(1),
                interval.max(std::time::Duration::from_secs(1)),
            )
    }

    /// One pass of each: what `run --once` does.
    pub async fn run_once(
        &self,
        source: &mut dyn Source,
        sink: &dyn Sink,
        stop: &Shutdown,
    ) -> Result<(IngestReport, SendReport), ServiceError> {
        // A mailbox that cannot be read must not hold up the notices due.
        let ingested = self.ingest(source, stop).await;
        self.tick().await?;
        let sent = self.send_due(sink, stop).await?;
        Ok((ingested?, sent))
    }

    /// Passes every `interval` until `stop` says so. Errors are logged and
    /// the next pass tries again: a database that is briefly away must not
    /// end the service.
    ///
    /// Replicas on one database share the work this way: the one holding
    /// the ingest lease takes mail in and moves incidents on (their
    /// timelines are read and written by one process only, so no update is
    /// lost); every replica sends from the outbox, whose claims are
    /// exclusive. The others try for the lease every few seconds and take
    /// over when its holder dies.
    pub async fn serve(
        &self,
        source: &mut dyn Source,
        sink: &dyn Sink,
        interval: std::time::Duration,
        mut stop: Shutdown,
    ) {
        tracing::info!(source = source.name(), every = ?interval, "serving");
        let mut lease: Option<IngestLock> = None;
        let mut standby_told = false;
        while !stopping(&stop) {
            if let Some(held) = lease.as_mut()
                && !held.still_held().await
            {
                tracing::error!(
                    "lost the ingest lease (the database connection holding it is gone); \
                     stopped taking mail in until it is taken again"
                );
                lease = None;
                source.close().await;
            }
            if lease.is_none() {
                match self.store.lock_ingest().await {
                    Ok(held) => {
                        tracing::info!("took the ingest lease: this replica takes mail in");
                        lease = Some(held);
                        standby_told = false;
                    }
                    Err(StoreError::Busy(what)) => {
                        if !standby_told {
                            tracing::info!(
                                lock = %what,
                                "another replica holds the ingest lease: this one sends from \
                                 the outbox and takes over if that one stops"
                            );
                            standby_told = true;
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot take the ingest lease"),
                }
            }
            let pass = match lease {
                Some(_) => self.run_once(source, sink, &stop).await,
                None => self
                    .send_due(sink, &stop)
                    .await
                    .map(|s| (IngestReport::default(), s)),
            };
            match pass {
                Ok((i, s)) if i.seen + s.sent + s.retrying + s.failed > 0 => {
                    tracing::info!(
                        filed = i.filed,
                        opened = i.opened.len(),
                        duplicates = i.duplicates,
                        quarantined = i.quarantined,
                        sent = s.sent,
                        "pass done"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "pass failed; trying again at the next one"),
            }
            if lease.is_some() {
                let wait = self.wait_for_mail(interval).await;
                tokio::select! {
                    _ = source.wait(wait) => {}
                    _ = stop.changed() => {}
                }
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(interval.min(STANDBY_RETRY)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        source.close().await;
        tracing::info!("stopped");
    }
}

/// How often a replica without the ingest lease tries for it (and sends
/// what is due): well inside the 30 s a takeover may take.
const STANDBY_RETRY: std::time::Duration = std::time::Duration::from_secs(3);
