-- Re-evaluation pages through the complaints accepted with defaulted customer facts in
-- (create_time, id) order; a partial index holds just those (few, and only while the
-- customers service was away) in that order.
DROP INDEX complaints_by_defaulted;
CREATE INDEX complaints_defaulted_by_create_time ON complaints (create_time, id) WHERE defaulted = 1;
