//! The intake: mail from the source, decided and stored a batch at a time.
//!
//! A batch is read (up to `limits.batch_mails` mails or `batch_mib` of
//! them), parsed and checked in parallel on the blocking pool, looked up
//! in the store with a few set queries, decided in memory in order of
//! arrival (so mail of one batch threads onto each other and incident
//! numbers follow one another), committed in one transaction, and only
//! then marked done at the source. A crash anywhere leaves every mail of
//! the batch either stored or still waiting.

use std::sync::Arc;

use jiff::Timestamp;

use crate::core::batch::{Batch, BatchQuery};
use crate::core::bounce;
use crate::core::event::{Event, EventKind};
use crate::core::inbound::Inbound;
use crate::core::incident::Change;
use crate::core::intake::{self, Decision, IntakePolicy, Reply};
use crate::core::mail_kind::MailKind;
use crate::core::timeline;
use crate::guard::catch_panic;
use crate::notice::Undelivered;
use crate::parse::{self, Unparsed};
use crate::source::{Delivered, Source};
use crate::store::{
    Filing, IngestLock, Intake as Record, IntakeRecord, NewMail, SourceRef, Store, StoreError,
};

use super::progress::{Progress, Quiet};
use super::{IngestReport, ServiceError, Shared, Shutdown, stopping};

fn address_ok(s: &str) -> bool {
    s.parse::<lettre::Address>().is_ok()
}

/// The store's view of one source's deliveries.
struct StoreDelivered<'a> {
    store: &'a dyn Store,
    source: String,
}

#[async_trait::async_trait]
impl Delivered for StoreDelivered<'_> {
    async fn among(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        self.store.delivered_among(&self.source, keys).await
    }

    async fn last_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        self.store.last_delivered(&self.source, prefix).await
    }
}

/// One mail read from the source, as parsed.
type Read = (String, Result<Inbound, Unparsed>);

/// The mails filed on a spam incident that its restoring reads back: the
/// first [`intake::HELD_RELAYS_MAX`] within the batch's byte budget, and how
/// many more there were.
#[derive(Default)]
struct Held {
    mails: Vec<Inbound>,
    left_out: usize,
}

impl Held {
    fn take(&mut self, mail: Inbound, budget: usize) {
        let bytes: usize = self.mails.iter().map(|m| m.raw.len()).sum();
        if self.mails.len() < intake::HELD_RELAYS_MAX && bytes + mail.raw.len() <= budget {
            self.mails.push(mail);
        } else {
            self.left_out += 1;
        }
    }
}

/// How a follow-up held on a spam incident reached it, as its relay says.
const HELD_VIA: &str =
    "filed while the report was marked as spam; relayed when /not-spam restored it";

pub struct Intake {
    shared: Shared,
    progress: Arc<dyn Progress>,
}

impl Intake {
    pub(super) fn new(shared: Shared) -> Self {
        Intake {
            shared,
            progress: Arc::new(Quiet),
        }
    }

    pub(super) fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Takes every waiting mail from `source`, a batch at a time.
    pub async fn run(
        &self,
        source: &mut dyn Source,
        stop: &Shutdown,
        lease: &mut IngestLock,
    ) -> Result<IngestReport, ServiceError> {
        let delivered = StoreDelivered {
            store: self.shared.store.as_ref(),
            source: source.name().to_owned(),
        };
        let keys = source.pending(&delivered).await?;
        if source.reached() {
            self.shared.metrics.source_reached(self.shared.clock.now());
        }
        self.progress.start(keys.len());
        let result = self.batches(source, keys, stop, lease).await;
        self.progress.finish();
        result
    }

    async fn batches(
        &self,
        source: &mut dyn Source,
        keys: Vec<String>,
        stop: &Shutdown,
        lease: &mut IngestLock,
    ) -> Result<IngestReport, ServiceError> {
        let limits = self.shared.settings.batch;
        let mut report = IngestReport::default();
        let mut next = 0;
        while next < keys.len() && !stopping(stop) {
            // A holder that lost the lease stops before reading more; one
            // that lost it during the batch is refused at the commit.
            if !lease.still_held().await {
                return Err(ServiceError::LeaseLost);
            }
            let wanted = &keys[next..keys.len().min(next + limits.mails)];
            // A prefix comes back: the byte budget may end the batch early.
            let read = source.read_batch(wanted, limits.bytes).await;
            let mut raws = Vec::with_capacity(read.len());
            let mut broken = false;
            for (key, result) in wanted.iter().zip(read) {
                match result {
                    Ok(raw) => raws.push((key.clone(), raw)),
                    Err(e) => {
                        // Once a read fails, the rest wait for the next pass
                        // (the source says so): a checkpoint never skips mail.
                        tracing::warn!(%key, error = %e, "could not read it; it and the mail after it wait for the next pass");
                        let left = keys.len() - next - raws.len();
                        report.seen += left;
                        report.deferred += left;
                        self.shared.metrics.deferred(left);
                        self.progress.advance(left);
                        broken = true;
                        break;
                    }
                }
            }
            let n = raws.len();
            next += n;
            if n > 0 {
                self.shared.metrics.source_reached(self.shared.clock.now());
                report.seen += n;
                self.batch(source, raws, &mut report).await?;
                self.progress.advance(n);
                super::give_back_freed_memory();
            }
            if broken || n == 0 {
                break;
            }
        }
        Ok(report)
    }

