//! OpenPGP end to end, through the real binary, with GnuPG as the judge:
//! every mail the service sends verifies; what GnuPG users sign and encrypt
//! is verified and decrypted; only roster keys authenticate.

mod common;

use common::gpg::{Gpg, headers, pgp_mime_encrypted, pgp_mime_signed, signed_parts};
use common::*;
use serde_json::Value;

/// A site whose roster holds Alice (Ed25519) and Bob (RSA-3072), with their
/// public keys in a keyring directory; Mallory has a key but is no member.
struct Keyed {
    site: Site,
    gpg: Gpg,
    alice: String,
    bob: String,
    mallory: String,
}

fn keyed(list_extra: &str) -> Keyed {
    let gpg = Gpg::new();
    let alice = gpg.gen_key("Alice <alice@example.org>", "ed25519");
    let bob = gpg.gen_key("Bob <bob@example.net>", "rsa3072");
    let mallory = gpg.gen_key("Mallory <mallory@evil.example>", "ed25519");
    let config = BASE_CONFIG
        .replace("6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9", &alice)
        .replace("1C3E5A7B9D0F2468ACE013579BDF02468ACE1357", &bob)
        .replace(
            "key_file = \"list-key.asc\"",
            &format!("key_file = \"list-key.asc\"\n{list_extra}"),
        )
        .replace(
            "[roster.oncall]",
            "[roster]\nkeyring = \"keys\"\n\n[roster.oncall]",
        );
    let site = Site::with_config(&config);
    std::fs::create_dir(site.path("keys")).unwrap();
    std::fs::write(site.path("keys/alice.asc"), gpg.export(&alice)).unwrap();
    std::fs::write(site.path("keys/bob.asc"), gpg.export(&bob)).unwrap();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    Keyed {
        site,
        gpg,
        alice,
        bob,
        mallory,
    }
}

fn list_fingerprint(site: &Site) -> String {
    let shown = site.json(&["keys", "show"]);
    shown["list_key"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The first message of each incident, by the subject that opened it.
fn first_messages(site: &Site) -> Vec<(String, Value)> {
    let incidents = site.json(&["incidents"]);
    incidents
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let rec = site.json(&["show", i["id"].as_str().unwrap()]);
            (
                i["title"].as_str().unwrap().to_owned(),
                rec["messages"][0].clone(),
            )
        })
        .collect()
}

#[test]
fn gnupg_verifies_every_mail_the_service_sends() {
    let k = keyed("public_key = \"attach\"");
    let site = &k.site;
    // A report whose text has what breaks careless signing: trailing
    // spaces, a line starting with "From ", and non-ASCII text.
    let text = "Hello,   \r\nFrom what I see, the parser overflows.\r\nGrüße, 山田 — ünïcödé\r\n\r\n-- \r\nR\r\n";
    site.deliver(
        format!(
            "{}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}",
            headers(
                "Reporter <r@example.net>",
                "Overflow",
                "rep-1@example.net",
                ""
            )
        )
        .as_bytes(),
    );
    site.deliver(b"not a mail, just bytes\r\n");
    // An encrypted follow-up that is not for the list key: kept, SRC told.
    let other = k.gpg.gen_key("Other <other@example.net>", "ed25519");
    site.deliver(&pgp_mime_encrypted(
        &k.gpg,
        &other,
        None,
        &headers(
            "Reporter <r@example.net>",
            "Re: Overflow",
            "rep-2@example.net",
            "In-Reply-To: <rep-1@example.net>\r\n",
        ),
        "Content-Type: text/plain\r\n\r\nsecret\r\n",
    ));
    site.ok(&["run", "--once"]);

    let sent = site.outbox();
    let kinds: Vec<&str> = sent
        .iter()
        .map(|m| m.message_id.split('@').next().unwrap())
        .collect();
    assert_eq!(sent.len(), 4, "{kinds:?}");
    for want in [
        ".acknowledgement",
        ".src-copy",
        "quarantine.",
        ".undecryptable.",
    ] {
        assert!(
            kinds.iter().any(|k| k.contains(want)),
            "no {want} mail in {kinds:?}"
        );
    }
    let list_fp = list_fingerprint(site);
    for m in &sent {
        let (signed, signature) = signed_parts(&m.raw);
        let r = k.gpg.verify_detached(&signature, &signed);
        assert!(r.ok, "{}: GnuPG says {}", m.message_id, r.status);
        assert!(r.status.contains(&list_fp), "{}", r.status);
        // The list's public key travels inside the signed part.
        let signed_text = String::from_utf8_lossy(&signed);
        assert!(
            signed_text.contains("Content-Type: application/pgp-keys"),
            "{}",
            m.message_id
        );
        // One byte changed in the signed part: GnuPG refuses it.
        let mut changed = signed.clone();
        let at = changed.len() / 2;
        changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
        assert!(
            !k.gpg.verify_detached(&signature, &changed).ok,
            "{}",
            m.message_id
        );
        assert_eq!(
            mail_parser::MessageParser::default()
                .parse(&m.raw)
                .unwrap()
                .header_raw("OpenPGP")
                .map(str::trim),
            Some(format!("id={list_fp}").as_str())
        );
    }
    let copy = sent
        .iter()
        .find(|m| m.message_id.contains(".src-copy"))
        .unwrap();
    for line in ["Hello,   ", "From what I see", "Grüße, 山田 — ünïcödé"] {
        assert!(
            copy.text.contains(line),
            "{line:?} not in the SRC copy:\n{}",
            copy.text
        );
    }
    assert!(
        String::from_utf8_lossy(&copy.raw).contains("\r\n=46rom what I see"),
        "From-line escaped"
    );
}

