-- Leak incidents (漏えい等): the first seed's five principles as a workflow, with the reporting
-- duty of 個人情報保護法第68条 and its deadlines. An incident has one owner (窓口) changed only by
-- a recorded handover, a team with roles, a chronological record of facts (append-only, each
-- confirmed or not) and statements that rely on confirmed facts, actions, a disclosure decision,
-- reports to the Commission and notifications of the persons affected. Linked recordings are kept
-- by an `incident` hold until a records manager releases it after the incident is closed.

-- The response plan is a policy type of its own (incident_response), versioned like the others.
ALTER TABLE policy_versions DROP CONSTRAINT policy_versions_type_check;
ALTER TABLE policy_versions ADD CONSTRAINT policy_versions_type_check
  CHECK (type IN ('recording', 'name_display', 'escalation', 'retention', 'calendar', 'disclosure', 'incident_response'));

-- The shipped response plan (DOMAIN.md; 個人情報保護委員会規則第43条・第44条 for 行政機関等):
-- more than 100 persons is reportable; the first report (速報) within 5 days and the final report
-- (確報) within 30 days, 60 where a wrongful purpose is suspected, counting the day of becoming
-- aware as day 1 and moving a deadline on an office holiday to the next office day.
INSERT INTO policy_versions (id, type, effective_from, body, note, created_by) VALUES
('00000000-0000-7000-8000-0000000015a1', 'incident_response', '1970-01-01', '{
  "contacts": [],
  "persons_threshold": 100,
  "ordinance_sensitive_categories": [],
  "reporting": {
    "first_report_days": 5,
    "final_report_days": 30,
    "final_report_days_wrongful_purpose": 60,
    "day_one": "awareness_date",
    "roll_forward_office_holidays": true,
    "warn_days_before": 2
  }
}', 'Default response plan: threshold 100 persons (行政機関等); 速報 5 days, 確報 30/60 days from the day of becoming aware (day 1), moved past office holidays', 'system');

-- Incident holds (kept while a leak is handled) are placed and released only through incidents.
ALTER TABLE recording_holds DROP CONSTRAINT recording_holds_type_check;
ALTER TABLE recording_holds ADD CONSTRAINT recording_holds_type_check
  CHECK (type IN ('audit', 'litigation', 'appeal', 'disclosure_request', 'other', 'incident'));

