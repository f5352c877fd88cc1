//! From text to the tree: sqlparser (GenericDialect: `"quoted"` and
//! MySQL `` `backtick` `` identifiers, `'strings'`, `||`, `::` casts) reads
//! the text; this file converts its AST into [`Parsed`], refusing every
//! construct outside the language with a message naming it, resolving
//! functions through the catalogue (unknown names, wrong arity and
//! non-deterministic functions are errors here), folding constant
//! sub-expressions (`DATE '2024-01-02'`, `-5`, `1/3`) into literals and
//! compiling literal LIKE patterns.
//!
//! Config text never panics the parser, whatever it holds: the text is
//! limited to [`MAX_TEXT`] bytes (a left-deep chain such as `a+a+…` is
//! parsed without recursion by sqlparser but dropped recursively), the tree
//! to [`MAX_DEPTH`] levels (AND/OR chains are flattened and do not count).

use std::borrow::Cow;
use std::sync::Arc;

use sluice_api::Value;
use sqlparser::ast::{
    self as sql, BinaryOperator, CastKind, CeilFloorKind, CharacterLength, DataType, DateTimeField, ExactNumberInfo,
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart, TimezoneInfo, TrimWhereField,
    UnaryOperator,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::numeric::{self, Num};
use super::text::{LikePattern, text_cow};
use super::tree::{BinOp, BoundNode, CastType, Field, Func, Like, MapName, Node, Parsed, TrimSide, TruncUnit};
use super::{ColumnRef, EvalContext, ExprError, Image, cast, functions};

/// The longest expression text accepted, in bytes.
pub(crate) const MAX_TEXT: usize = 16 * 1024;
/// The deepest tree accepted.
pub(crate) const MAX_DEPTH: usize = 100;

fn invalid(message: impl Into<String>) -> ExprError {
    ExprError::Invalid(message.into())
}

/// Parses, converts, folds constants, compiles LIKE patterns.
pub(crate) fn parse(text: &str) -> Result<Parsed, ExprError> {
    if text.trim().is_empty() {
        return Err(invalid("the expression is empty"));
    }
    if text.len() > MAX_TEXT {
        return Err(invalid(format!(
            "the expression is longer than {MAX_TEXT} bytes; use a value map ([maps.NAME]) for long lists of values"
        )));
    }
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect).try_with_sql(text).map_err(syntax)?;
    let expr = parser.parse_expr().map_err(syntax)?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(invalid(format!(
            "syntax error: unexpected {} after the end of the expression (one expression, no `;`, no SELECT)",
            next.token
        )));
    }
    let mut node = Converter { depth: 0 }.expr(&expr)?;
    fold(&mut node);
    compile_patterns(&mut node)?;
    Ok(node)
}

fn syntax(error: ParserError) -> ExprError {
    match error {
        ParserError::RecursionLimitExceeded => invalid("the expression is nested too deeply"),
        ParserError::TokenizerError(message) | ParserError::ParserError(message) => {
            invalid(format!("syntax error: {message}"))
        }
    }
}

struct Converter {
    depth: usize,
}

