//! PostgreSQL, for teams that run two or more replicas of `serve` on one
//! database. The statements are SQLite's (see `sql`); what is PostgreSQL's
//! own is here: connecting, claiming outbox rows with `SKIP LOCKED` so that
//! replicas never claim the same mail, and the ingest lease, an advisory
//! lock held by one connection for as long as it lives.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Executor, Postgres, Row, Transaction};
use tokio::sync::Mutex;

use super::sql::*;
use super::*;
use crate::core::bounce::SentMail;
use crate::core::event::EventKind;
use crate::core::incident::State;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// The advisory lock key of the ingest lease: "embargo\0" as an integer, so
/// it does not collide with another application's locks by accident.
const INGEST_LOCK_KEY: i64 = 0x656d_6261_7267_6f00;

/// How long the database waits on a silent holder of the lease before it
/// drops its connection, and the lock with it: idle 10 s, then 4 probes
/// 4 s apart. A replica that died with its machine is replaced within
/// about 30 s; one that died as a process, at once.
const KEEPALIVE: [(&str, &str); 3] = [
    ("tcp_keepalives_idle", "10"),
    ("tcp_keepalives_interval", "4"),
    ("tcp_keepalives_count", "4"),
];

/// A frozen holder (SIGSTOP, a VM paused) still answers keepalives from
/// its kernel: the server ends a lease session that sent nothing for this
/// long. The holder's heartbeat pings every `HEARTBEAT`.
const LEASE_IDLE: (&str, &str) = ("idle_session_timeout", "30s");
const HEARTBEAT: Duration = Duration::from_secs(5);

/// For every pooled connection: a frozen replica's open transaction is
/// ended, and no one waits long on its locks, well inside the time a
/// takeover takes. The writes that wait return a transient error and are
/// tried again at the next pass. Set after connecting rather than as
/// startup options, which connection poolers such as PgBouncer refuse.
const POOLED: &str = "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 4; \
    SET tcp_keepalives_count = 4; SET lock_timeout = '10s'; \
    SET idle_in_transaction_session_timeout = '20s'";

/// The lease's bump of the epoch waits no longer for a frozen holder's
/// transaction than the pooled connections do.
const LEASE_LOCK_WAIT: (&str, &str) = ("lock_timeout", "10s");

pub struct PostgresStore {
    pool: PgPool,
    options: PgConnectOptions,
    fence: AtomicI64,
}

impl PostgresStore {
    /// Connects; `schema` says whether to migrate or to require the
    /// schema this build knows.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        schema: Schema,
    ) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|e| {
            StoreError::Config(format!(
                "store.url is not a PostgreSQL URL ({e}); write it as \
                 postgres://USER:PASSWORD@HOST:PORT/DATABASE"
            ))
        })?;
        let options = options.application_name("embargo");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(POOLED).await?;
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(|source| StoreError::Connect { source })?;
        let store = PostgresStore {
            pool,
            options,
            fence: AtomicI64::new(0),
        };
        store.bring_schema(&MIGRATOR, schema).await?;
        Ok(store)
    }

    async fn write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    const SCHEMA_TABLE: &str = "SELECT COUNT(*) AS n FROM pg_catalog.pg_tables \
        WHERE tablename = '_sqlx_migrations' AND schemaname = current_schema()";
    const EMPTY_BYTES: &str = "'\\x'::bytea";
    // Another replica's claim in flight is skipped, not waited for and
    // then claimed again.
    const CLAIM_LOCKING: &str = " FOR UPDATE SKIP LOCKED";
    // Held until the commit: a new holder's epoch waits for this write.
    const FENCE_LOCKING: &str = " FOR SHARE";
    // Identity columns do not follow rows inserted with their ids.
    const AFTER_IMPORT: &[&str] = &[
        "SELECT setval(pg_get_serial_sequence('messages', 'id'), \
         COALESCE((SELECT MAX(id) FROM messages), 0) + 1, false)",
        "SELECT setval(pg_get_serial_sequence('events', 'id'), \
         COALESCE((SELECT MAX(id) FROM events), 0) + 1, false)",
        "SELECT setval(pg_get_serial_sequence('outbox', 'id'), \
         COALESCE((SELECT MAX(id) FROM outbox), 0) + 1, false)",
    ];

    /// The lease lives on its own connection, outside the pool: the lock
    /// belongs to the session, and the pool would hand it to others.
    async fn take_ingest_lease(&self) -> Result<IngestLock, StoreError> {
        let version: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
            .fetch_one(&self.pool)
            .await?;
        if version.parse::<u32>().is_ok_and(|v| v < 140_000) {
            return Err(StoreError::Config(format!(
                "this PostgreSQL is version {version}; taking mail in needs 14 or newer (the \
                 ingest lease relies on idle_session_timeout to replace a frozen replica): \
                 upgrade the server, or `embargo export` and move to the SQLite store"
            )));
        }
        let options = self
            .options
            .clone()
            .options(KEEPALIVE)
            .options([LEASE_IDLE, LEASE_LOCK_WAIT]);
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(|source| StoreError::Connect { source })?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
            .bind(INGEST_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?
            .try_get("got")?;
        if got {
            // On the lease's own session: a session that lost the lock
            // before this ran cannot advance the epoch past the next holder.
            let epoch: i64 = match sqlx::query(ADVANCE_EPOCH).fetch_one(&mut conn).await {
                Ok(row) => row.try_get("epoch")?,
                Err(e) => {
                    let _ = conn.close().await;
                    return Err(e.into());
                }
            };
            Ok(IngestLock::new(AdvisoryLease::start(conn)).with_epoch(epoch))
        } else {
            let _ = conn.close().await;
            Err(StoreError::Busy(format!(
                "PostgreSQL advisory lock {INGEST_LOCK_KEY:#x}"
            )))
        }
    }
}

/// The lease's session, pinged every `HEARTBEAT` so that the server's
/// idle timeout ends it only when this process stops running.
struct AdvisoryLease {
    session: Arc<Mutex<Option<PgConnection>>>,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl AdvisoryLease {
    fn start(conn: PgConnection) -> Self {
        let session = Arc::new(Mutex::new(Some(conn)));
        let beating = session.clone();
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                if !ping(&beating).await {
                    tracing::warn!("the ingest lease's database session is gone");
                    break;
                }
            }
        });
        AdvisoryLease { session, heartbeat }
    }
}

impl Drop for AdvisoryLease {
    fn drop(&mut self) {
        // The session goes with the last handle: the lock with it.
        self.heartbeat.abort();
    }
}

/// Whether the lease's session still answers; forgets it if not.
async fn ping(session: &Mutex<Option<PgConnection>>) -> bool {
    let mut held = session.lock().await;
    let Some(conn) = held.as_mut() else {
        return false;
    };
    // The session holds the lock as long as it lives; the server ends a
    // session it cannot reach, so an answer here means the lock is ours.
    let alive = tokio::time::timeout(Duration::from_secs(5), conn.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    if !alive {
        *held = None;
    }
    alive
}

#[async_trait]
impl Lease for AdvisoryLease {
    async fn still_held(&mut self) -> bool {
        ping(&self.session).await
    }
}

sql_store!(PostgresStore, Postgres, PgRow);
