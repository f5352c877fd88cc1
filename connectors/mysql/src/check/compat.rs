//! Which source column types a MySQL/MariaDB target column can take, and
//! how safely: the static view of `types` (which decides per value).
//!
//! - `Ok`: every value of the source type fits exactly;
//! - `Warning`: values of the type can be written, but some may be refused
//!   at run time (out of range, too many fraction digits, too long, a
//!   character the charset lacks, an undeclared label) — the pipeline then
//!   stops with a data error naming the column;
//! - `Error`: no value of the type can be written.

use sluice_api::ColumnType;

use super::Severity;
use crate::sink::TargetColumn;
use crate::types::ColumnKind;

/// Charsets holding all of Unicode.
const UNICODE_CHARSETS: &[&str] = &["utf8mb4", "utf16", "utf16le", "utf32", "gb18030"];

/// Severity and explanation for writing values of `source` into `target`.
pub(super) fn compatibility(source: &ColumnType, target: &TargetColumn) -> (Severity, String) {
    let kind = ColumnKind::of(target);
    let verdict = verdict(source, &kind);
    let target_name = &target.type_name;
    let source = source_name(source);
    let message = match verdict {
        Verdict::Exact => format!("{source} fits {target_name} exactly"),
        Verdict::Checked(why) => format!("{source} into {target_name}: {why}; such values stop the pipeline"),
        Verdict::Never => format!("{source} values cannot be written into {target_name}"),
    };
    let severity = match verdict {
        Verdict::Exact => Severity::Ok,
        Verdict::Checked(_) => Severity::Warning,
        Verdict::Never => Severity::Error,
    };
    (severity, message)
}

/// A short name of a source type for messages.
fn source_name(source: &ColumnType) -> String {
    let fsp = |f: &Option<u8>| f.map(|f| format!("({f})")).unwrap_or_default();
    match source {
        ColumnType::Bool => "boolean".into(),
        ColumnType::Int { bytes, unsigned } => {
            format!("{}-byte {}integer", bytes, if *unsigned { "unsigned " } else { "" })
        }
        ColumnType::Float32 => "float".into(),
        ColumnType::Float64 => "double".into(),
        ColumnType::Decimal { precision: Some(p), scale: Some(s) } => format!("decimal({p},{s})"),
        ColumnType::Decimal { .. } => "decimal".into(),
        ColumnType::Text { max_chars: Some(n) } => format!("text({n})"),
        ColumnType::Text { max_chars: None } => "text".into(),
        ColumnType::Bytes { .. } => "binary".into(),
        ColumnType::Bits { len: Some(n), .. } => format!("bit({n})"),
        ColumnType::Bits { .. } => "bit string".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time { fsp: f } => format!("time{}", fsp(f)),
        ColumnType::TimeTz { fsp: f } => format!("time with time zone{}", fsp(f)),
        ColumnType::Duration { fsp: f } => format!("duration{}", fsp(f)),
        ColumnType::Timestamp { fsp: f } => format!("timestamp{}", fsp(f)),
        ColumnType::TimestampTz { fsp: f } => format!("timestamp with time zone{}", fsp(f)),
        ColumnType::Interval => "interval".into(),
        ColumnType::Json => "json".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Enum { .. } => "enum".into(),
        ColumnType::Set { .. } => "set".into(),
        ColumnType::Year => "year".into(),
        ColumnType::Array(inner) => format!("{}[]", source_name(inner)),
        ColumnType::Other { name } => name.clone(),
    }
}

enum Verdict {
    Exact,
    Checked(&'static str),
    Never,
}

fn int_range(bytes: u8, unsigned: bool) -> (i128, i128) {
    let bits = u32::from(bytes.clamp(1, 8)) * 8;
    if unsigned { (0, (1i128 << bits) - 1) } else { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) }
}

fn digits(n: i128) -> u32 {
    n.unsigned_abs().checked_ilog10().map_or(1, |d| d + 1)
}

fn text_fits(charset: &Option<String>, max_chars: Option<u32>, source_chars: Option<u32>) -> Verdict {
    let unicode = charset.as_deref().is_none_or(|c| UNICODE_CHARSETS.contains(&c));
    let long_enough = match (max_chars, source_chars) {
        (None, _) => true,
        (Some(max), Some(source)) => source <= max,
        (Some(_), None) => false,
    };
    match (unicode, long_enough) {
        (true, true) => Verdict::Exact,
        (false, _) => Verdict::Checked("characters outside the column's character set are refused"),
        (true, false) => Verdict::Checked("longer text is refused"),
    }
}

fn fsp_fits(source: Option<u8>, target: u8) -> Verdict {
    if source.unwrap_or(6) <= target {
        Verdict::Exact
    } else {
        Verdict::Checked("fraction digits beyond the column's precision are refused")
    }
}

