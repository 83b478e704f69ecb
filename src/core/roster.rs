//! The Security Response Committee roster and its oncall rotation.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::Serialize;

/// The process caps the committee at this many members.
pub const MAX_SRC_MEMBERS: usize = 9;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub name: String,
    /// Lower-case: roster lookups ignore case.
    pub email: String,
    pub company: String,
    /// Upper-case hex, no spaces.
    pub fingerprint: Option<String>,
    pub on_leave: bool,
}

/// Members take oncall in turn, `shift_days` each, counted from `starts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    pub members: Vec<String>,
    pub starts: Date,
    pub shift_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roster {
    /// The Security Response Committee.
    pub members: Vec<Member>,
    /// Release managers: they may approve notices; they are not SRC members.
    pub release_managers: Vec<Member>,
    pub rotation: Rotation,
}

/// A rule of the process that the roster breaks. These are warnings:
/// the process allows a committee to be over the limit for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RosterWarning {
    TooManyMembers {
        count: usize,
    },
    CompanyOverHalf {
        company: String,
        count: usize,
        of: usize,
    },
    NobodyOncall,
}

impl std::fmt::Display for RosterWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RosterWarning::TooManyMembers { count } => write!(
                f,
                "the committee has {count} members; the process caps it at {MAX_SRC_MEMBERS}: \
                 ask members to step down or mentor replacements"
            ),
            RosterWarning::CompanyOverHalf { company, count, of } => write!(
                f,
                "{count} of {of} members work for {company:?}; the process allows at most half \
                 from one company: grow the team or replace members within 12 months"
            ),
            RosterWarning::NobodyOncall => write!(
                f,
                "every member of the oncall rotation is on leave: new reports have no incident \
                 commander until someone returns"
            ),
        }
    }
}

/// Normalises an OpenPGP fingerprint as people write it (spaces, lower case).
pub fn normalize_fingerprint(raw: &str) -> Option<String> {
    let hex: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let hex = hex.strip_prefix("0X").unwrap_or(&hex).to_owned();
    let ok = matches!(hex.len(), 40 | 64) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(hex)
}

impl Roster {
    pub fn member(&self, email: &str) -> Option<&Member> {
        let email = email.to_ascii_lowercase();
        self.members.iter().find(|m| m.email == email)
    }

    /// Anyone in the roster: an SRC member or a release manager.
    pub fn person(&self, email: &str) -> Option<&Member> {
        let email = email.to_ascii_lowercase();
        self.members
            .iter()
            .chain(&self.release_managers)
            .find(|m| m.email == email)
    }

    pub fn person_by_fingerprint(&self, fingerprint: &str) -> Option<&Member> {
        self.members
            .iter()
            .chain(&self.release_managers)
            .find(|m| m.fingerprint.as_deref() == Some(fingerprint))
    }

    /// The next Fix Lead after `last`, round-robin over the SRC in roster
    /// order, skipping members on leave.
    pub fn next_lead(&self, last: Option<&str>) -> Option<&Member> {
        let n = self.members.len();
        let start = last
            .and_then(|l| {
                self.members
                    .iter()
                    .position(|m| m.email.eq_ignore_ascii_case(l))
            })
            .map_or(0, |i| i + 1);
        (0..n)
            .map(|k| &self.members[(start + k) % n])
            .find(|m| !m.on_leave)
    }

    /// The member on call at `now`: the rotation's turn, or the next member
    /// after it who is not on leave.
    pub fn oncall_at(&self, now: Timestamp) -> Option<&Member> {
        let rotation = &self.rotation;
        if rotation.members.is_empty() {
            return None;
        }
        let today = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let days = rotation
            .starts
            .until(today)
            .map(|span| i64::from(span.get_days()))
            .unwrap_or(0)
            .max(0);
        let len = rotation.members.len();
        let turn = (days / i64::from(rotation.shift_days.max(1))) as usize % len;
        (0..len)
            .map(|step| &rotation.members[(turn + step) % len])
            .filter_map(|email| self.member(email))
            .find(|m| !m.on_leave)
    }

