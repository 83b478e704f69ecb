-- Bounces of the service's own mail. Each outbox mail goes out with its
-- own return path, `<local>+bounce-<bounce_token>@<domain>`: the token is
-- random (nothing public predicts it), so a bounce that comes back to it
-- names its mail and cannot be forged by someone who never received it.
-- A bounced mail keeps state 'sent' (it left, and is never sent again);
-- `bounced_at` says it came back, and `last_error` holds the remote
-- server's words.
ALTER TABLE outbox ADD COLUMN bounce_token TEXT;
ALTER TABLE outbox ADD COLUMN bounced_at BIGINT;
CREATE UNIQUE INDEX outbox_bounce_token ON outbox (bounce_token);
