//! `/reply` through `embargo run --once` on the file sink, with GnuPG on
//! both ends: a member's signed answer reaches the reporter alone, signed
//! by the list key, in their thread, encrypted to the key their report
//! carried; the insiders get a copy; the reporter's answer comes back to
//! the incident. Without authority, nothing reaches the reporter.

mod common;

use base64::Engine;
use common::gpg::{Gpg, pgp_mime_signed, signed_parts};
use common::team::*;
use common::*;

/// The mails the service sent to `to` alone.
fn sent_to(site: &Site, to: &str) -> Vec<Sent> {
    site.outbox()
        .into_iter()
        .filter(|m| m.envelope_to == [to])
        .collect()
}

fn answers_to_reporter(site: &Site) -> Vec<Sent> {
    sent_to(site, "r@example.net")
        .into_iter()
        .filter(|m| m.message_id.contains(".reporter-answer.") || m.subject.contains("EMBARGOED"))
        .collect()
}

fn list_key_gpg(site: &Site) -> Gpg {
    let gpg = Gpg::new();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    gpg
}

/// An `Autocrypt:` header carrying `fp`'s key for `addr`, folded as mail
/// programs fold it.
fn autocrypt(gpg: &Gpg, addr: &str, fp: &str) -> String {
    let key = gpg.run(&["--export", fp], b"");
    assert!(key.ok && !key.stdout.is_empty());
    autocrypt_of(addr, &key.stdout)
}

/// An `Autocrypt:` header carrying the binary key `key` for `addr`.
fn autocrypt_of(addr: &str, key: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    let folded: Vec<String> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    format!(
        "Autocrypt: addr={addr}; prefer-encrypt=mutual; keydata=\r\n {}\r\n",
        folded.join("\r\n ")
    )
}

fn incident_titled(site: &Site, title: &str) -> String {
    site.json(&["incidents"])
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == title)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn command_reply(site: &Site, n: &str) -> Sent {
    let id = format!("{n}@mail.example");
    site.outbox()
        .into_iter()
        .find(|m| m.in_reply_to.as_deref() == Some(id.as_str()) && m.subject.contains("pplied"))
        .unwrap_or_else(|| panic!("no command reply to {id}"))
}

#[test]
fn a_members_reply_reaches_the_reporter_alone_signed_threaded_and_their_answer_comes_back() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    // A follow-up of theirs: the answer replies to it.
    site.deliver(&mail(
        "Reporter <r@example.net>",
        "Re: Overflow in frob()",
        "r2@example.net",
        "In-Reply-To: <r1@example.net>\r\n",
    ));
    site.ok(&["run", "--once"]);
    let text = format!(
        "Accepting, and telling the reporter.\r\n\r\n/accept {id}\r\n/team add dev@example.org {id}\r\n\
         /reply {id}\r\nThanks, we reproduced it on 2.4.1.\r\n\r\nA fix is on its way.\r\n\r\n-- \r\nAlice <alice@example.org>\r\n"
    );
    site.deliver(&pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &reply("Alice <alice@example.org>", &id, "r1@example.net", "c1"),
        &text,
    ));
    site.ok(&["run", "--once"]);

    let answers = answers_to_reporter(site);
    let [answer] = answers.as_slice() else {
        panic!("one answer to the reporter: {answers:#?}")
    };
    assert_eq!(answer.from, "security@example.org");
    assert_eq!(answer.to, ["r@example.net"]);
    assert_eq!(answer.subject, format!("[{id}] Re: Overflow in frob()"));
    assert_eq!(answer.in_reply_to.as_deref(), Some("r2@example.net"));
    let raw = String::from_utf8_lossy(&answer.raw).into_owned();
    assert!(
        raw.contains("References: <r1@example.net> <r2@example.net>"),
        "{raw}"
    );
    assert!(
        answer
            .text
            .replace("\r\n", "\n")
            .contains("Thanks, we reproduced it on 2.4.1.\n\nA fix is on its way."),
        "{}",
        answer.text
    );
    // The reporter is an outsider: no one of the team is named to them.
    for insider in [
        "alice@example.org",
        "Alice",
        "src@example.org",
        "dev@example.org",
        "bob@example.net",
        "telling the reporter",
    ] {
        assert!(!raw.contains(insider), "{insider} in:\n{raw}");
    }
    let gpg = list_key_gpg(site);
    let (signed, signature) = signed_parts(&answer.raw);
    let verified = gpg.verify_detached(&signature, &signed);
    assert!(verified.ok, "{}", verified.status);

    // The insiders have the record; Alice has the confirmation.
    let copy = site
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("Answered the reporter"))
        .expect("a copy for the insiders");
    assert_eq!(
        copy.envelope_to,
        ["src@example.org", "dev@example.org"],
        "the SRC list and the Fix Team; Alice (Fix Lead) wrote it"
    );
    assert!(copy.text.contains("Thanks, we reproduced it on 2.4.1."));
    let confirmed = command_reply(site, "c1");
    assert!(
        confirmed.text.contains(
            "goes to the reporter r@example.net, signed with the list key, not encrypted (they sent no key)"
        ),
        "{}",
        confirmed.text
    );

    // The reporter answers our mail, without the tag: it joins the incident.
    site.deliver(&mail(
        "Reporter <r@example.net>",
        "Re: Overflow in frob()",
        "r3@example.net",
        &format!("In-Reply-To: <{}>\r\n", answer.message_id),
    ));
    let said = site.ok(&["run", "--once"]);
    assert!(said.contains("1 filed"), "{said}");
    assert_eq!(site.json(&["incidents"]).as_array().unwrap().len(), 1);
    let messages = site.json(&["show", &id])["messages"].clone();
    let last = messages.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["message_id"], "r3@example.net", "{messages:#}");
    assert!(
        last["joined_via"]
            .as_str()
            .is_some_and(|v| v.contains(&answer.message_id)),
        "{last:#}"
    );
}

