//! A Maildir: `new/` for mail no one has looked at, `cur/` for mail a
//! client has.
//!
//! A message's key is its unique name, the file name before the `:2,` info,
//! which stays the same when a client renames the file to change flags.
//! What waits is everything in `new/` and what in `cur/` is not flagged
//! seen (`S`); embargo flags seen what it stored. So a pass lists only
//! what is waiting and never needs the whole delivery history: a Maildir
//! that grows for years costs each pass no more than its unseen mail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Delivered, Source, SourceError};

pub struct Maildir {
    root: PathBuf,
    name: String,
    /// Where each pending key was last seen.
    paths: HashMap<String, PathBuf>,
}

/// Whether a file name's info carries the seen flag (`:2,…S…`).
fn seen(file_name: &str) -> bool {
    file_name
        .split_once(":2,")
        .is_some_and(|(_, flags)| flags.contains('S'))
}

/// The file name with the seen flag added to its info (flags in ASCII order).
fn with_seen(unique: &str, file_name: &str) -> String {
    let flags = file_name.split_once(":2,").map_or("", |(_, f)| f);
    let mut flags: Vec<char> = flags.chars().chain(['S']).collect();
    flags.sort_unstable();
    flags.dedup();
    format!("{unique}:2,{}", flags.into_iter().collect::<String>())
}

/// The unique name of a Maildir file: everything before the info suffix.
pub fn unique_name(file_name: &str) -> &str {
    file_name.split_once(':').map_or(file_name, |(u, _)| u)
}

impl Maildir {
    pub fn new(root: &Path) -> Self {
        Maildir {
            root: root.to_owned(),
            name: format!("maildir:{}", root.display()),
            paths: HashMap::new(),
        }
    }

    /// The entries of `sub` that wait: all of `new/`; in `cur/`, those not
    /// flagged seen.
    fn list(&self, sub: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), SourceError> {
        let dir = self.root.join(sub);
        let entries = std::fs::read_dir(&dir).map_err(|source| SourceError::List {
            what: dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(file_name) = file_name.to_str() else {
                tracing::warn!(file = ?entry.path(), "skipping a Maildir file whose name is not UTF-8");
                continue;
            };
            if file_name.starts_with('.') || (sub == "cur" && seen(file_name)) {
                continue;
            }
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            out.push((unique_name(file_name).to_owned(), entry.path()));
        }
        Ok(())
    }
}

#[async_trait]
impl Source for Maildir {
    fn name(&self) -> &str {
        &self.name
    }

    async fn pending(&mut self, delivered: &dyn Delivered) -> Result<Vec<String>, SourceError> {
        let mut found = Vec::new();
        self.list("new", &mut found)?;
        self.list("cur", &mut found)?;
        // Unique names start with the delivery time: sorting is oldest first.
        found.sort();
        found.dedup_by(|a, b| a.0 == b.0);
        // Stored already, but not yet marked (a crash between the two).
        let listed: Vec<String> = found.iter().map(|(k, _)| k.clone()).collect();
        let skip = delivered.among(&listed).await?;
        self.paths.clear();
        let mut keys = Vec::new();
        for (key, path) in found {
            if skip.contains(&key) {
                // Mark it now, so that it is not listed again.
                self.mark(&path, &key).await?;
                continue;
            }
            self.paths.insert(key.clone(), path);
            keys.push(key);
        }
        Ok(keys)
    }

    async fn check(&mut self) -> Result<(), SourceError> {
        let mut found = Vec::new();
        self.list("new", &mut found)?;
        self.list("cur", &mut found)
    }

    async fn read(&mut self, key: &str) -> Result<Vec<u8>, SourceError> {
        let path = self.path_of(key);
        tokio::fs::read(&path)
            .await
            .map_err(|source| SourceError::Read {
                what: path.display().to_string(),
                source,
            })
    }

