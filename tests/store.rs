//! The `Store` contract, written against `dyn Store` so that every backend
//! runs the same suite: SQLite and PostgreSQL.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::postgres::TestDb;

use embargo::core::batch::{Batch, BatchQuery};
use embargo::core::event::{Event, EventKind};
use embargo::core::inbound::{AutoReplyHeaders, Inbound, Mailbox, TextSource};
use embargo::core::incident::Incident;
use embargo::core::incident_id::IncidentId;
use embargo::core::mail_kind::MailKind;
use embargo::core::signature::{Made, SignatureStatus};
use embargo::store::{
    Filing, Intake, IntakeRecord, NewMail, OutboxState, PostgresStore, Schema, SourceRef,
    SqliteStore, Store, StoreError,
};
use jiff::{SignedDuration, Timestamp};

enum Place {
    Sqlite(PathBuf),
    Postgres(String),
}

struct Backend {
    name: &'static str,
    store: Arc<dyn Store>,
    place: Place,
    _dir: tempfile::TempDir,
    _db: Option<TestDb>,
}

impl Backend {
    /// The same database opened again, as a second process would.
    async fn open_again(&self, schema: Schema) -> Result<Arc<dyn Store>, StoreError> {
        Ok(match &self.place {
            Place::Sqlite(path) => Arc::new(SqliteStore::open_with(path, schema).await?),
            Place::Postgres(url) => Arc::new(PostgresStore::connect(url, 4, schema).await?),
        })
    }
}

async fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("embargo.db");
    Backend {
        name: "sqlite",
        store: Arc::new(SqliteStore::open(&path).await.unwrap()),
        place: Place::Sqlite(path),
        _dir: dir,
        _db: None,
    }
}

async fn postgres() -> Backend {
    let db = TestDb::create().await;
    let store = PostgresStore::connect(&db.url, 4, Schema::Migrate)
        .await
        .unwrap();
    Backend {
        name: "postgres",
        store: Arc::new(store),
        place: Place::Postgres(db.url.clone()),
        _dir: tempfile::tempdir().unwrap(),
        _db: Some(db),
    }
}

