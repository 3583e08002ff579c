-- Version 4: issued certificates, and the disaster tables the victim ledger takes over.
CREATE TABLE issuances (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT NOT NULL UNIQUE,
    type              TEXT NOT NULL CHECK (type IN ('residence','seal','tax','disaster')),
    options           TEXT NOT NULL DEFAULT '{}',      -- JSON
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    resident_code     TEXT NOT NULL,
    channel           TEXT NOT NULL,                   -- counter, store, test-stage-2, test-stage-3, real-store-test
    operator          TEXT,                            -- kiosk operator (store channels)
    fee               INTEGER NOT NULL DEFAULT 0,
    state             TEXT NOT NULL,                   -- awaiting_payment, issued, printed, voided
    verification_code TEXT UNIQUE,
    content_sha256    TEXT,
    pages             INTEGER,
    document_path     TEXT,                            -- relative to the data directory
    created_at        TEXT NOT NULL,
    issued_at         TEXT,
    completed_at      TEXT,
    voided_at         TEXT
);
CREATE INDEX issuances_municipality ON issuances (municipality_code, issued_at);
CREATE INDEX issuances_resident ON issuances (municipality_code, resident_code);

CREATE TABLE disasters (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,                         -- flood, earthquake, …
    occurred_on TEXT NOT NULL,                         -- ISO date
    declared_at TEXT NOT NULL,
    closed_at   TEXT
);

CREATE TABLE disaster_municipalities (
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    PRIMARY KEY (disaster_id, municipality_code)
);

-- One row per assessment; a re-assessment adds a revision and keeps the earlier ones.
CREATE TABLE damage_assessments (
    id                INTEGER PRIMARY KEY,
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    municipality_code TEXT NOT NULL,
    household_number  TEXT NOT NULL,
    address           TEXT NOT NULL,
    damage_class      TEXT NOT NULL,
    damage_ratio      INTEGER,                         -- percent, when assessed by ratio
    inspector         TEXT NOT NULL,
    assessed_on       TEXT NOT NULL,
    revision          INTEGER NOT NULL DEFAULT 1,
    current           INTEGER NOT NULL DEFAULT 1 CHECK (current IN (0,1))
);
CREATE INDEX damage_assessments_household
    ON damage_assessments (disaster_id, municipality_code, household_number, current);
