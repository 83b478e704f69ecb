//! One askama template per kind of mail; the `.txt` files are in `templates/`.

use askama::Template;

#[derive(Template)]
#[template(path = "acknowledgement.txt")]
pub struct AcknowledgementText<'a> {
    pub greeting: &'a str,
    pub project: &'a str,
    pub id: &'a str,
    pub security_address: &'a str,
}

#[derive(Template)]
#[template(path = "src_copy.txt")]
pub struct SrcCopyText<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub date: &'a str,
    pub received: &'a str,
    pub message_id: &'a str,
    pub commander: &'a str,
    pub acknowledgement: &'a str,
    pub signature: String,
    /// Empty when the report came in clear.
    pub encryption: &'a str,
    pub attachments: Vec<String>,
    pub problems: &'a [String],
    pub text: &'a str,
    pub truncated: bool,
    pub shown: usize,
    pub total: usize,
    pub security_address: &'a str,
}

#[derive(Template)]
#[template(path = "quarantine.txt")]
pub struct QuarantineText<'a> {
    pub security_address: &'a str,
    pub source: &'a str,
    pub size: usize,
    pub digest: &'a str,
    pub reason: &'a str,
}

#[derive(Template)]
#[template(path = "undecryptable.txt")]
pub struct UndecryptableText<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub message_id: &'a str,
    pub reason: &'a str,
    pub fingerprint: &'a str,
}

#[derive(Template)]
#[template(path = "command_reply.txt")]
pub struct CommandReplyText<'a> {
    pub text: &'a str,
    pub applied: bool,
    pub id: &'a str,
    pub project: &'a str,
}

#[derive(Template)]
#[template(path = "reminder.txt")]
pub struct ReminderText<'a> {
    pub text: &'a str,
    pub status: &'a str,
    pub project: &'a str,
}

#[derive(Template)]
#[template(path = "embargo_statement.txt")]
pub struct EmbargoStatementText<'a> {
    pub when_utc: &'a str,
    pub zones: Vec<String>,
    pub deploy: &'a str,
    pub patch: &'a str,
    pub security_address: &'a str,
    pub id: &'a str,
}

#[derive(Template)]
#[template(path = "facts.txt")]
pub struct FactsText<'a> {
    pub cves: &'a str,
    pub severity: &'a str,
    /// The weaknesses `/cwe` recorded; empty for none (no line then).
    pub cwes: &'a str,
    pub affected: &'a str,
    pub fixed: &'a str,
    pub impact: &'a str,
    pub mitigation: &'a str,
    pub releases: &'a str,
    pub credit: &'a str,
}

#[derive(Template)]
#[template(path = "advance_notice.txt")]
pub struct AdvanceNoticeText<'a> {
    pub project: &'a str,
    pub statement: &'a str,
    pub body: &'a str,
    pub patches: Vec<String>,
}

#[derive(Template)]
#[template(path = "warning.txt")]
pub struct WarningText<'a> {
    /// The approval's own text, or the standard introduction.
    pub intro: &'a str,
    pub statement: &'a str,
    pub announcement: &'a str,
}

#[derive(Template)]
#[template(path = "announcement.txt")]
pub struct AnnouncementText<'a> {
    pub project: &'a str,
    pub body: &'a str,
    pub mitigation_hint: &'a str,
    pub security_address: &'a str,
}

#[derive(Template)]
#[template(path = "date_change.txt")]
pub struct DateChangeText<'a> {
    pub cves: &'a str,
    pub id: &'a str,
    pub before: &'a str,
    pub now_at: &'a str,
    pub statement: &'a str,
}

#[derive(Template)]
#[template(path = "draft.txt")]
pub struct DraftText<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub when: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
}

#[derive(Template)]
#[template(path = "retrospective.txt")]
pub struct RetrospectiveText<'a> {
    pub id: &'a str,
    pub cves: &'a str,
    pub src_address: &'a str,
    pub reporter: &'a str,
    pub commander: &'a str,
    pub lead: &'a str,
    pub team: &'a str,
    pub timeline: Vec<String>,
}

#[derive(Template)]
#[template(path = "cancellation.txt")]
pub struct CancellationText<'a> {
    pub cves: &'a str,
    pub id: &'a str,
    pub at: &'a str,
    pub state: &'a str,
    pub why: &'a str,
}

#[derive(Template)]
#[template(path = "alert.txt")]
pub struct AlertText<'a> {
    pub id: &'a str,
    pub text: &'a str,
}

#[derive(Template)]
#[template(path = "guard_alert.txt")]
pub struct GuardAlertText<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub why: &'a str,
}

#[derive(Template)]
#[template(path = "delivery_failure.txt")]
pub struct DeliveryFailureText<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub error: &'a str,
    pub advice: &'a str,
}

#[derive(Template)]
#[template(path = "relay.txt")]
pub struct RelayText<'a> {
    pub id: &'a str,
    pub from: &'a str,
    pub subject: &'a str,
    pub date: &'a str,
    pub received: &'a str,
    pub message_id: &'a str,
    pub signature: String,
    /// Empty when the mail came in clear.
    pub encryption: &'a str,
    pub via: &'a str,
    pub relayed_to: &'a str,
    pub attachments: Vec<String>,
    pub problems: &'a [String],
    pub text: &'a str,
    pub truncated: bool,
    pub shown: usize,
    pub total: usize,
    /// The original is attached.
    pub original: bool,
    /// The original's size, when it is too large to attach to each copy.
    pub too_large: Option<usize>,
    pub security_address: &'a str,
}
