//! Reads the TOML tree section by section (and list entry by list entry),
//! so that one bad field does not hide the problems after it.

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::diagnostic::Diagnostics;
use super::file::*;

/// Every section as written; `None` where it was missing or broken (and a
/// diagnostic says which).
#[derive(Debug, Default)]
pub struct Sections {
    pub list: Option<ListSection>,
    /// Each entry keeps its index, for the paths in later diagnostics.
    pub members: Vec<(usize, MemberEntry)>,
    pub release_managers: Vec<(usize, ReleaseManagerEntry)>,
    /// `[roster] keyring`: a file or directory of members' public keys.
    pub keyring: Option<std::path::PathBuf>,
    pub oncall: Option<OncallSection>,
    pub distributors: Vec<(usize, DistributorEntry)>,
    pub announce: Vec<(usize, AnnounceEntry)>,
    pub source: Option<SourceSection>,
    pub sink: Option<SinkSection>,
    pub store: Option<StoreSection>,
    pub schedule: ScheduleSection,
    pub acknowledgement: AcknowledgementSection,
    pub limits: LimitsSection,
    pub commands: CommandsSection,
    pub outbox: OutboxSection,
    pub advisory: Option<AdvisorySection>,
    pub observe: Option<ObserveSection>,
}

const SECTIONS: &[&str] = &[
    "list",
    "roster",
    "distributors",
    "announce",
    "source",
    "sink",
    "store",
    "schedule",
    "acknowledgement",
    "limits",
    "commands",
    "outbox",
    "advisory",
    "observe",
];

/// Key names that hold secrets. Secrets never live in the TOML file, which
/// ends up in backups, repositories and bug reports.
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pass",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "url",
];

fn is_secret(key: &str, value: &Value) -> bool {
    let key = key.to_ascii_lowercase();
    if key == "url" {
        // A URL is fine unless it carries credentials.
        return value
            .as_str()
            .and_then(|u| u.split_once("://"))
            .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'));
    }
    SECRET_KEYS.contains(&key.as_str())
}

fn join(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child) {
        (true, _) => child.to_owned(),
        (false, "" | ".") => parent.to_owned(),
        (false, c) if c.starts_with('[') => format!("{parent}{c}"),
        (false, c) => format!("{parent}.{c}"),
    }
}

/// Removes secret keys (reporting each) and turns TOML dates into the
/// `YYYY-MM-DD` strings the typed sections read.
fn scrub(path: &str, value: &mut Value, diags: &mut Diagnostics) {
    match value {
        Value::Table(table) => {
            let secret: Vec<String> = table
                .iter()
                .filter(|(k, v)| is_secret(k, v))
                .map(|(k, _)| k.clone())
                .collect();
            for key in secret {
                table.remove(&key);
                diags.error(
                    join(path, &key),
                    "secrets never live in the config file: name an environment variable \
                     (`password_env = \"VAR\"`) or a file readable only by the service \
                     (`password_file = \"/path\"`) instead",
                );
            }
            for (k, v) in table.iter_mut() {
                scrub(&join(path, k), v, diags);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                scrub(&format!("{path}[{i}]"), v, diags);
            }
        }
        Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            if let Some(date) = dt.date {
                *value = Value::String(date.to_string());
            }
        }
        _ => {}
    }
}

fn explain(message: &str) -> String {
    // toml appends "in `field`" lines; the path already says where.
    let message = message.lines().next().unwrap_or("").trim();
    if message.starts_with("unknown field") {
        format!("{message}: remove it or correct its spelling")
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        format!("{message}: add {} to this section", rest.trim_matches('`'))
    } else {
        message.to_owned()
    }
}

fn typed<T: DeserializeOwned>(path: &str, value: Value, diags: &mut Diagnostics) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            diags.error(join(path, &inner), explain(&e.inner().to_string()));
            None
        }
    }
}

fn entries<T: DeserializeOwned>(
    path: &str,
    value: Option<Value>,
    diags: &mut Diagnostics,
) -> Vec<(usize, T)> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| typed(&format!("{path}[{i}]"), v, diags).map(|t| (i, t)))
            .collect(),
        Some(_) => {
            diags.error(
                path,
                format!("must be a list of tables: write each entry as [[{path}]]"),
            );
            Vec::new()
        }
    }
}

