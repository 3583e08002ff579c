-- Version 18: 被災証明書 (issue #19 §3, contract §14): a person's report of harm from a
-- disaster, and the certificate type that certifies it.

-- One report per person and disaster (a second one is refused; an amendment replaces the
-- text, counts a revision, and keeps the earlier text in the audit trail).
CREATE TABLE victim_reports (
    id                INTEGER PRIMARY KEY,
    disaster_id       INTEGER NOT NULL REFERENCES disasters(id),
    municipality_code TEXT NOT NULL REFERENCES municipalities(code),
    resident_code     TEXT NOT NULL,
    address           TEXT NOT NULL,                  -- the person's address when reported
    harm              TEXT NOT NULL CHECK (length(harm) BETWEEN 1 AND 200),
    reported_on       TEXT NOT NULL,                  -- 届出日 (Japan date, ISO) of the text as it stands
    recorded_at       TEXT NOT NULL,
    recorded_by       TEXT NOT NULL,
    revision          INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    amended_at        TEXT,
    UNIQUE (disaster_id, municipality_code, resident_code)
);
CREATE INDEX victim_reports_resident ON victim_reports (municipality_code, resident_code);

-- issuances.type gains 'disaster-victim'. The column's CHECK (version 4) is widened in the
-- table's stored definition, the way SQLite documents for changes that leave every stored
-- row valid (https://sqlite.org/lang_altertable.html#otheralter): no rebuild, so every
-- column, index and trigger that any other migration gave the table stays as it is.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
   SET sql = replace(sql, 'CHECK (type IN (''residence'',''seal'',''tax'',''disaster''))',
                          'CHECK (type IN (''residence'',''seal'',''tax'',''disaster'',''disaster-victim''))')
 WHERE type = 'table' AND name = 'issuances';
PRAGMA writable_schema = RESET;
-- The change must have happened (the CHECK text was found), else the migration fails here;
-- creating and dropping this table also moves the schema cookie, so every connection
-- re-reads the widened definition.
CREATE TABLE migration_18_check (widened INTEGER NOT NULL CHECK (widened = 1));
INSERT INTO migration_18_check
    SELECT count(*) FROM sqlite_schema
     WHERE type = 'table' AND name = 'issuances' AND sql LIKE '%''disaster-victim''%';
DROP TABLE migration_18_check;
