//! Built-in PostgreSQL type OIDs and what they mean to Sluice.
//!
//! The source decoder sees a column's type OID and `atttypmod` in the
//! pgoutput Relation message; the sink reads them from `pg_attribute`. This
//! table turns them into the engine-neutral [`ColumnType`] and the display
//! name `format_type(oid, typmod)` would print (`numeric(12,2)`,
//! `character varying(40)[]`, `timestamp(3) with time zone`). Built-in OIDs
//! are fixed below 10000 in every PostgreSQL release, so they can be listed
//! here; enums, domains and extension types (citext, hstore …) get OIDs at
//! `CREATE` time and are resolved through the catalog by the caller.
//!
//! Types the value model does not represent structurally (network, geometric,
//! range, `money`, `xml`, the `reg*` aliases …) map to [`ColumnType::Other`]
//! and travel as [`sluice_api::Value::Raw`] text. `money` is among them on
//! purpose: its text form depends on `lc_monetary` (`$1,234.56`), so no
//! number can be read from it reliably.

use sluice_api::ColumnType;

/// `VARHDRSZ`: character and numeric type modifiers are offset by it.
const VARHDRSZ: i32 = 4;

/// (scalar OID, array OID, scalar type).
struct Builtin {
    oid: u32,
    array_oid: u32,
    kind: Kind,
}

/// How a built-in type maps, before its type modifier is applied.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int(u8),
    Oid,
    Float32,
    Float64,
    Numeric,
    Text,
    Name,
    Char,
    Bpchar,
    Varchar,
    Bytea,
    Bit,
    Varbit,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Json,
    Jsonb,
    Uuid,
    /// Carried as raw text; the display name is `format_type`'s.
    Other(&'static str),
}

