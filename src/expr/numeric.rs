//! Exact arithmetic. Integers and decimals never go through `f64`:
//! [`Num`] holds an integer (`i128`, so any i64/u64 and their sums fit), a
//! scaled decimal (`i128` mantissa and a scale: up to 38 digits without
//! allocating) or, when those overflow, a `BigDecimal` of any size. Any
//! float operand makes the computation floating point (`Float64`).
//!
//! The rules (docs/EXPRESSIONS.md, "Numbers"):
//! - integer op integer is an integer; a result outside i64 becomes a UInt
//!   when an operand was unsigned and it fits u64, otherwise an exact
//!   decimal: never a wrap-around, never an overflow error;
//! - with a decimal operand the result is a decimal: `+ -` keep the larger
//!   scale, `*` adds the scales (`1.50 * 2` is `3.00`);
//! - `/` on exact numbers is an exact decimal: the exact quotient when it
//!   has a finite decimal expansion (`1/8` = `0.125`, `10/2` = `5`),
//!   otherwise rounded half away from zero to 20 fractional digits (or the
//!   larger operand scale when above 20); trailing zeros are trimmed;
//! - `%` takes the sign of the dividend; division by zero is an error;
//! - a `Float32` operand is widened through its shortest text (`0.1f32` is
//!   `0.1`, not `0.100000001490116`);
//! - a text operand is parsed as an exact number (an error when it is not
//!   one); booleans and other kinds are errors.

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::num_bigint::BigInt;
use bigdecimal::{BigDecimal, RoundingMode, Signed, ToPrimitive, Zero};
use sluice_api::{Decimal, Value};

use super::EvalError;

/// A number being computed with.
#[derive(Clone, Debug)]
pub(crate) enum Num {
    /// An integer.
    Int(i128),
    /// `mantissa × 10^-scale`, a decimal (even at scale 0).
    Dec(i128, u32),
    /// A decimal too large for `Dec`.
    Big(BigDecimal),
    Float(f64),
}

/// The arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Quotients that do not terminate get this many fractional digits (at least).
pub(crate) const DIVISION_SCALE: u32 = 20;
/// Scales and exponents beyond this are refused (they would only make huge numbers).
const MAX_SCALE: i64 = 1000;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn big_pow10(n: u32) -> BigInt {
    BigInt::from(10u8).pow(n)
}

impl Num {
    /// The number a value stands for; `what` names the operator or function
    /// for the error. NULL is handled by the caller.
    pub(crate) fn from_value(value: &Value, what: &str) -> Result<Num, EvalError> {
        match value {
            Value::Int(i) => Ok(Num::Int(i128::from(*i))),
            Value::UInt(u) => Ok(Num::Int(i128::from(*u))),
            Value::Year(y) => Ok(Num::Int(i128::from(*y))),
            Value::Float64(f) => Ok(Num::Float(*f)),
            Value::Float32(f) => Ok(Num::Float(widen(*f))),
            Value::Decimal(d) => {
                if d.is_special() {
                    return Err(EvalError::invalid(
                        what,
                        "cannot compute with a special numeric value (NaN or infinity)",
                    ));
                }
                parse_number(d.as_str(), true).ok_or_else(|| EvalError::invalid(what, "a decimal value is malformed"))
            }
            Value::Text(text) => parse_number(text, false).ok_or_else(|| {
                EvalError::invalid(what, "a text operand is not a number; cast it or compare it as text")
            }),
            other => Err(EvalError::invalid(what, format!("cannot use a {} value as a number", other.kind_name()))),
        }
    }

    pub(crate) fn is_float(&self) -> bool {
        matches!(self, Num::Float(_))
    }

    /// The value of an exact number as a BigDecimal.
    fn to_big(&self) -> BigDecimal {
        match self {
            Num::Int(i) => BigDecimal::new(BigInt::from(*i), 0),
            Num::Dec(m, s) => BigDecimal::new(BigInt::from(*m), i64::from(*s)),
            Num::Big(b) => b.clone(),
            Num::Float(f) => BigDecimal::from_str(&float_text(*f)).unwrap_or_default(),
        }
    }

