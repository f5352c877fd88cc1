//! Numbers into integer, DECIMAL, FLOAT/DOUBLE and BIT columns.
//!
//! Integers travel as 64-bit integer parameters, decimals as their exact
//! text (the server parses it without going through a float), floats as
//! FLOAT or DOUBLE parameters. Every conversion between the families is
//! allowed only when it is exact: a decimal into an integer column must have
//! no fraction, an integer into a FLOAT column must be representable in 24
//! bits of mantissa, a decimal into DOUBLE must be the shortest text of a
//! double (so it reads back as the same text).

use mysql_async::Value as Param;
use sluice_api::{BitString, Decimal, Value};

use super::{ColumnKind, TypeError, mismatch};

/// `(negative, integer digits without leading zeros, fraction digits without trailing zeros)`.
struct DecimalParts<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

impl DecimalParts<'_> {
    fn of(text: &str) -> DecimalParts<'_> {
        let (negative, body) = match text.strip_prefix('-') {
            Some(body) => (true, body),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        let int = int.trim_start_matches('0');
        let frac = frac.trim_end_matches('0');
        DecimalParts { negative: negative && !(int.is_empty() && frac.is_empty()), int, frac }
    }

    fn same_number(&self, other: &DecimalParts<'_>) -> bool {
        self.negative == other.negative && self.int == other.int && self.frac == other.frac
    }
}

/// A decimal that is not NaN or an infinity.
fn finite_decimal(decimal: &Decimal) -> Result<&str, TypeError> {
    if decimal.is_special() {
        return Err(TypeError::new(
            "NaN and infinities have no MySQL form (DECIMAL, FLOAT and DOUBLE cannot hold them)",
        ));
    }
    Ok(decimal.as_str())
}

fn parse_decimal_text(text: &str) -> Result<Decimal, TypeError> {
    Decimal::parse(text).map_err(|_| TypeError::new("text that is not a plain decimal number for a numeric column"))
}

fn float_finite(value: f64) -> Result<f64, TypeError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(TypeError::new("NaN and infinities cannot be stored in MySQL numeric columns"))
    }
}

/// The integer value of a bit string, when it has at most 64 significant bits.
fn bits_value(bits: &BitString) -> Option<u64> {
    let mut value: u64 = 0;
    for i in 0..bits.len {
        let set = bits.bytes.get(i / 8).is_some_and(|byte| byte & (0x80 >> (i % 8)) != 0);
        value = value.checked_mul(2)?.checked_add(u64::from(set))?;
    }
    Some(value)
}

/// An integer's value, from any numeric value that is exactly an integer.
fn integer_of(value: &Value, kind: &ColumnKind) -> Result<i128, TypeError> {
    let fractional = || TypeError::new("a number with a fraction for an integer column (MySQL would round it)");
    Ok(match value {
        Value::Bool(b) => i128::from(*b),
        Value::Int(v) => i128::from(*v),
        Value::UInt(v) => i128::from(*v),
        Value::Year(y) => i128::from(*y),
        Value::Float32(f) => float_integer(f64::from(*f)).ok_or_else(fractional)?,
        Value::Float64(f) => float_integer(*f).ok_or_else(fractional)?,
        Value::Decimal(d) => decimal_integer(finite_decimal(d)?).ok_or_else(fractional)?,
        Value::Text(text) => {
            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
            if digits.is_empty() || digits.len() > 38 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(TypeError::new("text that is not a plain integer for an integer column"));
            }
            text.parse().map_err(|_| TypeError::new("text that is not a plain integer for an integer column"))?
        }
        Value::Bits(bits) => {
            i128::from(bits_value(bits).ok_or_else(|| TypeError::new("a bit string wider than 64 bits"))?)
        }
        other => return Err(mismatch(other, kind)),
    })
}

fn float_integer(value: f64) -> Option<i128> {
    (value.is_finite() && value.fract() == 0.0 && value.abs() < 1e38).then_some(value as i128)
}

