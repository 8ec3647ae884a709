-- Interactive sign-in (issue #17 item 4): the redirect URIs an app registers and whether it is a
-- public client (no secret: native and command-line apps), and the grants a sign-in hands out:
-- authorization codes (with their PKCE challenge) and device codes (approved on the device page),
-- stored by the SHA-256 of the code so that any node can redeem them, once.
ALTER TABLE apps ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE apps ADD COLUMN public_client BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE sign_in_grants (
    code_hash        TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,      -- 'code' or 'device'
    client_id        uuid NOT NULL,
    tenant_id        uuid NOT NULL,
    user_id          uuid,                -- the signed-in user (a device code: once approved)
    user_code        TEXT UNIQUE,        -- device codes: what the person types on the device page
    redirect_uri     TEXT,
    scope            TEXT NOT NULL,
    code_challenge   TEXT,
    challenge_method TEXT,
    nonce            TEXT,
    expires_at       timestamptz NOT NULL,
    redeemed         BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX sign_in_grants_expiry_idx ON sign_in_grants (expires_at);