async fn backends() -> Vec<Backend> {
    vec![sqlite().await, postgres().await]
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn id(n: u32) -> IncidentId {
    IncidentId::new("EMB", 2026, n).unwrap()
}

fn inbound(message_id: &str, body: &str) -> Inbound {
    Inbound {
        message_id: message_id.into(),
        message_id_synthesized: false,
        in_reply_to: vec![],
        references: vec![],
        from: Some(Mailbox::new(Some("Ana"), "ana@finder.example")),
        to: vec![],
        cc: vec![],
        subject: "crash".into(),
        date: None,
        text: body.into(),
        text_source: TextSource::Plain,
        attachments: vec![],
        auto_reply: AutoReplyHeaders::default(),
        problems: vec![],
        signature: embargo::core::signature::SignatureStatus::Unsigned,
        signed: None,
        encryption: embargo::core::signature::Encryption::None,
        sender_key: None,
        bounce: None,
        body_digest: format!("digest-of-{body}"),
        raw: format!("Subject: crash\r\n\r\n{body}").into_bytes(),
    }
}

fn outbox_mail(key: &str, incident: Option<IncidentId>, due: Timestamp) -> NewMail {
    NewMail {
        key: key.into(),
        kind: MailKind::SrcCopy,
        message_id: format!("{}@example.org", key.replace('/', ".")),
        incident,
        from: "security@example.org".into(),
        recipients: vec!["src@example.org".into()],
        subject: format!("about {key}"),
        bytes: format!("Subject: about {key}\r\n\r\nbody").into_bytes(),
        due_at: due,
    }
}

fn event(at: Timestamp, kind: EventKind) -> Event {
    Event {
        at,
        kind,
        actor: "ana@finder.example".into(),
        message_id: Some("m1@x".into()),
        detail: "d".into(),
        changes: vec![],
    }
}

fn query(message_id: &str, body: &str, mentioned: &[&str]) -> BatchQuery {
    BatchQuery {
        stored: vec![(message_id.into(), format!("digest-of-{body}"))],
        mentioned_ids: mentioned.iter().map(|s| s.to_string()).collect(),
        incidents: vec![id(1), id(9)],
        senders: vec!["ana@finder.example".into()],
        prefix: "EMB".into(),
        years: vec![2026],
        signatures: Vec::new(),
        ..BatchQuery::default()
    }
}

fn stored(b: &Batch, message_id: &str, body: &str) -> bool {
    b.stored
        .contains(&(message_id.to_owned(), format!("digest-of-{body}")))
}

/// Opens EMB-2026-0001 with one inbound mail and one outbox mail.
async fn open_first(store: &dyn Store, now: Timestamp) {
    let incident = Incident::open(id(1), "crash", None, None, now);
    store
        .record(&Intake {
            source: SourceRef {
                source: "test".into(),
                key: "k1".into(),
            },
            received_at: now,
            record: IntakeRecord::Filed {
                mail: Box::new(Inbound {
                    in_reply_to: vec!["parent@x".into()],
                    ..inbound("m1@x", "one")
                }),
                filing: Box::new(Filing::Opened(incident)),
                events: vec![
                    event(now, EventKind::Reported),
                    event(now, EventKind::SrcCopyQueued),
                ],
                outbox: vec![outbox_mail("EMB-2026-0001/src-copy", Some(id(1)), now)],
                auto_reply_to: Some("ana@finder.example".into()),
                lead_assigned: None,
                command: None,
            },
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn batch_context_reflects_what_is_filed() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T09:00:00Z");
        let empty = store.batch(&query("m1@x", "one", &["m1@x"])).await.unwrap();
        assert!(!stored(&empty, "m1@x", "one"), "{name}");
        assert_eq!(empty.next_seq.get(&2026), Some(&1), "{name}");
        assert!(
            empty.links.is_empty() && empty.incidents.is_empty(),
            "{name}"
        );
        assert!(empty.last_ack.is_empty(), "{name}");

        open_first(store.as_ref(), now).await;
        let same = store.batch(&query("m1@x", "one", &["m1@x"])).await.unwrap();
        assert!(
            stored(&same, "m1@x", "one"),
            "{name}: same id and body is a duplicate"
        );
        let edited = store
            .batch(&query("m1@x", "other body", &["m1@x"]))
            .await
            .unwrap();
        assert!(
            !stored(&edited, "m1@x", "other body"),
            "{name}: same id, new body is a new mail"
        );

        let reply = store
            .batch(&query(
                "m2@x",
                "two",
                &[
                    "m2@x",
                    "m1@x",
                    "EMB-2026-0001.src-copy@example.org",
                    "parent@x",
                    "nobody@x",
                ],
            ))
            .await
            .unwrap();
        assert_eq!(
            reply.links.get("m1@x"),
            Some(&id(1)),
            "{name}: inbound link"
        );
        assert_eq!(
            reply.links.get("EMB-2026-0001.src-copy@example.org"),
            Some(&id(1)),
            "{name}: the mail we sent is linked too"
        );
        assert_eq!(reply.links.len(), 2, "{name}");
        assert_eq!(
            reply.refs.get("parent@x"),
            Some(&id(1)),
            "{name}: what filed mail refers to leads to its incident"
        );
        assert_eq!(reply.refs.len(), 1, "{name}");
        assert!(
            reply.incidents.contains_key(&id(1)) && !reply.incidents.contains_key(&id(9)),
            "{name}"
        );
        assert_eq!(reply.next_seq.get(&2026), Some(&2), "{name}");
        assert_eq!(
            reply.last_ack.get("ana@finder.example"),
            Some(&now),
            "{name}"
        );

        let next_year = store
            .batch(&BatchQuery {
                years: vec![2027],
                ..query("m3@x", "three", &[])
            })
            .await
            .unwrap();
        assert_eq!(
            next_year.next_seq.get(&2027),
            Some(&1),
            "{name}: numbering restarts each year"
        );
    }
}

#[tokio::test]
async fn joined_mail_duplicates_and_quarantine_are_all_recorded() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T09:00:00Z");
        open_first(store.as_ref(), now).await;
        let later = now + SignedDuration::from_mins(30);
        let src = |key: &str| SourceRef {
            source: "test".into(),
            key: key.into(),
        };
        store
            .record(&Intake {
                source: src("k2"),
                received_at: later,
                record: IntakeRecord::Filed {
                    mail: Box::new(inbound("m2@x", "two")),
                    filing: Box::new(Filing::Joined {
                        incident: id(1),
                        via: "In-Reply-To <m1@x>".into(),
                        updated: None,
                    }),
                    events: vec![event(later, EventKind::MessageAdded)],
                    outbox: vec![],
                    auto_reply_to: None,
                    lead_assigned: None,
                    command: None,
                },
            })
            .await
            .unwrap();
        store
            .record(&Intake {
                source: src("k3"),
                received_at: later,
                record: IntakeRecord::Duplicate {
                    message_id: "m1@x".into(),
                    body_digest: "digest-of-one".into(),
                },
            })
            .await
            .unwrap();
        store
            .record(&Intake {
                source: src("k4"),
                received_at: later,
                record: IntakeRecord::Quarantined {
                    message_id: "q@quarantine".into(),
                    body_digest: "q".into(),
                    raw: b"\x00garbage".to_vec(),
                    reason: "no mail headers found".into(),
                    outbox: vec![outbox_mail("quarantine/q", None, later)],
                },
            })
            .await
            .unwrap();

        let rec = store.incident(&id(1)).await.unwrap().unwrap();
        assert_eq!(rec.incident.updated_at, later, "{name}");
        assert_eq!(rec.messages.len(), 2, "{name}");
        assert_eq!(
            rec.messages[1].joined_via.as_deref(),
            Some("In-Reply-To <m1@x>"),
            "{name}"
        );
        assert_eq!(
            rec.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [
                EventKind::Reported,
                EventKind::SrcCopyQueued,
                EventKind::MessageAdded
            ],
            "{name}"
        );
        assert_eq!(rec.outbox.len(), 1, "{name}");

        let q = store.quarantined().await.unwrap();
        assert_eq!(q.len(), 1, "{name}");
        assert_eq!(
            store.raw_message(q[0].id).await.unwrap().unwrap(),
            b"\x00garbage",
            "{name}"
        );
        assert_eq!(
            store
                .raw_message(rec.messages[0].id)
                .await
                .unwrap()
                .unwrap(),
            inbound("m1@x", "one").raw,
            "{name}"
        );

        let keys: Vec<String> = ["k1", "k2", "k3", "k4", "k5"].map(String::from).to_vec();
        let delivered = store.delivered_among("test", &keys).await.unwrap();
        assert_eq!(delivered.len(), 4, "{name}: {delivered:?}");
        let d = store.deliveries("test").await.unwrap();
        let outcomes: Vec<&str> = d.iter().map(|d| d.outcome.as_str()).collect();
        assert_eq!(
            outcomes,
            ["filed", "filed", "duplicate", "quarantined"],
            "{name}"
        );
        assert_eq!(
            d[2].message, rec.messages[0].id,
            "{name}: the duplicate points at the stored mail"
        );

        let c = store.counts().await.unwrap();
        assert_eq!(
            (
                c.incidents,
                c.messages,
                c.quarantined,
                c.deliveries,
                c.duplicates,
                c.events
            ),
            (1, 2, 1, 4, 1, 3),
            "{name}"
        );
        assert_eq!(c.outbox_pending, 2, "{name}");

        // The same source key twice is refused: a delivery is recorded once.
        let again = store
            .record(&Intake {
                source: src("k1"),
                received_at: later,
                record: IntakeRecord::Duplicate {
                    message_id: "m1@x".into(),
                    body_digest: "digest-of-one".into(),
                },
            })
            .await;
        assert!(again.is_err(), "{name}");
        assert_eq!(
            store.counts().await.unwrap(),
            c,
            "{name}: a failed record changes nothing"
        );
    }
}

