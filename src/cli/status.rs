//! `sluice status`: per source, where the targets stand (their offsets
//! tables, authoritative), what the checkpoint store holds (when no engine
//! holds its lock), where the server is, the lag in bytes and seconds, and
//! the WAL the slot retains. Reads only; safe while `sluice run` runs.

use serde::Serialize;
use sluice_api::Position;
use sluice_checkpoints::CheckpointStore;

use super::{EXIT_FAILED, EXIT_OK};
use crate::config::{Config, SourceConfig};

#[derive(Debug, Serialize)]
pub(crate) struct SourceStatus {
    source: String,
    kind: &'static str,
    /// Position acknowledged to the source, from the checkpoint store; `None`
    /// when the store is held by a running engine or has nothing.
    checkpoint: Option<String>,
    checkpoint_note: Option<String>,
    targets: Vec<TargetStatus>,
    /// The server's current WAL position.
    server_position: Option<String>,
    slot: Option<SlotReport>,
    /// Bytes of WAL between the lowest target position and the server's current position.
    lag_bytes: Option<u64>,
    /// Seconds the targets are behind: 0 when caught up, the walsender's
    /// measured flush lag while Sluice streams; `None` (unknown) when WAL lies
    /// beyond the targets and nothing is streaming it.
    lag_seconds: Option<f64>,
    /// Snapshot jobs (initial copies and backfills): from the running
    /// engine when one holds the store, else from the store.
    snapshots: Vec<SnapshotStatus>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SnapshotStatus {
    kind: String,
    route: String,
    table: String,
    rows_copied: u64,
    chunks_done: u64,
    done: bool,
}

#[derive(Debug, Serialize)]
struct TargetStatus {
    target: String,
    position: Option<String>,
    updated_at: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct SlotReport {
    name: String,
    confirmed_flush: String,
    restart_lsn: String,
    retained_wal_bytes: u64,
    active: bool,
    wal_status: String,
}

pub(super) async fn status(config: Config, json: bool) -> u8 {
    let store = CheckpointStore::open(&config.checkpoints_path);
    let running_jobs = match &store {
        Err(sluice_checkpoints::CheckpointError::Locked { .. }) => {
            crate::admin::request_status(&crate::admin::socket_path(&config)).await.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let mut reports = Vec::new();
    for (name, source) in &config.sources {
        let mut report = SourceStatus {
            source: name.clone(),
            kind: source.kind(),
            checkpoint: None,
            checkpoint_note: None,
            targets: Vec::new(),
            server_position: None,
            slot: None,
            lag_bytes: None,
            lag_seconds: None,
            snapshots: Vec::new(),
            error: None,
        };
        match &store {
            Ok(store) => {
                for job in store.snapshots(name).unwrap_or_default() {
                    report.snapshots.push(SnapshotStatus {
                        kind: job.kind,
                        route: job.route,
                        table: job.table,
                        rows_copied: job.rows_copied,
                        chunks_done: job.chunks_done,
                        done: job.done,
                    });
                }
            }
            Err(_) => {
                for job in running_jobs.iter().filter(|j| &j.source == name) {
                    report.snapshots.push(SnapshotStatus {
                        kind: job.kind.clone(),
                        route: job.route.clone(),
                        table: job.table.clone(),
                        rows_copied: job.rows_copied,
                        chunks_done: job.chunks_done,
                        done: job.done,
                    });
                }
            }
        }
        match &store {
            Ok(store) => match store.acknowledged(name) {
                Ok(Some(checkpoint)) => report.checkpoint = Some(checkpoint.position),
                Ok(None) => report.checkpoint_note = Some("no checkpoint yet".into()),
                Err(error) => report.checkpoint_note = Some(error.to_string()),
            },
            Err(sluice_checkpoints::CheckpointError::Locked { .. }) => {
                report.checkpoint_note = Some("held by a running sluice; see the targets' positions".into())
            }
            Err(error) => report.checkpoint_note = Some(error.to_string()),
        }

        // Targets of this source.
        let targets = config.targets_of_source(name);
        let mut lowest: Option<Position> = None;
        for target in targets {
            let mut entry = TargetStatus { target: target.clone(), position: None, updated_at: None, error: None };
            match crate::connectors::target_position(&config.targets[target], name).await {
                Ok(Some(position)) => {
                    entry.position = Some(position.encode());
                    if lowest.as_ref().is_none_or(|low| position < *low) {
                        lowest = Some(position);
                    }
                }
                Ok(None) => entry.position = None,
                Err(error) => entry.error = Some(crate::pipeline::error_chain(&error)),
            }
            report.targets.push(entry);
        }

        let (url, slot) = match source {
            SourceConfig::Postgres { url, slot, .. } => (url, slot),
            SourceConfig::Mysql { url, .. } => {
                binlog_status(url.expose(), lowest, &mut report).await;
                reports.push(report);
                continue;
            }
        };
        match sluice_postgres::connect(url.expose()).await {
            Ok(client) => match sluice_postgres::slot_status(&client, slot).await {
                Ok(Some(status)) => {
                    report.server_position = Some(Position::Postgres(status.current_wal).encode());
                    report.slot = Some(SlotReport {
                        name: slot.clone(),
                        confirmed_flush: status.confirmed_flush.to_string(),
                        restart_lsn: status.restart_lsn.to_string(),
                        retained_wal_bytes: status.retained_bytes,
                        active: status.active,
                        wal_status: status.wal_status.clone(),
                    });
                    let applied = lowest.clone().unwrap_or(Position::Postgres(status.confirmed_flush));
                    let applied_lsn = match applied {
                        Position::Postgres(lsn) => lsn.0,
                        Position::Binlog(_) => status.confirmed_flush.0,
                    };
                    let lag = status.current_wal.0.saturating_sub(applied_lsn);
                    report.lag_bytes = Some(lag);
                    report.lag_seconds = lag_seconds(&client, slot, lag).await;
                }
                Ok(None) => {
                    report.error = Some(format!("replication slot {slot} does not exist (created on first run)"))
                }
                Err(error) => report.error = Some(crate::pipeline::error_chain(&error)),
            },
            Err(error) => report.error = Some(crate::pipeline::error_chain(&error)),
        }
        reports.push(report);
    }
    if json {
        match serde_json::to_string_pretty(&reports) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("error: {error}");
                return EXIT_FAILED;
            }
        }
    } else {
        print_table(&reports);
    }
    if reports.iter().any(|r| r.error.is_some() || r.targets.iter().any(|t| t.error.is_some())) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// A binlog source: the server's current position and, when the targets'
/// position is in the same or a still-listed file, the bytes between them.
async fn binlog_status(url: &str, applied: Option<Position>, report: &mut SourceStatus) {
    let status = async {
        let mut conn = sluice_mysql::connect(url).await?;
        let status = sluice_mysql::binlog_status(&mut conn).await?;
        let lag = match &applied {
            Some(Position::Binlog(applied)) => binlog_bytes_between(&mut conn, applied, &status).await?,
            _ => None,
        };
        let _ = conn.disconnect().await;
        Ok::<_, sluice_mysql::MySqlError>((status, lag))
    }
    .await;
    match status {
        Ok((status, lag)) => {
            report.server_position = Some(
                Position::Binlog(sluice_api::BinlogPosition {
                    file: status.file,
                    offset: status.offset,
                    gtid: status.gtid,
                })
                .encode(),
            );
            report.lag_bytes = lag;
            report.lag_seconds = lag.filter(|l| *l == 0).map(|_| 0.0);
        }
        Err(error) => report.error = Some(crate::pipeline::error_chain(&error)),
    }
}

/// Bytes of binlog from `applied` to the server's current end, summing the
/// sizes `SHOW BINARY LOGS` lists; `None` when `applied`'s file is gone
/// (purged: see `sluice check`).
async fn binlog_bytes_between(
    conn: &mut mysql_async::Conn,
    applied: &sluice_api::BinlogPosition,
    status: &sluice_mysql::BinlogStatus,
) -> Result<Option<u64>, sluice_mysql::MySqlError> {
    use mysql_async::prelude::Queryable;
    let files: Vec<mysql_async::Row> = conn
        .query("SHOW BINARY LOGS")
        .await
        .map_err(|source| sluice_mysql::MySqlError::Driver { context: "listing binary logs".into(), source })?;
    let mut total = 0u64;
    let mut counting = false;
    for row in files {
        let name: String = row.get(0).unwrap_or_default();
        let size: u64 = row.get(1).unwrap_or_default();
        if name == applied.file {
            counting = true;
            total += size.saturating_sub(applied.offset);
            if name == status.file {
                return Ok(Some(status.offset.saturating_sub(applied.offset)));
            }
            continue;
        }
        if counting {
            if name == status.file {
                return Ok(Some(total + status.offset));
            }
            total += size;
        }
    }
    Ok(None)
}

/// 0 when caught up; while Sluice streams, the walsender's own measurement
/// (`pg_stat_replication.flush_lag`, from our status updates; NULL once the
/// walsender has caught up, hence 0); `None` when WAL waits and no walsender
/// streams it (Sluice stopped): the age of that backlog is not known.
async fn lag_seconds(client: &tokio_postgres::Client, slot: &str, lag_bytes: u64) -> Option<f64> {
    if lag_bytes == 0 {
        return Some(0.0);
    }
    let query = "SELECT EXTRACT(EPOCH FROM r.flush_lag)::float8 FROM pg_stat_replication r \
                 JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = $1";
    match client.query_opt(query, &[&slot]).await {
        Ok(Some(row)) => Some(row.get::<_, Option<f64>>(0).unwrap_or(0.0)),
        _ => None,
    }
}

fn print_table(reports: &[SourceStatus]) {
    for report in reports {
        println!("source {} ({})", report.source, report.kind);
        if let Some(error) = &report.error {
            println!("  error:            {error}");
        }
        match (&report.checkpoint, &report.checkpoint_note) {
            (Some(position), _) => println!("  checkpoint:       {position}"),
            (None, Some(note)) => println!("  checkpoint:       - ({note})"),
            (None, None) => println!("  checkpoint:       -"),
        }
        for target in &report.targets {
            match (&target.position, &target.error) {
                (_, Some(error)) => println!("  target {:<10} error: {error}", target.target),
                (Some(position), None) => println!("  target {:<10} {position}", target.target),
                (None, None) => println!("  target {:<10} - (nothing applied yet)", target.target),
            }
        }
        if let Some(position) = &report.server_position {
            println!("  server position:  {position}");
        }
        if let Some(lag) = report.lag_bytes {
            match report.lag_seconds {
                Some(seconds) => println!("  lag:              {} ({seconds:.1} s)", human_bytes(lag)),
                None => println!("  lag:              {} (not streaming: age unknown)", human_bytes(lag)),
            }
        }
        for job in &report.snapshots {
            println!(
                "  {} copy of {} (route {}): {} rows in {} chunks, {}",
                job.kind,
                job.table,
                job.route,
                job.rows_copied,
                job.chunks_done,
                if job.done { "done" } else { "in progress" }
            );
        }
        if let Some(slot) = &report.slot {
            println!(
                "  slot {}: confirmed {}, retains {} of WAL, {}, wal_status {}",
                slot.name,
                slot.confirmed_flush,
                human_bytes(slot.retained_wal_bytes),
                if slot.active { "active" } else { "inactive" },
                slot.wal_status
            );
        }
    }
}

pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
