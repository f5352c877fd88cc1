//! Text: the canonical text of every value ([`text_of`]: what `CAST(x AS
//! text)`, `||`, `concat()` and the text functions see, and what value-map
//! and crosswalk keys are compared by), the LIKE matcher, and the string
//! functions' character-level work.
//!
//! Canonical forms, per kind: integers as decimal digits; Decimal as its
//! exact text (scale kept: `5.0` stays `5.0`, so it does not match a map
//! key `5`); floats as their shortest round-trip text, plain notation
//! (`0.1`, `1e21` as `1000000000000000000000`, `NaN`, `Infinity`,
//! `-Infinity`); Bool `true`/`false`; Text, Enum and Json as they are; Set
//! comma-joined; Uuid lowercase hyphenated; Bytes `\x` + lowercase hex;
//! Bits as `0`/`1` digits; Date `YYYY-MM-DD` (`infinity`, `-infinity`);
//! Time `HH:MM:SS[.ffffff]`; TimeTz with `+HH[:MM]`; Timestamp
//! `YYYY-MM-DD HH:MM:SS[.ffffff]`; TimestampTz in UTC `YYYY-MM-DD
//! HH:MM:SS[.ffffff]+00`; Duration `[-]HH:MM:SS[.ffffff]`; Year four
//! digits; Interval PostgreSQL's `1 year 2 mons 3 days 04:05:06`; Array
//! PostgreSQL's `{1,2,NULL,"a b"}`; Raw its text. Fractions of seconds lose
//! trailing zeros. NULL and Unchanged have no text.

use std::borrow::Cow;
use std::fmt::Write;

use sluice_api::{CivilDate, Date, Interval, TimeOfDay, Timestamp, TimestampTz, Value, format_clock};

use super::EvalError;
use super::numeric::float_text;

/// The canonical text of a value: what `CAST(x AS text)` and `||` produce,
/// what value-map keys and crosswalk keys are compared by. `None` for NULL
/// and [`Value::Unchanged`]. The forms are listed in this module's docs
/// and in docs/EXPRESSIONS.md.
pub fn text_of(value: &Value) -> Option<String> {
    text_cow(value).map(Cow::into_owned)
}

/// [`text_of`], borrowing when the value is text already.
pub(crate) fn text_cow(value: &Value) -> Option<Cow<'_, str>> {
    Some(match value {
        Value::Null | Value::Unchanged => return None,
        Value::Text(s) | Value::Enum(s) | Value::Json(s) => Cow::Borrowed(s.as_str()),
        Value::Raw { text, .. } => Cow::Borrowed(text.as_str()),
        Value::Decimal(d) => Cow::Borrowed(d.as_str()),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Int(i) => Cow::Owned(i.to_string()),
        Value::UInt(u) => Cow::Owned(u.to_string()),
        Value::Float32(f) => Cow::Owned(if f.is_finite() { format!("{f}") } else { float_text(f64::from(*f)) }),
        Value::Float64(f) => Cow::Owned(float_text(*f)),
        Value::Set(labels) => Cow::Owned(labels.join(",")),
        Value::Uuid(bytes) => Cow::Owned(uuid_text(bytes)),
        Value::Bytes(bytes) => {
            let mut out = String::with_capacity(2 + bytes.len() * 2);
            out.push_str("\\x");
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
            Cow::Owned(out)
        }
        Value::Bits(bits) => Cow::Owned(bits.to_text()),
        Value::Date(d) => Cow::Owned(date_text(d)),
        Value::Time(t) => Cow::Owned(t.to_text()),
        Value::TimeTz(t, offset) => Cow::Owned(format!("{}{}", t.to_text(), offset_text(*offset))),
        Value::Duration(micros) => Cow::Owned(duration_text(*micros)),
        Value::Timestamp(ts) => Cow::Owned(timestamp_text(ts)),
        Value::TimestampTz(ts) => Cow::Owned(timestamptz_text(ts)),
        Value::Interval(iv) => Cow::Owned(interval_text(iv)),
        Value::Year(y) => Cow::Owned(format!("{y:04}")),
        Value::Array(items) => {
            let mut out = String::new();
            array_text(items, &mut out);
            Cow::Owned(out)
        }
    })
}

/// The text of a non-NULL value for a text operator or function.
pub(crate) fn text_arg<'v>(value: &'v Value, what: &str) -> Result<Cow<'v, str>, EvalError> {
    text_cow(value).ok_or_else(|| EvalError::invalid(what, "an uncaptured value has no text"))
}

