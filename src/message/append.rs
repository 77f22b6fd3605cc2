//! The append path of docs/wire-protocol.md: validate a produced (or replicated) set, then give
//! it offsets. `Log::append` calls these under its lock.

use super::codec::{self, CompressionCodec};
use super::error::MessageError;
use super::message::{validate_message_bytes, Message, MIN_MESSAGE_SIZE};
use super::set::{deep_iter_within, EntryHeader, MessageSetBuilder, LOG_OVERHEAD};
use bytes::{Bytes, BytesMut};

/// What a shallow scan found in a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendInfo {
    /// Bytes of the complete entries (trailing partial entry or garbage excluded).
    pub valid_bytes: usize,
    /// Number of complete shallow entries.
    pub shallow_count: usize,
    /// Offsets as they stand in the set (producers send anything; followers send the
    /// leader's). `-1` when the set holds no complete entry.
    pub first_offset: i64,
    pub last_offset: i64,
    /// The codec of the last compressed entry, or None (0.8.2's "last one wins").
    pub codec: CompressionCodec,
    /// Shallow offsets strictly increase.
    pub monotonic: bool,
    /// Uncompressed entries without a key (messages inside compressed wrappers are
    /// counted by [`assign_offsets`]); a compacted topic refuses them.
    pub keyless: usize,
}

impl AppendInfo {
    fn empty() -> AppendInfo {
        AppendInfo {
            valid_bytes: 0,
            shallow_count: 0,
            first_offset: -1,
            last_offset: -1,
            codec: CompressionCodec::None,
            monotonic: true,
            keyless: 0,
        }
    }

    /// Count one complete, valid entry.
    #[inline(always)]
    fn add(&mut self, e: &Scanned) {
        if e.codec != CompressionCodec::None {
            self.codec = e.codec;
        } else if e.keyless {
            self.keyless += 1;
        }
        if self.shallow_count == 0 {
            self.first_offset = e.offset;
        } else if e.offset <= self.last_offset {
            self.monotonic = false;
        }
        self.last_offset = e.offset;
        self.shallow_count += 1;
        self.valid_bytes += e.len;
    }
}

/// One complete shallow entry that passed validation.
struct Scanned {
    /// Its offset as it stands in the set.
    offset: i64,
    /// Bytes it takes, 12-byte prefix included.
    len: usize,
    codec: CompressionCodec,
    /// An uncompressed message without a key.
    keyless: bool,
}

/// Validate the entry at `pos` of `buf` (size, CRC, magic, codec, `max_message_size`
/// including its 12-byte prefix); `None` when fewer bytes than a whole entry remain (a
/// truncated last entry is silently dropped, as 0.8.2). Never panics.
#[inline(always)]
fn scan_entry(buf: &[u8], pos: usize, max_message_size: usize) -> Result<Option<Scanned>, MessageError> {
    let Some(EntryHeader { offset, size }) = EntryHeader::parse(&buf[pos..]) else { return Ok(None) };
    if size < MIN_MESSAGE_SIZE as i32 {
        return Err(MessageError::TooSmall(size.max(0) as usize));
    }
    let size = size as usize;
    if buf.len() - pos - LOG_OVERHEAD < size {
        return Ok(None);
    }
    if LOG_OVERHEAD + size > max_message_size {
        return Err(MessageError::TooLarge { size: LOG_OVERHEAD + size, max: max_message_size });
    }
    let m = &buf[pos + LOG_OVERHEAD..pos + LOG_OVERHEAD + size];
    validate_message_bytes(m)?;
    let codec = CompressionCodec::from_id(m[5] & 0x07)?;
    let keyless = codec == CompressionCodec::None && i32::from_be_bytes(m[6..10].try_into().expect("validated size")) < 0;
    Ok(Some(Scanned { offset, len: LOG_OVERHEAD + size, codec, keyless }))
}

/// Shallow scan and validation (size, CRC, magic, codec, `max_message_size` per entry
/// including its 12-byte prefix) over a plain slice, with no allocation per message. Never
/// panics on any input.
pub fn analyze(buf: &[u8], max_message_size: usize) -> Result<AppendInfo, MessageError> {
    let mut info = AppendInfo::empty();
    while let Some(e) = scan_entry(buf, info.valid_bytes, max_message_size)? {
        info.add(&e);
    }
    Ok(info)
}

