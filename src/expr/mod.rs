//! The mapping expression language: SQL expressions in the config file
//! (route columns, `where`, `when`, soft-delete columns), parsed once with
//! `sqlparser` into Sluice's own small tree and evaluated per row without
//! re-parsing.
//!
//! Life of an expression: [`Expression::parse`] at config load (syntax,
//! function names and arity are checked there, column names are not yet
//! known); [`Expression::bind`] when the route is resolved against a source
//! schema (column names become indices, map names become maps; an unknown
//! column or map is an error naming it); [`Bound::eval`] / [`Bound::test`]
//! per row. Results are deterministic for replays: there is no `now()`;
//! `commit_time()` is the source transaction's commit time.
//!
//! Error messages name columns, maps and functions, never row values.
//!
//! SKELETON: the public API below is the contract the engine codes
//! against; the implementation fills it in.

use std::collections::HashMap;
use std::sync::Arc;

use sluice_api::Value;

/// Which row image a column reference reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Image {
    /// A plain `col`: the new image of inserts and updates, the old image of deletes.
    Current,
    /// `before.col`: the old image (NULL for inserts).
    Before,
    /// `after.col`: the new image (NULL for deletes).
    After,
}

/// A column reference as written in an expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    pub image: Image,
    pub name: String,
}

/// Why an expression cannot be used (config time: parse and bind).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("{0}")]
    Invalid(String),
}

/// Why an expression could not be evaluated for one row. Never contains row values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The expression reads a cell the source did not capture in this image
    /// (PostgreSQL's unchanged TOAST value, [`Value::Unchanged`]).
    #[error("column {column} was not captured in this change (an unchanged TOAST value)")]
    Uncaptured { column: String },
    /// A value is not in a map whose policy for unmapped values is `error`.
    #[error("a value is not in map {map} (unmapped = \"error\"); add it to [maps.{map}.values] or set unmapped")]
    Unmapped { map: String },
    /// Anything else: a type mismatch, an overflow, an invalid cast, a
    /// division by zero. `what` names the operator or function.
    #[error("{what}: {reason}")]
    Invalid { what: String, reason: String },
}

/// A parsed expression; names are not resolved yet.
#[derive(Clone, Debug)]
pub struct Expression {
    text: String,
}

impl Expression {
    /// Parses `text`. Unknown functions, wrong arity and constructs outside
    /// the language are errors here.
    pub fn parse(text: &str) -> Result<Expression, ExprError> {
        Ok(Expression { text: text.to_owned() })
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every column referenced, distinct, in order of first appearance.
    pub fn columns(&self) -> Vec<ColumnRef> {
        unimplemented!()
    }

    /// The first argument of every `map(...)` and `lookup(...)` call.
    pub fn names_used(&self) -> Vec<String> {
        unimplemented!()
    }

    /// `Some((name, key))` when the whole expression is `lookup(name, key)`.
    pub fn as_lookup(&self) -> Option<(String, Expression)> {
        unimplemented!()
    }

    /// Whether a `lookup(...)` call whose name is not a map appears anywhere.
    pub fn has_crosswalk_lookup(&self, maps: &MapSet) -> bool {
        let _ = maps;
        unimplemented!()
    }

    /// `Some(column)` when the whole expression is one column reference.
    pub fn as_column(&self) -> Option<&ColumnRef> {
        unimplemented!()
    }

    /// Resolves column names (through `column`, which returns the index of
    /// a source column in the row images) and map names. `lookup(name, key)`
    /// with a map's name is that map; with any other name it is an error
    /// here (crosswalk lookups are resolved by the target writer; the
    /// engine takes them apart with [`Expression::as_lookup`] first).
    pub fn bind(&self, column: &dyn Fn(&ColumnRef) -> Option<usize>, maps: &MapSet) -> Result<Bound, ExprError> {
        let _ = (column, maps);
        unimplemented!()
    }
}

/// What an expression is evaluated against.
#[derive(Clone, Copy, Debug)]
pub struct EvalContext<'a> {
    /// The image plain column references read.
    pub current: Option<&'a [Value]>,
    pub before: Option<&'a [Value]>,
    pub after: Option<&'a [Value]>,
    /// The source transaction's commit time, µs since 1970-01-01 UTC (`commit_time()`).
    pub commit_time_micros: i64,
    /// The source's name (`source_name()`).
    pub source: &'a str,
    /// The source table, `schema.table` (`source_table()`).
    pub table: &'a str,
}

/// An expression bound to a source schema, ready to evaluate.
#[derive(Clone, Debug)]
pub struct Bound {}

impl Bound {
    /// The value of the expression for one row.
    pub fn eval(&self, context: &EvalContext<'_>) -> Result<Value, EvalError> {
        let _ = context;
        unimplemented!()
    }

    /// SQL `WHERE` semantics: true only when the value is TRUE (NULL and
    /// FALSE are false); a non-boolean value is an error.
    pub fn test(&self, context: &EvalContext<'_>) -> Result<bool, EvalError> {
        let _ = context;
        unimplemented!()
    }
}

/// What a value map does with a value it has no entry for.
#[derive(Clone, Debug, PartialEq)]
pub enum Unmapped {
    /// Evaluation fails ([`EvalError::Unmapped`]).
    Error,
    /// The value passes through unchanged.
    Keep,
    /// This value is used instead.
    Default(Value),
}

/// A declarative value map (`[maps.order_status]`): source value → target value.
#[derive(Clone, Debug)]
pub struct ValueMap {
    pub name: String,
    entries: HashMap<String, Value>,
    unmapped: Unmapped,
}

impl ValueMap {
    /// Entries are keyed by the canonical text of the source value ([`text_of`]).
    pub fn new(name: impl Into<String>, entries: Vec<(String, Value)>, unmapped: Unmapped) -> ValueMap {
        ValueMap { name: name.into(), entries: entries.into_iter().collect(), unmapped }
    }

    /// The mapped value; NULL maps to NULL.
    pub fn get(&self, value: &Value) -> Result<Value, EvalError> {
        let _ = (&self.entries, &self.unmapped, value);
        unimplemented!()
    }
}

/// The config's maps by name.
pub type MapSet = HashMap<String, Arc<ValueMap>>;

/// The canonical text of a value: what `CAST(x AS text)` and `||` produce,
/// what value-map keys and crosswalk keys are compared by. `None` for NULL
/// and [`Value::Unchanged`].
pub fn text_of(value: &Value) -> Option<String> {
    let _ = value;
    unimplemented!()
}
