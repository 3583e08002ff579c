-- Version 5: the operators' decisions about waiting for the standby (contract §11,
-- `centre sync on|off`). The last row is in force: a standby named (accepted writes wait
-- for it) or none (the active centre serves on alone, by decision, with its reason).
CREATE TABLE centre_sync (
    id        bigserial PRIMARY KEY,
    at        timestamptz NOT NULL,
    standby   text,
    reason    text NOT NULL
);
