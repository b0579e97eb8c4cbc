-- 011 — the views' lists of event types read from consult.event_types (schema/functions/event_types.sql).
--
-- Migration 007 wrote the registry's four consultation and organisation types into two views and the
-- submission types into a third, beside the same lists in the append and the registry trigger. The
-- names are now written once, in consult.event_types; each view below is 007's with its list
-- replaced by a call, the same columns, comments and grants (CREATE OR REPLACE VIEW keeps them).
-- The call is computed when a query is planned, so the planner still sees that events_registry
-- (010) applies.

CREATE OR REPLACE VIEW analytics.consultations AS
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
           WHERE e.type = ANY (consult.event_types('organisation', 'consultation'))
             AND e.type = 'ConsultationClosed' AND e.stream = o.stream
      ) c ON true
     WHERE o.type = ANY (consult.event_types('organisation', 'consultation'))
       AND o.type = 'ConsultationOpened';

CREATE OR REPLACE VIEW analytics.organisations AS
    WITH profiles AS (
        SELECT DISTINCT ON (e.data->>'id')
               e.data->>'id' AS organisation, e.data->>'name' AS name, e.data->>'type' AS type,
               ARRAY(SELECT jsonb_array_elements_text(e.data->'leadership')) AS leadership,
               e.data->>'level' AS level, e.data->>'country' AS country
          FROM consult.events e
         WHERE e.type = ANY (consult.event_types('organisation', 'consultation'))
           AND e.type = ANY (consult.event_types('organisation'))
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

CREATE OR REPLACE VIEW analytics.submissions_daily AS
    SELECT e.data->>'consultation'                                          AS consultation,
           (e.recorded_at AT TIME ZONE 'UTC')::date                         AS day,
           count(*) FILTER (WHERE e.type = 'SubmissionReceived')            AS received,
           count(*) FILTER (WHERE e.type = 'SubmissionWithdrawn')           AS withdrawn,
           count(*) FILTER (WHERE e.type = 'FeedbackGiven')                 AS feedback_given
      FROM consult.events e
     WHERE e.type = ANY (consult.event_types('submission', 'feedback'))
     GROUP BY 1, 2;
