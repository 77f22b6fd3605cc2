//! Compression codecs of message format v0 (docs/wire-protocol.md). What we accept is lenient
//! (every framing a 0.8 client writes); what we emit is exactly what the 0.8.2 broker
//! emits: one gzip member, xerial-framed snappy, Kafka's LZ4 frame with its KAFKA-3160
//! header checksum.

use super::error::MessageError;
use super::xxhash::xxh32;
use std::io::{Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum CompressionCodec {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
}

/// A configuration value (`compression.codec`, `offsets.topic.compression.codec`): by name
/// or id.
impl crate::common::config_def::ConfigValue for CompressionCodec {
    const TYPE: &'static str = "codec";
    fn parse_value(raw: &str) -> Result<Self, String> {
        CompressionCodec::parse(raw).ok_or_else(|| "expected none, gzip, snappy, lz4 or their ids 0-3".to_string())
    }
    fn render(&self) -> String {
        self.name().to_string()
    }
}

impl CompressionCodec {
    pub fn from_id(id: u8) -> Result<CompressionCodec, MessageError> {
        match id {
            0 => Ok(CompressionCodec::None),
            1 => Ok(CompressionCodec::Gzip),
            2 => Ok(CompressionCodec::Snappy),
            3 => Ok(CompressionCodec::Lz4),
            other => Err(MessageError::UnknownCodec(other)),
        }
    }

    /// The name 0.8.2 uses in configs and tool output (`NoCompressionCodec` prints as
    /// "none" in `compression.codec`; DumpLogSegments prints the class name).
    pub fn name(self) -> &'static str {
        match self {
            CompressionCodec::None => "none",
            CompressionCodec::Gzip => "gzip",
            CompressionCodec::Snappy => "snappy",
            CompressionCodec::Lz4 => "lz4",
        }
    }

    /// The Scala object name DumpLogSegments prints as `compresscodec:`.
    pub fn class_name(self) -> &'static str {
        match self {
            CompressionCodec::None => "NoCompressionCodec",
            CompressionCodec::Gzip => "GZIPCompressionCodec",
            CompressionCodec::Snappy => "SnappyCompressionCodec",
            CompressionCodec::Lz4 => "LZ4CompressionCodec",
        }
    }

    /// Parse a codec as 0.8.2 config does: by name or by number.
    pub fn parse(s: &str) -> Option<CompressionCodec> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "0" | "uncompressed" => Some(CompressionCodec::None),
            "gzip" | "1" => Some(CompressionCodec::Gzip),
            "snappy" | "2" => Some(CompressionCodec::Snappy),
            "lz4" | "3" => Some(CompressionCodec::Lz4),
            _ => None,
        }
    }
}

/// Upper bound on what one decompression may produce, so a small "zip bomb" payload cannot
/// exhaust memory. Far above any legal set (`socket.request.max.bytes` is 100 MiB).
pub const MAX_DECOMPRESSED_BYTES: usize = 1 << 30;

pub fn compress(codec: CompressionCodec, data: &[u8]) -> Vec<u8> {
    match codec {
        CompressionCodec::None => data.to_vec(),
        CompressionCodec::Gzip => gzip_compress(data),
        CompressionCodec::Snappy => xerial_snappy_compress(data),
        CompressionCodec::Lz4 => kafka_lz4_compress(data),
    }
}

pub fn decompress(codec: CompressionCodec, data: &[u8]) -> Result<Vec<u8>, MessageError> {
    decompress_within(codec, data, MAX_DECOMPRESSED_BYTES)
}

/// Decompress, stopping as soon as the output would pass `limit` bytes: then
/// `MessageError::InflatesTooLarge` (0.8.2's error 10), with no more than about `limit`
/// bytes ever held. A payload that does not decompress is `Compression` (error 2).
pub fn decompress_within(codec: CompressionCodec, data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    match codec {
        CompressionCodec::None if data.len() > limit => Err(MessageError::InflatesTooLarge { max: limit }),
        CompressionCodec::None => Ok(data.to_vec()),
        CompressionCodec::Gzip => gzip_decompress(data, limit),
        CompressionCodec::Snappy => snappy_decompress(data, limit),
        CompressionCodec::Lz4 => lz4_decompress(data, limit),
    }
}

fn cerr(what: impl std::fmt::Display) -> MessageError {
    MessageError::Compression(what.to_string())
}

// ---------------------------------------------------------------------------------- gzip

fn gzip_compress(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2 + 32), flate2::Compression::default());
    enc.write_all(data).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

fn read_bounded(mut r: impl Read, limit: usize) -> Result<Vec<u8>, MessageError> {
    let mut out = Vec::new();
    let n = r.by_ref().take(limit as u64 + 1).read_to_end(&mut out).map_err(cerr)?;
    if n > limit {
        return Err(MessageError::InflatesTooLarge { max: limit });
    }
    Ok(out)
}

