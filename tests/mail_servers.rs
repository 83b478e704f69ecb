//! `embargo serve` against a real Dovecot and Postfix, each test with its
//! own pair (tests/servers/start.sh), so stopping one hurts no other test.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::gpg::{Gpg, pgp_mime_encrypted, pgp_mime_signed, signed_parts};
use common::servers::{
    self, MailServers, Served, Tls, Wiring, address, header, message_ids, wait_for,
};
use common::{Site, mail};

/// A report as a reporter's mail client writes it.
fn report(n: usize, tag: &str) -> Vec<u8> {
    let from = format!("Reporter <{}>", address("reporter"));
    let id = format!("report-{tag}-{n}@reporter.example");
    let mut bytes = mail(&from, &format!("Overflow {tag} {n} in the parser"), &id, "");
    // `mail` addresses the example.org list; these servers serve embargo.test.
    let text = String::from_utf8(bytes)
        .unwrap()
        .replace("security@example.org", &address("security"));
    bytes = text.into_bytes();
    bytes
}

fn site(servers: &MailServers, wiring: &Wiring) -> Site {
    Site::with_config(&servers::config(servers, wiring))
}

fn serve(site: &Site) -> Served {
    Served::start(&site.config(), &site.path("serve.log"))
}

/// Mails in `user`'s inbox that answer (In-Reply-To) one of `ids`.
fn answers(servers: &MailServers, user: &str) -> Vec<Vec<u8>> {
    servers
        .mailbox(user)
        .into_iter()
        .filter(|m| header(m, "In-Reply-To").is_some() || header(m, "References").is_some())
        .collect()
}

fn incidents(site: &Site) -> Vec<serde_json::Value> {
    site.json(&["incidents"]).as_array().unwrap().clone()
}

/// How many times each Message-ID occurs.
fn counts(ids: &[String]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for id in ids {
        *out.entry(id.clone()).or_insert(0) += 1;
    }
    out
}