#[test]
fn signed_mail_authenticates_only_with_a_roster_key_over_the_whole_mail() {
    let k = keyed("");
    let (gpg, site) = (&k.gpg, &k.site);
    let text = "Hello,\r\n\r\n/accept\r\n";
    let h = |n: &str| {
        headers(
            "Alice <alice@example.org>",
            n,
            &format!("{n}@example.org"),
            "",
        )
    };
    let lf = |b: Vec<u8>| {
        String::from_utf8(b)
            .unwrap()
            .replace("\r\n", "\n")
            .into_bytes()
    };
    let flip = |b: Vec<u8>, from: &str, to: &str| {
        String::from_utf8(b)
            .unwrap()
            .replacen(from, to, 1)
            .into_bytes()
    };
    let clearsigned = |fp: &str, subject: &str| {
        let mut m = format!(
            "{}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
            h(subject)
        )
        .into_bytes();
        m.extend(gpg.clearsign(fp, text.as_bytes()));
        m
    };
    let nested = {
        let inner = pgp_mime_signed(gpg, &k.alice, "", text);
        let inner = String::from_utf8(inner).unwrap();
        format!(
            "{}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n\
             Content-Type: text/plain\r\n\r\nUnsigned words /reject\r\n--outer\r\n{inner}\r\n--outer--\r\n",
            h("nested")
        )
        .into_bytes()
    };
    let extra = {
        let mut m = clearsigned(&k.bob, "extra");
        m.extend(b"\r\nUnsigned words added below: /reject\r\n");
        m
    };
    let cases: Vec<(&str, Vec<u8>, &str, Option<&str>)> = vec![
        (
            "mime-ed25519",
            pgp_mime_signed(gpg, &k.alice, &h("mime-ed25519"), text),
            "valid",
            Some(&k.alice),
        ),
        (
            "mime-rsa-lf",
            lf(pgp_mime_signed(gpg, &k.bob, &h("mime-rsa-lf"), text)),
            "valid",
            Some(&k.bob),
        ),
        (
            "clear-ed25519",
            clearsigned(&k.alice, "clear-ed25519"),
            "valid",
            Some(&k.alice),
        ),
        (
            "clear-rsa",
            clearsigned(&k.bob, "clear-rsa"),
            "valid",
            Some(&k.bob),
        ),
        (
            "mime-changed",
            flip(
                pgp_mime_signed(gpg, &k.alice, &h("mime-changed"), text),
                "/accept",
                "/acceqt",
            ),
            "bad",
            None,
        ),
        (
            "clear-changed",
            flip(clearsigned(&k.bob, "clear-changed"), "/accept", "/acceqt"),
            "bad",
            None,
        ),
        (
            "mime-stranger",
            pgp_mime_signed(gpg, &k.mallory, &h("mime-stranger"), text),
            "unknown-key",
            None,
        ),
        // A forged From: of a roster member does not help a stranger.
        (
            "clear-forged",
            clearsigned(&k.mallory, "clear-forged"),
            "unknown-key",
            None,
        ),
        ("nested", nested, "unproven", None),
        ("extra", extra, "unproven", None),
        (
            "unsigned",
            format!("{}\r\n{text}", h("unsigned")).into_bytes(),
            "unsigned",
            None,
        ),
    ];
    for (_, mail, _, _) in &cases {
        site.deliver(mail);
    }
    site.ok(&["run", "--once"]);
    let found = first_messages(site);
    assert_eq!(found.len(), cases.len());
    for (subject, _, status, signer) in &cases {
        let m = &found
            .iter()
            .find(|(t, _)| t == subject)
            .unwrap_or_else(|| panic!("{subject} not filed"))
            .1;
        assert_eq!(
            m["signature"]["status"], *status,
            "{subject}: {:#}",
            m["signature"]
        );
        if let Some(fp) = signer {
            assert_eq!(m["signature"]["fingerprint"], *fp, "{subject}");
        }
        if *status == "valid" {
            assert!(
                m["text"].as_str().unwrap().contains("/accept"),
                "{subject}: the signed text is the text"
            );
        }
    }
}

