-- Version 7: the files kept in a span of time are found by an index (the daily sweep of
-- documents no issuance records looks at the last month's only, whatever the table holds).
CREATE INDEX files_stored_at ON files (stored_at);
