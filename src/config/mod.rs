//! The configuration: one TOML file, read into domain types once.
//!
//! Relative paths in the file are relative to the file's own directory, so
//! the service finds the same files whatever directory it is started from.

mod diagnostic;
mod file;
mod read;
mod validate;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::SignedDuration;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};

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
}

#[derive(Debug, Clone)]
pub enum SinkSettings {
    File { dir: PathBuf },
}

#[derive(Debug, Clone)]
pub enum StoreSettings {
    Sqlite { path: PathBuf },
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
    /// Commands signed longer ago than this are refused.
    pub max_signature_age: SignedDuration,
    pub max_message_bytes: usize,
    pub outbox: OutboxSettings,
}

#[derive(Debug, Clone)]
pub struct OutboxSettings {
    pub lease: SignedDuration,
    /// Fault injection for crash tests (EMBARGO_PAUSE_AFTER_CLAIM_MS): a
    /// pause between claiming mail and sending it. Never set in production.
    pub pause_after_claim: Option<Duration>,
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
    })
}

/// As [`load`], for text already read; relative paths resolve against `base`.
pub fn load_str(text: &str, base: &Path, origin: &Path) -> Result<Loaded, Diagnostics> {
    let mut diags = Diagnostics::default();
    let sections = read::read(text, &mut diags);
    match validate::validate(sections, base, origin, &mut diags) {
        Some(settings) if !diags.has_errors() => Ok(Loaded {
            settings,
            warnings: diags.0,
        }),
        _ => Err(diags),
    }
}
