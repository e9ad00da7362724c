-- Payload schemas (SPEC §15): a bin's {match, schema} list (JSON), and
-- each request's verdict (JSON; NULL when no schema applied).
ALTER TABLE bins ADD COLUMN schemas text NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN schema text;
