-- Version 3: API tokens (hashed) and the encrypted backups of accepted linkage batches.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,                  -- linkage, kiosk, shelter …
    subject      TEXT NOT NULL,                  -- municipality code or operator name
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_subject ON api_tokens (kind, subject);

CREATE TABLE linkage_backups (
    id                INTEGER PRIMARY KEY,
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    sequence          INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('full','delta')),
    path              TEXT NOT NULL,             -- relative to the data directory
    size              INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    UNIQUE (municipality_code, sequence)
);
