//! Run by hand: `cargo bench --bench ingest` (notmuch must be installed:
//! `apt-get install -y notmuch`). IMAP against mbsync is `cargo bench
//! --bench mail_servers`.
//!
//! 1. A Maildir of every shared real mail (`../shared/fixtures/mail/*/*`
//!    and the r-devel archive, unpacked): `embargo run --once` and
//!    `notmuch new` on the same files, one after the other: mails/s, the
//!    ratio, peak RSS.
//! 2. Generated Maildirs of 10,000 and 100,000 mails (threads of a report
//!    and its replies): embargo's time per mail at each size.
//!
//! Work happens in /dev/shm when it has room (so the disk of a shared
//! machine does not decide), else in /var/tmp. EMBARGO_FIXTURES points at
//! the shared fixtures (default: ../shared/fixtures).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_embargo");

/// Wall time and peak RSS (VmHWM) of a command, and its standard error.
struct Ran {
    took: Duration,
    peak_kib: u64,
    stderr: String,
}

fn run(cmd: &mut Command) -> Ran {
    let errfile = tempfile::NamedTempFile::new().unwrap();
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(errfile.reopen().unwrap())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(hwm) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak_kib = hwm
                .split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(peak_kib)
                .max(peak_kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(errfile.path()).unwrap_or_default();
    assert!(status.success(), "{cmd:?} failed:\n{stderr}");
    Ran {
        took,
        peak_kib,
        stderr,
    }
}

fn workdir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let room = Command::new("df")
        .args(["--output=avail", "-k", "/dev/shm"])
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .nth(1)
                .and_then(|l| l.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    let base = if shm.is_dir() && room > 4 * 1024 * 1024 {
        shm.to_owned()
    } else {
        PathBuf::from("/var/tmp")
    };
    let dir = base.join("embargo-bench-ingest");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn maildir(root: &Path) {
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
}

/// The shared real mail, every file, into `root/new` in a stable order.
fn real_mail(fixtures: &Path, root: &Path, scratch: &Path) -> usize {
    maildir(root);
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in std::fs::read_dir(fixtures.join("mail")).unwrap().flatten() {
        if dir.path().is_dir() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|e| e == "eml") {
                    files.push(f.path());
                }
            }
        }
    }
    let archive = fixtures.join("archives/r-devel.maildir.tar.gz");
    let unpacked = scratch.join("r-devel");
    std::fs::create_dir_all(&unpacked).unwrap();
    assert!(
        Command::new("tar")
            .arg("-C")
            .arg(&unpacked)
            .arg("-xzf")
            .arg(&archive)
            .status()
            .unwrap()
            .success()
    );
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(unpacked.join(sub)) {
            files.extend(rd.flatten().map(|e| e.path()));
        }
    }
    files.sort();
    for (n, f) in files.iter().enumerate() {
        let to = root.join("new").join(format!("{:010}.M{n}.bench", n + 1));
        std::fs::rename(f, &to)
            .or_else(|_| std::fs::copy(f, &to).map(|_| ()))
            .unwrap();
    }
    files.len()
}

/// `n` generated mails: threads of a report and up to five replies.
fn generated(root: &Path, n: usize) {
    maildir(root);
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut written = 0;
    let mut thread = 0;
    while written < n {
        thread += 1;
        let replies = (next() % 6) as usize;
        for r in 0..=replies.min(n - written - 1) {
            let id = format!("t{thread}-{r}@gen.example");
            let parent =
                (r > 0).then(|| format!("In-Reply-To: <t{thread}-{}@gen.example>\r\n", r - 1));
            let body = "A line of text in the generated report about the parser.\r\n"
                .repeat(8 + (next() % 60) as usize);
            let mail = format!(
                "From: Person {p} <p{p}@gen.example>\r\nTo: security@example.org\r\n\
                 Subject: {re}Report {thread}\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
                 Message-ID: <{id}>\r\n{}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}",
                parent.unwrap_or_default(),
                p = next() % 5000,
                re = if r > 0 { "Re: " } else { "" },
            );
            written += 1;
            std::fs::write(
                root.join("new")
                    .join(format!("{written:010}.M{written}.gen")),
                mail,
            )
            .unwrap();
        }
    }
}

/// A site for embargo in `dir`: config, list key, the Maildir at `md`.
fn site(dir: &Path, md: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("outbox")).unwrap();
    let key = dir.join("list-key.asc");
    let out = Command::new(BIN)
        .args([
            "keys",
            "generate",
            "--uid",
            "Bench <security@example.org>",
            "--out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let config = dir.join("embargo.toml");
    std::fs::write(
        &config,
        format!(
            "[list]\nname = \"Bench\"\nsecurity_address = \"security@example.org\"\n\
             src_address = \"src@example.org\"\nincident_prefix = \"EMB\"\nkey_file = \"{}\"\n\n\
             [[roster.members]]\nname = \"Alice\"\nemail = \"alice@example.org\"\ncompany = \"A\"\n\n\
             [roster.oncall]\nrotation = [\"alice@example.org\"]\nstarts = 2026-01-05\n\n\
             [[announce]]\naddress = \"announce@example.org\"\n\n\
             [source]\nkind = \"maildir\"\npath = \"{}\"\n\n\
             [sink]\nkind = \"file\"\ndir = \"{}\"\n\n\
             [store]\nkind = \"sqlite\"\npath = \"{}\"\n",
            key.display(),
            md.display(),
            dir.join("outbox").display(),
            dir.join("embargo.db").display()
        ),
    )
    .unwrap();
    config
}

/// The intake's own rate, from its last progress line.
fn intake_rate(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| l.contains("mails/s"))
        .and_then(|l| l.split(" mails, ").nth(1))
        .and_then(|l| l.split(" mails/s").next())
        .unwrap_or("?")
        .to_owned()
}