#[test]
fn the_answer_is_encrypted_to_the_key_the_reporters_report_carried() {
    let t = team();
    let site = &t.site;
    let reporter = t.gpg.gen_key("Reporter <r@example.net>", "ed25519");
    let other = t.gpg.gen_key("Someone Else <r2@example.com>", "ed25519");
    site.deliver(&mail(
        "Reporter <r@example.net>",
        "Overflow in frob()",
        "r1@example.net",
        &autocrypt(&t.gpg, "r@example.net", &reporter),
    ));
    site.ok(&["run", "--once"]);
    let id = incident_titled(site, "Overflow in frob()");
    // A key under the reporter's address but for someone else, and one
    // sent by another sender for the reporter: neither replaces theirs.
    site.deliver(&mail(
        "Reporter <r@example.net>",
        &format!("Re: [{id}] Overflow in frob()"),
        "r2@example.net",
        &autocrypt(&t.gpg, "r@example.net", &other),
    ));
    site.deliver(&mail(
        "Mallory <mallory@evil.example>",
        &format!("Re: [{id}] Overflow in frob()"),
        "m1@evil.example",
        &autocrypt(&t.gpg, "r@example.net", &t.mallory),
    ));
    site.ok(&["run", "--once"]);
    let shown = site.json(&["show", &id]);
    assert_eq!(
        shown["reporter_key"]["fingerprint"].as_str(),
        Some(reporter.as_str()),
        "{shown:#}"
    );

    site.deliver(&pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &reply("Alice <alice@example.org>", &id, "r1@example.net", "c1"),
        &format!("/reply {id}\r\nWe can reproduce it. Thank you.\r\n"),
    ));
    site.ok(&["run", "--once"]);
    let answers = answers_to_reporter(site);
    let [answer] = answers.as_slice() else {
        panic!("one answer to the reporter: {answers:#?}")
    };
    let outside = outside_ciphertext(&answer.raw);
    assert!(!outside.contains("reproduce"), "{outside}");
    assert!(!outside.contains("frob"), "{outside}");
    // The reporter's GnuPG (this home has their secret key) opens it, and
    // finds the list key's signature inside.
    t.gpg
        .import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    let body = mail_parser::MessageParser::default()
        .parse(&answer.raw)
        .unwrap();
    let armored = body
        .parts
        .iter()
        .find_map(|p| {
            let b = p.contents();
            std::str::from_utf8(b)
                .ok()
                .filter(|s| s.contains("-----BEGIN PGP MESSAGE-----"))
                .map(str::to_owned)
        })
        .expect("the ciphertext");
    let opened = t.gpg.decrypt(armored.as_bytes());
    assert!(opened.ok, "{}", opened.status);
    assert!(opened.status.contains("GOODSIG"), "{}", opened.status);
    let plain = String::from_utf8_lossy(&opened.stdout);
    assert!(plain.contains("We can reproduce it. Thank you."), "{plain}");
    assert!(
        plain.contains(&format!("[{id}] Re: Overflow in frob()")),
        "the real subject inside: {plain}"
    );
    let confirmed = command_reply(site, "c1");
    assert!(
        confirmed
            .text
            .contains(&format!("encrypted to their key {reporter}")),
        "{}",
        confirmed.text
    );
}