fn decimal_integer(text: &str) -> Option<i128> {
    let parts = DecimalParts::of(text);
    if !parts.frac.is_empty() || parts.int.len() > 38 {
        return None;
    }
    let magnitude: i128 = if parts.int.is_empty() { 0 } else { parts.int.parse().ok()? };
    Some(if parts.negative { -magnitude } else { magnitude })
}

fn int_param(value: i128) -> Param {
    match i64::try_from(value) {
        Ok(v) => Param::Int(v),
        // Only non-negative values above i64::MAX reach here (ranges are checked).
        Err(_) => Param::UInt(u64::try_from(value).unwrap_or(u64::MAX)),
    }
}

pub(super) fn to_int(value: &Value, min: i128, max: i128, kind: &ColumnKind) -> Result<Param, TypeError> {
    let n = integer_of(value, kind)?;
    if n < min || n > max {
        return Err(TypeError::new(format!("a number out of range for {}", kind.describe())));
    }
    Ok(int_param(n))
}

/// Checks that a finite decimal text fits DECIMAL(precision, scale) without
/// rounding, and returns it as the parameter.
fn fit_decimal(text: &str, precision: u32, scale: u32) -> Result<Param, TypeError> {
    let parts = DecimalParts::of(text);
    if parts.frac.len() > scale as usize {
        return Err(TypeError::new(format!(
            "a number with more than {scale} fraction digits for DECIMAL({precision},{scale}) \
             (MySQL would round it); widen the column's scale"
        )));
    }
    if parts.int.len() > precision.saturating_sub(scale) as usize {
        return Err(TypeError::new(format!(
            "a number with more than {} integer digits for DECIMAL({precision},{scale}); widen the column",
            precision.saturating_sub(scale)
        )));
    }
    let mut exact = String::with_capacity(text.len());
    if parts.negative {
        exact.push('-');
    }
    exact.push_str(if parts.int.is_empty() { "0" } else { parts.int });
    if !parts.frac.is_empty() {
        exact.push('.');
        exact.push_str(parts.frac);
    }
    Ok(Param::Bytes(exact.into_bytes()))
}

pub(super) fn to_decimal(value: &Value, precision: u32, scale: u32) -> Result<Param, TypeError> {
    let text = match value {
        Value::Decimal(d) => finite_decimal(d)?.to_owned(),
        Value::Float32(f) => float_finite(f64::from(*f)).map(|_| f.to_string())?,
        Value::Float64(f) => float_finite(*f).map(|_| f.to_string())?,
        Value::Text(text) => finite_decimal(&parse_decimal_text(text)?)?.to_owned(),
        other => integer_of(other, &ColumnKind::Decimal { precision, scale })?.to_string(),
    };
    fit_decimal(&text, precision, scale)
}

pub(super) fn to_float32(value: &Value) -> Result<Param, TypeError> {
    let inexact = || TypeError::new("a number a 4-byte FLOAT cannot represent exactly; make the column DOUBLE");
    let float = match value {
        Value::Float32(f) => float_finite(f64::from(*f)).map(|_| *f)?,
        Value::Float64(d) => {
            let narrowed = float_finite(*d)? as f32;
            if f64::from(narrowed) != *d {
                return Err(inexact());
            }
            narrowed
        }
        Value::Decimal(_) | Value::Text(_) => {
            let text = decimal_text(value)?;
            let parsed: f32 = text.parse().map_err(|_| inexact())?;
            if !parsed.is_finite() || !DecimalParts::of(&parsed.to_string()).same_number(&DecimalParts::of(&text)) {
                return Err(inexact());
            }
            parsed
        }
        other => {
            let n = integer_of(other, &ColumnKind::Float32)?;
            let float = n as f32;
            if float as i128 != n {
                return Err(inexact());
            }
            float
        }
    };
    Ok(Param::Float(float))
}

