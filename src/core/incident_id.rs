//! Incident ids: `PREFIX-YEAR-NNNN`, sequential per year.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentId {
    prefix: String,
    year: i16,
    seq: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentIdError {
    #[error("{0:?} is not an incident id; ids look like EMB-2026-0007")]
    Malformed(String),
    #[error(
        "incident prefix {0:?} must be 2 to 16 upper-case letters or digits, starting with a letter (e.g. EMB)"
    )]
    BadPrefix(String),
}

/// Checks an incident prefix as the config gives it.
pub fn check_prefix(prefix: &str) -> Result<(), IncidentIdError> {
    let ok = (2..=16).contains(&prefix.len())
        && prefix.starts_with(|c: char| c.is_ascii_uppercase())
        && prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(IncidentIdError::BadPrefix(prefix.to_owned()))
    }
}

impl IncidentId {
    pub fn new(prefix: &str, year: i16, seq: u32) -> Result<Self, IncidentIdError> {
        check_prefix(prefix)?;
        if !(1000..=9999).contains(&year) || seq == 0 {
            return Err(IncidentIdError::Malformed(format!("{prefix}-{year}-{seq}")));
        }
        Ok(IncidentId {
            prefix: prefix.to_owned(),
            year,
            seq,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn year(&self) -> i16 {
        self.year
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }

    /// The tag that marks a subject as belonging to this incident.
    pub fn tag(&self) -> String {
        format!("[{self}]")
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04}", self.prefix, self.year, self.seq)
    }
}

impl FromStr for IncidentId {
    type Err = IncidentIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || IncidentIdError::Malformed(s.to_owned());
        let mut parts = s.trim().rsplitn(3, '-');
        let (Some(seq), Some(year), Some(prefix)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        if year.len() != 4
            || seq.len() < 4
            || !year.bytes().all(|b| b.is_ascii_digit())
            || !seq.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(malformed());
        }
        let year = year.parse().map_err(|_| malformed())?;
        let seq = seq.parse().map_err(|_| malformed())?;
        IncidentId::new(&prefix.to_ascii_uppercase(), year, seq).map_err(|_| malformed())
    }
}

impl Serialize for IncidentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IncidentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Every `[PREFIX-YYYY-NNNN]` tag in a subject, in order of appearance.
/// The prefix matches case-insensitively: mail clients and people retype tags.
pub fn tags_in_subject(subject: &str, prefix: &str) -> Vec<IncidentId> {
    let mut found = Vec::new();
    let mut rest = subject;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        if let Ok(id) = inside.parse::<IncidentId>()
            && id.prefix.eq_ignore_ascii_case(prefix)
            && !found.contains(&id)
        {
            found.push(id);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_four_digits_at_least() {
        assert_eq!(
            IncidentId::new("EMB", 2026, 7).unwrap().to_string(),
            "EMB-2026-0007"
        );
        assert_eq!(
            IncidentId::new("EMB", 2026, 12345).unwrap().to_string(),
            "EMB-2026-12345"
        );
    }

    #[test]
    fn parses_what_it_prints() {
        let id: IncidentId = "EMB-2026-0042".parse().unwrap();
        assert_eq!((id.prefix(), id.year(), id.seq()), ("EMB", 2026, 42));
        assert_eq!(id.to_string().parse::<IncidentId>().unwrap(), id);
        assert!("K8S-SEC-2026-0001".parse::<IncidentId>().is_err());
    }

    #[test]
    fn refuses_what_is_not_an_id() {
        for bad in [
            "",
            "EMB",
            "EMB-26-0001",
            "EMB-2026-01",
            "emb-2026-x001",
            "-2026-0001",
            "E-2026-0001",
            "EMB-2026-0000",
        ] {
            assert!(bad.parse::<IncidentId>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn finds_tags_in_subjects() {
        let tags = tags_in_subject(
            "Re: [EMB-2026-0007] crash [emb-2026-0008] [EMB-2026-0007]",
            "EMB",
        );
        assert_eq!(
            tags.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["EMB-2026-0007", "EMB-2026-0008"]
        );
        assert!(
            tags_in_subject("[OTHER-2026-0007] [EMB-2026-7] [EMB 2026 0007]", "EMB").is_empty()
        );
        assert!(tags_in_subject("[EMB-2026-0007", "EMB").is_empty());
    }

    #[test]
    fn checks_prefixes() {
        assert!(check_prefix("EMB").is_ok());
        assert!(check_prefix("K8S").is_ok());
        for bad in ["", "E", "emb", "8K", "EM-B", "ABCDEFGHIJKLMNOPQ"] {
            assert!(check_prefix(bad).is_err(), "{bad} accepted");
        }
    }
}