    /// The number as f64 (for comparisons with floats and float arithmetic).
    pub(crate) fn to_f64(&self) -> f64 {
        match self {
            Num::Int(i) => *i as f64,
            Num::Float(f) => *f,
            // Through the text: correctly rounded.
            Num::Dec(m, s) => dec_text(*m, *s).parse().unwrap_or(f64::NAN),
            Num::Big(b) => big_text(b).parse().unwrap_or(f64::NAN),
        }
    }

    /// The integer value when the number is integral and fits i128.
    pub(crate) fn to_integer(&self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(*i),
            Num::Dec(m, s) => {
                let p = pow10(*s)?;
                (m % p == 0).then(|| m / p)
            }
            Num::Big(b) => b.is_integer().then(|| b.to_i128()).flatten(),
            Num::Float(f) => (f.fract() == 0.0 && f.abs() < 1e38).then_some(*f as i128),
        }
    }

    /// The value: an integer becomes Int (or UInt when `unsigned` and it
    /// only fits u64, or Decimal beyond); a decimal becomes Decimal in plain
    /// notation; a float becomes Float64.
    pub(crate) fn into_value(self, unsigned: bool) -> Result<Value, EvalError> {
        match self {
            Num::Int(i) => {
                if let Ok(v) = i64::try_from(i) {
                    Ok(Value::Int(v))
                } else if let (true, Ok(v)) = (unsigned, u64::try_from(i)) {
                    Ok(Value::UInt(v))
                } else {
                    decimal_value(&i.to_string())
                }
            }
            Num::Dec(m, s) => decimal_value(&dec_text(m, s)),
            Num::Big(b) => decimal_value(&big_text(&b)),
            Num::Float(f) => Ok(Value::Float64(f)),
        }
    }

    fn is_zero(&self) -> bool {
        match self {
            Num::Int(i) | Num::Dec(i, _) => *i == 0,
            Num::Big(b) => b.is_zero(),
            Num::Float(f) => *f == 0.0,
        }
    }
}

/// An f32 widened through its shortest round-trip text.
pub(crate) fn widen(f: f32) -> f64 {
    if f.is_finite() { format!("{f}").parse().unwrap_or(f64::from(f)) } else { f64::from(f) }
}

/// A decimal value from plain text (internal texts are always valid).
pub(crate) fn decimal_value(text: &str) -> Result<Value, EvalError> {
    Decimal::parse(text).map(Value::Decimal).map_err(|_| EvalError::invalid("decimal", "internal: malformed result"))
}

/// Plain-notation text of `m × 10^-s`.
pub(crate) fn dec_text(m: i128, s: u32) -> String {
    digits_text(m < 0, &m.unsigned_abs().to_string(), i64::from(s))
}

/// Plain-notation text of a BigDecimal (never an exponent).
pub(crate) fn big_text(b: &BigDecimal) -> String {
    let (mantissa, scale) = b.as_bigint_and_exponent();
    digits_text(mantissa.is_negative(), &mantissa.abs().to_string(), scale)
}

