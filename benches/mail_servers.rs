//! Run by hand: `cargo bench --bench mail_servers` (as root; it starts a
//! private Dovecot and Postfix like the tests do).
//!
//! 1. The time from a report's delivery into Dovecot to the arrival of its
//!    acknowledgement in the reporter's mailbox, with `embargo serve` idling
//!    (IMAP IDLE): 20 reports, one at a time; median, least and most.
//! 2. The ingest of a 10,000-mail mailbox (the first 10,000 mails of the
//!    shared r-devel archive) by `embargo run --once` over IMAPS, beside
//!    `mbsync` pulling the same mailbox from the same server.
//!
//! EMBARGO_BENCH_MAILS changes the 10,000; EMBARGO_FIXTURES points at the
//! shared fixtures (default: ../shared/fixtures).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::servers::{self, MailServers, Served, Wiring, address};
use common::{BIN, Site};

fn count_files(dir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .filter_map(|s| std::fs::read_dir(dir.join(s)).ok())
        .map(|rd| rd.count())
        .sum()
}

fn report(n: usize) -> Vec<u8> {
    format!(
        "From: Reporter <{r}>\r\nTo: {s}\r\nSubject: Latency probe {n}\r\n\
         Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <probe-{n}@reporter.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nA crash in the parser, probe {n}.\r\n",
        r = address("reporter"),
        s = address("security"),
    )
    .into_bytes()
}

fn latency(servers: &MailServers) {
    let site = Site::with_config(&servers::config(servers, &Wiring::tls()));
    let served = Served::start(&site.config(), &site.path("serve.log"));
    servers::wait_for(Duration::from_secs(10), || {
        served.log().contains("IMAP connected")
    })
    .expect("the service connects");
    std::thread::sleep(Duration::from_secs(1));
    let inbox = servers
        .dir()
        .join("mail")
        .join(address("reporter"))
        .join("Maildir");
    let mut took = Vec::new();
    for n in 0..20 {
        let before = count_files(&inbox);
        let start = Instant::now();
        servers.deliver(&address("reporter"), &address("security"), &report(n));
        while count_files(&inbox) == before {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no acknowledgement"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        took.push(start.elapsed());
        // Let the service settle back into IDLE.
        std::thread::sleep(Duration::from_millis(500));
    }
    took.sort();
    println!(
        "delivery to acknowledgement, 20 reports under IDLE: median {:.0} ms, least {:.0} ms, most {:.0} ms",
        took[10].as_secs_f64() * 1000.0,
        took[0].as_secs_f64() * 1000.0,
        took[19].as_secs_f64() * 1000.0
    );
}

/// The first `n` mails of the r-devel archive, unpacked under `into`.
fn archive_mails(into: &Path, n: usize) -> Vec<PathBuf> {
    let fixtures = std::env::var_os("EMBARGO_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    let archive = fixtures.join("archives/r-devel.maildir.tar.gz");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(status.success(), "cannot unpack {}", archive.display());
    let mut files = Vec::new();
    let mut stack = vec![into.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|s| s == "cur" || s == "new")
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files.truncate(n);
    files
}

fn peak_rss_kib(time_output: &str) -> Option<u64> {
    time_output
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
}

fn ingest(servers: &MailServers, n: usize) {
    // Fill a mailbox nobody else uses, then let Dovecot index it once, so
    // neither reader pays for that.
    let unpacked = tempfile::tempdir().unwrap();
    let mails = archive_mails(unpacked.path(), n);
    let maildir = servers
        .dir()
        .join("mail")
        .join(address("distro1"))
        .join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for (i, m) in mails.iter().enumerate() {
        std::fs::copy(
            m,
            maildir.join("new").join(format!("1800000000.M{i}P1.bench")),
        )
        .unwrap();
    }
    let status = Command::new("chown")
        .args(["-R", "mail:mail"])
        .arg(servers.dir().join("mail"))
        .status()
        .unwrap();
    assert!(status.success());
    let index = Instant::now();
    let status = Command::new("doveadm")
        .arg("-c")
        .arg(servers.dir().join("dovecot/dovecot.conf"))
        .args([
            "mailbox",
            "status",
            "-u",
            &address("distro1"),
            "messages",
            "INBOX",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    println!(
        "({} mails; Dovecot indexed them in {:.1} s)",
        mails.len(),
        index.elapsed().as_secs_f64()
    );

    // mbsync: a full pull of the same mailbox over IMAPS.
    let target = unpacked.path().join("mbsync");
    let config = mbsync_config(servers, &target);
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("mbsync")
        .arg("-c")
        .arg(&config)
        .args(["-a", "-q"])
        .output()
        .unwrap();
    let mbsync = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fetched = count_files(&target.join("INBOX"));
    let mbsync_rss = peak_rss_kib(&String::from_utf8_lossy(&out.stderr));

    // embargo: one pass over the same mailbox, outgoing mail to files.
    let config = servers::config(servers, &Wiring::tls())
        .replace("user = \"security@embargo.test\"\npassword_env = \"EMBARGO_TEST_PASSWORD\"\npoll_seconds = 30",
                 "user = \"distro1@embargo.test\"\npassword_env = \"EMBARGO_TEST_PASSWORD\"\npoll_seconds = 30");
    let sink_start = config.find("[sink]").unwrap();
    let store_start = config.find("[store]").unwrap();
    let config = format!(
        "{}[sink]\nkind = \"file\"\ndir = \"outbox\"\n\n{}",
        &config[..sink_start],
        &config[store_start..]
    );
    let site = Site::with_config(&config);
    let start = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(BIN)
        .arg("--config")
        .arg(site.config())
        .args(["run", "--once"])
        .env("EMBARGO_TEST_PASSWORD", servers::PASSWORD)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let embargo = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rss = peak_rss_kib(&stderr);

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "mbsync (isync) pull over IMAPS: {fetched} mails in {:.1} s ({:.0} mails/s), peak RSS {} MiB",
        mbsync.as_secs_f64(),
        rate(mbsync),
        mbsync_rss.map_or("?".into(), |k| (k / 1024).to_string())
    );
    println!(
        "embargo run --once over IMAPS (parse, thread, store, sign acknowledgements to files): {n} mails in {:.1} s ({:.0} mails/s), peak RSS {} MiB",
        embargo.as_secs_f64(),
        rate(embargo),
        rss.map_or("?".into(), |k| (k / 1024).to_string())
    );
}

fn mbsync_config(servers: &MailServers, target: &Path) -> PathBuf {
    std::fs::create_dir_all(target).unwrap();
    let path = target.join("mbsyncrc");
    std::fs::write(
        &path,
        format!(
            "IMAPAccount bench\nHost localhost\nPort {port}\nUser {user}\nPass {pass}\n\
             SSLType IMAPS\nCertificateFile {ca}\n\n\
             IMAPStore far\nAccount bench\n\n\
             MaildirStore near\nPath {dir}/\nInbox {dir}/INBOX\n\n\
             Channel pull\nFar :far:\nNear :near:\nPatterns INBOX\nSync Pull\nCreate Near\n\
             SyncState *\n",
            port = servers.imaps,
            user = address("distro1"),
            pass = servers::PASSWORD,
            ca = servers.ca_file().display(),
            dir = target.display(),
        ),
    )
    .unwrap();
    path
}

fn main() {
    // `cargo bench` passes --bench; nothing else is expected.
    let n = std::env::var("EMBARGO_BENCH_MAILS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let servers = MailServers::start();
    latency(&servers);
    ingest(&servers, n);
}