    /// Parses, decides and stores one batch, then marks it done.
    async fn batch(
        &self,
        source: &mut dyn Source,
        raws: Vec<(String, Vec<u8>)>,
        report: &mut IngestReport,
    ) -> Result<(), ServiceError> {
        let now = self.shared.clock.now();
        let read = self.parse_all(raws, now).await;
        let s = &self.shared.settings;
        let prefix = &s.list.incident_prefix;
        let mails: Vec<&Inbound> = read.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
        let unreadable: Vec<(String, String)> = read
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .map(|u| quarantine_identity(&u.raw))
            .collect();
        let query = BatchQuery::for_mails(&mails, &unreadable, prefix, now);
        let mut known = self.shared.store.batch(&query).await?;
        let name = source.name().to_owned();
        let mut records = Vec::with_capacity(read.len());
        for (key, parsed) in read {
            let source_ref = SourceRef {
                source: name.clone(),
                key,
            };
            let mut record = match parsed {
                Ok(mail) => self.file(mail, source_ref, &known, now),
                Err(unparsed) => self.quarantine(unparsed, source_ref, &known, now),
            };
            self.restore(&mut record, &records, now).await?;
            absorb(&mut known, &record, now);
            records.push(record);
        }
        match self.shared.store.record_batch(&records).await {
            Ok(()) => {
                for r in &records {
                    count(r, report, &self.shared.metrics);
                }
                // Progress within a long pass (a backlog) is progress.
                self.shared
                    .metrics
                    .pass_done(crate::metrics::Loop::Intake, self.shared.clock.now());
                let keys: Vec<String> = records.into_iter().map(|r| r.source.key).collect();
                mark_done(source, &keys).await;
                Ok(())
            }
            // Nothing was written: the mail stays in the source.
            Err(e) if e.is_transient() || e.is_fenced() => Err(e.into()),
            Err(e) => {
                // One mail the store refuses must not hold up the others:
                // one at a time, to find it and keep it aside.
                tracing::warn!(error = %e, "the store refused the batch; storing its mail one at a time");
                for r in records {
                    self.record_one(source, r, report, now).await?;
                }
                Ok(())
            }
        }
    }

    /// Stores one mail on its own; a mail the store refuses is kept aside.
    async fn record_one(
        &self,
        source: &mut dyn Source,
        record: Record,
        report: &mut IngestReport,
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let key = record.source.key.clone();
        match self.shared.store.record(&record).await {
            Ok(()) => count(&record, report, &self.shared.metrics),
            Err(e) if e.is_transient() || e.is_fenced() => return Err(e.into()),
            Err(e) => {
                let raw = match record.record {
                    IntakeRecord::Filed { mail, .. } => mail.raw,
                    IntakeRecord::Quarantined { raw, .. } => raw,
                    IntakeRecord::Bounced { mail, .. } => mail.raw,
                    IntakeRecord::Duplicate { .. } => return Err(e.into()),
                };
                let aside = self.quarantine(
                    Unparsed {
                        raw,
                        reason: format!("the store refused it: {e}"),
                    },
                    record.source,
                    &Batch::default(),
                    now,
                );
                if let Err(e2) = self.shared.store.record(&aside).await {
                    // Going on would store later mail past this one, and a
                    // source that checkpoints its highest key would skip it.
                    if !e2.is_fenced() {
                        tracing::error!(%key, error = %e, quarantine_error = %e2, "the store refused this mail and could not quarantine it either; it stays in the source");
                    }
                    return Err(e2.into());
                }
                tracing::error!(%key, error = %e, "the store refused this mail; its bytes are kept in quarantine");
                report.quarantined += 1;
                self.shared.metrics.ingested(&aside.record);
            }
        }
        mark_done(source, &[key]).await;
        Ok(())
    }

