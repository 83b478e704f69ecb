//! A property of the whole parse path, bytes to commands: for a valid
//! signed command mail, any change to the mail gives the same commands or
//! none, never different ones. Changes outside what the signature covers
//! (headers, preamble, epilogue, the signature part's headers, extra
//! parts and delimiter lines) are the attacker's; changes inside break the
//! signature. Signed in-process with a key sequoia makes, so that hundreds
//! of cases run in seconds.

use embargo::core::command;
use embargo::core::roster::{Member, Roster, Rotation};
use embargo::crypto::Sealer;
use embargo::parse::{self, Keys};
use embargo::pgp::Pgp;
use jiff::Timestamp;
use proptest::prelude::*;

const ID: &str = "EMB-2026-0001";

struct Fixture {
    pgp: Pgp,
    roster: Roster,
    mail: Vec<u8>,
    /// Where the signed part's bytes are in `mail`.
    signed: std::ops::Range<usize>,
    commands: Vec<String>,
    now: Timestamp,
}

fn fixture() -> Fixture {
    let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
    let key = embargo::pgp::generate("Alice <alice@example.org>", now).unwrap();
    let public = vec![key.clone().strip_secret_key_material()];
    let roster = Roster {
        members: vec![Member {
            name: "Alice".into(),
            email: "alice@example.org".into(),
            company: "A".into(),
            fingerprint: Some(key.fingerprint().to_hex()),
            on_leave: false,
        }],
        release_managers: vec![],
        rotation: Rotation {
            members: vec!["alice@example.org".into()],
            starts: jiff::civil::date(2026, 1, 5),
            shift_days: 7,
        },
    };
    // The member's key signs (as the "list key" of this Pgp) and is the
    // one roster certificate that verifies.
    let pgp = Pgp::new(key, public, vec![]);
    let part = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Confirmed.\r\n\r\n/accept {ID}\r\n/severity high {ID}\r\n"
    );
    let sig = String::from_utf8(pgp.sign(part.as_bytes(), now).unwrap().armored).unwrap();
    let head = format!(
        "From: Alice <alice@example.org>\r\nTo: security@example.org\r\nSubject: Re: [{ID}] x\r\n\
         Message-ID: <c1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/signed; \
         micalg=pgp-sha512; protocol=\"application/pgp-signature\"; boundary=\"sig-b\"\r\n\r\n--sig-b\r\n"
    );
    let tail = format!(
        "\r\n--sig-b\r\nContent-Type: application/pgp-signature\r\n\r\n{}\r\n--sig-b--\r\n",
        sig.replace("\r\n", "\n").replace('\n', "\r\n")
    );
    let mail = format!("{head}{part}{tail}").into_bytes();
    let signed = head.len()..head.len() + part.len();
    let mut f = Fixture {
        pgp,
        roster,
        mail,
        signed,
        commands: Vec::new(),
        now,
    };
    f.commands = applied(&f, &f.mail.clone());
    assert_eq!(
        f.commands,
        [format!("/accept {ID}"), format!("/severity high {ID}")],
        "the unchanged mail is a valid signed command mail"
    );
    f
}

/// The command lines that would be applied: those of an authenticated
/// mail, read the way the service reads them.
fn applied(f: &Fixture, raw: &[u8]) -> Vec<String> {
    let keys = Keys {
        opener: &f.pgp,
        now: f.now,
    };
    let Ok(mail) = parse::parse(raw.to_vec(), 1 << 20, Some(keys)) else {
        return Vec::new();
    };
    if mail.signature.signer(&f.roster).is_none() {
        return Vec::new();
    }
    let (lines, _) = command::parse(mail.command_text(), "EMB");
    lines.into_iter().map(|l| l.line).collect()
}

/// What an attacker inserts: mostly MIME structure and command lines.
fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(format!("/reject spam {ID}\r\n").into_bytes()),
        2 => Just(b"--sig-b\r\n".to_vec()),
        2 => Just(b"--sig-b--\r\n".to_vec()),
        1 => Just(b"--sig-bX\r\n".to_vec()),
        6 => Just(format!("--sig-b\r\nContent-Type: text/plain\r\n\r\n/lead me {ID}\r\n").into_bytes()),
        2 => Just(format!("Content-Type: text/plain\r\n\r\n/lead me {ID}\r\n--sig-b\r\n").into_bytes()),
        1 => Just(b"Content-Type: multipart/mixed; boundary=\"sig-b\"\r\n".to_vec()),
        1 => Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..12),
    ]
}

