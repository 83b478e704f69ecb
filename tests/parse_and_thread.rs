//! Parsing and threading, on the hand-written mail in fixtures/mail/.

use std::path::Path;

use embargo::core::inbound::{Inbound, TextSource};
use embargo::core::incident_id::IncidentId;
use embargo::core::threading::{self, Known, Placement, Via};
use embargo::parse::{self, SYNTHESIZED_ID_DOMAIN};

const LIMIT: usize = 64 * 1024 * 1024;

fn raw(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/mail")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mail(name: &str) -> Inbound {
    parse::parse(raw(name), LIMIT, None).unwrap_or_else(|u| panic!("{name}: {}", u.reason))
}

fn inc(n: u32) -> IncidentId {
    IncidentId::new("EMB", 2026, n).unwrap()
}

/// The store after the report was filed as EMB-2026-0001.
fn after_report() -> Known {
    let mut known = Known::default();
    known.messages.insert(mail("report.eml").message_id, inc(1));
    known.incidents.insert(inc(1));
    known
}

#[test]
fn a_report_parses_into_its_parts() {
    let m = mail("report.eml");
    assert_eq!(m.message_id, "report-1@finder.example");
    assert!(!m.message_id_synthesized);
    let from = m.from.as_ref().unwrap();
    assert_eq!(
        (from.name.as_deref(), from.email.as_str()),
        (Some("Ana Silva"), "ana@finder.example")
    );
    assert_eq!(m.to.len(), 1);
    assert_eq!(
        m.cc.iter().map(|c| c.email.as_str()).collect::<Vec<_>>(),
        ["bob@finder.example", "carol@finder.example"]
    );
    assert_eq!(m.subject, "Use-after-free in session cache");
    assert_eq!(m.date.unwrap().to_string(), "2026-11-30T13:03:00Z");
    assert_eq!(m.text_source, TextSource::Plain);
    assert!(m.text.starts_with("The session cache frees"));
    assert_eq!(
        m.raw,
        raw("report.eml"),
        "the raw bytes are kept as they came"
    );
    assert!(m.in_reply_to.is_empty() && m.references.is_empty());
}

#[test]
fn a_reply_with_only_in_reply_to_joins() {
    let m = mail("reply-in-reply-to-only.eml");
    assert_eq!(m.in_reply_to, ["report-1@finder.example"]);
    assert_eq!(
        threading::place(&m, "EMB", &after_report()),
        Placement::Join(inc(1), Via::InReplyTo("report-1@finder.example".into()))
    );
}

#[test]
fn a_reply_with_only_folded_references_joins() {
    let m = mail("reply-references-only.eml");
    assert_eq!(
        m.references,
        [
            "unrelated-root@elsewhere.example",
            "report-1@finder.example"
        ]
    );
    assert!(m.in_reply_to.is_empty());
    assert_eq!(
        threading::place(&m, "EMB", &after_report()),
        Placement::Join(inc(1), Via::References("report-1@finder.example".into()))
    );
}

#[test]
fn broken_references_fall_back_to_the_subject_tag() {
    let m = mail("broken-references-with-tag.eml");
    assert_eq!(
        threading::place(&m, "EMB", &after_report()),
        Placement::Join(inc(1), Via::SubjectTag(inc(1)))
    );
    // Without the incident in the store, the tag means nothing.
    assert_eq!(
        threading::place(&m, "EMB", &Known::default()),
        Placement::Open
    );
}

#[test]
fn a_new_report_opens_an_incident() {
    assert_eq!(
        threading::place(&mail("no-message-id.eml"), "EMB", &after_report()),
        Placement::Open
    );
}

#[test]
fn a_missing_message_id_is_synthesized_stably() {
    let first = mail("no-message-id.eml");
    assert!(first.message_id_synthesized);
    assert!(
        first.message_id.ends_with(SYNTHESIZED_ID_DOMAIN),
        "{}",
        first.message_id
    );
    // Delivered again by another route: a new Received header, the same id.
    let mut again = b"Received: from backup-mx by mx; Tue, 01 Dec 2026 10:05:00 +0000\r\n".to_vec();
    again.extend(raw("no-message-id.eml"));
    let second = parse::parse(again, LIMIT, None).unwrap();
    assert_eq!(second.message_id, first.message_id);
    assert_eq!(second.body_digest, first.body_digest);
    // A different body is a different mail.
    let other = parse::parse(
        raw("no-message-id.eml")
            .into_iter()
            .chain(*b"PS.\r\n")
            .collect(),
        LIMIT,
        None,
    )
    .unwrap();
    assert_ne!(other.message_id, first.message_id);
}

