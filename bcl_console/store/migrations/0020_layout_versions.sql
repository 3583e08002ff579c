-- Version 20: layout versions (法改正対応, issue #19 §4, contract §15) and the 住民票's
-- 旧氏 and ローマ字 from the linkage data.

-- The optional residents.csv columns 旧氏 (former surname, 併記 since 2019) and the name in
-- ローマ字: '' when a batch does not send them, so every older batch still loads.
ALTER TABLE residents ADD COLUMN former_surname TEXT NOT NULL DEFAULT '';
ALTER TABLE residents ADD COLUMN name_roman TEXT NOT NULL DEFAULT '';

-- The layout each document was made with; every document issued before versions
-- existed was made with version 1.
ALTER TABLE issuances ADD COLUMN layout_version INTEGER NOT NULL DEFAULT 1 CHECK (layout_version >= 1);

-- A layout version's life at the centre: staged (re-tested, not printed by stores),
-- active (what every channel prints; one per type), retired (was active). A type with no
-- active row prints version 1.
CREATE TABLE layout_versions (
    type         TEXT NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    state        TEXT NOT NULL CHECK (state IN ('staged', 'active', 'retired')),
    staged_at    TEXT,
    staged_by    TEXT,
    activated_at TEXT,
    activated_by TEXT,
    retired_at   TEXT,
    PRIMARY KEY (type, version)
);
CREATE UNIQUE INDEX layout_versions_one_active ON layout_versions (type) WHERE state = 'active';
CREATE UNIQUE INDEX layout_versions_one_staged ON layout_versions (type) WHERE state = 'staged';

-- The centre's re-test (stage 2 on the staged layout) of one municipality, with its evidence.
CREATE TABLE layout_retests (
    id                INTEGER PRIMARY KEY,
    type              TEXT NOT NULL,
    version           INTEGER NOT NULL,
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    started_at        TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    run_by            TEXT NOT NULL,
    outcome           TEXT NOT NULL CHECK (outcome IN ('passed', 'failed')),
    reason            TEXT NOT NULL,
    evidence          TEXT NOT NULL,          -- JSON
    FOREIGN KEY (type, version) REFERENCES layout_versions (type, version)
);
CREATE INDEX layout_retests_version ON layout_retests (type, version, municipality_code, id);
