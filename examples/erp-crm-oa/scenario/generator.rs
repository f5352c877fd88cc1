//! The systems' users: seed rows written before Sluice starts (they reach
//! the targets through the initial snapshot), then a burst of traffic in
//! all three systems at once, each in its own task and session:
//!
//! - **CRM** (sales): new customers and address changes; orders submitted
//!   with their lines; drafts started, later submitted (status and lines in
//!   one transaction) or abandoned (deleted); orders paid, cancelled, edited
//!   (a line added, changed or removed, the total recomputed); and once, an
//!   order with a status the CRM admins just invented (`on_hold`), which the
//!   integration's value map does not know.
//! - **ERP** (warehouse, sessions named [`ERP_UI`]): goods received,
//!   transfers from EAST to MAIN, orders moved on (NEW → PICKING → PACKED,
//!   and → SHIPPED once the OA approved the shipment, consuming the stock),
//!   orders taken by phone, a new product stocked, a product delisted at EAST.
//! - **OA** (office): shipment approvals requested for confirmed ERP orders
//!   (small ones approved at once), approved or rejected, approvals
//!   withdrawn, rejected ones resubmitted and decided again (a second
//!   approval must not make a second shipment request), notes added to
//!   approved ones (no new shipment), and expense claims (never a shipment).
//!
//! Choices come from a seeded pseudo-random sequence; which rows exist when
//! depends on timing, so the rules are checked against the data, never
//! against fixed counts. [`Tally`] counts what was done.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;
use tokio_postgres::Client;

use super::{ERP_UI, Urls};

/// Products the seed creates in the CRM and stocks in the ERP.
const SEED_SKUS: u32 = 30;

const COMPANIES: &[&str] = &[
    "Alder", "Birch", "Cedar", "Dunmore", "Elbe", "Fjord", "Granit", "Heron", "Isar", "Juniper", "Kestrel", "Linden",
    "Mosel", "Nordwind", "Oriel", "Pelican", "Quarry", "Rhein", "Saale", "Tamar",
];
const KINDS: &[&str] = &["Trading", "Handel GmbH", "& Sons", "Supplies", "Werkstatt", "Logistics", "Bau AG"];
const CITIES: &[&str] = &["Hamburg", "Leipzig", "Lyon", "Porto", "Graz", "Bremen", "Utrecht", "Basel"];
const APPROVERS: &[&str] = &["m.keller", "s.ito", "a.novak"];

/// What the generator did, for the progress line and the rules.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub crm_transactions: u64,
    pub erp_transactions: u64,
    pub oa_transactions: u64,
    /// CRM drafts abandoned (deleted in the CRM), by id.
    pub deleted_drafts: BTreeSet<i64>,
    /// ERP transactions retried after a deadlock with Sluice's writes.
    pub erp_retries: u64,
}

/// The generator's shared tally.
pub type SharedTally = Arc<Mutex<Tally>>;

