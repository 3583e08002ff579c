-- Version 1: municipalities, their management-terminal controls and the audit trail.
CREATE TABLE municipalities (
    code              TEXT PRIMARY KEY CHECK (length(code) = 6),
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('designated-city','city','special-ward','town','village')),
    population        INTEGER NOT NULL CHECK (population >= 0),
    hosting           TEXT NOT NULL CHECK (hosting IN ('bcl','own-server')),
    server_url        TEXT,
    service_start     TEXT,                       -- ISO date, Japan
    hours_open        TEXT NOT NULL DEFAULT '06:30',
    hours_close       TEXT NOT NULL DEFAULT '23:00',
    suspended         INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0,1)),
    suspension_reason TEXT,
    created_at        TEXT NOT NULL               -- ISO instant, UTC
);

CREATE TABLE municipality_fees (
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    cert_type         TEXT NOT NULL,
    yen               INTEGER NOT NULL CHECK (yen >= 0),
    PRIMARY KEY (municipality_code, cert_type)
);

CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY,
    at                TEXT NOT NULL,              -- ISO instant, UTC
    actor             TEXT NOT NULL,
    interface         TEXT NOT NULL,              -- cli, console, api, scheduler, demo
    municipality_code TEXT,
    action            TEXT NOT NULL,
    field             TEXT,
    old_value         TEXT,
    new_value         TEXT
);
CREATE INDEX audit_log_municipality ON audit_log (municipality_code, id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
