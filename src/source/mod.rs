//! Where inbound mail comes from.

mod imap;
mod maildir;

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;

pub use imap::Imap;
pub use maildir::Maildir;

use crate::config::SourceSettings;
use crate::store::StoreError;

/// Opens the source the config names. Nothing is connected yet: the first
/// `pending` does that.
pub fn open(settings: &SourceSettings) -> Box<dyn Source> {
    match settings {
        SourceSettings::Maildir { path, .. } => Box::new(Maildir::new(path)),
        SourceSettings::Imap(imap) => Box::new(Imap::new(imap.clone())),
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
    /// The mail server could not be reached or refused us; `fix` says what to change.
    #[error("{what}: {detail}; {fix}")]
    Server {
        what: String,
        detail: String,
        fix: String,
        /// A wrong password, certificate or setting: retrying soon will not help.
        config: bool,
    },
    #[error("the store cannot say which mail was already processed: {0}")]
    Store(#[from] StoreError),
}

impl SourceError {
    /// Whether the fix is in the config or on the server, not in waiting.
    pub fn is_config(&self) -> bool {
        matches!(self, SourceError::Server { config: true, .. })
    }
}

impl From<crate::tls::Advice> for SourceError {
    fn from(a: crate::tls::Advice) -> Self {
        SourceError::Server {
            what: a.what,
            detail: a.detail,
            fix: a.fix,
            config: a.config,
        }
    }
}

/// What the store knows of the mail a source already delivered.
#[async_trait]
pub trait Delivered: Sync {
    /// Those of `keys` stored from this source already.
    async fn among(&self, keys: &[String]) -> Result<HashSet<String>, StoreError>;

    /// The greatest stored key that starts with `prefix`, comparing keys as
    /// strings: the checkpoint of a source whose keys sort in delivery order.
    async fn last_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError>;
}

/// A mailbox the service reads. Keys are stable for the life of a message
/// in the source: the store remembers them so nothing is processed twice.
#[async_trait]
pub trait Source: Send {
    /// A name for the store's delivery records, e.g. `maildir:/var/mail/security`.
    fn name(&self) -> &str;

    /// The keys of the messages waiting, oldest first, leaving out those
    /// already delivered.
    async fn pending(&mut self, delivered: &dyn Delivered) -> Result<Vec<String>, SourceError>;

    /// The bytes of one message `pending` returned. Once a read fails, the
    /// reads after it in the same pass fail too, so a source whose
    /// checkpoint is its highest stored key never skips a message.
    async fn read(&mut self, key: &str) -> Result<Vec<u8>, SourceError>;

    /// The bytes of the first of `keys`, in order, until `budget` bytes are
    /// read or a read fails (which ends the list, as with `read`).
    async fn read_batch(
        &mut self,
        keys: &[String],
        budget: usize,
    ) -> Vec<Result<Vec<u8>, SourceError>> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for key in keys {
            let read = self.read(key).await;
            let stop = match &read {
                Ok(raw) => {
                    bytes += raw.len();
                    bytes >= budget
                }
                Err(_) => true,
            };
            out.push(read);
            if stop {
                break;
            }
        }
        out
    }

    /// Called once these messages are safely stored (a batch, in one go).
    async fn done(&mut self, keys: &[String]) -> Result<(), SourceError>;

    /// Returns when new mail may be waiting, and at the latest after
    /// `at_most`. Sources that cannot be told of new mail just sleep.
    async fn wait(&mut self, at_most: Duration) {
        tokio::time::sleep(at_most).await;
    }

    /// Opens the source as `pending` would, reading nothing.
    async fn check(&mut self) -> Result<(), SourceError>;

    /// Ends the session politely, where there is one.
    async fn close(&mut self) {}

    /// Whether the last `pending` talked to the mail store, rather than
    /// answering "nothing" while it waits to try a lost server again: what
    /// `/readyz` calls the source reached.
    fn reached(&self) -> bool {
        true
    }
}

/// Keys held in memory: what a test or a one-off tool knows.
#[async_trait]
impl Delivered for HashSet<String> {
    async fn among(&self, keys: &[String]) -> Result<HashSet<String>, StoreError> {
        Ok(keys.iter().filter(|k| self.contains(*k)).cloned().collect())
    }

    async fn last_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        Ok(self.iter().filter(|k| k.starts_with(prefix)).max().cloned())
    }
}
