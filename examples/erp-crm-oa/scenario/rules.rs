//! Every rule the example promises, checked row for row against the
//! systems' own data: each rule reads what the source system holds, derives
//! what the target must hold (through the config's value map and the
//! crosswalk), and compares it with what the target holds — exact text of
//! every compared column, timestamps to the microsecond in UTC.
//!
//! Rules are checked once Sluice has caught up; the demo prints them, the
//! test asserts them. Each carries evidence counters (how many rows
//! exercised it), so a test can refuse a rule that passed vacuously.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;

use super::generator::{SharedTally, Tally};
use super::{CONFIG, ERP_UI, Systems, maria_count, maria_rows, pg_count, pg_rows};

/// One rule's result.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub rule: &'static str,
    pub passed: bool,
    /// What was compared, or where it differs.
    pub detail: String,
    /// Named counts of the rows that exercised the rule.
    pub evidence: Vec<(&'static str, i64)>,
}

type Rows = Vec<Vec<String>>;

/// `DATE_FORMAT` of a MariaDB timestamp, in the session's UTC.
const MARIA_TS: &str = "'%Y-%m-%d %H:%i:%s.%f'";
/// `to_char` of a PostgreSQL timestamptz, in the session's UTC.
const PG_TS: &str = "'YYYY-MM-DD HH24:MI:SS.US'";

/// The CRM → ERP status map as `sluice.toml` defines it (`[maps.crm_order_status.values]`).
pub fn status_map() -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(CONFIG).with_context(|| format!("reading {CONFIG}"))?;
    let config: toml::Table = text.parse().with_context(|| format!("parsing {CONFIG}"))?;
    let values = config
        .get("maps")
        .and_then(|m| m.get("crm_order_status"))
        .and_then(|m| m.get("values"))
        .and_then(toml::Value::as_table)
        .context("sluice.toml has no [maps.crm_order_status.values]")?;
    Ok(values.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
}

