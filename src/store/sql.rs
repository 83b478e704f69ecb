//! The SQL both backends share. SQLite and PostgreSQL take the same
//! statements (numbered `$n` parameters, Unix-second times, JSON in text
//! columns); what differs — connecting, the write transaction, locking
//! claimed rows, the ingest lease — each backend defines beside its
//! `sql_store!` invocation. A macro rather than generics: sqlx's bounds for
//! "any database that can bind these types" outweigh the code they share.

use jiff::Timestamp;

use super::StoreError;
use crate::core::inbound::Inbound;
use crate::core::incident_id::IncidentId;

pub(super) fn secs(t: Timestamp) -> i64 {
    t.as_second()
}

pub(super) fn time(s: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_second(s).map_err(|e| StoreError::Corrupt(format!("timestamp {s}: {e}")))
}

pub(super) fn opt_time(s: Option<i64>) -> Result<Option<Timestamp>, StoreError> {
    s.map(time).transpose()
}

pub(super) fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain data serializes")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("JSON {s:?}: {e}")))
}

pub(super) fn incident_id(s: &str) -> Result<IncidentId, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("incident id {s:?}")))
}

/// `$1, $2, …` for an IN list of `n` values.
pub(super) fn placeholders(n: usize) -> String {
    placeholders_from(1, n)
}

/// `$first, …` for an IN list of `n` values after `first - 1` others.
pub(super) fn placeholders_from(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values per IN list: well under SQLite's 32766 parameters and
/// PostgreSQL's 65535, whatever a hostile References header holds.
pub(super) const IN_CHUNK: usize = 500;

/// Parameters per multi-row statement (a full one is prepared once and
/// kept; a batch's last, smaller one is not). Both backends take far more, but
/// sqlx's SQLite driver looks each parameter up by name among all of the
/// statement's: a statement's cost grows with the square of its size.
const MAX_PARAMS: usize = 400;

/// How many rows of `cols` values one multi-row INSERT takes.
pub(super) fn rows_per_statement(cols: usize) -> usize {
    (MAX_PARAMS / cols).max(1)
}

/// `($1, …, $cols), ($cols+1, …)` for `rows` rows.
pub(super) fn values(rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders_from(r * cols + 1, cols)))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) const MESSAGE_INSERT_COLUMNS: usize = 23;

/// A row of `messages` a batch stores.
pub(super) enum MessageRow<'a> {
    Filed {
        mail: &'a Inbound,
        incident: String,
        via: Option<&'a str>,
        now: Timestamp,
    },
    /// Kept outside any incident with what was read of it: a bounce.
    Unfiled {
        mail: &'a Inbound,
        reason: &'a str,
        now: Timestamp,
    },
    Quarantined {
        message_id: &'a str,
        body_digest: &'a str,
        raw: &'a [u8],
        reason: &'a str,
        now: Timestamp,
    },
}

/// The least string greater than every string starting with `prefix`;
/// `None` when there is none (an empty prefix covers everything).
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

pub(super) const OUTBOX_COLUMNS: &str = "id, mail_key, kind, incident_id, message_id, mail_from, recipients, \
    subject, created_at, due_at, state, attempts, last_error, sent_at, transport_id, bounce_token, \
    bounced_at";

pub(super) const INCIDENT_COLUMNS: &str =
    "id, state, title, reporter, reporter_name, commander, opened_at, updated_at, details";

pub(super) const MESSAGE_COLUMNS: &str = "id, incident_id, message_id, synthesized_id, in_reply_to, refs, \
    from_addr, from_name, to_addrs, cc_addrs, subject, sent_at, received_at, body_text, \
    text_source, attachments, problems, signature, encryption, joined_via, quarantine_reason, size";

/// A fresh return-path token: random, so that nobody who did not receive
/// the mail can name it in a forged bounce.
pub(super) fn bounce_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; crate::core::bounce::TOKEN_BYTES];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| StoreError::Config(format!("no random bytes for a return path: {e}")))?;
    Ok(crate::parse::hex(&bytes))
}

/// What matching a bounce needs of an outbox row.
pub(super) const SENT_COLUMNS: &str =
    "id, kind, incident_id, message_id, recipients, subject, bounce_token, bounced_at, state";

/// The key in `service_state` of the Fix Lead assigned last.
pub(super) const LAST_LEAD: &str = "last_lead";

