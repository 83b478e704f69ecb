-- What each mail's OpenPGP signature proved, and whether it came encrypted
-- (JSON, as core::signature serializes them).
ALTER TABLE messages ADD COLUMN signature TEXT NOT NULL DEFAULT '{"status":"unsigned"}';
ALTER TABLE messages ADD COLUMN encryption TEXT NOT NULL DEFAULT '{"status":"none"}';
