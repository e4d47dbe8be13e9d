-- Every instance keeps the policy versions in memory (no request reads them) and drops its copy
-- when a version is added: the insert announces itself on the channel 'policy_versions'
-- (LISTEN/NOTIFY), delivered when the inserting transaction commits. A trigger, so that every
-- writer announces it: the API, a migration, a tool run against the database.
CREATE FUNCTION policy_versions_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('policy_versions', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER policy_versions_announce
  AFTER INSERT ON policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION policy_versions_announce();