const BUILTINS: &[Builtin] = &[
    Builtin { oid: 16, array_oid: 1000, kind: Kind::Bool },
    Builtin { oid: 17, array_oid: 1001, kind: Kind::Bytea },
    Builtin { oid: 18, array_oid: 1002, kind: Kind::Char },
    Builtin { oid: 19, array_oid: 1003, kind: Kind::Name },
    Builtin { oid: 20, array_oid: 1016, kind: Kind::Int(8) },
    Builtin { oid: 21, array_oid: 1005, kind: Kind::Int(2) },
    Builtin { oid: 22, array_oid: 1006, kind: Kind::Other("int2vector") },
    Builtin { oid: 23, array_oid: 1007, kind: Kind::Int(4) },
    Builtin { oid: 24, array_oid: 1008, kind: Kind::Other("regproc") },
    Builtin { oid: 25, array_oid: 1009, kind: Kind::Text },
    Builtin { oid: 26, array_oid: 1028, kind: Kind::Oid },
    Builtin { oid: 27, array_oid: 1010, kind: Kind::Other("tid") },
    Builtin { oid: 28, array_oid: 1011, kind: Kind::Other("xid") },
    Builtin { oid: 29, array_oid: 1012, kind: Kind::Other("cid") },
    Builtin { oid: 30, array_oid: 1013, kind: Kind::Other("oidvector") },
    Builtin { oid: 114, array_oid: 199, kind: Kind::Json },
    Builtin { oid: 142, array_oid: 143, kind: Kind::Other("xml") },
    Builtin { oid: 600, array_oid: 1017, kind: Kind::Other("point") },
    Builtin { oid: 601, array_oid: 1018, kind: Kind::Other("lseg") },
    Builtin { oid: 602, array_oid: 1019, kind: Kind::Other("path") },
    Builtin { oid: 603, array_oid: 1020, kind: Kind::Other("box") },
    Builtin { oid: 604, array_oid: 1027, kind: Kind::Other("polygon") },
    Builtin { oid: 628, array_oid: 629, kind: Kind::Other("line") },
    Builtin { oid: 650, array_oid: 651, kind: Kind::Other("cidr") },
    Builtin { oid: 700, array_oid: 1021, kind: Kind::Float32 },
    Builtin { oid: 701, array_oid: 1022, kind: Kind::Float64 },
    Builtin { oid: 718, array_oid: 719, kind: Kind::Other("circle") },
    Builtin { oid: 774, array_oid: 775, kind: Kind::Other("macaddr8") },
    Builtin { oid: 790, array_oid: 791, kind: Kind::Other("money") },
    Builtin { oid: 829, array_oid: 1040, kind: Kind::Other("macaddr") },
    Builtin { oid: 869, array_oid: 1041, kind: Kind::Other("inet") },
    Builtin { oid: 1033, array_oid: 1034, kind: Kind::Other("aclitem") },
    Builtin { oid: 1042, array_oid: 1014, kind: Kind::Bpchar },
    Builtin { oid: 1043, array_oid: 1015, kind: Kind::Varchar },
    Builtin { oid: 1082, array_oid: 1182, kind: Kind::Date },
    Builtin { oid: 1083, array_oid: 1183, kind: Kind::Time },
    Builtin { oid: 1114, array_oid: 1115, kind: Kind::Timestamp },
    Builtin { oid: 1184, array_oid: 1185, kind: Kind::TimestampTz },
    Builtin { oid: 1186, array_oid: 1187, kind: Kind::Interval },
    Builtin { oid: 1266, array_oid: 1270, kind: Kind::TimeTz },
    Builtin { oid: 1560, array_oid: 1561, kind: Kind::Bit },
    Builtin { oid: 1562, array_oid: 1563, kind: Kind::Varbit },
    Builtin { oid: 1700, array_oid: 1231, kind: Kind::Numeric },
    Builtin { oid: 1790, array_oid: 2201, kind: Kind::Other("refcursor") },
    Builtin { oid: 2202, array_oid: 2207, kind: Kind::Other("regprocedure") },
    Builtin { oid: 2203, array_oid: 2208, kind: Kind::Other("regoper") },
    Builtin { oid: 2204, array_oid: 2209, kind: Kind::Other("regoperator") },
    Builtin { oid: 2205, array_oid: 2210, kind: Kind::Other("regclass") },
    Builtin { oid: 2206, array_oid: 2211, kind: Kind::Other("regtype") },
    Builtin { oid: 2950, array_oid: 2951, kind: Kind::Uuid },
    Builtin { oid: 2970, array_oid: 2949, kind: Kind::Other("txid_snapshot") },
    Builtin { oid: 3220, array_oid: 3221, kind: Kind::Other("pg_lsn") },
    Builtin { oid: 3614, array_oid: 3643, kind: Kind::Other("tsvector") },
    Builtin { oid: 3615, array_oid: 3645, kind: Kind::Other("tsquery") },
    Builtin { oid: 3734, array_oid: 3735, kind: Kind::Other("regconfig") },
    Builtin { oid: 3769, array_oid: 3770, kind: Kind::Other("regdictionary") },
    Builtin { oid: 3802, array_oid: 3807, kind: Kind::Jsonb },
    Builtin { oid: 3904, array_oid: 3905, kind: Kind::Other("int4range") },
    Builtin { oid: 3906, array_oid: 3907, kind: Kind::Other("numrange") },
    Builtin { oid: 3908, array_oid: 3909, kind: Kind::Other("tsrange") },
    Builtin { oid: 3910, array_oid: 3911, kind: Kind::Other("tstzrange") },
    Builtin { oid: 3912, array_oid: 3913, kind: Kind::Other("daterange") },
    Builtin { oid: 3926, array_oid: 3927, kind: Kind::Other("int8range") },
    Builtin { oid: 4072, array_oid: 4073, kind: Kind::Other("jsonpath") },
    Builtin { oid: 4089, array_oid: 4090, kind: Kind::Other("regnamespace") },
    Builtin { oid: 4096, array_oid: 4097, kind: Kind::Other("regrole") },
    Builtin { oid: 4191, array_oid: 4192, kind: Kind::Other("regcollation") },
    Builtin { oid: 4451, array_oid: 6150, kind: Kind::Other("int4multirange") },
    Builtin { oid: 4532, array_oid: 6151, kind: Kind::Other("nummultirange") },
    Builtin { oid: 4533, array_oid: 6152, kind: Kind::Other("tsmultirange") },
    Builtin { oid: 4534, array_oid: 6153, kind: Kind::Other("tstzmultirange") },
    Builtin { oid: 4535, array_oid: 6155, kind: Kind::Other("datemultirange") },
    Builtin { oid: 4536, array_oid: 6157, kind: Kind::Other("int8multirange") },
    Builtin { oid: 5038, array_oid: 5039, kind: Kind::Other("pg_snapshot") },
    Builtin { oid: 5069, array_oid: 271, kind: Kind::Other("xid8") },
];

