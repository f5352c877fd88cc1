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

use sluice_api::{BinlogPosition, ColumnType, Position, TableName, TableSchema};

use super::{EXIT_OK, EXIT_PREREQUISITES};
use crate::config::{Config, SourceConfig, TargetConfig};
use crate::route::Route;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    Ok,
    Warning,
    Error,
}

/// A finding, whichever connector made it.
struct Finding {
    severity: Severity,
    subject: String,
    message: String,
    fix: Option<String>,
}

/// The connectors' findings have the same fields; convert them all.
macro_rules! from_connector_findings {
    ($module:ident) => {
        impl From<$module::Finding> for Finding {
            fn from(finding: $module::Finding) -> Finding {
                Finding {
                    severity: match finding.severity {
                        $module::Severity::Ok => Severity::Ok,
                        $module::Severity::Warning => Severity::Warning,
                        $module::Severity::Error => Severity::Error,
                    },
                    subject: finding.subject,
                    message: finding.message,
                    fix: finding.fix,
                }
            }
        }
    };
}
from_connector_findings!(sluice_postgres);
from_connector_findings!(sluice_mysql);

/// What a route expects of one target table.
struct Expectation {
    table: TableName,
    columns: Vec<(String, Option<ColumnType>)>,
    key: Vec<String>,
}

async fn check_source(config: &SourceConfig, tables: &[TableName], checkpoint: Option<Position>) -> Vec<Finding> {
    match config {
        SourceConfig::Postgres { url, slot, publication, .. } => {
            sluice_postgres::check_source(url.expose(), slot, publication, tables)
                .await
                .into_iter()
                .map(Into::into)
                .collect()
        }
        SourceConfig::Mysql { url, server_id, .. } => {
            let binlog: Option<BinlogPosition> = match checkpoint {
                Some(Position::Binlog(position)) => Some(position),
                _ => None,
            };
            sluice_mysql::check_source(url.expose(), *server_id, tables, binlog.as_ref())
                .await
                .into_iter()
                .map(Into::into)
                .collect()
        }
    }
}

async fn check_target(config: &TargetConfig, expectations: Vec<Expectation>) -> Vec<Finding> {
    match config {
        TargetConfig::Postgres { url, offsets_table } => {
            let expectations: Vec<_> = expectations
                .into_iter()
                .map(|e| sluice_postgres::TargetExpectation { table: e.table, columns: e.columns, key: e.key })
                .collect();
            sluice_postgres::check_target(url.expose(), offsets_table, &expectations)
                .await
                .into_iter()
                .map(Into::into)
                .collect()
        }
        TargetConfig::Mysql { url, offsets_table } => {
            let expectations: Vec<_> = expectations
                .into_iter()
                .map(|e| sluice_mysql::TargetExpectation { table: e.table, columns: e.columns, key: e.key })
                .collect();
            sluice_mysql::check_target(url.expose(), offsets_table, &expectations)
                .await
                .into_iter()
                .map(Into::into)
                .collect()
        }
    }
}

/// The lowest position the targets of `source` hold, if any (for the binlog retention check).
async fn targets_position(config: &Config, source: &str) -> Option<Position> {
    let mut lowest: Option<Position> = None;
    for route in config.routes_of_source(source) {
        if let Ok(Some(position)) = crate::connectors::target_position(&config.targets[&route.target], source).await
            && lowest.as_ref().is_none_or(|low| position < *low)
        {
            lowest = Some(position);
        }
    }
    lowest
}

pub(super) async fn check(config: Config) -> u8 {
    let mut sections: Vec<(String, Vec<Finding>)> = Vec::new();
    let mut source_schemas: BTreeMap<(String, String), Option<Arc<TableSchema>>> = BTreeMap::new();

    for (name, source) in &config.sources {
        let mut tables: Vec<_> = config.routes_of_source(name).map(|r| r.table.clone()).collect();
        tables.sort();
        tables.dedup();
        let checkpoint = match source {
            SourceConfig::Mysql { .. } => targets_position(&config, name).await,
            SourceConfig::Postgres { .. } => None,
        };
        let findings = check_source(source, &tables, checkpoint).await;
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
            let mut columns = Vec::new();
            for column in &schema.columns {
                if route.exclude.contains(&column.name) {
                    continue;
                }
                let mapped: Vec<&String> =
                    route.columns.iter().filter(|(_, source)| **source == column.name).map(|(t, _)| t).collect();
                if mapped.is_empty() {
                    columns.push((column.name.clone(), Some(column.column_type.clone())));
                } else {
                    columns.extend(mapped.into_iter().map(|t| (t.clone(), Some(column.column_type.clone()))));
                }
            }
            let primary_key: Vec<String> = schema.columns.iter().filter(|c| c.is_key).map(|c| c.name.clone()).collect();
            let key = route.key.clone().unwrap_or_else(|| {
                primary_key
                    .iter()
                    .map(|k| route.columns.iter().find(|(_, s)| *s == k).map_or_else(|| k.clone(), |(t, _)| t.clone()))
                    .collect()
            });
            expectations.push(Expectation { table: route.into.clone(), columns, key });

            // The route's own resolution, against the target's actual shape.
            if let Ok(Some(shape)) = crate::connectors::describe_target(target, &route.into).await {
                let resolved = Route::new((*route).clone(), shape, primary_key.clone())
                    .and_then(|mut r| r.resolve(&schema).map(|_| ()));
                match resolved {
                    Ok(()) => route_findings.push(Finding {
                        severity: Severity::Ok,
                        subject: format!("route {}", route.name),
                        message: format!("{} maps into {}", route.table, route.into),
                        fix: None,
                    }),
                    Err(error) => route_findings.push(Finding {
                        severity: Severity::Error,
                        subject: format!("route {}", route.name),
                        message: error.to_string(),
                        fix: None,
                    }),
                }
            }
        }
        let mut findings = check_target(target, expectations).await;
        // A missing column is reported by the target check already; the
        // route's message adds the mapping choices, so keep both only when
        // the target check found nothing wrong with that table.
        let failing_tables: Vec<String> =
            findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.subject.clone()).collect();
        for finding in route_findings {
            let table_failed = routes.iter().any(|r| {
                finding.subject == format!("route {}", r.name)
                    && failing_tables.iter().any(|s| s.contains(&r.into.to_string()))
            });
            if !(table_failed && finding.severity == Severity::Error) {
                findings.push(finding);
            }
        }
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
