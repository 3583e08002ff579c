-- Version 13 is linkage's (rejected batches' problem lists), made on its own branch.
-- This placeholder only keeps the numbering without a gap on the issuance branch, whose
-- 0014 follows it; when the branches meet, linkage's 0013 replaces this file.
SELECT 1;
