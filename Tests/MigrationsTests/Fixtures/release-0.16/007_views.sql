-- 007 — views that BI tools (Metabase, Grafana, a spreadsheet) can use from a consult_analyst login.
--
-- Each view is one kind of row, with a comment on every column; none has a column named "group"
-- (a reserved word every tool would have to quote). The consultations and organisations come from
-- the log's registry events (views run with their owner's rights, so analysts still cannot read the
-- log itself); a small partial index finds those few events among millions. Queries repeat its
-- predicate (type IN (…)) beside their own, so that the planner sees the index applies.

CREATE INDEX events_registry ON consult.events (position)
    WHERE type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged');

-- The metrics, as before, with the group column renamed.
DROP VIEW analytics.metrics;
CREATE VIEW analytics.metrics AS
    SELECT consultation, metric, nullif(dimension, '') AS dimension, nullif(grp, '') AS group_name, value, position
      FROM consult.metric_values;
COMMENT ON VIEW analytics.metrics IS
    'Every metric of SPEC.md per consultation, tidy: one row per consultation, metric, dimension and group.';
COMMENT ON COLUMN analytics.metrics.consultation IS 'Consultation id.';
COMMENT ON COLUMN analytics.metrics.metric IS 'Metric name as in SPEC.md, e.g. voice_share, representation_ratio, feedback_rate.';
COMMENT ON COLUMN analytics.metrics.dimension IS 'Baseline dimension (e.g. gender) for per-dimension metrics; NULL otherwise.';
COMMENT ON COLUMN analytics.metrics.group_name IS 'Group within the dimension (e.g. female, or other); NULL otherwise.';
COMMENT ON COLUMN analytics.metrics.value IS 'The value; NULL where it cannot be computed (nothing to divide by).';
COMMENT ON COLUMN analytics.metrics.position IS 'Log position the numbers are as of.';

COMMENT ON COLUMN analytics.audit.consultation IS 'Consultation id.';
COMMENT ON COLUMN analytics.audit.criterion IS 'Audit criterion (docs/METRICS.md), or verdict.';
COMMENT ON COLUMN analytics.audit.value IS 'The criterion''s value; NULL for the verdict or when it cannot be judged.';
COMMENT ON COLUMN analytics.audit.threshold IS 'How the value is compared, e.g. "≥ 0.25".';
COMMENT ON COLUMN analytics.audit.status IS 'pass, fail or insufficient_data; for the verdict: meaningful, partial or tokenistic.';
COMMENT ON COLUMN analytics.audit.reason IS 'One line saying why.';
COMMENT ON COLUMN analytics.audit.position IS 'Log position the audit is as of.';

COMMENT ON COLUMN analytics.participation.consultation IS 'Consultation id.';
COMMENT ON COLUMN analytics.participation.organisation IS 'Organisation id.';
COMMENT ON COLUMN analytics.participation.submissions IS 'Its submissions that count (not withdrawn).';
COMMENT ON COLUMN analytics.participation.withdrawn IS 'Its withdrawn submissions.';
COMMENT ON COLUMN analytics.participation.with_feedback IS 'Its counted submissions that got feedback.';
COMMENT ON COLUMN analytics.participation.cited IS 'Its counted submissions that the latest outcome cites.';
COMMENT ON COLUMN analytics.participation.position IS 'Log position the numbers are as of.';

-- Consultations as their conveners opened them, with the effective close.
CREATE VIEW analytics.consultations AS
    SELECT o.data->>'id'                                         AS consultation,
           o.data->>'title'                                      AS title,
           o.data->>'convener'                                   AS convener,
           (o.data->>'opens_at')::timestamptz                    AS opens_at,
           (o.data->>'closes_at')::timestamptz                   AS closes_at,
           c.closed_at,
           least((o.data->>'closes_at')::timestamptz, c.closed_at) AS effective_close,
           ARRAY(SELECT jsonb_array_elements_text(o.data->'stages'))    AS stages,
           ARRAY(SELECT jsonb_array_elements_text(o.data->'languages')) AS languages,
           o.data->'baseline'                                    AS baseline,
           coalesce(o.data->'labels', '{}')                      AS labels,
           o.position                                            AS opened_at_position
      FROM consult.events o
      LEFT JOIN LATERAL (
          SELECT min(coalesce((e.data->>'closed_at')::timestamptz, e.recorded_at)) AS closed_at
            FROM consult.events e
           WHERE e.type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged')
             AND e.type = 'ConsultationClosed' AND e.stream = o.stream
      ) c ON true
     WHERE o.type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged')
       AND o.type = 'ConsultationOpened';
COMMENT ON VIEW analytics.consultations IS 'One row per consultation: what its convener opened, and when it closed.';
COMMENT ON COLUMN analytics.consultations.consultation IS 'Consultation id.';
COMMENT ON COLUMN analytics.consultations.title IS 'Title.';
COMMENT ON COLUMN analytics.consultations.convener IS 'Who convenes it.';
COMMENT ON COLUMN analytics.consultations.opens_at IS 'When submissions open.';
COMMENT ON COLUMN analytics.consultations.closes_at IS 'When submissions close, as scheduled.';
COMMENT ON COLUMN analytics.consultations.closed_at IS 'When it was closed early by command; NULL if it was not.';
COMMENT ON COLUMN analytics.consultations.effective_close IS 'The earlier of closes_at and closed_at: what the audit uses.';
COMMENT ON COLUMN analytics.consultations.stages IS 'Stages of the policy cycle it asks about.';
COMMENT ON COLUMN analytics.consultations.languages IS 'Languages it accepts (BCP 47).';
COMMENT ON COLUMN analytics.consultations.baseline IS 'Population baseline: {dimension: {group: share}}, shares summing to 1.';
COMMENT ON COLUMN analytics.consultations.labels IS 'Names for group codes: {dimension: {group: name}}; {} when none were given.';
COMMENT ON COLUMN analytics.consultations.opened_at_position IS 'Log position of its opening.';