#[tokio::test]
async fn the_outbox_is_claimed_with_a_lease_and_marked() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T09:00:00Z");
        open_first(store.as_ref(), now).await;
        let lease = SignedDuration::from_mins(5);

        // Nothing is due before its time.
        assert!(
            store
                .claim_due(now - SignedDuration::from_secs(1), lease, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        let claimed = store.claim_due(now, lease, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{name}");
        let mail = &claimed[0];
        assert_eq!(
            (mail.state, mail.attempts),
            (OutboxState::Sending, 1),
            "{name}"
        );
        assert_eq!(
            mail.bytes, b"Subject: about EMB-2026-0001/src-copy\r\n\r\nbody",
            "{name}"
        );
        // Claimed and leased: nobody else gets it...
        assert!(
            store
                .claim_due(now + SignedDuration::from_mins(4), lease, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        // ...until the lease runs out (the sender died).
        let reclaimed = store
            .claim_due(now + SignedDuration::from_mins(5), lease, 10)
            .await
            .unwrap();
        assert_eq!((reclaimed.len(), reclaimed[0].attempts), (1, 2), "{name}");

        store
            .mark_retry(
                mail.id,
                "421 try later",
                now + SignedDuration::from_mins(10),
            )
            .await
            .unwrap();
        assert!(
            store
                .claim_due(now + SignedDuration::from_mins(9), lease, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        let retried = store
            .claim_due(now + SignedDuration::from_mins(10), lease, 10)
            .await
            .unwrap();
        assert_eq!(
            retried[0].last_error.as_deref(),
            Some("421 try later"),
            "{name}"
        );

        store
            .mark_sent(mail.id, now + SignedDuration::from_mins(10), "file-1")
            .await
            .unwrap();
        let all = store.outbox().await.unwrap();
        assert_eq!(all[0].state, OutboxState::Sent, "{name}");
        assert_eq!(all[0].transport_id.as_deref(), Some("file-1"), "{name}");
        assert!(
            all[0].bytes.is_empty(),
            "{name}: listings leave the bytes out"
        );
        assert!(
            store
                .claim_due(now + SignedDuration::from_hours(24), lease, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}: sent is final"
        );

        // A permanent failure is final too.
        let now2 = now + SignedDuration::from_hours(1);
        store
            .record(&Intake {
                source: SourceRef {
                    source: "test".into(),
                    key: "k9".into(),
                },
                received_at: now2,
                record: IntakeRecord::Quarantined {
                    message_id: "q9".into(),
                    body_digest: "q9".into(),
                    raw: b"x".to_vec(),
                    reason: "r".into(),
                    outbox: vec![outbox_mail("quarantine/q9", None, now2)],
                },
            })
            .await
            .unwrap();
        let q = store.claim_due(now2, lease, 10).await.unwrap();
        store
            .mark_failed(q[0].id, "550 no such user")
            .await
            .unwrap();
        assert!(
            store
                .claim_due(now2 + SignedDuration::from_hours(24), lease, 10)
                .await
                .unwrap()
                .is_empty(),
            "{name}"
        );
        let c = store.counts().await.unwrap();
        assert_eq!(
            (c.outbox_sent, c.outbox_failed, c.outbox_pending),
            (1, 1, 0),
            "{name}"
        );
    }
}

#[tokio::test]
async fn enqueueing_the_same_mail_twice_is_a_no_op() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T09:00:00Z");
        open_first(store.as_ref(), now).await;
        store
            .record(&Intake {
                source: SourceRef {
                    source: "test".into(),
                    key: "k2".into(),
                },
                received_at: now,
                record: IntakeRecord::Filed {
                    mail: Box::new(inbound("m2@x", "two")),
                    filing: Box::new(Filing::Joined {
                        incident: id(1),
                        via: "v".into(),
                        updated: None,
                    }),
                    events: vec![],
                    outbox: vec![outbox_mail("EMB-2026-0001/src-copy", Some(id(1)), now)],
                    auto_reply_to: None,
                    lead_assigned: None,
                    command: None,
                },
            })
            .await
            .unwrap();
        assert_eq!(store.outbox().await.unwrap().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn the_event_log_is_append_only() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        open_first(store.as_ref(), t("2026-12-01T09:00:00Z")).await;
        // Whoever opens the database, even outside embargo, cannot rewrite
        // history.
        let attempts = [
            "UPDATE events SET detail = 'rewritten'",
            "DELETE FROM events",
        ];
        let n: i64 = match &b.place {
            Place::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                for sql in attempts {
                    let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
                    assert!(
                        err.to_string().contains("append-only"),
                        "{name} {sql}: {err}"
                    );
                }
                sqlx::query_scalar("SELECT COUNT(*) FROM events")
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
            Place::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                for sql in attempts {
                    let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
                    assert!(
                        err.to_string().contains("append-only"),
                        "{name} {sql}: {err}"
                    );
                }
                sqlx::query_scalar("SELECT COUNT(*) FROM events")
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(n, 2, "{name}");
    }
}

/// Fifty mails due at the same moment, two processes claiming at once:
/// each mail is claimed by exactly one of them.
#[tokio::test]
async fn concurrent_claims_never_take_the_same_mail() {
    for b in backends().await {
        let name = b.name;
        let now = t("2026-12-01T09:00:00Z");
        open_first(b.store.as_ref(), now).await;
        let incident = b.store.incident_state(&id(1)).await.unwrap().unwrap();
        let due = now + SignedDuration::from_hours(1);
        let mails: Vec<NewMail> = (0..50)
            .map(|n| outbox_mail(&format!("EMB-2026-0001/notice-{n}"), Some(id(1)), due))
            .collect();
        b.store.record_update(&incident, &[], &mails).await.unwrap();
        let lease = SignedDuration::from_mins(5);
        let claimers: Vec<Arc<dyn Store>> = vec![
            b.store.clone(),
            b.open_again(Schema::Current).await.unwrap(),
            b.open_again(Schema::Current).await.unwrap(),
        ];
        let tasks: Vec<_> = claimers
            .into_iter()
            .map(|store| {
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let got = store.claim_due(due, lease, 3).await.unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|m| m.key));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "{name}: a mail was claimed twice");
        // The acknowledgement's SRC copy of open_first is due too.
        assert_eq!(all.len(), 51, "{name}");
    }
}

#[tokio::test]
async fn a_schema_newer_than_this_build_is_refused() {
    for b in backends().await {
        let name = b.name;
        let known = b.store.schema_version().await.unwrap();
        assert!(known >= 3, "{name}: {known}");
        let sql = "INSERT INTO _sqlx_migrations \
                   (version, description, success, checksum, execution_time) \
                   VALUES (999, 'from the future', TRUE, x'00', 0)";
        match &b.place {
            Place::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            Place::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                sqlx::query(
                    "INSERT INTO _sqlx_migrations \
                     (version, description, success, checksum, execution_time) \
                     VALUES (999, 'from the future', TRUE, '\\x00'::bytea, 0)",
                )
                .execute(&pool)
                .await
                .unwrap();
            }
        }
        for schema in [Schema::Current, Schema::Migrate] {
            match b.open_again(schema).await {
                Err(e @ StoreError::SchemaTooNew { found: 999, .. }) => {
                    assert!(
                        e.to_string().contains("newer than this embargo knows"),
                        "{e}"
                    )
                }
                Err(e) => panic!("{name}: {e}"),
                Ok(_) => panic!("{name}: a newer schema was accepted"),
            }
        }
    }
}

#[tokio::test]
async fn postgres_waits_for_migrate_and_sqlite_migrates_itself() {
    let db = TestDb::create().await;
    match PostgresStore::connect(&db.url, 2, Schema::Current).await {
        Err(e @ StoreError::SchemaBehind { found: 0, .. }) => {
            assert!(e.to_string().contains("embargo migrate"), "{e}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("an empty database was used without `migrate`"),
    }
    let migrated = PostgresStore::connect(&db.url, 2, Schema::Migrate)
        .await
        .unwrap();
    let version = migrated.schema_version().await.unwrap();
    let again = PostgresStore::connect(&db.url, 2, Schema::Current)
        .await
        .unwrap();
    assert_eq!(again.schema_version().await.unwrap(), version);

    let dir = tempfile::tempdir().unwrap();
    // What every command opens: SQLite is brought up to date on the way.
    let sqlite = embargo::store::open(&embargo::config::StoreSettings::Sqlite {
        path: dir.path().join("new.db"),
    })
    .await
    .unwrap();
    assert_eq!(sqlite.schema_version().await.unwrap(), version);
}

/// A state with something in every table: incidents, filed, duplicate and
/// quarantined mail, events, sent and pending outbox rows, checkpoints.
async fn busy_state(store: &dyn Store) {
    let now = t("2026-12-01T09:00:00Z");
    open_first(store, now).await;
    let later = now + SignedDuration::from_mins(3);
    store
        .record(&Intake {
            source: SourceRef {
                source: "imap:INBOX".into(),
                key: "0000000001:0000000002".into(),
            },
            received_at: later,
            record: IntakeRecord::Filed {
                mail: Box::new(Inbound {
                    in_reply_to: vec!["m1@x".into()],
                    raw: vec![0, 159, 146, 150, b'\r', b'\n'],
                    signature: SignatureStatus::Valid(Made {
                        fingerprint: "A".repeat(40),
                        signed_at: now,
                        digest: "sig-digest".into(),
                        also: vec![],
                        binary: false,
                    }),
                    ..inbound("m2@x", "two")
                }),
                filing: Box::new(Filing::Joined {
                    incident: id(1),
                    via: "in-reply-to".into(),
                    updated: None,
                }),
                events: vec![event(later, EventKind::Reported)],
                outbox: vec![],
                auto_reply_to: None,
                lead_assigned: Some("alice@example.org".into()),
                command: None,
            },
        })
        .await
        .unwrap();
    store
        .record(&Intake {
            source: SourceRef {
                source: "imap:INBOX".into(),
                key: "0000000001:0000000003".into(),
            },
            received_at: later,
            record: IntakeRecord::Quarantined {
                message_id: "broken@x".into(),
                body_digest: "d-broken".into(),
                raw: b"\xff\xfe not mail".to_vec(),
                reason: "unreadable".into(),
                outbox: vec![outbox_mail("quarantine/broken", None, later)],
            },
        })
        .await
        .unwrap();
    let claimed = store
        .claim_due(later, SignedDuration::from_mins(5), 1)
        .await
        .unwrap();
    store
        .mark_sent(claimed[0].id, later, "250 2.0.0 queued as ABC")
        .await
        .unwrap();
}

async fn export_of(store: &dyn Store) -> String {
    let mut out = Vec::new();
    embargo::store::dump::export(store, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn export_from_sqlite_import_into_postgres_export_again_is_identical() {
    let from = sqlite().await;
    busy_state(from.store.as_ref()).await;
    let first = export_of(from.store.as_ref()).await;
    for table in embargo::store::dump::TABLES {
        assert!(
            first.contains(&format!("\"table\":\"{}\"", table.name)),
            "the test state leaves {} empty: {first}",
            table.name
        );
    }

    let to = postgres().await;
    let rows = embargo::store::dump::import(to.store.as_ref(), first.as_bytes())
        .await
        .unwrap();
    assert_eq!(rows as usize, first.lines().count() - 1);
    let second = export_of(to.store.as_ref()).await;
    assert_eq!(first, second);
    assert_eq!(
        from.store.counts().await.unwrap(),
        to.store.counts().await.unwrap()
    );

    // Importing twice would duplicate everything: refused, nothing changed.
    let again = embargo::store::dump::import(to.store.as_ref(), first.as_bytes()).await;
    assert!(matches!(again, Err(StoreError::NotEmpty(_))), "{again:?}");
    assert_eq!(export_of(to.store.as_ref()).await, first);

    // The imported database goes on: new rows get new ids, the raw bytes
    // came across intact, the checkpoint and the used signature hold.
    let next = t("2026-12-02T09:00:00Z");
    let incident = to.store.incident_state(&id(1)).await.unwrap().unwrap();
    to.store
        .record_update(
            &incident,
            &[event(next, EventKind::Reported)],
            &[outbox_mail("after-import", Some(id(1)), next)],
        )
        .await
        .unwrap();
    let record = to.store.incident(&id(1)).await.unwrap().unwrap();
    assert_eq!(record.events.len(), 4);
    let m2 = record
        .messages
        .iter()
        .find(|m| m.message_id == "m2@x")
        .unwrap();
    assert_eq!(
        to.store.raw_message(m2.id).await.unwrap().unwrap(),
        vec![0, 159, 146, 150, b'\r', b'\n']
    );
    assert_eq!(
        to.store
            .last_delivered("imap:INBOX", "0000000001:")
            .await
            .unwrap()
            .as_deref(),
        Some("0000000001:0000000003")
    );
    let mut q = query("m9@x", "nine", &[]);
    q.signatures = vec!["sig-digest".into()];
    let known = to.store.batch(&q).await.unwrap();
    assert!(known.spent.contains("sig-digest"));
    assert_eq!(known.last_lead.as_deref(), Some("alice@example.org"));

    // And back: PostgreSQL to a new SQLite file, identical again.
    let back = sqlite().await;
    let fresh = SqliteStore::open(&match &back.place {
        Place::Sqlite(p) => p.with_file_name("back.db"),
        Place::Postgres(_) => unreachable!(),
    })
    .await
    .unwrap();
    let third = export_of(to.store.as_ref()).await;
    embargo::store::dump::import(&fresh, third.as_bytes())
        .await
        .unwrap();
    assert_eq!(export_of(&fresh).await, third);
}

#[tokio::test]
async fn a_damaged_export_imports_nothing() {
    let from = sqlite().await;
    busy_state(from.store.as_ref()).await;
    let good = export_of(from.store.as_ref()).await;
    let mut lines: Vec<&str> = good.lines().collect();
    let last = lines.len() - 1;
    lines[last] = r#"{"table":"service_state","row":{"key":5}}"#;
    let bad = lines.join("\n");
    let to = postgres().await;
    let e = embargo::store::dump::import(to.store.as_ref(), bad.as_bytes())
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&format!("line {}", last + 1)), "{e}");
    assert!(e.to_string().contains("service_state.key"), "{e}");
    assert_eq!(to.store.counts().await.unwrap(), Default::default());
}

/// The lease lives as long as its database session: when the server ends
/// it (the holder's machine went silent), the holder learns it has lost
/// the lease and another replica can take it.
#[tokio::test]
async fn a_lost_postgres_session_loses_the_ingest_lease() {
    let b = postgres().await;
    let mut lock = b.store.lock_ingest().await.unwrap();
    assert!(lock.still_held().await);
    let other = b.open_again(Schema::Current).await.unwrap();
    assert!(matches!(
        other.lock_ingest().await,
        Err(StoreError::Busy(_))
    ));
    let Place::Postgres(url) = &b.place else {
        unreachable!()
    };
    let ended = common::postgres::end_lease_sessions(url).await;
    assert_eq!(ended, vec![true]);
    let mut taken = None;
    for _ in 0..50 {
        if let Ok(l) = other.lock_ingest().await {
            taken = Some(l);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        taken.is_some(),
        "the lease was not released with its session"
    );
    assert!(!lock.still_held().await);
}

#[tokio::test]
async fn only_one_process_takes_mail_in() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let lock = store.lock_ingest().await.unwrap();
        let other = b.open_again(Schema::Current).await.unwrap();
        // flock is per open file and the advisory lock per session: a
        // second store in this process conflicts too.
        assert!(
            matches!(other.lock_ingest().await, Err(StoreError::Busy(_))),
            "{name}"
        );
        drop(lock);
        assert!(other.lock_ingest().await.is_ok(), "{name}");
    }
}

#[tokio::test]
async fn the_checkpoint_is_the_greatest_key_under_a_prefix() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T10:00:00Z");
        for (n, key) in [
            "0000000007:0000000009",
            "0000000007:0000000010",
            "0000000008:0000000002",
            "0000000007:0000000003",
        ]
        .iter()
        .enumerate()
        {
            store
                .record(&Intake {
                    source: SourceRef {
                        source: "imap:box".into(),
                        key: (*key).into(),
                    },
                    received_at: now,
                    record: IntakeRecord::Quarantined {
                        message_id: format!("q{n}@x"),
                        body_digest: format!("d{n}"),
                        raw: b"x".to_vec(),
                        reason: "test".into(),
                        outbox: vec![],
                    },
                })
                .await
                .unwrap();
        }
        let last = |prefix: &'static str| {
            let store = store.clone();
            async move { store.last_delivered("imap:box", prefix).await.unwrap() }
        };
        assert_eq!(
            last("0000000007:").await.as_deref(),
            Some("0000000007:0000000010"),
            "{name}"
        );
        assert_eq!(
            last("0000000008:").await.as_deref(),
            Some("0000000008:0000000002"),
            "{name}"
        );
        assert_eq!(last("0000000009:").await, None, "{name}");
        assert_eq!(
            store.last_delivered("other", "0000000007:").await.unwrap(),
            None,
            "{name}: another source's keys do not count"
        );
    }
}

#[tokio::test]
async fn a_claim_is_given_back_only_by_its_holder_and_appends_leave_the_incident_alone() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T09:00:00Z");
        open_first(store.as_ref(), now).await;
        assert_eq!(store.next_due().await.unwrap(), Some(now), "{name}");
        let lease = SignedDuration::from_mins(5);
        let mine = store.claim_due(now, lease, 10).await.unwrap();
        assert_eq!(
            store.next_due().await.unwrap(),
            None,
            "{name}: claimed is not waiting"
        );
        assert_eq!(mine.len(), 1, "{name}");
        // Expired, and claimed by another sender since.
        let later = now + SignedDuration::from_mins(6);
        let theirs = store.claim_due(later, lease, 10).await.unwrap();
        assert_eq!(theirs.len(), 1, "{name}");
        store.release(mine[0].id, now + lease).await.unwrap();
        let row = store.outbox().await.unwrap().remove(0);
        assert_eq!(
            (row.state, row.attempts),
            (OutboxState::Sending, 2),
            "{name}: not mine to give back"
        );
        store.release(theirs[0].id, later + lease).await.unwrap();
        let row = store.outbox().await.unwrap().remove(0);
        assert_eq!(
            (row.state, row.attempts),
            (OutboxState::Pending, 1),
            "{name}"
        );

        let before = store.incident_state(&id(1)).await.unwrap().unwrap();
        store
            .append(
                &id(1),
                &[event(later, EventKind::DeliveryFailed)],
                &[outbox_mail("EMB-2026-0001/alert", Some(id(1)), later)],
                later,
            )
            .await
            .unwrap();
        let after = store.incident(&id(1)).await.unwrap().unwrap();
        assert_eq!(after.incident.updated_at, before.updated_at, "{name}");
        assert_eq!(after.events.len(), 3, "{name}");
        assert_eq!(after.outbox.len(), 2, "{name}");
    }
}

