//! A database of its own for each test, on the PostgreSQL server `.ci/run`
//! started (its URL in EMBARGO_TEST_POSTGRES), dropped when the test ends.
//! No server is a failure, never a skip.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

/// The server's maintenance database, where test databases are made.
pub fn admin_url() -> String {
    std::env::var("EMBARGO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub struct TestDb {
    pub name: String,
    pub url: String,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("EMBARGO_TEST_POSTGRES ends in /DATABASE");
    format!("{base}/{database}")
}

async fn admin() -> PgConnection {
    let url = admin_url();
    PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "no PostgreSQL at {url}: {e}; `bash .ci/run` starts one, or set EMBARGO_TEST_POSTGRES \
             to a server where this user may create databases"
        )
    })
}

impl TestDb {
    pub async fn create() -> TestDb {
        let name = format!(
            "embargo_test_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            fastrand::u32(..)
        );
        let mut conn = admin().await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
        let url = url_for(&name);
        TestDb { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // a thread with a runtime of its own removes the database.
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = admin().await;
                let _ = conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .await;
            });
        })
        .join();
    }
}

/// Ends every session of the database at `url` that holds an advisory lock
/// (the ingest lease), as a network cut or a DBA would; one `true` for each
/// session ended.
pub async fn end_lease_sessions(url: &str) -> Vec<bool> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = \
         (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    ended
}
