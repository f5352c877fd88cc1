-- Reporting (PostgreSQL, database `report`, its own server): fed by Sluice
-- from all three systems; nobody writes here by hand.

-- Orders from both systems, told apart by `origin`:
--   'crm' rows: the CRM's orders as the CRM has them (drafts included);
--             an order deleted in the CRM stays here with deleted_at set.
--   'erp' rows: the ERP's sales orders (from the CRM or entered in the ERP).
CREATE TABLE orders (
    origin      text NOT NULL,
    source_id   bigint NOT NULL,          -- the order's id in its origin system
    order_no    text,                     -- ERP order number (erp rows)
    crm_ref     text,                     -- 'CRM-<id>': the CRM order an ERP order came from
    status      text NOT NULL,            -- in the origin system's own vocabulary
    workflow    text,                     -- ERP fulfilment state (erp rows)
    total       numeric(14,2) NOT NULL,
    ordered_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    PRIMARY KEY (origin, source_id)
);

CREATE TABLE approvals (
    id           bigint PRIMARY KEY,
    kind         text NOT NULL,
    ref          text NOT NULL,
    amount       numeric(14,2) NOT NULL,
    status       text NOT NULL,
    approver     text,
    note         text,
    requested_at timestamptz NOT NULL,
    decided_at   timestamptz
);

CREATE TABLE inventory (
    sku          text NOT NULL,
    warehouse    text NOT NULL,
    qty_on_hand  int NOT NULL,
    qty_reserved int NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (sku, warehouse)
);

-- One view for the morning meeting: (section, item, value) rows.
CREATE VIEW dashboard AS
SELECT section, item, value FROM (
    SELECT 1 AS part, 'ERP orders by status' AS section, status AS item,
           count(*) || ' orders, ' || sum(total) || ' EUR' AS value
      FROM orders WHERE origin = 'erp' GROUP BY status
    UNION ALL
    SELECT 2, 'ERP revenue per day (not cancelled)', to_char(ordered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
           sum(total) || ' EUR from ' || count(*) || ' orders'
      FROM orders WHERE origin = 'erp' AND status <> 'CANCELLED' GROUP BY 3
    UNION ALL
    SELECT 3, 'ERP fulfilment', workflow, count(*) || ' orders'
      FROM orders WHERE origin = 'erp' AND status = 'CONFIRMED' GROUP BY workflow
    UNION ALL
    SELECT 4, 'CRM orders not in the ERP', 'CRM-' || c.source_id,
           c.status || ', ' || c.total || ' EUR, since ' || to_char(c.ordered_at AT TIME ZONE 'UTC', 'HH24:MI:SS')
      FROM orders c
     WHERE c.origin = 'crm' AND c.status <> 'draft' AND c.deleted_at IS NULL
       AND NOT EXISTS (SELECT FROM orders e WHERE e.origin = 'erp' AND e.crm_ref = 'CRM-' || c.source_id)
    UNION ALL
    SELECT 5, 'CRM drafts', CASE WHEN deleted_at IS NULL THEN 'open' ELSE 'abandoned (deleted in the CRM)' END,
           count(*) || ' drafts'
      FROM orders WHERE origin = 'crm' AND status = 'draft' GROUP BY 3
    UNION ALL
    SELECT 6, 'Shipments waiting for approval', a.ref,
           a.amount || ' EUR, order ' || coalesce(o.status || ' / ' || o.workflow, 'unknown')
             || ', waiting since ' || to_char(a.requested_at AT TIME ZONE 'UTC', 'HH24:MI:SS')
      FROM approvals a
      LEFT JOIN orders o ON o.origin = 'erp' AND o.order_no = a.ref
     WHERE a.kind = 'shipment' AND a.status = 'pending'
    UNION ALL
    SELECT 7, 'Low stock at MAIN (available < 20)', sku, (qty_on_hand - qty_reserved) || ' available'
      FROM inventory WHERE warehouse = 'MAIN' AND qty_on_hand - qty_reserved < 20
) d
ORDER BY part, item;