/// See [`crate::types::builtin_column_type`]. For an array OID the type
/// modifier is the element's (PostgreSQL keeps `atttypmod` of `numeric(12,2)[]`
/// as the element's modifier).
pub(super) fn builtin(oid: u32, type_modifier: i32) -> Option<(ColumnType, String)> {
    if let Some(builtin) = BUILTINS.iter().find(|b| b.oid == oid) {
        return Some(scalar(builtin.kind, type_modifier));
    }
    let builtin = BUILTINS.iter().find(|b| b.array_oid == oid)?;
    let (element, name) = scalar(builtin.kind, type_modifier);
    Some((ColumnType::Array(Box::new(element)), format!("{name}[]")))
}

/// The modifier when it is set (`-1` means none).
fn modifier(type_modifier: i32) -> Option<i32> {
    (type_modifier >= 0).then_some(type_modifier)
}

fn scalar(kind: Kind, type_modifier: i32) -> (ColumnType, String) {
    let typmod = modifier(type_modifier);
    let chars = typmod.and_then(|m| u32::try_from(m - VARHDRSZ).ok());
    let fsp = typmod.and_then(|m| u8::try_from(m).ok()).filter(|p| *p <= 6);
    let with_fsp = |base: &str, suffix: &str| match fsp {
        Some(p) => format!("{base}({p}){suffix}"),
        None => format!("{base}{suffix}"),
    };
    match kind {
        Kind::Bool => (ColumnType::Bool, "boolean".into()),
        Kind::Int(bytes) => {
            let name = match bytes {
                2 => "smallint",
                4 => "integer",
                _ => "bigint",
            };
            (ColumnType::Int { bytes, unsigned: false }, name.into())
        }
        Kind::Oid => (ColumnType::Int { bytes: 4, unsigned: true }, "oid".into()),
        Kind::Float32 => (ColumnType::Float32, "real".into()),
        Kind::Float64 => (ColumnType::Float64, "double precision".into()),
        Kind::Numeric => numeric(typmod),
        Kind::Text => (ColumnType::Text { max_chars: None }, "text".into()),
        // NAMEDATALEN - 1 bytes; 63 characters is the ASCII case.
        Kind::Name => (ColumnType::Text { max_chars: Some(63) }, "name".into()),
        // The one-byte `"char"`: its text form is the byte itself, or `\ooo`
        // octal for bytes above 127, which `charin` reads back the same.
        Kind::Char => (ColumnType::Text { max_chars: Some(1) }, "\"char\"".into()),
        Kind::Bpchar => match chars {
            Some(n) => (ColumnType::Text { max_chars: Some(n) }, format!("character({n})")),
            None => (ColumnType::Text { max_chars: None }, "bpchar".into()),
        },
        Kind::Varchar => match chars {
            Some(n) => (ColumnType::Text { max_chars: Some(n) }, format!("character varying({n})")),
            None => (ColumnType::Text { max_chars: None }, "character varying".into()),
        },
        Kind::Bytea => (ColumnType::Bytes { max_len: None }, "bytea".into()),
        Kind::Bit => {
            let len = typmod.and_then(|m| u32::try_from(m).ok());
            let name = len.map_or_else(|| "\"bit\"".to_owned(), |n| format!("bit({n})"));
            (ColumnType::Bits { len, varying: false }, name)
        }
        Kind::Varbit => {
            let len = typmod.and_then(|m| u32::try_from(m).ok());
            let name = len.map_or_else(|| "bit varying".to_owned(), |n| format!("bit varying({n})"));
            (ColumnType::Bits { len, varying: true }, name)
        }
        Kind::Date => (ColumnType::Date, "date".into()),
        Kind::Time => (ColumnType::Time { fsp }, with_fsp("time", " without time zone")),
        Kind::TimeTz => (ColumnType::TimeTz { fsp }, with_fsp("time", " with time zone")),
        Kind::Timestamp => (ColumnType::Timestamp { fsp }, with_fsp("timestamp", " without time zone")),
        Kind::TimestampTz => (ColumnType::TimestampTz { fsp }, with_fsp("timestamp", " with time zone")),
        Kind::Interval => (ColumnType::Interval, interval_name(typmod)),
        Kind::Json => (ColumnType::Json, "json".into()),
        Kind::Jsonb => (ColumnType::Json, "jsonb".into()),
        Kind::Uuid => (ColumnType::Uuid, "uuid".into()),
        Kind::Other(name) => (ColumnType::Other { name: name.into() }, name.into()),
    }
}

