-- Version 2: the intermediate DB (中間DB) — residents, seals, taxes — and linkage batches.
ALTER TABLE municipalities ADD COLUMN prefecture TEXT NOT NULL DEFAULT '';
ALTER TABLE municipalities ADD COLUMN mayor TEXT NOT NULL DEFAULT '';

CREATE TABLE residents (
    municipality_code     TEXT NOT NULL REFERENCES municipalities(code),
    resident_code         TEXT NOT NULL CHECK (length(resident_code) = 11),
    household_number      TEXT NOT NULL,
    name                  TEXT NOT NULL,
    name_kana             TEXT NOT NULL,
    birth_date            TEXT NOT NULL,
    sex                   INTEGER NOT NULL CHECK (sex IN (1,2,9)),
    relationship          TEXT NOT NULL,
    address               TEXT NOT NULL,
    resident_since        TEXT NOT NULL,
    previous_address      TEXT NOT NULL DEFAULT '',
    domicile              TEXT NOT NULL DEFAULT '',
    head_of_family        TEXT NOT NULL DEFAULT '',
    status                TEXT NOT NULL CHECK (status IN ('active','moved-out','deceased')),
    status_date           TEXT,
    needs_evacuation_help INTEGER NOT NULL DEFAULT 0 CHECK (needs_evacuation_help IN (0,1)),
    restricted            INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0,1)),
    PRIMARY KEY (municipality_code, resident_code)
) WITHOUT ROWID;
CREATE INDEX residents_household ON residents (municipality_code, household_number);

-- Seal impressions are content-addressed: many seals share one image (三文判).
CREATE TABLE seal_impressions (
    sha256 TEXT PRIMARY KEY,
    png    BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE seals (
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    seal_number       TEXT NOT NULL,
    registered_on     TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('active','abolished')),
    impression_sha256 TEXT NOT NULL REFERENCES seal_impressions(sha256),
    PRIMARY KEY (municipality_code, resident_code, seal_number),
    FOREIGN KEY (municipality_code, resident_code) REFERENCES residents(municipality_code, resident_code)
) WITHOUT ROWID;

CREATE TABLE taxes (
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    fiscal_year       INTEGER NOT NULL,
    total_income      INTEGER NOT NULL CHECK (total_income >= 0),
    salary_income     INTEGER NOT NULL CHECK (salary_income >= 0),
    deductions        INTEGER NOT NULL CHECK (deductions >= 0),
    taxable_income    INTEGER NOT NULL CHECK (taxable_income >= 0),
    municipal_tax     INTEGER NOT NULL CHECK (municipal_tax >= 0),
    prefectural_tax   INTEGER NOT NULL CHECK (prefectural_tax >= 0),
    PRIMARY KEY (municipality_code, resident_code, fiscal_year),
    FOREIGN KEY (municipality_code, resident_code) REFERENCES residents(municipality_code, resident_code)
) WITHOUT ROWID;

CREATE TABLE linkage_batches (
    id                INTEGER PRIMARY KEY,
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    sequence          INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('full','delta')),
    created_at        TEXT,                       -- from the manifest
    received_at       TEXT NOT NULL,              -- ISO instant, UTC
    source            TEXT NOT NULL,              -- cli, http, agent, demo, restore
    outcome           TEXT NOT NULL CHECK (outcome IN ('applied','rejected')),
    counts            TEXT NOT NULL DEFAULT '{}', -- JSON
    checksums         TEXT NOT NULL DEFAULT '{}', -- JSON
    problems          TEXT NOT NULL DEFAULT '[]'  -- JSON
);
CREATE UNIQUE INDEX linkage_batches_applied
    ON linkage_batches (municipality_code, sequence) WHERE outcome = 'applied';
CREATE INDEX linkage_batches_recent ON linkage_batches (municipality_code, id);