/// An incident `n` opened by one new mail, as the intake decides it.
fn opening(n: u32, key: &str, message_id: &str, now: Timestamp) -> Intake {
    Intake {
        source: SourceRef {
            source: "test".into(),
            key: key.into(),
        },
        received_at: now,
        record: IntakeRecord::Filed {
            mail: Box::new(inbound(message_id, key)),
            filing: Box::new(Filing::Opened(Incident::open(
                id(n),
                "crash",
                None,
                None,
                now,
            ))),
            events: vec![event(now, EventKind::Reported)],
            outbox: vec![outbox_mail(
                &format!("{}/src-copy", id(n)),
                Some(id(n)),
                now,
            )],
            auto_reply_to: None,
            lead_assigned: None,
            command: None,
        },
    }
}

/// Two processes that each believe they hold the ingest lease (the first
/// lost it without knowing: its session ended, its machine froze): the one
/// that took it last writes, and the other is refused whole, before any
/// row. So one incident number is never given twice, and no mail is kept
/// aside or marked delivered because of the race.
#[tokio::test]
async fn a_holder_that_lost_the_ingest_lease_writes_nothing() {
    for b in backends().await {
        let name = b.name;
        let now = t("2026-12-01T10:00:00Z");
        let old = b.store.clone();
        let old_lock = old.lock_ingest().await.unwrap();
        let first = old_lock.epoch();
        drop(old_lock);
        let new = b.open_again(Schema::Current).await.unwrap();
        let new_lock = new.lock_ingest().await.unwrap();
        assert_eq!(new_lock.epoch(), first + 1, "{name}");
        new.record(&opening(1, "new-1", "n1@x", now)).await.unwrap();
        let before = new.counts().await.unwrap();

        // What the old holder decided before it lost the lease: the same
        // next number, and the one after it.
        for (n, key) in [(1, "old-1"), (2, "old-2")] {
            let e = old
                .record(&opening(n, key, &format!("{key}@x"), now))
                .await
                .unwrap_err();
            assert!(
                matches!(e, StoreError::Fenced { ours, current } if ours == first && current == first + 1),
                "{name}: {e:?}"
            );
            assert!(
                e.to_string()
                    .contains("another embargo took the ingest lease"),
                "{e}"
            );
        }
        let e = old
            .record_batch(&[opening(3, "old-3", "old-3@x", now)])
            .await
            .unwrap_err();
        assert!(e.is_fenced(), "{name}: {e:?}");
        let mut moved = Incident::open(id(1), "crash", None, None, now);
        moved.title = "changed by the old holder".into();
        let e = old.record_update(&moved, &[], &[]).await.unwrap_err();
        assert!(e.is_fenced(), "{name}: {e:?}");

        assert_eq!(new.counts().await.unwrap(), before, "{name}");
        assert_eq!(
            new.incident_state(&id(1)).await.unwrap().unwrap().title,
            "crash",
            "{name}"
        );
        assert!(
            new.deliveries("test")
                .await
                .unwrap()
                .iter()
                .all(|d| !d.key.starts_with("old")),
            "{name}"
        );

        // The new holder goes; the old process takes the lease again and
        // writes with the newest epoch.
        drop(new_lock);
        let again = old.lock_ingest().await.unwrap();
        assert_eq!(again.epoch(), first + 2, "{name}");
        old.record(&opening(2, "old-2", "old-2@x", now))
            .await
            .unwrap();
        let e = new
            .record(&opening(3, "new-3", "n3@x", now))
            .await
            .unwrap_err();
        assert!(e.is_fenced(), "{name}: {e:?}");
    }
}

