//! Every kind of mail embargo writes, rendered from a full and from a
//! minimal incident: nothing left unrendered, every fact where it belongs,
//! nothing a reporter wrote turned into a header or a recipient, and every
//! mail signed so that GnuPG verifies it.

mod common;

use common::gpg::{Gpg, signed_parts};
use common::*;
use embargo::core::command_mail::CommandReply;
use embargo::core::deadline::Reminder;
use embargo::core::event::{Event, EventKind};
use embargo::core::inbound::Mailbox;
use embargo::core::incident::{Change, Field, Incident, Patch, State};
use embargo::core::incident_id::IncidentId;
use embargo::core::mail_kind::MailKind;
use embargo::core::notice_kind::NoticeKind;
use embargo::core::relay::{Insider, Relay};
use embargo::core::severity;
use embargo::crypto::Crypto;
use embargo::notice::{Composer, Undelivered};
use embargo::store::{NewMail, OutboxMail, OutboxState};
use jiff::Timestamp;

const INJECTED: &str = "Crash\r\nBcc: evil@attacker.example\r\nX-Injected: yes";

/// The site's settings and its keys, as the service reads them at `at`.
fn keyed_settings(site: &Site, at: Timestamp) -> (embargo::config::Settings, Crypto) {
    let settings = embargo::config::load(&site.config()).unwrap().settings;
    let keys = embargo::keyring::load(&settings, at).unwrap();
    (settings, Crypto::new(keys.pgp))
}