/// Writes the seed rows into the CRM, the ERP and the OA.
pub async fn seed(urls: &Urls, tally: &SharedTally) -> Result<()> {
    let mut crm = Crm::connect(urls, 11, Arc::clone(tally)).await?;
    let mut products = String::from("INSERT INTO products (sku, name, list_price) VALUES ");
    for n in 1..=SEED_SKUS {
        let sep = if n > 1 { ", " } else { "" };
        products.push_str(&format!("{sep}('{}', 'Product {n}', {})", sku(n), money(list_price(n))));
    }
    crm.conn.query_drop(products).await.context("seeding CRM products")?;
    crm.skus = (1..=SEED_SKUS).collect();
    for _ in 0..10 {
        crm.new_customer().await?;
    }
    for _ in 0..5 {
        crm.new_order("new").await?;
    }
    crm.pay().await?;
    crm.cancel().await?;
    crm.new_draft().await?;

    let mut erp = Erp::connect(urls, 22, Arc::clone(tally)).await?;
    let mut stock = String::from("INSERT INTO inventory (sku, warehouse, qty_on_hand) VALUES ");
    for n in 1..=SEED_SKUS {
        let sep = if n > 1 { ", " } else { "" };
        let (main, east) = (150 + erp.rng.below(250), 40 + erp.rng.below(80));
        // The last product is nearly sold out at MAIN: reservations may exceed
        // what is on hand (the shop shows 0, not in stock).
        let main = if n == SEED_SKUS { 8 } else { main };
        stock.push_str(&format!("{sep}('{}', 'MAIN', {main}), ('{}', 'EAST', {east})", sku(n), sku(n)));
    }
    erp.client.batch_execute(&stock).await.context("seeding ERP inventory")?;
    for (name, city) in [("Walk-in Customer", "Hamburg"), ("Stadtwerke Nord", "Kiel"), ("Atelier Roux", "Lyon")] {
        erp.client
            .execute("INSERT INTO customers (name, city) VALUES ($1, $2)", &[&name, &city])
            .await
            .context("seeding ERP customers")?;
    }
    erp.skus = (1..=SEED_SKUS).collect();
    erp.phone_order().await?;
    erp.phone_order().await?;

    let mut oa = Oa::connect(urls, 33, Arc::clone(tally)).await?;
    oa.expense_claim().await?;
    oa.expense_claim().await?;
    oa.client
        .batch_execute(
            "UPDATE approval_requests SET status = 'approved', approver = 'm.keller', decided_at = now()
              WHERE id = (SELECT min(id) FROM approval_requests)",
        )
        .await?;
    Ok(())
}

/// Runs the three systems' users for `duration`, each system in its own
/// task; returns when all have stopped (the first error ends the run).
pub async fn run(urls: Urls, duration: Duration, tally: SharedTally) -> Result<()> {
    let deadline = Instant::now() + duration;
    let mut crm = Crm::connect(&urls, 101, Arc::clone(&tally)).await?;
    let mut erp = Erp::connect(&urls, 202, Arc::clone(&tally)).await?;
    let mut oa = Oa::connect(&urls, 303, Arc::clone(&tally)).await?;
    crm.skus = crm.load_skus().await?;
    erp.skus = crm.skus.clone();
    let crm = tokio::spawn(async move {
        let mut step = 0u64;
        while Instant::now() < deadline {
            step += 1;
            if step == 15 {
                crm.new_order("on_hold").await?;
            } else {
                crm.step().await?;
            }
            crm.tally.lock().unwrap().crm_transactions += 1;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::Ok(())
    });
    let erp = tokio::spawn(async move {
        while Instant::now() < deadline {
            erp.step().await?;
            erp.tally.lock().unwrap().erp_transactions += 1;
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        anyhow::Ok(())
    });
    let oa = tokio::spawn(async move {
        while Instant::now() < deadline {
            oa.step().await?;
            oa.tally.lock().unwrap().oa_transactions += 1;
            tokio::time::sleep(Duration::from_millis(45)).await;
        }
        anyhow::Ok(())
    });
    crm.await?.context("CRM traffic")?;
    erp.await?.context("ERP traffic")?;
    oa.await?.context("OA traffic")?;
    Ok(())
}

/// `SKU-007`.
pub fn sku(n: u32) -> String {
    format!("SKU-{n:03}")
}

/// A product's list price in cents (the same in the CRM and the ERP).
fn list_price(n: u32) -> i64 {
    490 + i64::from(n * 37 % 200) * 25
}

/// Cents as `12.34`.
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// xorshift64*: small, seeded, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 0 ≤ n < `bound`.
    fn below(&mut self, bound: u32) -> u32 {
        (self.next() % u64::from(bound.max(1))) as u32
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len() as u32) as usize])
    }
}

/// The lines of a new order: 1 to 4 distinct products, ascending by SKU.
fn order_lines(rng: &mut Rng, skus: &[u32]) -> Vec<(u32, i64)> {
    let count = 1 + rng.below(4);
    let mut chosen: BTreeSet<u32> = BTreeSet::new();
    while chosen.len() < count as usize && chosen.len() < skus.len() {
        chosen.insert(*rng.pick(skus).expect("products exist"));
    }
    chosen.into_iter().map(|n| (n, i64::from(1 + rng.below(5)))).collect()
}

/// The CRM's sales team.
struct Crm {
    conn: mysql_async::Conn,
    rng: Rng,
    skus: Vec<u32>,
    tally: SharedTally,
}