pub(super) fn to_float64(value: &Value) -> Result<Param, TypeError> {
    let inexact = || TypeError::new("a number an 8-byte DOUBLE cannot represent exactly; make the column DECIMAL");
    let double = match value {
        Value::Float32(f) => float_finite(f64::from(*f))?,
        Value::Float64(d) => float_finite(*d)?,
        Value::Decimal(_) | Value::Text(_) => {
            let text = decimal_text(value)?;
            let parsed: f64 = text.parse().map_err(|_| inexact())?;
            if !parsed.is_finite() || !DecimalParts::of(&parsed.to_string()).same_number(&DecimalParts::of(&text)) {
                return Err(inexact());
            }
            parsed
        }
        other => {
            let n = integer_of(other, &ColumnKind::Float64)?;
            let double = n as f64;
            if double as i128 != n {
                return Err(inexact());
            }
            double
        }
    };
    Ok(Param::Double(double))
}

/// FLOAT(M,D) / DOUBLE(M,D). The server stores such a column's value as a
/// FLOAT or DOUBLE after rounding it to D decimals, and refuses (strict
/// mode) one beyond `±(10^(M-D) - 10^-D)`; MySQL's and MariaDB's
/// `truncate_double` (sql/field.cc):
///
/// ```text
/// tmp = rint((nr - floor(nr)) * 10^D) / 10^D;   nr = floor(nr) + tmp;
/// ```
///
/// then `(float) nr` for FLOAT. Sluice never lets that rounding change a
/// value: the number must first fit the column's binary type exactly (as
/// for plain FLOAT/DOUBLE), its shortest decimal text must have at most D
/// fraction digits, and the server's rounding, computed here with the same
/// IEEE operations, must give it back unchanged — otherwise it is refused,
/// naming the column's D. So 0.25 goes into FLOAT(7,2) and reads back as
/// 0.25; 0.125 (which the server would store as 0.12) is refused.
pub(super) fn to_scaled_float(
    value: &Value,
    double: bool,
    precision: u32,
    scale: u32,
    unsigned: bool,
) -> Result<Param, TypeError> {
    let kind = ColumnKind::ScaledFloat { double, precision, scale, unsigned };
    let param = if double { to_float64(value)? } else { to_float32(value)? };
    let (number, shortest) = match &param {
        Param::Float(f) => (f64::from(*f), f.to_string()),
        Param::Double(d) => (*d, d.to_string()),
        _ => return Err(mismatch(value, &kind)),
    };
    if unsigned && number < 0.0 {
        return Err(TypeError::new(format!("a negative number for {} (the server would store 0)", kind.describe())));
    }
    let rounded = server_rounding(number, scale);
    let kept = if double { rounded == number } else { rounded as f32 == number as f32 };
    if !kept || DecimalParts::of(&shortest).frac.len() > scale as usize {
        return Err(TypeError::new(format!(
            "a number with more than {scale} fraction digits for {} (the server would round it); widen the \
             column's scale or make it a plain {}",
            kind.describe(),
            if double { "DOUBLE" } else { "FLOAT" }
        )));
    }
    let integer_digits = precision.saturating_sub(scale) as i32;
    let mut max = 10f64.powi(integer_digits) - 1.0 / 10f64.powi(scale as i32);
    if !double {
        max = max.min(f64::from(f32::MAX));
    }
    if rounded.abs() > max {
        return Err(TypeError::new(format!(
            "a number with more than {integer_digits} integer digits for {}; widen the column",
            kind.describe()
        )));
    }
    Ok(param)
}

/// The rounding of `truncate_double` for `scale` decimals (below 31, as FLOAT/DOUBLE scales are).
fn server_rounding(number: f64, scale: u32) -> f64 {
    let factor = 10f64.powi(scale as i32);
    let floor = number.floor();
    floor + ((number - floor) * factor).round_ties_even() / factor
}

