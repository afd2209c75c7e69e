-- GET /api/audit lists newest first by when the request arrived (`at`), ties by id, because a row
-- is written once its answer is over and a quick request's row can come before a slower earlier
-- one's id. Its two reads (all rows, one actor's) walk these indexes backwards from the cursor.
CREATE INDEX console_audit_at_id ON console_audit (at, id);
CREATE INDEX console_audit_actor_at_id ON console_audit (actor, at, id);
DROP INDEX console_audit_actor_id;
