//! Can a PostgreSQL target column hold a source column's values?
//!
//! The sink writes every value as text and lets the target column's input
//! function (through a cast) convert it, so "compatible" means: every value
//! of the source type has a text form the target type accepts and reads back
//! as the same value. The matrix, source → target:
//!
//! | source | compatible target | warning (some values fail or change) | error |
//! |---|---|---|---|
//! | any | unbounded text (`text`, `varchar`) | bounded text shorter than the source's longest form; `bytea` into text (stored as `\x…`) | |
//! | bool | boolean | | anything else but text |
//! | integer | integer at least as wide (unsigned needs one byte more), numeric with enough integer digits, float that holds every value | narrower integer or numeric, float with too few digits, signed into `oid` | bool, dates, … |
//! | float | float at least as wide | `real` from double, numeric (rounded; NaN/Infinity refused by a constrained numeric) | integer |
//! | decimal | numeric with enough integer and fraction digits | fewer digits (overflow is refused, fraction rounded), float | integer unless the scale is 0 |
//! | text | text | json, enum, uuid, other types (the input function must accept every text) | numbers, dates, … |
//! | bytes | bytea | | anything else but text |
//! | bits | bit of the same length, varbit long enough | other lengths | |
//! | date | date, timestamp, timestamptz | | |
//! | time | time (fsp ≥ source), interval | time with fewer fraction digits, timetz (read as UTC) | |
//! | timetz | timetz | time (offset dropped) | |
//! | duration (MySQL TIME) | interval | time (negative or ≥ 24 h refused) | |
//! | timestamp | timestamp (fsp ≥ source) | timestamptz (read as UTC), date (time dropped), fewer fraction digits | |
//! | timestamptz | timestamptz | timestamp (UTC wall time), date | |
//! | interval, json, uuid | the same type | | |
//! | enum | enum with every source label | | enum missing labels |
//! | set | text[] / enum[] with every label | | |
//! | year | integer, numeric | | |
//! | array | array whose element is compatible | | |
//! | other (raw) | the same type | any other non-text type | |

use sluice_api::ColumnType;

/// The verdict for one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Compatibility {
    Compatible,
    /// Works for typical values; the reason says which values fail or change.
    Lossy(String),
    /// Cannot work.
    Incompatible(String),
}

use Compatibility::{Compatible, Incompatible, Lossy};

