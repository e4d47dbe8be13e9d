-- No automatic purge before a person could look (issue 10). A recording registered without a
-- records manager's classification carries a provisional one; the retention sweep must not purge
-- it before a review period (the retention policy's review_period_days, default 30) after its
-- registration. review_until is the last day of that period: the recording's retention end is
-- never earlier while the classification is provisional, and a records manager's classification
-- clears it (their decision may make the recording purgeable at once).
ALTER TABLE recordings ADD COLUMN review_until date;

-- Recordings already registered and still unclassified get the default period from their
-- registration, so an upgrade does not purge what nobody has reviewed.
UPDATE recordings r
SET review_until = (r.created_at AT TIME ZONE 'Asia/Tokyo')::date + 29,
    retention_end = GREATEST(r.retention_end, (r.created_at AT TIME ZONE 'Asia/Tokyo')::date + 29)
FROM recording_classifications k
WHERE k.id = r.classification_id AND k.provisional AND r.status = 'active';

-- External references are scoped per org unit (issue 10): an integration in one unit that upserts
-- a reference another unit holds gets its own case, exactly as for a reference nobody holds, so it
-- learns nothing about other units' references.
ALTER TABLE cases DROP CONSTRAINT cases_external_ref;
ALTER TABLE cases ADD CONSTRAINT cases_external_ref UNIQUE (org_unit_id, external_system, external_ref);
