-- Certificate credentials (issue #17 item 3): the PEM public certificates an app may sign client
-- assertions with, and the assertion ids (jti) already redeemed, kept until the assertion expires
-- so that none is accepted twice.
ALTER TABLE apps ADD COLUMN certificates TEXT NOT NULL DEFAULT '[]';

CREATE TABLE client_assertions (
    client_id  uuid NOT NULL,
    jti        TEXT NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertions_expiry_idx ON client_assertions (expires_at);
