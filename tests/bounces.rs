//! Bounces are bounces: a delivery status notification, or mail to an
//! outbox mail's own return path, marks that mail bounced, tells the SRC
//! when the recipient mattered, and never opens an incident nor gets an
//! answer. Forged ones change nothing. On the file sink, end to end.

mod common;

use std::path::PathBuf;

use common::*;
use embargo::core::bounce::{self, BounceReport};
use embargo::core::intake::{self, Decision, IntakeContext, IntakePolicy};
use embargo::core::roster::{Member, Roster, Rotation};
use embargo::core::slot::SlotRules;
use serde_json::Value;

const LIMIT: usize = 64 * 1024 * 1024;

fn shared_fixtures() -> PathBuf {
    std::env::var_os("EMBARGO_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        PathBuf::from,
    )
}

fn shared(rel: &str) -> Vec<u8> {
    let path = shared_fixtures().join("mail").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; set EMBARGO_FIXTURES to the shared fixtures folder",
            path.display()
        )
    })
}

fn bounce_of(raw: Vec<u8>) -> BounceReport {
    embargo::parse::parse(raw, LIMIT, None)
        .unwrap()
        .bounce
        .expect("read as a bounce")
}

#[test]
fn a_real_postfix_bounce_names_the_return_path_and_the_server_words() {
    let b = bounce_of(fixture("mail/postfix-bounce.eml"));
    assert_eq!(
        b.delivered_to.as_deref(),
        Some("security+bounce-4848a538ef072b52bf7bd476@embargo.test")
    );
    assert_eq!(b.token.as_deref(), Some("4848a538ef072b52bf7bd476"));
    assert!(b.null_sender);
    let r = b.report.unwrap();
    assert_eq!(r.reporting_mta.as_deref(), Some("dns; mx.embargo.test"));
    assert_eq!(
        r.original_message_id.as_deref(),
        Some("advance-notice.EMB-2026-0001.test@embargo.test")
    );
    assert_eq!(r.recipients.len(), 1);
    let gone = &r.recipients[0];
    assert_eq!(
        (
            gone.final_recipient.as_str(),
            gone.original_recipient.as_deref(),
            gone.action.as_str(),
            gone.status.as_str()
        ),
        (
            "gone@embargo.test",
            Some("gone@embargo.test"),
            "failed",
            "5.1.1"
        )
    );
    assert_eq!(
        gone.diagnostic.as_deref(),
        Some("smtp; 550 5.1.1 <gone@embargo.test> User doesn't exist: gone@embargo.test")
    );
}

#[test]
fn an_exim_report_names_its_failed_recipient() {
    let b = bounce_of(shared("mimekit/00015.eml"));
    let r = b.report.expect("a delivery status report");
    assert_eq!(
        r.reporting_mta.as_deref(),
        Some("dns; smtp-out.dis-hosting.net")
    );
    assert_eq!(r.recipients.len(), 1, "{r:?}");
    // Exim writes Action before Final-Recipient.
    assert_eq!(r.recipients[0].final_recipient, "source@domain.com");
    assert_eq!(r.recipients[0].status, "5.0.0");
    assert!(r.recipients[0].failed());
    assert_eq!(b.token, None);
}

#[test]
fn an_amavis_report_returns_the_original_in_rfc822_headers() {
    let b = bounce_of(shared("cpython-test_email/00044.eml"));
    let r = b.report.unwrap();
    assert_eq!(
        r.original_message_id.as_deref(),
        Some("edab.7804f5cb8070@python.org")
    );
    assert_eq!(r.recipients.len(), 25);
    assert!(
        r.recipients
            .iter()
            .all(|r| r.failed() && r.status == "5.7.1")
    );
    assert_eq!(r.recipients[0].final_recipient, "xxxxxxx@dot.ca.gov");
    assert!(
        r.recipients[0]
            .diagnostic
            .as_deref()
            .is_some_and(|d| d.starts_with("smtp; 550 5.7.1 Message content rejected")),
        "{:?}",
        r.recipients[0]
    );
}

