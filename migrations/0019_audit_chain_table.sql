-- The audit hash chain in a table of its own (issue 13: link 1,000,000 entries in under 15 s).
-- Linking used to UPDATE every entry of audit_events (chain_seq, prev_hash, hash): a new row
-- version and a new entry in each of its nine indexes per linked entry, through the append-only
-- trigger. The links are now rows of an insert-only table: the linker inserts one row per entry,
-- and audit_events is never updated at all.
--
-- No foreign key to audit_events: its check is an index lookup and a row lock (a write to the
-- entry's page) per linked entry, which is most of what moving the links out saves; and it
-- protects nothing the guards do not: entries are never deleted (audit_events_guard), and an
-- entry removed with the guards switched off is what verification reports (missing-entry: the
-- chain is read joined with its entries, so a link without its entry is a gap).
CREATE TABLE audit_chain (
  seq bigint PRIMARY KEY CHECK (seq >= 1),   -- the position in the chain: 1, 2, 3, … without gaps
  entry_id bigint NOT NULL UNIQUE,           -- audit_events.id; each entry is linked once
  prev_hash text NOT NULL,
  hash text NOT NULL
);

INSERT INTO audit_chain (seq, entry_id, prev_hash, hash)
  SELECT chain_seq, id, prev_hash, hash FROM audit_events WHERE chain_seq IS NOT NULL;

-- Append-only, like audit_events: no UPDATE, DELETE or TRUNCATE.
CREATE FUNCTION audit_chain_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_chain is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_chain_append_only
  BEFORE UPDATE OR DELETE ON audit_chain
  FOR EACH ROW EXECUTE FUNCTION audit_chain_append_only();
CREATE TRIGGER audit_chain_no_truncate
  BEFORE TRUNCATE ON audit_chain
  FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_append_only();

-- audit_events no longer allows any UPDATE: the linker's was the only one.
CREATE OR REPLACE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Pending entries are found from a watermark (the head link's entry) in (txid, id) order, the
-- order entries are linked in: a plain index, where the partial one held only unlinked entries.
DROP INDEX audit_events_unchained;
CREATE INDEX audit_events_link_order ON audit_events (txid, id);
-- Time ranges map to chain positions through audit_events_occurred_at joined with
-- audit_chain's entry_id index.
DROP INDEX audit_events_time_chain;
ALTER TABLE audit_events DROP COLUMN chain_seq, DROP COLUMN prev_hash, DROP COLUMN hash;