/// See the module documentation.
pub(crate) fn compatibility(source: &ColumnType, target: &ColumnType) -> Compatibility {
    use ColumnType as T;
    match (source, target) {
        (T::Bytes { .. }, T::Text { .. }) => Lossy("binary values are stored as \\x hex text".into()),
        (_, T::Text { max_chars: None }) => Compatible,
        (T::Text { max_chars: Some(s) }, T::Text { max_chars: Some(t) }) if s <= t => Compatible,
        (T::Text { .. }, T::Text { max_chars: Some(t) }) => {
            Lossy(format!("values longer than {t} characters are refused (value too long)"))
        }
        (_, T::Text { max_chars: Some(t) }) => {
            Lossy(format!("text forms longer than {t} characters are refused (value too long)"))
        }

        (T::Other { name: a }, T::Other { name: b }) if a == b => Compatible,
        (_, T::Other { name }) => {
            Lossy(format!("values reach {name} through its input function, which must accept every source value"))
        }

        (T::Bool, T::Bool) => Compatible,
        (T::Int { bytes, unsigned }, target) => integer_into(*bytes, *unsigned, target),
        (T::Year, T::Int { bytes, .. }) if *bytes >= 2 => Compatible,
        (T::Year, T::Decimal { precision, scale }) if integer_digits(*precision, *scale).is_none_or(|d| d >= 4) => {
            Compatible
        }
        (T::Float32, T::Float32 | T::Float64) | (T::Float64, T::Float64) => Compatible,
        (T::Float64, T::Float32) => Lossy("doubles are rounded to real (about 7 significant digits)".into()),
        (T::Float32 | T::Float64, T::Decimal { .. }) => Lossy(
            "floats are rounded to the numeric's scale; NaN and Infinity are refused by a constrained numeric".into(),
        ),
        (T::Decimal { precision, scale }, target) => decimal_into(*precision, *scale, target),

        (T::Text { .. }, T::Json) => Lossy("every value must be valid JSON".into()),
        (T::Text { .. }, T::Enum { .. }) => Lossy("every value must be one of the enum's labels".into()),
        (T::Text { .. }, T::Uuid) => Lossy("every value must be a UUID".into()),

        (T::Bytes { .. }, T::Bytes { .. }) => Compatible,
        (T::Bits { len: s, varying: sv }, T::Bits { len: t, varying: tv }) => bits_into(*s, *sv, *t, *tv),

        (T::Date, T::Date | T::Timestamp { .. } | T::TimestampTz { .. }) => Compatible,
        (T::Time { fsp: s }, T::Time { fsp: t }) | (T::TimeTz { fsp: s }, T::TimeTz { fsp: t }) => {
            fraction_into(*s, *t)
        }
        (T::Time { .. }, T::Interval) | (T::Duration { .. }, T::Interval) => Compatible,
        (T::Time { .. }, T::TimeTz { .. }) => Lossy("times are read as UTC".into()),
        (T::TimeTz { .. }, T::Time { .. }) => Lossy("the UTC offset is dropped".into()),
        (T::Duration { .. }, T::Time { .. }) => {
            Lossy("negative durations and durations of 24 hours or more are refused; use interval".into())
        }
        (T::Timestamp { fsp: s }, T::Timestamp { fsp: t }) | (T::TimestampTz { fsp: s }, T::TimestampTz { fsp: t }) => {
            fraction_into(*s, *t)
        }
        (T::Timestamp { .. }, T::TimestampTz { .. }) => Lossy("timestamps without zone are read as UTC".into()),
        (T::TimestampTz { .. }, T::Timestamp { .. }) => Lossy("instants are stored as UTC wall-clock time".into()),
        (T::Timestamp { .. } | T::TimestampTz { .. }, T::Date) => Lossy("the time of day is dropped".into()),

        (T::Interval, T::Interval) | (T::Json, T::Json) | (T::Uuid, T::Uuid) => Compatible,
        (T::Enum { labels: s } | T::Set { labels: s }, T::Enum { labels: t }) => labels_into(s, t),
        (T::Set { labels }, T::Array(element)) => match element.as_ref() {
            T::Text { .. } => Compatible,
            T::Enum { labels: t } => labels_into(labels, t),
            other => Incompatible(format!("set labels cannot be stored as {}", name_of(other))),
        },
        (T::Array(s), T::Array(t)) => match compatibility(s, t) {
            Compatible => Compatible,
            Lossy(reason) => Lossy(format!("array elements: {reason}")),
            Incompatible(reason) => Incompatible(format!("array elements: {reason}")),
        },
        (source, target) => Incompatible(format!("{} values cannot be stored in {}", name_of(source), name_of(target))),
    }
}

/// Decimal digits of the largest magnitude of an integer type.
fn integer_type_digits(bytes: u8, unsigned: bool) -> u32 {
    match (bytes, unsigned) {
        (1, _) => 3,
        (2, _) => 5,
        (3, false) => 7,
        (3, true) => 8,
        (4, _) => 10,
        (8, true) => 20,
        _ => 19,
    }
}

/// Integer digits a `numeric(p,s)` holds; `None` when unconstrained.
fn integer_digits(precision: Option<u32>, scale: Option<u32>) -> Option<u32> {
    precision.map(|p| p.saturating_sub(scale.unwrap_or(0)))
}

