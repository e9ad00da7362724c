-- What the sender of each request got back: the status (null: no answer),
-- who answered ('rule', 'bin', 'tunnel' or 'none') and the rule's or
-- tunnel's name. All null on requests stored before this: not recorded.
ALTER TABLE requests ADD COLUMN response_status INTEGER;
ALTER TABLE requests ADD COLUMN response_by TEXT;
ALTER TABLE requests ADD COLUMN response_name TEXT;