CREATE TABLE incidents (
  id uuid PRIMARY KEY,
  org_unit_id uuid NOT NULL REFERENCES org_units (id),      -- the unit that opened it (change feed)
  kind text NOT NULL CHECK (kind IN ('leak', 'loss', 'damage', 'unauthorised_use')),
  drill boolean NOT NULL DEFAULT false,                       -- 訓練: never reportable, never holds
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  summary text NOT NULL CHECK (length(summary) BETWEEN 1 AND 10000),       -- what happened
  discovery text NOT NULL CHECK (length(discovery) BETWEEN 1 AND 5000),    -- how it was discovered
  occurred_at timestamptz,                                    -- null while unknown
  aware_at timestamptz NOT NULL,                              -- 知った日時: the reporting clock starts here
  data_items text[] NOT NULL DEFAULT '{}',
  persons_affected integer CHECK (persons_affected >= 0),     -- null while unknown
  persons_affected_basis text CHECK (persons_affected_basis IN ('estimated', 'confirmed')),
  -- The facts the reporting duty turns on (規則第43条).
  sensitive_personal_information boolean NOT NULL DEFAULT false,   -- 要配慮個人情報
  financial_harm_risk boolean NOT NULL DEFAULT false,              -- 財産的被害のおそれ
  wrongful_purpose_suspected boolean NOT NULL DEFAULT false,       -- 不正の目的のおそれ
  ordinance_sensitive_categories text[] NOT NULL DEFAULT '{}',     -- 条例要配慮個人情報
  strongly_encrypted boolean NOT NULL DEFAULT false,               -- 高度な暗号化その他の措置
  -- The judgement in force (the latest incident_judgements row), kept here for lists and the
  -- deadline warnings.
  reportable boolean NOT NULL,
  report_reasons text[] NOT NULL,
  exemption text CHECK (exemption IN ('strong_encryption', 'drill')),
  response_policy_id uuid NOT NULL REFERENCES policy_versions (id),
  first_report_due date,
  final_report_due date,
  deadlines jsonb,                                            -- how the due dates were counted
  owner text NOT NULL,                                        -- 窓口: changed only by a handover
  opened_by text NOT NULL,
  closed_at timestamptz,
  closed_by text,
  close_reason text CHECK (length(close_reason) <= 2000),
  open_actions_reason text CHECK (length(open_actions_reason) <= 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT incidents_closed CHECK ((status = 'closed') = (closed_at IS NOT NULL) AND (closed_at IS NULL) = (closed_by IS NULL)),
  CONSTRAINT incidents_due CHECK (reportable OR (first_report_due IS NULL AND final_report_due IS NULL))
);
CREATE INDEX incidents_list ON incidents (drill, aware_at DESC, id DESC);
CREATE INDEX incidents_by_owner ON incidents (owner);
CREATE INDEX incidents_by_opener ON incidents (opened_by);
CREATE INDEX incidents_deadlines ON incidents (id) WHERE reportable AND NOT drill;

-- The response team (チームワーク): named members with roles; removal keeps the row.
CREATE TABLE incident_team (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
  role text NOT NULL CHECK (role IN ('legal', 'public_relations', 'technical', 'records')),
  added_by text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  removed_by text,
  removed_at timestamptz,
  CONSTRAINT incident_team_removed CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
CREATE UNIQUE INDEX incident_team_active ON incident_team (incident_id, subject, role) WHERE removed_at IS NULL;
CREATE INDEX incident_team_by_subject ON incident_team (subject, incident_id) WHERE removed_at IS NULL;

-- The affected records. org_unit_id is the record's unit when linked: supervisors read the
-- incidents that touch their unit's records. hold_id: the incident hold on a linked recording.
CREATE TABLE incident_records (
  incident_id uuid NOT NULL REFERENCES incidents (id),
  record_type text NOT NULL CHECK (record_type IN ('recording', 'case')),
  record_id uuid NOT NULL,
  org_unit_id uuid NOT NULL REFERENCES org_units (id),
  hold_id uuid REFERENCES recording_holds (id),
  linked_by text NOT NULL,
  linked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (incident_id, record_type, record_id)
);
CREATE INDEX incident_records_by_record ON incident_records (record_type, record_id);
CREATE INDEX incident_records_by_unit ON incident_records (org_unit_id, incident_id);

CREATE FUNCTION incident_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Every change of the judgement: who, when, on which facts, under which plan.
CREATE TABLE incident_judgements (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  seq integer NOT NULL,
  reportable boolean NOT NULL,
  reasons text[] NOT NULL,
  exemption text CHECK (exemption IN ('strong_encryption', 'drill')),
  facts jsonb NOT NULL,
  changed_facts text[] NOT NULL,
  policy_version_id uuid NOT NULL REFERENCES policy_versions (id),
  first_report_due date,
  final_report_due date,
  judged_by text NOT NULL,
  judged_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT incident_judgements_seq UNIQUE (incident_id, seq)
);

-- Handovers of the owner (窓口の引継ぎ).
CREATE TABLE incident_handovers (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  from_owner text NOT NULL,
  to_owner text NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  handed_over_by text NOT NULL,
  handed_over_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_handovers_by_incident ON incident_handovers (incident_id, handed_over_at);

-- The chronological record (事実確認と情報の一元管理): facts, confirmed or not, corrected by later
-- entries; statements to the outside, relying on confirmed facts.
CREATE TABLE incident_entries (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  seq integer NOT NULL,
  type text NOT NULL CHECK (type IN ('fact', 'correction', 'statement')),
  occurred_at timestamptz NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  text text NOT NULL CHECK (length(text) BETWEEN 1 AND 10000),
  confirmed boolean,
  corrects_entry_id uuid REFERENCES incident_entries (id),
  relies_on uuid[] NOT NULL DEFAULT '{}',
  audience text CHECK (audience IN ('press', 'public', 'persons_affected', 'commission', 'partner_organisation', 'other')),
  CONSTRAINT incident_entries_seq UNIQUE (incident_id, seq),
  CONSTRAINT incident_entries_correction CHECK ((type = 'correction') = (corrects_entry_id IS NOT NULL)),
  CONSTRAINT incident_entries_statement CHECK (
    (type = 'statement') = (confirmed IS NULL) AND (type = 'statement') = (audience IS NOT NULL)
    AND (type = 'statement' OR cardinality(relies_on) = 0))
);
CREATE INDEX incident_entries_corrects ON incident_entries (corrects_entry_id) WHERE corrects_entry_id IS NOT NULL;

-- Containment (被害拡大防止) and recurrence prevention (再発防止).
CREATE TABLE incident_actions (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  kind text NOT NULL CHECK (kind IN ('containment', 'recurrence_prevention')),
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
  owner text NOT NULL,
  due_on date NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
  note text CHECK (length(note) <= 2000),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  version integer NOT NULL DEFAULT 1
);
CREATE INDEX incident_actions_by_incident ON incident_actions (incident_id, created_at, id);

-- Disclosure decisions (透明性・開示): publish, or withhold on the seed's exception only.
CREATE TABLE incident_disclosures (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  decision text NOT NULL CHECK (decision IN ('publish', 'withhold')),
  exception text CHECK (exception IN ('publication_would_widen_damage')),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  published_on date,
  channel text CHECK (length(channel) <= 200),
  decided_by text NOT NULL,
  decided_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT incident_disclosures_exception CHECK ((decision = 'withhold') = (exception IS NOT NULL)),
  CONSTRAINT incident_disclosures_published CHECK (decision = 'publish' OR published_on IS NULL)
);
CREATE INDEX incident_disclosures_by_incident ON incident_disclosures (incident_id, decided_at);

-- Reports to the Commission: one first report (速報) and one final report (確報).
CREATE TABLE incident_reports (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  kind text NOT NULL CHECK (kind IN ('first', 'final')),
  submitted_on date NOT NULL,
  content_summary text NOT NULL CHECK (length(content_summary) BETWEEN 1 AND 10000),
  reference_number text CHECK (length(reference_number) <= 200),
  recorded_by text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT incident_reports_one_per_kind UNIQUE (incident_id, kind)
);

-- Notifications of the persons affected (本人通知, 第68条第2項), or why it was not possible and
-- what was done instead.
CREATE TABLE incident_notifications (
  id uuid PRIMARY KEY,
  incident_id uuid NOT NULL REFERENCES incidents (id),
  notified_on date,
  method text CHECK (method IN ('letter', 'email', 'phone', 'in_person', 'other')),
  persons integer CHECK (persons >= 0),
  not_possible_reason text CHECK (not_possible_reason IN ('notification_difficult', 'non_disclosure_information')),
  alternative text CHECK (alternative IN ('publication', 'inquiry_desk', 'other')),
  alternative_detail text CHECK (length(alternative_detail) <= 2000),
  note text CHECK (length(note) <= 2000),
  recorded_by text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT incident_notifications_shape CHECK (
    (notified_on IS NOT NULL AND method IS NOT NULL AND persons IS NOT NULL AND not_possible_reason IS NULL)
    OR (notified_on IS NULL AND method IS NULL AND persons IS NULL AND not_possible_reason IS NOT NULL))
);
CREATE INDEX incident_notifications_by_incident ON incident_notifications (incident_id, recorded_at);

-- Deadline warnings published on the change feed: one row per incident, deadline, due date and
-- warning, inserted with ON CONFLICT DO NOTHING in the statement that publishes the warning, so
-- every instance may look at once and each warning goes out once.
CREATE TABLE incident_deadline_warnings (
  incident_id uuid NOT NULL REFERENCES incidents (id),
  deadline text NOT NULL CHECK (deadline IN ('first_report', 'final_report')),
  due_date date NOT NULL,
  warning text NOT NULL CHECK (warning IN ('due', 'overdue')),
  warned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (incident_id, deadline, due_date, warning)
);

-- History never changes: no UPDATE, DELETE or TRUNCATE (links may gain their hold, never vanish).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['incident_judgements', 'incident_handovers', 'incident_entries', 'incident_disclosures',
                           'incident_reports', 'incident_notifications'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION incident_history_append_only()',
                   t || '_append_only', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['incident_judgements', 'incident_handovers', 'incident_entries', 'incident_disclosures',
                           'incident_reports', 'incident_notifications', 'incident_records'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION incident_history_append_only()',
                   t || '_no_truncate', t);
  END LOOP;
END
$$;
CREATE TRIGGER incident_records_no_delete BEFORE DELETE ON incident_records
  FOR EACH ROW EXECUTE FUNCTION incident_history_append_only();
