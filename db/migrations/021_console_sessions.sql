-- Console access (processors/admin/session-store.ts, audit-store.ts; docs/http-api.md "Console
-- sessions").
--
-- A console session is the `pp_session` cookie of POST /api/session. Only the SHA-256 of the
-- cookie value is kept: the value is a bearer secret, and a leaked table must open no session. The
-- CSRF token is derived from the cookie value (console-session.ts), so it has no column. Sessions
-- live here rather than in one process's memory so that any admin instance serves any session and
-- a log-out (revoked_at) holds on all of them at once. Expired rows are pruned at log-in.
CREATE TABLE console_sessions (
  session_sha256 text PRIMARY KEY CHECK (session_sha256 ~ '^[0-9a-f]{64}$'),
  actor text NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 64),
  role text NOT NULL CHECK (role IN ('viewer', 'operator')),
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
  revoked_at timestamptz
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Every /api request other than GET/HEAD, allowed or refused, with who made it (null when the
-- request never authenticated) and the status it was answered with. Written by the admin process
-- when the answer has been sent (admin-app.ts says why there). Read newest first by id
-- (GET /api/audit), optionally for one actor.
CREATE TABLE console_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  actor text CHECK (char_length(actor) BETWEEN 1 AND 64),
  role text CHECK (role IN ('viewer', 'operator')),
  method text NOT NULL CHECK (char_length(method) BETWEEN 1 AND 16),
  path text NOT NULL CHECK (char_length(path) BETWEEN 1 AND 2048),
  status integer NOT NULL CHECK (status BETWEEN 100 AND 599),
  correlation_id text NOT NULL CHECK (char_length(correlation_id) BETWEEN 1 AND 128)
);
CREATE INDEX console_audit_actor_id ON console_audit (actor, id);
