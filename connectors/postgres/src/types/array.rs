//! PostgreSQL array literals: `{1,2,NULL}`, `{"a \"b\"","c,d"}`,
//! `{{1,2},{3,4}}`.
//!
//! The grammar `array_in` reads and `array_out` prints: braces around
//! elements separated by the element type's delimiter (`,` for every type
//! except `box`, which uses `;`); an element is a nested `{…}`, a quoted
//! string (`"` … `"`, with `\` escaping the next character), or an unquoted
//! string (surrounding whitespace dropped, `\` escapes allowed) where a bare
//! `NULL` (any case) is SQL NULL and a quoted `"NULL"` is the text. Arrays
//! have at most 6 dimensions (`MAXDIM`), and sub-arrays never mix with
//! scalars.
//!
//! Lower bounds: `array_out` prefixes the literal with a dimension
//! decoration (`[0:1]={7,8}`) when a lower bound is not 1. The value model
//! has no place for bounds, so such a value is kept whole as
//! [`Value::Raw`](sluice_api::Value::Raw): exact into a PostgreSQL target
//! (through the array type's input function), refused by any other sink.
//!
//! Writing: an element is quoted when `array_out` would quote it (empty,
//! `NULL` in any case, or containing `{`, `}`, `"`, `\`, the delimiter or
//! whitespace), escaping `"` and `\`. An empty sub-array (`{{}}`) reads back
//! as the empty array `{}`, as in PostgreSQL.

use super::TypeError;

/// PostgreSQL's `MAXDIM`.
const MAX_DIMENSIONS: usize = 6;

/// One element of a parsed literal, before its text is decoded.
#[derive(Debug, PartialEq)]
pub(super) enum Element {
    Null,
    Text(String),
    Nested(Vec<Element>),
}

/// Parses an array literal; `Ok(None)` when it carries a dimension
/// decoration (non-default lower bounds), which the caller keeps as raw text.
pub(super) fn parse(text: &str, delimiter: u8) -> Result<Option<Vec<Element>>, TypeError> {
    let bytes = text.as_bytes();
    let mut parser = Parser { bytes, at: 0, delimiter };
    parser.skip_whitespace();
    if parser.peek() == Some(b'[') {
        return Ok(None);
    }
    let elements = parser.array(1)?;
    parser.skip_whitespace();
    if parser.at != bytes.len() {
        return Err(TypeError::new("array literal has text after its closing brace"));
    }
    Ok(Some(elements))
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    delimiter: u8,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(is_array_space) {
            self.at += 1;
        }
    }

    /// `{ element (delim element)* }` or `{}`; the opening brace is next.
    fn array(&mut self, depth: usize) -> Result<Vec<Element>, TypeError> {
        if depth > MAX_DIMENSIONS {
            return Err(TypeError::new("array literal has more than 6 dimensions"));
        }
        if self.peek() != Some(b'{') {
            return Err(TypeError::new("array literal does not start with {"));
        }
        self.at += 1;
        let mut elements = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(elements);
        }
        loop {
            self.skip_whitespace();
            let element = match self.peek() {
                Some(b'{') => Element::Nested(self.array(depth + 1)?),
                Some(b'"') => Element::Text(self.quoted()?),
                _ => self.unquoted()?,
            };
            elements.push(element);
            self.skip_whitespace();
            match self.peek() {
                Some(b'}') => {
                    self.at += 1;
                    break;
                }
                Some(b) if b == self.delimiter => self.at += 1,
                _ => return Err(TypeError::new("array literal has an unexpected character between elements")),
            }
        }
        let nested = elements.iter().filter(|e| matches!(e, Element::Nested(_))).count();
        if nested != 0 && nested != elements.len() {
            return Err(TypeError::new("array literal mixes sub-arrays and elements"));
        }
        Ok(elements)
    }

    /// `"…"` with `\` escapes; the opening quote is next.
    fn quoted(&mut self) -> Result<String, TypeError> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(TypeError::new("array literal ends inside a quoted element")),
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => {
                    let escaped = self.bytes.get(self.at + 1).copied();
                    out.push(escaped.ok_or_else(|| TypeError::new("array literal ends inside an escape"))?);
                    self.at += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
        into_string(out)
    }

    /// Text up to the delimiter or `}`; trailing whitespace that was not
    /// escaped is dropped.
    fn unquoted(&mut self) -> Result<Element, TypeError> {
        let mut out = Vec::new();
        let mut escaped_any = false;
        let mut keep = 0; // length of `out` up to its last escaped or non-space byte
        loop {
            match self.peek() {
                None => return Err(TypeError::new("array literal ends inside an element")),
                Some(b) if b == self.delimiter || b == b'}' => break,
                Some(b'{' | b'"') => return Err(TypeError::new("array literal has an unexpected { or \"")),
                Some(b'\\') => {
                    let escaped = self.bytes.get(self.at + 1).copied();
                    out.push(escaped.ok_or_else(|| TypeError::new("array literal ends inside an escape"))?);
                    self.at += 2;
                    escaped_any = true;
                    keep = out.len();
                }
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                    if !is_array_space(b) {
                        keep = out.len();
                    }
                }
            }
        }
        out.truncate(keep);
        if out.is_empty() && !escaped_any {
            return Err(TypeError::new("array literal has an empty unquoted element"));
        }
        if !escaped_any && out.eq_ignore_ascii_case(b"NULL") {
            return Ok(Element::Null);
        }
        Ok(Element::Text(into_string(out)?))
    }
}

