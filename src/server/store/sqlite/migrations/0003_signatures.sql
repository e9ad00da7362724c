-- Verification secrets per bin (JSON, see verify::Secrets) and each
-- request's check ({"scheme","verified","reason"} or NULL).
ALTER TABLE bins ADD COLUMN secrets TEXT NOT NULL DEFAULT '{}';
ALTER TABLE requests ADD COLUMN signature TEXT;
