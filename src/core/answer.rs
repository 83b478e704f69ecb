//! `/reply`: a roster member's answer to the reporter, through the list.
//! What goes where is decided here; the composer writes the mails.

use jiff::Timestamp;

use super::inbound::{Mailbox, SenderKey};
use super::incident::Incident;

/// One answer to the reporter, decided: the text goes to the reporter
/// alone, from the security address, and a copy to the insiders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReporterAnswer {
    /// The roster address of the member who wrote it.
    pub by: String,
    pub to: Mailbox,
    pub text: String,
    /// The report's subject, for `Re: …`.
    pub title: String,
    /// The reporter's latest mail on the incident, which it answers.
    pub in_reply_to: Option<String>,
    /// The reporter's mails, oldest first, for `References`.
    pub references: Vec<String>,
    /// The reporter's key, when the answer can be encrypted to it.
    pub encrypt_to: Option<SenderKey>,
    /// Why it goes signed but in clear, when the reporter sent a key that
    /// cannot be used; `None` when they sent none (or it is used).
    pub in_clear_because: Option<String>,
    /// The insiders who get a copy: the SRC list, the Fix Lead and the
    /// Fix Team, not the member who wrote it.
    pub copy_to: Vec<String>,
    /// Whether the copy may carry the text: not when the command mail
    /// came encrypted, as the SRC list's archive may be read by more.
    pub text_in_copy: bool,
}

impl ReporterAnswer {
    /// What the command's reply says was done.
    pub fn summary(&self) -> String {
        let how = match (&self.encrypt_to, &self.in_clear_because) {
            (Some(key), _) => format!(
                "signed with the list key and encrypted to their key {}",
                key.fingerprint
            ),
            (None, Some(why)) => format!(
                "signed with the list key, NOT encrypted: the key they sent cannot be used ({why})"
            ),
            (None, None) => "signed with the list key, not encrypted (they sent no key)".to_owned(),
        };
        let copy = if self.copy_to.is_empty() {
            String::new()
        } else {
            format!("; a copy to {}", self.copy_to.join(", "))
        };
        format!(
            "the text ({} lines) goes to the reporter {}, {how}{copy}",
            self.text.lines().count(),
            self.to.email
        )
    }
}