    /// Parses and checks every mail of a batch, in parallel on the
    /// blocking pool; the order is kept.
    async fn parse_all(&self, raws: Vec<(String, Vec<u8>)>, now: Timestamp) -> Vec<Read> {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(raws.len())
            .max(1);
        let per = raws.len().div_ceil(workers);
        let max = self.shared.settings.max_message_bytes;
        let mut chunks = Vec::new();
        let mut raws = raws.into_iter();
        loop {
            let chunk: Vec<(String, Vec<u8>)> = raws.by_ref().take(per).collect();
            if chunk.is_empty() {
                break;
            }
            let opener = self.shared.crypto.opener.clone();
            chunks.push(tokio::task::spawn_blocking(move || {
                let keys = parse::Keys {
                    opener: opener.as_ref(),
                    now,
                };
                chunk
                    .into_iter()
                    .map(|(key, raw)| (key, parse::parse(raw, max, Some(keys))))
                    .collect::<Vec<Read>>()
            }));
        }
        let mut read = Vec::new();
        for chunk in chunks {
            match chunk.await {
                Ok(done) => read.extend(done),
                // A panic outside the parser's own guard: those mails stay
                // in the source, unmarked, for the next pass.
                Err(e) => {
                    tracing::error!(error = %e, "parsing a batch failed (a bug); its mail waits")
                }
            }
        }
        read
    }

    /// The record one parsed mail makes, decided from what is known.
    fn file(&self, mail: Inbound, source: SourceRef, known: &Batch, now: Timestamp) -> Record {
        let span = tracing::info_span!("message", key = %source.key, message_id = %mail.message_id);
        let _enter = span.enter();
        let prefix = &self.shared.settings.list.incident_prefix;
        let ctx = known.context(&mail, prefix, now);
        let decided = match catch_panic(|| self.decide(&mail, &ctx, known, now)) {
            Ok(decided) => decided,
            Err(panic) => {
                tracing::error!(%panic, "embargo failed on this mail (a bug); it is to be kept in quarantine");
                let reason = format!("embargo failed on it ({panic}); please report this bug");
                return self.quarantine(
                    Unparsed {
                        raw: mail.raw,
                        reason,
                    },
                    source,
                    known,
                    now,
                );
            }
        };
        let record = match decided {
            None => IntakeRecord::Duplicate {
                message_id: mail.message_id,
                body_digest: mail.body_digest,
            },
            Some(Err(BounceFiling {
                reason,
                bounced,
                events,
                outbox,
            })) => IntakeRecord::Bounced {
                mail: Box::new(mail),
                reason,
                bounced,
                events,
                outbox,
            },
            Some(Ok(Filed {
                filing,
                events,
                outbox,
                auto_reply_to,
                lead_assigned,
                command,
            })) => IntakeRecord::Filed {
                mail: Box::new(mail),
                filing: Box::new(filing),
                events,
                outbox,
                auto_reply_to,
                lead_assigned,
                command,
            },
        };
        Record {
            source,
            received_at: now,
            record,
        }
    }

    /// The core's decision, with the mail it owes rendered; `None` for a duplicate.
    fn decide(
        &self,
        mail: &Inbound,
        ctx: &crate::core::intake::IntakeContext,
        known: &Batch,
        now: Timestamp,
    ) -> Option<Result<Filed, BounceFiling>> {
        let s = &self.shared.settings;
        let own = s.list.own_addresses();
        let announce: Vec<String> = s.announce.iter().map(|a| a.address.clone()).collect();
        let policy = intake_policy(s, &own, &announce);
        let decision = intake::decide(mail, ctx, &policy, now)
            .expect("the incident prefix was checked when the config was loaded");
        self.compose(decision, mail, known, now)
    }

