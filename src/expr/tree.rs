//! Sluice's own expression tree, independent of sqlparser's AST. One
//! generic shape serves both stages: [`Parsed`] (column references by
//! name, maps by name) is what [`super::Expression`] holds and inspects;
//! [`BoundNode`] (column references as row indices, maps as shared
//! [`ValueMap`]s) is what [`super::Bound`] evaluates. Functions, operators
//! and cast targets are enums resolved at parse time, so evaluation never
//! looks a name up.

use std::fmt;
use std::sync::Arc;

use sluice_api::Value;

use super::text::LikePattern;
use super::{ColumnRef, Image, ValueMap};

/// The tree as parsed: names not resolved.
pub(crate) type Parsed = Node<ColumnRef, MapName>;
/// The tree bound to a source schema and the config's maps.
pub(crate) type BoundNode = Node<Slot, Arc<ValueMap>>;

/// A `map(name, …)` or `lookup(name, …)` as written.
#[derive(Clone, Debug)]
pub(crate) struct MapName {
    pub name: String,
    /// Written as `lookup(...)`: a crosswalk unless `name` is a map.
    pub via_lookup: bool,
    /// The key argument's SQL text (for [`super::Expression::as_lookup`]).
    pub key_text: String,
}

/// A bound column reference: which image, which cell.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub image: Image,
    pub index: usize,
    /// `name`, `before.name` or `after.name`, for error messages.
    pub display: Box<str>,
}

#[derive(Clone, Debug)]
pub(crate) enum Node<C, M> {
    Literal(Value),
    Column(C),
    /// Unary minus.
    Neg(Box<Self>),
    Not(Box<Self>),
    Binary(BinOp, Box<Self>, Box<Self>),
    /// `a AND b AND …`, flattened (a long chain is not a deep tree).
    And(Vec<Self>),
    Or(Vec<Self>),
    /// `x IS [NOT] NULL` (and `IS [NOT] UNKNOWN`).
    IsNull {
        arg: Box<Self>,
        negated: bool,
    },
    /// `x IS [NOT] TRUE|FALSE`.
    IsBool {
        arg: Box<Self>,
        value: bool,
        negated: bool,
    },
    In {
        arg: Box<Self>,
        list: Vec<Self>,
        negated: bool,
    },
    Between {
        arg: Box<Self>,
        low: Box<Self>,
        high: Box<Self>,
        negated: bool,
    },
    Like(Box<Like<Self>>),
    Case {
        operand: Option<Box<Self>>,
        whens: Vec<(Self, Self)>,
        otherwise: Option<Box<Self>>,
    },
    Cast(Box<Self>, CastType),
    Call(Func, Vec<Self>),
    /// `map(name, x)` or `lookup(name, x)`.
    Map(M, Box<Self>),
}

/// `x [NOT] [I]LIKE pattern [ESCAPE 'c']`.
#[derive(Clone, Debug)]
pub(crate) struct Like<N> {
    pub arg: N,
    pub pattern: N,
    /// `None` for `ESCAPE ''`; the default is backslash.
    pub escape: Option<char>,
    pub negated: bool,
    /// ILIKE.
    pub fold_case: bool,
    /// The pattern compiled at parse time when it is a literal.
    pub compiled: Option<Arc<LikePattern>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `IS DISTINCT FROM`.
    Distinct,
    /// `IS NOT DISTINCT FROM`, MySQL `<=>`.
    NotDistinct,
}

impl BinOp {
    /// How error messages name the operator.
    pub(crate) fn name(self) -> &'static str {
        match self {
            BinOp::Add => "operator +",
            BinOp::Sub => "operator -",
            BinOp::Mul => "operator *",
            BinOp::Div => "operator /",
            BinOp::Mod => "operator %",
            BinOp::Concat => "operator ||",
            BinOp::Eq => "operator =",
            BinOp::NotEq => "operator <>",
            BinOp::Lt => "operator <",
            BinOp::LtEq => "operator <=",
            BinOp::Gt => "operator >",
            BinOp::GtEq => "operator >=",
            BinOp::Distinct => "IS DISTINCT FROM",
            BinOp::NotDistinct => "IS NOT DISTINCT FROM",
        }
    }
}

/// Every function, resolved at parse time. Field arguments (`date_trunc`'s
/// unit, `extract`'s field, `trim`'s side) are part of the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Coalesce,
    NullIf,
    Greatest,
    Least,
    Upper,
    Lower,
    /// Args: the string, optionally the characters to remove.
    Trim(TrimSide),
    /// Args: string, start, optional length.
    Substring,
    Replace,
    Lpad,
    Rpad,
    Concat,
    Length,
    OctetLength,
    Left,
    Right,
    /// Args: needle, haystack (`position(needle IN haystack)`, `strpos(haystack, needle)` is reordered).
    Position,
    Abs,
    Round,
    Floor,
    Ceil,
    Mod,
    DateTrunc(TruncUnit),
    /// `extract(field FROM x)`, `date_part('field', x)`.
    Extract(Field),
    CommitTime,
    SourceName,
    SourceTable,
}