    /// The process's own rules about the committee's make-up.
    pub fn warnings(&self) -> Vec<RosterWarning> {
        let mut warnings = Vec::new();
        let count = self.members.len();
        if count > MAX_SRC_MEMBERS {
            warnings.push(RosterWarning::TooManyMembers { count });
        }
        let mut companies: Vec<(String, usize)> = Vec::new();
        for m in &self.members {
            let key = m.company.trim().to_lowercase();
            match companies.iter_mut().find(|(c, _)| *c == key) {
                Some((_, n)) => *n += 1,
                None => companies.push((key, 1)),
            }
        }
        for (key, n) in companies {
            if n * 2 > count {
                let company = self
                    .members
                    .iter()
                    .find(|m| m.company.trim().to_lowercase() == key)
                    .map(|m| m.company.trim().to_owned())
                    .unwrap_or(key);
                warnings.push(RosterWarning::CompanyOverHalf {
                    company,
                    count: n,
                    of: count,
                });
            }
        }
        if !self.rotation.members.is_empty()
            && self
                .rotation
                .members
                .iter()
                .filter_map(|e| self.member(e))
                .all(|m| m.on_leave)
        {
            warnings.push(RosterWarning::NobodyOncall);
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, company: &str) -> Member {
        Member {
            name: name.to_owned(),
            email: format!("{}@example.org", name.to_lowercase()),
            company: company.to_owned(),
            fingerprint: None,
            on_leave: false,
        }
    }

    fn roster(members: Vec<Member>) -> Roster {
        let rotation = Rotation {
            members: members.iter().map(|m| m.email.clone()).collect(),
            starts: jiff::civil::date(2026, 1, 5),
            shift_days: 7,
        };
        Roster {
            members,
            release_managers: Vec::new(),
            rotation,
        }
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn oncall_turns_every_shift() {
        let r = roster(vec![
            member("Alice", "A"),
            member("Bob", "B"),
            member("Carol", "C"),
        ]);
        let who = |t: &str| r.oncall_at(at(t)).map(|m| m.name.as_str());
        assert_eq!(who("2026-01-05T00:00:00Z"), Some("Alice"));
        assert_eq!(who("2026-01-11T23:59:59Z"), Some("Alice"));
        assert_eq!(who("2026-01-12T00:00:00Z"), Some("Bob"));
        assert_eq!(who("2026-01-19T09:00:00Z"), Some("Carol"));
        assert_eq!(who("2026-01-26T09:00:00Z"), Some("Alice"));
        // Before the rotation starts, its first member is on call.
        assert_eq!(who("2025-12-01T09:00:00Z"), Some("Alice"));
    }

    #[test]
    fn oncall_skips_members_on_leave() {
        let mut members = vec![
            member("Alice", "A"),
            member("Bob", "B"),
            member("Carol", "C"),
        ];
        members[1].on_leave = true;
        let r = roster(members);
        let who = r
            .oncall_at(at("2026-01-12T09:00:00Z"))
            .map(|m| m.name.as_str());
        assert_eq!(who, Some("Carol"));
    }

    #[test]
    fn nobody_is_oncall_when_all_are_on_leave() {
        let mut members = vec![member("Alice", "A")];
        members[0].on_leave = true;
        let r = roster(members);
        assert_eq!(r.oncall_at(at("2026-01-12T09:00:00Z")), None);
        assert!(r.warnings().contains(&RosterWarning::NobodyOncall));
    }

    #[test]
    fn warns_on_the_process_rules() {
        let ten: Vec<Member> = (0..10)
            .map(|i| member(&format!("M{i}"), if i < 6 { "Big Corp" } else { "Other" }))
            .collect();
        let w = roster(ten).warnings();
        assert!(w.contains(&RosterWarning::TooManyMembers { count: 10 }));
        assert!(w.contains(&RosterWarning::CompanyOverHalf {
            company: "Big Corp".into(),
            count: 6,
            of: 10
        }));
        // Exactly half is allowed.
        let even = vec![
            member("A", "X"),
            member("B", "x "),
            member("C", "Y"),
            member("D", "Z"),
        ];
        assert!(roster(even).warnings().is_empty());
    }

    #[test]
    fn fix_leads_go_round_robin_and_skip_leave() {
        let mut members = vec![
            member("Alice", "A"),
            member("Bob", "B"),
            member("Carol", "C"),
        ];
        members[1].on_leave = true;
        let r = roster(members);
        let next = |last: Option<&str>| r.next_lead(last).map(|m| m.name.as_str());
        assert_eq!(next(None), Some("Alice"));
        assert_eq!(next(Some("alice@example.org")), Some("Carol"));
        assert_eq!(next(Some("carol@example.org")), Some("Alice"));
        assert_eq!(next(Some("gone@example.org")), Some("Alice"));
    }

    #[test]
    fn lookups_ignore_case() {
        let r = roster(vec![member("Alice", "A")]);
        assert!(r.member("ALICE@Example.org").is_some());
    }

    #[test]
    fn normalizes_fingerprints() {
        let fp =
            normalize_fingerprint("abcd ef01 2345 6789 abcd  ef01 2345 6789 ABCD EF01").unwrap();
        assert_eq!(fp, "ABCDEF0123456789ABCDEF0123456789ABCDEF01");
        assert!(normalize_fingerprint("ABCD").is_none());
        assert!(normalize_fingerprint(&"G".repeat(40)).is_none());
    }
}
