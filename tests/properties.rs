//! Properties of the pure core over arbitrary sequences of mail:
//! mail without a valid roster signature never changes an incident, and
//! every event log replays to the incident it describes.

use std::collections::HashSet;

use embargo::core::command_mail::CommandFacts;
use embargo::core::event::Event;
use embargo::core::inbound::{AutoReplyHeaders, Inbound, Mailbox, SignedContent, TextSource};
use embargo::core::incident::Incident;
use embargo::core::incident_id::IncidentId;
use embargo::core::intake::{self, Decision, IntakeContext, IntakePolicy};
use embargo::core::roster::{Member, Roster, Rotation};
use embargo::core::signature::{Encryption, Made, SignatureStatus};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

const ALICE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const BOB: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const STRANGER: &str = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

fn roster() -> Roster {
    let m = |name: &str, fp: &str| Member {
        name: name.into(),
        email: format!("{name}@example.org"),
        company: name.into(),
        fingerprint: Some(fp.into()),
        on_leave: false,
    };
    Roster {
        members: vec![m("alice", ALICE), m("bob", BOB)],
        release_managers: vec![],
        rotation: Rotation {
            members: vec!["alice@example.org".into()],
            starts: jiff::civil::date(2026, 1, 5),
            shift_days: 7,
        },
    }
}

const ID: &str = "EMB-2026-0001";

/// Command lines, good and bad, named and not.
fn command_line() -> impl Strategy<Value = String> {
    let named = |s: &str| {
        vec![
            s.to_owned(),
            format!("{s} {ID}"),
            format!("{s} EMB-2026-0002"),
        ]
    };
    let mut all = Vec::new();
    for c in [
        "/accept",
        "/reject not a bug",
        "/lead me",
        "/lead bob@example.org",
        "/ic bob@example.org",
        "/team add dev@example.org",
        "/team remove dev@example.org",
        "/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "/severity low",
        "/cve CVE-2026-1234",
        "/disclose 2027-03-02",
        "/public",
        "/embargo-broken",
        "/approve announcement",
        "/approve announcement as-is",
        "/hold",
        "/resume",
        "/status",
        "/close",
        "/severity urgent",
        "/frobnicate",
        "> /accept",
    ] {
        all.extend(named(c));
    }
    prop::sample::select(all)
}

/// How a mail is signed, as the OpenPGP layer reports it.
fn signature(now: Timestamp) -> impl Strategy<Value = SignatureStatus> {
    let valid = move |fp: &str, age_hours: i64, digest: u32| {
        SignatureStatus::Valid(Made {
            fingerprint: fp.into(),
            signed_at: now - SignedDuration::from_hours(age_hours),
            digest: format!("{digest}"),
            also: vec![],
            binary: false,
        })
    };
    prop_oneof![
        Just(SignatureStatus::Unsigned),
        Just(SignatureStatus::Bad {
            detail: "changed".into()
        }),
        Just(SignatureStatus::UnknownKey { issuer: None }),
        Just(SignatureStatus::unproven("part", SignatureStatus::Unsigned)),
        (0u32..4, prop::bool::ANY).prop_map(move |(d, who)| SignatureStatus::unproven(
            "an unsigned part",
            valid(if who { ALICE } else { BOB }, 1, d)
        )),
        Just(SignatureStatus::KeyRevoked {
            fingerprint: ALICE.into()
        }),
        (0u32..4).prop_map(move |d| valid(STRANGER, 1, d)),
        (0u32..4, 0i64..400, prop::bool::ANY).prop_map(move |(d, age, who)| valid(
            if who { ALICE } else { BOB },
            age,
            d
        )),
    ]
}

#[derive(Debug, Clone)]
struct MailSpec {
    lines: Vec<String>,
    signature_seed: u8,
    forged_from_alice: bool,
}

fn mails() -> impl Strategy<Value = Vec<(MailSpec, SignatureStatus)>> {
    let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
    prop::collection::vec(
        (
            prop::collection::vec(command_line(), 0..4),
            any::<u8>(),
            prop::bool::ANY,
            signature(now),
        )
            .prop_map(|(lines, signature_seed, forged_from_alice, sig)| {
                (
                    MailSpec {
                        lines,
                        signature_seed,
                        forged_from_alice,
                    },
                    sig,
                )
            }),
        1..25,
    )
}

