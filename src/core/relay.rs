//! The relay: every mail filed on an existing incident reaches that
//! incident's insiders (the SRC list, the Fix Lead, the Fix Team), so that
//! the list is where the conversation happens and the record keeps it.

use super::autoreply::{self, Withhold};
use super::command;
use super::inbound::Inbound;
use super::incident::Incident;
use super::roster::Roster;
use super::sender_auth;
use super::signature::Encryption;
use super::threading::Via;

/// One address an incident's mail goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insider {
    pub email: String,
    /// The roster's name for them, when they are in it.
    pub name: Option<String>,
    /// The roster's key for them: an encrypted mail's text goes to them
    /// only encrypted to it.
    pub fingerprint: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn push(out: &mut Vec<Insider>, email: &str, roster: &Roster) {
    if out.iter().any(|i| same(&i.email, email)) {
        return;
    }
    let person = roster.person(email);
    out.push(Insider {
        email: email.to_owned(),
        name: person.map(|p| p.name.clone()),
        fingerprint: person.and_then(|p| p.fingerprint.clone()),
    });
}

/// Who hears of a mail on `incident`: the SRC list first, then the Fix
/// Lead and the Fix Team, each once, without `except` (the proven sender:
/// nobody gets their own mail back). The list is never left out, even for
/// a sender on it: it is how the rest of the committee hears.
pub fn insiders(
    incident: Option<&Incident>,
    roster: &Roster,
    src_address: &str,
    except: Option<&str>,
) -> Vec<Insider> {
    let mut out = Vec::new();
    for email in insider_addresses(incident, src_address, except) {
        push(&mut out, &email, roster);
    }
    out
}

/// The addresses of [`insiders`], in the same order.
pub fn insider_addresses(
    incident: Option<&Incident>,
    src_address: &str,
    except: Option<&str>,
) -> Vec<String> {
    let mut out = vec![src_address.to_owned()];
    let (lead, team) = incident.map_or((None, &[][..]), |i| {
        (i.details.lead.as_deref(), i.details.team.as_slice())
    });
    for email in lead.into_iter().chain(team.iter().map(String::as_str)) {
        if except.is_some_and(|x| same(x, email)) || out.iter().any(|o| same(o, email)) {
            continue;
        }
        out.push(email.to_owned());
    }
    out
}

/// What the relay needs from the configuration.
pub struct RelayPolicy<'a> {
    pub roster: &'a Roster,
    pub src_address: &'a str,
    pub own_addresses: &'a [String],
    /// The receiving MTA, whose word on the From address counts.
    pub trusted_mta: Option<sender_auth::Trusted<'a>>,
    /// The headers by which the receiving MTA marks spam.
    pub spam_headers: &'a [sender_auth::SpamHeader],
}

/// A mail to relay, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The SRC list first. When `encrypted`, those with a fingerprint get
    /// the text encrypted to it, the others (the list among them) only
    /// word that it came and who got it.
    pub to: Vec<Insider>,
    /// The mail came encrypted: its text never goes out in clear.
    pub encrypted: bool,
    /// The sender as the relay's From shows them ("… via the list"): a
    /// name only when it cannot pass for a member's.
    pub sender: String,
    /// The sender is a member's address that nothing proves: the From
    /// says "(unverified)" after it.
    pub unverified: bool,
}

