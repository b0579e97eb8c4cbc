-- Roles for a consultd installation. Run once per cluster as a superuser, e.g.
--   psql -v ON_ERROR_STOP=1 -d postgres -f deploy/roles.sql
-- then set passwords (\password consultd) or map the roles in pg_hba.conf / pg_ident.conf.
--
-- consult_owner    owns the database and its schema; `consultctl migrate` runs as it. Nothing else does.
-- consult_app      group role (NOLOGIN): INSERT and SELECT on the log, nothing else on it; it will also
--                  maintain the projection tables. consultd and consultctl log in as members of it.
-- consult_analyst  group role (NOLOGIN): SELECT on the documented views in the analytics schema only;
--                  no raw log, no credential hashes. Analysts log in as members of it.
-- The migrations create consult_app and consult_analyst too when they are missing, but creating them
-- here means consult_owner needs no CREATEROLE.

CREATE ROLE consult_owner LOGIN;
CREATE ROLE consult_app NOLOGIN;
CREATE ROLE consult_analyst NOLOGIN;

CREATE ROLE consultd LOGIN IN ROLE consult_app;        -- the daemon and consultctl
-- consultd signs checkpoints only over what the synchronous standby has flushed, which it reads in
-- pg_stat_replication.flush_lsn: a column shown only to superusers and members of pg_read_all_stats
-- (which pg_monitor includes). Without it consultd warns at start and signs nothing while a
-- synchronous standby is configured. Read-only statistics, nothing else.
GRANT pg_monitor TO consultd;
CREATE ROLE analyst LOGIN IN ROLE consult_analyst;     -- one per person is better: CREATE ROLE alice LOGIN IN ROLE consult_analyst;

CREATE DATABASE consult OWNER consult_owner;
\connect consult
-- PostgreSQL 15 already keeps PUBLIC from creating in schema public; make it explicit for older habits.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE consult FROM PUBLIC;
GRANT CONNECT ON DATABASE consult TO consult_app, consult_analyst;
-- The migrations create the schemas consult and analytics as consult_owner and grant the rest.