impl Converter {
    fn expr(&mut self, e: &SqlExpr) -> Result<Parsed, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(format!("the expression is nested more than {MAX_DEPTH} levels deep")));
        }
        let out = self.convert(e);
        self.depth -= 1;
        out
    }

    fn boxed(&mut self, e: &SqlExpr) -> Result<Box<Parsed>, ExprError> {
        self.expr(e).map(Box::new)
    }

    fn list(&mut self, list: &[SqlExpr]) -> Result<Vec<Parsed>, ExprError> {
        list.iter().map(|e| self.expr(e)).collect()
    }

    /// One node. Every construct has its own small function: this one is
    /// on the recursion path, and a large frame here (debug builds keep a
    /// slot for every temporary of every arm) would limit the depth.
    fn convert(&mut self, e: &SqlExpr) -> Result<Parsed, ExprError> {
        match e {
            SqlExpr::Identifier(ident) => {
                Ok(Node::Column(ColumnRef { image: Image::Current, name: ident.value.clone() }))
            }
            SqlExpr::CompoundIdentifier(parts) => column(parts),
            SqlExpr::Nested(inner) => self.expr(inner),
            SqlExpr::Value(v) => literal(&v.value).map(Node::Literal),
            SqlExpr::TypedString(typed) => typed_string(typed),
            SqlExpr::UnaryOp { op, expr } => self.unary(op, expr),
            SqlExpr::BinaryOp { op: BinaryOperator::And, .. } => self.chain(e, &BinaryOperator::And).map(Node::And),
            SqlExpr::BinaryOp { op: BinaryOperator::Or, .. } => self.chain(e, &BinaryOperator::Or).map(Node::Or),
            SqlExpr::BinaryOp { left, op, right } => self.binary(left, op, right),
            SqlExpr::IsNull(_)
            | SqlExpr::IsUnknown(_)
            | SqlExpr::IsNotNull(_)
            | SqlExpr::IsNotUnknown(_)
            | SqlExpr::IsTrue(_)
            | SqlExpr::IsNotTrue(_)
            | SqlExpr::IsFalse(_)
            | SqlExpr::IsNotFalse(_)
            | SqlExpr::IsDistinctFrom(..)
            | SqlExpr::IsNotDistinctFrom(..) => self.is(e),
            SqlExpr::In { expr, target: sql::InTarget::List(list), negated, global: false } => {
                self.in_list(expr, list, *negated)
            }
            SqlExpr::In { .. } => Err(invalid("IN takes a list of values: `x IN (1, 2, 3)`")),
            SqlExpr::Between { expr, negated, low, high } => self.between(expr, low, high, *negated),
            SqlExpr::Like { negated, any: false, expr, pattern, escape_char } => {
                self.like(expr, pattern, escape_char.as_deref(), *negated, false)
            }
            SqlExpr::ILike { negated, any: false, expr, pattern, escape_char } => {
                self.like(expr, pattern, escape_char.as_deref(), *negated, true)
            }
            SqlExpr::Case { operand, conditions, else_result, .. } => {
                self.case(operand.as_deref(), conditions, else_result.as_deref())
            }
            SqlExpr::Cast { kind: CastKind::Cast | CastKind::DoubleColon, expr, data_type, format: None } => {
                self.cast(expr, data_type)
            }
            SqlExpr::Cast { .. } => {
                Err(invalid("only CAST(x AS type) and x::type are supported (no TRY_CAST, no FORMAT)"))
            }
            SqlExpr::Extract { .. }
            | SqlExpr::Ceil { .. }
            | SqlExpr::Floor { .. }
            | SqlExpr::Position { .. }
            | SqlExpr::Substring { .. }
            | SqlExpr::Trim { .. } => self.function_syntax(e),
            SqlExpr::Function(function) => self.function(function),
            SqlExpr::Subquery(_) | SqlExpr::Exists { .. } => {
                Err(invalid("subqueries are not supported: an expression reads one row"))
            }
            other => Err(unsupported(other)),
        }
    }

    fn unary(&mut self, op: &UnaryOperator, expr: &SqlExpr) -> Result<Parsed, ExprError> {
        match op {
            UnaryOperator::Minus => Ok(Node::Neg(self.boxed(expr)?)),
            UnaryOperator::Plus => self.expr(expr),
            UnaryOperator::Not => Ok(Node::Not(self.boxed(expr)?)),
            other => Err(invalid(format!("the operator {other} is not supported"))),
        }
    }

    fn binary(&mut self, left: &SqlExpr, op: &BinaryOperator, right: &SqlExpr) -> Result<Parsed, ExprError> {
        let op = match op {
            BinaryOperator::Plus => BinOp::Add,
            BinaryOperator::Minus => BinOp::Sub,
            BinaryOperator::Multiply => BinOp::Mul,
            BinaryOperator::Divide => BinOp::Div,
            BinaryOperator::Modulo => BinOp::Mod,
            BinaryOperator::StringConcat => BinOp::Concat,
            BinaryOperator::Eq => BinOp::Eq,
            BinaryOperator::NotEq => BinOp::NotEq,
            BinaryOperator::Lt => BinOp::Lt,
            BinaryOperator::LtEq => BinOp::LtEq,
            BinaryOperator::Gt => BinOp::Gt,
            BinaryOperator::GtEq => BinOp::GtEq,
            BinaryOperator::Spaceship => BinOp::NotDistinct,
            other => return Err(invalid(format!("the operator {other} is not supported"))),
        };
        Ok(Node::Binary(op, self.boxed(left)?, self.boxed(right)?))
    }

    /// `IS [NOT] NULL|UNKNOWN|TRUE|FALSE`, `IS [NOT] DISTINCT FROM`.
    fn is(&mut self, e: &SqlExpr) -> Result<Parsed, ExprError> {
        let is_bool = |arg, value, negated| Node::IsBool { arg, value, negated };
        Ok(match e {
            SqlExpr::IsNull(x) | SqlExpr::IsUnknown(x) => Node::IsNull { arg: self.boxed(x)?, negated: false },
            SqlExpr::IsNotNull(x) | SqlExpr::IsNotUnknown(x) => Node::IsNull { arg: self.boxed(x)?, negated: true },
            SqlExpr::IsTrue(x) => is_bool(self.boxed(x)?, true, false),
            SqlExpr::IsNotTrue(x) => is_bool(self.boxed(x)?, true, true),
            SqlExpr::IsFalse(x) => is_bool(self.boxed(x)?, false, false),
            SqlExpr::IsNotFalse(x) => is_bool(self.boxed(x)?, false, true),
            SqlExpr::IsDistinctFrom(a, b) => Node::Binary(BinOp::Distinct, self.boxed(a)?, self.boxed(b)?),
            SqlExpr::IsNotDistinctFrom(a, b) => Node::Binary(BinOp::NotDistinct, self.boxed(a)?, self.boxed(b)?),
            other => return Err(unsupported(other)),
        })
    }

    fn in_list(&mut self, expr: &SqlExpr, list: &[SqlExpr], negated: bool) -> Result<Parsed, ExprError> {
        Ok(Node::In { arg: self.boxed(expr)?, list: self.list(list)?, negated })
    }

    fn between(&mut self, expr: &SqlExpr, low: &SqlExpr, high: &SqlExpr, negated: bool) -> Result<Parsed, ExprError> {
        Ok(Node::Between { arg: self.boxed(expr)?, low: self.boxed(low)?, high: self.boxed(high)?, negated })
    }

    fn case(
        &mut self,
        operand: Option<&SqlExpr>,
        conditions: &[sql::CaseWhen],
        else_result: Option<&SqlExpr>,
    ) -> Result<Parsed, ExprError> {
        let operand = operand.map(|o| self.boxed(o)).transpose()?;
        let mut whens = Vec::with_capacity(conditions.len());
        for when in conditions {
            whens.push((self.expr(&when.condition)?, self.expr(&when.result)?));
        }
        let otherwise = else_result.map(|o| self.boxed(o)).transpose()?;
        Ok(Node::Case { operand, whens, otherwise })
    }

    fn cast(&mut self, expr: &SqlExpr, data_type: &DataType) -> Result<Parsed, ExprError> {
        let to = cast_type(data_type)?;
        Ok(Node::Cast(self.boxed(expr)?, to))
    }

    /// Functions sqlparser gives syntax of their own.
    fn function_syntax(&mut self, e: &SqlExpr) -> Result<Parsed, ExprError> {
        match e {
            SqlExpr::Extract { field, expr, .. } => {
                let field = extract_field(field)?;
                Ok(Node::Call(Func::Extract(field), vec![self.expr(expr)?]))
            }
            SqlExpr::Ceil { expr, field } | SqlExpr::Floor { expr, field } => {
                let func = if matches!(e, SqlExpr::Ceil { .. }) { Func::Ceil } else { Func::Floor };
                if !matches!(field, CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)) {
                    return Err(invalid(format!("{} takes one argument", func.name())));
                }
                Ok(Node::Call(func, vec![self.expr(expr)?]))
            }
            SqlExpr::Position { expr, r#in } => {
                Ok(Node::Call(Func::Position, vec![self.expr(expr)?, self.expr(r#in)?]))
            }
            SqlExpr::Substring { expr, substring_from, substring_for, .. } => {
                let Some(from) = substring_from else {
                    return Err(invalid("substring() takes a start position: substring(s, start[, length])"));
                };
                let mut args = vec![self.expr(expr)?, self.expr(from)?];
                if let Some(length) = substring_for {
                    args.push(self.expr(length)?);
                }
                Ok(Node::Call(Func::Substring, args))
            }
            SqlExpr::Trim { trim_where, trim_what, expr, trim_characters } => {
                let side = match trim_where {
                    None | Some(TrimWhereField::Both) => TrimSide::Both,
                    Some(TrimWhereField::Leading) => TrimSide::Leading,
                    Some(TrimWhereField::Trailing) => TrimSide::Trailing,
                };
                let mut args = vec![self.expr(expr)?];
                match (trim_what, trim_characters.as_deref()) {
                    (Some(what), None) => args.push(self.expr(what)?),
                    (None, Some([chars])) => args.push(self.expr(chars)?),
                    (None, None | Some([])) => {}
                    _ => return Err(invalid("trim() takes one set of characters to remove")),
                }
                Ok(Node::Call(Func::Trim(side), args))
            }
            other => Err(unsupported(other)),
        }
    }

    /// `a AND b AND c` (left-deep in sqlparser's tree) as one list, without recursion.
    fn chain(&mut self, e: &SqlExpr, op: &BinaryOperator) -> Result<Vec<Parsed>, ExprError> {
        let mut operands = Vec::new();
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            match x {
                SqlExpr::BinaryOp { left, op: o, right } if o == op => {
                    stack.push(right);
                    stack.push(left);
                }
                other => operands.push(self.expr(other)?),
            }
        }
        Ok(operands)
    }

    fn like(
        &mut self,
        expr: &SqlExpr,
        pattern: &SqlExpr,
        escape: Option<&SqlExpr>,
        negated: bool,
        fold_case: bool,
    ) -> Result<Parsed, ExprError> {
        let escape = match escape {
            None => Some('\\'),
            Some(e) => {
                let text = string_literal(e).ok_or_else(|| invalid("ESCAPE takes a quoted character: ESCAPE '!'"))?;
                let mut chars = text.chars();
                match (chars.next(), chars.next()) {
                    (None, _) => None,
                    (Some(c), None) => Some(c),
                    _ => return Err(invalid("ESCAPE takes a single character")),
                }
            }
        };
        Ok(Node::Like(Box::new(Like {
            arg: self.expr(expr)?,
            pattern: self.expr(pattern)?,
            escape,
            negated,
            fold_case,
            compiled: None,
        })))
    }

    fn function(&mut self, f: &sql::Function) -> Result<Parsed, ExprError> {
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(ident)] => ident.value.to_lowercase(),
            _ => {
                return Err(invalid(format!(
                    "the function name {} is not supported (no schema-qualified names)",
                    f.name
                )));
            }
        };
        if functions::is_non_deterministic(&name) {
            return Err(ExprError::NonDeterministic { name });
        }
        let catalogued = functions::lookup(&name);
        if catalogued.is_none() && !matches!(name.as_str(), "map" | "lookup" | "date_trunc" | "date_part") {
            return Err(ExprError::UnknownFunction { name, known: functions::known() });
        }
        if f.over.is_some()
            || f.filter.is_some()
            || !f.within_group.is_empty()
            || f.null_treatment.is_some()
            || !matches!(f.parameters, FunctionArguments::None)
        {
            return Err(invalid(format!("{name}(): window and aggregate syntax is not supported")));
        }
        let args: Vec<&SqlExpr> = match &f.args {
            FunctionArguments::None => Vec::new(),
            FunctionArguments::Subquery(_) => {
                return Err(invalid("subqueries are not supported: an expression reads one row"));
            }
            FunctionArguments::List(list) => {
                if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                    return Err(invalid(format!("{name}(): DISTINCT, ORDER BY and other clauses are not supported")));
                }
                list.args
                    .iter()
                    .map(|arg| match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                        _ => Err(invalid(format!("{name}(): only plain arguments are supported (no names, no *)"))),
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let arity = |min: usize, max: Option<usize>| {
            if args.len() < min || max.is_some_and(|max| args.len() > max) {
                Err(ExprError::Arity {
                    name: name.clone(),
                    expected: functions::describe_arity(min, max),
                    given: args.len(),
                })
            } else {
                Ok(())
            }
        };
        match name.as_str() {
            "map" | "lookup" => {
                arity(2, Some(2))?;
                let map_name = match args[0] {
                    SqlExpr::Identifier(ident) => ident.value.clone(),
                    other => string_literal(other).ok_or_else(|| {
                        invalid(format!("{name}(): the first argument is a map name: {name}(order_status, x)"))
                    })?,
                };
                let key = self.boxed(args[1])?;
                let key_text = args[1].to_string();
                Ok(Node::Map(MapName { name: map_name, via_lookup: name == "lookup", key_text }, key))
            }
            "date_trunc" => {
                arity(2, Some(2))?;
                let unit = string_literal(args[0]).and_then(|u| trunc_unit(&u)).ok_or_else(|| {
                    invalid(
                        "date_trunc(): the first argument is a quoted unit: \
                         'year', 'quarter', 'month', 'week', 'day', 'hour', 'minute' or 'second'",
                    )
                })?;
                Ok(Node::Call(Func::DateTrunc(unit), vec![self.expr(args[1])?]))
            }
            "date_part" => {
                arity(2, Some(2))?;
                let field = string_literal(args[0])
                    .ok_or_else(|| invalid("date_part(): the first argument is a quoted field: date_part('year', x)"))
                    .and_then(|f| field_by_name(&f))?;
                Ok(Node::Call(Func::Extract(field), vec![self.expr(args[1])?]))
            }
            _ => {
                let Some((func, min, max)) = catalogued else {
                    return Err(ExprError::UnknownFunction { name, known: functions::known() });
                };
                arity(min, max)?;
                let mut converted = args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
                if name == "strpos" {
                    // strpos(haystack, needle) = position(needle IN haystack)
                    converted.swap(0, 1);
                }
                Ok(Node::Call(func, converted))
            }
        }
    }
}

fn unsupported(e: &SqlExpr) -> ExprError {
    invalid(format!("`{e}` is not supported in Sluice expressions"))
}

/// `DATE '2024-01-02'`, `TIMESTAMP '…'`: cast at parse time; a text that
/// does not fit the type is a parse error.
fn typed_string(typed: &sql::TypedString) -> Result<Parsed, ExprError> {
    let to = cast_type(&typed.data_type)?;
    let text = typed.value.value.clone().into_string().ok_or_else(|| {
        invalid(format!("`{}` is not supported: a typed literal takes a quoted string", typed.data_type))
    })?;
    let value = cast::cast(Cow::Owned(Value::Text(text)), to)
        .map_err(|e| invalid(format!("invalid {} literal: {}", typed.data_type, reason(e))))?;
    Ok(Node::Literal(value.into_owned()))
}

/// The reason of an evaluation error (without the `what` prefix).
fn reason(error: super::EvalError) -> String {
    match error {
        super::EvalError::Invalid { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// `before.col`, `after.col`.
fn column(parts: &[sql::Ident]) -> Result<Parsed, ExprError> {
    let [qualifier, name] = parts else {
        return Err(invalid(format!(
            "{} is not a column reference: write column, before.column or after.column",
            parts.iter().map(|p| p.value.as_str()).collect::<Vec<_>>().join(".")
        )));
    };
    let image = match qualifier.value.to_ascii_lowercase().as_str() {
        "before" => Image::Before,
        "after" => Image::After,
        _ => {
            return Err(invalid(format!(
                "unknown qualifier {} in {}.{}: write before.{} or after.{} (or {} for the current image)",
                qualifier.value, qualifier.value, name.value, name.value, name.value, name.value
            )));
        }
    };
    Ok(Node::Column(ColumnRef { image, name: name.value.clone() }))
}

/// A quoted string literal's text.
fn string_literal(e: &SqlExpr) -> Option<String> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            sql::Value::Null | sql::Value::Boolean(_) | sql::Value::Number(..) | sql::Value::Placeholder(_) => None,
            sql::Value::HexStringLiteral(_) => None,
            other => other.clone().into_string(),
        },
        SqlExpr::Nested(inner) => string_literal(inner),
        _ => None,
    }
}

fn literal(v: &sql::Value) -> Result<Value, ExprError> {
    Ok(match v {
        sql::Value::Null => Value::Null,
        sql::Value::Boolean(b) => Value::Bool(*b),
        sql::Value::Number(text, _) => number_literal(text)?,
        sql::Value::HexStringLiteral(hex) => {
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| invalid("a hex literal X'…' takes an even number of hex digits"))?;
            Value::Bytes(bytes)
        }
        sql::Value::Placeholder(p) => return Err(invalid(format!("placeholders ({p}) are not supported"))),
        other => Value::Text(
            other.clone().into_string().ok_or_else(|| invalid(format!("the literal {other} is not supported")))?,
        ),
    })
}

