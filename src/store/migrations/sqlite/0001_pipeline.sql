-- The embedded pipeline: incidents, the mail filed on them, the event log,
-- the outbox, and what each source has delivered. Times are Unix seconds, UTC.

CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,          -- EMB-2026-0007
    prefix        TEXT NOT NULL,
    year          INTEGER NOT NULL,
    seq           INTEGER NOT NULL,
    state         TEXT NOT NULL,
    title         TEXT NOT NULL,
    reporter      TEXT,                      -- address
    reporter_name TEXT,
    commander     TEXT,                      -- roster address
    opened_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (prefix, year, seq)
);

-- Every mail kept, raw bytes included: a report is evidence. A quarantined
-- mail (one that could not be parsed) has no incident.
CREATE TABLE messages (
    id                INTEGER PRIMARY KEY,
    incident_id       TEXT REFERENCES incidents(id),
    message_id        TEXT NOT NULL,
    synthesized_id    INTEGER NOT NULL DEFAULT 0,
    body_digest       TEXT NOT NULL,
    in_reply_to       TEXT NOT NULL DEFAULT '[]',   -- JSON array
    refs              TEXT NOT NULL DEFAULT '[]',   -- JSON array
    from_addr         TEXT,
    from_name         TEXT,
    to_addrs          TEXT NOT NULL DEFAULT '[]',   -- JSON array of mailboxes
    cc_addrs          TEXT NOT NULL DEFAULT '[]',
    subject           TEXT NOT NULL DEFAULT '',
    sent_at           INTEGER,                      -- the Date header, untrusted
    received_at       INTEGER NOT NULL,
    body_text         TEXT NOT NULL DEFAULT '',
    text_source       TEXT NOT NULL DEFAULT 'none',
    attachments       TEXT NOT NULL DEFAULT '[]',   -- JSON array
    problems          TEXT NOT NULL DEFAULT '[]',   -- JSON array: what could not be read
    joined_via        TEXT,
    quarantine_reason TEXT,
    size              INTEGER NOT NULL,
    raw               BLOB NOT NULL,
    UNIQUE (message_id, body_digest)
);
CREATE INDEX messages_incident ON messages (incident_id, id);

-- Message-ID → incident, for inbound mail and for the mail the service
-- sent, so that a reply to either finds its incident. First filing wins.
CREATE TABLE thread_links (
    message_id  TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    direction   TEXT NOT NULL CHECK (direction IN ('in', 'out'))
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    message_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX events_incident ON events (incident_id, id);

CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;

-- Outgoing mail, written in the same transaction as the decision that
-- creates it. `mail_key` makes enqueueing idempotent; the Message-ID is
-- derived from it, so a resend is recognisable.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY,
    mail_key      TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    incident_id   TEXT REFERENCES incidents(id),
    message_id    TEXT NOT NULL UNIQUE,
    mail_from     TEXT NOT NULL,
    recipients    TEXT NOT NULL,               -- JSON array of addresses
    subject       TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    due_at        INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_until INTEGER,
    last_error    TEXT,
    sent_at       INTEGER,
    transport_id  TEXT
);
CREATE INDEX outbox_due ON outbox (state, due_at);

-- When each sender was last answered automatically (the rate limit).
CREATE TABLE auto_replies (
    address TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX auto_replies_address ON auto_replies (address, at);

-- Every delivery a source handed over, and what became of it: the proof
-- that nothing was lost and nothing processed twice.
CREATE TABLE deliveries (
    source     TEXT NOT NULL,
    key        TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('filed', 'duplicate', 'quarantined')),
    message    INTEGER NOT NULL REFERENCES messages(id),
    at         INTEGER NOT NULL,
    PRIMARY KEY (source, key)
);