    /// `/not-spam` restored an incident: the SRC copy of the report that
    /// opened it (and its acknowledgement, when owed) join the record. That
    /// mail is read back from the store and parsed by the one parser, as it
    /// was on arrival.
    async fn restore(
        &self,
        record: &mut Record,
        earlier: &[Record],
        now: Timestamp,
    ) -> Result<(), ServiceError> {
        let IntakeRecord::Filed {
            filing,
            events,
            outbox,
            auto_reply_to,
            ..
        } = &mut record.record
        else {
            return Ok(());
        };
        let Filing::Joined {
            incident: id,
            updated: Some(restored),
            ..
        } = filing.as_mut()
        else {
            return Ok(());
        };
        if !events
            .iter()
            .any(|e| e.changes.iter().any(|c| matches!(c, Change::NotSpam)))
        {
            return Ok(());
        }
        let budget = self.shared.settings.batch.bytes;
        // Opened earlier in this very batch: not stored yet, and parsed.
        let in_batch = earlier.iter().find_map(|r| match &r.record {
            IntakeRecord::Filed { mail, filing, .. } => match filing.as_ref() {
                Filing::Opened(inc) if inc.id == *id => Some(mail.as_ref().clone()),
                _ => None,
            },
            _ => None,
        });
        let (report, mut held) = match in_batch {
            Some(report) => (report, Held::default()),
            None => match self.stored_mails(id, budget, now).await? {
                Some(stored) => stored,
                None => return Ok(()),
            },
        };
        // Filed on it earlier in this batch, while it was still spam.
        for mail in earlier.iter().filter_map(|r| match &r.record {
            IntakeRecord::Filed { mail, filing, .. } => match filing.as_ref() {
                Filing::Joined { incident, .. } if incident == id => Some(mail),
                _ => None,
            },
            _ => None,
        }) {
            held.take(mail.as_ref().clone(), budget);
        }
        let s = &self.shared.settings;
        let own = s.list.own_addresses();
        let announce: Vec<String> = s.announce.iter().map(|a| a.address.clone()).collect();
        let policy = intake_policy(s, &own, &announce);
        let (owed_events, replies) = intake::restored_report(&report, restored, &policy, now);
        let composer = self.shared.composer();
        let mut build = |built: Result<Vec<NewMail>, crate::notice::NoticeError>| match built {
            Ok(mails) => outbox.extend(mails),
            Err(e) => {
                tracing::error!(incident = %id, error = %e, "could not build a mail; filing without it")
            }
        };
        for reply in &replies {
            build(match reply {
                Reply::SrcCopy { withheld } => {
                    composer.src_copy(restored, &report, withheld.as_ref(), now)
                }
                Reply::Acknowledgement { to } => {
                    *auto_reply_to = Some(to.key());
                    composer
                        .acknowledgement(restored, &report, to, now)
                        .map(|m| vec![m])
                }
                _ => Ok(Vec::new()),
            });
        }
        events.extend(owed_events);
        let decided = intake::held_mails(
            &held.mails,
            held.left_out,
            &report.message_id,
            restored,
            &policy,
            now,
        );
        // One verdict per held mail, in order, then the word on those left out.
        for (n, outcome) in decided.into_iter().enumerate() {
            if let Some(mail) = held.mails.get(n) {
                build(match &outcome.reply {
                    Some(Reply::Relay(relay)) => composer.relay(id, mail, HELD_VIA, relay, now),
                    Some(Reply::CannotDecrypt { reason }) => composer
                        .undecryptable(id, mail, reason, now)
                        .map(|m| vec![m]),
                    _ => Ok(Vec::new()),
                });
            }
            events.push(outcome.event);
        }
        Ok(())
    }

