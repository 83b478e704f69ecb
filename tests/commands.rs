//! Signed commands through `embargo run --once`: a report driven to
//! disclosure-planned by GnuPG-signed replies, and every way a command
//! without authority must change nothing.

mod common;

use common::gpg::{pgp_mime_signed, pgp_mime_signed_part};
use common::team::*;
use common::*;
use embargo::core::event::Event;
use embargo::core::incident::Incident;
use serde_json::Value;

/// What a command can change: everything but the activity clocks.
fn lifecycle(site: &Site, id: &str) -> Value {
    let mut rec = site.json(&["show", id]);
    let obj = rec.as_object_mut().unwrap();
    for k in [
        "messages",
        "events",
        "outbox",
        "updated_at",
        "active_at",
        "first_response_at",
    ] {
        obj.remove(k);
    }
    rec
}

fn events(site: &Site, id: &str) -> Vec<(String, String)> {
    site.json(&["show", id])["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Replies the service wrote for a command mail, by its Message-ID.
fn answer_to(site: &Site, message_id: &str) -> Sent {
    site.outbox()
        .into_iter()
        .find(|m| m.in_reply_to.as_deref() == Some(message_id))
        .unwrap_or_else(|| panic!("no reply to {message_id}"))
}

#[test]
fn signed_commands_drive_a_report_to_disclosure_planned() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let date = in_days(30);
    let commands = format!(
        "Thanks, accepted.\r\n\r\n/accept {id}\r\n/cvss CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H {id}\r\n\
         /cve CVE-2026-4242 {id}\r\n/team add dev@example.org {id}\r\n/disclose {date} {id}\r\n\r\n\
         On Tue, Reporter wrote:\r\n> /reject spam {id}\r\n\r\n-- \r\nAlice\r\n/close {id}\r\n"
    );
    site.deliver(&pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &reply("Alice <alice@example.org>", &id, "r1@example.net", "c1"),
        &commands,
    ));
    site.ok(&["run", "--once"]);

    let rec = site.json(&["show", &id]);
    assert_eq!(rec["state"], "disclosure-planned", "{rec:#}");
    assert_eq!(
        rec["lead"], "alice@example.org",
        "round-robin starts at the first member"
    );
    assert_eq!(rec["commander"], "alice@example.org");
    assert_eq!(rec["team"], serde_json::json!(["dev@example.org"]));
    assert_eq!(rec["severity"]["rating"], "critical");
    assert_eq!(rec["severity"]["score"], 9.8);
    assert_eq!(rec["cves"], serde_json::json!(["CVE-2026-4242"]));
    assert_eq!(rec["disclosure"], format!("{date}T16:00:00Z"));
    let kinds: Vec<String> = events(site, &id).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        [
            "reported",
            "src-copy-queued",
            "acknowledgement-queued",
            "message-added",
            "command",
            // "Thanks, accepted." is more than commands: the insiders read it.
            "relay-queued",
            "notice-queued"
        ]
    );
    // Planned: the draft of the announcement went to the Fix Lead and the SRC.
    let draft = site
        .outbox()
        .into_iter()
        .find(|m| m.subject.contains("DRAFT announcement"))
        .expect("a draft of the announcement");
    assert_eq!(draft.envelope_to, ["alice@example.org", "src@example.org"]);
    assert!(
        draft.text.contains(&format!("/approve announcement {id}")),
        "{}",
        draft.text
    );
    let answer = answer_to(site, "c1@mail.example");
    assert_eq!(answer.envelope_to, ["alice@example.org", "src@example.org"]);
    assert!(answer.subject.contains("Applied"), "{}", answer.subject);
    assert!(
        answer.text.contains("accepted: reported → triaged")
            && answer.text.contains("disclosure-planned"),
        "{}",
        answer.text
    );
    assert!(
        !answer.text.contains("spam"),
        "quoted and signature lines are not commands"
    );

    // Replaying the event log gives the stored incident.
    let stored: Incident = serde_json::from_value(rec.clone()).unwrap();
    let log: Vec<Event> = serde_json::from_value(rec["events"].clone()).unwrap();
    let replayed = Incident::replay(log.iter().map(|e| (e.changes.as_slice(), e.at))).unwrap();
    assert_eq!(replayed, stored);
}

