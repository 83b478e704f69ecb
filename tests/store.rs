//! The `Store` contract, written against `dyn Store` so that every backend
//! runs the same suite. Today: SQLite.

use std::sync::Arc;

use embargo::core::event::{Event, EventKind};
use embargo::core::inbound::{AutoReplyHeaders, Inbound, Mailbox, TextSource};
use embargo::core::incident::Incident;
use embargo::core::incident_id::IncidentId;
use embargo::core::mail_kind::MailKind;
use embargo::store::{
    Filing, Intake, IntakeQuery, IntakeRecord, NewMail, OutboxState, SourceRef, SqliteStore, Store,
    StoreError,
};
use jiff::{SignedDuration, Timestamp};

async fn backends() -> Vec<(&'static str, Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("embargo.db"))
        .await
        .unwrap();
    vec![("sqlite", Arc::new(sqlite), dir)]
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
        signed_subject: None,
        patches: vec![],
        encryption: embargo::core::signature::Encryption::None,
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

fn query(message_id: &str, body: &str, mentioned: &[&str]) -> IntakeQuery {
    IntakeQuery {
        message_id: message_id.into(),
        body_digest: format!("digest-of-{body}"),
        mentioned_ids: mentioned.iter().map(|s| s.to_string()).collect(),
        tags: vec![id(1), id(9)],
        sender: Some("ana@finder.example".into()),
        prefix: "EMB".into(),
        year: 2026,
        signature_digest: None,
        named_incidents: vec![],
    }
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
                mail: Box::new(inbound("m1@x", "one")),
                filing: Box::new(Filing::Opened(incident)),
                events: vec![
                    event(now, EventKind::Reported),
                    event(now, EventKind::SrcCopyQueued),
                ],
                outbox: vec![outbox_mail("EMB-2026-0001/src-copy", Some(id(1)), now)],
                auto_reply_to: Some("ana@finder.example".into()),
                accepted_signature: None,
                lead_assigned: None,
            },
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn intake_context_reflects_what_is_filed() {
    for (name, store, _dir) in backends().await {
        let now = t("2026-12-01T09:00:00Z");
        let empty = store
            .intake_context(&query("m1@x", "one", &["m1@x"]))
            .await
            .unwrap();
        assert!(!empty.already_stored, "{name}");
        assert_eq!(empty.next_seq, 1, "{name}");
        assert!(
            empty.known.messages.is_empty() && empty.known.incidents.is_empty(),
            "{name}"
        );
        assert_eq!(empty.last_ack_to_sender, None, "{name}");

        open_first(store.as_ref(), now).await;
        let same = store
            .intake_context(&query("m1@x", "one", &["m1@x"]))
            .await
            .unwrap();
        assert!(
            same.already_stored,
            "{name}: same id and body is a duplicate"
        );
        let edited = store
            .intake_context(&query("m1@x", "other body", &["m1@x"]))
            .await
            .unwrap();
        assert!(
            !edited.already_stored,
            "{name}: same id, new body is a new mail"
        );

        let reply = store
            .intake_context(&query(
                "m2@x",
                "two",
                &[
                    "m2@x",
                    "m1@x",
                    "EMB-2026-0001.src-copy@example.org",
                    "nobody@x",
                ],
            ))
            .await
            .unwrap();
        assert_eq!(
            reply.known.messages.get("m1@x"),
            Some(&id(1)),
            "{name}: inbound link"
        );
        assert_eq!(
            reply
                .known
                .messages
                .get("EMB-2026-0001.src-copy@example.org"),
            Some(&id(1)),
            "{name}: the mail we sent is linked too"
        );
        assert_eq!(reply.known.messages.len(), 2, "{name}");
        assert!(
            reply.known.incidents.contains(&id(1)) && !reply.known.incidents.contains(&id(9)),
            "{name}"
        );
        assert_eq!(reply.next_seq, 2, "{name}");
        assert_eq!(reply.last_ack_to_sender, Some(now), "{name}");

        let next_year = store
            .intake_context(&IntakeQuery {
                year: 2027,
                ..query("m3@x", "three", &[])
            })
            .await
            .unwrap();
        assert_eq!(
            next_year.next_seq, 1,
            "{name}: numbering restarts each year"
        );
    }
}

#[tokio::test]
async fn joined_mail_duplicates_and_quarantine_are_all_recorded() {
    for (name, store, _dir) in backends().await {
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
                    accepted_signature: None,
                    lead_assigned: None,
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

        let keys = store.delivered_keys("test").await.unwrap();
        assert_eq!(keys.len(), 4, "{name}");
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
    for (name, store, _dir) in backends().await {
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
    for (name, store, _dir) in backends().await {
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
                    accepted_signature: None,
                    lead_assigned: None,
                },
            })
            .await
            .unwrap();
        assert_eq!(store.outbox().await.unwrap().len(), 1, "{name}");
    }
}

#[tokio::test]
async fn the_event_log_is_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("embargo.db");
    let store = SqliteStore::open(&path).await.unwrap();
    open_first(&store, t("2026-12-01T09:00:00Z")).await;
    drop(store);
    // Whoever opens the file, even outside embargo, cannot rewrite history.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        "UPDATE events SET detail = 'rewritten'",
        "DELETE FROM events",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn only_one_process_takes_mail_in() {
    for (name, store, dir) in backends().await {
        let lock = store.lock_ingest().await.unwrap();
        let other = SqliteStore::open(&dir.path().join("embargo.db"))
            .await
            .unwrap();
        // flock is per open file: a second open in this process conflicts too.
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
    for (name, store, _dir) in backends().await {
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
