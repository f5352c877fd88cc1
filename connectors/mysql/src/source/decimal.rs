//! DECIMAL (NEWDECIMAL, type 246) values in binlog row images → exact text.
//!
//! The table map gives precision P and scale S (metadata bytes `[P, S]`).
//! The value is `P - S` integer digits and `S` fraction digits, stored
//! big-endian in groups of nine decimal digits per 4 bytes; a leftover
//! group of 1–8 digits takes 1, 1, 2, 2, 3, 3, 4, 4 bytes and sits first
//! for the integer part and last for the fraction. The sign is the
//! inverted top bit of the first byte (set = non-negative); a negative
//! value has every byte inverted. So `DECIMAL(65,30)` keeps all of its 65
//! digits: nothing here goes through a float or a 28-digit decimal type.

use sluice_api::Decimal;

use super::wire::Reader;

const DIGITS_PER_GROUP: usize = 9;
const GROUP_BYTES: usize = 4;
/// Bytes taken by a leftover group of n digits.
const LEFTOVER_BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
/// MariaDB and MySQL both cap DECIMAL at 65 digits.
const MAX_PRECISION: u8 = 65;

/// The on-disk size of a DECIMAL(precision, scale) value.
pub(crate) fn binary_size(precision: u8, scale: u8) -> usize {
    let (int_digits, frac_digits) = (usize::from(precision.saturating_sub(scale)), usize::from(scale));
    (int_digits / DIGITS_PER_GROUP) * GROUP_BYTES
        + LEFTOVER_BYTES[int_digits % DIGITS_PER_GROUP]
        + (frac_digits / DIGITS_PER_GROUP) * GROUP_BYTES
        + LEFTOVER_BYTES[frac_digits % DIGITS_PER_GROUP]
}

/// Decodes one DECIMAL(precision, scale) value; the error never holds the value.
pub(crate) fn decode_decimal(reader: &mut Reader<'_>, precision: u8, scale: u8) -> Result<Decimal, String> {
    if precision == 0 || precision > MAX_PRECISION || scale > precision {
        return Err(format!("DECIMAL({precision},{scale}) is not a valid precision and scale"));
    }
    let raw = reader.take(binary_size(precision, scale)).map_err(|_| "the row image ends inside a DECIMAL value")?;
    let negative = raw.first().is_some_and(|first| first & 0x80 == 0);
    let mut bytes: Vec<u8> = raw.iter().map(|b| if negative { !b } else { *b }).collect();
    if let Some(first) = bytes.first_mut() {
        *first &= 0x7F;
    }
    let mut body = Reader::new(&bytes);
    let int_digits = usize::from(precision - scale);
    let frac_digits = usize::from(scale);

    let mut integer = String::with_capacity(int_digits);
    let leading = int_digits % DIGITS_PER_GROUP;
    if leading > 0 {
        push_group(&mut integer, &mut body, leading)?;
    }
    for _ in 0..int_digits / DIGITS_PER_GROUP {
        push_group(&mut integer, &mut body, DIGITS_PER_GROUP)?;
    }
    let mut fraction = String::with_capacity(frac_digits);
    for _ in 0..frac_digits / DIGITS_PER_GROUP {
        push_group(&mut fraction, &mut body, DIGITS_PER_GROUP)?;
    }
    let trailing = frac_digits % DIGITS_PER_GROUP;
    if trailing > 0 {
        push_group(&mut fraction, &mut body, trailing)?;
    }

    let integer = integer.trim_start_matches('0');
    let mut text = String::with_capacity(int_digits + frac_digits + 3);
    if negative {
        text.push('-');
    }
    text.push_str(if integer.is_empty() { "0" } else { integer });
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(&fraction);
    }
    Decimal::parse(&text).map_err(|_| "the DECIMAL value does not form a number".into())
}

