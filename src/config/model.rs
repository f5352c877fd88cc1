//! The config file's shape, key by key. Every key is documented here and in
//! docs/CONFIG.md; unknown keys are rejected (`deny_unknown_fields`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the checkpoint store lives.
    pub checkpoints: CheckpointsSection,
    /// How the engine batches writes into targets.
    #[serde(default)]
    pub apply: ApplySection,
    /// How existing rows are copied (initial snapshot, backfill).
    #[serde(default)]
    pub snapshot: SnapshotSection,
    /// Source databases by name.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceSection>,
    /// Target databases by name.
    #[serde(default)]
    pub targets: BTreeMap<String, TargetSection>,
    /// Which source tables go to which target tables.
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    /// Value maps by name, used in expressions as `map(name, expr)`.
    #[serde(default)]
    pub maps: BTreeMap<String, MapSection>,
}

/// A declarative value map (`[maps.order_status]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSection {
    /// Source value (its text form: `paid`, `3`, `true`) = target value
    /// (a string, an integer or a boolean).
    pub values: BTreeMap<String, toml::Value>,
    /// What a value without an entry becomes: `error` (default: the change
    /// fails mapping — the route stops, or dead-letters it), `keep` (passes
    /// through unchanged) or `default` (the `default` value).
    #[serde(default)]
    pub unmapped: UnmappedPolicy,
    /// The value for unmapped source values when `unmapped = "default"`.
    pub default: Option<toml::Value>,
}

