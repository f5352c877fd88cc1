-- ERP (PostgreSQL, database `erp`): orders, fulfilment and stock.
-- The ERP assigns its own keys (identities, an order-number sequence); Sluice
-- links CRM rows to them through its crosswalk (sluice.crosswalk).

CREATE TABLE customers (
    id           bigint GENERATED ALWAYS AS IDENTITY (START WITH 10001) PRIMARY KEY,
    name         text NOT NULL,
    email        text,
    city         text,
    credit_limit numeric(12,2) NOT NULL DEFAULT 5000,   -- the ERP's own: sync never touches it
    source       text NOT NULL DEFAULT 'erp',           -- 'erp' (entered here) or 'crm' (synced)
    source_ref   text,                                  -- 'CRM-<id>' for synced customers
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE sales_order_no_seq;

CREATE TABLE sales_orders (
    id          bigint GENERATED ALWAYS AS IDENTITY (START WITH 500001) PRIMARY KEY,
    order_no    text NOT NULL UNIQUE DEFAULT 'SO-' || lpad(nextval('sales_order_no_seq')::text, 6, '0'),
    customer_id bigint NOT NULL REFERENCES customers (id),
    status      text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
    -- Moved on by the ERP's warehouse users; sync writes it only when it creates the order.
    workflow    text NOT NULL CHECK (workflow IN ('NEW', 'PICKING', 'PACKED', 'SHIPPED')),
    total       numeric(14,2) NOT NULL,
    ordered_at  timestamptz NOT NULL,
    source      text NOT NULL DEFAULT 'erp',
    source_ref  text                                    -- 'CRM-<id>' for orders from the CRM
);

CREATE TABLE sales_order_lines (
    sales_order_id bigint NOT NULL REFERENCES sales_orders (id),
    line_no        int NOT NULL,
    sku            text NOT NULL,
    qty            int NOT NULL CHECK (qty > 0),
    unit_price     numeric(12,2) NOT NULL,
    PRIMARY KEY (sales_order_id, line_no)
);

CREATE TABLE inventory (
    sku          text NOT NULL,
    warehouse    text NOT NULL,                         -- MAIN (ships web and CRM orders), EAST
    qty_on_hand  int NOT NULL,
    qty_reserved int NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, warehouse)
);

-- Created by Sluice when the OA approves a shipment (route ship_on_approval);
-- the warehouse moves `state` on.
CREATE TABLE shipment_requests (
    request_no     text PRIMARY KEY,                    -- 'SHIP-<approval id>'
    sales_order_no text NOT NULL REFERENCES sales_orders (order_no),
    approval_id    bigint NOT NULL,
    approved_by    text,
    requested_at   timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'open'
);

-- The ERP's audit of fulfilment moves: every change of sales_orders.workflow,
-- and which application made it.
CREATE TABLE workflow_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sales_order_id bigint NOT NULL REFERENCES sales_orders (id),
    from_state     text NOT NULL,
    to_state       text NOT NULL,
    moved_by       text NOT NULL,
    moved_at       timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION log_workflow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO workflow_log (sales_order_id, from_state, to_state, moved_by)
    VALUES (NEW.id, OLD.workflow, NEW.workflow, current_setting('application_name'));
    RETURN NULL;
END $$;

CREATE TRIGGER sales_orders_workflow AFTER UPDATE ON sales_orders
    FOR EACH ROW WHEN (OLD.workflow IS DISTINCT FROM NEW.workflow) EXECUTE FUNCTION log_workflow();

-- Order lines reserve stock in the main warehouse, whoever writes them (the
-- ERP's own order entry or Sluice bringing CRM orders in).
CREATE FUNCTION reserve_stock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.sku = NEW.sku AND OLD.qty = NEW.qty THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE inventory SET qty_reserved = qty_reserved - OLD.qty, updated_at = now()
         WHERE sku = OLD.sku AND warehouse = 'MAIN';
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE inventory SET qty_reserved = qty_reserved + NEW.qty, updated_at = now()
         WHERE sku = NEW.sku AND warehouse = 'MAIN';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER sales_order_lines_reserve AFTER INSERT OR UPDATE OR DELETE ON sales_order_lines
    FOR EACH ROW EXECUTE FUNCTION reserve_stock();