pub(crate) fn uuid_text(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub(crate) fn date_text(date: &Date) -> String {
    match date {
        Date::Civil(d) => d.to_string(),
        Date::PosInfinity => "infinity".into(),
        Date::NegInfinity => "-infinity".into(),
    }
}

fn civil_text(date: &CivilDate, time: &TimeOfDay) -> String {
    format!("{date} {}", time.to_text())
}

pub(crate) fn timestamp_text(ts: &Timestamp) -> String {
    match ts {
        Timestamp::Civil { date, time } => civil_text(date, time),
        Timestamp::PosInfinity => "infinity".into(),
        Timestamp::NegInfinity => "-infinity".into(),
    }
}

pub(crate) fn timestamptz_text(ts: &TimestampTz) -> String {
    match ts {
        TimestampTz::Micros(m) => {
            let (date, time) = TimestampTz::to_utc_civil(*m);
            format!("{}+00", civil_text(&date, &time))
        }
        TimestampTz::PosInfinity => "infinity".into(),
        TimestampTz::NegInfinity => "-infinity".into(),
    }
}

/// `+HH`, `+HH:MM` or `+HH:MM:SS` (seconds east of UTC).
fn offset_text(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let (h, m, s) = (abs / 3600, (abs / 60) % 60, abs % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h:02}"),
        (_, 0) => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}:{s:02}"),
    }
}

pub(crate) fn duration_text(micros: i64) -> String {
    let clock = format_clock(micros.unsigned_abs());
    if micros < 0 { format!("-{clock}") } else { clock }
}

/// PostgreSQL's `IntervalStyle = postgres` output.
pub(crate) fn interval_text(iv: &Interval) -> String {
    let mut out = String::new();
    let mut is_before = false;
    let part = |out: &mut String, value: i64, unit: &str, is_before: &mut bool| {
        if value == 0 {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let plus = if *is_before && value > 0 { "+" } else { "" };
        let _ = write!(out, "{plus}{value} {unit}{}", if value != 1 { "s" } else { "" });
        *is_before = value < 0;
    };
    let months = i64::from(iv.months);
    part(&mut out, months / 12, "year", &mut is_before);
    part(&mut out, months % 12, "mon", &mut is_before);
    part(&mut out, i64::from(iv.days), "day", &mut is_before);
    if iv.micros != 0 || out.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        let sign = if iv.micros < 0 {
            "-"
        } else if is_before {
            "+"
        } else {
            ""
        };
        out.push_str(sign);
        out.push_str(&format_clock(iv.micros.unsigned_abs()));
    }
    out
}

/// PostgreSQL array text: `{a,b}`, elements double-quoted when needed.
fn array_text(items: &[Value], out: &mut String) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Array(inner) => array_text(inner, out),
            other => match text_cow(other) {
                None => out.push_str("NULL"),
                Some(text) => {
                    let needs_quotes = text.is_empty()
                        || text.eq_ignore_ascii_case("null")
                        || text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
                    if needs_quotes {
                        out.push('"');
                        for c in text.chars() {
                            if matches!(c, '"' | '\\') {
                                out.push('\\');
                            }
                            out.push(c);
                        }
                        out.push('"');
                    } else {
                        out.push_str(&text);
                    }
                }
            },
        }
    }
    out.push('}');
}

/// One element of a compiled LIKE pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Elem {
    Char(char),
    /// `_`
    One,
    /// `%`
    Any,
}

/// A compiled LIKE pattern: `%` any run of characters, `_` one character,
/// the escape character makes the next one literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LikePattern {
    elems: Vec<Elem>,
    fold_case: bool,
}

impl LikePattern {
    /// Compiles `pattern`; an escape character at the very end is an error.
    pub(crate) fn compile(pattern: &str, escape: Option<char>, fold_case: bool) -> Result<LikePattern, String> {
        let mut elems = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if Some(c) == escape {
                match chars.next() {
                    Some(next) => push_char(&mut elems, next, fold_case),
                    None => return Err("a LIKE pattern must not end with the escape character".into()),
                }
            } else if c == '%' {
                if elems.last() != Some(&Elem::Any) {
                    elems.push(Elem::Any);
                }
            } else if c == '_' {
                elems.push(Elem::One);
            } else {
                push_char(&mut elems, c, fold_case);
            }
        }
        Ok(LikePattern { elems, fold_case })
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        if self.fold_case { matches_elems(&self.elems, &text.to_lowercase()) } else { matches_elems(&self.elems, text) }
    }
}

