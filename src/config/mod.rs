//! Loading the TOML config: `${ENV}` interpolation, parsing with unknown
//! keys rejected, then validation into the resolved [`Config`] the engine
//! runs on. Every error names the key (and line, where it has one) and what
//! to do.

mod interpolate;
mod model;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sluice_api::TableName;
use toml::Spanned;

pub use model::{ApplySection, SecretUrl, SnapshotMode, SnapshotSection, ZeroDates, redact_url};
use model::{ConfigFile, RouteSection, SourceSection, TargetSection};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Config line {line}: {message}")]
    Interpolation { line: usize, message: String },
    #[error("Config file {path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("Config {key}{}: {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Invalid { key: String, line: Option<usize>, message: String },
}

/// A validated config.
#[derive(Debug)]
pub struct Config {
    pub file: PathBuf,
    pub checkpoints_path: PathBuf,
    pub apply: ApplySection,
    pub snapshot: SnapshotSection,
    pub sources: BTreeMap<String, SourceConfig>,
    pub targets: BTreeMap<String, TargetConfig>,
    pub routes: Vec<RouteConfig>,
}

#[derive(Debug, Clone)]
pub enum SourceConfig {
    Postgres { url: SecretUrl, slot: String, publication: String, status_interval: Duration },
    Mysql { url: SecretUrl, server_id: u32, heartbeat: Duration },
}

impl SourceConfig {
    pub fn url(&self) -> &SecretUrl {
        match self {
            SourceConfig::Postgres { url, .. } | SourceConfig::Mysql { url, .. } => url,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Postgres { .. } => "postgres",
            SourceConfig::Mysql { .. } => "mysql",
        }
    }
}

#[derive(Debug, Clone)]
pub enum TargetConfig {
    Postgres { url: SecretUrl, offsets_table: TableName },
    Mysql { url: SecretUrl, offsets_table: TableName },
}

impl TargetConfig {
    pub fn url(&self) -> &SecretUrl {
        match self {
            TargetConfig::Postgres { url, .. } | TargetConfig::Mysql { url, .. } => url,
        }
    }

    pub fn offsets_table(&self) -> &TableName {
        match self {
            TargetConfig::Postgres { offsets_table, .. } | TargetConfig::Mysql { offsets_table, .. } => offsets_table,
        }
    }
}

/// One route: a source table into a target table.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    pub name: String,
    pub source: String,
    pub table: TableName,
    pub target: String,
    pub into: TableName,
    /// Target key columns, if given.
    pub key: Option<Vec<String>>,
    /// Target column -> source column.
    pub columns: BTreeMap<String, String>,
    pub exclude: Vec<String>,
    pub zero_dates: ZeroDates,
    pub snapshot: SnapshotMode,
}

impl RouteConfig {
    /// The target columns a source column feeds: those mapped to it in
    /// `columns`, else the column of the same name; none when excluded.
    pub fn targets_of<'a>(&'a self, source: &'a str) -> Vec<&'a str> {
        let mapped: Vec<&str> =
            self.columns.iter().filter(|(_, s)| s.as_str() == source).map(|(t, _)| t.as_str()).collect();
        if !mapped.is_empty() {
            mapped
        } else if self.exclude.iter().any(|e| e == source) {
            Vec::new()
        } else {
            vec![source]
        }
    }
}

impl Config {
    /// Reads, interpolates from the process environment, parses and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_text(&text, path, |name| std::env::var(name).ok())
    }

    pub fn from_text(text: &str, path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let text = interpolate::interpolate(text, env)?;
        let file: ConfigFile = toml::from_str(&text).map_err(|source| {
            unknown_key_error(&text, &source).unwrap_or(ConfigError::Parse { path: path.to_owned(), source })
        })?;
        Validator { text: &text }.validate(file, path)
    }

    pub fn routes_of_source<'a>(&'a self, source: &'a str) -> impl Iterator<Item = &'a RouteConfig> + 'a {
        self.routes.iter().filter(move |r| r.source == source)
    }
}

struct Validator<'a> {
    text: &'a str,
}

