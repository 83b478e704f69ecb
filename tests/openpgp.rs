//! The OpenPGP adapter against GnuPG: what we sign, GnuPG verifies; what
//! GnuPG signs and encrypts, we verify and decrypt.

mod common;

use common::gpg::Gpg;
use embargo::core::signature::{Made, SignatureStatus};
use embargo::crypto::{Opener, Sealer};
use embargo::pgp::{self, Pgp};
use jiff::{SignedDuration, Timestamp};
use sequoia_openpgp as openpgp;

fn now() -> Timestamp {
    Timestamp::now()
}

fn list_key() -> openpgp::Cert {
    pgp::generate(
        "Security Team <security@example.org>",
        now() - SignedDuration::from_mins(5),
    )
    .unwrap()
}

fn cert(armored: &[u8]) -> openpgp::Cert {
    use openpgp::parse::Parse;
    openpgp::Cert::from_bytes(armored).unwrap()
}

#[test]
fn gnupg_verifies_what_the_list_key_signs() {
    let key = list_key();
    let pgp = Pgp::new(key.clone(), vec![], vec![]);
    let gpg = Gpg::new();
    gpg.import(&pgp.public_key());
    let data = b"Content-Type: text/plain\r\n\r\ntrailing spaces   \r\nFrom the start\r\n\xc3\xa9t\xc3\xa9\r\n";
    let sig = pgp.sign(data, now()).unwrap();
    assert_eq!(sig.micalg, "pgp-sha512");
    let r = gpg.verify_detached(&sig.armored, data);
    assert!(r.ok, "{}", r.status);
    assert!(
        r.status.contains(&pgp.fingerprint()),
        "VALIDSIG names the list key: {}",
        r.status
    );
    let mut changed = data.to_vec();
    changed[30] ^= 1;
    assert!(!gpg.verify_detached(&sig.armored, &changed).ok);
}

#[test]
fn gnupg_signatures_by_roster_keys_verify_and_others_do_not() {
    let gpg = Gpg::new();
    for (uid, algo) in [
        ("Alice <alice@example.org>", "ed25519"),
        ("Bob <bob@example.net>", "rsa3072"),
    ] {
        let fp = gpg.gen_key(uid, algo);
        let member = cert(&gpg.export(&fp));
        let roster = Pgp::new(list_key(), vec![member], vec![]);
        let strangers = Pgp::new(list_key(), vec![], vec![]);
        let data = b"/accept\r\n/severity high\r\n";

        let sig = gpg.detach_sign(&fp, data, &[]);
        match roster.verify_detached(data, &sig, now()) {
            SignatureStatus::Valid(Made {
                fingerprint,
                signed_at,
                digest,
                ..
            }) => {
                assert_eq!(fingerprint, fp, "{algo}: the certificate's fingerprint");
                assert!(signed_at <= now() && signed_at > now() - SignedDuration::from_mins(5));
                assert_eq!(digest.len(), 64);
            }
            other => panic!("{algo}: {other:?}"),
        }
        let tampered = b"/accept\r\n/severity low\r\n";
        assert!(
            matches!(
                roster.verify_detached(tampered, &sig, now()),
                SignatureStatus::Bad { .. }
            ),
            "{algo}"
        );
        assert!(
            matches!(
                strangers.verify_detached(data, &sig, now()),
                SignatureStatus::UnknownKey { .. }
            ),
            "{algo}"
        );

        let signed = gpg.clearsign(&fp, b"Hello,\n\n/accept\n\n-- \nAlice\n");
        let (status, text) = roster.verify_cleartext(&signed, now());
        assert!(
            matches!(status, SignatureStatus::Valid { .. }),
            "{algo}: {status:?}"
        );
        assert!(
            String::from_utf8(text.unwrap())
                .unwrap()
                .contains("/accept"),
            "{algo}"
        );
        let forged = String::from_utf8(signed)
            .unwrap()
            .replace("/accept", "/reject");
        let (status, _) = roster.verify_cleartext(forged.as_bytes(), now());
        assert!(
            matches!(status, SignatureStatus::Bad { .. }),
            "{algo}: {status:?}"
        );
        let (status, _) = strangers.verify_cleartext(&gpg.clearsign(&fp, b"/accept\n"), now());
        assert!(
            matches!(status, SignatureStatus::UnknownKey { .. }),
            "{algo}: {status:?}"
        );
    }
}

