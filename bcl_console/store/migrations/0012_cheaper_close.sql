-- Version 12: closing a year writes each issuance once, not twice.
-- Closing marks every billable issuance of the year settled. The update trigger of
-- version 11 then cleared settle_year and settle_key with a second UPDATE of the same row:
-- two row writes per issuance, about two minutes for ten million. Closing now clears the
-- two columns in its own UPDATE, and the trigger runs only when it has something to do:
-- the row holds a settlement key (it may have to change or go), or the row has become
-- billable and not settled (it needs one). What the trigger computes is unchanged.
DROP TRIGGER issuances_settle_on_update;

CREATE TRIGGER issuances_settle_on_update
AFTER UPDATE OF municipality_code, type, channel, operator, fee, copies, state, issued_at, settled_year
ON issuances
WHEN NEW.settle_year IS NOT NULL
     OR (NEW.issued_at IS NOT NULL AND (NEW.channel = 'store' OR NEW.channel = 'real-store-test')
         AND (NEW.state = 'issued' OR NEW.state = 'printed') AND NEW.settled_year IS NULL)
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
