-- What the sender of each request got back (see the SQLite migration 0009).
ALTER TABLE requests ADD COLUMN response_status integer;
ALTER TABLE requests ADD COLUMN response_by text;
ALTER TABLE requests ADD COLUMN response_name text;