/// Splits off the `kind` key of a section that comes in several kinds.
fn kind_of(
    path: &str,
    value: Value,
    kinds: &[&str],
    diags: &mut Diagnostics,
) -> Option<(String, Value)> {
    let Value::Table(mut table) = value else {
        diags.error(path, format!("must be a table: write it as [{path}]"));
        return None;
    };
    let kind = match table.remove("kind") {
        Some(Value::String(k)) => k,
        Some(_) => {
            diags.error(
                format!("{path}.kind"),
                format!("must be a string, one of: {}", kinds.join(", ")),
            );
            return None;
        }
        None => {
            diags.error(
                path,
                format!("missing field `kind`: add kind = \"{}\"", kinds[0]),
            );
            return None;
        }
    };
    if !kinds.contains(&kind.as_str()) {
        diags.error(
            format!("{path}.kind"),
            format!(
                "{kind:?} is not a kind this build supports: use one of {}",
                kinds.join(", ")
            ),
        );
        return None;
    }
    Some((kind, Value::Table(table)))
}

fn source(value: Value, diags: &mut Diagnostics) -> Option<SourceSection> {
    let (kind, rest) = kind_of("source", value, &["maildir", "imap"], diags)?;
    match kind.as_str() {
        "imap" => typed("source", rest, diags).map(SourceSection::Imap),
        _ => typed("source", rest, diags).map(SourceSection::Maildir),
    }
}

fn sink(value: Value, diags: &mut Diagnostics) -> Option<SinkSection> {
    let (kind, rest) = kind_of("sink", value, &["file", "smtp"], diags)?;
    match kind.as_str() {
        "smtp" => typed("sink", rest, diags).map(SinkSection::Smtp),
        _ => typed("sink", rest, diags).map(SinkSection::File),
    }
}

fn store(value: Value, diags: &mut Diagnostics) -> Option<StoreSection> {
    let (kind, rest) = kind_of("store", value, &["sqlite", "postgres"], diags)?;
    match kind.as_str() {
        "postgres" => typed("store", rest, diags).map(StoreSection::Postgres),
        _ => typed("store", rest, diags).map(StoreSection::Sqlite),
    }
}

fn required<T>(
    name: &str,
    value: Option<Value>,
    diags: &mut Diagnostics,
    example: &str,
    read: fn(Value, &mut Diagnostics) -> Option<T>,
) -> Option<T> {
    match value {
        Some(v) => read(v, diags),
        None => {
            diags.error(
                name,
                format!("missing section [{name}]: add it, e.g. {example}"),
            );
            None
        }
    }
}

fn optional<T: DeserializeOwned + Default>(
    name: &str,
    value: Option<Value>,
    diags: &mut Diagnostics,
) -> T {
    value
        .and_then(|v| typed(name, v, diags))
        .unwrap_or_default()
}

