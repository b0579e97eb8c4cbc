-- 002 — projections: read models derived from the log by consultd's projector. Unlike the log they
-- are disposable: `consultctl projections rebuild` recomputes them from position 0. Each write
-- changes the rows and the checkpoint in one transaction, so a crash never leaves them half done.

-- How far the projection has folded the log.
CREATE TABLE consult.projection_checkpoint (
    name     text   PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO consult.projection_checkpoint VALUES ('metrics', 0);

-- Every metric of every consultation, tidy: one row per consultation × metric × dimension × group.
-- dimension and grp are '' where a metric has none (so they can be part of the key).
CREATE TABLE consult.metric_values (
    consultation text             NOT NULL,
    metric       text             NOT NULL,
    dimension    text             NOT NULL DEFAULT '',
    grp          text             NOT NULL DEFAULT '',
    value        double precision,            -- NULL: cannot be computed (nothing to divide by)
    position     bigint           NOT NULL,   -- the log position these numbers are as of
    PRIMARY KEY (consultation, metric, dimension, grp)
);

-- The meaningful-engagement audit: one row per consultation × criterion, and the verdict.
CREATE TABLE consult.audit_results (
    consultation text   NOT NULL,
    criterion    text   NOT NULL,
    value        double precision,
    threshold    text,
    status       text   NOT NULL,
    reason       text,
    position     bigint NOT NULL,
    PRIMARY KEY (consultation, criterion)
);

-- Who took part in what: one row per consultation × organisation.
CREATE TABLE consult.participation (
    consultation  text   NOT NULL,
    organisation  text   NOT NULL,
    submissions   bigint NOT NULL,
    withdrawn     bigint NOT NULL,
    with_feedback bigint NOT NULL,
    cited         bigint NOT NULL,
    position      bigint NOT NULL,
    PRIMARY KEY (consultation, organisation)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON consult.projection_checkpoint, consult.metric_values,
    consult.audit_results, consult.participation TO consult_app;

-- The analysts' views (consult_analyst may read these and nothing else).
CREATE VIEW analytics.metrics AS
    SELECT consultation, metric, nullif(dimension, '') AS dimension, nullif(grp, '') AS "group", value, position
      FROM consult.metric_values;
COMMENT ON VIEW analytics.metrics IS
    'Every metric of SPEC.md per consultation, tidy: one row per consultation, metric, dimension and group. '
    'value is NULL where it cannot be computed; position is the log position the numbers are as of.';

CREATE VIEW analytics.audit AS
    SELECT consultation, criterion, value, threshold, status, reason, position
      FROM consult.audit_results;
COMMENT ON VIEW analytics.audit IS
    'The meaningful-engagement audit: one row per consultation and criterion (pass, fail, insufficient_data, '
    'with a one-line reason), plus criterion = ''verdict'' with status meaningful, partial or tokenistic.';

CREATE VIEW analytics.participation AS
    SELECT consultation, organisation, submissions, withdrawn, with_feedback, cited, position
      FROM consult.participation;
COMMENT ON VIEW analytics.participation IS
    'Per consultation and organisation: submissions that count (not withdrawn), withdrawn ones, '
    'how many got feedback and how many the outcome cites.';

CREATE VIEW analytics.organisations AS
    SELECT organisation,
           array_agg(consultation ORDER BY consultation)              AS consultations,
           sum(submissions)                                           AS submissions,
           sum(with_feedback)::float8 / nullif(sum(submissions), 0)   AS feedback_rate,
           sum(cited)::float8 / nullif(sum(submissions), 0)           AS cited_rate
      FROM consult.participation
     GROUP BY organisation;
COMMENT ON VIEW analytics.organisations IS
    'Per organisation across consultations: where it took part, how many of its submissions count, '
    'and the share that got feedback and that an outcome cites (NULL when none count).';

GRANT SELECT ON analytics.metrics, analytics.audit, analytics.participation, analytics.organisations
    TO consult_analyst, consult_app;
