//! The embedded default: SQLite through sqlx, one file, no server.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};

use super::sql::*;
use super::*;
use crate::core::bounce::SentMail;
use crate::core::event::EventKind;
use crate::core::incident::State;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    fence: AtomicI64,
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies the migrations:
    /// the embedded default has one process and no one to run `migrate`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, Schema::Migrate).await
    }

    pub async fn open_with(path: &Path, schema: Schema) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        let store = SqliteStore {
            pool,
            path: path.to_owned(),
            fence: AtomicI64::new(0),
        };
        store.bring_schema(&MIGRATOR, schema).await?;
        Ok(store)
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        // IMMEDIATE takes the write lock up front, so two writers queue on
        // busy_timeout instead of failing halfway through.
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    const SCHEMA_TABLE: &str = "SELECT COUNT(*) AS n FROM sqlite_master \
        WHERE type = 'table' AND name = '_sqlx_migrations'";
    const EMPTY_BYTES: &str = "x''";
    // One writer at a time already: BEGIN IMMEDIATE serializes the claims.
    const CLAIM_LOCKING: &str = "";
    // BEGIN IMMEDIATE holds the whole database until the commit.
    const FENCE_LOCKING: &str = "";
    // An INTEGER PRIMARY KEY continues from the greatest id by itself.
    const AFTER_IMPORT: &[&str] = &[];

    async fn take_ingest_lease(&self) -> Result<IngestLock, StoreError> {
        let mut name = self.path.clone().into_os_string();
        name.push(".ingest-lock");
        let path = PathBuf::from(name);
        let shown = path.display().to_string();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Lock {
                path: shown.clone(),
                source,
            })?;
        // The kernel drops the lock when the process dies: no stale locks.
        match file.try_lock() {
            Ok(()) => {
                let lease = IngestLock::new(FileLease(file));
                let mut tx = self.write().await?;
                let epoch: i64 = sqlx::query(ADVANCE_EPOCH)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("epoch")?;
                tx.commit().await?;
                Ok(lease.with_epoch(epoch))
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy(shown)),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Lock {
                path: shown,
                source,
            }),
        }
    }
}

/// A `flock` on a file beside the database. The kernel drops it when the
/// process dies, so there are no stale locks, and it cannot be lost while
/// the process lives.
struct FileLease(#[allow(dead_code)] std::fs::File);

#[async_trait]
impl Lease for FileLease {
    async fn still_held(&mut self) -> bool {
        true
    }
}

sql_store!(SqliteStore, Sqlite, SqliteRow);
