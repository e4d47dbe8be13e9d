-- Recordings (録音・録画): metadata of media kept in the municipality's own storage, their
-- classification (行政文書/公文書, 個人情報) and retention, holds (施行令第9条), disposition
-- (廃棄・移管) with a permanent record, and the keys that sign media access grants.

-- UUIDv7 in SQL, for rows that set-based statements create (the retention sweep's purge
-- records). Same layout as the ids the service makes (src/core/ids.ts): 48 bits of Unix time
-- in milliseconds, then version 7 and random bits.
CREATE FUNCTION madoguchi_uuidv7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

CREATE TABLE recordings (
  id uuid PRIMARY KEY,
  case_id uuid REFERENCES cases (id),
  org_unit_id uuid NOT NULL REFERENCES org_units (id),
  media_kind text NOT NULL CHECK (media_kind IN ('audio', 'video')),
  source text NOT NULL CHECK (source IN ('staff_device', 'fixed_camera', 'phone_system', 'resident_provided')),
  recorded_by text NOT NULL CHECK (recorded_by IN ('organisation', 'resident')),
  recorder text,                              -- the staff member who operated the device, if any
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL,
  -- 作成・取得日 (Asia/Tokyo): the date the record was made or obtained; 起算日 derive from it.
  document_date date NOT NULL,
  -- The media in the municipality's storage. NULL once disposed of, transferred or purged.
  storage_uri text CHECK (length(storage_uri) <= 2000),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes bigint NOT NULL CHECK (size_bytes > 0),
  media_type text NOT NULL CHECK (media_type ~ '^(audio|video)/[a-z0-9][a-z0-9.+-]{0,99}$'),
  title text CHECK (length(title) <= 200),
  location text CHECK (length(location) <= 500),
  -- Personal fields (個人情報): shown only with recordings:media_access, removed at disposal.
  description text CHECK (length(description) <= 10000),
  participants text[] CHECK (cardinality(participants) <= 20),
  caller_number text CHECK (length(caller_number) <= 50),
  -- 告知 and 庁舎管理権, judged against the recording policy in force at started_at.
  notice_given boolean NOT NULL,
  notice_method text CHECK (notice_method IN ('verbal', 'sign', 'automated_message', 'written', 'screen_display')),
  notice_at timestamptz,
  resident_permission boolean,               -- resident recordings: whether the office permitted it
  on_premises boolean,                       -- resident recordings: made on the office's premises
  notice_missing boolean NOT NULL DEFAULT false,
  flags text[] NOT NULL DEFAULT '{}',
  recording_policy_id uuid NOT NULL REFERENCES policy_versions (id),
  -- The current classification and the retention it gave (history: recording_classifications).
  classification_id uuid NOT NULL,
  record_category text NOT NULL CHECK (record_category ~ '^[a-z][a-z0-9_]{0,63}$'),
  administrative_document boolean NOT NULL,
  personal_information boolean NOT NULL,
  classification text NOT NULL CHECK (classification IN ('administrative_document', 'personal_information', 'both', 'neither')),
  retention_policy_id uuid NOT NULL REFERENCES policy_versions (id),
  retention_start date NOT NULL,
  retention_end date NOT NULL,                -- the schedule's end: kept through this day
  retention_action text NOT NULL CHECK (retention_action IN ('dispose', 'transfer', 'review')),
  -- Holds, summarised from recording_holds by every change to them (same transaction):
  -- an active hold without an end (audit, litigation, an appeal or disclosure awaiting its
  -- decision), and the latest end of the unreleased holds that have one.
  hold_open boolean NOT NULL DEFAULT false,
  held_until date,
  -- The later of the schedule's end and every hold's end (GREATEST ignores NULL).
  effective_end date GENERATED ALWAYS AS (GREATEST(retention_end, held_until)) STORED,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'due', 'disposed', 'transferred', 'purged')),
  due_since date,
  pending_disposition_id uuid,
  disposition_id uuid,
  registered_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1,
  CONSTRAINT recordings_time_order CHECK (ended_at >= started_at),
  CONSTRAINT recordings_notice CHECK (notice_given OR (notice_method IS NULL AND notice_at IS NULL)),
  -- A tombstone keeps no media address and no personal data; a live recording has its media.
  CONSTRAINT recordings_tombstone_media CHECK ((status IN ('disposed', 'transferred', 'purged')) = (storage_uri IS NULL)),
  CONSTRAINT recordings_tombstone_personal CHECK (
    status NOT IN ('disposed', 'transferred', 'purged') OR (description IS NULL AND participants IS NULL AND caller_number IS NULL)),
  CONSTRAINT recordings_classification_flags CHECK (classification = CASE
    WHEN administrative_document AND personal_information THEN 'both'
    WHEN administrative_document THEN 'administrative_document'
    WHEN personal_information THEN 'personal_information'
    ELSE 'neither' END)
);
CREATE INDEX recordings_list ON recordings (started_at, id);
-- Partial where the rows that matter are few: most phone-system recordings belong to no case,
-- and most recordings are active or purged tombstones (which the list index serves). Fewer
-- index entries also make the sweep's updates cheaper.
CREATE INDEX recordings_by_case ON recordings (case_id, started_at, id) WHERE case_id IS NOT NULL;
CREATE INDEX recordings_by_org_unit ON recordings (org_unit_id, started_at, id);
CREATE INDEX recordings_by_status ON recordings (status, started_at, id) WHERE status IN ('due', 'disposed', 'transferred');
-- The retention sweep's two statements, each with the index of exactly its candidates once
-- their end has passed: active recordings no open hold keeps that the sweep purges (no
-- document, rule says dispose, no proposal pending), and those it marks due. A swept recording
-- leaves the index, so each batch starts where the work is.
CREATE INDEX recordings_to_purge ON recordings (effective_end, id)
  WHERE status = 'active' AND NOT hold_open AND NOT administrative_document AND retention_action = 'dispose' AND pending_disposition_id IS NULL;
