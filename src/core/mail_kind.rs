//! The kinds of mail the service sends.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MailKind {
    /// To a reporter: their report is filed.
    Acknowledgement,
    /// To the SRC list: a new report, tagged with its incident id.
    SrcCopy,
    /// To the SRC list: a mail could not be parsed and was kept aside.
    Quarantine,
    /// To the SRC list: a mail on an incident could not be decrypted.
    Undecryptable,
    /// To a command's signer (and the SRC list): what it changed, or why not.
    CommandReply,
    /// To the Fix Lead and incident commander: a deadline slipped.
    Reminder,
    /// To the Fix Lead and the SRC list: a notice to review and approve.
    Draft,
    /// To each distributor: the embargoed advance notice.
    AdvanceNotice,
    /// To each distributor: the disclosure moved.
    DateChange,
    /// To each distributor: the disclosure they were told of will not happen.
    Cancellation,
    /// To each distributor: the 24-hour warning with the public text.
    Warning,
    /// To the announce lists (and a copy to the distributors), at the slot.
    Announcement,
    /// To the Fix Lead: the retrospective draft.
    Retrospective,
    /// To the SRC list: the embargo guard refused a mail.
    GuardAlert,
    /// To the SRC list: a mail could not be delivered.
    DeliveryFailure,
    /// To the incident commander, the Fix Lead and the SRC list: the
    /// service holds something back, or cannot move an incident on, until
    /// a person acts.
    Alert,
    /// To an incident's insiders: a mail filed on it, relayed.
    Relay,
    /// To the reporter alone: a roster member's `/reply`, from the list.
    ReporterAnswer,
    /// To the insiders: a copy of what the reporter was answered.
    ReporterAnswerCopy,
    /// To the SRC list, weekly: the reports nobody triaged, and the spam.
    Digest,
}

impl MailKind {
    pub const ALL: [MailKind; 20] = [
        MailKind::Acknowledgement,
        MailKind::SrcCopy,
        MailKind::Quarantine,
        MailKind::Undecryptable,
        MailKind::CommandReply,
        MailKind::Reminder,
        MailKind::Draft,
        MailKind::AdvanceNotice,
        MailKind::DateChange,
        MailKind::Cancellation,
        MailKind::Warning,
        MailKind::Announcement,
        MailKind::Retrospective,
        MailKind::GuardAlert,
        MailKind::DeliveryFailure,
        MailKind::Alert,
        MailKind::Digest,
        MailKind::Relay,
        MailKind::ReporterAnswer,
        MailKind::ReporterAnswerCopy,
    ];

    /// Carries embargoed content: the guard keeps it to the SRC, the Fix
    /// Team and the distributors until the disclosure.
    pub fn is_embargoed(self) -> bool {
        !matches!(self, MailKind::Acknowledgement | MailKind::Announcement)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Acknowledgement => "acknowledgement",
            MailKind::SrcCopy => "src-copy",
            MailKind::Quarantine => "quarantine",
            MailKind::Undecryptable => "undecryptable",
            MailKind::CommandReply => "command-reply",
            MailKind::Reminder => "reminder",
            MailKind::Draft => "draft",
            MailKind::AdvanceNotice => "advance-notice",
            MailKind::DateChange => "date-change",
            MailKind::Cancellation => "cancellation",
            MailKind::Warning => "warning",
            MailKind::Announcement => "announcement",
            MailKind::Retrospective => "retrospective",
            MailKind::GuardAlert => "guard-alert",
            MailKind::DeliveryFailure => "delivery-failure",
            MailKind::Alert => "alert",
            MailKind::Digest => "digest",
            MailKind::Relay => "relay",
            MailKind::ReporterAnswer => "reporter-answer",
            MailKind::ReporterAnswerCopy => "reporter-answer-copy",
        }
    }

    pub fn parse(s: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for MailKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_as_itself() {
        // `ALL` must list every variant: the store reads kinds back by name.
        for k in MailKind::ALL {
            assert_eq!(MailKind::parse(k.as_str()), Some(k));
            let exhaustive = match k {
                MailKind::Acknowledgement
                | MailKind::SrcCopy
                | MailKind::Quarantine
                | MailKind::Undecryptable
                | MailKind::CommandReply
                | MailKind::Reminder
                | MailKind::Draft
                | MailKind::AdvanceNotice
                | MailKind::DateChange
                | MailKind::Cancellation
                | MailKind::Warning
                | MailKind::Announcement
                | MailKind::Retrospective
                | MailKind::GuardAlert
                | MailKind::DeliveryFailure
                | MailKind::Alert
                | MailKind::Relay
                | MailKind::ReporterAnswer
                | MailKind::ReporterAnswerCopy
                | MailKind::Digest => k,
            };
            assert_eq!(exhaustive, k);
        }
        assert_eq!(MailKind::ALL.len(), 20);
    }
}