impl Func {
    /// How error messages name the function.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Func::Coalesce => "coalesce()",
            Func::NullIf => "nullif()",
            Func::Greatest => "greatest()",
            Func::Least => "least()",
            Func::Upper => "upper()",
            Func::Lower => "lower()",
            Func::Trim(TrimSide::Both) => "trim()",
            Func::Trim(TrimSide::Leading) => "ltrim()",
            Func::Trim(TrimSide::Trailing) => "rtrim()",
            Func::Substring => "substring()",
            Func::Replace => "replace()",
            Func::Lpad => "lpad()",
            Func::Rpad => "rpad()",
            Func::Concat => "concat()",
            Func::Length => "length()",
            Func::OctetLength => "octet_length()",
            Func::Left => "left()",
            Func::Right => "right()",
            Func::Position => "position()",
            Func::Abs => "abs()",
            Func::Round => "round()",
            Func::Floor => "floor()",
            Func::Ceil => "ceil()",
            Func::Mod => "mod()",
            Func::DateTrunc(_) => "date_trunc()",
            Func::Extract(_) => "extract()",
            Func::CommitTime => "commit_time()",
            Func::SourceName => "source_name()",
            Func::SourceTable => "source_table()",
        }
    }

    /// Whether the result depends on the change being processed other than
    /// through its arguments (so a call is never folded at parse time).
    pub(crate) fn reads_context(self) -> bool {
        matches!(self, Func::CommitTime | Func::SourceName | Func::SourceTable)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// `date_trunc` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TruncUnit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
}

/// `extract` / `date_part` fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Epoch,
    Dow,
    IsoDow,
    Doy,
}

/// CAST targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CastType {
    /// text, varchar(n), char(n): `max_chars` from the length.
    Text {
        max_chars: Option<u64>,
    },
    SmallInt,
    Integer,
    BigInt,
    /// MySQL `CAST(x AS UNSIGNED)`: 0..=18446744073709551615.
    Unsigned,
    /// numeric / decimal, with optional precision and scale.
    Numeric {
        precision: Option<u32>,
        scale: Option<u32>,
    },
    Real,
    Double,
    Boolean,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Json,
    Uuid,
}

impl fmt::Display for CastType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CastType::Text { max_chars: None } => f.write_str("text"),
            CastType::Text { max_chars: Some(n) } => write!(f, "varchar({n})"),
            CastType::SmallInt => f.write_str("smallint"),
            CastType::Integer => f.write_str("integer"),
            CastType::BigInt => f.write_str("bigint"),
            CastType::Unsigned => f.write_str("unsigned"),
            CastType::Numeric { precision: None, .. } => f.write_str("numeric"),
            CastType::Numeric { precision: Some(p), scale } => write!(f, "numeric({p},{})", scale.unwrap_or(0)),
            CastType::Real => f.write_str("real"),
            CastType::Double => f.write_str("double precision"),
            CastType::Boolean => f.write_str("boolean"),
            CastType::Date => f.write_str("date"),
            CastType::Time => f.write_str("time"),
            CastType::Timestamp => f.write_str("timestamp"),
            CastType::TimestampTz => f.write_str("timestamptz"),
            CastType::Json => f.write_str("json"),
            CastType::Uuid => f.write_str("uuid"),
        }
    }
}

impl<C, M> Node<C, M> {
    /// Visits every node, parents before children, children left to right.
    pub(crate) fn walk(&self, visit: &mut dyn FnMut(&Self)) {
        visit(self);
        self.for_each_child(&mut |child| child.walk(visit));
    }

    fn for_each_child<'s>(&'s self, f: &mut dyn FnMut(&'s Self)) {
        match self {
            Node::Literal(_) | Node::Column(_) => {}
            Node::Neg(a) | Node::Not(a) | Node::Cast(a, _) | Node::Map(_, a) => f(a),
            Node::IsNull { arg, .. } | Node::IsBool { arg, .. } => f(arg),
            Node::Binary(_, a, b) => {
                f(a);
                f(b);
            }
            Node::And(list) | Node::Or(list) | Node::Call(_, list) => list.iter().for_each(f),
            Node::In { arg, list, .. } => {
                f(arg);
                list.iter().for_each(f);
            }
            Node::Between { arg, low, high, .. } => {
                f(arg);
                f(low);
                f(high);
            }
            Node::Like(like) => {
                f(&like.arg);
                f(&like.pattern);
            }
            Node::Case { operand, whens, otherwise } => {
                if let Some(operand) = operand {
                    f(operand);
                }
                for (when, then) in whens {
                    f(when);
                    f(then);
                }
                if let Some(otherwise) = otherwise {
                    f(otherwise);
                }
            }
        }
    }

