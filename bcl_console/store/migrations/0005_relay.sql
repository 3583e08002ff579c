-- Version 5: test My Number cards, and store issuance requests through the kiosk relay.
CREATE TABLE cards (
    serial            TEXT PRIMARY KEY,               -- hex
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    not_before        TEXT NOT NULL,
    not_after         TEXT NOT NULL,
    issued_at         TEXT NOT NULL,
    revoked_at        TEXT
);
CREATE INDEX cards_resident ON cards (municipality_code, resident_code);

ALTER TABLE issuances ADD COLUMN session_id TEXT;
ALTER TABLE issuances ADD COLUMN idempotency_key TEXT;
ALTER TABLE issuances ADD COLUMN body_sha256 TEXT;
ALTER TABLE issuances ADD COLUMN copies INTEGER NOT NULL DEFAULT 1;
ALTER TABLE issuances ADD COLUMN latency_ms INTEGER;
CREATE UNIQUE INDEX issuances_idempotency ON issuances (operator, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE relay_refusals (
    id                INTEGER PRIMARY KEY,
    at                TEXT NOT NULL,
    operator          TEXT,
    municipality_code TEXT,
    reason            TEXT NOT NULL
);
CREATE INDEX relay_refusals_at ON relay_refusals (at);