/// The finite decimal text of a `Decimal` or a `Text` holding one.
fn decimal_text(value: &Value) -> Result<String, TypeError> {
    match value {
        Value::Decimal(d) => Ok(finite_decimal(d)?.to_owned()),
        Value::Text(text) => Ok(finite_decimal(&parse_decimal_text(text)?)?.to_owned()),
        _ => Err(TypeError::new("not a decimal")),
    }
}

pub(super) fn to_bit(value: &Value, len: u32) -> Result<Param, TypeError> {
    let kind = ColumnKind::Bit { len };
    let n = match value {
        Value::Bits(bits) => i128::from(
            bits_value(bits).ok_or_else(|| TypeError::new(format!("a bit string with bits set beyond BIT({len})")))?,
        ),
        Value::Bool(_) | Value::Int(_) | Value::UInt(_) => integer_of(value, &kind)?,
        other => return Err(mismatch(other, &kind)),
    };
    if n < 0 || n >= (1i128 << len.min(64)) {
        return Err(TypeError::new(format!("a value with bits set beyond BIT({len})")));
    }
    Ok(Param::UInt(u64::try_from(n).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(text: &str) -> Value {
        Value::Decimal(Decimal::parse(text).unwrap())
    }

    const BIGINT_UNSIGNED: ColumnKind = ColumnKind::Int { min: 0, max: u64::MAX as i128 };

    #[test]
    fn bigint_unsigned_takes_its_maximum_and_refuses_negatives() {
        let (min, max) = (0, u64::MAX as i128);
        assert_eq!(to_int(&Value::UInt(u64::MAX), min, max, &BIGINT_UNSIGNED).unwrap(), Param::UInt(u64::MAX));
        assert_eq!(
            to_int(&decimal("18446744073709551615"), min, max, &BIGINT_UNSIGNED).unwrap(),
            Param::UInt(u64::MAX)
        );
        assert!(to_int(&Value::Int(-1), min, max, &BIGINT_UNSIGNED).is_err());
        assert!(to_int(&decimal("18446744073709551616"), min, max, &BIGINT_UNSIGNED).is_err());
    }

    #[test]
    fn integers_refuse_fractions_and_accept_integral_decimals_and_floats() {
        let tiny = ColumnKind::Int { min: -128, max: 127 };
        assert_eq!(to_int(&decimal("-128.000"), -128, 127, &tiny).unwrap(), Param::Int(-128));
        assert_eq!(to_int(&Value::Float64(100.0), -128, 127, &tiny).unwrap(), Param::Int(100));
        assert!(to_int(&decimal("1.5"), -128, 127, &tiny).is_err());
        assert!(to_int(&Value::Int(128), -128, 127, &tiny).is_err());
        assert!(to_int(&Value::Text("12a".into()), -128, 127, &tiny).is_err());
    }

    #[test]
    fn decimals_fit_precision_and_scale_or_are_refused() {
        let text = "12345678901234567890123456789012345.123456789012345678901234567890";
        // Trailing fraction zeros are dropped (the column's scale restores them).
        let trimmed = text.trim_end_matches('0');
        assert_eq!(to_decimal(&decimal(text), 65, 30).unwrap(), Param::Bytes(trimmed.as_bytes().to_vec()));
        assert_eq!(to_decimal(&decimal("1.50"), 5, 1).unwrap(), Param::Bytes(b"1.5".to_vec()));
        assert!(to_decimal(&decimal("1.55"), 5, 1).is_err(), "MySQL would round");
        assert!(to_decimal(&decimal("12345"), 5, 1).is_err());
        assert!(to_decimal(&decimal("NaN"), 5, 1).unwrap_err().reason().contains("NaN"));
        assert!(to_decimal(&Value::Float64(f64::INFINITY), 5, 1).is_err());
        assert_eq!(to_decimal(&Value::Float64(0.1), 5, 1).unwrap(), Param::Bytes(b"0.1".to_vec()));
    }

    #[test]
    fn floats_are_refused_unless_exact() {
        assert!(to_float32(&Value::Float32(f32::NAN)).is_err());
        assert!(to_float64(&Value::Float64(f64::NEG_INFINITY)).is_err());
        assert_eq!(to_float32(&Value::Float64(0.5)).unwrap(), Param::Float(0.5));
        assert!(to_float32(&Value::Float64(0.1)).is_err());
        assert!(to_float32(&Value::Int(16_777_217)).is_err());
        assert!(to_float64(&Value::Int(i64::MAX)).is_err());
        assert_eq!(to_float64(&decimal("0.1")).unwrap(), Param::Double(0.1));
        assert!(to_float64(&decimal("0.10000000000000000001")).is_err());
    }

    #[test]
    fn scaled_floats_take_exactly_what_the_server_keeps() {
        let float72 = |v: &Value| to_scaled_float(v, false, 7, 2, false);
        let double103 = |v: &Value| to_scaled_float(v, true, 10, 3, false);
        assert_eq!(float72(&Value::Float32(0.25)).unwrap(), Param::Float(0.25));
        assert_eq!(float72(&Value::Float32(0.1)).unwrap(), Param::Float(0.1), "0.1f32 rounds back to itself");
        assert_eq!(float72(&decimal("12345.67")).unwrap(), Param::Float(12345.67));
        assert_eq!(float72(&Value::Int(-99_999)).unwrap(), Param::Float(-99_999.0));
        assert!(float72(&Value::Float32(0.125)).unwrap_err().reason().contains("2 fraction digits"));
        assert!(float72(&decimal("1.005")).is_err());
        assert!(float72(&decimal("123456.7")).unwrap_err().reason().contains("5 integer digits"));
        assert!(float72(&Value::Float64(0.1)).is_err(), "the double 0.1 is no FLOAT");
        assert_eq!(double103(&Value::Float64(1.002)).unwrap(), Param::Double(1.002));
        assert_eq!(double103(&decimal("-1234567.125")).unwrap(), Param::Double(-1_234_567.125));
        assert!(double103(&Value::Float64(1.0015)).is_err(), "the server stores 1.002");
        assert!(double103(&Value::Float64(0.0005)).is_err(), "the server stores 0.000");
        assert!(double103(&Value::Float64(0.1 + 0.2)).is_err());
        assert!(double103(&Value::Float64(10_000_000.0)).is_err(), "beyond 9999999.999");
        assert_eq!(double103(&Value::Float64(9_999_999.999)).unwrap(), Param::Double(9_999_999.999));
        assert!(double103(&Value::Float64(f64::NAN)).is_err());
        let unsigned = to_scaled_float(&Value::Float64(-1.5), true, 10, 3, true);
        assert!(unsigned.unwrap_err().reason().contains("negative"));
        assert!(to_scaled_float(&Value::Text("x".into()), true, 10, 3, false).is_err());
        // The server's rounding on the examples MariaDB 10.11 stores (DOUBLE(10,3), FLOAT(7,2)).
        assert_eq!(server_rounding(1.0015, 3), 1.002);
        assert_eq!(server_rounding(2.6745, 3), 2.675);
        assert_eq!(server_rounding(0.0005, 3), 0.0);
        assert_eq!(server_rounding(0.125, 2), 0.12);
        assert_eq!(server_rounding(-0.125, 2), -0.12);
    }

    #[test]
    fn bits_fit_the_column_width() {
        let bits = BitString::from_text("00101").unwrap();
        assert_eq!(to_bit(&Value::Bits(bits), 3).unwrap(), Param::UInt(5));
        assert!(to_bit(&Value::Bits(BitString::from_text("1000").unwrap()), 3).is_err());
        assert_eq!(to_bit(&Value::UInt(u64::MAX), 64).unwrap(), Param::UInt(u64::MAX));
        assert!(to_bit(&Value::Int(-1), 8).is_err());
    }
}
