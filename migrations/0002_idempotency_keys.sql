-- Idempotency keys for creating requests (Idempotency-Key header): a retry with the same key
-- and body gets the first response again; the same key with another body is refused.
-- The first request's row is inserted in its own transaction, so a concurrent retry waits on
-- the primary key until the first commits (then replays) or rolls back (then runs itself).
CREATE TABLE idempotency_keys (
  subject text NOT NULL,
  operation text NOT NULL,            -- the route's operationId
  key text NOT NULL,
  request_hash text NOT NULL,         -- sha256 of the path parameters and body
  status smallint,
  response jsonb,
  location text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject, operation, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