CREATE INDEX recordings_to_mark_due ON recordings (effective_end, id)
  WHERE status = 'active' AND NOT hold_open AND (administrative_document OR retention_action <> 'dispose');
-- One recording per media object while the media exists.
CREATE UNIQUE INDEX recordings_storage_uri ON recordings (storage_uri) WHERE storage_uri IS NOT NULL;

-- Recordings are never deleted: disposal tombstones them (the disposition record says why).
CREATE FUNCTION recordings_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'recordings are never deleted (% refused); dispose of them through a disposition', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER recordings_no_delete BEFORE DELETE ON recordings FOR EACH ROW EXECUTE FUNCTION recordings_no_delete();
CREATE TRIGGER recordings_no_truncate BEFORE TRUNCATE ON recordings FOR EACH STATEMENT EXECUTE FUNCTION recordings_no_delete();

-- Every classification decision, with the retention it gave. Append-only.
CREATE TABLE recording_classifications (
  id uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id),
  administrative_document boolean NOT NULL,
  personal_information boolean NOT NULL,
  classification text NOT NULL CHECK (classification IN ('administrative_document', 'personal_information', 'both', 'neither')),
  record_category text NOT NULL,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  -- true for the presumption made at registration, until a records manager decides.
  provisional boolean NOT NULL,
  classified_by text NOT NULL,
  classified_at timestamptz NOT NULL DEFAULT now(),
  retention_policy_id uuid NOT NULL REFERENCES policy_versions (id),
  retention_rule jsonb NOT NULL,
  rule_match text NOT NULL CHECK (rule_match IN ('exact', 'wildcard')),
  document_date date NOT NULL,
  retention_start date NOT NULL,
  retention_end date NOT NULL,
  retention_action text NOT NULL CHECK (retention_action IN ('dispose', 'transfer', 'review'))
);
CREATE INDEX recording_classifications_history ON recording_classifications (recording_id, classified_at, id);
ALTER TABLE recordings ADD CONSTRAINT recordings_classification
  FOREIGN KEY (classification_id) REFERENCES recording_classifications (id) DEFERRABLE INITIALLY DEFERRED;