    /// The mail that opened incident `id`, and the others filed on it in
    /// the order they came (as many as [`Held::take`] takes within
    /// `budget` bytes), read back from the store and parsed again by the
    /// one parser on the blocking pool; `None` (logged) when the report
    /// cannot be. A later mail that cannot be read again is left out, and
    /// logged.
    async fn stored_mails(
        &self,
        id: &crate::core::incident_id::IncidentId,
        budget: usize,
        now: Timestamp,
    ) -> Result<Option<(Inbound, Held)>, ServiceError> {
        let store = self.shared.store.as_ref();
        let Some(stored) = store.incident(id).await? else {
            tracing::error!(incident = %id, "restored from spam, but it is not stored: no SRC copy");
            return Ok(None);
        };
        let opening = stored
            .events
            .iter()
            .find(|e| e.kind == EventKind::Reported)
            .and_then(|e| e.message_id.as_deref());
        let Some(message) = stored
            .messages
            .iter()
            .find(|m| Some(m.message_id.as_str()) == opening)
            .or(stored.messages.first())
        else {
            tracing::error!(incident = %id, "restored from spam, but its report is not stored: no SRC copy");
            return Ok(None);
        };
        let Some(raw) = store.raw_message(message.id).await? else {
            tracing::error!(incident = %id, "restored from spam, but its report's bytes are gone: no SRC copy");
            return Ok(None);
        };
        let mut raws = vec![(message.message_id.clone(), raw)];
        let mut held = Held::default();
        let mut bytes = 0;
        for later in stored.messages.iter().filter(|m| m.id != message.id) {
            let fits =
                raws.len() <= intake::HELD_RELAYS_MAX && bytes + later.size as usize <= budget;
            let raw = match fits {
                true => store.raw_message(later.id).await?,
                false => None,
            };
            match raw {
                Some(raw) => {
                    bytes += raw.len();
                    raws.push((later.message_id.clone(), raw));
                }
                None if fits => {
                    tracing::error!(incident = %id, message_id = %later.message_id, "restored from spam, but a mail filed on it has no bytes: not relayed")
                }
                None => held.left_out += 1,
            }
        }
        let opener = self.shared.crypto.opener.clone();
        let max = self.shared.settings.max_message_bytes;
        let parsed = tokio::task::spawn_blocking(move || {
            let keys = parse::Keys {
                opener: opener.as_ref(),
                now,
            };
            raws.into_iter()
                .map(|(message_id, raw)| (message_id, parse::parse(raw, max, Some(keys))))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(parsed) = parsed.inspect_err(|e| {
            tracing::error!(incident = %id, error = %e, "restored from spam, but reading its mail back failed (a bug): no SRC copy")
        }) else {
            return Ok(None);
        };
        let mut parsed = parsed.into_iter();
        let report = match parsed.next() {
            Some((_, Ok(report))) => report,
            Some((_, Err(e))) => {
                tracing::error!(incident = %id, reason = %e.reason, "restored from spam, but its report cannot be read again: no SRC copy");
                return Ok(None);
            }
            None => return Ok(None),
        };
        for (message_id, mail) in parsed {
            match mail {
                Ok(mail) => held.mails.push(mail),
                Err(e) => {
                    tracing::error!(incident = %id, %message_id, reason = %e.reason, "restored from spam, but a mail filed on it cannot be read again: not relayed")
                }
            }
        }
        Ok(Some((report, held)))
    }

    /// The mail a decision owes, rendered; `None` for a duplicate.
    fn compose(
        &self,
        decision: Decision,
        mail: &Inbound,
        known: &Batch,
        now: Timestamp,
    ) -> Option<Result<Filed, BounceFiling>> {
        let s = &self.shared.settings;
        let composer = self.shared.composer();
        let build = |built: Result<NewMail, crate::notice::NoticeError>,
                     outbox: &mut Vec<NewMail>| match built {
            Ok(m) => outbox.push(m),
            Err(e) => tracing::error!(error = %e, "could not build a mail; filing without it"),
        };
        match decision {
            Decision::Duplicate => None,
            Decision::Bounce { outcome, event } => {
                Some(Err(self.bounce(outcome, event, known, now)))
            }
            Decision::Join {
                incident,
                via,
                mut events,
                replies,
                mut updated,
                lead_assigned,
            } => {
                let mut outbox = Vec::new();
                let mut answered = 0;
                for reply in &replies {
                    match reply {
                        Reply::Reporter(answer) => {
                            answered += 1;
                            match composer.reporter_answer(&incident, mail, answered, answer, now) {
                                Ok(m) => outbox.push(m),
                                Err(e) => {
                                    // Nothing goes to the reporter, and no
                                    // copy says it went: the SRC hears why,
                                    // as of a mail that could not be delivered.
                                    tracing::error!(%incident, to = %answer.to.email, error = %e, "the answer to the reporter was not sent");
                                    let error = e.to_string();
                                    if let Some(i) =
                                        updated.as_ref().or_else(|| known.incidents.get(&incident))
                                    {
                                        build(
                                            composer.delivery_failure(
                                                i,
                                                &Undelivered {
                                                    key: &format!(
                                                        "{incident}/reporter-answer/{}/{answered}",
                                                        mail.message_id
                                                    ),
                                                    kind: MailKind::ReporterAnswer.as_str(),
                                                    to: &answer.to.email,
                                                    subject: &answer.title,
                                                    error: &error,
                                                    advice: Some(
                                                        "Nothing was sent to the reporter. Ask them for a key that can \
                                                         encrypt (embargo show shows the one held), or answer them \
                                                         another way; /reply again once they sent it.",
                                                    ),
                                                },
                                                now,
                                            ),
                                            &mut outbox,
                                        );
                                    }
                                    events.push(Event {
                                        at: now,
                                        kind: EventKind::DeliveryFailed,
                                        actor: crate::core::event::SERVICE_ACTOR.to_owned(),
                                        message_id: Some(mail.message_id.clone()),
                                        detail: format!("to {}: {error}", answer.to.email),
                                        changes: Vec::new(),
                                    });
                                    continue;
                                }
                            }
                            match composer
                                .reporter_answer_copy(&incident, mail, answered, answer, now)
                            {
                                Ok(copy) => outbox.extend(copy),
                                Err(e) => build(Err(e), &mut outbox),
                            }
                        }
                        Reply::CannotDecrypt { reason } => build(
                            composer.undecryptable(&incident, mail, reason, now),
                            &mut outbox,
                        ),
                        Reply::Command(answer) => build(
                            composer.command_reply(&incident, mail, answer, now),
                            &mut outbox,
                        ),
                        Reply::Relay(relay) => {
                            match composer.relay(&incident, mail, &via.to_string(), relay, now) {
                                Ok(copies) => outbox.extend(copies),
                                Err(e) => build(Err(e), &mut outbox),
                            }
                        }
                        // Owed once the report is read back: `restore`.
                        Reply::Acknowledgement { .. }
                        | Reply::SrcCopy { .. }
                        | Reply::RestoredReport => {}
                    }
                }
                // Ended before its announcement: the distributors hear that
                // the date they know will not happen, once, recorded on the
                // incident.
                if let Some(ended) = updated.as_mut().filter(|u| timeline::cancellation_owed(u))
                    && !s.distributors.is_empty()
                {
                    match composer.cancellations(ended, now) {
                        Ok((mails, failures)) => {
                            for f in failures {
                                tracing::error!(incident = %ended.id, failure = %f, "a distributor cannot get the cancellation");
                            }
                            let queued = Change::Queued {
                                key: timeline::CANCELLATION.to_owned(),
                            };
                            ended.apply(&queued, now);
                            events.push(Event {
                                at: now,
                                kind: EventKind::NoticeQueued,
                                actor: crate::core::event::SERVICE_ACTOR.to_owned(),
                                message_id: None,
                                detail: format!(
                                    "{} queued: {} mail(s)",
                                    timeline::CANCELLATION,
                                    mails.len()
                                ),
                                changes: vec![queued],
                            });
                            outbox.extend(mails);
                        }
                        Err(e) => build(Err(e), &mut outbox),
                    }
                }
                Some(Ok(Filed {
                    filing: Filing::Joined {
                        incident,
                        via: via.to_string(),
                        updated,
                    },
                    events,
                    outbox,
                    auto_reply_to: None,
                    lead_assigned,
                    command: replies.iter().find_map(|r| match r {
                        Reply::Command(answer) => Some(answer.verdict()),
                        _ => None,
                    }),
                }))
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
                        Reply::CannotDecrypt { .. }
                        | Reply::Command(_)
                        | Reply::Relay(_)
                        | Reply::Reporter(_)
                        | Reply::RestoredReport => {}
                    }
                }
                Some(Ok(Filed {
                    filing: Filing::Opened(incident),
                    events,
                    outbox,
                    auto_reply_to,
                    lead_assigned: None,
                    command: None,
                }))
            }
        }
    }

