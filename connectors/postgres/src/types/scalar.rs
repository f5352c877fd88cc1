//! Text forms of PostgreSQL's non-temporal scalar types: `boolean`,
//! floats, `bytea`, bit strings and `uuid`.
//!
//! Floats: since PostgreSQL 12, any `extra_float_digits > 0` makes
//! `float4out`/`float8out` print the shortest text that reads back to the
//! same bits (`1e+300`, `5e-324`, `-0`), and `float4in`/`float8in` round
//! correctly, so parsing that text as `f32`/`f64` and printing Rust's
//! shortest round-trip form (`{:?}`: `1e300`, `-0.0`) is exact both ways. The
//! non-finite values are spelled `NaN`, `Infinity` and `-Infinity`.
//!
//! `bytea` is read in both output formats (`hex`: `\x0aff`, and the legacy
//! `escape` format: printable bytes as is, `\\` and `\ooo` octal) and always
//! written as hex, which `byteain` accepts whatever `bytea_output` says.

use std::fmt::Write;

use sluice_api::BitString;

use super::TypeError;

pub(super) fn decode_bool(text: &str) -> Result<bool, TypeError> {
    match text {
        "t" | "true" => Ok(true),
        "f" | "false" => Ok(false),
        _ => Err(TypeError::new("not a boolean (expected t or f)")),
    }
}

pub(super) fn decode_f64(text: &str) -> Result<f64, TypeError> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ if is_float_syntax(text) => text.parse().map_err(|_| TypeError::new("not a double precision number")),
        _ => Err(TypeError::new("not a double precision number")),
    }
}

pub(super) fn decode_f32(text: &str) -> Result<f32, TypeError> {
    match text {
        "NaN" => Ok(f32::NAN),
        "Infinity" => Ok(f32::INFINITY),
        "-Infinity" => Ok(f32::NEG_INFINITY),
        _ if is_float_syntax(text) => text.parse().map_err(|_| TypeError::new("not a real number")),
        _ => Err(TypeError::new("not a real number")),
    }
}

/// Digits with an optional sign, point and exponent — what `float8out`
/// prints. Keeps Rust's extra spellings (`inf`, `nan`) out.
fn is_float_syntax(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
}

pub(super) fn encode_f64(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        format!("{value:?}")
    }
}

pub(super) fn encode_f32(value: f32) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        format!("{value:?}")
    }
}

pub(super) fn decode_bytea(text: &str) -> Result<Vec<u8>, TypeError> {
    match text.strip_prefix("\\x") {
        Some(hex) => decode_hex(hex),
        None => decode_bytea_escape(text),
    }
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, TypeError> {
    let digits = hex.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(TypeError::new("bytea hex text has an odd number of digits"));
    }
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Ok(b - b'0'),
        b'a'..=b'f' => Ok(b - b'a' + 10),
        b'A'..=b'F' => Ok(b - b'A' + 10),
        _ => Err(TypeError::new("bytea hex text has a non-hex digit")),
    };
    digits.chunks_exact(2).map(|pair| Ok((nibble(pair[0])? << 4) | nibble(pair[1])?)).collect()
}

fn decode_bytea_escape(text: &str) -> Result<Vec<u8>, TypeError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal =
                bytes.get(i + 1..i + 4).ok_or_else(|| TypeError::new("bytea escape text ends inside an escape"))?;
            let valid = matches!(octal[0], b'0'..=b'3') && octal[1..].iter().all(|d| matches!(d, b'0'..=b'7'));
            if !valid {
                return Err(TypeError::new("bytea escape text has an invalid escape"));
            }
            out.push(((octal[0] - b'0') << 6) | ((octal[1] - b'0') << 3) | (octal[2] - b'0'));
            i += 4;
        }
    }
    Ok(out)
}

pub(super) fn encode_bytea(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("\\x");
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

pub(super) fn decode_bits(text: &str) -> Result<BitString, TypeError> {
    BitString::from_text(text).ok_or_else(|| TypeError::new("not a bit string (expected only 0 and 1)"))
}

/// Refuses a [`BitString`] whose bytes cannot hold `len` bits (it would
/// otherwise index past its buffer).
pub(super) fn encode_bits(bits: &BitString) -> Result<String, TypeError> {
    if bits.bytes.len() < bits.len.div_ceil(8) {
        return Err(TypeError::new("bit string is shorter than its length says"));
    }
    Ok(bits.to_text())
}

/// Reads the canonical `8-4-4-4-12` form, or 32 bare hex digits.
pub(super) fn decode_uuid(text: &str) -> Result<[u8; 16], TypeError> {
    let invalid = || TypeError::new("not a UUID (expected 8-4-4-4-12 hex digits)");
    let hex: Vec<u8> = match text.len() {
        36 => {
            let dashes_ok = text.bytes().enumerate().all(|(i, b)| (b == b'-') == matches!(i, 8 | 13 | 18 | 23));
            if !dashes_ok {
                return Err(invalid());
            }
            text.bytes().filter(|b| *b != b'-').collect()
        }
        32 => text.bytes().collect(),
        _ => return Err(invalid()),
    };
    let bytes = decode_hex(std::str::from_utf8(&hex).map_err(|_| invalid())?).map_err(|_| invalid())?;
    bytes.try_into().map_err(|_| invalid())
}

pub(super) fn encode_uuid(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_shortest_round_trip_text() {
        assert_eq!(encode_f64(1e300), "1e300");
        assert_eq!(encode_f64(-0.0), "-0.0");
        assert_eq!(encode_f64(0.1), "0.1");
        assert_eq!(encode_f64(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(encode_f32(16_777_217.0), "16777216.0");
        assert_eq!(decode_f64("1e+300").unwrap(), 1e300);
        assert_eq!(decode_f64("5e-324").unwrap().to_bits(), 1);
        assert!(decode_f64("-0").unwrap().is_sign_negative());
        assert!(decode_f64("inf").is_err());
        assert_eq!(decode_f32("1e-45").unwrap().to_bits(), 1);
    }

    #[test]
    fn bytea_reads_hex_and_escape_formats() {
        assert_eq!(decode_bytea("\\x00ff7F").unwrap(), vec![0, 255, 127]);
        assert_eq!(decode_bytea("a\\\\b\\000\\377").unwrap(), vec![b'a', b'\\', b'b', 0, 255]);
        assert!(decode_bytea("\\x0").is_err());
        assert!(decode_bytea("\\9").is_err());
        assert_eq!(encode_bytea(&[0, 255, 16]), "\\x00ff10");
    }

    #[test]
    fn uuid_text_round_trips() {
        let text = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        let bytes = decode_uuid(text).unwrap();
        assert_eq!(encode_uuid(&bytes), text);
        assert_eq!(decode_uuid("a0eebc999c0b4ef8bb6d6bb9bd380a11").unwrap(), bytes);
        assert!(decode_uuid("a0eebc99-9c0b4-ef8-bb6d-6bb9bd380a11").is_err());
    }

    #[test]
    fn malformed_bit_strings_are_refused() {
        assert!(encode_bits(&BitString { len: 9, bytes: vec![0] }).is_err());
        assert!(decode_bits("0121").is_err());
    }
}
