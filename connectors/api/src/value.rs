//! The value model: one cell of a row, exact for every common SQL type of
//! MySQL/MariaDB, PostgreSQL and SQL Server.
//!
//! Every connector decodes its wire format into [`Value`] and every sink
//! encodes [`Value`] into its own; nothing in between may lose precision.
//! That is why decimals are kept as validated exact text (no 28-digit limit),
//! why temporal values are the engine's own types (chrono holds neither
//! MySQL zero dates nor PostgreSQL `infinity`), and why "this column was not
//! captured" ([`Value::Unchanged`], PostgreSQL's unchanged TOAST) is a value
//! of its own, distinct from `NULL`: a sink must leave such a column alone.

use std::fmt;

/// One cell.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// SQL `NULL`.
    #[default]
    Null,
    /// The source did not capture this column in this image (PostgreSQL's
    /// unchanged TOAST value in an update). The target's current value is
    /// correct and must not be overwritten — never with `NULL`.
    Unchanged,
    Bool(bool),
    /// Any signed integer up to 64 bits (SMALLINT, INT, BIGINT, TINYINT, YEAR is separate).
    Int(i64),
    /// Any unsigned integer up to 64 bits (MySQL `BIGINT UNSIGNED` up to 18446744073709551615).
    UInt(u64),
    /// 4-byte float (`real`, `FLOAT`); kept as f32 so its text form round-trips.
    Float32(f32),
    /// 8-byte float (`double precision`, `DOUBLE`).
    Float64(f64),
    /// Exact decimal of any precision and scale.
    Decimal(Decimal),
    /// Character data, already decoded to UTF-8 from the column's charset.
    Text(String),
    /// Binary data (`bytea`, `BLOB`, `VARBINARY`).
    Bytes(Vec<u8>),
    /// A bit string (`bit(n)`, `varbit`, MySQL `BIT(n)`).
    Bits(BitString),
    Date(Date),
    /// Time of day, `00:00:00` to `24:00:00` (PostgreSQL `time`).
    Time(TimeOfDay),
    /// Time of day with a UTC offset in seconds east of UTC (PostgreSQL `timetz`).
    TimeTz(TimeOfDay, i32),
    /// A signed duration in microseconds (MySQL `TIME`: -838:59:59 to 838:59:59).
    Duration(i64),
    /// Date and time without zone (`timestamp`, MySQL `DATETIME`).
    Timestamp(Timestamp),
    /// An instant (`timestamptz`, MySQL `TIMESTAMP`): microseconds since 1970-01-01 UTC.
    TimestampTz(TimestampTz),
    /// PostgreSQL `interval`: months, days and microseconds are independent fields.
    Interval(Interval),
    /// JSON document as text (`json`, `jsonb`, MySQL/MariaDB `JSON`).
    Json(String),
    Uuid([u8; 16]),
    /// An enum label.
    Enum(String),
    /// MySQL `SET`: the chosen labels, in definition order.
    Set(Vec<String>),
    /// MySQL `YEAR` (0 or 1901..=2155).
    Year(u16),
    /// An array (PostgreSQL); multi-dimensional arrays are nested `Array`s.
    Array(Vec<Value>),
    /// A type the model does not represent structurally (PostgreSQL geometric,
    /// range, network, user-defined base types …), carried as the source's
    /// text form together with the source type name. A sink of the same engine
    /// writes it back through the type's input function; any other sink must
    /// refuse it, naming the column, unless a mapping converts it.
    Raw {
        type_name: String,
        text: String,
    },
}

