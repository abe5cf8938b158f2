-- How many tasks are in each state and ending, and how many deliveries in each status, kept by
-- triggers in the transaction of every write: `/metrics` reads a few rows instead of counting
-- every task and delivery the store ever had. A NULL state (never answered) or ending (still
-- tracked) is kept as ''. A transaction that moves tasks between states takes the journal's
-- advisory lock first (as every journaling one does), so no two lock these rows in opposite
-- orders.
-- No write may land between the counts below and the triggers: it would be missed for good.
LOCK TABLE tracked, deliveries IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE tally (
    -- `tasks` or `deliveries`.
    what TEXT NOT NULL,
    -- A task's state, or a delivery's status.
    state TEXT NOT NULL,
    -- A task's ending; '' for deliveries.
    ending TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (what, state, ending)
);

INSERT INTO tally (what, state, ending, n)
SELECT 'tasks', COALESCE(state, ''), COALESCE(ending, ''), COUNT(*) FROM tracked
GROUP BY COALESCE(state, ''), COALESCE(ending, '');

INSERT INTO tally (what, state, ending, n)
SELECT 'deliveries', status, '', COUNT(*) FROM deliveries GROUP BY status;

CREATE FUNCTION tally_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE tally SET n = n - 1
        WHERE what = 'tasks' AND state = COALESCE(OLD.state, '') AND ending = COALESCE(OLD.ending, '');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO tally (what, state, ending, n)
        VALUES ('tasks', COALESCE(NEW.state, ''), COALESCE(NEW.ending, ''), 1)
        ON CONFLICT (what, state, ending) DO UPDATE SET n = tally.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tally_task_added_or_deleted AFTER INSERT OR DELETE ON tracked
FOR EACH ROW EXECUTE FUNCTION tally_tasks();

CREATE TRIGGER tally_task_moved AFTER UPDATE OF state, ending ON tracked
FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.ending IS DISTINCT FROM NEW.ending)
EXECUTE FUNCTION tally_tasks();

CREATE FUNCTION tally_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE tally SET n = n - 1 WHERE what = 'deliveries' AND state = OLD.status AND ending = '';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO tally (what, state, ending, n) VALUES ('deliveries', NEW.status, '', 1)
        ON CONFLICT (what, state, ending) DO UPDATE SET n = tally.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tally_delivery_added_or_deleted AFTER INSERT OR DELETE ON deliveries
FOR EACH ROW EXECUTE FUNCTION tally_deliveries();

CREATE TRIGGER tally_delivery_moved AFTER UPDATE OF status ON deliveries
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION tally_deliveries();
