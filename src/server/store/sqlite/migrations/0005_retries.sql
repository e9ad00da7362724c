-- The sender's idempotency key (webhook-id, X-GitHub-Delivery, a Stripe
-- event id, a job id with its status…): requests sharing one are retries.
ALTER TABLE requests ADD COLUMN retry_key TEXT;
CREATE INDEX requests_by_retry_key ON requests(bin_id, retry_key) WHERE retry_key IS NOT NULL;
