//! Business mapping with MariaDB on both sides: a crosswalk whose keys come
//! from AUTO_INCREMENT (`INSERT … RETURNING`), lookups, a value map, a
//! filter, and dead letters the target refuses — through `kill -9`.

use mysql_async::prelude::Queryable;
use sluice_testkit::MariaDbServer;

use super::mysql_support::{Target, maria_rows, mysql_source, wait_binlog_streaming, wait_until, write_config};
use super::support::{SLUICE, Sluice};

const SCHEMA: &str = "
    CREATE TABLE orders (id INT PRIMARY KEY, status VARCHAR(10) NOT NULL, total DECIMAL(12,2) NOT NULL);
    CREATE TABLE order_lines (order_id INT NOT NULL, line_no INT NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, line_no));
    CREATE TABLE erp_orders (no BIGINT AUTO_INCREMENT PRIMARY KEY, state VARCHAR(10) NOT NULL,
                             total DECIMAL(12,2) NOT NULL CHECK (total < 1000)) AUTO_INCREMENT = 9000;
    CREATE TABLE erp_lines (order_no BIGINT NOT NULL, line_no INT NOT NULL, qty INT NOT NULL,
                            PRIMARY KEY (order_no, line_no));";

#[tokio::test(flavor = "multi_thread")]
async fn a_mariadb_crosswalk_takes_auto_increment_keys_and_dead_letters_what_the_target_refuses() {
    let server = MariaDbServer::shared();
    let db = server.create_database("map_maria").await;
    let mut conn = db.connect().await;
    conn.query_drop(SCHEMA).await.unwrap();
    let name = &db.name;
    let target = format!(
        "[targets.dst]\nkind = \"mysql\"\nurl = \"{}\"\noffsets_table = \"{name}.sluice_offsets\"\n\
         crosswalk_table = \"{name}.sluice_crosswalk\"\ndead_letter_table = \"{name}.sluice_dead_letters\"\n",
        db.url()
    );
    let routes = format!(
        r#"
[maps.state]
[maps.state.values]
new = "OPEN"
paid = "PAID"

[[routes]]
name = "orders"
source = "src"
table = "{name}.orders"
target = "dst"
into = "{name}.erp_orders"
where = "status <> 'draft'"
on_error = "dead_letter"
other_columns = "ignore"
[routes.columns]
state = "map(state, status)"
total = "total"
[routes.crosswalk]
target_key = "no"

[[routes]]
name = "lines"
source = "src"
table = "{name}.order_lines"
target = "dst"
into = "{name}.erp_lines"
key = ["order_no", "line_no"]
on_error = "dead_letter"
[routes.columns]
order_no = "lookup('orders', order_id)"
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &mysql_source(&db), &target, &routes);
    let mut sluice = Sluice::spawn(&config, dir.path());
    wait_binlog_streaming(&mut sluice, Target::Maria(&db)).await;
    for batch in 0..4 {
        let mut sql = String::from("START TRANSACTION;");
        for i in 1..=25 {
            let id = batch * 25 + i;
            if id % 10 == 0 {
                sql.push_str(&format!("INSERT INTO orders VALUES ({id}, 'draft', {id});"));
            } else {
                sql.push_str(&format!(
                    "INSERT INTO orders VALUES ({id}, 'new', {id}); INSERT INTO order_lines VALUES ({id}, 1, {id}), ({id}, 2, 1);"
                ));
            }
        }
        sql.push_str("COMMIT;");
        conn.query_drop(sql).await.unwrap();
        if batch == 1 {
            sluice.kill9();
            sluice = Sluice::spawn(&config, dir.path());
        }
    }
    conn.query_drop(
        "UPDATE orders SET status = 'paid' WHERE id % 3 = 0;
         UPDATE orders SET total = 5000 WHERE id = 7;             -- the target's CHECK refuses it
         UPDATE orders SET status = 'draft' WHERE id = 9;         -- leaves the filter
         INSERT INTO orders VALUES (500, 'new', 1);",
    )
    .await
    .unwrap();

    // Every non-draft order once in the ERP with its mapped state (order 7 keeps its
    // total: the refused update waits in the dead letters); its lines under its
    // assigned number (order 9's stay: the crosswalk keeps its entry).
    let expected_orders = maria_rows(
        &mut conn,
        "SELECT CASE status WHEN 'paid' THEN 'PAID' ELSE 'OPEN' END,
                CASE WHEN id = 7 THEN '7.00' ELSE CAST(total AS CHAR) END
         FROM orders WHERE status <> 'draft'",
    )
    .await;
    let expected_lines = maria_rows(&mut conn, "SELECT order_id, line_no, qty FROM order_lines").await;
    let crosswalked = "SELECT c.source_key, l.line_no, l.qty FROM erp_lines l
         JOIN sluice_crosswalk c ON c.name = 'orders' AND c.target_key = CAST(l.order_no AS CHAR)";
    wait_until(&mut sluice, "the ERP tables equal the CRM's", || {
        let db = &db;
        let (expected_orders, expected_lines) = (&expected_orders, &expected_lines);
        async move {
            let mut conn = db.connect().await;
            let orders = maria_rows(&mut conn, "SELECT state, CAST(total AS CHAR) FROM erp_orders").await;
            orders == *expected_orders && maria_rows(&mut conn, crosswalked).await == *expected_lines
        }
    })
    .await;
    let numbers = maria_rows(&mut conn, "SELECT COUNT(*), MIN(no) >= 9000 FROM erp_orders").await;
    let sources = maria_rows(&mut conn, "SELECT COUNT(*) FROM orders WHERE status <> 'draft'").await;
    assert_eq!((numbers[0][0].as_str(), numbers[0][1].as_str()), (sources[0][0].as_str(), "1"), "no order twice");

    let listed =
        std::process::Command::new(SLUICE).args(["dlq", "list", "--json", "-c"]).arg(&config).output().unwrap();
    let entries: Vec<serde_json::Value> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!((entries[0]["route"].as_str(), entries[0]["source_key"].as_str()), (Some("orders"), Some("7")));
    assert!(entries[0]["error"].as_str().unwrap().contains("CHECK constraint"), "{entries:?}");
    assert_eq!(sluice.terminate(), Some(0));
}
