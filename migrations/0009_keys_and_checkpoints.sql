-- Signing keys that are never stored in the clear and can be rotated, and signed checkpoints
-- of the audit chain.

-- Signing keys -------------------------------------------------------------------------------
-- A private key is sealed by envelope encryption (AES-256-GCM): a data key of its own encrypts
-- the private JWK, and the key-encryption key (from KEY_ENCRYPTION_SECRET) encrypts the data
-- key. kek_id is a fingerprint of the key-encryption key, so a wrong secret is named before any
-- decryption is tried. A dump of this table without the secret yields no usable private key.
--
-- Life of a key: it signs while superseded_at is NULL (one per purpose). Rotation supersedes it,
-- and its private part is erased at once: only the public part is needed from then on. A media
-- grant key stays published in the JWKS until retires_at (every grant it signed has expired by
-- then); a checkpoint key stays published for good, as checkpoints are kept for good.
ALTER TABLE signing_keys RENAME COLUMN retired_at TO superseded_at;
ALTER TABLE signing_keys
  ADD COLUMN retires_at timestamptz,
  ADD COLUMN created_by text,               -- who rotated it in; NULL: created on first use
  ADD COLUMN reason text,                   -- why it was rotated in
  ADD COLUMN kek_id text,
  ADD COLUMN data_key_iv bytea,
  ADD COLUMN data_key_tag bytea,
  ADD COLUMN data_key_ciphertext bytea,
  ADD COLUMN private_key_iv bytea,
  ADD COLUMN private_key_tag bytea,
  ADD COLUMN private_key_ciphertext bytea;

-- Keys made before this migration lay in the clear in every backup taken since: encrypting them
-- now would not make those copies useless, so they are superseded instead and their private
-- parts dropped. Their public parts stay published until the grants they signed have expired
-- (at most the longest MEDIA_GRANT_TTL_SECONDS, 3600 s, plus 60 s of clock leeway); the next
-- grant creates a new, encrypted key.
UPDATE signing_keys SET superseded_at = coalesce(superseded_at, now());
UPDATE signing_keys SET retires_at = superseded_at + interval '3660 seconds';
ALTER TABLE signing_keys DROP COLUMN private_jwk;

ALTER TABLE signing_keys DROP CONSTRAINT signing_keys_purpose_check;
ALTER TABLE signing_keys
  ADD CONSTRAINT signing_keys_purpose_check CHECK (purpose IN ('media_grant', 'audit_checkpoint')),
  -- The signing key holds its sealed private part, complete; a superseded key holds none of it.
  ADD CONSTRAINT signing_keys_private_part CHECK (
    CASE WHEN superseded_at IS NULL
      THEN num_nonnulls(kek_id, data_key_iv, data_key_tag, data_key_ciphertext, private_key_iv, private_key_tag, private_key_ciphertext) = 7
           AND octet_length(data_key_iv) = 12 AND octet_length(data_key_tag) = 16 AND octet_length(data_key_ciphertext) = 32
           AND octet_length(private_key_iv) = 12 AND octet_length(private_key_tag) = 16
      ELSE num_nulls(kek_id, data_key_iv, data_key_tag, data_key_ciphertext, private_key_iv, private_key_tag, private_key_ciphertext) = 7
    END),
  ADD CONSTRAINT signing_keys_retires_after_superseded CHECK (retires_at IS NULL OR (superseded_at IS NOT NULL AND retires_at >= superseded_at)),
  ADD CONSTRAINT signing_keys_reason_length CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 500);

-- Audit checkpoints ------------------------------------------------------------------------------
-- A signed statement (JWS) that the audit chain held `chain_hash` at position `chain_seq`, linked
-- to the previous checkpoint (position 0 and 64 zeros before the first). Numbered 1, 2, 3, …
-- by one signer at a time (advisory lock); one per chain head. Kept for good: append-only, and
-- the key that signed one can never be deleted.
CREATE TABLE audit_checkpoints (
  number bigint PRIMARY KEY CHECK (number >= 1),
  chain_seq bigint NOT NULL UNIQUE CHECK (chain_seq >= 1),
  chain_hash text NOT NULL CHECK (chain_hash ~ '^[0-9a-f]{64}$'),
  prev_chain_seq bigint NOT NULL CHECK (prev_chain_seq >= 0 AND prev_chain_seq < chain_seq),
  prev_chain_hash text NOT NULL CHECK (prev_chain_hash ~ '^[0-9a-f]{64}$'),
  signed_at timestamptz(3) NOT NULL,
  kid text NOT NULL REFERENCES signing_keys (kid),
  jws text NOT NULL
);

CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_checkpoints is append-only (% refused)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_checkpoints_append_only
  BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate
  BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();