#[test]
fn a_reply_without_authority_sends_nothing_to_the_reporter_and_says_why() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let alice_from = "Alice <alice@example.org>";
    let reply_text = format!("/reply {id}\r\nPlease send us your exploit.\r\n");
    let signed = pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &reply(alice_from, &id, "r1@example.net", "ok1"),
        &reply_text,
    );
    // The same signed mail again, under a new Message-ID: a replay.
    let replayed = String::from_utf8(signed.clone())
        .unwrap()
        .replace("ok1@mail.example", "replay1@mail.example")
        .into_bytes();
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "unsigned, with a member's From:",
            format!(
                "{}Content-Type: text/plain\r\n\r\n{reply_text}",
                reply(alice_from, &id, "r1@example.net", "u1")
            )
            .into_bytes(),
            "src@example.org",
            "not signed",
        ),
        (
            "signed by a stranger, with a forged From:",
            pgp_mime_signed(
                &t.gpg,
                &t.mallory,
                &reply(alice_from, &id, "r1@example.net", "u2"),
                &reply_text,
            ),
            "src@example.org",
            "not in the roster",
        ),
        (
            "signed, but the text for the reporter is empty",
            pgp_mime_signed(
                &t.gpg,
                &t.alice,
                &reply(alice_from, &id, "r1@example.net", "u3"),
                &format!("/reply {id}\r\n\r\n-- \r\nAlice\r\n"),
            ),
            "alice@example.org",
            "has no text",
        ),
    ];
    for (name, bytes, told, why) in cases {
        site.deliver(&bytes);
        site.ok(&["run", "--once"]);
        assert!(answers_to_reporter(site).is_empty(), "{name}");
        let refusal = site
            .outbox()
            .into_iter()
            .find(|m| m.subject.contains("Not applied") && m.text.contains(why))
            .unwrap_or_else(|| panic!("{name}: no refusal saying {why:?}"));
        assert_eq!(refusal.envelope_to, [told], "{name}");
    }
    // The genuine one goes; its replay does not.
    site.deliver(&signed);
    site.ok(&["run", "--once"]);
    assert_eq!(answers_to_reporter(site).len(), 1);
    site.deliver(&replayed);
    site.ok(&["run", "--once"]);
    assert_eq!(answers_to_reporter(site).len(), 1, "a replay sends nothing");
    let refused = command_reply(site, "replay1");
    assert!(refused.text.contains("seen before"), "{}", refused.text);
}

/// The simulated clock for `/reply` tests that need time to pass between
/// the report and the answer: the report came on [`REPORTED`], with the
/// key `reporter` in an `Autocrypt:` header, and the service filed it.
struct Clocked {
    team: Team,
    clock: std::sync::Arc<embargo::clock::ManualClock>,
    store: std::sync::Arc<dyn embargo::store::Store>,
    service: embargo::service::Service,
    source: embargo::source::Maildir,
    sink: embargo::sink::FileSink,
    lease: embargo::store::IngestLock,
    id: String,
}

const REPORTED: &str = "2027-01-04T09:00:00Z";

