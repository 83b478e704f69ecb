//! The scheduler: what falls due with time rather than with mail. Each
//! open incident's missed deadlines become reminders, and each notice
//! whose time has come (drafts, distributor notices, the warning, the
//! announcement, the retrospective) is queued once.

use crate::core::deadline;
use crate::core::event::{Event, EventKind};
use crate::core::incident::Incident;
use crate::core::timeline::{self, Due};
use crate::notice::Undelivered;

use jiff::Timestamp;

use super::{ServiceError, Shared};

/// Incidents read at a time: thousands open after a backlog.
const PAGE: u32 = 500;

pub struct Scheduler {
    shared: Shared,
}

impl Scheduler {
    pub(super) fn new(shared: Shared) -> Self {
        Scheduler { shared }
    }

    /// Checks every open incident: the deadlines missed (a reminder for
    /// each) and the notices now due (drafts, distributor notices, the
    /// announcement, the retrospective draft), each queued once.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let now = self.shared.clock.now();
        let mut queued = 0;
        let mut after = None;
        loop {
            let page = self
                .shared
                .store
                .open_incidents_after(after.as_ref(), PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(queued);
            };
            after = Some(last.id.clone());
            for incident in page {
                queued += self.tick_one(incident, now).await?;
            }
        }
    }

    /// One incident's reminders and due notices; how many were queued.
    async fn tick_one(&self, incident: Incident, now: Timestamp) -> Result<usize, ServiceError> {
        let s = &self.shared.settings;
        let has_distributors = !s.distributors.is_empty();
        let mut queued = 0;
        {
            let composer = self.shared.composer();
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
                        let log = match self.shared.store.incident(&current.id).await? {
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
                self.shared
                    .store
                    .record_update(&current, &events, &outbox)
                    .await?;
                tracing::info!(incident = %current.id, events = events.len(), mails = outbox.len(), "tick");
            }
        }
        Ok(queued)
    }

    /// When something falls due that no mail will bring: a notice at its
    /// time, mail waiting in the outbox.
    pub async fn next_wake(&self) -> Result<Option<Timestamp>, ServiceError> {
        let now = self.shared.clock.now();
        let mut next = self.shared.store.next_due().await?;
        let mut after = None;
        loop {
            let page = self
                .shared
                .store
                .open_incidents_after(after.as_ref(), PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(next);
            };
            after = Some(last.id.clone());
            for incident in &page {
                next = next
                    .into_iter()
                    .chain(timeline::next_change(incident, now))
                    .min();
            }
        }
    }
}
