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

pub use model::{
    ApplySection, DeletesPolicy, OnError, OtherColumns, SecretUrl, SnapshotMode, SnapshotSection, ZeroDates, redact_url,
};
use model::{ConfigFile, MapSection, RouteSection, SourceSection, TargetSection, UnmappedPolicy};
use sluice_api::owned::OwnedTables;

use crate::expr::{Expression, MapSet, Unmapped, ValueMap};

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
    /// Value maps by name (`map(name, expr)`).
    pub maps: MapSet,
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
    Postgres { url: SecretUrl, offsets_table: TableName, owned: OwnedTables },
    Mysql { url: SecretUrl, offsets_table: TableName, owned: OwnedTables },
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

    /// The crosswalk and dead-letter tables of this target.
    pub fn owned(&self) -> &OwnedTables {
        match self {
            TargetConfig::Postgres { owned, .. } | TargetConfig::Mysql { owned, .. } => owned,
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
    /// Target column -> expression (a plain column reference for a rename).
    pub columns: BTreeMap<String, Expression>,
    /// Target column -> expression, written only on insert.
    pub defaults: BTreeMap<String, Expression>,
    pub exclude: Vec<String>,
    pub other_columns: OtherColumns,
    /// Only rows for which this is true are in the target.
    pub filter: Option<Expression>,
    /// An action route's trigger: fires on changes for which it is true.
    pub when: Option<Expression>,
    pub deletes: DeletesPolicy,
    /// Target column -> expression set by a soft delete.
    pub soft_delete: BTreeMap<String, Expression>,
    pub crosswalk: Option<CrosswalkConfig>,
    pub on_error: OnError,
    pub zero_dates: ZeroDates,
    pub snapshot: SnapshotMode,
    /// 0 for a route without crosswalk lookups; else one more than the
    /// highest level of the crosswalk routes it looks up. Snapshots copy
    /// lower levels first, so a lookup finds the rows it refers to.
    pub lookup_level: usize,
}

/// A route whose target assigns its key (`[routes.crosswalk]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrosswalkConfig {
    /// The target column the target assigns.
    pub target_key: String,
    /// Source columns identifying a row; `None`: the source primary key.
    pub source_key: Option<Vec<String>>,
}

impl RouteConfig {
    /// The target columns a source column feeds as itself: those whose
    /// `columns` expression is exactly that column (renames), else the
    /// column of the same name — unless excluded, other columns are
    /// ignored, or an expression reads it (then it feeds its namesake only
    /// if the target has one, which only the target's shape can tell).
    pub fn targets_of<'a>(&'a self, source: &'a str) -> Vec<&'a str> {
        let renamed = self.renames_of(source);
        if !renamed.is_empty() {
            renamed
        } else if self.exclude.iter().any(|e| e == source)
            || self.other_columns == OtherColumns::Ignore
            || self.reads(source)
        {
            Vec::new()
        } else {
            vec![source]
        }
    }

