-- The PostgreSQL schema: the same tables as the SQLite store's, with
-- PostgreSQL's types, plus what several replicas need (see mod.rs).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE bins (
    id                uuid PRIMARY KEY,
    created_at        bigint NOT NULL,          -- unix milliseconds
    response_status   integer NOT NULL,
    response_headers  text NOT NULL,            -- JSON array of [name, value]
    response_body     text NOT NULL,
    response_delay_ms bigint NOT NULL,
    secrets           text NOT NULL DEFAULT '{}',
    -- Kept by the capture batch (inserts) and a statement trigger
    -- (deletes): the per-bin cap costs no count query.
    request_count     bigint NOT NULL DEFAULT 0
);

-- Ids come from this sequence inside the capture batch's transaction,
-- while it holds the capture lock: ids become visible in id order on
-- every replica (see writer.rs).
CREATE SEQUENCE requests_id_seq;

CREATE TABLE requests (
    id          bigint PRIMARY KEY,
    bin_id      uuid NOT NULL REFERENCES bins(id) ON DELETE CASCADE,
    received_at bigint NOT NULL,
    method      text NOT NULL,
    path        text NOT NULL,
    query       text NOT NULL,
    headers     text NOT NULL,                  -- JSON array of [name, value]
    remote_addr text NOT NULL,
    body        bytea NOT NULL,
    signature   text,
    retry_key   text,
    -- What search looks in: method, path, query, headers and the body's
    -- first 64 KiB as text; trigram-indexed, so ILIKE '%text%' of 3+
    -- characters is an index lookup.
    search_doc  text NOT NULL
);
CREATE INDEX requests_by_bin ON requests(bin_id, id);
CREATE INDEX requests_by_retry_key ON requests(bin_id, retry_key) WHERE retry_key IS NOT NULL;
CREATE INDEX requests_search ON requests USING gin (search_doc gin_trgm_ops);

CREATE FUNCTION requests_uncount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bins b SET request_count = b.request_count - d.n
    FROM (SELECT bin_id, COUNT(*) AS n FROM gone GROUP BY bin_id) d
    WHERE b.id = d.bin_id;
    RETURN NULL;
END $$;
CREATE TRIGGER requests_uncount AFTER DELETE ON requests
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION requests_uncount();

CREATE TABLE tunnels (
    bin_id            uuid NOT NULL REFERENCES bins(id) ON DELETE CASCADE,
    name              text NOT NULL,
    delivered_through bigint NOT NULL,
    PRIMARY KEY (bin_id, name)
);

CREATE TABLE deliveries (
    id           bigserial PRIMARY KEY,
    request_id   bigint NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
    tunnel       text NOT NULL,
    replay       boolean NOT NULL,
    status       integer,
    headers      text NOT NULL,
    body         bytea NOT NULL,
    latency_ms   double precision NOT NULL,
    delivered_at bigint NOT NULL,
    error        text
);
CREATE INDEX deliveries_by_request ON deliveries(request_id, tunnel);