fn push_char(elems: &mut Vec<Elem>, c: char, fold_case: bool) {
    if fold_case {
        elems.extend(c.to_lowercase().map(Elem::Char));
    } else {
        elems.push(Elem::Char(c));
    }
}

/// Greedy matching with backtracking to the last `%`: O(text × pattern) at worst.
fn matches_elems(elems: &[Elem], text: &str) -> bool {
    let bytes_at = |i: usize| text[i..].chars().next();
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let current = bytes_at(t);
        if p < elems.len() {
            match (&elems[p], current) {
                (Elem::Any, _) => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                (Elem::One, Some(c)) => {
                    t += c.len_utf8();
                    p += 1;
                    continue;
                }
                (Elem::Char(e), Some(c)) if *e == c => {
                    t += c.len_utf8();
                    p += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                let skipped = bytes_at(st).map_or(1, char::len_utf8);
                star = Some((sp, st + skipped));
                p = sp + 1;
                t = st + skipped;
            }
            None => return false,
        }
    }
    elems[p..].iter().all(|e| *e == Elem::Any)
}

/// Removes the characters of `set` from the chosen ends of `s`.
pub(crate) fn trim<'s>(s: &'s str, set: &str, leading: bool, trailing: bool) -> &'s str {
    let is_trimmed = |c: char| set.contains(c);
    let s = if leading { s.trim_start_matches(is_trimmed) } else { s };
    if trailing { s.trim_end_matches(is_trimmed) } else { s }
}

/// PostgreSQL's `substring(s FROM start FOR len)`: 1-based; a start before
/// 1 still counts toward the length; a negative length is an error.
pub(crate) fn substring(s: &str, start: i64, len: Option<i64>, what: &str) -> Result<String, EvalError> {
    let start = i128::from(start);
    let end = match len {
        Some(len) if len < 0 => return Err(EvalError::invalid(what, "the length must not be negative")),
        Some(len) => Some(start + i128::from(len)),
        None => None,
    };
    let from = start.max(1);
    Ok(s.chars()
        .enumerate()
        .filter(|(i, _)| {
            let pos = *i as i128 + 1;
            pos >= from && end.is_none_or(|end| pos < end)
        })
        .map(|(_, c)| c)
        .collect())
}

/// The most characters a padding function may produce.
pub(crate) const MAX_PAD: i64 = 10_000_000;

/// `lpad`/`rpad`: PostgreSQL semantics: the result has exactly `n`
/// characters: `s` cut to `n`, or padded with `fill` repeated (an empty
/// fill pads nothing).
pub(crate) fn pad(s: &str, n: i64, fill: &str, left: bool, what: &str) -> Result<String, EvalError> {
    if n > MAX_PAD {
        return Err(EvalError::invalid(what, format!("the length must not exceed {MAX_PAD}")));
    }
    let n = n.max(0) as usize;
    let len = s.chars().count();
    if len >= n {
        return Ok(s.chars().take(n).collect());
    }
    if fill.is_empty() {
        return Ok(s.to_owned());
    }
    let padding: String = fill.chars().cycle().take(n - len).collect();
    Ok(if left { padding + s } else { format!("{s}{padding}") })
}

/// `left(s, n)`: the first n characters; negative n: all but the last |n|.
pub(crate) fn left(s: &str, n: i64) -> String {
    let len = s.chars().count() as i64;
    let take = if n >= 0 { n.min(len) } else { (len + n).max(0) };
    s.chars().take(take as usize).collect()
}

/// `right(s, n)`: the last n characters; negative n: all but the first |n|.
pub(crate) fn right(s: &str, n: i64) -> String {
    let len = s.chars().count() as i64;
    let skip = if n >= 0 { (len - n).max(0) } else { n.unsigned_abs().min(len as u64) as i64 };
    s.chars().skip(skip as usize).collect()
}

/// `position(needle IN haystack)`: 1-based character position, 0 when absent.
pub(crate) fn position(needle: &str, haystack: &str) -> i64 {
    match haystack.find(needle) {
        Some(at) => haystack[..at].chars().count() as i64 + 1,
        None => 0,
    }
}
