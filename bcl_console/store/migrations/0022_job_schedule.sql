-- Version 22: the scheduler's state moves into the centre's database (issue #16 item 2).
--
-- Until now APScheduler kept its jobs and their next run times in a SQLite file of its own
-- (scheduler.sqlite3, through SQLAlchemy) beside each process: two processes of one centre
-- (serve and the console, several serve workers, two machines) each ran every job. Now each
-- job has one row here holding the fire time handled last; a process that wants to run a
-- fire time claims it by one conditional UPDATE (handled_at < the fire time), which exactly
-- one claimant wins. A fire time missed while no process ran is claimed at the next start,
-- within the job's grace time. Instants are UTC ISO text of one form, so text order is time
-- order.
CREATE TABLE job_schedule (
    job        TEXT PRIMARY KEY,
    handled_at TEXT NOT NULL
);