fn digits_text(negative: bool, digits: &str, scale: i64) -> String {
    let mut out = String::with_capacity(digits.len() + 3);
    if negative {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(digits);
        if digits != "0" {
            out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        }
        return out;
    }
    let scale = scale as usize;
    if digits.len() <= scale {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        out.push_str(digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Shortest text of a float, `NaN`/`Infinity`/`-Infinity` for the specials.
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        format!("{f}")
    }
}

/// Parses an exact number: optional sign, digits, optional fraction,
/// optional exponent; surrounding ASCII whitespace allowed. Without a
/// fraction or exponent it is an integer unless `decimal` is set.
pub(crate) fn parse_number(text: &str, decimal: bool) -> Option<Num> {
    let text = text.trim_ascii();
    let (negative, body) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || !frac.is_none_or(all_digits) || (int.is_empty() && frac.is_none_or(str::is_empty)) {
        return None;
    }
    if let Some(exponent) = exponent {
        let e: i64 = exponent.parse().ok()?;
        if e.unsigned_abs() > MAX_SCALE as u64 {
            return None;
        }
        let mut digits = String::with_capacity(int.len() + frac.map_or(0, str::len) + 1);
        if negative {
            digits.push('-');
        }
        digits.push_str(int);
        digits.push_str(frac.unwrap_or(""));
        let scale = frac.map_or(0, str::len) as i64 - e;
        let mantissa = BigInt::from_str(&digits).ok()?;
        let big = BigDecimal::new(mantissa, scale);
        // Keep the result's scale non-negative: plain numbers.
        let big = if scale < 0 { big.with_scale(0) } else { big };
        return Some(shrink(big));
    }
    let frac = frac.unwrap_or("");
    let scale = frac.len();
    if int.len() + scale <= 38 {
        let mut m: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            m = m * 10 + i128::from(b - b'0');
        }
        if negative {
            m = -m;
        }
        let is_decimal = decimal || !frac.is_empty() || mantissa.contains('.');
        return Some(if is_decimal { Num::Dec(m, scale as u32) } else { Num::Int(m) });
    }
    if scale as i64 > MAX_SCALE * 100 {
        return None;
    }
    let mut digits = String::with_capacity(int.len() + scale + 1);
    if negative {
        digits.push('-');
    }
    digits.push_str(int);
    digits.push_str(frac);
    Some(Num::Big(BigDecimal::new(BigInt::from_str(&digits).ok()?, scale as i64)))
}

/// A BigDecimal as `Dec` when it fits.
fn shrink(b: BigDecimal) -> Num {
    let (mantissa, scale) = b.as_bigint_and_exponent();
    match (mantissa.to_i128(), u32::try_from(scale)) {
        (Some(m), Ok(s)) => Num::Dec(m, s),
        _ => Num::Big(b),
    }
}

/// `(mantissa, scale)` of an exact number that fits i128.
fn parts(n: &Num) -> Option<(i128, u32)> {
    match n {
        Num::Int(i) => Some((*i, 0)),
        Num::Dec(m, s) => Some((*m, *s)),
        Num::Big(_) | Num::Float(_) => None,
    }
}

/// Both mantissas at the larger scale.
fn align(a: (i128, u32), b: (i128, u32)) -> Option<(i128, i128, u32)> {
    let s = a.1.max(b.1);
    Some((a.0.checked_mul(pow10(s - a.1)?)?, b.0.checked_mul(pow10(s - b.1)?)?, s))
}

/// `a op b`. NULLs are handled by the caller; `unsigned` says an operand
/// was a UInt (see [`Num::into_value`]).
pub(crate) fn arith(op: Arith, a: &Value, b: &Value, what: &str) -> Result<Value, EvalError> {
    let unsigned = matches!(a, Value::UInt(_)) || matches!(b, Value::UInt(_));
    let x = Num::from_value(a, what)?;
    let y = Num::from_value(b, what)?;
    compute(op, &x, &y, what)?.into_value(unsigned)
}

/// `x op y` on numbers.
pub(crate) fn compute(op: Arith, x: &Num, y: &Num, what: &str) -> Result<Num, EvalError> {
    if matches!(op, Arith::Div | Arith::Mod) && y.is_zero() {
        return Err(EvalError::invalid(what, "division by zero"));
    }
    if x.is_float() || y.is_float() {
        let (a, b) = (x.to_f64(), y.to_f64());
        let r = match op {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
            Arith::Mod => a % b,
        };
        if !r.is_finite() && a.is_finite() && b.is_finite() {
            return Err(EvalError::invalid(what, "the result is out of the floating-point range"));
        }
        return Ok(Num::Float(r));
    }
    if let (Some(a), Some(b)) = (parts(x), parts(y))
        && let Some(r) = exact_small(op, a, b, matches!((x, y), (Num::Int(_), Num::Int(_))))
    {
        return Ok(r);
    }
    exact_big(op, x, y)
}

