-- Where each named tunnel of a bin stands: every request of the bin with an
-- id up to delivered_through was delivered to it (or predates it).
CREATE TABLE tunnels (
    bin_id            TEXT NOT NULL REFERENCES bins(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    delivered_through INTEGER NOT NULL,
    PRIMARY KEY (bin_id, name)
) WITHOUT ROWID;

-- One row per relay attempt that got an answer from the local app (or that
-- failed for good): the app's status, headers, body and latency.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    request_id   INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    tunnel       TEXT NOT NULL,
    replay       INTEGER NOT NULL,             -- 1: sent again on request
    status       INTEGER,                      -- null when it failed for good
    headers      TEXT NOT NULL,                -- JSON array of [name, value]
    body         BLOB NOT NULL,
    latency_ms   REAL NOT NULL,
    delivered_at INTEGER NOT NULL,
    error        TEXT
);
CREATE INDEX deliveries_by_request ON deliveries(request_id, tunnel);