fn at(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// The reporter's key: a primary key that never expires, and one
/// encryption subkey that expires at `subkey_ends`.
fn reporter_key(subkey_ends: jiff::Timestamp) -> sequoia_openpgp::Cert {
    use sequoia_openpgp as openpgp;
    let made = at(REPORTED) - jiff::SignedDuration::from_hours(1);
    let (cert, _) = openpgp::cert::CertBuilder::new()
        .set_cipher_suite(openpgp::cert::CipherSuite::Cv25519)
        .set_creation_time(std::time::SystemTime::try_from(made).unwrap())
        .add_userid("Reporter <r@example.net>")
        .add_subkey(
            openpgp::types::KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            std::time::Duration::try_from(subkey_ends.duration_since(made)).unwrap(),
            None,
        )
        .generate()
        .unwrap();
    cert
}

impl Clocked {
    async fn reported(reporter: &sequoia_openpgp::Cert) -> Clocked {
        use embargo::store::Store;
        use sequoia_openpgp::serialize::SerializeInto;
        use std::sync::Arc;

        let team = team_for_clock("");
        let site = &team.site;
        let settings = Arc::new(embargo::config::load(&site.config()).unwrap().settings);
        let store: Arc<dyn Store> = Arc::new(
            embargo::store::SqliteStore::open(&site.path("embargo.db"))
                .await
                .unwrap(),
        );
        let clock = Arc::new(embargo::clock::ManualClock::new(at(REPORTED)));
        let keys = embargo::keyring::load(&settings, at(REPORTED)).unwrap();
        let service = embargo::service::Service::new(
            settings,
            store.clone(),
            clock.clone(),
            embargo::crypto::Crypto::new(keys.pgp),
        );
        let source = embargo::source::Maildir::new(&site.path("maildir"));
        let sink = embargo::sink::FileSink::new(&site.path("outbox")).unwrap();
        let lease = store.lock_ingest().await.unwrap();
        site.deliver(&mail(
            "Reporter <r@example.net>",
            "Overflow in frob()",
            "r1@example.net",
            &autocrypt_of("r@example.net", &reporter.to_vec().unwrap()),
        ));
        let mut c = Clocked {
            team,
            clock,
            store,
            service,
            source,
            sink,
            lease,
            id: String::new(),
        };
        c.pass().await;
        c.id = c.store.open_incidents().await.unwrap()[0].id.to_string();
        let shown = c.team.site.json(&["show", &c.id]);
        assert_eq!(
            shown["reporter_key"]["fingerprint"].as_str(),
            Some(reporter.fingerprint().to_hex().as_str()),
            "{shown:#}"
        );
        assert!(
            shown["reporter_key"]["unusable"].is_null(),
            "it could take encrypted mail when it came: {shown:#}"
        );
        c
    }

    async fn pass(&mut self) {
        self.service
            .run_once(
                &mut self.source,
                &self.sink,
                &embargo::service::never_stop(),
                &mut self.lease,
            )
            .await
            .unwrap();
    }

    /// Alice signs `/reply` with `text` at `when`, and the service takes it in.
    async fn alice_replies(&mut self, when: jiff::Timestamp, text: &str) {
        use embargo::clock::Clock;
        self.clock.set(when);
        self.team.gpg.set_time(Some(self.clock.now()));
        let id = &self.id;
        self.team.site.deliver(&pgp_mime_signed(
            &self.team.gpg,
            &self.team.alice,
            &reply("Alice <alice@example.org>", id, "r1@example.net", "c1"),
            &format!("/reply {id}\r\n{text}\r\n"),
        ));
        self.pass().await;
    }
}

/// The reporter's key came with their report while its encryption subkey
/// could be used; the primary key never expires, the subkey has expired
/// by the `/reply`. The answer goes signed, in clear (there is nothing to
/// encrypt to), and the member who wrote it and the insiders are told so,
/// and why: no one reads "encrypted" over a mail that went in clear.
#[tokio::test]
async fn a_reply_after_the_reporters_encryption_subkey_expired_goes_in_clear_and_says_why() {
    let reporter = reporter_key(at("2027-01-05T09:00:00Z"));
    let fp = reporter.fingerprint().to_hex();
    let mut c = Clocked::reported(&reporter).await;
    c.alice_replies(
        at("2027-01-06T09:00:00Z"),
        "The embargoed details of the fix.",
    )
    .await;
    let site = &c.team.site;

    let why = format!("key {fp}: its encryption subkey expired on 2027-01-05 09:00 UTC");
    let said = format!(
        "signed with the list key, NOT encrypted: the key they sent cannot be used ({why})"
    );
    let answers = answers_to_reporter(site);
    let [answer] = answers.as_slice() else {
        panic!("one answer to the reporter: {answers:#?}")
    };
    let raw = String::from_utf8_lossy(&answer.raw).into_owned();
    assert!(!raw.contains("-----BEGIN PGP MESSAGE-----"), "{raw}");
    assert!(
        answer.text.contains("The embargoed details of the fix."),
        "{raw}"
    );
    c.team
        .gpg
        .import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    let (signed, signature) = signed_parts(&answer.raw);
    let verified = c.team.gpg.verify_detached(&signature, &signed);
    assert!(verified.ok, "signed by the list key: {}", verified.status);

    let confirmed = command_reply(site, "c1");
    assert!(confirmed.text.contains(&said), "{}", confirmed.text);
    assert!(
        !confirmed.text.contains("encrypted to their key"),
        "{}",
        confirmed.text
    );
    let copy = site
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("Answered the reporter"))
        .expect("a copy for the insiders");
    assert!(copy.text.contains(&said), "{}", copy.text);
    assert!(
        !copy.text.contains("encrypted to their key"),
        "{}",
        copy.text
    );
}