/// Exact arithmetic on i128 mantissas; `None` on overflow (then the big path).
fn exact_small(op: Arith, a: (i128, u32), b: (i128, u32), integers: bool) -> Option<Num> {
    let make = |m: i128, s: u32| if integers { Num::Int(m) } else { Num::Dec(m, s) };
    match op {
        Arith::Add | Arith::Sub => {
            let (x, y, s) = align(a, b)?;
            let r = if op == Arith::Add { x.checked_add(y)? } else { x.checked_sub(y)? };
            Some(make(r, s))
        }
        Arith::Mul => Some(make(a.0.checked_mul(b.0)?, a.1.checked_add(b.1)?)),
        Arith::Mod => {
            let (x, y, s) = align(a, b)?;
            Some(make(x.checked_rem(y)?, s))
        }
        Arith::Div => {
            // a/b = (ma·10^sb) / (mb·10^sa)
            let n = a.0.checked_mul(pow10(b.1)?)?;
            let d = b.0.checked_mul(pow10(a.1)?)?;
            let (n, d) = if d < 0 { (n.checked_neg()?, d.checked_neg()?) } else { (n, d) };
            let (rest, twos, fives) = strip_2_5(d);
            let (q, s) = if n % rest == 0 {
                let k = twos.max(fives);
                (n.checked_mul(pow10(k)?)? / d, k)
            } else {
                let s = DIVISION_SCALE.max(a.1).max(b.1);
                (round_div(n.checked_mul(pow10(s)?)?, d), s)
            };
            let (q, s) = trim_zeros(q, s);
            Some(Num::Dec(q, s))
        }
    }
}

/// `d = 2^twos · 5^fives · rest` (d > 0).
fn strip_2_5(mut d: i128) -> (i128, u32, u32) {
    let (mut twos, mut fives) = (0, 0);
    while d % 2 == 0 {
        d /= 2;
        twos += 1;
    }
    while d % 5 == 0 {
        d /= 5;
        fives += 1;
    }
    (d, twos, fives)
}

/// `n / d` rounded half away from zero (d > 0).
fn round_div(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if r.abs() >= d - r.abs() { q + n.signum() } else { q }
}

fn trim_zeros(mut m: i128, mut s: u32) -> (i128, u32) {
    while s > 0 && m % 10 == 0 {
        m /= 10;
        s -= 1;
    }
    (m, s)
}

/// The same operations on arbitrary-size decimals.
fn exact_big(op: Arith, x: &Num, y: &Num) -> Result<Num, EvalError> {
    let integers = matches!((x, y), (Num::Int(_), Num::Int(_)));
    let ((ma, sa), (mb, sb)) = (big_parts(&x.to_big()), big_parts(&y.to_big()));
    // Scales are explicit (BigDecimal's operators may normalise them).
    let aligned = |ma: BigInt, mb: BigInt| {
        let scale = sa.max(sb);
        (ma * big_pow10(scale - sa), mb * big_pow10(scale - sb), scale)
    };
    let result = match op {
        Arith::Add | Arith::Sub => {
            let (ma, mb, scale) = aligned(ma, mb);
            BigDecimal::new(if op == Arith::Add { ma + mb } else { ma - mb }, i64::from(scale))
        }
        Arith::Mul => BigDecimal::new(ma * mb, i64::from(sa) + i64::from(sb)),
        Arith::Mod => {
            let (ma, mb, scale) = aligned(ma, mb);
            BigDecimal::new(ma % mb, i64::from(scale))
        }
        Arith::Div => big_div(&x.to_big(), &y.to_big()),
    };
    if integers && let Some(i) = result.is_integer().then(|| result.to_i128()).flatten() {
        return Ok(Num::Int(i));
    }
    Ok(shrink(result))
}

/// `(mantissa, scale)` of a BigDecimal with a non-negative scale.
fn big_parts(b: &BigDecimal) -> (BigInt, u32) {
    let (mantissa, scale) = b.as_bigint_and_exponent();
    if scale < 0 { (mantissa * big_pow10(scale.unsigned_abs() as u32), 0) } else { (mantissa, scale as u32) }
}

