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
}

impl MailKind {
    pub const ALL: [MailKind; 6] = [
        MailKind::Acknowledgement,
        MailKind::SrcCopy,
        MailKind::Quarantine,
        MailKind::Undecryptable,
        MailKind::CommandReply,
        MailKind::Reminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Acknowledgement => "acknowledgement",
            MailKind::SrcCopy => "src-copy",
            MailKind::Quarantine => "quarantine",
            MailKind::Undecryptable => "undecryptable",
            MailKind::CommandReply => "command-reply",
            MailKind::Reminder => "reminder",
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
                | MailKind::Reminder => k,
            };
            assert_eq!(exhaustive, k);
        }
        assert_eq!(MailKind::ALL.len(), 6);
    }
}