/// Waits until every target holds what its sources had logged and every
/// rule holds, or `limit` passes; returns the last check (with a failed
/// "caught up" outcome first when Sluice never caught up). `alive` is asked
/// while waiting and fails when Sluice has stopped.
///
/// Rules read several systems one after the other, and a change applied in
/// one (a CRM order line reaching the ERP) makes new changes in another
/// (the ERP's stock reservation, on its way to the CRM): so after each
/// catch-up the rules are checked again until they all hold at once.
pub async fn settle(
    systems: &Systems,
    sluice_bin: &Path,
    tally: &SharedTally,
    limit: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<Vec<Outcome>> {
    let deadline = Instant::now() + limit;
    let mut last: Option<Vec<Outcome>> = None;
    loop {
        let marks = systems.log_marks().await?;
        let mut lagging = systems.lagging(&marks).await?;
        while !lagging.is_empty() && Instant::now() < deadline {
            alive()?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            lagging = systems.lagging(&marks).await?;
        }
        if !lagging.is_empty() {
            // Caught up before, and the rules still did not hold: those are the news.
            if let Some(outcomes) = last {
                return Ok(outcomes);
            }
            let tally = tally.lock().unwrap().clone();
            let mut outcomes = check(systems, sluice_bin, &tally).await;
            let detail = format!("not within {limit:?}: {}", lagging.join("; "));
            outcomes.insert(
                0,
                Outcome { rule: "sluice caught up with every source", passed: false, detail, evidence: vec![] },
            );
            return Ok(outcomes);
        }
        let tally = tally.lock().unwrap().clone();
        let outcomes = check(systems, sluice_bin, &tally).await;
        if outcomes.iter().all(|o| o.passed) || Instant::now() >= deadline {
            return Ok(outcomes);
        }
        last = Some(outcomes);
        alive()?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Checks every rule. An error reading a system is a failed rule, not an abort.
pub async fn check(systems: &Systems, sluice_bin: &Path, tally: &Tally) -> Vec<Outcome> {
    let mut out = Vec::new();
    let checks: [(&'static str, RuleFuture<'_>); 12] = [
        ("customers: CRM -> ERP, one each, linked by the crosswalk", Box::pin(customers(systems))),
        ("orders: CRM -> ERP, status mapped, customer linked, no duplicates", Box::pin(orders(systems))),
        ("lines: CRM -> ERP, under the ERP order of their CRM order", Box::pin(lines(systems))),
        ("workflow: never reset by sync, moved only by the ERP's users", Box::pin(workflow(systems))),
        ("stock: CRM product_stock = ERP main-warehouse availability", Box::pin(crm_stock(systems))),
        ("stock: shop.stock = ERP main-warehouse availability", Box::pin(shop_stock(systems))),
        ("shipments: one ERP request per shipment approval ever approved", Box::pin(shipments(systems))),
        ("report.orders (crm): live = CRM orders, deleted = abandoned drafts", Box::pin(report_crm(systems, tally))),
        ("report.orders (erp) = ERP sales orders", Box::pin(report_erp(systems))),
        ("report.approvals = OA approval requests", Box::pin(report_approvals(systems))),
        ("report.inventory = ERP inventory", Box::pin(report_inventory(systems))),
        (
            "dead letters: the unmapped CRM order and its lines, nothing else",
            Box::pin(dead_letters(systems, sluice_bin)),
        ),
    ];
    for (rule, check) in checks {
        out.push(match check.await {
            Ok((passed, detail, evidence)) => Outcome { rule, passed, detail, evidence },
            Err(error) => {
                Outcome { rule, passed: false, detail: format!("could not check: {error:#}"), evidence: vec![] }
            }
        });
    }
    out
}

type Checked = (bool, String, Vec<(&'static str, i64)>);
type RuleFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<Checked>> + Send + 'a>>;

/// `expected` and `actual` equal, or where they differ (a few rows each way).
fn compare(what: &str, expected: &Rows, actual: &Rows) -> (bool, String) {
    if expected == actual {
        return (true, format!("{} {what} equal", expected.len()));
    }
    let expected_set: BTreeSet<&Vec<String>> = expected.iter().collect();
    let actual_set: BTreeSet<&Vec<String>> = actual.iter().collect();
    let missing: Vec<String> = expected_set.difference(&actual_set).take(3).map(|r| r.join("|")).collect();
    let extra: Vec<String> = actual_set.difference(&expected_set).take(3).map(|r| r.join("|")).collect();
    let duplicates = actual.len() - actual_set.len();
    (
        false,
        format!(
            "{what}: expected {} rows, found {} ({duplicates} duplicated); missing e.g. [{}]; unexpected e.g. [{}]",
            expected.len(),
            actual.len(),
            missing.join("; "),
            extra.join("; ")
        ),
    )
}

async fn customers(systems: &Systems) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let erp = systems.urls.erp().await?;
    let expected =
        maria_rows(&mut crm, "SELECT CAST(id AS CHAR), TRIM(name), LOWER(TRIM(email)), city FROM customers").await?;
    let actual = pg_rows(
        &erp,
        "SELECT x.source_key, c.name, c.email, c.city FROM sluice.crosswalk x
           JOIN customers c ON c.id::text = x.target_key WHERE x.name = 'crm_customers'",
    )
    .await?;
    let (equal, detail) = compare("customers", &expected, &actual);
    let one_to_one = crosswalk_one_to_one(&erp, "crm_customers", "customers").await?;
    Ok((equal && one_to_one.0, format!("{detail}; {}", one_to_one.1), vec![("customers", expected.len() as i64)]))
}

/// The crosswalk's pairs and the ERP rows it links are one to one: one pair
/// per ERP row tagged `crm`, each ERP row's `source_ref` naming its pair's
/// CRM key, no ERP key twice.
async fn crosswalk_one_to_one(erp: &tokio_postgres::Client, route: &str, table: &str) -> Result<(bool, String)> {
    let pairs = pg_count(erp, &format!("SELECT count(*) FROM sluice.crosswalk WHERE name = '{route}'")).await?;
    let targets =
        pg_count(erp, &format!("SELECT count(DISTINCT target_key) FROM sluice.crosswalk WHERE name = '{route}'"))
            .await?;
    let tagged = pg_count(erp, &format!("SELECT count(*) FROM {table} WHERE source = 'crm'")).await?;
    let refs = pg_count(erp, &format!("SELECT count(DISTINCT source_ref) FROM {table} WHERE source = 'crm'")).await?;
    let linked = pg_count(
        erp,
        &format!(
            "SELECT count(*) FROM sluice.crosswalk x JOIN {table} t ON t.id::text = x.target_key
              WHERE x.name = '{route}' AND t.source = 'crm' AND t.source_ref = 'CRM-' || x.source_key"
        ),
    )
    .await?;
    let ok = pairs == targets && pairs == tagged && pairs == refs && pairs == linked;
    Ok((
        ok,
        format!(
            "crosswalk {route}: {pairs} pairs, {targets} ERP keys, {tagged} ERP rows from the CRM, {linked} linked"
        ),
    ))
}

/// CRM orders outside drafts, split by whether the status map knows their status.
struct CrmOrders {
    /// id, ERP status, CRM customer id, total, created_at.
    mapped: Rows,
    unmapped: BTreeSet<String>,
}

async fn crm_orders(crm: &mut mysql_async::Conn) -> Result<CrmOrders> {
    let map = status_map()?;
    let rows = maria_rows(
        crm,
        &format!(
            "SELECT CAST(id AS CHAR), status, CAST(customer_id AS CHAR), CAST(total AS CHAR), DATE_FORMAT(created_at, {MARIA_TS})
               FROM orders WHERE status <> 'draft'"
        ),
    )
    .await?;
    let mut mapped = Vec::new();
    let mut unmapped = BTreeSet::new();
    for mut row in rows {
        match map.get(&row[1]) {
            Some(erp_status) => {
                row[1] = erp_status.clone();
                mapped.push(row);
            }
            None => {
                unmapped.insert(row[0].clone());
            }
        }
    }
    mapped.sort();
    Ok(CrmOrders { mapped, unmapped })
}

async fn orders(systems: &Systems) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let erp = systems.urls.erp().await?;
    let expected = crm_orders(&mut crm).await?;
    let actual = pg_rows(
        &erp,
        &format!(
            "SELECT x.source_key, o.status, c.source_key, o.total::text, to_char(o.ordered_at, {PG_TS})
               FROM sluice.crosswalk x JOIN sales_orders o ON o.id::text = x.target_key
               LEFT JOIN sluice.crosswalk c ON c.name = 'crm_customers' AND c.target_key = o.customer_id::text
              WHERE x.name = 'crm_orders'"
        ),
    )
    .await?;
    let (equal, detail) = compare("orders", &expected.mapped, &actual);
    let one_to_one = crosswalk_one_to_one(&erp, "crm_orders", "sales_orders").await?;
    let drafts = maria_count(&mut crm, "SELECT COUNT(*) FROM orders WHERE status = 'draft'").await?;
    let updated =
        maria_count(&mut crm, "SELECT COUNT(*) FROM orders WHERE status <> 'draft' AND updated_at IS NOT NULL").await?;
    Ok((
        equal && one_to_one.0,
        format!(
            "{detail} ({drafts} drafts stay in the CRM, {} with an unmapped status set aside); {}",
            expected.unmapped.len(),
            one_to_one.1
        ),
        vec![("orders", expected.mapped.len() as i64), ("updated in the CRM", updated), ("drafts", drafts)],
    ))
}

async fn lines(systems: &Systems) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let erp = systems.urls.erp().await?;
    let map = status_map()?;
    let mut expected: Rows = maria_rows(
        &mut crm,
        "SELECT CAST(l.order_id AS CHAR), CAST(l.line_no AS CHAR), l.sku, CAST(l.qty AS CHAR), CAST(l.unit_price AS CHAR), o.status
           FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.status <> 'draft'",
    )
    .await?
    .into_iter()
    .filter(|row| map.contains_key(&row[5]))
    .map(|mut row| {
        row.truncate(5);
        row
    })
    .collect();
    expected.sort();
    let actual = pg_rows(
        &erp,
        "SELECT x.source_key, l.line_no::text, l.sku, l.qty::text, l.unit_price::text
           FROM sales_order_lines l JOIN sales_orders o ON o.id = l.sales_order_id
           LEFT JOIN sluice.crosswalk x ON x.name = 'crm_orders' AND x.target_key = o.id::text
          WHERE o.source = 'crm'",
    )
    .await?;
    let (equal, detail) = compare("lines", &expected, &actual);
    let edited = maria_count(
        &mut crm,
        "SELECT COUNT(DISTINCT l.order_id) FROM order_lines l JOIN orders o ON o.id = l.order_id
          WHERE o.status <> 'draft' AND o.updated_at IS NOT NULL",
    )
    .await?;
    Ok((equal, detail, vec![("lines", expected.len() as i64), ("orders edited or submitted later", edited)]))
}

async fn workflow(systems: &Systems) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let erp = systems.urls.erp().await?;
    let not_last_move = pg_count(
        &erp,
        "SELECT count(*) FROM sales_orders o WHERE o.workflow <> coalesce(
            (SELECT w.to_state FROM workflow_log w WHERE w.sales_order_id = o.id ORDER BY w.id DESC LIMIT 1), 'NEW')",
    )
    .await?;
    let by_others =
        pg_count(&erp, &format!("SELECT count(*) FROM workflow_log WHERE moved_by <> '{ERP_UI}' OR to_state = 'NEW'"))
            .await?;
    let broken_chain = pg_count(
        &erp,
        "SELECT count(*) FROM workflow_log w WHERE w.from_state <> coalesce(
            (SELECT p.to_state FROM workflow_log p WHERE p.sales_order_id = w.sales_order_id AND p.id < w.id
              ORDER BY p.id DESC LIMIT 1), 'NEW')",
    )
    .await?;
    let moved = pg_count(&erp, "SELECT count(DISTINCT sales_order_id) FROM workflow_log").await?;
    // CRM orders changed in the CRM after the warehouse had first moved them:
    // the updates that could have reset the workflow.
    let first_moves: BTreeMap<String, i64> = erp
        .query(
            "SELECT x.source_key, (extract(epoch FROM min(w.moved_at)) * 1000000)::bigint
               FROM workflow_log w JOIN sluice.crosswalk x ON x.name = 'crm_orders' AND x.target_key = w.sales_order_id::text
              GROUP BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let updates: Vec<(String, i64)> = crm
        .query(
            "SELECT CAST(id AS CHAR), CAST(UNIX_TIMESTAMP(updated_at) * 1000000 AS SIGNED) FROM orders WHERE updated_at IS NOT NULL",
        )
        .await?;
    let exposed = updates.iter().filter(|(id, at)| first_moves.get(id).is_some_and(|moved| at > moved)).count() as i64;
    let passed = not_last_move == 0 && by_others == 0 && broken_chain == 0;
    Ok((
        passed,
        format!(
            "{moved} orders moved by the ERP's users, {exposed} of them changed in the CRM afterwards; \
             {not_last_move} differ from their last move, {by_others} moves not by the ERP's users, \
             {broken_chain} moves from a state the order was not in"
        ),
        vec![("moved", moved), ("changed in the CRM after a move", exposed)],
    ))
}

