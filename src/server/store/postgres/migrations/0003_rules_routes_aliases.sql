-- Aliases, response rules, tunnel targets (see the SQLite migration 0008).
ALTER TABLE bins ADD COLUMN alias text;
CREATE UNIQUE INDEX bins_by_alias ON bins(alias) WHERE alias IS NOT NULL;
ALTER TABLE bins ADD COLUMN rules text NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN rule text;
ALTER TABLE deliveries ADD COLUMN target text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN skipped boolean NOT NULL DEFAULT false;
-- Once per tunnel name and target now (fan-out delivers a request to each).
DROP INDEX deliveries_once;
CREATE UNIQUE INDEX deliveries_once ON deliveries(request_id, tunnel, target) WHERE NOT replay;
ALTER TABLE tunnels ADD COLUMN target text NOT NULL DEFAULT '';
ALTER TABLE tunnels DROP CONSTRAINT tunnels_pkey;
ALTER TABLE tunnels ADD PRIMARY KEY (bin_id, name, target);
