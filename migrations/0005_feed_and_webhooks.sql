-- The change feed's positions, indexes for auditors' queries, and webhooks.

-- ---------------------------------------------------------------------------------------------
-- Change feed positions (src/changes/sequencer.ts explains the design).
--
-- A domain transaction inserts its changes with no position. When it commits, a deferred
-- trigger draws one commit ticket for the transaction from a sequence: the ticket is taken at
-- COMMIT, after every write of the transaction, so a transaction that waited for another's row
-- lock, or read its committed data, always draws a larger ticket than that other transaction.
-- The sequencer (one at a time, advisory lock) then gives committed changes gap-free positions
-- 1, 2, 3, … in (ticket, id) order. Positions are only ever assigned to committed rows and in
-- increasing order, so the positions a reader can see are always exactly 1..head.
-- CACHE 1 (the default, stated): a per-session cache would hand out tickets out of order.
CREATE SEQUENCE change_commit_tickets AS bigint CACHE 1;

CREATE TABLE change_commits (
  txid xid8 PRIMARY KEY,
  ticket bigint NOT NULL UNIQUE
);

CREATE FUNCTION changes_commit_ticket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- One ticket per transaction: the first of its change rows draws it, the rest skip.
  IF current_setting('madoguchi.change_ticket_drawn', true) IS DISTINCT FROM 'yes' THEN
    INSERT INTO change_commits (txid, ticket)
    VALUES (pg_current_xact_id(), nextval('change_commit_tickets'))
    ON CONFLICT (txid) DO NOTHING;
    PERFORM set_config('madoguchi.change_ticket_drawn', 'yes', true);
  END IF;
  RETURN NULL;
END
$$;

-- INITIALLY DEFERRED: fires at COMMIT, not at the INSERT.
CREATE CONSTRAINT TRIGGER changes_commit_ticket
  AFTER INSERT ON changes
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION changes_commit_ticket();

ALTER TABLE changes ADD COLUMN position bigint UNIQUE;
CREATE INDEX changes_unsequenced ON changes (txid, id) WHERE position IS NULL;
-- Chain of custody: every change of one record.
CREATE INDEX changes_resource ON changes (resource_type, resource_id, id);

-- ---------------------------------------------------------------------------------------------
-- Auditors' queries.
-- Time ranges map to chain positions with an index-only scan.
CREATE INDEX audit_events_time_chain ON audit_events (occurred_at) INCLUDE (chain_seq);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- ---------------------------------------------------------------------------------------------
-- Webhooks: subscribers to the change feed, registered by administrators.
CREATE TABLE webhooks (
  id uuid PRIMARY KEY,
  url text NOT NULL CHECK (length(url) <= 2000),
  kinds text[] NOT NULL CHECK (cardinality(kinds) BETWEEN 1 AND 50),
  org_unit_id uuid REFERENCES org_units (id),   -- NULL: every unit
  description text NOT NULL DEFAULT '',
  -- The signing key. Needed in clear to sign; never returned by the API after creation.
  secret text NOT NULL,
  active boolean NOT NULL DEFAULT true,
  -- The feed head when the webhook was created: it receives the changes after it.
  start_position bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

-- How far the dispatcher has turned feed positions into deliveries (one row).
CREATE TABLE webhook_dispatch (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  position bigint NOT NULL
);
INSERT INTO webhook_dispatch (position) VALUES (0);

-- One delivery per (webhook, change): the queue, worked with FOR UPDATE SKIP LOCKED.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY,
  webhook_id uuid NOT NULL REFERENCES webhooks (id),
  change_position bigint NOT NULL,
  kind text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  last_status integer,                  -- HTTP status of the last attempt; NULL: no response
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (webhook_id, change_position)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, change_position);

-- Every attempt and its outcome.
CREATE TABLE webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id),
  attempt integer NOT NULL,
  attempted_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  http_status integer,
  error text
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt);
