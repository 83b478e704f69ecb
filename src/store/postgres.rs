//! PostgreSQL, for teams that run two or more replicas of `serve` on one
//! database. The statements are SQLite's (see `sql`); what is PostgreSQL's
//! own is here: connecting, claiming outbox rows with `SKIP LOCKED` so that
//! replicas never claim the same mail, and the ingest lease, an advisory
//! lock held by one connection for as long as it lives.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Postgres, Row, Transaction};

use super::sql::*;
use super::*;
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

pub struct PostgresStore {
    pool: PgPool,
    options: PgConnectOptions,
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
            .connect_with(options.clone())
            .await
            .map_err(|source| StoreError::Connect { source })?;
        let store = PostgresStore { pool, options };
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
        let mut conn = PgConnection::connect_with(&self.options.clone().options(KEEPALIVE))
            .await
            .map_err(|source| StoreError::Connect { source })?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
            .bind(INGEST_LOCK_KEY)
            .fetch_one(&mut conn)
            .await?
            .try_get("got")?;
        if got {
            Ok(IngestLock::new(AdvisoryLease(Some(conn))))
        } else {
            let _ = conn.close().await;
            Err(StoreError::Busy(format!(
                "PostgreSQL advisory lock {INGEST_LOCK_KEY:#x}"
            )))
        }
    }
}

struct AdvisoryLease(Option<PgConnection>);

#[async_trait]
impl Lease for AdvisoryLease {
    async fn still_held(&mut self) -> bool {
        let Some(conn) = self.0.as_mut() else {
            return false;
        };
        // The session holds the lock as long as it lives; the server ends a
        // session it cannot reach, so an answer here means the lock is ours.
        let alive = tokio::time::timeout(Duration::from_secs(5), conn.ping())
            .await
            .is_ok_and(|r| r.is_ok());
        if !alive {
            self.0 = None;
        }
        alive
    }
}

sql_store!(PostgresStore, Postgres, PgRow);
