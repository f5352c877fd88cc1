-- Web shop (MariaDB, database `shop`): what the shop shows as available.
-- Written by Sluice (route stock_to_shop) from the ERP's main warehouse.

CREATE TABLE stock (
    sku         VARCHAR(20) PRIMARY KEY,
    available   INT NOT NULL,
    in_stock    TINYINT(1) NOT NULL,
    updated_at  TIMESTAMP(6) NULL
) ENGINE = InnoDB;
