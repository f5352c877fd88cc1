//! A target column classified once, for encoding: what the server will do
//! with a parameter depends on more than the engine-neutral `ColumnType`
//! (BINARY pads while VARBINARY does not, the character set, MariaDB's
//! UUID/INET6 types), and the sink encodes many cells per column.

use sluice_api::ColumnType;

use crate::sink::TargetColumn;

/// How a target column takes values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ColumnKind {
    /// Any integer type (`tinyint(1)`/BOOLEAN included) with its range.
    Int {
        min: i128,
        max: i128,
    },
    Decimal {
        precision: u32,
        scale: u32,
    },
    Float32,
    Float64,
    /// FLOAT(M,D) / DOUBLE(M,D) (and REAL(M,D)): a FLOAT or DOUBLE the
    /// server rounds to `scale` decimals, with at most `precision - scale`
    /// integer digits (both deprecated in MySQL 8.0.17, still accepted).
    ScaledFloat {
        double: bool,
        precision: u32,
        scale: u32,
        unsigned: bool,
    },
    Bit {
        len: u32,
    },
    /// CHAR, VARCHAR, TEXT types; `charset` as the server names it.
    Text {
        charset: Option<String>,
        max_chars: Option<u32>,
    },
    /// MySQL JSON, or MariaDB's JSON alias (LONGTEXT with `json_valid`).
    Json,
    /// BINARY(n) (`fixed`: pads with 0x00), VARBINARY, BLOB types.
    Binary {
        fixed: Option<u32>,
        max_len: Option<u32>,
    },
    Date,
    DateTime {
        fsp: u8,
    },
    Timestamp {
        fsp: u8,
    },
    /// MySQL TIME, a signed duration up to ±838:59:59.
    Time {
        fsp: u8,
    },
    Year,
    Enum {
        labels: Vec<String>,
    },
    Set {
        labels: Vec<String>,
    },
    /// MariaDB's UUID type.
    Uuid,
    /// MariaDB's INET6 / INET4 types.
    Inet,
    /// Spatial types.
    Geometry,
    Other {
        name: String,
    },
}

pub(crate) const GEOMETRY_TYPES: &[&str] = &[
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
];

impl ColumnKind {
    /// Classifies a described column. `type_name` is the server's column
    /// type (`varchar(20)`, `binary(16)`, `inet6`) with ` CHARACTER SET x`
    /// appended for character columns, as `describe` writes it.
    pub(crate) fn of(column: &TargetColumn) -> ColumnKind {
        let lower = column.type_name.to_ascii_lowercase();
        let base = lower.split(['(', ' ']).next().unwrap_or_default();
        let fsp = |fsp: &Option<u8>| fsp.unwrap_or(0).min(6);
        match &column.column_type {
            ColumnType::Bool => ColumnKind::Int { min: -128, max: 127 },
            ColumnType::Int { bytes, unsigned } => int_range(*bytes, *unsigned),
            ColumnType::Decimal { precision, scale } => {
                ColumnKind::Decimal { precision: precision.unwrap_or(10), scale: scale.unwrap_or(0) }
            }
            ColumnType::Float32 => scaled_float(&lower, false).unwrap_or(ColumnKind::Float32),
            ColumnType::Float64 => scaled_float(&lower, true).unwrap_or(ColumnKind::Float64),
            ColumnType::Bits { len, .. } => ColumnKind::Bit { len: len.unwrap_or(1) },
            ColumnType::Text { max_chars } => ColumnKind::Text { charset: charset_of(&lower), max_chars: *max_chars },
            ColumnType::Json => ColumnKind::Json,
            ColumnType::Bytes { max_len } => {
                ColumnKind::Binary { fixed: if base == "binary" { *max_len } else { None }, max_len: *max_len }
            }
            ColumnType::Date => ColumnKind::Date,
            ColumnType::Timestamp { fsp: f } => ColumnKind::DateTime { fsp: fsp(f) },
            ColumnType::TimestampTz { fsp: f } => ColumnKind::Timestamp { fsp: fsp(f) },
            ColumnType::Duration { fsp: f } => ColumnKind::Time { fsp: fsp(f) },
            ColumnType::Year => ColumnKind::Year,
            ColumnType::Enum { labels } => ColumnKind::Enum { labels: labels.clone() },
            ColumnType::Set { labels } => ColumnKind::Set { labels: labels.clone() },
            ColumnType::Uuid => ColumnKind::Uuid,
            ColumnType::Other { .. } if base == "inet6" || base == "inet4" => ColumnKind::Inet,
            ColumnType::Other { .. } if GEOMETRY_TYPES.contains(&base) => ColumnKind::Geometry,
            _ => ColumnKind::Other { name: column.type_name.clone() },
        }
    }

