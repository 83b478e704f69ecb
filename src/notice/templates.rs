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
