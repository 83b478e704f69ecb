//! Every real mail under the shared fixtures goes through `run --once`:
//! none may be lost, none may stop the run, none may be processed twice.
//!
//! Ignored by plain `cargo test`, because the mail lives outside the
//! repository; `.ci/run` runs it with EMBARGO_FIXTURES set to that folder.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::*;
use embargo::store::{SqliteStore, Store};

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("EMBARGO_FIXTURES")
        .expect("set EMBARGO_FIXTURES to the shared fixtures folder (.ci/run does)");
    PathBuf::from(dir)
}

fn mail_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![root.join("mail")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n != "MANIFEST.tsv" && n != "README.md")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

/// Unpacks the archived Maildir (its `cur/` files) into `into`.
fn archive_files(root: &Path, into: &Path) -> Vec<PathBuf> {
    let archive = root.join("archives/r-devel.maildir.tar.gz");
    if !archive.is_file() {
        return Vec::new();
    }
    std::fs::create_dir_all(into).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(into)
        .arg("-xzf")
        .arg(&archive)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "tar could not unpack {}",
        archive.display()
    );
    let mut files = Vec::new();
    let mut dirs = vec![into.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the shared fixtures; .ci/run runs it"]
async fn every_real_mail_is_kept_exactly_once() {
    let root = fixtures_dir();
    let site = Site::new();
    let mut files = mail_files(&root);
    let unpacked = site.path("unpacked");
    files.extend(archive_files(&root, &unpacked));
    assert!(
        files.len() > 6000,
        "only {} files under {}",
        files.len(),
        root.display()
    );

    // Deliver every file into new/, remembering which key holds which file.
    let mut by_key: HashMap<String, PathBuf> = HashMap::new();
    for (n, file) in files.iter().enumerate() {
        let key = format!("{}.M{n}P1.fixtures", 1_700_000_000 + n);
        let target = site.path("maildir/new").join(&key);
        if std::fs::hard_link(file, &target).is_err() {
            std::fs::copy(file, &target).unwrap();
        }
        by_key.insert(key, file.clone());
    }
    let _ = std::fs::remove_dir_all(&unpacked);

    let started = Instant::now();
    let out = site.embargo(&["run", "--once"]);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "run --once failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "ingested {} real mails in {:.1} s",
        files.len(),
        took.as_secs_f64()
    );

    assert!(
        site.files("maildir/new").is_empty(),
        "mail left unprocessed in new/"
    );
    assert_eq!(site.files("maildir/cur").len(), files.len());

    let store = SqliteStore::open(&site.path("embargo.db")).await.unwrap();
    let source = format!("maildir:{}", site.path("maildir").display());
    let deliveries = store.deliveries(&source).await.unwrap();
    assert_eq!(
        deliveries.len(),
        files.len(),
        "one delivery record per file"
    );

    let mut outcomes: HashMap<&str, usize> = HashMap::new();
    for d in &deliveries {
        *outcomes.entry(d.outcome.as_str()).or_default() += 1;
        let original =
            std::fs::read(site.path("maildir/cur").join(format!("{}:2,S", d.key))).unwrap();
        let stored = store
            .raw_message(d.message)
            .await
            .unwrap()
            .expect("the delivery's message is stored");
        match d.outcome.as_str() {
            "filed" | "quarantined" => assert_eq!(
                stored,
                original,
                "{} ({}) is not stored byte for byte",
                d.key,
                by_key[&d.key].display()
            ),
            "duplicate" => {
                // A duplicate is the same Message-ID with the same body, or,
                // for what cannot be parsed, the same bytes.
                match (
                    embargo::parse::parse(original.clone(), usize::MAX, None),
                    embargo::parse::parse(stored.clone(), usize::MAX, None),
                ) {
                    (Ok(a), Ok(b)) => assert_eq!(
                        (a.message_id, a.body_digest),
                        (b.message_id, b.body_digest),
                        "{}",
                        d.key
                    ),
                    _ => assert_eq!(original, stored, "{}", d.key),
                }
            }
            other => panic!("unknown outcome {other}"),
        }
    }
    println!("outcomes: {outcomes:?}");

    let counts = store.counts().await.unwrap();
    assert_eq!(
        counts.messages + counts.quarantined + counts.duplicates,
        files.len() as u64
    );
    assert_eq!(counts.outbox_failed, 0);
    assert_eq!(counts.outbox_pending, 0, "everything due was sent");

    // Every incident's SRC copy went out; nothing was sent twice.
    let sent = site.outbox();
    let copies = sent
        .iter()
        .filter(|m| m.message_id.contains(".src-copy."))
        .count();
    assert_eq!(copies as u64, counts.incidents);
    let mut ids: Vec<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "a Message-ID was sent twice");

    // A second pass over the same Maildir processes nothing again.
    site.ok(&["run", "--once"]);
    assert_eq!(store.counts().await.unwrap(), counts);
}