fn embargo(dir: &Path, md: &Path) -> Ran {
    let config = site(dir, md);
    run(Command::new(BIN)
        .args(["--config"])
        .arg(&config)
        .args(["run", "--once"])
        .env("RUST_LOG", "warn,embargo::service::progress=info"))
}

/// Reply→parent links (In-Reply-To, the link notmuch threads by too)
/// where both mails were filed: how many ended in the same incident.
fn links_agree(db: &Path) -> (usize, usize) {
    use sqlx::Row;
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=ro", db.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let rows = sqlx::query(
            "SELECT message_id, incident_id, in_reply_to FROM messages WHERE incident_id IS NOT NULL",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let mut incidents: std::collections::HashMap<String, Vec<String>> = Default::default();
        let mut replies = Vec::new();
        for r in &rows {
            let id: String = r.get("message_id");
            let incident: String = r.get("incident_id");
            let parents: Vec<String> =
                serde_json::from_str(r.get::<&str, _>("in_reply_to")).unwrap_or_default();
            if let Some(parent) = parents.first() {
                replies.push((parent.clone(), incident.clone()));
            }
            incidents.entry(id).or_default().push(incident);
        }
        let mut links = 0;
        let mut agree = 0;
        for (parent, incident) in replies {
            if let Some(found) = incidents.get(&parent) {
                links += 1;
                agree += usize::from(found.contains(&incident));
            }
        }
        (agree, links)
    })
}

fn main() {
    let fixtures = std::env::var_os("EMBARGO_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
        PathBuf::from,
    );
    let work = workdir();
    println!("working in {}", work.display());

    // 1. The real mail, embargo then notmuch on the same files.
    let md = work.join("real/md");
    let n = real_mail(&fixtures, &md, &work);
    let copy = work.join("real/md-notmuch");
    assert!(
        Command::new("cp")
            .args(["-al"])
            .arg(&md)
            .arg(&copy)
            .status()
            .unwrap()
            .success()
    );
    let e = embargo(&work.join("real/embargo"), &md);
    let per_s = |took: Duration| n as f64 / took.as_secs_f64();
    println!(
        "real mail, {n} mails: embargo run --once {:.1} s ({:.0} mails/s; intake {} mails/s), peak RSS {} MiB",
        e.took.as_secs_f64(),
        per_s(e.took),
        intake_rate(&e.stderr),
        e.peak_kib / 1024
    );
    let (agree, links) = links_agree(&work.join("real/embargo/embargo.db"));
    println!(
        "real mail: {agree} of {links} reply-to-parent links end in the parent's incident ({:.2}%)",
        100.0 * agree as f64 / links.max(1) as f64
    );
    if Command::new("notmuch").arg("--version").output().is_ok() {
        let nm_config = work.join("real/notmuch-config");
        std::fs::write(
            &nm_config,
            format!(
                "[database]\npath={}\n[new]\ntags=unread;\n[maildir]\nsynchronize_flags=false\n",
                copy.display()
            ),
        )
        .unwrap();
        let nm = run(Command::new("notmuch")
            .arg("new")
            .env("NOTMUCH_CONFIG", &nm_config));
        println!(
            "real mail, {n} mails: notmuch new {:.1} s ({:.0} mails/s), peak RSS {} MiB; embargo is {:.1}x as fast",
            nm.took.as_secs_f64(),
            per_s(nm.took),
            nm.peak_kib / 1024,
            nm.took.as_secs_f64() / e.took.as_secs_f64()
        );
    } else {
        println!("notmuch is not installed (apt-get install -y notmuch): no comparison");
    }
    let _ = std::fs::remove_dir_all(work.join("real"));

    // 2. Generated mail: does the time per mail hold as the mailbox grows?
    let mut per_mail = Vec::new();
    for n in [10_000, 100_000] {
        let md = work.join(format!("gen{n}/md"));
        generated(&md, n);
        let e = embargo(&work.join(format!("gen{n}/embargo")), &md);
        let us = e.took.as_secs_f64() * 1e6 / n as f64;
        println!(
            "generated, {n} mails: embargo run --once {:.1} s ({:.0} us per mail; intake {} mails/s), peak RSS {} MiB",
            e.took.as_secs_f64(),
            us,
            intake_rate(&e.stderr),
            e.peak_kib / 1024
        );
        per_mail.push(us);
        let _ = std::fs::remove_dir_all(work.join(format!("gen{n}")));
    }
    println!(
        "time per mail at 100,000 mails is {:.2}x that at 10,000",
        per_mail[1] / per_mail[0]
    );
    let _ = std::fs::remove_dir_all(&work);
}
