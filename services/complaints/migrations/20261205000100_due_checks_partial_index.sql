-- The breach watcher claims due complaints in next-check order and sleeps until the earliest
-- next check: a partial index holds just the complaints with a check to come (closed ones
-- have none), in that order.
DROP INDEX complaints_by_next_check;
CREATE INDEX complaints_due_checks ON complaints (next_check_time) WHERE next_check_time > 0;
