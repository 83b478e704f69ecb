//! Bounces of the service's own mail: what a delivery status notification
//! (RFC 3464) or a mail to a per-mail return path (VERP) says, which
//! outbox mail it is about, and what follows. A bounce never opens an
//! incident and is never answered: answering a bounce is how mail loops
//! start, and a forged one must not make the service write to anyone.

use serde::{Deserialize, Serialize};

use jiff::Timestamp;

use super::incident::Incident;
use super::incident_id::IncidentId;
use super::mail_kind::MailKind;
use super::roster::Roster;

/// What marks a return path as one outbox mail's: `<local>+bounce-<token>@<domain>`.
pub const VERP_MARK: &str = "+bounce-";

/// Characters of a bounce's words kept on the outbox row.
const MAX_WORDS: usize = 2000;

/// Bytes of randomness in a return-path token (96 bits, 24 hex digits):
/// a token is the only proof that a bounce is about that mail.
pub const TOKEN_BYTES: usize = 12;

/// One recipient's fate, as the reporting server wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientStatus {
    /// The address of `Final-Recipient`, without its `rfc822;` type.
    pub final_recipient: String,
    pub original_recipient: Option<String>,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lower-case.
    pub action: String,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: String,
    /// The remote server's own words, when it gave any.
    pub diagnostic: Option<String>,
}

impl RecipientStatus {
    /// Only `failed` means the mail will not arrive: `delayed` is still
    /// being tried, `delivered`/`relayed`/`expanded` went on. (Some
    /// servers write `failure`.)
    pub fn failed(&self) -> bool {
        matches!(self.action.as_str(), "failed" | "failure")
    }

    /// Whether this entry is about `address` (either recipient field).
    pub fn names(&self, address: &str) -> bool {
        std::iter::once(&self.final_recipient)
            .chain(self.original_recipient.as_ref())
            .any(|a| a.eq_ignore_ascii_case(address))
    }

    /// The server's words, for the outbox row and the SRC.
    pub fn words(&self) -> String {
        let mut s = format!(
            "{}: Action: {}; Status: {}",
            self.final_recipient, self.action, self.status
        );
        if let Some(d) = &self.diagnostic {
            s.push_str("; Diagnostic-Code: ");
            s.push_str(d);
        }
        s
    }
}

/// An RFC 3464 `message/delivery-status` report and the returned original.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    pub reporting_mta: Option<String>,
    /// The Message-ID of the mail it returns (from its `message/rfc822` or
    /// `text/rfc822-headers` part), without angle brackets.
    pub original_message_id: Option<String>,
    pub recipients: Vec<RecipientStatus>,
}

/// What the one parser read that makes a mail a bounce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BounceReport {
    /// The address the mail was delivered to, from the header the
    /// receiving server writes on top (`Delivered-To`, `X-Original-To`,
    /// `Envelope-To`), or from `To:` when no server wrote one.
    pub delivered_to: Option<String>,
    /// The token in `delivered_to`, lower-case, when it is a return path.
    pub token: Option<String>,
    /// The delivery status report, when the mail is one.
    pub report: Option<DeliveryReport>,
    /// The reverse path was empty (`Return-Path: <>`): a server's mail.
    pub null_sender: bool,
}

/// The token of a return path `local+bounce-TOKEN@domain`, lower-case;
/// `None` for any other address or a token that is not hex of the right length.
pub fn token_of(address: &str) -> Option<String> {
    let address = address.trim().trim_matches(['<', '>']);
    let (local, _) = address.rsplit_once('@')?;
    let lower = local.to_ascii_lowercase();
    let (_, token) = lower.rsplit_once(VERP_MARK)?;
    (token.len() == TOKEN_BYTES * 2 && token.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| token.to_owned())
}

/// The envelope sender an outbox mail goes out with: its own return path
/// when it has a token, the plain address otherwise. Never empty: only a
/// bounce goes with an empty one, and the service sends none.
pub fn return_path(from: &str, token: Option<&str>) -> String {
    match (token, from.rsplit_once('@')) {
        (Some(t), Some((local, domain))) if !t.is_empty() => {
            format!("{local}{VERP_MARK}{t}@{domain}")
        }
        _ => from.to_owned(),
    }
}

