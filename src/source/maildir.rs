//! A Maildir: `new/` for unseen mail, `cur/` for mail a client has seen.
//!
//! A message's key is its unique name, the file name before the `:2,` info,
//! which stays the same when a client renames the file to change flags.

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
            if file_name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
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
        let skip = delivered.all().await?;
        let mut found = Vec::new();
        self.list("new", &mut found)?;
        self.list("cur", &mut found)?;
        // Unique names start with the delivery time: sorting is oldest first.
        found.sort();
        self.paths.clear();
        let mut keys = Vec::new();
        for (key, path) in found {
            if skip.contains(&key) || self.paths.contains_key(&key) {
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
        let path = self
            .paths
            .get(key)
            .cloned()
            .unwrap_or_else(|| self.root.join("new").join(key));
        tokio::fs::read(&path)
            .await
            .map_err(|source| SourceError::Read {
                what: path.display().to_string(),
                source,
            })
    }

    async fn done(&mut self, key: &str) -> Result<(), SourceError> {
        let Some(path) = self.paths.remove(key) else {
            return Ok(());
        };
        // Mail in new/ moves to cur/ with the info suffix, as a client would;
        // mail already in cur/ belongs to whoever put it there and stays put.
        if path.parent().and_then(Path::file_name) != Some("new".as_ref()) {
            return Ok(());
        }
        let target = self.root.join("cur").join(format!("{key}:2,S"));
        tokio::fs::rename(&path, &target)
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
    async fn lists_new_and_cur_once_and_moves_processed_mail() {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("new/2.b"), "Subject: b\n\nb").unwrap();
        std::fs::write(dir.path().join("cur/1.a:2,S"), "Subject: a\n\na").unwrap();
        std::fs::write(dir.path().join("tmp/0.partial"), "Subject: partial").unwrap();
        std::fs::write(dir.path().join("new/.hidden"), "x").unwrap();

        let mut md = Maildir::new(dir.path());
        let keys = md.pending(&HashSet::new()).await.unwrap();
        assert_eq!(keys, ["1.a", "2.b"]);
        assert_eq!(md.read("2.b").await.unwrap(), b"Subject: b\n\nb");
        md.done("2.b").await.unwrap();
        md.done("1.a").await.unwrap();
        assert!(dir.path().join("cur/2.b:2,S").is_file());
        assert!(dir.path().join("cur/1.a:2,S").is_file());
        assert!(!dir.path().join("new/2.b").exists());

        let skip: HashSet<String> = ["1.a".to_owned()].into();
        assert_eq!(md.pending(&skip).await.unwrap(), ["2.b"]);
    }
}
