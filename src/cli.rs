//! The command line, as clap sees it. What each command does is in main.rs.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_PATH;

const EXAMPLES: &str = "\
Examples:
  embargo demo                          run the whole pipeline on demo mail, into ./demo-out
  embargo --config /etc/embargo.toml check-config
  embargo run --once                    take waiting mail, send what is due, exit
  embargo serve                         keep doing that until SIGINT or SIGTERM
  embargo incidents
  embargo show EMB-2026-0007 --json";

#[derive(Debug, Parser)]
#[command(
    name = "embargo",
    version,
    about = "Runs a project's security release process by email",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, global = true, value_name = "FILE", default_value = DEFAULT_PATH, env = "EMBARGO_CONFIG")]
    pub config: PathBuf,

    /// How log lines (on standard error) look.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the embedded pipeline on the demo mail: Maildir in, SQLite, .eml out.
    #[command(after_help = "Example:\n  embargo demo --out /tmp/embargo-demo")]
    Demo {
        /// Where to write the Maildir, the database and the outbox. A previous
        /// demo's directory is replaced; any other non-empty directory is refused.
        #[arg(long, value_name = "DIR", default_value = "demo-out")]
        out: PathBuf,
    },
    /// Take the waiting mail and send what is due; with --once, exit afterwards.
    #[command(
        after_help = "Example, from cron:\n  */5 * * * * embargo --config /etc/embargo.toml run --once"
    )]
    Run {
        /// One pass, then exit (without it, `run` is `serve`).
        #[arg(long)]
        once: bool,
    },
    /// Poll the source every source.poll_seconds until SIGINT or SIGTERM.
    #[command(
        after_help = "Example:\n  embargo --config /etc/embargo.toml --log-format json serve"
    )]
    Serve,
    /// Bring the database schema up to date. PostgreSQL needs it before the
    /// first `serve` and after an upgrade; SQLite migrates itself.
    #[command(
        after_help = "Example:\n  EMBARGO_DATABASE_URL=postgres://embargo@db/embargo embargo --config /etc/embargo.toml migrate"
    )]
    Migrate,
    /// Write the whole state (incidents, mail with its raw bytes, events,
    /// outbox, checkpoints) as JSON lines, to move it to another store.
    #[command(
        after_help = "Example, from SQLite to PostgreSQL:\n  embargo --config sqlite.toml export --out state.jsonl\n  embargo --config postgres.toml migrate\n  embargo --config postgres.toml import state.jsonl"
    )]
    Export {
        /// The file to write (refused if it exists); standard output without it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Read an `export` into the configured store, which must be empty.
    Import {
        /// The file `export` wrote; `-` reads standard input.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// List the incidents; those filed as spam only with --spam.
    #[command(
        after_help = "Incidents the receiving mail server marked as spam are left out; \
        `embargo incidents --spam` lists them (restore one with a signed /not-spam ID).\n\n\
        Example:\n  embargo incidents --json | jq '.[].id'\n  embargo incidents --spam"
    )]
    Incidents {
        #[arg(long)]
        json: bool,
        /// List only the incidents filed as spam, with the header that marked each.
        #[arg(long)]
        spam: bool,
    },
    /// Show one incident: its messages, timeline and outgoing mail.
    #[command(after_help = "Example:\n  embargo show EMB-2026-0007")]
    Show {
        /// The incident id, e.g. EMB-2026-0007.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List the mail kept aside because it could not be read.
    Quarantine {
        #[arg(long)]
        json: bool,
    },
    /// Write a stored mail's original bytes to standard output.
    #[command(after_help = "Example:\n  embargo raw 12 > report.eml")]
    Raw {
        /// The row number `show` or `quarantine` prints.
        row: i64,
    },
    /// Print the first disclosure slot at or after a time (default: now).
    #[command(
        name = "next-slot",
        after_help = "Example:\n  embargo next-slot --after 2026-12-24T09:00:00Z --json"
    )]
    NextSlot {
        /// A date (its start, UTC), e.g. 2026-12-03, or an RFC 3339 time,
        /// e.g. 2026-12-03T15:59:59Z.
        #[arg(long, value_name = "DATE|RFC3339")]
        after: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every planned send: each incident's notices with their time, state and recipients, and the outbox.
    #[command(
        after_help = "Examples:\n  embargo schedule --json\n  embargo schedule --at 2026-12-08T16:00:00Z"
    )]
    Schedule {
        #[arg(long)]
        json: bool,
        /// Show the plan as it would stand at this time (a date, or RFC
        /// 3339), e.g. the morning of the slot, if nothing changed before then.
        #[arg(long, value_name = "DATE|RFC3339")]
        at: Option<String>,
    },
    /// Print a notice of an incident as it would be sent now, or its
    /// machine-readable advisories (`advisory`).
    #[command(
        after_help = "Examples:\n  embargo preview EMB-2026-0007 announcement\n  embargo preview EMB-2026-0007 advisory"
    )]
    Preview {
        /// The incident id.
        id: String,
        /// distributors, warning, announcement, or advisory.
        kind: String,
        /// As it would stand at this time (a date, or RFC 3339); advisory only.
        #[arg(long, value_name = "DATE|RFC3339")]
        at: Option<String>,
    },
    /// Write an incident's CVE record, OSV record or CSAF 2.0 advisory,
    /// each checked against the format's official schema.
    #[command(
        after_help = "Examples:\n  embargo advisory EMB-2026-0007 --format csaf\n  embargo advisory EMB-2026-0007 --format cve --out advisories/"
    )]
    Advisory {
        /// The incident id.
        id: String,
        /// cve, osv or csaf; all three when not given.
        #[arg(long)]
        format: Option<String>,
        /// Write each document to a file in DIR (named as it is attached to
        /// the announcement) instead of standard output.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// As it would stand at this time (a date, or RFC 3339): before the
        /// disclosure, the CSAF is the distributors' TLP:AMBER copy.
        #[arg(long, value_name = "DATE|RFC3339")]
        at: Option<String>,
    },
    /// Score a CVSS 3.1 vector: score, rating, and the release policy that follows.
    #[command(
        after_help = "Example:\n  embargo cvss CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H --json"
    )]
    Cvss {
        /// The vector, e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
        vector: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a command mail for an incident, PGP/MIME signed with your own
    /// key (your GnuPG, or a key file), attachments inside the signed part;
    /// send it with `sendmail -t` or your mail client.
    #[command(
        after_help = "Examples:\n  embargo command EMB-2026-0007 '/approve distributors' --attach fix-2.4.2.patch \\\n      --sign-with 6A2F0B2E9C417D358E901B4C2D6E8F01A3B5C7D9 --from alice@example.org | sendmail -t\n  embargo command EMB-2026-0007 --sign-with alice@example.org --out cmd.eml < commands.txt"
    )]
    Command {
        /// The incident, e.g. EMB-2026-0007.
        id: String,
        /// Command lines, each one argument; each gets the incident id at
        /// its end. Without any, standard input is the text, as written.
        lines: Vec<String>,
        /// A file to attach inside the signed part (patches for `/approve
        /// distributors`); repeat for more.
        #[arg(long = "attach", value_name = "FILE")]
        attach: Vec<PathBuf>,
        /// Sign with this key of your GnuPG (a fingerprint or your address).
        #[arg(
            long,
            value_name = "KEY",
            required_unless_present = "key_file",
            conflicts_with = "key_file"
        )]
        sign_with: Option<String>,
        /// Sign with the secret key in this file (mode 600, not passphrase-protected).
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// Your address as the roster has it; found from your key in the
        /// config's roster when there is one.
        #[arg(long, value_name = "ADDRESS")]
        from: Option<String>,
        /// The list's security address; the config's when there is one.
        #[arg(long, value_name = "ADDRESS")]
        to: Option<String>,
        /// Where to write the mail; standard output without it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Make or inspect the list's OpenPGP key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the configuration and report every problem found.
    #[command(
        after_help = "Examples:\n  embargo --config /etc/embargo.toml check-config\n  embargo --config /etc/embargo.toml check-config --connect"
    )]
    CheckConfig {
        /// Also connect to the mailbox, the mail server and a PostgreSQL store and log in, as
        /// `serve` would, without reading or sending any mail.
        #[arg(long)]
        connect: bool,
    },
    /// Print the completion script for a shell (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  embargo completions bash > ~/.local/share/bash-completion/completions/embargo\n  embargo completions fish > ~/.config/fish/completions/embargo.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages, embargo.1 and one per command, to DIR (for packagers).
    #[command(hide = true, after_help = "Example:\n  embargo man target/man")]
    Man {
        /// Where to write them; created when missing.
        #[arg(value_name = "DIR")]
        out: PathBuf,
    },
}

