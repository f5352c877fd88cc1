//! `make demo`: Sluice replicating a small ERP into a reporting database,
//! on two private PostgreSQL servers this program starts itself.
//!
//! It creates an ERP-like schema (customers, products, inventory, sales
//! orders and lines) in one server and the reporting tables in the other,
//! writes a `sluice.toml`, starts `sluice run`, and lets a generator write
//! orders, stock movements, status changes and cancellations while it prints,
//! every second, the rows arriving and the lag. At the end it stops the
//! generator, waits for Sluice to catch up, compares every table row for row
//! and stops Sluice with SIGTERM.
//!
//! `DEMO_SECONDS` (default 20) sets how long the generator writes;
//! `SLUICE_BIN` the sluice binary (default: target/release/sluice).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sluice_testkit::PgServer;
use tokio_postgres::Client;

const ERP_SCHEMA: &str = "
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, price numeric(12,2) NOT NULL);
CREATE TABLE inventory (sku text PRIMARY KEY REFERENCES products, warehouse text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE sales_orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers, status text NOT NULL,
                           total numeric(14,2) NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE sales_order_lines (order_id bigint NOT NULL REFERENCES sales_orders ON DELETE CASCADE, line_no int NOT NULL,
                                sku text NOT NULL REFERENCES products, qty int NOT NULL, price numeric(12,2) NOT NULL,
                                PRIMARY KEY (order_id, line_no));
";

const REPORT_SCHEMA: &str = "
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text, created_at timestamptz NOT NULL);
CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, price numeric(12,2) NOT NULL);
CREATE TABLE stock (sku text PRIMARY KEY, warehouse text NOT NULL, qty_on_hand integer NOT NULL, updated_at timestamptz NOT NULL,
                    loaded_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL, total numeric(14,2) NOT NULL,
                     note text, created_at timestamptz NOT NULL);
CREATE TABLE order_lines (order_id bigint NOT NULL, line_no int NOT NULL, sku text NOT NULL, qty int NOT NULL,
                          price numeric(12,2) NOT NULL, PRIMARY KEY (order_id, line_no));
";

/// (source table, its columns, target table, its columns) compared row for row.
const COMPARED: &[(&str, &str, &str, &str)] = &[
    ("customers", "id, name, city, created_at", "customers", "id, name, city, created_at"),
    ("products", "sku, name, price", "products", "sku, name, price"),
    ("inventory", "sku, warehouse, qty, updated_at", "stock", "sku, warehouse, qty_on_hand, updated_at"),
    (
        "sales_orders",
        "id, customer_id, status, total, note, created_at",
        "orders",
        "id, customer_id, status, total, note, created_at",
    ),
    ("sales_order_lines", "order_id, line_no, sku, qty, price", "order_lines", "order_id, line_no, sku, qty, price"),
];

