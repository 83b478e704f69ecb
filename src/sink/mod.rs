//! Where outgoing mail goes.

mod file;
mod smtp;

use async_trait::async_trait;

pub use file::FileSink;
pub use smtp::SmtpSink;

use crate::config::SinkSettings;

/// Opens the sink the config names.
pub fn open(settings: &SinkSettings) -> Result<Box<dyn Sink>, SinkError> {
    match settings {
        SinkSettings::File { dir } => Ok(Box::new(FileSink::new(dir)?)),
        SinkSettings::Smtp(smtp) => Ok(Box::new(SmtpSink::new(smtp)?)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Worth trying again later: a full disk, a server that is down.
    #[error("{0} (will retry)")]
    Transient(String),
    /// Trying again will not help: a refused recipient, a malformed mail.
    #[error("{0}")]
    Permanent(String),
}

/// A mail ready to go: envelope and bytes, already final.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub from: &'a str,
    pub recipients: &'a [String],
    pub bytes: &'a [u8],
}

#[async_trait]
pub trait Sink: Send + Sync {
    /// Hands one mail over; returns the transport's id for it.
    async fn send(&self, mail: Outgoing<'_>) -> Result<String, SinkError>;

    /// Tries the way out without sending anything, so a wrong setting shows
    /// at start rather than at the first notice.
    async fn check(&self) -> Result<(), SinkError> {
        Ok(())
    }
}