/// Writes the man pages of every visible command to `dir`: embargo.1, and
/// embargo-COMMAND.1 for each command (embargo-keys-generate.1 for nested
/// ones). Returns their file names.
pub fn write_man_pages(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir)?;
    let before: std::collections::BTreeSet<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    clap_mangen::generate_to(Cli::command(), dir)?;
    let mut written: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| !before.contains(n))
        .filter_map(|n| n.into_string().ok())
        .collect();
    written.sort();
    Ok(written)
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "embargo", &mut out);
    out
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new list key (Ed25519 signing, Cv25519 encryption) to FILE,
    /// readable by its owner only, and print its public part.
    #[command(
        after_help = "Example:\n  embargo keys generate --uid \"Security Team <security@example.org>\" --out /etc/embargo/list-key.asc > list-key.pub.asc"
    )]
    Generate {
        /// The user id, e.g. "Security Team <security@example.org>".
        #[arg(long)]
        uid: String,
        /// Where to write the secret key; an existing file is never overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the key the service signs with and the roster's keys it knows.
    #[command(after_help = "Example:\n  embargo --config /etc/embargo.toml keys show")]
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_cover_every_visible_command_and_no_hidden_one() {
        let dir = tempfile::tempdir().unwrap();
        let pages = write_man_pages(dir.path()).unwrap();
        for page in [
            "embargo.1",
            "embargo-serve.1",
            "embargo-check-config.1",
            "embargo-keys-generate.1",
            "embargo-completions.1",
        ] {
            assert!(pages.iter().any(|p| p == page), "{page} missing: {pages:?}");
        }
        assert!(!pages.iter().any(|p| p == "embargo-man.1"), "{pages:?}");
        let main = std::fs::read_to_string(dir.path().join("embargo.1")).unwrap();
        assert!(main.starts_with(".ie"), "not roff: {}", &main[..40]);
        assert!(main.contains("check\\-config"), "{main}");
        assert!(main.contains("\\-\\-config"), "{main}");
    }

    #[test]
    fn completions_name_the_commands_and_options() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
        ] {
            let script = String::from_utf8(completions(shell)).unwrap();
            assert!(script.contains("check-config"), "{shell}: {script}");
            assert!(script.contains("config"), "{shell}");
        }
    }
}
