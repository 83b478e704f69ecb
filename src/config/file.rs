//! The TOML file, as written. Every section rejects unknown keys, so a typo
//! is an error rather than a silently ignored setting.

use std::path::PathBuf;

use jiff::civil::Date;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSection {
    pub name: String,
    pub security_address: String,
    pub src_address: String,
    #[serde(default = "default_prefix")]
    pub incident_prefix: String,
    /// The list's secret key, as `embargo keys generate` writes it.
    pub key_file: PathBuf,
    #[serde(default)]
    pub public_key: PublicKeyMode,
    pub public_key_url: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublicKeyMode {
    /// Named in an `OpenPGP:` header (with `public_key_url` when given).
    #[default]
    Reference,
    /// Attached to every mail, inside the signed part.
    Attach,
}

fn default_prefix() -> String {
    "EMB".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    pub name: String,
    pub email: String,
    pub company: String,
    pub fingerprint: Option<String>,
    /// Their public key; or find it in `[roster] keyring`.
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub on_leave: bool,
}

/// A release manager: in the roster to approve notices, not an SRC member.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseManagerEntry {
    pub name: String,
    pub email: String,
    pub fingerprint: Option<String>,
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OncallSection {
    pub rotation: Vec<String>,
    pub starts: Date,
    #[serde(default = "default_shift_days")]
    pub shift_days: u32,
}

fn default_shift_days() -> u32 {
    7
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributorEntry {
    pub name: String,
    pub email: String,
    pub fingerprint: Option<String>,
    pub key_file: Option<PathBuf>,
    /// Send them embargoed notices encrypted to their key.
    #[serde(default)]
    pub encrypt: bool,
    /// Never send them an embargoed notice in clear: without a usable key, fail.
    #[serde(default)]
    pub require_encryption: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnounceEntry {
    pub address: String,
    #[serde(default = "default_announce_prefix")]
    pub subject_prefix: String,
}

fn default_announce_prefix() -> String {
    "[Security Advisory]".to_owned()
}

// The `kind` key picks the variant; `read` splits it off before reading the
// rest, so that errors inside a variant keep their field paths.

#[derive(Debug)]
pub enum SourceSection {
    Maildir(MaildirSource),
    Imap(ImapSource),
}

/// How a connection to a mail server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte (IMAP 993, SMTP 465).
    Implicit,
    /// Plain greeting, then STARTTLS, required (IMAP 143, SMTP 587).
    Starttls,
    /// No TLS at all: only for a server on a loopback address.
    None,
}

/// What becomes of a mail in the mailbox once it is stored. Never deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterProcessing {
    Seen,
    Move,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapSource {
    pub host: String,
    pub port: Option<u16>,
    pub tls: TlsMode,
    /// A PEM file of the CA to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    pub user: String,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    #[serde(default = "default_after")]
    pub after: AfterProcessing,
    pub move_to: Option<String>,
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

fn default_mailbox() -> String {
    "INBOX".to_owned()
}

fn default_after() -> AfterProcessing {
    AfterProcessing::Seen
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaildirSource {
    pub path: PathBuf,
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

fn default_poll_seconds() -> u64 {
    30
}

#[derive(Debug)]
pub enum SinkSection {
    File(FileSink),
    Smtp(SmtpSink),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSink {
    pub host: String,
    pub port: Option<u16>,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    /// Without a user the server is used without AUTH (a local relay).
    pub user: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The name given in EHLO; the list's domain when unset.
    pub hello_name: Option<String>,
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    #[serde(default = "default_smtp_timeout")]
    pub timeout_seconds: u64,
}

fn default_pool_size() -> u32 {
    4
}

fn default_smtp_timeout() -> u64 {
    60
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSink {
    pub dir: PathBuf,
}

#[derive(Debug)]
pub enum StoreSection {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// The URL holds the database password, so it comes from the environment
/// or a file like every other secret.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresStore {
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
    #[serde(default = "default_pg_connections")]
    pub max_connections: u32,
}

fn default_pg_connections() -> u32 {
    8
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteStore {
    pub path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    #[serde(default = "default_slot_hour")]
    pub slot_hour: u8,
    #[serde(default)]
    pub blackout: Vec<Date>,
    /// How long before the disclosure the distributors must have the advance notice.
    #[serde(default = "default_advance_notice_days")]
    pub advance_notice_days: u32,
    /// IANA zones (e.g. "Europe/Berlin") the notices show the disclosure in, beside UTC.
    #[serde(default = "default_time_zones")]
    pub time_zones: Vec<String>,
    /// How many reminders at most chase a report nobody has accepted yet;
    /// after that the weekly digest lists it.
    #[serde(default = "default_untriaged_reminders_max")]
    pub untriaged_reminders_max: u32,
}

fn default_untriaged_reminders_max() -> u32 {
    3
}

fn default_time_zones() -> Vec<String> {
    ["America/Los_Angeles", "Europe/Berlin", "Asia/Tokyo"]
        .map(String::from)
        .to_vec()
}

fn default_slot_hour() -> u8 {
    16
}

fn default_advance_notice_days() -> u32 {
    7
}

impl Default for ScheduleSection {
    fn default() -> Self {
        ScheduleSection {
            slot_hour: default_slot_hour(),
            blackout: Vec::new(),
            advance_notice_days: default_advance_notice_days(),
            time_zones: default_time_zones(),
            untriaged_reminders_max: default_untriaged_reminders_max(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgementSection {
    #[serde(default = "default_rate_limit_minutes")]
    pub rate_limit_minutes: u32,
    /// The receiving MTA's authserv-id in Authentication-Results.
    #[serde(default)]
    pub trusted_authserv_id: Option<String>,
    /// How many Received headers the team's own servers add on top.
    #[serde(default = "default_own_received_headers")]
    pub own_received_headers: u32,
    /// The headers by which the receiving MTA marks spam, and the word that
    /// means yes; `None`: SpamAssassin's and rspamd's.
    #[serde(default)]
    pub spam_headers: Option<Vec<SpamHeaderEntry>>,
}

/// `{ header = "X-Spam-Flag", yes = "YES" }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpamHeaderEntry {
    pub header: String,
    pub yes: String,
}

fn default_own_received_headers() -> u32 {
    1
}

fn default_rate_limit_minutes() -> u32 {
    60
}

impl Default for AcknowledgementSection {
    fn default() -> Self {
        AcknowledgementSection {
            rate_limit_minutes: default_rate_limit_minutes(),
            trusted_authserv_id: None,
            own_received_headers: default_own_received_headers(),
            spam_headers: None,
        }
    }
}

/// Who publishes the machine-readable advisories (CVE record, OSV, CSAF).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisorySection {
    pub vendor: String,
    pub product: String,
    /// OSV's ecosystem name (`Go`, `crates.io`, `PyPI`, `npm`, …).
    pub ecosystem: Option<String>,
    /// The package's name in that ecosystem.
    pub package: Option<String>,
    /// The CVE record's `collectionURL`: where the package is published.
    pub collection_url: Option<String>,
    pub cna_org_id: String,
    pub cna_short_name: String,
    pub osv_prefix: String,
    /// The announcement's public page; `{id}` stands for the incident id.
    pub announcement_url: String,
    /// CSAF's publisher namespace: the project's own URL.
    pub publisher_namespace: String,
    #[serde(default)]
    pub references: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    #[serde(default = "default_max_message_mib")]
    pub max_message_mib: u32,
    /// Mails taken in per transaction.
    #[serde(default = "default_batch_mails")]
    pub batch_mails: u32,
    /// Bytes of mail read per batch, at most (a batch ends early at it).
    #[serde(default = "default_batch_mib")]
    pub batch_mib: u32,
}

fn default_max_message_mib() -> u32 {
    64
}

fn default_batch_mails() -> u32 {
    256
}

fn default_batch_mib() -> u32 {
    32
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_message_mib: default_max_message_mib(),
            batch_mails: default_batch_mails(),
            batch_mib: default_batch_mib(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSection {
    /// A sender holds a claimed mail this long; if it dies, another sends it after.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u32,
    /// The first wait after a temporary failure; it doubles up to an hour.
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: u32,
    /// Each mail goes out with its own return path
    /// (`<local>+bounce-<token>@<domain>` of the security address), so a
    /// bounce names the mail it is about.
    #[serde(default = "default_verp")]
    pub verp: bool,
}

fn default_verp() -> bool {
    true
}

fn default_retry_seconds() -> u32 {
    30
}

fn default_lease_seconds() -> u32 {
    300
}

impl Default for OutboxSection {
    fn default() -> Self {
        OutboxSection {
            lease_seconds: default_lease_seconds(),
            retry_seconds: default_retry_seconds(),
            verp: default_verp(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandsSection {
    /// A signed command older than this many days is refused (replay protection).
    #[serde(default = "default_max_signature_age_days")]
    pub max_signature_age_days: u32,
}

fn default_max_signature_age_days() -> u32 {
    7
}

impl Default for CommandsSection {
    fn default() -> Self {
        CommandsSection {
            max_signature_age_days: default_max_signature_age_days(),
        }
    }
}

/// `/healthz`, `/readyz` and `/metrics` over HTTP, while `serve` runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveSection {
    /// `host:port`, or a port alone for 127.0.0.1.
    #[serde(default = "default_observe_listen")]
    pub listen: String,
}

fn default_observe_listen() -> String {
    "127.0.0.1:9187".to_owned()
}