fn integer_into(bytes: u8, unsigned: bool, target: &ColumnType) -> Compatibility {
    let digits = integer_type_digits(bytes, unsigned);
    match target {
        ColumnType::Int { bytes: t, unsigned: t_unsigned } => {
            let fits = match (unsigned, t_unsigned) {
                (false, true) => false,
                (true, true) => bytes <= *t,
                (false, false) => bytes <= *t,
                (true, false) => bytes < *t,
            };
            if fits {
                Compatible
            } else if !unsigned && *t_unsigned {
                Lossy("negative values are refused by an unsigned target".into())
            } else {
                Lossy("values beyond the target integer's range are refused".into())
            }
        }
        ColumnType::Decimal { precision, scale } => match integer_digits(*precision, *scale) {
            Some(d) if d < digits => Lossy(format!("values of more than {d} digits are refused")),
            _ => Compatible,
        },
        ColumnType::Float32 if digits > 7 => Lossy("integers beyond 2^24 lose precision in real".into()),
        ColumnType::Float64 if digits > 15 => Lossy("integers beyond 2^53 lose precision in double precision".into()),
        ColumnType::Float32 | ColumnType::Float64 => Compatible,
        other => Incompatible(format!("integers cannot be stored in {}", name_of(other))),
    }
}

fn decimal_into(precision: Option<u32>, scale: Option<u32>, target: &ColumnType) -> Compatibility {
    match target {
        ColumnType::Decimal { precision: None, .. } => Compatible,
        ColumnType::Decimal { precision: Some(tp), scale: ts } => {
            let ts = ts.unwrap_or(0);
            match (precision, scale) {
                (Some(p), s) => {
                    let s = s.unwrap_or(0);
                    if ts >= s && tp.saturating_sub(ts) >= p.saturating_sub(s) {
                        Compatible
                    } else {
                        Lossy(format!(
                            "numeric({tp},{ts}) rounds fractions beyond {ts} digits and refuses more than {} integer digits",
                            tp.saturating_sub(ts)
                        ))
                    }
                }
                (None, _) => Lossy(format!("an unconstrained source decimal may not fit numeric({tp},{ts})")),
            }
        }
        ColumnType::Float32 | ColumnType::Float64 => Lossy("decimals are rounded to binary floating point".into()),
        ColumnType::Int { bytes, .. } if scale == Some(0) => {
            let capacity = integer_type_digits(*bytes, false);
            if precision.is_some_and(|p| p < capacity) {
                Compatible
            } else {
                Lossy("values beyond the target integer's range are refused".into())
            }
        }
        other => Incompatible(format!("decimals with fractions cannot be stored in {}", name_of(other))),
    }
}

fn bits_into(
    source_len: Option<u32>,
    source_varying: bool,
    target_len: Option<u32>,
    target_varying: bool,
) -> Compatibility {
    match (target_len, target_varying) {
        (None, _) => Compatible,
        (Some(t), false) if !source_varying && source_len == Some(t) => Compatible,
        (Some(t), false) => Lossy(format!("bit({t}) refuses strings of any other length")),
        (Some(t), true) if source_len.is_some_and(|s| s <= t) => Compatible,
        (Some(t), true) => Lossy(format!("bit varying({t}) refuses longer strings")),
    }
}

fn fraction_into(source: Option<u8>, target: Option<u8>) -> Compatibility {
    let (source, target) = (source.unwrap_or(6), target.unwrap_or(6));
    if target >= source {
        Compatible
    } else {
        Lossy(format!("fractional seconds are rounded from {source} to {target} digits"))
    }
}

fn labels_into(source: &[String], target: &[String]) -> Compatibility {
    let missing = source.iter().filter(|label| !target.contains(label)).count();
    if missing == 0 {
        Compatible
    } else {
        Incompatible(format!("{missing} of the source's {} labels are missing from the target enum", source.len()))
    }
}

