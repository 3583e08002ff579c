-- Version 7: settle a year by one ordered scan of a covering index instead of sorting
-- the year's rows. Japan-time month and fiscal year as virtual generated columns; a
-- partial index over exactly the billable, not yet settled issuances, in group order.
ALTER TABLE issuances ADD COLUMN jst_month TEXT
    GENERATED ALWAYS AS (strftime('%Y-%m', issued_at, '+9 hours')) VIRTUAL;
ALTER TABLE issuances ADD COLUMN jst_fiscal_year INTEGER
    GENERATED ALWAYS AS (CAST(strftime('%Y', issued_at, '+9 hours') AS INTEGER)
                         - (CAST(strftime('%m', issued_at, '+9 hours') AS INTEGER) < 4)) VIRTUAL;
CREATE INDEX issuances_settle
    ON issuances (jst_fiscal_year, municipality_code, operator, type, jst_month, copies, fee)
    WHERE channel IN ('store', 'real-store-test') AND state IN ('issued', 'printed') AND settled_year IS NULL;

-- Issuances that an earlier statement counted and that were voided since (adjustments).
CREATE INDEX issuances_voided_after_settlement
    ON issuances (settled_year)
    WHERE state = 'voided' AND void_settled_year IS NULL AND settled_year IS NOT NULL;