#[test]
fn a_duplicate_delivery_has_the_same_identity() {
    let first = mail("report.eml");
    let mut again = b"Received: from mx2 by mx; Mon, 30 Nov 2026 13:04:00 +0000\r\nDelivered-To: security@example.org\r\n".to_vec();
    again.extend(raw("report.eml"));
    let second = parse::parse(again, LIMIT, None).unwrap();
    assert_eq!(
        (second.message_id.as_str(), second.body_digest.as_str()),
        (first.message_id.as_str(), first.body_digest.as_str())
    );
    assert_ne!(second.raw, first.raw);
    // Threading sees its own Message-ID as already filed.
    assert!(matches!(
        threading::place(&second, "EMB", &after_report()),
        Placement::Join(_, Via::MessageId(_))
    ));
}

#[test]
fn iso_8859_1_is_decoded() {
    let m = mail("latin1.eml");
    assert_eq!(m.subject, "Sicherheitslücke im Parser");
    assert_eq!(m.from.unwrap().name.as_deref(), Some("José Müller"));
    assert!(m.text.contains("Grüße aus Köln"), "{:?}", m.text);
}

#[test]
fn shift_jis_is_decoded() {
    let m = mail("shift-jis.eml");
    assert_eq!(m.subject, "脆弱性の報告");
    assert!(m.text.contains("認証を回避できます"), "{:?}", m.text);
}

#[test]
fn an_unknown_charset_keeps_what_can_be_read() {
    let m = mail("unknown-charset.eml");
    assert!(m.text.contains("The overflow is in qapla"), "{:?}", m.text);
    assert!(m.text.contains("mode."), "{:?}", m.text);
    assert_eq!(
        m.raw,
        raw("unknown-charset.eml"),
        "the undecodable byte stays in the raw mail"
    );
}

#[test]
fn html_only_mail_is_reduced_to_text() {
    let m = mail("html-only.eml");
    assert_eq!(m.text_source, TextSource::Html);
    assert!(m.text.contains("field is not escaped"), "{:?}", m.text);
    assert!(
        m.text.contains("<script>alert(1)</script>"),
        "entities are decoded: {:?}",
        m.text
    );
    assert!(
        !m.text.contains("<p>") && !m.text.contains("color: red"),
        "{:?}",
        m.text
    );
}

#[test]
fn an_unterminated_boundary_still_yields_text_and_attachment() {
    let m = mail("unterminated-boundary.eml");
    assert!(m.text.contains("The first part is fine."), "{:?}", m.text);
    assert_eq!(m.attachments.len(), 1, "{:?}", m.attachments);
    assert_eq!(m.attachments[0].name.as_deref(), Some("crash.bin"));
    assert_eq!(m.attachments[0].content_type, "application/octet-stream");
}

#[test]
fn an_empty_body_is_a_mail_with_no_text() {
    let m = mail("empty-body.eml");
    assert_eq!(m.subject, "(empty)");
    assert!(m.text.trim().is_empty());
    assert_eq!(m.text_source, TextSource::Plain);
}

#[test]
fn a_20_mb_attachment_is_described_not_lost() {
    let size = 20 * 1024 * 1024;
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut b64 = String::new();
    {
        use std::fmt::Write;
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (n, chunk) in payload.chunks(3).enumerate() {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for k in 0..4 {
                if k <= chunk.len() {
                    b64.push(T[((v >> (18 - 6 * k)) & 63) as usize] as char);
                } else {
                    b64.push('=');
                }
            }
            if n % 19 == 18 {
                let _ = write!(b64, "\r\n");
            }
        }
    }
    let mail = format!(
        "From: big@example.org\r\nTo: security@example.org\r\nSubject: core dump\r\nMessage-ID: <big@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         The core dump is attached.\r\n--b\r\nContent-Type: application/octet-stream; name=core\r\n\
         Content-Disposition: attachment; filename=core\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    );
    let len = mail.len();
    let m = parse::parse(mail.into_bytes(), LIMIT, None).unwrap();
    assert_eq!(m.raw.len(), len);
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].size, size as u64);
    assert_eq!(m.attachments[0].name.as_deref(), Some("core"));
    assert!(m.text.contains("The core dump is attached."));
    // Over the configured limit, the mail comes back unparsed with its bytes.
    let small_limit = parse::parse(m.raw.clone(), 1024 * 1024, None).unwrap_err();
    assert_eq!(small_limit.raw.len(), len);
    assert!(
        small_limit.reason.contains("over the limit"),
        "{}",
        small_limit.reason
    );
}

#[test]
fn text_without_headers_is_not_a_mail() {
    let u = parse::parse(b"just some words\nand more\n".to_vec(), LIMIT, None).unwrap_err();
    assert_eq!(u.reason, "no mail headers found");
    assert_eq!(u.raw, b"just some words\nand more\n");
    assert!(parse::parse(Vec::new(), LIMIT, None).is_err());
}

