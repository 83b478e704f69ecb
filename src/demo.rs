//! `embargo demo`: the embedded default, end to end, on the demo mail in
//! `fixtures/demo/`. Mail arrives over a simulated morning; after each
//! arrival the service makes one pass, as `serve` would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::clock::ManualClock;
use crate::config::{self, Diagnostics, SinkSettings, SourceSettings};
use crate::crypto::Crypto;
use crate::service::{IngestReport, SendReport, Service, never_stop};
use crate::store::{Counts, IncidentRecord, StoreError, StoredMessage};
use crate::{keyring, pgp};

/// The demo's configuration, written into its output directory.
pub const CONFIG: &str = include_str!("../config/demo.toml");

/// The simulated morning starts here (a Tuesday, in the past, so that
/// GnuPG finds nothing signed in the future).
pub const START: &str = "2026-11-10T08:55:00Z";

/// Each demo mail and the minute, after [`START`], at which it arrives.
pub const MAILS: &[(&str, i64, &[u8])] = &[
    (
        "01-report.eml",
        0,
        include_bytes!("../fixtures/demo/01-report.eml"),
    ),
    (
        "03-html-report.eml",
        7,
        include_bytes!("../fixtures/demo/03-html-report.eml"),
    ),
    (
        "02-reply-in-reply-to.eml",
        25,
        include_bytes!("../fixtures/demo/02-reply-in-reply-to.eml"),
    ),
    (
        "10-accept.eml",
        35,
        include_bytes!("../fixtures/demo/10-accept.eml"),
    ),
    (
        "04-duplicate-delivery.eml",
        36,
        include_bytes!("../fixtures/demo/04-duplicate-delivery.eml"),
    ),
    (
        "05-out-of-office.eml",
        45,
        include_bytes!("../fixtures/demo/05-out-of-office.eml"),
    ),
    (
        "07-second-report.eml",
        55,
        include_bytes!("../fixtures/demo/07-second-report.eml"),
    ),
    (
        "06-list-mail.eml",
        65,
        include_bytes!("../fixtures/demo/06-list-mail.eml"),
    ),
    (
        "08-tagged-followup.eml",
        95,
        include_bytes!("../fixtures/demo/08-tagged-followup.eml"),
    ),
    (
        "09-not-a-mail.eml",
        100,
        include_bytes!("../fixtures/demo/09-not-a-mail.eml"),
    ),
    (
        "11-plan.eml",
        110,
        include_bytes!("../fixtures/demo/11-plan.eml"),
    ),
    (
        "12-forged-command.eml",
        120,
        include_bytes!("../fixtures/demo/12-forged-command.eml"),
    ),
    // The reporter follows up once the incident has a Fix Lead and a Fix
    // Team: the relay brings it to the SRC list, Alice and the maintainer.
    (
        "14-follow-up.eml",
        133,
        include_bytes!("../fixtures/demo/14-follow-up.eml"),
    ),
    (
        "13-approve.eml",
        155,
        include_bytes!("../fixtures/demo/13-approve.eml"),
    ),
    (
        "15-reply.eml",
        165,
        include_bytes!("../fixtures/demo/15-reply.eml"),
    ),
];

/// After the morning's mail, the simulated clock jumps to the moments the
/// timeline turns on: the 24-hour warning, the slot, a day after it.
pub const LATER: &[&str] = &[
    "2026-11-30T16:00:00Z",
    "2026-12-01T16:00:00Z",
    "2026-12-02T16:00:00Z",
];

/// The SRC members' public keys, for checking the signed commands above
/// (made by fixtures/demo/make-signed-mail.sh).
pub const KEYS: &[(&str, &[u8])] = &[
    (
        "alice.asc",
        include_bytes!("../fixtures/demo/keys/alice.asc"),
    ),
    (
        "bongani.asc",
        include_bytes!("../fixtures/demo/keys/bongani.asc"),
    ),
    ("chen.asc", include_bytes!("../fixtures/demo/keys/chen.asc")),
];

