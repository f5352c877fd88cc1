//! The mapping expression language: SQL expressions in the config file
//! (route columns, `where`, `when`, soft-delete columns), parsed once with
//! `sqlparser` into Sluice's own small tree and evaluated per row without
//! re-parsing. docs/EXPRESSIONS.md is the reference a DBA reads.
//!
//! Life of an expression: [`Expression::parse`] at config load (syntax,
//! function names and arity are checked there, constant sub-expressions are
//! folded, LIKE patterns compiled; column names are not yet known);
//! [`Expression::bind`] when the route is resolved against a source schema
//! (column names become indices, map names become maps; an unknown column or
//! map is an error naming it); [`Bound::eval`] / [`Bound::test`] per row,
//! reading cells by reference and dispatching on pre-resolved enums.
//! Results are deterministic for replays: there is no `now()`;
//! `commit_time()` is the source transaction's commit time.
//!
//! Error messages name columns, maps, operators and functions, never row
//! values. They are fragments the engine embeds after a route and setting
//! (`Route x: column y = …: <message>`), so they start lower-case.
//!
//! The files, one job each: `tree` (the expression tree), `parse`
//! (sqlparser's AST → the tree), `functions` (the function catalogue),
//! `bind` (names → indices and maps), `eval` (per-row evaluation), `call`
//! (function calls), `compare` (comparison rules), `numeric` (exact
//! arithmetic), `cast` (CAST), `temporal` (dates and times), `text`
//! (canonical text, LIKE, string functions), `value_map` (value maps).

mod bind;
mod call;
mod cast;
mod compare;
mod eval;
mod functions;
mod numeric;
mod parse;
mod temporal;
mod text;
mod tree;
mod value_map;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use sluice_api::Value;

pub use text::text_of;
use tree::{BoundNode, Node, Parsed};

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

/// A column reference as written in an expression. `name` is the name as
/// written, without quotes and without case folding.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    pub image: Image,
    pub name: String,
}

impl fmt::Display for ColumnRef {
    /// `name`, `before.name` or `after.name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.image {
            Image::Current => f.write_str(&self.name),
            Image::Before => write!(f, "before.{}", self.name),
            Image::After => write!(f, "after.{}", self.name),
        }
    }
}

/// Why an expression cannot be used (config time: parse and bind).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// A syntax error or a construct outside the language.
    #[error("{0}")]
    Invalid(String),
    /// A function the language does not have.
    #[error("unknown function {name}(); the known functions are: {known}")]
    UnknownFunction { name: String, known: String },
    /// `now()` and friends: a replay would write different rows.
    #[error(
        "{name}() is not allowed: results must be deterministic, so that replaying a change writes the same row; \
         use commit_time() for the source transaction's commit time"
    )]
    NonDeterministic { name: String },
    /// A known function called with the wrong number of arguments.
    #[error("{name}() takes {expected}, not {given}")]
    Arity { name: String, expected: String, given: usize },
    /// `bind`: the source table has no column of that name.
    #[error("unknown column {column}: the source table has no column of that name")]
    UnknownColumn { column: String },
    /// `bind`: `map(name, …)` names no map of the config.
    #[error("unknown map {name} in map(): define it as [maps.{name}] or fix the name")]
    UnknownMap { name: String },
    /// `bind`: `lookup(name, …)` whose name is not a map is a crosswalk
    /// lookup, which only the target writer can resolve.
    #[error(
        "lookup({name}, …) is a crosswalk lookup (there is no map {name}), which the target writer resolves: \
         it must be the whole expression of a column, not part of an expression or a condition"
    )]
    CrosswalkLookup { name: String },
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

impl EvalError {
    /// An [`EvalError::Invalid`]; `what` names the operator or function.
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> EvalError {
        EvalError::Invalid { what: what.into(), reason: reason.into() }
    }
}

/// A parsed expression; names are not resolved yet.
#[derive(Clone, Debug)]
pub struct Expression {
    text: String,
    root: Parsed,
}

impl Expression {
    /// Parses `text`. Unknown functions, wrong arity, non-deterministic
    /// functions and constructs outside the language are errors here.
    pub fn parse(text: &str) -> Result<Expression, ExprError> {
        Ok(Expression { text: text.to_owned(), root: parse::parse(text)? })
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every column referenced, distinct, in order of first appearance.
    pub fn columns(&self) -> Vec<ColumnRef> {
        let mut out: Vec<ColumnRef> = Vec::new();
        self.root.walk(&mut |node| {
            if let Node::Column(column) = node
                && !out.contains(column)
            {
                out.push(column.clone());
            }
        });
        out
    }

    /// The first argument of every `map(...)` and `lookup(...)` call,
    /// distinct, in order of first appearance.
    pub fn names_used(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.root.walk(&mut |node| {
            if let Node::Map(map, _) = node
                && !out.contains(&map.name)
            {
                out.push(map.name.clone());
            }
        });
        out
    }

    /// `Some((name, key))` when the whole expression is `lookup(name, key)`
    /// (whether or not `name` is a map: the caller checks the config's maps).
    pub fn as_lookup(&self) -> Option<(String, Expression)> {
        match &self.root {
            Node::Map(map, key) if map.via_lookup => {
                Some((map.name.clone(), Expression { text: map.key_text.clone(), root: (**key).clone() }))
            }
            _ => None,
        }
    }

    /// Whether a `lookup(...)` call whose name is not a map appears anywhere.
    pub fn has_crosswalk_lookup(&self, maps: &MapSet) -> bool {
        let mut found = false;
        self.root.walk(&mut |node| {
            if let Node::Map(map, _) = node
                && map.via_lookup
                && !maps.contains_key(&map.name)
            {
                found = true;
            }
        });
        found
    }

    /// `Some(column)` when the whole expression is one column reference
    /// (parentheses aside).
    pub fn as_column(&self) -> Option<&ColumnRef> {
        match &self.root {
            Node::Column(column) => Some(column),
            _ => None,
        }
    }

    /// Resolves column names (through `column`, which returns the index of
    /// a source column in the row images) and map names. `lookup(name, key)`
    /// with a map's name is that map; with any other name it is an error
    /// here (crosswalk lookups are resolved by the target writer; the
    /// engine takes them apart with [`Expression::as_lookup`] first).
    pub fn bind(&self, column: &dyn Fn(&ColumnRef) -> Option<usize>, maps: &MapSet) -> Result<Bound, ExprError> {
        Ok(Bound { root: bind::bind(&self.root, column, maps)? })
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
pub struct Bound {
    root: BoundNode,
}

impl Bound {
    /// The value of the expression for one row.
    pub fn eval(&self, context: &EvalContext<'_>) -> Result<Value, EvalError> {
        self.root.eval(context).map(std::borrow::Cow::into_owned)
    }

    /// SQL `WHERE` semantics: true only when the value is TRUE (NULL and
    /// FALSE are false); a non-boolean value is an error (an integer is not
    /// taken as a truth value: compare it explicitly).
    pub fn test(&self, context: &EvalContext<'_>) -> Result<bool, EvalError> {
        match &*self.root.eval(context)? {
            Value::Bool(b) => Ok(*b),
            Value::Null => Ok(false),
            other => Err(EvalError::invalid(
                "condition",
                format!(
                    "the condition is not boolean (it gives a {} value); compare explicitly, \
                     e.g. `x = 1`, `x <> 0` or `x IS NOT NULL`",
                    other.kind_name()
                ),
            )),
        }
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

/// The config's maps by name.
pub type MapSet = HashMap<String, Arc<ValueMap>>;
