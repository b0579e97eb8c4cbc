-- consult.event_types(subject, …): the names of the log's event types, written once for schema/.
--
-- Every list of event types in SQL reads it, so that no two lists drift apart: the registry's
-- notification (notify_registry), the append's check that the registry has not moved
-- (append_batch_sealed) and the analytics views (migration 011). Given subjects (organisation,
-- credential, consultation, submission, feedback, outcome, erasure, naming), the types about them; given
-- none, every type. In the order of EventType in Sources/Core/Domain/DomainEvent.swift, Swift's copy of
-- the list: MigrationsTests checks that the two are equal, that the registry's types (organisation,
-- credential, consultation) are Domain's Registry.eventTypes, and that every subject named in
-- schema/ is one of these.
--
-- IMMUTABLE, so the planner computes the list when it plans a statement: `type = ANY
-- (consult.event_types('organisation', 'consultation'))` is then a list of constants, and the planner
-- sees that the partial index events_registry applies. That index's predicate is written out in
-- migration 010 (re-making it means reading the whole log); a test checks it names exactly the
-- registry's types. A change to the list comes with a new daemon (Domain's list changes with it):
-- restart the daemons after migrating, as every upgrade does, so that no session keeps a plan made
-- with the old list.
CREATE OR REPLACE FUNCTION consult.event_types(VARIADIC subjects text[] DEFAULT NULL) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(t.name ORDER BY t.n), '{}')
      FROM (VALUES (1,  'OrganisationRegistered',     'organisation'),
                   (2,  'OrganisationProfileChanged', 'organisation'),
                   (3,  'CredentialIssued',           'credential'),
                   (4,  'CredentialRevoked',          'credential'),
                   (5,  'ConsultationOpened',         'consultation'),
                   (6,  'ConsultationClosed',         'consultation'),
                   (7,  'SubmissionReceived',         'submission'),
                   (8,  'SubmissionWithdrawn',        'submission'),
                   (9,  'FeedbackGiven',              'feedback'),
                   (10, 'OutcomePublished',           'outcome'),
                   (11, 'ContentErased',              'erasure'),
                   (12, 'ConsultationNamed',          'naming')) AS t(n, name, subject)
     WHERE subjects IS NULL OR t.subject = ANY (subjects)
$$;
