//! Bounds-checked reading of binlog event bodies: little-endian integers,
//! MySQL length-encoded integers and strings, fixed-size byte runs.
//!
//! Every binlog parser in `source/` reads through [`Reader`], so nothing
//! indexes raw bytes from the network directly: a short or malformed body is
//! a [`Truncated`] error, never a panic. Length-encoded integers are the
//! protocol's: a first byte below 0xFB is the value; 0xFC, 0xFD and 0xFE
//! announce a 2-, 3- and 8-byte little-endian value; 0xFB (SQL NULL in
//! result sets) and 0xFF are invalid inside binlog bodies.
//!
//! MySQL 8.3+ also writes some bodies (the tagged GTID event, type 42; the
//! tags of tagged GTID sets) with its serialization library
//! (`libs/mysql/serialization`), whose variable-length integers differ:
//! little-endian, the number of trailing one bits of the first byte plus
//! one is the byte count, the value follows the terminating zero bit
//! (`value << bytes | (1 << (bytes - 1)) - 1`); nine bytes are `0xFF` and
//! the full 64-bit value. Signed values are zigzag-encoded first
//! (`x << 1` for x ≥ 0, `(-(x + 1) << 1) | 1` for x < 0).

/// A body ended before the value being read (or held an invalid length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Truncated;

/// A cursor over a byte slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Everything not read yet (the reader is left empty).
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        if n > self.bytes.len() {
            return Err(Truncated);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Truncated> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16_le(&mut self) -> Result<u16, Truncated> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32, Truncated> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// An unsigned little-endian integer of `n` bytes (`n` ≤ 8).
    pub(crate) fn uint_le(&mut self, n: usize) -> Result<u64, Truncated> {
        if n > 8 {
            return Err(Truncated);
        }
        Ok(self.take(n)?.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// An unsigned big-endian integer of `n` bytes (`n` ≤ 8).
    pub(crate) fn uint_be(&mut self, n: usize) -> Result<u64, Truncated> {
        if n > 8 {
            return Err(Truncated);
        }
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length-encoded integer.
    pub(crate) fn lenenc(&mut self) -> Result<u64, Truncated> {
        match self.u8()? {
            first @ 0..=0xFA => Ok(u64::from(first)),
            0xFC => self.uint_le(2),
            0xFD => self.uint_le(3),
            0xFE => self.uint_le(8),
            _ => Err(Truncated),
        }
    }

    /// A length-encoded integer used as a length or count: it must not
    /// exceed what the remaining bytes could hold (`unit` bytes per item),
    /// so it never sizes an allocation beyond the body.
    pub(crate) fn lenenc_count(&mut self, unit: usize) -> Result<usize, Truncated> {
        let count = usize::try_from(self.lenenc()?).map_err(|_| Truncated)?;
        if count.saturating_mul(unit.max(1)) > self.bytes.len() {
            return Err(Truncated);
        }
        Ok(count)
    }

    /// A variable-length unsigned integer of MySQL's serialization library.
    pub(crate) fn varlen_u64(&mut self) -> Result<u64, Truncated> {
        let first = *self.bytes.first().ok_or(Truncated)?;
        let count = first.trailing_ones() as usize + 1;
        if count == 9 {
            self.skip(1)?;
            return self.u64_le();
        }
        let bytes = self.take(count)?;
        let raw = bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        Ok(raw >> count)
    }

    /// A variable-length signed integer of MySQL's serialization library.
    pub(crate) fn varlen_i64(&mut self) -> Result<i64, Truncated> {
        let zigzag = self.varlen_u64()?;
        let magnitude = (zigzag >> 1) as i64;
        Ok(if zigzag & 1 == 0 { magnitude } else { -magnitude - 1 })
    }

    /// A length-encoded string (raw bytes).
    pub(crate) fn lenenc_bytes(&mut self) -> Result<&'a [u8], Truncated> {
        let len = self.lenenc_count(1)?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integers_in_both_byte_orders() {
        let mut reader = Reader::new(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06]);
        assert_eq!(reader.uint_le(3), Ok(0x03_0201));
        assert_eq!(reader.uint_be(3), Ok(0x04_0506));
        assert!(reader.is_empty());
        assert_eq!(reader.u8(), Err(Truncated));
    }

    #[test]
    fn length_encoded_integers_follow_the_protocol() {
        assert_eq!(Reader::new(&[0xFA]).lenenc(), Ok(250));
        assert_eq!(Reader::new(&[0xFC, 0x34, 0x12]).lenenc(), Ok(0x1234));
        assert_eq!(Reader::new(&[0xFD, 0x56, 0x34, 0x12]).lenenc(), Ok(0x12_3456));
        assert_eq!(Reader::new(&[0xFE, 1, 0, 0, 0, 0, 0, 0, 0]).lenenc(), Ok(1));
        assert_eq!(Reader::new(&[0xFB]).lenenc(), Err(Truncated));
        assert_eq!(Reader::new(&[0xFF]).lenenc(), Err(Truncated));
        assert_eq!(Reader::new(&[0xFC, 0x34]).lenenc(), Err(Truncated));
    }

    /// The examples of MySQL's `libs/mysql/serialization/readme.md`, bytes
    /// written most significant first there: 65535 unsigned is
    /// `00000111 11111111 11111011`, signed 65535 is `00001111 11111111
    /// 11110011`, -65535 is `… 11101011`, -65536 is `… 11111011`.
    #[test]
    fn serialization_library_varlen_integers_follow_the_readme() {
        assert_eq!(Reader::new(&[0xFB, 0xFF, 0x07]).varlen_u64(), Ok(65535));
        assert_eq!(Reader::new(&[0xF3, 0xFF, 0x0F]).varlen_i64(), Ok(65535));
        assert_eq!(Reader::new(&[0xEB, 0xFF, 0x0F]).varlen_i64(), Ok(-65535));
        assert_eq!(Reader::new(&[0xFB, 0xFF, 0x0F]).varlen_i64(), Ok(-65536));
        // One byte: value << 1 (tag lengths of tagged GTID sets are written so).
        assert_eq!(Reader::new(&[0x06]).varlen_u64(), Ok(3));
        assert_eq!(Reader::new(&[0x00]).varlen_u64(), Ok(0));
        // Nine bytes: 0xFF, then the raw value.
        let mut nine = vec![0xFF];
        nine.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(Reader::new(&nine).varlen_u64(), Ok(u64::MAX));
        assert_eq!(Reader::new(&nine[..8]).varlen_u64(), Err(Truncated));
        assert_eq!(Reader::new(&[0xFB, 0xFF]).varlen_u64(), Err(Truncated));
        assert_eq!(Reader::new(&[]).varlen_u64(), Err(Truncated));
    }

    #[test]
    fn counts_larger_than_the_body_are_refused() {
        assert_eq!(Reader::new(&[3, b'a', b'b']).lenenc_bytes(), Err(Truncated));
        assert_eq!(Reader::new(&[2, b'a', b'b']).lenenc_bytes(), Ok(&b"ab"[..]));
        assert_eq!(
            Reader::new(&[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).lenenc_count(1),
            Err(Truncated)
        );
    }
}
