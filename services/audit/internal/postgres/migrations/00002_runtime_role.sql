-- +goose Up

-- The service's own role may read the log and append to it, and nothing
-- else. Where the service runs as a role named audit that does not own this
-- database (Kubernetes: the database and every table belong to audit_owner,
-- which only the migrating init container uses), that role cannot drop the
-- append-only triggers, rewrite a row or truncate the table: only the owner
-- could, and the service never holds the owner's password. Where the
-- service owns its database (make run, the tests, docker compose), there is
-- no such role and this changes nothing; docs/security.md says what that
-- leaves open.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'audit') AND current_user <> 'audit' THEN
        GRANT USAGE ON SCHEMA public TO audit;
        -- The inbox, idempotency keys and version tables: read and write rows.
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO audit;
        -- The log itself: read and append, never change.
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM audit;
        GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO audit;
        -- Tables later migrations add (of any set) get the same rights.
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO audit;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO audit;
    END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Deliberately empty: no migration ever widens access to the audit log.