#[test]
fn reports_encrypted_to_the_list_key_are_decrypted_and_threaded() {
    let k = keyed("");
    let (gpg, site) = (&k.gpg, &k.site);
    let list = list_fingerprint(site);
    let reporter = gpg.gen_key("Reporter <r@example.net>", "ed25519");
    site.deliver(&pgp_mime_encrypted(
        gpg,
        &list,
        None,
        &headers("Reporter <r@example.net>", "Encrypted report", "enc-1@example.net", ""),
        "Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         The secret details: overflow in frob().\r\n--in\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=poc.bin\r\n\r\nPOC\r\n--in--\r\n",
    ));
    // An inline-encrypted reply, signed (as text) by a roster member, joins
    // by In-Reply-To. Signed as binary data, the default of `gpg -sea`, the
    // same text would prove nothing (a signed file, not a signed mail).
    let signed_text = gpg.run(
        &[
            "--armor",
            "--encrypt",
            "--recipient",
            &list,
            "--sign",
            "--textmode",
            "--local-user",
            &k.alice,
        ],
        b"Inline follow-up: also in 2.3.\n",
    );
    assert!(signed_text.ok, "{}", signed_text.status);
    let inline = String::from_utf8(signed_text.stdout).unwrap();
    site.deliver(
        format!(
            "{}Content-Type: text/plain\r\n\r\n{}",
            headers(
                "Alice <alice@example.org>",
                "Re: Encrypted report",
                "enc-2@example.net",
                "In-Reply-To: <enc-1@example.net>\r\n"
            ),
            inline.replace('\n', "\r\n")
        )
        .as_bytes(),
    );
    // A new report encrypted to somebody else's key.
    site.deliver(&pgp_mime_encrypted(
        gpg,
        &reporter,
        None,
        &headers(
            "Reporter <r@example.net>",
            "Wrong key",
            "enc-3@example.net",
            "",
        ),
        "Content-Type: text/plain\r\n\r\nunreadable\r\n",
    ));
    site.ok(&["run", "--once"]);

    let incidents = site.json(&["incidents"]);
    assert_eq!(incidents.as_array().unwrap().len(), 2, "{incidents:#}");
    let first = site.json(&["show", incidents[0]["id"].as_str().unwrap()]);
    let msgs = first["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2, "the inline reply joined");
    assert_eq!(msgs[0]["encryption"]["status"], "decrypted");
    assert!(
        msgs[0]["text"]
            .as_str()
            .unwrap()
            .contains("The secret details"),
        "{:#}",
        msgs[0]
    );
    assert_eq!(msgs[0]["attachments"][0]["name"], "poc.bin");
    assert_eq!(msgs[1]["encryption"]["status"], "decrypted");
    assert!(msgs[1]["text"].as_str().unwrap().contains("also in 2.3"));
    assert_eq!(msgs[1]["signature"]["status"], "valid");
    assert_eq!(msgs[1]["signature"]["fingerprint"], k.alice);
    // The evidence is the ciphertext, as it came.
    let raw = String::from_utf8(site.embargo(&["raw", &msgs[0]["id"].to_string()]).stdout).unwrap();
    assert!(raw.contains("-----BEGIN PGP MESSAGE-----") && !raw.contains("secret details"));
    // The report stays encrypted on its way to the SRC: the list's copy
    // has no text and no attachment names; each member gets it encrypted
    // to their own key, and GnuPG opens it with theirs; their Subject
    // shows only inside (RFC 9788 header protection).
    let first_id = incidents[0]["id"].as_str().unwrap();
    let copies: Vec<_> = site
        .outbox()
        .into_iter()
        .filter(|m| {
            (m.message_id.starts_with(&format!("{first_id}.src-copy"))
                || m.subject == "[EMBARGOED] encrypted mail")
                && m.in_reply_to.as_deref() == Some("enc-1@example.net")
        })
        .collect();
    assert_eq!(copies.len(), 3, "the list, Alice and Bob");
    // Alice's encrypted reply is relayed encrypted to Bob, and as word
    // only to the list; Alice, who signed it, does not get it back.
    let relays: Vec<_> = site
        .outbox()
        .into_iter()
        .filter(|m| m.in_reply_to.as_deref() == Some("enc-2@example.net"))
        .collect();
    let mut relayed_to: Vec<&str> = relays.iter().map(|m| m.envelope_to[0].as_str()).collect();
    relayed_to.sort();
    assert_eq!(relayed_to, ["bob@example.net", "src@example.org"]);
    for m in &relays {
        let raw = String::from_utf8_lossy(&std::fs::read(&m.file).unwrap()).into_owned();
        assert!(
            !raw.contains("also in 2.3"),
            "in clear to {:?}",
            m.envelope_to
        );
    }
    let list_copy = copies
        .iter()
        .find(|m| m.envelope_to == ["src@example.org"])
        .unwrap();
    let list_bytes = std::fs::read(&list_copy.file).unwrap();
    let list_text = String::from_utf8_lossy(&list_bytes);
    assert!(
        !list_text.contains("secret details") && !list_text.contains("poc.bin"),
        "{list_text}"
    );
    assert!(
        list_copy.text.contains("decrypted with the list key")
            && list_copy
                .text
                .contains("alice@example.org, bob@example.net"),
        "{}",
        list_copy.text
    );
    for member in ["alice@example.org", "bob@example.net"] {
        let copy = copies.iter().find(|m| m.envelope_to == [member]).unwrap();
        assert_eq!(copy.subject, "[EMBARGOED] encrypted mail");
        let bytes = std::fs::read(&copy.file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("multipart/encrypted") && !text.contains("secret details"),
            "{text}"
        );
        let ct = &bytes[text.find("-----BEGIN PGP MESSAGE-----").unwrap()
            ..text.find("-----END PGP MESSAGE-----").unwrap() + 25];
        let r = gpg.decrypt(ct);
        assert!(
            r.ok && r.status.contains("[GNUPG:] GOODSIG"),
            "{}",
            r.status
        );
        let inner = String::from_utf8(r.stdout).unwrap();
        assert!(
            inner.contains("The secret details") && inner.contains("poc.bin"),
            "{inner}"
        );
        assert!(inner.contains("New report: Encrypted report"), "{inner}");
    }

    let wrong = site.json(&["show", incidents[1]["id"].as_str().unwrap()]);
    assert_eq!(wrong["messages"][0]["encryption"]["status"], "failed");
    let copy = site
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("New report: Wrong key"))
        .unwrap();
    assert!(
        copy.text.contains("could not be decrypted"),
        "{}",
        copy.text
    );
}

