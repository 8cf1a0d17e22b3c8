-- Staff of the month: one row per agent and month ('YYYY-MM', months in UTC) holding what a
-- supervisor records (leave hours, attendance lapses, penalties) as a JSON document. Recording
-- the same agent and month again replaces the row. The monthly score, eligibility and the
-- month's selection are computed when read, from survey_facts and every row of the month, so
-- they follow surveys recorded or adjusted later.
CREATE TABLE staff_months (
    month TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (month, agent_id)
);