/// RFC 1952, several members in sequence as Java's GZIPInputStream reads them; a zlib
/// stream (librdkafka's reader accepts both) is tolerated too.
fn gzip_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    if data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b {
        read_bounded(flate2::read::MultiGzDecoder::new(data), limit)
    } else if data.len() >= 2 && data[0] & 0x0f == 8 && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0 {
        read_bounded(flate2::read::ZlibDecoder::new(data), limit)
    } else {
        Err(cerr("not a gzip stream"))
    }
}

// -------------------------------------------------------------------------------- snappy

const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_LEN: usize = 16;
const XERIAL_BLOCK: usize = 32 * 1024;

fn xerial_snappy_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + snap::raw::max_compress_len(data.len().min(XERIAL_BLOCK)) * (data.len() / XERIAL_BLOCK + 1));
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    let mut block = vec![0u8; snap::raw::max_compress_len(XERIAL_BLOCK)];
    for chunk in data.chunks(XERIAL_BLOCK) {
        let n = enc.compress(chunk, &mut block).expect("buffer sized by max_compress_len");
        out.extend_from_slice(&(n as i32).to_be_bytes());
        out.extend_from_slice(&block[..n]);
    }
    out
}

/// xerial stream if the 8-byte magic matches (as snappy-java's SnappyInputStream decides),
/// otherwise the whole payload is one raw snappy block.
fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    if data.len() < XERIAL_HEADER_LEN || data[..8] != XERIAL_MAGIC {
        return raw_snappy(data, limit);
    }
    let version = i32::from_be_bytes(data[8..12].try_into().expect("4 bytes"));
    if version < 1 {
        return Err(cerr(format!("xerial snappy version {} is not supported", version)));
    }
    let mut out = Vec::new();
    let mut pos = XERIAL_HEADER_LEN;
    while pos < data.len() {
        if pos + 4 > data.len() {
            return Err(cerr("truncated xerial snappy block length"));
        }
        let len = i32::from_be_bytes(data[pos..pos + 4].try_into().expect("4 bytes"));
        pos += 4;
        if len < 0 || pos + len as usize > data.len() {
            return Err(cerr("truncated xerial snappy block"));
        }
        let block = raw_snappy(&data[pos..pos + len as usize], limit - out.len())?;
        out.extend_from_slice(&block);
        pos += len as usize;
    }
    Ok(out)
}

fn raw_snappy(data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    let n = snap::raw::decompress_len(data).map_err(cerr)?;
    if n > limit {
        return Err(MessageError::InflatesTooLarge { max: limit });
    }
    snap::raw::Decoder::new().decompress_vec(data).map_err(cerr)
}

// ----------------------------------------------------------------------------------- lz4

const LZ4_MAGIC: [u8; 4] = [0x04, 0x22, 0x4D, 0x18];
const LZ4_FLG: u8 = 0x60; // version 01, independent blocks, no checksums, no size
const LZ4_BD: u8 = 0x40; // 64 KiB blocks
const LZ4_BLOCK: usize = 64 * 1024;
const LZ4_UNCOMPRESSED_BIT: u32 = 0x8000_0000;

/// Kafka's frame header checksum: XXH32 over magic + FLG + BD (KAFKA-3160), the value
/// 0.8.2 writes and checks. The standard one hashes only FLG + BD.
fn kafka_lz4_hc(descriptor_with_magic: &[u8]) -> u8 {
    (xxh32(descriptor_with_magic, 0) >> 8) as u8
}