impl Crm {
    async fn connect(urls: &Urls, seed: u64, tally: SharedTally) -> Result<Crm> {
        Ok(Crm { conn: urls.crm().await?, rng: Rng::new(seed), skus: Vec::new(), tally })
    }

    async fn load_skus(&mut self) -> Result<Vec<u32>> {
        let skus: Vec<String> = self.conn.query("SELECT sku FROM products ORDER BY sku").await?;
        Ok(skus.iter().filter_map(|s| s.strip_prefix("SKU-")?.parse().ok()).collect())
    }

    async fn step(&mut self) -> Result<()> {
        match self.rng.below(100) {
            0..8 => self.new_customer().await,
            8..12 => self.edit_customer().await,
            12..40 => self.new_order("new").await,
            40..48 => self.new_draft().await,
            48..55 => self.submit_draft().await,
            55..59 => self.abandon_draft().await,
            59..75 => self.pay().await,
            75..79 => self.cancel().await,
            _ => self.edit_order().await,
        }
    }

    async fn ids(&mut self, query: &str) -> Result<Vec<i64>> {
        Ok(self.conn.query(query).await?)
    }

    async fn new_customer(&mut self) -> Result<()> {
        let company = *self.rng.pick(COMPANIES).expect("names");
        let kind = *self.rng.pick(KINDS).expect("kinds");
        let name = format!("{company} {kind}");
        // Sales types addresses as they come; the ERP gets them trimmed and lower-case.
        let email = match self.rng.below(4) {
            0 => None,
            1 => Some(format!(" Orders@{}.example ", company.to_lowercase())),
            _ => Some(format!("orders@{}.example", company.to_lowercase())),
        };
        let city = self.rng.pick(CITIES).copied();
        self.conn.exec_drop("INSERT INTO customers (name, email, city) VALUES (?, ?, ?)", (name, email, city)).await?;
        Ok(())
    }

    async fn edit_customer(&mut self) -> Result<()> {
        let ids = self.ids("SELECT id FROM customers").await?;
        let Some(&id) = self.rng.pick(&ids) else { return Ok(()) };
        let city = self.rng.pick(CITIES).copied();
        self.conn.exec_drop("UPDATE customers SET city = ?, email = lower(email) WHERE id = ?", (city, id)).await?;
        Ok(())
    }

    async fn customer(&mut self) -> Result<i64> {
        let ids = self.ids("SELECT id FROM customers").await?;
        Ok(*self.rng.pick(&ids).context("no CRM customers")?)
    }

    /// An order submitted with its lines, in one transaction.
    async fn new_order(&mut self, status: &str) -> Result<()> {
        let customer = self.customer().await?;
        let lines = order_lines(&mut self.rng, &self.skus);
        let total: i64 = lines.iter().map(|(n, qty)| list_price(*n) * qty).sum();
        self.conn.query_drop("START TRANSACTION").await?;
        self.conn
            .exec_drop(
                "INSERT INTO orders (customer_id, status, total) VALUES (?, ?, ?)",
                (customer, status, money(total)),
            )
            .await?;
        let id = self.conn.last_insert_id().context("order id")?;
        self.insert_lines(id as i64, 1, &lines).await?;
        self.conn.query_drop("COMMIT").await?;
        Ok(())
    }

    async fn insert_lines(&mut self, order: i64, first_line: u32, lines: &[(u32, i64)]) -> Result<()> {
        let values: Vec<String> = lines
            .iter()
            .zip(first_line..)
            .map(|((n, qty), line)| format!("({order}, {line}, '{}', {qty}, {})", sku(*n), money(list_price(*n))))
            .collect();
        let sql =
            format!("INSERT INTO order_lines (order_id, line_no, sku, qty, unit_price) VALUES {}", values.join(", "));
        self.conn.query_drop(sql).await?;
        Ok(())
    }

    async fn new_draft(&mut self) -> Result<()> {
        let customer = self.customer().await?;
        self.conn.exec_drop("INSERT INTO orders (customer_id, status) VALUES (?, 'draft')", (customer,)).await?;
        Ok(())
    }

