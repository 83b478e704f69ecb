-- When each outbox mail first fell due. A retry after a temporary failure
-- moves due_at on; the metrics' age of the oldest due mail must not move
-- with it, or a mail the server refuses again and again never looks late.
ALTER TABLE outbox ADD COLUMN first_due_at BIGINT;
UPDATE outbox SET first_due_at = due_at;