    /// A bounce: kept without an incident, the mail it bounced marked,
    /// and whom the core names told (the SRC list, or the roster members
    /// who can act when the list itself refused the mail).
    fn bounce(
        &self,
        outcome: bounce::Outcome,
        event: Option<(crate::core::incident_id::IncidentId, Event)>,
        known: &Batch,
        now: Timestamp,
    ) -> BounceFiling {
        let mut outbox = Vec::new();
        let (reason, bounced) = match outcome {
            bounce::Outcome::Bounced {
                mail: sent,
                by,
                words,
                tell,
                key,
            } => {
                tracing::warn!(outbox = sent.id, kind = %sent.kind, to = ?sent.recipients, %words, ?tell, "a mail the service sent bounced");
                if let Some(m) = self.tell_of_bounce(&sent, &words, tell, &key, known, now) {
                    outbox.push(m);
                }
                let how = match by {
                    bounce::MatchedBy::ReturnPath => "its return path",
                    bounce::MatchedBy::MessageId => "the Message-ID and recipient it returns",
                };
                (
                    format!(
                        "a bounce of outbox mail {} ({} to {}), matched by {how}: {words}",
                        sent.id,
                        sent.kind,
                        sent.recipients.join(", ")
                    ),
                    Some((sent.id, words)),
                )
            }
            bounce::Outcome::Noted {
                mail: sent, words, ..
            } => {
                tracing::info!(outbox = sent.id, %words, "a delivery report that is not a failure");
                (
                    format!(
                        "a delivery report on outbox mail {} ({} to {}), not a failure: {words}",
                        sent.id,
                        sent.kind,
                        sent.recipients.join(", ")
                    ),
                    None,
                )
            }
            bounce::Outcome::Unmatched { why } => {
                tracing::warn!(%why, "a bounce that names no mail the service sent; kept aside");
                (format!("a bounce not matched to any mail: {why}"), None)
            }
        };
        BounceFiling {
            reason,
            bounced,
            events: event.into_iter().collect(),
            outbox,
        }
    }