/// An integer literal is an Int (a UInt or an exact Decimal when it does
/// not fit); one with a point or an exponent is an exact Decimal.
fn number_literal(text: &str) -> Result<Value, ExprError> {
    let bad = || invalid(format!("the number {text} is not valid"));
    match numeric::parse_number(text, false).ok_or_else(bad)? {
        Num::Int(i) => {
            if let Ok(v) = i64::try_from(i) {
                Ok(Value::Int(v))
            } else if let Ok(v) = u64::try_from(i) {
                Ok(Value::UInt(v))
            } else {
                numeric::decimal_value(&i.to_string()).map_err(|_| bad())
            }
        }
        n => numeric::decimal_value(&numeric::num_text(&n)).map_err(|_| bad()),
    }
}

fn trunc_unit(name: &str) -> Option<TruncUnit> {
    Some(match name.to_ascii_lowercase().as_str() {
        "year" | "years" => TruncUnit::Year,
        "quarter" => TruncUnit::Quarter,
        "month" | "months" => TruncUnit::Month,
        "week" | "weeks" => TruncUnit::Week,
        "day" | "days" => TruncUnit::Day,
        "hour" | "hours" => TruncUnit::Hour,
        "minute" | "minutes" => TruncUnit::Minute,
        "second" | "seconds" => TruncUnit::Second,
        _ => return None,
    })
}