impl Value {
    /// A short, value-free description of the variant, for error messages
    /// (row values must never appear in logs).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Unchanged => "unchanged",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Float32(_) => "float32",
            Value::Float64(_) => "float64",
            Value::Decimal(_) => "decimal",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
            Value::Bits(_) => "bits",
            Value::Date(_) => "date",
            Value::Time(_) => "time",
            Value::TimeTz(..) => "timetz",
            Value::Duration(_) => "duration",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Interval(_) => "interval",
            Value::Json(_) => "json",
            Value::Uuid(_) => "uuid",
            Value::Enum(_) => "enum",
            Value::Set(_) => "set",
            Value::Year(_) => "year",
            Value::Array(_) => "array",
            Value::Raw { .. } => "raw",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// An exact decimal kept as canonical text: optional `-`, digits, optional
/// `.` and digits — or one of PostgreSQL's `NaN`, `Infinity`, `-Infinity`.
/// Any precision and scale; trailing zeros of the scale are preserved
/// (`1.50` stays `1.50`, since `numeric(12,2)` must read back the same).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Decimal(String);

impl Decimal {
    /// Validates and canonicalises (drops a leading `+`, leading zeros of the
    /// integer part; keeps the scale). Accepts exponent-free text only.
    pub fn parse(text: &str) -> Result<Decimal, InvalidDecimal> {
        match text {
            "NaN" | "nan" => return Ok(Decimal("NaN".into())),
            "Infinity" | "inf" | "+Infinity" => return Ok(Decimal("Infinity".into())),
            "-Infinity" | "-inf" => return Ok(Decimal("-Infinity".into())),
            _ => {}
        }
        let (negative, body) = match text.as_bytes().first() {
            Some(b'-') => (true, &text[1..]),
            Some(b'+') => (false, &text[1..]),
            _ => (false, text),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(int_part)
            || !frac_part.is_none_or(digits_ok)
            || (int_part.is_empty() && frac_part.is_none_or(str::is_empty))
        {
            return Err(InvalidDecimal);
        }
        let int_trimmed = int_part.trim_start_matches('0');
        let int_canonical = if int_trimmed.is_empty() { "0" } else { int_trimmed };
        let is_zero = int_canonical == "0" && frac_part.is_none_or(|f| f.bytes().all(|b| b == b'0'));
        let mut out = String::with_capacity(text.len() + 1);
        if negative && !is_zero {
            out.push('-');
        }
        out.push_str(int_canonical);
        if let Some(frac) = frac_part
            && !frac.is_empty()
        {
            out.push('.');
            out.push_str(frac);
        }
        Ok(Decimal(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `NaN` or an infinity (PostgreSQL numeric only): no MySQL DECIMAL holds these.
    pub fn is_special(&self) -> bool {
        matches!(self.0.as_str(), "NaN" | "Infinity" | "-Infinity")
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Not an exact decimal number")]
pub struct InvalidDecimal;

/// A bit string of `len` bits, most significant bit first, packed into bytes
/// (the last byte's low bits are padding and zero).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct BitString {
    pub len: usize,
    pub bytes: Vec<u8>,
}

impl BitString {
    /// From `'0'`/`'1'` text (PostgreSQL's text form).
    pub fn from_text(text: &str) -> Option<BitString> {
        let mut bytes = vec![0u8; text.len().div_ceil(8)];
        for (i, c) in text.bytes().enumerate() {
            match c {
                b'0' => {}
                b'1' => bytes[i / 8] |= 0x80 >> (i % 8),
                _ => return None,
            }
        }
        Some(BitString { len: text.len(), bytes })
    }

    pub fn to_text(&self) -> String {
        (0..self.len).map(|i| if self.bytes[i / 8] & (0x80 >> (i % 8)) != 0 { '1' } else { '0' }).collect()
    }
}

/// A calendar date in the proleptic Gregorian calendar. `year` is
/// astronomical (1 BC is year 0). `month` and `day` are 1-based, but may be 0
/// for MySQL's zero and partial-zero dates (`0000-00-00`, `2024-00-10`),
/// which a per-route policy handles at the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct CivilDate {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl CivilDate {
    /// True for MySQL zero / partial-zero dates.
    pub fn is_zero_date(&self) -> bool {
        self.month == 0 || self.day == 0
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`). Only
    /// meaningful when `!is_zero_date()`.
    pub fn days_since_epoch(&self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Inverse of [`CivilDate::days_since_epoch`].
    pub fn from_days_since_epoch(days: i64) -> CivilDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        CivilDate { year, month, day }
    }
}

impl fmt::Display for CivilDate {
    /// ISO 8601 with astronomical years (`-0043-03-15` for 44 BC); sinks
    /// that need `BC` notation format it themselves.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.year < 0 {
            write!(f, "-{:04}-{:02}-{:02}", -self.year, self.month, self.day)
        } else {
            write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
        }
    }
}

/// A date, or one of PostgreSQL's infinities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Date {
    Civil(CivilDate),
    PosInfinity,
    NegInfinity,
}

/// Microseconds since midnight, `0..=86_400_000_000` (24:00:00 is legal in PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct TimeOfDay(pub u64);

impl TimeOfDay {
    pub const MAX_MICROS: u64 = 86_400_000_000;

    /// `HH:MM:SS[.ffffff]`, with only as many fraction digits as needed.
    pub fn to_text(&self) -> String {
        format_clock(self.0)
    }
}

/// Formats a non-negative microsecond count as `H+:MM:SS[.ffffff]` (hours
/// may exceed 24, as MySQL TIME needs), trimming trailing fraction zeros.
pub fn format_clock(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let mut out = format!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60);
    if frac != 0 {
        let digits = format!("{frac:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out
}

/// Date and time without zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Timestamp {
    Civil { date: CivilDate, time: TimeOfDay },
    PosInfinity,
    NegInfinity,
}

/// An instant: microseconds since 1970-01-01T00:00:00Z, or an infinity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TimestampTz {
    Micros(i64),
    PosInfinity,
    NegInfinity,
}

impl TimestampTz {
    /// Splits an instant into its UTC civil date and time of day.
    pub fn to_utc_civil(micros: i64) -> (CivilDate, TimeOfDay) {
        let day_micros = 86_400_000_000i64;
        let days = micros.div_euclid(day_micros);
        let rem = micros.rem_euclid(day_micros) as u64;
        (CivilDate::from_days_since_epoch(days), TimeOfDay(rem))
    }

    /// The instant of a UTC civil date and time.
    pub fn from_utc_civil(date: CivilDate, time: TimeOfDay) -> i64 {
        date.days_since_epoch() * 86_400_000_000 + time.0 as i64
    }
}

/// PostgreSQL `interval`: the three fields are independent (a month is not 30 days).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_keeps_scale_and_precision_beyond_28_digits() {
        let text = "12345678901234567890123456789012345.123456789012345678901234567890";
        assert_eq!(Decimal::parse(text).unwrap().as_str(), text);
        assert_eq!(Decimal::parse("1.50").unwrap().as_str(), "1.50");
        assert_eq!(Decimal::parse("+007.10").unwrap().as_str(), "7.10");
        assert_eq!(Decimal::parse("-0.00").unwrap().as_str(), "0.00");
        assert_eq!(Decimal::parse(".5").unwrap().as_str(), "0.5");
        assert_eq!(Decimal::parse("NaN").unwrap().as_str(), "NaN");
    }

    #[test]
    fn decimal_rejects_non_numbers() {
        for bad in ["", "-", ".", "1e5", "1.2.3", "abc", "1,5", " 1"] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn bit_string_round_trips_text() {
        let bits = BitString::from_text("1010000011").unwrap();
        assert_eq!(bits.bytes, vec![0b1010_0000, 0b1100_0000]);
        assert_eq!(bits.to_text(), "1010000011");
        assert!(BitString::from_text("102").is_none());
    }

    #[test]
    fn civil_date_known_days() {
        let epoch = CivilDate { year: 1970, month: 1, day: 1 };
        assert_eq!(epoch.days_since_epoch(), 0);
        let leap = CivilDate { year: 2000, month: 2, day: 29 };
        assert_eq!(leap.days_since_epoch(), 11_016);
        assert_eq!(CivilDate::from_days_since_epoch(-1), CivilDate { year: 1969, month: 12, day: 31 });
    }

    #[test]
    fn clock_formats_hours_beyond_a_day() {
        assert_eq!(format_clock(838 * 3_600_000_000 + 59 * 60_000_000 + 59_000_000), "838:59:59");
        assert_eq!(format_clock(1_500_000), "00:00:01.5");
        assert_eq!(TimeOfDay(TimeOfDay::MAX_MICROS).to_text(), "24:00:00");
    }

    proptest! {
        #[test]
        fn civil_date_days_round_trip(days in -100_000_000i64..100_000_000) {
            let date = CivilDate::from_days_since_epoch(days);
            prop_assert_eq!(date.days_since_epoch(), days);
        }

        #[test]
        fn decimal_parse_is_idempotent(int in "[0-9]{1,70}", frac in proptest::option::of("[0-9]{0,40}"), neg: bool) {
            let text = format!("{}{}{}", if neg { "-" } else { "" }, int, frac.map(|f| format!(".{f}")).unwrap_or_default());
            let once = Decimal::parse(&text).unwrap();
            let twice = Decimal::parse(once.as_str()).unwrap();
            prop_assert_eq!(once, twice);
        }
    }
}
