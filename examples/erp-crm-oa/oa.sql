-- OA (PostgreSQL, database `oa`): office approvals.
-- A `shipment` request asks to ship an ERP sales order (ref = its order
-- number); an `expense` request is an expense claim (ref = claim number).

CREATE TABLE approval_requests (
    id           bigint GENERATED ALWAYS AS IDENTITY (START WITH 7001) PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('shipment', 'expense')),
    ref          text NOT NULL,
    amount       numeric(14,2) NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    approver     text,
    note         text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    decided_at   timestamptz
);

-- Sluice's shipment action compares the old and the new status
-- (before.status / after.status): the log must carry whole old rows.
ALTER TABLE approval_requests REPLICA IDENTITY FULL;

-- The OA's audit trail: every status a request was given, and when.
CREATE TABLE approval_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint NOT NULL REFERENCES approval_requests (id),
    status     text NOT NULL,
    approver   text,
    at         timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION log_approval() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
        INSERT INTO approval_events (request_id, status, approver) VALUES (NEW.id, NEW.status, NEW.approver);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER approval_requests_log AFTER INSERT OR UPDATE ON approval_requests
    FOR EACH ROW EXECUTE FUNCTION log_approval();
