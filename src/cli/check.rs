//! `sluice check`: connects to every source and target and checks the
//! prerequisites, printing each problem with its fix. Writes nothing.
//!
//! Source checks come from the connector (server settings, privileges, slot,
//! publication, keys). Target checks get, per route, what the route will
//! write: the target columns with the source column types, and the key. The
//! route's own resolution (column mapping, key within the replica identity)
//! runs too, so a mapping that `run` would refuse is reported here first.

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_api::{BinlogPosition, Finding, Position, Severity, TableName, TableSchema, TargetExpectation};

use super::{EXIT_OK, EXIT_PREREQUISITES};
use crate::config::{Config, RouteConfig, SourceConfig, TargetConfig};
use crate::route::Route;

async fn check_source(config: &SourceConfig, tables: &[TableName], checkpoint: Option<Position>) -> Vec<Finding> {
    match config {
        SourceConfig::Postgres { url, slot, publication, .. } => {
            sluice_postgres::check_source(url.expose(), slot, publication, tables).await
        }
        SourceConfig::Mysql { url, server_id, .. } => {
            let binlog: Option<BinlogPosition> = match checkpoint {
                Some(Position::Binlog(position)) => Some(position),
                _ => None,
            };
            sluice_mysql::check_source(url.expose(), *server_id, tables, binlog.as_ref()).await
        }
    }
}

/// What a route expects of its target table when the table cannot be
/// described: its source columns by name (the target check reports why).
fn expectation_by_name(route: &RouteConfig, schema: &TableSchema) -> TargetExpectation {
    let columns = schema
        .columns
        .iter()
        .flat_map(|c| route.targets_of(&c.name).into_iter().map(|t| (t.to_owned(), Some(c.column_type.clone()))))
        .collect();
    let primary_key: Vec<&str> = schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.as_str()).collect();
    let key = route.key.clone().unwrap_or_else(|| {
        primary_key.iter().filter_map(|k| route.targets_of(k).first().map(|t| (*t).to_owned())).collect()
    });
    TargetExpectation { table: route.into.clone(), columns, key }
}

async fn check_target(config: &TargetConfig, expectations: &[TargetExpectation]) -> Vec<Finding> {
    match config {
        TargetConfig::Postgres { url, offsets_table, .. } => {
            sluice_postgres::check_target(url.expose(), offsets_table, expectations).await
        }
        TargetConfig::Mysql { url, offsets_table, .. } => {
            sluice_mysql::check_target(url.expose(), offsets_table, expectations).await
        }
    }
}

/// Where `source` would resume from the positions its targets hold, as
/// `run` chooses it (for the binlog retention check); a target that cannot
/// be read is left out (its own check reports it). An error finding when
/// the positions cannot be reconciled (`run` would refuse to start).
async fn targets_position(config: &Config, source: &str) -> Result<Option<Position>, Finding> {
    let targets = config.targets_of_source(source);
    let mut held = Vec::new();
    for target in targets {
        if let Ok(Some(position)) = crate::connectors::target_position(&config.targets[target], source).await {
            held.push((target.clone(), position));
        }
    }
    crate::connectors::resume_position(&config.sources[source], source, &held)
        .map_err(|error| Finding::error("checkpoint", error.to_string(), None))
}

pub(super) async fn check(config: Config) -> u8 {
    let mut sections: Vec<(String, Vec<Finding>)> = Vec::new();
    let mut source_schemas: BTreeMap<(String, String), Option<Arc<TableSchema>>> = BTreeMap::new();

    for (name, source) in &config.sources {
        let mut tables: Vec<_> = config.routes_of_source(name).map(|r| r.table.clone()).collect();
        tables.sort();
        tables.dedup();
        let (checkpoint, unresumable) = match source {
            SourceConfig::Mysql { .. } => match targets_position(&config, name).await {
                Ok(checkpoint) => (checkpoint, None),
                Err(finding) => (None, Some(finding)),
            },
            SourceConfig::Postgres { .. } => (None, None),
        };
        let mut findings = check_source(source, &tables, checkpoint).await;
        findings.extend(unresumable);
        // Source table schemas, for the target checks.
        for table in &tables {
            let schema = crate::connectors::describe_source_table(source, table).await.ok().flatten();
            source_schemas.insert((name.clone(), table.to_string()), schema.map(Arc::new));
        }
        sections.push((format!("source {name} ({})", source.url().redacted()), findings));
    }

    for (name, target) in &config.targets {
        let routes: Vec<_> = config.routes.iter().filter(|r| &r.target == name).collect();
        let mut expectations = Vec::new();
        let mut route_findings = Vec::new();
        for route in &routes {
            let schema = source_schemas.get(&(route.source.clone(), route.table.to_string())).cloned().flatten();
            let Some(schema) = schema else { continue };
            let subject = format!("route {}", route.name);
            // The route resolved against the target's actual shape tells
            // which target columns it writes (renamed, computed, by name).
            let shape = match crate::connectors::describe_target(target, &route.into).await {
                Ok(Some(shape)) => shape,
                // A missing table or an unreachable target is reported by the target check below.
                _ => {
                    expectations.push(expectation_by_name(route, &schema));
                    continue;
                }
            };
            let primary_key: Vec<String> = schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect();
            let resolved = Route::new(RouteConfig::clone(route), shape, primary_key, config.maps.clone())
                .and_then(|mut r| r.resolve(&schema));
            match resolved {
                Ok(resolved) => {
                    expectations.push(resolved.expectation(&schema));
                    route_findings.push(Finding::ok(subject, format!("{} maps into {}", route.table, route.into)));
                }
                Err(error) => route_findings.push(Finding::error(subject, error.to_string(), None)),
            }
        }
        let mut findings = check_target(target, &expectations).await;
        findings.extend(route_findings);
        sections.push((format!("target {name} ({})", target.url().redacted()), findings));
    }

    let mut errors = 0;
    let mut warnings = 0;
    for (heading, findings) in &sections {
        println!("{heading}");
        for finding in findings {
            let label = match finding.severity {
                Severity::Ok => "ok     ",
                Severity::Warning => {
                    warnings += 1;
                    "WARN   "
                }
                Severity::Error => {
                    errors += 1;
                    "ERROR  "
                }
            };
            println!("  {label}{}: {}", finding.subject, finding.message);
            if let Some(fix) = &finding.fix {
                println!("         fix: {fix}");
            }
        }
    }
    println!("{errors} error(s), {warnings} warning(s)");
    if errors > 0 { EXIT_PREREQUISITES } else { EXIT_OK }
}