    /// A draft becomes an order: status first, then its lines (so each line
    /// finds its order already in the ERP), in one transaction.
    async fn submit_draft(&mut self) -> Result<()> {
        let drafts = self.ids("SELECT id FROM orders WHERE status = 'draft'").await?;
        let Some(&id) = self.rng.pick(&drafts) else { return Ok(()) };
        let lines = order_lines(&mut self.rng, &self.skus);
        let total: i64 = lines.iter().map(|(n, qty)| list_price(*n) * qty).sum();
        self.conn.query_drop("START TRANSACTION").await?;
        self.conn
            .exec_drop(
                "UPDATE orders SET status = 'new', total = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
                (money(total), id),
            )
            .await?;
        self.insert_lines(id, 1, &lines).await?;
        self.conn.query_drop("COMMIT").await?;
        Ok(())
    }

    async fn abandon_draft(&mut self) -> Result<()> {
        let drafts = self.ids("SELECT id FROM orders WHERE status = 'draft'").await?;
        let Some(&id) = self.rng.pick(&drafts) else { return Ok(()) };
        self.conn.exec_drop("DELETE FROM orders WHERE id = ? AND status = 'draft'", (id,)).await?;
        self.tally.lock().unwrap().deleted_drafts.insert(id);
        Ok(())
    }

    async fn set_status(&mut self, from: &str, to: &str) -> Result<()> {
        let ids = self.ids(&format!("SELECT id FROM orders WHERE status = '{from}'")).await?;
        let Some(&id) = self.rng.pick(&ids) else { return Ok(()) };
        self.conn
            .exec_drop("UPDATE orders SET status = ?, updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?", (to, id))
            .await?;
        Ok(())
    }

    async fn pay(&mut self) -> Result<()> {
        self.set_status("new", "paid").await
    }

    async fn cancel(&mut self) -> Result<()> {
        self.set_status("new", "cancelled").await
    }

    /// A line added, changed or removed on a new order, and its total recomputed.
    async fn edit_order(&mut self) -> Result<()> {
        let ids = self.ids("SELECT id FROM orders WHERE status = 'new'").await?;
        let Some(&id) = self.rng.pick(&ids) else { return Ok(()) };
        let lines: Vec<(i64, String)> =
            self.conn.exec("SELECT line_no, sku FROM order_lines WHERE order_id = ? ORDER BY line_no", (id,)).await?;
        self.conn.query_drop("START TRANSACTION").await?;
        match self.rng.below(3) {
            0 if lines.len() > 1 => {
                let (line, _) = lines.last().expect("lines");
                self.conn.exec_drop("DELETE FROM order_lines WHERE order_id = ? AND line_no = ?", (id, line)).await?;
            }
            1 if !lines.is_empty() => {
                let (line, _) = self.rng.pick(&lines).expect("lines");
                let qty = 1 + self.rng.below(9);
                self.conn
                    .exec_drop("UPDATE order_lines SET qty = ? WHERE order_id = ? AND line_no = ?", (qty, id, line))
                    .await?;
            }
            _ => {
                let taken: BTreeSet<&str> = lines.iter().map(|(_, s)| s.as_str()).collect();
                let free: Vec<u32> = self.skus.iter().copied().filter(|n| !taken.contains(sku(*n).as_str())).collect();
                if let Some(&n) = self.rng.pick(&free) {
                    let next = lines.last().map_or(1, |(line, _)| line + 1) as u32;
                    let qty = i64::from(1 + self.rng.below(3));
                    self.insert_lines(id, next, &[(n, qty)]).await?;
                }
            }
        }
        self.conn
            .exec_drop(
                "UPDATE orders SET total = (SELECT COALESCE(SUM(qty * unit_price), 0) FROM order_lines WHERE order_id = ?),
                        updated_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
                (id, id),
            )
            .await?;
        self.conn.query_drop("COMMIT").await?;
        Ok(())
    }
}

/// The ERP's warehouse and order desk.
struct Erp {
    client: Client,
    rng: Rng,
    skus: Vec<u32>,
    next_sku: u32,
    tally: SharedTally,
}

/// A transaction lost to a deadlock (with Sluice's writes, which take row
/// locks in source order): the ERP user simply tries again.
fn is_deadlock(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<tokio_postgres::Error>().and_then(tokio_postgres::Error::code).is_some_and(|code| {
            *code == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                || *code == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
        })
    })
}

