-- The incident lifecycle: what commands set on an incident (JSON, as
-- core::incident::Details), the changes each event made (so the log
-- replays to the incident), the signatures whose commands were applied
-- (never again), and small pieces of service state such as the Fix Lead
-- round-robin.
ALTER TABLE incidents ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN changes TEXT NOT NULL DEFAULT '[]';

CREATE TABLE used_signatures (
    digest      TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    message_id  TEXT,
    at          INTEGER NOT NULL
);

CREATE TABLE service_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
