-- Version 14: the relay's challenges and sessions move from one process's memory into
-- the database, so a restart of `serve` keeps open sessions and several workers share them.
CREATE TABLE relay_challenges (
    id           INTEGER PRIMARY KEY,
    challenge_id TEXT NOT NULL UNIQUE,
    operator     TEXT NOT NULL,
    nonce        BLOB NOT NULL,
    expires_at   TEXT NOT NULL                        -- UTC ISO 8601 with microseconds
);
CREATE INDEX relay_challenges_expires ON relay_challenges (expires_at);

CREATE TABLE relay_sessions (
    id                INTEGER PRIMARY KEY,
    session_id        TEXT NOT NULL UNIQUE,
    operator          TEXT NOT NULL,
    municipality_code TEXT NOT NULL,
    resident_code     TEXT NOT NULL,
    card_serial       TEXT NOT NULL,
    channel           TEXT NOT NULL,
    expires_at        TEXT NOT NULL                   -- UTC ISO 8601 with microseconds
);
CREATE INDEX relay_sessions_expires ON relay_sessions (expires_at);
