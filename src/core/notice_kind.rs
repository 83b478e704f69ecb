//! The notices an incident's disclosure needs, each approved on its own.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeKind {
    /// The advance notice to the Private Distributors List.
    Distributors,
    /// The 24-hour warning to the distributors.
    Warning,
    /// The public announcement.
    Announcement,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 3] = [
        NoticeKind::Distributors,
        NoticeKind::Warning,
        NoticeKind::Announcement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Distributors => "distributors",
            NoticeKind::Warning => "warning",
            NoticeKind::Announcement => "announcement",
        }
    }
}

impl FromStr for NoticeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NoticeKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("{s:?} is not a notice: use distributors, warning or announcement")
            })
    }
}

impl std::fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