#[test]
fn a_delayed_report_is_not_a_failure() {
    let b = bounce_of(shared("sa-pubcorpus-easy-ham-1/01436.eml"));
    let r = b.report.as_ref().unwrap();
    assert_eq!(
        r.original_message_id.as_deref(),
        Some("3D77146F.1000603@startechgroup.co.uk")
    );
    assert_eq!(r.recipients[0].action, "delayed");
    assert_eq!(
        r.recipients[0].original_recipient.as_deref(),
        Some("casimir@tgsnopec.com")
    );
    let row = bounce::SentMail {
        id: 3,
        kind: embargo::core::mail_kind::MailKind::Acknowledgement,
        incident: Some("EMB-2026-0001".parse().unwrap()),
        message_id: "3D77146F.1000603@startechgroup.co.uk".into(),
        recipients: vec!["casimir@tgsnopec.com".into()],
        subject: "s".into(),
        token: None,
        bounced: false,
        went_out: true,
    };
    let roster = Roster {
        members: vec![],
        release_managers: vec![],
        rotation: Rotation {
            members: vec![],
            starts: jiff::civil::date(2026, 1, 5),
            shift_days: 7,
        },
    };
    let reach = bounce::Reach {
        src_address: "src@example.org",
        roster: &roster,
        incidents: &[],
        now: "2026-12-01T09:00:00Z".parse().unwrap(),
    };
    assert!(
        matches!(
            bounce::decide(&b, &[row], true, &reach),
            bounce::Outcome::Noted { .. }
        ),
        "delayed is recorded, the mail is not bounced"
    );
}

/// Every real delivery status report among the shared fixtures is read as
/// a bounce, and the intake decision for it opens nothing and answers
/// nobody (no incident, no acknowledgement, no SRC copy).
#[test]
fn every_real_delivery_report_is_a_bounce_and_opens_no_incident() {
    let roster = Roster {
        members: vec![Member {
            name: "Alice".into(),
            email: "alice@example.org".into(),
            company: "A".into(),
            fingerprint: None,
            on_leave: false,
        }],
        release_managers: vec![],
        rotation: Rotation {
            members: vec!["alice@example.org".into()],
            starts: jiff::civil::date(2026, 1, 5),
            shift_days: 7,
        },
    };
    let own = vec!["security@example.org".to_owned()];
    let policy = IntakePolicy {
        prefix: "EMB",
        own_addresses: &own,
        ack_window: jiff::SignedDuration::from_hours(1),
        roster: &roster,
        address_ok: |a| a.contains('@'),
        src_address: "src@example.org",
        slots: &SlotRules::default(),
        max_signature_age: jiff::SignedDuration::from_hours(7 * 24),
        announce: &[],
        trusted_mta: None,
        advisory: None,
        verp: true,
        spam_headers: &embargo::core::sender_auth::SpamHeader::defaults(),
    };
    let mut reports = 0;
    for dir in [
        "mimekit",
        "cpython-test_email",
        "sa-pubcorpus-easy-ham-1",
        "sa-pubcorpus-easy-ham-2",
    ] {
        let path = shared_fixtures().join("mail").join(dir);
        for entry in std::fs::read_dir(&path).unwrap() {
            let file = entry.unwrap().path();
            let raw = std::fs::read(&file).unwrap();
            let head =
                String::from_utf8_lossy(&raw[..raw.len().min(64 * 1024)]).to_ascii_lowercase();
            let is_dsn = head.contains("multipart/report") && head.contains("delivery-status");
            let Ok(mail) = embargo::parse::parse(raw, LIMIT, None) else {
                continue;
            };
            let decided = intake::decide(
                &mail,
                &IntakeContext::default(),
                &policy,
                "2026-12-01T09:00:00Z".parse().unwrap(),
            )
            .unwrap();
            if mail.bounce.as_ref().is_some_and(|b| b.report.is_some()) {
                reports += 1;
                assert!(
                    matches!(decided, Decision::Bounce { .. }),
                    "{}: {decided:?}",
                    file.display()
                );
            } else {
                // Only a report inside another mail (a forwarded bounce) is not one.
                assert!(
                    !is_dsn || !matches!(decided, Decision::Bounce { .. }),
                    "{}",
                    file.display()
                );
            }
        }
    }
    assert!(reports >= 10, "only {reports} delivery reports were read");
}

