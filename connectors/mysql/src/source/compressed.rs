//! MariaDB's compressed binlog events (`log_bin_compress=ON`, types 165–171).
//!
//! MariaDB compresses the statement of a Query event (165) and the row data
//! of a rows event (166–171: write/update/delete, v1 and v2) when they are
//! longer than `log_bin_compress_min_len`; everything before them (post-
//! header, schema, column bitmaps) stays as in the plain event. mysql_common
//! does not know these types, and skipping them would lose rows silently, so
//! they are inflated here. The compressed part is:
//!
//! - one header byte: 0x80 | n, where n (low 3 bits) is the number of
//!   length bytes that follow (1–4);
//! - the uncompressed length, n bytes big-endian;
//! - a zlib stream (RFC 1950) of exactly that many bytes.
//!
//! The declared length bounds the output (a corrupt or hostile stream cannot
//! inflate beyond it), and a stream that inflates to another length is an
//! error.

use std::io::Read;

/// No binlog event exceeds 1 GiB (MariaDB's max_allowed_packet limit).
const MAX_UNCOMPRESSED: u64 = 1 << 30;

/// Inflates a compressed statement or row block; the error is a reason.
pub(crate) fn inflate(compressed: &[u8]) -> Result<Vec<u8>, String> {
    let (&header, rest) = compressed.split_first().ok_or("the compressed block is empty")?;
    let length_bytes = usize::from(header & 0x07);
    if header & 0x80 == 0 || !(1..=4).contains(&length_bytes) {
        return Err(format!("the compression header byte 0x{header:02X} is not MariaDB's"));
    }
    let (length, zlib) = rest.split_at_checked(length_bytes).ok_or("the compressed block is truncated")?;
    let length = length.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if length > MAX_UNCOMPRESSED {
        return Err("the declared uncompressed length exceeds 1 GiB".into());
    }
    let mut out = Vec::with_capacity(length.min(64 << 20) as usize);
    flate2::read::ZlibDecoder::new(zlib)
        .take(length + 1)
        .read_to_end(&mut out)
        .map_err(|_| "the zlib stream is corrupt".to_owned())?;
    if out.len() as u64 != length {
        return Err("the zlib stream does not inflate to the declared length".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    fn compress(data: &[u8], length_bytes: usize) -> Vec<u8> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        let zlib = encoder.finish().unwrap();
        let length = (data.len() as u64).to_be_bytes();
        [vec![0x80 | length_bytes as u8], length[8 - length_bytes..].to_vec(), zlib].concat()
    }

    #[test]
    fn inflates_with_every_length_width() {
        let data = b"insert into t values (1)".repeat(20);
        for width in 2..=4 {
            assert_eq!(inflate(&compress(&data, width)).unwrap(), data);
        }
        assert_eq!(inflate(&compress(&data[..200], 1)).unwrap(), &data[..200]);
    }

    #[test]
    fn row_block_as_mariadb_wrote_it() {
        // From a MariaDB 10.11 Write_rows_compressed_v1 event: 607 bytes inflated.
        let block = [
            0x82, 0x02, 0x5F, 0x78, 0x9C, 0xFB, 0xC3, 0xC8, 0xC0, 0xC0, 0x10, 0xC1, 0x94, 0x98, 0x94, 0x3C, 0x8A, 0x46,
            0x11, 0xD5, 0x11, 0x00, 0xD9, 0x5B, 0xE7, 0x08,
        ];
        let rows = inflate(&block).unwrap();
        assert_eq!(rows.len(), 607);
        // Null bitmap, id 1, TEXT length 600, then "abc" × 200.
        assert_eq!(&rows[..8], &[0xFC, 1, 0, 0, 0, 0x58, 0x02, b'a']);
        assert!(rows[7..].chunks(3).all(|c| c == b"abc"));
    }

    #[test]
    fn wrong_headers_and_lengths_are_errors() {
        let data = b"abcdef".repeat(10);
        assert!(inflate(&[]).is_err());
        assert!(inflate(&[0x85, 0, 0, 0, 1, 0]).is_err(), "five length bytes");
        assert!(inflate(&[0x00, 1, 0]).is_err(), "no 0x80 marker");
        let mut short = compress(&data, 2);
        short[2] -= 1;
        assert!(inflate(&short).is_err(), "declared length shorter than the stream");
        let mut long = compress(&data, 2);
        long[2] += 1;
        assert!(inflate(&long).is_err(), "declared length longer than the stream");
        let mut corrupt = compress(&data, 2);
        corrupt.truncate(corrupt.len() - 3);
        assert!(inflate(&corrupt).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = inflate(&bytes);
        }

        #[test]
        fn round_trips(data in proptest::collection::vec(any::<u8>(), 0..2000), width in 2usize..=4) {
            prop_assert_eq!(inflate(&compress(&data, width)).unwrap(), data);
        }
    }
}