/// The answer `by` asks to send with `/reply`, or why it cannot go.
pub fn plan(
    incident: &Incident,
    text: &str,
    by: &str,
    src_address: &str,
    address_ok: fn(&str) -> bool,
    now: Timestamp,
) -> Result<ReporterAnswer, String> {
    let id = &incident.id;
    let Some(reporter) = incident.reporter.as_ref() else {
        return Err(format!(
            "{id} has no reporter address (its report came without a From): there is no one to answer"
        ));
    };
    if !address_ok(&reporter.email) {
        return Err(format!(
            "the reporter's address {:?} cannot be written to: there is no one to answer",
            reporter.email
        ));
    }
    if text.trim().is_empty() {
        return Err(
            "the text for the reporter is empty: write it on the lines under /reply".into(),
        );
    }
    let d = &incident.details;
    let (encrypt_to, in_clear_because) = match &d.reporter_key {
        None => (None, None),
        Some(key) => match key.usable_at(now) {
            Ok(()) => (Some(key.clone()), None),
            Err(why) => (None, Some(format!("key {}: {why}", key.fingerprint))),
        },
    };
    Ok(ReporterAnswer {
        by: by.to_owned(),
        to: reporter.clone(),
        text: text.to_owned(),
        title: incident.title.clone(),
        in_reply_to: d.reporter_thread.last().cloned(),
        references: d.reporter_thread.clone(),
        encrypt_to,
        in_clear_because,
        copy_to: super::relay::insider_addresses(Some(incident), src_address, Some(by)),
        text_in_copy: true,
    })
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use crate::core::command_mail::{self, CommandFacts, CommandOutcome, CommandPolicy};
    use crate::core::event::EventKind;
    use crate::core::inbound::{AutoReplyHeaders, Inbound, KeySource, SignedContent, TextSource};
    use crate::core::incident::Change;
    use crate::core::roster::{Member, Roster, Rotation};
    use crate::core::signature::{Encryption, Made, SignatureStatus};
    use crate::core::slot::SlotRules;

    const ALICE_FP: &str = "6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9";

    fn now() -> Timestamp {
        "2026-12-01T09:00:00Z".parse().unwrap()
    }

    fn roster() -> Roster {
        Roster {
            members: vec![Member {
                name: "Alice".into(),
                email: "alice@example.org".into(),
                company: "A".into(),
                fingerprint: Some(ALICE_FP.into()),
                on_leave: false,
            }],
            release_managers: vec![],
            rotation: Rotation {
                members: vec!["alice@example.org".into()],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    fn incident() -> Incident {
        let mut i = Incident::open(
            "EMB-2026-0001".parse().unwrap(),
            "Heap overflow in frob()",
            Some(Mailbox::new(Some("Jane"), "jane@researcher.example")),
            Some("alice@example.org".into()),
            now(),
        );
        i.apply(
            &Change::ReporterWrote {
                message_id: "r1@researcher.example".into(),
                key: None,
            },
            now(),
        );
        i.apply(
            &Change::ReporterWrote {
                message_id: "r2@researcher.example".into(),
                key: None,
            },
            now(),
        );
        i.apply(
            &Change::Lead {
                email: Some("bob@example.net".into()),
            },
            now(),
        );
        i.apply(
            &Change::TeamAdded {
                email: "dev@example.org".into(),
            },
            now(),
        );
        i
    }

    fn command_mail(from: &str, text: &str, signature: SignatureStatus) -> Inbound {
        let signed = matches!(signature, SignatureStatus::Valid(_)).then(|| SignedContent {
            text: text.to_owned(),
            ..SignedContent::default()
        });
        Inbound {
            message_id: "c1@example.org".into(),
            message_id_synthesized: false,
            in_reply_to: vec![],
            references: vec![],
            from: Some(Mailbox::new(None, from)),
            to: vec![Mailbox::new(None, "security@example.org")],
            cc: vec![],
            subject: "Re: [EMB-2026-0001] New report".into(),
            date: None,
            text: text.to_owned(),
            text_source: TextSource::Plain,
            attachments: vec![],
            auto_reply: AutoReplyHeaders::default(),
            problems: vec![],
            signature,
            signed,
            encryption: Encryption::None,
            sender_key: None,
            bounce: None,
            body_digest: "d".into(),
            raw: vec![],
        }
    }

    fn by(fingerprint: &str, signed_at: Timestamp) -> SignatureStatus {
        SignatureStatus::Valid(Made {
            fingerprint: fingerprint.into(),
            signed_at,
            digest: "sig-1".into(),
            also: vec![],
            binary: false,
        })
    }

    fn handle(incident: &Incident, mail: &Inbound, used: bool) -> CommandOutcome {
        let roster = roster();
        let own = vec!["security@example.org".to_owned()];
        let policy = CommandPolicy {
            roster: &roster,
            prefix: "EMB",
            slots: &SlotRules::default(),
            max_signature_age: SignedDuration::from_hours(7 * 24),
            src_address: "src@example.org",
            own_addresses: &own,
            announce: &[],
            address_ok: |a| a.contains('@') && !a.contains(' '),
            advisory: None,
        };
        let facts = CommandFacts {
            signature_used: used,
            ..CommandFacts::default()
        };
        command_mail::handle(incident, mail, &facts, &policy, now()).expect("a command mail")
    }

    const REPLY: &str = "/reply EMB-2026-0001\nThanks, we reproduced it.\n";

    #[test]
    fn a_members_signed_reply_answers_the_reporter_in_their_thread_and_copies_the_insiders() {
        let out = handle(
            &incident(),
            &command_mail("alice@example.org", REPLY, by(ALICE_FP, now())),
            false,
        );
        assert!(out.reply.applied(), "{}", out.reply.text);
        let [answer] = out.answers.as_slice() else {
            panic!("one answer: {:?}", out.answers)
        };
        assert_eq!(answer.to.email, "jane@researcher.example");
        assert_eq!(answer.text, "Thanks, we reproduced it.\n");
        assert_eq!(answer.in_reply_to.as_deref(), Some("r2@researcher.example"));
        assert_eq!(
            answer.references,
            ["r1@researcher.example", "r2@researcher.example"]
        );
        // The insiders, not the member who wrote it.
        assert_eq!(
            answer.copy_to,
            ["src@example.org", "bob@example.net", "dev@example.org"]
        );
        assert!(answer.encrypt_to.is_none());
        assert!(
            out.reply
                .text
                .contains("goes to the reporter jane@researcher.example, signed with the list key, not encrypted (they sent no key)"),
            "{}",
            out.reply.text
        );
    }

    #[test]
    fn a_reply_is_encrypted_to_the_reporters_key_unless_it_cannot_be_used() {
        let key = |expires_at: Option<&str>, unusable: Option<&str>| SenderKey {
            fingerprint: "F00D".into(),
            armored: "-----BEGIN PGP PUBLIC KEY BLOCK-----".into(),
            source: KeySource::Autocrypt,
            expires_at: expires_at.map(|t| t.parse().unwrap()),
            encryption_expires_at: None,
            unusable: unusable.map(str::to_owned),
        };
        let subkey_until = |at: &str| SenderKey {
            encryption_expires_at: Some(at.parse().unwrap()),
            ..key(None, None)
        };
        let mail = command_mail("alice@example.org", REPLY, by(ALICE_FP, now()));
        for (k, encrypted, said) in [
            (key(None, None), true, "encrypted to their key F00D"),
            (
                key(Some("2027-01-01T00:00:00Z"), None),
                true,
                "encrypted to their key F00D",
            ),
            (
                key(Some("2026-11-30T00:00:00Z"), None),
                false,
                "NOT encrypted: the key they sent cannot be used (key F00D: it expired on 2026-11-30",
            ),
            (
                subkey_until("2027-01-01T00:00:00Z"),
                true,
                "encrypted to their key F00D",
            ),
            (
                subkey_until("2026-11-30T00:00:00Z"),
                false,
                "NOT encrypted: the key they sent cannot be used (key F00D: its encryption subkey expired on 2026-11-30 00:00 UTC)",
            ),
            (
                key(None, Some("the key has no usable encryption subkey")),
                false,
                "NOT encrypted: the key they sent cannot be used (key F00D: the key has no usable encryption subkey)",
            ),
        ] {
            let mut i = incident();
            i.apply(
                &Change::ReporterWrote {
                    message_id: "r3@researcher.example".into(),
                    key: Some(k.clone()),
                },
                now(),
            );
            let out = handle(&i, &mail, false);
            assert_eq!(out.answers[0].encrypt_to.is_some(), encrypted, "{k:?}");
            assert!(out.reply.text.contains(said), "{}", out.reply.text);
        }
    }

    /// The reporter's key arrived with an encryption subkey that could be
    /// used then and has expired since, under a primary key that never
    /// expires: at the `/reply` the answer goes signed in clear, and the
    /// command's reply says so, and why.
    #[test]
    fn a_reply_after_the_reporters_encryption_subkey_expired_goes_in_clear_and_says_why() {
        use sequoia_openpgp as openpgp;
        use std::time::SystemTime;

        let arrived = now() - SignedDuration::from_hours(3 * 24);
        let made = arrived - SignedDuration::from_hours(1);
        let subkey_ends = now() - SignedDuration::from_hours(24);
        let (cert, _) = openpgp::cert::CertBuilder::new()
            .set_cipher_suite(openpgp::cert::CipherSuite::Cv25519)
            .set_creation_time(SystemTime::try_from(made).unwrap())
            .add_userid("Jane <jane@researcher.example>")
            .add_subkey(
                openpgp::types::KeyFlags::empty()
                    .set_transport_encryption()
                    .set_storage_encryption(),
                std::time::Duration::try_from(subkey_ends.duration_since(made)).unwrap(),
                None,
            )
            .generate()
            .unwrap();
        let key = crate::pgp::sender_key(
            &crate::pgp::public_armored(&cert),
            "jane@researcher.example",
            KeySource::Autocrypt,
            arrived,
        )
        .expect("jane's key");
        // When it arrived, it could take encrypted mail.
        assert_eq!(key.unusable, None);
        assert_eq!(key.expires_at, None, "the primary key never expires");
        assert_eq!(key.usable_at(arrived), Ok(()));

        let mut i = incident();
        i.apply(
            &Change::ReporterWrote {
                message_id: "r3@researcher.example".into(),
                key: Some(key.clone()),
            },
            arrived,
        );
        let out = handle(
            &i,
            &command_mail("alice@example.org", REPLY, by(ALICE_FP, now())),
            false,
        );
        assert!(out.reply.applied(), "{}", out.reply.text);
        let [answer] = out.answers.as_slice() else {
            panic!("one answer: {:?}", out.answers)
        };
        let why = format!(
            "key {}: its encryption subkey expired on 2026-11-30 09:00 UTC",
            key.fingerprint
        );
        assert_eq!(answer.encrypt_to, None, "nothing to encrypt to");
        assert_eq!(answer.in_clear_because.as_deref(), Some(why.as_str()));
        let said = format!(
            "signed with the list key, NOT encrypted: the key they sent cannot be used ({why})"
        );
        assert!(out.reply.text.contains(&said), "{}", out.reply.text);
        assert!(!out.reply.text.contains("encrypted to their key"));
        assert!(
            answer.summary().contains(&said),
            "the insiders' copy says it too"
        );
    }

    #[test]
    fn a_reply_without_authority_or_without_anyone_to_answer_sends_nothing_and_says_why() {
        let mallory = "1C3E5A7B9D0F2468ACE013579BDF02468ACE1357";
        let mut no_reporter = incident();
        no_reporter.reporter = None;
        let cases: Vec<(&str, Incident, Inbound, bool, &str)> = vec![
            (
                "unsigned, with a member's From",
                incident(),
                command_mail("alice@example.org", REPLY, SignatureStatus::Unsigned),
                false,
                "the mail is not signed",
            ),
            (
                "signed by a key not in the roster",
                incident(),
                command_mail("alice@example.org", REPLY, by(mallory, now())),
                false,
                "which is not a roster key",
            ),
            (
                "a signature seen before",
                incident(),
                command_mail("alice@example.org", REPLY, by(ALICE_FP, now())),
                true,
                "this signature was seen before",
            ),
            (
                "a stale signature",
                incident(),
                command_mail(
                    "alice@example.org",
                    REPLY,
                    by(ALICE_FP, now() - SignedDuration::from_hours(8 * 24)),
                ),
                false,
                "sign the commands again",
            ),
            (
                "an incident without a reporter address",
                no_reporter,
                command_mail("alice@example.org", REPLY, by(ALICE_FP, now())),
                false,
                "has no reporter address",
            ),
            (
                "no text",
                incident(),
                command_mail(
                    "alice@example.org",
                    "/reply EMB-2026-0001\n-- \nAlice\n",
                    by(ALICE_FP, now()),
                ),
                false,
                "has no text",
            ),
        ];
        for (name, incident, mail, used, why) in cases {
            let out = handle(&incident, &mail, used);
            assert!(!out.reply.applied(), "{name}");
            assert!(out.answers.is_empty(), "{name}: {:?}", out.answers);
            assert_eq!(out.event.kind, EventKind::CommandRefused, "{name}");
            assert!(out.reply.text.contains(why), "{name}: {}", out.reply.text);
            assert_eq!(out.incident, incident, "{name}: nothing changed");
        }
    }

    /// The key a reporter's own mail carries is recorded on the incident
    /// when it is filed, report or follow-up, the latest winning; with the
    /// receiving MTA trusted, only from a sender it authenticated; never
    /// from someone else's mail, and never from an auto-reply.
    #[test]
    fn the_reporters_key_is_recorded_from_their_own_mail_and_replaced_only_on_the_mtas_word() {
        use crate::core::intake::{self, Decision, IntakeContext, IntakePolicy};
        use crate::core::sender_auth::{AuthResults, Trusted};
        use crate::core::threading::Known;

        let key = |fp: &str| SenderKey {
            fingerprint: fp.into(),
            armored: "armored".into(),
            source: KeySource::Autocrypt,
            expires_at: None,
            encryption_expires_at: None,
            unusable: None,
        };
        let roster = roster();
        let own = vec!["security@example.org".to_owned()];
        let decide = |mail: &Inbound, target: Option<&Incident>, mta: Option<Trusted<'_>>| {
            let policy = IntakePolicy {
                prefix: "EMB",
                own_addresses: &own,
                ack_window: SignedDuration::from_hours(1),
                roster: &roster,
                address_ok: |a| a.contains('@'),
                src_address: "src@example.org",
                slots: &SlotRules::default(),
                max_signature_age: SignedDuration::from_hours(7 * 24),
                announce: &[],
                trusted_mta: mta,
                advisory: None,
                verp: true,
                spam_headers: &crate::core::sender_auth::SpamHeader::defaults(),
            };
            let mut ctx = IntakeContext {
                next_seq: 1,
                ..IntakeContext::default()
            };
            if let Some(t) = target {
                ctx.known = Known {
                    messages: [("r1@researcher.example".to_owned(), t.id.clone())].into(),
                    ..Known::default()
                };
                ctx.target = Some(t.clone());
            }
            match intake::decide(mail, &ctx, &policy, now()).unwrap() {
                Decision::Open {
                    incident, events, ..
                } => {
                    // The log replays to the same incident.
                    assert!(
                        events[0]
                            .changes
                            .iter()
                            .any(|c| matches!(c, Change::ReporterWrote { .. }))
                    );
                    incident
                }
                Decision::Join { updated, .. } => updated.unwrap(),
                Decision::Duplicate | Decision::Bounce { .. } => {
                    panic!("neither a duplicate nor a bounce")
                }
            }
        };
        let from_jane = |id: &str, k: Option<SenderKey>| {
            let mut m = command_mail("jane@researcher.example", "text", SignatureStatus::Unsigned);
            m.message_id = id.into();
            m.in_reply_to = vec!["r1@researcher.example".into()];
            m.sender_key = k;
            m
        };

        let mut report = from_jane("r1@researcher.example", Some(key("K1")));
        report.in_reply_to.clear();
        let opened = decide(&report, None, None);
        assert_eq!(opened.details.reporter_key, Some(key("K1")));
        assert_eq!(opened.details.reporter_thread, ["r1@researcher.example"]);

        let later = decide(
            &from_jane("r2@researcher.example", Some(key("K2"))),
            Some(&opened),
            None,
        );
        assert_eq!(
            later.details.reporter_key,
            Some(key("K1")),
            "without the MTA's word, the first key stays: anyone can write her From"
        );
        assert_eq!(
            later.details.reporter_thread,
            ["r1@researcher.example", "r2@researcher.example"]
        );
        let without = decide(
            &from_jane("r3@researcher.example", None),
            Some(&later),
            None,
        );
        assert_eq!(
            without.details.reporter_key,
            Some(key("K1")),
            "a mail without a key keeps it"
        );

        let mut someone = from_jane("m1@evil.example", Some(key("EVIL")));
        someone.from = Some(Mailbox::new(None, "mallory@evil.example"));
        let after = decide(&someone, Some(&later), None);
        assert_eq!(after.details.reporter_key, Some(key("K1")));
        assert_eq!(after.details.reporter_thread, later.details.reporter_thread);

        let mut ooo = from_jane("ooo@researcher.example", Some(key("OOO")));
        ooo.auto_reply.auto_submitted = Some("auto-replied".into());
        let after = decide(&ooo, Some(&later), None);
        assert_eq!(after.details.reporter_key, Some(key("K1")));
        assert!(
            !after
                .details
                .reporter_thread
                .contains(&"ooo@researcher.example".to_owned())
        );

        // With the MTA trusted, a forged From: cannot plant a key.
        let mta = Some(Trusted {
            authserv_id: "mx.example.org",
            received_by_us: 1,
        });
        let forged = from_jane("r4@researcher.example", Some(key("FORGED")));
        let after = decide(&forged, Some(&later), mta);
        assert_eq!(after.details.reporter_key, Some(key("K1")));
        let mut authenticated = from_jane("r5@researcher.example", Some(key("K3")));
        authenticated.auto_reply.verdicts.results = vec![AuthResults {
            received_above: 0,
            value: "mx.example.org; dmarc=pass header.from=researcher.example".into(),
        }];
        let after = decide(&authenticated, Some(&later), mta);
        assert_eq!(
            after.details.reporter_key,
            Some(key("K3")),
            "the MTA authenticated her: her new key counts"
        );
    }
}
