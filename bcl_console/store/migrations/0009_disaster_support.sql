-- Version 9: disaster-victim support — the ledger's people, evacuation centres and stays,
-- support payments, individual evacuation plans, and online applications.

-- Per person and disaster: whereabouts (居所) and injuries; people without a row are at home.
CREATE TABLE victims (
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    whereabouts       TEXT NOT NULL DEFAULT 'home'
                      CHECK (whereabouts IN ('home','shelter','relatives','elsewhere','unknown')),
    injury            TEXT NOT NULL DEFAULT 'none'
                      CHECK (injury IN ('none','injured','seriously-injured','dead','missing')),
    note              TEXT,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (disaster_id, municipality_code, resident_code)
);

CREATE TABLE shelters (
    id                INTEGER PRIMARY KEY,
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    name              TEXT NOT NULL,
    capacity          INTEGER NOT NULL CHECK (capacity > 0),
    opened_at         TEXT NOT NULL,
    closed_at         TEXT
);

CREATE TABLE shelter_stays (
    id                INTEGER PRIMARY KEY,
    shelter_id        INTEGER NOT NULL REFERENCES shelters(id),
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    checked_in_at     TEXT NOT NULL,
    checked_out_at    TEXT,
    via               TEXT NOT NULL CHECK (via IN ('card','hand'))
);
-- A person is in at most one centre at a time.
CREATE UNIQUE INDEX shelter_stays_one_open ON shelter_stays (municipality_code, resident_code)
    WHERE checked_out_at IS NULL;
CREATE INDEX shelter_stays_shelter ON shelter_stays (shelter_id, checked_out_at);

CREATE TABLE support_applications (
    id                INTEGER PRIMARY KEY,
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    municipality_code TEXT NOT NULL,
    household_number  TEXT NOT NULL,
    damage_class      TEXT NOT NULL,
    members           INTEGER NOT NULL,
    rebuild_method    TEXT,
    demolished        INTEGER NOT NULL DEFAULT 0,
    long_term         INTEGER NOT NULL DEFAULT 0,
    basic             INTEGER NOT NULL,
    additional        INTEGER NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('applied','approved','rejected','paid')),
    applied_at        TEXT NOT NULL,
    decided_at        TEXT,
    decided_by        TEXT,
    paid_at           TEXT,
    note              TEXT
);
CREATE INDEX support_applications_disaster ON support_applications (disaster_id, state);

-- 個別避難計画 of a person on the 避難行動要支援者名簿.
CREATE TABLE evacuation_plans (
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    supporter         TEXT NOT NULL,
    destination       TEXT NOT NULL,
    notes             TEXT NOT NULL DEFAULT '',
    address           TEXT NOT NULL DEFAULT '',   -- the address the plan was made for
    updated_at        TEXT NOT NULL,
    updated_by        TEXT NOT NULL,
    review_reason     TEXT,                       -- set when linkage moved, removed or changed the person
    flagged_at        TEXT,
    PRIMARY KEY (municipality_code, resident_code)
);

-- Residents' applications from home (マイナポータル-like), authenticated by card.
CREATE TABLE online_applications (
    id                INTEGER PRIMARY KEY,
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    kind              TEXT NOT NULL DEFAULT 'disaster-certificate',
    state             TEXT NOT NULL CHECK (state IN ('waiting','approved','rejected')),
    applied_at        TEXT NOT NULL,
    decided_at        TEXT,
    decided_by        TEXT,
    reason            TEXT
);
CREATE INDEX online_applications_state ON online_applications (state, id);
