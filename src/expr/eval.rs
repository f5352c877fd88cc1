//! Per-row evaluation of a bound tree. Values travel as `Cow<Value>`: a
//! column reference or a literal is borrowed (no copy of the cell), only
//! computed values are owned. NULL propagates as in SQL; AND/OR/NOT use
//! three-valued logic and short-circuit (`FALSE AND x` does not evaluate
//! `x`); CASE and coalesce evaluate only the branches they need.
//!
//! A cell the source did not capture ([`Value::Unchanged`]) is an error the
//! moment its value is needed, naming the column. Nothing here panics,
//! whatever the values.

use std::borrow::Cow;

use sluice_api::Value;

use super::compare::{compare, equal};
use super::numeric::{self, Arith};
use super::text::{LikePattern, text_arg};
use super::tree::{BinOp, BoundNode, Like, Node, Slot};
use super::{EvalContext, EvalError, Image, call, cast};

/// What evaluating a node gives.
pub(crate) type Out<'a> = Result<Cow<'a, Value>, EvalError>;

static NULL: Value = Value::Null;
static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);

pub(crate) fn null<'a>() -> Cow<'a, Value> {
    Cow::Borrowed(&NULL)
}

pub(crate) fn boolean<'a>(b: bool) -> Cow<'a, Value> {
    Cow::Borrowed(if b { &TRUE } else { &FALSE })
}

/// TRUE, FALSE or NULL.
fn tri<'a>(b: Option<bool>) -> Cow<'a, Value> {
    b.map_or_else(null, boolean)
}

/// A truth value: `None` for NULL; anything but a boolean is an error.
fn truth(value: &Value, what: &str) -> Result<Option<bool>, EvalError> {
    match value {
        Value::Bool(b) => Ok(Some(*b)),
        Value::Null => Ok(None),
        other => Err(EvalError::invalid(
            what,
            format!("the operand is not boolean (a {} value); compare it explicitly", other.kind_name()),
        )),
    }
}

impl BoundNode {
    /// One node. Each construct has its own small function: this one is on
    /// the recursion path, and a large frame here would limit the depth.
    pub(crate) fn eval<'a>(&'a self, ctx: &EvalContext<'a>) -> Out<'a> {
        match self {
            Node::Literal(v) => Ok(Cow::Borrowed(v)),
            Node::Column(slot) => column(slot, ctx),
            Node::Neg(a) => negate(a.eval(ctx)?),
            Node::Not(a) => not(&*a.eval(ctx)?),
            Node::Binary(op, a, b) => binary(*op, a, b, ctx),
            Node::And(list) => and(list, ctx),
            Node::Or(list) => or(list, ctx),
            Node::IsNull { arg, negated } => Ok(boolean(arg.eval(ctx)?.is_null() != *negated)),
            Node::IsBool { arg, value, negated } => is_bool(&*arg.eval(ctx)?, *value, *negated),
            Node::In { arg, list, negated } => in_list(arg, list, *negated, ctx),
            Node::Between { arg, low, high, negated } => between(arg, low, high, *negated, ctx),
            Node::Like(like) => eval_like(like, ctx),
            Node::Case { operand, whens, otherwise } => case(operand.as_deref(), whens, otherwise.as_deref(), ctx),
            Node::Cast(a, to) => cast::cast(a.eval(ctx)?, *to),
            Node::Call(func, args) => call::call(*func, args, ctx),
            Node::Map(map, a) => match a.eval(ctx)? {
                Cow::Borrowed(v) => map.lookup(v),
                Cow::Owned(v) => map.lookup(&v).map(|mapped| Cow::Owned(mapped.into_owned())),
            },
        }
    }
}

fn negate<'a>(v: Cow<'a, Value>) -> Out<'a> {
    if v.is_null() { Ok(v) } else { numeric::negate(&v, "unary -").map(Cow::Owned) }
}

fn not<'a>(v: &Value) -> Out<'a> {
    Ok(tri(truth(v, "NOT")?.map(|b| !b)))
}

fn is_bool<'a>(v: &Value, value: bool, negated: bool) -> Out<'a> {
    let what = if value { "IS TRUE" } else { "IS FALSE" };
    Ok(boolean((truth(v, what)? == Some(value)) != negated))
}

fn and<'a>(list: &'a [BoundNode], ctx: &EvalContext<'a>) -> Out<'a> {
    let mut unknown = false;
    for operand in list {
        match truth(&*operand.eval(ctx)?, "AND")? {
            Some(false) => return Ok(boolean(false)),
            None => unknown = true,
            Some(true) => {}
        }
    }
    Ok(if unknown { null() } else { boolean(true) })
}

fn or<'a>(list: &'a [BoundNode], ctx: &EvalContext<'a>) -> Out<'a> {
    let mut unknown = false;
    for operand in list {
        match truth(&*operand.eval(ctx)?, "OR")? {
            Some(true) => return Ok(boolean(true)),
            None => unknown = true,
            Some(false) => {}
        }
    }
    Ok(if unknown { null() } else { boolean(false) })
}

fn in_list<'a>(arg: &'a BoundNode, list: &'a [BoundNode], negated: bool, ctx: &EvalContext<'a>) -> Out<'a> {
    let x = arg.eval(ctx)?;
    if x.is_null() {
        return Ok(null());
    }
    let mut unknown = false;
    for item in list {
        match equal(&x, &*item.eval(ctx)?, "IN")? {
            Some(true) => return Ok(boolean(!negated)),
            Some(false) => {}
            None => unknown = true,
        }
    }
    Ok(if unknown { null() } else { boolean(negated) })
}

