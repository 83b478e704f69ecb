//! The last check before a mail leaves: embargoed content goes only to the
//! SRC, the incident's Fix Team and the distributors, and an announcement
//! never goes before its slot. The sender asks this for every mail; it is
//! the one place the rule lives.

use jiff::Timestamp;

use super::incident::Incident;
use super::mail_kind::MailKind;
use super::roster::Roster;
use super::slot::SlotRules;
use super::timeline::{self, Rules};

/// Who may hear what, from the config.
pub struct Audience<'a> {
    pub src_address: &'a str,
    pub roster: &'a Roster,
    pub distributors: &'a [String],
    pub announce: &'a [String],
    /// When the distributors must have been told by.
    pub schedule: &'a SlotRules,
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// `Ok` when the mail may go now; otherwise why not.
pub fn check(
    kind: MailKind,
    recipients: &[String],
    incident: Option<&Incident>,
    audience: &Audience<'_>,
    now: Timestamp,
) -> Result<(), String> {
    // An announce list is public whatever else it is (on the Fix Team by
    // mistake, say): embargoed mail never goes there.
    let insider = |r: &str| {
        !audience.announce.iter().any(|a| same(a, r))
            && (same(r, audience.src_address)
                || audience.roster.person(r).is_some()
                || audience.distributors.iter().any(|d| same(d, r))
                || incident.is_some_and(|i| i.details.team.iter().any(|t| same(t, r))))
    };
    let Some(incident) = incident else {
        // Mail about no incident (a quarantined mail) is for the SRC alone;
        // but when the SRC list refused such a mail (the digest), the notice
        // of it goes to SRC members at their own addresses.
        let src_member =
            |r: &str| kind == MailKind::DeliveryFailure && audience.roster.member(r).is_some();
        return match recipients
            .iter()
            .find(|r| !same(r, audience.src_address) && !src_member(r))
        {
            None => Ok(()),
            Some(r) => Err(format!(
                "{r} is not the SRC list, and this mail belongs to no incident"
            )),
        };
    };
    match kind {
        MailKind::Acknowledgement => {
            let reporter = incident.reporter.as_ref().map(|m| m.email.as_str());
            match recipients.iter().find(|r| {
                Some(r.as_str())
                    .is_none_or(|r| !reporter.is_some_and(|p| same(p, r)) && !insider(r))
            }) {
                None => Ok(()),
                Some(r) => Err(format!("{r} is not the reporter of {}", incident.id)),
            }
        }
        // A member's answer goes to the reporter of this incident and to
        // no one else, not even an insider: their copy is a mail of its own.
        MailKind::ReporterAnswer => {
            let reporter = incident.reporter.as_ref().map(|m| m.email.as_str());
            match recipients
                .iter()
                .find(|r| !reporter.is_some_and(|p| same(p, r)))
            {
                None if !recipients.is_empty() => Ok(()),
                None => Err(format!(
                    "an answer to the reporter of {} names no one",
                    incident.id
                )),
                Some(r) => Err(format!(
                    "{r} is not the reporter of {}: an answer goes to the reporter alone",
                    incident.id
                )),
            }
        }
        MailKind::Announcement => {
            let d = &incident.details;
            if !(d.public || d.embargo_broken) {
                match d.disclosure {
                    None => {
                        return Err(format!(
                            "{} has no disclosure time: an announcement cannot go",
                            incident.id
                        ));
                    }
                    Some(at) if now < at => {
                        return Err(format!(
                            "the announcement of {} is not due before {}",
                            incident.id,
                            at.strftime("%Y-%m-%d %H:%M UTC")
                        ));
                    }
                    Some(_) => {}
                }
                let rules = Rules {
                    distributors: !audience.distributors.is_empty(),
                    slots: audience.schedule,
                };
                if let Some(why) = timeline::distributors_not_told(incident, &rules) {
                    return Err(format!(
                        "the distributors were not told of {} in time: {why}",
                        incident.id
                    ));
                }
            }
            match recipients
                .iter()
                .find(|r| !insider(r) && !audience.announce.iter().any(|a| same(a, r)))
            {
                None => Ok(()),
                Some(r) => Err(format!(
                    "{r} is not an announce list, the SRC, the Fix Team or a distributor"
                )),
            }
        }
        _ => match recipients.iter().find(|r| !insider(r)) {
            None => Ok(()),
            Some(r) => Err(format!(
                "{r} is outside the embargo of {} (the SRC, its Fix Team and the distributors)",
                incident.id
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inbound::Mailbox;
    use crate::core::incident::Change;
    use crate::core::incident_id::IncidentId;
    use crate::core::roster::{Member, Rotation};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn roster() -> Roster {
        Roster {
            members: vec![Member {
                name: "Alice".into(),
                email: "alice@example.org".into(),
                company: "A".into(),
                fingerprint: None,
                on_leave: false,
            }],
            release_managers: vec![],
            rotation: Rotation {
                members: vec![],
                starts: jiff::civil::date(2026, 1, 5),
                shift_days: 7,
            },
        }
    }

    /// The reporter hears what concerns their own report, as a member's
    /// answer, and nothing more: no answer goes to anyone else, no other
    /// kind of embargoed mail goes to them, and an answer on one incident
    /// does not reach the reporter of another.
    #[test]
    fn an_answer_goes_to_its_reporter_alone() {
        let roster = roster();
        let distributors = vec!["security@distro.example".to_owned()];
        let audience = Audience {
            src_address: "src@example.org",
            roster: &roster,
            distributors: &distributors,
            announce: &[],
            schedule: &SlotRules::default(),
        };
        let now = t("2026-11-10T09:00:00Z");
        let open = |n, reporter: Option<&str>| {
            Incident::open(
                IncidentId::new("EMB", 2026, n).unwrap(),
                "bug",
                reporter.map(|r| Mailbox::new(None, r)),
                None,
                now,
            )
        };
        let i = open(1, Some("jane@researcher.example"));
        let check_to = |i: &Incident, kind, to: &[&str]| {
            let to: Vec<String> = to.iter().map(|s| s.to_string()).collect();
            check(kind, &to, Some(i), &audience, now)
        };
        assert_eq!(
            check_to(&i, MailKind::ReporterAnswer, &["Jane@Researcher.example"]),
            Ok(())
        );
        for to in [
            &["jane@researcher.example", "someone@example.net"][..],
            &["src@example.org"],
            &["alice@example.org"],
            &["security@distro.example"],
            &[],
        ] {
            let refused = check_to(&i, MailKind::ReporterAnswer, to);
            assert!(refused.is_err(), "{to:?}");
        }
        assert!(
            check_to(
                &open(2, Some("other@example.net")),
                MailKind::ReporterAnswer,
                &["jane@researcher.example"]
            )
            .unwrap_err()
            .contains("is not the reporter of EMB-2026-0002")
        );
        assert!(
            check_to(
                &open(3, None),
                MailKind::ReporterAnswer,
                &["jane@researcher.example"]
            )
            .is_err()
        );
        // The copy is for the insiders, never the reporter.
        assert_eq!(
            check_to(
                &i,
                MailKind::ReporterAnswerCopy,
                &["src@example.org", "alice@example.org"]
            ),
            Ok(())
        );
        for kind in [
            MailKind::ReporterAnswerCopy,
            MailKind::CommandReply,
            MailKind::Draft,
        ] {
            assert!(
                check_to(&i, kind, &["jane@researcher.example"]).is_err(),
                "{kind}"
            );
        }
    }

    #[test]
    fn who_may_get_what_and_when() {
        let roster = roster();
        let distributors = vec!["security@distro.example".to_owned()];
        let announce = vec!["announce@example.org".to_owned()];
        let audience = Audience {
            src_address: "src@example.org",
            roster: &roster,
            distributors: &distributors,
            announce: &announce,
            schedule: &SlotRules::default(),
        };
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 1).unwrap(),
            "bug",
            Some(Mailbox::new(None, "jane@researcher.example")),
            None,
            t("2026-11-10T09:00:00Z"),
        );
        i.apply(
            &Change::TeamAdded {
                email: "dev@example.org".into(),
            },
            t("2026-11-10T09:00:00Z"),
        );
        i.apply(
            &Change::Disclosure {
                at: Some(t("2026-12-01T16:00:00Z")),
            },
            t("2026-11-10T09:00:00Z"),
        );
        // The distributors got the 24-hour warning for this date.
        i.apply(
            &Change::Queued {
                key: format!("warning-0-{}", t("2026-12-01T16:00:00Z").as_second()),
            },
            t("2026-11-30T16:00:00Z"),
        );
        let before = t("2026-12-01T15:59:59Z");
        let at = t("2026-12-01T16:00:00Z");
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let ok_for = |i: &Incident, kind, to: &[&str], now| {
            check(kind, &v(to), Some(i), &audience, now).is_ok()
        };
        let ok = |kind, to: &[&str], now| ok_for(&i, kind, to, now);

        assert!(ok(
            MailKind::AdvanceNotice,
            &["security@distro.example"],
            before
        ));
        assert!(ok(
            MailKind::Warning,
            &["SRC@example.org", "Dev@example.org", "alice@example.org"],
            before
        ));
        assert!(
            !ok(
                MailKind::AdvanceNotice,
                &["jane@researcher.example"],
                before
            ),
            "the reporter never gets distributor notices"
        );
        assert!(
            !ok(MailKind::Draft, &["announce@example.org"], before),
            "no draft to a public list"
        );
        let mut listed = i.clone();
        listed.apply(
            &Change::TeamAdded {
                email: "Announce@example.org".into(),
            },
            before,
        );
        assert!(
            !ok_for(
                &listed,
                MailKind::AdvanceNotice,
                &["announce@example.org"],
                before
            ),
            "a public list on the Fix Team is still public"
        );
        assert!(!ok(MailKind::Warning, &["someone@example.net"], before));
        assert!(ok(
            MailKind::Acknowledgement,
            &["jane@researcher.example"],
            before
        ));
        assert!(!ok(
            MailKind::Acknowledgement,
            &["someone@example.net"],
            before
        ));

        assert!(
            !ok(MailKind::Announcement, &["announce@example.org"], before),
            "not before the slot"
        );
        assert!(ok(MailKind::Announcement, &["announce@example.org"], at));
        let mut unwarned = i.clone();
        unwarned.details.queued.clear();
        let refused = check(
            MailKind::Announcement,
            &v(&["announce@example.org"]),
            Some(&unwarned),
            &audience,
            at,
        )
        .unwrap_err();
        assert!(
            refused.contains("distributors were not told") && refused.contains("24-hour warning"),
            "nothing public before the distributors know, whatever queued it: {refused}"
        );
        assert!(ok(MailKind::Announcement, &["security@distro.example"], at));
        assert!(!ok(MailKind::Announcement, &["someone@example.net"], at));
        let mut public = i.clone();
        public.apply(&Change::Public, before);
        assert!(
            ok_for(
                &public,
                MailKind::Announcement,
                &["announce@example.org"],
                before
            ),
            "public: as soon as approved"
        );

        let no_incident =
            |to: &[&str]| check(MailKind::Quarantine, &v(to), None, &audience, before).is_ok();
        assert!(no_incident(&["src@example.org"]));
        assert!(!no_incident(&["alice@example.org"]));
    }

    /// When the SRC list refuses mail, the notice goes to the commander and
    /// the Fix Lead (roster members) of the incident, or, for mail of no
    /// incident, to the member on call: the guard lets it. Only that
    /// notice: other mail of no incident is still for the list alone.
    #[test]
    fn a_notice_that_the_list_refused_mail_reaches_roster_members() {
        let roster = roster();
        let audience = Audience {
            src_address: "src@example.org",
            roster: &roster,
            distributors: &[],
            announce: &[],
            schedule: &SlotRules::default(),
        };
        let now = t("2026-11-10T09:00:00Z");
        let mut i = Incident::open(
            IncidentId::new("EMB", 2026, 1).unwrap(),
            "bug",
            None,
            Some("alice@example.org".into()),
            now,
        );
        i.details.lead = Some("alice@example.org".into());
        let alice = vec!["Alice@example.org".to_owned()];
        assert_eq!(
            check(MailKind::DeliveryFailure, &alice, Some(&i), &audience, now),
            Ok(())
        );
        assert_eq!(
            check(MailKind::DeliveryFailure, &alice, None, &audience, now),
            Ok(())
        );
        assert!(check(MailKind::Quarantine, &alice, None, &audience, now).is_err());
        let outsider = vec!["mallory@evil.example".to_owned()];
        assert!(check(MailKind::DeliveryFailure, &outsider, None, &audience, now).is_err());
    }
}
