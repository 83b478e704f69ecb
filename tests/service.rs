//! The ingest and send passes, with a simulated clock, on real adapters.

mod common;

use std::sync::Arc;

use common::*;
use embargo::clock::{Clock, ManualClock};
use embargo::config;
use embargo::crypto::Crypto;
use embargo::keyring;
use embargo::service::{Service, never_stop};
use embargo::sink::FileSink;
use embargo::source::Maildir;
use embargo::store::{IngestLock, OutboxState, SqliteStore, Store};
use jiff::{SignedDuration, Timestamp};

/// The service on a site's Maildir and database with a clock set to
/// `now`, wired as `embargo run` wires it.
struct Rig {
    settings: Arc<config::Settings>,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    service: Service,
    source: Maildir,
    lease: IngestLock,
}

async fn rig(site: &Site, now: Timestamp) -> Rig {
    let settings = Arc::new(config::load(&site.config()).unwrap().settings);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&site.path("embargo.db")).await.unwrap());
    let clock = Arc::new(ManualClock::new(now));
    let keys = keyring::load(&settings, now).unwrap();
    let service = Service::new(
        settings.clone(),
        store.clone(),
        clock.clone(),
        Crypto::new(keys.pgp),
    );
    Rig {
        settings,
        lease: store.lock_ingest().await.unwrap(),
        store,
        clock,
        service,
        source: Maildir::new(&site.path("maildir")),
    }
}

#[tokio::test]
async fn mail_that_cannot_be_written_waits_and_goes_later() {
    let site = Site::new();
    site.deliver(&fixture("mail/report.eml"));
    let start: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let Rig {
        store,
        clock,
        service,
        mut source,
        mut lease,
        ..
    } = rig(&site, start).await;
    let outbox = site.path("outbox");
    let sink = FileSink::new(&outbox).unwrap();
    let stop = never_stop();

    // The outbox directory disappears behind the sink's back.
    std::fs::remove_dir(&outbox).unwrap();
    std::fs::write(&outbox, "not a directory").unwrap();
    let (ingested, sent) = service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    assert_eq!(ingested.opened.len(), 1);
    // The first failure ends the pass: the other mail is not tried into
    // a sink that just failed, and waits, due, for the next one.
    assert_eq!((sent.sent, sent.retrying), (0, 1));
    let waiting = store.outbox().await.unwrap();
    assert!(waiting.iter().all(|m| m.state == OutboxState::Pending));
    let failed = waiting.iter().find(|m| m.last_error.is_some()).unwrap();
    let untried = waiting.iter().find(|m| m.last_error.is_none()).unwrap();
    assert_eq!((failed.attempts, untried.attempts), (1, 0));
    assert_eq!(untried.due_at, start);
    let retry_at = failed.due_at;
    assert!(retry_at > start, "a retry waits");

    // Repaired, but before the retry is due: only the untried mail goes.
    std::fs::remove_file(&outbox).unwrap();
    std::fs::create_dir(&outbox).unwrap();
    clock.set(retry_at - SignedDuration::from_secs(1));
    assert_eq!(service.send_due(&sink, &stop).await.unwrap().sent, 1);
    clock.set(retry_at);
    let sent = service.send_due(&sink, &stop).await.unwrap();
    assert_eq!(sent.sent, 1);
    assert_eq!(sent_mail(&outbox).len(), 2);
    let done = store.outbox().await.unwrap();
    let mut attempts: Vec<u32> = done.iter().map(|m| m.attempts).collect();
    attempts.sort();
    assert_eq!(attempts, [1, 2]);
    assert!(done.iter().all(|m| m.state == OutboxState::Sent));

    let c = store.counts().await.unwrap();
    assert_eq!(
        (c.outbox_sent, c.outbox_failed, c.outbox_pending),
        (2, 0, 0)
    );
}