/// The exact-or-rounded quotient of [`exact_small`]'s `Div`, any size.
fn big_div(a: &BigDecimal, b: &BigDecimal) -> BigDecimal {
    let (ma, sa) = big_parts(a);
    let (mb, sb) = big_parts(b);
    let mut n = ma * big_pow10(sb);
    let mut d = mb * big_pow10(sa);
    if d.is_negative() {
        n = -n;
        d = -d;
    }
    let two = BigInt::from(2u8);
    let five = BigInt::from(5u8);
    let (mut rest, mut twos, mut fives) = (d.clone(), 0u32, 0u32);
    while (&rest % &two).is_zero() {
        rest /= &two;
        twos += 1;
    }
    while (&rest % &five).is_zero() {
        rest /= &five;
        fives += 1;
    }
    let (mut q, mut s) = if (&n % &rest).is_zero() {
        let k = twos.max(fives);
        ((n * big_pow10(k)) / &d, k)
    } else {
        let s = DIVISION_SCALE.max(sa).max(sb);
        let n = n * big_pow10(s);
        let (q, r) = (&n / &d, &n % &d);
        let q = if r.abs() >= &d - r.abs() { q + n.signum() } else { q };
        (q, s)
    };
    let ten = BigInt::from(10u8);
    while s > 0 && (&q % &ten).is_zero() {
        q /= &ten;
        s -= 1;
    }
    BigDecimal::new(q, i64::from(s))
}

/// Exact comparison of two exact numbers; floats compare as f64.
pub(crate) fn compare(x: &Num, y: &Num) -> Ordering {
    if x.is_float() || y.is_float() {
        let (a, b) = (x.to_f64(), y.to_f64());
        return float_order(a, b);
    }
    match (parts(x), parts(y)) {
        (Some((a, 0)), Some((b, 0))) => a.cmp(&b),
        (Some(a), Some(b)) => match align(a, b) {
            Some((a, b, _)) => a.cmp(&b),
            None => x.to_big().cmp(&y.to_big()),
        },
        _ => x.to_big().cmp(&y.to_big()),
    }
}

