//! Where inbound mail comes from.

mod maildir;

use std::collections::HashSet;

use async_trait::async_trait;

pub use maildir::Maildir;

use crate::config::SourceSettings;

/// Opens the source the config names.
pub fn open(settings: &SourceSettings) -> Box<dyn Source> {
    match settings {
        SourceSettings::Maildir { path, .. } => Box::new(Maildir::new(path)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot list {what}: {source}; check that it exists and the service may read it")]
    List {
        what: String,
        source: std::io::Error,
    },
    #[error("cannot read {what}: {source}; it stays in place and is tried again on the next pass")]
    Read {
        what: String,
        source: std::io::Error,
    },
    #[error(
        "cannot mark {what} as processed: {source}; it is recorded in the store and will not be processed twice"
    )]
    Done {
        what: String,
        source: std::io::Error,
    },
}

/// A mailbox the service reads. Keys are stable for the life of a message
/// in the source: the store remembers them so nothing is processed twice.
#[async_trait]
pub trait Source: Send {
    /// A name for the store's delivery records, e.g. `maildir:/var/mail/security`.
    fn name(&self) -> &str;

    /// The keys of the messages waiting, oldest first, leaving out `skip`.
    async fn pending(&mut self, skip: &HashSet<String>) -> Result<Vec<String>, SourceError>;

    async fn read(&mut self, key: &str) -> Result<Vec<u8>, SourceError>;

    /// Called once the message is safely stored.
    async fn done(&mut self, key: &str) -> Result<(), SourceError>;
}