#[tokio::test]
async fn a_stop_request_ends_the_pass_between_mails() {
    let site = Site::new();
    for i in 0..5 {
        site.deliver(&mail(
            "a@example.com",
            "x",
            &format!("m{i}@example.com"),
            "",
        ));
    }
    let now: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let Rig {
        service,
        mut source,
        mut lease,
        ..
    } = rig(&site, now).await;
    let (tx, rx) = tokio::sync::watch::channel(true);
    let report = service.ingest(&mut source, &rx, &mut lease).await.unwrap();
    assert_eq!(report.seen, 0, "asked to stop before the first mail");
    assert_eq!(site.files("maildir/new").len(), 5, "nothing was touched");
    tx.send(false).unwrap();
    let report = service.ingest(&mut source, &rx, &mut lease).await.unwrap();
    assert_eq!((report.seen, report.opened.len()), (5, 5));
}

#[tokio::test]
async fn missed_deadlines_send_one_reminder_each() {
    let site = Site::with_config(&BASE_CONFIG.replace(
        "rotation = [\"alice@example.org\", \"bob@example.net\"]",
        "rotation = [\"alice@example.org\"]",
    ));
    site.deliver(&fixture("mail/report.eml"));
    // Reported on a Friday morning.
    let friday: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
    let Rig {
        store,
        clock,
        service,
        mut source,
        mut lease,
        ..
    } = rig(&site, friday).await;
    let sink = FileSink::new(&site.path("outbox")).unwrap();
    let stop = never_stop();
    service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    let reminders = || {
        site.outbox()
            .into_iter()
            .filter(|m| m.subject.contains("Reminder"))
            .map(|m| (m.message_id.clone(), m.envelope_to.clone()))
            .collect::<Vec<_>>()
    };
    assert!(reminders().is_empty());

    // Saturday: a day without a Fix Team.
    clock.set(friday + SignedDuration::from_hours(24));
    service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    assert_eq!(reminders().len(), 1);
    // Monday: one business day without an answer; the Fix Team one is not repeated.
    clock.set("2026-11-30T10:00:00Z".parse().unwrap());
    service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    let sent = reminders();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent.iter()
            .any(|(id, to)| id.contains("reminder.first-response") && to == &["alice@example.org"])
    );
    assert!(sent.iter().any(|(id, _)| id.contains("reminder.fix-team")));
    let id = store.incidents().await.unwrap()[0].incident.id.clone();
    let rec = store.incident(&id).await.unwrap().unwrap();
    assert_eq!(
        rec.events
            .iter()
            .filter(|e| e.kind == embargo::core::event::EventKind::Reminder)
            .count(),
        2
    );
}

#[tokio::test]
async fn the_embargo_guard_refuses_a_mail_outside_the_embargo_and_tells_the_src() {
    use embargo::core::mail_kind::MailKind;
    use embargo::store::NewMail;
    let site = Site::new();
    site.deliver(&fixture("mail/report.eml"));
    let now: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let Rig {
        store,
        service,
        mut source,
        mut lease,
        ..
    } = rig(&site, now).await;
    let sink = FileSink::new(&site.path("outbox")).unwrap();
    let stop = never_stop();
    service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    let incident = store.open_incidents().await.unwrap().remove(0);

    // A mail about the incident to someone who is not in on it, as a roster
    // change between queueing and sending would leave behind.
    let stray = NewMail {
        key: format!("{}/draft/stray", incident.id),
        kind: MailKind::Draft,
        incident: Some(incident.id.clone()),
        message_id: "stray@example.org".into(),
        from: "security@example.org".into(),
        recipients: vec!["former-member@example.net".into()],
        subject: "[EMBARGOED] details".into(),
        bytes: b"Subject: x\r\n\r\nsecret\r\n".to_vec(),
        due_at: now,
    };
    store.record_update(&incident, &[], &[stray]).await.unwrap();
    let files_before = site.outbox().len();
    let report = service.send_due(&sink, &stop).await.unwrap();
    assert_eq!(report.failed, 1);

    let rows = store.outbox().await.unwrap();
    let refused = rows
        .iter()
        .find(|m| m.message_id == "stray@example.org")
        .unwrap();
    assert_eq!(refused.state, OutboxState::Failed);
    assert!(
        refused
            .last_error
            .as_deref()
            .unwrap()
            .contains("outside the embargo"),
        "{refused:?}"
    );
    // Not written; the SRC list heard of it instead.
    let sent = site.outbox();
    assert!(!sent.iter().any(|m| m.message_id == "stray@example.org"));
    assert_eq!(sent.len(), files_before + 1);
    let alert = sent
        .iter()
        .find(|m| m.subject.contains("refused to send"))
        .unwrap();
    assert_eq!(alert.envelope_to, ["src@example.org"]);
    assert!(
        alert.text.contains("former-member@example.net"),
        "{}",
        alert.text
    );
    let rec = store.incident(&incident.id).await.unwrap().unwrap();
    assert!(
        rec.events
            .iter()
            .any(|e| e.kind == embargo::core::event::EventKind::GuardRefused)
    );
}