/// Where a change goes: most attacks are whole lines, so most changes go
/// at a line start.
#[derive(Debug, Clone)]
enum At {
    LineStart(prop::sample::Index),
    Byte(prop::sample::Index),
}

#[derive(Debug, Clone)]
enum Change {
    Insert { at: At, bytes: Vec<u8> },
    Delete { at: At, len: usize },
    Replace { at: At, byte: u8 },
}

fn at() -> impl Strategy<Value = At> {
    prop_oneof![
        3 => any::<prop::sample::Index>().prop_map(At::LineStart),
        1 => any::<prop::sample::Index>().prop_map(At::Byte),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (at(), chunk()).prop_map(|(at, bytes)| Change::Insert { at, bytes }),
        1 => (at(), 1usize..40).prop_map(|(at, len)| Change::Delete { at, len }),
        1 => (at(), any::<u8>()).prop_map(|(at, byte)| Change::Replace { at, byte }),
    ]
}

/// The positions a change may go to in `mail`: outside the signed bytes
/// of the original (or at their edges), or anywhere.
fn positions(f: &Fixture, at: &At, anywhere: bool) -> usize {
    let mail = &f.mail;
    let allowed = |p: usize| anywhere || p <= f.signed.start || p >= f.signed.end;
    let candidates: Vec<usize> = match at {
        At::LineStart(_) => (0..=mail.len())
            .filter(|&p| (p == 0 || mail[p - 1] == b'\n') && allowed(p))
            .collect(),
        At::Byte(_) => (0..=mail.len()).filter(|&p| allowed(p)).collect(),
    };
    let (At::LineStart(i) | At::Byte(i)) = at;
    candidates[i.index(candidates.len())]
}

fn position_of(c: &Change) -> &At {
    match c {
        Change::Insert { at, .. } | Change::Delete { at, .. } | Change::Replace { at, .. } => at,
    }
}

/// Applies `c` to `mail`, a copy of the fixture's mail changed only after
/// the position `c` takes (changes are applied from the end).
fn apply(f: &Fixture, mail: &mut Vec<u8>, c: &Change, anywhere: bool) {
    let p = positions(f, position_of(c), anywhere).min(mail.len());
    match c {
        Change::Insert { bytes, .. } => {
            mail.splice(p..p, bytes.iter().copied());
        }
        Change::Delete { len, .. } => {
            let mut end = (p + len).min(mail.len());
            if !anywhere && p <= f.signed.start {
                end = end.min(f.signed.start);
            }
            mail.drain(p..end);
        }
        Change::Replace { byte, .. } => {
            let p = if anywhere || p < f.signed.start || p >= f.signed.end {
                p
            } else {
                f.signed.end
            };
            if let Some(b) = mail.get_mut(p) {
                *b = *byte;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn outside_the_signed_bytes_nothing_adds_a_command(changes in prop::collection::vec(change(), 1..4)) {
        let f = fixture_once();
        // Changes are applied from the end so that earlier positions keep
        // their meaning relative to the signed bytes.
        let mut mail = f.mail.clone();
        let mut sorted = changes.clone();
        sorted.sort_by_key(|c| std::cmp::Reverse(positions(f, position_of(c), false)));
        for c in &sorted {
            apply(f, &mut mail, c, false);
        }
        let got = applied(f, &mail);
        prop_assert!(got.is_empty() || got == f.commands, "{:?} gave {:?}", String::from_utf8_lossy(&mail), got);
    }

    #[test]
    fn anywhere_a_change_gives_the_same_commands_or_none(change in change()) {
        let f = fixture_once();
        let mut mail = f.mail.clone();
        apply(f, &mut mail, &change, true);
        let got = applied(f, &mail);
        prop_assert!(got.is_empty() || got == f.commands, "{:?} gave {:?}", String::from_utf8_lossy(&mail), got);
    }
}

fn fixture_once() -> &'static Fixture {
    static F: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    F.get_or_init(fixture)
}