#[test]
fn distributors_get_encrypted_mail_when_they_ask_and_never_clear_when_they_require_it() {
    use embargo::core::mail_kind::MailKind;
    use embargo::crypto::Crypto;
    use embargo::notice::{Attachment, Composer, NoticeError};
    use sequoia_openpgp::cert::prelude::*;
    use sequoia_openpgp::serialize::SerializeInto;

    let gpg = Gpg::new();
    let d1 = gpg.gen_key("Distro One <security@one.example>", "rsa3072");
    // A key that expired yesterday.
    let (expired, _) = CertBuilder::new()
        .set_creation_time(std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 86400))
        .set_validity_period(std::time::Duration::from_secs(86400))
        .add_userid("Distro Two <security@two.example>")
        .add_transport_encryption_subkey()
        .generate()
        .unwrap();
    let d2 = expired.fingerprint().to_hex();
    let distributors = format!(
        "[[distributors]]\nname = \"One\"\nemail = \"security@one.example\"\nfingerprint = \"{d1}\"\nkey_file = \"keys/one.asc\"\nencrypt = true\n\n\
         [[distributors]]\nname = \"Two\"\nemail = \"security@two.example\"\nfingerprint = \"{d2}\"\nkey_file = \"keys/two.asc\"\nencrypt = true\nrequire_encryption = true\n\n\
         [[distributors]]\nname = \"Three\"\nemail = \"security@three.example\"\nfingerprint = \"{d2}\"\nkey_file = \"keys/two.asc\"\nencrypt = true\n\n\
         [[distributors]]\nname = \"Four\"\nemail = \"security@four.example\"\n\n"
    );
    let site = Site::with_config(
        &BASE_CONFIG.replace("[[announce]]", &format!("{distributors}[[announce]]")),
    );
    std::fs::create_dir(site.path("keys")).unwrap();
    std::fs::write(site.path("keys/one.asc"), gpg.export(&d1)).unwrap();
    std::fs::write(
        site.path("keys/two.asc"),
        expired.armored().to_vec().unwrap(),
    )
    .unwrap();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());

    let settings = embargo::config::load(&site.config()).unwrap().settings;
    let now = jiff::Timestamp::now();
    let keys = embargo::keyring::load(&settings, now).unwrap();
    let warned: Vec<String> = keys.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warned.iter().any(|w| w.contains("distributors[1].key_file")
            && w.contains("has expired")
            && w.contains("will fail")),
        "{warned:#?}"
    );
    let crypto = Crypto::new(keys.pgp);
    let composer = Composer::new(&settings, crypto.sealer.as_ref());
    let patch = [Attachment {
        name: "CVE-2026-0001_v2.4.2.patch".into(),
        content_type: "text/x-diff".into(),
        bytes: b"--- a/f\n+++ b/f\n".to_vec(),
    }];
    let send = |i: usize| {
        composer.to_distributor(
            &settings.distributors[i],
            &format!("test/{i}"),
            MailKind::SrcCopy,
            None,
            "[EMBARGOED] test",
            "Embargoed until 2026-12-15 16:00 UTC.\n",
            &patch,
            now,
        )
    };

    let one = send(0).unwrap();
    let one_text = String::from_utf8_lossy(&one.bytes);
    assert!(
        one_text.contains("multipart/encrypted") && !one_text.contains("Embargoed until"),
        "{one_text}"
    );
    let ct = &one.bytes[one_text.find("-----BEGIN PGP MESSAGE-----").unwrap()
        ..one_text.find("-----END PGP MESSAGE-----").unwrap() + 25];
    let r = gpg.decrypt(ct);
    assert!(r.ok, "{}", r.status);
    assert!(
        r.status.contains("[GNUPG:] GOODSIG") && r.status.contains(&list_fingerprint(&site)),
        "{}",
        r.status
    );
    let inner = String::from_utf8(r.stdout).unwrap();
    assert!(
        inner.contains("Embargoed until") && inner.contains("CVE-2026-0001_v2.4.2.patch"),
        "{inner}"
    );

    match send(1) {
        Err(NoticeError::EncryptionRequired { email, reason }) => {
            assert_eq!(email, "security@two.example");
            assert!(reason.contains("expired"), "{reason}");
        }
        other => panic!(
            "a distributor who requires encryption got {:?}",
            other.map(|m| m.subject)
        ),
    }
    for i in [2, 3] {
        let m = send(i).unwrap();
        let (signed, signature) = signed_parts(&m.bytes);
        assert!(
            gpg.verify_detached(&signature, &signed).ok,
            "distributor {i}: signed in clear"
        );
    }
}

