//! Two `embargo serve` replicas on one PostgreSQL, against a real Dovecot
//! and Postfix: every mail goes out exactly once, and when the replica
//! taking mail in dies, the other takes over without losing any.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::postgres::TestDb;
use common::servers::{self, MailServers, Served, Wiring, address, header, message_ids, wait_for};
use common::{BIN, Site, mail};
use embargo::core::mail_kind::MailKind;
use embargo::store::{NewMail, OutboxState, PostgresStore, Schema, Store};

const URL_ENV: &str = "EMBARGO_DATABASE_URL";

fn report(n: usize, tag: &str) -> Vec<u8> {
    let from = format!("Reporter <{}>", address("reporter"));
    let id = format!("report-{tag}-{n}@reporter.example");
    let text = String::from_utf8(mail(&from, &format!("Overflow {tag} {n}"), &id, "")).unwrap();
    text.replace("security@example.org", &address("security"))
        .into_bytes()
}

/// The mail-server config of the other tests, on PostgreSQL, with one
/// distributor.
fn config(servers: &MailServers) -> String {
    let sqlite = "[store]\nkind = \"sqlite\"\npath = \"embargo.db\"\n";
    let base = servers::config(servers, &Wiring::tls());
    assert!(base.contains(sqlite));
    base.replace(
        sqlite,
        &format!("[store]\nkind = \"postgres\"\nurl_env = \"{URL_ENV}\"\n"),
    ) + &format!(
        "\n[[distributors]]\nname = \"Distro One\"\nemail = \"{}\"\n",
        address("distro1")
    )
}