const FIELDS: &str = "year, quarter, month, week, day, hour, minute, second, epoch, dow, isodow, doy";

fn field_by_name(name: &str) -> Result<Field, ExprError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "year" | "years" => Field::Year,
        "quarter" => Field::Quarter,
        "month" | "months" => Field::Month,
        "week" | "weeks" => Field::Week,
        "day" | "days" => Field::Day,
        "hour" | "hours" => Field::Hour,
        "minute" | "minutes" => Field::Minute,
        "second" | "seconds" => Field::Second,
        "epoch" => Field::Epoch,
        "dow" | "dayofweek" => Field::Dow,
        "isodow" => Field::IsoDow,
        "doy" | "dayofyear" => Field::Doy,
        other => return Err(invalid(format!("unknown date/time field {other}; the fields are: {FIELDS}"))),
    })
}

fn extract_field(field: &DateTimeField) -> Result<Field, ExprError> {
    Ok(match field {
        DateTimeField::Year | DateTimeField::Years => Field::Year,
        DateTimeField::Quarter => Field::Quarter,
        DateTimeField::Month | DateTimeField::Months => Field::Month,
        DateTimeField::Week(None) | DateTimeField::Weeks | DateTimeField::IsoWeek => Field::Week,
        DateTimeField::Day | DateTimeField::Days => Field::Day,
        DateTimeField::Hour | DateTimeField::Hours => Field::Hour,
        DateTimeField::Minute | DateTimeField::Minutes => Field::Minute,
        DateTimeField::Second | DateTimeField::Seconds => Field::Second,
        DateTimeField::Epoch => Field::Epoch,
        DateTimeField::Dow | DateTimeField::DayOfWeek => Field::Dow,
        DateTimeField::Isodow => Field::IsoDow,
        DateTimeField::Doy | DateTimeField::DayOfYear => Field::Doy,
        DateTimeField::Custom(ident) => field_by_name(&ident.value)?,
        other => return Err(invalid(format!("unknown date/time field {other}; the fields are: {FIELDS}"))),
    })
}

