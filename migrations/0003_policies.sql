-- Policies with effective dates (施行日). A version never changes once created; a later
-- version supersedes it from its own date. "Which version was in force on D" is the version
-- of the type with the latest effective_from on or before D.
CREATE TABLE policy_versions (
  id uuid PRIMARY KEY,
  type text NOT NULL CHECK (type IN ('recording', 'name_display', 'escalation', 'retention', 'calendar')),
  effective_from date NOT NULL,           -- a date in Asia/Tokyo
  body jsonb NOT NULL,
  note text NOT NULL DEFAULT '',
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT policy_versions_one_per_date UNIQUE (type, effective_from)
);

CREATE FUNCTION policy_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'policy versions are immutable (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER policy_versions_immutable
  BEFORE UPDATE OR DELETE ON policy_versions
  FOR EACH ROW EXECUTE FUNCTION policy_versions_immutable();
CREATE TRIGGER policy_versions_no_truncate
  BEFORE TRUNCATE ON policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION policy_versions_immutable();

-- The defaults Madoguchi ships (../shared/DOMAIN.md), in force from 1970-01-01 so that every
-- date has a version; municipalities supersede them with versions of their own.
INSERT INTO policy_versions (id, type, effective_from, body, note, created_by) VALUES
('00000000-0000-7000-8000-0000000000a1', 'recording', '1970-01-01', '{
  "notice_required": true,
  "notice_methods": ["verbal", "sign", "automated_message"],
  "resident_recording": "permission_required",
  "purposes": ["カスタマーハラスメント対策・証拠保全", "接遇・業務改善", "記録保全"]
}', 'Default: notice required (告知); residents record with permission (庁舎管理権)', 'system'),
('00000000-0000-7000-8000-0000000000a2', 'name_display', '1970-01-01', '{
  "mode": "surname_only"
}', 'Default: staff appear by surname only (名札の見直し)', 'system'),
('00000000-0000-7000-8000-0000000000a3', 'escalation', '1970-01-01', '{
  "immediate_categories": ["violence", "sexual_harassment"],
  "min_responders": {"channels": ["counter"], "by_severity": {"low": 1, "medium": 1, "high": 2, "critical": 2}}
}', 'Default: violence and sexual harassment escalate at once; high and critical counter cases need two responders', 'system'),
('00000000-0000-7000-8000-0000000000a4', 'retention', '1970-01-01', '{
  "rules": [
    {"record_category": "harassment_case_file", "classification": "administrative_document", "period": {"unit": "years", "value": 5}, "start": "next_fiscal_year", "action": "dispose"},
    {"record_category": "harassment_case_file", "classification": "both", "period": {"unit": "years", "value": 5}, "start": "next_fiscal_year", "action": "dispose"},
    {"record_category": "case_recording", "classification": "administrative_document", "period": {"unit": "years", "value": 5}, "start": "next_fiscal_year", "action": "dispose"},
    {"record_category": "case_recording", "classification": "both", "period": {"unit": "years", "value": 5}, "start": "next_fiscal_year", "action": "dispose"},
    {"record_category": "*", "classification": "administrative_document", "period": {"unit": "years", "value": 5}, "start": "next_fiscal_year", "action": "review"},
    {"record_category": "*", "classification": "both", "period": {"unit": "years", "value": 5}, "start": "next_fiscal_year", "action": "review"},
    {"record_category": "*", "classification": "personal_information", "period": {"unit": "days", "value": 90}, "start": "creation_date", "action": "dispose"},
    {"record_category": "*", "classification": "neither", "period": {"unit": "days", "value": 90}, "start": "creation_date", "action": "dispose"}
  ]
}', 'Default schedule: case files and recordings used in them 5 years from the next fiscal year; personal information only 90 days', 'system'),
('00000000-0000-7000-8000-0000000000a5', 'calendar', '1970-01-01', '{
  "closures": [{"from": "2024-12-30", "to": "2025-01-03", "reason": "年末・年始休業 (通常業務は 2025-01-06 から)"}]
}', 'Default: no closures beyond the law but the seed notice''s year-end closure', 'system');
