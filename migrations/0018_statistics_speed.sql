-- Statistics speed (issue 16: p95 under 200 ms on 100,000 cases / 1,000,000 events). Both tables
-- stay exact: they change in the transaction of the write they summarise, never afterwards.
--
-- Why not a monthly summary (unit × month × channel × category × severity × status × outcome):
-- the figures can be asked for any period of days and for the cases one responds to, and days to
-- close are fractional (occurred_at to the closing event), so medians need every value; with that
-- many dimensions such a table has about one row per case and category anyway.

-- 1. What a statistics request groups and sorts by, computed once when the row is written instead
-- of for every row of every request: the Tokyo month ('YYYY-MM', bytewise collation as grouping
-- sorts it), the outcome (how far the case got on the escalation ladder) and the days from
-- occurrence to closing (null while not closed).
ALTER TABLE case_statistics
  ADD COLUMN month text COLLATE "C" GENERATED ALWAYS AS (
    lpad(extract(year FROM occurred_on)::integer::text, 4, '0') || '-' || lpad(extract(month FROM occurred_on)::integer::text, 2, '0')
  ) STORED,
  ADD COLUMN outcome text COLLATE "C" GENERATED ALWAYS AS (
    CASE WHEN entry_bans > 0 THEN 'entry_ban' WHEN police_calls + police_consultations > 0 THEN 'police'
         WHEN final_warnings > 0 THEN 'final_warning' WHEN exit_orders > 0 THEN 'exit_order'
         WHEN stop_requests > 0 THEN 'stop_request' WHEN conversations_ended > 0 THEN 'conversation_ended' ELSE 'none' END
  ) STORED,
  ADD COLUMN days_to_close double precision GENERATED ALWAYS AS (extract(epoch FROM closed_at - occurred_at) / 86400) STORED;

-- 2. Recordings per case (owned by the recordings module): how many recordings a case has and how
-- many of them lack the notice the policy required. Replaces two EXISTS probes per case and
-- category in every statistics request with one hash join. Recordings are few writes next to
-- events, so a row trigger is cheap; the upsert takes the row lock, so concurrent registrations
-- for one case both count.
CREATE TABLE case_recording_counts (
  case_id uuid PRIMARY KEY,
  recordings integer NOT NULL,
  notice_missing integer NOT NULL
);

CREATE FUNCTION case_recording_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.case_id IS NOT NULL THEN
    UPDATE case_recording_counts SET recordings = recordings - 1, notice_missing = notice_missing - OLD.notice_missing::integer
    WHERE case_id = OLD.case_id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.case_id IS NOT NULL THEN
    INSERT INTO case_recording_counts (case_id, recordings, notice_missing) VALUES (NEW.case_id, 1, NEW.notice_missing::integer)
    ON CONFLICT (case_id) DO UPDATE SET recordings = case_recording_counts.recordings + 1,
      notice_missing = case_recording_counts.notice_missing + excluded.notice_missing;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER case_recording_counts AFTER INSERT OR DELETE OR UPDATE OF case_id, notice_missing ON recordings
  FOR EACH ROW EXECUTE FUNCTION case_recording_counts();

-- The recordings already registered.
INSERT INTO case_recording_counts (case_id, recordings, notice_missing)
SELECT case_id, count(*), count(*) FILTER (WHERE notice_missing) FROM recordings WHERE case_id IS NOT NULL GROUP BY case_id;
