//! Every real mail under the shared fixtures goes through `run --once`:
//! none may be lost, none may stop the run, none may be processed twice.
//!
//! Ignored by plain `cargo test`, because the mail lives outside the
//! repository; `.ci/run` runs it with EMBARGO_FIXTURES set to that folder.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::postgres::TestDb;
use common::servers::{Served, wait_for};
use common::*;
use embargo::clock::SystemClock;
use embargo::crypto::Crypto;
use embargo::service::{Service, never_stop};
use embargo::source::Maildir;
use embargo::store::{PostgresStore, Schema, SqliteStore, Store};

const URL_ENV: &str = "EMBARGO_DATABASE_URL";

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("EMBARGO_FIXTURES")
        .expect("set EMBARGO_FIXTURES to the shared fixtures folder (.ci/run does)");
    PathBuf::from(dir)
}

fn mail_files(root: &Path) -> Vec<PathBuf> {
    files_under(&root.join("mail"), |p| {
        p.file_name()
            .is_some_and(|n| n != "MANIFEST.tsv" && n != "README.md")
    })
}

/// Every file under `root` that `keep` keeps, in path order.
fn files_under(root: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if keep(&p) {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Unpacks the archived Maildir (its `cur/` files) into `into`.
fn archive_files(root: &Path, into: &Path) -> Vec<PathBuf> {
    let archive = root.join("archives/r-devel.maildir.tar.gz");
    if !archive.is_file() {
        return Vec::new();
    }
    std::fs::create_dir_all(into).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(into)
        .arg("-xzf")
        .arg(&archive)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "tar could not unpack {}",
        archive.display()
    );
    files_under(into, |_| true)
}

/// Links (or copies) every file into the site's `new/`, each under a key
/// of its own that is the same on every site: which key holds which file.
fn deliver_all(site: &Site, files: &[PathBuf]) -> HashMap<String, PathBuf> {
    let mut by_key = HashMap::new();
    for (n, file) in files.iter().enumerate() {
        let key = format!("{}.M{n}P1.fixtures", 1_700_000_000 + n);
        let target = site.path("maildir/new").join(&key);
        if std::fs::hard_link(file, &target).is_err() {
            std::fs::copy(file, &target).unwrap();
        }
        by_key.insert(key, file.clone());
    }
    by_key
}

/// The test site's config on PostgreSQL (its URL in URL_ENV).
fn postgres_site(extra: &str) -> Site {
    let sqlite = "[store]\nkind = \"sqlite\"\npath = \"embargo.db\"\n";
    assert!(BASE_CONFIG.contains(sqlite));
    Site::with_config(
        &(BASE_CONFIG.replace(
            sqlite,
            &format!("[store]\nkind = \"postgres\"\nurl_env = \"{URL_ENV}\"\n"),
        ) + extra),
    )
}

fn embargo_with(site: &Site, db: Option<&TestDb>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(site.config()).args(args);
    if let Some(db) = db {
        cmd.env(URL_ENV, &db.url);
    }
    cmd.env_remove("EMBARGO_CONFIG").env_remove("RUST_LOG");
    cmd
}

fn succeeded(what: &str, out: Output) -> Output {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn source_of(site: &Site) -> String {
    format!("maildir:{}", site.path("maildir").display())
}

/// Each delivery's outcome (filed, duplicate, quarantined) by its key.
async fn outcomes(store: &dyn Store, site: &Site) -> BTreeMap<String, String> {
    store
        .deliveries(&source_of(site))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.key, d.outcome))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the shared fixtures; .ci/run runs it"]
async fn every_real_mail_is_kept_exactly_once_on_sqlite_and_on_postgres() {
    let root = fixtures_dir();
    let site = Site::new();
    let mut files = mail_files(&root);
    let unpacked = site.path("unpacked");
    files.extend(archive_files(&root, &unpacked));
    assert!(
        files.len() > 6000,
        "only {} files under {}",
        files.len(),
        root.display()
    );

    // The same files under the same keys into a SQLite site and a
    // PostgreSQL one; `run --once` on SQLite, and beside it the same
    // intake on PostgreSQL (without the sending, which is not compared).
    let by_key = deliver_all(&site, &files);
    let db = TestDb::create().await;
    let pg = Site::new();
    deliver_all(&pg, &files);
    let _ = std::fs::remove_dir_all(&unpacked);
    let pg_store: Arc<dyn Store> = Arc::new(
        PostgresStore::connect(&db.url, 4, Schema::Migrate)
            .await
            .unwrap(),
    );
    let on_postgres = {
        let store = pg_store.clone();
        let settings = Arc::new(embargo::config::load(&site.config()).unwrap().settings);
        let maildir = pg.path("maildir");
        tokio::spawn(async move {
            let keys = embargo::keyring::load(&settings, jiff::Timestamp::now()).unwrap();
            let service = Service::new(
                settings,
                store.clone(),
                Arc::new(SystemClock),
                Crypto::new(keys.pgp),
            );
            let mut lease = store.lock_ingest().await.unwrap();
            let started = Instant::now();
            let report = service
                .ingest(&mut Maildir::new(&maildir), &never_stop(), &mut lease)
                .await;
            (report, started.elapsed())
        })
    };

    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let config = site.config();
        move || {
            Command::new(BIN)
                .arg("--config")
                .arg(config)
                .args(["run", "--once"])
                .env_remove("RUST_LOG")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "run --once failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (pg_report, pg_took) = on_postgres.await.unwrap();
    let pg_report = pg_report.unwrap_or_else(|e| panic!("the intake on PostgreSQL failed: {e}"));
    println!(
        "ingested {} real mails in {:.1} s (run --once on SQLite), {:.1} s (intake on PostgreSQL), side by side",
        files.len(),
        took.as_secs_f64(),
        pg_took.as_secs_f64()
    );
    assert_eq!(pg_report.seen, files.len());
    assert!(pg.files("maildir/new").is_empty());

    assert!(
        site.files("maildir/new").is_empty(),
        "mail left unprocessed in new/"
    );
    assert_eq!(site.files("maildir/cur").len(), files.len());

    let store = SqliteStore::open(&site.path("embargo.db")).await.unwrap();
    let deliveries = store.deliveries(&source_of(&site)).await.unwrap();
    assert_eq!(
        deliveries.len(),
        files.len(),
        "one delivery record per file"
    );

    let mut tally: HashMap<&str, usize> = HashMap::new();
    for d in &deliveries {
        *tally.entry(d.outcome.as_str()).or_default() += 1;
        let original =
            std::fs::read(site.path("maildir/cur").join(format!("{}:2,S", d.key))).unwrap();
        let stored = store
            .raw_message(d.message)
            .await
            .unwrap()
            .expect("the delivery's message is stored");
        match d.outcome.as_str() {
            "filed" | "quarantined" => assert_eq!(
                stored,
                original,
                "{} ({}) is not stored byte for byte",
                d.key,
                by_key[&d.key].display()
            ),
            "duplicate" => {
                // A duplicate is the same Message-ID with the same body, or,
                // for what cannot be parsed, the same bytes.
                match (
                    embargo::parse::parse(original.clone(), usize::MAX, None),
                    embargo::parse::parse(stored.clone(), usize::MAX, None),
                ) {
                    (Ok(a), Ok(b)) => assert_eq!(
                        (a.message_id, a.body_digest),
                        (b.message_id, b.body_digest),
                        "{}",
                        d.key
                    ),
                    _ => assert_eq!(original, stored, "{}", d.key),
                }
            }
            other => panic!("unknown outcome {other}"),
        }
    }
    println!("outcomes: {tally:?}");

    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.messages + counts.quarantined + counts.duplicates,
        files.len() as u64
    );
    assert_eq!(counts.outbox_failed, 0);
    assert_eq!(counts.outbox_pending, 0, "everything due was sent");

    // Every incident's SRC copy went out; nothing was sent twice.
    let sent = site.outbox();
    let copies = sent
        .iter()
        .filter(|m| m.message_id.contains(".src-copy."))
        .count();
    // Spam (marked so by its headers) is filed and copied to nobody.
    let spam = store
        .incidents()
        .await
        .unwrap()
        .iter()
        .filter(|s| s.incident.state == embargo::core::incident::State::Spam)
        .count() as u64;
    assert_eq!(
        copies as u64 + spam,
        counts.incidents,
        "every report but spam reaches the SRC"
    );
    let mut ids: Vec<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a Message-ID was sent twice");

    // PostgreSQL stores each mail as SQLite does: the same outcome for
    // every file (a NUL byte in a mail's text once sent two to
    // quarantine there), the same incidents.
    let on_sqlite = outcomes(&store, &site).await;
    let on_pg = outcomes(pg_store.as_ref(), &pg).await;
    let differ: Vec<String> = on_sqlite
        .iter()
        .filter(|(k, o)| on_pg.get(*k) != Some(o))
        .map(|(k, o)| {
            format!(
                "{k} ({}): {o} on SQLite, {:?} on PostgreSQL",
                by_key[k].display(),
                on_pg.get(k)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} differ:\n{}",
        differ.len(),
        differ.join("\n")
    );
    assert_eq!(on_pg.len(), on_sqlite.len());
    let pg_counts = pg_store.counts().await.unwrap();
    assert_eq!(
        (
            pg_counts.incidents,
            pg_counts.messages,
            pg_counts.quarantined,
            pg_counts.duplicates,
            pg_counts.deliveries
        ),
        (
            counts.incidents,
            counts.messages,
            counts.quarantined,
            counts.duplicates,
            counts.deliveries
        )
    );

    // A second pass over the same Maildir processes nothing again.
    site.ok(&["run", "--once"]);
    assert_eq!(store.counts().await.unwrap(), counts);
}

/// A report for the handover, delivered as an MDA would, under a key that
/// sorts after the fixtures'.
fn deliver_report(site: &Site, n: usize) {
    let key = format!("1900000000.M{n}P1.handover");
    let bytes = mail(
        "Reporter <reporter@finder.example>",
        &format!("Overflow during handover {n}"),
        &format!("handover-{n}@finder.example"),
        "",
    );
    let tmp = site.path("maildir/tmp").join(&key);
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, site.path("maildir/new").join(key)).unwrap();
}

// Whole: "another embargo took the ingest lease" is a loss.
const TOOK: &str = "took the ingest lease: this replica takes mail in";
const LOST: &str = "lost the ingest lease";

/// Lines a replica logs for each mail it stored.
fn stored_line(line: &str) -> bool {
    line.contains("message{")
        && [
            " opened",
            " joined",
            "duplicate delivery",
            "kept in quarantine",
        ]
        .iter()
        .any(|w| line.contains(w))
}

/// The one replica whose log says it holds the lease (it took it after it
/// last lost it); none while that is unclear (a cut not yet noticed).
fn holder(replicas: &[&Served]) -> Option<usize> {
    let held: Vec<usize> = (0..replicas.len())
        .filter(|&i| {
            let log = replicas[i].log();
            log.rfind(TOOK).is_some() && log.rfind(TOOK) > log.rfind(LOST)
        })
        .collect();
    match held.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

fn takes(replicas: &[&Served]) -> usize {
    replicas.iter().map(|r| r.log().matches(TOOK).count()).sum()
}

/// Ends the session that holds the ingest lease, as a network cut or a
/// DBA would; true if there was one.
async fn end_lease_session(db: &TestDb) -> bool {
    common::postgres::end_lease_sessions(&db.url)
        .await
        .iter()
        .any(|e| *e)
}

/// Two `serve` replicas on one PostgreSQL share a Maildir backlog of the
/// real mail while new reports arrive. The holder's lease session is ended
/// three times at random points, then the holder is frozen (SIGSTOP) until
/// the other has taken over, and resumed. Every mail is stored once with
/// the outcome a single `run --once` gives it, incident numbers have no
/// duplicate and no gap, nothing is sent twice, and a replica that lost
/// the lease stores nothing more until it takes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the shared fixtures; .ci/run runs it"]
async fn two_replicas_that_lose_the_lease_file_each_real_mail_once() {
    let root = fixtures_dir();
    let files = mail_files(&root);
    assert!(files.len() > 6000, "only {} files", files.len());

    // What one process makes of them: the reference.
    let reference = Site::new();
    deliver_all(&reference, &files);
    succeeded(
        "run --once",
        embargo_with(&reference, None, &["run", "--once"])
            .output()
            .unwrap(),
    );
    let expected = outcomes(
        &SqliteStore::open(&reference.path("embargo.db"))
            .await
            .unwrap(),
        &reference,
    )
    .await;

    let db = TestDb::create().await;
    // Small batches: the lease is checked before each.
    let site = postgres_site("\n[limits]\nbatch_mails = 32\n");
    let by_key = deliver_all(&site, &files);
    succeeded(
        "embargo migrate",
        embargo_with(&site, Some(&db), &["migrate"])
            .output()
            .unwrap(),
    );
    let env = [(URL_ENV, db.url.as_str())];
    let a = Served::start_with(&site.config(), &site.path("a.log"), &env);
    let b = Served::start_with(&site.config(), &site.path("b.log"), &env);
    let replicas = [&a, &b];
    let logs = || format!("A:\n{}\nB:\n{}", a.log(), b.log());

    let mut reports = 0;
    for cut in 0..3 {
        // New reports arrive; the holder is storing mail since it took the
        // lease: cut at a random point of its pass.
        for _ in 0..5 {
            deliver_report(&site, reports);
            reports += 1;
        }
        wait_for(Duration::from_secs(60), || {
            holder(&replicas).is_some_and(|h| {
                let log = replicas[h].log();
                log.rfind(TOOK)
                    .is_some_and(|at| log[at..].lines().any(stored_line))
            })
        })
        .unwrap_or_else(|| panic!("no replica took mail in (cut {cut})\n{}", logs()));
        std::thread::sleep(Duration::from_millis(fastrand::u64(50..1500)));
        let before = takes(&replicas);
        assert!(
            end_lease_session(&db).await,
            "no lease session to end\n{}",
            logs()
        );
        wait_for(Duration::from_secs(60), || takes(&replicas) > before)
            .unwrap_or_else(|| panic!("nobody took the lease after cut {cut}\n{}", logs()));
    }

    // Frozen: its kernel still answers keepalives, so only the server's
    // idle timeout on the lease session lets the other take over.
    let frozen = wait_for(Duration::from_secs(60), || holder(&replicas).is_some())
        .and_then(|_| holder(&replicas))
        .unwrap_or_else(|| panic!("no holder to freeze\n{}", logs()));
    let other = 1 - frozen;
    for _ in 0..5 {
        deliver_report(&site, reports);
        reports += 1;
    }
    replicas[frozen].signal("STOP");
    let before = replicas[other].log().matches(TOOK).count();
    let took = wait_for(Duration::from_secs(90), || {
        replicas[other].log().matches(TOOK).count() > before
    });
    replicas[frozen].signal("CONT");
    took.unwrap_or_else(|| panic!("the frozen holder was not replaced\n{}", logs()));
    for _ in 0..5 {
        deliver_report(&site, reports);
        reports += 1;
    }

    // Everything taken in and sent.
    let store = PostgresStore::connect(&db.url, 2, Schema::Current)
        .await
        .unwrap();
    let total = files.len() + reports;
    let mut done = false;
    for _ in 0..600 {
        let c = store.counts().await.unwrap();
        if c.deliveries as usize >= total
            && c.outbox_pending == 0
            && site.files("maildir/new").is_empty()
        {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        done,
        "not all {total} mails taken in and sent\n{:?}\n{}",
        store.counts().await.unwrap(),
        logs()
    );
    std::thread::sleep(Duration::from_secs(2));

    // Every mail once, with the outcome one process gives it; the
    // handover's reports each open an incident.
    let got = outcomes(&store, &site).await;
    assert_eq!(got.len(), total);
    let differ: Vec<String> = expected
        .iter()
        .filter(|(k, o)| got.get(*k) != Some(o))
        .map(|(k, o)| {
            format!(
                "{k} ({}): {o} alone, {:?} with two replicas",
                by_key[k].display(),
                got.get(k)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} differ:\n{}\n{}",
        differ.len(),
        differ.join("\n"),
        logs()
    );
    let handover: Vec<&String> = got
        .iter()
        .filter(|(k, _)| k.ends_with(".handover"))
        .map(|(_, o)| o)
        .collect();
    assert_eq!(handover.len(), reports);
    assert!(handover.iter().all(|o| *o == "filed"), "{handover:?}");
    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.messages + counts.quarantined + counts.duplicates,
        total as u64
    );

    // Incident numbers one after another, none twice.
    let mut numbers: Vec<u32> = store
        .incidents()
        .await
        .unwrap()
        .iter()
        .map(|s| s.incident.id.to_string())
        .map(|id| id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers.len() as u64, counts.incidents);
    assert_eq!(
        numbers,
        (1..=numbers.len() as u32).collect::<Vec<_>>(),
        "a gap or a duplicate"
    );

    // Each SRC copy and acknowledgement once; nothing sent twice.
    let sent = site.outbox();
    let mut ids: Vec<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a Message-ID was sent twice");
    let copies = sent
        .iter()
        .filter(|m| m.message_id.contains(".src-copy."))
        .count();
    // Spam (marked so by its headers) is filed and copied to nobody.
    let spam = store
        .incidents()
        .await
        .unwrap()
        .iter()
        .filter(|s| s.incident.state == embargo::core::incident::State::Spam)
        .count() as u64;
    assert_eq!(
        copies as u64 + spam,
        counts.incidents,
        "every report but spam reaches the SRC"
    );

    // A replica that lost the lease stored nothing until it took it again.
    for (name, r) in [("A", &a), ("B", &b)] {
        let mut lost = false;
        for line in r.log().lines() {
            if line.contains(TOOK) {
                lost = false;
            } else if line.contains(LOST) {
                lost = true;
            } else if lost && stored_line(line) {
                panic!(
                    "{name} stored mail after it lost the lease: {line}\n{}",
                    logs()
                );
            }
        }
    }
    let lost: usize = replicas.iter().map(|r| r.log().matches(LOST).count()).sum();
    assert!(lost >= 4, "{lost} losses logged\n{}", logs());
    println!(
        "{} takes of the lease, {lost} losses logged; {} mails, {} incidents",
        takes(&replicas),
        total,
        counts.incidents
    );
}

/// The SpamAssassin corpora with their real headers, and three mails of
/// our own, through `run --once` with the receiving MTA's name set: only
/// the sender that MTA authenticated is acknowledged, and not when it also
/// says spam. Nothing else is (no backscatter). Mail marked as spam opens
/// an incident in the spam state that nobody hears of; every other report
/// reaches the SRC.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the shared fixtures; .ci/run runs it"]
async fn only_senders_the_mta_authenticated_are_acknowledged_in_the_spam_corpora() {
    let root = fixtures_dir();
    let corpora: Vec<PathBuf> = mail_files(&root)
        .into_iter()
        .filter(|p| {
            p.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c.starts_with("sa-pubcorpus-") || c.starts_with("spamassassin-t-")
            })
        })
        .collect();
    assert!(corpora.len() > 3000, "only {} corpus mails", corpora.len());
    let site = Site::with_config(
        &(BASE_CONFIG.to_owned()
            + "\n[acknowledgement]\ntrusted_authserv_id = \"mx.embargo.test\"\n"),
    );
    let by_key = deliver_all(&site, &corpora);
    // Our MTA's headers on top (`ours`, above its Received), then what the
    // sender wrote (`theirs`).
    let own = |from: &str, id: &str, ours: &str, theirs: &str| {
        let m = String::from_utf8(mail(from, "Overflow in frob()", id, "")).unwrap();
        format!(
            "{ours}Received: from sender.example by mx.embargo.test with ESMTPS; \
             Tue, 1 Dec 2026 10:00:00 +0000\r\n{theirs}{m}"
        )
        .into_bytes()
    };
    site.deliver(&own(
        "Jane <jane@finder.example>",
        "authenticated@finder.example",
        "Authentication-Results: mx.embargo.test; dkim=pass header.d=finder.example; \
         dmarc=pass header.from=finder.example\r\n",
        "",
    ));
    site.deliver(&own(
        "Mallory <ceo@bank.example>",
        "forged@bank.example",
        "Authentication-Results: mx.embargo.test; spf=pass smtp.mailfrom=spam.example\r\n",
        // Written by the sender under our MTA's name, below its Received.
        "Authentication-Results: mx.embargo.test; dmarc=pass header.from=bank.example\r\n\
         Authentication-Results: mx.bank.example; dmarc=pass header.from=bank.example\r\n",
    ));
    site.deliver(&own(
        "Joe <joe@finder.example>",
        "spam@finder.example",
        "X-Spam-Flag: YES\r\nAuthentication-Results: mx.embargo.test; dmarc=pass \
         header.from=finder.example\r\n",
        "",
    ));
    succeeded(
        "run --once",
        embargo_with(&site, None, &["run", "--once"])
            .output()
            .unwrap(),
    );

    let sent = site.outbox();
    let acks: Vec<&Sent> = sent
        .iter()
        .filter(|m| m.message_id.contains(".acknowledgement."))
        .collect();
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert_eq!(acks[0].envelope_to, ["jane@finder.example"]);

    // Each incident by the corpus of the mail that opened it (ours: the
    // three above), with what the one parser reads of that mail's spam
    // headers.
    use embargo::core::incident::State;
    use embargo::core::mail_kind::MailKind;
    use embargo::core::sender_auth::{SpamHeader, marked_spam_by};
    let store = SqliteStore::open(&site.path("embargo.db")).await.unwrap();
    let row_key: HashMap<i64, String> = store
        .deliveries(&source_of(&site))
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.message, d.key))
        .collect();
    #[derive(Default, Debug)]
    struct Tally {
        incidents: usize,
        spam: usize,
        acknowledged: usize,
        src_copies: usize,
    }
    let mut per: BTreeMap<String, Tally> = BTreeMap::new();
    let defaults = SpamHeader::defaults();
    for summary in store.incidents().await.unwrap() {
        let id = &summary.incident.id;
        let rec = store.incident(id).await.unwrap().unwrap();
        let opening = &rec.messages[0];
        let file = row_key.get(&opening.id).and_then(|k| by_key.get(k));
        let corpus = file.map_or("ours".to_owned(), |f| {
            f.strip_prefix(root.join("mail"))
                .unwrap()
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .into_owned()
        });
        let raw = store.raw_message(opening.id).await.unwrap().unwrap();
        let marked = embargo::parse::parse(raw, 64 << 20, None)
            .ok()
            .and_then(|m| marked_spam_by(&m.auto_reply.verdicts, &defaults));
        let kinds: Vec<MailKind> = rec.outbox.iter().map(|m| m.kind).collect();
        let is_spam = rec.incident.state == State::Spam;
        assert_eq!(
            is_spam,
            marked.is_some(),
            "{id} ({corpus}): spam state iff its opening mail is marked ({marked:?})"
        );
        if is_spam {
            assert!(
                !kinds.contains(&MailKind::SrcCopy) && !kinds.contains(&MailKind::Acknowledgement),
                "{id}: spam owes nobody anything: {kinds:?}"
            );
        } else {
            assert!(
                kinds.contains(&MailKind::SrcCopy),
                "{id}: every report reaches the SRC"
            );
        }
        let t = per.entry(corpus).or_default();
        t.incidents += 1;
        t.spam += usize::from(is_spam);
        t.acknowledged += usize::from(kinds.contains(&MailKind::Acknowledgement));
        t.src_copies += usize::from(kinds.contains(&MailKind::SrcCopy));
    }
    println!("{} corpus mails and 3 of ours:", corpora.len());
    for (corpus, t) in &per {
        println!(
            "  {corpus:<28} {:>5} incidents, {:>3} in the spam state, {:>5} SRC copies, {} acknowledged",
            t.incidents, t.spam, t.src_copies, t.acknowledged
        );
    }
    let ours = &per["ours"];
    assert_eq!(
        (ours.incidents, ours.spam, ours.acknowledged),
        (3, 1, 1),
        "Joe's authenticated mail marked X-Spam-Flag: YES is spam; only Jane is acknowledged"
    );
    let counts = store.counts().await.unwrap();
    let copies = sent
        .iter()
        .filter(|m| m.message_id.contains(".src-copy."))
        .count();
    let spam: usize = per.values().map(|t| t.spam).sum();
    assert_eq!(
        copies as u64 + spam as u64,
        counts.incidents,
        "every report but spam reaches the SRC"
    );
}