fn into_string(bytes: Vec<u8>) -> Result<String, TypeError> {
    String::from_utf8(bytes).map_err(|_| TypeError::new("array literal element is not valid UTF-8"))
}

/// `array_isspace`: the ASCII whitespace PostgreSQL skips in literals.
fn is_array_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Appends one element's text, quoted when `array_out` would quote it.
pub(super) fn push_element(out: &mut String, text: &str, delimiter: u8) {
    let needs_quotes = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text.bytes().any(|b| matches!(b, b'{' | b'}' | b'"' | b'\\') || b == delimiter || is_array_space(b));
    if !needs_quotes {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Element {
        Element::Text(s.into())
    }

    #[test]
    fn reads_nulls_quotes_and_escapes() {
        let parsed = parse(r#"{1,NULL,"NULL","a \"b\"","c,d",  e f  ,\ g\ ,""}"#, b',').unwrap().unwrap();
        assert_eq!(
            parsed,
            vec![
                text("1"),
                Element::Null,
                text("NULL"),
                text("a \"b\""),
                text("c,d"),
                text("e f"),
                text(" g "),
                text("")
            ]
        );
    }

    #[test]
    fn reads_nested_and_empty_arrays() {
        let parsed = parse("{{1,2},{3,4}}", b',').unwrap().unwrap();
        assert_eq!(
            parsed,
            vec![Element::Nested(vec![text("1"), text("2")]), Element::Nested(vec![text("3"), text("4")])]
        );
        assert_eq!(parse("{}", b',').unwrap().unwrap(), vec![]);
        assert_eq!(
            parse("{(1,2),(0,0);(3,3),(1,1)}", b';').unwrap().unwrap(),
            vec![text("(1,2),(0,0)"), text("(3,3),(1,1)")]
        );
    }

    #[test]
    fn dimension_decorations_are_left_to_the_caller() {
        assert_eq!(parse("[0:1]={7,8}", b',').unwrap(), None);
    }

    #[test]
    fn malformed_literals_are_refused() {
        for bad in ["", "{", "{1,}", "{,1}", "{1", "{1}x", "{{1},2}", "{\"a}", "{{{{{{{1}}}}}}}", "{a\"b}", "1"] {
            assert!(parse(bad, b',').is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quotes_like_array_out() {
        let mut out = String::new();
        for t in ["plain", "", "null", "a b", "x,y", "q\"\\"] {
            push_element(&mut out, t, b',');
            out.push('|');
        }
        assert_eq!(out, r#"plain|""|"null"|"a b"|"x,y"|"q\"\\"|"#);
    }
}
