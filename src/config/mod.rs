//! The configuration: one TOML file, read into domain types once.
//!
//! Relative paths in the file are relative to the file's own directory, so
//! the service finds the same files whatever directory it is started from.

mod diagnostic;
mod file;
mod read;
mod servers;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use file::{AfterProcessing, TlsMode};
pub use servers::is_loopback;

use crate::core::roster::Roster;
use crate::core::slot::SlotRules;

pub const DEFAULT_PATH: &str = "config/embargo.toml";

#[derive(Debug, Clone)]
pub struct ListIdentity {
    pub name: String,
    pub security_address: String,
    pub src_address: String,
    pub incident_prefix: String,
    /// The list's secret key.
    pub key_file: PathBuf,
    pub public_key: PublicKey,
}

/// How readers learn the list's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    Attach,
    Reference { url: Option<String> },
}

impl ListIdentity {
    /// The domain of the Message-IDs the service writes.
    pub fn domain(&self) -> &str {
        self.security_address
            .rsplit_once('@')
            .map_or("embargo.invalid", |(_, d)| d)
    }

    /// Mail from these addresses is the service's own.
    pub fn own_addresses(&self) -> Vec<String> {
        vec![self.security_address.clone(), self.src_address.clone()]
    }
}

#[derive(Debug, Clone)]
pub struct Distributor {
    pub name: String,
    pub email: String,
    pub fingerprint: Option<String>,
    pub key_file: Option<PathBuf>,
    pub encrypt: bool,
    pub require_encryption: bool,
}

/// Where the roster's public keys are: a shared keyring, and each
/// member's own file (aligned with `roster.members`).
#[derive(Debug, Clone, Default)]
pub struct RosterKeys {
    pub keyring: Option<PathBuf>,
    pub files: Vec<Option<PathBuf>>,
    /// Aligned with `roster.release_managers`.
    pub release_manager_files: Vec<Option<PathBuf>>,
}

#[derive(Debug, Clone)]
pub struct AnnounceChannel {
    pub address: String,
    pub subject_prefix: String,
}

#[derive(Debug, Clone)]
pub enum SourceSettings {
    Maildir {
        path: PathBuf,
        poll_interval: Duration,
    },
    Imap(ImapSettings),
}

impl SourceSettings {
    /// How long the service waits between passes when no mail wakes it.
    pub fn poll_interval(&self) -> Duration {
        match self {
            SourceSettings::Maildir { poll_interval, .. } => *poll_interval,
            SourceSettings::Imap(imap) => imap.poll_interval,
        }
    }
}

#[derive(Debug, Clone)]
pub enum SinkSettings {
    File { dir: PathBuf },
    Smtp(SmtpSettings),
}

/// Where a secret (a password, a database URL holding one) is: an
/// environment variable or a file named in the config, never the config
/// itself. It is read when a connection is made,
/// so a rotated password file is picked up at the next reconnect and
/// commands that never connect do not need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    Env(String),
    File(PathBuf),
}

impl Secret {
    /// The secret, or what to fix; `field` names it as the config does
    /// without the `_env`/`_file` ending, e.g. `sink.password`.
    pub fn reveal(&self, field: &str) -> Result<String, String> {
        match self {
            Secret::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => Err(format!(
                    "{field}_env: the environment variable {name} is not set or empty: \
                     set it in the service's environment (for systemd, EnvironmentFile=)"
                )),
            },
            Secret::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    let value = text.trim_end_matches(['\r', '\n']);
                    if value.is_empty() {
                        Err(format!(
                            "{field}_file: {} is empty: write the secret in it",
                            path.display()
                        ))
                    } else {
                        Ok(value.to_owned())
                    }
                }
                Err(e) => Err(format!(
                    "{field}_file: cannot read {}: {e}; check the path and that the \
                     service's user may read it",
                    path.display()
                )),
            },
        }
    }
}

