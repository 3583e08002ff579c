-- Version 19: counter terminals (らくらく窓口, contract §14). A counter terminal is kept
-- exactly as a management terminal is (version 17: one municipality, only its token's
-- SHA-256, revoked_at when revoked), so both live in one table of the centre's terminals,
-- told apart by kind. A token of one kind never opens the other's API: every lookup names
-- the kind. Names are unique per kind among a municipality's terminals in use.
ALTER TABLE management_terminals RENAME TO terminals;
ALTER TABLE terminals ADD COLUMN kind TEXT NOT NULL DEFAULT 'manage' CHECK (kind IN ('manage', 'counter'));
DROP INDEX management_terminals_active_name;
CREATE UNIQUE INDEX terminals_active_name
    ON terminals (kind, municipality_code, name) WHERE revoked_at IS NULL;
