//! `embargo export` / `import`: the whole state as JSON lines, the same
//! whichever backend wrote it, so a team can move from SQLite to
//! PostgreSQL (or back, or to a new machine) without losing anything.
//!
//! The first line names the format and the schema version; each further
//! line is one row: `{"table": "...", "row": {"column": value, ...}}`.
//! Bytes are base64. Tables come in an order that satisfies their foreign
//! keys; rows by id, or sorted by their key where the key is text, so two
//! exports of the same state are byte for byte the same.

use std::io::{BufRead, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};

use super::{Store, StoreError};

/// The format of this file; bumped on a change old importers cannot read.
const FORMAT: i64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Bytes,
    Bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// Every column, in the order exported.
    pub columns: &'static [(&'static str, Kind)],
    /// Ordered by an integer `id` in SQL (large tables, streamed); the
    /// others are sorted here by their columns in order.
    pub by_id: bool,
}

impl Table {
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        names.join(", ")
    }
}

use Kind::{Bool, Bytes, Int, Text};

/// Every table, parents before children. A table added by a migration is
/// added here in the same commit: the round-trip test compares counts.
pub static TABLES: &[Table] = &[
    Table {
        name: "incidents",
        columns: &[
            ("id", Text),
            ("prefix", Text),
            ("year", Int),
            ("seq", Int),
            ("state", Text),
            ("title", Text),
            ("reporter", Text),
            ("reporter_name", Text),
            ("commander", Text),
            ("opened_at", Int),
            ("updated_at", Int),
            ("details", Text),
        ],
        by_id: false,
    },
    Table {
        name: "messages",
        columns: &[
            ("id", Int),
            ("incident_id", Text),
            ("message_id", Text),
            ("synthesized_id", Bool),
            ("body_digest", Text),
            ("in_reply_to", Text),
            ("refs", Text),
            ("from_addr", Text),
            ("from_name", Text),
            ("to_addrs", Text),
            ("cc_addrs", Text),
            ("subject", Text),
            ("sent_at", Int),
            ("received_at", Int),
            ("body_text", Text),
            ("text_source", Text),
            ("attachments", Text),
            ("problems", Text),
            ("joined_via", Text),
            ("quarantine_reason", Text),
            ("size", Int),
            ("raw", Bytes),
            ("signature", Text),
            ("encryption", Text),
        ],
        by_id: true,
    },
    Table {
        name: "thread_links",
        columns: &[
            ("message_id", Text),
            ("incident_id", Text),
            ("direction", Text),
        ],
        by_id: false,
    },
    Table {
        name: "thread_refs",
        columns: &[("message_id", Text), ("incident_id", Text)],
        by_id: false,
    },
    Table {
        name: "events",
        columns: &[
            ("id", Int),
            ("incident_id", Text),
            ("at", Int),
            ("kind", Text),
            ("actor", Text),
            ("message_id", Text),
            ("detail", Text),
            ("changes", Text),
        ],
        by_id: true,
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("mail_key", Text),
            ("kind", Text),
            ("incident_id", Text),
            ("message_id", Text),
            ("mail_from", Text),
            ("recipients", Text),
            ("subject", Text),
            ("bytes", Bytes),
            ("created_at", Int),
            ("due_at", Int),
            ("state", Text),
            ("attempts", Int),
            ("claimed_until", Int),
            ("last_error", Text),
            ("sent_at", Int),
            ("transport_id", Text),
            ("bounce_token", Text),
            ("bounced_at", Int),
            ("first_due_at", Int),
        ],
        by_id: true,
    },
    Table {
        name: "auto_replies",
        columns: &[("address", Text), ("at", Int)],
        by_id: false,
    },
    Table {
        name: "deliveries",
        columns: &[
            ("source", Text),
            ("key", Text),
            ("outcome", Text),
            ("message", Int),
            ("at", Int),
        ],
        by_id: false,
    },
    Table {
        name: "used_signatures",
        columns: &[
            ("digest", Text),
            ("incident_id", Text),
            ("message_id", Text),
            ("at", Int),
        ],
        by_id: false,
    },
    Table {
        name: "service_state",
        columns: &[("key", Text), ("value", Text)],
        by_id: false,
    },
];

fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

fn to_json(cell: Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Int(i) => json!(i),
        Cell::Text(s) => json!(s),
        Cell::Bytes(b) => json!(BASE64.encode(b)),
        Cell::Bool(b) => json!(b),
    }
}

fn from_json(kind: Kind, v: &Value) -> Option<Cell> {
    Some(match (kind, v) {
        (_, Value::Null) => Cell::Null,
        (Int, Value::Number(n)) => Cell::Int(n.as_i64()?),
        (Text, Value::String(s)) => Cell::Text(s.clone()),
        (Bytes, Value::String(s)) => Cell::Bytes(BASE64.decode(s).ok()?),
        (Bool, Value::Bool(b)) => Cell::Bool(*b),
        _ => return None,
    })
}