    /// One blocking task for the whole batch, not a thread hand-off per file.
    async fn read_batch(
        &mut self,
        keys: &[String],
        budget: usize,
    ) -> Vec<Result<Vec<u8>, SourceError>> {
        let paths: Vec<PathBuf> = keys.iter().map(|k| self.path_of(k)).collect();
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            let mut bytes = 0;
            for path in paths {
                let read = std::fs::read(&path).map_err(|source| SourceError::Read {
                    what: path.display().to_string(),
                    source,
                });
                let stop = read.as_ref().map_or(true, |raw| {
                    bytes += raw.len();
                    bytes >= budget
                });
                out.push(read);
                if stop {
                    break;
                }
            }
            out
        })
        .await;
        read.unwrap_or_else(|e| {
            vec![Err(SourceError::Read {
                what: self.root.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })]
        })
    }

    async fn done(&mut self, keys: &[String]) -> Result<(), SourceError> {
        let moves: Vec<(PathBuf, PathBuf)> = keys
            .iter()
            .filter_map(|key| {
                let path = self.paths.remove(key)?;
                let target = self.seen_path(&path, key);
                Some((path, target))
            })
            .collect();
        tokio::task::spawn_blocking(move || {
            for (from, to) in moves {
                std::fs::rename(&from, &to).map_err(|source| SourceError::Done {
                    what: from.display().to_string(),
                    source,
                })?;
            }
            Ok(())
        })
        .await
        .map_err(|e| SourceError::Done {
            what: "a batch".to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

impl Maildir {
    fn path_of(&self, key: &str) -> PathBuf {
        self.paths
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.root.join("new").join(key))
    }

    /// Where a stored message goes, flagged seen as a client would: from
    /// `new/` it moves to `cur/`; in `cur/` only its flags change.
    fn seen_path(&self, path: &Path, key: &str) -> PathBuf {
        let file_name = path.file_name().and_then(|f| f.to_str()).unwrap_or(key);
        self.root.join("cur").join(with_seen(key, file_name))
    }

    /// Flags one stored message seen.
    async fn mark(&self, path: &Path, key: &str) -> Result<(), SourceError> {
        let target = self.seen_path(path, key);
        tokio::fs::rename(path, &target)
            .await
            .map_err(|source| SourceError::Done {
                what: path.display().to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn unique_names_drop_the_info() {
        assert_eq!(
            unique_name("1700000000.M1P2.host:2,S"),
            "1700000000.M1P2.host"
        );
        assert_eq!(unique_name("1700000000.M1P2.host"), "1700000000.M1P2.host");
    }

    #[tokio::test]
    async fn lists_what_waits_and_flags_what_was_stored_seen() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("new/2.b"), "Subject: b\n\nb").unwrap();
        // A client looked at this one but did not read it: it waits.
        std::fs::write(dir.path().join("cur/1.a:2,R"), "Subject: a\n\na").unwrap();
        // Seen: stored before (or read by a person); not listed again.
        std::fs::write(dir.path().join("cur/0.z:2,S"), "Subject: z\n\nz").unwrap();
        std::fs::write(dir.path().join("tmp/0.partial"), "Subject: partial").unwrap();
        std::fs::write(dir.path().join("new/.hidden"), "x").unwrap();

        let mut md = Maildir::new(dir.path());
        let keys = md.pending(&HashSet::new()).await.unwrap();
        assert_eq!(keys, ["1.a", "2.b"]);
        assert_eq!(md.read("2.b").await.unwrap(), b"Subject: b\n\nb");
        md.done(&keys).await.unwrap();
        assert!(dir.path().join("cur/2.b:2,S").is_file());
        assert!(dir.path().join("cur/1.a:2,RS").is_file());
        assert!(!dir.path().join("new/2.b").exists());
        assert!(md.pending(&HashSet::new()).await.unwrap().is_empty());

        // Stored, but a crash came before it was flagged: flagged now, not
        // listed.
        std::fs::write(dir.path().join("new/3.c"), "Subject: c\n\nc").unwrap();
        let stored: HashSet<String> = ["3.c".to_owned()].into();
        assert!(md.pending(&stored).await.unwrap().is_empty());
        assert!(dir.path().join("cur/3.c:2,S").is_file());
    }
}