    /// A short type description for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            ColumnKind::Int { min, max } => format!("integer ({min} to {max})"),
            ColumnKind::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            ColumnKind::Float32 => "FLOAT".into(),
            ColumnKind::Float64 => "DOUBLE".into(),
            ColumnKind::ScaledFloat { double, precision, scale, unsigned } => format!(
                "{}({precision},{scale}){}",
                if *double { "DOUBLE" } else { "FLOAT" },
                if *unsigned { " UNSIGNED" } else { "" }
            ),
            ColumnKind::Bit { len } => format!("BIT({len})"),
            ColumnKind::Text { charset: Some(charset), .. } => format!("character ({charset})"),
            ColumnKind::Text { charset: None, .. } => "character".into(),
            ColumnKind::Json => "JSON".into(),
            ColumnKind::Binary { fixed: Some(n), .. } => format!("BINARY({n})"),
            ColumnKind::Binary { .. } => "binary".into(),
            ColumnKind::Date => "DATE".into(),
            ColumnKind::DateTime { .. } => "DATETIME".into(),
            ColumnKind::Timestamp { .. } => "TIMESTAMP".into(),
            ColumnKind::Time { .. } => "TIME".into(),
            ColumnKind::Year => "YEAR".into(),
            ColumnKind::Enum { .. } => "ENUM".into(),
            ColumnKind::Set { .. } => "SET".into(),
            ColumnKind::Uuid => "UUID".into(),
            ColumnKind::Inet => "INET6/INET4".into(),
            ColumnKind::Geometry => "spatial".into(),
            ColumnKind::Other { name } => name.clone(),
        }
    }
}

fn int_range(bytes: u8, unsigned: bool) -> ColumnKind {
    let bits = u32::from(bytes.clamp(1, 8)) * 8;
    if unsigned {
        ColumnKind::Int { min: 0, max: (1i128 << bits) - 1 }
    } else {
        ColumnKind::Int { min: -(1i128 << (bits - 1)), max: (1i128 << (bits - 1)) - 1 }
    }
}

/// `float(7,2)`, `double(10,3) unsigned` (lowercase type name) → the scaled kind.
fn scaled_float(lower_type_name: &str, double: bool) -> Option<ColumnKind> {
    let (base, rest) = lower_type_name.split_once('(')?;
    if !matches!(base.trim(), "float" | "double" | "real" | "double precision") {
        return None;
    }
    let (inside, after) = rest.split_once(')')?;
    let (precision, scale) = inside.split_once(',')?;
    let precision = precision.trim().parse().ok()?;
    let scale = scale.trim().parse().ok()?;
    Some(ColumnKind::ScaledFloat { double, precision, scale, unsigned: after.contains("unsigned") })
}

/// `… character set gbk` → `gbk`.
fn charset_of(lower_type_name: &str) -> Option<String> {
    let (_, rest) = lower_type_name.split_once(" character set ")?;
    rest.split_whitespace().next().map(str::to_owned)
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
    fn integer_ranges_follow_width_and_signedness() {
        let kind = ColumnKind::of(&column("bigint(20) unsigned", ColumnType::Int { bytes: 8, unsigned: true }));
        assert_eq!(kind, ColumnKind::Int { min: 0, max: 18_446_744_073_709_551_615 });
        let kind = ColumnKind::of(&column("mediumint(9)", ColumnType::Int { bytes: 3, unsigned: false }));
        assert_eq!(kind, ColumnKind::Int { min: -8_388_608, max: 8_388_607 });
        assert_eq!(ColumnKind::of(&column("tinyint(1)", ColumnType::Bool)), ColumnKind::Int { min: -128, max: 127 });
    }

    #[test]
    fn scaled_floats_come_from_the_type_name() {
        let kind = ColumnKind::of(&column("float(7,2)", ColumnType::Float32));
        assert_eq!(kind, ColumnKind::ScaledFloat { double: false, precision: 7, scale: 2, unsigned: false });
        assert_eq!(kind.describe(), "FLOAT(7,2)");
        let kind = ColumnKind::of(&column("double(10,3) unsigned zerofill", ColumnType::Float64));
        assert_eq!(kind, ColumnKind::ScaledFloat { double: true, precision: 10, scale: 3, unsigned: true });
        assert_eq!(ColumnKind::of(&column("float", ColumnType::Float32)), ColumnKind::Float32);
        assert_eq!(ColumnKind::of(&column("double unsigned", ColumnType::Float64)), ColumnKind::Float64);
    }

    #[test]
    fn binary_pads_but_varbinary_does_not() {
        let fixed = ColumnKind::of(&column("binary(16)", ColumnType::Bytes { max_len: Some(16) }));
        assert_eq!(fixed, ColumnKind::Binary { fixed: Some(16), max_len: Some(16) });
        let var = ColumnKind::of(&column("varbinary(16)", ColumnType::Bytes { max_len: Some(16) }));
        assert_eq!(var, ColumnKind::Binary { fixed: None, max_len: Some(16) });
    }

    #[test]
    fn charset_and_mariadb_types_come_from_the_type_name() {
        let gbk = ColumnKind::of(&column("varchar(10) CHARACTER SET gbk", ColumnType::Text { max_chars: Some(10) }));
        assert_eq!(gbk, ColumnKind::Text { charset: Some("gbk".into()), max_chars: Some(10) });
        let inet = ColumnKind::of(&column("inet6", ColumnType::Other { name: "inet6".into() }));
        assert_eq!(inet, ColumnKind::Inet);
        let point = ColumnKind::of(&column("point", ColumnType::Other { name: "point".into() }));
        assert_eq!(point, ColumnKind::Geometry);
    }
}
