//! The mails a `/reply` makes: the answer to the reporter, and its copy
//! for the insiders.

use jiff::Timestamp;

use super::mime::{Headers, Party, Seal};
use super::{
    Composer, NoticeError, header_text, mail_key, message_id, opaque_message_id, references,
    reply_subject,
};
use crate::core::answer::ReporterAnswer;
use crate::core::inbound::Inbound;
use crate::core::incident_id::IncidentId;
use crate::core::mail_kind::MailKind;
use crate::store::NewMail;

impl Composer<'_> {
    /// The answer to the reporter: from the security address, signed with
    /// the list key, encrypted to their key when they sent one that can
    /// be used, in their thread. It names no one of the team: the
    /// reporter is an outsider. An answer decided encrypted that cannot
    /// be encrypted is an error, never a mail in clear: the decision, and
    /// what the member and the insiders were told, said "encrypted".
    pub fn reporter_answer(
        &self,
        incident: &IncidentId,
        command: &Inbound,
        n: usize,
        answer: &ReporterAnswer,
        now: Timestamp,
    ) -> Result<NewMail, NoticeError> {
        let settings = self.settings;
        let list = &settings.list;
        let key = format!("{incident}/reporter-answer/{}/{n}", mail_key(command));
        let tag = incident.tag();
        // As the acknowledgement reads: one thread in the reporter's mail program.
        let subject = reply_subject(&answer.title);
        let subject = header_text(
            &if subject.contains(&tag) {
                subject
            } else {
                format!("{tag} {subject}")
            },
            200,
        );
        let text = format!(
            "{}\n\n-- \n{} Security, {}\nAnswer this mail to reach the security team; keep {} in the subject.\n",
            answer.text.trim_end(),
            list.name,
            incident,
            tag
        );
        let from_name = format!("{} Security", list.name);
        let sealed = |id: &str, seal: Seal<'_>| {
            self.seal(
                &Headers {
                    from: Party {
                        name: Some(&from_name),
                        email: &list.security_address,
                    },
                    to: vec![Party {
                        name: answer.to.name.as_deref(),
                        email: &answer.to.email,
                    }],
                    reply_to: Some(&list.security_address),
                    subject: &subject,
                    message_id: id,
                    in_reply_to: answer.in_reply_to.as_deref(),
                    references: &answer.references,
                    date: now,
                    // A person wrote it: the reporter's autoresponder may answer.
                    auto_submitted: "no",
                },
                &text,
                &[],
                seal,
            )
        };
        let (id, bytes) = match &answer.encrypt_to {
            Some(reporter_key) => {
                let id = opaque_message_id(&key, settings);
                let bytes = sealed(
                    &id,
                    Seal::SignAndEncryptToCert(reporter_key.armored.as_bytes()),
                )
                .map_err(|e| NoticeError::ReporterKeyUnusable {
                    email: answer.to.email.clone(),
                    fingerprint: reporter_key.fingerprint.clone(),
                    reason: e.to_string(),
                })?;
                (id, bytes)
            }
            None => {
                let id = message_id(&key, settings);
                let bytes = sealed(&id, Seal::Sign)?;
                (id, bytes)
            }
        };
        Ok(NewMail {
            key,
            kind: MailKind::ReporterAnswer,
            incident: Some(incident.clone()),
            message_id: id,
            from: list.security_address.clone(),
            recipients: vec![answer.to.email.clone()],
            subject,
            bytes,
            due_at: now,
        })
    }

    /// The insiders' copy of an answer to the reporter, so the record on
    /// the list is whole; `None` when there is no one to copy.
    pub fn reporter_answer_copy(
        &self,
        incident: &IncidentId,
        command: &Inbound,
        n: usize,
        answer: &ReporterAnswer,
        now: Timestamp,
    ) -> Result<Option<NewMail>, NoticeError> {
        if answer.copy_to.is_empty() {
            return Ok(None);
        }
        let mut text = format!(
            "{} answered the reporter of {incident}: {}.\n\
             Their answer comes back to the incident.\n\n",
            answer.by,
            answer.summary()
        );
        if answer.text_in_copy {
            text.push_str("---- the answer ----\n");
            text.push_str(answer.text.trim_end());
            text.push('\n');
        } else {
            text.push_str(&format!(
                "(The command mail came encrypted, so the text is not in this copy.\n\
                 On the embargo host, `embargo show {incident}` shows it.)\n"
            ));
        }
        let mail = self.compose(
            super::Spec {
                key: format!("{incident}/reporter-answer-copy/{}/{n}", mail_key(command)),
                kind: MailKind::ReporterAnswerCopy,
                incident: Some(incident),
                to: answer.copy_to.clone(),
                subject: format!(
                    "{} Answered the reporter: {}",
                    incident.tag(),
                    reply_subject(&answer.title)
                ),
                text,
                attachments: Vec::new(),
                in_reply_to: Some(&command.message_id),
                references: &references(command),
                from_name: "embargo",
            },
            now,
        )?;
        Ok(Some(mail))
    }
}