impl Erp {
    async fn connect(urls: &Urls, seed: u64, tally: SharedTally) -> Result<Erp> {
        let separator = if urls.erp.contains('?') { '&' } else { '?' };
        let client = super::pg_connect(&format!("{}{separator}application_name={ERP_UI}", urls.erp)).await?;
        Ok(Erp { client, rng: Rng::new(seed), skus: Vec::new(), next_sku: 101, tally })
    }

    async fn step(&mut self) -> Result<()> {
        let roll = self.rng.below(100);
        loop {
            let outcome = match roll {
                0..22 => self.receipt().await,
                22..30 => self.transfer().await,
                30..70 => self.move_workflow().await,
                70..82 => self.ship().await,
                82..94 => self.phone_order().await,
                94..97 => self.new_product().await,
                _ => self.delist_at_east().await,
            };
            match outcome {
                Err(error) if is_deadlock(&error) => {
                    let _ = self.client.batch_execute("ROLLBACK").await;
                    self.tally.lock().unwrap().erp_retries += 1;
                }
                other => return other,
            }
        }
    }

    async fn receipt(&mut self) -> Result<()> {
        let n = *self.rng.pick(&self.skus).context("no skus")?;
        let warehouse = if self.rng.chance(60) { "MAIN" } else { "EAST" };
        let qty = 5 + self.rng.below(40) as i32;
        self.client
            .execute(
                "UPDATE inventory SET qty_on_hand = qty_on_hand + $1, updated_at = now() WHERE sku = $2 AND warehouse = $3",
                &[&qty, &sku(n), &warehouse],
            )
            .await?;
        Ok(())
    }

