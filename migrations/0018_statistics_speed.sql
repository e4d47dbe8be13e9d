-- Statistics speed (issue 16: p95 under 200 ms on 100,000 cases / 1,000,000 events). The summary
-- stays exact: every column below changes in the transaction of the write it summarises.
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
-- Durations are aggregated over the closed cases of the period only (a fifth of the rows or so).
-- Closing is final, so the predicate changes once per case; later updates can stay HOT.
CREATE INDEX case_statistics_closed ON case_statistics (occurred_on) WHERE days_to_close IS NOT NULL;

-- 2. Recordings of the case: how many it has and how many of them lack the notice the recording
-- policy required (告知なし), kept on the case's row by a trigger on recordings (the recordings
-- module's, writing only these two columns). Replaces two EXISTS probes per case and category in
-- every request; a join with a table of counts per case instead still cost a fifth of a request.
-- Recordings are never deleted (0007) and few writes next to events, so a row trigger is cheap;
-- the update takes the row's lock, so concurrent registrations for one case both count.
ALTER TABLE case_statistics
  ADD COLUMN recordings integer NOT NULL DEFAULT 0,
  ADD COLUMN recordings_notice_missing integer NOT NULL DEFAULT 0;

CREATE FUNCTION case_statistics_recordings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.case_id IS NOT NULL THEN
    UPDATE case_statistics SET recordings = recordings - 1, recordings_notice_missing = recordings_notice_missing - OLD.notice_missing::integer
    WHERE case_id = OLD.case_id;
  END IF;
  IF NEW.case_id IS NOT NULL THEN
    UPDATE case_statistics SET recordings = recordings + 1, recordings_notice_missing = recordings_notice_missing + NEW.notice_missing::integer
    WHERE case_id = NEW.case_id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER case_statistics_recordings AFTER INSERT OR UPDATE OF case_id, notice_missing ON recordings
  FOR EACH ROW EXECUTE FUNCTION case_statistics_recordings();

-- The recordings already registered.
UPDATE case_statistics s SET recordings = r.recordings, recordings_notice_missing = r.notice_missing
FROM (SELECT case_id, count(*) AS recordings, count(*) FILTER (WHERE notice_missing) AS notice_missing
      FROM recordings WHERE case_id IS NOT NULL GROUP BY case_id) r
WHERE s.case_id = r.case_id;