CREATE FUNCTION recording_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER recording_classifications_append_only
  BEFORE UPDATE OR DELETE ON recording_classifications
  FOR EACH ROW EXECUTE FUNCTION recording_history_append_only();
CREATE TRIGGER recording_classifications_no_truncate
  BEFORE TRUNCATE ON recording_classifications
  FOR EACH STATEMENT EXECUTE FUNCTION recording_history_append_only();

-- Holds (施行令第9条): never deleted. A hold changes at most twice: its decision date is set
-- once (appeal, disclosure request), and it is released once; nothing else ever changes.
CREATE TABLE recording_holds (
  id uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id),
  type text NOT NULL CHECK (type IN ('audit', 'litigation', 'appeal', 'disclosure_request', 'other')),
  reference text NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
  note text CHECK (length(note) <= 2000),
  placed_by text NOT NULL,
  placed_at timestamptz NOT NULL DEFAULT now(),
  decision_date date,
  decision_recorded_by text,
  decision_recorded_at timestamptz,
  -- The last day the hold keeps the recording; NULL while it lasts until released.
  until date,
  released_at timestamptz,
  released_by text,
  release_reason text CHECK (length(release_reason) <= 2000),
  CONSTRAINT recording_holds_decision CHECK (decision_date IS NULL OR type IN ('appeal', 'disclosure_request')),
  CONSTRAINT recording_holds_release CHECK ((released_at IS NULL) = (released_by IS NULL) AND (released_at IS NULL) = (release_reason IS NULL))
);
CREATE INDEX recording_holds_by_recording ON recording_holds (recording_id, placed_at, id);

CREATE FUNCTION recording_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (OLD.id, OLD.recording_id, OLD.type, OLD.reference, OLD.note, OLD.placed_by, OLD.placed_at)
         IS NOT DISTINCT FROM (NEW.id, NEW.recording_id, NEW.type, NEW.reference, NEW.note, NEW.placed_by, NEW.placed_at)
     AND OLD.released_at IS NULL
     -- the decision is set once, or left as it was
     AND ((OLD.decision_date IS NULL AND OLD.until IS NULL)
          OR (OLD.decision_date, OLD.decision_recorded_by, OLD.decision_recorded_at, OLD.until)
             IS NOT DISTINCT FROM (NEW.decision_date, NEW.decision_recorded_by, NEW.decision_recorded_at, NEW.until))
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'holds are never deleted and change only by a decision and a release (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER recording_holds_guard BEFORE UPDATE OR DELETE ON recording_holds FOR EACH ROW EXECUTE FUNCTION recording_holds_guard();
CREATE TRIGGER recording_holds_no_truncate BEFORE TRUNCATE ON recording_holds FOR EACH STATEMENT EXECUTE FUNCTION recording_holds_guard();

