//! The `Autocrypt:` header (Autocrypt Level 1, section 2.1): a sender's key
//! sent in the clear with their mail, so an answer can be encrypted to it
//! without a keyserver.

use base64::Engine;

/// The key bytes of one `Autocrypt:` header value, when its `addr` is
/// `from`; otherwise why it is not used. An attribute the reader must
/// understand (one without a leading `_`) that is not `addr`,
/// `prefer-encrypt` or `keydata` makes the whole header unusable, as the
/// specification says.
pub fn keydata(value: &str, from: &str) -> Result<Vec<u8>, String> {
    let mut addr = None;
    let mut keydata = None;
    for attribute in value.split(';') {
        let attribute = attribute.trim();
        if attribute.is_empty() {
            continue;
        }
        let Some((name, v)) = attribute.split_once('=') else {
            return Err(format!("{attribute:?} is not name=value"));
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "addr" => addr = Some(v.trim().to_owned()),
            "keydata" => keydata = Some(v),
            "prefer-encrypt" => {}
            n if n.starts_with('_') => {}
            n => return Err(format!("it has the unknown attribute {n:?}")),
        }
    }
    let addr = addr.ok_or("it has no addr")?;
    if !addr.eq_ignore_ascii_case(from.trim()) {
        return Err(format!("its addr {addr} is not the From address {from}"));
    }
    let keydata: String = keydata
        .ok_or("it has no keydata")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(keydata.as_bytes())
        .map_err(|e| format!("its keydata is not base64: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_of_the_senders_own_address_is_read() {
        let header =
            "addr=Jane@Researcher.example; prefer-encrypt=mutual; keydata=\r\n mQINBF\r\n 8=";
        assert_eq!(
            keydata(header, "jane@researcher.example"),
            base64::engine::general_purpose::STANDARD
                .decode("mQINBF8=")
                .map_err(|e| e.to_string())
        );
        let underscore = "addr=jane@researcher.example; _extra=1; keydata=AAEC";
        assert_eq!(
            keydata(underscore, "jane@researcher.example"),
            Ok(vec![0, 1, 2])
        );
    }

    #[test]
    fn a_header_for_another_address_or_malformed_is_not_used() {
        let from = "jane@researcher.example";
        for (header, why) in [
            ("addr=mallory@evil.example; keydata=AAEC", "is not the From"),
            ("keydata=AAEC", "no addr"),
            ("addr=jane@researcher.example", "no keydata"),
            (
                "addr=jane@researcher.example; keydata=!!!not*base64",
                "not base64",
            ),
            (
                "addr=jane@researcher.example; critical=1; keydata=AAEC",
                "unknown attribute",
            ),
            ("addr jane@researcher.example", "not name=value"),
        ] {
            let got = keydata(header, from);
            assert!(
                got.as_ref().is_err_and(|e| e.contains(why)),
                "{header}: {got:?}"
            );
        }
    }

    /// The whole way, through the parser and sequoia: which key a mail
    /// leaves on its sender, and which it does not.
    mod through_the_parser {
        use base64::Engine;
        use openpgp::serialize::SerializeInto;
        use sequoia_openpgp as openpgp;

        use crate::core::inbound::{Inbound, KeySource};
        use crate::parse::{Keys, parse};
        use crate::pgp::{Pgp, generate, public_armored};

        fn now() -> jiff::Timestamp {
            "2026-12-01T09:00:00Z".parse().unwrap()
        }

        fn b64(cert: &openpgp::Cert) -> String {
            base64::engine::general_purpose::STANDARD.encode(cert.to_vec().unwrap())
        }

        fn read(mail: String) -> Inbound {
            let list = generate("Security <security@example.org>", now()).unwrap();
            let pgp = Pgp::new(list, vec![], vec![]);
            let keys = Keys {
                opener: &pgp,
                now: now(),
            };
            parse(mail.replace('\n', "\r\n").into_bytes(), 1 << 20, Some(keys)).unwrap()
        }

        fn plain(from: &str, extra: &str) -> String {
            format!(
                "From: {from}\nTo: security@example.org\nSubject: bug\nMessage-ID: <m@x>\n{extra}\nThe report.\n"
            )
        }

        #[test]
        fn the_senders_own_key_is_kept_and_any_other_is_not() {
            let jane = generate("Jane <jane@researcher.example>", now()).unwrap();
            let mallory = generate("Mallory <mallory@evil.example>", now()).unwrap();
            let jane_fp = jane.fingerprint().to_hex();
            let from = "Jane <Jane@researcher.example>";

            let mail = read(plain(
                from,
                &format!(
                    "Autocrypt: addr=jane@researcher.example; prefer-encrypt=mutual;\n keydata={}\n",
                    b64(&jane)
                ),
            ));
            let key = mail.sender_key.expect("jane's key");
            assert_eq!(key.fingerprint, jane_fp);
            assert_eq!(key.source, KeySource::Autocrypt);
            assert_eq!(key.unusable, None);
            assert!(
                key.armored
                    .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
            );

            let attached = format!(
                "From: {from}\nTo: security@example.org\nSubject: bug\nMessage-ID: <m@x>\nMIME-Version: 1.0\n\
                 Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nThe report.\n\
                 --b\nContent-Type: application/pgp-keys; name=jane.asc\nContent-Disposition: attachment; filename=jane.asc\n\n{}\n--b--\n",
                String::from_utf8(public_armored(&jane)).unwrap()
            );
            let key = read(attached).sender_key.expect("the attached key");
            assert_eq!(
                (key.fingerprint.as_str(), key.source),
                (jane_fp.as_str(), KeySource::Attached)
            );

            for (name, mail, problem) in [
                (
                    "a key for another address, under the sender's addr",
                    plain(
                        from,
                        &format!(
                            "Autocrypt: addr=jane@researcher.example; keydata={}\n",
                            b64(&mallory)
                        ),
                    ),
                    "has no user id for Jane@researcher.example",
                ),
                (
                    "a header for another address",
                    plain(
                        from,
                        &format!(
                            "Autocrypt: addr=mallory@evil.example; keydata={}\n",
                            b64(&mallory)
                        ),
                    ),
                    "is not the From address",
                ),
                (
                    "the reporter's key, sent by someone else",
                    plain(
                        "Mallory <mallory@evil.example>",
                        &format!(
                            "Autocrypt: addr=jane@researcher.example; keydata={}\n",
                            b64(&jane)
                        ),
                    ),
                    "is not the From address",
                ),
                (
                    "malformed base64",
                    plain(
                        from,
                        "Autocrypt: addr=jane@researcher.example; keydata=mQ*INB!F\n",
                    ),
                    "not base64",
                ),
                (
                    "base64 that is no key",
                    plain(
                        from,
                        "Autocrypt: addr=jane@researcher.example; keydata=aGVsbG8gd29ybGQ=\n",
                    ),
                    "not an OpenPGP key",
                ),
            ] {
                let mail = read(mail);
                assert_eq!(mail.sender_key, None, "{name}");
                assert!(
                    mail.problems.iter().any(|p| p.contains(problem)),
                    "{name}: {:?}",
                    mail.problems
                );
            }
        }

        #[test]
        fn a_key_that_cannot_encrypt_is_kept_with_why() {
            let (signing_only, _) = openpgp::cert::CertBuilder::new()
                .add_userid("Jane <jane@researcher.example>")
                .add_signing_subkey()
                .set_creation_time(std::time::SystemTime::try_from(now()).unwrap())
                .generate()
                .unwrap();
            let mail = read(plain(
                "jane@researcher.example",
                &format!(
                    "Autocrypt: addr=jane@researcher.example; keydata={}\n",
                    b64(&signing_only)
                ),
            ));
            let key = mail.sender_key.expect("kept, to say why it is not used");
            assert_eq!(
                key.unusable.as_deref(),
                Some("the key has no usable encryption subkey")
            );
            assert!(key.usable_at(now()).is_err());
        }
    }
}