/// PostgreSQL's float order: NaN equals NaN and sorts above everything.
pub(crate) fn float_order(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Unary minus.
pub(crate) fn negate(value: &Value, what: &str) -> Result<Value, EvalError> {
    match value {
        Value::Float64(f) => Ok(Value::Float64(-f)),
        Value::Float32(f) => Ok(Value::Float64(-widen(*f))),
        Value::Decimal(d) if d.is_special() => match d.as_str() {
            "Infinity" => decimal_value("-Infinity"),
            "-Infinity" => decimal_value("Infinity"),
            _ => Ok(value.clone()),
        },
        _ => {
            let n = Num::from_value(value, what)?;
            let r = match n {
                Num::Int(i) => i.checked_neg().map_or_else(|| Num::Big(-Num::Int(i).to_big()), Num::Int),
                Num::Dec(m, s) => {
                    m.checked_neg().map_or_else(|| Num::Big(-Num::Dec(m, s).to_big()), |m| Num::Dec(m, s))
                }
                Num::Big(b) => Num::Big(-b),
                Num::Float(f) => Num::Float(-f),
            };
            r.into_value(false)
        }
    }
}

/// `abs()`.
pub(crate) fn abs(n: Num) -> Num {
    match n {
        Num::Int(i) => i.checked_abs().map_or_else(|| Num::Big(Num::Int(i).to_big().abs()), Num::Int),
        Num::Dec(m, s) => m.checked_abs().map_or_else(|| Num::Big(Num::Dec(m, s).to_big().abs()), |m| Num::Dec(m, s)),
        Num::Big(b) => Num::Big(b.abs()),
        Num::Float(f) => Num::Float(f.abs()),
    }
}

/// `round(x, digits)`: half away from zero; a decimal gets scale
/// `max(digits, 0)` (`round(1.2, 3)` is `1.200`, like PostgreSQL); an
/// integer stays an integer.
pub(crate) fn round(n: Num, digits: i64, what: &str) -> Result<Num, EvalError> {
    if digits.unsigned_abs() > MAX_SCALE as u64 {
        return Err(EvalError::invalid(
            what,
            format!("the number of digits must be between -{MAX_SCALE} and {MAX_SCALE}"),
        ));
    }
    Ok(match n {
        Num::Float(f) => {
            if digits == 0 {
                Num::Float(f.round())
            } else {
                let p = 10f64.powi(digits as i32);
                let r = (f * p).round() / p;
                Num::Float(if r.is_finite() { r } else { f })
            }
        }
        Num::Int(i) if digits >= 0 => Num::Int(i),
        Num::Int(i) => match pow10(digits.unsigned_abs() as u32) {
            Some(p) => match round_div(i, p).checked_mul(p) {
                Some(r) => Num::Int(r),
                None => big_round(&Num::Int(i).to_big(), digits, true),
            },
            None => Num::Int(0),
        },
        Num::Dec(m, s) => {
            let target = digits.max(0) as u32;
            let small = if digits >= i64::from(s) {
                pow10(target - s).and_then(|p| m.checked_mul(p)).map(|m| Num::Dec(m, target))
            } else {
                let drop = (i64::from(s) - digits) as u32;
                match pow10(drop) {
                    Some(p) => {
                        let q = round_div(m, p);
                        if digits >= 0 {
                            Some(Num::Dec(q, target))
                        } else {
                            pow10(digits.unsigned_abs() as u32).and_then(|p| q.checked_mul(p)).map(|m| Num::Dec(m, 0))
                        }
                    }
                    None => Some(Num::Dec(0, target)),
                }
            };
            match small {
                Some(r) => r,
                None => big_round(&Num::Dec(m, s).to_big(), digits, false),
            }
        }
        Num::Big(b) => big_round(&b, digits, false),
    })
}

fn big_round(b: &BigDecimal, digits: i64, integer: bool) -> Num {
    let rounded = b.with_scale_round(digits, RoundingMode::HalfUp).with_scale(digits.max(0));
    if integer && let Some(i) = rounded.to_i128() {
        return Num::Int(i);
    }
    shrink(rounded)
}

/// `floor()` / `ceil()`: a decimal becomes a decimal of scale 0.
pub(crate) fn floor_ceil(n: Num, ceil: bool) -> Num {
    match n {
        Num::Int(i) => Num::Int(i),
        Num::Float(f) => Num::Float(if ceil { f.ceil() } else { f.floor() }),
        Num::Dec(m, s) => match pow10(s) {
            Some(p) => {
                let q = m.div_euclid(p);
                let q = if ceil && m.rem_euclid(p) != 0 { q + 1 } else { q };
                Num::Dec(q, 0)
            }
            None => Num::Dec(0, 0),
        },
        Num::Big(b) => shrink(b.with_scale_round(0, if ceil { RoundingMode::Ceiling } else { RoundingMode::Floor })),
    }
}

/// The plain text of an exact number (a float: its shortest text).
pub(crate) fn num_text(n: &Num) -> String {
    match n {
        Num::Int(i) => dec_text(*i, 0),
        Num::Dec(m, s) => dec_text(*m, *s),
        Num::Big(b) => big_text(b),
        Num::Float(f) => float_text(*f),
    }
}

/// A finite number rounded half away from zero to `scale` fractional
/// digits, as plain text, with the count of its integer digits (for
/// precision checks). `None` for a non-finite float.
pub(crate) fn to_scale(n: &Num, scale: u32) -> Option<(String, usize)> {
    let exact = match n {
        Num::Float(f) => parse_number(&float_text(*f), true)?,
        Num::Int(i) => Num::Dec(*i, 0),
        other => other.clone(),
    };
    let text = num_text(&round(exact, i64::from(scale), "").ok()?);
    let int_digits = text.trim_start_matches('-').split('.').next().unwrap_or("").trim_start_matches('0').len();
    Some((text, int_digits))
}