#[test]
fn commands_without_authority_change_nothing() {
    let t = team();
    let site = &t.site;
    let one = report(site, "r1@example.net", "First");
    let two = report(site, "r2@example.net", "Second");
    let before = (lifecycle(site, &one), lifecycle(site, &two));
    let alice_from = "Alice <alice@example.org>";

    // Each of these would put the incident on hold if it counted.
    let hold_one = format!("/hold {one}\r\n");
    let cross = format!("names {one}, not {two}");
    let mut cases: Vec<(&str, Vec<u8>, &str, Vec<&str>)> = vec![
        (
            "unsigned, with an SRC member's From:",
            format!(
                "{}Content-Type: text/plain\r\n\r\n{hold_one}",
                reply(alice_from, &one, "r1@example.net", "u1")
            )
            .into_bytes(),
            "not signed",
            vec!["src@example.org"],
        ),
        (
            "signed by a stranger, with a forged From:",
            pgp_mime_signed(
                &t.gpg,
                &t.mallory,
                &reply(alice_from, &one, "r1@example.net", "u2"),
                &hold_one,
            ),
            "not in the roster",
            vec!["src@example.org"],
        ),
        (
            "signed, but naming no incident",
            pgp_mime_signed(
                &t.gpg,
                &t.alice,
                &reply(alice_from, &one, "r1@example.net", "u3"),
                "/hold\r\n",
            ),
            "does not name",
            vec!["alice@example.org"],
        ),
        (
            "signed for the first incident, replayed into the second's thread",
            pgp_mime_signed(
                &t.gpg,
                &t.alice,
                &reply(alice_from, &two, "r2@example.net", "u4"),
                &hold_one,
            ),
            &cross,
            vec!["alice@example.org"],
        ),
        (
            "a command the signer's roles do not allow",
            pgp_mime_signed(
                &t.gpg,
                &t.bob,
                &reply("Bob <bob@example.net>", &one, "r1@example.net", "u5"),
                &format!("/disclose {} {one}\r\n", in_days(30)),
            ),
            "may be given by the incident commander or Fix Lead",
            vec!["bob@example.net"],
        ),
        (
            "all or nothing: a good command before a bad one",
            pgp_mime_signed(
                &t.gpg,
                &t.alice,
                &reply(alice_from, &one, "r1@example.net", "u6"),
                &format!("/hold {one}\r\n/severity urgent {one}\r\n"),
            ),
            "is not correct",
            vec!["alice@example.org"],
        ),
    ];
    // The same signed mail twice: applied once, refused the second time.
    let good = pgp_mime_signed(
        &t.gpg,
        &t.bob,
        &reply("Bob <bob@example.net>", &one, "r1@example.net", "g1"),
        &format!("/cve CVE-2026-0001 {one}\r\n"),
    );
    site.deliver(&good);
    site.ok(&["run", "--once"]);
    assert_eq!(
        site.json(&["show", &one])["cves"],
        serde_json::json!(["CVE-2026-0001"])
    );
    let before = (lifecycle(site, &one), before.1);
    let again = String::from_utf8(good.clone())
        .unwrap()
        .replace("g1@mail.example", "g2@mail.example")
        .into_bytes();
    cases.push((
        "the same signed mail sent again",
        again,
        "seen before",
        vec!["bob@example.net"],
    ));

    for (what, m, _, _) in &cases {
        let _ = what;
        site.deliver(m);
    }
    site.ok(&["run", "--once"]);
    assert_eq!(
        lifecycle(site, &one),
        before.0,
        "the first incident changed"
    );
    assert_eq!(
        lifecycle(site, &two),
        before.1,
        "the second incident changed"
    );
    for (n, (what, _, why, to)) in cases.iter().enumerate() {
        let message_id = match n {
            6 => "g2@mail.example".to_owned(),
            _ => format!("u{}@mail.example", n + 1),
        };
        let answer = answer_to(site, &message_id);
        assert!(answer.text.contains(why), "{what}: {}", answer.text);
        assert!(answer.subject.contains("Not applied"), "{what}");
        assert_eq!(
            answer.envelope_to, *to,
            "{what}: the refusal goes to the signer, or only to the SRC"
        );
    }
    let refusals = events(site, &one)
        .into_iter()
        .filter(|(k, _)| k == "command-refused")
        .count()
        + events(site, &two)
            .into_iter()
            .filter(|(k, _)| k == "command-refused")
            .count();
    assert_eq!(refusals, cases.len());

    // The control: a /hold, signed and named, does apply. (Signed anew:
    // the same text signed by the same key in the same second is the same
    // signature, already spent above.)
    site.deliver(&pgp_mime_signed(
        &t.gpg,
        &t.alice,
        &reply(alice_from, &one, "r1@example.net", "ok"),
        &format!("Holding it.\r\n{hold_one}"),
    ));
    site.ok(&["run", "--once"]);
    assert_eq!(site.json(&["show", &one])["on_hold"], true);
}

