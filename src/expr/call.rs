//! Function calls, dispatched on the [`Func`] resolved at parse time.
//!
//! NULL rules: `coalesce` returns its first non-NULL argument (later ones
//! are not evaluated); `concat` skips NULL arguments (PostgreSQL's concat;
//! MySQL's CONCAT would return NULL); `greatest`/`least` ignore NULLs and
//! are NULL only when every argument is (PostgreSQL); `nullif(a, b)` is
//! NULL when a = b; every other function is NULL when any argument is.
//!
//! Text functions take the canonical text of any value and count
//! characters, not bytes (except `octet_length`). Numeric functions are
//! exact on integers and decimals (see `numeric`).

use std::borrow::Cow;
use std::cmp::Ordering;

use sluice_api::{TimestampTz, Value};

use super::compare::{compare, equal};
use super::eval::{Out, null};
use super::numeric::{self, Arith, Num};
use super::text::{self, text_arg, text_cow};
use super::tree::{BoundNode, Func, TrimSide};
use super::{EvalContext, EvalError, temporal};

/// The most arguments of a function evaluated strictly (NULL in, NULL out).
const MAX_STRICT_ARGS: usize = 3;

pub(crate) fn call<'a>(func: Func, args: &'a [BoundNode], ctx: &EvalContext<'a>) -> Out<'a> {
    let what = func.name();
    match func {
        Func::Coalesce => {
            for arg in args {
                let v = arg.eval(ctx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Ok(null())
        }
        Func::Concat => {
            let mut out = String::new();
            for arg in args {
                if let Some(text) = text_cow(&*arg.eval(ctx)?) {
                    out.push_str(&text);
                }
            }
            Ok(Cow::Owned(Value::Text(out)))
        }
        Func::Greatest | Func::Least => {
            let wanted = if func == Func::Greatest { Ordering::Greater } else { Ordering::Less };
            let mut best: Option<Cow<'a, Value>> = None;
            for arg in args {
                let v = arg.eval(ctx)?;
                if v.is_null() {
                    continue;
                }
                best = Some(match best {
                    Some(b) if compare(&v, &b, what)? != Some(wanted) => b,
                    _ => v,
                });
            }
            Ok(best.unwrap_or_else(null))
        }
        Func::NullIf => {
            let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                return Err(arity(what));
            };
            let a = a.eval(ctx)?;
            let b = b.eval(ctx)?;
            if !a.is_null() && equal(&a, &b, what)? == Some(true) { Ok(null()) } else { Ok(a) }
        }
        Func::CommitTime => Ok(Cow::Owned(Value::TimestampTz(TimestampTz::Micros(ctx.commit_time_micros)))),
        Func::SourceName => Ok(Cow::Owned(Value::Text(ctx.source.to_owned()))),
        Func::SourceTable => Ok(Cow::Owned(Value::Text(ctx.table.to_owned()))),
        _ => strict(func, args, ctx),
    }
}

fn arity(what: &str) -> EvalError {
    EvalError::invalid(what, "internal: wrong number of arguments")
}

/// The functions that are NULL when any argument is NULL.
fn strict<'a>(func: Func, args: &'a [BoundNode], ctx: &EvalContext<'a>) -> Out<'a> {
    let what = func.name();
    if args.is_empty() || args.len() > MAX_STRICT_ARGS {
        return Err(arity(what));
    }
    let mut values: [Cow<'a, Value>; MAX_STRICT_ARGS] = [null(), null(), null()];
    for (slot, arg) in values.iter_mut().zip(args) {
        let v = arg.eval(ctx)?;
        if v.is_null() {
            return Ok(v);
        }
        *slot = v;
    }
    let given = args.len();
    let [v0, v1, v2] = values;
    let text = |v: &Value| text_arg(v, what).map(Cow::into_owned);
    let owned = |v: Value| Ok(Cow::Owned(v));
    match func {
        Func::Upper => owned(Value::Text(text_arg(&v0, what)?.to_uppercase())),
        Func::Lower => owned(Value::Text(text_arg(&v0, what)?.to_lowercase())),
        Func::Trim(side) => {
            let set = if given == 2 { text_arg(&v1, what)? } else { Cow::Borrowed(" ") };
            let s = text_arg(&v0, what)?;
            let trimmed = text::trim(&s, &set, side != TrimSide::Trailing, side != TrimSide::Leading);
            if trimmed.len() == s.len() && matches!(&*v0, Value::Text(_)) {
                drop(s);
                return Ok(v0);
            }
            owned(Value::Text(trimmed.to_owned()))
        }
        Func::Substring => {
            let start = int_arg(&v1, what, "the start")?;
            let length = if given == 3 { Some(int_arg(&v2, what, "the length")?) } else { None };
            owned(Value::Text(text::substring(&text_arg(&v0, what)?, start, length, what)?))
        }
        Func::Replace => {
            let (s, from, to) = (text_arg(&v0, what)?, text_arg(&v1, what)?, text_arg(&v2, what)?);
            if from.is_empty() {
                owned(Value::Text(s.into_owned()))
            } else {
                owned(Value::Text(s.replace(&*from, &to)))
            }
        }
        Func::Lpad | Func::Rpad => {
            let n = int_arg(&v1, what, "the length")?;
            let fill = if given == 3 { text_arg(&v2, what)? } else { Cow::Borrowed(" ") };
            owned(Value::Text(text::pad(&text_arg(&v0, what)?, n, &fill, func == Func::Lpad, what)?))
        }
        Func::Length => owned(Value::Int(match &*v0 {
            Value::Bytes(b) => b.len() as i64,
            other => text_arg(other, what)?.chars().count() as i64,
        })),
        Func::OctetLength => owned(Value::Int(match &*v0 {
            Value::Bytes(b) => b.len() as i64,
            other => text_arg(other, what)?.len() as i64,
        })),
        Func::Left => owned(Value::Text(text::left(&text(&v0)?, int_arg(&v1, what, "the length")?))),
        Func::Right => owned(Value::Text(text::right(&text(&v0)?, int_arg(&v1, what, "the length")?))),
        Func::Position => owned(Value::Int(text::position(&text_arg(&v0, what)?, &text_arg(&v1, what)?))),
        Func::Abs => numeric::abs(Num::from_value(&v0, what)?).into_value(is_unsigned(&v0)).map(Cow::Owned),
        Func::Round => {
            let digits = if given == 2 { int_arg(&v1, what, "the number of digits")? } else { 0 };
            numeric::round(Num::from_value(&v0, what)?, digits, what)?.into_value(is_unsigned(&v0)).map(Cow::Owned)
        }
        Func::Floor | Func::Ceil => numeric::floor_ceil(Num::from_value(&v0, what)?, func == Func::Ceil)
            .into_value(is_unsigned(&v0))
            .map(Cow::Owned),
        Func::Mod => numeric::arith(Arith::Mod, &v0, &v1, what).map(Cow::Owned),
        Func::DateTrunc(unit) => temporal::date_trunc(unit, &v0, what).map(Cow::Owned),
        Func::Extract(field) => temporal::extract(field, &v0, what).map(Cow::Owned),
        Func::Coalesce
        | Func::Concat
        | Func::Greatest
        | Func::Least
        | Func::NullIf
        | Func::CommitTime
        | Func::SourceName
        | Func::SourceTable => Err(arity(what)),
    }
}

fn is_unsigned(v: &Value) -> bool {
    matches!(v, Value::UInt(_))
}

/// An integer argument (a count, a position, a number of digits).
fn int_arg(v: &Value, what: &str, name: &str) -> Result<i64, EvalError> {
    let not_integer = || EvalError::invalid(what, format!("{name} must be an integer"));
    match v {
        Value::Int(i) => Ok(*i),
        other => {
            let n = Num::from_value(other, what).map_err(|_| not_integer())?;
            n.to_integer().and_then(|i| i64::try_from(i).ok()).ok_or_else(not_integer)
        }
    }
}
