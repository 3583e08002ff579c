-- Version 2: the scheduler's state in the centre's database (as SQLite's version 22): the
-- fire time of each job handled last, claimed by one conditional UPDATE so that a fire time
-- runs once across workers and machines.
CREATE TABLE job_schedule (
    job        text PRIMARY KEY,
    handled_at timestamptz NOT NULL
);