/// A short, engine-neutral name of a column type for messages.
pub(crate) fn name_of(column_type: &ColumnType) -> String {
    match column_type {
        ColumnType::Bool => "boolean".into(),
        ColumnType::Int { bytes, unsigned: false } => format!("{}-byte integer", bytes),
        ColumnType::Int { bytes, unsigned: true } => format!("{}-byte unsigned integer", bytes),
        ColumnType::Float32 => "real".into(),
        ColumnType::Float64 => "double".into(),
        ColumnType::Decimal { precision: Some(p), scale } => format!("decimal({p},{})", scale.unwrap_or(0)),
        ColumnType::Decimal { .. } => "decimal".into(),
        ColumnType::Text { max_chars: Some(n) } => format!("text({n})"),
        ColumnType::Text { .. } => "text".into(),
        ColumnType::Bytes { .. } => "binary".into(),
        ColumnType::Bits { .. } => "bit string".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time { .. } => "time".into(),
        ColumnType::TimeTz { .. } => "time with time zone".into(),
        ColumnType::Duration { .. } => "duration".into(),
        ColumnType::Timestamp { .. } => "timestamp".into(),
        ColumnType::TimestampTz { .. } => "timestamp with time zone".into(),
        ColumnType::Interval => "interval".into(),
        ColumnType::Json => "json".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Enum { .. } => "enum".into(),
        ColumnType::Set { .. } => "set".into(),
        ColumnType::Year => "year".into(),
        ColumnType::Array(element) => format!("{}[]", name_of(element)),
        ColumnType::Other { name } => name.clone(),
    }
}