async fn crm_stock(systems: &Systems) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let erp = systems.urls.erp().await?;
    let expected = pg_rows(
        &erp,
        &format!(
            "SELECT sku, qty_on_hand::text, qty_reserved::text, (qty_on_hand - qty_reserved)::text, to_char(updated_at, {PG_TS})
               FROM inventory WHERE warehouse = 'MAIN'"
        ),
    )
    .await?;
    let actual = maria_rows(
        &mut crm,
        &format!(
            "SELECT sku, CAST(on_hand AS CHAR), CAST(reserved AS CHAR), CAST(available AS CHAR),
                    DATE_FORMAT(updated_at, {MARIA_TS}) FROM product_stock"
        ),
    )
    .await?;
    let (equal, detail) = compare("SKUs", &expected, &actual);
    let evidence = stock_evidence(&erp).await?;
    Ok((equal, detail, evidence))
}

async fn shop_stock(systems: &Systems) -> Result<Checked> {
    let mut shop = systems.urls.shop().await?;
    let erp = systems.urls.erp().await?;
    let expected = pg_rows(
        &erp,
        &format!(
            "SELECT sku, greatest(qty_on_hand - qty_reserved, 0)::text, (qty_on_hand > qty_reserved)::int::text,
                    to_char(updated_at, {PG_TS}) FROM inventory WHERE warehouse = 'MAIN'"
        ),
    )
    .await?;
    let actual = maria_rows(
        &mut shop,
        &format!("SELECT sku, CAST(available AS CHAR), CAST(in_stock AS CHAR), DATE_FORMAT(updated_at, {MARIA_TS}) FROM stock"),
    )
    .await?;
    let (equal, detail) = compare("SKUs", &expected, &actual);
    let evidence = stock_evidence(&erp).await?;
    Ok((equal, detail, evidence))
}

