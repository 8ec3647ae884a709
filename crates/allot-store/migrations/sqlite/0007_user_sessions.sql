-- When a user's sign-in sessions were last revoked (password changed, account disabled, user
-- restored), in microseconds since the epoch: delegated access and refresh tokens issued before
-- it no longer work (issue #16 item 5).
ALTER TABLE users ADD COLUMN sessions_valid_from BIGINT NOT NULL DEFAULT 0;
