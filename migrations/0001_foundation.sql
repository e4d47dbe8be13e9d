-- Foundation: org units, the audit trail and the change outbox.
-- Migrations are plain SQL, applied in file-name order by `npm run migrate` and at start,
-- inside one transaction guarded by an advisory lock (Kysely's Migrator).

-- Org units (所属) form a tree. `path` is the materialised chain of ids from the root,
-- '/'-separated and ending in '/', so "this unit and everything under it" is one
-- index-backed prefix match.
CREATE TABLE org_units (
  id uuid PRIMARY KEY,
  parent_id uuid REFERENCES org_units (id),
  code text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  path text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL
);
CREATE INDEX org_units_path_prefix ON org_units (path text_pattern_ops);
CREATE INDEX org_units_parent ON org_units (parent_id);

-- The root unit exists from the start so that a fresh service has somewhere to put things
-- and `npm run token` has a unit to default to.
INSERT INTO org_units (id, parent_id, code, name, path, created_by)
VALUES ('00000000-0000-7000-8000-000000000001', NULL, 'root', '本庁 (root)',
        '00000000-0000-7000-8000-000000000001/', 'system');

-- Audit trail (監査証跡). Append-only, hash-chained.
-- Request transactions insert entries with their transaction id (txid) and no hash.
-- The chainer (src/audit/chain.ts) later links every entry whose transaction has ended,
-- in (txid, id) order, under an advisory lock: one linear chain however many writers run
-- concurrently, and no writer waits on another to commit.
CREATE TABLE audit_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  occurred_at timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  subject text,                       -- JWT sub; NULL when no valid token was presented
  roles text[] NOT NULL DEFAULT '{}',
  org_unit text,                      -- the caller's org_unit claim
  action text NOT NULL,               -- the route's operationId, e.g. getCase
  route text NOT NULL,                -- method and route pattern, never the raw URL
  resource_type text,
  resource_id text,
  outcome text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'failed')),
  status smallint NOT NULL,
  request_id text NOT NULL,
  client_address text,
  details jsonb NOT NULL DEFAULT '{}'::jsonb,  -- ids and counts only, never personal data
  chain_seq bigint UNIQUE,
  prev_hash text,
  hash text
);
CREATE INDEX audit_events_unchained ON audit_events (txid, id) WHERE chain_seq IS NULL;
CREATE INDEX audit_events_occurred_at ON audit_events (occurred_at);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id, id);
CREATE INDEX audit_events_subject ON audit_events (subject, id);
CREATE INDEX audit_events_request ON audit_events (request_id);

-- Append-only in the database itself: no DELETE, no TRUNCATE, and the only UPDATE allowed
-- is the chainer linking an unlinked entry once, leaving its content as it was.
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF OLD.chain_seq IS NULL AND NEW.chain_seq IS NOT NULL
       AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (OLD.id, OLD.txid, OLD.occurred_at, OLD.subject, OLD.roles, OLD.org_unit, OLD.action,
          OLD.route, OLD.resource_type, OLD.resource_id, OLD.outcome, OLD.status,
          OLD.request_id, OLD.client_address, OLD.details)
         IS NOT DISTINCT FROM
         (NEW.id, NEW.txid, NEW.occurred_at, NEW.subject, NEW.roles, NEW.org_unit, NEW.action,
          NEW.route, NEW.resource_type, NEW.resource_id, NEW.outcome, NEW.status,
          NEW.request_id, NEW.client_address, NEW.details)
    THEN
      RETURN NEW;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_guard();

-- Change outbox (the `changes` feed). Domain writes add a row in the same transaction as
-- the change; readers only see rows whose transaction has ended (txid below the snapshot's
-- xmin), so a row that commits late can never appear behind a reader's position.
CREATE TABLE changes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  occurred_at timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  kind text NOT NULL,                 -- e.g. case.created, recording.disposed
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  org_unit_id uuid,                   -- for integration clients' reach
  data jsonb NOT NULL DEFAULT '{}'::jsonb   -- ids, versions, statuses: never personal data
);
CREATE INDEX changes_order ON changes (txid, id);
