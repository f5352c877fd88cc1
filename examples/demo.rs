//! `make demo`: the ERP/CRM/OA example (examples/erp-crm-oa) running on
//! private servers this program starts itself.
//!
//! It starts a MariaDB server (CRM and web shop), a PostgreSQL server (ERP
//! and OA) and a second PostgreSQL server (reporting), creates the
//! example's schemas from its SQL files, seeds a little data, runs `sluice
//! check` and `sluice plan --sample 3` on the example's `sluice.toml`, then
//! `sluice run` — first copying the seed, then streaming while the three
//! systems' users write for `DEMO_SECONDS` (default 20). Every second it
//! prints what arrived where and the lag. At the end it waits for Sluice to
//! catch up, checks every rule of the example row for row, shows the order
//! crosswalk, the dead letters and the reporting dashboard, and stops Sluice
//! with SIGTERM. It exits non-zero if any rule fails.
//!
//! `SLUICE_BIN` names the sluice binary (default: target/release/sluice).
//! Work files (sluice.log, the checkpoint store) go to `.demo/`.

#[path = "erp-crm-oa/scenario/mod.rs"]
mod scenario;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use scenario::generator::{self, SharedTally, Tally};
use scenario::{Systems, maria_count, pg_count, rules};

/// How long Sluice may take to copy the seed, and to catch up after the traffic.
const CATCH_UP: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<()> {
    let seconds: u64 = std::env::var("DEMO_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let bin = std::env::var("SLUICE_BIN").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("target/release/sluice"));
    if !bin.exists() {
        bail!("{} not found; run `cargo build --release --bin sluice` first (make demo does)", bin.display());
    }
    let work = PathBuf::from(".demo");
    std::fs::create_dir_all(&work)?;
    let work = std::fs::canonicalize(&work)?;
    let state = work.join("sluice-state");
    let _ = std::fs::remove_dir_all(&state);

    println!("== starting private servers: MariaDB (CRM, web shop), PostgreSQL (ERP, OA), PostgreSQL (reporting)");
    let systems = Systems::start(&state).await?;
    for (name, value) in systems.env() {
        println!("   {name:<12} {}", redact(&value));
    }
    println!("   schemas from examples/erp-crm-oa/{{crm,shop,erp,oa,report}}.sql; config {}", scenario::CONFIG);

    let tally: SharedTally = Arc::new(Mutex::new(Tally::default()));
    generator::seed(&systems.urls, &tally).await.context("seeding")?;
    println!(
        "== seeded: CRM customers, products, orders (one draft); ERP stock at MAIN and EAST, phone orders; OA expense claims"
    );

    println!("== sluice check");
    let check = systems.sluice(&bin, &["check"]).status()?;
    if !check.success() {
        bail!("sluice check failed");
    }

    println!("== sluice plan --sample 3   (a dry run on the seed rows; nothing is written)");
    let plan = systems.sluice(&bin, &["plan", "--sample", "3"]).status()?;
    if !plan.success() {
        println!(
            "   (plan exit {}: it found rows that would not be written as they are; see above)",
            plan.code().unwrap_or(-1)
        );
    }

    println!("== sluice run   (log: .demo/sluice.log)");
    let log = std::fs::File::create(work.join("sluice.log"))?;
    let mut sluice =
        Running(systems.sluice(&bin, &["run"]).stdout(Stdio::null()).stderr(log).spawn().context("starting sluice")?);
    let started = Instant::now();
    let seeded = catch_up(&systems, &bin, &tally, &mut sluice).await?;
    let failed: Vec<&rules::Outcome> = seeded.iter().filter(|o| !o.passed).collect();
    if !failed.is_empty() {
        print_outcomes(&seeded);
        bail!("the initial copy did not satisfy every rule; see .demo/sluice.log");
    }
    println!("   initial copy done in {:.1} s: every rule holds for the seed", started.elapsed().as_secs_f64());

    println!("== the three systems' users write for {seconds} s; each line: rows at the source -> rows at the target");
    let writing = tokio::spawn(generator::run(systems.urls.clone(), Duration::from_secs(seconds), Arc::clone(&tally)));
    let started = Instant::now();
    while !writing.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        sluice.check_running()?;
        println!("{}", progress(&systems, &bin, started).await.unwrap_or_else(|e| format!("   (progress: {e:#})")));
    }
    writing.await?.context("the generator failed")?;
    let done = tally.lock().unwrap().clone();
    println!(
        "== users done: {} CRM, {} ERP, {} OA transactions ({} ERP retries after deadlocks); waiting for sluice to catch up",
        done.crm_transactions, done.erp_transactions, done.oa_transactions, done.erp_retries
    );
    let waited = Instant::now();
    let outcomes = catch_up(&systems, &bin, &tally, &mut sluice).await?;
    println!("{}", progress(&systems, &bin, started).await.unwrap_or_default());
    if outcomes.iter().all(|o| o.passed) {
        println!("   caught up in {:.1} s", waited.elapsed().as_secs_f64());
    } else {
        println!("   waited {:.1} s: some rules still do not hold", waited.elapsed().as_secs_f64());
    }

    println!("== rules");
    print_outcomes(&outcomes);

    println!("== sluice crosswalk show --route crm_orders   (first lines)");
    let shown = systems.sluice_output(&bin, &["crosswalk", "show", "--route", "crm_orders"])?;
    let text = String::from_utf8_lossy(&shown.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(8) {
        println!("   {line}");
    }
    if let Some(last) = lines.last().filter(|_| lines.len() > 8) {
        println!("   …\n   {last}");
    }

    println!("== sluice dlq list");
    let listed = systems.sluice_output(&bin, &["dlq", "list"])?;
    for line in String::from_utf8_lossy(&listed.stdout).lines() {
        println!("   {line}");
    }

    println!("== SELECT * FROM dashboard   (reporting database)");
    print_dashboard(&systems).await?;

    println!("== stopping sluice (SIGTERM)");
    let status = sluice.terminate()?;
    println!("   sluice exited with {status}");
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if failed > 0 || !status.success() {
        bail!("demo failed: {failed} rule(s) broken, sluice {status}; see .demo/sluice.log");
    }
    println!("== demo complete: every rule holds");
    Ok(())
}

/// [`rules::settle`] while sluice runs.
async fn catch_up(
    systems: &Systems,
    bin: &Path,
    tally: &SharedTally,
    sluice: &mut Running,
) -> Result<Vec<rules::Outcome>> {
    rules::settle(systems, bin, tally, CATCH_UP, || sluice.check_running()).await
}

fn print_outcomes(outcomes: &[rules::Outcome]) {
    for outcome in outcomes {
        println!("   {}  {}", if outcome.passed { "PASS" } else { "FAIL" }, outcome.rule);
        println!("         {}", outcome.detail);
        if !outcome.evidence.is_empty() {
            let counts: Vec<String> = outcome.evidence.iter().map(|(what, n)| format!("{what}: {n}")).collect();
            println!("         exercised by {}", counts.join(", "));
        }
    }
}

/// One line: per flow, rows at the source -> rows at the target; stock
/// SKUs that differ; dead letters; lag per source from `sluice status`.
async fn progress(systems: &Systems, bin: &Path, started: Instant) -> Result<String> {
    let mut crm = systems.urls.crm().await?;
    let erp = systems.urls.erp().await?;
    let oa = systems.urls.oa().await?;
    let report = systems.urls.report().await?;
    let crm_customers = maria_count(&mut crm, "SELECT COUNT(*) FROM customers").await?;
    let crm_orders = maria_count(&mut crm, "SELECT COUNT(*) FROM orders WHERE status <> 'draft'").await?;
    let crm_lines = maria_count(&mut crm, "SELECT COUNT(*) FROM order_lines").await?;
    let crm_all = maria_count(&mut crm, "SELECT COUNT(*) FROM orders").await?;
    let erp_customers = pg_count(&erp, "SELECT count(*) FROM customers WHERE source = 'crm'").await?;
    let erp_orders = pg_count(&erp, "SELECT count(*) FROM sales_orders WHERE source = 'crm'").await?;
    let erp_lines = pg_count(
        &erp,
        "SELECT count(*) FROM sales_order_lines l JOIN sales_orders o ON o.id = l.sales_order_id WHERE o.source = 'crm'",
    )
    .await?;
    let erp_all = pg_count(&erp, "SELECT count(*) FROM sales_orders").await?;
    let shipments = pg_count(&erp, "SELECT count(*) FROM shipment_requests").await?;
    let dead = pg_count(&erp, "SELECT count(*) FROM sluice.dead_letters").await.unwrap_or(0);
    let approved = pg_count(
        &oa,
        "SELECT count(DISTINCT e.request_id) FROM approval_events e JOIN approval_requests r ON r.id = e.request_id
          WHERE e.status = 'approved' AND r.kind = 'shipment'",
    )
    .await?;
    let approvals = pg_count(&oa, "SELECT count(*) FROM approval_requests").await?;
    let report_crm =
        pg_count(&report, "SELECT count(*) FROM orders WHERE origin = 'crm' AND deleted_at IS NULL").await?;
    let report_deleted = pg_count(&report, "SELECT count(*) FROM orders WHERE deleted_at IS NOT NULL").await?;
    let report_erp = pg_count(&report, "SELECT count(*) FROM orders WHERE origin = 'erp'").await?;
    let report_approvals = pg_count(&report, "SELECT count(*) FROM approvals").await?;
    let main = scenario::pg_rows(
        &erp,
        "SELECT sku, (qty_on_hand - qty_reserved)::text, greatest(qty_on_hand - qty_reserved, 0)::text
           FROM inventory WHERE warehouse = 'MAIN'",
    )
    .await?;
    let crm_stock = scenario::maria_rows(&mut crm, "SELECT sku, CAST(available AS CHAR) FROM product_stock").await?;
    let shop_stock =
        scenario::maria_rows(&mut systems.urls.shop().await?, "SELECT sku, CAST(available AS CHAR) FROM stock").await?;
    let crm_differ = differing(&main, 1, &crm_stock);
    let shop_differ = differing(&main, 2, &shop_stock);
    Ok(format!(
        "   {:>3}s  customers {crm_customers}->{erp_customers}  orders {crm_orders}->{erp_orders}  \
         lines {crm_lines}->{erp_lines}  stock off: crm {crm_differ} shop {shop_differ}  \
         shipments {approved}->{shipments}  report: crm {crm_all}->{report_crm}(+{report_deleted} deleted) erp {erp_all}->{report_erp} \
         approvals {approvals}->{report_approvals}  dlq {dead}  lag {}",
        started.elapsed().as_secs(),
        lag(systems, bin)
    ))
}

/// SKUs whose availability (column `column` of the ERP's rows) the target rows do not show.
fn differing(erp: &[Vec<String>], column: usize, target: &[Vec<String>]) -> usize {
    let shown: std::collections::BTreeMap<&str, &str> = target.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    erp.iter().filter(|r| shown.get(r[0].as_str()) != Some(&r[column].as_str())).count()
}

/// `crm 0.1s erp 0.0s oa 0.0s` from `sluice status --json`.
fn lag(systems: &Systems, bin: &Path) -> String {
    let Ok(output) = systems.sluice_output(bin, &["status", "--json"]) else { return "?".into() };
    let Ok(status) = serde_json::from_slice::<serde_json::Value>(&output.stdout) else { return "?".into() };
    let sources = status.as_array().cloned().unwrap_or_default();
    sources
        .iter()
        .map(|s| {
            let name = s["source"].as_str().unwrap_or("?");
            match (s["lag_seconds"].as_f64(), s["lag_bytes"].as_u64()) {
                (Some(seconds), _) => format!("{name} {seconds:.1}s"),
                (None, Some(bytes)) => format!("{name} {bytes}B"),
                (None, None) => format!("{name} ?"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn print_dashboard(systems: &Systems) -> Result<()> {
    let report = systems.urls.report().await?;
    let rows = report.query("SELECT section, item, value FROM dashboard", &[]).await?;
    let mut section = String::new();
    let mut shown = 0;
    for row in &rows {
        let (this, item, value): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        if this != section {
            println!("   {this}");
            section = this;
            shown = 0;
        }
        shown += 1;
        if shown <= 6 {
            println!("      {item:<34} {value}");
        } else if shown == 7 {
            println!("      …");
        }
    }
    Ok(())
}

/// `scheme://user:password@host` shown as `scheme://user:***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if url[scheme + 3..at].contains(':') => {
            let colon = scheme + 3 + url[scheme + 3..at].find(':').expect("checked");
            format!("{}***{}", &url[..=colon], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The sluice child process; killed if the demo fails before stopping it.
struct Running(Child);

impl Running {
    fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.0.try_wait()? {
            bail!("sluice exited with {status}; see .demo/sluice.log");
        }
        Ok(())
    }

    /// SIGTERM, then waits for the exit.
    fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        let signalled = std::process::Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status()?;
        if !signalled.success() {
            bail!("could not signal sluice");
        }
        Ok(self.0.wait()?)
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
