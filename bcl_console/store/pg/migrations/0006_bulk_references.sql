-- Version 6: the references of the intermediate DB (residents → municipalities, seals and
-- taxes → residents, seals → seal_impressions) checked once per statement instead of once
-- per row.
--
-- A foreign key checks each row it inserts with a query of its own: a linkage batch's
-- COPY of 5,000 rows ran 5,000 such checks per table, 40 % of the load (measured here:
-- 67,600 residents/s with the key, 112,500/s without). These triggers see the whole
-- statement's rows at once (transition tables) and check them with one join each; what
-- they refuse and when is what the foreign keys refused: any statement that would leave a
-- row referring to nothing fails with SQLSTATE 23503 (foreign_key_violation), at the end
-- of that statement, and nothing of it stays.
--
-- Concurrency is the foreign keys' too: the inserting side locks the rows it refers to
-- FOR KEY SHARE (a concurrent delete of them waits, then the check sees the outcome), and
-- every write of these tables by this program is SERIALIZABLE besides (PgDatabase.write),
-- where PostgreSQL's serializable checking catches what one snapshot cannot see. A
-- foreign key also sees rows committed after its transaction's snapshot; these checks see
-- the snapshot, which is exact under READ COMMITTED (a snapshot per statement) and under
-- SERIALIZABLE, not under REPEATABLE READ: a write there is refused.

CREATE FUNCTION bcl_references_isolation() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'residents, seals, taxes, seal impressions and municipalities are written in READ COMMITTED or SERIALIZABLE transactions only'
            USING ERRCODE = 'feature_not_supported';
    END IF;
END $$;

ALTER TABLE residents DROP CONSTRAINT residents_municipality_code_fkey;
ALTER TABLE seals DROP CONSTRAINT seals_municipality_code_resident_code_fkey;
ALTER TABLE seals DROP CONSTRAINT seals_impression_sha256_fkey;
ALTER TABLE taxes DROP CONSTRAINT taxes_municipality_code_resident_code_fkey;

-- The referring side: new rows (INSERT, COPY).
CREATE FUNCTION bcl_residents_refer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    PERFORM bcl_references_isolation();
    PERFORM 1 FROM municipalities m WHERE m.code IN (SELECT DISTINCT municipality_code FROM added) FOR KEY SHARE;
    SELECT a.municipality_code INTO missing FROM (SELECT DISTINCT municipality_code FROM added) a
     WHERE NOT EXISTS (SELECT 1 FROM municipalities m WHERE m.code = a.municipality_code) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "residents" violates foreign key "residents_municipality_code_fkey"'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (municipality_code)=(%s) is not present in table "municipalities".', missing);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION bcl_residents_of_others() RETURNS trigger LANGUAGE plpgsql AS $$
-- seals and taxes: the resident each row belongs to
DECLARE
    missing record;
BEGIN
    PERFORM bcl_references_isolation();
    PERFORM 1 FROM residents r
      JOIN (SELECT DISTINCT municipality_code, resident_code FROM added) a
        ON r.municipality_code = a.municipality_code AND r.resident_code = a.resident_code
      FOR KEY SHARE OF r;
    SELECT a.municipality_code, a.resident_code INTO missing
      FROM (SELECT DISTINCT municipality_code, resident_code FROM added) a
     WHERE NOT EXISTS (SELECT 1 FROM residents r
                        WHERE r.municipality_code = a.municipality_code AND r.resident_code = a.resident_code)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "%" violates foreign key "%_municipality_code_resident_code_fkey"',
                        TG_TABLE_NAME, TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Key (municipality_code, resident_code)=(%s, %s) is not present in table "residents".',
                                  missing.municipality_code, missing.resident_code);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION bcl_seals_impressions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing text;
BEGIN
    PERFORM bcl_references_isolation();
    PERFORM 1 FROM seal_impressions i WHERE i.sha256 IN (SELECT DISTINCT impression_sha256 FROM added) FOR KEY SHARE;
    SELECT a.impression_sha256 INTO missing FROM (SELECT DISTINCT impression_sha256 FROM added) a
     WHERE NOT EXISTS (SELECT 1 FROM seal_impressions i WHERE i.sha256 = a.impression_sha256) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "seals" violates foreign key "seals_impression_sha256_fkey"'
            USING ERRCODE = 'foreign_key_violation', DETAIL = format('Key (impression_sha256)=(%s) is not present in table "seal_impressions".', missing);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER residents_refer_insert AFTER INSERT ON residents
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bcl_residents_refer();
CREATE TRIGGER seals_refer_insert AFTER INSERT ON seals
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bcl_residents_of_others();
CREATE TRIGGER seals_impression_insert AFTER INSERT ON seals
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bcl_seals_impressions();
CREATE TRIGGER taxes_refer_insert AFTER INSERT ON taxes
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bcl_residents_of_others();