    /// The target columns whose `columns` expression is exactly source column `source`.
    pub fn renames_of<'a>(&'a self, source: &str) -> Vec<&'a str> {
        self.columns
            .iter()
            .filter(|(_, e)| e.as_column().is_some_and(|c| c.name == source && c.image == crate::expr::Image::Current))
            .map(|(t, _)| t.as_str())
            .collect()
    }

    /// Whether any expression of the route (columns, defaults, filter,
    /// trigger, soft-delete columns) reads source column `source`.
    pub fn reads(&self, source: &str) -> bool {
        self.expressions().any(|(_, e)| e.as_column().is_none() && e.columns().iter().any(|c| c.name == source))
    }

    /// Whether the route is an action (`when`).
    pub fn is_action(&self) -> bool {
        self.when.is_some()
    }

    /// Every expression of the route with the config key it came from.
    pub fn expressions(&self) -> impl Iterator<Item = (String, &Expression)> {
        let columns = self.columns.iter().map(|(c, e)| (format!("columns.{c}"), e));
        let defaults = self.defaults.iter().map(|(c, e)| (format!("defaults.{c}"), e));
        let soft = self.soft_delete.iter().map(|(c, e)| (format!("soft_delete.{c}"), e));
        let filter = self.filter.iter().map(|e| ("where".to_owned(), e));
        let when = self.when.iter().map(|e| ("when".to_owned(), e));
        columns.chain(defaults).chain(soft).chain(filter).chain(when)
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

    /// The targets `source`'s routes write into, sorted, each once.
    pub fn targets_of_source<'a>(&'a self, source: &'a str) -> Vec<&'a String> {
        let mut targets: Vec<&String> = self.routes_of_source(source).map(|r| &r.target).collect();
        targets.sort();
        targets.dedup();
        targets
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
                TargetSection::Postgres { url, offsets_table, crosswalk_table, dead_letter_table } => {
                    check_url(&format!("targets.{name}.url"), &url, &["postgres://", "postgresql://"])?;
                    TargetConfig::Postgres {
                        url,
                        offsets_table: owned_table_name(&name, "offsets_table", offsets_table, "sluice.offsets")?,
                        owned: owned_tables(&name, crosswalk_table, dead_letter_table)?,
                    }
                }
                TargetSection::Mysql { url, offsets_table, crosswalk_table, dead_letter_table } => {
                    check_url(&format!("targets.{name}.url"), &url, &["mysql://"])?;
                    TargetConfig::Mysql {
                        url,
                        offsets_table: owned_table_name(&name, "offsets_table", offsets_table, "sluice.offsets")?,
                        owned: owned_tables(&name, crosswalk_table, dead_letter_table)?,
                    }
                }
            };
            targets.insert(name, resolved);
        }

        let mut maps = MapSet::new();
        for (name, section) in file.maps {
            check_name(&format!("maps.{name}"), &name)?;
            let map = map_from_section(&name, section)?;
            maps.insert(name, std::sync::Arc::new(map));
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
        check_names_used(&routes, &maps)?;
        let levels = lookup_levels(&routes, &maps)?;
        for route in &mut routes {
            route.lookup_level = levels[&route.name];
        }
        Ok(Config { file: path.to_owned(), checkpoints_path, apply, snapshot, sources, targets, routes, maps })
    }

    /// Parses one expression of a route; an error names the route's key and line.
    fn expression(&self, key: String, text: &Spanned<String>) -> Result<Expression, ConfigError> {
        Expression::parse(text.get_ref())
            .map_err(|error| self.invalid(key, Some(text), format!("{:?}: {error}", text.get_ref())))
    }

    fn expressions(
        &self,
        key: impl Fn(&str) -> String,
        section: &str,
        entries: BTreeMap<String, Spanned<String>>,
    ) -> Result<BTreeMap<String, Expression>, ConfigError> {
        let mut out = BTreeMap::new();
        for (column, text) in entries {
            if column.is_empty() || text.get_ref().trim().is_empty() {
                return Err(self.invalid(key(section), Some(&text), "column names and expressions must not be empty"));
            }
            let parsed = self.expression(key(&format!("{section}.{column}")), &text)?;
            out.insert(column, parsed);
        }
        Ok(out)
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
        let columns = self.expressions(key, "columns", route.columns)?;
        let defaults = self.expressions(key, "defaults", route.defaults)?;
        let soft_delete = self.expressions(key, "soft_delete", route.soft_delete)?;
        for (target_column, expression) in &columns {
            if let Some(column) = expression.as_column()
                && route.exclude.contains(&column.name)
            {
                return Err(self.invalid(
                    key(&format!("columns.{target_column}")),
                    Some(&route.table),
                    format!("source column {:?} is both mapped and excluded", column.name),
                ));
            }
        }
        for column in defaults.keys() {
            if columns.contains_key(column) {
                return Err(self.invalid(
                    key(&format!("defaults.{column}")),
                    Some(&route.table),
                    format!("column {column:?} is in both [routes.columns] and [routes.defaults]; keep one"),
                ));
            }
        }
        let filter = route.filter.as_ref().map(|f| self.expression(key("where"), f)).transpose()?;
        let when = route.when.as_ref().map(|w| self.expression(key("when"), w)).transpose()?;
        if let (Some(filter), Some(text)) = (&filter, &route.filter)
            && filter.columns().iter().any(|c| c.image != crate::expr::Image::Current)
        {
            return Err(self.invalid(
                key("where"),
                Some(text),
                "`where` reads the row as it is; for a transition between before.* and after.* use `when`",
            ));
        }
        match route.deletes {
            DeletesPolicy::Soft if soft_delete.is_empty() => {
                return Err(self.invalid(
                    key("soft_delete"),
                    Some(&route.table),
                    "deletes = \"soft\" needs [routes.soft_delete] with the columns a delete sets, e.g. \
                     deleted_at = \"commit_time()\"",
                ));
            }
            DeletesPolicy::Apply | DeletesPolicy::Ignore if !soft_delete.is_empty() => {
                return Err(self.invalid(
                    key("soft_delete"),
                    Some(&route.table),
                    "[routes.soft_delete] is only used with deletes = \"soft\"; set it or remove the section",
                ));
            }
            _ => {}
        }
        if when.is_some() && route.deletes != DeletesPolicy::Apply {
            return Err(self.invalid(
                key("deletes"),
                Some(&route.table),
                "a route with `when` is an action: it never updates or deletes, so `deletes` does not apply; remove it",
            ));
        }
        let crosswalk = match route.crosswalk {
            Some(section) => {
                if section.target_key.is_empty() {
                    return Err(self.invalid(key("crosswalk.target_key"), Some(&route.table), "must name a column"));
                }
                if route.key.is_some() {
                    return Err(self.invalid(
                        key("key"),
                        route.key.as_ref(),
                        "a crosswalk route's key is its crosswalk.target_key; remove `key`",
                    ));
                }
                if columns.contains_key(&section.target_key) || defaults.contains_key(&section.target_key) {
                    return Err(self.invalid(
                        key("crosswalk.target_key"),
                        Some(&route.table),
                        format!(
                            "column {:?} is assigned by the target; it cannot also be mapped in [routes.columns] or \
                             [routes.defaults]",
                            section.target_key
                        ),
                    ));
                }
                if section.source_key.as_ref().is_some_and(Vec::is_empty) {
                    return Err(self.invalid(
                        key("crosswalk.source_key"),
                        Some(&route.table),
                        "must name at least one source column (or leave it out for the source primary key)",
                    ));
                }
                Some(CrosswalkConfig { target_key: section.target_key, source_key: section.source_key })
            }
            None => None,
        };
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
            columns,
            defaults,
            exclude: route.exclude,
            other_columns: route.other_columns,
            filter,
            when,
            deletes: route.deletes,
            soft_delete,
            crosswalk,
            on_error: route.on_error,
            zero_dates: route.zero_dates,
            snapshot: route.snapshot,
            lookup_level: 0,
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

fn owned_table_name(
    target: &str,
    setting: &str,
    configured: Option<String>,
    default: &str,
) -> Result<TableName, ConfigError> {
    let name = configured.unwrap_or_else(|| default.into());
    TableName::parse(&name).ok_or_else(|| ConfigError::Invalid {
        key: format!("targets.{target}.{setting}"),
        line: None,
        message: format!("{name:?} is not `schema.table` (MySQL: `database.table`)"),
    })
}

fn owned_tables(
    target: &str,
    crosswalk: Option<String>,
    dead_letters: Option<String>,
) -> Result<OwnedTables, ConfigError> {
    Ok(OwnedTables {
        crosswalk: owned_table_name(target, "crosswalk_table", crosswalk, "sluice.crosswalk")?,
        dead_letters: owned_table_name(target, "dead_letter_table", dead_letters, "sluice.dead_letters")?,
    })
}

/// A `[maps.NAME]` section as a value map: strings, integers and booleans.
fn map_from_section(name: &str, section: MapSection) -> Result<ValueMap, ConfigError> {
    let value = |key: String, value: toml::Value| -> Result<sluice_api::Value, ConfigError> {
        match value {
            toml::Value::String(text) => Ok(sluice_api::Value::Text(text)),
            toml::Value::Integer(number) => Ok(sluice_api::Value::Int(number)),
            toml::Value::Boolean(flag) => Ok(sluice_api::Value::Bool(flag)),
            other => Err(ConfigError::Invalid {
                key,
                line: None,
                message: format!(
                    "a {} is not a map value; use a string, an integer or a boolean (write decimals as strings: \
                     \"12.50\", so no digit is lost)",
                    other.type_str()
                ),
            }),
        }
    };
    let mut entries = Vec::with_capacity(section.values.len());
    for (from, to) in section.values {
        let converted = value(format!("maps.{name}.values.{from}"), to)?;
        entries.push((from, converted));
    }
    let unmapped = match (section.unmapped, section.default) {
        (UnmappedPolicy::Default, Some(default)) => Unmapped::Default(value(format!("maps.{name}.default"), default)?),
        (UnmappedPolicy::Default, None) => {
            return Err(ConfigError::Invalid {
                key: format!("maps.{name}.default"),
                line: None,
                message: "unmapped = \"default\" needs `default = …`, the value for unmapped source values".into(),
            });
        }
        (_, Some(_)) => {
            return Err(ConfigError::Invalid {
                key: format!("maps.{name}.default"),
                line: None,
                message: "`default` is only used with unmapped = \"default\"; set it or remove `default`".into(),
            });
        }
        (UnmappedPolicy::Error, None) => Unmapped::Error,
        (UnmappedPolicy::Keep, None) => Unmapped::Keep,
    };
    Ok(ValueMap::new(name, entries, unmapped))
}

/// Each route's lookup level (see [`RouteConfig::lookup_level`]); a cycle
/// of crosswalk lookups is an error.
fn lookup_levels(routes: &[RouteConfig], maps: &MapSet) -> Result<BTreeMap<String, usize>, ConfigError> {
    let depends: BTreeMap<&str, Vec<String>> = routes
        .iter()
        .map(|route| {
            let mut names: Vec<String> =
                route.expressions().flat_map(|(_, e)| e.names_used()).filter(|name| !maps.contains_key(name)).collect();
            names.sort();
            names.dedup();
            (route.name.as_str(), names)
        })
        .collect();
    fn level(
        name: &str,
        depends: &BTreeMap<&str, Vec<String>>,
        known: &mut BTreeMap<String, usize>,
        path: &mut Vec<String>,
    ) -> Result<usize, ConfigError> {
        if let Some(level) = known.get(name) {
            return Ok(*level);
        }
        if path.iter().any(|p| p == name) {
            path.push(name.to_owned());
            return Err(ConfigError::Invalid {
                key: format!("routes.{name}"),
                line: None,
                message: format!(
                    "crosswalk lookups form a cycle ({}); such routes cannot be ordered",
                    path.join(" -> ")
                ),
            });
        }
        path.push(name.to_owned());
        let mut own = 0;
        for dependency in depends.get(name).into_iter().flatten() {
            if dependency != name {
                own = own.max(level(dependency, depends, known, path)? + 1);
            }
        }
        path.pop();
        known.insert(name.to_owned(), own);
        Ok(own)
    }
    let mut known = BTreeMap::new();
    for route in routes {
        level(&route.name, &depends, &mut known, &mut Vec::new())?;
    }
    Ok(known)
}

/// Every `map(name, …)` / `lookup(name, …)` names a map or a crosswalk
/// route; a crosswalk lookup is a whole column expression, in a route into
/// the crosswalk's own target (the writer of that target resolves it in
/// the same transaction as the rows it links).
fn check_names_used(routes: &[RouteConfig], maps: &MapSet) -> Result<(), ConfigError> {
    let crosswalks: BTreeMap<&str, &RouteConfig> =
        routes.iter().filter(|r| r.crosswalk.is_some()).map(|r| (r.name.as_str(), r)).collect();
    for route in routes {
        for (setting, expression) in route.expressions() {
            let key = format!("routes.{}.{setting}", route.name);
            for name in expression.names_used() {
                if maps.contains_key(&name) {
                    continue;
                }
                let Some(owner) = crosswalks.get(name.as_str()) else {
                    let mut known: Vec<&str> = maps.keys().map(String::as_str).collect();
                    known.extend(crosswalks.keys());
                    return Err(ConfigError::Invalid {
                        key,
                        line: None,
                        message: format!(
                            "{:?} uses {name:?}, which is neither a [maps.*] section nor a route with \
                             [routes.crosswalk]; known: {}",
                            expression.text(),
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        ),
                    });
                };
                let whole_column = (setting.starts_with("columns.") || setting.starts_with("defaults."))
                    && expression.as_lookup().is_some_and(|(n, key)| n == name && !key.has_crosswalk_lookup(maps));
                if !whole_column {
                    return Err(ConfigError::Invalid {
                        key,
                        line: None,
                        message: format!(
                            "{:?}: a crosswalk lookup must be the whole expression of a column \
                             (`column = \"lookup('{name}', key_expression)\"`)",
                            expression.text()
                        ),
                    });
                }
                if owner.target != route.target {
                    return Err(ConfigError::Invalid {
                        key,
                        line: None,
                        message: format!(
                            "lookup('{name}', …) reads the crosswalk of route {name}, kept in target {}; this route \
                             writes into target {}. Crosswalk lookups work within the crosswalk's own target",
                            owner.target, route.target
                        ),
                    });
                }
            }
        }
    }
    Ok(())
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