/// A mail server and how to reach it safely.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The config section it came from, for messages that name the setting to fix.
    pub section: &'static str,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Trusted instead of the system's roots when set.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub endpoint: Endpoint,
    pub user: String,
    pub password: Secret,
    pub mailbox: String,
    pub after: AfterProcessing,
    /// The folder mail is moved to when `after` is `Move`.
    pub move_to: Option<String>,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub endpoint: Endpoint,
    pub login: Option<(String, Secret)>,
    pub hello_name: String,
    pub pool_size: u32,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum StoreSettings {
    Sqlite {
        path: PathBuf,
    },
    /// Shared by every replica of the service.
    Postgres {
        url: Secret,
        max_connections: u32,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings came from.
    pub origin: PathBuf,
    pub list: ListIdentity,
    pub roster: Roster,
    pub roster_keys: RosterKeys,
    pub distributors: Vec<Distributor>,
    pub announce: Vec<AnnounceChannel>,
    pub source: SourceSettings,
    pub sink: SinkSettings,
    pub store: StoreSettings,
    /// When disclosures may happen.
    pub schedule: SlotRules,
    /// Zones the notices show the disclosure time in, beside UTC.
    pub time_zones: Vec<String>,
    pub ack_rate_limit: SignedDuration,
    /// Acknowledge only senders this MTA authenticated (`None`: anyone).
    pub trusted_authserv_id: Option<String>,
    /// How many Received headers the team's own servers add on top of an
    /// incoming mail: results below them were written by someone else.
    pub own_received_headers: usize,
    /// The headers that file a new report as spam, and what counts as yes.
    pub spam_headers: Vec<crate::core::sender_auth::SpamHeader>,
    /// Reminders at most for a report still `reported`; the weekly digest
    /// lists it afterwards.
    pub untriaged_reminders_max: u32,
    /// Commands signed longer ago than this are refused.
    pub max_signature_age: SignedDuration,
    pub max_message_bytes: usize,
    /// How much mail is taken in per transaction.
    pub batch: BatchSettings,
    pub outbox: OutboxSettings,
    /// Who publishes the CVE record, OSV and CSAF; `None` when the config
    /// has no `[advisory]`, and then none is made.
    pub advisory: Option<crate::advisory::Publisher>,
    /// Where `serve` answers `/healthz`, `/readyz` and `/metrics`; `None`
    /// (no `[observe]`): nowhere.
    pub observe: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    pub mails: usize,
    /// A batch ends once the mail read reaches this many bytes.
    pub bytes: usize,
}

#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub lease: SignedDuration,
    /// Fault injection for crash tests (EMBARGO_PAUSE_AFTER_CLAIM_MS): a
    /// pause between claiming mail and sending it. Never set in production.
    pub pause_after_claim: Option<Duration>,
    /// The first wait after a temporary sending failure; it doubles up to an hour.
    pub retry: SignedDuration,
    /// Each mail goes out with its own return path, so a bounce names it.
    pub verp: bool,
}

/// Settings that can run, and the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub warnings: Vec<Diagnostic>,
}

/// Reads and checks a config file. On failure, every problem found is in
/// the error, not just the first.
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut d = Diagnostics::default();
        d.error(
            "",
            format!(
                "cannot read {}: {e}; pass --config FILE, or copy {DEFAULT_PATH} from the \
                 embargo repository and edit it",
                path.display()
            ),
        );
        d
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    load_str(&text, base, path)
}

/// Only the `[schedule]` section, for commands that need no more: the
/// process's defaults when the file does not exist.
pub fn load_schedule(path: &Path) -> Result<SlotRules, Diagnostics> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(SlotRules::default());
    };
    let mut diags = Diagnostics::default();
    let sections = read::read(&text, &mut diags);
    let relevant: Vec<Diagnostic> = diags
        .0
        .into_iter()
        .filter(|d| {
            d.severity == Severity::Error && (d.path.is_empty() || d.path.starts_with("schedule"))
        })
        .collect();
    if !relevant.is_empty() {
        return Err(Diagnostics(relevant));
    }
    let mut blackout = sections.schedule.blackout;
    blackout.sort();
    blackout.dedup();
    Ok(SlotRules {
        hour: sections.schedule.slot_hour.min(23),
        blackout,
        advance_notice: advance_notice(sections.schedule.advance_notice_days),
    })
}

/// As [`load`], for text already read; relative paths resolve against `base`.
pub fn load_str(text: &str, base: &Path, origin: &Path) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::default();
    let sections = read::read(text, &mut diags);
    // A file that is not TOML has nothing else to say: checking the empty
    // reading of it would only add warnings about what it seems to lack.
    if diags.has_errors() && diags.0.iter().all(|d| d.path.is_empty()) {
        return Err(diags);
    }
    match validate::validate(sections, base, origin, &mut diags) {
        Some(settings) if !diags.has_errors() => Ok(Loaded {
            settings,
            warnings: diags.0,
        }),
        _ => Err(diags),
    }
}

