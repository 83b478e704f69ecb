-- The ingest lease's fencing token. Each process that takes the lease
-- advances it; every write made on the lease's behalf checks, in its own
-- transaction, that it still holds the newest one. A replica that lost the
-- lease without knowing it (a dropped connection, a frozen machine) has its
-- writes refused instead of racing the one that took over.
CREATE TABLE ingest_epoch (
    one   INTEGER PRIMARY KEY CHECK (one = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO ingest_epoch (one, epoch) VALUES (1, 0);
