-- Webhook deliveries: one per journaled event of a task with a callback URL, retried with
-- backoff until delivered or given up (failed). A delivery's webhook-id is its event's id, so
-- retries and redeliveries by another worker carry the same one.
CREATE TABLE deliveries (
    event_id BIGINT PRIMARY KEY REFERENCES events (id),
    url TEXT NOT NULL,
    -- `pending`, `delivered` or `failed`.
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt is due; NULL once delivered or failed. A claim moves it to the end
    -- of the claim's lease, like a task's.
    next_attempt_at BIGINT,
    last_error TEXT,
    worker TEXT,
    updated_at BIGINT NOT NULL
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX deliveries_worker ON deliveries (worker) WHERE worker IS NOT NULL;
CREATE INDEX deliveries_status ON deliveries (status, event_id);
