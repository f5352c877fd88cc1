//! The ERP/CRM/OA example (examples/erp-crm-oa) end to end: its SQL files
//! and its `sluice.toml` as they are, on private MariaDB and PostgreSQL
//! servers, with the demo's traffic generator and rule checks
//! (examples/erp-crm-oa/scenario) — plus a `kill -9` of Sluice while the
//! three systems write, and a restart.
//!
//! Sluice first copies the seed (every rule must hold for it), then the
//! three systems write for a few seconds; Sluice is killed once CRM orders
//! are flowing into the ERP, and restarted at once. Once the traffic stops and Sluice has caught
//! up, every rule must hold row for row: replayed changes must not create a
//! second ERP customer, order or shipment request, and the crosswalk must
//! match the ERP's rows one to one. Each rule must also have been exercised
//! (its evidence counts are not zero), so a rule cannot pass vacuously.

#[path = "../../examples/erp-crm-oa/scenario/mod.rs"]
mod scenario;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scenario::generator::{self, SharedTally, Tally};
use scenario::{CONFIG, Systems, pg_count, rules};

use super::support::{SLUICE, Sluice, wait_for};

/// How long the three systems' users write.
const TRAFFIC: Duration = Duration::from_secs(8);
/// How long Sluice may take to catch up afterwards.
const CATCH_UP: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn erp_crm_oa_example_keeps_every_rule_through_a_kill_9_mid_traffic() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let systems = Systems::start(&dir.path().join("state")).await.expect("servers and schemas");
    let tally: SharedTally = Arc::new(Mutex::new(Tally::default()));
    generator::seed(&systems.urls, &tally).await.expect("seed");
    let bin = Path::new(SLUICE);
    let check = systems.sluice_output(bin, &["check"]).expect("sluice check");
    assert!(check.status.success(), "sluice check\n{}", String::from_utf8_lossy(&check.stdout));

    let env = systems.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut sluice = Sluice::spawn_with_env(Path::new(CONFIG), dir.path(), &env);
    let copied = rules::settle(&systems, bin, &tally, CATCH_UP, || {
        sluice.assert_running();
        Ok(())
    })
    .await
    .expect("settle");
    assert!(copied.iter().all(|o| o.passed), "the initial copy of the seed breaks rules:\n{}", summary(&copied));
    let erp = systems.urls.erp().await.expect("ERP session");
    let crm_orders = "SELECT count(*) FROM sales_orders WHERE source = 'crm'";
    let copied_orders = pg_count(&erp, crm_orders).await.expect("ERP orders");
    let traffic = tokio::spawn(generator::run(systems.urls.clone(), TRAFFIC, Arc::clone(&tally)));

    // Kill -9 while CRM orders are flowing into the ERP, then restart at once.
    wait_for(Duration::from_secs(60), &mut sluice, || async {
        pg_count(&erp, crm_orders).await.unwrap_or(0) >= copied_orders + 15
    })
    .await;
    assert!(!traffic.is_finished(), "the kill must come while the systems are still writing");
    sluice.kill9();
    let killed_after = tally.lock().unwrap().crm_transactions;
    sluice = Sluice::spawn_with_env(Path::new(CONFIG), dir.path(), &env);

    traffic.await.expect("traffic task").expect("traffic");
    let done = tally.lock().unwrap().clone();
    assert!(done.crm_transactions > killed_after, "the CRM kept writing after the kill");

    let outcomes = rules::settle(&systems, bin, &tally, CATCH_UP, || {
        sluice.assert_running();
        Ok(())
    })
    .await
    .expect("settle");
    let report = summary(&outcomes);
    assert!(outcomes.iter().all(|o| o.passed), "rules broken:\n{report}\n{}", sluice.log_tail());

    // No rule may pass vacuously: each was exercised by rows of this run.
    let evidence = |name: &str| -> i64 {
        outcomes.iter().flat_map(|o| &o.evidence).find(|(n, _)| *n == name).map_or(0, |(_, v)| *v)
    };
    for name in [
        "customers",
        "orders",
        "updated in the CRM",
        "lines",
        "orders edited or submitted later",
        "moved",
        "changed in the CRM after a move",
        "SKUs with reservations",
        "SKUs delisted at EAST",
        "shipments",
        "approved twice",
        "annotated",
        "soft-deleted",
        "ERP orders",
        "approvals",
        "dead letters",
    ] {
        assert!(evidence(name) > 0, "rule evidence {name:?} is 0: the traffic did not exercise it\n{report}");
    }

    // The CLI shows the same crosswalk the rules checked.
    let shown =
        systems.sluice_output(bin, &["crosswalk", "show", "--route", "crm_orders", "--format", "csv"]).expect("show");
    let pairs = pg_count(&erp, "SELECT count(*) FROM sluice.crosswalk WHERE name = 'crm_orders'").await.expect("pairs");
    let listed = String::from_utf8_lossy(&shown.stdout).lines().skip(1).count() as i64;
    assert!(shown.status.success() && listed == pairs, "crosswalk show lists {listed} pairs, the table holds {pairs}");

    assert_eq!(sluice.terminate(), Some(0), "SIGTERM stops sluice cleanly\n{}", sluice.log_tail());
    eprintln!(
        "example: {} CRM, {} ERP, {} OA transactions, killed after {killed_after} CRM transactions; {:.1} s\n{report}",
        done.crm_transactions,
        done.erp_transactions,
        done.oa_transactions,
        started.elapsed().as_secs_f64()
    );
}

/// One rule per paragraph: PASS/FAIL, the rule, what was compared, the evidence counts.
fn summary(outcomes: &[rules::Outcome]) -> String {
    let lines: Vec<String> = outcomes
        .iter()
        .map(|o| {
            format!("{} {}\n      {}\n      {:?}", if o.passed { "PASS" } else { "FAIL" }, o.rule, o.detail, o.evidence)
        })
        .collect();
    lines.join("\n")
}