fn insider(email: &str, fingerprint: Option<&str>) -> Insider {
    Insider {
        email: email.into(),
        name: None,
        fingerprint: fingerprint.map(str::to_owned),
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn config() -> String {
    BASE_CONFIG.replace(
        "[[announce]]\naddress = \"announce@example.org\"",
        "[[distributors]]\nname = \"Distro\"\nemail = \"security@distro.example\"\n\n\
         [[announce]]\naddress = \"announce@example.org\"\n\n\
         [[announce]]\naddress = \"oss@lists.example.net\"\nsubject_prefix = \"[project]\"",
    )
}

/// Planned for a slot, nothing more: what a notice says when nothing is set.
fn minimal(title: &str) -> Incident {
    let mut i = Incident::open(
        IncidentId::new("EMB", 2026, 1).unwrap(),
        title,
        Some(Mailbox::new(
            Some("Eve\r\nBcc: evil@attacker.example"),
            "eve@example.net",
        )),
        Some("alice@example.org".into()),
        t("2026-11-10T09:00:00Z"),
    );
    let at = t("2026-11-10T10:00:00Z");
    i.apply(
        &Change::State {
            to: State::DisclosurePlanned,
        },
        at,
    );
    i.apply(
        &Change::Disclosure {
            at: Some(t("2026-12-01T16:00:00Z")),
        },
        at,
    );
    i
}

fn full() -> Incident {
    let mut i = minimal("Heap overflow in the YAML loader");
    let at = t("2026-11-10T10:30:00Z");
    let set = |f, v: &str| Change::Field {
        field: f,
        value: v.into(),
    };
    for c in [
        Change::Lead {
            email: Some("alice@example.org".into()),
        },
        Change::TeamAdded {
            email: "dev@example.org".into(),
        },
        Change::Cves {
            ids: vec!["CVE-2026-31337".into(), "CVE-2026-31338".into()],
        },
        Change::Severity {
            severity: severity::from_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
                .unwrap(),
        },
        set(Field::Summary, "Heap overflow in the loader"),
        set(Field::Affected, "2.3.0 to 2.4.1"),
        set(Field::Fixed, "2.3.10 and 2.4.2"),
        set(Field::Impact, "remote code execution"),
        set(Field::Mitigation, "set max_alias_depth = 0"),
        set(Field::Releases, "https://example.org/releases"),
        set(Field::Credit, "Jane Researcher"),
        set(Field::DeployBefore, "yes"),
        set(Field::PatchEmbargoed, "no"),
        Change::Approved {
            kind: NoticeKind::Distributors,
            by: "alice@example.org".into(),
            text: None,
            patches: vec![Patch {
                name: "fix-2.4.2.patch".into(),
                text: "--- a\n+++ b\n".into(),
            }],
        },
        Change::Approved {
            kind: NoticeKind::Announcement,
            by: "alice@example.org".into(),
            text: None,
            patches: vec![],
        },
        Change::Approved {
            kind: NoticeKind::Warning,
            by: "alice@example.org".into(),
            text: Some("Our own words for the warning.\n".into()),
            patches: vec![],
        },
    ] {
        i.apply(&c, at);
    }
    i
}

fn outbox_row(m: &NewMail) -> OutboxMail {
    OutboxMail {
        id: 7,
        key: m.key.clone(),
        kind: m.kind,
        incident: m.incident.clone(),
        message_id: m.message_id.clone(),
        from: m.from.clone(),
        recipients: m.recipients.clone(),
        subject: m.subject.clone(),
        bytes: vec![],
        created_at: m.due_at,
        due_at: m.due_at,
        state: OutboxState::Failed,
        attempts: 1,
        last_error: None,
        sent_at: None,
        transport_id: None,
        bounce_token: None,
        bounced_at: None,
    }
}

/// Every mail the composer writes for `incident`.
fn every_mail(composer: &Composer<'_>, site: &Site, incident: &Incident) -> Vec<NewMail> {
    let now = t("2026-11-30T16:00:00Z");
    let report_raw = "From: =?UTF-8?Q?Eve=0D=0ABcc:_evil@attacker.example?= <eve@example.net>\r\nTo: security@example.org\r\n\
         Subject: =?UTF-8?Q?Crash=0D=0ABcc:_evil@attacker.example?=\r\nMessage-ID: <r1@example.net>\r\n\r\nThe report.\r\n";
    let report = embargo::parse::parse(report_raw.as_bytes().to_vec(), 1 << 20, None).unwrap();
    assert!(
        report.subject.contains('\n') || report.subject.contains("Bcc"),
        "the injection survives parsing: {:?}",
        report.subject
    );
    let relay = Relay {
        to: vec![
            insider("src@example.org", None),
            insider("alice@example.org", None),
        ],
        encrypted: false,
        sender: report.from.as_ref().and_then(|m| m.name.clone()).unwrap(),
        unverified: false,
    };
    let mut mails = composer
        .relay(
            &incident.id,
            &report,
            "In-Reply-To <r0@example.net>",
            &relay,
            now,
        )
        .unwrap();
    mails.extend([
        composer
            .acknowledgement(incident, &report, report.from.as_ref().unwrap(), now)
            .unwrap(),
        composer
            .src_copy(incident, &report, None, now)
            .unwrap()
            .pop()
            .unwrap(),
        composer
            .quarantine(
                &format!("maildir:{}", site.path("maildir").display()),
                &"ab".repeat(32),
                10,
                "no mail headers found",
                now,
            )
            .unwrap(),
        composer
            .undecryptable(&incident.id, &report, "not for the list key", now)
            .unwrap(),
        composer
            .digest(
                &embargo::core::digest::Digest {
                    week: "2026-W49".into(),
                    untriaged: vec![embargo::core::digest::Untriaged {
                        id: incident.id.clone(),
                        since: incident.opened_at,
                        title: incident.title.clone(),
                        sender: incident.reporter.as_ref().map(|r| r.email.clone()),
                        reminders: 3,
                    }],
                    spam: 2,
                },
                now,
            )
            .unwrap(),
        composer
            .command_reply(
                &incident.id,
                &report,
                &CommandReply {
                    to: vec!["alice@example.org".into()],
                    refused: Some(embargo::core::command_mail::Refusal::Malformed),
                    text: "Nothing was changed.\n".into(),
                },
                now,
            )
            .unwrap(),
        composer
            .reminder(
                incident,
                &Reminder {
                    deadline: "fix".into(),
                    to: vec!["alice@example.org".into()],
                    text: "No fix yet.".into(),
                },
                now,
            )
            .unwrap(),
        composer
            .retrospective(
                incident,
                &[Event {
                    at: now,
                    kind: EventKind::Reported,
                    actor: "eve@example.net".into(),
                    message_id: None,
                    detail: INJECTED.into(),
                    changes: vec![],
                }],
                now,
            )
            .unwrap(),
    ]);
    mails.extend(
        composer
            .drafts(incident, &[], &NoticeKind::ALL, now)
            .unwrap(),
    );
    for (built, failures) in [
        composer.advance_notices(incident, &[], now).unwrap(),
        composer.warnings(incident, "warning-0-1", now).unwrap(),
        composer
            .date_changes(
                incident,
                "date-change-1-2",
                t("2026-12-01T16:00:00Z"),
                t("2026-12-08T16:00:00Z"),
                1,
                now,
            )
            .unwrap(),
        composer.announcements(incident, &[], now).unwrap(),
        composer
            .cancellations(
                &{
                    let mut ended = incident.clone();
                    ended.details.told_date = Some(t("2026-12-01T16:00:00Z"));
                    ended.state = embargo::core::incident::State::Cancelled;
                    ended
                },
                now,
            )
            .unwrap(),
    ] {
        assert!(failures.is_empty());
        mails.extend(built);
    }
    let first = outbox_row(&mails[0]);
    mails.push(
        composer
            .guard_alert(incident, &first, "a test", now)
            .unwrap(),
    );
    mails.push(
        composer
            .alert(
                &incident.id,
                Some(incident),
                &embargo::notice::Alert {
                    key: "held".into(),
                    subject: "The announcement is held".into(),
                    text: INJECTED.into(),
                },
                now,
            )
            .unwrap(),
    );
    mails.push(
        composer
            .delivery_failure(
                incident,
                &Undelivered {
                    key: "7",
                    kind: "announcement",
                    to: "x@example.org",
                    subject: INJECTED,
                    error: "550 no such user",
                    advice: None,
                },
                now,
            )
            .unwrap(),
    );
    let answer = embargo::core::answer::ReporterAnswer {
        by: "alice@example.org".into(),
        to: Mailbox::new(Some(INJECTED), "eve@example.net"),
        text: INJECTED.into(),
        title: INJECTED.into(),
        in_reply_to: Some("r1@example.net".into()),
        references: vec!["r1@example.net".into()],
        encrypt_to: None,
        in_clear_because: None,
        copy_to: vec!["src@example.org".into()],
        text_in_copy: true,
    };
    mails.push(
        composer
            .reporter_answer(&incident.id, &report, 1, &answer, now)
            .unwrap(),
    );
    mails.push(
        composer
            .reporter_answer_copy(&incident.id, &report, 1, &answer, now)
            .unwrap()
            .expect("a copy for the SRC list"),
    );
    mails
}

#[test]
fn every_template_renders_from_a_full_and_a_minimal_incident() {
    let site = Site::with_config(&config());
    let settings = embargo::config::load(&site.config()).unwrap().settings;
    let keys = embargo::keyring::load(&settings, t("2026-11-10T09:00:00Z")).unwrap();
    let crypto = Crypto::new(keys.pgp);
    let composer = Composer::new(&settings, crypto.sealer.as_ref());
    let gpg = Gpg::new();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());

    for (name, incident) in [("minimal", minimal(INJECTED)), ("full", full())] {
        let mails = every_mail(&composer, &site, &incident);
        let kinds: std::collections::HashSet<MailKind> = mails.iter().map(|m| m.kind).collect();
        for k in MailKind::ALL {
            assert!(kinds.contains(&k), "{name}: no {k} mail rendered");
        }
        for m in &mails {
            let raw = String::from_utf8_lossy(&m.bytes).into_owned();
            let parsed = mail_parser::MessageParser::default()
                .parse(&m.bytes)
                .unwrap();
            let text = parsed.body_text(0).unwrap_or_default().into_owned();
            assert!(
                !text.contains("{{") && !text.contains("{%"),
                "{name} {}: unrendered template:\n{text}",
                m.kind
            );
            // Nothing a reporter wrote became a header or a recipient.
            let header_block = &raw[..raw.find("\r\n\r\n").unwrap()];
            for line in header_block.lines() {
                assert!(
                    !line.starts_with("Bcc:") && !line.starts_with("X-Injected:"),
                    "{name} {}: injected header {line:?}",
                    m.kind
                );
            }
            assert!(
                !m.recipients.iter().any(|r| r.contains("attacker")),
                "{name} {}: {:?}",
                m.kind,
                m.recipients
            );
            assert!(
                !parsed.subject().unwrap_or("").contains('\n'),
                "{name} {}",
                m.kind
            );
            let (signed, signature) = signed_parts(&m.bytes);
            let verified = gpg.verify_detached(&signature, &signed);
            assert!(verified.ok, "{name} {}: {}", m.kind, verified.status);
        }
        let text_of = |kind: MailKind| {
            let m = mails.iter().find(|m| m.kind == kind).unwrap();
            mail_parser::MessageParser::default()
                .parse(&m.bytes)
                .unwrap()
                .body_text(0)
                .unwrap()
                .into_owned()
        };
        let advance = text_of(MailKind::AdvanceNotice);
        assert!(
            advance.contains("Tuesday 2026-12-01 16:00 UTC"),
            "{advance}"
        );
        assert!(
            advance.contains("Tuesday 2026-12-01 08:00 (UTC-08:00, America/Los_Angeles)"),
            "{advance}"
        );
        assert!(
            advance.contains("Wednesday 2026-12-02 01:00 (UTC+09:00, Asia/Tokyo)"),
            "{advance}"
        );
        match name {
            "minimal" => {
                assert!(advance.contains("not stated yet"), "{advance}");
                assert!(
                    advance.contains("ask us first"),
                    "deploy-before unknown: {advance}"
                );
                assert!(
                    advance.contains("The patch itself is under embargo"),
                    "the safe default: {advance}"
                );
            }
            _ => {
                for fact in [
                    "CVE-2026-31337, CVE-2026-31338",
                    "critical (CVSS 9.8",
                    "2.3.0 to 2.4.1",
                    "2.3.10 and 2.4.2",
                    "remote code execution",
                    "max_alias_depth",
                    "https://example.org/releases",
                    "Jane Researcher",
                    "CVE-2026-31337_v2.4.2.patch",
                ] {
                    assert!(advance.contains(fact), "{fact:?} missing from:\n{advance}");
                }
                assert!(
                    advance.contains("You may deploy the fix")
                        && advance.contains("The patch itself is not under embargo"),
                    "{advance}"
                );
                let warning = text_of(MailKind::Warning);
                assert!(
                    warning.contains("Our own words for the warning."),
                    "the approval's text: {warning}"
                );
                assert!(
                    warning.contains("as it will be published")
                        && warning.contains("remote code execution"),
                    "{warning}"
                );
                let announcement = mails
                    .iter()
                    .find(|m| {
                        m.kind == MailKind::Announcement
                            && m.recipients == ["oss@lists.example.net"]
                    })
                    .unwrap();
                assert_eq!(
                    announcement.subject,
                    "[project] CVE-2026-31337, CVE-2026-31338: Heap overflow in the loader"
                );
            }
        }
    }
}

#[test]
fn an_approval_with_text_sends_that_text() {
    let site = Site::with_config(&config());
    let settings = embargo::config::load(&site.config()).unwrap().settings;
    let keys = embargo::keyring::load(&settings, t("2026-11-10T09:00:00Z")).unwrap();
    let crypto = Crypto::new(keys.pgp);
    let composer = Composer::new(&settings, crypto.sealer.as_ref());
    let mut i = full();
    i.apply(
        &Change::Approved {
            kind: NoticeKind::Announcement,
            by: "alice@example.org".into(),
            text: Some("Upgrade now. That is all.\n".into()),
            patches: vec![],
        },
        t("2026-11-11T09:00:00Z"),
    );
    let announced = composer
        .notice_text(&i, &[], NoticeKind::Announcement, t("2026-12-01T16:00:00Z"))
        .unwrap();
    assert!(
        announced.text.contains("Upgrade now. That is all."),
        "{}",
        announced.text
    );
    assert!(
        !announced.text.contains("remote code execution"),
        "the edited text replaces the facts"
    );
    // The warning carries the announcement as it will be published.
    let warning = composer
        .notice_text(&i, &[], NoticeKind::Warning, t("2026-11-30T16:00:00Z"))
        .unwrap();
    assert!(
        warning.text.contains("Upgrade now. That is all."),
        "{}",
        warning.text
    );
    assert!(
        warning
            .attachments
            .iter()
            .any(|a| a.name == "disclosure.ics")
    );
}

/// What the insiders get of a mail on an incident: "Jane via the list",
/// answers to the list, in the sender's thread, the tag once, a text part
/// saying who and how it was signed, and the original byte for byte as a
/// `message/rfc822` part inside what the list key signs.
#[test]
fn a_relay_keeps_the_sender_the_thread_one_tag_and_the_original() {
    let site = Site::with_config(&config());
    let (settings, crypto) = keyed_settings(&site, t("2026-11-10T09:00:00Z"));
    let composer = Composer::new(&settings, crypto.sealer.as_ref());
    let gpg = Gpg::new();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    let now = t("2026-11-30T16:00:00Z");
    let incident = minimal("Crash");
    let raw = "From: Jane Researcher <jane@researcher.example>\r\nTo: security@example.org\r\n\
               Subject: Re: [EMB-2026-0001] Crash\r\nMessage-ID: <f2@researcher.example>\r\n\
               In-Reply-To: <f1@researcher.example>\r\n\
               References: <r1@researcher.example> <f1@researcher.example>\r\n\r\n\
               A second vector.\r\n";
    let mail = embargo::parse::parse(raw.as_bytes().to_vec(), 1 << 20, None).unwrap();
    let relay = Relay {
        to: vec![
            insider("src@example.org", None),
            insider("dev@example.org", None),
        ],
        encrypted: false,
        sender: "Jane Researcher".into(),
        unverified: false,
    };
    let relayed = |mail: &embargo::core::inbound::Inbound| {
        composer
            .relay(
                &incident.id,
                mail,
                "In-Reply-To <f1@researcher.example>",
                &relay,
                now,
            )
            .unwrap()
    };
    let mails = relayed(&mail);
    assert_eq!(
        mails
            .iter()
            .map(|m| m.recipients.clone())
            .collect::<Vec<_>>(),
        [["src@example.org"], ["dev@example.org"]],
        "one mail per insider"
    );
    let keys: std::collections::HashSet<&str> = mails.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys.len(), 2, "an outbox key per recipient: {keys:?}");
    assert!(mails.iter().all(|m| m.kind == MailKind::Relay));
    // The same mail relayed again makes the same keys: the outbox keeps one.
    assert_eq!(relayed(&mail)[0].key, mails[0].key);

    let m = &mails[0];
    let parsed = mail_parser::MessageParser::default()
        .parse(&m.bytes)
        .unwrap();
    let header = |name: &str| {
        parsed
            .header_raw(name)
            .map(|v| v.trim().replace("\r\n", ""))
            .unwrap_or_default()
    };
    assert_eq!(
        header("From"),
        "\"Jane Researcher via Test Project Security\" <security@example.org>"
    );
    assert_eq!(header("Reply-To"), "security@example.org");
    assert_eq!(header("In-Reply-To"), "<f2@researcher.example>");
    assert_eq!(
        header("References"),
        "<r1@researcher.example> <f1@researcher.example> <f2@researcher.example>"
    );
    assert_eq!(m.subject, "Re: [EMB-2026-0001] Crash", "the tag once");
    assert_eq!(header("Auto-Submitted"), "auto-generated");
    let text = parsed.body_text(0).unwrap();
    for fact in [
        "Jane Researcher <jane@researcher.example> wrote on EMB-2026-0001",
        "Signature:   not signed",
        "Filed by:    In-Reply-To <f1@researcher.example>",
        "Relayed to:  src@example.org, dev@example.org",
        "A second vector.",
        "original.eml",
    ] {
        assert!(text.contains(fact), "{fact:?} missing from:\n{text}");
    }
    // The original, byte for byte, inside the signed part.
    let bytes = String::from_utf8_lossy(&m.bytes);
    let at = bytes
        .find("Content-Type: message/rfc822")
        .expect("an rfc822 part");
    let part = &bytes[at..];
    let body = &part[part.find("\r\n\r\n").unwrap() + 4..];
    assert!(body.starts_with(raw), "{body}");
    let (signed, signature) = signed_parts(&m.bytes);
    assert!(String::from_utf8_lossy(&signed).contains("message/rfc822"));
    let verified = gpg.verify_detached(&signature, &signed);
    assert!(verified.ok, "{}", verified.status);

    // A subject without the tag gets it, once.
    let untagged = embargo::parse::parse(
        raw.replace("Re: [EMB-2026-0001] Crash", "Re: Crash")
            .into_bytes(),
        1 << 20,
        None,
    )
    .unwrap();
    let m = &relayed(&untagged)[0];
    assert_eq!(m.subject, "[EMB-2026-0001] Re: Crash");

    // A mail that cannot travel unencoded (8-bit, a long line) is still
    // attached whole, as a base64 file, and the signature still holds.
    let eight_bit = format!("{raw}Grüße, {}\r\n", "x".repeat(1200));
    let mail = embargo::parse::parse(eight_bit.clone().into_bytes(), 1 << 20, None).unwrap();
    let m = &relayed(&mail)[0];
    let parsed = mail_parser::MessageParser::default()
        .parse(&m.bytes)
        .unwrap();
    let original = parsed
        .attachments()
        .find(|a| mail_parser::MimeHeaders::attachment_name(*a) == Some("original.eml"))
        .expect("the original attached");
    assert_eq!(original.contents(), eight_bit.as_bytes());
    let (signed, signature) = signed_parts(&m.bytes);
    assert!(gpg.verify_detached(&signature, &signed).ok);

    // A mail too large to copy to every insider (a 3 MB proof of concept)
    // is not attached: each copy says where it is kept.
    let large = format!("{raw}{}\r\n", "A".repeat(76).repeat(40_000));
    let mail = embargo::parse::parse(large.clone().into_bytes(), 8 << 20, None).unwrap();
    for m in relayed(&mail) {
        assert!(m.bytes.len() < 1 << 20, "{} bytes", m.bytes.len());
        let text = String::from_utf8_lossy(&m.bytes);
        assert!(!text.contains("message/rfc822"), "not attached");
        assert!(
            text.contains("too large to attach") && text.contains("embargo show EMB-2026-0001"),
            "{text}"
        );
    }
}