async fn stock_evidence(erp: &tokio_postgres::Client) -> Result<Vec<(&'static str, i64)>> {
    let reserved =
        pg_count(erp, "SELECT count(*) FROM inventory WHERE warehouse = 'MAIN' AND qty_reserved > 0").await?;
    let east_delisted = pg_count(
        erp,
        "SELECT count(*) FROM inventory m WHERE m.warehouse = 'MAIN'
            AND NOT EXISTS (SELECT FROM inventory e WHERE e.sku = m.sku AND e.warehouse = 'EAST')",
    )
    .await?;
    Ok(vec![("SKUs with reservations", reserved), ("SKUs delisted at EAST", east_delisted)])
}

async fn shipments(systems: &Systems) -> Result<Checked> {
    let oa = systems.urls.oa().await?;
    let erp = systems.urls.erp().await?;
    // Per shipment request ever approved: its first approval (who, when).
    let approvals = pg_rows(
        &oa,
        "SELECT 'SHIP-' || r.id, r.ref, r.id::text, coalesce(e.approver, 'NULL'),
                ((extract(epoch FROM e.at) * 1000000)::bigint)::text
           FROM approval_requests r
           JOIN LATERAL (SELECT approver, at FROM approval_events
                          WHERE request_id = r.id AND status = 'approved' ORDER BY id LIMIT 1) e ON true
          WHERE r.kind = 'shipment'",
    )
    .await?;
    let requests = pg_rows(
        &erp,
        "SELECT request_no, sales_order_no, approval_id::text, coalesce(approved_by, 'NULL'),
                ((extract(epoch FROM requested_at) * 1000000)::bigint)::text FROM shipment_requests",
    )
    .await?;
    let key = |rows: &Rows| -> Rows { rows.iter().map(|r| r[..4].to_vec()).collect() };
    let (mut equal, mut detail) = compare("shipment requests", &key(&approvals), &key(&requests));
    if equal {
        // requested_at is the commit time of the approving OA transaction:
        // after the first approval's statement time, and soon after.
        let late: Vec<&str> = approvals
            .iter()
            .zip(&requests)
            .filter(|(a, r)| {
                let (approved, requested) = (a[4].parse::<i64>().unwrap_or(0), r[4].parse::<i64>().unwrap_or(-1));
                !(approved..=approved + 30_000_000).contains(&requested)
            })
            .map(|(a, _)| a[0].as_str())
            .collect();
        if !late.is_empty() {
            equal = false;
            detail = format!("requested_at is not the approving commit's time for {}", late.join(", "));
        }
    }
    let reapproved = pg_count(
        &oa,
        "SELECT count(*) FROM (SELECT request_id FROM approval_events WHERE status = 'approved'
                                 GROUP BY request_id HAVING count(*) > 1) t",
    )
    .await?;
    let annotated = pg_count(
        &oa,
        "SELECT count(*) FROM approval_requests WHERE status = 'approved' AND note = 'checked by finance'",
    )
    .await?;
    let expenses =
        pg_count(&oa, "SELECT count(*) FROM approval_requests WHERE kind = 'expense' AND status = 'approved'").await?;
    Ok((
        equal,
        format!(
            "{detail}; {reapproved} approved again after a rejection, {annotated} annotated after approval, {expenses} approved expense claims (no shipment)"
        ),
        vec![("shipments", approvals.len() as i64), ("approved twice", reapproved), ("annotated", annotated)],
    ))
}

