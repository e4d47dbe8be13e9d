-- Disclosure requests (開示請求) with statutory deadlines, the holds they place on recordings,
-- and redaction derivatives of recordings for partial disclosure (部分開示).

-- The disclosure policy (decision periods, extensions, warnings) joins the policy types.
-- A later migration that changes this list must keep 'disclosure' in it.
ALTER TABLE policy_versions DROP CONSTRAINT policy_versions_type_check;
ALTER TABLE policy_versions ADD CONSTRAINT policy_versions_type_check
  CHECK (type IN ('recording', 'name_display', 'escalation', 'retention', 'calendar', 'disclosure'));

-- The national laws (行政機関情報公開法第10条, 個人情報保護法第83条): 30 days, extendable once by
-- 30; warnings 5 days ahead; holidays as the calendar policy says for the office's own decisions.
INSERT INTO policy_versions (id, type, effective_from, body, note, created_by) VALUES
('00000000-0000-7000-8000-0000000000d1', 'disclosure', '1970-01-01', '{
  "kinds": {
    "personal_information": {"decision_period_days": 30, "max_extension_days": 30, "warning_days": 5},
    "information_disclosure": {"decision_period_days": 30, "max_extension_days": 30, "warning_days": 5}
  }
}', 'Default: the national laws (情報公開法第10条, 個人情報保護法第83条): 30 days, one extension of up to 30 days', 'system');

-- Redaction derivatives (recordings module) -----------------------------------------------------
-- A redacted copy of a recording, made by the municipality's tools: its own media and hash, the
-- original's hash when it was made, what was done to which time ranges and why. The original's
-- row never changes for it. A derivative lives as long as its original unless a records manager
-- decides to keep it longer (kept_until): it is disposed of with the original otherwise.
CREATE TABLE recording_derivatives (
  id uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id),
  storage_uri text CHECK (length(storage_uri) <= 2000),   -- NULL once disposed of
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes bigint NOT NULL CHECK (size_bytes > 0),
  media_type text NOT NULL CHECK (media_type ~ '^(audio|video)/[a-z0-9][a-z0-9.+-]{0,99}$'),
  original_sha256 text NOT NULL CHECK (original_sha256 ~ '^[0-9a-f]{64}$'),
  redactions jsonb NOT NULL CHECK (jsonb_typeof(redactions) = 'array' AND jsonb_array_length(redactions) >= 1),
  made_by text NOT NULL,
  checked_by text NOT NULL,
  note text CHECK (length(note) <= 2000),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disposed')),
  kept_until date,
  keep_reason text CHECK (length(keep_reason) <= 2000),
  keep_decided_by text,
  keep_decided_at timestamptz,
  disposed_at timestamptz,
  disposition_id uuid,                                     -- the original's disposition record
  registered_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT recording_derivatives_disposed CHECK ((status = 'disposed') = (storage_uri IS NULL) AND (status = 'disposed') = (disposed_at IS NOT NULL)),
  CONSTRAINT recording_derivatives_two_people CHECK (made_by <> checked_by),
  CONSTRAINT recording_derivatives_keep CHECK (
    (kept_until IS NULL) = (keep_reason IS NULL) AND (kept_until IS NULL) = (keep_decided_by IS NULL) AND (kept_until IS NULL) = (keep_decided_at IS NULL))
);
CREATE INDEX recording_derivatives_by_recording ON recording_derivatives (recording_id, created_at, id);
CREATE UNIQUE INDEX recording_derivatives_storage_uri ON recording_derivatives (storage_uri) WHERE storage_uri IS NOT NULL;
-- Kept derivatives whose original is gone, for the retention sweep.
CREATE INDEX recording_derivatives_kept ON recording_derivatives (kept_until, id) WHERE status = 'active' AND kept_until IS NOT NULL;