-- Disposition records (廃棄・移管の記録): the permanent record of what was disposed of, when,
-- by whom and under which rule. A two-person disposition is proposed by one records manager
-- and executed on approval by another; an automatic purge of non-document personal information
-- is executed by the system at once. The snapshot columns outlive the recording's media.
CREATE TABLE dispositions (
  id uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id),
  action text NOT NULL CHECK (action IN ('dispose', 'transfer', 'purge')),
  status text NOT NULL CHECK (status IN ('proposed', 'executed', 'cancelled')),
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  proposed_by text NOT NULL,
  proposed_at timestamptz NOT NULL DEFAULT now(),
  decided_by text,
  decided_at timestamptz,
  decision_reason text CHECK (length(decision_reason) <= 2000),
  -- What it was (a snapshot taken when proposed; no foreign keys: the record outlives what it names).
  org_unit_id uuid NOT NULL,
  case_id uuid,
  media_kind text NOT NULL,
  media_type text NOT NULL,
  sha256 text NOT NULL,
  size_bytes bigint NOT NULL,
  started_at timestamptz NOT NULL,
  record_category text NOT NULL,
  classification text NOT NULL,
  -- The rule that made it due.
  retention_policy_id uuid NOT NULL,
  retention_rule jsonb NOT NULL,
  retention_start date NOT NULL,
  retention_end date NOT NULL,
  effective_end date NOT NULL,
  CONSTRAINT dispositions_decided CHECK ((status = 'proposed') = (decided_at IS NULL) AND (decided_at IS NULL) = (decided_by IS NULL)),
  CONSTRAINT dispositions_purge_is_automatic CHECK (action <> 'purge' OR (status = 'executed' AND proposed_by = 'system')),
  -- 二人の文書管理者: whoever proposed a disposal never approves it.
  CONSTRAINT dispositions_two_people CHECK (action = 'purge' OR status <> 'executed' OR decided_by <> proposed_by)
);
-- At most one open proposal and one executed disposition per recording: two sweeps, or a sweep
-- and an approval, can never dispose of one recording twice.
CREATE UNIQUE INDEX dispositions_one_open ON dispositions (recording_id) WHERE status = 'proposed';
CREATE UNIQUE INDEX dispositions_one_executed ON dispositions (recording_id) WHERE status = 'executed';
CREATE INDEX dispositions_list ON dispositions (proposed_at, id);
CREATE INDEX dispositions_by_recording ON dispositions (recording_id);

-- recordings.disposition_id points back at the executed record; the link that is enforced is
-- dispositions.recording_id (the sweep writes both in one statement, approval in one transaction).
ALTER TABLE recordings ADD CONSTRAINT recordings_pending_disposition FOREIGN KEY (pending_disposition_id) REFERENCES dispositions (id);

CREATE FUNCTION dispositions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status = 'proposed' AND NEW.status IN ('executed', 'cancelled')
     AND (OLD.id, OLD.recording_id, OLD.action, OLD.reason, OLD.proposed_by, OLD.proposed_at, OLD.org_unit_id,
          OLD.case_id, OLD.media_kind, OLD.media_type, OLD.sha256, OLD.size_bytes, OLD.started_at, OLD.record_category,
          OLD.classification, OLD.retention_policy_id, OLD.retention_rule, OLD.retention_start, OLD.retention_end, OLD.effective_end)
         IS NOT DISTINCT FROM
         (NEW.id, NEW.recording_id, NEW.action, NEW.reason, NEW.proposed_by, NEW.proposed_at, NEW.org_unit_id,
          NEW.case_id, NEW.media_kind, NEW.media_type, NEW.sha256, NEW.size_bytes, NEW.started_at, NEW.record_category,
          NEW.classification, NEW.retention_policy_id, NEW.retention_rule, NEW.retention_start, NEW.retention_end, NEW.effective_end)
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'disposition records are permanent: a proposal is decided once, nothing is deleted (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER dispositions_guard BEFORE UPDATE OR DELETE ON dispositions FOR EACH ROW EXECUTE FUNCTION dispositions_guard();
CREATE TRIGGER dispositions_no_truncate BEFORE TRUNCATE ON dispositions FOR EACH STATEMENT EXECUTE FUNCTION dispositions_guard();

-- Keys that sign media access grants, shared by every instance. One active key per purpose;
-- the first instance that needs one creates it (INSERT … ON CONFLICT DO NOTHING).
-- Retired keys stay published in the JWKS until their grants have expired.
CREATE TABLE signing_keys (
  kid text PRIMARY KEY,
  purpose text NOT NULL CHECK (purpose IN ('media_grant')),
  alg text NOT NULL,
  public_jwk jsonb NOT NULL,
  private_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  retired_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (purpose) WHERE retired_at IS NULL;