-- Organisations with their current profile, and their participation across consultations.
DROP VIEW analytics.organisations;
CREATE VIEW analytics.organisations AS
    WITH profiles AS (
        SELECT DISTINCT ON (e.data->>'id')
               e.data->>'id' AS organisation, e.data->>'name' AS name, e.data->>'type' AS type,
               ARRAY(SELECT jsonb_array_elements_text(e.data->'leadership')) AS leadership,
               e.data->>'level' AS level, e.data->>'country' AS country
          FROM consult.events e
         WHERE e.type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged')
           AND e.type IN ('OrganisationRegistered', 'OrganisationProfileChanged')
         ORDER BY e.data->>'id', e.position DESC
    ), taking_part AS (
        SELECT organisation, array_agg(consultation ORDER BY consultation) AS consultations, sum(submissions) AS submissions,
               sum(with_feedback) AS with_feedback, sum(cited) AS cited
          FROM consult.participation GROUP BY organisation
    )
    SELECT p.organisation, p.name, p.type, p.leadership, p.level, p.country,
           coalesce(t.consultations, '{}')                                AS consultations,
           coalesce(t.submissions, 0)                                     AS submissions,
           t.with_feedback::float8 / nullif(t.submissions, 0)             AS feedback_rate,
           t.cited::float8 / nullif(t.submissions, 0)                     AS cited_rate
      FROM profiles p LEFT JOIN taking_part t USING (organisation);
COMMENT ON VIEW analytics.organisations IS 'One row per registered organisation: its current profile and its participation.';
COMMENT ON COLUMN analytics.organisations.organisation IS 'Organisation id.';
COMMENT ON COLUMN analytics.organisations.name IS 'Name, as last registered.';
COMMENT ON COLUMN analytics.organisations.type IS 'Kind of organisation, e.g. community_based, ngo, international_ngo.';
COMMENT ON COLUMN analytics.organisations.leadership IS 'Who leads it, as registered, e.g. {refugees,women}.';
COMMENT ON COLUMN analytics.organisations.level IS 'local, national, regional or global.';
COMMENT ON COLUMN analytics.organisations.country IS 'ISO 3166-1 alpha-3 country code.';
COMMENT ON COLUMN analytics.organisations.consultations IS 'Consultations it submitted to (counted submissions only).';
COMMENT ON COLUMN analytics.organisations.submissions IS 'Its submissions that count, across consultations.';
COMMENT ON COLUMN analytics.organisations.feedback_rate IS 'Share of those that got feedback; NULL when none count.';
COMMENT ON COLUMN analytics.organisations.cited_rate IS 'Share of those an outcome cites; NULL when none count.';

-- Submissions per consultation and day (log time, UTC): a time series, no content.
CREATE VIEW analytics.submissions_daily AS
    SELECT e.data->>'consultation'                                          AS consultation,
           (e.recorded_at AT TIME ZONE 'UTC')::date                         AS day,
           count(*) FILTER (WHERE e.type = 'SubmissionReceived')            AS received,
           count(*) FILTER (WHERE e.type = 'SubmissionWithdrawn')           AS withdrawn,
           count(*) FILTER (WHERE e.type = 'FeedbackGiven')                 AS feedback_given
      FROM consult.events e
     WHERE e.type IN ('SubmissionReceived', 'SubmissionWithdrawn', 'FeedbackGiven')
     GROUP BY 1, 2;
COMMENT ON VIEW analytics.submissions_daily IS
    'Per consultation and UTC day: submissions received, withdrawn, and feedback given. Reads the whole log: filter by consultation.';
COMMENT ON COLUMN analytics.submissions_daily.consultation IS 'Consultation id.';
COMMENT ON COLUMN analytics.submissions_daily.day IS 'Day of the log time, UTC.';
COMMENT ON COLUMN analytics.submissions_daily.received IS 'Submissions received that day (a retried one counts once).';
COMMENT ON COLUMN analytics.submissions_daily.withdrawn IS 'Submissions withdrawn that day.';
COMMENT ON COLUMN analytics.submissions_daily.feedback_given IS 'Feedback messages given that day.';

COMMENT ON COLUMN analytics.checkpoints.tree_size IS 'Events the checkpoint covers (positions 1 to tree_size).';
COMMENT ON COLUMN analytics.checkpoints.root IS 'Merkle tree root over those events, hex.';
COMMENT ON COLUMN analytics.checkpoints.log_time IS 'Log time of the event at position tree_size.';
COMMENT ON COLUMN analytics.checkpoints.key_id IS 'Id of the operator''s public key that signed it.';
COMMENT ON COLUMN analytics.checkpoints.signature IS 'Ed25519 signature, hex.';

GRANT SELECT ON analytics.metrics, analytics.consultations, analytics.organisations, analytics.submissions_daily
    TO consult_analyst, consult_app;
