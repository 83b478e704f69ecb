-- Message-IDs that filed mail refers to (In-Reply-To, References) but that
-- are not filed themselves: a parent that arrives after its reply joins the
-- reply's incident, and so do the reply's siblings. Filed and sent mail
-- keep their own rows in thread_links, which win.
CREATE TABLE thread_refs (
    message_id  TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id)
);