fn row_line(table: &Table, cells: Vec<Cell>) -> String {
    let mut row = Map::new();
    for ((name, _), cell) in table.columns.iter().zip(cells) {
        row.insert((*name).to_owned(), to_json(cell));
    }
    json!({ "table": table.name, "row": row }).to_string()
}

/// What `export` wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub rows: u64,
}

/// Writes the whole state of `store` to `out`.
pub async fn export(
    store: &dyn Store,
    out: &mut (dyn Write + Send),
) -> Result<Written, StoreError> {
    let io = |e: std::io::Error| StoreError::Dump(format!("cannot write the export: {e}"));
    let schema = store.schema_version().await?;
    writeln!(
        out,
        "{}",
        json!({ "embargo_export": FORMAT, "schema": schema })
    )
    .map_err(io)?;
    let mut written = Written::default();
    for table in TABLES {
        let mut held = Vec::new();
        let mut each = |cells: Vec<Cell>| -> Result<(), StoreError> {
            if table.by_id {
                writeln!(out, "{}", row_line(table, cells)).map_err(io)?;
            } else {
                held.push(cells);
            }
            written.rows += 1;
            Ok(())
        };
        store.export_table(table, &mut each).await?;
        // Text keys sort differently under each database's collation.
        held.sort();
        for cells in held {
            writeln!(out, "{}", row_line(table, cells)).map_err(io)?;
        }
    }
    out.flush().map_err(io)?;
    Ok(written)
}

/// Reads an export into `store`, which must be empty and at the schema the
/// export was made at. Returns the number of rows written.
pub async fn import(store: &dyn Store, input: impl BufRead + Send) -> Result<u64, StoreError> {
    let mut lines = input.lines().enumerate();
    let bad = |n: usize, what: String| StoreError::Dump(format!("line {}: {what}", n + 1));
    let (n, first) = lines
        .next()
        .ok_or_else(|| StoreError::Dump("the file is empty".into()))?;
    let first = first.map_err(|e| bad(n, e.to_string()))?;
    let header: Value = serde_json::from_str(&first).map_err(|e| bad(n, e.to_string()))?;
    if header.get("embargo_export").and_then(Value::as_i64) != Some(FORMAT) {
        return Err(bad(
            n,
            "this is not an `embargo export` file of a format this embargo reads".into(),
        ));
    }
    let schema = header.get("schema").and_then(Value::as_i64).unwrap_or(-1);
    let here = store.schema_version().await?;
    if schema != here {
        return Err(StoreError::Dump(format!(
            "the export is of schema version {schema} and this database is at {here}; \
             import with the embargo that made the export, or migrate both to the same version"
        )));
    }
    let mut rows = lines.filter_map(move |(n, line)| {
        let line = match line {
            Ok(l) if l.trim().is_empty() => return None,
            Ok(l) => l,
            Err(e) => return Some(Err(bad(n, e.to_string()))),
        };
        Some(parse_row(&line).map_err(|what| bad(n, what)))
    });
    store.import_rows(&mut rows).await
}

fn parse_row(line: &str) -> Result<(&'static Table, Vec<Cell>), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let name = v
        .get("table")
        .and_then(Value::as_str)
        .ok_or("no \"table\"")?;
    let table = table(name).ok_or_else(|| format!("unknown table {name:?}"))?;
    let row = v
        .get("row")
        .and_then(Value::as_object)
        .ok_or("no \"row\" object")?;
    if let Some(extra) = row
        .keys()
        .find(|k| !table.columns.iter().any(|(c, _)| c == k))
    {
        return Err(format!("{name} has no column {extra:?}"));
    }
    table
        .columns
        .iter()
        .map(|(column, kind)| {
            let value = row.get(*column).unwrap_or(&Value::Null);
            from_json(*kind, value)
                .ok_or_else(|| format!("{name}.{column}: {value} is not a {kind:?} value"))
        })
        .collect::<Result<_, _>>()
        .map(|cells| (table, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_the_line_format() {
        let t = table("outbox").unwrap();
        let cells: Vec<Cell> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, k))| match k {
                Int => Cell::Int(i as i64 - 3),
                Text if i % 2 == 0 => Cell::Null,
                Text => Cell::Text(format!("é\n\"{i}")),
                Bytes => Cell::Bytes(vec![0, 255, 13, 10]),
                Bool => Cell::Bool(true),
            })
            .collect();
        let line = row_line(t, cells.clone());
        let (back, parsed) = parse_row(&line).unwrap();
        assert_eq!(back.name, "outbox");
        assert_eq!(parsed, cells);
    }

    #[test]
    fn a_damaged_row_names_the_column() {
        let e = parse_row(r#"{"table":"events","row":{"id":"seven"}}"#).unwrap_err();
        assert!(e.contains("events.id"), "{e}");
        let e = parse_row(r#"{"table":"events","row":{"colour":1}}"#).unwrap_err();
        assert!(e.contains("colour"), "{e}");
        let e = parse_row(r#"{"table":"nope","row":{}}"#).unwrap_err();
        assert!(e.contains("unknown table"), "{e}");
    }
}
