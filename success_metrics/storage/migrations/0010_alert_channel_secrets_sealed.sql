-- Webhook signing secrets are stored sealed (envelope encryption, datasource/keyring.py), never in clear.
-- SQL cannot seal (the keys live outside the database), so this constraint guards new writes at once
-- (NOT VALID: existing rows are not checked yet); right after the migrations the service seals the clear
-- secrets left from before and validates the constraint (channels.seal_clear_secrets), in the same start.
ALTER TABLE alert_channels ADD CONSTRAINT alert_channels_secret_sealed
    CHECK (secret IS NULL OR secret LIKE 'sm-sealed-v1:%') NOT VALID;
COMMENT ON COLUMN alert_channels.secret IS
    'sealed: sm-sealed-v1:<data key wrapped by the key-encryption key>:<AES-GCM nonce and ciphertext>';