fn inbound(n: usize, text: String, from: &str, signature: SignatureStatus) -> Inbound {
    let signed = matches!(signature, SignatureStatus::Valid(_)).then(|| SignedContent {
        text: text.clone(),
        ..Default::default()
    });
    Inbound {
        message_id: format!("m{n}@example.net"),
        message_id_synthesized: false,
        in_reply_to: if n == 0 {
            vec![]
        } else {
            vec!["m0@example.net".into()]
        },
        references: vec![],
        from: Some(Mailbox::new(None, from)),
        to: vec![],
        cc: vec![],
        subject: "report".into(),
        date: None,
        text,
        text_source: TextSource::Plain,
        attachments: vec![],
        auto_reply: AutoReplyHeaders::default(),
        problems: vec![],
        signed,
        signature,
        encryption: Encryption::None,
        sender_key: None,
        bounce: None,
        body_digest: format!("body{n}"),
        raw: vec![],
    }
}

/// What a command can change; the activity clocks are not commands' doing.
fn lifecycle(i: &Incident) -> Incident {
    let mut i = i.clone();
    i.updated_at = Timestamp::UNIX_EPOCH;
    i.details.active_at = None;
    i.details.first_response_at = None;
    i
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn unauthenticated_mail_never_changes_an_incident_and_logs_replay(spec in mails()) {
        let roster = roster();
        let own = vec!["security@example.org".to_owned()];
        let policy = IntakePolicy {
            prefix: "EMB",
            own_addresses: &own,
            ack_window: SignedDuration::from_hours(1),
            roster: &roster,
            address_ok: |a| a.contains('@'),
            src_address: "src@example.org",
            slots: &embargo::core::slot::SlotRules::default(),
            max_signature_age: SignedDuration::from_hours(7 * 24),
            announce: &[],
            trusted_mta: None,
            advisory: None,
            spam_headers: &embargo::core::sender_auth::SpamHeader::defaults(),
            verp: true,
        };
        let start: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        let report = inbound(0, "a bug".into(), "reporter@example.net", SignatureStatus::Unsigned);
        let ctx = IntakeContext { next_seq: 1, ..Default::default() };
        let Decision::Open { incident, events, .. } = intake::decide(&report, &ctx, &policy, start).unwrap() else {
            panic!("the first mail opens the incident")
        };
        let mut incident = incident;
        let mut log: Vec<Event> = events;
        let mut used: HashSet<String> = HashSet::new();
        let mut last_lead = None;
        for (n, (mail, sig)) in spec.into_iter().enumerate() {
            let n = n + 1;
            let now = start + SignedDuration::from_mins(n as i64);
            let from = if mail.forged_from_alice { "alice@example.org" } else { "someone@example.net" };
            let _ = mail.signature_seed;
            let m = inbound(n, mail.lines.join("\n"), from, sig.clone());
            let digest = sig.made().map(|m| m.digest.clone());
            let mut ctx = IntakeContext {
                target: Some(incident.clone()),
                commands: CommandFacts {
                    signature_used: digest.as_ref().is_some_and(|d| used.contains(d)),
                    last_lead: last_lead.clone(),
                    existing: [IncidentId::new("EMB", 2026, 1).unwrap()].into(),
                },
                ..Default::default()
            };
            ctx.known.messages.insert("m0@example.net".into(), incident.id.clone());
            let Decision::Join { updated, events, lead_assigned, .. } =
                intake::decide(&m, &ctx, &policy, now).unwrap()
            else {
                panic!("a reply joins")
            };
            let after = updated.expect("the target was given");
            // A signature is spent when first seen: a second sighting, like
            // an unauthenticated mail, changes nothing.
            let spent = digest.as_ref().is_some_and(|d| !used.insert(d.clone()));
            if sig.signer(&roster).is_none() || spent {
                prop_assert_eq!(lifecycle(&after), lifecycle(&incident), "mail {} ({:?}) changed the incident", n, sig);
            }
            if lead_assigned.is_some() {
                last_lead = lead_assigned;
            }
            incident = after;
            log.extend(events);
        }
        let replayed = Incident::replay(log.iter().map(|e| (e.changes.as_slice(), e.at)));
        prop_assert_eq!(replayed, Some(incident));
    }
}