async fn report_crm(systems: &Systems, tally: &Tally) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let report = systems.urls.report().await?;
    let expected = maria_rows(
        &mut crm,
        &format!(
            "SELECT CAST(id AS CHAR), status, CAST(total AS CHAR), DATE_FORMAT(created_at, {MARIA_TS}) FROM orders"
        ),
    )
    .await?;
    let actual = pg_rows(
        &report,
        &format!(
            "SELECT source_id::text, status, total::text, to_char(ordered_at, {PG_TS}) FROM orders
              WHERE origin = 'crm' AND deleted_at IS NULL"
        ),
    )
    .await?;
    let (live_equal, live) = compare("live CRM orders", &expected, &actual);
    let mut deleted_expected: Rows =
        tally.deleted_drafts.iter().map(|id| vec![id.to_string(), "draft".into()]).collect();
    deleted_expected.sort();
    let deleted_actual = pg_rows(
        &report,
        "SELECT source_id::text, status FROM orders WHERE origin = 'crm' AND deleted_at IS NOT NULL
            AND deleted_at >= date_trunc('second', ordered_at)",
    )
    .await?;
    let (deleted_equal, deleted) = compare("soft-deleted drafts", &deleted_expected, &deleted_actual);
    Ok((
        live_equal && deleted_equal,
        format!("{live}; {deleted}"),
        vec![("CRM orders", expected.len() as i64), ("soft-deleted", deleted_expected.len() as i64)],
    ))
}