/// The weekly digest belongs to no incident: queued once per key, and the
/// scheduler can ask whether it was, on either backend.
#[tokio::test]
async fn mail_of_no_incident_is_queued_once_per_key() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-07T09:00:00Z");
        assert!(
            !store.outbox_has("digest/2026-W50").await.unwrap(),
            "{name}"
        );
        let mut digest = outbox_mail("digest/2026-W50", None, now);
        digest.kind = MailKind::Digest;
        store.enqueue(&[digest.clone()], now).await.unwrap();
        store.enqueue(&[digest], now).await.unwrap();
        assert!(store.outbox_has("digest/2026-W50").await.unwrap(), "{name}");
        assert!(
            !store.outbox_has("digest/2026-W51").await.unwrap(),
            "{name}"
        );
        let rows = store.outbox().await.unwrap();
        assert_eq!(rows.len(), 1, "{name}");
        assert_eq!(
            (rows[0].kind, rows[0].incident.as_ref()),
            (MailKind::Digest, None),
            "{name}"
        );
    }
}

/// A bounce marks the mail it is about, whatever the sender is doing with
/// it at that moment, and that mail is never claimed again; the bounce
/// itself is kept outside any incident, and the incident's log says so.
#[tokio::test]
async fn a_bounced_mail_is_marked_kept_and_never_sent_again() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-01T09:00:00Z");
        open_first(store.as_ref(), now).await;
        let ack = NewMail {
            kind: MailKind::Acknowledgement,
            recipients: vec!["ana@finder.example".into()],
            ..outbox_mail("EMB-2026-0001/ack", Some(id(1)), now)
        };
        store.append(&id(1), &[], &[ack], now).await.unwrap();
        let rows = store.outbox().await.unwrap();
        let tokens: Vec<&str> = rows
            .iter()
            .map(|m| m.bounce_token.as_deref().expect("every row has a token"))
            .collect();
        assert!(
            tokens
                .iter()
                .all(|t| t.len() == 24 && t.bytes().all(|c| c.is_ascii_hexdigit())),
            "{name}: {tokens:?}"
        );
        assert_ne!(tokens[0], tokens[1], "{name}");
        let (copy, ack) = (rows[0].clone(), rows[1].clone());

        // What matching needs: the rows by token and by Message-ID, and
        // their incident.
        let known = store
            .batch(&BatchQuery {
                bounce_tokens: vec![tokens[1].to_owned()],
                bounced_ids: vec![copy.message_id.clone()],
                ..BatchQuery::default()
            })
            .await
            .unwrap();
        let mut found: Vec<(i64, MailKind, bool)> = known
            .sent
            .iter()
            .map(|s| (s.id, s.kind, s.bounced))
            .collect();
        found.sort_by_key(|f| f.0);
        assert_eq!(
            found,
            [
                (copy.id, MailKind::SrcCopy, false),
                (ack.id, MailKind::Acknowledgement, false)
            ],
            "{name}"
        );
        assert!(known.incidents.contains_key(&id(1)), "{name}");

        // Both claimed; the SRC copy fails for now and waits for a retry.
        let lease = SignedDuration::from_mins(5);
        assert_eq!(store.claim_due(now, lease, 10).await.unwrap().len(), 2);
        store
            .mark_retry(
                copy.id,
                "421 try later",
                now + SignedDuration::from_secs(30),
            )
            .await
            .unwrap();
        let bounce = |n: u32, row: i64, words: &str| Intake {
            source: SourceRef {
                source: "test".into(),
                key: format!("bounce{n}"),
            },
            received_at: now + SignedDuration::from_mins(i64::from(n)),
            record: IntakeRecord::Bounced {
                mail: Box::new(Inbound {
                    from: Some(Mailbox::new(None, "MAILER-DAEMON@mx.finder.example")),
                    ..inbound(&format!("dsn{n}@mx.finder.example"), &format!("dsn {n}"))
                }),
                reason: format!("a bounce of outbox mail {row}: {words}"),
                bounced: Some((row, words.to_owned())),
                events: vec![(id(1), event(now, EventKind::DeliveryFailed))],
                outbox: vec![outbox_mail(
                    &format!("undelivered/bounce-{n}"),
                    Some(id(1)),
                    now,
                )],
            },
        };
        store
            .record_batch(&[
                bounce(1, ack.id, "550 5.1.1 user unknown"),
                bounce(2, copy.id, "550 mailbox full"),
            ])
            .await
            .unwrap();
        // The sender finishes the send it had in hand: still bounced.
        store.mark_sent(ack.id, now, "queued as 1").await.unwrap();
        store
            .record(&bounce(3, ack.id, "550 5.1.1 still unknown"))
            .await
            .unwrap();

        let rows = store.outbox().await.unwrap();
        let row = |rid: i64| rows.iter().find(|m| m.id == rid).unwrap();
        assert_eq!(row(ack.id).state, OutboxState::Bounced, "{name}");
        assert_eq!(row(copy.id).state, OutboxState::Bounced, "{name}");
        assert_eq!(
            row(ack.id).last_error.as_deref(),
            Some("550 5.1.1 user unknown; 550 5.1.1 still unknown"),
            "{name}: a second bounce adds its words"
        );
        assert_eq!(
            row(ack.id).bounced_at,
            Some(now + SignedDuration::from_mins(1))
        );
        // Never claimed again, however late.
        let later = now + SignedDuration::from_hours(24);
        let claimed = store.claim_due(later, lease, 10).await.unwrap();
        assert!(
            claimed.iter().all(|m| m.id != ack.id && m.id != copy.id),
            "{name}: {claimed:?}"
        );
        // The bounces: kept, outside the incident; on its log.
        let kept = store.quarantined().await.unwrap();
        assert_eq!(kept.len(), 3, "{name}");
        assert!(kept.iter().all(|m| {
            m.incident.is_none()
                && m.quarantine_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("a bounce of outbox mail"))
        }));
        assert_eq!(
            kept[0].from.as_ref().unwrap().email,
            "MAILER-DAEMON@mx.finder.example"
        );
        let record = store.incident(&id(1)).await.unwrap().unwrap();
        assert_eq!(
            record
                .events
                .iter()
                .filter(|e| e.kind == EventKind::DeliveryFailed)
                .count(),
            3,
            "{name}"
        );
        assert_eq!(store.counts().await.unwrap().incidents, 1, "{name}");
        let bounced_now = store
            .batch(&BatchQuery {
                bounce_tokens: vec![tokens[1].to_owned()],
                ..BatchQuery::default()
            })
            .await
            .unwrap();
        assert!(bounced_now.sent[0].bounced, "{name}");
    }
}