impl Validator<'_> {
    fn line_of<T>(&self, spanned: &Spanned<T>) -> Option<usize> {
        let start = spanned.span().start;
        (start <= self.text.len()).then(|| self.text[..start].matches('\n').count() + 1)
    }

    fn invalid<T>(&self, key: impl Into<String>, at: Option<&Spanned<T>>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { key: key.into(), line: at.and_then(|s| self.line_of(s)), message: message.into() }
    }

    fn table_name<T>(&self, key: &str, value: &Spanned<String>, _: Option<&T>) -> Result<TableName, ConfigError> {
        TableName::parse(value.get_ref()).ok_or_else(|| {
            self.invalid(
                key,
                Some(value),
                format!("{:?} is not `schema.table` (MySQL: `database.table`)", value.get_ref()),
            )
        })
    }

    fn validate(&self, file: ConfigFile, path: &Path) -> Result<Config, ConfigError> {
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let checkpoints_path = if file.checkpoints.path.is_absolute() {
            file.checkpoints.path.clone()
        } else {
            base.join(&file.checkpoints.path)
        };
        let apply = file.apply;
        let no_span: Option<&Spanned<()>> = None;
        if apply.max_batch_rows == 0 || apply.max_rows_per_statement == 0 || apply.queue_capacity == 0 {
            return Err(self.invalid(
                "apply",
                no_span,
                "max_batch_rows, max_rows_per_statement and queue_capacity must be at least 1",
            ));
        }

        let snapshot = file.snapshot;
        if snapshot.workers == 0 || snapshot.chunk_rows == 0 {
            return Err(self.invalid("snapshot", no_span, "workers and chunk_rows must be at least 1"));
        }

        let mut sources = BTreeMap::new();
        for (name, section) in file.sources {
            check_name(&format!("sources.{name}"), &name)?;
            let resolved = match section {
                SourceSection::Postgres { url, slot, publication, status_interval_secs } => {
                    check_url(&format!("sources.{name}.url"), &url, &["postgres://", "postgresql://"])?;
                    let default = format!("sluice_{}", name.replace('-', "_"));
                    let slot = slot.unwrap_or_else(|| default.clone());
                    check_slot_name(&format!("sources.{name}.slot"), &slot)?;
                    if status_interval_secs == 0 {
                        return Err(self.invalid(
                            format!("sources.{name}.status_interval_secs"),
                            no_span,
                            "must be at least 1 second",
                        ));
                    }
                    SourceConfig::Postgres {
                        url,
                        slot,
                        publication: publication.unwrap_or(default),
                        status_interval: Duration::from_secs(status_interval_secs),
                    }
                }
                SourceSection::Mysql { url, server_id, heartbeat_secs } => {
                    check_url(&format!("sources.{name}.url"), &url, &["mysql://"])?;
                    if server_id == 0 {
                        return Err(self.invalid(
                            format!("sources.{name}.server_id"),
                            no_span,
                            "must be a non-zero replica server id, unique among the server's replicas",
                        ));
                    }
                    if heartbeat_secs == 0 {
                        return Err(self.invalid(
                            format!("sources.{name}.heartbeat_secs"),
                            no_span,
                            "must be at least 1 second",
                        ));
                    }
                    SourceConfig::Mysql { url, server_id, heartbeat: Duration::from_secs(heartbeat_secs) }
                }
            };
            sources.insert(name, resolved);
        }

        let mut targets = BTreeMap::new();
        for (name, section) in file.targets {
            check_name(&format!("targets.{name}"), &name)?;
            let resolved = match section {
                TargetSection::Postgres { url, offsets_table } => {
                    check_url(&format!("targets.{name}.url"), &url, &["postgres://", "postgresql://"])?;
                    TargetConfig::Postgres { url, offsets_table: offsets_table_name(&name, offsets_table)? }
                }
                TargetSection::Mysql { url, offsets_table } => {
                    check_url(&format!("targets.{name}.url"), &url, &["mysql://"])?;
                    TargetConfig::Mysql { url, offsets_table: offsets_table_name(&name, offsets_table)? }
                }
            };
            targets.insert(name, resolved);
        }

        let mut routes = Vec::new();
        let mut names = BTreeSet::new();
        let mut pairs = BTreeSet::new();
        for (index, route) in file.routes.into_iter().enumerate() {
            let resolved = self.route(index, route, &sources, &targets)?;
            if !names.insert(resolved.name.clone()) {
                return Err(ConfigError::Invalid {
                    key: format!("routes[{index}].name"),
                    line: None,
                    message: format!("route name {:?} is used twice; route names must be unique", resolved.name),
                });
            }
            if !pairs.insert((
                resolved.source.clone(),
                resolved.table.clone(),
                resolved.target.clone(),
                resolved.into.clone(),
            )) {
                return Err(ConfigError::Invalid {
                    key: format!("routes[{index}]"),
                    line: None,
                    message: format!(
                        "{} is routed from {}.{} into {}.{} twice; remove one",
                        resolved.table, resolved.source, resolved.table, resolved.target, resolved.into
                    ),
                });
            }
            routes.push(resolved);
        }
        if routes.is_empty() {
            return Err(ConfigError::Invalid {
                key: "routes".into(),
                line: None,
                message: "no [[routes]]: nothing to replicate; add at least one".into(),
            });
        }
        for name in sources.keys() {
            if !routes.iter().any(|r| &r.source == name) {
                return Err(ConfigError::Invalid {
                    key: format!("sources.{name}"),
                    line: None,
                    message: "no route reads from this source; add a [[routes]] entry or remove the source".into(),
                });
            }
        }
        Ok(Config { file: path.to_owned(), checkpoints_path, apply, snapshot, sources, targets, routes })
    }

    fn route(
        &self,
        index: usize,
        route: RouteSection,
        sources: &BTreeMap<String, SourceConfig>,
        targets: &BTreeMap<String, TargetConfig>,
    ) -> Result<RouteConfig, ConfigError> {
        let key = |field: &str| format!("routes[{index}].{field}");
        if !sources.contains_key(route.source.get_ref()) {
            return Err(self.invalid(
                key("source"),
                Some(&route.source),
                format!(
                    "unknown source {:?}; defined sources: {}",
                    route.source.get_ref(),
                    sources.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        if !targets.contains_key(route.target.get_ref()) {
            return Err(self.invalid(
                key("target"),
                Some(&route.target),
                format!(
                    "unknown target {:?}; defined targets: {}",
                    route.target.get_ref(),
                    targets.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let table = self.table_name::<()>(&key("table"), &route.table, None)?;
        let into = match &route.into {
            Some(into) => self.table_name::<()>(&key("into"), into, None)?,
            None => table.clone(),
        };
        if let Some(k) = &route.key
            && k.get_ref().is_empty()
        {
            return Err(self.invalid(key("key"), Some(k), "key must name at least one column"));
        }
        for (target_column, source_column) in &route.columns {
            if target_column.is_empty() || source_column.is_empty() {
                return Err(self.invalid(key("columns"), Some(&route.table), "column names must not be empty"));
            }
            if route.exclude.contains(source_column) {
                return Err(self.invalid(
                    key("columns"),
                    Some(&route.table),
                    format!("source column {source_column:?} is both mapped and excluded"),
                ));
            }
        }
        let name = match route.name {
            Some(name) => {
                check_name(&key("name"), name.get_ref())?;
                name.into_inner()
            }
            None => format!("{}.{}->{}.{}", route.source.get_ref(), table, route.target.get_ref(), into),
        };
        Ok(RouteConfig {
            name,
            source: route.source.into_inner(),
            table,
            target: route.target.into_inner(),
            into,
            key: route.key.map(Spanned::into_inner),
            columns: route.columns,
            exclude: route.exclude,
            zero_dates: route.zero_dates,
            snapshot: route.snapshot,
        })
    }
}

/// toml reports an unknown key at its table's header; find the key's own
/// line so the message points at the typo.
fn unknown_key_error(text: &str, error: &toml::de::Error) -> Option<ConfigError> {
    let message = error.message();
    let key = message.strip_prefix("unknown field `")?.split('`').next()?;
    let span = error.span()?;
    let header_line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let header = text.lines().nth(header_line - 1)?.trim().trim_matches(|c| c == '[' || c == ']').to_owned();
    let expected = message.split_once(", expected ").map(|(_, rest)| rest.to_owned()).unwrap_or_default();
    let line = text.lines().enumerate().skip(header_line).find_map(|(index, line)| {
        let trimmed = line.trim_start();
        let rest = trimmed.strip_prefix(key)?;
        rest.trim_start().starts_with('=').then_some(index + 1)
    })?;
    Some(ConfigError::Invalid {
        key: format!("{header}.{key}"),
        line: Some(line),
        message: format!("unknown key `{key}`; expected {expected}"),
    })
}

fn offsets_table_name(target: &str, configured: Option<String>) -> Result<TableName, ConfigError> {
    let offsets = configured.unwrap_or_else(|| "sluice.offsets".into());
    TableName::parse(&offsets).ok_or_else(|| ConfigError::Invalid {
        key: format!("targets.{target}.offsets_table"),
        line: None,
        message: format!("{offsets:?} is not `schema.table` (MySQL: `database.table`)"),
    })
}

fn check_name(key: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        return Err(ConfigError::Invalid {
            key: key.into(),
            line: None,
            message: format!("{name:?}: names may use letters, digits, `_`, `-` and `.` only"),
        });
    }
    Ok(())
}

fn check_slot_name(key: &str, slot: &str) -> Result<(), ConfigError> {
    // PostgreSQL: replication slot names may contain lower-case letters, numbers and underscores, max 63 bytes.
    if slot.is_empty()
        || slot.len() > 63
        || !slot.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ConfigError::Invalid {
            key: key.into(),
            line: None,
            message: format!("{slot:?}: slot names may use lower-case letters, digits and `_`, at most 63 bytes"),
        });
    }
    Ok(())
}

fn check_url(key: &str, url: &SecretUrl, schemes: &[&str]) -> Result<(), ConfigError> {
    if !schemes.iter().any(|s| url.expose().starts_with(s)) {
        return Err(ConfigError::Invalid {
            key: key.into(),
            line: None,
            message: format!("{} must start with {}", url.redacted(), schemes.join(" or ")),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
