-- Version 13: rejected linkage batches' problem lists live in the database.
-- A rejected batch is not kept, but its problem list is: the operator needs the file,
-- line, column and rule of each problem to tell the municipality what to fix. Earlier
-- versions kept the lists in linkage/rejected.jsonl, which only one machine sees; the
-- file is imported at the next start (each line once) and then removed.
-- The reasons quote the values they are about (resident codes, kana names, dates of
-- birth), so each list is sealed by the service with the centre's backup key (AES-256-GCM,
-- a random nonce each) before it reaches the database: only the time and the municipality
-- code the batch claimed stay readable, to prune (90 days) and to filter by.
CREATE TABLE linkage_rejections (
    id                INTEGER PRIMARY KEY,
    received_at       TEXT NOT NULL,
    municipality_code TEXT,                      -- as the batch says; not necessarily registered
    sealed            BLOB NOT NULL,             -- nonce (12 bytes) ‖ AES-256-GCM of the entry's JSON
    imported_from     TEXT UNIQUE                -- a line of the old journal file (keyed hash), else NULL
);
CREATE INDEX linkage_rejections_municipality ON linkage_rejections (municipality_code, id);