/// Marks a directory as the demo's own, so a second run may replace it.
const MARKER: &str = ".embargo-demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "{0} exists, is not empty and was not written by `embargo demo`: choose another directory with --out"
    )]
    NotOurs(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the demo configuration is broken:\n{0}")]
    Config(Diagnostics),
    #[error(transparent)]
    Key(#[from] pgp::KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Service(#[from] crate::service::ServiceError),
    #[error(transparent)]
    Sink(#[from] crate::sink::SinkError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One mail the demo wrote to the outbox directory.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub to: Vec<String>,
    pub subject: String,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub out: PathBuf,
    pub config: PathBuf,
    /// The fingerprint of the list key every mail is signed with.
    pub list_key: String,
    pub delivered: usize,
    pub ingested: IngestReport,
    pub sent: SendReport,
    pub counts: Counts,
    pub incidents: Vec<IncidentRecord>,
    pub quarantined: Vec<StoredMessage>,
    pub files: Vec<WrittenFile>,
}

/// Empties (or creates) `out` and lays out a Maildir and the config in it.
fn prepare(out: &Path) -> Result<PathBuf, DemoError> {
    if out.exists() {
        let ours = out.join(MARKER).is_file();
        let empty = std::fs::read_dir(out).map_err(io(out))?.next().is_none();
        if !ours && !empty {
            return Err(DemoError::NotOurs(out.to_owned()));
        }
        if ours {
            std::fs::remove_dir_all(out).map_err(io(out))?;
        }
    }
    for sub in [
        "maildir/new",
        "maildir/cur",
        "maildir/tmp",
        "outbox",
        "keys",
    ] {
        let dir = out.join(sub);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    }
    let marker = out.join(MARKER);
    std::fs::write(
        &marker,
        "written by `embargo demo`; the next run replaces this directory\n",
    )
    .map_err(io(&marker))?;
    let config = out.join("embargo.toml");
    std::fs::write(&config, CONFIG).map_err(io(&config))?;
    for (name, key) in KEYS {
        let path = out.join("keys").join(name);
        std::fs::write(&path, key).map_err(io(&path))?;
    }
    // A fresh list key for each demo, made the day before its morning.
    let start: Timestamp = START.parse().expect("START is a valid timestamp");
    let key = pgp::generate(
        "Example Project Security <security@example.org>",
        start - SignedDuration::from_hours(24),
    )
    .map_err(DemoError::Key)?;
    let secret = out.join("list-key.asc");
    write_private(&secret, &pgp::secret_armored(&key))?;
    let public = out.join("list-key.pub.asc");
    std::fs::write(&public, pgp::public_armored(&key)).map_err(io(&public))?;
    Ok(config)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DemoError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))
}

