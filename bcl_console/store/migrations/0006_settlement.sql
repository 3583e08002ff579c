-- Version 6: settlement. Each billable issuance is counted by exactly one statement
-- (settled_year); one voided after its year closed is taken back by exactly one later
-- statement (void_settled_year). Closed years keep their statement as it was printed.
ALTER TABLE issuances ADD COLUMN settled_year INTEGER;
ALTER TABLE issuances ADD COLUMN void_settled_year INTEGER;
CREATE INDEX issuances_issued_at ON issuances (issued_at);

CREATE TABLE settlements (
    fiscal_year INTEGER PRIMARY KEY,
    closed_at   TEXT NOT NULL,
    document    TEXT NOT NULL                       -- the JSON printed at closing, verbatim
);

CREATE TABLE job_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    outcome     TEXT NOT NULL,                      -- running, ok, failed, skipped
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_job ON job_runs (job, id);
