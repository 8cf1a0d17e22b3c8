-- Survey templates and surveys. Documents (`doc`) beside the columns listings filter on, as
-- for callbacks; times are BIGINT microseconds (0 = unset).

-- One row per template version; a version never changes. `latest` is 1 on the newest version
-- of each id (0 on the others): a revision clears it on the version it revised, only while that
-- version is still the newest, which is what refuses a concurrent second revision.
CREATE TABLE survey_templates (
    id TEXT NOT NULL,
    version BIGINT NOT NULL,
    latest SMALLINT NOT NULL,
    doc TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);
CREATE INDEX survey_templates_latest ON survey_templates (latest, id);

-- Surveys: the document (answers, scores, adjustments) with the ListSurveys filters beside it.
-- grade and service_type are '' until the survey has them.
CREATE TABLE surveys (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    template_version BIGINT NOT NULL,
    state TEXT NOT NULL,
    grade TEXT NOT NULL,
    service_type TEXT NOT NULL,
    send_time BIGINT NOT NULL,
    answer_time BIGINT NOT NULL,
    doc TEXT NOT NULL,
    version BIGINT NOT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL
);
CREATE INDEX surveys_listing ON surveys (send_time, id);
CREATE INDEX surveys_customer ON surveys (customer_id, send_time, id);
CREATE INDEX surveys_agent ON surveys (agent_id, send_time, id);

-- The facts GetFeedbackScores filters and sums on, one NARROW row per survey, written in the
-- transaction that writes the survey: no JSON, no document, small integers, so an aggregate
-- over a million surveys of a period reads a few tens of megabytes. Scores are NULL when not
-- answered (COUNT(csat) counts the answers); responded and complete are 0/1 so SUM counts them
-- on both engines; each SERVQUAL dimension has its expectation (_e) and perception (_p).
CREATE TABLE survey_facts (
    survey_id TEXT PRIMARY KEY,
    send_time BIGINT NOT NULL,
    template_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    service_hall_id TEXT NOT NULL,
    complaint_nature TEXT NOT NULL,
    customer_tier TEXT NOT NULL,
    customer_region TEXT NOT NULL,
    channel TEXT NOT NULL,
    responded SMALLINT NOT NULL,
    complete SMALLINT NOT NULL,
    csat SMALLINT,
    nps SMALLINT,
    ces SMALLINT,
    tangibles_e SMALLINT,
    tangibles_p SMALLINT,
    empathy_e SMALLINT,
    empathy_p SMALLINT,
    assurance_e SMALLINT,
    assurance_p SMALLINT,
    responsiveness_e SMALLINT,
    responsiveness_p SMALLINT,
    reliability_e SMALLINT,
    reliability_p SMALLINT
);
CREATE INDEX survey_facts_send_time ON survey_facts (send_time);