async fn report_erp(systems: &Systems) -> Result<Checked> {
    let erp = systems.urls.erp().await?;
    let report = systems.urls.report().await?;
    let expected = pg_rows(
        &erp,
        &format!(
            "SELECT id::text, order_no, source_ref, status, workflow, total::text, to_char(ordered_at, {PG_TS}) FROM sales_orders"
        ),
    )
    .await?;
    let actual = pg_rows(
        &report,
        &format!(
            "SELECT source_id::text, order_no, crm_ref, status, workflow, total::text, to_char(ordered_at, {PG_TS})
               FROM orders WHERE origin = 'erp' AND deleted_at IS NULL"
        ),
    )
    .await?;
    let (equal, detail) = compare("ERP sales orders", &expected, &actual);
    Ok((equal, detail, vec![("ERP orders", expected.len() as i64)]))
}

async fn report_approvals(systems: &Systems) -> Result<Checked> {
    let oa = systems.urls.oa().await?;
    let report = systems.urls.report().await?;
    let query = format!(
        "SELECT id::text, kind, ref, amount::text, status, approver, note, to_char(requested_at, {PG_TS}),
                to_char(decided_at, {PG_TS}) FROM approval_requests"
    );
    let expected = pg_rows(&oa, &query).await?;
    let actual = pg_rows(&report, &query.replace("approval_requests", "approvals")).await?;
    let (equal, detail) = compare("approval requests", &expected, &actual);
    Ok((equal, detail, vec![("approvals", expected.len() as i64)]))
}

async fn report_inventory(systems: &Systems) -> Result<Checked> {
    let erp = systems.urls.erp().await?;
    let report = systems.urls.report().await?;
    let query = format!(
        "SELECT sku, warehouse, qty_on_hand::text, qty_reserved::text, to_char(updated_at, {PG_TS}) FROM inventory"
    );
    let expected = pg_rows(&erp, &query).await?;
    let actual = pg_rows(&report, &query).await?;
    let (equal, detail) = compare("inventory rows", &expected, &actual);
    Ok((equal, detail, vec![("inventory rows", expected.len() as i64)]))
}

/// `sluice dlq list --json` holds exactly the CRM orders whose status the
/// map does not know, and their lines (which have no ERP order to go under).
async fn dead_letters(systems: &Systems, sluice_bin: &Path) -> Result<Checked> {
    let mut crm = systems.urls.crm().await?;
    let unmapped = crm_orders(&mut crm).await?.unmapped;
    let mut expected: Rows = unmapped.iter().map(|id| vec!["crm_orders".to_owned(), id.clone()]).collect();
    if !unmapped.is_empty() {
        let ids: Vec<&str> = unmapped.iter().map(String::as_str).collect();
        let lines = maria_rows(
            &mut crm,
            &format!(
                "SELECT CAST(order_id AS CHAR), CAST(line_no AS CHAR) FROM order_lines WHERE order_id IN ({})",
                ids.join(", ")
            ),
        )
        .await?;
        for line in lines {
            let key = serde_json::to_string(&line)?;
            expected.push(vec!["crm_order_lines".to_owned(), key]);
        }
    }
    expected.sort();
    let output = systems.sluice_output(sluice_bin, &["dlq", "list", "--json"])?;
    anyhow::ensure!(output.status.success(), "sluice dlq list failed: {}", String::from_utf8_lossy(&output.stderr));
    // (route, source key, seq, error); later changes of a set-aside row are
    // recorded behind it ("waits behind"), so a row may have several entries.
    let mut entries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value = serde_json::from_str(line).with_context(|| format!("dlq list line {line}"))?;
        let text = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
        entries.push((text("route"), text("source_key"), text("seq"), text("error")));
    }
    entries.sort();
    let mut actual: Rows = Vec::new();
    let mut unexplained = Vec::new();
    for (route, key, _, error) in &entries {
        let first = actual.last().is_none_or(|last| last[0] != *route || last[1] != *key);
        let explained = match (first, route.as_str()) {
            (false, _) => error.contains("waits behind"),
            (true, "crm_orders") => error.contains("crm_order_status"),
            (true, "crm_order_lines") => error.contains("lookup('crm_orders'"),
            (true, _) => false,
        };
        if !explained {
            unexplained.push(format!("{route} {key}: {error}"));
        }
        if first {
            actual.push(vec![route.clone(), key.clone()]);
        }
    }
    let (mut equal, mut detail) = compare("rows set aside", &expected, &actual);
    if !unexplained.is_empty() {
        equal = false;
        detail = format!("{detail}; not for the expected reason: {}", unexplained.join("; "));
    }
    Ok((equal, format!("{detail} ({} dead letters)", entries.len()), vec![("dead letters", expected.len() as i64)]))
}
