-- Case statistics (統計): one row of facts per case, owned by the cases module and kept exact by
-- triggers in the same transaction as the write that changes a case or appends an event, so a
-- statistics request aggregates 1 row per case instead of the case and all its events, and never
-- drifts. The dates are Tokyo calendar dates (UTC+9, no daylight saving).
CREATE TABLE case_statistics (
  case_id uuid PRIMARY KEY REFERENCES cases (id),
  org_unit_id uuid NOT NULL,
  channel text NOT NULL,
  categories text[] NOT NULL,
  severity text NOT NULL,
  status text NOT NULL,
  occurred_at timestamptz NOT NULL,
  occurred_on date NOT NULL,           -- Tokyo date of occurred_at
  fiscal_year integer NOT NULL,        -- 年度 of occurred_on (April–March)
  handled_alone_forbidden boolean NOT NULL,
  -- 複数名で対応: whether the case ever lacked responders while handled. Set by the cases
  -- service (the rule needs the escalation policy in force) in the transaction of the write.
  responder_shortfall_seen boolean NOT NULL DEFAULT false,
  escalations integer NOT NULL DEFAULT 0,
  conversations_ended integer NOT NULL DEFAULT 0,
  stop_requests integer NOT NULL DEFAULT 0,
  exit_orders integer NOT NULL DEFAULT 0,
  final_warnings integer NOT NULL DEFAULT 0,
  police_calls integer NOT NULL DEFAULT 0,
  police_consultations integer NOT NULL DEFAULT 0,
  entry_bans integer NOT NULL DEFAULT 0,
  limited_apologies integer NOT NULL DEFAULT 0,
  faults_acknowledged integer NOT NULL DEFAULT 0,
  closed_at timestamptz                -- when the case became closed (closed is final)
);
CREATE INDEX case_statistics_by_fiscal_year ON case_statistics (fiscal_year, occurred_on);
CREATE INDEX case_statistics_by_occurred_on ON case_statistics (occurred_on);

CREATE FUNCTION case_statistics_header() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  tokyo date := (NEW.occurred_at AT TIME ZONE 'UTC' + interval '9 hours')::date;
  fy integer := extract(year FROM tokyo - interval '3 months')::integer;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO case_statistics (case_id, org_unit_id, channel, categories, severity, status, occurred_at, occurred_on,
                                 fiscal_year, handled_alone_forbidden)
    VALUES (NEW.id, NEW.org_unit_id, NEW.channel, NEW.categories, NEW.severity, NEW.status, NEW.occurred_at, tokyo, fy,
            NEW.handled_alone_forbidden);
  ELSE
    UPDATE case_statistics SET org_unit_id = NEW.org_unit_id, channel = NEW.channel, categories = NEW.categories,
      severity = NEW.severity, status = NEW.status, occurred_at = NEW.occurred_at, occurred_on = tokyo, fiscal_year = fy,
      handled_alone_forbidden = NEW.handled_alone_forbidden
    WHERE case_id = NEW.id;
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER case_statistics_header AFTER INSERT OR UPDATE ON cases
  FOR EACH ROW EXECUTE FUNCTION case_statistics_header();

-- Events are append-only (0004), so an insert is the only change to count. One statement per
-- insert statement (its new rows as a transition table): a bulk import updates each case once.
CREATE FUNCTION case_statistics_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE case_statistics s SET
    escalations = s.escalations + e.escalations,
    conversations_ended = s.conversations_ended + e.conversations_ended,
    stop_requests = s.stop_requests + e.stop_requests,
    exit_orders = s.exit_orders + e.exit_orders,
    final_warnings = s.final_warnings + e.final_warnings,
    police_calls = s.police_calls + e.police_calls,
    police_consultations = s.police_consultations + e.police_consultations,
    entry_bans = s.entry_bans + e.entry_bans,
    limited_apologies = s.limited_apologies + e.limited_apologies,
    faults_acknowledged = s.faults_acknowledged + e.faults_acknowledged,
    closed_at = coalesce(e.closed_at, s.closed_at)
  FROM (
    SELECT case_id,
           count(*) FILTER (WHERE type = 'escalation') AS escalations,
           count(*) FILTER (WHERE type = 'conversation_ended') AS conversations_ended,
           count(*) FILTER (WHERE type = 'stop_request') AS stop_requests,
           count(*) FILTER (WHERE type = 'exit_order') AS exit_orders,
           count(*) FILTER (WHERE type = 'final_warning') AS final_warnings,
           count(*) FILTER (WHERE type = 'police_called') AS police_calls,
           count(*) FILTER (WHERE type = 'police_consultation') AS police_consultations,
           count(*) FILTER (WHERE type = 'entry_ban') AS entry_bans,
           count(*) FILTER (WHERE type = 'limited_apology') AS limited_apologies,
           count(*) FILTER (WHERE type = 'fault_acknowledged') AS faults_acknowledged,
           max(occurred_at) FILTER (WHERE type = 'status_changed' AND details ->> 'to' = 'closed') AS closed_at
    FROM new_events GROUP BY case_id
  ) e
  WHERE s.case_id = e.case_id;
  RETURN NULL;
END
$$;
CREATE TRIGGER case_statistics_events AFTER INSERT ON case_events
  REFERENCING NEW TABLE AS new_events
  FOR EACH STATEMENT EXECUTE FUNCTION case_statistics_events();

-- The cases already recorded.
INSERT INTO case_statistics (case_id, org_unit_id, channel, categories, severity, status, occurred_at, occurred_on, fiscal_year,
                             handled_alone_forbidden, escalations, conversations_ended, stop_requests, exit_orders,
                             final_warnings, police_calls, police_consultations, entry_bans, limited_apologies,
                             faults_acknowledged, closed_at)
SELECT c.id, c.org_unit_id, c.channel, c.categories, c.severity, c.status, c.occurred_at,
       (c.occurred_at AT TIME ZONE 'UTC' + interval '9 hours')::date,
       extract(year FROM (c.occurred_at AT TIME ZONE 'UTC' + interval '9 hours')::date - interval '3 months')::integer,
       c.handled_alone_forbidden,
       count(*) FILTER (WHERE e.type = 'escalation'), count(*) FILTER (WHERE e.type = 'conversation_ended'),
       count(*) FILTER (WHERE e.type = 'stop_request'), count(*) FILTER (WHERE e.type = 'exit_order'),
       count(*) FILTER (WHERE e.type = 'final_warning'), count(*) FILTER (WHERE e.type = 'police_called'),
       count(*) FILTER (WHERE e.type = 'police_consultation'), count(*) FILTER (WHERE e.type = 'entry_ban'),
       count(*) FILTER (WHERE e.type = 'limited_apology'), count(*) FILTER (WHERE e.type = 'fault_acknowledged'),
       max(e.occurred_at) FILTER (WHERE e.type = 'status_changed' AND e.details ->> 'to' = 'closed')
FROM cases c LEFT JOIN case_events e ON e.case_id = c.id
GROUP BY c.id;