    /// The notice of a bounce, to whom the core said: the SRC list, or,
    /// when the list itself refused the mail, the roster members who can
    /// act, at their own addresses. `None` for nobody (or when it cannot
    /// be built, logged).
    fn tell_of_bounce(
        &self,
        sent: &bounce::SentMail,
        words: &str,
        tell: bounce::Tell,
        key: &str,
        known: &Batch,
        now: Timestamp,
    ) -> Option<NewMail> {
        let list = &self.shared.settings.list;
        let to = sent.recipients.join(", ");
        let error = format!("it bounced: {words}");
        let what = |advice| Undelivered {
            key,
            kind: sent.kind.as_str(),
            to: &to,
            subject: &sent.subject,
            error: &error,
            advice,
        };
        let composer = self.shared.composer();
        let built = match tell {
            bounce::Tell::Nobody => return None,
            bounce::Tell::Src => {
                let Some(i) = sent.incident.as_ref().and_then(|i| known.incidents.get(i)) else {
                    tracing::error!(
                        outbox = sent.id,
                        "a bounce to tell the SRC of, but its incident is not known"
                    );
                    return None;
                };
                if bounce::worth_telling(sent.kind) {
                    composer.delivery_failure(i, &what(None), now)
                } else {
                    // The core keys it by the addresses that did not get it.
                    let lost = key
                        .strip_prefix(&format!("insider/{}/", i.id))
                        .unwrap_or(&to)
                        .replace(',', ", ");
                    let advice = format!(
                        "{lost} is not receiving the mail of {id}: fix the address.\n\
                         On {id}: \"/team remove {lost}\", then \"/team add <the right address>\"\n\
                         (for an SRC member or the Fix Lead, the roster or \"/lead\").\n\
                         You hear of this once per incident and address.",
                        id = i.id
                    );
                    composer.delivery_failure(i, &what(Some(&advice)), now)
                }
            }
            bounce::Tell::Roster(who) => {
                let once = match &sent.incident {
                    Some(id) => format!("once for {id}"),
                    None => "once a week for mail of no incident".to_owned(),
                };
                let advice = format!(
                    "The SRC list {src} refused this mail: the committee did not get it,\n\
                     and this notice comes to you alone, as the list would refuse it too.\n\
                     Check the list: it must accept posts from {verp}\n\
                     (each mail's own return path) and from {security};\n\
                     see [outbox] verp in the config. You hear of this {once}.",
                    src = list.src_address,
                    verp = bounce::return_path(&list.security_address, Some("…")),
                    security = list.security_address,
                );
                composer.undelivered(sent.incident.as_ref(), who, &what(Some(&advice)), now)
            }
        };
        match built {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::error!(error = %e, "could not build the bounce notice");
                None
            }
        }
    }

    /// A mail that could not be read: kept with its bytes, the SRC told.
    fn quarantine(
        &self,
        unparsed: Unparsed,
        source: SourceRef,
        known: &Batch,
        now: Timestamp,
    ) -> Record {
        let Unparsed { mut raw, reason } = unparsed;
        let (message_id, digest) = quarantine_identity(&raw);
        if known.stored.contains(&(message_id.clone(), digest.clone())) {
            return Record {
                source,
                received_at: now,
                record: IntakeRecord::Duplicate {
                    message_id,
                    body_digest: digest,
                },
            };
        }
        let s = &self.shared.settings;
        let size = raw.len();
        let mut reason = reason;
        if size > s.max_message_bytes {
            // Too big for the store: keep the head, and the source keeps the whole.
            raw.truncate(s.max_message_bytes.min(1024 * 1024));
            reason = format!(
                "{reason}; the store keeps its first {} bytes, the source keeps the whole mail",
                raw.len()
            );
        }
        let outbox = match self.shared.composer().quarantine(
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
        Record {
            source,
            received_at: now,
            record: IntakeRecord::Quarantined {
                message_id,
                body_digest: digest,
                raw,
                reason,
                outbox,
            },
        }
    }
}