#[test]
fn commands_in_html_only_mail_are_read_and_quotes_skipped() {
    let mail = "From: alice@example.org\r\nTo: security@example.org\r\nSubject: Re: [EMB-2026-0001] x\r\n\
        Message-ID: <html-cmd@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
        <html><body><div>Accepting.</div><div>/accept EMB-2026-0001</div><div>/severity high EMB-2026-0001</div>\
        <div class=\"gmail_quote\"><div>On Tue, Jane wrote:</div><blockquote type=\"cite\">\
        <div>/reject spam EMB-2026-0001</div></blockquote></div></body></html>\r\n";
    let m = parse::parse(mail.as_bytes().to_vec(), LIMIT, None).unwrap();
    assert_eq!(m.text_source, TextSource::Html);
    let (commands, errors) = embargo::core::command::parse(&m.text, "EMB");
    assert!(errors.is_empty(), "{errors:?}\n{}", m.text);
    let lines: Vec<&str> = commands.iter().map(|c| c.line.as_str()).collect();
    assert_eq!(
        lines,
        ["/accept EMB-2026-0001", "/severity high EMB-2026-0001"],
        "{}",
        m.text
    );
}

/// PostgreSQL's text refuses NUL: a mail whose text decodes to NUL bytes
/// is read with U+FFFD in their place, says so, and keeps its raw bytes,
/// so both backends store it the same way.
#[test]
fn nul_bytes_in_a_mails_text_are_shown_as_replacement_characters() {
    // In every header a mail's fields are read from, and in the text.
    let raw = b"From: =?utf-8?b?TWFsAG9yeQ==?= <m@finder.example>\r\n\
        To: security@example.org, =?utf-8?q?S=00RC?= <src\x00x@example.org>\r\n\
        Cc: c\x00c@example.org\r\n\
        Subject: =?utf-8?q?crash=00in_frob?=\r\n\
        Message-ID: <nul-1@finder.example>\r\n\
        In-Reply-To: <p\x00arent@finder.example>\r\n\
        References: <r\x00oot@finder.example> <p\x00arent@finder.example>\r\n\
        List-Id: <a\x00b.lists.example>\r\n\
        Auto-Submitted: auto\x00-generated\r\n\
        Precedence: b\x00ulk\r\n\
        Return-Path: <b\x00ounce@finder.example>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
        --b\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\n\
        A NUL=00here, and a raw one \x00 too.\r\n\
        --b\r\n\
        Content-Type: application/octet-stream; name=\"po\x00c.bin\"\r\n\
        Content-Disposition: attachment; filename=\"po\x00c.bin\"\r\n\r\n\
        data\r\n\
        --b--\r\n"
        .to_vec();
    let m = parse::parse(raw.clone(), LIMIT, None).unwrap();
    assert_eq!(m.subject, "crash\u{fffd}in frob");
    assert_eq!(
        m.from.as_ref().unwrap().name.as_deref(),
        Some("Mal\u{fffd}ory")
    );
    assert!(m.text.contains("A NUL\u{fffd}here"), "{:?}", m.text);
    assert!(!format!("{m:?}").contains("\\0"), "{m:?}");
    assert!(
        m.problems.iter().any(|p| p.contains("NUL bytes")),
        "{:?}",
        m.problems
    );
    assert_eq!(m.raw, raw, "the raw mail keeps its bytes");

    // Mail without NUL has no such problem.
    assert!(
        mail("report.eml")
            .problems
            .iter()
            .all(|p| !p.contains("NUL"))
    );
}

/// Any filter's verdict header is kept for `spam_headers` to name, as the
/// mail wrote it; one mail cannot make its record grow with hundreds.
#[test]
fn spam_verdicts_of_any_filter_are_read_once_and_bounded() {
    use embargo::core::sender_auth::{SpamHeader, marked_spam_by};
    let mut text = String::from(
        "From: a@example.net\r\nTo: security@example.org\r\nSubject: hi\r\n\
         Message-ID: <v1@example.net>\r\nX-Barracuda-Spam-Status: Yes, score=9\r\n\
         x-spam-flag: NO\r\n",
    );
    for n in 0..100 {
        text.push_str(&format!("X-Spam-Junk-{n}: Yes\r\n"));
    }
    text.push_str("\r\nbody\r\n");
    let m = parse::parse(text.into_bytes(), 1 << 20, None).unwrap();
    let spam = &m.auto_reply.verdicts.spam;
    assert!(spam.len() <= 17, "{}", spam.len());
    assert_eq!(
        spam[0],
        (
            "X-Barracuda-Spam-Status".to_owned(),
            "Yes, score=9".to_owned()
        )
    );
    assert!(spam.contains(&("X-Spam-Flag".to_owned(), "NO".to_owned())));
    let defaults = SpamHeader::defaults();
    assert_eq!(marked_spam_by(&m.auto_reply.verdicts, &defaults), None);
    let barracuda = [SpamHeader {
        header: "X-Barracuda-Spam-Status".into(),
        yes: "yes".into(),
    }];
    assert_eq!(
        marked_spam_by(&m.auto_reply.verdicts, &barracuda).as_deref(),
        Some("X-Barracuda-Spam-Status: Yes, score=9")
    );
}
