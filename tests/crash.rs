//! A sender killed (SIGKILL, a real process) between claiming mail and
//! marking it sent, then started again: every notice is delivered, none is
//! lost, and none goes before its time.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use common::gpg::pgp_mime_signed;
use common::team::*;
use common::*;
use embargo::store::{OutboxState, SqliteStore, Store};

fn serve(site: &Site, pause_ms: Option<u64>) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["--config", site.config().to_str().unwrap(), "serve"])
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::null());
    if let Some(ms) = pause_ms {
        cmd.env("EMBARGO_PAUSE_AFTER_CLAIM_MS", ms.to_string());
    }
    cmd.spawn().unwrap()
}

fn signal(child: &Child, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_killed_between_claim_and_mark_loses_nothing_and_sends_nothing_early() {
    let t = team_with(
        "[outbox]\nlease_seconds = 2\n\n\
         [[distributors]]\nname = \"One\"\nemail = \"security@one.example\"\n\n\
         [[distributors]]\nname = \"Two\"\nemail = \"security@two.example\"\n",
    );
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let slot = in_days(10);
    let commands = format!(
        "/accept {id}\r\n/cve CVE-2026-7777 {id}\r\n/disclose {slot} {id}\r\n\
         /approve distributors as-is {id}\r\n/approve warning as-is {id}\r\n/approve announcement as-is {id}\r\n"
    );
    let h = reply(
        "Alice <alice@example.org>",
        &id,
        "r1@example.net",
        "approve",
    );
    site.deliver(&pgp_mime_signed(&t.gpg, &t.alice, &h, &commands));
    let files_before = site.outbox().len();
    let store = SqliteStore::open(&site.path("embargo.db")).await.unwrap();

    // A sender that claims the due mail, then dies before sending any of it.
    let mut first = serve(site, Some(60_000));
    let mut claimed = Vec::new();
    for _ in 0..300 {
        claimed = store
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.state == OutboxState::Sending)
            .collect();
        if !claimed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!claimed.is_empty(), "the sender never claimed the notices");
    signal(&first, "-KILL");
    first.wait().unwrap();
    assert_eq!(
        site.outbox().len(),
        files_before,
        "nothing was sent before the kill"
    );
    let advance: Vec<String> = claimed
        .iter()
        .filter(|m| m.message_id.contains(".advance."))
        .map(|m| m.message_id.clone())
        .collect();
    assert_eq!(
        advance.len(),
        3,
        "two distributors and the SRC copy were claimed: {claimed:?}"
    );

    // Started again: once the dead sender's lease runs out, the mail goes.
    let mut second = serve(site, None);
    let mut rows = Vec::new();
    for _ in 0..300 {
        rows = store.outbox().await.unwrap();
        if rows.iter().all(|m| m.state == OutboxState::Sent) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&second, "-TERM");
    second.wait().unwrap();
    assert!(
        rows.iter().all(|m| m.state == OutboxState::Sent),
        "{rows:#?}"
    );
    for m in rows.iter().filter(|m| advance.contains(&m.message_id)) {
        assert_eq!(
            m.attempts, 2,
            "{}: claimed by the dead sender, then by the new one",
            m.message_id
        );
    }

    // Each notice delivered exactly once; none lost.
    let sent = site.outbox();
    for message_id in &advance {
        assert_eq!(
            sent.iter().filter(|m| &m.message_id == message_id).count(),
            1,
            "{message_id}"
        );
    }
    let mut ids: Vec<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a mail went twice");
    // Nothing before its time: the warning and the announcement wait for the slot.
    assert!(
        !sent
            .iter()
            .any(|m| m.message_id.contains(".warning-") || m.message_id.contains(".announcement."))
    );
    let shown = site.json(&["show", &id]);
    assert_eq!(shown["state"], "distributors-notified");
}

/// The intake killed (SIGKILL) in the middle of a Maildir backlog, in and
/// between batches, then run to the end: every mail is stored exactly once,
/// flagged seen once stored, and acknowledged once.
#[tokio::test(flavor = "multi_thread")]
async fn an_intake_killed_in_the_middle_of_a_backlog_stores_each_mail_once() {
    let site = Site::with_config(&format!("{BASE_CONFIG}\n[limits]\nbatch_mails = 20\n"));
    let total = 400;
    for n in 0..total {
        site.deliver(&mail(
            &format!("Reporter {n} <r{n}@example.net>"),
            &format!("Report {n}"),
            &format!("kill-{n}@example.net"),
            "",
        ));
    }
    let store = SqliteStore::open(&site.path("embargo.db")).await.unwrap();
    let mut kills = 0;
    for _ in 0..2 {
        let mut child = serve(&site, None);
        let before = store.counts().await.unwrap().messages;
        let mut now = before;
        for _ in 0..600 {
            now = store.counts().await.unwrap().messages;
            if now >= before + 60 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        signal(&child, "-KILL");
        child.wait().unwrap();
        if now < total as u64 {
            kills += 1;
        }
    }
    assert!(
        kills >= 1,
        "every mail was in before a kill: the test proves nothing"
    );
    site.ok(&["run", "--once"]);

    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.incidents, total as u64,
        "each report opened one incident"
    );
    assert_eq!(counts.messages, total as u64, "each mail stored once");
    assert_eq!(counts.duplicates, 0);
    assert!(site.files("maildir/new").is_empty());
    let cur = site.files("maildir/cur");
    assert_eq!(cur.len(), total);
    assert!(cur.iter().all(|f| f.ends_with(":2,S")), "{cur:?}");
    let acks: Vec<String> = site
        .outbox()
        .into_iter()
        .filter(|m| m.message_id.contains(".acknowledgement."))
        .map(|m| m.message_id)
        .collect();
    let mut distinct = acks.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), total, "each report acknowledged");
    assert_eq!(acks.len(), total, "an acknowledgement went twice");
}
