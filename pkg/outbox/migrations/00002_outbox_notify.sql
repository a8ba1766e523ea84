-- Every transaction that writes to the outbox notifies the relay when it
-- commits (NOTIFY is delivered only on commit, and once per transaction for
-- the same channel and payload), so the relay reads at once instead of at
-- its next poll. A statement trigger: one notification per INSERT, however
-- many events it writes, and no extra round trip for the writer.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER outbox_notify AFTER INSERT ON watermill_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- +goose Down
DROP TRIGGER outbox_notify ON watermill_outbox;
DROP FUNCTION outbox_notify();
