use super::codec::{self, CompressionCodec};
use super::error::MessageError;
use super::message::{encoded_size, put_message, Message, MIN_MESSAGE_SIZE};
use bytes::{BufMut, Bytes, BytesMut};

/// offset(8) + message_size(4) in front of every message in a set.
pub const LOG_OVERHEAD: usize = 12;

/// The 12-byte prefix of every entry of a message set, on the wire and on disk: the
/// offset (int64) then the message size (int32), big-endian. The one place it is parsed:
/// readers then judge the size against their own limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryHeader {
    pub offset: i64,
    /// As stored: may be negative or too small in a corrupt or truncated set.
    pub size: i32,
}

impl EntryHeader {
    /// The header at the start of `buf`; `None` when `buf` holds fewer than 12 bytes.
    pub fn parse(buf: &[u8]) -> Option<EntryHeader> {
        let head: &[u8; LOG_OVERHEAD] = buf.get(..LOG_OVERHEAD)?.try_into().ok()?;
        let (offset, size) = head.split_at(8);
        Some(EntryHeader {
            offset: i64::from_be_bytes(offset.try_into().ok()?),
            size: i32::from_be_bytes(size.try_into().ok()?),
        })
    }

    /// Overwrite the offset of the header at the start of `buf` (which holds at least 12
    /// bytes), as the leader does when it assigns offsets.
    pub fn set_offset(buf: &mut [u8], offset: i64) {
        buf[..8].copy_from_slice(&offset.to_be_bytes());
    }
}

/// Nesting depth of compressed wrappers we are willing to open (0.8 producers never nest;
/// nested input is legal but a bomb of wrappers is not).
const MAX_NESTING: usize = 8;

/// One entry of a message set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub offset: i64,
    /// Byte position of the entry (its offset field) within the set it came from. For
    /// entries from inside a compressed wrapper this is the position within the
    /// decompressed inner set.
    pub position: usize,
    pub message: Message,
}

impl Entry {
    /// Bytes the entry takes in its set, prefix included.
    pub fn size(&self) -> usize {
        LOG_OVERHEAD + self.message.size()
    }
}

/// Shallow iteration over a set: each entry as stored, compressed wrappers not opened.
/// Fewer than 12 bytes left, or fewer than the entry's size, ends the iteration without
/// error (a fetch response ends with a partial entry). A size below 14 yields
/// `Err(TooSmall)` and ends it. CRCs are not checked here.
pub fn shallow_iter(buf: Bytes) -> ShallowIter {
    ShallowIter { buf, pos: 0, done: false }
}

#[derive(Debug, Clone)]
pub struct ShallowIter {
    buf: Bytes,
    pos: usize,
    done: bool,
}

impl ShallowIter {
    /// Bytes consumed by the complete entries returned so far.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl Iterator for ShallowIter {
    type Item = Result<Entry, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.pos..];
        let Some(EntryHeader { offset, size }) = EntryHeader::parse(rest) else {
            self.done = true;
            return None;
        };
        if size < MIN_MESSAGE_SIZE as i32 {
            self.done = true;
            return Some(Err(MessageError::TooSmall(size.max(0) as usize)));
        }
        let size = size as usize;
        if rest.len() - LOG_OVERHEAD < size {
            self.done = true;
            return None;
        }
        let start = self.pos + LOG_OVERHEAD;
        let message = Message::from_bytes(self.buf.slice(start..start + size)).expect("size >= 14 checked");
        let entry = Entry { offset, position: self.pos, message };
        self.pos = start + size;
        Some(Ok(entry))
    }
}

/// Deep iteration: compressed wrappers are decompressed (recursively) and their inner
/// messages yielded in order; uncompressed entries pass through. A wrapper that fails to
/// decompress yields one error and ends the iteration.
pub fn deep_iter(buf: Bytes) -> DeepIter {
    DeepIter { stack: vec![shallow_iter(buf)], done: false, budget: None }
}

/// [`deep_iter`] where all the wrappers of the set together may inflate to at most
/// `budget` bytes: decompression stops there with `InflatesTooLarge` (error 10), so a
/// produced set never makes the broker hold more than its budget, however it is built.
pub fn deep_iter_within(buf: Bytes, budget: usize) -> DeepIter {
    DeepIter { stack: vec![shallow_iter(buf)], done: false, budget: Some(budget) }
}