/// [`analyze`] that also numbers the set for a leader in the same pass: each complete
/// entry's offset field is overwritten with `first_offset`, `first_offset + 1`, ... (the
/// [`AppendInfo`] keeps the offsets as they stood). For an uncompressed set this is the
/// whole of [`assign_offsets`] when `first_offset` is still the log end offset at append
/// time; a compressed set is renumbered by [`assign_offsets`] regardless. On error the
/// buffer is left partly renumbered.
pub fn analyze_and_number(buf: &mut [u8], max_message_size: usize, first_offset: i64) -> Result<AppendInfo, MessageError> {
    let mut info = AppendInfo::empty();
    while let Some(e) = scan_entry(buf, info.valid_bytes, max_message_size)? {
        EntryHeader::set_offset(&mut buf[info.valid_bytes..], first_offset + info.shallow_count as i64);
        info.add(&e);
    }
    Ok(info)
}

/// The result of [`analyze_and_number`] (numbered from `numbered_from`) given offsets
/// from `next_offset`: without another walk when the set is uncompressed and
/// `next_offset` is where it was numbered from, else by [`assign_offsets`].
pub fn assign_numbered(
    mut buf: BytesMut,
    info: &AppendInfo,
    numbered_from: i64,
    next_offset: i64,
    max_message_size: usize,
) -> Result<Assigned, MessageError> {
    if info.shallow_count == 0 || info.codec != CompressionCodec::None || numbered_from != next_offset {
        return assign_offsets(buf, info, next_offset, max_message_size);
    }
    buf.truncate(info.valid_bytes);
    let count = info.shallow_count as u64;
    Ok(Assigned {
        bytes: buf.freeze(),
        first_offset: next_offset,
        last_offset: next_offset + count as i64 - 1,
        message_count: count,
        keyless: info.keyless,
    })
}

/// The most the compressed wrappers of one produced set may inflate to, all together,
/// while offsets are assigned. The result must recompress into one wrapper of at most
/// `message.max.bytes` (1,000,000 by default), so a legal set stays far below; a set
/// above is refused with error 10 before more is inflated, where 0.8.2 inflated up to
/// its heap (eight gzip wrappers of 256 MiB each).
pub const MAX_INFLATED_SET_BYTES: usize = 64 * 1024 * 1024;

/// The set after offset assignment.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub bytes: Bytes,
    pub first_offset: i64,
    pub last_offset: i64,
    /// Leaf messages appended (what the log end offset moves by).
    pub message_count: u64,
    /// Leaf messages without a key (uncompressed ones are in [`AppendInfo::keyless`]).
    pub keyless: usize,
}