-- A derivative changes at most twice: a decision to keep it (once, while it exists) and its
-- disposal (once); nothing else, and it is never deleted.
CREATE FUNCTION recording_derivatives_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (OLD.id, OLD.recording_id, OLD.sha256, OLD.size_bytes, OLD.media_type, OLD.original_sha256, OLD.redactions,
          OLD.made_by, OLD.checked_by, OLD.note, OLD.registered_by, OLD.created_at)
         IS NOT DISTINCT FROM
         (NEW.id, NEW.recording_id, NEW.sha256, NEW.size_bytes, NEW.media_type, NEW.original_sha256, NEW.redactions,
          NEW.made_by, NEW.checked_by, NEW.note, NEW.registered_by, NEW.created_at)
     AND OLD.status = 'active'
     AND (OLD.kept_until IS NULL
          OR (OLD.kept_until, OLD.keep_reason, OLD.keep_decided_by, OLD.keep_decided_at)
             IS NOT DISTINCT FROM (NEW.kept_until, NEW.keep_reason, NEW.keep_decided_by, NEW.keep_decided_at))
     AND (NEW.status = 'active' AND NEW.storage_uri IS NOT DISTINCT FROM OLD.storage_uri
          OR NEW.status = 'disposed')
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'derivatives never change but by a decision to keep them and their disposal (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER recording_derivatives_guard BEFORE UPDATE OR DELETE ON recording_derivatives
  FOR EACH ROW EXECUTE FUNCTION recording_derivatives_guard();
CREATE TRIGGER recording_derivatives_no_truncate BEFORE TRUNCATE ON recording_derivatives
  FOR EACH STATEMENT EXECUTE FUNCTION recording_derivatives_guard();

-- Disclosure requests (disclosure-requests module) ----------------------------------------------
CREATE TABLE disclosure_requests (
  id uuid PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('personal_information', 'information_disclosure')),
  received_date date NOT NULL,                   -- the day the request reached the office (Asia/Tokyo)
  subject_matter text NOT NULL CHECK (length(subject_matter) BETWEEN 1 AND 10000),
  org_unit_id uuid NOT NULL REFERENCES org_units (id),   -- the handling unit
  status text NOT NULL DEFAULT 'received' CHECK (status IN (
    'received', 'correction_requested', 'extended', 'decided', 'disclosed', 'withdrawn', 'under_appeal', 'appeal_decided')),
  -- The disclosure policy version in force on received_date, and the deadline it gives as last
  -- computed: NULL while a correction is outstanding (the clock stands still).
  disclosure_policy_id uuid NOT NULL REFERENCES policy_versions (id),
  due_date date,
  warn_from date,
  extension_days integer CHECK (extension_days > 0),
  extension_reason text CHECK (length(extension_reason) <= 2000),
  extension_decided_on date,
  extension_notified_on date,
  decision text CHECK (decision IN ('full_disclosure', 'partial_disclosure', 'non_disclosure', 'no_such_record', 'existence_neither_confirmed_nor_denied')),
  decided_on date,
  decision_reason text CHECK (length(decision_reason) <= 4000),
  decision_items jsonb,
  disclosed_on date,
  withdrawn_on date,
  appeal_filed_on date,
  appeal_outcome text CHECK (appeal_outcome IN ('dismissed', 'rejected', 'granted', 'partially_granted')),
  appeal_decided_on date,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT disclosure_requests_extension CHECK (
    (extension_days IS NULL) = (extension_decided_on IS NULL) AND (extension_days IS NULL) = (extension_notified_on IS NULL)
    AND (extension_days IS NULL) = (extension_reason IS NULL)),
  CONSTRAINT disclosure_requests_decision CHECK ((decision IS NULL) = (decided_on IS NULL))
);
CREATE INDEX disclosure_requests_list ON disclosure_requests (received_date, id);
CREATE INDEX disclosure_requests_due ON disclosure_requests (due_date, id) WHERE status IN ('received', 'extended');
CREATE INDEX disclosure_requests_by_org_unit ON disclosure_requests (org_unit_id, received_date, id);

