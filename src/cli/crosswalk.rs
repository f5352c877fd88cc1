//! `sluice crosswalk show`: a crosswalk route's source key ↔ target key
//! pairs, read from the target's crosswalk table (read-only), as a table,
//! CSV (for spreadsheets and other tools) or JSON lines.

use serde::Serialize;
use sluice_api::Sink;

use super::{EXIT_CONFIG, EXIT_FAILED, EXIT_OK, report};
use crate::config::Config;
use crate::connectors::{self, AnySink};

/// Output formats of `crosswalk show`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Serialize)]
struct Pair {
    source_key: String,
    target_key: String,
    created_at: String,
}

pub(super) async fn show(config: Config, route: String, source_key: Option<String>, format: Format) -> u8 {
    let Some(route_config) = config.routes.iter().find(|r| r.name == route) else {
        eprintln!("error: no route named {route:?} in {}", config.file.display());
        return EXIT_CONFIG;
    };
    if route_config.crosswalk.is_none() {
        eprintln!("error: route {route} has no [routes.crosswalk]; only crosswalk routes record key pairs");
        return EXIT_CONFIG;
    }
    let target = &config.targets[&route_config.target];
    let table = &target.owned().crosswalk;
    let pairs = async {
        // Read-only: no table yet means no pairs yet.
        if connectors::describe_target(target, table).await?.is_none() {
            return Ok(Vec::new());
        }
        let mut sink = AnySink::connect_without_setup(target, &config.apply).await?;
        let mut filter = vec![("name", route.as_str())];
        if let Some(key) = &source_key {
            filter.push(("source_key", key));
        }
        let columns = ["source_key", "target_key", "created_at"];
        sink.select_text(table, &columns, &filter, &["source_key"], None).await
    }
    .await;
    let pairs: Vec<Pair> = match pairs {
        Ok(rows) => rows
            .into_iter()
            .map(|row| {
                let mut cells = row.into_iter().map(Option::unwrap_or_default);
                Pair {
                    source_key: cells.next().unwrap_or_default(),
                    target_key: cells.next().unwrap_or_default(),
                    created_at: cells.next().unwrap_or_default(),
                }
            })
            .collect(),
        Err(error) => {
            eprintln!("error: target {}:", route_config.target);
            report(&error);
            return EXIT_FAILED;
        }
    };
    // Numeric keys in numeric order (1, 2, 10), the others after them as text.
    let mut pairs = pairs;
    pairs.sort_by(|a, b| sort_key(&a.source_key).cmp(&sort_key(&b.source_key)));
    match format {
        Format::Json => {
            for pair in &pairs {
                println!("{}", serde_json::to_string(pair).expect("pairs serialise"));
            }
        }
        Format::Csv => {
            println!("source_key,target_key,created_at");
            for pair in &pairs {
                println!(
                    "{},{},{}",
                    csv_field(&pair.source_key),
                    csv_field(&pair.target_key),
                    csv_field(&pair.created_at)
                );
            }
        }
        Format::Table => {
            println!("{:<30} {:<30} created at", "source key", "target key");
            for pair in &pairs {
                println!("{:<30} {:<30} {}", pair.source_key, pair.target_key, pair.created_at);
            }
            println!("{} pair(s) in crosswalk {route} ({} in target {})", pairs.len(), table, route_config.target);
        }
    }
    EXIT_OK
}

fn sort_key(key: &str) -> (bool, i128, &str) {
    match key.parse::<i128>() {
        Ok(number) => (false, number, ""),
        Err(_) => (true, 0, key),
    }
}

/// RFC 4180: quote fields holding a comma, quote or line break; double quotes inside.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn numeric_source_keys_sort_as_numbers_before_text_keys() {
        let mut keys = vec!["100", "b", "2", "-1", "a", "10"];
        keys.sort_by_key(|k| super::sort_key(k));
        assert_eq!(keys, ["-1", "2", "10", "100", "a", "b"]);
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("42"), "42");
        assert_eq!(csv_field("[\"a\",\"b\"]"), "\"[\"\"a\"\",\"\"b\"\"]\"");
        assert_eq!(csv_field("x\ny"), "\"x\ny\"");
    }
}