/// What the store knows of an outbox mail a bounce may be about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    pub id: i64,
    pub kind: MailKind,
    pub incident: Option<super::incident_id::IncidentId>,
    pub message_id: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub token: Option<String>,
    /// Already marked bounced.
    pub bounced: bool,
    /// It went out (`sent`): a mail still waiting was never in anyone's
    /// hands, so a bounce naming only its Message-ID is forged.
    pub went_out: bool,
}

/// Whether this kind of mail goes to people outside the committee whose
/// bounce the SRC must hear of, once per mail: a distributor, the announce
/// lists, the reporter. The other kinds go to insiders (the SRC list, a
/// roster member, a Fix Team member): see [`Tell`] for who hears of those.
/// Every kind is named, so a new one has to choose.
pub fn worth_telling(kind: MailKind) -> bool {
    match kind {
        MailKind::AdvanceNotice
        | MailKind::DateChange
        | MailKind::Cancellation
        | MailKind::Warning
        | MailKind::Announcement
        | MailKind::Acknowledgement
        | MailKind::ReporterAnswer => true,
        MailKind::SrcCopy
        | MailKind::Quarantine
        | MailKind::Undecryptable
        | MailKind::CommandReply
        | MailKind::Reminder
        | MailKind::Draft
        | MailKind::Retrospective
        | MailKind::GuardAlert
        | MailKind::DeliveryFailure
        | MailKind::Alert
        | MailKind::Relay
        | MailKind::ReporterAnswerCopy
        | MailKind::Digest => false,
    }
}

/// Who hears that a mail bounced. Never the list that bounced it alone,
/// and never anyone of a bounce of such a notice itself (no loop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tell {
    /// The SRC list: a mail to someone outside the committee, or to one
    /// insider, did not arrive.
    Src,
    /// These roster members, each at their own address: the SRC list
    /// itself refused the mail, so telling it would not arrive either.
    Roster(Vec<String>),
    /// Nobody: a notice about a bounce, a mail already marked bounced, or
    /// nobody to tell.
    Nobody,
}

/// What [`decide`] needs to say who hears of a bounce.
pub struct Reach<'a> {
    pub src_address: &'a str,
    pub roster: &'a Roster,
    /// The incidents of the candidate mails, as they stand (their
    /// commander and Fix Lead hear when the SRC list bounces).
    pub incidents: &'a [Incident],
    pub now: Timestamp,
}

impl Reach<'_> {
    /// Those who can act when the SRC list refuses mail of `incident`:
    /// its commander and Fix Lead, or else the member on call. Only people
    /// still in the roster: the embargo guard lets the notice reach them.
    fn acting(&self, incident: Option<&IncidentId>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(i) = incident.and_then(|id| self.incidents.iter().find(|i| &i.id == id)) {
            for who in i.commander.iter().chain(i.details.lead.iter()) {
                if self.roster.person(who).is_some()
                    && !same(who, self.src_address)
                    && !out.iter().any(|o| same(o, who))
                {
                    out.push(who.clone());
                }
            }
        }
        if out.is_empty()
            && let Some(m) = self.roster.oncall_at(self.now)
        {
            out.push(m.email.clone());
        }
        out
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The ISO week of `now`, `2026-W49`: a bounce of mail of no incident (the
/// digest) to the SRC list is told once a week at most.
fn week_of(now: Timestamp) -> String {
    let w = now
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date()
        .iso_week_date();
    format!("{:04}-W{:02}", w.year(), w.week())
}

/// How a bounce was matched to its mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// The token of the return path it was delivered to.
    ReturnPath,
    /// The returned Message-ID and a failed recipient of that mail.
    MessageId,
}

/// What a bounce means for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The mail did not arrive: the row is marked bounced with these words.
    Bounced {
        mail: SentMail,
        by: MatchedBy,
        words: String,
        /// Who hears of it.
        tell: Tell,
        /// What the notice is keyed by (its outbox key is
        /// `undelivered/<key>`): the same key is queued once, so a second
        /// bounce with the same key tells nobody again. Empty for
        /// [`Tell::Nobody`].
        key: String,
    },
    /// About a known mail, but not a failure (`delayed`, `delivered`, an
    /// auto-reply to the return path): recorded, the row unchanged.
    Noted {
        mail: SentMail,
        by: MatchedBy,
        words: String,
    },
    /// Not about any mail the service can name: kept, nothing changes.
    Unmatched { why: String },
}