#[derive(Debug)]
pub struct DeepIter {
    stack: Vec<ShallowIter>,
    done: bool,
    /// Bytes the wrappers not yet opened may still inflate to (None: each wrapper alone
    /// is bounded by `MAX_DECOMPRESSED_BYTES`).
    budget: Option<usize>,
}

impl Iterator for DeepIter {
    type Item = Result<Entry, MessageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let top = match self.stack.last_mut() {
                Some(t) => t,
                None => {
                    self.done = true;
                    return None;
                }
            };
            let entry = match top.next() {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(e)) => e,
            };
            if !entry.message.is_compressed() {
                return Some(Ok(entry));
            }
            let inner = entry
                .message
                .codec()
                .and_then(|c| {
                    let payload = entry.message.value().unwrap_or_default();
                    match self.budget {
                        None => codec::decompress(c, &payload),
                        Some(left) => {
                            let inner = codec::decompress_within(c, &payload, left)?;
                            self.budget = Some(left - inner.len());
                            Ok(inner)
                        }
                    }
                })
                .and_then(|inner| {
                    if self.stack.len() > MAX_NESTING {
                        Err(MessageError::Compression("compressed messages nested too deeply".into()))
                    } else {
                        Ok(inner)
                    }
                });
            match inner {
                Ok(inner) => self.stack.push(shallow_iter(Bytes::from(inner))),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

/// Builds a message set entry by entry.
#[derive(Debug, Default)]
pub struct MessageSetBuilder {
    buf: BytesMut,
}

impl MessageSetBuilder {
    pub fn new() -> MessageSetBuilder {
        MessageSetBuilder::default()
    }

    pub fn with_capacity(bytes: usize) -> MessageSetBuilder {
        MessageSetBuilder { buf: BytesMut::with_capacity(bytes) }
    }

    pub fn push(&mut self, offset: i64, message: &Message) -> &mut Self {
        self.push_raw(offset, message.as_bytes())
    }

    /// Append an entry whose message bytes are already encoded.
    pub fn push_raw(&mut self, offset: i64, message: &[u8]) -> &mut Self {
        self.buf.reserve(LOG_OVERHEAD + message.len());
        self.buf.put_i64(offset);
        self.buf.put_i32(message.len() as i32);
        self.buf.put_slice(message);
        self
    }

    /// Encode a new uncompressed message straight into the set (entry header, message,
    /// CRC over the bytes in place): no `Message` is built, nothing is allocated per
    /// message once the set has grown.
    pub fn push_new(&mut self, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> &mut Self {
        let size = encoded_size(key, value);
        self.buf.reserve(LOG_OVERHEAD + size);
        self.buf.put_i64(offset);
        self.buf.put_i32(size as i32);
        put_message(&mut self.buf, key, value, CompressionCodec::None);
        self
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }

    pub fn finish_mut(self) -> BytesMut {
        self.buf
    }
}

/// Encode messages as a set the way a 0.8 producer does: uncompressed, entries get offsets
/// `first_offset..`; compressed, one wrapper holding the inner set (offsets
/// `first_offset..`), the wrapper's offset being the last inner offset.
pub fn encode_messages(codec: CompressionCodec, messages: &[Message], first_offset: i64) -> Bytes {
    let mut inner = MessageSetBuilder::with_capacity(messages.iter().map(|m| m.size() + LOG_OVERHEAD).sum());
    for (i, m) in messages.iter().enumerate() {
        inner.push(first_offset + i as i64, m);
    }
    if codec == CompressionCodec::None || messages.is_empty() {
        return inner.finish();
    }
    let compressed = codec::compress(codec, &inner.finish());
    let wrapper = Message::new(None, Some(&compressed), codec);
    let mut out = MessageSetBuilder::with_capacity(wrapper.size() + LOG_OVERHEAD);
    out.push(first_offset + messages.len() as i64 - 1, &wrapper);
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_new_writes_the_same_bytes_as_pushing_a_built_message() {
        type KeyAndValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);
        let cases: [KeyAndValue; 4] = [(None, None), (Some(b"k"), None), (None, Some(b"value")), (Some(b""), Some(&[0u8; 300]))];
        let mut built = MessageSetBuilder::new();
        let mut direct = MessageSetBuilder::with_capacity(1);
        for (i, (key, value)) in cases.iter().enumerate() {
            built.push(i as i64, &Message::new(*key, *value, CompressionCodec::None));
            direct.push_new(i as i64, *key, *value);
        }
        let (built, direct) = (built.finish(), direct.finish());
        assert_eq!(built, direct);
        let entries: Vec<Entry> = shallow_iter(direct).map(|e| e.unwrap()).collect();
        assert_eq!(entries.len(), cases.len());
        assert!(entries.iter().all(|e| e.message.is_valid()), "CRCs hold");
    }

    #[test]
    fn entry_header_is_offset_then_size_big_endian() {
        let bytes = [0, 0, 0, 0, 0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe, 9];
        assert_eq!(EntryHeader::parse(&bytes), Some(EntryHeader { offset: 0x0102, size: -2 }));
        assert_eq!(EntryHeader::parse(&bytes[..11]), None, "11 bytes are not a header");
        let mut b = bytes;
        EntryHeader::set_offset(&mut b, -1);
        assert_eq!(EntryHeader::parse(&b), Some(EntryHeader { offset: -1, size: -2 }));
        assert_eq!(b[8..], bytes[8..], "the size is untouched");
    }

    fn msgs(n: usize) -> Vec<Message> {
        (0..n)
            .map(|i| Message::new(Some(format!("k{}", i).as_bytes()), Some(format!("value-{}", i).as_bytes()), CompressionCodec::None))
            .collect()
    }

    #[test]
    fn truncated_trailing_entry_ends_iteration_without_error() {
        let set = encode_messages(CompressionCodec::None, &msgs(3), 10);
        for cut in 0..set.len() {
            let got: Vec<_> = shallow_iter(set.slice(..cut)).collect();
            assert!(got.iter().all(|r| r.is_ok()));
            let whole = got.len();
            // The number of complete entries that fit in `cut` bytes.
            let mut expect = 0;
            let mut pos = 0;
            for m in msgs(3) {
                pos += LOG_OVERHEAD + m.size();
                if pos <= cut {
                    expect += 1;
                }
            }
            assert_eq!(whole, expect, "cut at {}", cut);
        }
        let offsets: Vec<i64> = shallow_iter(set).map(|e| e.unwrap().offset).collect();
        assert_eq!(offsets, vec![10, 11, 12]);
    }

    #[test]
    fn deep_iteration_opens_every_codec() {
        for codec in [CompressionCodec::Gzip, CompressionCodec::Snappy, CompressionCodec::Lz4] {
            let set = encode_messages(codec, &msgs(5), 100);
            let shallow: Vec<_> = shallow_iter(set.clone()).map(|e| e.unwrap()).collect();
            assert_eq!(shallow.len(), 1);
            assert_eq!(shallow[0].offset, 104);
            assert_eq!(shallow[0].message.codec().unwrap(), codec);
            assert!(shallow[0].message.is_valid());
            let deep: Vec<_> = deep_iter(set).map(|e| e.unwrap()).collect();
            assert_eq!(deep.iter().map(|e| e.offset).collect::<Vec<_>>(), vec![100, 101, 102, 103, 104]);
            assert_eq!(deep[3].message.value().as_deref(), Some(&b"value-3"[..]));
            assert_eq!(deep[3].message.key().as_deref(), Some(&b"k3"[..]));
        }
    }

    #[test]
    fn size_below_minimum_is_an_error() {
        let mut b = BytesMut::new();
        b.put_i64(0);
        b.put_i32(5);
        b.put_slice(&[0; 5]);
        let got: Vec<_> = shallow_iter(b.freeze()).collect();
        assert_eq!(got, vec![Err(MessageError::TooSmall(5))]);
    }

    #[test]
    fn undecompressable_wrapper_is_an_error_not_a_panic() {
        let wrapper = Message::new(None, Some(b"definitely not gzip"), CompressionCodec::Gzip);
        let mut b = MessageSetBuilder::new();
        b.push(0, &wrapper);
        let got: Vec<_> = deep_iter(b.finish()).collect();
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0], Err(MessageError::Compression(_))));
    }
}