pub fn read(text: &str, diags: &mut Diagnostics) -> Sections {
    let table: Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            // The example config offers each alternative kind of [source]
            // and [sink] commented out beside the default one; uncommented
            // as well, it is the same section twice.
            let hint = if e.message().contains("duplicate key") {
                "\nEach section appears once: to use another kind of [source] or [sink], \
                 replace that section instead of adding a second one"
            } else {
                ""
            };
            diags.error("", format!("not valid TOML: {e}{hint}"));
            return Sections::default();
        }
    };
    let mut root = Value::Table(table);
    scrub("", &mut root, diags);
    let Value::Table(mut table) = root else {
        unreachable!("scrub keeps a table a table")
    };
    for key in table.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            diags.error(
                key.as_str(),
                format!(
                    "unknown section: remove it or correct its spelling (known: {})",
                    SECTIONS.join(", ")
                ),
            );
        }
    }

    let mut sections = Sections {
        list: required(
            "list",
            table.remove("list"),
            diags,
            "[list] name = \"My Project\", security_address = ..., src_address = ...",
            |v, d| typed("list", v, d),
        ),
        distributors: entries("distributors", table.remove("distributors"), diags),
        announce: entries("announce", table.remove("announce"), diags),
        source: required(
            "source",
            table.remove("source"),
            diags,
            "[source] kind = \"maildir\", path = \"/var/mail/security\"",
            source,
        ),
        sink: required(
            "sink",
            table.remove("sink"),
            diags,
            "[sink] kind = \"file\", dir = \"/var/lib/embargo/outbox\"",
            sink,
        ),
        store: required(
            "store",
            table.remove("store"),
            diags,
            "[store] kind = \"sqlite\", path = \"/var/lib/embargo/embargo.db\"",
            store,
        ),
        schedule: optional("schedule", table.remove("schedule"), diags),
        acknowledgement: optional("acknowledgement", table.remove("acknowledgement"), diags),
        limits: optional("limits", table.remove("limits"), diags),
        commands: optional("commands", table.remove("commands"), diags),
        outbox: optional("outbox", table.remove("outbox"), diags),
        advisory: table
            .remove("advisory")
            .and_then(|v| typed("advisory", v, diags)),
        observe: table
            .remove("observe")
            .and_then(|v| typed("observe", v, diags)),
        ..Sections::default()
    };

    match table.remove("roster") {
        None => diags.warn(
            "roster",
            "no [roster]: nobody is oncall, so new incidents have no incident commander; \
             add [[roster.members]] and [roster.oncall]",
        ),
        Some(Value::Table(mut roster)) => {
            for key in roster.keys() {
                if !["members", "release_managers", "oncall", "keyring"].contains(&key.as_str()) {
                    diags.error(
                        format!("roster.{key}"),
                        "unknown field: [roster] holds only `members`, `release_managers`, `oncall` and `keyring`",
                    );
                }
            }
            sections.keyring = match roster.remove("keyring") {
                None => None,
                Some(Value::String(p)) => Some(p.into()),
                Some(_) => {
                    diags.error(
                        "roster.keyring",
                        "must be a path (a file or a directory of public keys)",
                    );
                    None
                }
            };
            sections.members = entries("roster.members", roster.remove("members"), diags);
            sections.release_managers = entries(
                "roster.release_managers",
                roster.remove("release_managers"),
                diags,
            );
            sections.oncall = roster
                .remove("oncall")
                .and_then(|v| typed("roster.oncall", v, diags));
        }
        Some(_) => diags.error("roster", "must be a table: write it as [roster]"),
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_refused_wherever_they_are() {
        let mut d = Diagnostics::default();
        read(
            r#"
            [source]
            kind = "maildir"
            path = "x"
            password = "hunter2"
            [store]
            kind = "sqlite"
            path = "x"
            url = "postgres://u:p@db/embargo"
            "#,
            &mut d,
        );
        let paths: Vec<&str> = d.errors().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"source.password"), "{d}");
        assert!(paths.contains(&"store.url"), "{d}");
        // Reported once, as a secret, not again as an unknown field.
        assert_eq!(paths.iter().filter(|p| **p == "source.password").count(), 1);
    }

    #[test]
    fn every_broken_entry_is_reported_with_its_path() {
        let mut d = Diagnostics::default();
        read(
            r#"
            [list]
            name = "P"
            security_address = "s@x.org"
            src_address = "src@x.org"
            key_file = "k.asc"
            [[roster.members]]
            name = "A"
            email = "a@x.org"
            [[roster.members]]
            name = "B"
            email = "b@x.org"
            company = "B"
            emial = "typo"
            [source]
            kind = "pop3"
            [sink]
            kind = "file"
            dir = 5
            [store]
            kind = "sqlite"
            path = "db"
            [schedul]
            "#,
            &mut d,
        );
        let got: Vec<String> = d.errors().map(|e| e.to_string()).collect::<Vec<_>>();
        let has = |needle: &str| got.iter().any(|g| g.contains(needle));
        assert!(
            has("roster.members[0]: missing field `company`"),
            "{got:#?}"
        );
        assert!(
            has("roster.members[1].emial: unknown field `emial`"),
            "{got:#?}"
        );
        assert!(
            has("source.kind: \"pop3\" is not a kind this build supports"),
            "{got:#?}"
        );
        assert!(has("sink.dir: invalid type"), "{got:#?}");
        assert!(has("schedul: unknown section"), "{got:#?}");
        assert_eq!(got.len(), 5, "{got:#?}");
    }

    #[test]
    fn toml_dates_and_strings_both_work() {
        let mut d = Diagnostics::default();
        let s = read(
            r#"
            [roster.oncall]
            rotation = []
            starts = 2026-01-05
            [schedule]
            blackout = ["2026-12-24", 2026-12-31]
            "#,
            &mut d,
        );
        assert_eq!(s.oncall.unwrap().starts, jiff::civil::date(2026, 1, 5));
        assert_eq!(s.schedule.blackout.len(), 2);
    }

    #[test]
    fn a_second_source_section_says_to_replace_the_first() {
        let mut d = Diagnostics::default();
        read(
            "[source]\nkind = \"maildir\"\n\n[source]\nkind = \"imap\"\n",
            &mut d,
        );
        let e = d.errors().next().unwrap().to_string();
        assert!(e.contains("replace that section"), "{e}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let mut d = Diagnostics::default();
        read("[list\nname = 1", &mut d);
        let e = d.errors().next().unwrap().to_string();
        assert!(e.contains("not valid TOML") && e.contains("line 1"), "{e}");
    }
}
