-- How many tasks are in each state and ending, and how many deliveries in each status, kept by
-- triggers in the transaction of every write: `/metrics` reads a few rows instead of counting
-- every task and delivery the store ever had. A NULL state (never answered) or ending (still
-- tracked) is kept as ''.
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

CREATE TRIGGER tally_task_added AFTER INSERT ON tracked BEGIN
    INSERT INTO tally (what, state, ending, n)
    VALUES ('tasks', COALESCE(new.state, ''), COALESCE(new.ending, ''), 1)
    ON CONFLICT (what, state, ending) DO UPDATE SET n = tally.n + 1;
END;

CREATE TRIGGER tally_task_moved AFTER UPDATE OF state, ending ON tracked
WHEN old.state IS NOT new.state OR old.ending IS NOT new.ending BEGIN
    UPDATE tally SET n = n - 1
    WHERE what = 'tasks' AND state = COALESCE(old.state, '') AND ending = COALESCE(old.ending, '');
    INSERT INTO tally (what, state, ending, n)
    VALUES ('tasks', COALESCE(new.state, ''), COALESCE(new.ending, ''), 1)
    ON CONFLICT (what, state, ending) DO UPDATE SET n = tally.n + 1;
END;

CREATE TRIGGER tally_task_deleted AFTER DELETE ON tracked BEGIN
    UPDATE tally SET n = n - 1
    WHERE what = 'tasks' AND state = COALESCE(old.state, '') AND ending = COALESCE(old.ending, '');
END;

CREATE TRIGGER tally_delivery_added AFTER INSERT ON deliveries BEGIN
    INSERT INTO tally (what, state, ending, n) VALUES ('deliveries', new.status, '', 1)
    ON CONFLICT (what, state, ending) DO UPDATE SET n = tally.n + 1;
END;

CREATE TRIGGER tally_delivery_moved AFTER UPDATE OF status ON deliveries
WHEN old.status IS NOT new.status BEGIN
    UPDATE tally SET n = n - 1 WHERE what = 'deliveries' AND state = old.status AND ending = '';
    INSERT INTO tally (what, state, ending, n) VALUES ('deliveries', new.status, '', 1)
    ON CONFLICT (what, state, ending) DO UPDATE SET n = tally.n + 1;
END;

CREATE TRIGGER tally_delivery_deleted AFTER DELETE ON deliveries BEGIN
    UPDATE tally SET n = n - 1 WHERE what = 'deliveries' AND state = old.status AND ending = '';
END;