/// Give a validated set (trimmed to `info.valid_bytes`) consecutive offsets from
/// `next_offset`. Uncompressed: the 8-byte offset fields are rewritten in place, message
/// bytes untouched. Compressed: every leaf is collected (deep), renumbered and recompressed
/// into one wrapper with the winning codec, the wrapper carrying the last offset (0.8.2).
pub fn assign_offsets(
    mut buf: BytesMut,
    info: &AppendInfo,
    next_offset: i64,
    max_message_size: usize,
) -> Result<Assigned, MessageError> {
    buf.truncate(info.valid_bytes);
    if info.shallow_count == 0 {
        return Ok(Assigned { bytes: buf.freeze(), first_offset: -1, last_offset: -1, message_count: 0, keyless: 0 });
    }
    if info.codec == CompressionCodec::None {
        let mut pos = 0;
        let mut offset = next_offset;
        while let Some(header) = EntryHeader::parse(&buf[pos..]) {
            EntryHeader::set_offset(&mut buf[pos..], offset);
            pos += LOG_OVERHEAD + header.size as usize;
            offset += 1;
        }
        let count = (offset - next_offset) as u64;
        return Ok(Assigned { bytes: buf.freeze(), first_offset: next_offset, last_offset: offset - 1, message_count: count, keyless: info.keyless });
    }

    let original = buf.freeze();
    let mut inner = MessageSetBuilder::with_capacity(original.len() * 2);
    let mut offset = next_offset;
    let mut keyless = 0;
    for entry in deep_iter_within(original, MAX_INFLATED_SET_BYTES) {
        let entry = entry?;
        if entry.message.size() < MIN_MESSAGE_SIZE {
            return Err(MessageError::TooSmall(entry.message.size()));
        }
        // Each inner message is held to `message.max.bytes` as it comes out, not only
        // the recompressed wrapper at the end.
        if entry.size() > max_message_size {
            return Err(MessageError::TooLarge { size: entry.size(), max: max_message_size });
        }
        // The reference does not check inner CRCs; checking them is stricter and lets a
        // consumer trust every stored byte (docs/wire-protocol.md).
        entry.message.validate()?;
        if entry.message.key_size() < 0 {
            keyless += 1;
        }
        inner.push_raw(offset, entry.message.as_bytes());
        offset += 1;
    }
    let count = (offset - next_offset) as u64;
    if count == 0 {
        return Err(MessageError::Malformed("compressed message holds no messages"));
    }
    let last = offset - 1;
    let compressed = codec::compress(info.codec, &inner.finish());
    let wrapper = Message::new(None, Some(&compressed), info.codec);
    let size = LOG_OVERHEAD + wrapper.size();
    if size > max_message_size {
        return Err(MessageError::TooLarge { size, max: max_message_size });
    }
    let mut out = MessageSetBuilder::with_capacity(size);
    out.push(last, &wrapper);
    Ok(Assigned { bytes: out.finish(), first_offset: next_offset, last_offset: last, message_count: count, keyless })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{deep_iter, encode_messages, shallow_iter};

    fn msgs(n: usize) -> Vec<Message> {
        (0..n).map(|i| Message::new(None, Some(format!("m{}", i).as_bytes()), CompressionCodec::None)).collect()
    }

    #[test]
    fn uncompressed_offsets_are_rewritten_in_place() {
        let set = encode_messages(CompressionCodec::None, &msgs(4), 0);
        let info = analyze(&set, 1_000_012).unwrap();
        assert_eq!((info.shallow_count, info.valid_bytes), (4, set.len()));
        let a = assign_offsets(BytesMut::from(&set[..]), &info, 5, 1_000_012).unwrap();
        assert_eq!((a.first_offset, a.last_offset, a.message_count), (5, 8, 4));
        let got: Vec<_> = shallow_iter(a.bytes.clone()).map(|e| e.unwrap()).collect();
        assert_eq!(got.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![5, 6, 7, 8]);
        // Only the offset fields changed.
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.message, msgs(4)[i]);
        }
    }

    #[test]
    fn compressed_set_is_renumbered_and_wrapper_carries_last_offset() {
        for codec in [CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4] {
            let set = encode_messages(codec, &msgs(3), 0);
            let info = analyze(&set, 1_000_012).unwrap();
            assert_eq!(info.codec, codec);
            let a = assign_offsets(BytesMut::from(&set[..]), &info, 10, 1_000_012).unwrap();
            assert_eq!((a.first_offset, a.last_offset, a.message_count), (10, 12, 3));
            let shallow: Vec<_> = shallow_iter(a.bytes.clone()).map(|e| e.unwrap()).collect();
            assert_eq!(shallow.len(), 1);
            assert_eq!(shallow[0].offset, 12);
            let deep: Vec<_> = deep_iter(a.bytes).map(|e| e.unwrap().offset).collect();
            assert_eq!(deep, vec![10, 11, 12]);
        }
    }

    #[test]
    fn mixed_set_is_flattened_into_one_wrapper() {
        let mut b = MessageSetBuilder::new();
        b.push(0, &msgs(1)[0]);
        let gz = encode_messages(CompressionCodec::Gzip, &msgs(2), 0);
        let mut raw = b.finish_mut();
        raw.extend_from_slice(&gz);
        let set = raw.freeze();
        let info = analyze(&set, 1_000_012).unwrap();
        let a = assign_offsets(BytesMut::from(&set[..]), &info, 0, 1_000_012).unwrap();
        assert_eq!(a.message_count, 3);
        assert_eq!(shallow_iter(a.bytes.clone()).count(), 1);
    }

    #[test]
    fn validation_errors_map_to_082_codes() {
        let set = encode_messages(CompressionCodec::None, &msgs(2), 0);
        let mut bad = set.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        let e = analyze(&Bytes::from(bad), 1_000_012).unwrap_err();
        assert_eq!(e.error_code().code(), 2);
        let e = analyze(&set, 20).unwrap_err();
        assert_eq!(e.error_code().code(), 10);
        // Trailing partial entry is trimmed, not an error.
        let info = analyze(&set.slice(..set.len() - 3), 1_000_012).unwrap();
        assert_eq!(info.shallow_count, 1);
        // Unknown codec bits: -1.
        let m = Message::new(None, Some(b"x"), CompressionCodec::None);
        let mut mb = m.as_bytes().to_vec();
        mb[5] = 5;
        let crc = crc32fast::hash(&mb[4..]);
        mb[..4].copy_from_slice(&crc.to_be_bytes());
        let mut b = MessageSetBuilder::new();
        b.push_raw(0, &mb);
        assert_eq!(analyze(&b.finish(), 1_000_012).unwrap_err().error_code().code(), -1);
    }

    #[test]
    fn empty_set_assigns_nothing() {
        let info = analyze(&Bytes::new(), 100).unwrap();
        assert_eq!(info.shallow_count, 0);
        let a = assign_offsets(BytesMut::new(), &info, 7, 100).unwrap();
        assert_eq!((a.first_offset, a.message_count), (-1, 0));
    }

    /// A gzip wrapper whose payload inflates to `members` copies of one set holding a
    /// single message of `value_len` zero bytes (Java's GZIPInputStream and ours read
    /// concatenated members): megabytes of inflation from a few kilobytes.
    pub(crate) fn gzip_bomb(value_len: usize, members: usize) -> Message {
        let one = encode_messages(CompressionCodec::None, &[Message::new(None, Some(&vec![0u8; value_len]), CompressionCodec::None)], 0);
        let member = codec::compress(CompressionCodec::Gzip, &one);
        Message::new(None, Some(&member.repeat(members)), CompressionCodec::Gzip)
    }

    #[test]
    fn compressed_wrappers_inflating_past_the_budget_are_refused_with_10() {
        // Eight wrappers that inflate to 16 MiB each (128 MiB, twice the budget), each
        // inner message legal, each wrapper a few kilobytes: 0.8.2 and our old code
        // inflated everything, recompressed it and accepted the set.
        let bomb = gzip_bomb(64 * 1024 - 26, 256);
        let mut b = MessageSetBuilder::new();
        for i in 0..8 {
            b.push(i, &bomb);
        }
        let set = b.finish();
        assert!(set.len() < 1_000_000, "{}", set.len());
        let info = analyze(&set, 1_000_012).unwrap();
        let e = assign_offsets(BytesMut::from(&set[..]), &info, 0, 1_000_012).unwrap_err();
        assert!(matches!(e, MessageError::InflatesTooLarge { .. }), "{e}");
        assert_eq!(e.error_code().code(), 10);
    }

    #[test]
    fn an_inner_message_over_message_max_bytes_is_refused_with_10() {
        // Compresses to a few kilobytes, so only the inner check can see it.
        let wrapper = gzip_bomb(2_000_000, 1);
        let mut b = MessageSetBuilder::new();
        b.push(0, &wrapper);
        let set = b.finish();
        let info = analyze(&set, 1_000_012).unwrap();
        let e = assign_offsets(BytesMut::from(&set[..]), &info, 0, 1_000_012).unwrap_err();
        assert!(matches!(e, MessageError::TooLarge { max: 1_000_012, .. }), "{e}");
        assert_eq!(e.error_code().code(), 10);
    }

    #[test]
    fn a_corrupt_wrapper_is_refused_with_2() {
        let m = Message::new(None, Some(b"not gzip at all"), CompressionCodec::Gzip);
        let mut b = MessageSetBuilder::new();
        b.push(0, &m);
        let set = b.finish();
        let info = analyze(&set, 1_000_012).unwrap();
        assert_eq!(assign_offsets(BytesMut::from(&set[..]), &info, 0, 1_000_012).unwrap_err().error_code().code(), 2);
    }

    #[test]
    fn numbering_while_validating_gives_what_assign_offsets_gives() {
        let mut mixed = encode_messages(CompressionCodec::None, &msgs(2), 0).to_vec();
        mixed.extend_from_slice(&encode_messages(CompressionCodec::Snappy, &msgs(3), 0));
        let cases = [
            encode_messages(CompressionCodec::None, &msgs(5), 0),
            encode_messages(CompressionCodec::Gzip, &msgs(5), 0),
            Bytes::from(mixed),
            Bytes::new(),
        ];
        for set in cases {
            for cut in [set.len(), set.len().saturating_sub(3)] {
                let set = set.slice(..cut);
                let info = analyze(&set, 1_000_012).unwrap();
                let want = assign_offsets(BytesMut::from(&set[..]), &info, 7, 1_000_012).unwrap();
                // Numbered from the log end offset found at append time, or from one
                // another append has since moved.
                for numbered_from in [7, 3] {
                    let mut buf = BytesMut::from(&set[..]);
                    let got_info = analyze_and_number(&mut buf, 1_000_012, numbered_from).unwrap();
                    assert_eq!(got_info, info, "the offsets as they stood are reported");
                    let got = assign_numbered(buf, &got_info, numbered_from, 7, 1_000_012).unwrap();
                    assert_eq!(
                        (&got.bytes, got.first_offset, got.last_offset, got.message_count, got.keyless),
                        (&want.bytes, want.first_offset, want.last_offset, want.message_count, want.keyless)
                    );
                }
            }
        }
    }

    #[test]
    fn numbering_while_validating_refuses_what_analyze_refuses() {
        let set = encode_messages(CompressionCodec::None, &msgs(3), 0);
        for i in 0..set.len() {
            let mut bad = set.to_vec();
            bad[i] ^= 0x41;
            let bad = Bytes::from(bad);
            let mut buf = BytesMut::from(&bad[..]);
            assert_eq!(analyze_and_number(&mut buf, 1_000_012, 0), analyze(&bad, 1_000_012), "byte {i} changed");
        }
        let mut buf = BytesMut::from(&set[..]);
        assert_eq!(analyze_and_number(&mut buf, 20, 0).unwrap_err().error_code().code(), 10);
    }

}
