//! Real mail servers for a test: a private Dovecot and Postfix started by
//! `tests/servers/start.sh` on free loopback ports, and the service
//! running against them as a child process.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

pub const DOMAIN: &str = "embargo.test";
pub const PASSWORD: &str = "secret";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/servers")
        .join(name)
}

/// A loopback port nothing listens on, and that no other test of any test
/// process on this machine is handed while this process lives. The kernel
/// may give the same free port to two tests that ask at the same moment
/// (neither has bound it yet); two servers of two tests on one port would
/// send one test's mail to the other's mailbox. The claim is an exclusive
/// lock on a file named after the port, held until the process exits.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static CLAIMS: Mutex<Vec<std::fs::File>> = Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("embargo-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    for _ in 0..1000 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let claim = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
            .unwrap();
        // A lock is per open file: this process's own earlier claim refuses
        // it too.
        if claim.try_lock().is_ok() {
            CLAIMS.lock().unwrap().push(claim);
            return port;
        }
    }
    panic!("no free loopback port without a claim in {}", dir.display());
}

pub fn address(user: &str) -> String {
    format!("{user}@{DOMAIN}")
}

pub struct MailServers {
    dir: Option<tempfile::TempDir>,
    pub imap: u16,
    pub imaps: u16,
    /// Where mail from outside arrives, without a login.
    pub mx: u16,
    /// Submission with STARTTLS and a login.
    pub smtp: u16,
    pub smtps: u16,
}

impl MailServers {
    pub fn start() -> MailServers {
        let dir = tempfile::Builder::new()
            .prefix("embargo-servers-")
            .tempdir()
            .unwrap();
        let s = MailServers {
            imap: free_port(),
            imaps: free_port(),
            mx: free_port(),
            smtp: free_port(),
            smtps: free_port(),
            dir: Some(dir),
        };
        let out = Command::new(script("start.sh"))
            .arg(s.dir())
            .args([s.imap, s.imaps, s.mx, s.smtp, s.smtps].map(|p| p.to_string()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the test mail servers did not start (tests/servers/start.sh):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        s
    }

    pub fn dir(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("tls/ca.crt")
    }

    fn control(&self, action: &str) {
        let out = Command::new(script("control.sh"))
            .arg(self.dir())
            .arg(action)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "control.sh {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn stop_imap(&self) {
        self.control("stop-imap");
    }

    pub fn start_imap(&self) {
        self.control("start-imap");
    }

    /// Has Postfix deliver what it queued and waits until nothing is left.
    pub fn flush_queue(&self) {
        self.control("flush-queue");
    }

    pub fn stop_smtp(&self) {
        self.control("stop-smtp");
    }

    pub fn start_smtp(&self) {
        self.control("start-smtp");
    }

    /// Every mail in a user's inbox, read from Dovecot's Maildir.
    pub fn mailbox(&self, user: &str) -> Vec<Vec<u8>> {
        let root = self.dir().join("mail").join(address(user)).join("Maildir");
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
                files.extend(rd.flatten().map(|e| e.path()));
            }
        }
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }

    /// Sends a mail to Postfix's MX port, as a reporter's mail server would
    /// hand it over.
    pub fn send(&self, from: &str, to: &str, bytes: &[u8]) {
        use lettre::Transport;
        let envelope =
            lettre::address::Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()])
                .unwrap();
        lettre::SmtpTransport::builder_dangerous("127.0.0.1")
            .port(self.mx)
            .build()
            .send_raw(&envelope, bytes)
            .unwrap_or_else(|e| panic!("Postfix refused a test mail: {e}"));
    }

    /// Hands a mail straight to Dovecot over LMTP, for when Postfix is down.
    pub fn deliver(&self, from: &str, to: &str, bytes: &[u8]) {
        let stream = UnixStream::connect(self.dir().join("dovecot/lmtp")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut expect = |code: &str| loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert!(line.starts_with(code), "LMTP: wanted {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        };
        expect("220");
        for (cmd, code) in [
            ("LHLO test".to_owned(), "250"),
            (format!("MAIL FROM:<{from}>"), "250"),
            (format!("RCPT TO:<{to}>"), "250"),
            ("DATA".to_owned(), "354"),
        ] {
            write!(writer, "{cmd}\r\n").unwrap();
            expect(code);
        }
        let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
        for line in text.lines() {
            let dot = if line.starts_with('.') { "." } else { "" };
            write!(writer, "{dot}{line}\r\n").unwrap();
        }
        write!(writer, ".\r\n").unwrap();
        expect("250");
        write!(writer, "QUIT\r\n").unwrap();
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        let _ = Command::new(script("stop.sh")).arg(self.dir()).output();
        if std::thread::panicking() {
            let kept = self.dir.take().unwrap().keep();
            eprintln!("server logs kept in {}", kept.display());
        }
    }
}

/// How the service reaches the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Implicit,
    Starttls,
    None,
}

