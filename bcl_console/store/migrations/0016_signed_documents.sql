-- Version 16: certificates that anyone can verify (issue #14, contract §12).

-- The signed content of each front page as issued (a JSON array of the pages' JSON, the
-- bytes the back's 2-D code signs): GET /verify/v1/{code} answers with their fields.
ALTER TABLE issuances ADD COLUMN signed_pages TEXT;
-- 証明番号 as printed (第 2026-000123 号): numbered per municipality and calendar year.
ALTER TABLE issuances ADD COLUMN certificate_number TEXT;

CREATE TABLE certificate_numbers (
    municipality_code TEXT NOT NULL,
    year INTEGER NOT NULL,
    last INTEGER NOT NULL CHECK (last > 0),
    PRIMARY KEY (municipality_code, year)
) WITHOUT ROWID;
