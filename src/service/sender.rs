//! The sender: mail due in the outbox, through the embargo guard, to the
//! sink. Claims are leases in the store, so replicas sharing it send each
//! mail once; a sender gives back what it could not send in time.

use std::collections::HashSet;

use jiff::{SignedDuration, Timestamp};

use crate::core::embargo_guard::{self, Audience};
use crate::core::event::{Event, EventKind};
use crate::core::incident::Incident;
use crate::core::mail_kind::MailKind;
use crate::metrics::SendFailure;
use crate::notice::Undelivered;
use crate::sink::{Outgoing, Sink, SinkError};
use crate::store::NewMail;

use super::{SendReport, ServiceError, Shared, Shutdown, stopping};

const SEND_BATCH: u32 = 50;

/// `first` after the first attempt, doubling with each one after, never
/// more than an hour.
fn retry_delay(first: SignedDuration, attempts: u32) -> SignedDuration {
    let secs = first
        .as_secs()
        .max(1)
        .saturating_mul(1 << attempts.saturating_sub(1).min(12));
    SignedDuration::from_secs(secs.min(3600))
}

pub struct Sender {
    shared: Shared,
}

impl Sender {
    pub(super) fn new(shared: Shared) -> Self {
        Sender { shared }
    }

    /// Sends every outbox mail that is due, after the embargo guard.
    pub async fn send_due(
        &self,
        sink: &dyn Sink,
        stop: &Shutdown,
    ) -> Result<SendReport, ServiceError> {
        let mut report = SendReport::default();
        let mut tried = HashSet::new();
        let s = &self.shared.settings;
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
            schedule: &s.schedule,
        };
        let mut claims = 0u32;
        'claims: while !stopping(stop) {
            // Every few claims: trimming costs a walk of the free lists.
            claims += 1;
            if claims.is_multiple_of(10) {
                super::give_back_freed_memory();
            }
            let now = self.shared.clock.now();
            let batch = self
                .shared
                .store
                .claim_due(now, s.outbox.lease, SEND_BATCH)
                .await?;
            // Each claim is progress: a backlog's sending is one long pass.
            self.shared
                .metrics
                .pass_done(crate::metrics::Loop::Sender, now);
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
                if self.shared.clock.now() + send_budget >= claimed_until {
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
                // An incident whose row cannot be read holds only its own
                // mail: the SRC still hears that it is broken.
                let (incident, unreadable) = match &mail.incident {
                    Some(id) => match self.shared.store.incident_state(id).await {
                        Ok(i) => (i, None),
                        Err(e) if e.is_transient() => return Err(e.into()),
                        Err(e) => (None, Some((id, e))),
                    },
                    None => (None, None),
                };
                let verdict = embargo_guard::check(
                    mail.kind,
                    &mail.recipients,
                    incident.as_ref(),
                    &audience,
                    now,
                );
                if let (Err(_), Some((id, e))) = (&verdict, &unreadable) {
                    // Not refused for good: the mail waits for the repair
                    // (the scheduler has told the SRC list that it is broken).
                    let why =
                        format!("{id} cannot be read ({e}): its mail waits until it is repaired");
                    // Soon, not backing off: it should go once repaired.
                    let next = now + s.outbox.retry;
                    tracing::error!(%why, retry_at = %next, "not sent");
                    self.shared.store.mark_retry(mail.id, &why, next).await?;
                    report.retrying += 1;
                    continue;
                }
                if let Err(why) = verdict {
                    tracing::error!(%why, to = ?mail.recipients, "the embargo guard refused a mail");
                    self.shared
                        .store
                        .mark_failed(mail.id, &format!("refused by the embargo guard: {why}"))
                        .await?;
                    self.shared
                        .metrics
                        .send_failed(mail.kind, SendFailure::Guard);
                    report.failed += 1;
                    if let Some(i) = &incident {
                        self.tell_src(
                            i,
                            EventKind::GuardRefused,
                            &why,
                            self.shared.composer().guard_alert(i, &mail, &why, now),
                            now,
                        )
                        .await?;
                    }
                    continue;
                }
                // Its own return path: a bounce comes back naming it. The
                // envelope sender is never empty (that marks a bounce).
                let return_path = crate::core::bounce::return_path(
                    &mail.from,
                    mail.bounce_token.as_deref().filter(|_| s.outbox.verp),
                );
                self.shared.metrics.send_attempt(mail.kind);
                let result = sink
                    .send(Outgoing {
                        from: &return_path,
                        recipients: &mail.recipients,
                        bytes: &mail.bytes,
                    })
                    .await;
                let now = self.shared.clock.now();
                match result {
                    Ok(transport_id) => {
                        self.shared
                            .store
                            .mark_sent(mail.id, now, &transport_id)
                            .await?;
                        tracing::info!(to = ?mail.recipients, "sent");
                        report.sent += 1;
                    }
                    Err(SinkError::Transient(e)) => {
                        let next = now + retry_delay(s.outbox.retry, mail.attempts);
                        tracing::warn!(error = %e, retry_at = %next, "not sent; will retry");
                        self.shared.store.mark_retry(mail.id, &e, next).await?;
                        self.shared
                            .metrics
                            .send_failed(mail.kind, SendFailure::Transient);
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
                        self.shared.store.mark_failed(mail.id, &e).await?;
                        self.shared
                            .metrics
                            .send_failed(mail.kind, SendFailure::Permanent);
                        report.failed += 1;
                        // The SRC hears of it, unless what failed was telling them.
                        if let Some(i) = incident.as_ref().filter(|_| {
                            !matches!(
                                mail.kind,
                                MailKind::DeliveryFailure | MailKind::GuardAlert | MailKind::Alert
                            )
                        }) {
                            let alert = self.shared.composer().delivery_failure(
                                i,
                                &Undelivered {
                                    key: &mail.id.to_string(),
                                    kind: mail.kind.as_str(),
                                    to: &mail.recipients.join(", "),
                                    subject: &mail.subject,
                                    error: &e,
                                    advice: None,
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
            self.shared.store.release(*id, claimed_until).await?;
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
        self.shared
            .store
            .append(&incident.id, &[event], &outbox, now)
            .await?;
        Ok(())
    }
}
