//! The scheduler: what falls due with time rather than with mail. Each
//! open incident's missed deadlines become reminders, and each notice
//! whose time has come (drafts, distributor notices, the warning, the
//! announcement, the retrospective) is queued once.

use crate::core::event::{Event, EventKind};
use crate::core::incident::Incident;
use crate::core::incident_id::IncidentId;
use crate::core::notice_kind::NoticeKind;
use crate::core::timeline::{self, Due};
use crate::core::{deadline, digest};
use crate::notice::{Alert, Undelivered};

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
    ///
    /// One incident that cannot be read or moved on is logged and alerted,
    /// and the others go on: its failure must not hold up their notices.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let now = self.shared.clock.now();
        let mut queued = 0;
        let mut after = None;
        // What the weekly digest tells: reports nobody triaged, and spam;
        // nothing to sum up once this week's went out.
        let mut tally = Some(digest::Tally::new(now));
        if let Some(t) = &tally
            && self.shared.store.outbox_has(&t.key()).await?
        {
            tally = None;
        }
        loop {
            let page = self
                .shared
                .store
                .open_incidents_after(after.as_ref(), PAGE)
                .await?;
            let Some(last) = page.last else {
                if let Some(tally) = tally {
                    queued += self.digest(tally, now).await?;
                }
                return Ok(queued);
            };
            if let Some(tally) = &mut tally {
                for i in &page.incidents {
                    tally.add(i);
                }
            }
            after = Some(last);
            for (id, error) in page.unreadable {
                self.stuck(&id, None, &error.to_string(), now).await;
            }
            for incident in page.incidents {
                match self.tick_one(&incident, now).await {
                    Ok(n) => queued += n,
                    // A database that is away is everyone's problem: the pass ends.
                    Err(ServiceError::Store(e)) if e.is_transient() => return Err(e.into()),
                    // Another replica moves incidents on now.
                    Err(e) if e.lost_lease() => return Err(e),
                    Err(e) => {
                        self.stuck(&incident.id, Some(&incident), &e.to_string(), now)
                            .await
                    }
                }
            }
        }
    }

    /// The weekly digest to the SRC, once per ISO week (its outbox key
    /// holds the week), and only when there is something to tell.
    async fn digest(&self, tally: digest::Tally, now: Timestamp) -> Result<usize, ServiceError> {
        let Some(due) = tally.finish() else {
            return Ok(0);
        };
        let store = &self.shared.store;
        if store.outbox_has(&due.key()).await? {
            return Ok(0);
        }
        match self.shared.composer().digest(&due, now) {
            Ok(mail) => {
                store.enqueue(&[mail], now).await?;
                tracing::info!(week = %due.week, untriaged = due.untriaged.len(), spam = due.spam, "weekly digest queued");
                Ok(1)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not build the weekly digest; the next pass tries again");
                Ok(0)
            }
        }
    }

    /// Logs that an incident cannot be moved on and tells the people who
    /// can look, once for each distinct error.
    async fn stuck(
        &self,
        id: &IncidentId,
        incident: Option<&Incident>,
        error: &str,
        now: Timestamp,
    ) {
        tracing::error!(incident = %id, %error, "cannot move this incident on; the others go on");
        let text = format!(
            "embargo cannot move {id} on: no reminder or notice of it goes out until this is fixed.\n\n\
             The error: {error}\n\n\
             Other incidents are not affected. Fix what the error names (a key that cannot be\n\
             used, say; or the incident's row, if the database was changed by hand or a newer\n\
             embargo wrote to it); every pass tries again, and this alert is not repeated."
        );
        let alert = Alert {
            key: format!(
                "stuck-{}",
                &crate::parse::sha256_hex(&[error.as_bytes()])[..16]
            ),
            subject: "cannot be moved on".to_owned(),
            text,
        };
        let queued = match self.shared.composer().alert(id, incident, &alert, now) {
            Ok(mail) => self
                .shared
                .store
                .append(id, &[], &[mail], now)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = queued {
            tracing::error!(incident = %id, error = %e, "could not queue the alert either");
        }
    }

    /// One incident's reminders and due notices; how many were queued.
    async fn tick_one(&self, incident: &Incident, now: Timestamp) -> Result<usize, ServiceError> {
        let s = &self.shared.settings;
        let rules = timeline::Rules {
            distributors: !s.distributors.is_empty(),
            slots: &s.schedule,
        };
        let mut queued = 0;
        let mut unbuilt = None;
        {
            let composer = self.shared.composer();
            let mut current = incident.clone();
            let mut events = Vec::new();
            let mut outbox = Vec::new();
            if let Some(o) = deadline::tick_capped(
                &current,
                &s.list.src_address,
                s.untriaged_reminders_max,
                now,
            ) {
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
            // The event log, read once and only when a notice needs it:
            // the advisories' revision history comes from it.
            let mut stored: Option<Vec<Event>> = None;
            for due in timeline::due(&current, &rules, now) {
                let key = due.key(&current);
                let carries_advisories = s.advisory.is_some()
                    && matches!(
                        due,
                        Due::Drafts { .. } | Due::Advance | Due::Correction | Due::Announcement
                    );
                let log: Vec<Event> = if carries_advisories {
                    if stored.is_none() {
                        // The log only dates the CSAF's revisions: a row
                        // that cannot be read costs that history, never
                        // the notice.
                        stored = Some(match self.shared.store.incident(&current.id).await {
                            Ok(Some(record)) => record.events,
                            Ok(None) => Vec::new(),
                            Err(e) if e.is_transient() => return Err(e.into()),
                            Err(e) => {
                                tracing::error!(incident = %current.id, error = %e, "cannot read the event log: the advisories go without their revision history");
                                Vec::new()
                            }
                        });
                    }
                    // With what this pass did so far (a correction follows
                    // the advance notice it corrects).
                    stored.iter().flatten().chain(&events).cloned().collect()
                } else {
                    Vec::new()
                };
                let built = match &due {
                    Due::Drafts { kinds } => composer
                        .drafts(&current, &log, kinds, now)
                        .map(|m| (m, Vec::new())),
                    Due::Advance => composer.advance_notices(&current, &log, now),
                    Due::DateChange { from, to, seq } => {
                        composer.date_changes(&current, &key, *from, *to, *seq, now)
                    }
                    Due::Warning => composer.warnings(&current, &key, now),
                    Due::Correction => composer.corrections(&current, &log, &key, now),
                    Due::Held(hold) => {
                        tracing::warn!(incident = %current.id, notice = hold.notice.as_str(), why = %hold.why, "held");
                        composer
                            .alert(
                                &current.id,
                                Some(&current),
                                &held_alert(&key, hold, now),
                                now,
                            )
                            .map(|m| (vec![m], Vec::new()))
                    }
                    Due::Announcement => composer.announcements(&current, &log, now),
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
                    Err(source) => {
                        // Not recorded as queued: the next tick tries again.
                        // Nothing later goes before a distributor notice (a
                        // warning must not overtake the move it follows);
                        // a draft, an alert or a retrospective holds nothing up.
                        let in_order = matches!(
                            due,
                            Due::Advance
                                | Due::DateChange { .. }
                                | Due::Correction
                                | Due::Warning
                                | Due::Announcement
                        );
                        unbuilt.get_or_insert(ServiceError::Notice { key, source });
                        if in_order {
                            break;
                        }
                        continue;
                    }
                };
                for failure in &failures {
                    tracing::error!(incident = %current.id, %failure, "a distributor cannot get this notice");
                    let failed = format!("{}/{key}", current.id);
                    let alert = composer.delivery_failure(
                        &current,
                        &Undelivered {
                            key: &failed,
                            kind: "notice",
                            to: "a distributor",
                            subject: &key,
                            error: failure,
                            advice: None,
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
                        "{key} queued: {} mail(s) to {recipients} recipient(s)",
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
        // What went before it is kept; the failure is alerted once (tick).
        match unbuilt {
            Some(e) => Err(e),
            None => Ok(queued),
        }
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
            let Some(last) = page.last else {
                return Ok(next);
            };
            after = Some(last);
            for incident in &page.incidents {
                next = next
                    .into_iter()
                    .chain(timeline::next_change(incident, now))
                    .min();
            }
        }
    }
}

/// What the people who can act read when a notice is held.
fn held_alert(key: &str, hold: &timeline::Hold, now: Timestamp) -> Alert {
    let what = match hold.notice {
        NoticeKind::Distributors => "advance notice to the distributors",
        NoticeKind::Warning => "24-hour warning to the distributors",
        NoticeKind::Announcement => "public announcement",
    };
    let at = hold.at.strftime("%Y-%m-%d %H:%M UTC");
    let next = hold.next.strftime("%Y-%m-%d %H:%M UTC");
    Alert {
        key: key.to_owned(),
        subject: match hold.notice {
            NoticeKind::Announcement => "The announcement is held",
            NoticeKind::Warning => "The 24-hour warning is held",
            NoticeKind::Distributors => "The advance notice is held",
        }
        .to_owned(),
        text: {
            // Short notice still gives the distributors a day: offered
            // only while a day is left.
            let short = if hold.at - now >= jiff::SignedDuration::from_hours(25) {
                format!(
                    "\n\nor, if the distributors may have less notice (24 hours at the least),\n\
                     keep this date with\n\n\
                     \x20   /disclose {} short-notice",
                    hold.at.strftime("%Y-%m-%d %H:%M")
                )
            } else {
                String::new()
            };
            format!(
                "embargo did not send the {what} for the disclosure at {at}, and will not\n\
                 send it for that date: {}.\n\n\
                 The next slot that keeps the rules, planned within a day, is {next}. Plan it with\n\n\
                 \x20   /disclose {}{short}\n\n\
                 signed, in the incident thread, with the /approve lines of the notices\n\
                 below it in the same mail: a new date makes new texts, and commands in\n\
                 one mail apply in order.",
                hold.why,
                hold.next.strftime("%Y-%m-%d %H:%M"),
            )
        },
    }
}