    async fn transfer(&mut self) -> Result<()> {
        let n = *self.rng.pick(&self.skus).context("no skus")?;
        let qty = 1 + self.rng.below(15) as i32;
        let transaction = self.client.transaction().await?;
        let moved = transaction
            .execute(
                "UPDATE inventory SET qty_on_hand = qty_on_hand - $1, updated_at = now()
                  WHERE sku = $2 AND warehouse = 'EAST' AND qty_on_hand >= $1",
                &[&qty, &sku(n)],
            )
            .await?;
        if moved == 1 {
            transaction
                .execute(
                    "UPDATE inventory SET qty_on_hand = qty_on_hand + $1, updated_at = now() WHERE sku = $2 AND warehouse = 'MAIN'",
                    &[&qty, &sku(n)],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// NEW → PICKING → PACKED on an open order (the CRM may still change it).
    async fn move_workflow(&mut self) -> Result<()> {
        let row = self
            .client
            .query_opt(
                "SELECT id, workflow FROM sales_orders WHERE status <> 'CANCELLED' AND workflow IN ('NEW', 'PICKING')
                  ORDER BY random() LIMIT 1",
                &[],
            )
            .await?;
        let Some(row) = row else { return Ok(()) };
        let (id, from): (i64, String) = (row.get(0), row.get(1));
        let to = if from == "NEW" { "PICKING" } else { "PACKED" };
        self.client
            .execute("UPDATE sales_orders SET workflow = $2 WHERE id = $1 AND workflow = $3", &[&id, &to, &from])
            .await?;
        Ok(())
    }

    /// A packed order whose shipment the OA approved leaves: SHIPPED, its
    /// reserved stock consumed, the shipment request done.
    async fn ship(&mut self) -> Result<()> {
        let row = self
            .client
            .query_opt(
                "SELECT s.request_no, o.id FROM shipment_requests s JOIN sales_orders o ON o.order_no = s.sales_order_no
                  WHERE s.state = 'open' AND o.workflow = 'PACKED' AND o.status = 'CONFIRMED' ORDER BY random() LIMIT 1",
                &[],
            )
            .await?;
        let Some(row) = row else { return Ok(()) };
        let (request, order): (String, i64) = (row.get(0), row.get(1));
        let transaction = self.client.transaction().await?;
        let moved = transaction
            .execute("UPDATE sales_orders SET workflow = 'SHIPPED' WHERE id = $1 AND workflow = 'PACKED'", &[&order])
            .await?;
        if moved == 1 {
            let lines = transaction
                .query(
                    "SELECT sku, sum(qty)::int FROM sales_order_lines WHERE sales_order_id = $1 GROUP BY sku ORDER BY sku",
                    &[&order],
                )
                .await?;
            for line in lines {
                let (sku, qty): (String, i32) = (line.get(0), line.get(1));
                transaction
                    .execute(
                        "UPDATE inventory SET qty_on_hand = qty_on_hand - $2, qty_reserved = qty_reserved - $2,
                                updated_at = now() WHERE sku = $1 AND warehouse = 'MAIN'",
                        &[&sku, &qty],
                    )
                    .await?;
            }
            transaction
                .execute("UPDATE shipment_requests SET state = 'shipped' WHERE request_no = $1", &[&request])
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// An order taken by phone for any ERP customer (the ERP's own, or one synced from the CRM).
    async fn phone_order(&mut self) -> Result<()> {
        let customers: Vec<i64> =
            self.client.query("SELECT id FROM customers", &[]).await?.iter().map(|r| r.get(0)).collect();
        let Some(&customer) = self.rng.pick(&customers) else { return Ok(()) };
        let lines = order_lines(&mut self.rng, &self.skus);
        let total: i64 = lines.iter().map(|(n, qty)| list_price(*n) * qty).sum();
        let transaction = self.client.transaction().await?;
        let order: i64 = transaction
            .query_one(
                "INSERT INTO sales_orders (customer_id, status, workflow, total, ordered_at)
                 VALUES ($1, 'CONFIRMED', 'NEW', $2::text::numeric, now()) RETURNING id",
                &[&customer, &money(total)],
            )
            .await?
            .get(0);
        for (line, (n, qty)) in (1..).zip(&lines) {
            transaction
                .execute(
                    "INSERT INTO sales_order_lines VALUES ($1, $2, $3, $4, $5::text::numeric)",
                    &[&order, &line, &sku(*n), &(*qty as i32), &money(list_price(*n))],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// A product the CRM does not sell yet: stocked at both warehouses.
    async fn new_product(&mut self) -> Result<()> {
        let n = self.next_sku;
        self.client
            .execute(
                "INSERT INTO inventory (sku, warehouse, qty_on_hand) VALUES ($1, 'MAIN', 100), ($1, 'EAST', 20)",
                &[&sku(n)],
            )
            .await?;
        self.next_sku += 1;
        Ok(())
    }

    /// EAST stops carrying a product; MAIN keeps it (the CRM and the shop must not lose it).
    async fn delist_at_east(&mut self) -> Result<()> {
        let n = *self.rng.pick(&self.skus).context("no skus")?;
        self.client.execute("DELETE FROM inventory WHERE sku = $1 AND warehouse = 'EAST'", &[&sku(n)]).await?;
        Ok(())
    }
}

/// The office: approvals.
struct Oa {
    client: Client,
    erp: Client,
    rng: Rng,
    claims: u32,
    tally: SharedTally,
}

impl Oa {
    async fn connect(urls: &Urls, seed: u64, tally: SharedTally) -> Result<Oa> {
        Ok(Oa { client: urls.oa().await?, erp: urls.erp().await?, rng: Rng::new(seed), claims: 0, tally })
    }

    async fn step(&mut self) -> Result<()> {
        match self.rng.below(100) {
            0..35 => self.request_shipment().await,
            35..66 => self.decide().await,
            66..76 => self.resubmit().await,
            76..82 => self.annotate().await,
            82..88 => self.withdraw().await,
            _ => self.expense_claim().await,
        }
    }

    async fn ids(&self, query: &str) -> Result<Vec<i64>> {
        Ok(self.client.query(query, &[]).await?.iter().map(|r| r.get(0)).collect())
    }

    /// Approval to ship a confirmed ERP order that has none yet; small
    /// orders are approved at once by the OA's rules.
    async fn request_shipment(&mut self) -> Result<()> {
        let orders =
            self.erp.query("SELECT order_no, total::text FROM sales_orders WHERE status = 'CONFIRMED'", &[]).await?;
        let requested: BTreeSet<String> = self
            .client
            .query("SELECT ref FROM approval_requests WHERE kind = 'shipment'", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let open: Vec<(String, String)> = orders
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .filter(|(no, _): &(String, String)| !requested.contains(no))
            .collect();
        let Some((order_no, total)) = self.rng.pick(&open).cloned() else { return Ok(()) };
        let small = total.parse::<f64>().unwrap_or(f64::MAX) < 60.0;
        let (status, approver) = if small { ("approved", Some("auto")) } else { ("pending", None) };
        self.client
            .execute(
                "INSERT INTO approval_requests (kind, ref, amount, status, approver, decided_at)
                 VALUES ('shipment', $1, $2::text::numeric, $3, $4, CASE WHEN $3 = 'approved' THEN now() END)",
                &[&order_no, &total, &status, &approver],
            )
            .await?;
        Ok(())
    }

    /// A pending request decided; resubmitted ones first (and approved).
    async fn decide(&mut self) -> Result<()> {
        let resubmitted = self
            .ids("SELECT id FROM approval_requests WHERE status = 'pending' AND note IS NOT NULL ORDER BY id")
            .await?;
        let pending = self.ids("SELECT id FROM approval_requests WHERE status = 'pending'").await?;
        let (id, status) = match resubmitted.first() {
            Some(&id) => (id, "approved"),
            None => {
                let Some(&id) = self.rng.pick(&pending) else { return Ok(()) };
                (id, if self.rng.chance(70) { "approved" } else { "rejected" })
            }
        };
        let approver = *self.rng.pick(APPROVERS).expect("approvers");
        self.client
            .execute(
                "UPDATE approval_requests SET status = $2, approver = $3, decided_at = now() WHERE id = $1",
                &[&id, &status, &approver],
            )
            .await?;
        Ok(())
    }

    /// A rejected request comes back (withdrawn approvals first), to be decided again.
    async fn resubmit(&mut self) -> Result<()> {
        let withdrawn = self
            .ids("SELECT id FROM approval_requests WHERE status = 'rejected' AND note = 'approval withdrawn'")
            .await?;
        let rejected = self.ids("SELECT id FROM approval_requests WHERE status = 'rejected'").await?;
        let Some(&id) = withdrawn.first().or_else(|| self.rng.pick(&rejected)) else { return Ok(()) };
        self.client
            .execute(
                "UPDATE approval_requests SET status = 'pending', approver = NULL, decided_at = NULL,
                        note = 'resubmitted with corrections' WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(())
    }

    /// An approval withdrawn (the order is on hold after all); it may be
    /// resubmitted and approved again — still one shipment request.
    async fn withdraw(&mut self) -> Result<()> {
        // Only while the warehouse has not packed the order yet.
        let unpacked: Vec<String> = self
            .erp
            .query("SELECT order_no FROM sales_orders WHERE workflow IN ('NEW', 'PICKING')", &[])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let approved: Vec<i64> = self
            .client
            .query(
                "SELECT id FROM approval_requests WHERE status = 'approved' AND kind = 'shipment' AND ref = ANY($1)",
                &[&unpacked],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let Some(&id) = self.rng.pick(&approved) else { return Ok(()) };
        self.client
            .execute(
                "UPDATE approval_requests SET status = 'rejected', note = 'approval withdrawn', decided_at = now()
                  WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(())
    }

    /// A note on an approved request: not a new approval.
    async fn annotate(&mut self) -> Result<()> {
        let approved = self.ids("SELECT id FROM approval_requests WHERE status = 'approved'").await?;
        let Some(&id) = self.rng.pick(&approved) else { return Ok(()) };
        self.client.execute("UPDATE approval_requests SET note = 'checked by finance' WHERE id = $1", &[&id]).await?;
        Ok(())
    }

    async fn expense_claim(&mut self) -> Result<()> {
        self.claims += 1;
        let amount = money(i64::from(1500 + self.rng.below(40000)));
        let claim = format!("EXP-{:04}-{}", self.claims, self.rng.below(1000));
        self.client
            .execute(
                "INSERT INTO approval_requests (kind, ref, amount) VALUES ('expense', $1, $2::text::numeric)",
                &[&claim, &amount],
            )
            .await?;
        Ok(())
    }
}