/// Matches a bounce to the outbox mail it is about and says what follows.
/// `candidates` are the rows the store holds for its token and its
/// returned Message-ID. `by_message_id`: whether a Message-ID may match a
/// mail that has a token; with return paths on, a real bounce of such a
/// mail comes to its return path, and a Message-ID (derived from things an
/// outsider may know) is not proof enough.
pub fn decide(
    bounce: &BounceReport,
    candidates: &[SentMail],
    by_message_id: bool,
    reach: &Reach<'_>,
) -> Outcome {
    let failed: Vec<&RecipientStatus> = bounce
        .report
        .iter()
        .flat_map(|r| &r.recipients)
        .filter(|r| r.failed())
        .collect();
    // A report may list a hundred recipients: the row keeps the first
    // words, enough to act on.
    let all_words = |entries: &[&RecipientStatus]| {
        let all = entries
            .iter()
            .map(|r| r.words())
            .collect::<Vec<_>>()
            .join("; ");
        match all.char_indices().nth(MAX_WORDS) {
            Some((cut, _)) => format!("{}…", &all[..cut]),
            None => all,
        }
    };
    if let Some(token) = &bounce.token {
        let Some(mail) = candidates.iter().find(|m| {
            m.token
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(token))
        }) else {
            return Outcome::Unmatched {
                why: format!(
                    "it came to the return path {} of no mail the service sent (a forged or an old token)",
                    bounce.delivered_to.as_deref().unwrap_or("?")
                ),
            };
        };
        let by = MatchedBy::ReturnPath;
        return match &bounce.report {
            Some(_) if !failed.is_empty() => bounced(mail, by, all_words(&failed), &failed, reach),
            Some(report) => Outcome::Noted {
                mail: mail.clone(),
                by,
                words: if report.recipients.is_empty() {
                    "a delivery report naming no recipient".to_owned()
                } else {
                    all_words(&report.recipients.iter().collect::<Vec<_>>())
                },
            },
            // No report, from a server (an empty reverse path): an old-style
            // bounce; its first words are all there is to say.
            None if bounce.null_sender => bounced(
                mail,
                by,
                "a bounce without a delivery status report".to_owned(),
                &[],
                reach,
            ),
            None => Outcome::Noted {
                mail: mail.clone(),
                by,
                words: "a mail to the return path that is not a bounce (an auto-reply?)".to_owned(),
            },
        };
    }
    let Some(report) = &bounce.report else {
        return Outcome::Unmatched {
            why: "it is a bounce that names no mail: no delivery status report and no return path"
                .to_owned(),
        };
    };
    let Some(original) = &report.original_message_id else {
        return Outcome::Unmatched {
            why: "its delivery status report returns no Message-ID and it came to no return path"
                .to_owned(),
        };
    };
    let mut about: Vec<&SentMail> = candidates
        .iter()
        .filter(|m| m.message_id.eq_ignore_ascii_case(original))
        .collect();
    if about.is_empty() {
        return Outcome::Unmatched {
            why: format!("the service sent no mail <{original}>"),
        };
    }
    about.retain(|m| m.went_out);
    if about.is_empty() {
        return Outcome::Unmatched {
            why: format!(
                "it names <{original}>, which has not been sent yet: nobody could have \
                 returned it (forged?); nothing changed"
            ),
        };
    }
    if !by_message_id {
        about.retain(|m| m.token.is_none());
        if about.is_empty() {
            return Outcome::Unmatched {
                why: format!(
                    "it names the Message-ID of <{original}> but did not come to that mail's \
                     return path: a real bounce would have (forged?)"
                ),
            };
        }
    }
    let entries: Vec<&RecipientStatus> = report.recipients.iter().collect();
    for mail in about {
        let on_row: Vec<&RecipientStatus> = entries
            .iter()
            .copied()
            .filter(|r| mail.recipients.iter().any(|a| r.names(a)))
            .collect();
        if on_row.is_empty() {
            continue;
        }
        let failed_here: Vec<&RecipientStatus> =
            on_row.iter().copied().filter(|r| r.failed()).collect();
        return if failed_here.is_empty() {
            Outcome::Noted {
                mail: mail.clone(),
                by: MatchedBy::MessageId,
                words: all_words(&on_row),
            }
        } else {
            bounced(
                mail,
                MatchedBy::MessageId,
                all_words(&failed_here),
                &failed_here,
                reach,
            )
        };
    }
    Outcome::Unmatched {
        why: format!(
            "it names <{original}> but none of that mail's recipients (forged?); nothing changed"
        ),
    }
}

