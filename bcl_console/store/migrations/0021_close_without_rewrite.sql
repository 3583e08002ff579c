-- Version 21: closing a fiscal year no longer rewrites the year's rows (issue #16 item 6).
--
-- Until now a billable issuance was marked by the close that counted it: settled_year set
-- and its settlement key cleared on every row of the year, ten million rows and their index
-- entries rewritten (96.8 s). Now the statement that counts an issuance is decided when the
-- issuance becomes billable, by the triggers, against the settlements table:
--
-- * its own Japan fiscal year still open: settled_year = that year. The year's close counts
--   it without touching it: a row is counted once the year in settled_year is closed.
-- * its own year already closed (a late event): settled_year stays NULL while settle_year
--   and settle_key hold its year and group, in the small partial index issuances_settle_late;
--   the next statement of a later year counts it and then sets settled_year to its own year
--   (a few rows, not the year).
-- * a counted row (settled_year names a closed year) is frozen: no trigger touches it; if it
--   is voided afterwards, the next later statement takes it back (void_settled_year, as before).
-- * a row that stops being billable before it is counted (a failed print voided) loses its
--   settled_year and key: it was never counted and is never taken back.
--
-- A counted row keeps its key, so a closed year's entries stay in issuances_settle_key (the
-- index no longer shrinks at a close; a year's own query only ever seeks an open year).
--
-- The close itself is the boundary: a row that became billable before the close's
-- transaction belongs to the year, one after it is late. No clock is compared, so two events
-- in the same second (a fixed clock, a skewed kiosk) are still told apart exactly.
--
-- Existing data: rows counted by old closes (settled_year set, no key) are already counted
-- rows in the new sense, and the old scheme's pending late events (key of a closed year,
-- settled_year NULL) are already late events in the new sense; only the billable rows of
-- years not closed yet gain their settled_year, once, here.

DROP TRIGGER issuances_settle_on_insert;
DROP TRIGGER issuances_settle_on_update;

UPDATE issuances SET settled_year = settle_year
 WHERE settle_year IS NOT NULL AND settled_year IS NULL
   AND settle_year NOT IN (SELECT fiscal_year FROM settlements);

-- Late events waiting for a statement (a handful, unlike the year's own rows).
CREATE INDEX issuances_settle_late ON issuances (settle_year, settle_key)
    WHERE settle_year IS NOT NULL AND settled_year IS NULL;

-- Fires for a new billable row, and for a new row that names a statement of a year not closed.
CREATE TRIGGER issuances_settle_on_insert AFTER INSERT ON issuances
WHEN ((NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
       AND NEW.state IN ('issued', 'printed')) OR NEW.settled_year IS NOT NULL)
     AND (NEW.settled_year IS NULL
          OR NOT EXISTS (SELECT 1 FROM settlements WHERE fiscal_year = NEW.settled_year))
BEGIN
    UPDATE issuances SET
        settle_year = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                                AND NEW.state IN ('issued', 'printed')
                           THEN CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4) END,
        settle_key = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                               AND NEW.state IN ('issued', 'printed')
                          THEN NEW.municipality_code || char(31) || NEW.type || char(31)
                               || strftime('%Y-%m', NEW.issued_at, '+9 hours') || char(31) || NEW.copies
                               || char(31) || NEW.fee || char(31) || coalesce(NEW.operator, '') END,
        settled_year = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                                 AND NEW.state IN ('issued', 'printed')
                                 AND NOT EXISTS (
                                     SELECT 1 FROM settlements WHERE fiscal_year =
                                         CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                         - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4))
                            THEN CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                 - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4) END
    WHERE id = NEW.id;
END;

-- Fires when something the key derives from changes on a row not yet counted that holds a
-- key or a statement year, or has become billable; a counted row is left as it was counted.
CREATE TRIGGER issuances_settle_on_update
AFTER UPDATE OF municipality_code, type, channel, operator, fee, copies, state, issued_at ON issuances
WHEN (NEW.settle_year IS NOT NULL OR NEW.settled_year IS NOT NULL
      OR (NEW.issued_at IS NOT NULL AND (NEW.channel = 'store' OR NEW.channel = 'real-store-test')
          AND (NEW.state = 'issued' OR NEW.state = 'printed')))
     AND (NEW.settled_year IS NULL
          OR NOT EXISTS (SELECT 1 FROM settlements WHERE fiscal_year = NEW.settled_year))
BEGIN
    UPDATE issuances SET
        settle_year = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                                AND NEW.state IN ('issued', 'printed')
                           THEN CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4) END,
        settle_key = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                               AND NEW.state IN ('issued', 'printed')
                          THEN NEW.municipality_code || char(31) || NEW.type || char(31)
                               || strftime('%Y-%m', NEW.issued_at, '+9 hours') || char(31) || NEW.copies
                               || char(31) || NEW.fee || char(31) || coalesce(NEW.operator, '') END,
        settled_year = CASE WHEN NEW.issued_at IS NOT NULL AND NEW.channel IN ('store', 'real-store-test')
                                 AND NEW.state IN ('issued', 'printed')
                                 AND NOT EXISTS (
                                     SELECT 1 FROM settlements WHERE fiscal_year =
                                         CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                         - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4))
                            THEN CAST(strftime('%Y', NEW.issued_at, '+9 hours') AS INTEGER)
                                 - (CAST(strftime('%m', NEW.issued_at, '+9 hours') AS INTEGER) < 4) END
    WHERE id = NEW.id;
END;
