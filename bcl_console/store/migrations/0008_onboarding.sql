-- Version 8: onboarding plans, their checklist steps, test-stage runs, reminders, drills.
CREATE TABLE onboarding_plans (
    municipality_code TEXT PRIMARY KEY REFERENCES municipalities(code),
    service_start     TEXT NOT NULL,              -- ISO date, Japan
    made_on           TEXT NOT NULL,              -- ISO date, Japan
    offers_seal       INTEGER NOT NULL DEFAULT 1 CHECK (offers_seal IN (0,1)),
    template_version  INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    override_reason   TEXT,                       -- go-live allowed despite missing stages
    override_by       TEXT,
    override_at       TEXT
);

CREATE TABLE onboarding_steps (
    municipality_code TEXT NOT NULL REFERENCES onboarding_plans(municipality_code),
    step_key          TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    phase             TEXT NOT NULL,
    title_ja          TEXT NOT NULL,
    title_en          TEXT NOT NULL,
    starts_on         TEXT NOT NULL,
    due_on            TEXT NOT NULL,
    stage             TEXT,
    operation_checklist INTEGER NOT NULL DEFAULT 0,
    fits              INTEGER NOT NULL DEFAULT 1,
    done_on           TEXT,
    done_by           TEXT,
    note              TEXT,
    reminded          TEXT,                       -- last reminder given: due, late
    PRIMARY KEY (municipality_code, step_key)
);

CREATE TABLE stage_runs (
    id                INTEGER PRIMARY KEY,
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    stage             TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    outcome           TEXT NOT NULL,              -- running, passed, failed, awaiting-confirmation, not-required
    reason            TEXT NOT NULL DEFAULT '',
    evidence          TEXT NOT NULL DEFAULT '{}', -- JSON
    log               TEXT NOT NULL DEFAULT '',
    run_by            TEXT NOT NULL,
    confirmed_by      TEXT,
    confirmed_at      TEXT,
    confirm_note      TEXT
);
CREATE INDEX stage_runs_municipality ON stage_runs (municipality_code, stage, id);

CREATE TABLE onboarding_reminders (
    id                INTEGER PRIMARY KEY,
    at                TEXT NOT NULL,
    municipality_code TEXT NOT NULL,
    step_key          TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('due','late')),
    due_on            TEXT NOT NULL
);

-- A failure drill (業務運用試験): while a row exists, the relay answers 503 for it.
CREATE TABLE failure_drills (
    municipality_code TEXT PRIMARY KEY REFERENCES municipalities(code),
    started_at        TEXT NOT NULL
);