/// A bounced mail, and who hears of it. `failed`: the report's failed
/// entries; the ones naming the mail's recipients say which of them did
/// not get it (none named: all of them, as far as anyone knows).
fn bounced(
    mail: &SentMail,
    by: MatchedBy,
    words: String,
    failed: &[&RecipientStatus],
    reach: &Reach<'_>,
) -> Outcome {
    let (tell, key) = whom(mail, failed, reach);
    Outcome::Bounced {
        mail: mail.clone(),
        by,
        words,
        tell,
        key,
    }
}

fn whom(mail: &SentMail, failed: &[&RecipientStatus], reach: &Reach<'_>) -> (Tell, String) {
    let nobody = (Tell::Nobody, String::new());
    // A notice about a bounce is never itself told of: that is a loop.
    // A mail already marked bounced was told of the first time.
    if mail.kind == MailKind::DeliveryFailure || mail.bounced {
        return nobody;
    }
    let mut lost: Vec<&str> = mail
        .recipients
        .iter()
        .map(String::as_str)
        .filter(|a| failed.iter().any(|f| f.names(a)))
        .collect();
    if lost.is_empty() {
        lost = mail.recipients.iter().map(String::as_str).collect();
    }
    if lost.iter().any(|a| same(a, reach.src_address)) {
        // The list refused it: the people who can fix the list hear,
        // at their own addresses, once per incident (or week).
        let who = reach.acting(mail.incident.as_ref());
        if who.is_empty() {
            return nobody;
        }
        let key = match &mail.incident {
            Some(i) => format!("src-list/{i}"),
            None => format!("src-list/{}", week_of(reach.now)),
        };
        return (Tell::Roster(who), key);
    }
    let Some(incident) = &mail.incident else {
        return nobody;
    };
    if worth_telling(mail.kind) {
        return (Tell::Src, format!("bounce-{}", mail.id));
    }
    // One insider's address does not take the incident's mail: the SRC
    // hears once per incident and address.
    let mut who: Vec<String> = lost.iter().map(|a| a.to_ascii_lowercase()).collect();
    who.sort();
    who.dedup();
    (Tell::Src, format!("insider/{incident}/{}", who.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef01234567";

    fn notice() -> SentMail {
        SentMail {
            id: 7,
            kind: MailKind::AdvanceNotice,
            incident: Some("EMB-2026-0001".parse().unwrap()),
            message_id: "notice.abc@example.org".into(),
            recipients: vec!["distro@vendor.example".into()],
            subject: "[EMB-2026-0001] advance notice".into(),
            token: Some(TOKEN.into()),
            bounced: false,
            went_out: true,
        }
    }

    fn failed_for(address: &str) -> DeliveryReport {
        DeliveryReport {
            reporting_mta: Some("dns; mx.vendor.example".into()),
            original_message_id: Some("notice.abc@example.org".into()),
            recipients: vec![RecipientStatus {
                final_recipient: address.into(),
                original_recipient: None,
                action: "failed".into(),
                status: "5.1.1".into(),
                diagnostic: Some("smtp; 550 5.1.1 <x>: user unknown".into()),
            }],
        }
    }

    const SRC: &str = "src@example.org";

    fn roster() -> Roster {
        let member = |name: &str, email: &str| crate::core::roster::Member {
            name: name.into(),
            email: email.into(),
            company: name.into(),
            fingerprint: None,
            on_leave: false,
        };
        Roster {
            members: vec![
                member("Alice", "alice@example.org"),
                member("Bob", "bob@example.org"),
                member("Carol", "carol@example.org"),
            ],
            release_managers: vec![],
            rotation: crate::core::roster::Rotation {
                members: vec!["carol@example.org".into()],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    fn now() -> Timestamp {
        "2026-12-01T14:00:00Z".parse().unwrap()
    }

    /// EMB-2026-0001, commanded by Alice, Bob its Fix Lead, a Fix Team member.
    fn incident() -> Incident {
        let mut i = Incident::open(
            "EMB-2026-0001".parse().unwrap(),
            "bug",
            None,
            Some("alice@example.org".into()),
            now(),
        );
        i.details.lead = Some("bob@example.org".into());
        i.details.team = vec!["dev@vendor.example".into()];
        i
    }

    fn decide_now(b: &BounceReport, candidates: &[SentMail], by_message_id: bool) -> Outcome {
        let roster = roster();
        let incidents = [incident()];
        let reach = Reach {
            src_address: SRC,
            roster: &roster,
            incidents: &incidents,
            now: now(),
        };
        decide(b, candidates, by_message_id, &reach)
    }

    /// A mail to an insider of the incident, on its own row.
    fn to_insider(id: i64, kind: MailKind, to: &str, token: &str) -> SentMail {
        SentMail {
            id,
            kind,
            incident: Some("EMB-2026-0001".parse().unwrap()),
            message_id: format!("m{id}@example.org"),
            recipients: vec![to.into()],
            subject: "[EMB-2026-0001] Re: bug".into(),
            token: Some(token.into()),
            bounced: false,
            went_out: true,
        }
    }

    fn tell_of(out: &Outcome) -> (Tell, String) {
        match out {
            Outcome::Bounced { tell, key, .. } => (tell.clone(), key.clone()),
            other => panic!("{other:?}"),
        }
    }

    fn to_return_path(report: Option<DeliveryReport>) -> BounceReport {
        BounceReport {
            delivered_to: Some(format!("security+bounce-{TOKEN}@example.org")),
            token: Some(TOKEN.into()),
            report,
            null_sender: true,
        }
    }

    #[test]
    fn return_paths_carry_the_token_and_read_back() {
        let rp = return_path("security@example.org", Some(TOKEN));
        assert_eq!(rp, format!("security+bounce-{TOKEN}@example.org"));
        assert_eq!(token_of(&rp).as_deref(), Some(TOKEN));
        assert_eq!(
            token_of(&rp.to_ascii_uppercase()).as_deref(),
            Some(TOKEN),
            "servers may change the case"
        );
        assert_eq!(
            return_path("security@example.org", None),
            "security@example.org"
        );
        assert_eq!(token_of("security@example.org"), None);
        assert_eq!(
            token_of("security+bounce-123@example.org"),
            None,
            "too short"
        );
        assert_eq!(
            token_of("security+bounce-zz23456789abcdef01234567@example.org"),
            None
        );
    }

    #[test]
    fn a_failure_at_the_return_path_bounces_the_mail_and_tells_the_src() {
        let out = decide_now(
            &to_return_path(Some(failed_for("distro@vendor.example"))),
            &[notice()],
            false,
        );
        let Outcome::Bounced {
            mail,
            by,
            words,
            tell,
            key,
        } = out
        else {
            panic!("{out:?}")
        };
        assert_eq!(
            (mail.id, by, tell, key.as_str()),
            (7, MatchedBy::ReturnPath, Tell::Src, "bounce-7")
        );
        assert!(words.contains("550 5.1.1"), "{words}");
        assert!(words.contains("Status: 5.1.1"), "{words}");
    }

    #[test]
    fn a_forged_token_matches_nothing() {
        let mut b = to_return_path(Some(failed_for("distro@vendor.example")));
        b.token = Some("ffffffffffffffffffffffff".into());
        assert!(matches!(
            decide_now(&b, &[notice()], true),
            Outcome::Unmatched { .. }
        ));
    }

    #[test]
    fn delayed_or_delivered_is_noted_not_bounced() {
        for action in ["delayed", "delivered", "relayed"] {
            let mut r = failed_for("distro@vendor.example");
            r.recipients[0].action = action.into();
            r.recipients[0].status = "4.4.1".into();
            let out = decide_now(&to_return_path(Some(r)), &[notice()], false);
            assert!(
                matches!(&out, Outcome::Noted { mail, .. } if mail.id == 7),
                "{action}: {out:?}"
            );
        }
    }

    #[test]
    fn by_message_id_only_a_failed_recipient_of_that_mail_counts() {
        let mut row = notice();
        row.token = None;
        let bounce = BounceReport {
            report: Some(failed_for("DISTRO@vendor.example")),
            ..BounceReport::default()
        };
        let out = decide_now(&bounce, std::slice::from_ref(&row), false);
        assert!(
            matches!(&out, Outcome::Bounced { by: MatchedBy::MessageId, mail, .. } if mail.id == 7),
            "{out:?}"
        );
        // A forged report: the real Message-ID, someone else's address.
        let forged = BounceReport {
            report: Some(failed_for("mallory@evil.example")),
            ..BounceReport::default()
        };
        let out = decide_now(&forged, &[row], true);
        let Outcome::Unmatched { why } = out else {
            panic!("{out:?}")
        };
        assert!(why.contains("none of that mail's recipients"), "{why}");
    }

    #[test]
    fn a_report_naming_a_mail_not_sent_yet_is_forged_and_stops_nothing() {
        // A notice waiting on a retry (greylisted), its Message-ID guessed:
        // a report "returning" it must not keep it from going out.
        let mut waiting = notice();
        waiting.token = None;
        waiting.went_out = false;
        let bounce = BounceReport {
            report: Some(failed_for("distro@vendor.example")),
            ..BounceReport::default()
        };
        let out = decide_now(&bounce, &[waiting], true);
        let Outcome::Unmatched { why } = out else {
            panic!("{out:?}")
        };
        assert!(why.contains("has not been sent yet"), "{why}");
    }

    #[test]
    fn a_mail_with_a_return_path_is_not_bounced_by_its_message_id_alone() {
        let bounce = BounceReport {
            report: Some(failed_for("distro@vendor.example")),
            ..BounceReport::default()
        };
        let out = decide_now(&bounce, &[notice()], false);
        let Outcome::Unmatched { why } = out else {
            panic!("{out:?}")
        };
        assert!(
            why.contains("did not come to that mail's return path"),
            "{why}"
        );
        // With return paths off, the Message-ID is all a bounce can name.
        assert!(matches!(
            decide_now(&bounce, &[notice()], true),
            Outcome::Bounced { .. }
        ));
    }

    #[test]
    fn the_src_is_not_told_of_its_own_mail_bouncing() {
        let mut row = notice();
        row.kind = MailKind::DeliveryFailure;
        row.recipients = vec!["src@example.org".into()];
        let out = decide_now(
            &to_return_path(Some(failed_for("src@example.org"))),
            &[row],
            false,
        );
        assert!(
            matches!(
                out,
                Outcome::Bounced {
                    tell: Tell::Nobody,
                    ..
                }
            ),
            "{out:?}"
        );
        // Told once per mail: a second bounce of it is recorded only.
        let mut again = notice();
        again.bounced = true;
        let out = decide_now(
            &to_return_path(Some(failed_for("distro@vendor.example"))),
            &[again],
            false,
        );
        assert!(
            matches!(
                out,
                Outcome::Bounced {
                    tell: Tell::Nobody,
                    ..
                }
            ),
            "{out:?}"
        );
    }

    /// The list refuses posts from the return path ("members only"): the
    /// relay to it bounces. Telling the list would bounce too, so the
    /// incident's commander and Fix Lead hear, at their own addresses.
    #[test]
    fn a_relay_the_src_list_refuses_tells_the_commander_and_the_lead_not_the_list() {
        let row = to_insider(11, MailKind::Relay, "SRC@example.org", TOKEN);
        let mut refused = failed_for("src@example.org");
        refused.recipients[0].status = "5.7.1".into();
        refused.recipients[0].diagnostic =
            Some("smtp; 550 5.7.1 Only members may post to this group".into());
        let out = decide_now(&to_return_path(Some(refused)), &[row], false);
        assert_eq!(
            tell_of(&out),
            (
                Tell::Roster(vec!["alice@example.org".into(), "bob@example.org".into()]),
                "src-list/EMB-2026-0001".into()
            )
        );
        let Outcome::Bounced { words, .. } = out else {
            unreachable!()
        };
        assert!(words.contains("Only members may post"), "{words}");
    }

    /// Every relay and SRC copy of the incident goes the same way: the
    /// second one to bounce carries the same key, which the outbox queues
    /// once; a row already marked bounced tells nobody at all.
    #[test]
    fn a_second_bounce_at_the_src_list_on_the_same_incident_tells_nobody_again() {
        const OTHER: &str = "fedcba9876543210fedcba98";
        let first = to_insider(11, MailKind::Relay, SRC, TOKEN);
        let second = to_insider(12, MailKind::SrcCopy, SRC, OTHER);
        let mut b = to_return_path(Some(failed_for(SRC)));
        let (_, key1) = tell_of(&decide_now(&b, &[first.clone(), second.clone()], false));
        b.token = Some(OTHER.into());
        let (tell2, key2) = tell_of(&decide_now(&b, &[first, second.clone()], false));
        assert!(matches!(tell2, Tell::Roster(_)));
        assert_eq!(key1, key2, "one notice per incident");
        let mut marked = second;
        marked.bounced = true;
        assert_eq!(
            tell_of(&decide_now(&b, &[marked], false)),
            (Tell::Nobody, String::new())
        );
    }

    /// No commander nor Fix Lead (or no incident: the digest): the member
    /// on call hears, once a week for mail of no incident.
    #[test]
    fn without_a_commander_the_member_on_call_hears() {
        let mut row = to_insider(11, MailKind::Relay, SRC, TOKEN);
        row.incident = Some("EMB-2026-0009".parse().unwrap());
        let out = decide_now(
            &to_return_path(Some(failed_for(SRC))),
            &[row.clone()],
            false,
        );
        assert_eq!(
            tell_of(&out),
            (
                Tell::Roster(vec!["carol@example.org".into()]),
                "src-list/EMB-2026-0009".into()
            )
        );
        // A commander who left the roster is not written to.
        let gone = {
            let mut i = incident();
            i.id = "EMB-2026-0009".parse().unwrap();
            i.commander = Some("left@example.org".into());
            i.details.lead = None;
            i
        };
        let roster = roster();
        let reach = Reach {
            src_address: SRC,
            roster: &roster,
            incidents: std::slice::from_ref(&gone),
            now: now(),
        };
        let out = decide(
            &to_return_path(Some(failed_for(SRC))),
            std::slice::from_ref(&row),
            false,
            &reach,
        );
        assert_eq!(
            tell_of(&out).0,
            Tell::Roster(vec!["carol@example.org".into()])
        );
        row.kind = MailKind::Digest;
        row.incident = None;
        let out = decide_now(&to_return_path(Some(failed_for(SRC))), &[row], false);
        assert_eq!(
            tell_of(&out),
            (
                Tell::Roster(vec!["carol@example.org".into()]),
                "src-list/2026-W49".into()
            )
        );
    }

    /// A mistyped `/team add`: the Fix Team member's relay bounces. The
    /// SRC list hears, once per incident and address, whichever mail of
    /// the incident bounces next.
    #[test]
    fn a_fix_team_members_relay_bounce_tells_the_src_once() {
        let relay = to_insider(21, MailKind::Relay, "dev@vendor.example", TOKEN);
        let out = decide_now(
            &to_return_path(Some(failed_for("dev@vendor.example"))),
            &[relay],
            false,
        );
        assert_eq!(
            tell_of(&out),
            (Tell::Src, "insider/EMB-2026-0001/dev@vendor.example".into())
        );
        let copy = to_insider(
            22,
            MailKind::ReporterAnswerCopy,
            "Dev@Vendor.example",
            TOKEN,
        );
        let out = decide_now(&to_return_path(None), &[copy], false);
        assert_eq!(
            tell_of(&out).1,
            "insider/EMB-2026-0001/dev@vendor.example",
            "the same key: told once"
        );
        // An SRC member's own encrypted copy of the report.
        let mine = to_insider(23, MailKind::SrcCopy, "bob@example.org", TOKEN);
        let out = decide_now(&to_return_path(None), &[mine], false);
        assert_eq!(
            tell_of(&out),
            (Tell::Src, "insider/EMB-2026-0001/bob@example.org".into())
        );
    }

    /// The notice of a bounce, bounced: to the list or to the commander,
    /// nobody hears (that would be a loop).
    #[test]
    fn a_bounce_of_a_delivery_failure_notice_tells_nobody() {
        for to in [SRC, "alice@example.org"] {
            let row = to_insider(31, MailKind::DeliveryFailure, to, TOKEN);
            let out = decide_now(&to_return_path(Some(failed_for(to))), &[row], false);
            assert_eq!(tell_of(&out), (Tell::Nobody, String::new()), "{to}");
        }
    }

    /// A mail to the list and to people (an alert) that only one of them
    /// refused: the report says who; the list is not blamed.
    #[test]
    fn the_failed_recipient_says_who_did_not_get_it() {
        let mut alert = to_insider(41, MailKind::Alert, SRC, TOKEN);
        alert.recipients = vec![SRC.into(), "alice@example.org".into()];
        let out = decide_now(
            &to_return_path(Some(failed_for("alice@example.org"))),
            &[alert],
            false,
        );
        assert_eq!(
            tell_of(&out),
            (Tell::Src, "insider/EMB-2026-0001/alice@example.org".into())
        );
    }
}
