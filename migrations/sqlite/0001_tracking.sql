-- Tracked tasks and the journal of what happened to them (SQLite).
-- Times are milliseconds since the Unix epoch; JSON is stored as text. Credentials are never
-- stored: a task's inputs are the provider's other parameters only.

CREATE TABLE tracked (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    task_id TEXT NOT NULL,
    -- The provider's other inputs, a JSON object of strings.
    inputs TEXT NOT NULL,
    -- The caller's labels, a JSON object of strings.
    labels TEXT NOT NULL,
    callback_url TEXT,
    -- The last UploadTask a poll returned (JSON), and its state for filters.
    task TEXT,
    state TEXT,
    -- NULL while tracked, else how it ended: a terminal state, `error` or `removed`.
    ending TEXT,
    -- The last poll's error (JSON), cleared by an answer.
    error TEXT,
    -- What decides the next poll (JSON): counters, the current wait, the last state seen, the
    -- follow-up being polled.
    course TEXT NOT NULL,
    -- When it is due; NULL once ended. A claim moves it to the end of the claim's lease, so a
    -- task whose worker died is due again when the lease runs out.
    next_poll_at BIGINT,
    -- The claim holding it (worker and claim number) and its worker, NULL when none does.
    lease TEXT,
    worker TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (provider, task_id)
);

-- Claims read the due end of this index only, however long the table grows.
CREATE INDEX tracked_due ON tracked (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX tracked_state ON tracked (state, id);
-- A dead worker's tasks are found without reading the table.
CREATE INDEX tracked_worker ON tracked (worker) WHERE worker IS NOT NULL;

-- Live workers: each writes `seen_at` every heartbeat; the tasks of one not seen for a few
-- heartbeats are given back by the others, long before its leases run out.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);

-- Append-only: one row per change and per end, with the tracked record as it was then.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tracked_id BIGINT NOT NULL REFERENCES tracked (id),
    type TEXT NOT NULL,
    at BIGINT NOT NULL,
    data TEXT NOT NULL
);

CREATE INDEX events_tracked ON events (tracked_id, id);
