-- Version 17: management terminals (管理端末, contract §13). Each is one municipality's
-- LGWAN terminal with its own token (only the token's SHA-256 is kept); revoking one
-- stamps revoked_at, and the token stops working at its next request.
CREATE TABLE management_terminals (
    id                INTEGER PRIMARY KEY,
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    name              TEXT NOT NULL,
    token_sha256      TEXT NOT NULL UNIQUE,
    created_at        TEXT NOT NULL,
    created_by        TEXT NOT NULL,
    revoked_at        TEXT,
    revoked_by        TEXT
);
-- A name is one terminal of its municipality while it is in use; a revoked one's name may
-- be given again.
CREATE UNIQUE INDEX management_terminals_active_name
    ON management_terminals (municipality_code, name) WHERE revoked_at IS NULL;

-- A terminal lists its municipality's issuances of one day (by the time they were asked for).
CREATE INDEX issuances_municipality_created ON issuances (municipality_code, created_at);