/// What a metrics scrape reads: outbox mails and incidents by state, and
/// when the oldest waiting mail first fell due: a retry moves the mail's
/// next attempt on, not the moment it became late.
#[tokio::test]
async fn the_gauges_count_by_state_and_a_retry_does_not_make_a_late_mail_look_new() {
    for b in backends().await {
        let (name, store) = (b.name, b.store.clone());
        let now = t("2026-12-07T09:00:00Z");
        let empty = store.gauges().await.unwrap();
        assert_eq!(empty.oldest_due, None, "{name}");
        open_first(store.as_ref(), now).await;
        store
            .enqueue(
                &[
                    outbox_mail("late", None, now),
                    outbox_mail("later", None, t("2026-12-09T16:00:00Z")),
                ],
                now,
            )
            .await
            .unwrap();
        let claimed = store
            .claim_due(t("2026-12-07T09:01:00Z"), SignedDuration::from_mins(5), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 2, "{name}: the SRC copy and the late one");
        for m in &claimed {
            if m.key == "late" {
                store
                    .mark_retry(m.id, "421 try later", t("2026-12-07T10:00:00Z"))
                    .await
                    .unwrap();
            } else {
                store
                    .mark_sent(m.id, t("2026-12-07T09:01:00Z"), "queued as 1")
                    .await
                    .unwrap();
            }
        }
        let g = store.gauges().await.unwrap();
        assert_eq!(g.oldest_due, Some(now), "{name}: the retry moved it");
        let mut outbox = g.outbox.clone();
        outbox.sort_by_key(|(s, _)| s.as_str());
        assert_eq!(
            outbox,
            [(OutboxState::Pending, 2), (OutboxState::Sent, 1)],
            "{name}"
        );
        assert_eq!(
            g.incidents,
            [(embargo::core::incident::State::Reported, 1)],
            "{name}"
        );
    }
}