fn verdict(source: &ColumnType, kind: &ColumnKind) -> Verdict {
    use ColumnKind as K;
    use ColumnType as S;
    match (source, kind) {
        (S::Bool, K::Int { .. } | K::Bit { .. }) => Verdict::Exact,
        (S::Int { bytes, unsigned }, K::Int { min, max }) => {
            let (lo, hi) = int_range(*bytes, *unsigned);
            if *min <= lo && hi <= *max {
                Verdict::Exact
            } else {
                Verdict::Checked("values out of the column's range are refused")
            }
        }
        (S::Int { bytes, unsigned }, K::Decimal { precision, scale }) => {
            let (lo, hi) = int_range(*bytes, *unsigned);
            if digits(lo).max(digits(hi)) <= precision.saturating_sub(*scale) {
                Verdict::Exact
            } else {
                Verdict::Checked("values with more integer digits than the column holds are refused")
            }
        }
        (S::Int { bytes, .. }, K::Float32) if *bytes <= 2 => Verdict::Exact,
        (S::Int { bytes, .. }, K::Float64) if *bytes <= 4 => Verdict::Exact,
        (S::Int { .. }, K::Float32 | K::Float64) => {
            Verdict::Checked("integers a float cannot represent exactly are refused")
        }
        (S::Year, K::Year) | (S::Json, K::Json) | (S::Uuid, K::Uuid) => Verdict::Exact,
        (S::Int { .. } | S::Decimal { .. } | S::Year, K::Year | K::Bit { .. }) => {
            Verdict::Checked("values out of the column's range are refused")
        }
        (S::Decimal { precision: Some(p), scale: Some(s) }, K::Decimal { precision, scale }) => {
            if p.saturating_sub(*s) <= precision.saturating_sub(*scale) && s <= scale {
                Verdict::Exact
            } else {
                Verdict::Checked("values that need more digits than the column's precision or scale are refused")
            }
        }
        (S::Decimal { .. }, K::Decimal { .. }) => {
            Verdict::Checked("values that need more digits than the column's precision or scale (or NaN) are refused")
        }
        (S::Decimal { .. }, K::Int { .. } | K::Float32 | K::Float64) => {
            Verdict::Checked("values with a fraction or beyond the column's range or precision are refused")
        }
        (S::Float32, K::Float32 | K::Float64) | (S::Float64, K::Float64) => Verdict::Exact,
        (S::Float64, K::Float32) => Verdict::Checked("doubles a 4-byte FLOAT cannot represent exactly are refused"),
        (S::Int { bytes, unsigned }, K::ScaledFloat { double, precision, scale, unsigned: target_unsigned }) => {
            let (lo, hi) = int_range(*bytes, *unsigned);
            let representable = if *double { *bytes <= 4 } else { *bytes <= 2 };
            let fits = digits(lo).max(digits(hi)) <= precision.saturating_sub(*scale);
            if representable && fits && (*unsigned || !*target_unsigned) {
                Verdict::Exact
            } else {
                Verdict::Checked("integers beyond the column's digits (or its float's exact range) are refused")
            }
        }
        (S::Bool, K::ScaledFloat { precision, scale, .. }) if precision > scale => Verdict::Exact,
        (S::Float32 | S::Float64 | S::Decimal { .. } | S::Text { .. }, K::ScaledFloat { .. }) => Verdict::Checked(
            "numbers the server would round to the column's decimals, or with too many integer digits, are refused",
        ),
        (S::Float32 | S::Float64, K::Decimal { .. } | K::Int { .. }) => {
            Verdict::Checked("floats with more digits than the column holds are refused")
        }
        (S::Text { max_chars }, K::Text { charset, max_chars: target }) => text_fits(charset, *target, *max_chars),
        (S::Text { .. }, K::Binary { fixed: None, max_len: None } | K::Json) => Verdict::Exact,
        (S::Text { .. }, K::Binary { .. } | K::Enum { .. } | K::Set { .. } | K::Uuid | K::Inet) => {
            Verdict::Checked("text that is not a valid value of the column's type is refused")
        }
        (S::Text { .. }, K::Int { .. } | K::Decimal { .. } | K::Float32 | K::Float64) => {
            Verdict::Checked("text that is not a number the column holds exactly is refused")
        }
        (S::Bytes { max_len }, K::Binary { fixed: None, max_len: target }) => match (target, max_len) {
            (None, _) => Verdict::Exact,
            (Some(t), Some(s)) if s <= t => Verdict::Exact,
            _ => Verdict::Checked("longer binary data is refused"),
        },
        (S::Bytes { .. }, K::Binary { fixed: Some(_), .. }) => {
            Verdict::Checked("binary data of another length than the column's is refused (BINARY pads)")
        }
        (S::Bytes { .. }, K::Geometry | K::Inet | K::Uuid) => {
            Verdict::Checked("binary data that is not a valid value of the column's type is refused")
        }
        (S::Bits { len, .. }, K::Bit { len: target }) if len.is_some_and(|l| l <= *target) => Verdict::Exact,
        (S::Bits { .. }, K::Bit { .. } | K::Int { .. }) => {
            Verdict::Checked("bit strings wider than the column are refused")
        }
        (S::Date, K::Date | K::DateTime { .. }) => {
            Verdict::Checked("dates outside the years 1000 to 9999 (and infinities) are refused")
        }
        (S::Date | S::Timestamp { .. } | S::TimestampTz { .. }, K::Timestamp { .. }) => {
            Verdict::Checked("instants outside 1970 to 2038 (the TIMESTAMP range) are refused")
        }
        (S::Timestamp { fsp } | S::TimestampTz { fsp }, K::DateTime { fsp: target }) => match fsp_fits(*fsp, *target) {
            Verdict::Exact => {
                Verdict::Checked("timestamps outside the years 1000 to 9999 (and infinities) are refused")
            }
            other => other,
        },
        (S::Duration { fsp } | S::Time { fsp }, K::Time { fsp: target }) => match (source, fsp_fits(*fsp, *target)) {
            (S::Duration { .. }, Verdict::Exact) => Verdict::Checked("durations beyond ±838:59:59 are refused"),
            (_, verdict) => verdict,
        },
        (S::Year, K::Int { min, max }) if *min <= 0 && *max >= 2155 => Verdict::Exact,
        (S::Uuid, K::Binary { max_len, .. }) if max_len.is_none_or(|l| l >= 16) => match kind {
            K::Binary { fixed: Some(16) | None, .. } => Verdict::Exact,
            _ => Verdict::Never,
        },
        (S::Enum { labels }, K::Enum { labels: target }) | (S::Set { labels }, K::Set { labels: target }) => {
            if labels.iter().all(|l| target.contains(l)) {
                Verdict::Exact
            } else {
                Verdict::Checked("labels the column does not declare are refused")
            }
        }
        (S::Array(_), K::Json) => Verdict::Exact,
        (S::Other { name }, K::Inet) if name == "inet" || name == "cidr" => {
            Verdict::Checked("addresses with a network mask are refused")
        }
        (
            S::Json | S::Array(_) | S::Other { .. } | S::Interval | S::TimeTz { .. } | S::Enum { .. } | S::Set { .. },
            K::Text { charset, max_chars },
        ) => text_fits(charset, *max_chars, None),
        (S::Bytes { .. }, K::Text { .. }) => Verdict::Never,
        // Everything else has an ASCII text form of bounded length.
        (_, K::Text { max_chars: Some(max), .. }) if *max < 64 => Verdict::Checked("longer text is refused"),
        (_, K::Text { .. }) => Verdict::Exact,
        _ => Verdict::Never,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(type_name: &str, column_type: ColumnType) -> TargetColumn {
        TargetColumn {
            name: "c".into(),
            type_name: type_name.into(),
            column_type,
            nullable: true,
            has_default: false,
            generated: false,
        }
    }

    #[test]
    fn widening_is_exact_and_narrowing_is_checked() {
        let bigint = column("bigint(20)", ColumnType::Int { bytes: 8, unsigned: false });
        let int = column("int(11)", ColumnType::Int { bytes: 4, unsigned: false });
        assert_eq!(compatibility(&ColumnType::Int { bytes: 4, unsigned: true }, &bigint).0, Severity::Ok);
        assert_eq!(compatibility(&ColumnType::Int { bytes: 8, unsigned: false }, &int).0, Severity::Warning);
        let unsigned = ColumnType::Int { bytes: 8, unsigned: true };
        assert_eq!(compatibility(&unsigned, &bigint).0, Severity::Warning);
    }

    #[test]
    fn charsets_and_lengths_decide_for_text() {
        let gbk = column("varchar(10) CHARACTER SET gbk", ColumnType::Text { max_chars: Some(10) });
        let utf8 = column("varchar(10) CHARACTER SET utf8mb4", ColumnType::Text { max_chars: Some(10) });
        let short = ColumnType::Text { max_chars: Some(10) };
        assert_eq!(compatibility(&short, &utf8).0, Severity::Ok);
        assert_eq!(compatibility(&short, &gbk).0, Severity::Warning);
        assert_eq!(compatibility(&ColumnType::Text { max_chars: None }, &utf8).0, Severity::Warning);
    }

    #[test]
    fn scaled_floats_take_numbers_with_a_check() {
        let float72 = column("float(7,2)", ColumnType::Float32);
        let (severity, message) = compatibility(&ColumnType::Float32, &float72);
        assert_eq!(severity, Severity::Warning, "{message}");
        assert!(message.contains("round"), "{message}");
        assert_eq!(compatibility(&ColumnType::Int { bytes: 2, unsigned: false }, &float72).0, Severity::Ok);
        assert_eq!(compatibility(&ColumnType::Int { bytes: 4, unsigned: false }, &float72).0, Severity::Warning);
        assert_eq!(compatibility(&ColumnType::Date, &float72).0, Severity::Error);
    }

    #[test]
    fn incompatible_families_are_errors() {
        let int = column("int(11)", ColumnType::Int { bytes: 4, unsigned: false });
        assert_eq!(compatibility(&ColumnType::Interval, &int).0, Severity::Error);
        let text = column("varchar(10) CHARACTER SET utf8mb4", ColumnType::Text { max_chars: Some(10) });
        assert_eq!(compatibility(&ColumnType::Bytes { max_len: None }, &text).0, Severity::Error);
        let date = column("date", ColumnType::Date);
        assert_eq!(compatibility(&ColumnType::Uuid, &date).0, Severity::Error);
    }
}
