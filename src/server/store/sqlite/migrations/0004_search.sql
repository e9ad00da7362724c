-- Full-text search over method, path, query, headers and body text, with
-- the trigram tokenizer so any substring of 3+ characters matches, like
-- LIKE '%…%' but from an index. Filled in the background (not on the
-- capture path): rows above fts_state.indexed_through are searched with
-- LIKE until the indexer reaches them.
CREATE VIRTUAL TABLE requests_fts USING fts5(doc, content='', contentless_delete=1, tokenize='trigram');
CREATE TABLE fts_state (indexed_through INTEGER NOT NULL);
INSERT INTO fts_state VALUES (0);
CREATE TRIGGER requests_fts_delete AFTER DELETE ON requests BEGIN
    DELETE FROM requests_fts WHERE rowid = old.id;
END;
