-- FTS5 merges the index's segments itself as inserts come (automerge),
-- and a merge is as long as the segments are large: tens of milliseconds
-- that captures queued behind an indexer batch waited out (capture p99 at
-- half load). Merging is now the indexer's own bounded step, taken only
-- while the writer is idle.
INSERT INTO requests_fts (requests_fts, rank) VALUES ('automerge', 0);
