-- Version 20 is another branch's (session 8), made on its own branch.
-- This placeholder only keeps the numbering without a gap on the close branch, whose
-- 0021 follows it; when the branches meet, that branch's 0020 replaces this file.
SELECT 1;
