//! Run by hand: `cargo bench --bench store`. Needs a PostgreSQL where the
//! user may create databases (EMBARGO_TEST_POSTGRES, as `.ci/run` sets it,
//! or postgres://postgres@127.0.0.1:5432/postgres).
//!
//! For SQLite and PostgreSQL, with EMBARGO_BENCH_ROWS (10,000) outbox mails
//! of 4 KiB:
//! 1. recording them, ten per stored mail, one transaction each;
//! 2. claiming and marking them sent, 50 per claim, by one sender and by
//!    four concurrent senders (as replicas would), checking that none is
//!    claimed twice;
//! 3. `export` of the whole state, and `import` of it into an empty store.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use common::postgres::TestDb;
use embargo::core::mail_kind::MailKind;
use embargo::store::{
    Intake, IntakeRecord, NewMail, PostgresStore, Schema, SourceRef, SqliteStore, Store,
};
use jiff::{SignedDuration, Timestamp};

/// A fresh store of each kind; the guards keep the databases alive.
enum Fresh {
    Sqlite(tempfile::TempDir),
    Postgres(TestDb),
}

impl Fresh {
    async fn new(kind: &str) -> Fresh {
        match kind {
            "sqlite" => Fresh::Sqlite(tempfile::tempdir().unwrap()),
            _ => Fresh::Postgres(TestDb::create().await),
        }
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Fresh::Sqlite(dir) => Arc::new(
                SqliteStore::open(&dir.path().join("bench.db"))
                    .await
                    .unwrap(),
            ),
            Fresh::Postgres(db) => Arc::new(
                PostgresStore::connect(&db.url, 8, Schema::Migrate)
                    .await
                    .unwrap(),
            ),
        }
    }
}

async fn fill(store: &dyn Store, rows: usize, now: Timestamp) {
    let body = vec![b'x'; 4096];
    for batch in 0..rows.div_ceil(10) {
        let outbox = (0..10)
            .map(|n| NewMail {
                key: format!("bench/{batch}/{n}"),
                kind: MailKind::Quarantine,
                incident: None,
                message_id: format!("bench.{batch}.{n}@embargo.test"),
                from: "security@embargo.test".into(),
                recipients: vec!["src@embargo.test".into()],
                subject: format!("bench {batch} {n}"),
                bytes: body.clone(),
                due_at: now,
            })
            .collect();
        store
            .record(&Intake {
                source: SourceRef {
                    source: "bench".into(),
                    key: format!("{batch:010}"),
                },
                received_at: now,
                record: IntakeRecord::Quarantined {
                    message_id: format!("in.{batch}@bench"),
                    body_digest: format!("d{batch}"),
                    raw: body.clone(),
                    reason: "bench".into(),
                    outbox,
                },
            })
            .await
            .unwrap();
    }
}

/// Claims and marks sent everything due with `senders` concurrent stores;
/// returns the mails per second.
async fn drain(fresh: &Fresh, senders: usize, rows: usize, now: Timestamp) -> f64 {
    let mut stores = Vec::new();
    for _ in 0..senders {
        stores.push(fresh.open().await);
    }
    let start = Instant::now();
    let tasks: Vec<_> = stores
        .into_iter()
        .map(|store| {
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store
                        .claim_due(now, SignedDuration::from_mins(5), 50)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    for m in claimed {
                        store.mark_sent(m.id, now, "250 ok").await.unwrap();
                        mine.push(m.id);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), rows, "every mail claimed");
    assert_eq!(distinct.len(), rows, "no mail claimed twice");
    rows as f64 / secs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: usize = std::env::var("EMBARGO_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let now: Timestamp = "2026-12-01T16:00:00Z".parse().unwrap();
    println!("{rows} outbox mails of 4 KiB; {} stored mails", rows / 10);
    for kind in ["sqlite", "postgres"] {
        let mut line = format!("{kind:>8}:");
        for senders in [1, 4] {
            let fresh = Fresh::new(kind).await;
            let store = fresh.open().await;
            let start = Instant::now();
            fill(store.as_ref(), rows, now).await;
            if senders == 1 {
                let secs = start.elapsed().as_secs_f64();
                line += &format!(" record {:.0} mails/s;", rows as f64 / secs);
            }
            let rate = drain(&fresh, senders, rows, now).await;
            line += &format!(" claim+sent with {senders} sender(s) {rate:.0} mails/s;");
            if senders == 4 {
                let mut out = Vec::new();
                let start = Instant::now();
                embargo::store::dump::export(store.as_ref(), &mut out)
                    .await
                    .unwrap();
                let exported = start.elapsed();
                let target = Fresh::new(kind).await;
                let into = target.open().await;
                let start = Instant::now();
                embargo::store::dump::import(into.as_ref(), out.as_slice())
                    .await
                    .unwrap();
                line += &format!(
                    " export {:.2} s ({:.1} MiB), import {:.2} s",
                    exported.as_secs_f64(),
                    out.len() as f64 / (1 << 20) as f64,
                    start.elapsed().as_secs_f64()
                );
            }
        }
        println!("{line}");
    }
}
