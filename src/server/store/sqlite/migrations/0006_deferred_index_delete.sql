-- Deleting a request no longer deletes its trigram entries in the same
-- transaction: trimming a full bin did that inside the capture batch, for
-- every trimmed row. The id is queued instead (only if the indexer had
-- reached it), and the indexer removes queued ids from the index when the
-- writer is idle. Searches read ids through the requests table, and ids
-- are never reused, so an entry waiting for removal is never a result.
DROP TRIGGER requests_fts_delete;
CREATE TABLE fts_deleted (id INTEGER PRIMARY KEY);
CREATE TRIGGER requests_fts_queue_delete AFTER DELETE ON requests
WHEN old.id <= (SELECT indexed_through FROM fts_state)
BEGIN
    INSERT OR IGNORE INTO fts_deleted (id) VALUES (old.id);
END;
