-- CRM (MariaDB, database `crm`): the sales team's system.
-- Customers, products and orders are the CRM's own; product_stock is fed by
-- Sluice from the ERP's inventory (main warehouse), so sales sees what is
-- available.

CREATE TABLE customers (
    id          INT AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    email       VARCHAR(120),
    city        VARCHAR(60),
    created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

CREATE TABLE products (
    sku         VARCHAR(20) PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    list_price  DECIMAL(10,2) NOT NULL
) ENGINE = InnoDB;

-- status: draft (being prepared; not sent to the ERP), new, paid, cancelled.
-- A draft is a header only: the CRM adds the lines when the order is
-- submitted (status draft -> new); abandoned drafts are deleted.
CREATE TABLE orders (
    id          INT AUTO_INCREMENT PRIMARY KEY,
    customer_id INT NOT NULL,
    status      VARCHAR(20) NOT NULL,
    total       DECIMAL(12,2) NOT NULL DEFAULT 0,
    created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  TIMESTAMP(6) NULL,           -- set by the CRM on every change
    CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE = InnoDB;

-- No ON DELETE CASCADE: InnoDB's cascaded deletes are not written to the
-- binlog as row events, so a replica (or Sluice) would never see them. The
-- CRM deletes lines explicitly.
CREATE TABLE order_lines (
    order_id    INT NOT NULL,
    line_no     INT NOT NULL,
    sku         VARCHAR(20) NOT NULL,
    qty         INT NOT NULL,
    unit_price  DECIMAL(10,2) NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_lines_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE = InnoDB;

-- Written by Sluice (route stock_to_crm): the ERP's main-warehouse stock.
CREATE TABLE product_stock (
    sku         VARCHAR(20) PRIMARY KEY,
    on_hand     INT NOT NULL,
    reserved    INT NOT NULL,
    available   INT NOT NULL,
    updated_at  TIMESTAMP(6) NULL
) ENGINE = InnoDB;