/// A key recorded before the service noted when its encryption subkeys
/// expire reads as it did (the field is absent from the stored JSON), so
/// the decision says "encrypted" when the subkey has expired since. The
/// mail then cannot be encrypted: nothing goes to the reporter, in clear
/// or otherwise, no copy says it went, and the SRC hears of it.
#[tokio::test]
async fn an_answer_decided_encrypted_that_cannot_be_is_not_sent_and_the_src_hears_of_it() {
    let reporter = reporter_key(at("2027-01-05T09:00:00Z"));
    let fp = reporter.fingerprint().to_hex();
    let mut c = Clocked::reported(&reporter).await;
    // As an older embargo stored it.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        c.team.site.path("embargo.db").display()
    ))
    .await
    .unwrap();
    let changed = sqlx::query(
        "UPDATE incidents SET details = json_remove(details, '$.reporter_key.encryption_expires_at') \
         WHERE json_extract(details, '$.reporter_key.encryption_expires_at') IS NOT NULL",
    )
    .execute(&db)
    .await
    .unwrap();
    assert_eq!(changed.rows_affected(), 1, "the expiry was recorded");
    db.close().await;
    let before: Vec<_> = c.team.site.outbox().into_iter().map(|m| m.file).collect();

    c.alice_replies(
        at("2027-01-06T09:00:00Z"),
        "The embargoed details of the fix.",
    )
    .await;
    let site = &c.team.site;
    assert!(
        answers_to_reporter(site).is_empty(),
        "nothing to the reporter"
    );
    let sent: Vec<Sent> = site
        .outbox()
        .into_iter()
        .filter(|m| !before.contains(&m.file))
        .collect();
    for m in &sent {
        assert!(
            !m.envelope_to.contains(&"r@example.net".to_owned()),
            "to the reporter: {m:#?}"
        );
        assert!(
            !m.text.contains("The embargoed details of the fix."),
            "the text in clear in {:?} to {:?}",
            m.subject,
            m.envelope_to
        );
    }
    assert!(
        !site
            .outbox()
            .iter()
            .any(|m| m.subject.contains("Answered the reporter")),
        "no copy saying it went"
    );
    let alert = site
        .outbox()
        .into_iter()
        .find(|m| {
            m.subject
                .contains("Could not deliver a mail to r@example.net")
        })
        .expect("the SRC hears of it");
    assert_eq!(alert.envelope_to, ["src@example.org"]);
    assert!(
        alert.text.contains(&format!("encrypted to their key {fp}"))
            && alert.text.contains("nothing was sent to them"),
        "{}",
        alert.text
    );
    let shown = site.json(&["show", &c.id]);
    assert!(
        shown["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "delivery-failed"
                && e["detail"].as_str().is_some_and(|d| d.contains(&fp))),
        "{shown:#}"
    );
}
