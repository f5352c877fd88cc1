//! Table schemas as the sources describe them: the names and types of a
//! table's columns and which of them identify a row.
//!
//! A source sends (PostgreSQL Relation message, MySQL table map plus
//! `binlog_row_metadata=FULL`, SQL Server capture-instance columns) or reads
//! (catalog) a [`TableSchema`] before the first change of a table and again
//! after its schema changes. Every [`crate::Change`] points at the schema its
//! images follow, so a column added mid-stream never shifts values.

use std::fmt;

/// A qualified table name: PostgreSQL/SQL Server `schema.table`, MySQL `database.table`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> TableName {
        TableName { schema: schema.into(), name: name.into() }
    }

    /// Parses `schema.table` (no quoting: names containing `.` are not supported in config).
    pub fn parse(qualified: &str) -> Option<TableName> {
        let (schema, name) = qualified.split_once('.')?;
        if schema.is_empty() || name.is_empty() || name.contains('.') {
            return None;
        }
        Some(TableName::new(schema, name))
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// The engine-neutral type of a column; drives value conversion between engines.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ColumnType {
    Bool,
    Int {
        bytes: u8,
        unsigned: bool,
    },
    Float32,
    Float64,
    /// `precision`/`scale` are `None` for unconstrained PostgreSQL `numeric`.
    Decimal {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    /// `max_chars` is `None` for unbounded text.
    Text {
        max_chars: Option<u32>,
    },
    Bytes {
        max_len: Option<u32>,
    },
    Bits {
        len: Option<u32>,
        varying: bool,
    },
    Date,
    Time {
        fsp: Option<u8>,
    },
    TimeTz {
        fsp: Option<u8>,
    },
    Duration {
        fsp: Option<u8>,
    },
    Timestamp {
        fsp: Option<u8>,
    },
    TimestampTz {
        fsp: Option<u8>,
    },
    Interval,
    Json,
    Uuid,
    Enum {
        labels: Vec<String>,
    },
    Set {
        labels: Vec<String>,
    },
    Year,
    Array(Box<ColumnType>),
    /// Anything else; `name` is the source's type name.
    Other {
        name: String,
    },
}

/// One column of a source table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Column {
    pub name: String,
    pub column_type: ColumnType,
    /// The source's own type name with modifiers (`numeric(12,2)`, `varchar(40)`), for messages and `check`.
    pub type_name: String,
    /// Source type identity where the engine has one (PostgreSQL type OID).
    pub type_id: u32,
    /// PostgreSQL type modifier (`atttypmod`), -1 when none.
    pub type_modifier: i32,
    /// Part of the source's replica identity / primary key.
    pub is_key: bool,
}

/// A source table's schema at one point of the stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableSchema {
    /// Source-local identity (PostgreSQL relation OID, MySQL table id).
    pub id: u64,
    pub name: TableName,
    pub columns: Vec<Column>,
    /// The source logs every column in the old image of updates and
    /// deletes (PostgreSQL `REPLICA IDENTITY FULL`, MySQL
    /// `binlog_row_image=FULL`), so any columns can serve as a route's key;
    /// otherwise only the `is_key` columns are in old images.
    pub full_before_image: bool,
}

impl TableSchema {
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Indices of the columns flagged as key by the source.
    pub fn key_indices(&self) -> Vec<usize> {
        self.columns.iter().enumerate().filter(|(_, c)| c.is_key).map(|(i, _)| i).collect()
    }
}
