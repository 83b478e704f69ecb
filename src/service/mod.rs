//! The loops that move mail, in three parts a reader can hold one at a
//! time, and `serve`, which runs them until asked to stop:
//!
//! - [`intake`]: source → decisions → store, a batch at a time;
//! - [`scheduler`]: deadlines and notices falling due, incident by incident;
//! - [`sender`]: outbox → sink, exactly once across replicas;
//! - [`progress`]: how a long intake reports how far it is.

mod intake;
pub mod progress;
mod scheduler;
mod sender;

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::Settings;
use crate::core::incident_id::IncidentId;
use crate::crypto::Crypto;
use crate::metrics::{Loop, Metrics};
use crate::notice::Composer;
use crate::sink::Sink;
use crate::source::Source;
use crate::store::{IngestLock, Store, StoreError};

pub use intake::Intake;
pub use progress::Progress;
pub use scheduler::Scheduler;
pub use sender::Sender;

/// Returns the memory a batch (of mail taken in, or sent) freed to the
/// system: glibc keeps it in its arenas otherwise, and a backlog's run
/// would hold the most any batch ever needed, not what the next one needs.
pub(crate) fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of the allocator's own.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// Found before a batch: nothing of it was read or written.
    #[error(
        "the database session holding the ingest lease is gone: this one stopped taking mail \
         in before its next batch; what it had not stored stays in the source"
    )]
    LeaseLost,
    /// A notice that is due could not be written; nothing after it in the
    /// incident's plan goes before it does.
    #[error("the {key} notice could not be built: {source}")]
    Notice {
        key: String,
        source: crate::notice::NoticeError,
    },
}

impl ServiceError {
    /// This process no longer holds the ingest lease: it must stop taking
    /// mail in and moving incidents on until it takes the lease again.
    pub fn lost_lease(&self) -> bool {
        match self {
            ServiceError::LeaseLost => true,
            ServiceError::Store(e) => e.is_fenced(),
            _ => false,
        }
    }
}

/// What one ingest pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct IngestReport {
    pub seen: usize,
    pub filed: usize,
    pub opened: Vec<IncidentId>,
    pub duplicates: usize,
    pub quarantined: usize,
    /// Bounces of the service's own mail: kept without an incident.
    pub bounces: usize,
    /// Left in the source for the next pass (could not be read or stored).
    pub deferred: usize,
}

impl IngestReport {
    /// Mails this pass stored, whatever became of them.
    pub fn stored(&self) -> usize {
        self.filed + self.duplicates + self.quarantined + self.bounces
    }
}

/// What one send pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SendReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Asked to stop: finish the batch in hand, start no other.
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

/// What every part works with.
#[derive(Clone)]
struct Shared {
    settings: Arc<Settings>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    crypto: Crypto,
    metrics: Arc<Metrics>,
}

impl Shared {
    fn composer(&self) -> Composer<'_> {
        Composer::new(&self.settings, self.crypto.sealer.as_ref())
    }
}

/// The three parts, wired as `embargo run` and `serve` use them.
pub struct Service {
    shared: Shared,
    intake: Intake,
    scheduler: Scheduler,
    sender: Sender,
}

impl Service {
    pub fn new(
        settings: Arc<Settings>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        crypto: Crypto,
    ) -> Self {
        let shared = Shared {
            metrics: Arc::new(Metrics::new(clock.now())),
            settings,
            store,
            clock,
            crypto,
        };
        Service {
            intake: Intake::new(shared.clone()),
            scheduler: Scheduler::new(shared.clone()),
            sender: Sender::new(shared.clone()),
            shared,
        }
    }

    /// Reports the intake's progress there (a terminal's bar, or the log).
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.intake = self.intake.with_progress(progress);
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.shared.store
    }

    /// What the loops count, for `/metrics` and `/readyz`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    fn passed<T, E>(&self, which: Loop, result: Result<T, E>) -> Result<T, E> {
        if result.is_ok() {
            self.shared
                .metrics
                .pass_done(which, self.shared.clock.now());
        }
        result
    }

    /// Takes every waiting message from `source`, a batch at a time, for
    /// as long as `lease` is held.
    pub async fn ingest(
        &self,
        source: &mut dyn Source,
        stop: &Shutdown,
        lease: &mut IngestLock,
    ) -> Result<IngestReport, ServiceError> {
        let done = self.intake.run(source, stop, lease).await;
        let now = self.shared.clock.now();
        // A source waiting out its backoff answers "nothing" without having
        // talked to its server: that is no pass, or an outage would look
        // like quiet.
        match &done {
            // Nothing stored and the head of the queue unreadable: the mail
            // behind it waits for good, which is no pass either.
            Ok(r) if r.deferred > 0 && r.stored() == 0 => self.shared.metrics.source_failed(now),
            Ok(_) if source.reached() => self.shared.metrics.pass_done(Loop::Intake, now),
            Ok(_) | Err(ServiceError::Source(_)) => self.shared.metrics.source_failed(now),
            Err(_) => {}
        }
        done
    }

    /// Moves every open incident on: reminders and notices now due.
    pub async fn tick(&self) -> Result<usize, ServiceError> {
        let done = self.scheduler.tick().await;
        self.passed(Loop::Scheduler, done)
    }

    /// Sends every outbox mail that is due, after the embargo guard.
    pub async fn send_due(
        &self,
        sink: &dyn Sink,
        stop: &Shutdown,
    ) -> Result<SendReport, ServiceError> {
        let done = self.sender.send_due(sink, stop).await;
        self.passed(Loop::Sender, done)
    }

    /// When something falls due that no mail will bring.
    pub async fn next_wake(&self) -> Result<Option<Timestamp>, ServiceError> {
        self.scheduler.next_wake().await
    }

    /// How long the holder of the ingest lease waits for mail: `interval`,
    /// or less when something falls due sooner (at least a second, so that
    /// mail the pass could not send does not make it spin).
    async fn wait_for_mail(&self, interval: std::time::Duration) -> std::time::Duration {
        let until = match self.next_wake().await {
            Ok(Some(at)) => at - self.shared.clock.now(),
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
        lease: &mut IngestLock,
    ) -> Result<(IngestReport, SendReport), ServiceError> {
        // A mailbox that cannot be read must not hold up the notices due.
        // Nor must a failed tick hold up what is already due to be sent.
        // A lost lease holds up both: another replica does them now.
        let ingested = self.ingest(source, stop, lease).await;
        let ticked = match &ingested {
            Err(e) if e.lost_lease() => Ok(0),
            _ => self.tick().await,
        };
        let sent = self.send_due(sink, stop).await?;
        ticked?;
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
                match self.shared.store.lock_ingest().await {
                    Ok(held) => {
                        tracing::info!(
                            epoch = held.epoch(),
                            "took the ingest lease: this replica takes mail in"
                        );
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
            self.shared
                .metrics
                .lease_held(lease.is_some(), self.shared.clock.now());
            let pass = match lease.as_mut() {
                Some(held) => {
                    self.shared.metrics.busy(Some(self.shared.clock.now()));
                    let pass = self.run_once(source, sink, &stop, held).await;
                    self.shared.metrics.busy(None);
                    pass
                }
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
                Err(e) if e.lost_lease() => {
                    tracing::error!(error = %e, "lost the ingest lease: this replica stands by");
                    lease = None;
                    self.shared
                        .metrics
                        .lease_held(false, self.shared.clock.now());
                    source.close().await;
                }
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