#[test]
fn keys_generate_writes_a_private_secret_key_and_prints_the_public_one() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("list.asc");
    let r = run(&[
        "keys",
        "generate",
        "--uid",
        "Security Team <security@example.org>",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = std::fs::read(&out).unwrap();
    assert!(String::from_utf8_lossy(&secret).contains("BEGIN PGP PRIVATE KEY BLOCK"));
    let public = r.stdout;
    assert!(String::from_utf8_lossy(&public).contains("BEGIN PGP PUBLIC KEY BLOCK"));
    let gpg = Gpg::new();
    gpg.import(&public);
    let listed = gpg.run(&["--with-colons", "--list-keys"], b"");
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains("Security Team <security@example.org>"));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("sub:") && l.split(':').nth(11).unwrap().contains('s')),
        "a signing subkey:\n{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("sub:") && l.split(':').nth(11).unwrap().contains('e')),
        "an encryption subkey:\n{listed}"
    );
    assert!(
        listed.contains(":ed25519:") && listed.contains(":cv25519:"),
        "{listed}"
    );

    // Never overwritten.
    let again = run(&[
        "keys",
        "generate",
        "--uid",
        "X <x@example.org>",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), secret);
}

#[test]
fn the_service_refuses_a_list_key_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    std::fs::set_permissions(
        site.path("list-key.asc"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    site.deliver(&fixture("mail/report.eml"));
    let r = site.embargo(&["run", "--once"]);
    assert!(!r.status.success());
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(
        err.contains("list.key_file") && err.contains("chmod 600"),
        "{err}"
    );
    assert_eq!(site.files("maildir/new").len(), 1, "nothing was taken in");
    let check = String::from_utf8(site.embargo(&["check-config"]).stdout).unwrap();
    assert!(check.contains("chmod 600"), "{check}");
}

#[test]
fn check_config_and_keys_show_report_the_roster_keys() {
    let k = keyed("");
    let site = &k.site;
    // Bob's entry names his fingerprint, but his key file holds Mallory's key;
    // Carol has no key at all; Alice's key is revoked.
    let carol = "\n[[roster.members]]\nname = \"Carol\"\nemail = \"carol@example.com\"\ncompany = \"C\"\nfingerprint = \"ABCDEF0123456789ABCDEF0123456789ABCDEF01\"\n";
    let config = std::fs::read_to_string(site.config()).unwrap();
    let ok_config = config.replace("[roster]\n", &format!("{carol}\n[roster]\n"));
    std::fs::write(site.config(), &ok_config).unwrap();
    let rev = std::fs::read_to_string(
        k.gpg
            .home()
            .join("openpgp-revocs.d")
            .join(format!("{}.rev", k.alice)),
    )
    .unwrap();
    k.gpg
        .import(rev.replace(":-----BEGIN", "-----BEGIN").as_bytes());
    std::fs::write(site.path("keys/alice.asc"), k.gpg.export(&k.alice)).unwrap();

    let out = site.embargo(&["check-config"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("warning: roster.members[2].key_file: no public key for carol@example.com"),
        "{text}"
    );
    assert!(
        text.contains(
            "warning: roster.members[0].key_file: the key of alice@example.org is revoked"
        ),
        "{text}"
    );

    let shown = String::from_utf8(site.embargo(&["keys", "show"]).stdout).unwrap();
    assert!(shown.contains(&list_fingerprint(site)), "{shown}");
    assert!(shown.contains(&format!("{}  REVOKED", k.alice)), "{shown}");
    assert!(
        shown.contains(&format!("{}  valid, signs, encrypts", k.bob)),
        "{shown}"
    );
    assert!(
        shown.contains("ABCDEF0123456789ABCDEF0123456789ABCDEF01  NO KEY FOUND"),
        "{shown}"
    );

    let wrong = ok_config
        .replace("[roster]\nkeyring = \"keys\"", "[roster]")
        .replace(
            &format!("fingerprint = \"{}\"", k.bob),
            &format!(
                "fingerprint = \"{}\"\nkey_file = \"keys/mallory.asc\"",
                k.bob
            ),
        );
    std::fs::write(site.path("keys/mallory.asc"), k.gpg.export(&k.mallory)).unwrap();
    std::fs::write(site.config(), wrong).unwrap();
    let out = site.embargo(&["check-config"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "error: roster.members[1].key_file: holds {}, not the key {}",
            k.mallory, k.bob
        )),
        "{text}"
    );
}