/// Appends a group of `digits` decimal digits (zero-padded).
fn push_group(out: &mut String, body: &mut Reader<'_>, digits: usize) -> Result<(), String> {
    let bytes = if digits == DIGITS_PER_GROUP { GROUP_BYTES } else { LEFTOVER_BYTES[digits] };
    let value = body.uint_be(bytes).map_err(|_| "the row image ends inside a DECIMAL value")?;
    if value >= 10u64.pow(digits as u32) {
        return Err("a DECIMAL digit group is out of range".into());
    }
    out.push_str(&format!("{value:0digits$}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn decode(bytes: &[u8], precision: u8, scale: u8) -> Result<String, String> {
        let mut reader = Reader::new(bytes);
        let value = decode_decimal(&mut reader, precision, scale)?;
        assert!(reader.is_empty());
        Ok(value.as_str().to_owned())
    }

    /// The server's encoding (decimal2bin) of a digit string, for tests.
    fn encode(negative: bool, int: &str, frac: &str, precision: u8, scale: u8) -> Vec<u8> {
        let int_digits = usize::from(precision - scale);
        let int = if int_digits == 0 { String::new() } else { format!("{int:0>int_digits$}") };
        let frac = format!("{frac:0<width$}", width = usize::from(scale));
        let mut out = Vec::new();
        let mut push = |digits: &str| {
            let n = digits.len();
            let bytes = if n == 9 { 4 } else { LEFTOVER_BYTES[n] };
            let value: u64 = digits.parse().unwrap_or(0);
            out.extend_from_slice(&value.to_be_bytes()[8 - bytes..]);
        };
        let leading = int_digits % 9;
        if leading > 0 {
            push(&int[..leading]);
        }
        for chunk in int.as_bytes()[leading..].chunks(9) {
            push(std::str::from_utf8(chunk).unwrap());
        }
        for chunk in frac.as_bytes().chunks(9) {
            push(std::str::from_utf8(chunk).unwrap());
        }
        out[0] |= 0x80;
        if negative {
            out.iter_mut().for_each(|b| *b = !*b);
        }
        out
    }

    #[test]
    fn decimal_65_30_keeps_every_digit() {
        let bytes = encode(true, "12345678901234567890123456789012345", "123456789012345678901234567890", 65, 30);
        assert_eq!(bytes.len(), binary_size(65, 30));
        assert_eq!(
            decode(&bytes, 65, 30).unwrap(),
            "-12345678901234567890123456789012345.123456789012345678901234567890"
        );
    }

    #[test]
    fn scale_is_kept_and_zero_is_unsigned() {
        assert_eq!(decode(&encode(false, "1", "5", 10, 2), 10, 2).unwrap(), "1.50");
        assert_eq!(decode(&encode(false, "0", "0", 10, 2), 10, 2).unwrap(), "0.00");
        assert_eq!(decode(&encode(false, "42", "", 5, 0), 5, 0).unwrap(), "42");
        assert_eq!(decode(&encode(true, "0", "05", 4, 4), 4, 4).unwrap(), "-0.0500");
    }

    #[test]
    fn decimal_as_mariadb_writes_it() {
        // DECIMAL(65,30) '-12345678901234567890123456789012345.123456789012345678901234567890'.
        let bytes = [
            0x7F, 0x43, 0x9E, 0xB1, 0xCA, 0x48, 0x40, 0x78, 0xCA, 0xF1, 0xCB, 0x3F, 0xD0, 0xF8, 0xA0, 0x86, 0xF8, 0xA4,
            0x32, 0xEA, 0xFF, 0x43, 0x9E, 0xB1, 0xCA, 0x48, 0x40, 0x78, 0xFC, 0x85,
        ];
        assert_eq!(
            decode(&bytes, 65, 30).unwrap(),
            "-12345678901234567890123456789012345.123456789012345678901234567890"
        );
    }

    #[test]
    fn invalid_metadata_and_digit_groups_are_errors() {
        assert!(decode(&[0x80], 0, 0).is_err());
        assert!(decode(&[0x80], 2, 3).is_err());
        assert!(decode(&[0x80; 40], 66, 0).is_err());
        // 99 in a one-digit leading group.
        assert!(decode(&[0x80 | 0x63], 1, 0).is_err());
    }

    proptest! {
        #[test]
        fn round_trips_every_precision(
            negative: bool, int in "[0-9]{0,35}", frac in "[0-9]{0,30}", extra in 0u8..5
        ) {
            let scale = frac.len() as u8;
            let precision = (int.len() as u8 + scale + extra).clamp(1, 65).max(scale);
            prop_assume!(usize::from(precision - scale) >= int.len());
            let bytes = encode(negative, &int, &frac, precision, scale);
            let expected_int = int.trim_start_matches('0');
            let expected_int = if expected_int.is_empty() { "0" } else { expected_int };
            let mut expected = String::new();
            let is_zero = expected_int == "0" && frac.bytes().all(|b| b == b'0');
            if negative && !is_zero {
                expected.push('-');
            }
            expected.push_str(expected_int);
            if scale > 0 {
                expected.push('.');
                expected.push_str(&frac);
            }
            prop_assert_eq!(decode(&bytes, precision, scale).unwrap(), expected);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), precision: u8, scale: u8) {
            let _ = decode_decimal(&mut Reader::new(&bytes), precision, scale);
        }
    }
}
