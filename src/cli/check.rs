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

use sluice_api::TableSchema;
use sluice_postgres::{Finding, Severity, TargetExpectation, check_source, check_target};

use super::{EXIT_OK, EXIT_PREREQUISITES};
use crate::config::{Config, SourceConfig, TargetConfig};
use crate::connectors::AnySink;
use crate::route::Route;

pub(super) async fn check(config: Config) -> u8 {
    let mut sections: Vec<(String, Vec<Finding>)> = Vec::new();
    let mut source_schemas: BTreeMap<(String, String), Option<Arc<TableSchema>>> = BTreeMap::new();

    for (name, source) in &config.sources {
        let SourceConfig::Postgres { url, slot, publication, .. } = source;
        let mut tables: Vec<_> = config.routes_of_source(name).map(|r| r.table.clone()).collect();
        tables.sort();
        tables.dedup();
        let findings = check_source(url.expose(), slot, publication, &tables).await;
        // Source table schemas, for the target checks.
        if let Ok(client) = sluice_postgres::connect(url.expose()).await {
            for table in &tables {
                let schema = sluice_postgres::describe_source_table(&client, table).await.ok().flatten();
                source_schemas.insert((name.clone(), table.to_string()), schema.map(Arc::new));
            }
        }
        sections.push((format!("source {name} ({})", url.redacted()), findings));
    }

    for (name, target) in &config.targets {
        let TargetConfig::Postgres { url, offsets_table } = target;
        let routes: Vec<_> = config.routes.iter().filter(|r| &r.target == name).collect();
        let mut expectations = Vec::new();
        let mut route_findings = Vec::new();
        let mut sink = AnySink::connect(target, &config.apply).await.ok();
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
            expectations.push(TargetExpectation { table: route.into.clone(), columns, key });

            // The route's own resolution, against the target's actual shape.
            if let Some(sink) = sink.as_mut()
                && let Ok(Some(shape)) = sink.describe(&route.into).await
            {
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
        let mut findings = check_target(url.expose(), offsets_table, &expectations).await;
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
        sections.push((format!("target {name} ({})", url.redacted()), findings));
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