fn incidents(site: &Site) -> usize {
    site.json(&["incidents"]).as_array().unwrap().len()
}

/// The one incident the site holds (its id carries the year the binary
/// read from the clock, not the year the test was written).
fn the_incident(site: &Site) -> String {
    let all = site.json(&["incidents"]);
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0]["id"].as_str().unwrap().to_owned()
}

fn outbox_row(site: &Site, id: &str, kind: &str) -> Value {
    let show = site.json(&["show", id]);
    show["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {show}"))
        .clone()
}

/// A delivery status report as Postfix writes one, delivered to
/// `delivered_to`, about `original` to `recipient`.
fn dsn(delivered_to: &str, original: &str, recipient: &str, action: &str, id: &str) -> Vec<u8> {
    let status = if action == "failed" { "5.1.1" } else { "4.4.1" };
    format!(
        "Return-Path: <>\r\nDelivered-To: {delivered_to}\r\n\
         From: MAILER-DAEMON@mx.researcher.example (Mail Delivery System)\r\n\
         To: {delivered_to}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Date: Tue, 01 Dec 2026 10:05:00 +0000\r\nMessage-ID: <{id}>\r\n\
         Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\nbe delivered.\r\n\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.researcher.example\r\nX-Postfix-Queue-ID: 4F00\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n\
         Action: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         From: Example Security <security@example.org>\r\nTo: {recipient}\r\nMessage-ID: <{original}>\r\nSubject: [EMB-2026-0001] received\r\n\r\n\
         --B--\r\n"
    )
    .into_bytes()
}