fn kafka_lz4_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    out.extend_from_slice(&LZ4_MAGIC);
    out.push(LZ4_FLG);
    out.push(LZ4_BD);
    out.push(kafka_lz4_hc(&[LZ4_MAGIC[0], LZ4_MAGIC[1], LZ4_MAGIC[2], LZ4_MAGIC[3], LZ4_FLG, LZ4_BD]));
    for chunk in data.chunks(LZ4_BLOCK) {
        let compressed = lz4_flex::block::compress(chunk);
        if compressed.len() < chunk.len() {
            out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
            out.extend_from_slice(&compressed);
        } else {
            out.extend_from_slice(&(chunk.len() as u32 | LZ4_UNCOMPRESSED_BIT).to_le_bytes());
            out.extend_from_slice(chunk);
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

/// Lenient LZ4 frame reader: the header checksum may be Kafka's or the standard one;
/// block checksums, content size and content checksum are tolerated; a missing end mark
/// at the very end of the payload is accepted.
fn lz4_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    if data.len() < 7 || data[..4] != LZ4_MAGIC {
        return Err(cerr("not an LZ4 frame"));
    }
    let flg = data[4];
    let bd = data[5];
    if flg >> 6 != 1 {
        return Err(cerr("unsupported LZ4 frame version"));
    }
    let block_checksum = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let dict_id = flg & 0x01 != 0;
    let max_block = match (bd >> 4) & 0x07 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return Err(cerr("unsupported LZ4 block size")),
    };
    let mut pos = 6;
    if content_size {
        pos += 8;
    }
    if dict_id {
        pos += 4;
    }
    if data.len() < pos + 1 {
        return Err(cerr("truncated LZ4 frame header"));
    }
    let hc = data[pos];
    let standard = (xxh32(&data[4..pos], 0) >> 8) as u8;
    let kafka = kafka_lz4_hc(&data[..pos]);
    if hc != standard && hc != kafka {
        return Err(cerr("LZ4 frame descriptor corrupted"));
    }
    pos += 1;
    let mut out = Vec::new();
    loop {
        if pos == data.len() {
            break; // no end mark: tolerated
        }
        if pos + 4 > data.len() {
            return Err(cerr("truncated LZ4 block size"));
        }
        let raw = u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes"));
        pos += 4;
        if raw == 0 {
            if content_checksum && pos + 4 <= data.len() {
                let want = u32::from_le_bytes(data[pos..pos + 4].try_into().expect("4 bytes"));
                if want != xxh32(&out, 0) {
                    return Err(cerr("LZ4 content checksum mismatch"));
                }
            }
            break;
        }
        let size = (raw & !LZ4_UNCOMPRESSED_BIT) as usize;
        if size > max_block || pos + size > data.len() {
            return Err(cerr("bad LZ4 block size"));
        }
        let block = &data[pos..pos + size];
        pos += size;
        if block_checksum {
            pos += 4;
        }
        if raw & LZ4_UNCOMPRESSED_BIT != 0 {
            out.extend_from_slice(block);
        } else {
            let start = out.len();
            out.resize(start + max_block, 0);
            let n = lz4_flex::block::decompress_into(block, &mut out[start..]).map_err(cerr)?;
            out.truncate(start + n);
        }
        // At most one block (4 MiB) past the limit is ever held.
        if out.len() > limit {
            return Err(MessageError::InflatesTooLarge { max: limit });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Vec<u8> {
        (0..n).map(|i| ((i * 7) % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn every_codec_round_trips_small_and_multi_block() {
        for codec in [CompressionCodec::None, CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4] {
            for n in [0, 1, 100, 32 * 1024, 32 * 1024 + 1, 200_000] {
                let d = sample(n);
                let c = compress(codec, &d);
                assert_eq!(decompress(codec, &c).unwrap(), d, "{:?} {}", codec, n);
            }
        }
    }

    #[test]
    fn emitted_headers_match_the_082_broker() {
        let s = compress(CompressionCodec::Snappy, b"hello hello hello");
        assert_eq!(&s[..16], &[0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
        let l = compress(CompressionCodec::Lz4, b"hello hello hello");
        assert_eq!(&l[..7], &[0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x1A]);
        assert_eq!(&l[l.len() - 4..], &[0, 0, 0, 0]);
        let g = compress(CompressionCodec::Gzip, b"hello");
        assert_eq!(&g[..3], &[0x1f, 0x8b, 0x08]);
    }

    #[test]
    fn raw_snappy_is_read() {
        let d = sample(5000);
        let raw = snap::raw::Encoder::new().compress_vec(&d).unwrap();
        assert_eq!(decompress(CompressionCodec::Snappy, &raw).unwrap(), d);
    }

    #[test]
    fn lz4_with_the_standard_header_checksum_is_read() {
        let d = sample(1000);
        let mut f = compress(CompressionCodec::Lz4, &d);
        f[6] = 0x82;
        assert_eq!(decompress(CompressionCodec::Lz4, &f).unwrap(), d);
        f[6] = 0x00;
        assert!(decompress(CompressionCodec::Lz4, &f).is_err());
    }

    #[test]
    fn lz4_with_content_size_and_checksums_is_read() {
        // A frame as a standards-conforming writer with optional fields would emit it.
        let d = sample(3000);
        let block = lz4_flex::block::compress(&d);
        let mut f = vec![0x04, 0x22, 0x4D, 0x18, 0x60 | 0x10 | 0x08 | 0x04, 0x40];
        f.extend_from_slice(&(d.len() as u64).to_le_bytes());
        f.push((xxh32(&f[4..], 0) >> 8) as u8);
        f.extend_from_slice(&(block.len() as u32).to_le_bytes());
        f.extend_from_slice(&block);
        f.extend_from_slice(&xxh32(&block, 0).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&xxh32(&d, 0).to_le_bytes());
        assert_eq!(decompress(CompressionCodec::Lz4, &f).unwrap(), d);
    }

    #[test]
    fn gzip_reads_concatenated_members_and_zlib() {
        let mut two = compress(CompressionCodec::Gzip, b"abc");
        two.extend(compress(CompressionCodec::Gzip, b"def"));
        assert_eq!(decompress(CompressionCodec::Gzip, &two).unwrap(), b"abcdef");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(b"zlib data").unwrap();
        assert_eq!(decompress(CompressionCodec::Gzip, &z.finish().unwrap()).unwrap(), b"zlib data");
    }

    #[test]
    fn garbage_is_an_error_for_every_codec() {
        for codec in [CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4] {
            assert!(decompress(codec, &[0xff; 40]).is_err(), "{:?}", codec);
        }
    }
}