/// What the intake decision is told about the configuration.
fn intake_policy<'a>(
    s: &'a crate::config::Settings,
    own: &'a [String],
    announce: &'a [String],
) -> IntakePolicy<'a> {
    IntakePolicy {
        prefix: &s.list.incident_prefix,
        own_addresses: own,
        ack_window: s.ack_rate_limit,
        roster: &s.roster,
        address_ok,
        src_address: &s.list.src_address,
        slots: &s.schedule,
        max_signature_age: s.max_signature_age,
        announce,
        trusted_mta: s.trusted_authserv_id.as_deref().map(|authserv_id| {
            crate::core::sender_auth::Trusted {
                authserv_id,
                received_by_us: s.own_received_headers,
            }
        }),
        advisory: s.advisory.as_ref(),
        spam_headers: &s.spam_headers,
        verp: s.outbox.verp,
    }
}

/// What `file` decided for a bounce, before the mail moves into the record.
struct BounceFiling {
    reason: String,
    bounced: Option<(i64, String)>,
    events: Vec<(crate::core::incident_id::IncidentId, Event)>,
    outbox: Vec<NewMail>,
}

/// What `file` decided for a mail that is not a duplicate, before the
/// mail itself moves into the record.
struct Filed {
    filing: Filing,
    events: Vec<Event>,
    outbox: Vec<NewMail>,
    auto_reply_to: Option<String>,
    lead_assigned: Option<String>,
    command: Option<crate::core::command_mail::CommandVerdict>,
}

/// The Message-ID and digest a mail kept aside is stored under.
fn quarantine_identity(raw: &[u8]) -> (String, String) {
    let digest = parse::sha256_hex(&[raw]);
    (
        format!("{}@quarantine.embargo.invalid", &digest[..32]),
        digest,
    )
}

/// Keeps what is known current with a record the batch will store.
fn absorb(known: &mut Batch, record: &Record, now: Timestamp) {
    match &record.record {
        IntakeRecord::Duplicate { .. } => {}
        IntakeRecord::Quarantined {
            message_id,
            body_digest,
            ..
        } => known.stored(message_id, body_digest),
        IntakeRecord::Bounced { mail, bounced, .. } => {
            known.stored(&mail.message_id, &mail.body_digest);
            if let Some((id, _)) = bounced {
                known.bounced(*id);
            }
        }
        IntakeRecord::Filed {
            mail,
            filing,
            outbox,
            auto_reply_to,
            lead_assigned,
            ..
        } => {
            let (id, state) = match filing.as_ref() {
                Filing::Opened(inc) => (&inc.id, Some(inc)),
                Filing::Joined {
                    incident, updated, ..
                } => (incident, updated.as_ref()),
            };
            known.filed(mail, id, state);
            for m in outbox {
                if let Some(inc) = &m.incident {
                    known.link(&m.message_id, inc);
                }
            }
            if let Some(sender) = auto_reply_to {
                known.acknowledged(sender, now);
            }
            if let Some(lead) = lead_assigned {
                known.lead_assigned(lead);
            }
        }
    }
}

/// A stored record, in the pass's report, its log line and the metrics.
fn count(record: &Record, report: &mut IngestReport, metrics: &crate::metrics::Metrics) {
    metrics.ingested(&record.record);
    let span = tracing::info_span!("message", key = %record.source.key, message_id = tracing::field::Empty);
    match &record.record {
        IntakeRecord::Duplicate { message_id, .. } => {
            span.record("message_id", message_id.as_str());
            span.in_scope(|| tracing::info!("duplicate delivery of a stored mail"));
            report.duplicates += 1;
        }
        IntakeRecord::Filed { mail, filing, .. } => {
            span.record("message_id", mail.message_id.as_str());
            report.filed += 1;
            match filing.as_ref() {
                Filing::Opened(inc) => {
                    span.in_scope(|| tracing::info!(incident = %inc.id, "opened"));
                    report.opened.push(inc.id.clone());
                }
                Filing::Joined { incident, via, .. } => {
                    span.in_scope(|| tracing::info!(%incident, %via, "joined"))
                }
            }
        }
        IntakeRecord::Bounced { mail, reason, .. } => {
            span.record("message_id", mail.message_id.as_str());
            span.in_scope(|| tracing::info!(%reason, "a bounce, kept without an incident"));
            report.bounces += 1;
        }
        IntakeRecord::Quarantined { reason, .. } => {
            span.in_scope(|| tracing::warn!(%reason, "kept in quarantine"));
            report.quarantined += 1;
        }
    }
}

/// Marks stored mail done at the source; a failure is only logged: the
/// store knows the mail, so it is not taken in twice.
async fn mark_done(source: &mut dyn Source, keys: &[String]) {
    if let Err(e) = source.done(keys).await {
        tracing::warn!(error = %e, mails = keys.len(), "stored, but not marked in the source");
    }
}
