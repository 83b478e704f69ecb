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

/// The reporter's key came with their report while its encryption subkey
/// could be used; the primary key never expires, the subkey has expired
/// by the `/reply`. The answer goes signed, in clear (there is nothing to
/// encrypt to), and the member who wrote it and the insiders are told so,
/// and why: no one reads "encrypted" over a mail that went in clear.
#[tokio::test]
async fn a_reply_after_the_reporters_encryption_subkey_expired_goes_in_clear_and_says_why() {
    use std::sync::Arc;

    use embargo::clock::{Clock, ManualClock};
    use embargo::crypto::Crypto;
    use embargo::service::{Service, never_stop};
    use embargo::sink::FileSink;
    use embargo::source::Maildir;
    use embargo::store::{SqliteStore, Store};
    use jiff::{SignedDuration, Timestamp};
    use openpgp::serialize::SerializeInto;
    use sequoia_openpgp as openpgp;

    let t = |s: &str| s.parse::<Timestamp>().unwrap();
    let reported = t("2027-01-04T09:00:00Z");
    let subkey_ends = t("2027-01-05T09:00:00Z");
    let answered = t("2027-01-06T09:00:00Z");
    let made = reported - SignedDuration::from_hours(1);
    let (reporter, _) = openpgp::cert::CertBuilder::new()
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
    let fp = reporter.fingerprint().to_hex();

    let team = team_for_clock("");
    let site = &team.site;
    let settings = Arc::new(embargo::config::load(&site.config()).unwrap().settings);
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&site.path("embargo.db")).await.unwrap());
    let clock = Arc::new(ManualClock::new(reported));
    let keys = embargo::keyring::load(&settings, reported).unwrap();
    let service = Service::new(
        settings,
        store.clone(),
        clock.clone(),
        Crypto::new(keys.pgp),
    );
    let mut source = Maildir::new(&site.path("maildir"));
    let sink = FileSink::new(&site.path("outbox")).unwrap();
    let mut lease = store.lock_ingest().await.unwrap();

    site.deliver(&mail(
        "Reporter <r@example.net>",
        "Overflow in frob()",
        "r1@example.net",
        &autocrypt_of("r@example.net", &reporter.to_vec().unwrap()),
    ));
    service
        .run_once(&mut source, &sink, &never_stop(), &mut lease)
        .await
        .unwrap();
    let id = store.open_incidents().await.unwrap()[0].id.to_string();
    let shown = site.json(&["show", &id]);
    assert_eq!(
        shown["reporter_key"]["fingerprint"].as_str(),
        Some(fp.as_str()),
        "{shown:#}"
    );
    assert!(
        shown["reporter_key"]["unusable"].is_null(),
        "it could take encrypted mail when it came: {shown:#}"
    );

    clock.set(answered);
    team.gpg.set_time(Some(clock.now()));
    site.deliver(&pgp_mime_signed(
        &team.gpg,
        &team.alice,
        &reply("Alice <alice@example.org>", &id, "r1@example.net", "c1"),
        &format!("/reply {id}\r\nThe embargoed details of the fix.\r\n"),
    ));
    service
        .run_once(&mut source, &sink, &never_stop(), &mut lease)
        .await
        .unwrap();

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
    team.gpg
        .import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    let (signed, signature) = signed_parts(&answer.raw);
    let verified = team.gpg.verify_detached(&signature, &signed);
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