-- The referred side: rows deleted while something still refers to them.
CREATE FUNCTION bcl_referred() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_in text;
BEGIN
    PERFORM bcl_references_isolation();
    IF TG_TABLE_NAME = 'municipalities' THEN
        IF EXISTS (SELECT 1 FROM gone g WHERE NOT EXISTS (SELECT 1 FROM municipalities m WHERE m.code = g.code)
                     AND EXISTS (SELECT 1 FROM residents r WHERE r.municipality_code = g.code)) THEN
            found_in := 'residents';
        END IF;
    ELSIF TG_TABLE_NAME = 'residents' THEN
        IF EXISTS (SELECT 1 FROM gone g
                    WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.municipality_code = g.municipality_code
                                                                  AND r.resident_code = g.resident_code)
                      AND EXISTS (SELECT 1 FROM seals s WHERE s.municipality_code = g.municipality_code
                                                          AND s.resident_code = g.resident_code)) THEN
            found_in := 'seals';
        ELSIF EXISTS (SELECT 1 FROM gone g
                    WHERE NOT EXISTS (SELECT 1 FROM residents r WHERE r.municipality_code = g.municipality_code
                                                                  AND r.resident_code = g.resident_code)
                      AND EXISTS (SELECT 1 FROM taxes t WHERE t.municipality_code = g.municipality_code
                                                          AND t.resident_code = g.resident_code)) THEN
            found_in := 'taxes';
        END IF;
    ELSIF TG_TABLE_NAME = 'seal_impressions' THEN
        IF EXISTS (SELECT 1 FROM gone g WHERE NOT EXISTS (SELECT 1 FROM seal_impressions i WHERE i.sha256 = g.sha256)
                     AND EXISTS (SELECT 1 FROM seals s WHERE s.impression_sha256 = g.sha256)) THEN
            found_in := 'seals';
        END IF;
    END IF;
    IF found_in IS NOT NULL THEN
        RAISE EXCEPTION 'update or delete on table "%" violates a foreign key of table "%"', TG_TABLE_NAME, found_in
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = format('Rows of "%s" are still referenced from table "%s".', TG_TABLE_NAME, found_in);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER municipalities_referred_delete AFTER DELETE ON municipalities
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bcl_referred();
CREATE TRIGGER residents_referred_delete AFTER DELETE ON residents
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bcl_referred();
CREATE TRIGGER seal_impressions_referred_delete AFTER DELETE ON seal_impressions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION bcl_referred();

