//! PostgreSQL's `COPY` text format, both ways: splitting rows that
//! `COPY … TO STDOUT` sends (the snapshot reader) and writing rows for
//! `COPY … FROM STDIN` (the sink's bulk load).
//!
//! The format (PostgreSQL docs, "COPY", File Formats → Text Format): one row
//! per line ending in `\n`, columns separated by a tab, `\N` alone for NULL.
//! Each value is the type's text output form with backslash escapes for the
//! bytes that would break the framing: `\\` backslash, `\n` newline, `\r`
//! carriage return, `\t` tab, and — on output, optional on input — `\b`
//! backspace, `\f` form feed, `\v` vertical tab. Input also accepts `\ooo`
//! (one to three octal digits) and `\xhh` (one or two hex digits) for an
//! arbitrary byte, and a backslash before any other character stands for
//! that character. Everything else, including other control characters and
//! non-ASCII UTF-8, travels as is, so the tab and newline bytes found in a
//! line are always framing: splitting on them never cuts a multi-byte
//! character. Over the v3 protocol each `CopyData` message from the server
//! carries whole rows (one per message in practice, though nothing here
//! relies on it), and no `\.` end marker is sent.
//!
//! The fast path matters: a snapshot chunk is tens of thousands of rows, so
//! a field without a backslash is handed out as a slice of the received
//! buffer, and only escaped fields are unescaped, into one reused scratch
//! buffer.

use memchr::memchr;

/// The COPY text representation of NULL.
pub(crate) const NULL: &[u8] = b"\\N";

/// Why a line could not be split; never carries the line itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyFormatError(pub(crate) String);

/// Splits one line (without its `\n`) into its fields, calling `field` with
/// each field's index and unescaped bytes (`None` for NULL). Stops at the
/// first error `field` returns.
pub(crate) fn for_each_field<E>(
    line: &[u8],
    scratch: &mut Vec<u8>,
    mut field: impl FnMut(usize, Option<&[u8]>) -> Result<(), E>,
) -> Result<(), E> {
    let mut index = 0;
    let mut rest = line;
    loop {
        let (raw, next) = match memchr(b'\t', rest) {
            Some(tab) => (&rest[..tab], Some(&rest[tab + 1..])),
            None => (rest, None),
        };
        if raw == NULL {
            field(index, None)?;
        } else if memchr(b'\\', raw).is_none() {
            field(index, Some(raw))?;
        } else {
            unescape(raw, scratch);
            field(index, Some(scratch))?;
        }
        index += 1;
        match next {
            Some(next) => rest = next,
            None => return Ok(()),
        }
    }
}

/// Resolves the backslash escapes of one field into `out` (cleared first).
fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < raw.len() {
        let byte = raw[i];
        i += 1;
        if byte != b'\\' || i == raw.len() {
            // A lone trailing backslash cannot come from the server; keep it.
            out.push(byte);
            continue;
        }
        let escaped = raw[i];
        i += 1;
        match escaped {
            b'b' => out.push(0x08),
            b'f' => out.push(0x0C),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0B),
            b'0'..=b'7' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    match raw.get(i) {
                        Some(&digit @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(digit - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // PostgreSQL keeps the low byte of `\777` as well.
                out.push((value & 0xFF) as u8);
            }
            b'x' if raw.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                let mut value = hex_digit(raw[i]);
                i += 1;
                if let Some(&digit) = raw.get(i).filter(|d| d.is_ascii_hexdigit()) {
                    value = value * 16 + hex_digit(digit);
                    i += 1;
                }
                out.push(value);
            }
            other => out.push(other),
        }
    }
}

fn hex_digit(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// Collects whole lines out of `COPY TO` data arriving in arbitrary pieces.
#[derive(Default)]
pub(crate) struct LineBuffer {
    partial: Vec<u8>,
}

impl LineBuffer {
    /// Calls `line` for each complete line in `data` (after what earlier
    /// pieces left over), keeping an unfinished last line for the next piece.
    pub(crate) fn push<E>(&mut self, data: &[u8], mut line: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut rest = data;
        if !self.partial.is_empty() {
            let Some(end) = memchr(b'\n', rest) else {
                self.partial.extend_from_slice(rest);
                return Ok(());
            };
            self.partial.extend_from_slice(&rest[..end]);
            let joined = std::mem::take(&mut self.partial);
            line(&joined)?;
            self.partial = joined;
            self.partial.clear();
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr(b'\n', rest) {
            line(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Fails when the data ended inside a line.
    pub(crate) fn finish(&self) -> Result<(), CopyFormatError> {
        if self.partial.is_empty() {
            Ok(())
        } else {
            Err(CopyFormatError(format!(
                "the data ended inside a row ({} bytes without a newline)",
                self.partial.len()
            )))
        }
    }
}

/// Appends one field in COPY text format: `\N` for `None`, else the text
/// with backslash, tab, newline and carriage return escaped.
pub(crate) fn push_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(text) = value else {
        out.extend_from_slice(NULL);
        return;
    };
    let bytes = text.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        out.extend_from_slice(bytes);
        return;
    }
    for &byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fields(line: &[u8]) -> Vec<Option<Vec<u8>>> {
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        for_each_field::<()>(line, &mut scratch, |i, f| {
            assert_eq!(i, out.len());
            out.push(f.map(<[u8]>::to_vec));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn nulls_tabs_and_empty_fields_split_as_postgres_writes_them() {
        assert_eq!(fields(b"1\t\\N\t\tx"), vec![Some(b"1".to_vec()), None, Some(vec![]), Some(b"x".to_vec())]);
        assert_eq!(fields(b""), vec![Some(vec![])]);
        // `\\N` is the two characters backslash and N, not NULL.
        assert_eq!(fields(b"\\\\N"), vec![Some(b"\\N".to_vec())]);
    }

    #[test]
    fn every_escape_of_the_copy_docs_is_resolved() {
        let line = b"a\\\\b\\nc\\rd\\te\\bf\\fg\\vh\\101\\7\\0z\\x41\\x4\\xg\\q";
        let expected = b"a\\b\nc\rd\te\x08f\x0Cg\x0Bh\x41\x07\x00zA\x04xgq".to_vec();
        assert_eq!(fields(line), vec![Some(expected)]);
    }

    #[test]
    fn lines_split_across_pieces_are_joined() {
        let mut buffer = LineBuffer::default();
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for piece in [&b"1\tab"[..], b"c\n2\t", b"", b"x\n3\ty\n", b"4"] {
            buffer
                .push::<()>(piece, |l| {
                    lines.push(l.to_vec());
                    Ok(())
                })
                .unwrap();
        }
        assert_eq!(lines, vec![b"1\tabc".to_vec(), b"2\tx".to_vec(), b"3\ty".to_vec()]);
        assert!(buffer.finish().is_err(), "a row without its newline");
    }

    proptest! {
        #[test]
        fn written_fields_read_back(values in proptest::collection::vec(proptest::option::of(any::<String>()), 1..6)) {
            let mut line = Vec::new();
            for (i, value) in values.iter().enumerate() {
                if i > 0 {
                    line.push(b'\t');
                }
                push_field(&mut line, value.as_deref());
            }
            prop_assert!(!line.contains(&b'\n'));
            let read: Vec<Option<String>> =
                fields(&line).into_iter().map(|f| f.map(|b| String::from_utf8(b).unwrap())).collect();
            prop_assert_eq!(read, values);
        }
    }
}
