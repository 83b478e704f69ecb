//! An IMAP mailbox. A message's key is its UIDVALIDITY and UID, both
//! zero-padded so that keys sort as the server numbered them: the greatest
//! stored key of the current UIDVALIDITY is the checkpoint, and a session
//! fetches only what came after it.

mod connect;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use async_imap::types::UnsolicitedResponse;
use async_trait::async_trait;
use futures_util::TryStreamExt;

use super::{Delivered, Source, SourceError};
use crate::config::{AfterProcessing, ImapSettings};
use crate::core::backoff::Backoff;
use connect::{COMMAND_TIMEOUT, Opened};

/// Bodies fetched per round trip, and at most this many bytes of them.
const BATCH_MESSAGES: usize = 200;
const BATCH_BYTES: u64 = 8 * 1024 * 1024;
/// Servers may end an IDLE after 30 minutes (RFC 2177): renew well before.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

fn key(uidvalidity: u32, uid: u32) -> String {
    format!("{uidvalidity:010}:{uid:010}")
}

/// A UID set in IMAP's syntax (RFC 3501): `3:5,9,12:13`.
fn uid_set(mut uids: Vec<u32>) -> String {
    uids.sort_unstable();
    uids.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

fn parse_key(key: &str) -> Option<(u32, u32)> {
    let (v, u) = key.split_once(':')?;
    Some((v.parse().ok()?, u.parse().ok()?))
}

pub struct Imap {
    settings: ImapSettings,
    name: String,
    conn: Option<Opened>,
    /// After a failure, nothing is tried before this.
    retry_at: Option<Instant>,
    network: Backoff,
    /// A refused password or certificate will not fix itself in a second.
    config: Backoff,
    /// Listed by `pending`, not yet fetched: (UID, size).
    queue: VecDeque<(u32, u64)>,
    fetched: HashMap<u32, Vec<u8>>,
    /// Set when a read fails; the rest of the pass is refused, see `Source::read`.
    broken: Option<String>,
    /// The UIDVALIDITY whose full read was last announced, to say it once.
    announced: Option<u32>,
}

impl Imap {
    pub fn new(settings: ImapSettings) -> Self {
        let name = format!(
            "imap:{}@{}/{}",
            settings.user, settings.endpoint.host, settings.mailbox
        );
        Imap {
            settings,
            name,
            conn: None,
            retry_at: None,
            network: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            config: Backoff::new(Duration::from_secs(60), Duration::from_secs(15 * 60)),
            queue: VecDeque::new(),
            fetched: HashMap::new(),
            broken: None,
            announced: None,
        }
    }

    /// Drops the connection and schedules the next attempt.
    fn failed(&mut self, e: &SourceError) {
        self.conn = None;
        let backoff = if e.is_config() {
            &mut self.config
        } else {
            &mut self.network
        };
        let wait = backoff.fail(fastrand::f64());
        self.retry_at = Some(Instant::now() + wait);
        tracing::warn!(
            error = %e,
            attempt = backoff.failures(),
            retry_in_s = wait.as_secs_f32(),
            "IMAP source unavailable; the service keeps running and tries again"
        );
    }

    async fn connection(&mut self) -> Result<&mut Opened, SourceError> {
        if self.conn.is_none() {
            let opened = connect::open(&self.settings).await;
            match opened {
                Ok(opened) => {
                    tracing::info!(
                        server = %self.settings.endpoint,
                        mailbox = %self.settings.mailbox,
                        uidvalidity = opened.uidvalidity,
                        idle = opened.idle,
                        "IMAP connected"
                    );
                    self.network.succeed();
                    self.config.succeed();
                    self.retry_at = None;
                    self.conn = Some(opened);
                }
                Err(e) => {
                    self.failed(&e);
                    return Err(e);
                }
            }
        }
        Ok(self.conn.as_mut().expect("connected above"))
    }

    fn lost(&mut self, what: &str, detail: impl ToString) -> SourceError {
        let e = SourceError::Server {
            what: format!("{what} on {} failed", self.settings.endpoint),
            detail: detail.to_string(),
            fix: "the service reconnects and tries again".to_owned(),
            config: false,
        };
        self.failed(&e);
        e
    }

    /// Fetches the next batch of bodies, which starts with `uid`.
    async fn fetch_batch(&mut self, uid: u32) -> Result<(), SourceError> {
        while self.queue.front().is_some_and(|(u, _)| *u < uid) {
            self.queue.pop_front();
        }
        let mut uids = Vec::new();
        let mut bytes = 0u64;
        while let Some(&(u, size)) = self.queue.front() {
            if !uids.is_empty() && (uids.len() >= BATCH_MESSAGES || bytes + size > BATCH_BYTES) {
                break;
            }
            uids.push(u);
            bytes += size;
            self.queue.pop_front();
        }
        if uids.is_empty() {
            uids.push(uid);
        }
        let set = uid_set(uids.clone());
        let Some(conn) = self.conn.as_mut() else {
            return Err(self.lost("FETCH", "not connected"));
        };
        let fetched = tokio::time::timeout(COMMAND_TIMEOUT, async {
            let stream = conn.session.uid_fetch(&set, "(UID BODY.PEEK[])").await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await;
        match fetched {
            Ok(Ok(fetches)) => {
                for f in fetches {
                    if let (Some(u), Some(body)) = (f.uid, f.body()) {
                        self.fetched.insert(u, body.to_vec());
                    }
                }
                Ok(())
            }
            Ok(Err(e)) => Err(self.lost("FETCH", e)),
            Err(_) => Err(self.lost("FETCH", "timed out")),
        }
    }

    /// True when the server already told us of new mail.
    fn news_waiting(conn: &Opened) -> bool {
        let mut news = false;
        while let Ok(r) = conn.session.unsolicited_responses.try_recv() {
            news |= matches!(
                r,
                UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
            );
        }
        news
    }

    async fn idle(&mut self, at_most: Duration) -> Result<(), SourceError> {
        let Some(Opened {
            session,
            uidvalidity,
            idle,
            can_move,
            uidplus,
        }) = self.conn.take()
        else {
            return Ok(());
        };
        let mut handle = session.idle();
        let woke = async {
            // A server that never answers the IDLE would hold the whole
            // service (and its lease) in this call: it gets the time any
            // command gets.
            tokio::time::timeout(COMMAND_TIMEOUT, handle.init())
                .await
                .map_err(|_| "starting IDLE timed out".to_owned())?
                .map_err(|e| e.to_string())?;
            let (wait, _stop) = handle.wait_with_timeout(at_most.min(IDLE_RENEW));
            // `_stop` ends the IDLE when dropped: it must outlive the wait.
            wait.await.map_err(|e| e.to_string())
        }
        .await;
        match woke {
            Ok(IdleResponse::NewData(_)) => tracing::debug!("IMAP IDLE: new mail"),
            Ok(_) => {}
            Err(e) => return Err(self.lost("IDLE", e)),
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, handle.done()).await {
            Ok(Ok(session)) => {
                self.conn = Some(Opened {
                    session,
                    uidvalidity,
                    idle,
                    can_move,
                    uidplus,
                });
                Ok(())
            }
            Ok(Err(e)) => Err(self.lost("ending IDLE", e)),
            Err(_) => Err(self.lost("ending IDLE", "timed out")),
        }
    }
}

#[async_trait]
impl Source for Imap {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pending(&mut self, delivered: &dyn Delivered) -> Result<Vec<String>, SourceError> {
        self.queue.clear();
        self.fetched.clear();
        self.broken = None;
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return Ok(Vec::new());
        }
        let uidvalidity = self.connection().await?.uidvalidity;
        let prefix = format!("{uidvalidity:010}:");
        let from = match delivered.last_with_prefix(&prefix).await? {
            Some(k) => parse_key(&k).map_or(1, |(_, uid)| uid.saturating_add(1)),
            None => {
                if self.announced.replace(uidvalidity) != Some(uidvalidity) {
                    tracing::info!(
                        uidvalidity,
                        "no checkpoint for this UIDVALIDITY: reading the whole mailbox; \
                         mail stored before is recognised by its Message-ID"
                    );
                }
                1
            }
        };
        let conn = self.conn.as_mut().expect("connected above");
        let listed = tokio::time::timeout(COMMAND_TIMEOUT, async {
            let stream = conn
                .session
                .uid_fetch(format!("{from}:*"), "(UID RFC822.SIZE)")
                .await?;
            stream.try_collect::<Vec<_>>().await
        })
        .await;
        let mut found: Vec<(u32, u64)> = match listed {
            Ok(Ok(fetches)) => fetches
                .iter()
                .filter_map(|f| Some((f.uid?, u64::from(f.size.unwrap_or(0)))))
                // `n:*` also names the last message when its UID is below n.
                .filter(|(uid, _)| *uid >= from)
                .collect(),
            Ok(Err(e)) => return Err(self.lost("UID FETCH", e)),
            Err(_) => return Err(self.lost("UID FETCH", "timed out")),
        };
        found.sort_unstable();
        found.dedup_by_key(|(uid, _)| *uid);
        let keys = found
            .iter()
            .map(|(uid, _)| key(uidvalidity, *uid))
            .collect();
        self.queue = found.into();
        Ok(keys)
    }

    async fn check(&mut self) -> Result<(), SourceError> {
        self.retry_at = None;
        self.connection().await.map(|_| ())
    }

    async fn read(&mut self, key: &str) -> Result<Vec<u8>, SourceError> {
        let refused = |detail: String| SourceError::Server {
            what: format!("cannot read {key}"),
            detail,
            fix: "it stays in the mailbox and is read on a later pass".to_owned(),
            config: false,
        };
        if let Some(why) = &self.broken {
            return Err(refused(format!("an earlier read failed: {why}")));
        }
        let Some((uidvalidity, uid)) = parse_key(key) else {
            return Err(refused("not a key of this source".to_owned()));
        };
        if self.conn.as_ref().map(|c| c.uidvalidity) != Some(uidvalidity) {
            self.broken = Some("the session changed".to_owned());
            return Err(refused("the session changed".to_owned()));
        }
        if !self.fetched.contains_key(&uid)
            && let Err(e) = self.fetch_batch(uid).await
        {
            self.broken = Some(e.to_string());
            return Err(e);
        }
        match self.fetched.remove(&uid) {
            Some(body) => Ok(body),
            None => {
                // Gone since it was listed (another client expunged it):
                // later mail must wait, or the checkpoint would pass it.
                self.broken = Some(format!("UID {uid} was not returned by the server"));
                Err(refused("the server did not return it".to_owned()))
            }
        }
    }

    async fn done(&mut self, keys: &[String]) -> Result<(), SourceError> {
        let uids: Vec<u32> = keys
            .iter()
            .filter_map(|k| parse_key(k))
            .filter(|(v, _)| self.conn.as_ref().is_some_and(|c| c.uidvalidity == *v))
            .map(|(_, uid)| uid)
            .collect();
        if uids.is_empty() {
            return Ok(());
        }
        let after = self.settings.after;
        let folder = self.settings.move_to.clone().unwrap_or_default();
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        // One command for the whole batch, over a UID set.
        let uid = uid_set(uids);
        let session = &mut conn.session;
        let result = tokio::time::timeout(COMMAND_TIMEOUT, async {
            match after {
                AfterProcessing::Seen => {
                    let s = session.uid_store(&uid, "+FLAGS.SILENT (\\Seen)").await?;
                    s.try_collect::<Vec<_>>().await?;
                }
                AfterProcessing::Move if conn.can_move => {
                    session.uid_mv(&uid, &folder).await?;
                }
                AfterProcessing::Move => {
                    // No MOVE: copy, then flag the original. It is expunged
                    // only where UIDPLUS lets us name it alone.
                    session.uid_copy(&uid, &folder).await?;
                    let s = session
                        .uid_store(&uid, "+FLAGS.SILENT (\\Seen \\Deleted)")
                        .await?;
                    s.try_collect::<Vec<_>>().await?;
                    if conn.uidplus {
                        let s = session.uid_expunge(&uid).await?;
                        s.try_collect::<Vec<_>>().await?;
                    }
                }
            }
            Ok::<(), async_imap::error::Error>(())
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.lost("marking mail as processed", e)),
            Err(_) => Err(self.lost("marking mail as processed", "timed out")),
        }
    }

    async fn wait(&mut self, at_most: Duration) {
        let Some(conn) = self.conn.as_ref() else {
            let until = self
                .retry_at
                .map_or(at_most, |at| at.saturating_duration_since(Instant::now()));
            tokio::time::sleep(until.min(at_most)).await;
            return;
        };
        if Self::news_waiting(conn) {
            return;
        }
        if !conn.idle {
            tokio::time::sleep(at_most).await;
            return;
        }
        // The error is logged by `lost`; the next pass reconnects.
        let _ = self.idle(at_most).await;
    }

    fn reached(&self) -> bool {
        self.conn.is_some()
    }

    async fn close(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), conn.session.logout()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_name_runs_once() {
        assert_eq!(uid_set(vec![9, 3, 4, 5, 12, 13, 4]), "3:5,9,12:13");
        assert_eq!(uid_set(vec![7]), "7");
    }

    #[test]
    fn keys_sort_as_the_server_numbered_the_mail() {
        let mut keys = vec![key(7, 10), key(7, 9), key(7, 100), key(7, u32::MAX)];
        keys.sort();
        assert_eq!(keys, [key(7, 9), key(7, 10), key(7, 100), key(7, u32::MAX)]);
        assert_eq!(
            parse_key(&key(4_000_000_000, 42)),
            Some((4_000_000_000, 42))
        );
        assert_eq!(parse_key("1700000000.M1P2.host"), None);
    }
}