impl Relay {
    /// For the incident's event log: who gets what.
    pub fn describe(&self) -> String {
        let all = |keyed: bool| {
            self.to
                .iter()
                .filter(|i| !self.encrypted || i.fingerprint.is_some() == keyed)
                .map(|i| i.email.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.encrypted {
            format!(
                "relay queued, encrypted to each one's key: {}; without its text (it came encrypted): {}",
                match all(true) {
                    s if s.is_empty() => "nobody has a key".to_owned(),
                    s => s,
                },
                all(false)
            )
        } else {
            format!("relay queued for {}", all(true))
        }
    }
}

/// Why a mail filed on an incident is not relayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRelayed {
    /// The service's own mail came back (a relay the SRC list delivered
    /// to the inbox, say): relaying it would loop.
    Loop(String),
    /// RFC 3834 mail: out-of-office, bounces, list traffic.
    Automated(Withhold),
    /// It carried only commands: the command reply already tells the SRC.
    CommandsOnly,
    /// Nobody can read it; the SRC list is told so separately.
    Undecryptable,
    /// The receiving MTA marked it as spam (this header), and nothing
    /// proves its sender: spam makes no noise, even with a guessed tag.
    Spam(String),
}

impl std::fmt::Display for NotRelayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRelayed::Loop(why) => write!(f, "not relayed: {why} (it would loop)"),
            NotRelayed::Automated(w) => write!(f, "not relayed: automated mail, {w}"),
            NotRelayed::Spam(header) => write!(
                f,
                "not relayed: marked as spam by the mail server ({header}) and its sender is not proven"
            ),
            NotRelayed::CommandsOnly => {
                f.write_str("not relayed: only commands, which the command reply answers")
            }
            NotRelayed::Undecryptable => f.write_str(
                "not relayed: it could not be decrypted (the SRC list is told separately)",
            ),
        }
    }
}

/// The sender as proven, not as claimed: a roster member's valid
/// signature, or the trusted MTA's authentication of the From address.
/// A forged From: proves nothing, so the person it names still gets the
/// relay and sees the forgery.
pub fn proven_sender(mail: &Inbound, policy: &RelayPolicy<'_>) -> Option<String> {
    if let Some(signer) = mail.signature.signer(policy.roster) {
        return Some(signer.email.clone());
    }
    let mta = policy.trusted_mta?;
    let from = mail.from.as_ref()?;
    sender_auth::authenticated(&mail.auto_reply.verdicts, mta, &from.email)
        .ok()
        .map(|()| from.email.clone())
}

/// A member's own address in the From, and nothing proves it: anyone can
/// write it, and the list's signature on the relay must not vouch for it.
pub fn unverified_member(mail: &Inbound, proven: bool, roster: &Roster) -> bool {
    !proven
        && mail.from.as_ref().is_some_and(|from| {
            roster
                .members
                .iter()
                .chain(&roster.release_managers)
                .any(|m| same(&m.email, &from.email))
        })
}

/// How a relay's From names its sender. The list key signs the relay, so
/// an unproven sender's name must not pass for a roster member's (an
/// outsider writing `From: "Alice Moreau" <x@evil.example>` with a guessed
/// tag): such a name, or one that is an address, shows the address, as
/// does a member's own address without proof ([`unverified_member`]).
pub fn shown_as(mail: &Inbound, proven: bool, roster: &Roster) -> String {
    let Some(from) = mail.from.as_ref() else {
        return "Someone".to_owned();
    };
    let name = from.name.as_deref().map(str::trim).unwrap_or("");
    let members = || roster.members.iter().chain(&roster.release_managers);
    if unverified_member(mail, proven, roster) {
        return from.email.clone();
    }
    let passes_for_member =
        members().any(|m| same(m.name.trim(), name) && !same(&m.email, &from.email));
    if name.is_empty() || name.contains('@') || (!proven && passes_for_member) {
        from.email.clone()
    } else {
        name.to_owned()
    }
}

/// Whether all the sender wrote (quotes and signature aside) is commands.
pub fn only_commands(mail: &Inbound) -> bool {
    let text = mail.command_text();
    let words =
        |lines: &[&str]| -> usize { lines.iter().map(|l| l.split_whitespace().count()).sum() };
    let written = words(&command::written_lines(text));
    let commands = command::command_lines(text);
    let in_commands = words(&commands.iter().map(String::as_str).collect::<Vec<_>>());
    !commands.is_empty() && written == in_commands
}

