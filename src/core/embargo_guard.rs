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
        // Mail about no incident (a quarantined mail) is for the SRC alone.
        return match recipients.iter().find(|r| !same(r, audience.src_address)) {
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
}