fn written_files(dir: &Path) -> Result<Vec<WrittenFile>, DemoError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let parsed = mail_parser::MessageParser::default().parse(&bytes);
        let (to, subject) = parsed.map_or_else(Default::default, |m| {
            let to = m
                .to()
                .map(|a| {
                    a.iter()
                        .filter_map(|a| a.address.as_deref().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (to, m.subject().unwrap_or("").to_owned())
        });
        files.push(WrittenFile { path, to, subject });
    }
    files.sort_by(|a, b| a.subject.cmp(&b.subject).then(a.path.cmp(&b.path)));
    Ok(files)
}

pub async fn run(out: &Path) -> Result<Summary, DemoError> {
    let config_path = prepare(out)?;
    let loaded = config::load(&config_path).map_err(DemoError::Config)?;
    let settings = Arc::new(loaded.settings);
    let store = crate::store::open(&settings.store).await?;
    let mut lock = store.lock_ingest().await?;
    let (SourceSettings::Maildir { path: maildir, .. }, SinkSettings::File { dir: outbox }) =
        (&settings.source, &settings.sink)
    else {
        unreachable!("the demo writes its own config: a Maildir in, files out");
    };
    let sink = crate::sink::open(&settings.sink)?;
    let start: Timestamp = START.parse().expect("START is a valid timestamp");
    let clock = Arc::new(ManualClock::new(start));
    let keys = keyring::load(&settings, start).map_err(DemoError::Config)?;
    let list_key = keys.report.list_key.fingerprint.clone();
    let service = Service::new(
        settings.clone(),
        store.clone(),
        clock.clone(),
        Crypto::new(keys.pgp),
    );
    let mut source = crate::source::open(&settings.source);
    let stop = never_stop();

    let mut ingested = IngestReport::default();
    let mut sent = SendReport::default();
    for (i, (name, minute, bytes)) in MAILS.iter().enumerate() {
        let at = start + SignedDuration::from_mins(*minute);
        clock.set(at);
        // A Maildir unique name: delivery time, a sequence number, a host.
        let stem = name.trim_end_matches(".eml");
        let file = maildir
            .join("new")
            .join(format!("{}.M{i}P1.demo-{stem}", at.as_second()));
        std::fs::write(&file, bytes).map_err(io(&file))?;
        let (i, s) = service
            .run_once(source.as_mut(), sink.as_ref(), &stop, &mut lock)
            .await?;
        ingested.seen += i.seen;
        ingested.filed += i.filed;
        ingested.opened.extend(i.opened);
        ingested.duplicates += i.duplicates;
        ingested.quarantined += i.quarantined;
        ingested.deferred += i.deferred;
        sent.sent += s.sent;
        sent.retrying += s.retrying;
        sent.failed += s.failed;
    }

    for at in LATER {
        clock.set(at.parse().expect("LATER holds valid timestamps"));
        let (_, s) = service
            .run_once(source.as_mut(), sink.as_ref(), &stop, &mut lock)
            .await?;
        sent.sent += s.sent;
        sent.retrying += s.retrying;
        sent.failed += s.failed;
    }

    let mut incidents = Vec::new();
    for summary in store.incidents().await? {
        if let Some(record) = store.incident(&summary.incident.id).await? {
            incidents.push(record);
        }
    }
    Ok(Summary {
        out: out.to_owned(),
        config: config_path,
        list_key,
        delivered: MAILS.len(),
        ingested,
        sent,
        counts: store.counts().await?,
        incidents,
        quarantined: store.quarantined().await?,
        files: written_files(outbox)?,
    })
}

/// The summary as a person reads it.
pub fn render(s: &Summary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let c = &s.counts;
    let _ = writeln!(o, "embargo demo: Maildir in, SQLite, signed .eml out\n");
    let _ = writeln!(o, "  output     {}", s.out.display());
    let _ = writeln!(o, "  config     {}", s.config.display());
    let _ = writeln!(
        o,
        "  list key   {} (every mail below is signed with it)",
        s.list_key
    );
    let _ = writeln!(
        o,
        "\n{} mails delivered over a simulated morning (from {START}), then the clock moves to {}:\n  {} filed on {} incidents, {} duplicate delivery, {} kept in quarantine\n  {} mails written to the outbox\n",
        s.delivered,
        LATER.join(", "),
        c.messages,
        c.incidents,
        c.duplicates,
        c.quarantined,
        s.sent.sent
    );
    let mut relayed: Vec<&crate::core::event::Event> = s
        .incidents
        .iter()
        .flat_map(|rec| &rec.events)
        .filter(|e| e.kind == crate::core::event::EventKind::RelayQueued)
        .collect();
    relayed.sort_by_key(|e| e.at);
    let _ = writeln!(
        o,
        "Relayed to the incident's insiders (the SRC list, the Fix Lead, the Fix Team), signed,\nthe original attached: {} mails on existing incidents",
        relayed.len()
    );
    for e in &relayed {
        let _ = writeln!(
            o,
            "  {}  <{}>\n      {}",
            e.at.strftime("%m-%d %H:%M"),
            e.message_id.as_deref().unwrap_or(""),
            e.detail
        );
    }
    o.push('\n');
    for rec in &s.incidents {
        let inc = &rec.incident;
        o.push_str(&crate::core::status::status_text(inc));
        let _ = writeln!(o, "  messages     {}", rec.messages.len());
        for m in &rec.messages {
            let how = m.joined_via.as_deref().map_or_else(
                || "opened the incident".to_owned(),
                |v| format!("joined by {v}"),
            );
            let _ = writeln!(
                o,
                "    {}  {:<28} {}",
                m.received_at.strftime("%m-%d %H:%M"),
                m.from.as_ref().map_or("(no sender)", |f| f.email.as_str()),
                how
            );
        }
        let _ = writeln!(o, "  events (the log the incident replays from)");
        for e in &rec.events {
            let _ = writeln!(
                o,
                "    {}  {:<26} {}",
                e.at.strftime("%m-%d %H:%M"),
                e.kind.as_str(),
                crate::notice::header_text(&e.detail, 150)
            );
        }
        o.push('\n');
    }
    if !s.quarantined.is_empty() {
        let _ = writeln!(
            o,
            "Kept in quarantine (not a readable mail; bytes stored, SRC told):"
        );
        for q in &s.quarantined {
            let _ = writeln!(
                o,
                "  row {}  {} bytes  {}",
                q.id,
                q.size,
                q.quarantine_reason.as_deref().unwrap_or("")
            );
        }
        o.push('\n');
    }
    let _ = writeln!(o, "Files written ({}):", s.files.len());
    for f in &s.files {
        let _ = writeln!(o, "  {}", f.path.display());
        let _ = writeln!(o, "      to {}: {}", f.to.join(", "), f.subject);
    }
    let cfg = s.config.display();
    let _ = writeln!(o, "\nLook closer:");
    let _ = writeln!(
        o,
        "  gpg --import {}    then open any .eml in a PGP/MIME mail client (see the README)",
        s.out.join("list-key.pub.asc").display()
    );
    let _ = writeln!(o, "  embargo --config {cfg} incidents");
    if let Some(first) = s.incidents.first() {
        let _ = writeln!(o, "  embargo --config {cfg} show {}", first.incident.id);
    }
    o
}