-- The requester (個人情報), kept apart from the request like a case's customer.
CREATE TABLE disclosure_requesters (
  request_id uuid PRIMARY KEY REFERENCES disclosure_requests (id),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  address text CHECK (length(address) <= 500),
  contact text CHECK (length(contact) <= 254),
  -- Personal-information requests: how the requester's identity was confirmed (本人確認).
  identity_method text CHECK (identity_method IN (
    'my_number_card', 'driving_licence', 'passport', 'residence_card', 'health_insurance_card', 'other')),
  identity_note text CHECK (length(identity_note) <= 500),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Correction rounds (補正): asked on a date, answered on a date; at most one open at a time.
CREATE TABLE disclosure_corrections (
  request_id uuid NOT NULL REFERENCES disclosure_requests (id),
  round integer NOT NULL CHECK (round >= 1),
  requested_on date NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  requested_by text NOT NULL,
  corrected_on date,
  received_by text,
  PRIMARY KEY (request_id, round),
  CONSTRAINT disclosure_corrections_order CHECK (corrected_on IS NULL OR corrected_on >= requested_on),
  CONSTRAINT disclosure_corrections_received CHECK ((corrected_on IS NULL) = (received_by IS NULL))
);
CREATE UNIQUE INDEX disclosure_corrections_one_open ON disclosure_corrections (request_id) WHERE corrected_on IS NULL;

-- The records a request covers: recordings (each with the hold the request placed on it, and
-- the appeal's) and cases. Removed entries stay, with who, when and why.
CREATE TABLE disclosure_request_records (
  id uuid PRIMARY KEY,
  request_id uuid NOT NULL REFERENCES disclosure_requests (id),
  record_type text NOT NULL CHECK (record_type IN ('recording', 'case')),
  record_id uuid NOT NULL,
  hold_id uuid REFERENCES recording_holds (id),
  appeal_hold_id uuid REFERENCES recording_holds (id),
  note text CHECK (length(note) <= 2000),
  added_by text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now(),
  removed_at timestamptz,
  removed_by text,
  removal_reason text CHECK (length(removal_reason) <= 2000),
  CONSTRAINT disclosure_request_records_hold CHECK ((record_type = 'recording') = (hold_id IS NOT NULL) AND (appeal_hold_id IS NULL OR record_type = 'recording')),
  CONSTRAINT disclosure_request_records_removal CHECK ((removed_at IS NULL) = (removed_by IS NULL) AND (removed_at IS NULL) = (removal_reason IS NULL))
);
CREATE UNIQUE INDEX disclosure_request_records_once ON disclosure_request_records (request_id, record_type, record_id) WHERE removed_at IS NULL;
CREATE INDEX disclosure_request_records_by_record ON disclosure_request_records (record_type, record_id) WHERE removed_at IS NULL;

-- Every step of a request (the state machine's transitions, records added and removed): who,
-- when, on which date and why. Append-only.
CREATE TABLE disclosure_request_steps (
  id uuid PRIMARY KEY,
  request_id uuid NOT NULL REFERENCES disclosure_requests (id),
  seq integer NOT NULL,
  action text NOT NULL,
  from_status text,
  to_status text NOT NULL,
  on_date date,
  reason text CHECK (length(reason) <= 4000),
  details jsonb NOT NULL DEFAULT '{}'::jsonb,
  actor text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT disclosure_request_steps_seq UNIQUE (request_id, seq)
);
CREATE TRIGGER disclosure_request_steps_append_only BEFORE UPDATE OR DELETE ON disclosure_request_steps
  FOR EACH ROW EXECUTE FUNCTION recording_history_append_only();
CREATE TRIGGER disclosure_request_steps_no_truncate BEFORE TRUNCATE ON disclosure_request_steps
  FOR EACH STATEMENT EXECUTE FUNCTION recording_history_append_only();

-- Hand-overs to the requester (開示の実施): a media grant or a medium, on a date. Append-only.
CREATE TABLE disclosure_handovers (
  id uuid PRIMARY KEY,
  request_id uuid NOT NULL REFERENCES disclosure_requests (id),
  record_type text NOT NULL CHECK (record_type IN ('recording', 'case')),
  record_id uuid NOT NULL,
  derivative_id uuid REFERENCES recording_derivatives (id),
  method text NOT NULL CHECK (method IN ('media_grant', 'medium')),
  medium text CHECK (length(medium) BETWEEN 1 AND 500),
  grant_jti uuid,
  grant_expires_at timestamptz,
  handed_over_on date NOT NULL,
  recorded_by text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT disclosure_handovers_method CHECK ((method = 'media_grant') = (grant_jti IS NOT NULL) AND (method = 'medium') = (medium IS NOT NULL))
);
CREATE INDEX disclosure_handovers_by_request ON disclosure_handovers (request_id, recorded_at, id);
CREATE TRIGGER disclosure_handovers_append_only BEFORE UPDATE OR DELETE ON disclosure_handovers
  FOR EACH ROW EXECUTE FUNCTION recording_history_append_only();

-- Deadline notices published on the change feed: one row per request, deadline and kind of
-- notice, inserted with ON CONFLICT DO NOTHING in the statement that publishes the change, so
-- any number of instances publish each notice exactly once. A new deadline (an extension) is a
-- new key: its notices may fire again.
CREATE TABLE disclosure_deadline_notices (
  request_id uuid NOT NULL REFERENCES disclosure_requests (id),
  due_date date NOT NULL,
  notice text NOT NULL CHECK (notice IN ('approaching', 'missed')),
  noticed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, due_date, notice)
);
