//! Helpers for tests that run the `embargo` binary on a temporary directory.
#![allow(dead_code)]

pub mod gpg;
pub mod postgres;
pub mod servers;
pub mod team;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_embargo");

pub fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A directory laid out for the service: a Maildir, an outbox, a config.
pub struct Site {
    pub dir: tempfile::TempDir,
    seq: std::cell::Cell<u32>,
}

pub const BASE_CONFIG: &str = r#"
[list]
name = "Test Project"
security_address = "security@example.org"
src_address = "src@example.org"
incident_prefix = "EMB"
key_file = "list-key.asc"

[[roster.members]]
name = "Alice"
email = "alice@example.org"
company = "A Corp"
fingerprint = "6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9"

[[roster.members]]
name = "Bob"
email = "bob@example.net"
company = "B Corp"
fingerprint = "1C3E5A7B9D0F2468ACE013579BDF02468ACE1357"

[roster.oncall]
rotation = ["alice@example.org", "bob@example.net"]
starts = 2026-01-05

[[announce]]
address = "announce@example.org"

[source]
kind = "maildir"
path = "maildir"
poll_seconds = 1

[sink]
kind = "file"
dir = "outbox"

[store]
kind = "sqlite"
path = "embargo.db"
"#;

impl Site {
    pub fn new() -> Site {
        Site::with_config(BASE_CONFIG)
    }

    pub fn with_config(config: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["maildir/new", "maildir/cur", "maildir/tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::fs::write(dir.path().join("embargo.toml"), config).unwrap();
        write_list_key(&dir.path().join("list-key.asc"));
        Site {
            dir,
            seq: std::cell::Cell::new(0),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config(&self) -> PathBuf {
        self.path("embargo.toml")
    }

    /// Delivers a mail into `new/` as a mail delivery agent would.
    pub fn deliver(&self, bytes: &[u8]) -> String {
        let n = self.seq.get() + 1;
        self.seq.set(n);
        let name = format!("{}.M{n}P1.test", 1_800_000_000 + n);
        let tmp = self.path("maildir/tmp").join(&name);
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.path("maildir/new").join(&name)).unwrap();
        name
    }

    pub fn embargo(&self, args: &[&str]) -> Output {
        let config = self.config();
        let mut full = vec!["--config", config.to_str().unwrap()];
        full.extend_from_slice(args);
        run(&full)
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.embargo(args);
        assert!(
            out.status.success(),
            "embargo {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        serde_json::from_str(&self.ok(&with_json)).unwrap()
    }

    pub fn outbox(&self) -> Vec<Sent> {
        sent_mail(&self.path("outbox"))
    }

    pub fn files(&self, sub: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(sub))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// A new list key, readable by its owner only; its public part beside it.
pub fn write_list_key(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let key = embargo::pgp::generate(
        "Test Project Security <security@example.org>",
        // Well before any simulated clock a test sets.
        "2025-01-01T00:00:00Z".parse().unwrap(),
    )
    .unwrap();
    std::fs::write(path, embargo::pgp::secret_armored(&key)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        path.with_extension("pub.asc"),
        embargo::pgp::public_armored(&key),
    )
    .unwrap();
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("EMBARGO_CONFIG")
        .output()
        .expect("the embargo binary runs")
}

/// A mail the file sink wrote, read back.
#[derive(Debug, Clone)]
pub struct Sent {
    pub file: PathBuf,
    pub envelope_to: Vec<String>,
    pub envelope_from: String,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub subject: String,
    pub to: Vec<String>,
    pub from: String,
    pub auto_submitted: Option<String>,
    pub text: String,
    pub raw: Vec<u8>,
}

pub fn sent_mail(dir: &Path) -> Vec<Sent> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in rd.flatten() {
        let file = entry.path();
        if file.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        // lettre writes the mail, then its envelope: a mail whose envelope
        // is not written yet is still being sent by a running service.
        let Some(envelope) = std::fs::read(file.with_extension("json"))
            .ok()
            .and_then(|j| serde_json::from_slice::<serde_json::Value>(&j).ok())
        else {
            continue;
        };
        let raw = std::fs::read(&file).unwrap();
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .unwrap_or_else(|| panic!("{} does not parse as mail", file.display()));
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address.as_deref().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
        };
        out.push(Sent {
            envelope_to: envelope["forward_path"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect(),
            envelope_from: envelope["reverse_path"].as_str().unwrap().to_owned(),
            message_id: m.message_id().unwrap_or("").to_owned(),
            in_reply_to: m.in_reply_to().as_text().map(str::to_owned),
            subject: m.subject().unwrap_or("").to_owned(),
            to: addrs(m.to()),
            from: addrs(m.from()).join(","),
            auto_submitted: m.header_raw("Auto-Submitted").map(|s| s.trim().to_owned()),
            text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            file,
            raw,
        });
    }
    out.sort_by(|a, b| a.message_id.cmp(&b.message_id));
    out
}

/// A plain mail with the given extra headers.
pub fn mail(from: &str, subject: &str, id: &str, extra: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: security@example.org\r\nSubject: {subject}\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <{id}>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Body of {id}.\r\n"
    )
    .into_bytes()
}

/// What an encrypted mail shows to every relay and mail log: its headers,
/// decoded, and every byte outside the PGP message.
pub fn outside_ciphertext(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let start = text
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("an encrypted mail");
    let end = text.find("-----END PGP MESSAGE-----").unwrap();
    let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
    format!("{}{}\n{:?}", &text[..start], &text[end..], msg.headers())
}
