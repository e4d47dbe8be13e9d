-- The chain is read in order of position, a page at a time, joined with its entries (verification,
-- export, checkpoints). On a page of 10,000 links PostgreSQL planned a parallel scan of audit_chain:
-- two workers started for every page, three times the CPU and three times the time of the plain
-- nested loop (165 ms against 53 ms per page), which made verifying the chain a third slower than
-- when the links were columns of audit_events. Scans of audit_chain run without workers.
ALTER TABLE audit_chain SET (parallel_workers = 0);