async fn imap_inbox(servers: &MailServers, user: &str) -> Vec<(Vec<u8>, bool)> {
    use futures_util::TryStreamExt;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", servers.imap))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    let mut session = client
        .login(address(user), servers::PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let mailbox = session.select("INBOX").await.unwrap();
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<_> = session
            .fetch("1:*", "(FLAGS BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for f in fetches {
            let seen = f
                .flags()
                .any(|fl| matches!(fl, async_imap::types::Flag::Seen));
            out.push((f.body().unwrap_or_default().to_vec(), seen));
        }
    }
    session.logout().await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_sent_over_smtp_is_acknowledged_and_copied_to_the_src_within_5_s() {
    let servers = MailServers::start();
    let site = site(&servers, &Wiring::tls());
    let served = serve(&site);
    // Let it connect and settle into IDLE first, as a running service would be.
    wait_for(Duration::from_secs(60), || {
        served.log().contains("IMAP connected")
    })
    .expect("the service connects to Dovecot");

    servers.send(
        &address("reporter"),
        &address("security"),
        &report(1, "ack"),
    );
    let took = wait_for(Duration::from_secs(5), || {
        !answers(&servers, "reporter").is_empty() && !servers.mailbox("src").is_empty()
    });
    assert!(
        took.is_some(),
        "no acknowledgement and SRC copy within 5 s; reporter has {}, src has {}",
        servers.mailbox("reporter").len(),
        servers.mailbox("src").len()
    );

    // Read back over IMAP, as the reporter would.
    let inbox = imap_inbox(&servers, "reporter").await;
    assert_eq!(inbox.len(), 1, "one acknowledgement");
    let ack = &inbox[0].0;
    let list = incidents(&site);
    assert_eq!(list.len(), 1);
    let id = list[0]["id"].as_str().unwrap();
    assert_eq!(
        header(ack, "In-Reply-To").as_deref(),
        Some("<report-ack-1@reporter.example>")
    );
    assert!(header(ack, "Subject").unwrap().contains(id), "{id}");
    assert!(header(ack, "From").unwrap().contains(&address("security")));
    let src = imap_inbox(&servers, "src").await;
    assert_eq!(src.len(), 1, "one SRC copy");
    assert!(header(&src[0].0, "Subject").unwrap().contains(id));

    // The report stays in the security mailbox, marked as read.
    let security = imap_inbox(&servers, "security").await;
    assert_eq!(security.len(), 1);
    assert!(
        security[0].1,
        "processed mail is flagged \\Seen, not deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_in_the_thread_joins_the_same_incident() {
    let servers = MailServers::start();
    let site = site(&servers, &Wiring::tls());
    let _served = serve(&site);
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(1, "thread"),
    );
    wait_for(Duration::from_secs(60), || {
        !answers(&servers, "reporter").is_empty()
    })
    .expect("an acknowledgement");
    let ack = answers(&servers, "reporter").remove(0);
    let ack_id = header(&ack, "Message-ID").unwrap();
    let subject = header(&ack, "Subject").unwrap();

    // The reporter answers the acknowledgement from their mail client.
    let reply = format!(
        "From: Reporter <{r}>\r\nTo: {s}\r\nSubject: Re: {subject}\r\n\
         Date: Tue, 01 Dec 2026 11:00:00 +0000\r\nMessage-ID: <reply-1@reporter.example>\r\n\
         In-Reply-To: {ack_id}\r\nReferences: <report-thread-1@reporter.example> {ack_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nA second crash, with this input.\r\n",
        r = address("reporter"),
        s = address("security"),
    );
    servers.send(&address("reporter"), &address("security"), reply.as_bytes());
    let id = incidents(&site)[0]["id"].as_str().unwrap().to_owned();
    wait_for(Duration::from_secs(60), || {
        site.json(&["show", &id])["messages"]
            .as_array()
            .is_some_and(|m| m.len() == 2)
    })
    .expect("the reply joins the incident");
    assert_eq!(incidents(&site).len(), 1, "no second incident");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_while_dovecot_is_down_is_processed_once_it_is_back() {
    let servers = MailServers::start();
    let site = site(&servers, &Wiring::tls());
    let served = serve(&site);
    for n in 0..3 {
        servers.send(
            &address("reporter"),
            &address("security"),
            &report(n, "down"),
        );
    }
    wait_for(Duration::from_secs(60), || {
        answers(&servers, "reporter").len() == 3
    })
    .expect("the first three are acknowledged");

    servers.stop_imap();
    // Postfix takes the mail and queues it: LMTP is gone with Dovecot.
    for n in 3..13 {
        servers.send(
            &address("reporter"),
            &address("security"),
            &report(n, "down"),
        );
        std::thread::sleep(Duration::from_millis(900));
    }
    servers.start_imap();
    // What Postfix deferred while LMTP was gone is delivered now, not at its
    // next retry; the reports are in Dovecot when this returns.
    servers.flush_queue();

    wait_for(Duration::from_secs(90), || {
        answers(&servers, "reporter").len() >= 13
    })
    .unwrap_or_else(|| {
        panic!(
            "after Dovecot came back: {} acknowledgements of 13",
            answers(&servers, "reporter").len()
        )
    });
    // A quiet window for a second pass to process something twice, then
    // whatever it sent is delivered before the count.
    std::thread::sleep(Duration::from_secs(3));
    servers.flush_queue();
    let acks = message_ids(&answers(&servers, "reporter"));
    assert_eq!(acks.len(), 13, "each report acknowledged exactly once");
    assert!(counts(&acks).values().all(|&n| n == 1));
    assert_eq!(
        incidents(&site).len(),
        13,
        "each report opened one incident"
    );
    assert_eq!(servers.mailbox("src").len(), 13, "each SRC copy once");
    let log = served.log();
    assert!(
        log.matches("IMAP connected").count() >= 2,
        "the service reconnected:\n{log}"
    );
    assert!(log.contains("IMAP source unavailable"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_due_while_postfix_is_down_is_sent_once_it_is_back() {
    let servers = MailServers::start();
    let site = site(&servers, &Wiring::tls());
    let served = serve(&site);
    servers.stop_smtp();
    // The report reaches the mailbox another way (LMTP straight to Dovecot).
    servers.deliver(
        &address("reporter"),
        &address("security"),
        &report(1, "smtp"),
    );
    wait_for(Duration::from_secs(60), || {
        served.log().contains("will retry")
    })
    .expect("the service tries to send and fails");
    assert!(answers(&servers, "reporter").is_empty());
    std::thread::sleep(Duration::from_secs(3));

    servers.start_smtp();
    wait_for(Duration::from_secs(60), || {
        !answers(&servers, "reporter").is_empty()
    })
    .expect("the acknowledgement goes out once Postfix is back");
    // A quiet window for a resend, delivered before the count.
    std::thread::sleep(Duration::from_secs(4));
    servers.flush_queue();
    assert_eq!(answers(&servers, "reporter").len(), 1, "sent exactly once");
    assert_eq!(servers.mailbox("src").len(), 1);
    assert!(
        served.log().contains("cannot reach the SMTP server"),
        "{}",
        served.log()
    );
}

/// Lines of the service's log that say an incident was opened.
fn opened(served: &Served) -> usize {
    served.log().matches(" opened ").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_killed_in_the_middle_of_200_mails_processes_and_acknowledges_each_once() {
    let servers = MailServers::start();
    let site = site(&servers, &Wiring::tls());
    for n in 0..200 {
        servers.deliver(
            &address("reporter"),
            &address("security"),
            &report(n, "kill"),
        );
    }

    // First kill: in the middle of reading the batch.
    let mut served = serve(&site);
    wait_for(Duration::from_secs(60), || opened(&served) >= 30)
        .expect("the service works through the batch");
    served.kill();
    let first = opened(&served);
    assert!(
        first < 200,
        "read all 200 before the kill; the test proves nothing"
    );

    // Second kill: in the middle of sending the acknowledgements.
    let mut served = serve(&site);
    wait_for(Duration::from_secs(60), || {
        answers(&servers, "reporter").len() >= 20
    })
    .expect("acknowledgements go out");
    served.kill();
    let sent_before = answers(&servers, "reporter").len();
    assert!(
        sent_before < 200,
        "sent all 200 before the kill; the test proves nothing"
    );

    // Mail claimed by the killed sender waits out its lease (10 s here).
    let served = serve(&site);
    wait_for(Duration::from_secs(120), || {
        counts(&message_ids(&answers(&servers, "reporter"))).len() >= 200
    })
    .unwrap_or_else(|| {
        panic!(
            "after the restart: {} distinct acknowledgements of 200\n{}",
            counts(&message_ids(&answers(&servers, "reporter"))).len(),
            served.log()
        )
    });
    std::thread::sleep(Duration::from_secs(3));
    let list = incidents(&site);
    assert_eq!(list.len(), 200, "every mail opened exactly one incident");
    for i in &list {
        assert_eq!(i["messages"], 1, "{i}");
    }
    let acks = message_ids(&answers(&servers, "reporter"));
    let distinct = counts(&acks);
    assert_eq!(distinct.len(), 200);
    // SMTP cannot be exactly-once across a crash: a mail the server took
    // just before the kill, but not yet marked sent, goes again, with the
    // same Message-ID so the recipient can tell. The sender sends one mail
    // at a time, so at most one can be in that window.
    let resent: Vec<_> = distinct.iter().filter(|(_, n)| **n > 1).collect();
    assert!(resent.len() <= 1 && acks.len() <= 201, "{resent:?}");
    let src = message_ids(&servers.mailbox("src"));
    assert_eq!(counts(&src).len(), 200, "one SRC copy per report");
    assert!(src.len() <= 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_imap_and_implicit_tls_smtp_work_against_the_test_ca() {
    let servers = MailServers::start();
    let wiring = Wiring {
        imap_tls: Tls::Starttls,
        smtp_tls: Tls::Implicit,
        ..Wiring::tls()
    };
    let site = site(&servers, &wiring);
    let _served = serve(&site);
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(1, "tls"),
    );
    wait_for(Duration::from_secs(60), || {
        !answers(&servers, "reporter").is_empty()
    })
    .expect("acknowledged over STARTTLS IMAP and SMTPS");
}

fn check(servers: &MailServers, wiring: &Wiring) -> String {
    let site = site(servers, wiring);
    let out = std::process::Command::new(common::BIN)
        .args([
            "--config",
            site.config().to_str().unwrap(),
            "check-config",
            "--connect",
        ])
        .env("EMBARGO_TEST_PASSWORD", servers::PASSWORD)
        .env("EMBARGO_WRONG_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "a broken setting passed:\n{text}");
    text
}

#[test]
fn check_config_connect_passes_for_the_right_settings() {
    let servers = MailServers::start();
    for (imap_tls, smtp_tls) in [
        (Tls::Implicit, Tls::Starttls),
        (Tls::Starttls, Tls::Implicit),
        // Allowed because "localhost" is a loopback host.
        (Tls::None, Tls::None),
    ] {
        let site = site(
            &servers,
            &Wiring {
                imap_tls,
                smtp_tls,
                ..Wiring::tls()
            },
        );
        let out = std::process::Command::new(common::BIN)
            .args([
                "--config",
                site.config().to_str().unwrap(),
                "check-config",
                "--connect",
            ])
            .env("EMBARGO_TEST_PASSWORD", servers::PASSWORD)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{imap_tls:?}/{smtp_tls:?}: {text}");
        assert!(
            text.contains("source imap:security@embargo.test@localhost/INBOX: OK"),
            "{text}"
        );
        assert!(text.contains("sink: OK"), "{text}");
    }
}

#[test]
fn a_certificate_for_another_host_name_is_refused() {
    let servers = MailServers::start();
    // The test certificate names "localhost" only.
    let text = check(
        &servers,
        &Wiring {
            host: "127.0.0.1",
            ..Wiring::tls()
        },
    );
    for (section, protocol) in [("source", "IMAP"), ("sink", "SMTP")] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{section}: ")))
            .unwrap_or_else(|| panic!("no line for {section}:\n{text}"));
        assert!(
            line.contains(&format!("TLS with the {protocol} server at 127.0.0.1"))
                && line.contains("not valid for the name 127.0.0.1")
                && line.contains(&format!("set {section}.host")),
            "{text}"
        );
    }
}

#[test]
fn a_wrong_password_a_wrong_port_and_tls_against_a_plain_port_each_name_the_setting() {
    let servers = MailServers::start();
    let wrong_password = check(
        &servers,
        &Wiring {
            password_env: "EMBARGO_WRONG_PASSWORD",
            ..Wiring::tls()
        },
    );
    assert!(
        wrong_password.contains("refused the login of security@embargo.test")
            && wrong_password.contains("source.password_env"),
        "{wrong_password}"
    );
    assert!(
        wrong_password.contains("sink.password_env"),
        "{wrong_password}"
    );

    let closed = servers::free_port();
    let wrong_port = check(
        &servers,
        &Wiring {
            imap_port: Some(closed),
            smtp_port: Some(closed),
            ..Wiring::tls()
        },
    );
    assert!(
        wrong_port.contains(&format!(
            "cannot connect to the IMAP server at localhost:{closed}"
        )) && wrong_port.contains("check source.host and source.port"),
        "{wrong_port}"
    );
    assert!(
        wrong_port.contains("check sink.host and sink.port"),
        "{wrong_port}"
    );

    // Implicit TLS pointed at the plain ports.
    let plain = check(
        &servers,
        &Wiring {
            imap_tls: Tls::Implicit,
            smtp_tls: Tls::Implicit,
            imap_port: Some(servers.imap),
            smtp_port: Some(servers.smtp),
            ..Wiring::tls()
        },
    );
    for section in ["source", "sink"] {
        assert!(
            plain.contains(&format!(
                "did not answer in TLS on port {}: if it expects STARTTLS there, set {section}.tls = \"starttls\"",
                if section == "source" { servers.imap } else { servers.smtp }
            )),
            "{plain}"
        );
    }

    // And `serve` with the wrong password says so once, then waits instead
    // of hammering the server.
    let site = site(
        &servers,
        &Wiring {
            password_env: "EMBARGO_WRONG_PASSWORD",
            ..Wiring::tls()
        },
    );
    let log = site.path("serve.log");
    let child = std::process::Command::new(common::BIN)
        .args(["--config", site.config().to_str().unwrap(), "serve"])
        .env("EMBARGO_WRONG_PASSWORD", "not-the-password")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let mut child = scopeguard(child);
    let logged = || {
        std::fs::read_to_string(&log).unwrap_or_default()
            + &std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
    };
    wait_for(Duration::from_secs(60), || {
        logged().contains("refused the login")
    })
    .unwrap_or_else(|| panic!("no refused login in 30 s:\n{}", logged()));
    // A quiet window: a service that hammers the server tries again in it.
    std::thread::sleep(Duration::from_secs(3));
    let _ = child.0.kill();
    let _ = child.0.wait();
    let text = logged();
    let refused = text.matches("refused the login").count();
    assert!(refused >= 1, "{text}");
    // One attempt at start; the next is a minute away.
    let attempts: HashSet<&str> = text
        .lines()
        .filter(|l| l.contains("IMAP source unavailable"))
        .collect();
    assert_eq!(attempts.len(), 1, "{text}");
}

struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn scopeguard(child: std::process::Child) -> Guard {
    Guard(child)
}

async fn imap_session(
    servers: &MailServers,
    user: &str,
) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", servers.imap))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client
        .login(address(user), servers::PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processed_mail_can_be_moved_to_a_folder_and_a_missing_folder_is_named() {
    let servers = MailServers::start();
    let with_move = servers::config(&servers, &Wiring::tls()).replace(
        "poll_seconds = 30",
        "poll_seconds = 30\nafter = \"move\"\nmove_to = \"Processed\"",
    );
    let site = Site::with_config(&with_move);
    let out = std::process::Command::new(common::BIN)
        .args([
            "--config",
            site.config().to_str().unwrap(),
            "check-config",
            "--connect",
        ])
        .env("EMBARGO_TEST_PASSWORD", servers::PASSWORD)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        text.contains("the folder \"Processed\" does not exist")
            && text.contains("create it, or fix source.move_to"),
        "{text}"
    );

    let mut session = imap_session(&servers, "security").await;
    session.create("Processed").await.unwrap();
    let _served = serve(&site);
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(1, "move"),
    );
    wait_for(Duration::from_secs(60), || {
        !answers(&servers, "reporter").is_empty()
    })
    .expect("acknowledged");
    let inbox = session.select("INBOX").await.unwrap();
    assert_eq!(inbox.exists, 0, "moved out of the inbox");
    let processed = session.select("Processed").await.unwrap();
    assert_eq!(processed.exists, 1, "and kept, not deleted");
    session.logout().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_uidvalidity_rereads_the_mailbox_without_processing_anything_twice() {
    let servers = MailServers::start();
    let site = site(&servers, &Wiring::tls());
    let served = serve(&site);
    for n in 0..2 {
        servers.send(
            &address("reporter"),
            &address("security"),
            &report(n, "uidv"),
        );
    }
    wait_for(Duration::from_secs(60), || {
        answers(&servers, "reporter").len() == 2
    })
    .expect("both acknowledged");

    // Dovecot forgets the UIDs it gave: the mailbox gets a new UIDVALIDITY.
    servers.stop_imap();
    let maildir = servers
        .dir()
        .join("mail")
        .join(address("security"))
        .join("Maildir");
    for entry in std::fs::read_dir(&maildir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("dovecot") {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    servers.start_imap();
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(2, "uidv"),
    );
    wait_for(Duration::from_secs(60), || {
        answers(&servers, "reporter").len() >= 3
    })
    .expect("the new report is acknowledged");
    std::thread::sleep(Duration::from_secs(3));

    let log = served.log();
    let validities: HashSet<&str> = log
        .lines()
        .filter(|l| l.contains("IMAP connected"))
        .filter_map(|l| l.split("uidvalidity").nth(1))
        .collect();
    assert_eq!(validities.len(), 2, "{log}");
    assert_eq!(
        log.matches("no checkpoint for this UIDVALIDITY").count(),
        2,
        "{log}"
    );
    assert_eq!(
        answers(&servers, "reporter").len(),
        3,
        "no acknowledgement twice"
    );
    assert_eq!(incidents(&site).len(), 3, "no incident twice");
    assert!(log.contains("duplicate delivery of a stored mail"), "{log}");
}

/// A site on these servers whose SRC members sign with their own GnuPG
/// keys (Alice, on call, and Bob), with the list's public key in the same
/// GnuPG: it reads and writes as every member and the reporter would.
struct Keyed {
    site: Site,
    gpg: Gpg,
    alice: String,
    list: String,
}

fn keyed(servers: &MailServers) -> Keyed {
    let gpg = Gpg::new();
    let alice = gpg.gen_key(&format!("Alice <{}>", address("alice")), "ed25519");
    let bob = gpg.gen_key(&format!("Bob <{}>", address("bob")), "ed25519");
    let d = servers::DOMAIN;
    let config = servers::config(servers, &Wiring::tls())
        .replace(
            "company = \"A Corp\"\n",
            &format!("company = \"A Corp\"\nfingerprint = \"{alice}\"\n"),
        )
        .replace(
            "company = \"B Corp\"\n",
            &format!("company = \"B Corp\"\nfingerprint = \"{bob}\"\n"),
        )
        .replace(
            &format!("[roster.oncall]\nrotation = [\"alice@{d}\", \"bob@{d}\"]"),
            &format!("[roster]\nkeyring = \"keys\"\n\n[roster.oncall]\nrotation = [\"alice@{d}\"]"),
        );
    assert!(
        config.contains(&bob) && config.contains("keyring"),
        "{config}"
    );
    let site = Site::with_config(&config);
    std::fs::create_dir(site.path("keys")).unwrap();
    std::fs::write(site.path("keys/alice.asc"), gpg.export(&alice)).unwrap();
    std::fs::write(site.path("keys/bob.asc"), gpg.export(&bob)).unwrap();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    let list = gpg.fingerprint("Test Project Security");
    Keyed {
        site,
        gpg,
        alice,
        list,
    }
}

/// The header block of a mail in a thread, on these servers.
fn in_thread(from: &str, subject: &str, id: &str, parent: &str) -> String {
    format!(
        "From: {from}\r\nTo: {s}\r\nSubject: {subject}\r\nDate: Tue, 01 Dec 2026 11:00:00 +0000\r\n\
         Message-ID: <{id}>\r\nIn-Reply-To: <{parent}>\r\nReferences: <{parent}>\r\n",
        s = address("security"),
    )
}

/// A mail as sent: Dovecot's Maildir keeps it with bare LF line ends.
fn crlf(mail: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(mail)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n")
        .into_bytes()
}

/// Mails in `user`'s inbox that relay the mail with Message-ID `id`.
fn relays_of(servers: &MailServers, user: &str, id: &str) -> Vec<Vec<u8>> {
    servers
        .mailbox(user)
        .into_iter()
        .filter(|m| header(m, "In-Reply-To").as_deref() == Some(&format!("<{id}>")))
        // The name as a mail client shows it (RFC 2047 decoded).
        .filter(|m| {
            mail_parser::MessageParser::default()
                .parse(m)
                .and_then(|p| p.from().and_then(|f| f.first()?.name().map(str::to_owned)))
                .is_some_and(|name| name.contains(" via "))
        })
        .collect()
}

/// Waits until each of `users` has a relay of the mail `id`.
fn wait_for_relays(servers: &MailServers, users: &[&str], id: &str) {
    wait_for(Duration::from_secs(60), || {
        users.iter().all(|u| !relays_of(servers, u, id).is_empty())
    })
    .unwrap_or_else(|| {
        let got: Vec<usize> = users
            .iter()
            .map(|u| relays_of(servers, u, id).len())
            .collect();
        panic!("<{id}> is not relayed to each of {users:?}: {got:?}")
    });
}

/// Opens a report, then accepts it, makes Bob its Fix Lead and dev its
/// Fix Team with Alice's signed commands; the incident id.
fn a_led_incident(servers: &MailServers, k: &Keyed, tag: &str) -> String {
    servers.send(&address("reporter"), &address("security"), &report(1, tag));
    // Acknowledged: the service is up, its store ready for the CLI.
    wait_for(Duration::from_secs(60), || {
        !answers(servers, "reporter").is_empty()
    })
    .expect("the report is acknowledged");
    let id = incidents(&k.site)[0]["id"].as_str().unwrap().to_owned();
    let commands = pgp_mime_signed(
        &k.gpg,
        &k.alice,
        &in_thread(
            &format!("Alice <{}>", address("alice")),
            &format!("Re: [{id}] New report"),
            &format!("lead-{tag}@alice.example"),
            &format!("report-{tag}-1@reporter.example"),
        ),
        &format!(
            "/accept {id}\n/lead {bob} {id}\n/team add {dev} {id}\n",
            bob = address("bob"),
            dev = address("dev")
        ),
    );
    servers.send(&address("alice"), &address("security"), &commands);
    wait_for(Duration::from_secs(60), || {
        let shown = k.site.json(&["show", &id]);
        shown["lead"] == address("bob").as_str() && shown["team"][0] == address("dev").as_str()
    })
    .expect("Alice's signed commands make Bob the Fix Lead and dev the Fix Team");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporters_follow_up_reaches_the_src_the_fix_lead_and_the_fix_team_signed_and_threaded() {
    let servers = MailServers::start();
    let k = keyed(&servers);
    let _served = serve(&k.site);
    let id = a_led_incident(&servers, &k, "relay");
    // Commands alone: answered, not relayed.
    assert!(relays_of(&servers, "src", "lead-relay@alice.example").is_empty());

    let follow_up = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         I found a second vector: the same overflow through the JSON loader.\r\n",
        in_thread(
            &format!("Jane Researcher <{}>", address("reporter")),
            "Re: Overflow relay 1 in the parser",
            "follow-up-1@reporter.example",
            "report-relay-1@reporter.example",
        )
    );
    servers.send(
        &address("reporter"),
        &address("security"),
        follow_up.as_bytes(),
    );
    let insiders = ["src", "bob", "dev"];
    wait_for_relays(&servers, &insiders, "follow-up-1@reporter.example");
    for user in insiders {
        let relayed = relays_of(&servers, user, "follow-up-1@reporter.example");
        assert_eq!(relayed.len(), 1, "{user} gets it once");
        let m = &relayed[0];
        let (signed, signature) = signed_parts(&crlf(m));
        let verified = k.gpg.verify_detached(&signature, &signed);
        assert!(verified.ok, "{user}: {}", verified.status);
        assert!(
            verified.status.contains(&k.list),
            "signed with the list key"
        );
        let from = header(m, "From").unwrap();
        assert!(
            from.contains("Jane Researcher via Test Project Security")
                && from.contains(&address("security")),
            "{from}"
        );
        assert_eq!(
            header(m, "Reply-To").unwrap(),
            address("security"),
            "answers come back to the list"
        );
        let references = header(m, "References").unwrap();
        assert!(
            references.contains("<report-relay-1@reporter.example>")
                && references.contains("<follow-up-1@reporter.example>"),
            "{references}"
        );
        let subject = header(m, "Subject").unwrap();
        assert_eq!(subject.matches(&id).count(), 1, "{subject}");
        let parsed = mail_parser::MessageParser::default().parse(m).unwrap();
        let text = parsed.body_text(0).unwrap();
        assert!(text.contains("I found a second vector"), "{text}");
        assert!(text.contains("not signed"), "the parser's verdict: {text}");
        // The original as received, for its own signature to be checked.
        let raw = String::from_utf8_lossy(m);
        assert!(raw.contains("Content-Type: message/rfc822"), "{raw}");
        assert!(raw.contains("Message-ID: <follow-up-1@reporter.example>"));
        // Bob, its Fix Lead, answers the relay from his mail client: it
        // threads onto the incident, and reaches the list and dev, not Bob.
        if user == "bob" {
            let relay_id = header(m, "Message-ID").unwrap();
            let answer = format!(
                "From: Bob <{bob}>\r\nTo: {security}\r\nSubject: Re: {subject}\r\n\
                 Date: Tue, 01 Dec 2026 12:00:00 +0000\r\nMessage-ID: <bob-answer@bob.example>\r\n\
                 In-Reply-To: {relay_id}\r\nReferences: {references} {relay_id}\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 Confirmed, fixing both.\r\n",
                bob = address("bob"),
                security = address("security"),
            );
            servers.send(&address("bob"), &address("security"), answer.as_bytes());
        }
    }
    wait_for(Duration::from_secs(60), || {
        !relays_of(&servers, "src", "bob-answer@bob.example").is_empty()
            && !relays_of(&servers, "dev", "bob-answer@bob.example").is_empty()
    })
    .expect("Bob's answer is relayed to the list and the Fix Team");
    // Unsigned, from a member's own address: the list's key does not vouch
    // for who wrote it.
    let to_src = relays_of(&servers, "src", "bob-answer@bob.example");
    let shown = mail_parser::MessageParser::default()
        .parse(&to_src[0])
        .and_then(|p| p.from().and_then(|f| f.first()?.name().map(str::to_owned)))
        .unwrap_or_default();
    assert_eq!(
        shown,
        format!("{} (unverified) via Test Project Security", address("bob"))
    );
    let shown = k.site.json(&["show", &id]);
    assert_eq!(
        shown["messages"].as_array().unwrap().len(),
        4,
        "report, commands, follow-up and answer on one incident: {shown:#}"
    );
    assert_eq!(incidents(&k.site).len(), 1, "no incident from the answer");
    // An unsigned From: proves nothing: Bob gets his answer too.
    assert_eq!(
        relays_of(&servers, "bob", "bob-answer@bob.example").len(),
        1
    );
    // Nothing relayed reached the reporter.
    assert!(
        servers
            .mailbox("reporter")
            .iter()
            .all(|m| !header(m, "From").unwrap().contains(" via ")),
        "the reporter gets no relay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_follow_up_reaches_each_keyed_member_encrypted_and_nobody_in_clear() {
    const SECRET: &str = "the exploit needs only a 17-byte anchor chain";
    let servers = MailServers::start();
    let k = keyed(&servers);
    let _served = serve(&k.site);
    let id = a_led_incident(&servers, &k, "sealed");
    let encrypted = pgp_mime_encrypted(
        &k.gpg,
        &k.list,
        None,
        &in_thread(
            &format!("Jane Researcher <{}>", address("reporter")),
            "Re: Overflow sealed 1 in the parser",
            "sealed-1@reporter.example",
            "report-sealed-1@reporter.example",
        ),
        &format!("Content-Type: text/plain; charset=utf-8\r\n\r\nDetails: {SECRET}.\r\n"),
    );
    servers.send(&address("reporter"), &address("security"), &encrypted);
    // Alice and Bob have keys; the list and dev (no key) get word only.
    wait_for_relays(
        &servers,
        &["src", "alice", "bob", "dev"],
        "sealed-1@reporter.example",
    );
    for user in ["alice", "bob"] {
        let relayed = relays_of(&servers, user, "sealed-1@reporter.example");
        assert_eq!(relayed.len(), 1, "{user}");
        let m = &relayed[0];
        assert_eq!(
            header(m, "Subject").unwrap(),
            "[EMBARGOED] encrypted mail",
            "{user}: the subject travels inside"
        );
        let opened = k.gpg.decrypt(m);
        assert!(opened.ok, "{user}: GnuPG decrypts it: {}", opened.status);
        assert!(
            opened.status.contains("GOODSIG"),
            "{user}: signed by the list key inside: {}",
            opened.status
        );
        let inside = String::from_utf8_lossy(&opened.stdout);
        assert!(inside.contains(SECRET), "{user}: {inside}");
        assert!(inside.contains(&id));
        assert!(
            inside.contains("Content-Type: message/rfc822") && inside.contains("BEGIN PGP MESSAGE"),
            "the original, as it came (encrypted), inside only: {inside}"
        );
    }
    for user in ["src", "dev"] {
        let relayed = relays_of(&servers, user, "sealed-1@reporter.example");
        assert_eq!(relayed.len(), 1, "{user}");
        let (signed, signature) = signed_parts(&crlf(&relayed[0]));
        assert!(k.gpg.verify_detached(&signature, &signed).ok, "{user}");
        let text = String::from_utf8_lossy(&relayed[0]);
        assert!(
            text.contains("came encrypted, so its text is not in this mail")
                && !text.contains("message/rfc822"),
            "{user}: word that it came, no text and no original: {text}"
        );
    }
    // Over every mailbox's raw bytes: the secret only ever travels encrypted.
    for user in [
        "security", "src", "reporter", "alice", "bob", "dev", "distro1", "distro2", "announce",
    ] {
        for m in servers.mailbox(user) {
            assert!(
                !String::from_utf8_lossy(&m).contains("17-byte anchor"),
                "{user} got the secret in clear"
            );
        }
    }
}

/// The ciphertext of a PGP/MIME encrypted mail, armored.
fn ciphertext(mail: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(mail);
    let start = text.find("-----BEGIN PGP MESSAGE-----")?;
    let end = text.find("-----END PGP MESSAGE-----")? + "-----END PGP MESSAGE-----".len();
    Some(text[start..end].replace("\r\n", "\n"))
}

/// `/reply` end to end: a forged answer reaches no one; Alice's signed one
/// reaches the reporter's mailbox encrypted to the key their report
/// carried in its Autocrypt header, signed by the list key, in their
/// thread; the insiders get a copy; the reporter's answer to it comes back
/// into the same incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_reply_reaches_the_reporter_encrypted_and_their_answer_comes_back() {
    use base64::Engine;
    use common::gpg::{Gpg, headers, pgp_mime_signed};

    let servers = MailServers::start();
    let gpg = Gpg::new();
    let alice = gpg.gen_key(&format!("Alice <{}>", address("alice")), "ed25519");
    let reporter_key = gpg.gen_key(&format!("Reporter <{}>", address("reporter")), "ed25519");
    let config = servers::config(&servers, &Wiring::tls())
        .replacen(
            "company = \"A Corp\"\n",
            &format!("company = \"A Corp\"\nfingerprint = \"{alice}\"\n"),
            1,
        )
        .replace(
            "[roster.oncall]",
            "[roster]\nkeyring = \"keys\"\n\n[roster.oncall]",
        );
    let site = Site::with_config(&config);
    std::fs::create_dir(site.path("keys")).unwrap();
    std::fs::write(site.path("keys/alice.asc"), gpg.export(&alice)).unwrap();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    let _served = serve(&site);

    // The report carries the reporter's key, as Autocrypt mail clients send it.
    let key = gpg.run(&["--export", &reporter_key], b"").stdout;
    let keydata = base64::engine::general_purpose::STANDARD.encode(key);
    let chunks: Vec<&str> = keydata
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let report = String::from_utf8(mail(
        &format!("Reporter <{}>", address("reporter")),
        "Overflow in the parser",
        "report-reply-1@reporter.example",
        &format!(
            "Autocrypt: addr={}; prefer-encrypt=mutual; keydata=\r\n {}\r\n",
            address("reporter"),
            chunks.join("\r\n ")
        ),
    ))
    .unwrap()
    .replace("security@example.org", &address("security"));
    servers.send(
        &address("reporter"),
        &address("security"),
        report.as_bytes(),
    );
    wait_for(Duration::from_secs(60), || {
        !answers(&servers, "reporter").is_empty()
    })
    .expect("an acknowledgement");
    let id = incidents(&site)[0]["id"].as_str().unwrap().to_owned();
    let to_reporter = |servers: &MailServers| servers.mailbox("reporter").len();

    // Unsigned, with Alice's From: refused, to the SRC, and nothing to the reporter.
    let alice_from = format!("Alice <{}>", address("alice"));
    let thread = "In-Reply-To: <report-reply-1@reporter.example>\r\n";
    let forged = format!(
        "{}MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n/reply {id}\r\nSend us your exploit.\r\n",
        headers(&alice_from, &format!("Re: [{id}] Overflow"), "forged-1@evil.example", thread)
    )
    .replace("security@example.org", &address("security"));
    servers.send(&address("alice"), &address("security"), forged.as_bytes());
    wait_for(Duration::from_secs(60), || {
        servers
            .mailbox("src")
            .iter()
            .any(|m| header(m, "Subject").is_some_and(|s| s.contains("Not applied")))
    })
    .expect("the forged /reply is refused to the SRC");

    let signed = String::from_utf8(pgp_mime_signed(
        &gpg,
        &alice,
        &headers(
            &alice_from,
            &format!("Re: [{id}] Overflow"),
            "c1@alice.example",
            thread,
        ),
        &format!("/reply {id}\r\nThank you; we reproduced it and are working on a fix.\r\n"),
    ))
    .unwrap()
    .replace("security@example.org", &address("security"));
    servers.send(&address("alice"), &address("security"), signed.as_bytes());
    wait_for(Duration::from_secs(60), || to_reporter(&servers) == 2)
        .expect("the answer reaches the reporter");
    assert_eq!(
        to_reporter(&servers),
        2,
        "the acknowledgement and the one answer"
    );
    let answer = servers
        .mailbox("reporter")
        .into_iter()
        .find(|m| ciphertext(m).is_some())
        .expect("the answer is encrypted");
    assert_eq!(
        header(&answer, "In-Reply-To").as_deref(),
        Some("<report-reply-1@reporter.example>")
    );
    assert!(
        header(&answer, "From")
            .unwrap()
            .contains(&address("security"))
    );
    let opened = gpg.decrypt(ciphertext(&answer).unwrap().as_bytes());
    assert!(opened.ok, "{}", opened.status);
    assert!(
        opened.status.contains("GOODSIG"),
        "signed by the list key: {}",
        opened.status
    );
    let plain = String::from_utf8_lossy(&opened.stdout).into_owned();
    assert!(plain.contains("we reproduced it"), "{plain}");
    assert!(!plain.contains(&address("alice")) && !plain.contains(&address("src")));
    assert!(!String::from_utf8_lossy(&answer).contains("exploit"));
    wait_for(Duration::from_secs(60), || {
        servers
            .mailbox("src")
            .iter()
            .any(|m| header(m, "Subject").is_some_and(|s| s.contains("Answered the reporter")))
    })
    .expect("the SRC list gets a copy");

    // The reporter answers from their mail client: it joins the incident.
    let answer_id = header(&answer, "Message-ID").unwrap();
    let theirs = format!(
        "From: Reporter <{r}>\r\nTo: {s}\r\nSubject: Re: Overflow in the parser\r\n\
         Date: Tue, 01 Dec 2026 11:00:00 +0000\r\nMessage-ID: <reply-2@reporter.example>\r\n\
         In-Reply-To: {answer_id}\r\nReferences: <report-reply-1@reporter.example> {answer_id}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nGreat, thanks. Here is a second input.\r\n",
        r = address("reporter"),
        s = address("security"),
    );
    servers.send(
        &address("reporter"),
        &address("security"),
        theirs.as_bytes(),
    );
    wait_for(Duration::from_secs(60), || {
        site.json(&["show", &id])["messages"]
            .as_array()
            .is_some_and(|m| {
                m.iter()
                    .any(|m| m["message_id"] == "reply-2@reporter.example")
            })
    })
    .expect("the reporter's answer joins the incident");
    assert_eq!(incidents(&site).len(), 1, "no second incident");
    // ... and reaches the insiders, relayed: "Reporter via the list".
    let relay_of_answer = |m: &Vec<u8>| {
        header(m, "In-Reply-To").as_deref() == Some("<reply-2@reporter.example>")
            && header(m, "From").is_some_and(|f| f.contains(" via "))
    };
    wait_for(Duration::from_secs(60), || {
        servers.mailbox("src").iter().any(relay_of_answer)
    })
    .expect("the reporter's answer is relayed to the SRC list");
    let relayed = servers
        .mailbox("src")
        .into_iter()
        .find(|m| relay_of_answer(m))
        .unwrap();
    assert!(
        String::from_utf8_lossy(&relayed).contains("Here is a second input."),
        "{}",
        String::from_utf8_lossy(&relayed)
    );
}

/// `embargo run --once` against the servers.
fn run_once(site: &Site) {
    let out = std::process::Command::new(common::BIN)
        .args(["--config", site.config().to_str().unwrap(), "run", "--once"])
        .env("EMBARGO_TEST_PASSWORD", servers::PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "run --once failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A distributor notice to an address Postfix cannot deliver comes back as
/// Postfix's own bounce, to the notice's return path: the notice is marked
/// bounced with Postfix's words, the SRC is told, and no incident opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributor_notice_postfix_bounces_is_marked_bounced_and_opens_no_incident() {
    use embargo::core::mail_kind::MailKind;
    use embargo::store::{NewMail, OutboxState, SqliteStore, Store};

    let servers = MailServers::start();
    let gone = address("gone");
    let site = Site::with_config(&format!(
        "{}\n[[distributors]]\nname = \"Gone Distro\"\nemail = \"{gone}\"\n",
        servers::config(&servers, &Wiring::tls())
    ));
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(1, "bounce"),
    );
    wait_for(Duration::from_secs(60), || {
        !servers.mailbox("security").is_empty()
    })
    .expect("the report reaches the security mailbox");
    run_once(&site);
    let list = incidents(&site);
    assert_eq!(list.len(), 1);
    let id: embargo::core::incident_id::IncidentId =
        list[0]["id"].as_str().unwrap().parse().unwrap();

    // A notice to a distributor address no mailbox has.
    let store = SqliteStore::open(&site.path("embargo.db")).await.unwrap();
    let now = jiff::Timestamp::now();
    let message_id = format!("advance-notice.{id}.test@embargo.test");
    let bytes = String::from_utf8(mail(
        &format!("Test Project Security <{}>", address("security")),
        &format!("[{id}] Advance notice"),
        &message_id,
        "",
    ))
    .unwrap()
    .replace("To: security@example.org", &format!("To: {gone}"));
    store
        .append(
            &id,
            &[],
            &[NewMail {
                key: format!("{id}/advance-notice/test"),
                kind: MailKind::AdvanceNotice,
                incident: Some(id.clone()),
                message_id: message_id.clone(),
                from: address("security"),
                recipients: vec![gone.clone()],
                subject: format!("[{id}] Advance notice"),
                bytes: bytes.into_bytes(),
                due_at: now,
            }],
            now,
        )
        .await
        .unwrap();
    run_once(&site);
    async fn notice(store: &SqliteStore) -> embargo::store::OutboxMail {
        store
            .outbox()
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.kind == MailKind::AdvanceNotice)
            .unwrap()
    }
    let sent = notice(&store).await;
    assert_eq!(sent.state, OutboxState::Sent, "{sent:?}");

    // Postfix's bounce, sent to the notice's own return path, lands in
    // the security mailbox.
    let return_path =
        embargo::core::bounce::return_path(&address("security"), sent.bounce_token.as_deref());
    let bounced_back = wait_for(Duration::from_secs(60), || {
        servers
            .mailbox("security")
            .iter()
            .any(|m| header(m, "Content-Type").is_some_and(|c| c.contains("multipart/report")))
    });
    assert!(
        bounced_back.is_some(),
        "no bounce in the security mailbox; it has {} mail(s)",
        servers.mailbox("security").len()
    );
    let dsn = servers
        .mailbox("security")
        .into_iter()
        .find(|m| header(m, "Content-Type").is_some_and(|c| c.contains("multipart/report")))
        .unwrap();
    if let Some(keep) = std::env::var_os("EMBARGO_KEEP_DSN") {
        std::fs::write(keep, &dsn).unwrap();
    }
    // Read by the one parser as Postfix wrote it.
    let read = embargo::parse::parse(dsn.clone(), usize::MAX, None)
        .unwrap()
        .bounce
        .expect("a bounce");
    assert_eq!(read.token, sent.bounce_token);
    assert!(read.null_sender, "Postfix bounces from the null sender");
    let report = read.report.expect("a delivery status report");
    assert_eq!(
        report.original_message_id.as_deref(),
        Some(message_id.as_str())
    );
    assert_eq!(report.recipients.len(), 1, "{report:?}");
    assert_eq!(report.recipients[0].final_recipient, gone);
    assert!(report.recipients[0].failed(), "{report:?}");
    assert!(
        header(&dsn, "Delivered-To").is_some_and(|d| d.eq_ignore_ascii_case(&return_path)),
        "delivered to {:?}, not {return_path}",
        header(&dsn, "Delivered-To")
    );

    run_once(&site);
    let row = notice(&store).await;
    assert_eq!(row.state, OutboxState::Bounced, "{row:?}");
    let words = row.last_error.clone().unwrap_or_default();
    assert!(
        words.contains(&gone) && words.contains("Action: failed") && words.contains("Status: 5."),
        "Postfix's words: {words}"
    );
    assert_eq!(incidents(&site).len(), 1, "a bounce opens no incident");

    // The SRC hears of it, signed like every notice.
    let told = wait_for(Duration::from_secs(60), || {
        servers.mailbox("src").iter().any(|m| {
            header(m, "Subject")
                .is_some_and(|s| s.contains(&format!("Could not deliver a mail to {gone}")))
        })
    });
    assert!(told.is_some(), "the SRC is not told");
    let src = servers.mailbox("src");
    let notice_to_src = src
        .iter()
        .find(|m| header(m, "Subject").is_some_and(|s| s.contains("Could not deliver")))
        .unwrap();
    assert!(
        header(notice_to_src, "Content-Type").is_some_and(|c| c.contains("multipart/signed")),
        "signed"
    );
    // Nobody else: the reporter got only the acknowledgement.
    assert_eq!(servers.mailbox("reporter").len(), 1);
}

/// `[observe]` on: `/healthz`, `/readyz` and `/metrics` answer; the
/// counters move as a report and a refused command go through the real
/// servers; `/readyz` turns unready while Dovecot is down and ready once it
/// is back; no label of any series names an address or the subject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_health_readiness_and_metrics_that_follow_the_mail() {
    use servers::{http_get, metric};

    let servers = MailServers::start();
    let port = servers::free_port();
    // Polls every 2 s: the source counts as unreached after 14 s.
    let site = Site::with_config(&format!(
        "{}\n[observe]\nlisten = \"127.0.0.1:{port}\"\n",
        servers::config(&servers, &Wiring::tls()).replace("poll_seconds = 30", "poll_seconds = 2")
    ));
    let served = serve(&site);
    wait_for(Duration::from_secs(60), || {
        http_get(port, "/readyz").0 == 200
    })
    .unwrap_or_else(|| {
        panic!(
            "/readyz never said ready: {:?}\n{}",
            http_get(port, "/readyz"),
            served.log()
        )
    });
    assert_eq!(http_get(port, "/healthz"), (200, "ok\n".to_owned()));
    let (status, ready) = http_get(port, "/readyz");
    assert_eq!(status, 200);
    for line in ["ready", "store: answers", "ingest lease: held"] {
        assert!(ready.contains(line), "{ready}");
    }
    assert_eq!(http_get(port, "/nothing-here").0, 404);
    let (status, before) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    let opened = "embargo_mails_ingested_total{outcome=\"opened\"}";
    assert_eq!(metric(&before, opened), Some(0.0), "{before}");
    assert_eq!(metric(&before, "embargo_ingest_lease_held"), Some(1.0));
    assert_eq!(metric(&before, "embargo_store_up"), Some(1.0));

    // A report, then the reporter's unsigned /accept in its thread.
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(1, "metrics"),
    );
    wait_for(Duration::from_secs(60), || {
        !answers(&servers, "reporter").is_empty()
    })
    .expect("the report is acknowledged");
    let id = incidents(&site)[0]["id"].as_str().unwrap().to_owned();
    let follow_up = String::from_utf8(mail(
        &format!("Reporter <{}>", address("reporter")),
        &format!("Re: [{id}] Overflow metrics 1 in the parser"),
        "follow-up-metrics@reporter.example",
        "In-Reply-To: <report-metrics-1@reporter.example>\r\n",
    ))
    .unwrap()
    .replace("security@example.org", &address("security"))
    .replace(
        "Body of follow-up-metrics@reporter.example.",
        &format!("/accept {id}"),
    );
    servers.send(
        &address("reporter"),
        &address("security"),
        follow_up.as_bytes(),
    );
    let refused = "embargo_commands_total{result=\"refused\",reason=\"unauthenticated\"}";
    wait_for(Duration::from_secs(60), || {
        metric(&http_get(port, "/metrics").1, refused) == Some(1.0)
    })
    .unwrap_or_else(|| {
        panic!(
            "the refused command is not counted:\n{}",
            http_get(port, "/metrics").1
        )
    });
    // The acknowledgement, the SRC copy, the command's reply and the relay
    // sent, nothing left (the store is read at most every 2 s: wait for
    // what only a fresh reading shows).
    wait_for(Duration::from_secs(60), || {
        let scrape = http_get(port, "/metrics").1;
        let state = |s: &str| metric(&scrape, &format!("embargo_outbox_mails{{state=\"{s}\"}}"));
        state("sent") >= Some(4.0) && state("pending") == Some(0.0) && state("sending") == Some(0.0)
    })
    .expect("the outbox empties");
    let (_, after) = http_get(port, "/metrics");
    let at_least = |series: &str, n: f64| {
        let v = metric(&after, series).unwrap_or(0.0);
        assert!(v >= n, "{series} is {v}, not at least {n}:\n{after}");
    };
    assert_eq!(metric(&after, opened), Some(1.0), "{after}");
    assert_eq!(
        metric(&after, "embargo_mails_ingested_total{outcome=\"joined\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&after, "embargo_signatures_total{status=\"unsigned\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&after, "embargo_incidents{state=\"reported\"}"),
        Some(1.0)
    );
    at_least("embargo_send_attempts_total{kind=\"acknowledgement\"}", 1.0);
    at_least("embargo_send_attempts_total{kind=\"src-copy\"}", 1.0);
    at_least("embargo_send_attempts_total{kind=\"command-reply\"}", 1.0);
    assert_eq!(
        metric(&after, "embargo_outbox_oldest_due_age_seconds"),
        Some(0.0)
    );
    assert!(
        metric(&after, "embargo_seconds_since_last_pass{loop=\"intake\"}").unwrap() < 30.0,
        "{after}"
    );
    // No series names a person, the subject or the incident.
    for line in after.lines().filter(|l| !l.starts_with('#')) {
        let labels = line.split_once('{').map_or("", |(_, rest)| rest);
        for secret in ["@", "embargo.test", "Overflow", "parser", &id] {
            assert!(!labels.contains(secret), "{secret:?} in a label: {line}");
        }
    }

    // The IMAP server goes away: not ready, yet alive; back: ready again.
    servers.stop_imap();
    wait_for(Duration::from_secs(60), || {
        http_get(port, "/readyz").0 == 503
    })
    .unwrap_or_else(|| {
        panic!(
            "still ready with Dovecot down: {:?}",
            http_get(port, "/readyz")
        )
    });
    let (_, unready) = http_get(port, "/readyz");
    assert!(unready.contains("source: not reached for"), "{unready}");
    assert_eq!(http_get(port, "/healthz").0, 200);
    // Passes that reach no server are no passes: the intake's age grows.
    let since =
        |scrape: &str| metric(scrape, "embargo_seconds_since_last_pass{loop=\"intake\"}").unwrap();
    let first = since(&http_get(port, "/metrics").1);
    std::thread::sleep(Duration::from_secs(3));
    let (_, outage) = http_get(port, "/metrics");
    assert!(since(&outage) > first && since(&outage) > 14.0, "{outage}");
    servers.start_imap();
    wait_for(Duration::from_secs(120), || {
        http_get(port, "/readyz").0 == 200
    })
    .unwrap_or_else(|| {
        panic!(
            "not ready again with Dovecot back: {:?}",
            http_get(port, "/readyz")
        )
    });

    // Whoever holds the observe port's connections open does not hold up
    // the mail: 200 idle connections, and a report is still acknowledged.
    let idle: Vec<_> = (0..200)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    servers.send(
        &address("reporter"),
        &address("security"),
        &report(2, "metrics"),
    );
    wait_for(Duration::from_secs(60), || {
        answers(&servers, "reporter").len() >= 2
    })
    .expect("the second report is acknowledged while the observe port is flooded");
    drop(idle);
    wait_for(Duration::from_secs(60), || {
        http_get(port, "/healthz").0 == 200
    })
    .expect("the endpoints answer again once the flood is gone");
}
