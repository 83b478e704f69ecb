//! Where incidents, mail, events and the outbox live.
//!
//! One trait, one implementation per backend. Each write the pipeline
//! makes for one inbound mail is a single call, and so a single
//! transaction: the decision and the mail it owes are stored together or
//! not at all.

pub mod dump;
mod postgres;
mod sql;
mod sqlite;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

pub use dump::{Cell, Table};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::config::StoreSettings;
use crate::core::batch::{Batch, BatchQuery};
use crate::core::event::Event;
use crate::core::inbound::{Attachment, Inbound, Mailbox, TextSource};
use crate::core::incident::Incident;
use crate::core::incident_id::IncidentId;
use crate::core::mail_kind::MailKind;
use crate::core::signature::{Encryption, SignatureStatus};
use crate::core::threading;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the database {path}: {source}; check that the directory exists and is writable by the service"
    )]
    Open { path: String, source: sqlx::Error },
    #[error("cannot bring the database schema up to date: {0}; restore a backup or report a bug")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    #[error(
        "the database holds a value this version cannot read ({0}); is a newer embargo using it?"
    )]
    Corrupt(String),
    #[error(
        "another embargo (`run` or `serve`) is already taking mail into this database (lock {0}); \
         wait for it to finish or stop it, then try again"
    )]
    Busy(String),
    /// Another process took the ingest lease since this one did: what
    /// this one decided was not written.
    #[error(
        "another embargo took the ingest lease (fencing epoch {current}; this one held {ours}): \
         nothing of this write was stored (mail it was filing stays in the source for the \
         holder), and this one stops taking mail in and moving incidents on until it takes \
         the lease again"
    )]
    Fenced { ours: i64, current: i64 },
    #[error("cannot take the ingest lock {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "cannot connect to PostgreSQL: {source}; check store.url (the host, port, user, \
         password and database in it) and that the server is running"
    )]
    Connect { source: sqlx::Error },
    #[error(
        "the database schema is at version {found}, newer than this embargo knows ({known}); \
         run the newer embargo, or upgrade this one"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error(
        "the database schema is at version {found} and this embargo needs {known}; \
         run `embargo migrate` once, then start the service again"
    )]
    SchemaBehind { found: i64, known: i64 },
    #[error(
        "the database already holds {0}; import only into an empty database \
         (a new SQLite path, or a new PostgreSQL database after `embargo migrate`)"
    )]
    NotEmpty(String),
    #[error("the export cannot be read: {0}")]
    Dump(String),
    #[error("{0}")]
    Config(String),
}

impl StoreError {
    /// Busy or unreachable databases get better; broken data does not.
    /// Another process holds the ingest lease now: stop taking mail in.
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Fenced { .. })
    }

    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Query(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => true,
            StoreError::Connect { .. } => true,
            StoreError::Query(sqlx::Error::Database(e)) => {
                // PostgreSQL: serialization failure, deadlock, the server
                // shutting down or out of connections.
                let code = e.code();
                // And the timeouts that keep a frozen replica from
                // blocking the others: a lock waited on too long, a
                // transaction left idle.
                matches!(
                    code.as_deref(),
                    Some("40001" | "40P01" | "57P01" | "57P03" | "53300" | "55P03" | "25P03")
                ) || e.message().contains("locked")
                    || e.message().contains("busy")
            }
            _ => false,
        }
    }
}

/// One delivery from a source: which source, and its key there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    pub source: String,
    pub key: String,
}

/// A mail to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewMail {
    /// Unique per mail the service owes; enqueueing the same key twice is a no-op.
    pub key: String,
    pub kind: MailKind,
    pub incident: Option<IncidentId>,
    pub message_id: String,
    pub from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub bytes: Vec<u8>,
    pub due_at: Timestamp,
}

/// A page of open incidents. A row this version cannot read is named, not
/// fatal: one incident must not stop every other incident's notices.
#[derive(Debug, Default)]
pub struct OpenPage {
    pub incidents: Vec<Incident>,
    /// Incident ids whose rows could not be read, with why.
    pub unreadable: Vec<(IncidentId, StoreError)>,
    /// Where the next page starts; `None` when this page was empty.
    pub last: Option<IncidentId>,
}

#[derive(Debug)]
pub enum Filing {
    Opened(Incident),
    Joined {
        incident: IncidentId,
        via: String,
        /// The incident afterwards, when the mail changed it.
        updated: Option<Incident>,
    },
}

