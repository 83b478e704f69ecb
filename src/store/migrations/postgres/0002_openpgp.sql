-- What each mail's OpenPGP signature proved, and whether it came encrypted.
ALTER TABLE messages ADD COLUMN signature TEXT NOT NULL DEFAULT '{"status":"unsigned"}';
ALTER TABLE messages ADD COLUMN encryption TEXT NOT NULL DEFAULT '{"status":"none"}';
