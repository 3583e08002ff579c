-- Version 7: settle a year by one ordered scan of a covering index instead of sorting
-- the year's rows. The Japan-time month and fiscal year of issuance are kept in plain
-- columns (set by triggers whenever issued_at is written: an index on a virtual column
-- would not cover the query), and a partial index holds exactly the billable, not yet
-- settled issuances, in group order.
ALTER TABLE issuances ADD COLUMN jst_month TEXT;
ALTER TABLE issuances ADD COLUMN jst_fiscal_year INTEGER;

UPDATE issuances SET
    jst_month = strftime('%Y-%m', issued_at, '+9 hours'),
    jst_fiscal_year = CAST(strftime('%Y', issued_at, '+9 hours') AS INTEGER)
                      - (CAST(strftime('%m', issued_at, '+9 hours') AS INTEGER) < 4)
WHERE issued_at IS NOT NULL;

CREATE TRIGGER issuances_jst_on_insert AFTER INSERT ON issuances WHEN NEW.issued_at IS NOT NULL
BEGIN
    UPDATE issuances SET
        jst_month = strftime('%Y-%m', NEW.issued_at, '+9 hours'),
        jst_fiscal_year = CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                          - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4)
    WHERE id = NEW.id;
END;

CREATE TRIGGER issuances_jst_on_update AFTER UPDATE OF issued_at ON issuances
BEGIN
    UPDATE issuances SET
        jst_month = strftime('%Y-%m', NEW.issued_at, '+9 hours'),
        jst_fiscal_year = CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                          - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4)
    WHERE id = NEW.id;
END;

CREATE INDEX issuances_settle
    ON issuances (jst_fiscal_year, municipality_code, operator, type, jst_month, copies, fee,
                  channel, state, settled_year)
    WHERE channel IN ('store', 'real-store-test') AND state IN ('issued', 'printed') AND settled_year IS NULL;

-- Issuances that an earlier statement counted and that were voided since (adjustments).
CREATE INDEX issuances_voided_after_settlement
    ON issuances (settled_year)
    WHERE state = 'voided' AND void_settled_year IS NULL AND settled_year IS NOT NULL;