/// Everything one inbound mail changes.
#[derive(Debug)]
pub enum IntakeRecord {
    /// The same mail delivered again: only the delivery is recorded.
    Duplicate {
        message_id: String,
        body_digest: String,
    },
    Filed {
        mail: Box<Inbound>,
        filing: Box<Filing>,
        events: Vec<Event>,
        outbox: Vec<NewMail>,
        /// The address acknowledged, for the rate limit.
        auto_reply_to: Option<String>,
        /// Where the Fix Lead round-robin continues from.
        lead_assigned: Option<String>,
        /// What became of the commands it carried, if it carried any
        /// (counted by the metrics; the events hold the record).
        command: Option<crate::core::command_mail::CommandVerdict>,
    },
    /// A bounce of the service's own mail, or a mail claiming to be one:
    /// kept outside any incident (never opens one, never answered), the
    /// mail it bounced marked, those who can act told (see
    /// [`crate::core::bounce::Tell`]).
    Bounced {
        mail: Box<Inbound>,
        /// What it was found to be about, shown where unfiled mail is listed.
        reason: String,
        /// The outbox row it bounced, and the remote server's words.
        bounced: Option<(i64, String)>,
        /// On the incident of the mail it bounced.
        events: Vec<(IncidentId, Event)>,
        outbox: Vec<NewMail>,
    },
    /// Could not be parsed: kept with its bytes, outside any incident.
    Quarantined {
        message_id: String,
        body_digest: String,
        raw: Vec<u8>,
        reason: String,
        outbox: Vec<NewMail>,
    },
}

#[derive(Debug)]
pub struct Intake {
    pub source: SourceRef,
    pub received_at: Timestamp,
    pub record: IntakeRecord,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    Pending,
    Sending,
    Sent,
    Failed,
    /// Sent, and came back: a bounce named it. Never sent again.
    Bounced,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
            OutboxState::Bounced => "bounced",
        }
    }

    pub const ALL: [OutboxState; 5] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Failed,
        OutboxState::Bounced,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        OutboxState::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// An outbox row. `bytes` is empty in listings and filled when claimed.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxMail {
    pub id: i64,
    pub key: String,
    pub kind: MailKind,
    pub incident: Option<IncidentId>,
    pub message_id: String,
    pub from: String,
    pub recipients: Vec<String>,
    pub subject: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
    pub created_at: Timestamp,
    pub due_at: Timestamp,
    pub state: OutboxState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub transport_id: Option<String>,
    /// The token of its own return path (`<local>+bounce-<token>@<domain>`);
    /// `None` for mail queued before return paths existed. Kept out of
    /// listings: whoever holds it can mark the mail bounced.
    #[serde(skip)]
    pub bounce_token: Option<String>,
    /// When a bounce of it came back.
    pub bounced_at: Option<Timestamp>,
}

/// A stored mail, without its raw bytes.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub incident: Option<IncidentId>,
    pub message_id: String,
    pub synthesized_id: bool,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub date: Option<Timestamp>,
    pub received_at: Timestamp,
    pub text: String,
    pub text_source: TextSource,
    pub attachments: Vec<Attachment>,
    pub problems: Vec<String>,
    pub signature: SignatureStatus,
    pub encryption: Encryption,
    pub joined_via: Option<String>,
    pub quarantine_reason: Option<String>,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentSummary {
    #[serde(flatten)]
    pub incident: Incident,
    pub messages: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidentRecord {
    #[serde(flatten)]
    pub incident: Incident,
    pub messages: Vec<StoredMessage>,
    pub events: Vec<Event>,
    pub outbox: Vec<OutboxMail>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub source: String,
    pub key: String,
    pub outcome: String,
    pub message: i64,
}

/// What a metrics scrape reads from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    pub outbox: Vec<(OutboxState, u64)>,
    pub incidents: Vec<(crate::core::incident::State, u64)>,
    /// When the earliest mail waiting in the outbox fell (or falls) due.
    pub oldest_due: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub incidents: u64,
    pub messages: u64,
    pub quarantined: u64,
    pub deliveries: u64,
    pub duplicates: u64,
    pub events: u64,
    pub outbox_pending: u64,
    pub outbox_sent: u64,
    pub outbox_failed: u64,
}

/// What opening a store does about a schema older than this build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Apply the missing migrations (`embargo migrate`; SQLite always).
    Migrate,
    /// Refuse to use it: replicas on a shared database migrate explicitly.
    Current,
}

/// Opens the store the config names. SQLite migrates itself; PostgreSQL,
/// shared by replicas that must not race to migrate, needs `embargo
/// migrate` first. Either refuses a schema newer than this build knows.
pub async fn open(settings: &StoreSettings) -> Result<Arc<dyn Store>, StoreError> {
    let schema = match settings {
        StoreSettings::Sqlite { .. } => Schema::Migrate,
        StoreSettings::Postgres { .. } => Schema::Current,
    };
    open_with(settings, schema).await
}

pub async fn open_with(
    settings: &StoreSettings,
    schema: Schema,
) -> Result<Arc<dyn Store>, StoreError> {
    match settings {
        StoreSettings::Sqlite { path } => Ok(Arc::new(SqliteStore::open_with(path, schema).await?)),
        StoreSettings::Postgres {
            url,
            max_connections,
        } => {
            let url = url.reveal("store.url").map_err(StoreError::Config)?;
            Ok(Arc::new(
                PostgresStore::connect(&url, *max_connections, schema).await?,
            ))
        }
    }
}

/// Something that keeps one process the only one taking mail in.
#[async_trait]
pub trait Lease: Send {
    /// False once the lease is gone (a lost database connection): the
    /// holder must stop taking mail in before another replica starts.
    async fn still_held(&mut self) -> bool;
}