/// A sink that takes 200 s of the simulated clock per mail. Before each
/// send another replica claims whatever it can, and the sink notes any
/// mail it is handed whose claim has already run out.
struct SlowSinkBesideARival {
    inner: FileSink,
    clock: Arc<ManualClock>,
    rival: Arc<dyn Store>,
    db: sqlx::SqlitePool,
    rival_claimed: std::sync::Mutex<Vec<String>>,
    expired_sends: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl embargo::sink::Sink for SlowSinkBesideARival {
    async fn send(
        &self,
        mail: embargo::sink::Outgoing<'_>,
    ) -> Result<String, embargo::sink::SinkError> {
        let now = self.clock.now();
        let claimed = self
            .rival
            .claim_due(now, SignedDuration::from_secs(300), 50)
            .await
            .unwrap();
        self.rival_claimed
            .lock()
            .unwrap()
            .extend(claimed.into_iter().map(|m| m.message_id));
        let text = String::from_utf8_lossy(mail.bytes);
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: <"))
            .and_then(|l| l.strip_suffix('>'))
            .unwrap()
            .to_owned();
        let until: i64 =
            sqlx::query_scalar("SELECT claimed_until FROM outbox WHERE message_id = ?")
                .bind(&id)
                .fetch_one(&self.db)
                .await
                .unwrap();
        if now.as_second() >= until {
            self.expired_sends.lock().unwrap().push(id);
        }
        let sent = self.inner.send(mail).await;
        self.clock.advance(SignedDuration::from_secs(200));
        sent
    }
}

/// A batch whose sends outlast its claim (300 s here): what is left is
/// given back and claimed afresh, never sent on a claim that ran out, when
/// another replica may hold it.
#[tokio::test]
async fn a_sender_never_sends_a_mail_whose_claim_ran_out() {
    let site = Site::new();
    site.deliver(&fixture("mail/report.eml"));
    site.deliver(&mail(
        "Bo <bo@finder.example>",
        "Another crash",
        "second@finder.example",
        "",
    ));
    let now: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let Rig {
        settings,
        store,
        clock,
        service,
        mut source,
        mut lease,
    } = rig(&site, now).await;
    assert_eq!(settings.outbox.lease, SignedDuration::from_secs(300));
    let stop = never_stop();
    let ingested = service
        .ingest(&mut source, &stop, &mut lease)
        .await
        .unwrap();
    assert_eq!(ingested.opened.len(), 2);
    assert_eq!(store.outbox().await.unwrap().len(), 4);

    let sink = SlowSinkBesideARival {
        inner: FileSink::new(&site.path("outbox")).unwrap(),
        clock: clock.clone(),
        rival: Arc::new(SqliteStore::open(&site.path("embargo.db")).await.unwrap()),
        db: sqlx::SqlitePool::connect(&format!("sqlite://{}", site.path("embargo.db").display()))
            .await
            .unwrap(),
        rival_claimed: Default::default(),
        expired_sends: Default::default(),
    };
    let report = service.send_due(&sink, &stop).await.unwrap();
    assert_eq!(report.sent, 4, "{report:?}");
    assert_eq!(
        sink.expired_sends.lock().unwrap().len(),
        0,
        "sent on a claim that ran out"
    );
    assert_eq!(
        sink.rival_claimed.lock().unwrap().len(),
        0,
        "the rival took a mail the sender then sent"
    );
    let sent: Vec<String> = site.outbox().into_iter().map(|m| m.message_id).collect();
    assert_eq!(sent.len(), 4);
    // The two given back were claimed once more, but sent once: a release
    // is not an attempt.
    let rows = store.outbox().await.unwrap();
    assert!(
        rows.iter()
            .all(|m| m.state == OutboxState::Sent && m.attempts == 1),
        "{rows:?}"
    );
    assert_eq!(clock.now(), now + SignedDuration::from_secs(800));
}

/// `serve` sleeps until the next thing falls due, not a whole poll
/// interval past it.
#[tokio::test]
async fn the_service_knows_when_the_next_mail_falls_due() {
    use embargo::core::mail_kind::MailKind;
    use embargo::store::NewMail;
    let site = Site::new();
    site.deliver(&fixture("mail/report.eml"));
    let now: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let Rig {
        store,
        service,
        mut source,
        mut lease,
        ..
    } = rig(&site, now).await;
    let sink = FileSink::new(&site.path("outbox")).unwrap();
    let stop = never_stop();
    service
        .run_once(&mut source, &sink, &stop, &mut lease)
        .await
        .unwrap();
    assert_eq!(service.next_wake().await.unwrap(), None);

    let incident = store.open_incidents().await.unwrap().remove(0);
    let later = now + SignedDuration::from_mins(7);
    let mail = NewMail {
        key: format!("{}/reminder/test", incident.id),
        kind: MailKind::Reminder,
        incident: Some(incident.id.clone()),
        message_id: "reminder-test@example.org".into(),
        from: "security@example.org".into(),
        recipients: vec!["src@example.org".into()],
        subject: "reminder".into(),
        bytes: b"Subject: reminder\r\n\r\nx\r\n".to_vec(),
        due_at: later,
    };
    store.record_update(&incident, &[], &[mail]).await.unwrap();
    assert_eq!(service.next_wake().await.unwrap(), Some(later));
}

/// The service of one replica on a PostgreSQL database.
async fn replica_on(site: &Site, url: &str, now: Timestamp) -> (Arc<dyn Store>, Service) {
    let settings = Arc::new(config::load(&site.config()).unwrap().settings);
    let store: Arc<dyn Store> = Arc::new(
        embargo::store::PostgresStore::connect(url, 2, embargo::store::Schema::Migrate)
            .await
            .unwrap(),
    );
    let keys = keyring::load(&settings, now).unwrap();
    let service = Service::new(
        settings,
        store.clone(),
        Arc::new(ManualClock::new(now)),
        Crypto::new(keys.pgp),
    );
    (store, service)
}

/// A holder whose lease session ended (a network cut, a DBA) checks before
/// its batch, takes nothing in, says so, and leaves every mail in the
/// source for the replica that takes the lease next.
#[tokio::test]
async fn a_holder_that_lost_its_lease_session_leaves_the_mail_for_the_next_holder() {
    let site = Site::new();
    for i in 0..3 {
        site.deliver(&mail(
            "a@example.com",
            "x",
            &format!("m{i}@example.com"),
            "",
        ));
    }
    let now: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
    let db = common::postgres::TestDb::create().await;
    let (store, service) = replica_on(&site, &db.url, now).await;
    let mut source = Maildir::new(&site.path("maildir"));
    let mut lease = store.lock_ingest().await.unwrap();

    let ended = common::postgres::end_lease_sessions(&db.url).await;
    assert_eq!(ended, vec![true]);

    let e = service
        .ingest(&mut source, &never_stop(), &mut lease)
        .await
        .unwrap_err();
    assert!(e.lost_lease(), "{e}");
    assert!(
        e.to_string()
            .contains("the database session holding the ingest lease is gone"),
        "{e}"
    );
    assert_eq!(site.files("maildir/new").len(), 3, "the mail stays in new/");
    assert_eq!(store.counts().await.unwrap(), Default::default());

    // The next holder takes all of it, with the next epoch.
    let (next_store, next) = replica_on(&site, &db.url, now).await;
    let mut next_lease = next_store.lock_ingest().await.unwrap();
    assert_eq!(next_lease.epoch(), lease.epoch() + 1);
    let report = next
        .ingest(
            &mut Maildir::new(&site.path("maildir")),
            &never_stop(),
            &mut next_lease,
        )
        .await
        .unwrap();
    assert_eq!((report.opened.len(), report.quarantined), (3, 0));
    assert!(site.files("maildir/new").is_empty());
}

/// A report nobody triages is reminded of at most `untriaged_reminders_max`
/// times; then the SRC's weekly digest lists it, once a week, on the
/// simulated clock. Spam is counted in the digest and never reminded of.
#[tokio::test]
async fn an_untriaged_report_is_chased_up_to_the_cap_then_listed_in_the_weekly_digest() {
    let site = Site::with_config(
        &(BASE_CONFIG.to_owned() + "\n[schedule]\nuntriaged_reminders_max = 1\n"),
    );
    site.deliver(&fixture("mail/report.eml"));
    site.deliver(&mail(
        "Prize Desk <winner@lottery.example>",
        "You have won",
        "s1@lottery.example",
        "X-Spam: Yes\r\n",
    ));
    // Friday morning.
    let friday: Timestamp = "2026-11-27T10:00:00Z".parse().unwrap();
    let Rig {
        store,
        clock,
        service,
        mut source,
        mut lease,
        ..
    } = rig(&site, friday).await;
    let sink = FileSink::new(&site.path("outbox")).unwrap();
    let stop = never_stop();
    let mut pass = async |at: &str| {
        clock.set(at.parse().unwrap());
        service
            .run_once(&mut source, &sink, &stop, &mut lease)
            .await
            .unwrap();
    };
    let subjects = |what: &str| {
        site.outbox()
            .into_iter()
            .filter(|m| m.subject.contains(what))
            .map(|m| (m.subject, m.envelope_to, m.text))
            .collect::<Vec<_>>()
    };
    pass("2026-11-27T10:00:00Z").await;
    // Saturday: the Fix Team reminder, the one the cap allows.
    pass("2026-11-28T10:00:00Z").await;
    assert_eq!(subjects("Reminder").len(), 1);
    // Monday after nine: first-response is overdue, but the cap is spent;
    // the digest goes instead, to the SRC list only.
    pass("2026-11-30T10:00:00Z").await;
    assert_eq!(subjects("Reminder").len(), 1, "capped");
    let digests = subjects("Weekly digest");
    assert_eq!(digests.len(), 1, "{digests:?}");
    let (subject, to, text) = &digests[0];
    assert_eq!(to, &["src@example.org"]);
    assert!(
        subject.contains("2026-W49: 1 untriaged report(s), 1 filed as spam"),
        "{subject}"
    );
    let id = store
        .incidents()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.incident.state == embargo::core::incident::State::Reported)
        .unwrap()
        .incident
        .id;
    assert!(
        text.contains(&format!("{id}  3 day(s) old, 1 reminder(s) sent")),
        "{text}"
    );
    // Later the same week, and after a restart of the pass: not again.
    pass("2026-11-30T10:05:00Z").await;
    pass("2026-12-03T10:00:00Z").await;
    assert_eq!(subjects("Weekly digest").len(), 1);
    assert_eq!(subjects("Reminder").len(), 1);
    // Next Monday: next week's digest, still listing it.
    pass("2026-12-07T09:00:00Z").await;
    let digests = subjects("Weekly digest");
    assert_eq!(digests.len(), 2);
    assert!(
        digests
            .iter()
            .any(|(s, _, _)| s.contains("2026-W50: 1 untriaged report(s), 0 filed as spam")),
        "{digests:?}"
    );
    // Spam had nothing: no reminder, no copy, no acknowledgement.
    assert!(
        !site
            .outbox()
            .iter()
            .any(|m| m.envelope_to.iter().any(|t| t.contains("lottery"))
                || m.subject.contains("You have won")),
        "spam is never mailed about"
    );
}
