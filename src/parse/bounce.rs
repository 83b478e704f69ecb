//! Reads what makes a mail a bounce: an RFC 3464 delivery status report
//! (`multipart/report; report-type=delivery-status`) and the address the
//! receiving server delivered the mail to, which is an outbox mail's
//! return path when the bounce is of the service's own mail.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};

use crate::core::bounce::{self, BounceReport, DeliveryReport, RecipientStatus};

/// Words longer than this are cut: they are the sender's, and they end up
/// in the outbox row and a mail to the SRC.
const MAX_WORDS: usize = 500;
/// Recipients read from one report, at most.
const MAX_RECIPIENTS: usize = 100;

/// The headers a receiving server writes with the envelope recipient, on
/// top of what the mail already had: the first one found (top first) is
/// the last server's, the one that delivered to us.
const ENVELOPE_HEADERS: [&str; 4] = [
    "Delivered-To",
    "X-Original-To",
    "Envelope-To",
    "X-Envelope-To",
];

/// What of `msg` says it is a bounce; `None` for any other mail.
pub fn read(msg: &Message<'_>, return_path: Option<&str>) -> Option<BounceReport> {
    let delivered_to = delivered_to(msg);
    let token = delivered_to.as_deref().and_then(bounce::token_of);
    let report = delivery_report(msg);
    if token.is_none() && report.is_none() {
        return None;
    }
    Some(BounceReport {
        delivered_to,
        token,
        report,
        null_sender: return_path
            .is_some_and(|r| r.trim().trim_matches(['<', '>']).trim().is_empty()),
    })
}

fn clean(s: &str) -> String {
    let s = s.replace('\0', "\u{fffd}");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(MAX_WORDS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

fn address(value: &str) -> String {
    // `rfc822; a@b` in a report; `<a@b>` or `a@b` in a header.
    let value = value.rsplit_once(';').map_or(value, |(_, a)| a);
    clean(value.trim().trim_matches(['<', '>']).trim())
}

/// The envelope recipient the delivering server recorded; `To:` only when
/// no server recorded one (anyone writes `To:`; the server writes on top).
fn delivered_to(msg: &Message<'_>) -> Option<String> {
    for (name, value) in msg.headers_raw() {
        if ENVELOPE_HEADERS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            let a = address(value);
            if !a.is_empty() {
                return Some(a);
            }
        }
    }
    let to: Vec<String> = msg
        .to()
        .map(|a| {
            a.iter()
                .filter_map(|a| a.address.as_deref().map(address))
                .collect()
        })
        .unwrap_or_default();
    to.iter()
        .find(|a| bounce::token_of(a).is_some())
        .or(to.first())
        .cloned()
}

fn is(part: &MessagePart<'_>, ctype: &str, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case(ctype)
            && ct
                .subtype()
                .is_some_and(|s| subtypes.iter().any(|x| s.eq_ignore_ascii_case(x)))
    })
}

/// The report, when the mail is `multipart/report` with a delivery status
/// part among its own parts (not one inside a forwarded mail).
fn delivery_report(msg: &Message<'_>) -> Option<DeliveryReport> {
    let root = msg.root_part();
    if !is(root, "multipart", &["report"]) {
        return None;
    }
    let PartType::Multipart(children) = &root.body else {
        return None;
    };
    let children: Vec<&MessagePart<'_>> = children
        .iter()
        .filter_map(|&i| msg.parts.get(i as usize))
        .collect();
    let status = children
        .iter()
        .find(|p| is(p, "message", &["delivery-status", "global-delivery-status"]))?;
    let mut report = fields(&String::from_utf8_lossy(status.contents()));
    report.original_message_id = children.iter().find_map(|p| match &p.body {
        PartType::Message(original) => original.message_id().map(clean),
        _ if is(p, "text", &["rfc822-headers"]) || is(p, "message", &["global-headers"]) => {
            mail_parser::MessageParser::default()
                .parse_headers(p.contents())
                .and_then(|h| h.message_id().map(clean))
        }
        _ => None,
    });
    report.original_message_id = report
        .original_message_id
        .map(|id| id.trim_matches(['<', '>']).to_owned())
        .filter(|id| !id.is_empty());
    Some(report)
}