impl Tls {
    fn name(self) -> &'static str {
        match self {
            Tls::Implicit => "implicit",
            Tls::Starttls => "starttls",
            Tls::None => "none",
        }
    }
}

/// The `[source]`, `[sink]` and the rest of a config for these servers.
pub struct Wiring {
    pub imap_tls: Tls,
    pub smtp_tls: Tls,
    /// `localhost` is the name in the test certificate.
    pub host: &'static str,
    pub imap_port: Option<u16>,
    pub smtp_port: Option<u16>,
    pub password_env: &'static str,
}

impl Wiring {
    pub fn tls() -> Wiring {
        Wiring {
            imap_tls: Tls::Implicit,
            smtp_tls: Tls::Starttls,
            host: "localhost",
            imap_port: None,
            smtp_port: None,
            password_env: "EMBARGO_TEST_PASSWORD",
        }
    }
}

pub fn config(servers: &MailServers, w: &Wiring) -> String {
    let imap_port = w.imap_port.unwrap_or(match w.imap_tls {
        Tls::Implicit => servers.imaps,
        _ => servers.imap,
    });
    let smtp_port = w.smtp_port.unwrap_or(match w.smtp_tls {
        Tls::Implicit => servers.smtps,
        _ => servers.smtp,
    });
    let ca = servers.ca_file();
    format!(
        r#"
[list]
name = "Test Project"
security_address = "security@{DOMAIN}"
src_address = "src@{DOMAIN}"
incident_prefix = "EMB"
key_file = "list-key.asc"

[[roster.members]]
name = "Alice"
email = "alice@{DOMAIN}"
company = "A Corp"

[[roster.members]]
name = "Bob"
email = "bob@{DOMAIN}"
company = "B Corp"

[roster.oncall]
rotation = ["alice@{DOMAIN}", "bob@{DOMAIN}"]
starts = 2026-01-05

[[announce]]
address = "announce@{DOMAIN}"

[acknowledgement]
rate_limit_minutes = 0

# Small batches: a kill lands between batches as well as inside one.
[limits]
batch_mails = 10

[outbox]
retry_seconds = 1
lease_seconds = 10

[source]
kind = "imap"
host = "{host}"
port = {imap_port}
tls = "{imap_tls}"
ca_file = "{ca}"
user = "security@{DOMAIN}"
password_env = "{env}"
poll_seconds = 30

[sink]
kind = "smtp"
host = "{host}"
port = {smtp_port}
tls = "{smtp_tls}"
ca_file = "{ca}"
user = "security@{DOMAIN}"
password_env = "{env}"
timeout_seconds = 5

[store]
kind = "sqlite"
path = "embargo.db"
"#,
        host = w.host,
        imap_tls = w.imap_tls.name(),
        smtp_tls = w.smtp_tls.name(),
        ca = ca.display(),
        env = w.password_env,
    )
}

/// `embargo serve` as a child process, its log in a file.
pub struct Served {
    child: Child,
    log: PathBuf,
}

impl Served {
    pub fn start(config: &Path, log: &Path) -> Served {
        Served::start_with(config, log, &[])
    }

    /// With more environment, such as the database URL.
    pub fn start_with(config: &Path, log: &Path, env: &[(&str, &str)]) -> Served {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["--config", config.to_str().unwrap(), "serve"])
            .env("EMBARGO_TEST_PASSWORD", PASSWORD)
            .env("RUST_LOG", "info")
            .env_remove("EMBARGO_CONFIG")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Served {
            child,
            log: log.to_owned(),
        }
    }

    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.pid());
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("--- embargo serve log ---\n{}", self.log());
        }
    }
}

/// Polls `what` until it holds or `limit` passes; says how long it took.
pub fn wait_for(limit: Duration, mut what: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if what() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    what().then(|| start.elapsed())
}

/// A header's value, unfolded.
pub fn header(mail: &[u8], name: &str) -> Option<String> {
    let m = mail_parser::MessageParser::default().parse(mail)?;
    m.header_raw(name)
        .map(|v| v.trim().replace("\r\n", "").replace('\n', ""))
}

pub fn message_ids(mails: &[Vec<u8>]) -> Vec<String> {
    mails
        .iter()
        .filter_map(|m| header(m, "Message-ID"))
        .collect()
}

/// `GET path` on 127.0.0.1:port, as a monitoring system would: the status
/// and the body; status 0 when nothing answers.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    if stream.read_to_string(&mut response).is_err() {
        return (0, String::new());
    }
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The value of one series in a Prometheus text scrape, written as it
/// appears (`name{label="value"}`); `None` when it is not there.
pub fn metric(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}