#[test]
fn a_signed_protected_subject_names_the_incident() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Report");
    let h = reply("Alice <alice@example.org>", &id, "r1@example.net", "p1");
    let part_headers = format!("Subject: Re: [{id}] report\r\n");
    site.deliver(&pgp_mime_signed_part(
        &t.gpg,
        &t.alice,
        &h,
        &part_headers,
        "/accept\r\n/severity high\r\n",
    ));
    site.ok(&["run", "--once"]);
    let rec = site.json(&["show", &id]);
    assert_eq!(rec["state"], "triaged", "{:#}", rec["events"]);
    assert_eq!(rec["severity"]["rating"], "high");
}

#[test]
fn the_lead_rotation_continues_across_runs() {
    let t = team();
    let site = &t.site;
    let mut leads = Vec::new();
    for n in 1..=3 {
        let id = report(site, &format!("r{n}@example.net"), &format!("Report {n}"));
        let h = reply(
            "Alice <alice@example.org>",
            &id,
            &format!("r{n}@example.net"),
            &format!("a{n}"),
        );
        site.deliver(&pgp_mime_signed(
            &t.gpg,
            &t.alice,
            &h,
            &format!("/accept {id}\r\n"),
        ));
        site.ok(&["run", "--once"]);
        leads.push(
            site.json(&["show", &id])["lead"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        leads,
        ["alice@example.org", "bob@example.net", "alice@example.org"]
    );
}

/// Alice signs `text` as a reply on `id` (opened by mail `report`); the
/// reply the service wrote to it.
fn alice_says(t: &Team, id: &str, report: &str, n: &str, text: &str) -> Sent {
    let h = reply("Alice <alice@example.org>", id, report, n);
    t.site.deliver(&pgp_mime_signed(&t.gpg, &t.alice, &h, text));
    t.site.ok(&["run", "--once"]);
    answer_to(&t.site, &format!("{n}@mail.example"))
}

#[test]
fn accept_then_lead_me_passes_whoever_the_rotation_picked() {
    let t = team();
    let site = &t.site;
    // The rotation picks Alice for the first report, Bob for the second.
    for (n, picked) in [(1, "alice@example.org"), (2, "bob@example.net")] {
        let id = report(site, &format!("r{n}@example.net"), &format!("Report {n}"));
        let answer = alice_says(
            &t,
            &id,
            &format!("r{n}@example.net"),
            &format!("lead{n}"),
            &format!("/accept {id}\r\n/lead me {id}\r\n"),
        );
        assert!(
            answer.subject.contains("Applied:"),
            "{}: {}",
            answer.subject,
            answer.text
        );
        let rec = site.json(&["show", &id]);
        assert_eq!(rec["state"], "triaged");
        assert_eq!(rec["lead"], "alice@example.org", "picked {picked}");
        if picked == "alice@example.org" {
            assert!(
                answer
                    .text
                    .contains("no change, alice@example.org is already the Fix Lead"),
                "{}",
                answer.text
            );
        }
    }
}

#[test]
fn a_wrapped_set_applies_in_full_or_is_refused_never_cut() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    alice_says(
        &t,
        &id,
        "r1@example.net",
        "w0",
        &format!("/accept {id}\r\n"),
    );

    // Wrapped by an editor at 72 columns; the id ends the value.
    let answer = alice_says(
        &t,
        &id,
        "r1@example.net",
        "w1",
        &format!(
            "/set mitigation Upgrade to 3.2.2, or turn off the YAML loader in\r\n\
             config.yml until you can upgrade {id}\r\n\r\nAlice\r\n"
        ),
    );
    let full = "Upgrade to 3.2.2, or turn off the YAML loader in config.yml until you can upgrade";
    assert_eq!(site.json(&["show", &id])["fields"]["mitigation"], full);
    assert!(
        answer.text.contains(full),
        "the reply quotes it whole:\n{}",
        answer.text
    );

    // Wrapped without the id at its end: it could be two paragraphs.
    let before = lifecycle(site, &id);
    let answer = alice_says(
        &t,
        &id,
        "r1@example.net",
        "w2",
        &format!(
            "/severity high {id}\r\n/set impact Remote code execution as the user that\r\n\
             runs the frob daemon\r\n"
        ),
    );
    assert!(answer.subject.contains("Not applied"), "{}", answer.subject);
    assert!(
        answer
            .text
            .contains("end its last line with the incident id"),
        "{}",
        answer.text
    );
    assert_eq!(lifecycle(site, &id), before, "nothing changed");
}

#[test]
fn approving_an_empty_advance_notice_is_refused_with_what_is_missing() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let date = in_days(30);
    alice_says(
        &t,
        &id,
        "r1@example.net",
        "e0",
        &format!("/accept {id}\r\n/cve CVE-2026-5151 {id}\r\n/disclose {date} {id}\r\n"),
    );
    let before = lifecycle(site, &id);
    let answer = alice_says(
        &t,
        &id,
        "r1@example.net",
        "e1",
        &format!("/set patch-embargoed yes {id}\r\n/approve distributors {id}\r\n"),
    );
    assert!(answer.subject.contains("Not applied"), "{}", answer.subject);
    for named in [
        "a summary",
        "the affected versions",
        "the fixed versions",
        "the impact",
        "where the releases are",
        "the patches",
        "as-is",
    ] {
        assert!(answer.text.contains(named), "{named}:\n{}", answer.text);
    }
    assert_eq!(lifecycle(site, &id), before, "nothing changed");
    let to_distributors = site
        .outbox()
        .into_iter()
        .filter(|m| m.subject.starts_with("[EMBARGOED]"))
        .count();
    assert_eq!(to_distributors, 0, "no advance notice went out");

    // Said explicitly, it goes as it is, and the reply says without what.
    let answer = alice_says(
        &t,
        &id,
        "r1@example.net",
        "e2",
        &format!("/approve distributors as-is {id}\r\n"),
    );
    assert!(answer.subject.contains("Applied"), "{}", answer.text);
    assert!(
        answer.text.contains("as it is: without a summary"),
        "{}",
        answer.text
    );
}