/// The PostgreSQL type a DBA would most likely give a new column for values
/// of this type (for `ALTER TABLE … ADD COLUMN` suggestions).
pub(crate) fn suggested_postgres_type(column_type: &ColumnType) -> String {
    let with_fsp = |base: &str, fsp: &Option<u8>, suffix: &str| match fsp {
        Some(p) => format!("{base}({p}){suffix}"),
        None => format!("{base}{suffix}"),
    };
    match column_type {
        ColumnType::Bool => "boolean".into(),
        ColumnType::Int { bytes: 1, .. } | ColumnType::Int { bytes: 2, unsigned: false } | ColumnType::Year => {
            "smallint".into()
        }
        ColumnType::Int { bytes: 2 | 3, .. } | ColumnType::Int { bytes: 4, unsigned: false } => "integer".into(),
        ColumnType::Int { bytes: 8, unsigned: true } => "numeric(20,0)".into(),
        ColumnType::Int { .. } => "bigint".into(),
        ColumnType::Float32 => "real".into(),
        ColumnType::Float64 => "double precision".into(),
        ColumnType::Decimal { precision: Some(p), scale } => format!("numeric({p},{})", scale.unwrap_or(0)),
        ColumnType::Decimal { .. } => "numeric".into(),
        ColumnType::Text { max_chars: Some(n) } => format!("character varying({n})"),
        ColumnType::Text { .. } | ColumnType::Enum { .. } => "text".into(),
        ColumnType::Bytes { .. } => "bytea".into(),
        ColumnType::Bits { len: Some(n), varying: false } => format!("bit({n})"),
        ColumnType::Bits { len: Some(n), varying: true } => format!("bit varying({n})"),
        ColumnType::Bits { .. } => "bit varying".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time { fsp } => with_fsp("time", fsp, ""),
        ColumnType::TimeTz { fsp } => with_fsp("time", fsp, " with time zone"),
        ColumnType::Duration { .. } | ColumnType::Interval => "interval".into(),
        ColumnType::Timestamp { fsp } => with_fsp("timestamp", fsp, ""),
        ColumnType::TimestampTz { fsp } => with_fsp("timestamp", fsp, " with time zone"),
        ColumnType::Json => "jsonb".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Set { .. } => "text[]".into(),
        ColumnType::Array(element) => format!("{}[]", suggested_postgres_type(element)),
        ColumnType::Other { name } => name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT4: ColumnType = ColumnType::Int { bytes: 4, unsigned: false };
    const INT8: ColumnType = ColumnType::Int { bytes: 8, unsigned: false };
    const UINT4: ColumnType = ColumnType::Int { bytes: 4, unsigned: true };
    const UINT8: ColumnType = ColumnType::Int { bytes: 8, unsigned: true };
    const TEXT: ColumnType = ColumnType::Text { max_chars: None };

    fn decimal(p: u32, s: u32) -> ColumnType {
        ColumnType::Decimal { precision: Some(p), scale: Some(s) }
    }

    #[test]
    fn integers_need_an_equal_or_wider_target() {
        assert_eq!(compatibility(&INT4, &INT8), Compatible);
        assert!(matches!(compatibility(&INT8, &INT4), Lossy(_)));
        assert_eq!(compatibility(&UINT4, &INT8), Compatible);
        assert!(matches!(compatibility(&UINT8, &INT8), Lossy(_)));
        assert_eq!(compatibility(&UINT8, &decimal(20, 0)), Compatible);
        assert!(matches!(compatibility(&INT8, &decimal(10, 2)), Lossy(_)));
        assert_eq!(compatibility(&INT4, &TEXT), Compatible);
    }

    #[test]
    fn text_into_numbers_is_an_error() {
        assert!(matches!(compatibility(&TEXT, &INT4), Incompatible(_)));
        assert!(matches!(compatibility(&TEXT, &ColumnType::Date), Incompatible(_)));
        assert!(matches!(compatibility(&TEXT, &ColumnType::Json), Lossy(_)));
    }

    #[test]
    fn decimals_need_digits_on_both_sides_of_the_point() {
        assert_eq!(compatibility(&decimal(12, 2), &decimal(14, 4)), Compatible);
        assert!(matches!(compatibility(&decimal(12, 2), &decimal(12, 1)), Lossy(_)));
        assert!(matches!(compatibility(&decimal(12, 2), &INT8), Incompatible(_)));
        assert_eq!(compatibility(&decimal(9, 0), &INT4), Compatible);
    }

    #[test]
    fn bounded_text_warns_about_longer_values() {
        let short = ColumnType::Text { max_chars: Some(10) };
        assert!(matches!(compatibility(&TEXT, &short), Lossy(_)));
        assert_eq!(compatibility(&ColumnType::Text { max_chars: Some(5) }, &short), Compatible);
    }

    #[test]
    fn enums_need_every_label() {
        let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let source = ColumnType::Enum { labels: labels(&["a", "b"]) };
        assert_eq!(compatibility(&source, &ColumnType::Enum { labels: labels(&["b", "a", "c"]) }), Compatible);
        assert!(matches!(compatibility(&source, &ColumnType::Enum { labels: labels(&["a"]) }), Incompatible(_)));
    }

    #[test]
    fn temporal_types_follow_the_matrix() {
        let ts = ColumnType::Timestamp { fsp: Some(6) };
        assert_eq!(compatibility(&ColumnType::Date, &ts), Compatible);
        assert!(matches!(compatibility(&ts, &ColumnType::Timestamp { fsp: Some(3) }), Lossy(_)));
        assert!(matches!(
            compatibility(&ColumnType::Duration { fsp: None }, &ColumnType::Time { fsp: None }),
            Lossy(_)
        ));
        assert_eq!(compatibility(&ColumnType::Duration { fsp: None }, &ColumnType::Interval), Compatible);
        assert!(matches!(compatibility(&ts, &ColumnType::Bool), Incompatible(_)));
    }

    #[test]
    fn arrays_compare_their_elements() {
        let ints = ColumnType::Array(Box::new(INT4));
        assert_eq!(compatibility(&ints, &ColumnType::Array(Box::new(INT8))), Compatible);
        assert!(matches!(compatibility(&ints, &ColumnType::Array(Box::new(ColumnType::Bool))), Incompatible(_)));
    }

    #[test]
    fn suggestions_are_postgres_types() {
        assert_eq!(suggested_postgres_type(&UINT8), "numeric(20,0)");
        assert_eq!(suggested_postgres_type(&ColumnType::TimestampTz { fsp: Some(3) }), "timestamp(3) with time zone");
        assert_eq!(suggested_postgres_type(&ColumnType::Array(Box::new(TEXT))), "text[]");
    }
}
