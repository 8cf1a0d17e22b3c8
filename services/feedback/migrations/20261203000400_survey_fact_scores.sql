-- What process indicators, scorecards and the churn detector read from a survey, beside the
-- aggregates' answers: whose survey it is, when it was answered (0 = not yet), its overall
-- score, its adjustments and its two quality scores (NULL when the survey has none).
ALTER TABLE survey_facts ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE survey_facts ADD COLUMN answer_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE survey_facts ADD COLUMN overall_score DOUBLE PRECISION;
ALTER TABLE survey_facts ADD COLUMN bonus_points DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE survey_facts ADD COLUMN deduction_points DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE survey_facts ADD COLUMN procedural_score DOUBLE PRECISION;
ALTER TABLE survey_facts ADD COLUMN personal_score DOUBLE PRECISION;
CREATE INDEX survey_facts_customer ON survey_facts (customer_id, send_time);
CREATE INDEX survey_facts_agent ON survey_facts (agent_id, send_time);
