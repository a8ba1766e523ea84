-- +goose Up

-- The audit log: every event on the exchange, once, as received.
--
-- seq is the log's own order. It is not a sequence/identity column on
-- purpose: those hand out numbers outside the transaction, so a rolled-back
-- or conflicting insert leaves a gap and concurrent inserts can commit out of
-- number order. Instead each append takes a lock and uses MAX(seq) + 1 (see
-- Events.Append), so seq is gap-free and equals commit order.
CREATE TABLE audit_events (
    seq            BIGINT      PRIMARY KEY CHECK (seq >= 1),
    event_id       TEXT        NOT NULL UNIQUE,  -- makes a redelivery harmless
    type           TEXT        NOT NULL,
    source         TEXT        NOT NULL,
    subject        TEXT        NOT NULL,
    correlation_id TEXT        NOT NULL,
    expense_id     TEXT        NOT NULL,         -- '' when about no expense
    event_time     TIMESTAMPTZ NOT NULL,         -- the envelope's time
    -- The whole envelope, byte for byte as received: the hash covers exactly
    -- what arrived (jsonb would reorder keys and drop whitespace).
    envelope       BYTEA       NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL,
    -- The hash chain: hash = SHA-256(prev_hash ‖ canonical encoding of this
    -- row), prev_hash = the previous row's hash (32 zero bytes for seq 1).
    -- Changing any stored row breaks its own hash or the next row's link;
    -- GET /v1/audit/verify recomputes the chain (see domain/chain.go).
    prev_hash      BYTEA       NOT NULL CHECK (length(prev_hash) = 32),
    hash           BYTEA       NOT NULL UNIQUE CHECK (length(hash) = 32)
);

CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_expense ON audit_events (expense_id, seq);
CREATE INDEX audit_events_correlation ON audit_events (correlation_id, seq);
CREATE INDEX audit_events_type ON audit_events (type, seq);

-- Append-only, enforced by the database rather than by convention: any
-- UPDATE, DELETE or TRUNCATE fails, whatever client sends it. Statement-level
-- triggers fire even when no row matches, so the refusal does not depend on
-- the table's contents. (The table owner could still drop the triggers; in
-- production the service should connect as a role that does not own it.)
-- +goose StatementBegin
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- +goose Down
-- Deliberately empty: no migration ever destroys the audit log.
