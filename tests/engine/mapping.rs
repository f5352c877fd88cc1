//! Business mapping end to end (PostgreSQL → PostgreSQL): expressions,
//! filters, value maps, insert-only defaults, soft deletes, actions, key
//! crosswalks with lookups, dead letters and `sluice plan`.

use std::time::Duration;

use tokio_postgres::Client;

use super::support::{Fixture, wait_for};

const WAIT: Duration = Duration::from_secs(60);

/// Rows of `query` as text cells (NULL as "NULL"), for exact comparisons.
async fn rows(client: &Client, query: &str) -> Vec<Vec<String>> {
    client
        .query(query, &[])
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .iter()
        .map(|row| (0..row.len()).map(|i| row.get::<_, Option<String>>(i).unwrap_or_else(|| "NULL".into())).collect())
        .collect()
}

fn table(cells: &[&[&str]]) -> Vec<Vec<String>> {
    cells.iter().map(|row| row.iter().map(|c| (*c).to_owned()).collect()).collect()
}

/// Waits until `query` on the target returns `expected`.
async fn wait_rows(fixture: &Fixture, sluice: &mut super::support::Sluice, query: &str, expected: &[&[&str]]) {
    let expected = table(expected);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let last = rows(&fixture.target_client, query).await;
        if last == expected {
            return;
        }
        sluice.assert_running();
        if std::time::Instant::now() > deadline {
            panic!("target rows did not become {expected:?}; last {last:?}\n{}", sluice.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ORDERS: &str = "CREATE TABLE orders (id bigint PRIMARY KEY, status text NOT NULL, amount numeric(12,2) NOT NULL,
                          customer text, note text);
     CREATE TABLE sales (order_id bigint PRIMARY KEY, state text NOT NULL, amount_cents bigint NOT NULL,
                         customer text, origin text NOT NULL, workflow text NOT NULL, deleted_at timestamptz);";

const ORDER_ROUTE: &str = r#"
[maps.order_status]
[maps.order_status.values]
new = "PENDING"
paid = "CONFIRMED"

[[routes]]
name = "orders"
source = "src"
table = "public.orders"
target = "dst"
into = "public.sales"
other_columns = "ignore"
where = "status <> 'draft'"
[routes.columns]
order_id = "id"
state = "map(order_status, status)"
amount_cents = "CAST(amount * 100 AS bigint)"
customer = "upper(trim(customer))"
origin = "'crm'"
[routes.defaults]
workflow = "'NEW'"
"#;

const SALES: &str =
    "SELECT order_id::text, state, amount_cents::text, customer, origin, workflow FROM sales ORDER BY order_id";

#[tokio::test(flavor = "multi_thread")]
async fn expressions_filters_maps_and_insert_only_defaults_shape_the_target_rows() {
    let fixture = Fixture::new("map_expr", ORDERS).await;
    fixture.write_config(&[], ORDER_ROUTE);
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;
    source
        .batch_execute(
            "INSERT INTO orders VALUES (1, 'new', 10.50, '  acme ', 'x'), (2, 'draft', 5, 'beta', NULL),
                                       (3, 'paid', 7.25, NULL, NULL);",
        )
        .await
        .unwrap();
    wait_rows(
        &fixture,
        &mut sluice,
        SALES,
        &[&["1", "PENDING", "1050", "ACME", "crm", "NEW"], &["3", "CONFIRMED", "725", "NULL", "crm", "NEW"]],
    )
    .await;

    // The ERP moves its own workflow on; an update from the CRM must not reset it.
    fixture.target_client.batch_execute("UPDATE sales SET workflow = 'PICKED' WHERE order_id = 1").await.unwrap();
    source
        .batch_execute(
            "UPDATE orders SET status = 'paid', amount = 11 WHERE id = 1;
             UPDATE orders SET status = 'draft' WHERE id = 3;   -- leaves the filter: removed
             UPDATE orders SET status = 'new' WHERE id = 2;     -- enters the filter: written",
        )
        .await
        .unwrap();
    wait_rows(
        &fixture,
        &mut sluice,
        SALES,
        &[&["1", "CONFIRMED", "1100", "ACME", "crm", "PICKED"], &["2", "PENDING", "500", "BETA", "crm", "NEW"]],
    )
    .await;

    source.batch_execute("DELETE FROM orders WHERE id = 1; DELETE FROM orders WHERE id = 3;").await.unwrap();
    wait_rows(&fixture, &mut sluice, SALES, &[&["2", "PENDING", "500", "BETA", "crm", "NEW"]]).await;
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn soft_deletes_stamp_the_commit_time_and_a_reinserted_row_is_live_again() {
    let fixture = Fixture::new("map_soft", ORDERS).await;
    let config = ORDER_ROUTE.replace(
        "[routes.columns]",
        "deletes = \"soft\"\n[routes.soft_delete]\ndeleted_at = \"commit_time()\"\n[routes.columns]",
    );
    fixture.write_config(&[], &config);
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;
    source.batch_execute("INSERT INTO orders VALUES (1, 'new', 1, 'a', NULL), (2, 'new', 2, 'b', NULL)").await.unwrap();
    let live = "SELECT order_id::text, coalesce(deleted_at::text, 'live') FROM sales ORDER BY order_id";
    wait_rows(&fixture, &mut sluice, live, &[&["1", "live"], &["2", "live"]]).await;

    let before: String = source.query_one("SELECT now()::text", &[]).await.unwrap().get(0);
    source.batch_execute("DELETE FROM orders WHERE id = 1").await.unwrap();
    let deleted = "SELECT order_id::text, (deleted_at IS NOT NULL)::text FROM sales ORDER BY order_id";
    wait_rows(&fixture, &mut sluice, deleted, &[&["1", "true"], &["2", "false"]]).await;
    let stamped: bool = fixture
        .target_client
        .query_one(
            "SELECT deleted_at >= $1::text::timestamptz AND deleted_at <= now() FROM sales WHERE order_id = 1",
            &[&before],
        )
        .await
        .unwrap()
        .get(0);
    assert!(stamped, "deleted_at is the source transaction's commit time");
    let kept: String =
        fixture.target_client.query_one("SELECT state FROM sales WHERE order_id = 1", &[]).await.unwrap().get(0);
    assert_eq!(kept, "PENDING", "a soft delete keeps the row's other columns");

    // A row that leaves the filter is soft-deleted too; one inserted again is live.
    source
        .batch_execute(
            "UPDATE orders SET status = 'draft' WHERE id = 2; INSERT INTO orders VALUES (1, 'paid', 3, 'a', NULL)",
        )
        .await
        .unwrap();
    wait_rows(&fixture, &mut sluice, deleted, &[&["1", "false"], &["2", "true"]]).await;
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_fires_once_per_transition_into_approved_and_never_twice_for_one_request() {
    let fixture = Fixture::new(
        "map_action",
        "CREATE TABLE approvals (id bigint PRIMARY KEY, status text NOT NULL, order_ref text NOT NULL, memo text);
         CREATE TABLE shipments (request_no text PRIMARY KEY, order_ref text NOT NULL, requested_at timestamptz NOT NULL,
                                 state text NOT NULL DEFAULT 'open');",
    )
    .await;
    fixture.source_client.batch_execute("ALTER TABLE approvals REPLICA IDENTITY FULL").await.unwrap();
    fixture.write_config(
        &[],
        r#"
[[routes]]
name = "ship_on_approval"
source = "src"
table = "public.approvals"
target = "dst"
into = "public.shipments"
other_columns = "ignore"
key = ["request_no"]
when = "before.status IS DISTINCT FROM 'approved' AND after.status = 'approved'"
[routes.columns]
request_no = "'SHIP-' || id"
order_ref = "order_ref"
requested_at = "commit_time()"
"#,
    );
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;
    source
        .batch_execute(
            "INSERT INTO approvals VALUES (1, 'pending', 'SO-1', NULL), (2, 'approved', 'SO-2', NULL),
                                          (3, 'pending', 'SO-3', NULL);
             UPDATE approvals SET status = 'approved' WHERE id = 1;
             UPDATE approvals SET memo = 'noted' WHERE id = 1;          -- still approved: no new firing
             UPDATE approvals SET status = 'rejected' WHERE id = 3;",
        )
        .await
        .unwrap();
    let shipments = "SELECT request_no, order_ref, state FROM shipments ORDER BY request_no";
    wait_rows(&fixture, &mut sluice, shipments, &[&["SHIP-1", "SO-1", "open"], &["SHIP-2", "SO-2", "open"]]).await;

    // The warehouse works on SHIP-1; approving it again must not create or reset anything.
    fixture
        .target_client
        .batch_execute("UPDATE shipments SET state = 'picked' WHERE request_no = 'SHIP-1'")
        .await
        .unwrap();
    let first: String = fixture
        .target_client
        .query_one("SELECT requested_at::text FROM shipments WHERE request_no = 'SHIP-1'", &[])
        .await
        .unwrap()
        .get(0);
    source
        .batch_execute(
            "UPDATE approvals SET status = 'rejected' WHERE id = 1;
             UPDATE approvals SET status = 'approved', order_ref = 'SO-1b' WHERE id = 1;
             DELETE FROM approvals WHERE id = 2;                        -- actions never delete
             UPDATE approvals SET status = 'approved' WHERE id = 3;",
        )
        .await
        .unwrap();
    wait_rows(
        &fixture,
        &mut sluice,
        shipments,
        &[&["SHIP-1", "SO-1", "picked"], &["SHIP-2", "SO-2", "open"], &["SHIP-3", "SO-3", "open"]],
    )
    .await;
    let again: String = fixture
        .target_client
        .query_one("SELECT requested_at::text FROM shipments WHERE request_no = 'SHIP-1'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(first, again, "a second approval leaves the first request as it was");
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_action_needing_old_values_refuses_a_source_without_whole_old_rows() {
    let fixture = Fixture::new(
        "map_action_ident",
        "CREATE TABLE approvals (id bigint PRIMARY KEY, status text NOT NULL);
         CREATE TABLE shipments (request_no text PRIMARY KEY);",
    )
    .await;
    fixture.write_config(
        &[],
        r#"
[[routes]]
source = "src"
table = "public.approvals"
target = "dst"
into = "public.shipments"
other_columns = "ignore"
key = ["request_no"]
when = "before.status <> 'approved' AND after.status = 'approved'"
[routes.columns]
request_no = "'SHIP-' || id"
"#,
    );
    let output = fixture.command(&["check"]);
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("REPLICA IDENTITY FULL") && text.contains("status"), "the fix is named\n{text}");
}

const CRM: &str =
    "CREATE TABLE crm_orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(12,2) NOT NULL);
     CREATE TABLE crm_lines (order_id bigint NOT NULL, line_no int NOT NULL, sku text NOT NULL, qty int NOT NULL,
                             PRIMARY KEY (order_id, line_no));
     CREATE TABLE sales_orders (id bigint GENERATED ALWAYS AS IDENTITY (START WITH 5000) PRIMARY KEY,
                                customer text NOT NULL, total numeric(12,2) NOT NULL);
     CREATE TABLE sales_lines (sales_order_id bigint NOT NULL REFERENCES sales_orders (id), line_no int NOT NULL,
                               sku text NOT NULL, qty int NOT NULL, PRIMARY KEY (sales_order_id, line_no));";

const CRM_ROUTES: &str = r#"
[[routes]]
name = "crm_orders"
source = "src"
table = "public.crm_orders"
target = "dst"
into = "public.sales_orders"
[routes.crosswalk]
target_key = "id"

[[routes]]
name = "crm_lines"
source = "src"
table = "public.crm_lines"
target = "dst"
into = "public.sales_lines"
key = ["sales_order_id", "line_no"]
[routes.columns]
sales_order_id = "lookup('crm_orders', order_id)"
"#;

/// The ERP's lines joined back to CRM ids through the crosswalk, and the CRM's lines: equal when every line
/// landed under the right sales order.
const LINES_VIA_CROSSWALK: &str = "SELECT c.source_key || ':' || l.line_no || ':' || l.sku || ':' || l.qty
     FROM sales_lines l JOIN sluice.crosswalk c ON c.name = 'crm_orders' AND c.target_key = l.sales_order_id::text
     ORDER BY c.source_key::bigint, l.line_no";
const CRM_LINES: &str =
    "SELECT order_id || ':' || line_no || ':' || sku || ':' || qty FROM crm_lines ORDER BY order_id, line_no";

#[tokio::test(flavor = "multi_thread")]
async fn a_crosswalk_links_target_assigned_keys_and_survives_kill_9_without_duplicate_orders() {
    let fixture = Fixture::new("map_xwalk", CRM).await;
    fixture.write_config(&[], CRM_ROUTES);
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;
    for batch in 0..4 {
        let mut sql = String::from("BEGIN;");
        for i in 1..=50 {
            let id = batch * 50 + i;
            sql.push_str(&format!(
                "INSERT INTO crm_orders VALUES ({id}, 'customer {id}', {id}.50);
                 INSERT INTO crm_lines VALUES ({id}, 1, 'SKU-A', {id}), ({id}, 2, 'SKU-B', 1);"
            ));
        }
        sql.push_str("COMMIT;");
        source.batch_execute(&sql).await.unwrap();
        if batch == 1 {
            // A crash between inserts: the restart must not insert any order twice.
            sluice.kill9();
            sluice = fixture.spawn();
        }
    }
    source
        .batch_execute(
            "UPDATE crm_orders SET total = 1 WHERE id % 10 = 0;
             UPDATE crm_lines SET qty = qty + 100 WHERE order_id % 7 = 0 AND line_no = 1;
             DELETE FROM crm_lines WHERE order_id % 25 = 0;
             DELETE FROM crm_orders WHERE id % 25 = 0;",
        )
        .await
        .unwrap();
    let target = &fixture.target_client;
    wait_for(WAIT, &mut sluice, || async { rows(target, LINES_VIA_CROSSWALK).await == rows(source, CRM_LINES).await })
        .await;
    let orders = "SELECT count(*)::text, sum(total)::text FROM sales_orders";
    assert_eq!(
        rows(target, orders).await,
        rows(source, "SELECT count(*)::text, sum(total)::text FROM crm_orders").await
    );
    let assigned: Vec<Vec<String>> =
        rows(target, "SELECT min(id)::text, count(DISTINCT id)::text FROM sales_orders").await;
    assert!(assigned[0][0].parse::<i64>().unwrap() >= 5000, "keys come from the target's identity");
    let pairs: i64 =
        target.query_one("SELECT count(*) FROM sluice.crosswalk WHERE name = 'crm_orders'", &[]).await.unwrap().get(0);
    assert_eq!(pairs, 200, "one crosswalk entry per CRM order ever inserted (deleted ones keep theirs)");

    let shown =
        fixture.command(&["crosswalk", "show", "--route", "crm_orders", "--source-key", "7", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&shown.stdout);
    let expected: String = target
        .query_one("SELECT target_key FROM sluice.crosswalk WHERE name = 'crm_orders' AND source_key = '7'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        shown.status.success() && csv.lines().nth(1).is_some_and(|l| l.starts_with(&format!("7,{expected},"))),
        "{csv}"
    );
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_hold_refused_rows_while_the_rest_flows_and_retry_applies_them_in_order() {
    let fixture = Fixture::new("map_dlq", ORDERS).await;
    fixture
        .target_client
        .batch_execute("ALTER TABLE sales ADD CONSTRAINT positive CHECK (amount_cents >= 0)")
        .await
        .unwrap();
    // The table starts empty: no snapshot, so the dead letters are exactly the stream's.
    let config =
        ORDER_ROUTE.replace("where = \"status <> 'draft'\"", "on_error = \"dead_letter\"\nsnapshot = \"never\"");
    fixture.write_config(&[], &config);
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;
    source
        .batch_execute(
            "INSERT INTO orders VALUES (1, 'new', 1, 'a', NULL), (2, 'new', -5, 'refused by the target', NULL),
                                       (3, 'weird', 3, 'not in the map', NULL), (4, 'paid', 4, 'd', NULL);
             UPDATE orders SET customer = 'b' WHERE id = 2;   -- waits behind its dead letter
             UPDATE orders SET amount = 40 WHERE id = 4;",
        )
        .await
        .unwrap();
    wait_rows(
        &fixture,
        &mut sluice,
        SALES,
        &[&["1", "PENDING", "100", "A", "crm", "NEW"], &["4", "CONFIRMED", "4000", "D", "crm", "NEW"]],
    )
    .await;
    let listed = fixture.command(&["dlq", "list", "--json"]);
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json lines"))
        .collect();
    let summary: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e["source_key"].as_str().unwrap().to_owned(), e["error"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert!(summary[0].0 == "2" && summary[0].1.contains("positive"), "{summary:?}");
    assert!(summary[1].0 == "2" && summary[1].1.contains("waits behind"), "{summary:?}");
    assert!(summary[2].0 == "3" && summary[2].1.contains("order_status"), "{summary:?}");
    let log = sluice.log().to_lowercase();
    assert!(
        !log.contains("refused by the target") && !log.contains("failing row"),
        "row values never appear in logs\n{log}"
    );
    for (_, error) in &summary {
        assert!(!error.to_lowercase().contains("refused by the target"), "nor in recorded errors: {error}");
    }

    // The DBA fixes the target; the retry goes through the running engine.
    fixture.target_client.batch_execute("ALTER TABLE sales DROP CONSTRAINT positive").await.unwrap();
    let retried = fixture.command(&["dlq", "retry", "--route", "orders"]);
    let text = String::from_utf8_lossy(&retried.stdout).to_string() + &String::from_utf8_lossy(&retried.stderr);
    assert!(text.contains("2 dead letter(s) applied, 1 remaining"), "{text}");
    wait_rows(
        &fixture,
        &mut sluice,
        SALES,
        &[
            &["1", "PENDING", "100", "A", "crm", "NEW"],
            &["2", "PENDING", "-500", "B", "crm", "NEW"],
            &["4", "CONFIRMED", "4000", "D", "crm", "NEW"],
        ],
    )
    .await;
    // Row 2 flows normally again.
    source.batch_execute("UPDATE orders SET customer = 'c' WHERE id = 2").await.unwrap();
    wait_rows(&fixture, &mut sluice, "SELECT customer FROM sales WHERE order_id = 2", &[&["C"]]).await;
    assert_eq!(sluice.terminate(), Some(0));

    // The map gains the missing status; retry without an engine, then drop nothing is left.
    let fixed = config.replace("paid = \"CONFIRMED\"", "paid = \"CONFIRMED\"\nweird = \"REVIEW\"");
    fixture.write_config(&[], &fixed);
    let retried = fixture.command(&["dlq", "retry", "--route", "orders", "--source-key", "3"]);
    assert!(retried.status.success(), "{}", String::from_utf8_lossy(&retried.stderr));
    let state: String =
        fixture.target_client.query_one("SELECT state FROM sales WHERE order_id = 3", &[]).await.unwrap().get(0);
    assert_eq!(state, "REVIEW");
    let listed = fixture.command(&["dlq", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no dead letters"));

    // A change nobody wants applied is dropped, through the running engine.
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    source.batch_execute("INSERT INTO orders VALUES (5, 'odd', 5, 'e', NULL)").await.unwrap();
    wait_for(WAIT, &mut sluice, || async {
        String::from_utf8_lossy(&fixture.command(&["dlq", "list", "--json"]).stdout).lines().count() == 1
    })
    .await;
    let dropped = fixture.command(&["dlq", "drop", "--route", "orders", "--source-key", "5", "--yes"]);
    let text = String::from_utf8_lossy(&dropped.stdout).to_string() + &String::from_utf8_lossy(&dropped.stderr);
    assert!(dropped.status.success() && text.contains("1 dead letter(s) dropped, 0 remaining"), "{text}");
    let listed = fixture.command(&["dlq", "list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("no dead letters"));
    // The row no longer waits: its next change applies (its status is mapped now).
    source.batch_execute("UPDATE orders SET status = 'paid' WHERE id = 5").await.unwrap();
    wait_rows(&fixture, &mut sluice, "SELECT state FROM sales WHERE order_id = 5", &[&["CONFIRMED"]]).await;
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_what_sample_rows_become_and_writes_nothing() {
    let fixture = Fixture::new("map_plan", ORDERS).await;
    fixture
        .source_client
        .batch_execute(
            "INSERT INTO orders VALUES (1, 'new', 1.5, 'a', NULL), (2, 'draft', 2, 'b', NULL),
                                       (3, 'weird', 3, 'c', NULL), (4, 'paid', -4, 'd', NULL);",
        )
        .await
        .unwrap();
    fixture
        .target_client
        .batch_execute("ALTER TABLE sales ADD CONSTRAINT positive CHECK (amount_cents >= 0)")
        .await
        .unwrap();
    fixture.write_config(&[], &ORDER_ROUTE.replace("[routes.columns]", "on_error = \"dead_letter\"\n[routes.columns]"));
    let output = fixture.command(&["plan", "--sample", "10"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "problems found: exit 1\n{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("#1") && l.contains("state = \"PENDING\"") && l.contains("amount_cents = \"150\"")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.contains("#2") && l.contains("filtered out")), "{text}");
    assert!(
        lines.iter().any(|l| l.contains("#3") && l.contains("DEAD LETTER") && l.contains("order_status")),
        "{text}"
    );
    assert!(text.contains("REFUSED by the target") && text.contains("positive"), "{text}");
    let written: i64 = fixture.target_client.query_one("SELECT count(*) FROM sales", &[]).await.unwrap().get(0);
    assert_eq!(written, 0, "plan writes nothing");
    let created: bool =
        fixture.target_client.query_one("SELECT to_regnamespace('sluice') IS NOT NULL", &[]).await.unwrap().get(0);
    assert!(!created, "plan creates nothing in the target, not even the offsets table");
}

#[tokio::test(flavor = "multi_thread")]
async fn expression_mistakes_are_config_errors_naming_the_route_and_the_problem() {
    let fixture = Fixture::new("map_errors", ORDERS).await;
    fixture.write_config(&[], &ORDER_ROUTE.replace("upper(trim(customer))", "uppper(customer)"));
    let output = fixture.command(&["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("columns.customer") && stderr.contains("uppper"), "{stderr}");

    fixture.write_config(&[], &ORDER_ROUTE.replace("upper(trim(customer))", "upper(custmer)"));
    let output = fixture.command(&["check"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("route orders") && text.contains("custmer"), "{text}");

    // `run` refuses at start, before any change of the table arrives.
    let config = ORDER_ROUTE
        .replace("upper(trim(customer))", "upper(custmer)")
        .replace("[routes.columns]", "snapshot = \"never\"\n[routes.columns]");
    fixture.write_config(&[], &config);
    let mut sluice = fixture.spawn();
    assert_eq!(
        sluice.wait_exit(WAIT),
        Some(3),
        "a mapping that cannot work is a prerequisite error\n{}",
        sluice.log_tail()
    );
    assert!(sluice.log().contains("custmer"), "{}", sluice.log_tail());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sources_tables_merge_into_one_target_table_by_a_tag_column_and_a_truncate_of_one_is_refused() {
    let fixture = Fixture::new(
        "map_merge",
        "CREATE TABLE crm_customers (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE shop_customers (id int PRIMARY KEY, name text NOT NULL);
         CREATE TABLE customers (origin text NOT NULL, id int NOT NULL, name text NOT NULL, PRIMARY KEY (origin, id));",
    )
    .await;
    let route = |name: &str, tag: &str| {
        format!(
            "[[routes]]\nname = \"{name}\"\nsource = \"src\"\ntable = \"public.{name}\"\ntarget = \"dst\"\n\
             into = \"public.customers\"\nkey = [\"origin\", \"id\"]\n[routes.columns]\norigin = \"'{tag}'\"\n"
        )
    };
    fixture.write_config(&[], &(route("crm_customers", "crm") + &route("shop_customers", "shop")));
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    let source = &fixture.source_client;
    source
        .batch_execute(
            "INSERT INTO crm_customers VALUES (1, 'Ann'), (2, 'Bo');
             INSERT INTO shop_customers VALUES (1, 'Cy');
             DELETE FROM crm_customers WHERE id = 2;",
        )
        .await
        .unwrap();
    let all = "SELECT origin, id::text, name FROM customers ORDER BY origin, id";
    wait_rows(&fixture, &mut sluice, all, &[&["crm", "1", "Ann"], &["shop", "1", "Cy"]]).await;
    source.batch_execute("TRUNCATE shop_customers").await.unwrap();
    assert_eq!(sluice.wait_exit(WAIT), Some(1), "{}", sluice.log_tail());
    let log = sluice.log();
    assert!(log.contains("TRUNCATE") && log.contains("other routes write into the same table"), "{log}");
    assert_eq!(
        rows(&fixture.target_client, all).await,
        table(&[&["crm", "1", "Ann"], &["shop", "1", "Cy"]]),
        "the other source's rows are untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_initial_snapshot_copies_crosswalk_routes_before_the_routes_that_look_them_up() {
    let fixture = Fixture::new("map_xwalk_snap", CRM).await;
    let source = &fixture.source_client;
    // Existing rows; the lines' route comes first in the config, so only the
    // lookup order makes the lines find their orders.
    source
        .batch_execute(
            "INSERT INTO crm_orders SELECT i, 'customer ' || i, i FROM generate_series(1, 300) i;
             INSERT INTO crm_lines SELECT i, l, 'SKU-' || l, i * l FROM generate_series(1, 300) i, generate_series(1, 3) l;",
        )
        .await
        .unwrap();
    // Small chunks: many chunks per table, several in flight at once.
    let (orders, lines) = CRM_ROUTES.split_at(CRM_ROUTES.find("[[routes]]\nname = \"crm_lines\"").unwrap());
    fixture.write_config(&[], &format!("[snapshot]\nchunk_rows = 50\nworkers = 3\n{lines}\n{orders}"));
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    source
        .batch_execute(
            "INSERT INTO crm_orders VALUES (301, 'late', 1); INSERT INTO crm_lines VALUES (301, 1, 'SKU-1', 1);",
        )
        .await
        .unwrap();
    let target = &fixture.target_client;
    wait_for(WAIT, &mut sluice, || async { rows(target, LINES_VIA_CROSSWALK).await == rows(source, CRM_LINES).await })
        .await;
    assert_eq!(
        rows(target, "SELECT count(*)::text FROM sales_orders").await,
        table(&[&["301"]]),
        "one sales order per CRM order"
    );
    assert_eq!(sluice.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_of_a_row_still_being_copied_waits_for_the_snapshot_instead_of_failing() {
    let fixture = Fixture::new("map_xwalk_early", CRM).await;
    let source = &fixture.source_client;
    source
        .batch_execute("INSERT INTO crm_orders SELECT i, 'customer ' || i, i FROM generate_series(1, 20000) i")
        .await
        .unwrap();
    fixture.write_config(&[], &format!("[snapshot]\nchunk_rows = 1000\nworkers = 2\n{CRM_ROUTES}"));
    let mut sluice = fixture.spawn();
    fixture.wait_streaming(&mut sluice).await;
    // Lines of orders the snapshot has not copied yet, streamed while it runs.
    source
        .batch_execute(
            "INSERT INTO crm_lines VALUES (20000, 1, 'SKU-LAST', 1), (19999, 1, 'SKU-X', 2);
             UPDATE crm_lines SET qty = 3 WHERE order_id = 19999;",
        )
        .await
        .unwrap();
    let target = &fixture.target_client;
    wait_for(Duration::from_secs(120), &mut sluice, || async {
        rows(target, LINES_VIA_CROSSWALK).await == rows(source, CRM_LINES).await
            && rows(target, "SELECT count(*)::text FROM sales_orders").await == table(&[&["20000"]])
    })
    .await;
    assert_eq!(sluice.terminate(), Some(0));
}