/// See [`MapSection::unmapped`].
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum UnmappedPolicy {
    #[default]
    Error,
    Keep,
    Default,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointsSection {
    /// Directory of the sled checkpoint store; relative paths are relative
    /// to the config file's directory.
    pub path: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApplySection {
    /// A target transaction is committed once it holds at least this many
    /// row writes (at a source transaction boundary; a larger source
    /// transaction is never split).
    pub max_batch_rows: usize,
    /// A target transaction is committed at the first source transaction
    /// boundary after it has been open this long, even if more changes are
    /// waiting. When no change is waiting it is committed at once.
    pub max_batch_delay_ms: u64,
    /// When the stream is light, a target commit follows each source
    /// transaction at once — but at most one commit per this many
    /// milliseconds: a burst of small transactions shares a commit. 0
    /// commits every transaction separately.
    pub commit_coalesce_ms: u64,
    /// Rows per statement sent to a target (one multi-row statement per run of same-shaped writes).
    pub max_rows_per_statement: usize,
    /// Events buffered between the source reader and the writers (backpressure bound).
    pub queue_capacity: usize,
}

impl Default for ApplySection {
    fn default() -> Self {
        ApplySection {
            max_batch_rows: 10_000,
            max_batch_delay_ms: 200,
            commit_coalesce_ms: 5,
            max_rows_per_statement: 5_000,
            queue_capacity: 8_192,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotSection {
    /// Chunk readers per source (each its own source connection); default:
    /// the machine's CPUs, at most 4.
    pub workers: usize,
    /// Rows per chunk: the unit of reading, reconciling, writing and of
    /// resuming after a crash.
    pub chunk_rows: usize,
}

impl Default for SnapshotSection {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        SnapshotSection { workers: cpus.clamp(1, 4), chunk_rows: 10_000 }
    }
}

/// A URL that may carry a password: its Debug and Display never show it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretUrl(pub String);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`, for messages.
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Replaces the password of `scheme://user:password@host…` with `***`, and
/// any `password=` query parameter's value.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..].find('/').map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(authority_start + colon + 1..authority_start + at, "***");
            }
        }
    }
    if let Some(at) = out.find("password=") {
        let value_start = at + "password=".len();
        let value_end = out[value_start..].find('&').map_or(out.len(), |i| value_start + i);
        out.replace_range(value_start..value_end, "***");
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSection {
    /// A PostgreSQL database read through logical replication (pgoutput).
    Postgres {
        /// `postgres://user:password@host:port/database?sslmode=…`; use `${ENV}` for the password.
        url: SecretUrl,
        /// Replication slot name; default `sluice_<source name>`. Created when missing.
        slot: Option<String>,
        /// Publication name; default `sluice_<source name>`. Created when missing; routed tables are added.
        publication: Option<String>,
        /// Seconds between standby status updates (must stay below the server's `wal_sender_timeout`).
        #[serde(default = "default_status_interval")]
        status_interval_secs: u64,
    },
    /// A MySQL or MariaDB database read from its binlog.
    Mysql {
        /// `mysql://user:password@host:port/`; the user needs REPLICATION SLAVE
        /// and REPLICATION CLIENT (MariaDB: also BINLOG MONITOR) and SELECT.
        url: SecretUrl,
        /// The replica server id Sluice registers as; must differ from the
        /// server's own and from every real replica's.
        server_id: u32,
        /// Seconds between server heartbeats on an idle binlog stream.
        #[serde(default = "default_heartbeat")]
        heartbeat_secs: u64,
    },
}

fn default_status_interval() -> u64 {
    10
}

fn default_heartbeat() -> u64 {
    5
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum TargetSection {
    /// A PostgreSQL database written with batched, idempotent upserts.
    Postgres {
        /// `postgres://user:password@host:port/database?sslmode=…`.
        url: SecretUrl,
        /// `schema.table` of Sluice's offsets table in this target; default `sluice.offsets`.
        offsets_table: Option<String>,
        /// `schema.table` of the key crosswalk; default `sluice.crosswalk`.
        /// Created when a crosswalk route writes into this target.
        crosswalk_table: Option<String>,
        /// `schema.table` of the dead letters; default `sluice.dead_letters`.
        /// Created when a dead-letter route writes into this target.
        dead_letter_table: Option<String>,
    },
    /// A MySQL or MariaDB database written with batched, idempotent upserts.
    Mysql {
        /// `mysql://user:password@host:port/`.
        url: SecretUrl,
        /// `database.table` of Sluice's offsets table; default `sluice.offsets`.
        offsets_table: Option<String>,
        /// `database.table` of the key crosswalk; default `sluice.crosswalk`.
        crosswalk_table: Option<String>,
        /// `database.table` of the dead letters; default `sluice.dead_letters`.
        dead_letter_table: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Optional name, unique; used by `--route` and in logs. Default `<source>.<table>-><target>.<into>`.
    pub name: Option<Spanned<String>>,
    /// Source name (a key of `[sources]`).
    pub source: Spanned<String>,
    /// Source table: `schema.table` (MySQL: `database.table`).
    pub table: Spanned<String>,
    /// Target name (a key of `[targets]`).
    pub target: Spanned<String>,
    /// Target table `schema.table`; defaults to `table`.
    pub into: Option<Spanned<String>>,
    /// Target-side key columns to upsert and delete by; defaults to the
    /// source primary key (replica identity) mapped through `columns`.
    pub key: Option<Spanned<Vec<String>>>,
    /// Target column = expression (docs/EXPRESSIONS.md); a bare source
    /// column name is that column (a rename). Source columns no entry
    /// renames map to the target column of the same name (see `other_columns`).
    #[serde(default)]
    pub columns: BTreeMap<String, Spanned<String>>,
    /// Target column = expression, written only when the row is inserted:
    /// an existing target row keeps its value (a status the target's users
    /// move on, a creation stamp). Fills NOT NULL columns the source lacks.
    #[serde(default)]
    pub defaults: BTreeMap<String, Spanned<String>>,
    /// Source columns not to copy (for target tables that lack them).
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `by_name` (default): source columns no `columns` entry renames map
    /// to the target column of the same name, and one the target lacks is
    /// an error unless an expression reads it (so a column added to the
    /// source is never dropped silently); `ignore`: only the `columns`,
    /// `defaults` and key are written.
    #[serde(default)]
    pub other_columns: OtherColumns,
    /// A filter: only rows for which it is true are in the target. An
    /// update that takes a row out of the filter deletes it from the target
    /// (as `deletes` says).
    #[serde(rename = "where")]
    pub filter: Option<Spanned<String>>,
    /// Makes the route an action: it fires only on changes for which this
    /// transition is true (e.g. `before.status IS DISTINCT FROM 'approved'
    /// AND after.status = 'approved'`) and creates its target row once
    /// (insert if absent, by its deterministic key); it never updates or
    /// deletes.
    pub when: Option<Spanned<String>>,
    /// What a source delete does: `apply` (default: delete the target row),
    /// `ignore`, or `soft` (update the target row with `soft_delete`).
    #[serde(default)]
    pub deletes: DeletesPolicy,
    /// With `deletes = "soft"`: target column = expression set on delete
    /// (e.g. `deleted_at = "commit_time()"`).
    #[serde(default)]
    pub soft_delete: BTreeMap<String, Spanned<String>>,
    /// The target assigns this table's key (an identity, a sequence, an
    /// AUTO_INCREMENT): Sluice records source key ↔ target key as it inserts.
    pub crosswalk: Option<CrosswalkSection>,
    /// What a change that fails mapping or that the target refuses does:
    /// `stop` (default: the pipeline stops with the error) or `dead_letter`
    /// (recorded in the target's dead-letter table; later changes of the
    /// same source row wait behind it; everything else flows on).
    #[serde(default)]
    pub on_error: OnError,
    /// What to do with MySQL zero and partial-zero dates (`0000-00-00`,
    /// `2024-00-10`): `keep` (default: pass the value on; a MySQL target
    /// stores it, a PostgreSQL target refuses it and the route stops),
    /// `error` (stop the route, naming the column), `null` (write NULL),
    /// `text` (write the MySQL text form, for text target columns).
    #[serde(default)]
    pub zero_dates: ZeroDates,
    /// `initial` (default): when the route starts without a finished
    /// snapshot, copy the table's existing rows while streaming; `never`:
    /// only stream changes from the current position on.
    #[serde(default)]
    pub snapshot: SnapshotMode,
}

/// A route's key crosswalk (`[routes.crosswalk]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrosswalkSection {
    /// The target column the target assigns (identity, sequence default,
    /// AUTO_INCREMENT). It is the route's key in the target.
    pub target_key: String,
    /// Source columns that identify a row; default: the source primary key.
    pub source_key: Option<Vec<String>>,
}

/// See [`RouteSection::deletes`].
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeletesPolicy {
    #[default]
    Apply,
    Ignore,
    Soft,
}

/// See [`RouteSection::on_error`].
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    #[default]
    Stop,
    DeadLetter,
}

/// See [`RouteSection::other_columns`].
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OtherColumns {
    #[default]
    ByName,
    Ignore,
}

/// Whether a route copies existing rows when it starts.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotMode {
    #[default]
    Initial,
    Never,
}

/// The per-route policy for MySQL zero dates.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ZeroDates {
    #[default]
    Keep,
    Error,
    Null,
    Text,
}