/// The newest migration `migrator` knows.
pub(super) fn latest(migrator: &sqlx::migrate::Migrator) -> i64 {
    migrator.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Whether a database at schema `found` may be used by this build.
pub(super) fn check_schema(
    found: i64,
    known: i64,
    schema: super::Schema,
) -> Result<(), StoreError> {
    if found > known {
        return Err(StoreError::SchemaTooNew { found, known });
    }
    if found < known && schema == super::Schema::Current {
        return Err(StoreError::SchemaBehind { found, known });
    }
    Ok(())
}

/// Advances the fencing epoch, by the holder of the ingest lease only, as
/// soon as it has the lease. It waits for the writes of a holder that lost
/// the lease mid-transaction (they hold the epoch's row): those end up
/// before the new epoch, and any later one is refused.
pub(super) const ADVANCE_EPOCH: &str =
    "UPDATE ingest_epoch SET epoch = epoch + 1 WHERE one = 1 RETURNING epoch";

/// The `Store` implementation over one sqlx database. The invoking module
/// defines `$Store` with a `pool`, `write()` (a transaction for writes),
/// `take_ingest_lease()` (the lease, its epoch advanced), a `fence`
/// (`AtomicI64`, the epoch of the lease it took, 0 for none), `SCHEMA_TABLE` (counts the migrations table),
/// `EMPTY_BYTES`, `CLAIM_LOCKING` and `FENCE_LOCKING`.
macro_rules! sql_store {
    ($Store:ident, $Db:ty, $Row:ty) => {
        impl $Store {
            /// How many rows of `table` are in each state its `state`
            /// column names (a state this build does not know is left out).
            async fn count_by_state<T>(
                &self,
                table: &'static str,
                parse: fn(&str) -> Option<T>,
            ) -> Result<Vec<(T, u64)>, StoreError> {
                let sql = format!("SELECT state, COUNT(*) AS n FROM {table} GROUP BY state");
                let mut counted = Vec::new();
                for r in sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await? {
                    let state: String = r.try_get("state")?;
                    let n: i64 = r.try_get("n")?;
                    if let Some(state) = parse(&state) {
                        counted.push((state, n as u64));
                    }
                }
                Ok(counted)
            }

            /// The newest migration applied; 0 for an empty database.
            async fn applied_schema(&self) -> Result<i64, StoreError> {
                let exists: i64 = sqlx::query($Store::SCHEMA_TABLE)
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                if exists == 0 {
                    return Ok(0);
                }
                Ok(sqlx::query(
                    "SELECT COALESCE(MAX(version), 0) AS v FROM _sqlx_migrations WHERE success",
                )
                .fetch_one(&self.pool)
                .await?
                .try_get("v")?)
            }

            /// Refuses a schema newer than this build's; migrates an older
            /// one or refuses it, as `schema` says.
            async fn bring_schema(
                &self,
                migrator: &sqlx::migrate::Migrator,
                schema: Schema,
            ) -> Result<(), StoreError> {
                check_schema(self.applied_schema().await?, latest(migrator), schema)?;
                if schema == Schema::Migrate {
                    migrator.run(&self.pool).await?;
                }
                Ok(())
            }

            /// Refuses the transaction's writes if another process took
            /// the ingest lease since this one did. PostgreSQL holds the
            /// epoch's row until the commit, so a new holder's epoch comes
            /// after every write that passed here.
            async fn fenced(&self, tx: &mut Transaction<'static, $Db>) -> Result<(), StoreError> {
                let ours = self.fence.load(std::sync::atomic::Ordering::SeqCst);
                if ours == 0 {
                    return Ok(());
                }
                let sql = format!(
                    "SELECT epoch FROM ingest_epoch WHERE one = 1{}",
                    $Store::FENCE_LOCKING
                );
                let current: i64 = sqlx::query(AssertSqlSafe(sql))
                    .fetch_one(&mut **tx)
                    .await?
                    .try_get("epoch")?;
                if current == ours {
                    Ok(())
                } else {
                    Err(StoreError::Fenced { ours, current })
                }
            }
        }

        async fn outbox_rows(
            pool: &sqlx::Pool<$Db>,
            filter: &str,
            bind: Option<&str>,
        ) -> Result<Vec<OutboxMail>, StoreError> {
            let sql = format!(
                "SELECT {OUTBOX_COLUMNS}, {} AS bytes FROM outbox {filter} ORDER BY id",
                $Store::EMPTY_BYTES
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            if let Some(b) = bind {
                q = q.bind(b);
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(outbox_mail)
                .collect()
        }


        fn outbox_mail(r: &$Row) -> Result<OutboxMail, StoreError> {
            let kind: String = r.try_get("kind")?;
            let state: String = r.try_get("state")?;
            let bounced_at = opt_time(r.try_get("bounced_at")?)?;
            Ok(OutboxMail {
                id: r.try_get("id")?,
                key: r.try_get("mail_key")?,
                kind: MailKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("mail kind {kind:?}")))?,
                incident: r
                    .try_get::<Option<String>, _>("incident_id")?
                    .as_deref()
                    .map(incident_id)
                    .transpose()?,
                message_id: r.try_get("message_id")?,
                from: r.try_get("mail_from")?,
                recipients: from_json(&r.try_get::<String, _>("recipients")?)?,
                subject: r.try_get("subject")?,
                bytes: r.try_get("bytes")?,
                created_at: time(r.try_get("created_at")?)?,
                due_at: time(r.try_get("due_at")?)?,
                // A bounced mail stays 'sent' in the table (never claimed
                // again); that it came back is its state for everyone else.
                state: match bounced_at {
                    Some(_) => OutboxState::Bounced,
                    None => OutboxState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("outbox state {state:?}")))?,
                },
                attempts: r.try_get::<i64, _>("attempts")? as u32,
                last_error: r.try_get("last_error")?,
                sent_at: opt_time(r.try_get("sent_at")?)?,
                transport_id: r.try_get("transport_id")?,
                bounce_token: r.try_get("bounce_token")?,
                bounced_at,
            })
        }


        fn incident(r: &$Row) -> Result<Incident, StoreError> {
            let state: String = r.try_get("state")?;
            let reporter: Option<String> = r.try_get("reporter")?;
            let reporter_name: Option<String> = r.try_get("reporter_name")?;
            Ok(Incident {
                id: incident_id(&r.try_get::<String, _>("id")?)?,
                state: State::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("state {state:?}")))?,
                title: r.try_get("title")?,
                reporter: reporter.map(|email| Mailbox::new(reporter_name.as_deref(), &email)),
                commander: r.try_get("commander")?,
                opened_at: time(r.try_get("opened_at")?)?,
                updated_at: time(r.try_get("updated_at")?)?,
                details: from_json(&r.try_get::<String, _>("details")?)?,
            })
        }


        fn stored_message(r: &$Row) -> Result<StoredMessage, StoreError> {
            let from_addr: Option<String> = r.try_get("from_addr")?;
            let from_name: Option<String> = r.try_get("from_name")?;
            Ok(StoredMessage {
                id: r.try_get("id")?,
                incident: r
                    .try_get::<Option<String>, _>("incident_id")?
                    .as_deref()
                    .map(incident_id)
                    .transpose()?,
                message_id: r.try_get("message_id")?,
                synthesized_id: r.try_get("synthesized_id")?,
                in_reply_to: from_json(&r.try_get::<String, _>("in_reply_to")?)?,
                references: from_json(&r.try_get::<String, _>("refs")?)?,
                from: from_addr.map(|e| Mailbox::new(from_name.as_deref(), &e)),
                to: from_json(&r.try_get::<String, _>("to_addrs")?)?,
                cc: from_json(&r.try_get::<String, _>("cc_addrs")?)?,
                subject: r.try_get("subject")?,
                date: opt_time(r.try_get("sent_at")?)?,
                received_at: time(r.try_get("received_at")?)?,
                text: r.try_get("body_text")?,
                text_source: TextSource::parse(&r.try_get::<String, _>("text_source")?),
                attachments: from_json(&r.try_get::<String, _>("attachments")?)?,
                problems: from_json(&r.try_get::<String, _>("problems")?)?,
                signature: from_json(&r.try_get::<String, _>("signature")?)?,
                encryption: from_json(&r.try_get::<String, _>("encryption")?)?,
                joined_via: r.try_get("joined_via")?,
                quarantine_reason: r.try_get("quarantine_reason")?,
                size: r.try_get::<i64, _>("size")? as u64,
            })
        }

        fn event(r: &$Row) -> Result<Event, StoreError> {
            let kind: String = r.try_get("kind")?;
            Ok(Event {
                at: time(r.try_get("at")?)?,
                kind: EventKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("event kind {kind:?}")))?,
                actor: r.try_get("actor")?,
                message_id: r.try_get("message_id")?,
                detail: r.try_get("detail")?,
                changes: from_json(&r.try_get::<String, _>("changes")?)?,
            })
        }

        /// Outgoing mail, each row due at its time and created at its `now`;
        /// a mail whose key is queued already is not queued again. Replies
        /// to a mail queued now join its incident.
        async fn insert_outbox(
            tx: &mut Transaction<'static, $Db>,
            mails: &[(&NewMail, Timestamp)],
        ) -> Result<(), StoreError> {
            let mut links: Vec<(&str, String, &'static str)> = Vec::new();
            for chunk in mails.chunks(rows_per_statement(12)) {
                let sql = format!(
                    "INSERT INTO outbox (mail_key, kind, incident_id, message_id, mail_from, recipients, \
                     subject, bytes, created_at, due_at, first_due_at, bounce_token) VALUES {} \
                     ON CONFLICT (mail_key) DO NOTHING RETURNING mail_key",
                    values(chunk.len(), 12)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(12));
                for (m, now) in chunk {
                    q = q
                        .bind(&m.key)
                        .bind(m.kind.as_str())
                        .bind(m.incident.as_ref().map(ToString::to_string))
                        .bind(&m.message_id)
                        .bind(&m.from)
                        .bind(json(&m.recipients))
                        .bind(&m.subject)
                        .bind(&m.bytes)
                        .bind(secs(*now))
                        .bind(secs(m.due_at))
                        .bind(secs(m.due_at))
                        .bind(bounce_token()?);
                }
                let inserted: HashSet<String> = q
                    .fetch_all(&mut **tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get("mail_key"))
                    .collect::<Result<_, _>>()?;
                for (m, _) in chunk {
                    if let Some(inc) = &m.incident
                        && inserted.contains(&m.key)
                    {
                        links.push((&m.message_id, inc.to_string(), "out"));
                    }
                }
            }
            insert_links(tx, &links).await
        }

        async fn insert_events(
            tx: &mut Transaction<'static, $Db>,
            events: &[(&IncidentId, &Event)],
        ) -> Result<(), StoreError> {
            for chunk in events.chunks(rows_per_statement(7)) {
                let sql = format!(
                    "INSERT INTO events (incident_id, at, kind, actor, message_id, detail, changes) VALUES {}",
                    values(chunk.len(), 7)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(7));
                for (incident, e) in chunk {
                    q = q
                        .bind(incident.to_string())
                        .bind(secs(e.at))
                        .bind(e.kind.as_str())
                        .bind(&e.actor)
                        .bind(&e.message_id)
                        .bind(&e.detail)
                        .bind(json(&e.changes));
                }
                q.execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Message-ID → incident links; the first one for an id stays.
        async fn insert_links(
            tx: &mut Transaction<'static, $Db>,
            links: &[(&str, String, &'static str)],
        ) -> Result<(), StoreError> {
            for chunk in links.chunks(rows_per_statement(3)) {
                let sql = format!(
                    "INSERT INTO thread_links (message_id, incident_id, direction) VALUES {} \
                     ON CONFLICT (message_id) DO NOTHING",
                    values(chunk.len(), 3)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(3));
                for (id, inc, direction) in chunk {
                    q = q.bind(*id).bind(inc).bind(*direction);
                }
                q.execute(&mut **tx).await?;
            }
            Ok(())
        }



        async fn set_state(
            tx: &mut Transaction<'static, $Db>,
            key: &str,
            value: &str,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO service_state (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn write_incident(
            tx: &mut Transaction<'static, $Db>,
            inc: &Incident,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "UPDATE incidents SET state = $1, commander = $2, updated_at = $3, details = $4 WHERE id = $5",
            )
            .bind(inc.state.as_str())
            .bind(&inc.commander)
            .bind(secs(inc.updated_at))
            .bind(json(&inc.details))
            .bind(inc.id.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }




        /// Every inbound mail of `intakes` and what each causes, in `tx`:
        /// one multi-row statement per table (the statements, not the rows,
        /// are what a batch costs), rows in the order the mail came.
        async fn record_all(
            tx: &mut Transaction<'static, $Db>,
            intakes: &[Intake],
        ) -> Result<(), StoreError> {
            let mut opened: Vec<&Incident> = Vec::new();
            // The last state of each incident the batch changed, or the
            // latest time it was touched when its state did not change.
            let mut updated: Vec<(&IncidentId, Option<&Incident>, Timestamp)> = Vec::new();
            let mut messages: Vec<MessageRow<'_>> = Vec::new();
            let mut links: Vec<(&str, String, &'static str)> = Vec::new();
            let mut refs: Vec<(&str, String)> = Vec::new();
            let mut events: Vec<(&IncidentId, &Event)> = Vec::new();
            let mut outbox: Vec<(&NewMail, Timestamp)> = Vec::new();
            let mut spent: Vec<(&str, String, &str, Timestamp, bool)> = Vec::new();
            let mut acks: Vec<(&str, Timestamp)> = Vec::new();
            let mut lead: Option<&str> = None;
            let mut bounces: Vec<(i64, &str, Timestamp)> = Vec::new();
            for intake in intakes {
                let now = intake.received_at;
                match &intake.record {
                    IntakeRecord::Duplicate { .. } => {}
                    IntakeRecord::Filed {
                        mail,
                        filing,
                        events: evs,
                        outbox: out,
                        auto_reply_to,
                        lead_assigned,
                        command: _,
                    } => {
                        let (incident, via) = match filing.as_ref() {
                            Filing::Opened(inc) => {
                                opened.push(inc);
                                (&inc.id, None)
                            }
                            Filing::Joined {
                                incident,
                                via,
                                updated: state,
                            } => {
                                match updated.iter_mut().find(|(id, _, _)| *id == incident) {
                                    Some(u) => {
                                        u.1 = state.as_ref().or(u.1);
                                        u.2 = u.2.max(now);
                                    }
                                    None => updated.push((incident, state.as_ref(), now)),
                                }
                                (incident, Some(via.as_str()))
                            }
                        };
                        messages.push(MessageRow::Filed {
                            mail,
                            incident: incident.to_string(),
                            via,
                            now,
                        });
                        links.push((&mail.message_id, incident.to_string(), "in"));
                        // What it refers to leads here too, until filed itself.
                        for r in threading::referred(mail) {
                            refs.push((r, incident.to_string()));
                        }
                        events.extend(evs.iter().map(|e| (incident, e)));
                        outbox.extend(out.iter().map(|m| (m, now)));
                        // A signature is spent the first time it is seen,
                        // whatever became of the mail's commands. One whose
                        // commands applied must be new: if another process
                        // spent it meanwhile, the whole batch is refused.
                        let applied = evs.iter().any(|e| e.kind == EventKind::Command);
                        for digest in mail.signature.made().into_iter().flat_map(|m| m.digests()) {
                            spent.push((digest, incident.to_string(), &mail.message_id, now, applied));
                        }
                        if let Some(l) = lead_assigned {
                            lead = Some(l);
                        }
                        if let Some(address) = auto_reply_to {
                            acks.push((address, now));
                        }
                    }
                    IntakeRecord::Bounced {
                        mail,
                        reason,
                        bounced: row,
                        events: evs,
                        outbox: out,
                    } => {
                        messages.push(MessageRow::Unfiled { mail, reason, now });
                        if let Some((id, words)) = row {
                            bounces.push((*id, words, now));
                        }
                        events.extend(evs.iter().map(|(i, e)| (i, e)));
                        outbox.extend(out.iter().map(|m| (m, now)));
                    }
                    IntakeRecord::Quarantined {
                        message_id,
                        body_digest,
                        raw,
                        reason,
                        outbox: out,
                    } => {
                        messages.push(MessageRow::Quarantined {
                            message_id,
                            body_digest,
                            raw,
                            reason,
                            now,
                        });
                        outbox.extend(out.iter().map(|m| (m, now)));
                    }
                }
            }

            for chunk in opened.chunks(rows_per_statement(12)) {
                let sql = format!(
                    "INSERT INTO incidents (id, prefix, year, seq, state, title, reporter, \
                     reporter_name, commander, opened_at, updated_at, details) VALUES {}",
                    values(chunk.len(), 12)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(12));
                for inc in chunk {
                    q = q
                        .bind(inc.id.to_string())
                        .bind(inc.id.prefix())
                        .bind(i64::from(inc.id.year()))
                        .bind(i64::from(inc.id.seq()))
                        .bind(inc.state.as_str())
                        .bind(&inc.title)
                        .bind(inc.reporter.as_ref().map(|m| m.email.clone()))
                        .bind(inc.reporter.as_ref().and_then(|m| m.name.clone()))
                        .bind(&inc.commander)
                        .bind(secs(inc.opened_at))
                        .bind(secs(inc.updated_at))
                        .bind(json(&inc.details));
                }
                q.execute(&mut **tx).await?;
            }
            for (id, state, at) in &updated {
                match state {
                    Some(inc) => write_incident(tx, inc).await?,
                    None => {
                        sqlx::query(
                            "UPDATE incidents SET updated_at = CASE WHEN updated_at < $1 THEN $1 ELSE updated_at END WHERE id = $2",
                        )
                        .bind(secs(*at))
                        .bind(id.to_string())
                        .execute(&mut **tx)
                        .await?;
                    }
                }
            }

            // Stored rows by (Message-ID, body digest), for the deliveries.
            let mut rows: std::collections::HashMap<(String, String), i64> =
                std::collections::HashMap::new();
            for chunk in messages.chunks(rows_per_statement(MESSAGE_INSERT_COLUMNS)) {
                let sql = format!(
                    "INSERT INTO messages (incident_id, message_id, synthesized_id, body_digest, \
                     in_reply_to, refs, from_addr, from_name, to_addrs, cc_addrs, subject, sent_at, \
                     received_at, body_text, text_source, attachments, problems, signature, encryption, \
                     joined_via, quarantine_reason, size, raw) VALUES {} RETURNING id, message_id, body_digest",
                    values(chunk.len(), MESSAGE_INSERT_COLUMNS)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(MESSAGE_INSERT_COLUMNS));
                for m in chunk {
                    q = match m {
                        MessageRow::Filed { mail, .. } | MessageRow::Unfiled { mail, .. } => {
                            let (incident, via, reason, now) = match m {
                                MessageRow::Filed {
                                    incident, via, now, ..
                                } => (Some(incident.as_str()), *via, None, now),
                                MessageRow::Unfiled { reason, now, .. } => {
                                    (None, None, Some(*reason), now)
                                }
                                MessageRow::Quarantined { .. } => unreachable!("matched above"),
                            };
                            q.bind(incident)
                                .bind(&mail.message_id)
                                .bind(mail.message_id_synthesized)
                                .bind(&mail.body_digest)
                                .bind(json(&mail.in_reply_to))
                                .bind(json(&mail.references))
                                .bind(mail.from.as_ref().map(|m| m.email.clone()))
                                .bind(mail.from.as_ref().and_then(|m| m.name.clone()))
                                .bind(json(&mail.to))
                                .bind(json(&mail.cc))
                                .bind(&mail.subject)
                                .bind(mail.date.map(secs))
                                .bind(secs(*now))
                                .bind(&mail.text)
                                .bind(mail.text_source.as_str())
                                .bind(json(&mail.attachments))
                                .bind(json(&mail.problems))
                                .bind(json(&mail.signature))
                                .bind(json(&mail.encryption))
                                .bind(via)
                                .bind(reason)
                                .bind(mail.raw.len() as i64)
                                .bind(&mail.raw)
                        }
                        MessageRow::Quarantined {
                            message_id,
                            body_digest,
                            raw,
                            reason,
                            now,
                        } => q
                            .bind(None::<&str>)
                            .bind(*message_id)
                            .bind(true)
                            .bind(*body_digest)
                            .bind("[]")
                            .bind("[]")
                            .bind(None::<&str>)
                            .bind(None::<&str>)
                            .bind("[]")
                            .bind("[]")
                            .bind("")
                            .bind(None::<i64>)
                            .bind(secs(*now))
                            .bind("")
                            .bind(TextSource::None.as_str())
                            .bind("[]")
                            .bind("[]")
                            .bind(json(&SignatureStatus::Unsigned))
                            .bind(json(&Encryption::None))
                            .bind(None::<&str>)
                            .bind(Some(*reason))
                            .bind(raw.len() as i64)
                            .bind(*raw),
                    };
                }
                for r in q.fetch_all(&mut **tx).await? {
                    rows.insert(
                        (r.try_get("message_id")?, r.try_get("body_digest")?),
                        r.try_get("id")?,
                    );
                }
            }
            insert_links(tx, &links).await?;
            for chunk in refs.chunks(rows_per_statement(2)) {
                let sql = format!(
                    "INSERT INTO thread_refs (message_id, incident_id) VALUES {} \
                     ON CONFLICT (message_id) DO NOTHING",
                    values(chunk.len(), 2)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(2));
                for (id, inc) in chunk {
                    q = q.bind(*id).bind(inc);
                }
                q.execute(&mut **tx).await?;
            }
            insert_events(tx, &events).await?;
            insert_outbox(tx, &outbox).await?;
            for (id, words, at) in &bounces {
                // A mail still waiting (a retry after the server took it)
                // is never sent again; a second bounce adds its words.
                sqlx::query(
                    "UPDATE outbox SET \
                       last_error = CASE WHEN bounced_at IS NULL THEN $1 \
                                    ELSE COALESCE(last_error, '') || '; ' || $1 END, \
                       bounced_at = COALESCE(bounced_at, $2), \
                       state = CASE WHEN state IN ('pending', 'sending') THEN 'sent' ELSE state END, \
                       claimed_until = NULL \
                     WHERE id = $3",
                )
                .bind(*words)
                .bind(secs(*at))
                .bind(*id)
                .execute(&mut **tx)
                .await?;
            }
            for (strict, conflict) in [
                (true, ""),
                (false, " ON CONFLICT (digest) DO NOTHING"),
            ] {
                let these: Vec<_> = spent.iter().filter(|s| s.4 == strict).collect();
                for chunk in these.chunks(rows_per_statement(4)) {
                    let sql = format!(
                        "INSERT INTO used_signatures (digest, incident_id, message_id, at) VALUES {}{conflict}",
                        values(chunk.len(), 4)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(4));
                    for (digest, inc, mid, at, _) in chunk {
                        q = q.bind(*digest).bind(inc).bind(*mid).bind(secs(*at));
                    }
                    q.execute(&mut **tx).await?;
                }
            }
            if let Some(lead) = lead {
                set_state(tx, LAST_LEAD, lead).await?;
            }
            for chunk in acks.chunks(rows_per_statement(2)) {
                let sql = format!(
                    "INSERT INTO auto_replies (address, at) VALUES {}",
                    values(chunk.len(), 2)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(2));
                for (address, at) in chunk {
                    q = q.bind(*address).bind(secs(*at));
                }
                q.execute(&mut **tx).await?;
            }

            // Deliveries: a duplicate points at the stored mail, stored in
            // this batch or before it.
            let earlier: Vec<(&String, &String)> = intakes
                .iter()
                .filter_map(|i| match &i.record {
                    IntakeRecord::Duplicate {
                        message_id,
                        body_digest,
                    } if !rows.contains_key(&(message_id.clone(), body_digest.clone())) => {
                        Some((message_id, body_digest))
                    }
                    _ => None,
                })
                .collect();
            for chunk in earlier.chunks(IN_CHUNK) {
                let sql = format!(
                    "SELECT id, message_id, body_digest FROM messages WHERE message_id IN ({})",
                    placeholders(chunk.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(2));
                for (id, _) in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(&mut **tx).await? {
                    rows.insert(
                        (r.try_get("message_id")?, r.try_get("body_digest")?),
                        r.try_get("id")?,
                    );
                }
            }
            let mut deliveries = Vec::with_capacity(intakes.len());
            for intake in intakes {
                let (outcome, key) = match &intake.record {
                    IntakeRecord::Duplicate {
                        message_id,
                        body_digest,
                    } => ("duplicate", (message_id.clone(), body_digest.clone())),
                    IntakeRecord::Filed { mail, .. } => {
                        ("filed", (mail.message_id.clone(), mail.body_digest.clone()))
                    }
                    // Kept outside any incident, as quarantined mail is.
                    IntakeRecord::Bounced { mail, .. } => (
                        "quarantined",
                        (mail.message_id.clone(), mail.body_digest.clone()),
                    ),
                    IntakeRecord::Quarantined {
                        message_id,
                        body_digest,
                        ..
                    } => ("quarantined", (message_id.clone(), body_digest.clone())),
                };
                let row = *rows.get(&key).ok_or_else(|| {
                    StoreError::Corrupt(format!("no stored mail <{}> to deliver", key.0))
                })?;
                deliveries.push((intake, outcome, row));
            }
            for chunk in deliveries.chunks(rows_per_statement(5)) {
                let sql = format!(
                    "INSERT INTO deliveries (source, key, outcome, message, at) VALUES {}",
                    values(chunk.len(), 5)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == rows_per_statement(5));
                for (intake, outcome, row) in chunk {
                    q = q
                        .bind(&intake.source.source)
                        .bind(&intake.source.key)
                        .bind(*outcome)
                        .bind(*row)
                        .bind(secs(intake.received_at));
                }
                q.execute(&mut **tx).await?;
            }
            Ok(())
        }


        #[async_trait]
        impl Store for $Store {
            async fn lock_ingest(&self) -> Result<IngestLock, StoreError> {
                let lock = self.take_ingest_lease().await?;
                self.fence.store(lock.epoch(), std::sync::atomic::Ordering::SeqCst);
                Ok(lock)
            }

            async fn schema_version(&self) -> Result<i64, StoreError> {
                self.applied_schema().await
            }

            async fn delivered_among(
                &self,
                source: &str,
                keys: &[String],
            ) -> Result<HashSet<String>, StoreError> {
                let mut found = HashSet::new();
                for chunk in keys.chunks(IN_CHUNK) {
                    let sql = format!(
                        "SELECT key FROM deliveries WHERE source = $1 AND key IN ({})",
                        placeholders_from(2, chunk.len())
                    );
                    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(source);
                    for k in chunk {
                        query = query.bind(k);
                    }
                    for r in query.fetch_all(&self.pool).await? {
                        found.insert(r.try_get::<String, _>("key")?);
                    }
                }
                Ok(found)
            }

            async fn last_delivered(
                &self,
                source: &str,
                prefix: &str,
            ) -> Result<Option<String>, StoreError> {
                // A range on the primary key rather than LIKE, so the index is used
                // and no character in the prefix is a wildcard.
                let Some(end) = prefix_end(prefix) else {
                    let row = sqlx::query("SELECT max(key) AS k FROM deliveries WHERE source = $1")
                        .bind(source)
                        .fetch_one(&self.pool)
                        .await?;
                    return Ok(row.try_get("k")?);
                };
                let row = sqlx::query(
                    "SELECT max(key) AS k FROM deliveries WHERE source = $1 AND key >= $2 AND key < $3",
                )
                .bind(source)
                .bind(prefix)
                .bind(end)
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get("k")?)
            }

            async fn batch(&self, q: &BatchQuery) -> Result<Batch, StoreError> {
                let mut b = Batch::default();
                // SQLite allows 32766 parameters and PostgreSQL 65535: every
                // IN list goes in chunks.
                let ids: Vec<&String> = q.stored.iter().map(|(id, _)| id).collect();
                let wanted: HashSet<&(String, String)> = q.stored.iter().collect();
                for chunk in ids.chunks(IN_CHUNK) {
                    let sql = format!(
                        "SELECT message_id, body_digest FROM messages WHERE message_id IN ({})",
                        placeholders(chunk.len())
                    );
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    for r in query.fetch_all(&self.pool).await? {
                        let pair: (String, String) = (r.try_get("message_id")?, r.try_get("body_digest")?);
                        if wanted.contains(&pair) {
                            b.stored.insert(pair);
                        }
                    }
                }
                for (table, into_refs) in [("thread_links", false), ("thread_refs", true)] {
                    for chunk in q.mentioned_ids.chunks(IN_CHUNK) {
                        let sql = format!(
                            "SELECT message_id, incident_id FROM {table} WHERE message_id IN ({})",
                            placeholders(chunk.len())
                        );
                        let mut query = sqlx::query(AssertSqlSafe(sql));
                        for id in chunk {
                            query = query.bind(id);
                        }
                        for r in query.fetch_all(&self.pool).await? {
                            let id: String = r.try_get("message_id")?;
                            let inc = incident_id(&r.try_get::<String, _>("incident_id")?)?;
                            if into_refs {
                                b.refs.insert(id, inc);
                            } else {
                                b.links.insert(id, inc);
                            }
                        }
                    }
                }
                for (column, wanted) in [("bounce_token", &q.bounce_tokens), ("message_id", &q.bounced_ids)] {
                    for chunk in wanted.chunks(IN_CHUNK) {
                        let sql = format!(
                            "SELECT {SENT_COLUMNS} FROM outbox WHERE {column} IN ({})",
                            placeholders(chunk.len())
                        );
                        let mut query = sqlx::query(AssertSqlSafe(sql));
                        for v in chunk {
                            query = query.bind(v);
                        }
                        for r in query.fetch_all(&self.pool).await? {
                            let kind: String = r.try_get("kind")?;
                            let sent = SentMail {
                                id: r.try_get("id")?,
                                kind: MailKind::parse(&kind)
                                    .ok_or_else(|| StoreError::Corrupt(format!("mail kind {kind:?}")))?,
                                incident: r
                                    .try_get::<Option<String>, _>("incident_id")?
                                    .as_deref()
                                    .map(incident_id)
                                    .transpose()?,
                                message_id: r.try_get("message_id")?,
                                recipients: from_json(&r.try_get::<String, _>("recipients")?)?,
                                subject: r.try_get("subject")?,
                                token: r.try_get("bounce_token")?,
                                bounced: r.try_get::<Option<i64>, _>("bounced_at")?.is_some(),
                                went_out: r.try_get::<String, _>("state")? == "sent",
                            };
                            if !b.sent.iter().any(|s| s.id == sent.id) {
                                b.sent.push(sent);
                            }
                        }
                    }
                }
                let mut incidents: Vec<String> = q.incidents.iter().map(ToString::to_string).collect();
                // The incidents of mail that bounced: the SRC is told on them.
                incidents.extend(b.sent.iter().filter_map(|s| s.incident.as_ref()).map(ToString::to_string));
                incidents.extend(b.links.values().chain(b.refs.values()).map(ToString::to_string));
                incidents.sort();
                incidents.dedup();
                for chunk in incidents.chunks(IN_CHUNK) {
                    let sql = format!(
                        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id IN ({})",
                        placeholders(chunk.len())
                    );
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(id);
                    }
                    for r in query.fetch_all(&self.pool).await? {
                        let inc = incident(&r)?;
                        b.incidents.insert(inc.id.clone(), inc);
                    }
                }
                for year in &q.years {
                    let next = sqlx::query(
                        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM incidents WHERE prefix = $1 AND year = $2",
                    )
                    .bind(&q.prefix)
                    .bind(i64::from(*year))
                    .fetch_one(&self.pool)
                    .await?
                    .try_get::<i64, _>("next")?;
                    b.next_seq.insert(*year, next as u32);
                }
                for chunk in q.senders.chunks(IN_CHUNK) {
                    let sql = format!(
                        "SELECT address, MAX(at) AS last FROM auto_replies WHERE address IN ({}) GROUP BY address",
                        placeholders(chunk.len())
                    );
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for a in chunk {
                        query = query.bind(a);
                    }
                    for r in query.fetch_all(&self.pool).await? {
                        b.last_ack.insert(r.try_get("address")?, time(r.try_get("last")?)?);
                    }
                }
                for chunk in q.signatures.chunks(IN_CHUNK) {
                    let sql = format!(
                        "SELECT digest FROM used_signatures WHERE digest IN ({})",
                        placeholders(chunk.len())
                    );
                    let mut query = sqlx::query(AssertSqlSafe(sql));
                    for d in chunk {
                        query = query.bind(d);
                    }
                    for r in query.fetch_all(&self.pool).await? {
                        b.spent.insert(r.try_get("digest")?);
                    }
                }
                b.last_lead = sqlx::query("SELECT value FROM service_state WHERE key = $1")
                    .bind(LAST_LEAD)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("value"))
                    .transpose()?;
                Ok(b)
            }

            async fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
                let mut all = Vec::new();
                let mut after = None;
                loop {
                    let page = self.open_incidents_after(after.as_ref(), 1000).await?;
                    if let Some((_, e)) = page.unreadable.into_iter().next() {
                        return Err(e);
                    }
                    match page.last {
                        Some(last) => after = Some(last),
                        None => return Ok(all),
                    }
                    all.extend(page.incidents);
                }
            }

            async fn open_incidents_after(
                &self,
                after: Option<&IncidentId>,
                limit: u32,
            ) -> Result<OpenPage, StoreError> {
                // Keyset pagination on the numbering, which ids do not sort by
                // as text past 9999.
                let (year, seq, prefix) = after.map_or((i64::MIN, 0, String::new()), |id| {
                    (i64::from(id.year()), i64::from(id.seq()), id.prefix().to_owned())
                });
                let sql = format!(
                    "SELECT {INCIDENT_COLUMNS}, year, seq, prefix FROM incidents \
                     WHERE state NOT IN ('closed', 'rejected', 'duplicate', 'cancelled') \
                     AND (year > $1 OR (year = $1 AND (seq > $2 OR (seq = $2 AND prefix > $3)))) \
                     ORDER BY year, seq, prefix LIMIT $4"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(year)
                    .bind(seq)
                    .bind(prefix)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                let mut page = OpenPage::default();
                for row in &rows {
                    // The numbering columns place the row even when the rest
                    // of it cannot be read.
                    let year: i64 = row.try_get("year")?;
                    let seq: i64 = row.try_get("seq")?;
                    let prefix: String = row.try_get("prefix")?;
                    let id = i16::try_from(year)
                        .ok()
                        .zip(u32::try_from(seq).ok())
                        .and_then(|(y, s)| IncidentId::new(&prefix, y, s).ok())
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!("incident number {prefix}-{year}-{seq}"))
                        })?;
                    match incident(row) {
                        Ok(i) => page.incidents.push(i),
                        Err(e) => page.unreadable.push((id.clone(), e)),
                    }
                    page.last = Some(id);
                }
                Ok(page)
            }

            async fn record_update(
                &self,
                incident: &Incident,
                events: &[Event],
                outbox: &[NewMail],
            ) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                self.fenced(&mut tx).await?;
                write_incident(&mut tx, incident).await?;
                let events: Vec<_> = events.iter().map(|e| (&incident.id, e)).collect();
                insert_events(&mut tx, &events).await?;
                let outbox: Vec<_> = outbox.iter().map(|m| (m, incident.updated_at)).collect();
                insert_outbox(&mut tx, &outbox).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn append(
                &self,
                incident: &IncidentId,
                events: &[Event],
                outbox: &[NewMail],
                now: Timestamp,
            ) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                let events: Vec<_> = events.iter().map(|e| (incident, e)).collect();
                insert_events(&mut tx, &events).await?;
                let outbox: Vec<_> = outbox.iter().map(|m| (m, now)).collect();
                insert_outbox(&mut tx, &outbox).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn enqueue(&self, outbox: &[NewMail], now: Timestamp) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                let outbox: Vec<_> = outbox.iter().map(|m| (m, now)).collect();
                insert_outbox(&mut tx, &outbox).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn outbox_has(&self, key: &str) -> Result<bool, StoreError> {
                Ok(sqlx::query("SELECT 1 FROM outbox WHERE mail_key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?
                    .is_some())
            }

            async fn incident_state(&self, id: &IncidentId) -> Result<Option<Incident>, StoreError> {
                let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
                sqlx::query(AssertSqlSafe(sql))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(incident)
                    .transpose()
            }

            async fn record(&self, intake: &Intake) -> Result<(), StoreError> {
                self.record_batch(std::slice::from_ref(intake)).await
            }

            async fn record_batch(&self, intakes: &[Intake]) -> Result<(), StoreError> {
                let mut tx = self.write().await?;
                self.fenced(&mut tx).await?;
                record_all(&mut tx, intakes).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_due(
                &self,
                now: Timestamp,
                lease: SignedDuration,
                limit: u32,
            ) -> Result<Vec<OutboxMail>, StoreError> {
                let mut tx = self.write().await?;
                // PostgreSQL adds FOR UPDATE SKIP LOCKED: replicas claim disjoint rows.
                let sql = format!(
                    "UPDATE outbox SET state = 'sending', claimed_until = $1, attempts = attempts + 1 \
                     WHERE id IN (SELECT id FROM outbox WHERE (state = 'pending' AND due_at <= $2) \
                         OR (state = 'sending' AND claimed_until <= $3) ORDER BY due_at, id LIMIT $4{}) \
                     AND state IN ('pending', 'sending') RETURNING {OUTBOX_COLUMNS}, bytes",
                    $Store::CLAIM_LOCKING
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(secs(now + lease))
                    .bind(secs(now))
                    .bind(secs(now))
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut mails: Vec<OutboxMail> = rows.iter().map(outbox_mail).collect::<Result<_, _>>()?;
                mails.sort_by_key(|m| (m.due_at, m.id));
                Ok(mails)
            }

            async fn mark_sent(
                &self,
                id: i64,
                now: Timestamp,
                transport_id: &str,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET state = 'sent', sent_at = $1, transport_id = $2, claimed_until = NULL \
                     WHERE id = $3",
                )
                .bind(secs(now))
                .bind(transport_id)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn mark_retry(&self, id: i64, error: &str, next_at: Timestamp) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET state = 'pending', due_at = $1, last_error = $2, claimed_until = NULL \
                     WHERE id = $3 AND state = 'sending'",
                )
                .bind(secs(next_at))
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn release(&self, id: i64, claimed_until: Timestamp) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET state = 'pending', claimed_until = NULL, \
                     attempts = attempts - 1 \
                     WHERE id = $1 AND state = 'sending' AND claimed_until = $2",
                )
                .bind(id)
                .bind(secs(claimed_until))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
                let at: Option<i64> =
                    sqlx::query("SELECT MIN(due_at) AS at FROM outbox WHERE state = 'pending'")
                        .fetch_one(&self.pool)
                        .await?
                        .try_get("at")?;
                opt_time(at)
            }

            async fn mark_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "UPDATE outbox SET state = 'failed', last_error = $1, claimed_until = NULL WHERE id = $2",
                )
                .bind(error)
                .bind(id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn incidents(&self) -> Result<Vec<IncidentSummary>, StoreError> {
                let sql = format!(
                    "SELECT {INCIDENT_COLUMNS}, (SELECT COUNT(*) FROM messages m WHERE m.incident_id = i.id) AS n \
                     FROM incidents i ORDER BY year, seq"
                );
                sqlx::query(AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(IncidentSummary {
                            incident: incident(r)?,
                            messages: r.try_get::<i64, _>("n")? as u64,
                        })
                    })
                    .collect()
            }

            async fn incident(&self, id: &IncidentId) -> Result<Option<IncidentRecord>, StoreError> {
                let key = id.to_string();
                let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
                let Some(row) = sqlx::query(AssertSqlSafe(sql))
                    .bind(&key)
                    .fetch_optional(&self.pool)
                    .await?
                else {
                    return Ok(None);
                };
                let sql =
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE incident_id = $1 ORDER BY id");
                let messages = sqlx::query(AssertSqlSafe(sql))
                    .bind(&key)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(stored_message)
                    .collect::<Result<_, _>>()?;
                let events = sqlx::query(
                    "SELECT at, kind, actor, message_id, detail, changes FROM events WHERE incident_id = $1 ORDER BY id",
                )
                .bind(&key)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(event)
                .collect::<Result<_, _>>()?;
                let outbox = outbox_rows(&self.pool, "WHERE incident_id = $1", Some(&key))
                    .await?;
                Ok(Some(IncidentRecord {
                    incident: incident(&row)?,
                    messages,
                    events,
                    outbox,
                }))
            }

            async fn quarantined(&self) -> Result<Vec<StoredMessage>, StoreError> {
                let sql =
                    format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE incident_id IS NULL ORDER BY id");
                sqlx::query(AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(stored_message)
                    .collect()
            }

            async fn raw_message(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(sqlx::query("SELECT raw FROM messages WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(|r| r.try_get("raw"))
                    .transpose()?)
            }

            async fn outbox(&self) -> Result<Vec<OutboxMail>, StoreError> {
                outbox_rows(&self.pool, "", None).await
            }

            async fn deliveries(&self, source: &str) -> Result<Vec<Delivery>, StoreError> {
                sqlx::query(
                    "SELECT source, key, outcome, message FROM deliveries WHERE source = $1 ORDER BY key",
                )
                .bind(source)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(Delivery {
                        source: r.try_get("source")?,
                        key: r.try_get("key")?,
                        outcome: r.try_get("outcome")?,
                        message: r.try_get("message")?,
                    })
                })
                .collect()
            }

            async fn export_table(
                &self,
                table: &'static Table,
                each: &mut (dyn FnMut(Vec<Cell>) -> Result<(), StoreError> + Send),
            ) -> Result<(), StoreError> {
                use futures_util::TryStreamExt;
                let order = if table.by_id { " ORDER BY id" } else { "" };
                let sql = format!("SELECT {} FROM {}{order}", table.column_list(), table.name);
                let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&self.pool);
                while let Some(r) = rows.try_next().await? {
                    let mut cells = Vec::with_capacity(table.columns.len());
                    for (name, kind) in table.columns {
                        let name = *name;
                        cells.push(
                            match kind {
                                dump::Kind::Int => r.try_get::<Option<i64>, _>(name)?.map(Cell::Int),
                                dump::Kind::Text => {
                                    r.try_get::<Option<String>, _>(name)?.map(Cell::Text)
                                }
                                dump::Kind::Bytes => {
                                    r.try_get::<Option<Vec<u8>>, _>(name)?.map(Cell::Bytes)
                                }
                                dump::Kind::Bool => {
                                    r.try_get::<Option<bool>, _>(name)?.map(Cell::Bool)
                                }
                            }
                            .unwrap_or(Cell::Null),
                        );
                    }
                    each(cells)?;
                }
                Ok(())
            }

            async fn import_rows(
                &self,
                rows: &mut (dyn Iterator<Item = Result<(&'static Table, Vec<Cell>), StoreError>>
                          + Send),
            ) -> Result<u64, StoreError> {
                let mut tx = self.write().await?;
                for table in dump::TABLES {
                    let sql = format!("SELECT COUNT(*) AS n FROM {}", table.name);
                    let n: i64 = sqlx::query(AssertSqlSafe(sql))
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                    if n > 0 {
                        return Err(StoreError::NotEmpty(format!(
                            "{n} row(s) in {}",
                            table.name
                        )));
                    }
                }
                let mut written = 0;
                for row in rows {
                    let (table, cells) = row?;
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        table.name,
                        table.column_list(),
                        placeholders(cells.len())
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for ((_, kind), cell) in table.columns.iter().zip(cells) {
                        q = match (kind, cell) {
                            (_, Cell::Int(i)) => q.bind(i),
                            (_, Cell::Text(s)) => q.bind(s),
                            (_, Cell::Bytes(b)) => q.bind(b),
                            (_, Cell::Bool(b)) => q.bind(b),
                            (dump::Kind::Int, Cell::Null) => q.bind(None::<i64>),
                            (dump::Kind::Text, Cell::Null) => q.bind(None::<String>),
                            (dump::Kind::Bytes, Cell::Null) => q.bind(None::<Vec<u8>>),
                            (dump::Kind::Bool, Cell::Null) => q.bind(None::<bool>),
                        };
                    }
                    q.execute(&mut *tx).await?;
                    written += 1;
                }
                for sql in $Store::AFTER_IMPORT {
                    sqlx::query(*sql).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(written)
            }

            async fn gauges(&self) -> Result<Gauges, StoreError> {
                let outbox = self.count_by_state("outbox", OutboxState::parse).await?;
                let incidents = self.count_by_state("incidents", State::parse).await?;
                // Claimed mail counts too: a sender that died holding it
                // leaves it waiting until the claim runs out.
                let first_due: Option<i64> = sqlx::query(
                    "SELECT MIN(COALESCE(first_due_at, due_at)) AS at FROM outbox \
                     WHERE state IN ('pending', 'sending')",
                )
                .fetch_one(&self.pool)
                .await?
                .try_get("at")?;
                Ok(Gauges {
                    outbox,
                    incidents,
                    oldest_due: opt_time(first_due)?,
                })
            }

            async fn counts(&self) -> Result<Counts, StoreError> {
                let r = sqlx::query(
                    "SELECT \
                       (SELECT COUNT(*) FROM incidents) AS incidents, \
                       (SELECT COUNT(*) FROM messages WHERE incident_id IS NOT NULL) AS messages, \
                       (SELECT COUNT(*) FROM messages WHERE incident_id IS NULL) AS quarantined, \
                       (SELECT COUNT(*) FROM deliveries) AS deliveries, \
                       (SELECT COUNT(*) FROM deliveries WHERE outcome = 'duplicate') AS duplicates, \
                       (SELECT COUNT(*) FROM events) AS events, \
                       (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')) AS pending, \
                       (SELECT COUNT(*) FROM outbox WHERE state = 'sent') AS sent, \
                       (SELECT COUNT(*) FROM outbox WHERE state = 'failed') AS failed",
                )
                .fetch_one(&self.pool)
                .await?;
                let n = |c: &str| -> Result<u64, StoreError> { Ok(r.try_get::<i64, _>(c)? as u64) };
                Ok(Counts {
                    incidents: n("incidents")?,
                    messages: n("messages")?,
                    quarantined: n("quarantined")?,
                    deliveries: n("deliveries")?,
                    duplicates: n("duplicates")?,
                    events: n("events")?,
                    outbox_pending: n("pending")?,
                    outbox_sent: n("sent")?,
                    outbox_failed: n("failed")?,
                })
            }
        }
    };
}
pub(super) use sql_store;
