//! The embedded pipeline through the real binary: `demo`, `run --once`,
//! `serve`, and what they leave in the store, the Maildir and the outbox.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn ids(incidents: &Value) -> Vec<String> {
    incidents
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

fn event_kinds(record: &Value) -> Vec<String> {
    record["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Ids count from 0001 in each UTC year, in order: a run that crosses New
/// Year's midnight goes on from `PREFIX-NEXTYEAR-0001`.
fn assert_sequential_per_year(ids: &[String]) {
    let mut last: Option<(u32, u32)> = None;
    for id in ids {
        let mut parts = id.split('-').skip(1).map(|p| p.parse::<u32>().unwrap());
        let (year, n) = (parts.next().unwrap(), parts.next().unwrap());
        let expected = match last {
            Some((y, m)) if y == year => m + 1,
            Some((y, _)) => {
                assert_eq!(year, y + 1, "ids {ids:?}");
                1
            }
            None => 1,
        };
        assert_eq!(n, expected, "sequential ids: {ids:?}");
        last = Some((year, n));
    }
}

/// BASE_CONFIG's rotation, computed here rather than by the code under test.
fn oncall_alice_bob(at: jiff::Timestamp) -> &'static str {
    let day = at.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let days = (day - jiff::civil::date(2026, 1, 5)).get_days();
    if (days / 7) % 2 == 0 {
        "alice@example.org"
    } else {
        "bob@example.net"
    }
}

#[test]
fn demo_runs_the_whole_lifecycle_and_writes_only_signed_mail() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("demo");
    let out = run(&["demo", "--out", out_dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("13 filed on 4 incidents, 1 duplicate delivery, 1 kept in quarantine"),
        "{stdout}"
    );
    for id in [
        "EMB-2026-0001",
        "EMB-2026-0002",
        "EMB-2026-0003",
        "EMB-2026-0004",
    ] {
        assert!(stdout.contains(id), "{id} missing from:\n{stdout}");
    }
    assert!(stdout.contains("rate limit"), "{stdout}");
    assert!(stdout.contains("Precedence: list (RFC 3834)"), "{stdout}");

    // Signed commands drove the first incident from report to retrospective;
    // the forged one changed nothing.
    let cfg = out_dir.join("embargo.toml");
    let first = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "show",
        "EMB-2026-0001",
        "--json",
    ]);
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["state"], "retrospective");
    assert_eq!(first["lead"], "alice@example.org");
    assert_eq!(first["severity"]["rating"], "critical");
    assert_eq!(first["cves"], serde_json::json!(["CVE-2026-31337"]));
    assert_eq!(first["disclosure"], "2026-12-01T16:00:00Z");
    assert_eq!(first["announced_at"], "2026-12-01T16:00:00Z");
    let kinds: Vec<&str> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "command").count(), 4);
    assert_eq!(kinds.iter().filter(|k| **k == "command-refused").count(), 1);
    assert_eq!(
        kinds.iter().filter(|k| **k == "notice-queued").count(),
        5,
        "drafts, advance, warning, announcement, retrospective"
    );

    let sent = sent_mail(&out_dir.join("outbox"));
    let date = |m: &Sent| {
        mail_parser::MessageParser::default()
            .parse(&m.raw)
            .unwrap()
            .date()
            .unwrap()
            .to_rfc3339()
    };
    let of = |prefix: &str| -> Vec<&Sent> {
        sent.iter()
            .filter(|m| m.message_id.starts_with(prefix))
            .collect()
    };

    // Each notice at its time, to its people.
    let advance = of("EMB-2026-0001.advance.");
    assert_eq!(
        advance.len(),
        4,
        "two distributors, the SRC copy and the Fix Team's"
    );
    for m in &advance {
        assert_eq!(
            m.subject,
            "[EMBARGOED] CVE-2026-31337: Heap overflow in the YAML loader"
        );
        assert_eq!(date(m), "2026-11-10T11:30:00Z", "as soon as approved");
        let parsed = mail_parser::MessageParser::default().parse(&m.raw).unwrap();
        let names: Vec<&str> = parsed
            .attachments()
            .filter_map(|a| mail_parser::MimeHeaders::attachment_name(a))
            .collect();
        assert!(
            names.contains(&"CVE-2026-31337_v2.4.2.patch")
                && names.contains(&"CVE-2026-31337_v2.3.10.patch"),
            "{names:?}"
        );
        assert!(names.contains(&"disclosure.ics"), "{names:?}");
        // The distributors prepare with the CVE record draft and the AMBER CSAF.
        let docs = advisories(&m.raw);
        assert_eq!(
            docs.keys().map(String::as_str).collect::<Vec<_>>(),
            ["CVE-2026-31337.json", "emb-2026-0001.csaf.json"]
        );
        assert_eq!(
            docs["emb-2026-0001.csaf.json"]["document"]["distribution"]["tlp"]["label"],
            "AMBER"
        );
        assert!(
            m.text.contains("Tuesday 2026-12-01 16:00 UTC")
                && m.text.contains("(UTC+01:00, Europe/Berlin)"),
            "{}",
            m.text
        );
    }
    let mut to: Vec<&str> = advance.iter().map(|m| m.envelope_to[0].as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "security@distro-one.example",
            "security@distro-two.example",
            "src@example.org",
            "yaml-maintainer@example.org"
        ]
    );
    let warning = of("EMB-2026-0001.warning-");
    assert_eq!(warning.len(), 4);
    assert!(
        warning.iter().all(
            |m| date(m) == "2026-11-30T16:00:00Z" && m.text.contains("as it will be published")
        )
    );
    let announcement = of("EMB-2026-0001.announcement.");
    assert_eq!(
        announcement.len(),
        6,
        "two lists, two distributors, the SRC's and the Fix Team's copies"
    );
    assert!(
        announcement
            .iter()
            .all(|m| date(m) == "2026-12-01T16:00:00Z"),
        "on the slot"
    );
    // Each copy carries the three advisories, public and valid.
    for m in &announcement {
        let docs = advisories(&m.raw);
        assert_eq!(
            docs.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "CVE-2026-31337.json",
                "emb-2026-0001.csaf.json",
                "x_EMB-2026-0001.osv.json"
            ],
            "{:?}",
            m.envelope_to
        );
        let csaf = &docs["emb-2026-0001.csaf.json"]["document"];
        assert_eq!(csaf["distribution"]["tlp"]["label"], "WHITE");
        assert_eq!(csaf["tracking"]["status"], "final");
        assert_eq!(
            docs["CVE-2026-31337.json"]["containers"]["cna"]["problemTypes"][0]["descriptions"][0]
                ["cweId"],
            "CWE-787"
        );
    }
    let subject_for = |list: &str| {
        announcement
            .iter()
            .find(|m| m.envelope_to == [list])
            .unwrap()
            .subject
            .clone()
    };
    assert_eq!(
        subject_for("announce@lists.example.org"),
        "[Security Advisory] CVE-2026-31337: Heap overflow in the YAML loader"
    );
    assert_eq!(
        subject_for("oss-security@lists.example.net"),
        "[libexample] CVE-2026-31337: Heap overflow in the YAML loader"
    );
    let retro = of("EMB-2026-0001.retrospective.");
    assert_eq!(retro.len(), 1);
    assert_eq!(
        (date(retro[0]), retro[0].envelope_to.clone()),
        (
            "2026-12-02T16:00:00Z".to_owned(),
            vec!["alice@example.org".to_owned()]
        )
    );
    assert!(
        retro[0].text.contains("notice-queued") && retro[0].text.contains("command"),
        "the timeline is in it"
    );
    let drafts = of("EMB-2026-0001.draft.");
    assert_eq!(
        drafts.len(),
        6,
        "a draft of each notice to the Fix Lead and the SRC, and one to the Fix Team"
    );
    assert_eq!(
        drafts
            .iter()
            .filter(|m| m.envelope_to == ["yaml-maintainer@example.org"])
            .count(),
        3
    );

    // Jane's follow-up, once the incident has a Fix Lead and a Fix Team,
    // is relayed to each insider: "Jane via the list", in her thread, her
    // mail attached as it came.
    let relays: Vec<&Sent> = sent
        .iter()
        .filter(|m| m.in_reply_to.as_deref() == Some("9c04d7.jane@researcher.example"))
        .filter(|m| m.message_id.starts_with("EMB-2026-0001.relay."))
        .collect();
    let mut relayed_to: Vec<&str> = relays.iter().map(|m| m.envelope_to[0].as_str()).collect();
    relayed_to.sort();
    assert_eq!(
        relayed_to,
        [
            "alice@example.org",
            "src@example.org",
            "yaml-maintainer@example.org"
        ]
    );
    for m in &relays {
        assert_eq!(
            m.subject,
            "[EMB-2026-0001] Re: Heap overflow in the YAML loader"
        );
        let raw = String::from_utf8_lossy(&m.raw);
        assert!(
            raw.contains(
                "From: \"Jane Researcher via Example Project Security\" <security@example.org>"
            ) && raw.contains("Content-Type: message/rfc822")
                && m.text.contains("A second way in"),
            "{raw}"
        );
    }
    assert!(
        stdout.contains("Relayed to the incident's insiders")
            && stdout.contains("<9c04d7.jane@researcher.example>"),
        "{stdout}"
    );

    // The reporter gets their acknowledgement and Alice's answer (/reply),
    // and nothing else embargoed.
    let to_jane: Vec<&Sent> = sent
        .iter()
        .filter(|m| m.envelope_to.iter().any(|t| t == "jane@researcher.example"))
        .collect();
    let ids: Vec<&str> = to_jane.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(
        ids[0].starts_with("EMB-2026-0001.acknowledgement.")
            && ids[1].starts_with("EMB-2026-0001.reporter-answer."),
        "{ids:?}"
    );
    let answer = to_jane[1];
    assert_eq!(answer.envelope_to, ["jane@researcher.example"]);
    assert_eq!(answer.from, "security@example.org");
    assert_eq!(
        answer.subject,
        "[EMB-2026-0001] Re: Heap overflow in the YAML loader"
    );
    assert_eq!(
        answer.in_reply_to.as_deref(),
        Some("9c04d7.jane@researcher.example"),
        "her latest mail on the incident: her follow-up"
    );
    assert!(
        answer.text.contains("Thank you for the report.")
            && answer.text.contains("Please keep the details private"),
        "{}",
        answer.text
    );
    for insider in [
        "alice@",
        "Alice",
        "src@",
        "yaml-maintainer@",
        "Telling Jane",
    ] {
        assert!(
            !String::from_utf8_lossy(&answer.raw).contains(insider),
            "{insider} in the answer to the reporter:\n{}",
            String::from_utf8_lossy(&answer.raw)
        );
    }
    let copy = of("EMB-2026-0001.reporter-answer-copy.");
    assert_eq!(copy.len(), 1);
    assert_eq!(
        copy[0].envelope_to,
        ["src@example.org", "yaml-maintainer@example.org"],
        "the insiders but Alice, who wrote it"
    );
    assert!(copy[0].text.contains("Thank you for the report."));

    // Every mail is signed with the demo's list key, and GnuPG agrees.
    let gpg = common::gpg::Gpg::new();
    gpg.import(&std::fs::read(out_dir.join("list-key.pub.asc")).unwrap());
    for m in &sent {
        let (signed, signature) = common::gpg::signed_parts(&m.raw);
        let r = gpg.verify_detached(&signature, &signed);
        assert!(r.ok, "{}: {}", m.file.display(), r.status);
        assert!(
            stdout.contains(&m.file.display().to_string()),
            "{} not listed",
            m.file.display()
        );
    }

    // `show` works on the demo's own config.
    let show = run(&["--config", cfg.to_str().unwrap(), "show", "EMB-2026-0001"]);
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(
        show.contains("Heap overflow in the YAML loader") && show.contains("poc.yaml"),
        "{show}"
    );

    // A second run replaces its own directory; the same results come out.
    let again = run(&["demo", "--out", out_dir.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(sent_mail(&out_dir.join("outbox")).len(), sent.len());
}

#[test]
fn demo_refuses_a_directory_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("thesis.tex"), "precious").unwrap();
    let out = run(&["demo", "--out", tmp.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--out"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("thesis.tex")).unwrap(),
        "precious"
    );
}