fn between<'a>(
    arg: &'a BoundNode,
    low: &'a BoundNode,
    high: &'a BoundNode,
    negated: bool,
    ctx: &EvalContext<'a>,
) -> Out<'a> {
    let x = arg.eval(ctx)?;
    let above = compare(&x, &*low.eval(ctx)?, "BETWEEN")?.map(|o| o.is_ge());
    let below = compare(&x, &*high.eval(ctx)?, "BETWEEN")?.map(|o| o.is_le());
    let inside = match (above, below) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    Ok(tri(inside.map(|b| b != negated)))
}

fn case<'a>(
    operand: Option<&'a BoundNode>,
    whens: &'a [(BoundNode, BoundNode)],
    otherwise: Option<&'a BoundNode>,
    ctx: &EvalContext<'a>,
) -> Out<'a> {
    match operand {
        Some(operand) => {
            let x = operand.eval(ctx)?;
            for (when, then) in whens {
                if equal(&x, &*when.eval(ctx)?, "CASE")? == Some(true) {
                    return then.eval(ctx);
                }
            }
        }
        None => {
            for (when, then) in whens {
                if truth(&*when.eval(ctx)?, "CASE WHEN")? == Some(true) {
                    return then.eval(ctx);
                }
            }
        }
    }
    match otherwise {
        Some(otherwise) => otherwise.eval(ctx),
        None => Ok(null()),
    }
}

fn column<'a>(slot: &'a Slot, ctx: &EvalContext<'a>) -> Out<'a> {
    let row = match slot.image {
        Image::Current => ctx.current,
        Image::Before => ctx.before,
        Image::After => ctx.after,
    };
    let Some(row) = row else {
        return Ok(null());
    };
    match row.get(slot.index) {
        Some(Value::Unchanged) => Err(EvalError::Uncaptured { column: slot.display.to_string() }),
        Some(v) => Ok(Cow::Borrowed(v)),
        None => Err(EvalError::invalid(
            format!("column {}", slot.display),
            "the row image has fewer columns than the schema the route was bound to",
        )),
    }
}

fn binary<'a>(op: BinOp, a: &'a BoundNode, b: &'a BoundNode, ctx: &EvalContext<'a>) -> Out<'a> {
    let (x, y) = (a.eval(ctx)?, b.eval(ctx)?);
    let arith = |op: Arith| numeric::arith(op, &x, &y, BinOp::name(binop_of(op))).map(Cow::Owned);
    match op {
        BinOp::Distinct | BinOp::NotDistinct => {
            let same = match (x.is_null(), y.is_null()) {
                (true, true) => true,
                (true, false) | (false, true) => false,
                (false, false) => equal(&x, &y, op.name())? == Some(true),
            };
            Ok(boolean(same == (op == BinOp::NotDistinct)))
        }
        _ if x.is_null() || y.is_null() => Ok(null()),
        BinOp::Add => arith(Arith::Add),
        BinOp::Sub => arith(Arith::Sub),
        BinOp::Mul => arith(Arith::Mul),
        BinOp::Div => arith(Arith::Div),
        BinOp::Mod => arith(Arith::Mod),
        BinOp::Concat => Ok(Cow::Owned(concat(&x, &y)?)),
        BinOp::Eq | BinOp::NotEq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
            let order = compare(&x, &y, op.name())?;
            Ok(tri(order.map(|o| match op {
                BinOp::Eq => o.is_eq(),
                BinOp::NotEq => o.is_ne(),
                BinOp::Lt => o.is_lt(),
                BinOp::LtEq => o.is_le(),
                BinOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            })))
        }
    }
}

fn binop_of(op: Arith) -> BinOp {
    match op {
        Arith::Add => BinOp::Add,
        Arith::Sub => BinOp::Sub,
        Arith::Mul => BinOp::Mul,
        Arith::Div => BinOp::Div,
        Arith::Mod => BinOp::Mod,
    }
}

/// `||`: bytes with bytes stay bytes; anything else joins canonical texts.
fn concat(x: &Value, y: &Value) -> Result<Value, EvalError> {
    if let (Value::Bytes(a), Value::Bytes(b)) = (x, y) {
        let mut out = Vec::with_capacity(a.len() + b.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b);
        return Ok(Value::Bytes(out));
    }
    let (a, b) = (text_arg(x, "operator ||")?, text_arg(y, "operator ||")?);
    let mut out = String::with_capacity(a.len() + b.len());
    out.push_str(&a);
    out.push_str(&b);
    Ok(Value::Text(out))
}

fn eval_like<'a>(like: &'a Like<BoundNode>, ctx: &EvalContext<'a>) -> Out<'a> {
    let what = if like.fold_case { "ILIKE" } else { "LIKE" };
    let v = like.arg.eval(ctx)?;
    if v.is_null() {
        return Ok(null());
    }
    let text = text_arg(&v, what)?;
    let matched = match &like.compiled {
        Some(pattern) => pattern.matches(&text),
        None => {
            let p = like.pattern.eval(ctx)?;
            if p.is_null() {
                return Ok(null());
            }
            LikePattern::compile(&text_arg(&p, what)?, like.escape, like.fold_case)
                .map_err(|reason| EvalError::invalid(what, reason))?
                .matches(&text)
        }
    };
    Ok(boolean(matched != like.negated))
}