    /// Every direct child, mutably (constant folding).
    pub(crate) fn children_mut(&mut self) -> Vec<&mut Self> {
        match self {
            Node::Literal(_) | Node::Column(_) => Vec::new(),
            Node::Neg(a) | Node::Not(a) | Node::Cast(a, _) | Node::Map(_, a) => vec![a],
            Node::IsNull { arg, .. } | Node::IsBool { arg, .. } => vec![arg],
            Node::Binary(_, a, b) => vec![a, b],
            Node::And(list) | Node::Or(list) | Node::Call(_, list) => list.iter_mut().collect(),
            Node::In { arg, list, .. } => std::iter::once(&mut **arg).chain(list.iter_mut()).collect(),
            Node::Between { arg, low, high, .. } => vec![arg, low, high],
            Node::Like(like) => vec![&mut like.arg, &mut like.pattern],
            Node::Case { operand, whens, otherwise } => {
                let mut out: Vec<&mut Self> = Vec::new();
                if let Some(operand) = operand {
                    out.push(operand);
                }
                for (when, then) in whens {
                    out.push(when);
                    out.push(then);
                }
                if let Some(otherwise) = otherwise {
                    out.push(otherwise);
                }
                out
            }
        }
    }

    /// Whether the value depends on nothing but literals: no column, no
    /// map, no context function.
    pub(crate) fn is_constant(&self) -> bool {
        let mut constant = true;
        self.walk(&mut |node| match node {
            Node::Column(_) | Node::Map(..) => constant = false,
            Node::Call(func, _) if func.reads_context() => constant = false,
            _ => {}
        });
        constant
    }

    /// The same tree with column references and maps converted; the first
    /// error stops the conversion.
    pub(crate) fn try_convert<C2, M2, E>(
        &self,
        column: &mut dyn FnMut(&C) -> Result<C2, E>,
        map: &mut dyn FnMut(&M) -> Result<M2, E>,
    ) -> Result<Node<C2, M2>, E> {
        Ok(match self {
            Node::Literal(v) => Node::Literal(v.clone()),
            Node::Column(c) => Node::Column(column(c)?),
            Node::Neg(a) => Node::Neg(boxed(a, column, map)?),
            Node::Not(a) => Node::Not(boxed(a, column, map)?),
            Node::Binary(op, a, b) => Node::Binary(*op, boxed(a, column, map)?, boxed(b, column, map)?),
            Node::And(list) => Node::And(convert_list(list, column, map)?),
            Node::Or(list) => Node::Or(convert_list(list, column, map)?),
            Node::IsNull { arg, negated } => Node::IsNull { arg: boxed(arg, column, map)?, negated: *negated },
            Node::IsBool { arg, value, negated } => {
                Node::IsBool { arg: boxed(arg, column, map)?, value: *value, negated: *negated }
            }
            Node::In { arg, list, negated } => {
                Node::In { arg: boxed(arg, column, map)?, list: convert_list(list, column, map)?, negated: *negated }
            }
            Node::Between { arg, low, high, negated } => Node::Between {
                arg: boxed(arg, column, map)?,
                low: boxed(low, column, map)?,
                high: boxed(high, column, map)?,
                negated: *negated,
            },
            Node::Like(like) => Node::Like(Box::new(Like {
                arg: like.arg.try_convert(column, map)?,
                pattern: like.pattern.try_convert(column, map)?,
                escape: like.escape,
                negated: like.negated,
                fold_case: like.fold_case,
                compiled: like.compiled.clone(),
            })),
            Node::Case { operand, whens, otherwise } => Node::Case {
                operand: operand.as_deref().map(|o| boxed(o, column, map)).transpose()?,
                whens: whens
                    .iter()
                    .map(|(w, t)| Ok((w.try_convert(column, map)?, t.try_convert(column, map)?)))
                    .collect::<Result<_, E>>()?,
                otherwise: otherwise.as_deref().map(|o| boxed(o, column, map)).transpose()?,
            },
            Node::Cast(a, to) => Node::Cast(boxed(a, column, map)?, *to),
            Node::Call(func, args) => Node::Call(*func, convert_list(args, column, map)?),
            Node::Map(m, a) => {
                let m2 = map(m)?;
                Node::Map(m2, boxed(a, column, map)?)
            }
        })
    }
}

fn boxed<C, M, C2, M2, E>(
    node: &Node<C, M>,
    column: &mut dyn FnMut(&C) -> Result<C2, E>,
    map: &mut dyn FnMut(&M) -> Result<M2, E>,
) -> Result<Box<Node<C2, M2>>, E> {
    node.try_convert(column, map).map(Box::new)
}

fn convert_list<C, M, C2, M2, E>(
    list: &[Node<C, M>],
    column: &mut dyn FnMut(&C) -> Result<C2, E>,
    map: &mut dyn FnMut(&M) -> Result<M2, E>,
) -> Result<Vec<Node<C2, M2>>, E> {
    list.iter().map(|n| n.try_convert(column, map)).collect()
}