impl Settings {
    /// What `check-config` says about return paths (`[outbox] verp`): what
    /// the mail server has to do for them, or what is lost without them.
    pub fn return_path_note(&self) -> String {
        let example =
            crate::core::bounce::return_path(&self.list.security_address, Some("<token>"));
        if self.outbox.verp {
            format!(
                "note: outbox.verp: each mail goes out with its own return path ({example}), \
                 so a bounce names the mail it is about; your mail server must deliver those \
                 addresses to the security mailbox (Postfix: recipient_delimiter = +; Dovecot: \
                 recipient_delimiter = +, its default). If it cannot, set [outbox] verp = false."
            )
        } else {
            "note: outbox.verp = false: mail goes out from the security address itself; a bounce \
             is matched by the Message-ID and recipient it returns, which a forger who knows \
             them can name too"
                .to_owned()
        }
    }

    /// Every password the config points at that cannot be read, as
    /// `check-config` reports them.
    pub fn password_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let SourceSettings::Imap(imap) = &self.source
            && let Err(e) = imap.password.reveal("source.password")
        {
            out.push(e);
        }
        if let SinkSettings::Smtp(SmtpSettings {
            login: Some((_, password)),
            ..
        }) = &self.sink
            && let Err(e) = password.reveal("sink.password")
        {
            out.push(e);
        }
        if let StoreSettings::Postgres { url, .. } = &self.store
            && let Err(e) = url.reveal("store.url")
        {
            out.push(e);
        }
        out
    }
}