-- An UPDATE that changes a key or a reference (this program never makes one: a resident's
-- code, a municipality's code, a seal's impression stay what they were made with) is
-- checked row by row. A row trigger with a WHEN clause costs nothing on the UPDATEs that
-- change other columns (a delta's changes, a municipality's hours), where a statement
-- trigger would run for each of them.
CREATE FUNCTION bcl_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bcl_references_isolation();
    IF TG_TABLE_NAME = 'residents' THEN
        PERFORM 1 FROM municipalities m WHERE m.code = NEW.municipality_code FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "residents" violates foreign key "residents_municipality_code_fkey"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        -- (the trigger's WHEN: the key changed)
        IF NOT EXISTS (SELECT 1 FROM residents r WHERE r.municipality_code = OLD.municipality_code
                                                       AND r.resident_code = OLD.resident_code)
           AND (EXISTS (SELECT 1 FROM seals s WHERE s.municipality_code = OLD.municipality_code
                                                AND s.resident_code = OLD.resident_code)
                OR EXISTS (SELECT 1 FROM taxes t WHERE t.municipality_code = OLD.municipality_code
                                                   AND t.resident_code = OLD.resident_code)) THEN
            RAISE EXCEPTION 'update or delete on table "residents" violates a foreign key of table "seals" or "taxes"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF TG_TABLE_NAME IN ('seals', 'taxes') THEN
        PERFORM 1 FROM residents r WHERE r.municipality_code = NEW.municipality_code
                                     AND r.resident_code = NEW.resident_code FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key "%_municipality_code_resident_code_fkey"',
                            TG_TABLE_NAME, TG_TABLE_NAME
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF TG_TABLE_NAME = 'seals' THEN
            PERFORM 1 FROM seal_impressions i WHERE i.sha256 = NEW.impression_sha256 FOR KEY SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'insert or update on table "seals" violates foreign key "seals_impression_sha256_fkey"'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
        END IF;
    ELSIF TG_TABLE_NAME = 'municipalities' THEN
        IF NOT EXISTS (SELECT 1 FROM municipalities m WHERE m.code = OLD.code)
           AND EXISTS (SELECT 1 FROM residents r WHERE r.municipality_code = OLD.code) THEN
            RAISE EXCEPTION 'update or delete on table "municipalities" violates a foreign key of table "residents"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF TG_TABLE_NAME = 'seal_impressions' THEN
        IF NOT EXISTS (SELECT 1 FROM seal_impressions i WHERE i.sha256 = OLD.sha256)
           AND EXISTS (SELECT 1 FROM seals s WHERE s.impression_sha256 = OLD.sha256) THEN
            RAISE EXCEPTION 'update or delete on table "seal_impressions" violates a foreign key of table "seals"'
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER residents_key_changed AFTER UPDATE ON residents FOR EACH ROW
    WHEN ((OLD.municipality_code, OLD.resident_code) IS DISTINCT FROM (NEW.municipality_code, NEW.resident_code))
    EXECUTE FUNCTION bcl_key_changed();
CREATE TRIGGER seals_key_changed AFTER UPDATE ON seals FOR EACH ROW
    WHEN ((OLD.municipality_code, OLD.resident_code, OLD.impression_sha256)
          IS DISTINCT FROM (NEW.municipality_code, NEW.resident_code, NEW.impression_sha256))
    EXECUTE FUNCTION bcl_key_changed();
CREATE TRIGGER taxes_key_changed AFTER UPDATE ON taxes FOR EACH ROW
    WHEN ((OLD.municipality_code, OLD.resident_code) IS DISTINCT FROM (NEW.municipality_code, NEW.resident_code))
    EXECUTE FUNCTION bcl_key_changed();
CREATE TRIGGER municipalities_key_changed AFTER UPDATE ON municipalities FOR EACH ROW
    WHEN (OLD.code IS DISTINCT FROM NEW.code)
    EXECUTE FUNCTION bcl_key_changed();
CREATE TRIGGER seal_impressions_key_changed AFTER UPDATE ON seal_impressions FOR EACH ROW
    WHEN (OLD.sha256 IS DISTINCT FROM NEW.sha256)
    EXECUTE FUNCTION bcl_key_changed();

-- TRUNCATE: a referred table may be emptied only together with the tables referring to it
-- (the wipe truncates them all in one statement; AFTER TRUNCATE runs once all are empty).
CREATE FUNCTION bcl_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found_in text;
BEGIN
    IF TG_TABLE_NAME = 'municipalities' AND EXISTS (SELECT 1 FROM residents) THEN
        found_in := 'residents';
    ELSIF TG_TABLE_NAME = 'residents' AND EXISTS (SELECT 1 FROM seals) THEN
        found_in := 'seals';
    ELSIF TG_TABLE_NAME = 'residents' AND EXISTS (SELECT 1 FROM taxes) THEN
        found_in := 'taxes';
    ELSIF TG_TABLE_NAME = 'seal_impressions' AND EXISTS (SELECT 1 FROM seals) THEN
        found_in := 'seals';
    END IF;
    IF found_in IS NOT NULL THEN
        RAISE EXCEPTION 'cannot truncate table "%": table "%" refers to it', TG_TABLE_NAME, found_in
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER municipalities_truncated AFTER TRUNCATE ON municipalities
    FOR EACH STATEMENT EXECUTE FUNCTION bcl_truncated();
CREATE TRIGGER residents_truncated AFTER TRUNCATE ON residents
    FOR EACH STATEMENT EXECUTE FUNCTION bcl_truncated();
CREATE TRIGGER seal_impressions_truncated AFTER TRUNCATE ON seal_impressions
    FOR EACH STATEMENT EXECUTE FUNCTION bcl_truncated();