/// Decides whether a mail that joined `incident` (as it stands after the
/// mail's commands) is relayed, and to whom. `answered`: the mail got a
/// command reply.
pub fn decide(
    mail: &Inbound,
    incident: Option<&Incident>,
    via: &Via,
    policy: &RelayPolicy<'_>,
    answered: bool,
) -> Result<Relay, NotRelayed> {
    if let Via::MessageId(id) = via {
        return Err(NotRelayed::Loop(format!(
            "its Message-ID <{id}> is already filed, as the service's own mail is"
        )));
    }
    match autoreply::automated(&mail.auto_reply, mail.from.as_ref(), policy.own_addresses) {
        // A mail without a From is still a person's mail to the list.
        None | Some(Withhold::NoSender) => {}
        Some(Withhold::OwnAddress(a)) => {
            return Err(NotRelayed::Loop(format!(
                "sent from the service's own address {a}"
            )));
        }
        Some(w) => return Err(NotRelayed::Automated(w)),
    }
    if let Encryption::Failed { .. } = mail.encryption {
        return Err(NotRelayed::Undecryptable);
    }
    let sender = proven_sender(mail, policy);
    if sender.is_none()
        && let Some(header) =
            sender_auth::marked_spam_by(&mail.auto_reply.verdicts, policy.spam_headers)
    {
        return Err(NotRelayed::Spam(header));
    }
    // Only a roster member's signed commands are answered in full by the
    // command reply; an outsider's lines that look like commands ("/admin
    // leaks hashes") are refused unread, and are their report.
    if answered && only_commands(mail) && mail.signature.signer(policy.roster).is_some() {
        return Err(NotRelayed::CommandsOnly);
    }
    let mut to = insiders(
        incident,
        policy.roster,
        policy.src_address,
        sender.as_deref(),
    );
    let encrypted = mail.encryption == Encryption::Decrypted;
    if encrypted {
        // The list carries no text of an encrypted mail: each SRC member
        // with a key gets it encrypted to that key instead.
        for m in &policy.roster.members {
            if m.fingerprint.is_some() && !sender.as_deref().is_some_and(|s| same(s, &m.email)) {
                push(&mut to, &m.email, policy.roster);
            }
        }
    }
    Ok(Relay {
        to,
        encrypted,
        sender: shown_as(mail, sender.is_some(), policy.roster),
        unverified: unverified_member(mail, sender.is_some(), policy.roster),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::{AutoReplyHeaders, Mailbox, SignedContent, TextSource};
    use crate::core::incident::Change;
    use crate::core::incident_id::IncidentId;
    use crate::core::roster::{Member, Rotation};
    use crate::core::signature::{Made, SignatureStatus};

    const ALICE_KEY: &str = "6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9";

    fn member(name: &str, email: &str, fingerprint: Option<&str>) -> Member {
        Member {
            name: name.into(),
            email: email.into(),
            company: "A".into(),
            fingerprint: fingerprint.map(str::to_owned),
            on_leave: false,
        }
    }

    fn roster() -> Roster {
        Roster {
            members: vec![
                member("Alice", "alice@example.org", Some(ALICE_KEY)),
                member("Bob", "bob@example.net", None),
            ],
            release_managers: vec![],
            rotation: Rotation {
                members: vec![],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    fn incident() -> Incident {
        let at = "2026-12-01T09:00:00Z".parse().unwrap();
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 1).unwrap(),
            "bug",
            Some(Mailbox::new(None, "jane@researcher.example")),
            None,
            at,
        );
        i.apply(
            &Change::Lead {
                email: Some("alice@example.org".into()),
            },
            at,
        );
        for email in ["dev@example.org", "Alice@example.org"] {
            i.apply(
                &Change::TeamAdded {
                    email: email.into(),
                },
                at,
            );
        }
        i
    }

    fn mail(from: &str, text: &str) -> Inbound {
        Inbound {
            message_id: "f1@researcher.example".into(),
            message_id_synthesized: false,
            in_reply_to: vec!["r1@researcher.example".into()],
            references: vec![],
            from: Some(Mailbox::new(Some("Jane"), from)),
            to: vec![Mailbox::new(None, "security@example.org")],
            cc: vec![],
            subject: "Re: bug".into(),
            date: None,
            text: text.into(),
            text_source: TextSource::Plain,
            attachments: vec![],
            auto_reply: AutoReplyHeaders::default(),
            problems: vec![],
            signature: SignatureStatus::Unsigned,
            signed: None,
            encryption: Encryption::None,
            sender_key: None,
            bounce: None,
            body_digest: "d".into(),
            raw: b"raw".to_vec(),
        }
    }

    fn signed_by_alice(text: &str) -> Inbound {
        let mut m = mail("alice@example.org", text);
        m.signature = SignatureStatus::Valid(Made {
            fingerprint: ALICE_KEY.into(),
            signed_at: "2026-12-01T08:59:00Z".parse().unwrap(),
            digest: "x".into(),
            also: vec![],
            binary: true,
        });
        m.signed = Some(SignedContent {
            text: text.into(),
            ..Default::default()
        });
        m
    }

    fn decide_for(mail: &Inbound, via: &Via, answered: bool) -> Result<Relay, NotRelayed> {
        let roster = roster();
        let own = vec![
            "security@example.org".to_owned(),
            "src@example.org".to_owned(),
        ];
        let policy = RelayPolicy {
            roster: &roster,
            src_address: "src@example.org",
            own_addresses: &own,
            trusted_mta: None,
            spam_headers: &sender_auth::SpamHeader::defaults(),
        };
        decide(mail, Some(&incident()), via, &policy, answered)
    }

    fn reply() -> Via {
        Via::InReplyTo("r1@researcher.example".into())
    }

    fn emails(r: &Relay) -> Vec<&str> {
        r.to.iter().map(|i| i.email.as_str()).collect()
    }

    #[test]
    fn a_reporters_follow_up_reaches_the_list_the_lead_and_the_team_once_each() {
        let r = decide_for(
            &mail("jane@researcher.example", "a second vector"),
            &reply(),
            false,
        )
        .unwrap();
        assert!(!r.encrypted);
        // The lead is on the team too (another case): one copy.
        assert_eq!(
            emails(&r),
            ["src@example.org", "alice@example.org", "dev@example.org"]
        );
        assert_eq!(r.to[1].fingerprint.as_deref(), Some(ALICE_KEY));
        assert_eq!(
            r.describe(),
            "relay queued for src@example.org, alice@example.org, dev@example.org"
        );
        // A second reporter who used the tag: the same.
        let tagged = decide_for(
            &mail("kenji@example.jp", "same bug"),
            &Via::SubjectTag(IncidentId::new("EMB", 2026, 1).unwrap()),
            false,
        )
        .unwrap();
        assert_eq!(emails(&tagged), emails(&r));
    }

    #[test]
    fn the_proven_sender_is_not_echoed_but_a_forged_from_is_shown_to_whom_it_names() {
        let signed = decide_for(&signed_by_alice("I can reproduce it."), &reply(), false).unwrap();
        assert_eq!(
            emails(&signed),
            ["src@example.org", "dev@example.org"],
            "the signer's own mail is not sent back to her; the list still gets it"
        );
        let forged = decide_for(
            &mail("alice@example.org", "I can reproduce it."),
            &reply(),
            false,
        )
        .unwrap();
        assert_eq!(
            emails(&forged),
            ["src@example.org", "alice@example.org", "dev@example.org"],
            "an unsigned From: proves nothing: Alice sees the mail in her name"
        );
    }

    #[test]
    fn a_from_the_trusted_mta_authenticated_is_proven_one_written_by_anyone_else_is_not() {
        let roster = roster();
        let own = vec!["security@example.org".to_owned()];
        let policy = RelayPolicy {
            roster: &roster,
            src_address: "src@example.org",
            own_addresses: &own,
            trusted_mta: Some(sender_auth::Trusted {
                authserv_id: "mx.example.org",
                received_by_us: 1,
            }),
            spam_headers: &sender_auth::SpamHeader::defaults(),
        };
        let mut dev = mail("dev@example.org", "patch attached");
        let results = |value: &str| sender_auth::AuthResults {
            received_above: 0,
            value: value.into(),
        };
        dev.auto_reply.verdicts.results = vec![results(
            "mx.evil.example; dmarc=pass header.from=example.org",
        )];
        assert_eq!(proven_sender(&dev, &policy), None, "another server's word");
        dev.auto_reply.verdicts.results.insert(
            0,
            results("mx.example.org; dmarc=pass header.from=example.org"),
        );
        assert_eq!(
            proven_sender(&dev, &policy).as_deref(),
            Some("dev@example.org")
        );
        let relay = decide(&dev, Some(&incident()), &reply(), &policy, false).unwrap();
        assert_eq!(emails(&relay), ["src@example.org", "alice@example.org"]);
    }

    #[test]
    fn loops_automated_mail_and_undecryptable_mail_are_filed_but_not_relayed() {
        let ours = mail("security@example.org", "a relay came back");
        assert!(matches!(
            decide_for(&ours, &reply(), false),
            Err(NotRelayed::Loop(why)) if why.contains("security@example.org")
        ));
        let list = mail("SRC@example.org", "via the list");
        assert!(matches!(
            decide_for(&list, &reply(), false),
            Err(NotRelayed::Loop(_))
        ));
        let again = mail("jane@researcher.example", "x");
        let e = decide_for(&again, &Via::MessageId("ours@example.org".into()), false).unwrap_err();
        assert!(
            e.to_string()
                .contains("<ours@example.org> is already filed"),
            "{e}"
        );

        let mut ooo = mail("jane@researcher.example", "I am away");
        ooo.auto_reply.auto_submitted = Some("auto-replied".into());
        let e = decide_for(&ooo, &reply(), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "not relayed: automated mail, Auto-Submitted: auto-replied (RFC 3834)"
        );
        let mut bounce = mail("mailer-daemon@mx.example", "undeliverable");
        assert!(matches!(
            decide_for(&bounce, &reply(), false),
            Err(NotRelayed::Automated(Withhold::RoleSender(_)))
        ));
        bounce.from = None;
        bounce.auto_reply.return_path = Some("<>".into());
        assert!(matches!(
            decide_for(&bounce, &reply(), false),
            Err(NotRelayed::Automated(Withhold::Bounce))
        ));
        let mut listed = mail("jane@researcher.example", "digest");
        listed.auto_reply.list_id = Some("<oss.lists.example>".into());
        assert!(decide_for(&listed, &reply(), false).is_err());

        let mut unreadable = mail("jane@researcher.example", "");
        unreadable.encryption = Encryption::Failed {
            detail: "not for us".into(),
        };
        assert_eq!(
            decide_for(&unreadable, &reply(), false),
            Err(NotRelayed::Undecryptable)
        );

        let mut nameless = mail("jane@researcher.example", "no From, still a person");
        nameless.from = None;
        assert!(decide_for(&nameless, &reply(), false).is_ok());
    }

    #[test]
    fn a_mail_of_commands_alone_is_answered_not_relayed_but_one_with_words_is() {
        let commands =
            signed_by_alice("/accept\n/team add dev@example.org\n\n> old quote\n-- \nAlice\n");
        assert!(only_commands(&commands));
        assert_eq!(
            decide_for(&commands, &reply(), true),
            Err(NotRelayed::CommandsOnly)
        );
        // Not answered (no reply went to the list): relayed after all.
        assert!(decide_for(&commands, &reply(), false).is_ok());
        // A reporter's follow-up of paths that parse as commands is refused
        // as commands (unsigned), and relayed as the report it is.
        let paths = mail(
            "jane@researcher.example",
            "/admin returns password hashes\n/graphql has no auth\n",
        );
        assert!(only_commands(&paths));
        assert!(decide_for(&paths, &reply(), true).is_ok());
        let talk = signed_by_alice("Reproduced on 2.4.1; accepting.\n\n/accept\n");
        assert!(!only_commands(&talk));
        assert!(decide_for(&talk, &reply(), true).is_ok());
        assert!(!only_commands(&mail(
            "jane@researcher.example",
            "no commands"
        )));
    }

    #[test]
    fn an_outsider_cannot_pass_for_a_member_in_the_relays_from() {
        let mut jane = mail("jane@researcher.example", "more details");
        jane.from = Some(Mailbox::new(
            Some("Jane Researcher"),
            "jane@researcher.example",
        ));
        assert_eq!(
            decide_for(&jane, &reply(), false).unwrap().sender,
            "Jane Researcher"
        );
        let mut posing = mail("x@evil.example", "the fix is wrong, revert it");
        posing.from = Some(Mailbox::new(Some("alice"), "x@evil.example"));
        assert_eq!(
            decide_for(&posing, &reply(), false).unwrap().sender,
            "x@evil.example",
            "a member's name from another address shows the address"
        );
        posing.from = Some(Mailbox::new(Some("bob@example.org"), "x@evil.example"));
        assert_eq!(
            decide_for(&posing, &reply(), false).unwrap().sender,
            "x@evil.example"
        );
        let mut forged = mail("alice@example.org", "the fix is wrong, revert it");
        forged.from = Some(Mailbox::new(Some("Alice"), "alice@example.org"));
        let shown = decide_for(&forged, &reply(), false).unwrap();
        assert!(
            shown.sender == "alice@example.org" && shown.unverified,
            "a member's own address, unsigned: the list's key does not vouch for it: {shown:?}"
        );
        let alice = signed_by_alice("Reproduced.\n");
        assert_eq!(
            decide_for(&alice, &reply(), false).unwrap().sender,
            alice
                .from
                .as_ref()
                .unwrap()
                .name
                .clone()
                .unwrap_or_else(|| "alice@example.org".into())
        );
    }

    #[test]
    fn a_follow_up_marked_as_spam_is_relayed_only_from_a_proven_sender() {
        let mut spam = mail("winner@lottery.example", "[EMB-2026-0001] you won");
        spam.auto_reply.verdicts.spam = vec![("X-Spam-Flag".into(), "YES".into())];
        let refused = decide_for(&spam, &reply(), false).unwrap_err();
        assert_eq!(refused, NotRelayed::Spam("X-Spam-Flag: YES".into()));
        assert!(refused.to_string().contains("marked as spam"), "{refused}");
        // Alice's signed mail is hers, whatever a filter thought of it.
        let mut alice = signed_by_alice("Reproduced on 2.4.1.\n");
        alice.auto_reply.verdicts.spam = spam.auto_reply.verdicts.spam.clone();
        assert!(decide_for(&alice, &reply(), false).is_ok());
    }

    #[test]
    fn an_encrypted_mail_goes_encrypted_to_each_key_and_as_word_only_to_the_rest() {
        let mut secret = mail("jane@researcher.example", "the exploit");
        secret.encryption = Encryption::Decrypted;
        let r = decide_for(&secret, &reply(), false).unwrap();
        assert!(r.encrypted);
        assert_eq!(
            emails(&r),
            ["src@example.org", "alice@example.org", "dev@example.org"],
            "Bob has no key: he hears of it through the list's notice"
        );
        assert_eq!(
            r.describe(),
            "relay queued, encrypted to each one's key: alice@example.org; \
             without its text (it came encrypted): src@example.org, dev@example.org"
        );
    }

    #[test]
    fn without_a_known_incident_the_list_alone_hears() {
        let roster = roster();
        assert_eq!(
            insiders(None, &roster, "src@example.org", Some("src@example.org")),
            [Insider {
                email: "src@example.org".into(),
                name: None,
                fingerprint: None
            }]
        );
    }
}