const TYPES: &str = "text, varchar(n), char(n), smallint, integer, bigint, signed, unsigned, numeric[(p[,s])], \
                     decimal[(p[,s])], real, double precision, boolean, date, time, timestamp, timestamptz, json, uuid";

fn cast_type(data_type: &DataType) -> Result<CastType, ExprError> {
    let unsupported = || invalid(format!("CAST to {data_type} is not supported; the types are: {TYPES}"));
    let length = |len: &Option<CharacterLength>| match len {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
        Some(CharacterLength::Max) | None => None,
    };
    Ok(match data_type {
        DataType::Text | DataType::String(None) => CastType::Text { max_chars: None },
        DataType::Varchar(len)
        | DataType::CharacterVarying(len)
        | DataType::CharVarying(len)
        | DataType::Nvarchar(len)
        | DataType::Char(len)
        | DataType::Character(len) => CastType::Text { max_chars: length(len) },
        DataType::SmallInt(_) | DataType::Int2(_) => CastType::SmallInt,
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => CastType::Integer,
        DataType::BigInt(_) | DataType::Int8(_) | DataType::Signed | DataType::SignedInteger => CastType::BigInt,
        DataType::Unsigned | DataType::UnsignedInteger | DataType::BigIntUnsigned(_) => CastType::Unsigned,
        DataType::Numeric(info) | DataType::Decimal(info) | DataType::Dec(info) => {
            let (precision, scale) = match info {
                ExactNumberInfo::None => (None, None),
                ExactNumberInfo::Precision(p) => (Some(*p), Some(0)),
                ExactNumberInfo::PrecisionAndScale(p, s) => (Some(*p), Some(*s)),
            };
            if let Some(p) = precision
                && !(1..=1000).contains(&p)
            {
                return Err(invalid(format!("{data_type}: the precision must be between 1 and 1000")));
            }
            if let (Some(p), Some(s)) = (precision, scale)
                && (s < 0 || s as u64 > p)
            {
                return Err(invalid(format!("{data_type}: the scale must be between 0 and the precision")));
            }
            CastType::Numeric { precision: precision.map(|p| p as u32), scale: scale.map(|s| s as u32) }
        }
        DataType::Real | DataType::Float4 => CastType::Real,
        DataType::Float8 | DataType::DoublePrecision | DataType::Double(ExactNumberInfo::None) => CastType::Double,
        DataType::Float(ExactNumberInfo::None) => CastType::Double,
        DataType::Float(ExactNumberInfo::Precision(p)) if (1..=24).contains(p) => CastType::Real,
        DataType::Float(ExactNumberInfo::Precision(p)) if (25..=53).contains(p) => CastType::Double,
        DataType::Bool | DataType::Boolean => CastType::Boolean,
        DataType::Date => CastType::Date,
        DataType::Time(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) => CastType::Time,
        DataType::Timestamp(_, TimezoneInfo::None | TimezoneInfo::WithoutTimeZone) | DataType::Datetime(_) => {
            CastType::Timestamp
        }
        DataType::Timestamp(_, TimezoneInfo::WithTimeZone | TimezoneInfo::Tz) => CastType::TimestampTz,
        DataType::JSON | DataType::JSONB => CastType::Json,
        DataType::Uuid => CastType::Uuid,
        DataType::Custom(name, modifiers) if modifiers.is_empty() => {
            match name.to_string().to_ascii_lowercase().as_str() {
                "timestamptz" => CastType::TimestampTz,
                "int" | "int4" => CastType::Integer,
                "int2" => CastType::SmallInt,
                "int8" => CastType::BigInt,
                "float4" => CastType::Real,
                "float8" => CastType::Double,
                "bool" => CastType::Boolean,
                _ => return Err(unsupported()),
            }
        }
        _ => return Err(unsupported()),
    })
}

