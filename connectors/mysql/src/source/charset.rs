//! Character sets of binlog character columns → UTF-8.
//!
//! Row images carry CHAR/VARCHAR/TEXT values as raw bytes in the column's
//! character set (a GBK column stays GBK on the wire). The table map's
//! optional metadata names each column's collation by id; `catalog.rs`
//! resolves ids to character-set names through information_schema, and this
//! module decodes the bytes, strictly: invalid bytes are an error, never a
//! replacement character.
//!
//! Mapping notes: MySQL's `latin1` is Windows-1252 (not ISO-8859-1), which
//! is what encoding_rs's `windows-1252` implements, C1 bytes included;
//! `latin5` is Windows-1254 for the same reason; `cp932` is Windows-31J,
//! encoding_rs's `Shift_JIS`; `gbk`/`gb2312` decode with the GBK decoder
//! (a superset); `ucs2`, `utf16` and `utf32` are big-endian.

use encoding_rs::Encoding;

/// How a column's bytes become text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Charset {
    /// `binary`: the column holds bytes, not text.
    Binary,
    /// `utf8mb3` / `utf8mb4` (and the alias `utf8`).
    Utf8,
    Ascii,
    Ucs2,
    Utf16Be,
    Utf16Le,
    Utf32Be,
    Legacy(&'static Encoding),
}

impl Charset {
    /// The decoder for a MySQL/MariaDB character-set name, if Sluice has one.
    pub(crate) fn from_name(name: &str) -> Option<Charset> {
        Some(match name.to_ascii_lowercase().as_str() {
            "binary" => Charset::Binary,
            "utf8" | "utf8mb3" | "utf8mb4" => Charset::Utf8,
            "ascii" => Charset::Ascii,
            "ucs2" => Charset::Ucs2,
            "utf16" => Charset::Utf16Be,
            "utf16le" => Charset::Utf16Le,
            "utf32" => Charset::Utf32Be,
            "latin1" => Charset::Legacy(encoding_rs::WINDOWS_1252),
            "latin2" => Charset::Legacy(encoding_rs::ISO_8859_2),
            "latin5" => Charset::Legacy(encoding_rs::WINDOWS_1254),
            "latin7" => Charset::Legacy(encoding_rs::ISO_8859_13),
            "cp1250" => Charset::Legacy(encoding_rs::WINDOWS_1250),
            "cp1251" => Charset::Legacy(encoding_rs::WINDOWS_1251),
            "cp1256" => Charset::Legacy(encoding_rs::WINDOWS_1256),
            "cp1257" => Charset::Legacy(encoding_rs::WINDOWS_1257),
            "cp866" => Charset::Legacy(encoding_rs::IBM866),
            "koi8r" => Charset::Legacy(encoding_rs::KOI8_R),
            "koi8u" => Charset::Legacy(encoding_rs::KOI8_U),
            "greek" => Charset::Legacy(encoding_rs::ISO_8859_7),
            "hebrew" => Charset::Legacy(encoding_rs::ISO_8859_8),
            "tis620" => Charset::Legacy(encoding_rs::WINDOWS_874),
            "macroman" => Charset::Legacy(encoding_rs::MACINTOSH),
            "gbk" | "gb2312" => Charset::Legacy(encoding_rs::GBK),
            "gb18030" => Charset::Legacy(encoding_rs::GB18030),
            "big5" => Charset::Legacy(encoding_rs::BIG5),
            "sjis" | "cp932" => Charset::Legacy(encoding_rs::SHIFT_JIS),
            "ujis" | "eucjpms" => Charset::Legacy(encoding_rs::EUC_JP),
            "euckr" => Charset::Legacy(encoding_rs::EUC_KR),
            _ => return None,
        })
    }

    pub(crate) fn is_binary(&self) -> bool {
        matches!(self, Charset::Binary)
    }

    /// Decodes `bytes` strictly; `None` when they are not valid in this
    /// character set (the caller names table and column, never the bytes).
    pub(crate) fn decode(&self, bytes: &[u8]) -> Option<String> {
        match self {
            Charset::Binary => None,
            Charset::Utf8 => std::str::from_utf8(bytes).ok().map(str::to_owned),
            Charset::Ascii => bytes.is_ascii().then(|| String::from_utf8_lossy(bytes).into_owned()),
            Charset::Ucs2 => decode_utf16(bytes, u16::from_be_bytes, false),
            Charset::Utf16Be => decode_utf16(bytes, u16::from_be_bytes, true),
            Charset::Utf16Le => decode_utf16(bytes, u16::from_le_bytes, true),
            Charset::Utf32Be => {
                if !bytes.len().is_multiple_of(4) {
                    return None;
                }
                bytes
                    .chunks_exact(4)
                    .map(|unit| char::from_u32(u32::from_be_bytes([unit[0], unit[1], unit[2], unit[3]])))
                    .collect()
            }
            Charset::Legacy(encoding) => {
                encoding.decode_without_bom_handling_and_without_replacement(bytes).map(|text| text.into_owned())
            }
        }
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, surrogates: bool) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]])).collect();
    if !surrogates && units.iter().any(|u| (0xD800..0xE000).contains(u)) {
        return None;
    }
    char::decode_utf16(units).collect::<Result<String, _>>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_windows_1252() {
        let latin1 = Charset::from_name("latin1").unwrap();
        assert_eq!(latin1.decode(&[0x80, b'a', 0xE9]).as_deref(), Some("€aé"));
    }

    #[test]
    fn gbk_and_gb18030_decode_chinese() {
        let gbk = Charset::from_name("GBK").unwrap();
        assert_eq!(gbk.decode(&[0xD6, 0xD0, 0xCE, 0xC4]).as_deref(), Some("中文"));
        assert_eq!(gbk.decode(&[0xD6]), None, "a truncated double-byte character is invalid");
        let gb18030 = Charset::from_name("gb18030").unwrap();
        assert_eq!(gb18030.decode(&[0x81, 0x30, 0x81, 0x30]).as_deref(), Some("\u{80}"));
    }

    #[test]
    fn utf8_is_strict_and_wide_charsets_are_big_endian() {
        let utf8 = Charset::from_name("utf8mb4").unwrap();
        assert_eq!(utf8.decode("😀".as_bytes()).as_deref(), Some("😀"));
        assert_eq!(utf8.decode(&[0xC3, 0x28]), None);
        assert_eq!(Charset::from_name("utf16").unwrap().decode(&[0xD8, 0x3D, 0xDE, 0x00]).as_deref(), Some("😀"));
        assert_eq!(Charset::from_name("utf16le").unwrap().decode(&[0x3D, 0xD8, 0x00, 0xDE]).as_deref(), Some("😀"));
        assert_eq!(Charset::from_name("ucs2").unwrap().decode(&[0xD8, 0x3D, 0xDE, 0x00]), None);
        assert_eq!(Charset::from_name("utf32").unwrap().decode(&[0, 1, 0xF6, 0x00]).as_deref(), Some("😀"));
        assert_eq!(Charset::from_name("ascii").unwrap().decode(&[0xE9]), None);
    }

    #[test]
    fn unknown_charsets_and_binary_have_no_text() {
        assert_eq!(Charset::from_name("armscii8"), None);
        assert!(Charset::from_name("binary").unwrap().is_binary());
    }
}