/// An encrypted mail's relay: its text and original only inside the
/// mail encrypted to an insider's key; everyone else hears that it came.
#[test]
fn an_encrypted_mails_relay_carries_its_text_only_encrypted() {
    let gpg = Gpg::new();
    let alice = gpg.gen_key("Alice <alice@example.org>", "ed25519");
    let site = Site::with_config(
        &config()
            .replace("6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9", &alice)
            .replace(
                "[roster.oncall]",
                "[roster]\nkeyring = \"keys\"\n\n[roster.oncall]",
            ),
    );
    std::fs::create_dir(site.path("keys")).unwrap();
    std::fs::write(site.path("keys/alice.asc"), gpg.export(&alice)).unwrap();
    gpg.import(&std::fs::read(site.path("list-key.pub.asc")).unwrap());
    // The keys are made now: the keyring is read, and mail sealed, after.
    let now = Timestamp::now();
    let (settings, crypto) = keyed_settings(&site, now);
    let composer = Composer::new(&settings, crypto.sealer.as_ref());
    // A key the service does not have: that copy cannot be encrypted.
    let stranger = gpg.gen_key("Dev <dev@example.org>", "ed25519");
    let raw = "From: Jane <jane@researcher.example>\r\nSubject: Re: Crash\r\n\
               Message-ID: <s1@researcher.example>\r\n\r\nTOP SECRET DETAIL\r\n";
    let mut mail = embargo::parse::parse(raw.as_bytes().to_vec(), 1 << 20, None).unwrap();
    mail.encryption = embargo::core::signature::Encryption::Decrypted;
    let relay = Relay {
        to: vec![
            insider("src@example.org", None),
            insider("alice@example.org", Some(&alice)),
            insider("dev@example.org", Some(&stranger)),
        ],
        encrypted: true,
        sender: "Jane".into(),
        unverified: false,
    };
    let mails = composer
        .relay(&minimal("Crash").id, &mail, "x", &relay, now)
        .unwrap();
    let encrypted = |m: &NewMail| String::from_utf8_lossy(&m.bytes).contains("multipart/encrypted");
    let to = |m: &NewMail| m.recipients[0].clone();
    let sealed: Vec<String> = mails.iter().filter(|m| encrypted(m)).map(to).collect();
    assert_eq!(sealed, ["alice@example.org"]);
    let word_only: Vec<String> = mails.iter().filter(|m| !encrypted(m)).map(to).collect();
    assert_eq!(
        word_only,
        ["src@example.org", "dev@example.org"],
        "a key the service cannot use: word only, never the text in clear"
    );
    for m in &mails {
        let bytes = String::from_utf8_lossy(&m.bytes);
        assert!(
            !bytes.contains("TOP SECRET"),
            "in clear to {:?}",
            m.recipients
        );
        if !encrypted(m) {
            assert!(!bytes.contains("message/rfc822"), "{bytes}");
            assert!(
                bytes.contains("came encrypted, so its text is not in this mail")
                    && bytes.contains("Not to: dev@example.org"),
                "{bytes}"
            );
        }
    }
    let sealed = mails.iter().find(|m| encrypted(m)).unwrap();
    let opened = gpg.decrypt(sealed.bytes.as_slice());
    assert!(opened.ok, "{}", opened.status);
    let inside = String::from_utf8_lossy(&opened.stdout);
    assert!(
        inside.contains("TOP SECRET DETAIL") && inside.contains("message/rfc822"),
        "{inside}"
    );
}

