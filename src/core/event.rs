//! The event log: every change to an incident, with its time and cause.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::incident::Change;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A report opened the incident.
    Reported,
    /// A later mail joined the incident's thread.
    MessageAdded,
    AcknowledgementQueued,
    AcknowledgementWithheld,
    SrcCopyQueued,
    /// A signed command mail was applied.
    Command,
    /// A command mail changed nothing; the detail says why.
    CommandRefused,
    Reminder,
    /// A mail to the incident's people could not be sent.
    DeliveryFailed,
    /// A notice (or its drafts) went to the outbox.
    NoticeQueued,
    /// The embargo guard refused to send a mail.
    GuardRefused,
    /// A mail on the incident went to its insiders; the detail says whom.
    RelayQueued,
    /// A mail on the incident was filed but not relayed; the detail says why.
    RelayWithheld,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::Reported,
        EventKind::MessageAdded,
        EventKind::AcknowledgementQueued,
        EventKind::AcknowledgementWithheld,
        EventKind::SrcCopyQueued,
        EventKind::Command,
        EventKind::CommandRefused,
        EventKind::Reminder,
        EventKind::DeliveryFailed,
        EventKind::NoticeQueued,
        EventKind::GuardRefused,
        EventKind::RelayQueued,
        EventKind::RelayWithheld,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Reported => "reported",
            EventKind::MessageAdded => "message-added",
            EventKind::AcknowledgementQueued => "acknowledgement-queued",
            EventKind::AcknowledgementWithheld => "acknowledgement-withheld",
            EventKind::SrcCopyQueued => "src-copy-queued",
            EventKind::Command => "command",
            EventKind::CommandRefused => "command-refused",
            EventKind::Reminder => "reminder",
            EventKind::DeliveryFailed => "delivery-failed",
            EventKind::NoticeQueued => "notice-queued",
            EventKind::GuardRefused => "guard-refused",
            EventKind::RelayQueued => "relay-queued",
            EventKind::RelayWithheld => "relay-withheld",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who caused an event.
pub const SERVICE_ACTOR: &str = "embargo";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub at: Timestamp,
    pub kind: EventKind,
    /// An address, or `embargo` for the service's own decisions.
    pub actor: String,
    /// The mail that caused it, when one did.
    pub message_id: Option<String>,
    pub detail: String,
    /// What it changed; replaying every event's changes rebuilds the incident.
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            // ALL must list every kind: the store reads them back by name.
            match k {
                EventKind::Reported
                | EventKind::MessageAdded
                | EventKind::AcknowledgementQueued
                | EventKind::AcknowledgementWithheld
                | EventKind::SrcCopyQueued
                | EventKind::Command
                | EventKind::CommandRefused
                | EventKind::Reminder
                | EventKind::DeliveryFailed
                | EventKind::NoticeQueued
                | EventKind::GuardRefused
                | EventKind::RelayQueued
                | EventKind::RelayWithheld => {}
            }
        }
        assert_eq!(EventKind::ALL.len(), 13);
    }
}