/// The fields of a `message/delivery-status` body: a block of
/// per-message fields, then one block per recipient. Servers that leave
/// out the blank lines are read too: a second `Final-Recipient` starts
/// the next recipient.
fn fields(body: &str) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    let mut unfolded: Vec<Option<(String, String)>> = Vec::new();
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            unfolded.push(None);
        } else if line.starts_with([' ', '\t']) {
            if let Some(Some((_, v))) = unfolded.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            unfolded.push(Some((n.trim().to_ascii_lowercase(), v.trim().to_owned())));
        }
    }
    let mut current: Option<RecipientStatus> = None;
    let blank = || RecipientStatus {
        final_recipient: String::new(),
        original_recipient: None,
        action: String::new(),
        status: String::new(),
        diagnostic: None,
    };
    let finish = |current: &mut Option<RecipientStatus>, report: &mut DeliveryReport| {
        if let Some(r) = current.take().filter(|r| !r.final_recipient.is_empty())
            && report.recipients.len() < MAX_RECIPIENTS
        {
            report.recipients.push(r);
        }
    };
    for field in unfolded {
        let Some((name, value)) = field else {
            finish(&mut current, &mut report);
            continue;
        };
        match name.as_str() {
            "reporting-mta" if report.reporting_mta.is_none() => {
                report.reporting_mta = Some(clean(&value));
            }
            "final-recipient" => {
                if current
                    .as_ref()
                    .is_some_and(|r| !r.final_recipient.is_empty())
                {
                    finish(&mut current, &mut report);
                }
                current.get_or_insert_with(blank).final_recipient = address(&value);
            }
            "original-recipient" => {
                // Postfix writes it after Final-Recipient, RFC 3464 before:
                // only a finished entry (one with an Action) ends here.
                if current.as_ref().is_some_and(|r| {
                    r.original_recipient.is_some()
                        || !r.action.is_empty() && !r.final_recipient.is_empty()
                }) {
                    finish(&mut current, &mut report);
                }
                current.get_or_insert_with(blank).original_recipient = Some(address(&value));
            }
            "action" => {
                // Exim writes Action first: a second one is the next entry.
                if current.as_ref().is_some_and(|r| !r.action.is_empty()) {
                    finish(&mut current, &mut report);
                }
                current.get_or_insert_with(blank).action = clean(&value).to_ascii_lowercase();
            }
            "status" => current.get_or_insert_with(blank).status = clean(&value),
            "diagnostic-code" => {
                current.get_or_insert_with(blank).diagnostic = Some(clean(&value));
            }
            _ => {}
        }
    }
    finish(&mut current, &mut report);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_raw(raw: &str) -> Option<BounceReport> {
        let m = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        read(&m, None)
    }

    /// The receiving server writes the envelope recipient on top: a
    /// Delivered-To or To written by the sender below it is not read.
    #[test]
    fn the_top_envelope_header_decides_and_to_counts_only_without_one() {
        let token = "0123456789abcdef01234567";
        let forged = format!(
            "Delivered-To: security@example.org\r\nDelivered-To: security+bounce-{token}@example.org\r\n\
             To: security+bounce-{token}@example.org\r\nSubject: hi\r\n\r\nreport\r\n"
        );
        assert_eq!(read_raw(&forged), None, "an ordinary mail, not a bounce");
        let ours = format!(
            "Delivered-To: SECURITY+bounce-{token}@example.org\r\nReturn-Path: <>\r\nSubject: x\r\n\r\nx\r\n"
        );
        let b = read_raw(&ours).unwrap();
        assert_eq!(b.token.as_deref(), Some(token));
        assert_eq!(b.report, None);
        let no_server = format!(
            "To: Security <security+bounce-{token}@example.org>\r\nSubject: x\r\n\r\nx\r\n"
        );
        assert_eq!(read_raw(&no_server).unwrap().token.as_deref(), Some(token));
    }

    #[test]
    fn postfix_and_exim_orders_read_alike_without_blank_lines() {
        for body in [
            "Final-Recipient: rfc822; a@x\nOriginal-Recipient: rfc822;a@x\nAction: failed\nStatus: 5.1.1\n\
             Final-Recipient: rfc822; b@x\nOriginal-Recipient: rfc822;b@x\nAction: delayed\nStatus: 4.0.0\n",
            "Action: failed\nFinal-Recipient: rfc822;a@x\nStatus: 5.1.1\n\
             Action: delayed\nFinal-Recipient: rfc822;b@x\nStatus: 4.0.0\n",
        ] {
            let r = fields(body);
            let got: Vec<(&str, &str)> = r
                .recipients
                .iter()
                .map(|r| (r.final_recipient.as_str(), r.action.as_str()))
                .collect();
            assert_eq!(got, [("a@x", "failed"), ("b@x", "delayed")], "{body}");
        }
    }

    #[test]
    fn recipients_are_read_with_or_without_blank_lines() {
        let r = fields(
            "Reporting-MTA: dns; mx.example.org\r\n\r\nFinal-Recipient: rfc822; a@x.example\r\n\
             Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no\r\n  such user\r\n\
             Final-Recipient: rfc822;b@x.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n",
        );
        assert_eq!(r.reporting_mta.as_deref(), Some("dns; mx.example.org"));
        assert_eq!(r.recipients.len(), 2, "{r:?}");
        assert_eq!(r.recipients[0].final_recipient, "a@x.example");
        assert_eq!(
            r.recipients[0].diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 no such user")
        );
        assert!(r.recipients[0].failed());
        assert_eq!(r.recipients[1].final_recipient, "b@x.example");
        assert!(!r.recipients[1].failed());
    }
}