/// Replaces every constant sub-tree that evaluates without error by its
/// value (one that fails is left to fail per row, where it may never run:
/// `CASE WHEN x > 0 THEN 1/0 END`).
fn fold(node: &mut Parsed) {
    if !matches!(node, Node::Literal(_))
        && node.is_constant()
        && let Some(value) = eval_constant(node)
    {
        *node = Node::Literal(value);
        return;
    }
    for child in node.children_mut() {
        fold(child);
    }
}

fn eval_constant(node: &Parsed) -> Option<Value> {
    let bound: BoundNode = node.try_convert(&mut |_| Err(()), &mut |_| Err(())).ok()?;
    let context =
        EvalContext { current: None, before: None, after: None, commit_time_micros: 0, source: "", table: "" };
    bound.eval(&context).ok().map(Cow::into_owned)
}

/// Compiles every LIKE pattern that is a literal.
fn compile_patterns(node: &mut Parsed) -> Result<(), ExprError> {
    if let Node::Like(like) = node
        && let Node::Literal(pattern) = &like.pattern
        && let Some(text) = text_cow(pattern)
    {
        let compiled = LikePattern::compile(&text, like.escape, like.fold_case).map_err(invalid)?;
        like.compiled = Some(Arc::new(compiled));
    }
    for child in node.children_mut() {
        compile_patterns(child)?;
    }
    Ok(())
}