/// `[schedule] advance_notice_days` as a duration; validation keeps it in 1..=90.
fn advance_notice(days: u32) -> SignedDuration {
    SignedDuration::from_hours(i64::from(days.clamp(1, 90)) * 24)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sender_auth::SpamHeader;

    #[test]
    fn advisory_settings_the_formats_would_refuse_are_errors_that_say_the_fix() {
        let text = "[advisory]\nvendor = \"Example\"\nproduct = \"frob\"\n\
            ecosystem = \"Go\"\ncna_org_id = \"example\"\ncna_short_name = \"x\"\n\
            osv_prefix = \"EMB\"\nannouncement_url = \"example.org/{id}\"\n\
            publisher_namespace = \"https://example.org\"\n";
        let d = load_str(text, Path::new("."), Path::new("embargo.toml"))
            .err()
            .unwrap()
            .to_string();
        for want in [
            "advisory.cna_org_id",
            "is not a UUID",
            "advisory.cna_short_name",
            "advisory.announcement_url",
            "advisory.package",
            "use \"x_EMB\"",
        ] {
            assert!(d.contains(want), "{want}: {d}");
        }
        assert!(!d.contains("advisory.publisher_namespace"), "{d}");
    }

    #[test]
    fn observe_listens_nowhere_unless_asked_and_on_loopback_when_only_a_port_is_given() {
        let with = |extra: &str| load_demo(&format!("{}\n{extra}\n", crate::demo::CONFIG));
        let at = |a: &str| Some(a.parse::<std::net::SocketAddr>().unwrap());
        assert_eq!(with("").unwrap().settings.observe, None);
        assert_eq!(
            with("[observe]").unwrap().settings.observe,
            at("127.0.0.1:9187")
        );
        let port = with("[observe]\nlisten = \"9300\"").unwrap();
        assert_eq!(port.settings.observe, at("127.0.0.1:9300"));
        assert!(!port.warnings.iter().any(|d| d.path == "observe.listen"));
        let open = with("[observe]\nlisten = \"0.0.0.0:9187\"").unwrap();
        assert_eq!(open.settings.observe, at("0.0.0.0:9187"));
        assert!(
            open.warnings
                .iter()
                .any(|d| d.path == "observe.listen" && d.message.contains("ask for no password")),
            "{:?}",
            open.warnings
        );
        let bad = with("[observe]\nlisten = \"localhost\"")
            .err()
            .unwrap()
            .to_string();
        assert!(
            bad.contains("observe.listen") && bad.contains("write \"127.0.0.1:9187\""),
            "{bad}"
        );
    }

    #[test]
    fn a_file_that_is_not_toml_gets_that_error_alone() {
        let d = load_str("[list\nname = 1", Path::new("."), Path::new("embargo.toml"))
            .err()
            .unwrap();
        assert_eq!(d.0.len(), 1, "{d}");
        assert!(d.to_string().contains("not valid TOML"), "{d}");
    }

    /// The demo config as edited, loaded beside the files it names (the
    /// demo's own do not exist here), so that all of it is checked.
    fn load_demo(text: &str) -> Result<Loaded, Diagnostics> {
        let dir = tempfile::tempdir().unwrap();
        for d in ["keys", "maildir/new", "maildir/cur", "maildir/tmp"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(dir.path().join("list-key.asc"), "").unwrap();
        load_str(text, dir.path(), Path::new("embargo.toml"))
    }

    /// Every diagnostic about `[acknowledgement]` for the demo config with
    /// these lines added to it.
    fn acknowledgement_diags(lines: &str) -> Vec<diagnostic::Diagnostic> {
        let text = crate::demo::CONFIG.replace(
            "[acknowledgement]\n",
            &format!("[acknowledgement]\n{lines}\n"),
        );
        let diags = match load_demo(&text) {
            Ok(loaded) => loaded.warnings,
            Err(d) => d.0,
        };
        diags
            .into_iter()
            .filter(|d| d.path.starts_with("acknowledgement"))
            .collect()
    }

    fn spam_headers_of(lines: &str) -> (Vec<SpamHeader>, Diagnostics) {
        let ack: file::AcknowledgementSection = toml::from_str(lines).unwrap();
        let mut diags = Diagnostics::default();
        (validate::spam_headers(&ack, &mut diags), diags)
    }

    #[test]
    fn without_a_trusted_mta_check_config_says_what_it_lets_through() {
        let w = acknowledgement_diags("");
        assert!(
            w.iter().any(|d| d.severity == diagnostic::Severity::Warning
                && d.path == "acknowledgement.trusted_authserv_id"
                && d.message.contains("forged sender")
                && d.message.contains("backscatter")),
            "{w:?}"
        );
        assert!(
            acknowledgement_diags("trusted_authserv_id = \"mx.example.org\"").is_empty(),
            "set: no warning"
        );
        assert_eq!(spam_headers_of("").0, SpamHeader::defaults());
        assert_eq!(file::ScheduleSection::default().untriaged_reminders_max, 3);
    }

    #[test]
    fn spam_headers_are_read_and_bad_ones_refused_saying_how_to_write_them() {
        let (read, diags) = spam_headers_of(
            "spam_headers = [{ header = \"X-Rspamd-Spam\", yes = \"true\" }, \
             { header = \" X-Spam-Flag \", yes = \"YES\" }]",
        );
        assert!(diags.0.is_empty(), "{diags}");
        assert_eq!(
            read,
            [
                SpamHeader {
                    header: "X-Rspamd-Spam".into(),
                    yes: "true".into()
                },
                SpamHeader {
                    header: "X-Spam-Flag".into(),
                    yes: "YES".into()
                }
            ]
        );
        for (entry, want) in [
            (
                "{ header = \"X-Spam-Flag:\", yes = \"YES\" }",
                "without the colon",
            ),
            (
                "{ header = \"X-Junk\", yes = \"YES\" }",
                "does not contain \"spam\"",
            ),
            (
                "{ header = \"X-Spam-Status\", yes = \"Yes, score\" }",
                "must be one word",
            ),
            ("{ header = \"X-Spam\" }", "yes"),
        ] {
            let d = acknowledgement_diags(&format!("spam_headers = [{entry}]"));
            assert!(
                d.iter().any(|d| d.severity == diagnostic::Severity::Error
                    && d.path.starts_with("acknowledgement")
                    && d.message.contains(want)),
                "{entry}: {d:?}"
            );
        }
        let (empty, diags) = spam_headers_of("spam_headers = []");
        assert!(empty.is_empty());
        assert!(
            diags
                .0
                .iter()
                .any(|d| d.path == "acknowledgement.spam_headers"),
            "an empty list is allowed, and warned of"
        );
    }
}
