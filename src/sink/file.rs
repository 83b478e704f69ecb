//! The embedded default: one `.eml` file per mail (and a `.json` beside it
//! with the envelope), written by lettre's `FileTransport`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::{Address, FileTransport, Transport};

use super::{Outgoing, Sink, SinkError};

pub struct FileSink {
    dir: PathBuf,
}

impl FileSink {
    /// Creates the directory when missing.
    pub fn new(dir: &Path) -> Result<Self, SinkError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            SinkError::Transient(format!(
                "cannot create the outbox directory {}: {e}; create it or fix its permissions",
                dir.display()
            ))
        })?;
        Ok(FileSink {
            dir: dir.to_owned(),
        })
    }
}

fn address(s: &str) -> Result<Address, SinkError> {
    Address::from_str(s).map_err(|e| SinkError::Permanent(format!("{s:?} is not an address: {e}")))
}

#[async_trait]
impl Sink for FileSink {
    async fn send(&self, mail: Outgoing<'_>) -> Result<String, SinkError> {
        let from = address(mail.from)?;
        let to = mail
            .recipients
            .iter()
            .map(|r| address(r))
            .collect::<Result<Vec<_>, _>>()?;
        let envelope =
            Envelope::new(Some(from), to).map_err(|e| SinkError::Permanent(e.to_string()))?;
        let dir = self.dir.clone();
        let bytes = mail.bytes.to_vec();
        tokio::task::spawn_blocking(move || {
            FileTransport::with_envelope(&dir)
                .send_raw(&envelope, &bytes)
                .map_err(|e| {
                    SinkError::Transient(format!("cannot write to {}: {e}", dir.display()))
                })
        })
        .await
        .map_err(|e| SinkError::Transient(format!("the file writer stopped: {e}")))?
    }
}
