-- 首问负责: the accountable owner of a complaint (whoever first took the contact), kept
-- through reassignments and filterable in ListComplaints. Complaints written before this
-- migration have none (nothing had shipped; their bodies carry no owner either).
ALTER TABLE complaints ADD COLUMN accountable_agent_id TEXT NOT NULL DEFAULT '';
CREATE INDEX complaints_by_accountable_agent ON complaints (accountable_agent_id, create_time, id);
