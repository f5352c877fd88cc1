//! The function catalogue: every name the language knows, its arity, and
//! the names refused because their results would differ between a change
//! and its replay (`now()`, `random()`, `uuid()`…). The parser resolves a
//! call to a [`Func`] here once; evaluation (`call`) never sees a name.
//!
//! A few functions have syntax of their own and are resolved by the parser
//! directly: `map`/`lookup` (a name argument), `date_trunc`/`date_part` (a
//! literal field argument), `extract(field FROM x)`, `position(a IN b)`,
//! `substring(s FROM a FOR b)`, `trim(BOTH 'x' FROM s)`, `ceil`/`floor`.

use super::tree::{Func, TrimSide};

/// A catalogue entry: name, function, fewest and most arguments (`None`: any number).
struct Entry(&'static str, Func, usize, Option<usize>);

const CATALOGUE: &[Entry] = &[
    Entry("abs", Func::Abs, 1, Some(1)),
    Entry("btrim", Func::Trim(TrimSide::Both), 1, Some(2)),
    Entry("ceil", Func::Ceil, 1, Some(1)),
    Entry("ceiling", Func::Ceil, 1, Some(1)),
    Entry("char_length", Func::Length, 1, Some(1)),
    Entry("character_length", Func::Length, 1, Some(1)),
    Entry("coalesce", Func::Coalesce, 1, None),
    Entry("commit_time", Func::CommitTime, 0, Some(0)),
    Entry("concat", Func::Concat, 1, None),
    Entry("floor", Func::Floor, 1, Some(1)),
    Entry("greatest", Func::Greatest, 1, None),
    Entry("least", Func::Least, 1, None),
    Entry("left", Func::Left, 2, Some(2)),
    Entry("length", Func::Length, 1, Some(1)),
    Entry("lower", Func::Lower, 1, Some(1)),
    Entry("lpad", Func::Lpad, 2, Some(3)),
    Entry("ltrim", Func::Trim(TrimSide::Leading), 1, Some(2)),
    Entry("mod", Func::Mod, 2, Some(2)),
    Entry("nullif", Func::NullIf, 2, Some(2)),
    Entry("octet_length", Func::OctetLength, 1, Some(1)),
    Entry("replace", Func::Replace, 3, Some(3)),
    Entry("right", Func::Right, 2, Some(2)),
    Entry("round", Func::Round, 1, Some(2)),
    Entry("rpad", Func::Rpad, 2, Some(3)),
    Entry("rtrim", Func::Trim(TrimSide::Trailing), 1, Some(2)),
    Entry("source_name", Func::SourceName, 0, Some(0)),
    Entry("source_table", Func::SourceTable, 0, Some(0)),
    Entry("strpos", Func::Position, 2, Some(2)),
    Entry("substr", Func::Substring, 2, Some(3)),
    Entry("substring", Func::Substring, 2, Some(3)),
    Entry("trim", Func::Trim(TrimSide::Both), 1, Some(2)),
    Entry("upper", Func::Upper, 1, Some(1)),
];

/// Names with syntax of their own (see the module docs), for the list of known functions.
const SPECIAL: &[&str] = &["date_part", "date_trunc", "extract", "lookup", "map", "position"];

/// Functions whose result would change between a change and its replay.
const NON_DETERMINISTIC: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "sysdate",
    "sysdatetime",
    "systimestamp",
    "getdate",
    "getutcdate",
    "utc_timestamp",
    "utc_date",
    "utc_time",
    "curdate",
    "curtime",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
    "timeofday",
    "unix_timestamp",
    "random",
    "rand",
    "uuid",
    "uuid_short",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "newid",
];

/// The function named `name` (lower-case) with its arity.
pub(crate) fn lookup(name: &str) -> Option<(Func, usize, Option<usize>)> {
    CATALOGUE.iter().find(|e| e.0 == name).map(|e| (e.1, e.2, e.3))
}

/// Whether `name` (lower-case) is refused as non-deterministic.
pub(crate) fn is_non_deterministic(name: &str) -> bool {
    NON_DETERMINISTIC.contains(&name)
}

/// Every known function name, sorted, comma-separated.
pub(crate) fn known() -> String {
    let mut names: Vec<&str> = CATALOGUE.iter().map(|e| e.0).chain(SPECIAL.iter().copied()).collect();
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

/// "1 argument", "2 or 3 arguments", "at least 1 argument".
pub(crate) fn describe_arity(min: usize, max: Option<usize>) -> String {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match max {
        Some(max) if max == min => format!("{min} {}", plural(min)),
        Some(max) if max == min + 1 => format!("{min} or {max} arguments"),
        Some(max) => format!("{min} to {max} arguments"),
        None => format!("at least {min} {}", plural(min)),
    }
}
