-- 0007_ropa_perf: what make bench found for the import of a register
-- (benchmark 7, docs/performance.md). No table changes shape and no row
-- changes.

-- A staged batch is read once, by the final message of its import, and
-- deleted in the same transaction: compressing it (pglz, ~3 ms for each
-- batch of 500 activities, and as much again to read it back) saved a few
-- hundred kilobytes of an unlogged table for a few seconds. Stored out of
-- line as it is instead.
ALTER TABLE ropa_staging ALTER COLUMN activity SET STORAGE EXTERNAL;
