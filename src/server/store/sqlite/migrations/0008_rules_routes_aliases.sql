-- Aliases: a readable name a bin also captures at (unique when set).
ALTER TABLE bins ADD COLUMN alias TEXT;
CREATE UNIQUE INDEX bins_by_alias ON bins(alias) WHERE alias IS NOT NULL;
-- Response rules (JSON array, see model::RuleConfig) and, per request, the
-- name of the rule that answered it.
ALTER TABLE bins ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN rule TEXT;
-- A tunnel delivers to one or more targets (fan-out, routes), each its own
-- stream with its own position; a delivery names its target, and a request
-- a tunnel's --filter left out is recorded as skipped.
ALTER TABLE deliveries ADD COLUMN target TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
CREATE TABLE tunnel_targets (
    bin_id            TEXT NOT NULL REFERENCES bins(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    target            TEXT NOT NULL,
    delivered_through INTEGER NOT NULL,
    PRIMARY KEY (bin_id, name, target)
) WITHOUT ROWID;
-- Positions from before targets: the empty target, which a name's first
-- target takes over (open_tunnel starts a new target at the name's
-- furthest position).
INSERT INTO tunnel_targets SELECT bin_id, name, '', delivered_through FROM tunnels;
DROP TABLE tunnels;
ALTER TABLE tunnel_targets RENAME TO tunnels;