#[test]
fn a_bounced_acknowledgement_is_marked_and_told_to_the_src_and_opens_nothing() {
    let site = Site::new();
    site.deliver(&mail(
        "Jane <jane@researcher.example>",
        "Heap overflow",
        "r1@researcher.example",
        "",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(incidents(&site), 1);
    let sent = site.outbox();
    let ack = sent
        .iter()
        .find(|m| m.to == ["jane@researcher.example"])
        .expect("an acknowledgement");
    // Every mail goes with its own return path, never an empty one.
    assert!(
        sent.iter()
            .all(|m| m.envelope_from.starts_with("security+bounce-")
                && m.envelope_from.ends_with("@example.org")),
        "{:?}",
        sent.iter().map(|m| &m.envelope_from).collect::<Vec<_>>()
    );
    let mut paths: Vec<&String> = sent.iter().map(|m| &m.envelope_from).collect();
    paths.dedup();
    assert_eq!(paths.len(), sent.len(), "one return path per mail");
    let token = bounce::token_of(&ack.envelope_from).expect("a token");
    assert_eq!(token.len(), 24);
    let ack_id = ack.message_id.trim_matches(['<', '>']).to_owned();
    let before = sent.len();

    // Forged: a token nobody was given; the real Message-ID (which follows
    // from things an outsider may know) with the right recipient, or with
    // someone else's, but not at the mail's return path. None changes
    // anything.
    let forged = [
        dsn(
            "security+bounce-ffffffffffffffffffffffff@example.org",
            &ack_id,
            "jane@researcher.example",
            "failed",
            "f1@mx.researcher.example",
        ),
        dsn(
            "security@example.org",
            &ack_id,
            "jane@researcher.example",
            "failed",
            "f2@mx.researcher.example",
        ),
        dsn(
            "security@example.org",
            &ack_id,
            "mallory@evil.example",
            "failed",
            "f3@mx.researcher.example",
        ),
    ];
    for f in &forged {
        site.deliver(f);
    }
    // A delay report at the real return path: recorded, not a bounce.
    site.deliver(&dsn(
        &ack.envelope_from,
        &ack_id,
        "jane@researcher.example",
        "delayed",
        "d1@mx.researcher.example",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(incidents(&site), 1, "a bounce opens no incident");
    assert_eq!(site.outbox().len(), before, "nobody is written to");
    let row = outbox_row(&site, &the_incident(&site), "acknowledgement");
    assert_eq!(row["state"], "sent", "{row}");
    let kept = site.json(&["quarantine"]);
    let reasons: Vec<&str> = kept
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["quarantine_reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 4, "each kept, none lost: {reasons:?}");
    for want in [
        "return path security+bounce-ffffffffffffffffffffffff@example.org of no mail",
        "did not come to that mail's return path",
        "not a failure",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "{want:?} not in {reasons:?}"
        );
    }

    // The real bounce, at the return path.
    site.deliver(&dsn(
        &ack.envelope_from,
        &ack_id,
        "jane@researcher.example",
        "failed",
        "b1@mx.researcher.example",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(incidents(&site), 1, "a bounce opens no incident");
    let row = outbox_row(&site, &the_incident(&site), "acknowledgement");
    assert_eq!(row["state"], "bounced", "{row}");
    let words = row["last_error"].as_str().unwrap();
    assert!(
        words.contains("550 5.1.1") && words.contains("User unknown"),
        "{words}"
    );
    let after = site.outbox();
    let new: Vec<_> = after
        .iter()
        .filter(|m| !sent.iter().any(|s| s.message_id == m.message_id))
        .collect();
    assert_eq!(new.len(), 1, "only the SRC is told");
    assert_eq!(new[0].envelope_to, ["src@example.org"]);
    assert!(
        new[0]
            .subject
            .contains(&format!("[{}]", the_incident(&site))),
        "{}",
        new[0].subject
    );
    assert!(
        new[0].raw.windows(6).any(|w| w == b"5.1.1 "),
        "the server's words reach the SRC"
    );
    let show = site.json(&["show", &the_incident(&site)]);
    assert!(
        show["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "delivery-failed"
                && e["detail"]
                    .as_str()
                    .unwrap()
                    .contains("acknowledgement to jane@researcher.example bounced")),
        "{show}"
    );

    // The same bounce again is a duplicate; a second one for the same
    // mail adds its words, and the SRC is not told twice.
    site.deliver(&dsn(
        &ack.envelope_from,
        &ack_id,
        "jane@researcher.example",
        "failed",
        "b2@mx.researcher.example",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(site.outbox().len(), after.len());
    assert_eq!(incidents(&site), 1);
}

#[test]
fn without_return_paths_a_bounce_is_matched_by_message_id_and_recipient() {
    let site = Site::with_config(&format!("{BASE_CONFIG}\n[outbox]\nverp = false\n"));
    let out = site.ok(&["check-config"]);
    assert!(out.contains("outbox.verp = false"), "{out}");
    site.deliver(&mail(
        "Jane <jane@researcher.example>",
        "Heap overflow",
        "r1@researcher.example",
        "",
    ));
    site.ok(&["run", "--once"]);
    let sent = site.outbox();
    assert!(
        sent.iter()
            .all(|m| m.envelope_from == "security@example.org")
    );
    let ack = sent
        .iter()
        .find(|m| m.to == ["jane@researcher.example"])
        .unwrap();
    let ack_id = ack.message_id.trim_matches(['<', '>']).to_owned();
    site.deliver(&dsn(
        "security@example.org",
        &ack_id,
        "mallory@evil.example",
        "failed",
        "f3@mx.researcher.example",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(
        outbox_row(&site, &the_incident(&site), "acknowledgement")["state"],
        "sent"
    );
    let kept = site.json(&["quarantine"]);
    assert!(
        kept[0]["quarantine_reason"]
            .as_str()
            .unwrap()
            .contains("none of that mail's recipients"),
        "{kept}"
    );
    site.deliver(&dsn(
        "security@example.org",
        &ack_id,
        "Jane@Researcher.example",
        "failed",
        "b1@mx.researcher.example",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(incidents(&site), 1);
    assert_eq!(
        outbox_row(&site, &the_incident(&site), "acknowledgement")["state"],
        "bounced"
    );
}

/// The SRC list is "members only" and refuses posts from the return path:
/// the SRC copy of a new report bounces there. The list is not told (it
/// would refuse that too): the incident's commander is, at their own
/// address, with the server's words and what to check; the relay that
/// bounces next on the incident tells nobody again, and a bounce of that
/// notice itself tells nobody at all.
#[test]
fn a_report_the_src_list_refuses_reaches_the_commander_not_the_list() {
    let site = Site::new();
    site.deliver(&mail(
        "Jane <jane@researcher.example>",
        "Heap overflow",
        "r1@researcher.example",
        "",
    ));
    site.ok(&["run", "--once"]);
    let show = site.json(&["show", &the_incident(&site)]);
    let commander = show["commander"].as_str().expect("a commander").to_owned();
    site.deliver(&mail(
        "Jane <jane@researcher.example>",
        "Re: Heap overflow",
        "r2@researcher.example",
        "In-Reply-To: <r1@researcher.example>\r\n",
    ));
    site.ok(&["run", "--once"]);
    let sent = site.outbox();
    let mut to_list: Vec<_> = sent
        .iter()
        .filter(|m| m.envelope_to == ["src@example.org"])
        .collect();
    assert_eq!(to_list.len(), 2, "the SRC copy and the relay");
    // The SRC copy first.
    to_list.sort_by_key(|m| !m.subject.contains("New report"));
    assert!(to_list[0].subject.contains("New report"), "{to_list:?}");
    let refused = |m: &common::Sent, id: &str| {
        let raw = dsn(
            &m.envelope_from,
            m.message_id.trim_matches(['<', '>']),
            "src@example.org",
            "failed",
            id,
        );
        String::from_utf8(raw)
            .unwrap()
            .replace(
                "Recipient address rejected: User unknown",
                "Only members of this group may post",
            )
            .into_bytes()
    };

    site.deliver(&refused(to_list[0], "b1@mx.example.org"));
    site.ok(&["run", "--once"]);
    assert_eq!(incidents(&site), 1, "a bounce opens no incident");
    let after = site.outbox();
    let new: Vec<_> = after
        .iter()
        .filter(|m| !sent.iter().any(|s| s.message_id == m.message_id))
        .collect();
    assert_eq!(new.len(), 1, "one notice: {new:?}");
    let notice = new[0];
    assert_eq!(notice.envelope_to, [commander.as_str()], "not the list");
    assert!(
        notice
            .subject
            .contains(&format!("[{}]", the_incident(&site))),
        "{}",
        notice.subject
    );
    for want in [
        "src-copy",
        "Only members of this group may post",
        "src@example.org",
        "security+bounce-",
        "security@example.org",
        "[outbox] verp",
    ] {
        assert!(
            notice.text.contains(want),
            "{want:?} not in {}",
            notice.text
        );
    }
    let show = site.json(&["show", &the_incident(&site)]);
    let rows = show["outbox"].as_array().unwrap();
    assert!(
        rows.iter().any(|m| m["message_id"]
            .as_str()
            .is_some_and(|id| to_list[0].message_id.contains(id))
            && m["state"] == "bounced"),
        "{show}"
    );

    // The relay bounces at the list too: marked, nobody told again.
    site.deliver(&refused(to_list[1], "b2@mx.example.org"));
    site.ok(&["run", "--once"]);
    assert_eq!(site.outbox().len(), after.len(), "told once per incident");
    let show = site.json(&["show", &the_incident(&site)]);
    let bounced = show["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["recipients"][0] == "src@example.org" && m["state"] == "bounced")
        .count();
    assert_eq!(bounced, 2, "{show}");

    // The commander's mailbox bounces the notice: nobody hears (no loop).
    site.deliver(&dsn(
        &notice.envelope_from,
        notice.message_id.trim_matches(['<', '>']),
        &commander,
        "failed",
        "b3@mx.example.org",
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(
        site.outbox().len(),
        after.len(),
        "a notice's bounce is told to nobody"
    );
    assert_eq!(
        outbox_row(&site, &the_incident(&site), "delivery-failure")["state"],
        "bounced"
    );
}

/// A mistyped `/team add`: every relay to that Fix Team member bounces.
/// The SRC list hears once, naming the address and how to fix it; the next
/// relay's bounce to the same address tells nobody again.
#[test]
fn a_mistyped_fix_team_address_is_told_to_the_src_once() {
    let t = common::team::team();
    let site = &t.site;
    let id = common::team::report(site, "r1@example.net", "Overflow in frob()");
    site.deliver(&common::gpg::pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &common::team::reply("Alice <alice@example.org>", &id, "r1@example.net", "c1"),
        &format!("/accept {id}\r\n/team add dev@vendr.example {id}\r\n"),
    ));
    site.ok(&["run", "--once"]);
    let rec = site.json(&["show", &id]);
    assert_eq!(
        rec["team"],
        serde_json::json!(["dev@vendr.example"]),
        "{rec:#}"
    );
    let before = site.outbox();
    for n in ["r2", "r3"] {
        site.deliver(&mail(
            "Reporter <r@example.net>",
            &format!("Re: [{id}] report"),
            &format!("{n}@example.net"),
            "In-Reply-To: <r1@example.net>\r\n",
        ));
    }
    site.ok(&["run", "--once"]);
    let sent = site.outbox();
    let to_dev: Vec<_> = sent
        .iter()
        .filter(|m| m.envelope_to == ["dev@vendr.example"])
        .collect();
    assert_eq!(to_dev.len(), 2, "two relays to the Fix Team member");
    assert!(
        sent.iter().any(|m| m.envelope_to == ["src@example.org"]
            && !before.iter().any(|b| b.message_id == m.message_id)),
        "the list gets the relays too"
    );
    let bounce_of = |m: &common::Sent, n: &str| {
        dsn(
            &m.envelope_from,
            m.message_id.trim_matches(['<', '>']),
            "dev@vendr.example",
            "failed",
            n,
        )
    };
    site.deliver(&bounce_of(to_dev[0], "b1@mx.vendr.example"));
    site.ok(&["run", "--once"]);
    let after = site.outbox();
    let new: Vec<_> = after
        .iter()
        .filter(|m| !sent.iter().any(|s| s.message_id == m.message_id))
        .collect();
    assert_eq!(new.len(), 1, "one notice: {new:?}");
    assert_eq!(new[0].envelope_to, ["src@example.org"]);
    for want in [
        "dev@vendr.example is not receiving the mail of",
        "/team remove dev@vendr.example",
        "/team add",
        "User unknown",
    ] {
        assert!(
            new[0].text.contains(want),
            "{want:?} not in {}",
            new[0].text
        );
    }
    site.deliver(&bounce_of(to_dev[1], "b2@mx.vendr.example"));
    site.ok(&["run", "--once"]);
    assert_eq!(site.outbox().len(), after.len(), "told once per address");
    let show = site.json(&["show", &id]);
    let bounced = show["outbox"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["recipients"][0] == "dev@vendr.example" && m["state"] == "bounced")
        .count();
    assert_eq!(bounced, 2, "{show}");
}