/// Held by the one process that takes mail in; released when dropped.
/// Its epoch is the fencing token every write on its behalf is checked
/// against.
pub struct IngestLock {
    lease: Box<dyn Lease>,
    epoch: i64,
}

impl IngestLock {
    pub fn new(lease: impl Lease + 'static) -> Self {
        IngestLock {
            lease: Box::new(lease),
            epoch: 0,
        }
    }

    pub(crate) fn with_epoch(mut self, epoch: i64) -> Self {
        self.epoch = epoch;
        self
    }

    /// The fencing token this holder writes with.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    pub async fn still_held(&mut self) -> bool {
        self.lease.still_held().await
    }
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Only one process may take mail in at a time: incident ids are
    /// allocated from what the store holds. Taking the lease advances the
    /// fencing epoch; from then on this store's `record`, `record_batch`
    /// and `record_update` are refused with `Fenced` once another process
    /// has taken it. (A store that never took the lease, as in tools and
    /// tests, writes unfenced.)
    async fn lock_ingest(&self) -> Result<IngestLock, StoreError>;

    /// The newest migration applied to the database.
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// Those of `keys` that `source` has already delivered.
    async fn delivered_among(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError>;

    /// The greatest key `source` delivered that starts with `prefix`.
    async fn last_delivered(
        &self,
        source: &str,
        prefix: &str,
    ) -> Result<Option<String>, StoreError>;

    /// What deciding about a batch of mail needs to know.
    async fn batch(&self, q: &BatchQuery) -> Result<Batch, StoreError>;

    /// An incident as it stands, without its messages.
    async fn incident_state(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError>;

    /// Every incident not yet in a final state.
    async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError>;

    /// Up to `limit` incidents not yet in a final state, in numbering
    /// order, after `after`: the scheduler's way through thousands of them
    /// without holding them all.
    async fn open_incidents_after(
        &self,
        after: Option<&IncidentId>,
        limit: u32,
    ) -> Result<OpenPage, StoreError>;

    /// Writes an incident's new state with the events that explain it and
    /// the mail it owes, in one transaction.
    async fn record_update(
        &self,
        incident: &Incident,
        events: &[Event],
        outbox: &[NewMail],
    ) -> Result<(), StoreError>;

    /// Appends events and mail to an incident without writing the incident
    /// itself: for the senders, which must not overwrite what the one
    /// process taking mail in decides.
    async fn append(
        &self,
        incident: &IncidentId,
        events: &[Event],
        outbox: &[NewMail],
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Queues mail that belongs to no incident (the weekly digest); a key
    /// already in the outbox is left as it is.
    async fn enqueue(&self, outbox: &[NewMail], now: Timestamp) -> Result<(), StoreError>;

    /// Whether a mail with this key was ever queued.
    async fn outbox_has(&self, key: &str) -> Result<bool, StoreError>;

    /// Records one inbound mail and everything it causes, atomically.
    async fn record(&self, intake: &Intake) -> Result<(), StoreError>;

    /// Records a batch of inbound mail, in order, in one transaction: all
    /// of it or none.
    async fn record_batch(&self, intakes: &[Intake]) -> Result<(), StoreError>;

    /// Claims up to `limit` mails due at `now` for `lease`; a claim whose
    /// lease ran out (a sender that died) is claimed again.
    async fn claim_due(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<OutboxMail>, StoreError>;
    async fn mark_sent(
        &self,
        id: i64,
        now: Timestamp,
        transport_id: &str,
    ) -> Result<(), StoreError>;
    async fn mark_retry(&self, id: i64, error: &str, next_at: Timestamp) -> Result<(), StoreError>;
    /// Gives back a claim not used, if it is still the one made until
    /// `claimed_until` (and not another sender's since): the mail is due
    /// again at once, and the claim does not count as an attempt.
    async fn release(&self, id: i64, claimed_until: Timestamp) -> Result<(), StoreError>;
    async fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError>;
    /// When the earliest mail waiting in the outbox is due.
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;

    async fn incidents(&self) -> Result<Vec<IncidentSummary>, StoreError>;
    async fn incident(&self, id: &IncidentId) -> Result<Option<IncidentRecord>, StoreError>;
    async fn quarantined(&self) -> Result<Vec<StoredMessage>, StoreError>;
    async fn raw_message(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError>;
    async fn outbox(&self) -> Result<Vec<OutboxMail>, StoreError>;
    async fn deliveries(&self, source: &str) -> Result<Vec<Delivery>, StoreError>;
    async fn counts(&self) -> Result<Counts, StoreError>;
    /// Outbox mails by state, incidents by state, the earliest due mail.
    async fn gauges(&self) -> Result<Gauges, StoreError>;

    /// Hands every row of `table` to `each`, ordered by id where the table
    /// has one (see `dump`).
    async fn export_table(
        &self,
        table: &'static Table,
        each: &mut (dyn FnMut(Vec<Cell>) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError>;

    /// Writes `rows` into an empty database, in one transaction.
    async fn import_rows(
        &self,
        rows: &mut (dyn Iterator<Item = Result<(&'static Table, Vec<Cell>), StoreError>> + Send),
    ) -> Result<u64, StoreError>;
}