#[test]
fn run_once_files_threads_acknowledges_and_keeps_everything() {
    let site = Site::new();
    site.deliver(&fixture("mail/report.eml"));
    site.deliver(&fixture("mail/reply-in-reply-to-only.eml"));
    // The same report again, through a second MX.
    let mut dup = b"Received: from mx2.example.org; Mon, 30 Nov 2026 13:05:00 +0000\r\n".to_vec();
    dup.extend(fixture("mail/report.eml"));
    site.deliver(&dup);
    // Mail RFC 3834 says must not be answered, each opening an incident.
    site.deliver(&mail(
        "MAILER-DAEMON@mx.example.net",
        "Undelivered Mail Returned to Sender",
        "b1@mx",
        "",
    ));
    site.deliver(&mail(
        "Bot <bot@ci.example>",
        "Build failed",
        "b2@ci",
        "Auto-Submitted: auto-generated\r\n",
    ));
    site.deliver(&mail(
        "news@example.com",
        "Newsletter",
        "b3@news",
        "Precedence: bulk\r\n",
    ));
    site.deliver(&mail(
        "dev@example.com",
        "[dev] patch",
        "b4@lists",
        "List-Id: <dev.lists.example.com>\r\n",
    ));
    site.deliver(&mail(
        "GitHub <noreply@github.com>",
        "New issue",
        "b5@gh",
        "",
    ));
    site.deliver(&mail(
        "bounce@example.com",
        "Failure",
        "b6@x",
        "Return-Path: <>\r\n",
    ));
    // A second report from the first reporter, within the hour.
    site.deliver(&mail(
        "Ana Silva <ANA@finder.example>",
        "Another one",
        "second@finder.example",
        "",
    ));
    site.deliver(b"%PDF-1.4\r\nnot a mail at all\r\n");

    let out = site.embargo(&["run", "--once"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let incidents = site.json(&["incidents"]);
    let ids = ids(&incidents);
    assert_eq!(ids.len(), 8, "{incidents:#}");
    assert_sequential_per_year(&ids);
    assert!(
        incidents
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == "reported")
    );
    assert_eq!(incidents[0]["messages"], 2, "the reply joined the report");
    // The commander is whoever was on call (alice, bob, a week each from
    // Monday 2026-01-05) when the binary opened the incident.
    let opened: jiff::Timestamp = incidents[0]["opened_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(incidents[0]["commander"], oncall_alice_bob(opened));

    let first = site.json(&["show", &ids[0]]);
    assert_eq!(
        event_kinds(&first),
        [
            "reported",
            "src-copy-queued",
            "acknowledgement-queued",
            "message-added",
            "relay-queued"
        ]
    );
    let messages = first["messages"].as_array().unwrap();
    assert_eq!(
        messages[1]["joined_via"],
        "In-Reply-To <report-1@finder.example>"
    );
    // The SRC copy, the acknowledgement, and the reply relayed to the list.
    let outbox = first["outbox"].as_array().unwrap();
    assert_eq!(outbox.len(), 3, "{outbox:#?}");
    assert!(
        outbox
            .iter()
            .any(|m| m["kind"] == "relay" && m["recipients"][0] == "src@example.org"),
        "{outbox:#?}"
    );

    // Exactly one acknowledgement, to the one person who may get one.
    let sent = site.outbox();
    let acks: Vec<&Sent> = sent
        .iter()
        .filter(|m| m.auto_submitted.as_deref() == Some("auto-replied"))
        .collect();
    assert_eq!(acks.len(), 1, "{sent:#?}");
    let ack = acks[0];
    assert_eq!(ack.envelope_to, ["ana@finder.example"]);
    assert_eq!(ack.in_reply_to.as_deref(), Some("report-1@finder.example"));
    assert!(
        ack.subject
            .starts_with(&format!("[{}] Re: Use-after-free", ids[0])),
        "{}",
        ack.subject
    );
    assert!(
        ack.text.contains(&ids[0]) && ack.text.contains("What happens next"),
        "{}",
        ack.text
    );

    // One SRC copy per incident, tagged; one notice for the unreadable file.
    let copies: Vec<&Sent> = sent
        .iter()
        .filter(|m| m.subject.contains("New report:"))
        .collect();
    assert_eq!(copies.len(), 8);
    for id in &ids {
        assert_eq!(
            copies
                .iter()
                .filter(|c| c.subject.starts_with(&format!("[{id}]")))
                .count(),
            1,
            "{id}"
        );
    }
    assert!(copies.iter().all(|c| c.envelope_to == ["src@example.org"]
        && c.auto_submitted.as_deref() == Some("auto-generated")));
    // The acknowledgement, the SRC copies, the quarantine notice and the
    // reply relayed to the list.
    assert_eq!(sent.len(), 1 + 8 + 1 + 1);
    let withheld: Vec<String> = ids[1..]
        .iter()
        .map(|id| {
            let rec = site.json(&["show", id]);
            let e = rec["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["kind"] == "acknowledgement-withheld")
                .unwrap()
                .clone();
            e["detail"].as_str().unwrap().to_owned()
        })
        .collect();
    for (reason, want) in withheld.iter().zip([
        "automated sender MAILER-DAEMON@mx.example.net",
        "Auto-Submitted: auto-generated",
        "Precedence: bulk",
        "List-Id",
        "automated sender noreply@github.com",
        "a bounce",
        "rate limit",
    ]) {
        assert!(reason.contains(want), "{reason:?} should mention {want:?}");
    }

    // The unreadable file is kept, byte for byte.
    let q = site.json(&["quarantine"]);
    let q = q.as_array().unwrap();
    assert_eq!(q.len(), 1);
    let raw = site.embargo(&["raw", &q[0]["id"].to_string()]);
    assert_eq!(raw.stdout, b"%PDF-1.4\r\nnot a mail at all\r\n");

    // Every delivery left new/ for cur/, with the info suffix.
    assert!(site.files("maildir/new").is_empty());
    let cur = site.files("maildir/cur");
    assert_eq!(cur.len(), 11);
    assert!(cur.iter().all(|f| f.ends_with(":2,S")), "{cur:?}");

    // A second pass finds nothing new and sends nothing twice.
    site.ok(&["run", "--once"]);
    assert_eq!(site.outbox().len(), sent.len());
    assert_eq!(ids.len(), self::ids(&site.json(&["incidents"])).len());

    // The reporter answers the acknowledgement: it joins the incident.
    site.deliver(&mail(
        "ana@finder.example",
        "Re: thanks",
        "reply-to-ack@finder.example",
        &format!("In-Reply-To: <{}>\r\n", ack.message_id),
    ));
    site.ok(&["run", "--once"]);
    let first = site.json(&["show", &ids[0]]);
    assert_eq!(first["messages"].as_array().unwrap().len(), 3);
    let after = site.outbox();
    let new: Vec<&Sent> = after
        .iter()
        .filter(|m| !sent.iter().any(|s| s.message_id == m.message_id))
        .collect();
    assert_eq!(
        new.iter()
            .map(|m| m.envelope_to.clone())
            .collect::<Vec<_>>(),
        [["src@example.org"]],
        "replies get no acknowledgement, only the relay to the insiders"
    );
    assert_eq!(
        new[0].in_reply_to.as_deref(),
        Some("reply-to-ack@finder.example")
    );
}

#[test]
fn mail_a_client_moved_to_cur_unread_is_taken_in_and_flagged_seen() {
    let site = Site::new();
    // A client (or Dovecot, when an IMAP client opens the folder) moved it
    // to cur/ with flags but not seen.
    let name = "1800000000.M9P9.client:2,R";
    std::fs::write(
        site.path("maildir/cur").join(name),
        fixture("mail/report.eml"),
    )
    .unwrap();
    site.ok(&["run", "--once"]);
    assert_eq!(ids(&site.json(&["incidents"])).len(), 1);
    assert_eq!(
        site.files("maildir/cur"),
        ["1800000000.M9P9.client:2,RS"],
        "its flags kept, seen added"
    );
    // The client changes its flags again: still the same message, and seen
    // mail is not listed again.
    std::fs::rename(
        site.path("maildir/cur/1800000000.M9P9.client:2,RS"),
        site.path("maildir/cur/1800000000.M9P9.client:2,FS"),
    )
    .unwrap();
    site.ok(&["run", "--once"]);
    assert_eq!(ids(&site.json(&["incidents"])).len(), 1);
}

#[test]
fn json_logs_carry_one_span_per_message() {
    let site = Site::new();
    site.deliver(&fixture("mail/report.eml"));
    let out = site.embargo(&["--log-format", "json", "run", "--once"]);
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stderr)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?} is not JSON: {e}")))
        .collect();
    let opened = lines
        .iter()
        .find(|l| l["fields"]["message"] == "opened")
        .expect("an 'opened' log line");
    assert_eq!(opened["span"]["message_id"], "report-1@finder.example");
}

#[test]
fn serve_polls_until_sigterm_and_exits_cleanly() {
    let site = Site::new();
    let mut child = std::process::Command::new(BIN)
        .args(["--config", site.config().to_str().unwrap(), "serve"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mail delivered while it runs is picked up at the next poll.
    site.deliver(&fixture("mail/report.eml"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while site.outbox().len() < 2 {
        assert!(Instant::now() < deadline, "serve did not process the mail");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A second ingester on the same database is refused while serve runs.
    let second = site.embargo(&["run", "--once"]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("already taking mail into this database"),
        "{err}"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn check_config_reports_every_problem_with_its_path() {
    let broken = BASE_CONFIG
        .replace(
            "security_address = \"security@example.org\"",
            "security_address = \"security-at-example.org\"",
        )
        .replace("incident_prefix = \"EMB\"", "incident_prefix = \"emb\"")
        .replace(
            "fingerprint = \"1C3E5A7B9D0F2468ACE013579BDF02468ACE1357\"",
            "fingerprint = \"1C3E\"",
        )
        .replace(
            "path = \"maildir\"",
            "path = \"maildir\"\npassword = \"hunter2\"",
        )
        .replace("path = \"embargo.db\"", "path = \"no/such/dir/embargo.db\"")
        + "\n[schedule]\nslot_hour = 25\n";
    let site = Site::with_config(&broken);
    let out = site.embargo(&["check-config"]);
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "error: list.security_address:",
        "error: list.incident_prefix:",
        "error: roster.members[1].fingerprint:",
        "error: source.password: secrets never live in the config file",
        "error: store.path:",
        "error: schedule.slot_hour: 25 is not an hour",
        "6 error(s)",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    // The service refuses to start on it, and says how to find out why.
    let run = site.embargo(&["run", "--once"]);
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("check-config"));
}

#[test]
fn a_postgres_store_takes_its_url_from_the_environment_or_a_file() {
    let pg = |store: &str| {
        BASE_CONFIG.replace(
            "[store]\nkind = \"sqlite\"\npath = \"embargo.db\"",
            &format!("[store]\nkind = \"postgres\"\n{store}"),
        )
    };
    let errors = |config: String| {
        let site = Site::with_config(&config);
        let out = site.embargo(&["check-config"]);
        (out.status.success(), String::from_utf8(out.stdout).unwrap())
    };
    let (ok, text) = errors(pg("url = \"postgres://embargo:hunter2@db/embargo\""));
    assert!(!ok);
    assert!(
        text.contains("error: store.url: secrets never live in the config file"),
        "{text}"
    );
    let (ok, text) = errors(pg(""));
    assert!(!ok);
    assert!(text.contains("error: store: no url: add url_env"), "{text}");
    let (ok, text) = errors(pg("url_env = \"X\"\nurl_file = \"f\""));
    assert!(!ok);
    assert!(
        text.contains("error: store.url_file: set either url_env or url_file"),
        "{text}"
    );
    // A variable that is not set is found before the service starts.
    let config = pg("url_env = \"EMBARGO_SURELY_UNSET_DATABASE_URL\"");
    let (ok, text) = errors(config.clone());
    assert!(!ok);
    assert!(
        text.contains("error: store.url_env: the environment variable EMBARGO_SURELY_UNSET_DATABASE_URL is not set"),
        "{text}"
    );
    let site = Site::with_config(&config);
    let out = site.embargo(&["incidents"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "store.url_env: the environment variable EMBARGO_SURELY_UNSET_DATABASE_URL is not set"
        ),
        "{err}"
    );
}

#[test]
fn an_outbox_claim_shorter_than_the_slowest_send_is_refused() {
    let config = BASE_CONFIG.replace(
        "[sink]\nkind = \"file\"\ndir = \"outbox\"",
        "[sink]\nkind = \"smtp\"\nhost = \"localhost\"\ntls = \"none\"\ntimeout_seconds = 60\n\n[outbox]\nlease_seconds = 60",
    );
    let site = Site::with_config(&config);
    let out = site.embargo(&["check-config"]);
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(
            "error: outbox.lease_seconds: 60 s is not longer than sink.timeout_seconds (60 s)"
        ),
        "{text}"
    );
}

#[test]
fn check_config_warns_on_the_roster_rules() {
    let mut config = BASE_CONFIG.replace("[roster.oncall]", "[roster.oncall_unused]");
    config = config.replace("[roster.oncall_unused]\nrotation = [\"alice@example.org\", \"bob@example.net\"]\nstarts = 2026-01-05\n", "");
    for i in 0..8 {
        config.push_str(&format!(
            "\n[[roster.members]]\nname = \"M{i}\"\nemail = \"m{i}@bigcorp.example\"\ncompany = \"BigCorp\"\nfingerprint = \"{i:040}\"\n"
        ));
    }
    let site = Site::with_config(&config);
    let out = site.embargo(&["check-config"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("the committee has 10 members; the process caps it at 9"),
        "{text}"
    );
    assert!(
        text.contains("8 of 10 members work for \"BigCorp\""),
        "{text}"
    );
}

#[test]
fn check_config_warns_when_the_list_key_does_not_name_the_security_address() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    let before = site.ok(&["check-config"]);
    assert!(!before.contains("no user ID"), "{before}");
    let warnings = |out: &str| out.lines().filter(|l| l.starts_with("warning:")).count();
    let key = embargo::pgp::generate(
        "Someone Else <someone@example.net>",
        "2025-01-01T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    let path = site.path("list-key.asc");
    std::fs::write(&path, embargo::pgp::secret_armored(&key)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = site.ok(&["check-config"]);
    assert!(
        out.contains("has no user ID with security@example.org")
            && out.contains("Someone Else <someone@example.net>")
            && warnings(&out) == warnings(&before) + 1,
        "{out}"
    );
}

#[test]
fn a_missing_config_says_what_to_do() {
    let out = run(&["--config", "/nonexistent/embargo.toml", "incidents"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read /nonexistent/embargo.toml")
            && err.contains("set EMBARGO_CONFIG")
            && !err.contains("check again"),
        "{err}"
    );
}

#[test]
fn next_slot_schedule_and_preview() {
    let slot = |after: &str| {
        let out = run(&[
            "--config",
            "/nonexistent.toml",
            "next-slot",
            "--after",
            after,
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["slot"].as_str().unwrap().to_owned()
    };
    assert_eq!(slot("2026-12-03T15:59:59Z"), "2026-12-03T16:00:00Z");
    assert_eq!(
        slot("2026-12-03T16:00:01Z"),
        "2026-12-07T16:00:00Z",
        "Friday to Sunday are skipped"
    );
    assert_eq!(
        slot("2026-12-04"),
        "2026-12-07T16:00:00Z",
        "a date is its start, UTC; that Friday has no slot"
    );
    let bad = run(&["next-slot", "--after", "next tuesday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));

    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("demo");
    assert!(
        run(&["demo", "--out", out_dir.to_str().unwrap()])
            .status
            .success()
    );
    let cfg = out_dir.join("embargo.toml");
    let cfg = cfg.to_str().unwrap();
    // The demo's config blacks out Christmas Eve, a Thursday.
    let out = run(&[
        "--config",
        cfg,
        "next-slot",
        "--after",
        "2026-12-24T09:00:00Z",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "2026-12-28T16:00:00Z"
    );

    let schedule = run(&["--config", cfg, "schedule", "--json"]);
    let schedule: serde_json::Value = serde_json::from_slice(&schedule.stdout).unwrap();
    let planned = schedule["planned"].as_array().unwrap();
    let announcement = planned
        .iter()
        .find(|p| p["incident"] == "EMB-2026-0001" && p["notice"] == "announcement")
        .unwrap();
    assert_eq!(announcement["at"].as_str(), Some("2026-12-01T16:00:00Z"));
    // Gone, and when: read from the outbox, not just "queued".
    for notice in ["advance notice", "24-hour warning", "announcement"] {
        let line = planned
            .iter()
            .find(|p| p["incident"] == "EMB-2026-0001" && p["notice"] == notice)
            .unwrap();
        let state = line["state"].as_str().unwrap();
        assert!(
            state.starts_with("sent 20") && state.ends_with(" UTC"),
            "{notice}: {state}"
        );
    }
    assert!(
        schedule["outbox"].as_array().unwrap().is_empty(),
        "the demo sent everything"
    );

    // What people read ends with a newline; logs are not coloured when
    // they go to a file or a pipe.
    for args in [
        &["schedule"][..],
        &["incidents"],
        &["show", "EMB-2026-0001"],
        &["preview", "EMB-2026-0001", "announcement"],
        &["next-slot"],
        &["run", "--once"],
    ] {
        let mut full = vec!["--config", cfg];
        full.extend_from_slice(args);
        let out = run(&full);
        assert!(out.status.success(), "{args:?}");
        assert!(
            out.stdout.is_empty() || out.stdout.ends_with(b"\n"),
            "{args:?} does not end with a newline"
        );
        assert!(!out.stderr.contains(&0x1b), "{args:?} coloured its log");
    }

    let preview = run(&["--config", cfg, "preview", "EMB-2026-0001", "distributors"]);
    let preview = String::from_utf8(preview.stdout).unwrap();
    assert!(
        preview
            .starts_with("Subject: [EMBARGOED] CVE-2026-31337: Heap overflow in the YAML loader"),
        "{preview}"
    );
    assert!(
        preview.contains("Attachment: CVE-2026-31337_v2.4.2.patch")
            && preview.contains("Attachment: disclosure.ics"),
        "{preview}"
    );
    let unknown = run(&["--config", cfg, "preview", "EMB-2026-0001", "newsletter"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("distributors, warning or announcement")
    );
}

#[test]
fn the_example_config_checks_once_its_files_exist() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config/embargo.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/embargo.toml"),
        &config,
    )
    .unwrap();
    let var = tmp.path().join("var");
    for dir in ["maildir/new", "maildir/cur", "maildir/tmp", "outbox"] {
        std::fs::create_dir_all(var.join(dir)).unwrap();
    }
    write_list_key(&var.join("list-key.asc"));
    let out = run(&["--config", config.to_str().unwrap(), "check-config"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains(": OK ("), "{said}");
}

/// A distributor's missing or empty key file says what to do, as a roster
/// member's does.
#[test]
fn check_config_says_how_to_give_a_distributor_a_key() {
    let site = Site::with_config(&format!(
        "{BASE_CONFIG}\n[[distributors]]\nname = \"Distro\"\nemail = \"sec@distro.example\"\n\
         key_file = \"keys/distro.asc\"\n"
    ));
    let text = String::from_utf8(site.embargo(&["check-config"]).stdout).unwrap();
    assert!(
        text.contains("keys/distro.asc does not exist: save sec@distro.example's public key there")
            && text.contains("gpg --armor --export FINGERPRINT >"),
        "{text}"
    );
}

/// A mail's JSON attachments by name, each checked against its official
/// schema.
fn advisories(raw: &[u8]) -> std::collections::BTreeMap<String, serde_json::Value> {
    use embargo::advisory::{Format, schema};
    use mail_parser::MimeHeaders;
    let schemas = schema::schemas().unwrap();
    let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
    parsed
        .attachments()
        .filter_map(|a| {
            let name = a.attachment_name()?.to_owned();
            if !name.ends_with(".json") {
                return None;
            }
            let json: serde_json::Value = serde_json::from_slice(a.contents()).unwrap();
            let format = if name.ends_with(".csaf.json") {
                Format::Csaf
            } else if name.ends_with(".osv.json") {
                Format::Osv
            } else {
                Format::Cve
            };
            schemas
                .check(format, &json)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            Some((name, json))
        })
        .collect()
}
