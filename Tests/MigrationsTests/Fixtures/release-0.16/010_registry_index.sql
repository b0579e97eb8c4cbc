-- 010 — every registry event found by one small index.
--
-- events_registry (007) left out credentials, so a daemon catching its registry up from position 0
-- (at every start, and after a batch refused as decided against an old registry) read the whole log:
-- on a log of 10 million events that outlasted the 5 s statement timeout, again and again, and the
-- daemon never answered AUTH. The index now holds all six types; the views' and the append's
-- queries, which name four of them, still use it.
DROP INDEX consult.events_registry;
CREATE INDEX events_registry ON consult.events (position)
    WHERE type IN ('ConsultationOpened', 'ConsultationClosed', 'OrganisationRegistered', 'OrganisationProfileChanged',
                   'CredentialIssued', 'CredentialRevoked');
