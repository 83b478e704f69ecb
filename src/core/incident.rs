//! An incident: one vulnerability report and everything that follows it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::inbound::Mailbox;
use super::incident_id::IncidentId;

/// Where an incident is in the security release process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Reported,
    Triaged,
    Fixing,
    DisclosurePlanned,
    DistributorsNotified,
    Announced,
    Retrospective,
    Closed,
    Rejected,
    Duplicate,
    Cancelled,
}

impl State {
    pub const ALL: [State; 11] = [
        State::Reported,
        State::Triaged,
        State::Fixing,
        State::DisclosurePlanned,
        State::DistributorsNotified,
        State::Announced,
        State::Retrospective,
        State::Closed,
        State::Rejected,
        State::Duplicate,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Reported => "reported",
            State::Triaged => "triaged",
            State::Fixing => "fixing",
            State::DisclosurePlanned => "disclosure-planned",
            State::DistributorsNotified => "distributors-notified",
            State::Announced => "announced",
            State::Retrospective => "retrospective",
            State::Closed => "closed",
            State::Rejected => "rejected",
            State::Duplicate => "duplicate",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub state: State,
    /// The subject of the report that opened it.
    pub title: String,
    pub reporter: Option<Mailbox>,
    /// The incident commander's roster address; the oncall when it was opened.
    pub commander: Option<String>,
    pub opened_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Incident {
    pub fn open(
        id: IncidentId,
        title: &str,
        reporter: Option<Mailbox>,
        commander: Option<String>,
        now: Timestamp,
    ) -> Self {
        let title = title.trim();
        Incident {
            id,
            state: State::Reported,
            title: if title.is_empty() {
                "(no subject)".to_owned()
            } else {
                title.to_owned()
            },
            reporter,
            commander,
            opened_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip() {
        for st in State::ALL {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
        assert_eq!(State::parse("open"), None);
    }

    #[test]
    fn a_report_without_subject_gets_a_title() {
        let id = IncidentId::new("EMB", 2026, 1).unwrap();
        let inc = Incident::open(id, "  ", None, None, Timestamp::UNIX_EPOCH);
        assert_eq!(inc.title, "(no subject)");
        assert_eq!(inc.state, State::Reported);
    }
}
