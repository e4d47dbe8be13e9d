-- Cases (カスハラ事案) and their chronological record (時系列).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Case numbers run per fiscal year (年度, April–March in Asia/Tokyo): 2025-000001, 2025-000002…
-- The counter row is locked by the creating transaction, so numbers have no gaps or repeats.
CREATE TABLE case_number_counters (
  fiscal_year integer PRIMARY KEY,
  last_number integer NOT NULL
);

CREATE TABLE cases (
  id uuid PRIMARY KEY,
  number text NOT NULL UNIQUE,
  org_unit_id uuid NOT NULL REFERENCES org_units (id),
  channel text NOT NULL CHECK (channel IN ('counter', 'phone', 'email', 'letter', 'visit', 'online')),
  occurred_at timestamptz NOT NULL,
  location text CHECK (length(location) <= 500),
  categories text[] NOT NULL CHECK (
    cardinality(categories) BETWEEN 1 AND 8
    AND categories <@ ARRAY['verbal_abuse', 'intimidation', 'violence', 'sexual_harassment',
                            'prolonged_detention', 'excessive_demand', 'online_exposure', 'other']),
  severity text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'escalated', 'in_review', 'resolved', 'closed')),
  summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 10000),
  external_system text,
  external_ref text,
  -- 一人で対応しない: set when a category the escalation policy names is present.
  handled_alone_forbidden boolean NOT NULL DEFAULT false,
  -- The escalation policy version that decided the above.
  escalation_policy_id uuid REFERENCES policy_versions (id),
  -- Open cases nobody may handle alone come first in every list.
  priority smallint GENERATED ALWAYS AS (
    CASE WHEN handled_alone_forbidden AND status IN ('open', 'escalated', 'in_review') THEN 1 ELSE 0 END
  ) STORED,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT cases_external_ref UNIQUE (external_system, external_ref),
  CONSTRAINT cases_external_ref_pair CHECK ((external_system IS NULL) = (external_ref IS NULL))
);
-- Lists are ordered (priority, occurred_at, id) descending; each filter has an index that
-- serves that order or narrows the rows to a few.
CREATE INDEX cases_list ON cases (priority, occurred_at, id);
CREATE INDEX cases_by_status ON cases (status, priority, occurred_at, id);
CREATE INDEX cases_by_severity ON cases (severity, priority, occurred_at, id);
CREATE INDEX cases_by_org_unit ON cases (org_unit_id, priority, occurred_at, id);
CREATE INDEX cases_by_occurred_at ON cases (occurred_at, id);
CREATE INDEX cases_by_external_ref ON cases (external_ref);
CREATE INDEX cases_categories ON cases USING gin (categories);
CREATE INDEX cases_summary_text ON cases USING gin (summary gin_trgm_ops);

-- The customer's contact details (個人情報), kept apart from the case header: roles without
-- the right see the header only, and the data can be protected or purged on its own.
CREATE TABLE case_customers (
  case_id uuid PRIMARY KEY REFERENCES cases (id),
  name text CHECK (length(name) <= 200),
  address text CHECK (length(address) <= 500),
  phone text CHECK (length(phone) <= 50),
  email text CHECK (length(email) <= 254),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Who responds to a case (対応者). Staff reach is "cases I respond to".
CREATE TABLE case_responders (
  case_id uuid NOT NULL REFERENCES cases (id),
  subject text NOT NULL,
  added_by text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (case_id, subject)
);
CREATE INDEX case_responders_by_subject ON case_responders (subject, case_id);

-- Names staff may be shown by (名札): what their tokens said when they last acted.
-- Responses show the name the name-display policy allows, never more.
CREATE TABLE staff_profiles (
  subject text PRIMARY KEY,
  full_name text,
  family_name text,
  business_name text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The chronological record. Append-only: a mistake is corrected by a later `correction`
-- event naming the event it corrects; nothing is updated or deleted.
CREATE TABLE case_events (
  id uuid PRIMARY KEY,
  case_id uuid NOT NULL REFERENCES cases (id),
  seq integer NOT NULL,                 -- append order within the case: 1, 2, 3…
  type text NOT NULL CHECK (type IN (
    'intake', 'contact', 'customer_statement', 'limited_apology', 'fact_check', 'fault_acknowledged',
    'report_to_supervisor', 'escalation', 'handover', 'status_changed', 'responder_added',
    'conversation_ended', 'stop_request', 'exit_order', 'final_warning', 'police_called',
    'police_consultation', 'entry_ban', 'resolution', 'note', 'correction')),
  occurred_at timestamptz NOT NULL,     -- when it happened
  recorded_at timestamptz NOT NULL DEFAULT now(),  -- when it was written
  actor text NOT NULL,                  -- subject of the writer, or 'system'
  description text CHECK (length(description) <= 10000),
  quote text CHECK (length(quote) <= 10000),       -- the customer's exact words
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  corrects_event_id uuid REFERENCES case_events (id),
  policy_version_id uuid REFERENCES policy_versions (id),  -- the policy a system decision followed
  CONSTRAINT case_events_seq UNIQUE (case_id, seq),
  CONSTRAINT case_events_correction CHECK ((type = 'correction') = (corrects_event_id IS NOT NULL))
);
CREATE INDEX case_events_timeline ON case_events (case_id, occurred_at, seq);
CREATE INDEX case_events_by_type ON case_events (case_id, type);

CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'case_events is append-only (% refused); record a correction instead', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER case_events_append_only
  BEFORE UPDATE OR DELETE ON case_events
  FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
CREATE TRIGGER case_events_no_truncate
  BEFORE TRUNCATE ON case_events
  FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();
