-- Version 8: the limits of the routes anyone may call, per client address (verification by
-- code, a resident's challenges), counted here so that every worker and machine on the
-- database counts against one bucket (contract §10). UNLOGGED: a count of the last minute
-- needs neither the write-ahead log nor the standby, and waits for neither; after a crash
-- it starts empty (every address a full bucket), and a standby counts in its own memory.
CREATE UNLOGGED TABLE rate_buckets (
    key     text PRIMARY KEY,
    tokens  double precision NOT NULL,
    allowed boolean NOT NULL,
    at      timestamptz NOT NULL
);
