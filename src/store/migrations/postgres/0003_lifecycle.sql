-- The incident lifecycle, as in the SQLite migration of the same number.
ALTER TABLE incidents ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
ALTER TABLE events ADD COLUMN changes TEXT NOT NULL DEFAULT '[]';

CREATE TABLE used_signatures (
    digest      TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    message_id  TEXT,
    at          BIGINT NOT NULL
);

CREATE TABLE service_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
