//! Routes resolve table names the way the server does
//! (`lower_case_table_names`): on a server with 1, a route `DB.Orders`
//! follows the binlog's `db.orders` (changes, a DDL in yet another case,
//! TRUNCATE), and `sluice check`, the source and target descriptions and the
//! sink all find the table by the route's spelling; with 0 (the shared
//! server, Linux default) `Orders` and `orders` are different tables.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use sluice_api::{Operation, RowWrite, Severity, TargetTable, Value};
use sluice_mysql::{MySqlSink, MySqlSinkConfig, check_source, describe_source_table, describe_target_table};
use sluice_testkit::{MARIADB_PASSWORD, MARIADB_USER, MariaDbOptions, MariaDbServer};

use super::*;

#[test]
fn a_case_insensitive_server_matches_routes_in_any_case() {
    let server = MariaDbServer::start_with(MariaDbOptions::new().setting("lower_case_table_names", "1"));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let database = server.create_database("src_lctn").await;
        execute(&database, "CREATE TABLE Orders (id INT PRIMARY KEY, v VARCHAR(10))").await;
        // The route spells both names otherwise than the server stores them (`db`.`orders`).
        let route = TableName::new(database.name.to_uppercase(), "Orders");
        let mut config = MySqlSourceConfig::new(database.url(), server_id(), vec![route.clone()]);
        config.heartbeat = Duration::from_secs(1);
        let mut stream = start(config, None).await;
        execute(
            &database,
            "INSERT INTO orders VALUES (1, 'a');
             ALTER TABLE ORDERS ADD COLUMN w INT;
             INSERT INTO oRdErS VALUES (2, 'b', 7);
             TRUNCATE TABLE Orders;",
        )
        .await;
        let insert = next_transaction(&mut stream).await;
        assert_eq!(insert.changes.len(), 1);
        assert_eq!(insert.changes[0].table.name, route, "changes carry the route's spelling");
        assert_eq!(insert.changes[0].after, Some(vec![Value::Int(1), Value::Text("a".into())]));
        let after_ddl = next_transaction(&mut stream).await;
        assert_eq!(after_ddl.changes[0].table.name, route);
        assert_eq!(after_ddl.changes[0].table.columns.len(), 3, "the DDL in another case refreshed the table");
        assert_eq!(after_ddl.changes[0].after, Some(vec![Value::Int(2), Value::Text("b".into()), Value::Int(7)]));
        let truncate = next_transaction(&mut stream).await;
        assert_eq!(truncate.changes[0].operation, Operation::Truncate);
        assert_eq!(truncate.changes[0].table.name, route);
        stream.task.abort();

        // Descriptions and checks find the table by the route's spelling.
        let mut conn = database.connect().await;
        let described = describe_source_table(&mut conn, &route).await.unwrap().expect("the source table");
        assert_eq!(described.name, route);
        assert_eq!(described.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id", "v", "w"]);
        let url = server.url_as(MARIADB_USER, MARIADB_PASSWORD, "");
        let findings = check_source(&url, 70101, std::slice::from_ref(&route), None).await;
        let table = findings.iter().find(|f| f.subject == format!("table {route}")).expect("a table finding");
        assert_eq!(table.severity, Severity::Ok, "{findings:#?}");
        let target = describe_target_table(&database.url(), &route).await.unwrap().expect("the target table");
        assert_eq!(target.primary_key, ["id"]);

        // The sink writes into it by the route's spelling too.
        let mut sink = MySqlSink::connect(MySqlSinkConfig::new(database.url())).await.unwrap();
        let table = Arc::new(TargetTable {
            schema: route.schema.clone(),
            name: route.name.clone(),
            columns: vec!["id".into(), "v".into(), "w".into()],
            key: vec![0],
            insert_only: vec![],
        });
        let write = RowWrite::Upsert { table, values: vec![Value::Int(3), Value::Text("c".into()), Value::Int(9)] };
        sink.write(vec![write]).await.unwrap();
        let position = Position::Binlog(BinlogPosition { file: "mysql-bin.000001".into(), offset: 4, gtid: None });
        sink.commit("lctn", &position).await.unwrap();
        let row: Option<(i64, String, i64)> = conn.query_first("SELECT id, v, w FROM orders").await.unwrap();
        assert_eq!(row, Some((3, "c".into(), 9)));
    });
}

#[tokio::test]
async fn a_case_sensitive_server_routes_only_the_exact_name() {
    let database = MariaDbServer::shared().create_database("src_case").await;
    execute(&database, "CREATE TABLE orders (id INT PRIMARY KEY); CREATE TABLE Orders (id INT PRIMARY KEY)").await;
    let mut stream = start(config(&database, &["Orders"]), None).await;
    execute(&database, "INSERT INTO orders VALUES (1); INSERT INTO Orders VALUES (2);").await;
    let received = next_transaction(&mut stream).await;
    assert_eq!(received.changes.len(), 1);
    assert_eq!(received.changes[0].table.name, TableName::new(database.name.clone(), "Orders"));
    assert_eq!(received.changes[0].after, Some(vec![Value::Int(2)]));
    let mut conn = database.connect().await;
    let lower = TableName::new(database.name.clone(), "ORDERS");
    assert!(describe_source_table(&mut conn, &lower).await.unwrap().is_none(), "no table ORDERS here");
}
