-- Version 3: the issued documents and the linkage backups are rows of the database, not
-- files beside one process (contract §10): every worker and machine on this database, the
-- West centre's standby included, reads a document issued or a backup made by any other.
-- A backup is written in the same transaction as the batch it keeps, so an applied batch
-- always has it. Named by the path a SQLite centre keeps the file under (relative to its
-- data directory), which the issuance and backup rows record.
CREATE TABLE files (
    name      text PRIMARY KEY,
    body      bytea NOT NULL,
    size      bigint NOT NULL CHECK (size >= 0),
    sha256    text NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);
-- The bodies are compressed already (PDF streams, deflated and encrypted backups).
ALTER TABLE files ALTER COLUMN body SET STORAGE EXTERNAL;