/// `embargo command` as a member runs it, with their GnuPG.
fn member_command(t: &Team, args: &[&str]) -> Vec<u8> {
    let config = t.site.config();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_embargo"))
        .args(["--config", config.to_str().unwrap(), "command"])
        .args(args)
        .env("GNUPGHOME", t.gpg.home())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "embargo command {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn a_command_mail_made_by_embargo_command_carries_the_patch_to_the_distributors() {
    let t = team_with("[[distributors]]\nname = \"Distro\"\nemail = \"sec@distro.example\"\n");
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let date = in_days(30);
    alice_says(
        &t,
        &id,
        "r1@example.net",
        "p0",
        &format!(
            "/accept {id}\r\n/cve CVE-2026-6161 {id}\r\n/disclose {date} {id}\r\n\
             /set summary Heap overflow in frob {id}\r\n/set affected 1.0 to 1.4 {id}\r\n\
             /set fixed 1.5 {id}\r\n/set impact remote code execution {id}\r\n\
             /set releases https://example.org/releases {id}\r\n"
        ),
    );
    let patch = site.path("fix-1.5.patch");
    std::fs::write(
        &patch,
        "--- a/frob.c\n+++ b/frob.c\n@@ -1 +1 @@\n-bad\n+good\n",
    )
    .unwrap();

    // Signed by Alice's own GnuPG key; the list key is not asked for.
    let mail = member_command(
        &t,
        &[
            &id,
            "/approve distributors",
            "--attach",
            patch.to_str().unwrap(),
            "--sign-with",
            &t.alice,
        ],
    );
    let text = String::from_utf8_lossy(&mail);
    assert!(text.contains("multipart/signed"), "{text}");
    assert!(
        text.contains("From: alice@example.org"),
        "the roster's address: {text}"
    );
    site.deliver(&mail);
    site.ok(&["run", "--once"]);

    let rec = site.json(&["show", &id]);
    assert_eq!(rec["state"], "distributors-notified", "{:#}", rec["events"]);
    let notice = site
        .outbox()
        .into_iter()
        .find(|m| m.envelope_to == ["sec@distro.example"])
        .expect("the advance notice");
    let parsed = mail_parser::MessageParser::default()
        .parse(&notice.raw)
        .unwrap();
    let names: Vec<String> = parsed
        .attachments()
        .filter_map(|a| mail_parser::MimeHeaders::attachment_name(a).map(str::to_owned))
        .collect();
    assert!(
        names.contains(&"CVE-2026-6161_v1.5.patch".to_owned()),
        "{names:?}"
    );
    // Canonical throughout, though the patch has LF line endings: a relay
    // that rewrites bare LFs, or a client that canonicalizes before it
    // verifies, would otherwise break both signatures.
    for (what, raw) in [("the command mail", &mail), ("the notice", &notice.raw)] {
        let bare_lf = raw.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r');
        assert!(!bare_lf && !raw.starts_with(b"\n"), "{what} has a bare LF");
    }

    // Named by address, as GnuPG allows, the key's owner is the sender.
    let by_address = member_command(&t, &[&id, "/status", "--sign-with", "alice@example.org"]);
    let text = String::from_utf8_lossy(&by_address);
    assert!(
        text.contains("multipart/signed") && text.contains("From: alice@example.org"),
        "{text}"
    );

    // A word that is not a command would become an /approve's text.
    let out = site.embargo(&[
        "command",
        &id,
        "/approve announcement",
        "Thanks",
        "--sign-with",
        &t.alice,
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"Thanks\" is not a command"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A key file that is the list key itself is refused.
    let out = site.embargo(&[
        "command",
        &id,
        "/status",
        "--key-file",
        site.path("list-key.asc").to_str().unwrap(),
        "--from",
        "alice@example.org",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is the list's own key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_clearsigned_text_with_an_attachment_is_refused_and_the_signer_told_how() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    alice_says(
        &t,
        &id,
        "r1@example.net",
        "c0",
        &format!("/accept {id}\r\n"),
    );
    let before = lifecycle(site, &id);
    let signed = String::from_utf8(
        t.gpg
            .clearsign(&t.alice, format!("/severity high {id}\r\n").as_bytes()),
    )
    .unwrap();
    let h = reply("Alice <alice@example.org>", &id, "r1@example.net", "c1");
    site.deliver(
        format!(
            "{h}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"mx\"\r\n\r\n\
             --mx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n\
             --mx\r\nContent-Type: text/x-diff; name=\"fix.patch\"\r\n\
             Content-Disposition: attachment; filename=\"fix.patch\"\r\n\r\n+good\r\n--mx--\r\n",
            signed.replace("\r\n", "\n").replace('\n', "\r\n")
        )
        .as_bytes(),
    );
    site.ok(&["run", "--once"]);
    assert_eq!(lifecycle(site, &id), before, "nothing changed");
    let answer = answer_to(site, "c1@mail.example");
    assert_eq!(
        answer.envelope_to,
        ["alice@example.org"],
        "told to the signer"
    );
    assert!(
        answer.text.contains("embargo command") && answer.text.contains("PGP/MIME"),
        "{}",
        answer.text
    );
}

#[test]
fn a_draft_previewed_before_the_date_is_planned_says_so() {
    let t = team();
    let site = &t.site;
    let id = report(site, "r1@example.net", "Overflow in frob()");
    let answer = alice_says(
        &t,
        &id,
        "r1@example.net",
        "v0",
        &format!("/accept {id}\r\n"),
    );
    assert_eq!(
        answer.subject,
        format!("[{id}] Applied: Re: report"),
        "the tag once"
    );
    let out = site.embargo(&["preview", &id, "distributors"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let preview = String::from_utf8(out.stdout).unwrap();
    assert!(
        preview.contains("EMBARGO: no disclosure date is planned yet")
            && !preview.contains("do not disclose before"),
        "the draft must not name a date nobody planned: {preview}"
    );
    assert!(
        preview.contains("CVE          not assigned yet"),
        "the incident's id is not a CVE: {preview}"
    );
}

/// A report the MTA marked as spam is filed and nobody hears of it: no
/// acknowledgement, no SRC copy, and the normal listing leaves it out.
/// Forged or unsigned `/not-spam` changes nothing; Alice's signed one
/// restores it, and the SRC copy of the original report goes out then.
#[test]
fn spam_is_filed_quietly_until_a_member_signs_not_spam() {
    let t = team();
    let site = &t.site;
    site.deliver(&mail(
        "Prize Desk <winner@lottery.example>",
        "You have won",
        "s1@lottery.example",
        "X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=14.2 required=5.0\r\n",
    ));
    site.ok(&["run", "--once"]);
    let sent: Vec<(String, Vec<String>)> = site
        .outbox()
        .into_iter()
        .map(|m| (m.subject, m.envelope_to))
        .collect();
    assert!(sent.is_empty(), "nobody told or answered: {sent:?}");
    assert_eq!(site.json(&["incidents"]), serde_json::json!([]));
    let spam = site.json(&["incidents", "--spam"]);
    let listed = spam.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{spam:#}");
    assert_eq!(listed[0]["state"], "spam");
    assert_eq!(listed[0]["spam_marked_by"], "X-Spam-Flag: YES");
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let table = site.ok(&["incidents", "--spam"]);
    assert!(
        table.contains(&id)
            && table.contains("X-Spam-Flag: YES")
            && table.contains("winner@lottery.example")
            && table.contains("/not-spam"),
        "{table}"
    );
    assert!(
        site.ok(&["show", &id])
            .contains("spam         marked by X-Spam-Flag: YES")
    );
    let normal = site.ok(&["incidents"]);
    assert!(
        !normal.contains(&id) && normal.contains("1 filed as spam are not listed"),
        "{normal}"
    );

    // The sender writes again, marked as spam like their report: filed,
    // and held from the insiders while the report is spam.
    site.deliver(
        format!(
            "{}X-Spam-Flag: YES\r\nContent-Type: text/plain\r\n\r\nThe second vector is in the parser.\r\n",
            reply("Prize Desk <winner@lottery.example>", &id, "s1@lottery.example", "f1")
        )
        .as_bytes(),
    );
    // Unsigned, From Alice: filed, and nobody answered (no backscatter).
    site.deliver(
        format!(
            "{}Content-Type: text/plain\r\n\r\n/not-spam {id}\r\n",
            reply("Alice <alice@example.org>", &id, "s1@lottery.example", "n1")
        )
        .as_bytes(),
    );
    // Signed by a key not in the roster.
    site.deliver(&pgp_mime_signed(
        &t.gpg,
        &t.mallory,
        &reply("Alice <alice@example.org>", &id, "s1@lottery.example", "n2"),
        &format!("/not-spam {id}\r\n"),
    ));
    site.ok(&["run", "--once"]);
    assert!(site.outbox().is_empty(), "{:?}", site.outbox());
    assert_eq!(site.json(&["show", &id])["state"], "spam");

    let answer = alice_says(
        &t,
        &id,
        "s1@lottery.example",
        "n3",
        &format!("/not-spam {id}\r\n"),
    );
    assert!(answer.subject.contains("Applied"), "{}", answer.subject);
    assert!(answer.text.contains("spam → reported"), "{}", answer.text);
    let rec = site.json(&["show", &id]);
    assert_eq!(rec["state"], "reported");
    assert_eq!(
        rec["spam_marked_by"], "X-Spam-Flag: YES",
        "kept for the record"
    );
    let copy = site
        .outbox()
        .into_iter()
        .find(|m| m.message_id.contains(".src-copy."))
        .expect("the SRC copy of the report, once restored");
    assert_eq!(copy.envelope_to, ["src@example.org"]);
    assert!(copy.subject.contains(&id), "{}", copy.subject);
    assert!(
        copy.text.contains("Body of s1@lottery.example"),
        "{}",
        copy.text
    );
    assert!(
        !site.outbox().iter().any(|m| m
            .envelope_to
            .iter()
            .any(|to| to.contains("lottery.example"))),
        "never acknowledged: nobody authenticated the sender"
    );
    // The follow-up held while it was spam reaches the insiders now, once;
    // the forged and unsigned /not-spam mails of a stranger and of Alice
    // are relayed as the mails they are, saying how they were held.
    let relays: Vec<Sent> = site
        .outbox()
        .into_iter()
        .filter(|m| m.message_id.starts_with(&format!("{id}.relay.")))
        .collect();
    let held = relays
        .iter()
        .filter(|m| m.text.contains("The second vector is in the parser."))
        .collect::<Vec<_>>();
    assert_eq!(held.len(), 1, "{relays:#?}");
    assert_eq!(held[0].envelope_to, ["src@example.org"]);
    assert!(
        held[0]
            .text
            .contains("Filed by:    filed while the report was marked as spam"),
        "{}",
        held[0].text
    );
    let listed = site.json(&["incidents"]);
    assert_eq!(listed[0]["id"], id.as_str(), "back in the normal listing");
    assert_eq!(site.json(&["incidents", "--spam"]), serde_json::json!([]));

    // Said again: refused, saying why, and no second copy.
    let again = alice_says(
        &t,
        &id,
        "s1@lottery.example",
        "n4",
        &format!("Once more:\r\n/not-spam {id}\r\n"),
    );
    assert!(
        again.text.contains("is reported, not spam"),
        "{}",
        again.text
    );
    let copies = site
        .outbox()
        .iter()
        .filter(|m| m.message_id.contains(".src-copy."))
        .count();
    assert_eq!(copies, 1);
    // The outbox would swallow a second relay of the same mail (same key):
    // the record says whether one was decided twice.
    let held_again = site.json(&["show", &id])["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["kind"] == "relay-queued"
                && e["message_id"] == "f1@mail.example"
                && e["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("held while the report was spam"))
        })
        .count();
    assert_eq!(held_again, 1, "a held mail is relayed once");
}

/// A spammer who tags many mails onto their own report cannot make one
/// `/not-spam` sign and send a relay for each: the first twenty are
/// relayed, the rest are counted on the incident's record.
#[test]
fn not_spam_relays_at_most_twenty_held_mails_and_counts_the_rest() {
    let t = team();
    let site = &t.site;
    site.deliver(&mail(
        "Prize Desk <winner@lottery.example>",
        "You have won",
        "s1@lottery.example",
        "X-Spam-Flag: YES\r\n",
    ));
    site.ok(&["run", "--once"]);
    let spam = site.json(&["incidents", "--spam"]);
    let id = spam[0]["id"].as_str().unwrap().to_owned();
    for n in 1..=22 {
        site.deliver(
            format!(
                "{}X-Spam-Flag: YES\r\nContent-Type: text/plain\r\n\r\nClaim your prize, number {n}.\r\n",
                reply("Prize Desk <winner@lottery.example>", &id, "s1@lottery.example", &format!("f{n}"))
            )
            .as_bytes(),
        );
    }
    site.ok(&["run", "--once"]);
    assert!(site.outbox().is_empty(), "{:?}", site.outbox());
    alice_says(
        &t,
        &id,
        "s1@lottery.example",
        "n1",
        &format!("/not-spam {id}\r\n"),
    );
    let relayed: Vec<Sent> = site
        .outbox()
        .into_iter()
        .filter(|m| m.message_id.starts_with(&format!("{id}.relay.")))
        .collect();
    assert_eq!(
        relayed.len(),
        20,
        "{:#?}",
        relayed.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    for n in 1..=20 {
        assert!(
            relayed
                .iter()
                .any(|m| m.text.contains(&format!("Claim your prize, number {n}."))),
            "the first twenty, in order: {n}"
        );
    }
    let record = site.ok(&["show", &id]);
    assert!(record.contains("2 more mail(s) not relayed"), "{record}");
}

/// Spam, a follow-up and the `/not-spam` restoring it taken in by one pass
/// (one batch, one transaction): neither is stored yet when the command is
/// decided, and the SRC copy and the follow-up's relay still go out, once.
#[test]
fn not_spam_in_the_same_pass_as_the_spam_still_sends_the_src_copy() {
    let t = team();
    let site = &t.site;
    site.deliver(&mail(
        "Prize Desk <winner@lottery.example>",
        "You have won",
        "s1@lottery.example",
        "X-Spam-Flag: YES\r\n",
    ));
    let year = jiff::Timestamp::now()
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .year();
    let id = format!("EMB-{year}-0001");
    site.deliver(
        format!(
            "{}X-Spam-Flag: YES\r\nContent-Type: text/plain\r\n\r\nThe second vector is in the parser.\r\n",
            reply("Prize Desk <winner@lottery.example>", &id, "s1@lottery.example", "f1")
        )
        .as_bytes(),
    );
    let answer = alice_says(
        &t,
        &id,
        "s1@lottery.example",
        "b1",
        &format!("/not-spam {id}\r\n"),
    );
    assert!(answer.text.contains("spam → reported"), "{}", answer.text);
    let held: Vec<Sent> = site
        .outbox()
        .into_iter()
        .filter(|m| {
            m.message_id.starts_with(&format!("{id}.relay."))
                && m.text.contains("The second vector is in the parser.")
        })
        .collect();
    assert_eq!(
        held.len(),
        1,
        "the follow-up of the same pass, relayed once"
    );
    let copies: Vec<Sent> = site
        .outbox()
        .into_iter()
        .filter(|m| m.message_id.contains(".src-copy."))
        .collect();
    assert_eq!(copies.len(), 1);
    assert!(
        copies[0].text.contains("Body of s1@lottery.example"),
        "{}",
        copies[0].text
    );
}
