-- A request is delivered once per tunnel name (replays aside), even if two
-- sessions of one name ever ran at once on two replicas (a replica that
-- lost its name-lock connection): the second answer is not recorded.
CREATE UNIQUE INDEX deliveries_once ON deliveries(request_id, tunnel) WHERE NOT replay;