/// `numeric(p,s)`: the modifier is `((p << 16) | s) + VARHDRSZ`, with `s` an
/// 11-bit signed field since PostgreSQL 15 (`numeric(3,-2)` rounds to
/// hundreds). A negative scale is folded into the precision so that
/// `precision - scale` still counts the integer digits the column holds.
fn numeric(typmod: Option<i32>) -> (ColumnType, String) {
    let Some(m) = typmod.filter(|m| *m >= VARHDRSZ) else {
        return (ColumnType::Decimal { precision: None, scale: None }, "numeric".into());
    };
    let packed = m - VARHDRSZ;
    let precision = (packed >> 16) & 0xffff;
    let scale = ((packed & 0x7ff) ^ 1024) - 1024;
    let name = format!("numeric({precision},{scale})");
    let (precision, scale) = if scale < 0 { (precision - scale, 0) } else { (precision, scale) };
    let column_type =
        ColumnType::Decimal { precision: u32::try_from(precision).ok(), scale: u32::try_from(scale).ok() };
    (column_type, name)
}

/// `interval` modifiers: the field range in the high 16 bits (a mask of
/// `1 << field` with MONTH=1, YEAR=2, DAY=3, HOUR=10, MINUTE=11, SECOND=12;
/// 0x7FFF for all) and the seconds precision in the low 16 bits (0xFFFF for
/// none), printed like `intervaltypmodout`.
fn interval_name(typmod: Option<i32>) -> String {
    const MONTH: i32 = 1 << 1;
    const YEAR: i32 = 1 << 2;
    const DAY: i32 = 1 << 3;
    const HOUR: i32 = 1 << 10;
    const MINUTE: i32 = 1 << 11;
    const SECOND: i32 = 1 << 12;
    let Some(m) = typmod else {
        return "interval".into();
    };
    let range = (m >> 16) & 0x7fff;
    let precision = m & 0xffff;
    let fields = match range {
        YEAR => " year",
        MONTH => " month",
        DAY => " day",
        HOUR => " hour",
        MINUTE => " minute",
        SECOND => " second",
        r if r == YEAR | MONTH => " year to month",
        r if r == DAY | HOUR => " day to hour",
        r if r == DAY | HOUR | MINUTE => " day to minute",
        r if r == DAY | HOUR | MINUTE | SECOND => " day to second",
        r if r == HOUR | MINUTE => " hour to minute",
        r if r == HOUR | MINUTE | SECOND => " hour to second",
        r if r == MINUTE | SECOND => " minute to second",
        _ => "",
    };
    if precision == 0xffff { format!("interval{fields}") } else { format!("interval{fields}({precision})") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_print_like_format_type() {
        assert_eq!(builtin(1700, 786_438).unwrap().1, "numeric(12,2)");
        assert_eq!(builtin(1231, 786_438).unwrap().1, "numeric(12,2)[]");
        assert_eq!(builtin(1700, 198_658).unwrap().1, "numeric(3,-2)");
        assert_eq!(builtin(1043, 44).unwrap().1, "character varying(40)");
        assert_eq!(builtin(1184, 3).unwrap().1, "timestamp(3) with time zone");
        assert_eq!(builtin(1186, 458_751).unwrap().1, "interval year to month");
        assert_eq!(builtin(1186, 470_286_340).unwrap().1, "interval day to second(4)");
        assert_eq!(builtin(1186, 2_147_418_115).unwrap().1, "interval(3)");
        assert_eq!(builtin(1560, -1).unwrap().1, "\"bit\"");
    }

    #[test]
    fn numeric_negative_scale_counts_integer_digits() {
        let (column_type, _) = builtin(1700, 198_658).unwrap();
        assert_eq!(column_type, ColumnType::Decimal { precision: Some(5), scale: Some(0) });
    }

    #[test]
    fn array_oids_map_to_arrays_of_the_element() {
        let (column_type, name) = builtin(1015, 44).unwrap();
        assert_eq!(column_type, ColumnType::Array(Box::new(ColumnType::Text { max_chars: Some(40) })));
        assert_eq!(name, "character varying(40)[]");
        assert!(builtin(99_999, -1).is_none());
    }
}