fn config(erp_url: &str, report_url: &str, state: &str) -> String {
    format!(
        r#"# Written by `make demo`.
[checkpoints]
path = "{state}"

[sources.erp]
kind = "postgres"
url = "{erp_url}"

[targets.report]
kind = "postgres"
url = "{report_url}"

[[routes]]
source = "erp"
table = "public.customers"
target = "report"

[[routes]]
source = "erp"
table = "public.products"
target = "report"

[[routes]]
name = "stock"
source = "erp"
table = "public.inventory"
target = "report"
into = "public.stock"
[routes.columns]
qty_on_hand = "qty"

[[routes]]
source = "erp"
table = "public.sales_orders"
target = "report"
into = "public.orders"

[[routes]]
source = "erp"
table = "public.sales_order_lines"
target = "report"
into = "public.order_lines"
"#
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let seconds: u64 = std::env::var("DEMO_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let sluice_bin =
        std::env::var("SLUICE_BIN").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target/release/sluice"));
    if !sluice_bin.exists() {
        bail!("{} not found; run `cargo build --release` first (make demo does)", sluice_bin.display());
    }

    println!("== starting two private PostgreSQL servers (ERP and reporting)");
    let erp_server = PgServer::start();
    let report_server = PgServer::start();
    let erp = erp_server.create_database("erp").await;
    let report = report_server.create_database("report").await;
    let erp_client = erp.connect().await;
    let report_client = report.connect().await;
    erp_client.batch_execute(ERP_SCHEMA).await.context("creating the ERP schema")?;
    report_client.batch_execute(REPORT_SCHEMA).await.context("creating the reporting schema")?;
    println!("   ERP       {}", erp.url());
    println!("   reporting {}", report.url());

    let work = PathBuf::from(".demo");
    std::fs::create_dir_all(&work)?;
    let state = std::fs::canonicalize(&work)?.join("sluice-state");
    let _ = std::fs::remove_dir_all(&state);
    let config_path = work.join("sluice.toml");
    std::fs::write(&config_path, config(&erp.url(), &report.url(), &state.display().to_string()))?;
    println!("== config written to {}", config_path.display());

    println!("== sluice check");
    let check = Command::new(&sluice_bin).args(["check", "-c"]).arg(&config_path).status()?;
    if !check.success() {
        bail!("sluice check failed");
    }

    println!("== starting sluice run (log: .demo/sluice.log)");
    let log = std::fs::File::create(work.join("sluice.log"))?;
    let mut sluice = Running(
        Command::new(&sluice_bin)
            .args(["run", "-c"])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting sluice")?,
    );
    wait_for_slot(&erp_client, &mut sluice).await?;

    println!("== generator writing for {seconds} s: new customers, orders with lines, stock moves, status changes");
    let generator = tokio::spawn(generate(erp.connect().await, Duration::from_secs(seconds)));
    let started = Instant::now();
    while !generator.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        print_progress(&erp_client, &report_client, started).await?;
    }
    let written = generator.await??;
    println!("== generator done: {written} transactions; waiting for sluice to catch up");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if tables_equal(&erp_client, &report_client).await? {
            break;
        }
        if Instant::now() > deadline {
            bail!("sluice did not catch up within 60 s; see .demo/sluice.log");
        }
        if let Some(status) = sluice.try_wait()? {
            bail!("sluice exited with {status}; see .demo/sluice.log");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    print_progress(&erp_client, &report_client, started).await?;

    println!("== comparing every table row for row");
    let mut all_equal = true;
    for (source, source_columns, target, target_columns) in COMPARED {
        let (source_rows, source_digest) = digest(&erp_client, source, source_columns).await?;
        let (target_rows, target_digest) = digest(&report_client, target, target_columns).await?;
        let equal = source_rows == target_rows && source_digest == target_digest;
        all_equal &= equal;
        println!(
            "   {source:<18} {source_rows:>7} rows -> {target:<12} {target_rows:>7} rows  {}",
            if equal { "equal" } else { "DIFFERENT" }
        );
    }

    println!("== sluice status");
    let _ = Command::new(&sluice_bin).args(["status", "-c"]).arg(&config_path).status();

    println!("== stopping sluice (SIGTERM)");
    let stopped = Command::new("kill").args(["-TERM", &sluice.id().to_string()]).status()?;
    if !stopped.success() {
        bail!("could not signal sluice");
    }
    let status = sluice.wait()?;
    println!("   sluice exited with {status}");
    if !all_equal || !status.success() {
        bail!("demo failed");
    }
    println!("== demo complete: the reporting database equals the ERP");
    Ok(())
}

/// The sluice child process; killed if the demo fails before stopping it.
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

async fn wait_for_slot(client: &Client, sluice: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = client
            .query_one("SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = 'sluice_erp' AND r.state = 'streaming'", &[])
            .await?;
        if row.get::<_, i64>(0) == 1 {
            return Ok(());
        }
        if let Some(status) = sluice.try_wait()? {
            bail!("sluice exited with {status} before streaming; see .demo/sluice.log");
        }
        if Instant::now() > deadline {
            bail!("sluice did not start streaming within 30 s; see .demo/sluice.log");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes a mix of ERP transactions until `duration` has passed; returns how many.
async fn generate(client: Client, duration: Duration) -> Result<u64> {
    client
        .batch_execute(
            "INSERT INTO products SELECT 'SKU-' || i, 'Product ' || i, (i * 3.25)::numeric(12,2) FROM generate_series(1, 200) i;
             INSERT INTO inventory (sku, warehouse, qty) SELECT sku, CASE WHEN random() < 0.5 THEN 'north' ELSE 'south' END, 1000 FROM products;
             INSERT INTO customers (id, name, city) SELECT i, 'Customer ' || i, (ARRAY['Berlin','Lyon','Osaka','Austin'])[1 + i % 4] FROM generate_series(1, 100) i;",
        )
        .await?;
    let mut count = 3u64;
    let started = Instant::now();
    let mut next_customer = 101i64;
    while started.elapsed() < duration {
        let n = count as i64;
        // A new order with three lines, reserving stock, in one transaction.
        client
            .batch_execute(&format!(
                "BEGIN;
                 WITH o AS (INSERT INTO sales_orders (customer_id, status, total, note)
                            VALUES ({c}, 'new', 0, CASE WHEN {n} % 7 = 0 THEN 'rush' END) RETURNING id)
                 INSERT INTO sales_order_lines SELECT o.id, l, 'SKU-' || (1 + ({n} * 7 + l * 13) % 200), 1 + l, 9.99 * l FROM o, generate_series(1, 3) l;
                 UPDATE sales_orders SET total = (SELECT sum(qty * price) FROM sales_order_lines WHERE order_id = sales_orders.id)
                  WHERE id = currval('sales_orders_id_seq');
                 UPDATE inventory SET qty = qty - 1, updated_at = now() WHERE sku IN (SELECT sku FROM sales_order_lines WHERE order_id = currval('sales_orders_id_seq'));
                 COMMIT;",
                c = 1 + n % 100,
            ))
            .await?;
        count += 1;
        if count.is_multiple_of(5) {
            client.batch_execute("UPDATE sales_orders SET status = 'paid' WHERE id = (SELECT min(id) FROM sales_orders WHERE status = 'new')").await?;
            count += 1;
        }
        if count.is_multiple_of(23) {
            client
                .batch_execute(
                    "DELETE FROM sales_orders WHERE id = (SELECT max(id) FROM sales_orders WHERE status = 'new')",
                )
                .await?;
            count += 1;
        }
        if count.is_multiple_of(50) {
            client
                .execute(
                    "INSERT INTO customers (id, name, city) VALUES ($1::bigint, 'Customer ' || $1::bigint::text, 'Porto')",
                    &[&next_customer],
                )
                .await?;
            next_customer += 1;
            client.batch_execute("UPDATE inventory SET qty = qty + 50, updated_at = now() WHERE qty < 990").await?;
            count += 2;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(count)
}

async fn count(client: &Client, table: &str) -> Result<i64> {
    Ok(client.query_one(&format!("SELECT count(*) FROM {table}"), &[]).await?.get(0))
}

async fn print_progress(erp: &Client, report: &Client, started: Instant) -> Result<()> {
    let source_orders = count(erp, "sales_orders").await?;
    let target_orders = count(report, "orders").await?;
    let source_lines = count(erp, "sales_order_lines").await?;
    let target_lines = count(report, "order_lines").await?;
    let lag = erp
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint,
                    (SELECT EXTRACT(EPOCH FROM flush_lag)::float8 FROM pg_stat_replication WHERE application_name = 'sluice' LIMIT 1)
             FROM pg_replication_slots WHERE slot_name = 'sluice_erp'",
            &[],
        )
        .await?;
    let lag_bytes: i64 = lag.get(0);
    let lag_seconds: Option<f64> = lag.get(1);
    println!(
        "   t={:>3}s  orders {:>6} -> {:>6}   lines {:>6} -> {:>6}   slot lag {:>8} B  {:>6.3} s",
        started.elapsed().as_secs(),
        source_orders,
        target_orders,
        source_lines,
        target_lines,
        lag_bytes,
        lag_seconds.unwrap_or(0.0)
    );
    Ok(())
}

/// True when every compared table holds the same rows in both databases.
async fn tables_equal(erp: &Client, report: &Client) -> Result<bool> {
    for (source, source_columns, target, target_columns) in COMPARED {
        if digest(erp, source, source_columns).await? != digest(report, target, target_columns).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn digest(client: &Client, table: &str, columns: &str) -> Result<(i64, String)> {
    let row = client
        .query_one(
            &format!(
                "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM (SELECT {columns} FROM {table}) t"
            ),
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}