fn embargo(site: &Site, db: &TestDb, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(site.config())
        .args(args)
        .env(URL_ENV, &db.url)
        .env("EMBARGO_TEST_PASSWORD", servers::PASSWORD)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// A replica, and the port of its `/healthz`, `/readyz` and `/metrics`.
fn replica(site: &Site, db: &TestDb, name: &str) -> (Served, u16) {
    let port = servers::free_port();
    let config = site.path(&format!("{name}.toml"));
    let text = std::fs::read_to_string(site.config()).unwrap()
        + &format!("\n[observe]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, text).unwrap();
    let served = Served::start_with(
        &config,
        &site.path(&format!("{name}.log")),
        &[(URL_ENV, &db.url)],
    );
    (served, port)
}

/// What a replica's `/metrics` says of the ingest lease, and whether its
/// `/readyz` says ready.
fn lease_and_readiness(port: u16) -> (Option<f64>, u16, String) {
    let (_, scrape) = servers::http_get(port, "/metrics");
    let (status, ready) = servers::http_get(port, "/readyz");
    (
        servers::metric(&scrape, "embargo_ingest_lease_held"),
        status,
        ready,
    )
}

/// Mails in `user`'s inbox that answer a report (acknowledgements).
fn answers(servers: &MailServers, user: &str) -> Vec<String> {
    let mails: Vec<Vec<u8>> = servers
        .mailbox(user)
        .into_iter()
        .filter(|m| header(m, "In-Reply-To").is_some())
        .collect();
    message_ids(&mails)
}

fn counts(ids: &[String]) -> HashMap<&str, usize> {
    let mut out = HashMap::new();
    for id in ids {
        *out.entry(id.as_str()).or_insert(0) += 1;
    }
    out
}

const LEASE_TAKEN: &str = "took the ingest lease: this replica takes mail in";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_send_every_notice_once_and_the_standby_takes_over_ingest() {
    let servers = MailServers::start();
    let db = TestDb::create().await;
    let site = Site::with_config(&config(&servers));

    // A replica does not race another to migrate a shared database.
    let before = embargo(&site, &db, &["run", "--once"]);
    assert!(!before.status.success());
    let err = String::from_utf8_lossy(&before.stderr);
    assert!(err.contains("embargo migrate"), "{err}");
    let migrated = embargo(&site, &db, &["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("from version 0 to"));

    for n in 0..50 {
        servers.deliver(&address("reporter"), &address("security"), &report(n, "a"));
    }
    let (mut a, a_port) = replica(&site, &db, "a");
    let (mut b, b_port) = replica(&site, &db, "b");

    // Every report acknowledged and copied to the SRC once, whichever
    // replica sent it.
    wait_for(Duration::from_secs(120), || {
        counts(&answers(&servers, "reporter")).len() >= 50
            && counts(&message_ids(&servers.mailbox("src"))).len() >= 50
    })
    .unwrap_or_else(|| panic!("not all 50 acknowledged\nA:\n{}\nB:\n{}", a.log(), b.log()));

    // Fifty notices, one per incident, due at one moment: both replicas
    // try to send them.
    let store = PostgresStore::connect(&db.url, 2, Schema::Current)
        .await
        .unwrap();
    let incidents = store.open_incidents().await.unwrap();
    assert_eq!(incidents.len(), 50);
    let due = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(4);
    for incident in &incidents {
        let message_id = format!("{}.advance-notice@embargo.test", incident.id);
        let bytes = format!(
            "From: {from}\r\nTo: {to}\r\nSubject: [EMBARGOED] {id}\r\nMessage-ID: <{message_id}>\r\n\
             Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nEmbargoed until further notice.\r\n",
            from = address("security"),
            to = address("distro1"),
            id = incident.id,
        );
        let notice = NewMail {
            key: format!("{}/advance-notice", incident.id),
            kind: MailKind::AdvanceNotice,
            incident: Some(incident.id.clone()),
            message_id,
            from: address("security"),
            recipients: vec![address("distro1")],
            subject: format!("[EMBARGOED] {}", incident.id),
            bytes: bytes.into_bytes(),
            due_at: due,
        };
        store.record_update(incident, &[], &[notice]).await.unwrap();
    }
    let notices = || message_ids(&servers.mailbox("distro1"));
    wait_for(Duration::from_secs(90), || counts(&notices()).len() >= 50).unwrap_or_else(|| {
        panic!(
            "{} of 50 notices arrived\nA:\n{}\nB:\n{}",
            counts(&notices()).len(),
            a.log(),
            b.log()
        )
    });
    // Late duplicates would arrive within the claim lease (10 s here).
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(notices().len(), 50, "a notice was delivered twice");
    assert_eq!(
        answers(&servers, "reporter").len(),
        50,
        "an acknowledgement went twice"
    );
    assert_eq!(
        message_ids(&servers.mailbox("src")).len(),
        50,
        "an SRC copy went twice"
    );
    eprintln!(
        "sent by A: {}, by B: {}",
        a.log().matches(" sent").count(),
        b.log().matches(" sent").count()
    );
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 150);
    assert!(
        outbox
            .iter()
            .all(|m| m.state == OutboxState::Sent && m.attempts == 1)
    );

    // Exactly one replica holds the ingest lease. Kill it in the middle of
    // a batch: the other takes over within 30 s and loses nothing.
    let (holder, standby, holder_port, standby_port) =
        match (a.log().contains(LEASE_TAKEN), b.log().contains(LEASE_TAKEN)) {
            (true, false) => (&mut a, &mut b, a_port, b_port),
            (false, true) => (&mut b, &mut a, b_port, a_port),
            other => panic!(
                "lease taken by (A, B) = {other:?}\nA:\n{}\nB:\n{}",
                a.log(),
                b.log()
            ),
        };
    // Each says so on its /metrics, and both are ready: a standby is not
    // a failure.
    let (held, status, ready) = lease_and_readiness(holder_port);
    assert_eq!((held, status), (Some(1.0), 200), "{ready}");
    assert!(
        ready.contains("ingest lease: held: this replica takes mail in"),
        "{ready}"
    );
    let (held, status, ready) = lease_and_readiness(standby_port);
    assert_eq!((held, status), (Some(0.0), 200), "{ready}");
    assert!(ready.contains("held by another replica"), "{ready}");
    for n in 0..10 {
        servers.deliver(&address("reporter"), &address("security"), &report(n, "b"));
    }
    holder.kill();
    let killed = Instant::now();
    for n in 10..20 {
        servers.deliver(&address("reporter"), &address("security"), &report(n, "b"));
    }
    wait_for(Duration::from_secs(60), || {
        standby.log().contains(LEASE_TAKEN)
    })
    .unwrap_or_else(|| panic!("no takeover within 30 s\n{}", standby.log()));
    let took_over = killed.elapsed();
    assert!(took_over < Duration::from_secs(30), "{took_over:?}");
    wait_for(Duration::from_secs(30), || {
        lease_and_readiness(standby_port).0 == Some(1.0)
    })
    .unwrap_or_else(|| {
        panic!(
            "the new holder's /metrics: {:?}",
            lease_and_readiness(standby_port)
        )
    });

    wait_for(Duration::from_secs(90), || {
        counts(&answers(&servers, "reporter")).len() >= 70
    })
    .unwrap_or_else(|| {
        panic!(
            "{} of 70 acknowledged after the takeover\n{}",
            counts(&answers(&servers, "reporter")).len(),
            standby.log()
        )
    });
    std::thread::sleep(Duration::from_secs(3));
    let counts_now = store.counts().await.unwrap();
    assert_eq!(counts_now.incidents, 70, "every report is one incident");
    assert_eq!(counts_now.messages, 70);
    assert_eq!(counts_now.duplicates, 0);
    // A mail the killed replica handed to Postfix but had not marked sent
    // goes again with the same Message-ID; at most one can be in flight.
    let acks = answers(&servers, "reporter");
    assert_eq!(counts(&acks).len(), 70);
    assert!(
        acks.len() <= 71,
        "{} acknowledgements for 70 reports",
        acks.len()
    );
    eprintln!("the standby took over {took_over:?} after the kill");
}

/// What a team that started on the default does to move up: export from
/// SQLite, migrate and import into PostgreSQL; nothing is lost on the way.
#[tokio::test]
async fn moving_from_sqlite_to_postgres_with_export_and_import() {
    let old = Site::new();
    for n in 0..5 {
        old.deliver(&mail(
            &format!("Reporter {n} <r{n}@finder.example>"),
            &format!("Overflow {n}"),
            &format!("move-{n}@finder.example"),
            "",
        ));
    }
    // Not mail at all: kept, with its bytes, like any other.
    old.deliver(b"\xff\xfe this is not mail at all");
    old.ok(&["run", "--once"]);
    // SQLite migrated itself on the way.
    let migrate = old.ok(&["migrate"]);
    assert!(
        migrate.starts_with("schema up to date at version"),
        "{migrate}"
    );
    let dump = old.path("state.jsonl");
    old.ok(&["export", "--out", dump.to_str().unwrap()]);
    // An export is never written over.
    assert!(
        !old.embargo(&["export", "--out", dump.to_str().unwrap()])
            .status
            .success()
    );

    let db = TestDb::create().await;
    let new = Site::with_config(&common::BASE_CONFIG.replace(
        "[store]\nkind = \"sqlite\"\npath = \"embargo.db\"",
        &format!("[store]\nkind = \"postgres\"\nurl_env = \"{URL_ENV}\""),
    ));
    let run = |args: &[&str]| {
        let out = embargo(&new, &db, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate"]);
    let imported = run(&["import", dump.to_str().unwrap()]);
    assert!(imported.contains("6 incident(s)"), "{imported}");
    let again = new.path("again.jsonl");
    run(&["export", "--out", again.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&dump).unwrap(),
        std::fs::read(&again).unwrap()
    );
    assert_eq!(
        run(&["incidents", "--json"]),
        old.ok(&["incidents", "--json"])
    );
    // A second import would duplicate everything: refused.
    let twice = embargo(&new, &db, &["import", dump.to_str().unwrap()]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("import only into an empty database"));
}