/// Asked to encrypt the answer to the reporter to a key that cannot take
/// encrypted mail (its only encryption subkey has expired, its primary key
/// never does), the composer writes nothing: never the embargoed text,
/// signed in clear, under a decision that said "encrypted".
#[test]
fn an_answer_to_be_encrypted_to_a_key_that_cannot_encrypt_is_refused_not_sent_in_clear() {
    use embargo::core::inbound::{KeySource, SenderKey};
    use sequoia_openpgp as openpgp;

    let site = Site::with_config(&config());
    let (settings, crypto) = keyed_settings(&site, t("2026-11-10T09:00:00Z"));
    let composer = Composer::new(&settings, crypto.sealer.as_ref());
    let made = t("2026-11-01T09:00:00Z");
    let now = t("2026-11-30T16:00:00Z");
    let (cert, _) = openpgp::cert::CertBuilder::new()
        .set_cipher_suite(openpgp::cert::CipherSuite::Cv25519)
        .set_creation_time(std::time::SystemTime::try_from(made).unwrap())
        .add_userid("Jane <jane@researcher.example>")
        .add_subkey(
            openpgp::types::KeyFlags::empty()
                .set_transport_encryption()
                .set_storage_encryption(),
            std::time::Duration::from_secs(7 * 24 * 3600),
            None,
        )
        .generate()
        .unwrap();
    // As a decision made on what was recorded would carry it: nothing
    // recorded says it cannot be used.
    let key = SenderKey {
        fingerprint: cert.fingerprint().to_hex(),
        armored: String::from_utf8(embargo::pgp::public_armored(&cert)).unwrap(),
        source: KeySource::Autocrypt,
        expires_at: None,
        encryption_expires_at: None,
        unusable: None,
    };
    let report_raw = "From: Jane <jane@researcher.example>\r\nTo: security@example.org\r\n\
         Subject: Crash\r\nMessage-ID: <c1@example.org>\r\n\r\n/reply EMB-2026-0001\r\n";
    let command = embargo::parse::parse(report_raw.as_bytes().to_vec(), 1 << 20, None).unwrap();
    let incident = minimal("Crash");
    let answer = embargo::core::answer::ReporterAnswer {
        by: "alice@example.org".into(),
        to: Mailbox::new(Some("Jane"), "jane@researcher.example"),
        text: "The embargoed details of the fix.\n".into(),
        title: "Crash".into(),
        in_reply_to: Some("r1@researcher.example".into()),
        references: vec!["r1@researcher.example".into()],
        encrypt_to: Some(key.clone()),
        in_clear_because: None,
        copy_to: vec!["src@example.org".into()],
        text_in_copy: true,
    };
    let refused = composer
        .reporter_answer(&incident.id, &command, 1, &answer, now)
        .expect_err("no mail in clear where the answer was to be encrypted");
    let said = refused.to_string();
    assert!(said.contains("jane@researcher.example"), "{said}");
    assert!(said.contains(&key.fingerprint), "{said}");
    assert!(said.contains("nothing was sent"), "{said}");

    // The same answer, decided in clear, goes signed in clear.
    let in_clear = embargo::core::answer::ReporterAnswer {
        encrypt_to: None,
        in_clear_because: Some("its encryption subkey expired".into()),
        ..answer
    };
    let sent = composer
        .reporter_answer(&incident.id, &command, 1, &in_clear, now)
        .unwrap();
    let raw = String::from_utf8_lossy(&sent.bytes);
    assert!(!raw.contains("-----BEGIN PGP MESSAGE-----"));
    assert!(raw.contains("The embargoed details of the fix."));
}