#[test]
fn sha1_signatures_are_refused_with_that_reason() {
    let gpg = Gpg::new();
    let fp = gpg.gen_key("Old <old@example.org>", "rsa3072");
    let pgp = Pgp::new(list_key(), vec![cert(&gpg.export(&fp))], vec![]);
    let sig = gpg.detach_sign(&fp, b"/accept\r\n", &["--digest-algo", "SHA1"]);
    match pgp.verify_detached(b"/accept\r\n", &sig, now()) {
        SignatureStatus::Bad { detail } => assert!(detail.contains("SHA-1"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn expired_and_revoked_keys_are_named() {
    use openpgp::cert::prelude::*;
    use openpgp::serialize::stream::{Armorer, Message, Signer};
    use std::io::Write;
    let t0 = now() - SignedDuration::from_hours(72);
    let (expiring, _) = CertBuilder::new()
        .set_creation_time(std::time::SystemTime::try_from(t0).unwrap())
        .set_validity_period(std::time::Duration::from_secs(24 * 3600))
        .add_userid("Short <short@example.org>")
        .add_signing_subkey()
        .generate()
        .unwrap();
    // A signature made after the key expired.
    let mut sig = Vec::new();
    {
        let keypair = expiring
            .keys()
            .unencrypted_secret()
            .subkeys()
            .next()
            .unwrap()
            .key()
            .clone()
            .into_keypair()
            .unwrap();
        let m = Armorer::new(Message::new(&mut sig))
            .kind(openpgp::armor::Kind::Signature)
            .build()
            .unwrap();
        let mut s = Signer::new(m, keypair)
            .unwrap()
            .detached()
            .creation_time(std::time::SystemTime::now())
            .build()
            .unwrap();
        s.write_all(b"/accept\r\n").unwrap();
        s.finalize().unwrap();
    }
    let pgp = Pgp::new(list_key(), vec![expiring.clone()], vec![]);
    assert!(
        matches!(
            pgp.verify_detached(b"/accept\r\n", &sig, now()),
            SignatureStatus::KeyExpired { .. }
        ),
        "{:?}",
        pgp.verify_detached(b"/accept\r\n", &sig, now())
    );

    // GnuPG writes a revocation certificate for each key it makes.
    let gpg = Gpg::new();
    let fp = gpg.gen_key("Gone <gone@example.org>", "ed25519");
    let sig = gpg.detach_sign(&fp, b"/accept\r\n", &[]);
    let rev = std::fs::read_to_string(
        gpg.home()
            .join("openpgp-revocs.d")
            .join(format!("{fp}.rev")),
    )
    .unwrap();
    gpg.import(rev.replace(":-----BEGIN", "-----BEGIN").as_bytes());
    let pgp = Pgp::new(list_key(), vec![cert(&gpg.export(&fp))], vec![]);
    let status = pgp.verify_detached(b"/accept\r\n", &sig, now());
    assert_eq!(
        status,
        SignatureStatus::KeyRevoked { fingerprint: fp },
        "{status:?}"
    );
}

#[test]
fn reports_gnupg_encrypts_to_the_list_key_are_decrypted() {
    let key = list_key();
    let gpg = Gpg::new();
    let reporter = gpg.gen_key("Reporter <r@example.net>", "ed25519");
    let pgp = Pgp::new(key.clone(), vec![cert(&gpg.export(&reporter))], vec![]);
    gpg.import(&pgp.public_key());

    let ciphertext = gpg.encrypt(&pgp.fingerprint(), b"the secret report", None);
    let d = pgp.decrypt(&ciphertext, now()).unwrap();
    assert_eq!(d.plaintext, b"the secret report");
    assert_eq!(d.signature, SignatureStatus::Unsigned);

    let signed = gpg.encrypt(&pgp.fingerprint(), b"signed and sealed", Some(&reporter));
    let d = pgp.decrypt(&signed, now()).unwrap();
    assert_eq!(d.plaintext, b"signed and sealed");
    assert!(matches!(d.signature, SignatureStatus::Valid(ref m) if m.fingerprint == reporter));

    let other = gpg.gen_key("Someone Else <else@example.net>", "ed25519");
    let not_ours = gpg.encrypt(&other, b"for someone else", None);
    let e = pgp.decrypt(&not_ours, now()).unwrap_err().to_string();
    assert!(e.contains("not encrypted to the list key"), "{e}");
}

#[test]
fn gnupg_decrypts_what_is_encrypted_to_a_distributor_and_checks_the_signature() {
    let gpg = Gpg::new();
    let distro = gpg.gen_key("Distro Security <security@distro.example>", "rsa3072");
    let pgp = Pgp::new(list_key(), vec![], vec![cert(&gpg.export(&distro))]);
    gpg.import(&pgp.public_key());
    let ciphertext = pgp
        .encrypt(
            b"Content-Type: text/plain\r\n\r\nembargoed\r\n",
            &distro,
            now(),
        )
        .unwrap();
    let r = gpg.decrypt(&ciphertext);
    assert!(r.ok, "{}", r.status);
    assert_eq!(r.stdout, b"Content-Type: text/plain\r\n\r\nembargoed\r\n");
    assert!(
        r.status.contains("[GNUPG:] GOODSIG") && r.status.contains(&pgp.fingerprint()),
        "{}",
        r.status
    );

    let unknown = pgp
        .encrypt(b"x", "0000000000000000000000000000000000000000", now())
        .unwrap_err();
    assert!(unknown.to_string().contains("no certificate"), "{unknown}");
}
